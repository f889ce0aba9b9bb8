//! Where a store keeps its two halves: the ledger (coverage, runs, episodes, the outbox, the
//! backfill chunks, the run lock) and the Parquet snapshots of rows.
//!
//! One business keeps both in one directory ([`LedgerLocation::Embedded`],
//! [`SnapshotLocation::Embedded`]): no server to run. An agency running many pods keeps them in
//! services made for sharing (issue 18): the ledger on Postgres, the snapshots on S3-compatible
//! object storage; the directory then only holds working copies, and the ledger says which
//! objects are current. The configuration (`[store]`) builds a [`StoreLocation`];
//! [`super::Store::open_at`] and [`super::StoreLock::acquire_at`] open whatever it names.

use std::path::PathBuf;

/// Where the ledger lives.
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerLocation {
    /// `ledger.sqlite` in the store directory.
    Embedded,
}

/// Where the snapshots live.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotLocation {
    /// `ads/`, `deals/`, `claims/` in the store directory.
    Embedded,
}

/// A whole store: its directory and where its ledger and snapshots live.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreLocation {
    /// `[store] path`: the embedded store, or the working directory of a store kept in services.
    pub path: PathBuf,
    pub ledger: LedgerLocation,
    pub snapshots: SnapshotLocation,
}

impl StoreLocation {
    /// A store kept entirely in the directory `path` (the default).
    pub fn embedded(path: impl Into<PathBuf>) -> StoreLocation {
        StoreLocation {
            path: path.into(),
            ledger: LedgerLocation::Embedded,
            snapshots: SnapshotLocation::Embedded,
        }
    }
}
