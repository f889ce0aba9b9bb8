//! The alert outbox: every message is recorded, with the episode state that caused it, before
//! any attempt to send it, so nothing is lost and nothing is sent twice.
//!
//! A message is *pending* until its target accepts it (`delivered_at`). One that its target
//! refuses for good (an archived channel, a kicked bot, a payload it will never take), or that
//! stays undeliverable for `dead_after_runs` runs, becomes a *dead letter* (`dead_at`): kept,
//! never lost, but no longer sent by every run and no longer a failure of every run.
//! `kassa outbox retry` makes it pending again, `kassa outbox drop` deletes it.

use chrono::Utc;
use rusqlite::{Connection, params};

use super::{Store, StoreError, ledger_error};
use crate::domain::{EpisodeState, SourceHealth};

/// One message waiting in the outbox, or set aside as a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub target: String,
    pub message_id: String,
    /// The message as JSON, exactly as it was recorded before any delivery attempt.
    pub message: String,
    /// Requests sent for it.
    pub attempts: i64,
    /// Runs in which it stayed undelivered because its target failed.
    pub failed_runs: i64,
    pub last_error: Option<String>,
    /// When it became a dead letter; `None` while it is pending.
    pub dead_at: Option<String>,
}

/// A message to record for a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxItem {
    pub target: String,
    pub message_id: String,
    pub message: String,
}

/// Which dead letters `kassa outbox retry` or `drop` acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxSelection {
    /// These outbox ids (as `kassa outbox list` shows them).
    Ids(Vec<i64>),
    /// Every dead letter of this target.
    Target(String),
    /// Every dead letter.
    All,
}

const COLUMNS: &str =
    "id, target, message_id, message, attempts, failed_runs, last_error, dead_at FROM outbox";

impl Store {
    /// Stores new episode states, source health and the messages they cause, in one
    /// transaction: the alert is recorded before anything is sent, and a repeated run finds it
    /// already there (messages are unique per target and message id).
    pub fn record_alerts(
        &mut self,
        states: &[EpisodeState],
        health: &[SourceHealth],
        items: &[NewOutboxItem],
    ) -> Result<usize, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let now = Utc::now().to_rfc3339();
        let tx = self.ledger.transaction().map_err(&ledger_error)?;
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
            .map_err(&ledger_error)?;
        }
        for source in health {
            tx.execute(
                "INSERT INTO source_health (source, failed_runs, since, last_error, alerted, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (source) DO UPDATE SET failed_runs = ?2, since = ?3, last_error = ?4,
                     alerted = ?5, updated_at = ?6",
                params![
                    source.source,
                    source.failed_runs,
                    source.since.map(|d| d.to_string()),
                    source.last_error,
                    source.alerted,
                    now
                ],
            )
            .map_err(&ledger_error)?;
        }
        let mut inserted = 0;
        for item in items {
            inserted += tx
                .execute(
                    "INSERT OR IGNORE INTO outbox (target, message_id, message, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![item.target, item.message_id, item.message, now],
                )
                .map_err(&ledger_error)?;
        }
        tx.commit().map_err(&ledger_error)?;
        Ok(inserted)
    }

    /// Messages not delivered yet and not dead, oldest first.
    pub fn pending_alerts(&self) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_query("delivered_at IS NULL AND dead_at IS NULL")
    }

    /// Every message not delivered: pending ones and dead letters, oldest first.
    pub fn undelivered_alerts(&self) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_query("delivered_at IS NULL")
    }

    fn outbox_query(&self, condition: &str) -> Result<Vec<OutboxItem>, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let mut statement = self
            .ledger
            .prepare(&format!("SELECT {COLUMNS} WHERE {condition} ORDER BY id"))
            .map_err(&ledger_error)?;
        let rows = statement
            .query_map([], |row| {
                Ok(OutboxItem {
                    id: row.get(0)?,
                    target: row.get(1)?,
                    message_id: row.get(2)?,
                    message: row.get(3)?,
                    attempts: row.get(4)?,
                    failed_runs: row.get(5)?,
                    last_error: row.get(6)?,
                    dead_at: row.get(7)?,
                })
            })
            .map_err(&ledger_error)?;
        rows.collect::<Result<_, _>>().map_err(&ledger_error)
    }

    pub fn mark_delivered(&self, id: i64) -> Result<(), StoreError> {
        self.ledger
            .execute(
                "UPDATE outbox SET delivered_at = ?1, attempts = attempts + 1, last_error = NULL WHERE id = ?2",
                params![Utc::now().to_rfc3339(), id],
            )
            .map_err(ledger_error(&self.ledger_path))?;
        Ok(())
    }

    /// Records that message `id` stayed undelivered in this run: `attempted` when a request
    /// was sent for it (otherwise its target had already failed in this run), `permanent` when
    /// the target refused it for good. It becomes a dead letter on a permanent refusal, or
    /// once it has failed `dead_after_runs` runs. Returns whether it is dead now.
    pub fn mark_failed(
        &self,
        id: i64,
        error: &str,
        attempted: bool,
        permanent: bool,
        dead_after_runs: u32,
    ) -> Result<bool, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        self.ledger
            .execute(
                "UPDATE outbox SET attempts = attempts + ?1, failed_runs = failed_runs + 1, last_error = ?2,
                     dead_at = CASE WHEN ?3 OR failed_runs + 1 >= ?4 THEN ?5 ELSE NULL END
                 WHERE id = ?6",
                params![
                    i64::from(attempted),
                    error,
                    permanent,
                    dead_after_runs,
                    Utc::now().to_rfc3339(),
                    id
                ],
            )
            .map_err(&ledger_error)?;
        self.ledger
            .query_row(
                "SELECT dead_at IS NOT NULL FROM outbox WHERE id = ?1",
                params![id],
                |row| row.get(0),
            )
            .map_err(&ledger_error)
    }

    /// How many messages have been delivered and how many are pending (dead letters not
    /// counted), over all time.
    pub fn outbox_counts(&self) -> Result<(u64, u64), StoreError> {
        self.ledger
            .query_row(
                "SELECT COUNT(delivered_at), COUNT(*) - COUNT(delivered_at) - COUNT(dead_at) FROM outbox",
                [],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
            )
            .map_err(ledger_error(&self.ledger_path))
    }

    /// How many dead letters the outbox holds.
    pub fn dead_alerts(&self) -> Result<u64, StoreError> {
        self.ledger
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL AND delivered_at IS NULL",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(ledger_error(&self.ledger_path))
    }

    /// Makes the selected dead letters pending again, with a fresh count of failed runs (their
    /// attempts and last error are kept). Returns the ids it moved.
    pub fn retry_dead(&mut self, selection: &OutboxSelection) -> Result<Vec<i64>, StoreError> {
        self.change_dead(
            selection,
            "UPDATE outbox SET dead_at = NULL, failed_runs = 0 WHERE id = ?1",
        )
    }

    /// Deletes the selected dead letters. Returns the ids it deleted.
    pub fn drop_dead(&mut self, selection: &OutboxSelection) -> Result<Vec<i64>, StoreError> {
        self.change_dead(selection, "DELETE FROM outbox WHERE id = ?1")
    }

    /// Runs `sql` (with the id as `?1`) on each selected dead letter, in one transaction, so
    /// that only dead letters are ever touched: a pending or delivered id is left alone.
    fn change_dead(
        &mut self,
        selection: &OutboxSelection,
        sql: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let tx = self.ledger.transaction().map_err(&ledger_error)?;
        let ids = dead_ids(&tx, selection).map_err(&ledger_error)?;
        for id in &ids {
            tx.execute(sql, params![id]).map_err(&ledger_error)?;
        }
        tx.commit().map_err(&ledger_error)?;
        Ok(ids)
    }
}

fn dead_ids(ledger: &Connection, selection: &OutboxSelection) -> rusqlite::Result<Vec<i64>> {
    let dead = "dead_at IS NOT NULL AND delivered_at IS NULL";
    let (condition, target) = match selection {
        OutboxSelection::All => (String::new(), None),
        OutboxSelection::Target(name) => (" AND target = ?1".to_string(), Some(name.as_str())),
        OutboxSelection::Ids(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            (format!(" AND id IN ({})", list.join(",")), None)
        }
    };
    let mut statement = ledger.prepare(&format!(
        "SELECT id FROM outbox WHERE {dead}{condition} ORDER BY id"
    ))?;
    match target {
        Some(name) => statement
            .query_map(params![name], |row| row.get(0))?
            .collect(),
        None => statement.query_map([], |row| row.get(0))?.collect(),
    }
}
