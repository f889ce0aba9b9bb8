//! Renders an [`Analysis`](crate::analysis::Analysis) for people ([`table`], a terminal table)
//! or for other tools ([`json`], the contract of `kassa analyze --format json`). Rendering
//! only: nothing here decides anything, and the words come from [`crate::text`]. [`replay`]
//! renders what `kassa analyze --replay` found the nightly run would have sent.

pub mod json;
pub mod replay;
pub mod table;

pub use json::to_json;
pub use table::to_table;
