//! Filled in by the connector tests.
