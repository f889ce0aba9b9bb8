//! The embedded store: no server to start.
//!
//! - Rows live in Parquet snapshots, one file per source: `ads/<source>.parquet` and
//!   `deals/<source>.parquet` under the store's directory.
//! - The ledger lives in SQLite (`ledger.sqlite`): which date ranges each source has covered,
//!   and a record of runs.
//!
//! Upserts are idempotent: pulling a window again *replaces* that window (ad rows by date,
//! deals by the days they were created or closed, and by id), so a re-pull never duplicates
//! and a restated number simply wins. Every snapshot is written to a temporary file and renamed
//! into place, so a crash leaves the old snapshot or the new one, never half of either. Rows are
//! written before coverage is recorded: a crash in between leaves a window that looks uncovered
//! and is pulled again, never one that looks covered and is not.
//!
//! The store knows the domain types and polars; it knows nothing of sources or analysis.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use polars::prelude::*;
use rusqlite::{Connection, params};

use crate::domain::{AdDay, Coverage, DateRange, Deal, Pulled, RowKind};
use crate::episodes::{EpisodeState, Status};

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
}

/// Days since 1970-01-01, the physical value of a polars `Date`.
pub fn epoch_days(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// What one upsert changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsertStats {
    /// Rows of the window that were there before and were replaced.
    pub replaced: usize,
    /// Rows written for the window.
    pub written: usize,
}

pub struct Store {
    root: PathBuf,
    ledger_path: PathBuf,
    ledger: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

impl Store {
    /// Opens the store at `root`, creating it on first use.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for dir in [root.to_path_buf(), root.join("ads"), root.join("deals")] {
            std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io { path: dir, source })?;
        }
        let ledger_path = root.join("ledger.sqlite");
        let ledger_error = |source| StoreError::Ledger {
            path: ledger_path.clone(),
            source,
        };
        let ledger = Connection::open(&ledger_path).map_err(ledger_error)?;
        ledger
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA busy_timeout = 5000;
                 CREATE TABLE IF NOT EXISTS coverage (
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
            )
            .map_err(ledger_error)?;
        Ok(Store {
            root: root.to_path_buf(),
            ledger_path,
            ledger,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Replaces `source`'s rows for `range` with `rows`, then records `covered` in the ledger.
    pub fn upsert(
        &mut self,
        source: &str,
        range: DateRange,
        rows: &Pulled,
        covered: Option<DateRange>,
    ) -> Result<UpsertStats, StoreError> {
        let stats = match rows {
            Pulled::Ads(rows) => self.upsert_ads(source, range, rows)?,
            Pulled::Deals(rows) => self.upsert_deals(source, range, rows)?,
        };
        if let Some(covered) = covered {
            self.add_coverage(source, covered)?;
        }
        Ok(stats)
    }

    fn snapshot_path(&self, kind: RowKind, source: &str) -> PathBuf {
        self.root
            .join(kind.as_str())
            .join(format!("{source}.parquet"))
    }

    fn upsert_ads(
        &self,
        source: &str,
        range: DateRange,
        rows: &[AdDay],
    ) -> Result<UpsertStats, StoreError> {
        let path = self.snapshot_path(RowKind::Ads, source);
        let snapshot_error = |source| StoreError::Snapshot {
            path: path.clone(),
            source,
        };
        let existing = read_snapshot(&path)?;
        let (start, end) = (epoch_days(range.start), epoch_days(range.end));
        let (kept, replaced) = match existing {
            Some(df) => {
                let dates = df
                    .column("date")
                    .and_then(|c| c.cast(&DataType::Int32))
                    .map_err(snapshot_error)?;
                let dates = dates.i32().map_err(snapshot_error)?;
                let keep: BooleanChunked = dates
                    .iter()
                    .map(|d| d.is_none_or(|d| d < start || d > end))
                    .collect();
                let kept = df.filter(&keep).map_err(snapshot_error)?;
                let replaced = df.height() - kept.height();
                (Some(kept), replaced)
            }
            None => (None, 0),
        };
        // The natural key is (source, account, campaign, date); a platform repeating a row in
        // one answer keeps its last version.
        let mut unique: Vec<&AdDay> = Vec::with_capacity(rows.len());
        let mut seen = HashSet::new();
        for row in rows.iter().rev() {
            if seen.insert((&row.account, &row.campaign_id, row.date)) {
                unique.push(row);
            }
        }
        let fresh = ads_frame(source, &unique).map_err(snapshot_error)?;
        let written = fresh.height();
        let mut combined = match kept {
            Some(kept) => kept.vstack(&fresh).map_err(snapshot_error)?,
            None => fresh,
        };
        combined = combined
            .sort(
                ["date", "account", "campaign_id"],
                SortMultipleOptions::default(),
            )
            .map_err(snapshot_error)?;
        write_snapshot(&path, &mut combined)?;
        Ok(UpsertStats { replaced, written })
    }

    fn upsert_deals(
        &self,
        source: &str,
        range: DateRange,
        rows: &[Deal],
    ) -> Result<UpsertStats, StoreError> {
        let path = self.snapshot_path(RowKind::Deals, source);
        let snapshot_error = |source| StoreError::Snapshot {
            path: path.clone(),
            source,
        };
        let existing = read_snapshot(&path)?;
        let mut unique: Vec<&Deal> = Vec::with_capacity(rows.len());
        let mut ids = HashSet::new();
        for row in rows.iter().rev() {
            if ids.insert(row.id.as_str()) {
                unique.push(row);
            }
        }
        let (start, end) = (epoch_days(range.start), epoch_days(range.end));
        let in_range = |d: Option<i32>| d.is_some_and(|d| start <= d && d <= end);
        let (kept, replaced) = match existing {
            Some(df) => {
                let column = |name: &str| -> Result<Int32Chunked, PolarsError> {
                    Ok(df.column(name)?.cast(&DataType::Int32)?.i32()?.clone())
                };
                let created = column("created_date").map_err(snapshot_error)?;
                let closed = column("closed_date").map_err(snapshot_error)?;
                let existing_ids = df
                    .column("deal_id")
                    .and_then(|c| c.str().cloned())
                    .map_err(snapshot_error)?;
                // Drop what this window answers for: deals created or closed in it, and any
                // deal the pull returned (its dates may have moved).
                let keep: BooleanChunked = created
                    .iter()
                    .zip(closed.iter())
                    .zip(existing_ids.iter())
                    .map(|((created, closed), id)| {
                        !(in_range(created)
                            || in_range(closed)
                            || id.is_some_and(|id| ids.contains(id)))
                    })
                    .collect();
                let kept = df.filter(&keep).map_err(snapshot_error)?;
                let replaced = df.height() - kept.height();
                (Some(kept), replaced)
            }
            None => (None, 0),
        };
        let fresh = deals_frame(source, &unique).map_err(snapshot_error)?;
        let written = fresh.height();
        let mut combined = match kept {
            Some(kept) => kept.vstack(&fresh).map_err(snapshot_error)?,
            None => fresh,
        };
        combined = combined
            .sort(["created_date", "deal_id"], SortMultipleOptions::default())
            .map_err(snapshot_error)?;
        write_snapshot(&path, &mut combined)?;
        Ok(UpsertStats { replaced, written })
    }

    /// Every ad row of the named sources, in the schema [`crate::analysis`] documents.
    pub fn ads(&self, sources: &[&str]) -> Result<DataFrame, StoreError> {
        self.load(RowKind::Ads, sources, empty_ads_frame)
    }

    /// Every deal of the named sources, in the schema [`crate::analysis`] documents.
    pub fn deals(&self, sources: &[&str]) -> Result<DataFrame, StoreError> {
        self.load(RowKind::Deals, sources, empty_deals_frame)
    }

    fn load(
        &self,
        kind: RowKind,
        sources: &[&str],
        empty: fn() -> PolarsResult<DataFrame>,
    ) -> Result<DataFrame, StoreError> {
        let mut combined = empty().map_err(|source| StoreError::Snapshot {
            path: self.root.clone(),
            source,
        })?;
        for source in sources {
            let path = self.snapshot_path(kind, source);
            if let Some(df) = read_snapshot(&path)? {
                combined
                    .vstack_mut_owned(df)
                    .map_err(|source| StoreError::Snapshot { path, source })?;
            }
        }
        Ok(combined)
    }

    fn add_coverage(&mut self, source: &str, covered: DateRange) -> Result<(), StoreError> {
        let path = self.ledger_path.clone();
        let ledger_error = |source| StoreError::Ledger {
            path: path.clone(),
            source,
        };
        let mut ranges = self.coverage_of(source)?;
        ranges.push(covered);
        let merged = merge_ranges(ranges);
        let tx = self.ledger.transaction().map_err(ledger_error)?;
        tx.execute("DELETE FROM coverage WHERE source = ?1", params![source])
            .map_err(ledger_error)?;
        for range in &merged {
            tx.execute(
                "INSERT INTO coverage (source, start_date, end_date) VALUES (?1, ?2, ?3)",
                params![source, range.start.to_string(), range.end.to_string()],
            )
            .map_err(ledger_error)?;
        }
        tx.commit().map_err(ledger_error)
    }

    fn coverage_of(&self, source: &str) -> Result<Vec<DateRange>, StoreError> {
        let ledger_error = |source| StoreError::Ledger {
            path: self.ledger_path.clone(),
            source,
        };
        let mut statement = self
            .ledger
            .prepare(
                "SELECT start_date, end_date FROM coverage WHERE source = ?1 ORDER BY start_date",
            )
            .map_err(ledger_error)?;
        let rows = statement
            .query_map(params![source], |row| {
                let start: String = row.get(0)?;
                let end: String = row.get(1)?;
                Ok((start, end))
            })
            .map_err(ledger_error)?;
        let mut ranges = Vec::new();
        for row in rows {
            let (start, end) = row.map_err(ledger_error)?;
            let parse = |s: &str| s.parse::<NaiveDate>().ok();
            if let Some(range) = parse(&start)
                .zip(parse(&end))
                .and_then(|(s, e)| DateRange::new(s, e))
            {
                ranges.push(range);
            }
        }
        Ok(ranges)
    }

    /// The covered ranges of each named source (empty for a source never pulled).
    pub fn coverage(&self, sources: &[&str]) -> Result<Vec<Coverage>, StoreError> {
        sources
            .iter()
            .map(|source| {
                Ok(Coverage {
                    source: source.to_string(),
                    ranges: self.coverage_of(source)?,
                })
            })
            .collect()
    }

    /// Records that a command started; returns the run's id for [`Store::finish_run`].
    pub fn start_run(&self, command: &str) -> Result<i64, StoreError> {
        self.ledger
            .execute(
                "INSERT INTO runs (command, started_at) VALUES (?1, ?2)",
                params![command, Utc::now().to_rfc3339()],
            )
            .map_err(|source| StoreError::Ledger {
                path: self.ledger_path.clone(),
                source,
            })?;
        Ok(self.ledger.last_insert_rowid())
    }

    pub fn finish_run(&self, id: i64, outcome: &str, detail: &str) -> Result<(), StoreError> {
        self.ledger
            .execute(
                "UPDATE runs SET finished_at = ?1, outcome = ?2, detail = ?3 WHERE id = ?4",
                params![Utc::now().to_rfc3339(), outcome, detail, id],
            )
            .map_err(|source| StoreError::Ledger {
                path: self.ledger_path.clone(),
                source,
            })?;
        Ok(())
    }
}

/// One message waiting in (or delivered from) the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub target: String,
    pub message_id: String,
    /// The message as JSON, exactly as it was recorded before any delivery attempt.
    pub message: String,
    pub attempts: i64,
}

/// A message to record for a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxItem {
    pub target: String,
    pub message_id: String,
    pub message: String,
}

/// Another process holds the store's lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another kassa process ({holder}) is already working on the store at {path}; try again when it has finished"
    )]
    Held { path: PathBuf, holder: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An exclusive lock on one store directory, released when dropped (or when the process dies:
/// the operating system drops the lock with the file handle, so a crash never leaves it stuck).
#[derive(Debug)]
pub struct StoreLock {
    _file: std::fs::File,
}

impl StoreLock {
    /// Takes the lock on the store at `root` without waiting.
    pub fn acquire(root: &Path) -> Result<StoreLock, LockError> {
        std::fs::create_dir_all(root).map_err(|source| StoreError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let path = root.join("kassa.lock");
        let io_error = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = if holder.trim().is_empty() {
                    "unknown pid".to_string()
                } else {
                    holder.trim().to_string()
                };
                return Err(LockError::Held {
                    path: root.to_path_buf(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e).into()),
        }
        use std::io::{Seek, Write};
        file.set_len(0).map_err(io_error)?;
        file.seek(std::io::SeekFrom::Start(0)).map_err(io_error)?;
        write!(file, "pid {}", std::process::id()).map_err(io_error)?;
        Ok(StoreLock { _file: file })
    }
}

impl Store {
    fn ledger_error(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Ledger {
            path: self.ledger_path.clone(),
            source,
        }
    }

    /// Every stored episode state.
    pub fn episode_states(&self) -> Result<Vec<EpisodeState>, StoreError> {
        let mut statement = self
            .ledger
            .prepare(
                "SELECT key, channel, kind, first_start, last_start, alerted_growth, updates_sent, status
                 FROM episodes ORDER BY first_start, key",
            )
            .map_err(self.ledger_error())?;
        let rows = statement
            .query_map([], |row| {
                let date = |i: usize| -> rusqlite::Result<NaiveDate> {
                    let text: String = row.get(i)?;
                    text.parse().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            i,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })
                };
                let status: String = row.get(7)?;
                Ok(EpisodeState {
                    key: row.get(0)?,
                    channel: row.get(1)?,
                    kind: row.get(2)?,
                    first_start: date(3)?,
                    last_start: date(4)?,
                    alerted_growth: row.get(5)?,
                    updates_sent: row.get(6)?,
                    status: if status == "open" {
                        Status::Open
                    } else {
                        Status::Resolved
                    },
                })
            })
            .map_err(self.ledger_error())?;
        rows.collect::<Result<_, _>>().map_err(self.ledger_error())
    }

    /// Stores new episode states and the messages they cause, in one transaction: the alert is
    /// recorded before anything is sent, and a repeated run finds it already there (messages
    /// are unique per target and message id).
    pub fn record_alerts(
        &mut self,
        states: &[EpisodeState],
        items: &[NewOutboxItem],
    ) -> Result<usize, StoreError> {
        let path = self.ledger_path.clone();
        let ledger_error = |source| StoreError::Ledger {
            path: path.clone(),
            source,
        };
        let now = Utc::now().to_rfc3339();
        let tx = self.ledger.transaction().map_err(ledger_error)?;
        for state in states {
            tx.execute(
                "INSERT INTO episodes (key, channel, kind, first_start, last_start, alerted_growth, updates_sent, status, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (key) DO UPDATE SET first_start = ?4, last_start = ?5, alerted_growth = ?6,
                     updates_sent = ?7, status = ?8, updated_at = ?9",
                params![
                    state.key,
                    state.channel,
                    state.kind,
                    state.first_start.to_string(),
                    state.last_start.to_string(),
                    state.alerted_growth,
                    state.updates_sent,
                    state.status.as_str(),
                    now
                ],
            )
            .map_err(ledger_error)?;
        }
        let mut inserted = 0;
        for item in items {
            inserted += tx
                .execute(
                    "INSERT OR IGNORE INTO outbox (target, message_id, message, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![item.target, item.message_id, item.message, now],
                )
                .map_err(ledger_error)?;
        }
        tx.commit().map_err(ledger_error)?;
        Ok(inserted)
    }

    /// Messages not delivered yet, oldest first.
    pub fn pending_alerts(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let mut statement = self
            .ledger
            .prepare(
                "SELECT id, target, message_id, message, attempts FROM outbox WHERE delivered_at IS NULL ORDER BY id",
            )
            .map_err(self.ledger_error())?;
        let rows = statement
            .query_map([], |row| {
                Ok(OutboxItem {
                    id: row.get(0)?,
                    target: row.get(1)?,
                    message_id: row.get(2)?,
                    message: row.get(3)?,
                    attempts: row.get(4)?,
                })
            })
            .map_err(self.ledger_error())?;
        rows.collect::<Result<_, _>>().map_err(self.ledger_error())
    }

    pub fn mark_delivered(&self, id: i64) -> Result<(), StoreError> {
        self.ledger
            .execute(
                "UPDATE outbox SET delivered_at = ?1, attempts = attempts + 1, last_error = NULL WHERE id = ?2",
                params![Utc::now().to_rfc3339(), id],
            )
            .map_err(self.ledger_error())?;
        Ok(())
    }

    pub fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.ledger
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?1 WHERE id = ?2",
                params![error, id],
            )
            .map_err(self.ledger_error())?;
        Ok(())
    }

    /// How many messages have been delivered and how many are pending, over all time.
    pub fn outbox_counts(&self) -> Result<(u64, u64), StoreError> {
        self.ledger
            .query_row(
                "SELECT COUNT(delivered_at), COUNT(*) - COUNT(delivered_at) FROM outbox",
                [],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
            )
            .map_err(self.ledger_error())
    }
}

/// Sorts and merges overlapping or adjacent ranges.
pub fn merge_ranges(mut ranges: Vec<DateRange>) -> Vec<DateRange> {
    ranges.sort();
    let mut merged: Vec<DateRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end.succ_opt().unwrap_or(last.end) => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

fn read_snapshot(path: &Path) -> Result<Option<DataFrame>, StoreError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    ParquetReader::new(file)
        .finish()
        .map(Some)
        .map_err(|source| StoreError::Snapshot {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes next to the target and renames over it: readers see the old file or the new one.
fn write_snapshot(path: &Path, df: &mut DataFrame) -> Result<(), StoreError> {
    let tmp = path.with_extension("parquet.tmp");
    let io_error = |source| StoreError::Io {
        path: tmp.clone(),
        source,
    };
    let file = std::fs::File::create(&tmp).map_err(io_error)?;
    ParquetWriter::new(&file)
        .finish(df)
        .map_err(|source| StoreError::Snapshot {
            path: tmp.clone(),
            source,
        })?;
    file.sync_all().map_err(io_error)?;
    std::fs::rename(&tmp, path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn date_column(name: &str, dates: Vec<Option<i32>>) -> PolarsResult<Column> {
    Column::new(name.into(), dates).cast(&DataType::Date)
}

fn ads_frame(source: &str, rows: &[&AdDay]) -> PolarsResult<DataFrame> {
    let text = |f: fn(&AdDay) -> &str| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("source".into(), vec![source; rows.len()]),
            Column::new("account".into(), text(|r| &r.account)),
            Column::new("channel".into(), text(|r| &r.channel)),
            Column::new("campaign_id".into(), text(|r| &r.campaign_id)),
            Column::new(
                "campaign_name".into(),
                rows.iter()
                    .map(|r| r.campaign_name.as_deref())
                    .collect::<Vec<_>>(),
            ),
            date_column(
                "date",
                rows.iter().map(|r| Some(epoch_days(r.date))).collect(),
            )?,
            Column::new(
                "impressions".into(),
                rows.iter().map(|r| r.impressions).collect::<Vec<_>>(),
            ),
            Column::new(
                "reach".into(),
                rows.iter().map(|r| r.reach).collect::<Vec<_>>(),
            ),
            Column::new(
                "clicks".into(),
                rows.iter().map(|r| r.clicks).collect::<Vec<_>>(),
            ),
            Column::new(
                "spend_micros".into(),
                rows.iter().map(|r| r.spend.micros()).collect::<Vec<_>>(),
            ),
            Column::new(
                "currency".into(),
                rows.iter()
                    .map(|r| r.currency.as_deref())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

fn empty_ads_frame() -> PolarsResult<DataFrame> {
    ads_frame("", &[])
}

/// Ad rows as a frame in the snapshot schema (what [`Store::ads`] returns).
pub fn ad_rows_to_frame(source: &str, rows: &[AdDay]) -> PolarsResult<DataFrame> {
    ads_frame(source, &rows.iter().collect::<Vec<_>>())
}

/// Deals as a frame in the snapshot schema (what [`Store::deals`] returns).
pub fn deals_to_frame(source: &str, rows: &[Deal]) -> PolarsResult<DataFrame> {
    deals_frame(source, &rows.iter().collect::<Vec<_>>())
}

fn deals_frame(source: &str, rows: &[&Deal]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("source".into(), vec![source; rows.len()]),
            Column::new(
                "deal_id".into(),
                rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ),
            date_column(
                "created_date",
                rows.iter()
                    .map(|r| Some(epoch_days(r.created_date)))
                    .collect(),
            )?,
            date_column(
                "closed_date",
                rows.iter().map(|r| r.closed_date.map(epoch_days)).collect(),
            )?,
            Column::new(
                "status".into(),
                rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "amount_micros".into(),
                rows.iter()
                    .map(|r| r.amount.map(|a| a.micros()))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "currency".into(),
                rows.iter()
                    .map(|r| r.currency.as_deref())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "channel".into(),
                rows.iter().map(|r| r.channel.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "customer_id".into(),
                rows.iter()
                    .map(|r| r.customer_id.as_deref())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

fn empty_deals_frame() -> PolarsResult<DataFrame> {
    deals_frame("", &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: &str, b: &str) -> DateRange {
        DateRange::new(a.parse().unwrap(), b.parse().unwrap()).unwrap()
    }

    #[test]
    fn ranges_merge_when_they_overlap_or_touch() {
        let merged = merge_ranges(vec![
            r("2024-03-01", "2024-03-10"),
            r("2024-01-01", "2024-01-31"),
            r("2024-02-01", "2024-02-05"),
            r("2024-03-05", "2024-03-20"),
        ]);
        assert_eq!(
            merged,
            vec![r("2024-01-01", "2024-02-05"), r("2024-03-01", "2024-03-20")]
        );
    }
}
