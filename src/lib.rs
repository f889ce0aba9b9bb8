//! kassa holds the marketing report against the till: it pulls activity from ad platforms and
//! money from CRMs, lines them up by period and channel, and flags "activity without money".
//!
//! Layout, in the order data flows (dependencies point one way, down this list):
//! - [`domain`]: the two normalised row types ([`domain::AdDay`], [`domain::Deal`]) and money;
//! - [`sources`]: one module per platform, each turning a wire format into those rows, with the
//!   shared HTTP behaviour in [`sources::http`];
//! - [`store`]: the embedded store, Parquet snapshots of rows and a SQLite ledger of what each
//!   source has covered;
//! - [`analysis`]: pure functions over polars frames: periods, metrics, the default rule;
//! - [`report`]: renders an analysis as a terminal table or the JSON contract;
//! - [`config`]: layered configuration, validated all at once before anything runs;
//! - [`pipeline`]: the only module that wires sources, store and analysis together;
//! - [`cli`]: the command line, exit codes and error printing.

pub mod analysis;
pub mod cli;
pub mod config;
pub mod domain;
pub mod pipeline;
pub mod report;
pub mod sources;
pub mod store;
pub mod validation;
