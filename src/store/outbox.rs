//! The alert outbox: every message is recorded, with the episode state that caused it, before
//! any attempt to send it, so nothing is lost and nothing is sent twice.

use chrono::Utc;
use rusqlite::params;

use super::{Store, StoreError, ledger_error};
use crate::domain::EpisodeState;

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

impl Store {
    /// Stores new episode states and the messages they cause, in one transaction: the alert is
    /// recorded before anything is sent, and a repeated run finds it already there (messages
    /// are unique per target and message id).
    pub fn record_alerts(
        &mut self,
        states: &[EpisodeState],
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

    /// Messages not delivered yet, oldest first.
    pub fn pending_alerts(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let mut statement = self
            .ledger
            .prepare(
                "SELECT id, target, message_id, message, attempts FROM outbox WHERE delivered_at IS NULL ORDER BY id",
            )
            .map_err(&ledger_error)?;
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

    pub fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.ledger
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?1 WHERE id = ?2",
                params![error, id],
            )
            .map_err(ledger_error(&self.ledger_path))?;
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
            .map_err(ledger_error(&self.ledger_path))
    }
}
