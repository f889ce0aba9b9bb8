//! The ledger's record of work done: which date ranges each source has covered, the runs of
//! kassa, the state of each alerted episode between runs, and each source's run of failures.

use super::sql::{ValueError, values};
use super::{Store, StoreError};
use crate::domain::{Coverage, DateRange, EpisodeState, SourceHealth, Status};
use chrono::{NaiveDate, Utc};

impl Store {
    pub(super) fn add_coverage(
        &mut self,
        source: &str,
        covered: DateRange,
    ) -> Result<(), StoreError> {
        let mut ranges = self.coverage_of(source)?;
        ranges.push(covered);
        let merged = merge_ranges(ranges);
        self.ledger.transaction(|tx| {
            tx.execute("DELETE FROM coverage WHERE source = ?1", values![source])?;
            for range in &merged {
                tx.execute(
                    "INSERT INTO coverage (source, start_date, end_date) VALUES (?1, ?2, ?3)",
                    values![source, range.start.to_string(), range.end.to_string()],
                )?;
            }
            Ok(())
        })
    }

    fn coverage_of(&self, source: &str) -> Result<Vec<DateRange>, StoreError> {
        let rows = self.ledger.query(
            "SELECT start_date, end_date FROM coverage WHERE source = ?1 ORDER BY start_date",
            values![source],
        )?;
        let mut ranges = Vec::new();
        for row in rows {
            let (start, end) = row
                .text(0)
                .and_then(|start| Ok((start, row.text(1)?)))
                .map_err(self.ledger.value_error())?;
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
                    pending_from: None,
                })
            })
            .collect()
    }

    /// Records that a command started; returns the run's id for [`Store::finish_run`].
    pub fn start_run(&self, command: &str) -> Result<i64, StoreError> {
        let row = self.ledger.query_opt(
            "INSERT INTO runs (command, started_at) VALUES (?1, ?2) RETURNING id",
            values![command, Utc::now().to_rfc3339()],
        )?;
        row.map(|row| row.int(0))
            .unwrap_or_else(|| row_missing("runs.id"))
            .map_err(self.ledger.value_error())
    }

    pub fn finish_run(&self, id: i64, outcome: &str, detail: &str) -> Result<(), StoreError> {
        self.ledger.execute(
            "UPDATE runs SET finished_at = ?1, outcome = ?2, detail = ?3 WHERE id = ?4",
            values![Utc::now().to_rfc3339(), outcome, detail, id],
        )?;
        Ok(())
    }

    /// Every stored episode state.
    pub fn episode_states(&self) -> Result<Vec<EpisodeState>, StoreError> {
        let rows = self.ledger.query(
            "SELECT key, channel, kind, first_start, last_start, alerted_growth, updates_sent, status
             FROM episodes ORDER BY first_start, key",
            &[],
        )?;
        rows.iter()
            .map(|row| {
                let date = |i: usize| -> Result<NaiveDate, ValueError> {
                    let text = row.text(i)?;
                    text.parse().map_err(|_| ValueError::new(i, text, "a date"))
                };
                Ok(EpisodeState {
                    key: row.text(0)?,
                    channel: row.text(1)?,
                    kind: row.text(2)?,
                    first_start: date(3)?,
                    last_start: date(4)?,
                    alerted_growth: row.real(5)?,
                    updates_sent: u32::try_from(row.int(6)?).unwrap_or(u32::MAX),
                    status: if row.text(7)? == "open" {
                        Status::Open
                    } else {
                        Status::Resolved
                    },
                })
            })
            .collect::<Result<_, ValueError>>()
            .map_err(self.ledger.value_error())
    }
}

impl Store {
    /// What the ledger remembers of each source's consecutive failed runs.
    pub fn source_health(&self) -> Result<Vec<SourceHealth>, StoreError> {
        let rows = self.ledger.query(
            "SELECT source, failed_runs, since, last_error, alerted FROM source_health ORDER BY source",
            &[],
        )?;
        rows.iter()
            .map(|row| {
                Ok(SourceHealth {
                    source: row.text(0)?,
                    failed_runs: u32::try_from(row.int(1)?).unwrap_or(u32::MAX),
                    since: row.opt_text(2)?.and_then(|s| s.parse().ok()),
                    last_error: row.opt_text(3)?,
                    alerted: row.int(4)? != 0,
                })
            })
            .collect::<Result<_, ValueError>>()
            .map_err(self.ledger.value_error())
    }
}

/// A statement that always answers with a row answered with none.
pub(super) fn row_missing<T>(what: &str) -> Result<T, ValueError> {
    Err(ValueError::new(0, format!("no row ({what})"), "a row"))
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
