//! Where a source's rows live on disk: one Parquet file per calendar month of the rows' date.
//!
//! Since store schema 8 source `meta`'s ad rows are in `ads/meta.month=2025-03.parquet`, one
//! file for each month that has rows (by `date` for ad rows, `period_start` for claims,
//! `created_date` for deals), and `ads/meta.parquet` is the source's *manifest*: a small
//! Parquet file marked `kassa.layout = months` listing those months. An upsert rewrites only
//! the months its window touches, then the manifest, so a nightly re-pull costs the same on a
//! store of three years as on one of three months. Every file is written to
//! `ads/meta.parquet.tmp` and renamed into place: readers see the old month or the new one,
//! and a write cut short leaves only the temporary file, which the next writer removes.
//!
//! Before schema 8, `ads/meta.parquet` held the rows themselves. Such a file (no layout mark)
//! is still read as it is, so a read-only `analyze` of an older store migrates nothing; a
//! writer splits it (`Store::open`, or the first upsert of the source): the month files are
//! written first, which no reader looks at while the file is unmarked, then the manifest
//! replaces the file in one rename. A crash before that rename leaves the old file whole and
//! the split is done again.
//!
//! Which months a deals upsert touches is worked out in `Store::deal_months`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use super::StoreError;

/// A calendar month as a number: `year * 12 + month - 1`, so months sort and count.
pub(crate) type Month = i32;

/// The month of a date stored as days since 1970-01-01.
pub(crate) fn month_of_days(days: i32) -> Option<Month> {
    NaiveDate::from_epoch_days(days).map(|d| d.year() * 12 + d.month0() as i32)
}

/// The months a date range (days since 1970-01-01, inclusive) spans.
pub(crate) fn months_between(start: i32, end: i32) -> impl Iterator<Item = Month> {
    let (first, last) = (month_of_days(start), month_of_days(end));
    let (first, last) = (first.unwrap_or(0), last.unwrap_or(-1));
    first..=last
}

const MARK: &str = ".month=";
const EXTENSION: &str = ".parquet";

/// `2025-03`.
pub(crate) fn month_name(month: Month) -> String {
    format!(
        "{:04}-{:02}",
        month.div_euclid(12),
        month.rem_euclid(12) + 1
    )
}

/// The month `2025-03` stands for.
pub(crate) fn parse_month(name: &str) -> Option<Month> {
    let (year, month) = name.split_once('-')?;
    let (year_number, month): (i32, i32) = (year.parse().ok()?, month.parse().ok()?);
    (year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) && (1..=12).contains(&month))
        .then_some(year_number * 12 + month - 1)
}

/// `meta.month=2025-03.parquet`.
fn file_name(source: &str, month: Month) -> String {
    format!("{source}{MARK}{}{EXTENSION}", month_name(month))
}

/// The month a file name of `source` stands for; `None` for any other name.
fn parse_file_name(source: &str, name: &str) -> Option<Month> {
    let month = name
        .strip_prefix(source)?
        .strip_prefix(MARK)?
        .strip_suffix(EXTENSION)?;
    parse_month(month)
}

/// Whether `name` is some source's month file (not a source's manifest or single file).
pub(crate) fn is_month_file(name: &str) -> bool {
    name.strip_suffix(EXTENSION)
        .and_then(|stem| stem.rsplit_once(MARK))
        .is_some_and(|(_, month)| parse_month(month).is_some())
}

/// The kind directory and the source of a snapshot path (`ads/meta.parquet`).
fn split_snapshot(snapshot: &Path) -> (&Path, String) {
    let dir = snapshot.parent().unwrap_or(Path::new("."));
    let name = snapshot
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = name.strip_suffix(EXTENSION).unwrap_or(&name).to_string();
    (dir, source)
}

/// The file of `month` of the snapshot `snapshot` (`ads/meta.parquet`).
pub(crate) fn partition_path(snapshot: &Path, month: Month) -> PathBuf {
    let (dir, source) = split_snapshot(snapshot);
    dir.join(file_name(&source, month))
}

/// Where every file of a source is written before it is renamed into place:
/// `ads/meta.parquet.tmp`. One per source is enough: writers hold the store lock.
pub(crate) fn staging_file(snapshot: &Path) -> PathBuf {
    snapshot.with_extension(super::snapshots::TEMPORARY_EXTENSION)
}

/// The files holding one source's rows of one kind.
#[derive(Debug)]
pub(crate) enum Files {
    /// Nothing stored yet.
    None,
    /// One file, as stores before schema 8 kept it.
    Single(PathBuf),
    /// One file per month, oldest first.
    Months(BTreeMap<Month, PathBuf>),
}

impl Files {
    /// Every file, oldest month first.
    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        match self {
            Files::None => Vec::new(),
            Files::Single(path) => vec![path.clone()],
            Files::Months(months) => months.values().cloned().collect(),
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The month files of the snapshot at `snapshot` whose manifest says it is in months: those
/// in its kind directory named after its source.
pub(crate) fn month_files(snapshot: &Path) -> Result<BTreeMap<Month, PathBuf>, StoreError> {
    let (dir, source) = split_snapshot(snapshot);
    let mut months = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        if let Some(month) = parse_file_name(&source, &entry.file_name().to_string_lossy()) {
            months.insert(month, entry.path());
        }
    }
    Ok(months)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_file_names_round_trip_and_nothing_else_parses() {
        for date in ["1999-12-31", "2025-01-01", "2025-03-31", "2026-12-01"] {
            let date: NaiveDate = date.parse().unwrap();
            let month = month_of_days(date.to_epoch_days()).unwrap();
            let name = file_name("meta", month);
            assert_eq!(name, format!("meta.month={}.parquet", date.format("%Y-%m")));
            assert_eq!(parse_file_name("meta", &name), Some(month));
            assert_eq!(parse_file_name("met", &name), None);
        }
        for name in [
            "meta.month=2025-13.parquet",
            "meta.month=2025-03.parquet.tmp",
            "meta.parquet",
            "meta.month=25-03.parquet",
        ] {
            assert_eq!(parse_file_name("meta", name), None, "{name}");
        }
    }

    #[test]
    fn a_range_spans_the_months_it_touches() {
        let days = |d: &str| d.parse::<NaiveDate>().unwrap().to_epoch_days();
        let months: Vec<_> = months_between(days("2025-02-20"), days("2025-03-19")).collect();
        assert_eq!(months.len(), 2);
        assert_eq!(
            months_between(days("2024-12-31"), days("2025-01-01")).count(),
            2
        );
    }
}
