//! What each backfill stored, chunk by chunk, so that running an interrupted backfill again
//! resumes it instead of pulling every chunk a second time.
//!
//! The rule: a backfill of a range skips the chunks stored by the backfills of the *same
//! range* that ran just before it and did not finish well (killed, or ended `partial`),
//! provided the ledger still counts those days as covered. The first earlier backfill of the
//! range that finished `ok` ends the chain: running a completed backfill again is a deliberate
//! re-pull, and pulls everything. `backfill --refresh` never skips.

use std::collections::BTreeMap;

use super::sql::{ValueError, values};
use super::{Store, StoreError, merge_ranges};
use crate::domain::DateRange;
use chrono::NaiveDate;

impl Store {
    /// Records that run `run` is a backfill of `range`.
    pub fn start_backfill(&self, run: i64, range: DateRange) -> Result<(), StoreError> {
        self.ledger.execute(
            "INSERT INTO backfills (run_id, start_date, end_date) VALUES (?1, ?2, ?3)",
            values![run, range.start.to_string(), range.end.to_string()],
        )?;
        Ok(())
    }

    /// Records that backfill `run` stored `chunk` of `source`, every day of it covered.
    pub fn record_stored_chunk(
        &self,
        run: i64,
        source: &str,
        chunk: DateRange,
    ) -> Result<(), StoreError> {
        self.ledger.execute(
            "INSERT INTO backfill_chunks (run_id, source, start_date, end_date)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (run_id, source, start_date) DO UPDATE SET end_date = excluded.end_date",
            values![run, source, chunk.start.to_string(), chunk.end.to_string()],
        )?;
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
        let value_error = self.ledger.value_error();
        let earlier = self.ledger.query(
            "SELECT b.run_id, r.outcome FROM backfills b JOIN runs r ON r.id = b.run_id
             WHERE b.start_date = ?1 AND b.end_date = ?2 AND b.run_id < ?3
             ORDER BY b.run_id DESC",
            values![range.start.to_string(), range.end.to_string(), run],
        )?;
        let mut interrupted = Vec::new();
        for row in earlier {
            let id = row.int(0).map_err(&value_error)?;
            let outcome = row.opt_text(1).map_err(&value_error)?;
            if outcome.as_deref() == Some("ok") {
                break;
            }
            interrupted.push(id);
        }
        let mut stored: BTreeMap<String, Vec<DateRange>> = BTreeMap::new();
        for id in interrupted {
            let rows = self.ledger.query(
                "SELECT source, start_date, end_date FROM backfill_chunks WHERE run_id = ?1",
                values![id],
            )?;
            for row in rows {
                let (source, start, end) = (|| -> Result<_, ValueError> {
                    Ok((row.text(0)?, row.text(1)?, row.text(2)?))
                })()
                .map_err(&value_error)?;
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
