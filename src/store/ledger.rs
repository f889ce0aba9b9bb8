//! The ledger's record of work done: which date ranges each source has covered, the runs of
//! kassa, the state of each alerted episode between runs, and each source's run of failures.

use chrono::{NaiveDate, Utc};
use rusqlite::params;

use super::{Store, StoreError, ledger_error};
use crate::domain::{Coverage, DateRange, EpisodeState, SourceHealth, Status};

impl Store {
    pub(super) fn add_coverage(
        &mut self,
        source: &str,
        covered: DateRange,
    ) -> Result<(), StoreError> {
        let mut ranges = self.coverage_of(source)?;
        ranges.push(covered);
        let merged = merge_ranges(ranges);
        let ledger_error = ledger_error(&self.ledger_path);
        let tx = self.ledger.transaction().map_err(&ledger_error)?;
        tx.execute("DELETE FROM coverage WHERE source = ?1", params![source])
            .map_err(&ledger_error)?;
        for range in &merged {
            tx.execute(
                "INSERT INTO coverage (source, start_date, end_date) VALUES (?1, ?2, ?3)",
                params![source, range.start.to_string(), range.end.to_string()],
            )
            .map_err(&ledger_error)?;
        }
        tx.commit().map_err(&ledger_error)
    }

    fn coverage_of(&self, source: &str) -> Result<Vec<DateRange>, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let mut statement = self
            .ledger
            .prepare(
                "SELECT start_date, end_date FROM coverage WHERE source = ?1 ORDER BY start_date",
            )
            .map_err(&ledger_error)?;
        let rows = statement
            .query_map(params![source], |row| {
                let start: String = row.get(0)?;
                let end: String = row.get(1)?;
                Ok((start, end))
            })
            .map_err(&ledger_error)?;
        let mut ranges = Vec::new();
        for row in rows {
            let (start, end) = row.map_err(&ledger_error)?;
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
        self.ledger
            .execute(
                "INSERT INTO runs (command, started_at) VALUES (?1, ?2)",
                params![command, Utc::now().to_rfc3339()],
            )
            .map_err(ledger_error(&self.ledger_path))?;
        Ok(self.ledger.last_insert_rowid())
    }

    pub fn finish_run(&self, id: i64, outcome: &str, detail: &str) -> Result<(), StoreError> {
        self.ledger
            .execute(
                "UPDATE runs SET finished_at = ?1, outcome = ?2, detail = ?3 WHERE id = ?4",
                params![Utc::now().to_rfc3339(), outcome, detail, id],
            )
            .map_err(ledger_error(&self.ledger_path))?;
        Ok(())
    }

    /// Every stored episode state.
    pub fn episode_states(&self) -> Result<Vec<EpisodeState>, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let mut statement = self
            .ledger
            .prepare(
                "SELECT key, channel, kind, first_start, last_start, alerted_growth, updates_sent, status
                 FROM episodes ORDER BY first_start, key",
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
            .map_err(&ledger_error)?;
        rows.collect::<Result<_, _>>().map_err(&ledger_error)
    }
}

impl Store {
    /// What the ledger remembers of each source's consecutive failed runs.
    pub fn source_health(&self) -> Result<Vec<SourceHealth>, StoreError> {
        let ledger_error = ledger_error(&self.ledger_path);
        let mut statement = self
            .ledger
            .prepare(
                "SELECT source, failed_runs, since, last_error, alerted FROM source_health ORDER BY source",
            )
            .map_err(&ledger_error)?;
        let rows = statement
            .query_map([], |row| {
                let since: Option<String> = row.get(2)?;
                Ok(SourceHealth {
                    source: row.get(0)?,
                    failed_runs: row.get(1)?,
                    since: since.and_then(|s| s.parse().ok()),
                    last_error: row.get(3)?,
                    alerted: row.get(4)?,
                })
            })
            .map_err(&ledger_error)?;
        rows.collect::<Result<_, _>>().map_err(&ledger_error)
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
