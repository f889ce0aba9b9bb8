//! What each backfill stored, chunk by chunk, so that running an interrupted backfill again
//! resumes it instead of pulling every chunk a second time.
//!
//! The rule: a backfill of a range skips the chunks stored by the backfills of the *same
//! range* that ran just before it and did not finish well (killed, or ended `partial`),
//! provided the ledger still counts those days as covered. The first earlier backfill of the
//! range that finished `ok` ends the chain: running a completed backfill again is a deliberate
//! re-pull, and pulls everything. `backfill --refresh` never skips.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rusqlite::params;

use super::{Store, StoreError, ledger_error, merge_ranges};
use crate::domain::DateRange;

impl Store {
    /// Records that run `run` is a backfill of `range`.
    pub fn start_backfill(&self, run: i64, range: DateRange) -> Result<(), StoreError> {
        self.ledger
            .execute(
                "INSERT INTO backfills (run_id, start_date, end_date) VALUES (?1, ?2, ?3)",
                params![run, range.start.to_string(), range.end.to_string()],
            )
            .map_err(ledger_error(&self.ledger_path))?;
        Ok(())
    }

    /// Records that backfill `run` stored `chunk` of `source`, every day of it covered.
    pub fn record_stored_chunk(
        &self,
        run: i64,
        source: &str,
        chunk: DateRange,
    ) -> Result<(), StoreError> {
        self.ledger
            .execute(
                "INSERT OR REPLACE INTO backfill_chunks (run_id, source, start_date, end_date)
                 VALUES (?1, ?2, ?3, ?4)",
                params![run, source, chunk.start.to_string(), chunk.end.to_string()],
            )
            .map_err(ledger_error(&self.ledger_path))?;
        Ok(())
    }

    /// The days, per source, that backfill `run` of `range` may skip: those stored by the
    /// unfinished or partial backfills of the same range immediately before it (see the
    /// module's rule), merged.
    pub fn resumable_chunks(
        &self,
        run: i64,
        range: DateRange,
    ) -> Result<BTreeMap<String, Vec<DateRange>>, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let mut earlier = self
            .ledger
            .prepare(
                "SELECT b.run_id, r.outcome FROM backfills b JOIN runs r ON r.id = b.run_id
                 WHERE b.start_date = ?1 AND b.end_date = ?2 AND b.run_id < ?3
                 ORDER BY b.run_id DESC",
            )
            .map_err(&ledger_error)?;
        let rows = earlier
            .query_map(
                params![range.start.to_string(), range.end.to_string(), run],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?)),
            )
            .map_err(&ledger_error)?;
        let mut interrupted = Vec::new();
        for row in rows {
            let (id, outcome) = row.map_err(&ledger_error)?;
            if outcome.as_deref() == Some("ok") {
                break;
            }
            interrupted.push(id);
        }
        let mut chunks = self
            .ledger
            .prepare("SELECT source, start_date, end_date FROM backfill_chunks WHERE run_id = ?1")
            .map_err(&ledger_error)?;
        let mut stored: BTreeMap<String, Vec<DateRange>> = BTreeMap::new();
        for id in interrupted {
            let rows = chunks
                .query_map(params![id], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .map_err(&ledger_error)?;
            for row in rows {
                let (source, start, end) = row.map_err(&ledger_error)?;
                let parse = |s: &str| s.parse::<NaiveDate>().ok();
                if let Some(chunk) = parse(&start)
                    .zip(parse(&end))
                    .and_then(|(s, e)| DateRange::new(s, e))
                {
                    stored.entry(source).or_default().push(chunk);
                }
            }
        }
        Ok(stored
            .into_iter()
            .map(|(source, ranges)| (source, merge_ranges(ranges)))
            .collect())
    }
}
