//! The ledger's suspicious windows (store schema 4): windows of a source whose re-pull answered
//! with less than the store held. A mark is written *before* the rows it concerns (a crash in
//! between leaves a mark too many, never a shrunken window without one) and removed when a
//! person accepts the window (`kassa backfill --accept-empty`) or, for kept rows, when a later
//! re-pull of the window comes back whole.

use super::sql::{ValueError, values};
use super::{Store, StoreError};
use crate::domain::{DateRange, Money, Suspicion, SuspiciousWindow};
use chrono::{NaiveDate, Utc};

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
        self.ledger.transaction(|tx| {
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
                "INSERT INTO suspicious
                 (source, start_date, end_date, reason, channel, rows, metric, before_micros, after_micros, marked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (source, start_date, end_date, reason, channel) DO UPDATE SET
                     rows = excluded.rows, metric = excluded.metric, before_micros = excluded.before_micros,
                     after_micros = excluded.after_micros, marked_at = excluded.marked_at",
                values![
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
            )?;
        }
        Ok(())
        })
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
        self.ledger.execute(
            "DELETE FROM suspicious WHERE source = ?1 AND start_date <= ?3 AND end_date >= ?2
             AND (?4 OR reason = ?5)",
            values![
                source,
                range.start.to_string(),
                range.end.to_string(),
                accepted,
                KEPT
            ],
        )
    }

    /// The suspicious windows of the named sources, oldest first. A store older than schema 4
    /// (read by `analyze` without migrating) has none.
    pub fn suspicious_windows(
        &self,
        sources: &[&str],
    ) -> Result<Vec<SuspiciousWindow>, StoreError> {
        if !self.ledger.has_table("suspicious")? {
            return Ok(Vec::new());
        }
        let rows = self.ledger.query(
            "SELECT source, start_date, end_date, reason, channel, rows, metric, before_micros, after_micros
             FROM suspicious ORDER BY start_date, source, reason, channel",
            &[],
        )?;
        let rows = rows
            .iter()
            .map(|row| {
                let date = |i: usize| -> Result<NaiveDate, ValueError> {
                    let text = row.text(i)?;
                    text.parse().map_err(|_| ValueError::new(i, text, "a date"))
                };
                let (start, end) = (date(1)?, date(2)?);
                let reason = row.text(3)?;
                let channel = row.text(4)?;
                let rows = row.int(5)?;
                let suspicion = if reason == SHRUNK {
                    let money = |i: usize| -> Result<Money, ValueError> {
                        Ok(Money::from_micros(row.opt_int(i)?.unwrap_or(0)))
                    };
                    Suspicion::Shrunk {
                        metric: row.text(6)?,
                        before: money(7)?,
                        after: money(8)?,
                    }
                } else {
                    Suspicion::Kept {
                        channel: Some(channel).filter(|c| !c.is_empty()),
                        rows: usize::try_from(rows).unwrap_or(0),
                    }
                };
                Ok((row.text(0)?, start, end, suspicion))
            })
            .collect::<Result<Vec<_>, ValueError>>()
            .map_err(self.ledger.value_error())?;
        let mut windows = Vec::new();
        for row in rows {
            let (source, start, end, suspicion) = row;
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
