//! The ledger's suspicious windows (store schema 4): windows of a source whose re-pull answered
//! with less than the store held. A mark is written *before* the rows it concerns (a crash in
//! between leaves a mark too many, never a shrunken window without one) and removed when a
//! person accepts the window (`kassa backfill --accept-empty`) or, for kept rows, when a later
//! re-pull of the window comes back whole.

use chrono::{NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, ledger_error};
use crate::domain::{DateRange, Money, Suspicion, SuspiciousWindow};

/// The `reason` column: why a window is suspicious.
const KEPT: &str = "kept";
const SHRUNK: &str = "shrunk";

impl Store {
    /// Marks `range` of `source` with each of `suspicions` (a mark already there is updated).
    pub(super) fn mark_suspicious(
        &mut self,
        source: &str,
        range: DateRange,
        suspicions: &[Suspicion],
    ) -> Result<(), StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let tx = self.ledger.transaction().map_err(&ledger_error)?;
        for suspicion in suspicions {
            let (reason, channel, rows, metric, before, after) = match suspicion {
                Suspicion::Kept { channel, rows } => (
                    KEPT,
                    channel.clone().unwrap_or_default(),
                    *rows as i64,
                    String::new(),
                    None,
                    None,
                ),
                Suspicion::Shrunk {
                    metric,
                    before,
                    after,
                } => (
                    SHRUNK,
                    String::new(),
                    0,
                    metric.clone(),
                    Some(before.micros()),
                    Some(after.micros()),
                ),
            };
            tx.execute(
                "INSERT OR REPLACE INTO suspicious
                 (source, start_date, end_date, reason, channel, rows, metric, before_micros, after_micros, marked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    source,
                    range.start.to_string(),
                    range.end.to_string(),
                    reason,
                    channel,
                    rows,
                    metric,
                    before,
                    after,
                    Utc::now().to_rfc3339()
                ],
            )
            .map_err(&ledger_error)?;
        }
        tx.commit().map_err(&ledger_error)
    }

    /// Removes the marks of `source` that overlap `range`: every mark when the window was
    /// accepted, only the kept-rows marks after a re-pull that came back whole (a shrunken
    /// window was stored, so comparing the next answer with it proves nothing).
    pub(super) fn clear_suspicious(
        &mut self,
        source: &str,
        range: DateRange,
        accepted: bool,
    ) -> Result<usize, StoreError> {
        self.ledger
            .execute(
                "DELETE FROM suspicious WHERE source = ?1 AND start_date <= ?3 AND end_date >= ?2
                 AND (?4 OR reason = ?5)",
                params![
                    source,
                    range.start.to_string(),
                    range.end.to_string(),
                    accepted,
                    KEPT
                ],
            )
            .map_err(ledger_error(&self.ledger_path))
    }

    /// The suspicious windows of the named sources, oldest first. A store older than schema 4
    /// (read by `analyze` without migrating) has none.
    pub fn suspicious_windows(
        &self,
        sources: &[&str],
    ) -> Result<Vec<SuspiciousWindow>, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let exists: Option<String> = self
            .ledger
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'suspicious'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(&ledger_error)?;
        if exists.is_none() {
            return Ok(Vec::new());
        }
        let mut statement = self
            .ledger
            .prepare(
                "SELECT source, start_date, end_date, reason, channel, rows, metric, before_micros, after_micros
                 FROM suspicious ORDER BY start_date, source, reason, channel",
            )
            .map_err(&ledger_error)?;
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
                let (start, end) = (date(1)?, date(2)?);
                let reason: String = row.get(3)?;
                let channel: String = row.get(4)?;
                let rows: i64 = row.get(5)?;
                let suspicion = if reason == SHRUNK {
                    let money = |i: usize| -> rusqlite::Result<Money> {
                        Ok(Money::from_micros(
                            row.get::<_, Option<i64>>(i)?.unwrap_or(0),
                        ))
                    };
                    Suspicion::Shrunk {
                        metric: row.get(6)?,
                        before: money(7)?,
                        after: money(8)?,
                    }
                } else {
                    Suspicion::Kept {
                        channel: Some(channel).filter(|c| !c.is_empty()),
                        rows: usize::try_from(rows).unwrap_or(0),
                    }
                };
                Ok((row.get::<_, String>(0)?, start, end, suspicion))
            })
            .map_err(&ledger_error)?;
        let mut windows = Vec::new();
        for row in rows {
            let (source, start, end, suspicion) = row.map_err(&ledger_error)?;
            let Some(range) = DateRange::new(start, end) else {
                continue;
            };
            if sources.contains(&source.as_str()) {
                windows.push(SuspiciousWindow {
                    source,
                    range,
                    suspicion,
                });
            }
        }
        Ok(windows)
    }
}
