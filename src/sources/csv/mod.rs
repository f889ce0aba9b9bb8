//! CSV sources, for exports from any platform or CRM: [`ads`] (`csv_ads`) and [`crm`]
//! (`csv_crm`), and what the two share: header checks, field parsing with the file, line and
//! column in every error, and collecting several errors before giving up so one fix-up pass
//! suffices.

pub mod ads;
pub mod crm;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::source::{ErrorKind, SourceError};
use crate::domain::Money;
use crate::validation::Problems;

/// Checks a CSV source's `path` key: the file must exist (read only when pulled).
pub(crate) fn validate_path(path: &Path, key: &str, example: &str, problems: &mut Problems) {
    if !path.is_file() {
        problems.push_with_example(
            format!("{key}.path"),
            format!("{} does not exist or is not a file", path.display()),
            format!("path = \"{example}\""),
        );
    }
}

/// How many bad fields to list before summarising the rest.
const MAX_LISTED_ERRORS: usize = 10;

/// An open CSV file whose header has been checked.
pub(crate) struct CsvFile {
    path: PathBuf,
    reader: csv::Reader<std::fs::File>,
    columns: HashMap<String, usize>,
}

impl CsvFile {
    /// Opens `path` and checks that every `required` column is in the header.
    pub(crate) fn open(path: &Path, required: &[&str]) -> Result<CsvFile, SourceError> {
        let file = std::fs::File::open(path)
            .map_err(|e| SourceError::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(file);
        let header = reader.headers().map_err(|e| {
            SourceError::new(
                ErrorKind::InvalidData,
                format!("{}, line 1: cannot read the header: {e}", path.display()),
            )
        })?;
        let columns: HashMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, name)| (name.trim_start_matches('\u{feff}').to_string(), i))
            .collect();
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !columns.contains_key(*c))
            .collect();
        if !missing.is_empty() {
            return Err(SourceError::new(
                ErrorKind::InvalidData,
                format!(
                    "{}, line 1: missing column{} {}; the header must contain {}",
                    path.display(),
                    if missing.len() == 1 { "" } else { "s" },
                    missing
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    required.join(",")
                ),
            ));
        }
        Ok(CsvFile {
            path: path.to_path_buf(),
            reader,
            columns,
        })
    }

    /// Calls `parse` on every record; collects the errors it returns and reports them together.
    pub(crate) fn for_each_record<F>(mut self, mut parse: F) -> Result<(), SourceError>
    where
        F: FnMut(&Record<'_>) -> Result<(), FieldError>,
    {
        let mut errors = Vec::new();
        let mut total_errors = 0usize;
        let mut raw = csv::StringRecord::new();
        loop {
            match self.reader.read_record(&mut raw) {
                Ok(false) => break,
                Ok(true) => {
                    let line = raw.position().map_or(0, |p| p.line());
                    let record = Record {
                        raw: &raw,
                        columns: &self.columns,
                        line,
                    };
                    if let Err(e) = parse(&record) {
                        total_errors += 1;
                        if errors.len() < MAX_LISTED_ERRORS {
                            errors.push(format!("line {line}, {e}"));
                        }
                    }
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    total_errors += 1;
                    if errors.len() < MAX_LISTED_ERRORS {
                        errors.push(format!("line {line}: malformed CSV: {e}"));
                    }
                    if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                        break;
                    }
                }
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        let mut message = format!("{}: ", self.path.display());
        if total_errors == 1 {
            message.push_str(&errors[0]);
        } else {
            message.push_str(&format!(
                "{total_errors} bad rows:\n  {}",
                errors.join("\n  ")
            ));
            if total_errors > errors.len() {
                message.push_str(&format!("\n  … and {} more", total_errors - errors.len()));
            }
        }
        Err(SourceError::new(ErrorKind::InvalidData, message))
    }
}

/// A problem with one field of one record.
#[derive(Debug)]
pub(crate) struct FieldError {
    pub column: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column `{}`: {}", self.column, self.message)
    }
}

impl FieldError {
    pub(crate) fn new(column: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            column: column.to_string(),
            message: message.into(),
        }
    }
}

/// One CSV record with typed accessors that name the column when they fail.
pub(crate) struct Record<'a> {
    raw: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
    pub line: u64,
}

impl Record<'_> {
    /// The trimmed text of `column`; empty when the column is absent (optional columns).
    pub(crate) fn text(&self, column: &str) -> &str {
        self.columns
            .get(column)
            .and_then(|&i| self.raw.get(i))
            .unwrap_or("")
    }

    pub(crate) fn optional_text(&self, column: &str) -> Option<String> {
        let text = self.text(column);
        (!text.is_empty()).then(|| text.to_string())
    }

    pub(crate) fn required_text(&self, column: &str) -> Result<String, FieldError> {
        self.optional_text(column)
            .ok_or_else(|| FieldError::new(column, "is empty"))
    }

    pub(crate) fn date(&self, column: &str) -> Result<NaiveDate, FieldError> {
        let text = self.text(column);
        if text.is_empty() {
            return Err(FieldError::new(
                column,
                "is empty; expected a date like 2025-01-31",
            ));
        }
        parse_date(text).map_err(|m| FieldError::new(column, m))
    }

    pub(crate) fn optional_date(&self, column: &str) -> Result<Option<NaiveDate>, FieldError> {
        match self.text(column) {
            "" => Ok(None),
            text => parse_date(text)
                .map(Some)
                .map_err(|m| FieldError::new(column, m)),
        }
    }

    pub(crate) fn count(&self, column: &str) -> Result<u64, FieldError> {
        let text = self.text(column);
        text.parse::<u64>().map_err(|_| {
            FieldError::new(
                column,
                if text.is_empty() {
                    "is empty; expected a whole number".to_string()
                } else {
                    format!("{text:?} is not a whole number ≥ 0")
                },
            )
        })
    }

    pub(crate) fn money(&self, column: &str) -> Result<Money, FieldError> {
        let text = self.text(column);
        if text.is_empty() {
            return Err(FieldError::new(
                column,
                "is empty; expected an amount like 125.50",
            ));
        }
        let money = Money::parse_decimal(text).map_err(|m| FieldError::new(column, m))?;
        if money.is_negative() {
            return Err(FieldError::new(column, format!("{text:?} is negative")));
        }
        Ok(money)
    }

    pub(crate) fn optional_money(&self, column: &str) -> Result<Option<Money>, FieldError> {
        if self.text(column).is_empty() {
            Ok(None)
        } else {
            self.money(column).map(Some)
        }
    }
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date in the form YYYY-MM-DD"))
}

/// The span of days a file's rows reach, clipped to the requested range: what a CSV pull
/// vouches for. Days outside it are not covered, so they surface as data gaps.
pub(crate) fn covered_span(
    range: crate::domain::DateRange,
    dates: impl Iterator<Item = NaiveDate>,
) -> Option<crate::domain::DateRange> {
    let (min, max) = dates.fold(
        (None, None),
        |(lo, hi): (Option<NaiveDate>, Option<NaiveDate>), d| {
            (
                Some(lo.map_or(d, |l| l.min(d))),
                Some(hi.map_or(d, |h| h.max(d))),
            )
        },
    );
    crate::domain::DateRange::new(min?, max?).and_then(|span| span.intersect(&range))
}
