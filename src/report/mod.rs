//! Renders an [`Analysis`](crate::analysis::Analysis) for people ([`table`], a terminal table;
//! [`html`], the self-contained HTML report, its charts drawn by [`charts`]) or for other
//! tools ([`json`], the contract of `kassa analyze --format json`), and the metric audit of
//! `kassa audit` ([`audit`], its table; its JSON is in [`json`]). [`replay`] renders what
//! `kassa analyze --replay` found the nightly run would have sent. Rendering only: nothing
//! here decides anything, and the words come from [`crate::text`].

pub mod audit;
pub mod charts;
pub mod html;
pub mod json;
pub mod replay;
pub mod table;

pub use audit::to_audit_table;
pub use json::{audit_to_json, to_json};
pub use table::to_table;
