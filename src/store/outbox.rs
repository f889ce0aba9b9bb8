//! The alert outbox: every message is recorded, with the episode state that caused it, before
//! any attempt to send it, so nothing is lost and nothing is sent twice.
//!
//! A message is *pending* until its target accepts it (`delivered_at`). One that its target
//! refuses for good (an archived channel, a kicked bot, a payload it will never take), or that
//! stays undeliverable for `dead_after_runs` runs, becomes a *dead letter* (`dead_at`): kept,
//! never lost, but no longer sent by every run and no longer a failure of every run.
//! `kassa outbox retry` makes it pending again, `kassa outbox drop` deletes it.

use super::ledger::row_missing;
use super::sql::{Ledger, Value, ValueError, values};
use super::{Store, StoreError};
use crate::domain::{EpisodeState, SourceHealth};
use chrono::Utc;

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
        let now = Utc::now().to_rfc3339();
        self.ledger.transaction(|tx| {
            for state in states {
                tx.execute(
                    "INSERT INTO episodes (key, channel, kind, first_start, last_start, alerted_growth, updates_sent, status, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (key) DO UPDATE SET first_start = ?4, last_start = ?5, alerted_growth = ?6,
                         updates_sent = ?7, status = ?8, updated_at = ?9",
                    values![
                        state.key.as_str(),
                        state.channel.as_str(),
                        state.kind.as_str(),
                        state.first_start.to_string(),
                        state.last_start.to_string(),
                        state.alerted_growth,
                        state.updates_sent,
                        state.status.as_str(),
                        now.as_str()
                    ],
                )?;
            }
            for source in health {
                tx.execute(
                    "INSERT INTO source_health (source, failed_runs, since, last_error, alerted, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (source) DO UPDATE SET failed_runs = ?2, since = ?3, last_error = ?4,
                         alerted = ?5, updated_at = ?6",
                    values![
                        source.source.as_str(),
                        source.failed_runs,
                        source.since.map(|d| d.to_string()),
                        source.last_error.as_deref(),
                        source.alerted,
                        now.as_str()
                    ],
                )?;
            }
            let mut inserted = 0;
            for item in items {
                inserted += tx.execute(
                    "INSERT INTO outbox (target, message_id, message, created_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (target, message_id) DO NOTHING",
                    values![
                        item.target.as_str(),
                        item.message_id.as_str(),
                        item.message.as_str(),
                        now.as_str()
                    ],
                )?;
            }
            Ok(inserted)
        })
    }

    /// Messages not delivered yet and not dead, oldest first.
    pub fn pending_alerts(&self) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_query("delivered_at IS NULL AND dead_at IS NULL")
    }

    /// Claims the pending messages no other process holds a live claim on, for `lease`, and
    /// returns them, oldest first: what this process is to deliver now. Two processes
    /// delivering one outbox at once (two pods of one tenant) never get the same message while
    /// its lease runs; [`Store::mark_delivered`] and [`Store::mark_failed`] end the claim. A
    /// process that dies holding a claim leaves it to expire, and the message is sent again
    /// after `lease`: delivery is at least once, and the message keeps its id.
    pub fn claim_pending(
        &self,
        owner: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let now = Utc::now().timestamp_millis();
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let ids = self.ledger.transaction(|tx| {
            let rows = tx.query(
                &format!(
                    "SELECT id FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL
                     AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?1) ORDER BY id{}",
                    tx.skip_locked()
                ),
                values![now],
            )?;
            let ids = rows
                .iter()
                .map(|row| row.int(0))
                .collect::<Result<Vec<i64>, _>>()
                .map_err(tx.value_error())?;
            for id in &ids {
                tx.execute(
                    "UPDATE outbox SET claimed_by = ?1, claimed_until_ms = ?2 WHERE id = ?3",
                    values![owner, until, *id],
                )?;
            }
            Ok(ids)
        })?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        self.outbox_query(&format!("id IN ({})", list.join(",")))
    }

    /// Every message not delivered: pending ones and dead letters, oldest first.
    pub fn undelivered_alerts(&self) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_query("delivered_at IS NULL")
    }

    fn outbox_query(&self, condition: &str) -> Result<Vec<OutboxItem>, StoreError> {
        let rows = self.ledger.query(
            &format!("SELECT {COLUMNS} WHERE {condition} ORDER BY id"),
            &[],
        )?;
        rows.iter()
            .map(|row| {
                Ok(OutboxItem {
                    id: row.int(0)?,
                    target: row.text(1)?,
                    message_id: row.text(2)?,
                    message: row.text(3)?,
                    attempts: row.int(4)?,
                    failed_runs: row.int(5)?,
                    last_error: row.opt_text(6)?,
                    dead_at: row.opt_text(7)?,
                })
            })
            .collect::<Result<_, ValueError>>()
            .map_err(self.ledger.value_error())
    }

    pub fn mark_delivered(&self, id: i64) -> Result<(), StoreError> {
        self.ledger.execute(
            "UPDATE outbox SET delivered_at = ?1, attempts = attempts + 1, last_error = NULL,
                 claimed_by = NULL, claimed_until_ms = NULL
             WHERE id = ?2",
            values![Utc::now().to_rfc3339(), id],
        )?;
        Ok(())
    }

    /// Records that message `id` stayed undelivered in this run: `attempted` when a request
    /// was sent for it (otherwise its target had already failed in this run), `permanent` when
    /// the target refused it for good. It becomes a dead letter on a permanent refusal, or
    /// once it has failed `dead_after_runs` runs. Returns whether it is dead now. Its claim
    /// ends: the next run may try it again.
    pub fn mark_failed(
        &self,
        id: i64,
        error: &str,
        attempted: bool,
        permanent: bool,
        dead_after_runs: u32,
    ) -> Result<bool, StoreError> {
        self.ledger.execute(
            "UPDATE outbox SET attempts = attempts + ?1, failed_runs = failed_runs + 1, last_error = ?2,
                 dead_at = CASE WHEN ?3 OR failed_runs + 1 >= ?4 THEN ?5 ELSE NULL END,
                 claimed_by = NULL, claimed_until_ms = NULL
             WHERE id = ?6",
            values![
                i64::from(attempted),
                error,
                permanent,
                dead_after_runs,
                Utc::now().to_rfc3339(),
                id
            ],
        )?;
        let row = self.ledger.query_opt(
            "SELECT dead_at IS NOT NULL FROM outbox WHERE id = ?1",
            values![id],
        )?;
        row.map(|row| row.int(0))
            .unwrap_or_else(|| row_missing("outbox.id"))
            .map(|dead| dead != 0)
            .map_err(self.ledger.value_error())
    }

    /// How many messages have been delivered and how many are pending (dead letters not
    /// counted), over all time.
    pub fn outbox_counts(&self) -> Result<(u64, u64), StoreError> {
        let row = self.ledger.query_opt(
            "SELECT COUNT(delivered_at), COUNT(*) - COUNT(delivered_at) - COUNT(dead_at) FROM outbox",
            &[],
        )?;
        row.map(|row| Ok((row.int(0)? as u64, row.int(1)? as u64)))
            .unwrap_or_else(|| row_missing("COUNT"))
            .map_err(self.ledger.value_error())
    }

    /// How many dead letters the outbox holds.
    pub fn dead_alerts(&self) -> Result<u64, StoreError> {
        let row = self.ledger.query_opt(
            "SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL AND delivered_at IS NULL",
            &[],
        )?;
        row.map(|row| row.int(0))
            .unwrap_or_else(|| row_missing("COUNT"))
            .map(|n| n as u64)
            .map_err(self.ledger.value_error())
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
        self.ledger.transaction(|tx| {
            let ids = dead_ids(tx, selection)?;
            for id in &ids {
                tx.execute(sql, values![*id])?;
            }
            Ok(ids)
        })
    }
}

fn dead_ids(ledger: &Ledger, selection: &OutboxSelection) -> Result<Vec<i64>, StoreError> {
    let dead = "dead_at IS NOT NULL AND delivered_at IS NULL";
    let (condition, params): (String, &[Value]) = match selection {
        OutboxSelection::All => (String::new(), &[]),
        OutboxSelection::Target(name) => (" AND target = ?1".to_string(), values![name.as_str()]),
        OutboxSelection::Ids(ids) if ids.is_empty() => return Ok(Vec::new()),
        OutboxSelection::Ids(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            (format!(" AND id IN ({})", list.join(",")), &[])
        }
    };
    ledger
        .query(
            &format!("SELECT id FROM outbox WHERE {dead}{condition} ORDER BY id"),
            params,
        )?
        .iter()
        .map(|row| row.int(0))
        .collect::<Result<_, _>>()
        .map_err(ledger.value_error())
}
