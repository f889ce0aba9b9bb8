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

use secrecy::{ExposeSecret, SecretString};

/// Where the ledger lives.
#[derive(Clone)]
pub enum LedgerLocation {
    /// `ledger.sqlite` in the store directory.
    Embedded,
    /// A schema of its own in a Postgres database (`[store] ledger_url_env` or
    /// `ledger_url_file`, `ledger_schema`). The URL holds a password: `Debug` shows neither.
    Postgres { url: SecretString, schema: String },
}

impl LedgerLocation {
    /// What identifies the ledger across configurations: the Postgres server, database and
    /// schema (`db:5432/agency schema kassa_acme`), whatever user or password reaches it;
    /// `None` for an embedded ledger (its store directory identifies it).
    pub fn shared_key(&self) -> Option<String> {
        match self {
            LedgerLocation::Embedded => None,
            LedgerLocation::Postgres { url, schema } => {
                let server = super::sql::describe_server(url)
                    .unwrap_or_else(|_| "(an invalid URL)".to_string());
                Some(format!("Postgres schema {schema} on {server}"))
            }
        }
    }
}

impl std::fmt::Debug for LedgerLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerLocation::Embedded => f.write_str("Embedded"),
            LedgerLocation::Postgres { schema, .. } => f
                .debug_struct("Postgres")
                .field("schema", schema)
                .finish_non_exhaustive(),
        }
    }
}

impl PartialEq for LedgerLocation {
    fn eq(&self, other: &LedgerLocation) -> bool {
        match (self, other) {
            (LedgerLocation::Embedded, LedgerLocation::Embedded) => true,
            (
                LedgerLocation::Postgres { url, schema },
                LedgerLocation::Postgres {
                    url: other_url,
                    schema: other_schema,
                },
            ) => schema == other_schema && url.expose_secret() == other_url.expose_secret(),
            _ => false,
        }
    }
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
