//! The embedded store: no server to start.
//!
//! - Rows live in Parquet snapshots, one file per source and calendar month:
//!   `ads/<source>.month=2025-03.parquet`, `deals/…`, `claims/…`, with `<kind>/<source>.parquet`
//!   the source's manifest (`partitions.rs`, `snapshots.rs`); an upsert rewrites only the
//!   months its window touches. Before schema 8 `<kind>/<source>.parquet` held the rows; such a
//!   file is still read (a read-only `analyze` migrates nothing), and a writer splits it into
//!   months. The readers come eager ([`Store::ads`]) and lazy ([`Store::scan_ads`]: polars
//!   scans of the month files, checked from their footers), and return the same frames.
//! - The ledger lives in SQLite (`ledger.sqlite`): which date ranges each source has covered,
//!   runs, episode states and source health (`ledger.rs`), the chunks each backfill stored
//!   (`backfills.rs`), the alert outbox with its dead letters (`outbox.rs`), and the windows
//!   whose re-pull looked wrong (`suspicious.rs`).
//! - Or the ledger lives in Postgres (`[store] ledger_url_env`), a schema per tenant, through
//!   the same SQL (`sql.rs`, which says why a schema each): pods on many machines share it.
//! - `kassa.lock` keeps one writing process per store (`lock.rs`); on Postgres, an advisory
//!   lock on the schema does.
//! - With `[store] snapshots = "s3://…"` the month files are objects in a bucket and the
//!   directory is a working copy synced from the ledger's pointers (`bucket.rs`,
//!   `pointers.rs`).
//!
//! Upserts are idempotent: pulling a window again *replaces* that window (ad rows by date,
//! deals by the days they were created or closed, and by id), so a re-pull never duplicates
//! and a restated number simply wins, except that silence never erases a number: a re-pull
//! with no rows of a channel the store holds rows of in that window keeps those rows, and
//! one that shrinks the window's spend or revenue beyond [`Guard::max_shrink`] is stored but
//! marked suspicious (see [`Store::upsert_checked`]). Every snapshot is written to a temporary
//! file and renamed into place, so a crash leaves the old snapshot or the new one, never half
//! of either; a failed write removes its temporary file, and opening the store for writing
//! removes any a crash left. Rows are written before coverage is recorded: a crash in between
//! leaves a window that looks uncovered and is pulled again, never one that looks covered and
//! is not.
//!
//! The store knows the domain types, polars and SQLite; it knows nothing of sources or analysis.
//!
//! # Schema versions
//!
//! A store outlives the binary that wrote it, so it carries one number, its *schema version*:
//! the ledger's `PRAGMA user_version` (on Postgres, the `kassa_schema` table), and a `kassa.store_schema` key in the Parquet key-value
//! metadata of every snapshot (the version of the kassa that wrote that file). The stamp rides
//! in the file it describes, renamed into place with it, so a snapshot and its version can never
//! disagree after a crash, and a file copied from another store still says where it came from.
//!
//! [`MIGRATIONS`] lists every version in order. On [`Store::open`]:
//! - a ledger newer than [`SCHEMA_VERSION`] is refused before anything is written, with an
//!   error naming the path, both versions and what to do ([`StoreError::NewerStore`]);
//! - each migration the ledger lacks runs in its own transaction that also sets
//!   `user_version`, so a crash leaves the previous version or the next one, and opening again
//!   carries on where it stopped. Opening a current store writes nothing.
//!
//! Version 1 is the schema kassa had before versions existed: a ledger written then has
//! `user_version = 0` but already has its tables. Migration 1 creates them only if they do not
//! exist, so such a ledger (and a brand-new one) simply gets version 1 stamped on it.
//!
//! Snapshots are never rewritten by a migration, except that schema 8 splits each single-file
//! snapshot into month files (same rows, same checks) before the ledger says 8, in an order a
//! crash can repeat (`partitions.rs`; `open_ledger_with` runs such a step before its
//! transaction). `snapshots.rs` holds one definition of each snapshot schema (column names, types, which may be null), used both to build frames and to
//! check every file it reads. A file lacking a nullable column (it predates that column) reads
//! with the column as nulls, meaning "not reported", never zero; the next upsert of that source
//! writes it in full. An unknown column, a column of the wrong type, a missing required column
//! or a newer stamp is refused with an error naming the file and the column.
//!
//! # Time zones of deals
//!
//! Deal dates depend on the business's time zone (a CRM instant late on Sunday in UTC is
//! Monday in Moscow). Since schema 3 a deals snapshot keeps the CRM's instants and records the
//! zone its dates are in (the `kassa.timezone` metadata key). With [`Store::set_timezone`],
//! or [`Store::deals_in`], a snapshot dated in another zone is re-dated from the instants
//! when read and before an upsert judges its window, so zones never mix and a re-pulled
//! window never drops a deal whose day moved out of it. A deal without instants (a CSV
//! export, or stored before schema 3) keeps its dates; a snapshot without a zone is taken to
//! be in the configured one.
//!
//! ## Recipe: adding a column (e.g. `claimed_leads` on ad rows)
//! 1. Add it to the schema in `snapshots.rs` (`ADS`) with `nullable: true` and the closure that
//!    takes its value from the domain row. It must be nullable: every file written before it
//!    lacks it, and reads it as nulls.
//! 2. Append a [`Migration`] with the next version to [`MIGRATIONS`]. Its SQL is empty when
//!    only snapshots change: the version bump is what makes an older kassa refuse the store up
//!    front instead of tripping over the column in the middle of a run. When the ledger changes
//!    too, it holds the `ALTER TABLE`s.
//! 3. Keep `tests/data/store-v1/` opening (`tests/it/store.rs`, `tests/it/partitions.rs`);
//!    never regenerate it.

mod backfills;
mod bridge;
mod bucket;
mod ledger;
mod location;
mod lock;
mod outbox;
mod partitions;
mod pointers;
mod snapshots;
mod sql;
mod suspicious;
mod tokens;

use std::path::{Path, PathBuf};

use crate::domain::RowKind;
use chrono_tz::Tz;
use polars::prelude::PolarsError;
use rusqlite::Connection;
use sql::Ledger;

pub use bucket::SnapshotBucket;
pub use ledger::merge_ranges;
pub use location::{LedgerLocation, SnapshotLocation, StoreLocation};
pub use lock::{LockError, StoreLock};
pub use outbox::{NewOutboxItem, OutboxItem, OutboxSelection};
pub use snapshots::{
    Checked, Guard, SchemaProblem, TimezoneChange, UpsertStats, ad_rows_to_frame, claims_to_frame,
    deals_to_frame, epoch_days,
};
pub use sql::{PostgresError, ValueError};

/// `host:port/database` of a Postgres URL, for messages (never its user or password); `None`
/// when it is not a valid URL.
pub fn describe_ledger_server(url: &secrecy::SecretString) -> Option<String> {
    sql::describe_server(url).ok()
}
pub use tokens::TokenLedger;

/// One step of the store's schema: the version it brings the store to and the SQL that does it
/// to the ledger (empty when only the snapshot schemas changed).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    /// What the version changed, for people reading the list.
    pub what: &'static str,
    pub sql: &'static str,
}

/// Every schema version, oldest first; the last one is [`SCHEMA_VERSION`].
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        what: "coverage, episodes, outbox and runs; ads and deals snapshots (the schema kassa had before versions)",
        // `IF NOT EXISTS` because ledgers written before versions existed already have these
        // tables with `user_version = 0`: for them this step only stamps version 1.
        sql: "CREATE TABLE IF NOT EXISTS coverage (
              source TEXT NOT NULL,
              start_date TEXT NOT NULL,
              end_date TEXT NOT NULL,
              PRIMARY KEY (source, start_date)
          );
          CREATE TABLE IF NOT EXISTS episodes (
              key TEXT PRIMARY KEY,
              channel TEXT NOT NULL,
              kind TEXT NOT NULL,
              first_start TEXT NOT NULL,
              last_start TEXT NOT NULL,
              alerted_growth REAL NOT NULL,
              updates_sent INTEGER NOT NULL,
              status TEXT NOT NULL,
              updated_at TEXT NOT NULL
          );
          CREATE TABLE IF NOT EXISTS outbox (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              target TEXT NOT NULL,
              message_id TEXT NOT NULL,
              message TEXT NOT NULL,
              created_at TEXT NOT NULL,
              attempts INTEGER NOT NULL DEFAULT 0,
              last_error TEXT,
              delivered_at TEXT,
              UNIQUE (target, message_id)
          );
          CREATE TABLE IF NOT EXISTS runs (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              command TEXT NOT NULL,
              started_at TEXT NOT NULL,
              finished_at TEXT,
              outcome TEXT,
              detail TEXT
          );",
    },
    Migration {
        version: 2,
        what: "tokens: OAuth2 access tokens and rotated refresh tokens kept between runs",
        sql: "CREATE TABLE tokens (
              key TEXT PRIMARY KEY,
              access_token TEXT NOT NULL,
              expires_at TEXT NOT NULL,
              refresh_token TEXT,
              seed TEXT NOT NULL,
              updated_at TEXT NOT NULL
          );",
    },
    Migration {
        version: 3,
        what: "deals keep the CRM's instants (`created_at_ms`, `closed_at_ms`) and each deals \
               snapshot records the time zone its dates are in (`kassa.timezone`), so a change \
               of `[analysis] timezone` re-dates deals instead of mixing zones",
        // Snapshots only: older files lack both and read as "no instants, zone unknown".
        sql: "",
    },
    Migration {
        version: 4,
        what: "backfills and backfill_chunks: the range of each backfill and the chunks it \
               stored, so an interrupted backfill run again skips what it already stored",
        sql: "CREATE TABLE backfills (
              run_id INTEGER PRIMARY KEY,
              start_date TEXT NOT NULL,
              end_date TEXT NOT NULL
          );
          CREATE TABLE backfill_chunks (
              run_id INTEGER NOT NULL,
              source TEXT NOT NULL,
              start_date TEXT NOT NULL,
              end_date TEXT NOT NULL,
              PRIMARY KEY (run_id, source, start_date)
          );",
    },
    Migration {
        version: 5,
        what: "suspicious: windows whose re-pull answered with less than the store held (rows \
               kept for an empty answer or a vanished channel, or a spend or revenue that shrank \
               beyond `[store] max_shrink`), until a person accepts them",
        sql: "CREATE TABLE suspicious (
              source TEXT NOT NULL,
              start_date TEXT NOT NULL,
              end_date TEXT NOT NULL,
              reason TEXT NOT NULL,
              channel TEXT NOT NULL DEFAULT '',
              rows INTEGER NOT NULL DEFAULT 0,
              metric TEXT NOT NULL DEFAULT '',
              before_micros INTEGER,
              after_micros INTEGER,
              marked_at TEXT NOT NULL,
              PRIMARY KEY (source, start_date, end_date, reason, channel)
          );",
    },
    Migration {
        version: 6,
        what: "dead letters: an outbox message a target refused for good (or for \
               `dead_after_runs` runs) is set aside (`dead_at`), counting the runs it failed \
               (`failed_runs`); source_health: consecutive failed runs per source, for \
               `source_down` alerts",
        sql: "ALTER TABLE outbox ADD COLUMN failed_runs INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE outbox ADD COLUMN dead_at TEXT;
          CREATE TABLE source_health (
              source TEXT PRIMARY KEY,
              failed_runs INTEGER NOT NULL,
              since TEXT,
              last_error TEXT,
              alerted INTEGER NOT NULL,
              updated_at TEXT NOT NULL
          );",
    },
    Migration {
        version: 7,
        what: "claims: ad snapshots gain what the platform claims (`claimed_leads`, \
               `claimed_purchases`, `claimed_revenue_micros`; null in older files: not \
               reported), and `claims/<source>.parquet` holds the figures a report claims \
               (`csv_report`); snapshots only",
        sql: "",
    },
    Migration {
        version: 8,
        what: "snapshots by month: each source's rows are in one file per month beside the \
               source's manifest (`ads/<source>.month=2025-03.parquet` and \
               `ads/<source>.parquet`, by `date`, `created_date` or `period_start`) so that an \
               upsert rewrites only the months it touches; opening the store splits each \
               single-file snapshot (see `partitions.rs`); snapshots only",
        sql: "",
    },
    Migration {
        version: POINTERS_VERSION,
        what: "snapshot_pointers: for a store whose snapshots live on object storage \
               (`[store] snapshots = \"s3://…\"`), the object holding each month of each \
               source, switched by compare-and-set when a write puts a new object",
        sql: pointers::CREATE,
    },
    Migration {
        version: 10,
        what: "outbox claims: a process delivering the outbox first claims the pending messages \
               for a lease (`claimed_by`, `claimed_until_ms`), so two pods of one tenant never \
               send one message at once (`Store::claim_pending`)",
        sql: "ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
          ALTER TABLE outbox ADD COLUMN claimed_until_ms INTEGER;",
    },
];

/// The schema version that brought the snapshot pointers (`pointers.rs`).
const POINTERS_VERSION: u32 = 9;

/// The newest store schema this kassa reads and writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Failures of the store, naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store snapshot {path}: {source}")]
    Snapshot {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("store ledger {path}: {source}")]
    Ledger {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The ledger on Postgres: names the schema and the server, never the URL's password.
    #[error("store ledger: Postgres schema {schema} on {server}: {source}")]
    Postgres {
        schema: String,
        server: String,
        #[source]
        source: PostgresError,
    },
    #[error("store ledger {ledger}: {source}")]
    LedgerValue {
        ledger: String,
        #[source]
        source: ValueError,
    },
    #[error(
        "store ledger {path} has schema version {found}, but this kassa understands versions up to {newest}: \
         the store was written by a newer kassa. Upgrade kassa, or point `[store] path` \
         (KASSA__STORE__PATH) at another directory; the store was left as it was"
    )]
    NewerStore {
        path: PathBuf,
        found: i64,
        newest: u32,
    },
    #[error(
        "store snapshot {path} has schema version {found}, but this kassa understands versions up to {newest}: \
         the file was written by a newer kassa. Upgrade kassa, or point `[store] path` \
         (KASSA__STORE__PATH) at another directory; the file was left as it was"
    )]
    NewerSnapshot {
        path: PathBuf,
        found: u32,
        newest: u32,
    },
    #[error(
        "there is no store at {path} ({missing}): run `kassa backfill --from DATE --to DATE` \
         first, or point `[store] path` (KASSA__STORE__PATH) at an existing store"
    )]
    Missing {
        path: PathBuf,
        /// What is missing: `no ledger.sqlite in it`, or `the schema holds no kassa tables`.
        missing: &'static str,
    },
    #[error(
        "store ledger {ledger} has schema version {found}, older than {needed}, which snapshots on \
         object storage need (the ledger's pointers to the objects): run `kassa backfill` or \
         `kassa run` on it once to migrate it, or leave `[store] snapshots` unset"
    )]
    TooOldForObjectStorage {
        ledger: String,
        found: i64,
        needed: u32,
    },
    #[error("store snapshot {path}: {problem}")]
    SnapshotSchema {
        path: PathBuf,
        problem: SchemaProblem,
    },
    #[error("store snapshots s3://{bucket}/{key}: {operation} failed: {source}")]
    Object {
        operation: &'static str,
        bucket: String,
        key: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error(
        "store snapshot {kind}/{snapshot} month {month}: another process switched this month's \
         object while this one was writing it; nothing of this month was replaced (the ledger \
         still points at the other process's object). Only one kassa may write a store at a \
         time: run again once the other one is done"
    )]
    PointerMoved {
        kind: String,
        snapshot: String,
        month: String,
    },
}

pub struct Store {
    root: PathBuf,
    ledger: Ledger,
    /// The zone deal dates are read and written in (`[analysis] timezone`); `None` leaves
    /// stored dates as they are.
    timezone: Option<Tz>,
    /// Month files rewritten or removed by this `Store`'s upserts.
    partitions_written: usize,
    /// Where the snapshots' objects are when they live on object storage (`bucket.rs`): the
    /// directory is then a working copy.
    bucket: Option<SnapshotBucket>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

impl Store {
    /// Opens the store at `root`, creating it on first use and bringing an older store's
    /// schema up to date; a store from a newer kassa is refused untouched.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(root).map_err(|source| StoreError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let ledger_path = root.join("ledger.sqlite");
        let ledger = open_ledger_with(&ledger_path, MIGRATIONS, &mut |version| {
            snapshot_migration(root, version)
        })?;
        restrict_to_owner(&ledger_path)?;
        Store::with_ledger(root, ledger)
    }

    /// Opens the store whose ledger is the Postgres schema `target` names and whose snapshots
    /// are in the directory `root`, creating and migrating as [`Store::open`] does.
    fn open_postgres(root: &Path, target: &sql::PostgresTarget) -> Result<Store, StoreError> {
        std::fs::create_dir_all(root).map_err(|source| StoreError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let ledger = Ledger::postgres(target)?;
        migrate(&ledger, MIGRATIONS, &mut |version| {
            snapshot_migration(root, version)
        })?;
        Store::with_ledger(root, ledger)
    }

    /// Opens the Postgres ledger `target` names for reading. Postgres has no read-only
    /// connection to ask for; reading migrates nothing and creates no table kassa reads (at
    /// most the empty schema), and a schema without a version is no store yet.
    fn open_postgres_read_only(
        root: &Path,
        target: &sql::PostgresTarget,
    ) -> Result<Store, StoreError> {
        let ledger = Ledger::postgres(target)?;
        let found = ledger.schema_version()?;
        if found > i64::from(SCHEMA_VERSION) {
            return Err(StoreError::NewerStore {
                path: PathBuf::from(ledger.describe()),
                found,
                newest: SCHEMA_VERSION,
            });
        }
        if found == 0 {
            return Err(StoreError::Missing {
                path: PathBuf::from(ledger.describe()),
                missing: "the schema holds no kassa tables",
            });
        }
        Ok(Store {
            root: root.to_path_buf(),
            ledger,
            timezone: None,
            partitions_written: 0,
            bucket: None,
        })
    }

    /// The store at `root` around its opened ledger: the snapshot directories made, and what
    /// a crashed write left removed.
    fn with_ledger(root: &Path, ledger: Ledger) -> Result<Store, StoreError> {
        for kind in [RowKind::Ads, RowKind::Deals, RowKind::Claims] {
            let dir = root.join(kind.as_str());
            std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
                path: dir.clone(),
                source,
            })?;
            remove_temporaries(&dir)?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            ledger,
            timezone: None,
            partitions_written: 0,
            bucket: None,
        })
    }

    /// Opens the store `location` names, creating it on first use and migrating it (see
    /// [`Store::open`]). Snapshots on object storage are reached with the credentials of the
    /// process's AWS environment, and the working copy is synced from the ledger's pointers.
    pub fn open_at(location: &StoreLocation) -> Result<Store, StoreError> {
        Store::open_at_with_env(location, std::env::vars())
    }

    /// [`Store::open_at`], reading the AWS variables from `env` instead of the process's
    /// environment (several sets of credentials in one process, and the tests).
    pub fn open_at_with_env(
        location: &StoreLocation,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Store, StoreError> {
        Store::open_located(location, env, true)
    }

    /// Opens the existing store `location` names for reading only (see
    /// [`Store::open_read_only`]). On object storage the working copy is synced first (files
    /// in the store directory are written; the ledger is not).
    pub fn open_read_only_at(location: &StoreLocation) -> Result<Store, StoreError> {
        Store::open_read_only_at_with_env(location, std::env::vars())
    }

    /// [`Store::open_read_only_at`] with the AWS variables from `env`.
    pub fn open_read_only_at_with_env(
        location: &StoreLocation,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Store, StoreError> {
        Store::open_located(location, env, false)
    }

    /// Opens the ledger `location` names, for writing (created and migrated) or for reading
    /// only, then attaches its snapshots' bucket, if any.
    fn open_located(
        location: &StoreLocation,
        env: impl IntoIterator<Item = (String, String)>,
        write: bool,
    ) -> Result<Store, StoreError> {
        let path = &location.path;
        let mut store = match &location.ledger {
            LedgerLocation::Embedded if write => Store::open(path)?,
            LedgerLocation::Embedded => Store::open_read_only(path)?,
            LedgerLocation::Postgres { url, schema } => {
                let target = sql::PostgresTarget::new(url, schema)?;
                if write {
                    Store::open_postgres(path, &target)?
                } else {
                    Store::open_postgres_read_only(path, &target)?
                }
            }
        };
        store.attach_bucket(&location.snapshots, env)?;
        Ok(store)
    }

    fn attach_bucket(
        &mut self,
        snapshots: &SnapshotLocation,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), StoreError> {
        match snapshots {
            SnapshotLocation::Embedded => Ok(()),
            SnapshotLocation::ObjectStore { bucket, prefix } => {
                // A read-only open migrates nothing: a ledger from before the pointers has none.
                let found = self.schema_version()?;
                if found < i64::from(POINTERS_VERSION) {
                    return Err(StoreError::TooOldForObjectStorage {
                        ledger: self.ledger.describe(),
                        found,
                        needed: POINTERS_VERSION,
                    });
                }
                self.bucket = Some(SnapshotBucket::connect(bucket, prefix, env)?);
                self.sync_working_copy()
            }
        }
    }

    /// Opens an existing store for reading only (`analyze`): creates nothing, takes no lock and
    /// migrates nothing, so it works on a read-only directory and a mistyped path never leaves
    /// an empty store behind. A store of an older schema is read as it is (what the analysis
    /// reads has not changed since version 1); the next writing command migrates it.
    pub fn open_read_only(root: &Path) -> Result<Store, StoreError> {
        let ledger_path = root.join("ledger.sqlite");
        if !ledger_path.is_file() {
            return Err(StoreError::Missing {
                path: root.to_path_buf(),
                missing: "no ledger.sqlite in it",
            });
        }
        let ledger = Ledger::sqlite(
            &ledger_path,
            open_ledger_read_only(&ledger_path, SCHEMA_VERSION)?,
        );
        Ok(Store {
            root: root.to_path_buf(),
            ledger,
            timezone: None,
            partitions_written: 0,
            bucket: None,
        })
    }

    /// Dates deals in `zone` from now on: stored deals dated in another zone are re-dated from
    /// their instants when read or rewritten, and snapshots are written stamped with `zone`.
    pub fn set_timezone(&mut self, zone: Tz) {
        self.timezone = Some(zone);
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's schema version as its ledger records it (after [`Store::open`], always
    /// [`SCHEMA_VERSION`]).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.ledger.schema_version()
    }

    /// Every table of the ledger with its columns and their types (`integer`, `real`, `text`),
    /// sorted: the same for an embedded ledger and a Postgres one (checked by the tests).
    #[doc(hidden)]
    pub fn ledger_columns(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.ledger.columns()
    }
}

/// Removes the `*.parquet.tmp` files a write cut short left in `dir` (a full disk, a killed
/// process). Only a writer opens the store this way, under the store lock, so no other process
/// is writing one of them; the snapshots they were meant to replace are still whole.
fn remove_temporaries(dir: &Path) -> Result<(), StoreError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    let suffix = format!(".{}", snapshots::TEMPORARY_EXTENSION);
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let temporary = entry.file_name().to_string_lossy().ends_with(&suffix);
        if temporary && entry.file_type().map_err(io_error(&path))?.is_file() {
            std::fs::remove_file(&path).map_err(io_error(&path))?;
            tracing::info!(file = %path.display(), "removed a snapshot write left unfinished");
        }
    }
    Ok(())
}

/// Checks, without creating anything, that a store could be written at `root`: an existing
/// store directory must be writable; a missing one must be creatable, i.e. its nearest existing
/// ancestor is a writable directory. Writability is tried (a file created and removed at once),
/// not guessed from permission bits, which say nothing about ACLs, read-only mounts or root.
pub fn check_writable(root: &Path) -> Result<(), StoreError> {
    let io_error = |path: &Path, source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_a_directory = |path: &Path| {
        io_error(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "exists but is not a directory",
            ),
        )
    };
    let absolute = std::path::absolute(root).map_err(|e| io_error(root, e))?;
    let mut existing = absolute.as_path();
    while !existing.exists() {
        existing = match existing.parent() {
            Some(parent) => parent,
            None => break,
        };
    }
    if !existing.is_dir() {
        return Err(not_a_directory(existing));
    }
    let probe = existing.join(format!(".kassa-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| io_error(existing, e))?;
    std::fs::remove_file(&probe).map_err(|e| io_error(&probe, e))
}

/// The ledger holds OAuth2 tokens (see `tokens.rs`): only its owner may read it. SQLite gives
/// its `-wal` and `-shm` files the same permissions.
#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn restrict_to_owner(_: &Path) -> Result<(), StoreError> {
    Ok(())
}

/// Maps SQLite failures to [`StoreError::Ledger`] naming the ledger's path.
fn ledger_error(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Ledger {
        path: path.to_path_buf(),
        source,
    }
}

fn user_version(ledger: &Connection) -> rusqlite::Result<i64> {
    ledger.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Opens the ledger for reading only, refusing one newer than `newest`, without leaving a trace.
///
/// SQLite reads a WAL-mode database through `-wal` and `-shm` files beside it, and only a
/// connection that may write removes them on close: a plain read-only connection would leave
/// them behind in the store. So the ledger is opened for writing when its file allows (never
/// created) and made `query_only`, so that this connection cannot write. Where the directory
/// cannot be written (a read-only mount, a copy without permissions), those files cannot be
/// created either; the ledger is then opened as immutable, which reads the file as it is.
fn open_ledger_read_only(path: &Path, newest: u32) -> Result<Connection, StoreError> {
    use rusqlite::OpenFlags;
    let ledger_error = ledger_error(path);
    let open = |flags: OpenFlags, uri: String| -> rusqlite::Result<(Connection, i64)> {
        let ledger = Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?;
        ledger.busy_timeout(std::time::Duration::from_secs(5))?;
        ledger.execute_batch("PRAGMA query_only = 1;")?;
        let found = user_version(&ledger)?;
        Ok((ledger, found))
    };
    let file = sqlite_uri(path);
    let (ledger, found) = match open(OpenFlags::SQLITE_OPEN_READ_WRITE, file.clone()) {
        Ok(opened) => opened,
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(
                e.code,
                rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly
            ) =>
        {
            open(
                OpenFlags::SQLITE_OPEN_READ_ONLY,
                format!("{file}?immutable=1"),
            )
            .map_err(&ledger_error)?
        }
        Err(e) => return Err(ledger_error(e)),
    };
    if found > i64::from(newest) {
        return Err(StoreError::NewerStore {
            path: path.to_path_buf(),
            found,
            newest,
        });
    }
    Ok(ledger)
}

/// `path` as an SQLite `file:` URI, with the characters URIs reserve escaped.
fn sqlite_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri
}

/// Opens the ledger, refusing one newer than the last of `migrations` before writing anything,
/// then applies the migrations it lacks.
#[cfg(test)]
fn open_ledger(path: &Path, migrations: &[Migration]) -> Result<Ledger, StoreError> {
    open_ledger_with(path, migrations, &mut |_| Ok(()))
}

/// [`open_ledger`], calling `before` with each migration's version before its transaction
/// (what a migration does to files; it must be safe to do again after a crash).
fn open_ledger_with(
    path: &Path,
    migrations: &[Migration],
    before: &mut dyn FnMut(u32) -> Result<(), StoreError>,
) -> Result<Ledger, StoreError> {
    let ledger_error = ledger_error(path);
    let connection = Connection::open(path).map_err(&ledger_error)?;
    // Reading the version only reads; switching the journal mode below may write, so it waits
    // until the version is known to be one this kassa understands.
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(&ledger_error)?;
    let ledger = Ledger::sqlite(path, connection);
    let newest = migrations.last().map_or(0, |m| m.version);
    let found = ledger.schema_version()?;
    if found > i64::from(newest) {
        return Err(StoreError::NewerStore {
            path: path.to_path_buf(),
            found,
            newest,
        });
    }
    ledger.batch("PRAGMA journal_mode = WAL;")?;
    migrate(&ledger, migrations, before)?;
    Ok(ledger)
}

/// What a migration does to the embedded snapshots before its ledger step: schema 8 splits
/// single-file snapshots into months before the ledger says 8, so a crash in between splits
/// the rest on the next open.
fn snapshot_migration(root: &Path, version: u32) -> Result<(), StoreError> {
    match version {
        8 => snapshots::split_all(root),
        _ => Ok(()),
    }
}

/// Applies the migrations `ledger` lacks, each in its own transaction that also records the
/// version, refusing a ledger newer than the last of `migrations` before writing anything.
/// Each transaction first serializes with other processes (SQLite's write lock, a Postgres
/// advisory lock on the schema) and looks at the version again, so two processes opening an
/// old store at once apply each step once.
fn migrate(
    ledger: &Ledger,
    migrations: &[Migration],
    before: &mut dyn FnMut(u32) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let newest = migrations.last().map_or(0, |m| m.version);
    let newer = |found: i64| StoreError::NewerStore {
        path: PathBuf::from(ledger.describe()),
        found,
        newest,
    };
    let found = ledger.schema_version()?;
    if found > i64::from(newest) {
        return Err(newer(found));
    }
    for migration in migrations {
        if i64::from(migration.version) <= found {
            continue;
        }
        before(migration.version)?;
        ledger.transaction(|tx| {
            tx.lock_for_migration()?;
            let now = tx.schema_version()?;
            if now > i64::from(newest) {
                return Err(newer(now));
            }
            if now < i64::from(migration.version) {
                tx.batch(&tx.ddl(migration.sql))?;
                tx.set_schema_version(migration.version)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_by_one_from_one() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, i + 1, "{}", migration.what);
        }
        assert_eq!(SCHEMA_VERSION as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_new_store_gets_the_current_version_and_reopening_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), i64::from(SCHEMA_VERSION));
        drop(store);
        let ledger = dir.path().join("ledger.sqlite");
        let before = std::fs::read(&ledger).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), i64::from(SCHEMA_VERSION));
        drop(store);
        assert_eq!(std::fs::read(&ledger).unwrap(), before);
    }

    fn table_columns(ledger: &Ledger, table: &str) -> Vec<String> {
        ledger
            .columns()
            .unwrap()
            .into_iter()
            .filter(|(t, _, _)| t == table)
            .map(|(_, column, _)| column)
            .collect()
    }

    const LATER: [Migration; 2] = [
        Migration {
            version: SCHEMA_VERSION + 1,
            what: "runs get a host",
            sql: "ALTER TABLE runs ADD COLUMN host TEXT;",
        },
        Migration {
            version: SCHEMA_VERSION + 2,
            what: "snapshots only",
            sql: "",
        },
    ];

    #[test]
    fn later_migrations_run_in_order_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        drop(open_ledger(&path, MIGRATIONS).unwrap());
        let all: Vec<Migration> = MIGRATIONS.iter().chain(&LATER).copied().collect();
        let ledger = open_ledger(&path, &all).unwrap();
        assert_eq!(
            ledger.schema_version().unwrap(),
            i64::from(SCHEMA_VERSION + 2)
        );
        assert!(table_columns(&ledger, "runs").contains(&"host".to_string()));
        drop(ledger);
        // Adding the column again would fail: opening again must not re-apply anything.
        let ledger = open_ledger(&path, &all).unwrap();
        assert_eq!(
            ledger.schema_version().unwrap(),
            i64::from(SCHEMA_VERSION + 2)
        );
        drop(ledger);
        // And the kassa that knew only the current version now refuses it.
        match open_ledger(&path, MIGRATIONS) {
            Err(StoreError::NewerStore { found, newest, .. }) => {
                assert_eq!(
                    (found, newest),
                    (i64::from(SCHEMA_VERSION + 2), SCHEMA_VERSION)
                )
            }
            other => panic!("expected NewerStore, got {other:?}"),
        }
    }

    // Guards: a store written by schema 2 (ledger at version 2, a deals snapshot stamped 2
    // without instants or a zone) migrates to 3 and reads its deals as they were.
    #[test]
    fn a_v2_store_migrates_to_3_and_its_deals_keep_their_dates() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        drop(open_ledger(&dir.path().join("ledger.sqlite"), &MIGRATIONS[..2]).unwrap());
        let deal = crate::domain::Deal {
            id: "1".into(),
            created_date: "2025-03-16".parse().unwrap(),
            closed_date: Some("2025-03-16".parse().unwrap()),
            status: crate::domain::DealStatus::Won,
            amount: None,
            currency: None,
            channel: "meta".into(),
            customer_id: None,
            instants: None,
        };
        let mut v2 = deals_to_frame("crm", &[deal])
            .unwrap()
            .drop_many(["created_at_ms", "closed_at_ms"]);
        std::fs::create_dir_all(dir.path().join("deals")).unwrap();
        let file = std::fs::File::create(dir.path().join("deals/crm.parquet")).unwrap();
        ParquetWriter::new(&file)
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
                snapshots::STAMP_KEY.to_string(),
                "2".to_string(),
            )])))
            .finish(&mut v2)
            .unwrap();

        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), i64::from(SCHEMA_VERSION));
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        assert!(store.timezone_changes(&["crm"], tokyo).unwrap().is_empty());
        let deals = store.deals_in(&["crm"], tokyo).unwrap();
        assert_eq!(deals.height(), 1);
        assert_eq!(deals.column("created_at_ms").unwrap().null_count(), 1);
        let closed: Vec<_> = deals
            .column("closed_date")
            .unwrap()
            .date()
            .unwrap()
            .as_date_iter()
            .collect();
        assert_eq!(closed, vec![Some("2025-03-16".parse().unwrap())]);
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        drop(open_ledger(&path, MIGRATIONS).unwrap());
        let broken: Vec<Migration> = MIGRATIONS
            .iter()
            .copied()
            .chain([Migration {
                version: SCHEMA_VERSION + 1,
                what: "half a migration",
                sql: "ALTER TABLE runs ADD COLUMN host TEXT; ALTER TABLE nowhere ADD COLUMN x TEXT;",
            }])
            .collect();
        assert!(matches!(
            open_ledger(&path, &broken),
            Err(StoreError::Ledger { .. })
        ));
        let ledger = open_ledger(&path, MIGRATIONS).unwrap();
        assert_eq!(ledger.schema_version().unwrap(), i64::from(SCHEMA_VERSION));
        assert!(!table_columns(&ledger, "runs").contains(&"host".to_string()));
    }
}
