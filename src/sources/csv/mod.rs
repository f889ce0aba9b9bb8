//! CSV sources, for exports from any platform or CRM: [`ads`] (`csv_ads`), [`crm`]
//! (`csv_crm`) and [`report`] (`csv_report`, an agency's report), and what they share: the file's format (delimiter, decimal mark, date
//! format: detected or set by keys), header checks, field parsing with the file, line and
//! column in every error, collecting several errors before giving up so one fix-up pass
//! suffices, and what a file's rows cover.
//!
//! Exports come as people really have them: Excel on Windows writes CRLF line ends, Russian
//! and European Excel writes `;` between fields, `1 234,50` for amounts and `31.01.2025` for
//! dates. A file is read as it is written, provided it is consistent.

pub mod ads;
pub mod crm;
pub mod report;

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::source::{ErrorKind, SourceError};
use crate::domain::{DateRange, Money};
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

/// The delimiters a header line is tried with, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Characters that separate thousands in exported numbers (`1 234,50`): a space, a no-break
/// space and a narrow no-break space, as Excel writes them in Russian and French locales.
const THOUSANDS: [char; 3] = [' ', '\u{a0}', '\u{202f}'];

/// The decimal mark of a file's amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalMark {
    Point,
    Comma,
}

impl DecimalMark {
    fn describe(self) -> &'static str {
        match self {
            DecimalMark::Point => "a decimal point",
            DecimalMark::Comma => "a decimal comma",
        }
    }
}

/// How a file writes its dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateFormat {
    /// `2025-01-31`
    Iso,
    /// `31.01.2025`, as Russian and European Excel exports write dates.
    DayMonthYear,
}

impl DateFormat {
    const ALL: [DateFormat; 2] = [DateFormat::Iso, DateFormat::DayMonthYear];

    fn name(self) -> &'static str {
        match self {
            DateFormat::Iso => "YYYY-MM-DD",
            DateFormat::DayMonthYear => "DD.MM.YYYY",
        }
    }

    fn example(self) -> &'static str {
        match self {
            DateFormat::Iso => "2025-01-31",
            DateFormat::DayMonthYear => "31.01.2025",
        }
    }

    fn pattern(self) -> &'static str {
        match self {
            DateFormat::Iso => "%Y-%m-%d",
            DateFormat::DayMonthYear => "%d.%m.%Y",
        }
    }
}

/// How a file writes its fields, from the `delimiter`, `decimal` and `date_format` keys of a
/// CSV source. `None` means "detect": the delimiter from the header line, the decimal mark and
/// the date format from the first value that shows one, after which every value must agree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Format {
    pub delimiter: Option<u8>,
    pub decimal: Option<DecimalMark>,
    pub date: Option<DateFormat>,
}

impl Format {
    /// Reads the three keys; every bad one is reported as a problem under `key`, with an
    /// example, and left to detection.
    pub(crate) fn from_keys(
        delimiter: Option<&str>,
        decimal: Option<&str>,
        date_format: Option<&str>,
        key: &str,
        problems: &mut Problems,
    ) -> Format {
        let mut format = Format::default();
        if let Some(value) = delimiter {
            format.delimiter = match value {
                "," | ";" | "|" => value.bytes().next(),
                "\t" | "tab" => Some(b'\t'),
                _ => {
                    problems.push_with_example(
                        format!("{key}.delimiter"),
                        format!("{value:?} is not one of \",\", \";\", \"\\t\" (or \"tab\"), \"|\"; leave it out to detect the delimiter from the header"),
                        "delimiter = \";\"",
                    );
                    None
                }
            };
        }
        if let Some(value) = decimal {
            format.decimal = match value {
                "." => Some(DecimalMark::Point),
                "," => Some(DecimalMark::Comma),
                _ => {
                    problems.push_with_example(
                        format!("{key}.decimal"),
                        format!("{value:?} is not \".\" or \",\"; leave it out to detect the decimal mark"),
                        "decimal = \",\"",
                    );
                    None
                }
            };
        }
        if let Some(value) = date_format {
            format.date = DateFormat::ALL.into_iter().find(|f| f.name() == value);
            if format.date.is_none() {
                problems.push_with_example(
                    format!("{key}.date_format"),
                    format!("{value:?} is not \"YYYY-MM-DD\" or \"DD.MM.YYYY\"; leave it out to detect the date format"),
                    "date_format = \"DD.MM.YYYY\"",
                );
            }
        }
        format
    }

    /// [`Format::from_keys`] for a source being built: its keys were validated already, so a
    /// problem here is reported as a configuration error.
    pub(crate) fn build(
        delimiter: Option<&str>,
        decimal: Option<&str>,
        date_format: Option<&str>,
    ) -> Result<Format, SourceError> {
        let mut problems = Problems::default();
        let format = Format::from_keys(delimiter, decimal, date_format, "source", &mut problems);
        match problems.iter().next() {
            None => Ok(format),
            Some(problem) => Err(SourceError::new(ErrorKind::Config, problem.to_string())),
        }
    }
}

/// The decimal mark and date format a file has shown so far, and on which line, so that a
/// value disagreeing with them names the line that set them.
#[derive(Default)]
struct Seen {
    decimal: Cell<Option<(DecimalMark, u64)>>,
    date: Cell<Option<(DateFormat, u64)>>,
}

/// An open CSV file whose header has been checked.
pub(crate) struct CsvFile {
    path: PathBuf,
    reader: csv::Reader<std::io::Cursor<Vec<u8>>>,
    columns: HashMap<String, usize>,
    format: Format,
}

impl CsvFile {
    /// Opens `path` and checks that every `required` column is in the header.
    ///
    /// The file is read whole: line endings are normalised first, because the csv crate
    /// counts a `\r\n` record's line only when it reads the next record, which made every
    /// line number in a Windows (CRLF) file one too low.
    pub(crate) fn open(
        path: &Path,
        required: &[&str],
        format: Format,
    ) -> Result<CsvFile, SourceError> {
        let at_line = |line: usize, message: String| {
            SourceError::new(
                ErrorKind::InvalidData,
                format!("{}, line {line}: {message}", path.display()),
            )
        };
        let bytes = std::fs::read(path)
            .map_err(|e| SourceError::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            at_line(
                valid.iter().filter(|b| **b == b'\n').count() + 1,
                "is not UTF-8 text; save the export as \"CSV UTF-8\" (Excel: Save As, \
                 CSV UTF-8), not in a legacy code page such as Windows-1251"
                    .to_string(),
            )
        })?;
        // In place where it can be: a million-row export is not copied twice.
        let mut text = text;
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        if text.contains('\r') {
            text = text.replace("\r\n", "\n").replace('\r', "\n");
        }
        let header_line = text.lines().next().unwrap_or("").to_string();
        let (delimiter, how) = match format.delimiter {
            Some(d) => (d, "set by the source's `delimiter` key"),
            None => (
                detect_delimiter(&header_line, required),
                "detected from the header line",
            ),
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(std::io::Cursor::new(text.into_bytes()));
        let header = reader
            .headers()
            .map_err(|e| at_line(1, format!("cannot read the header: {e}")))?;
        let columns: HashMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), i))
            .collect();
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !columns.contains_key(*c))
            .collect();
        if !missing.is_empty() {
            let shown: String = header_line.chars().take(200).collect();
            return Err(at_line(
                1,
                format!(
                    "missing column{} {}; the header must contain {}. It was split at {} \
                     ({how}); the header line reads {shown:?}",
                    if missing.len() == 1 { "" } else { "s" },
                    missing
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    required.join(","),
                    describe_delimiter(delimiter),
                ),
            ));
        }
        Ok(CsvFile {
            path: path.to_path_buf(),
            reader,
            columns,
            format,
        })
    }

    /// Whether the header has `column` (an optional column, or one that picks a layout).
    pub(crate) fn has_column(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// `name`'s place in the header, looked up once for a file's every record.
    pub(crate) fn field(&self, name: &'static str) -> Field {
        Field {
            name,
            index: self.columns.get(name).copied(),
        }
    }

    /// The header's column names, in the file's order.
    pub(crate) fn header(&self) -> Vec<&str> {
        let mut names: Vec<(&str, usize)> =
            self.columns.iter().map(|(n, i)| (n.as_str(), *i)).collect();
        names.sort_by_key(|(_, i)| *i);
        names.into_iter().map(|(n, _)| n).collect()
    }

    /// Calls `parse` on every record; collects the errors it returns and reports them together.
    pub(crate) fn for_each_record<F>(mut self, mut parse: F) -> Result<(), SourceError>
    where
        F: FnMut(&Record<'_>) -> Result<(), FieldError>,
    {
        let mut errors = Vec::new();
        let mut total_errors = 0usize;
        let mut raw = csv::StringRecord::new();
        let seen = Seen::default();
        loop {
            match self.reader.read_record(&mut raw) {
                Ok(false) => break,
                Ok(true) => {
                    let line = raw.position().map_or(0, |p| p.line());
                    let record = Record {
                        raw: &raw,
                        columns: &self.columns,
                        format: self.format,
                        seen: &seen,
                        line,
                        listed: errors.len() < MAX_LISTED_ERRORS,
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

/// A column of the header, found once per file ([`CsvFile::field`]) rather than by name in
/// every record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    name: &'static str,
    index: Option<usize>,
}

/// How a record's accessors name a column: by its name, or as a [`Field`] found already.
pub(crate) trait Column: Copy {
    fn name(&self) -> &str;
    fn index(&self, columns: &HashMap<String, usize>) -> Option<usize>;
}

impl Column for &str {
    fn name(&self) -> &str {
        self
    }

    fn index(&self, columns: &HashMap<String, usize>) -> Option<usize> {
        columns.get(*self).copied()
    }
}

impl Column for Field {
    fn name(&self) -> &str {
        self.name
    }

    fn index(&self, _: &HashMap<String, usize>) -> Option<usize> {
        self.index
    }
}

/// One CSV record with typed accessors that name the column when they fail.
pub(crate) struct Record<'a> {
    raw: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
    format: Format,
    seen: &'a Seen,
    pub line: u64,
    /// Whether an error in this record would be listed (among the first ten): a message that
    /// costs work to write (one naming an earlier line) need not be written otherwise.
    pub listed: bool,
}

impl Record<'_> {
    /// The trimmed text of `column`; empty when the column is absent (optional columns).
    pub(crate) fn text(&self, column: impl Column) -> &str {
        column
            .index(self.columns)
            .and_then(|i| self.raw.get(i))
            .unwrap_or("")
    }

    pub(crate) fn optional_text(&self, column: impl Column) -> Option<String> {
        let text = self.text(column);
        (!text.is_empty()).then(|| text.to_string())
    }

    /// [`Record::required_text`] without a copy.
    pub(crate) fn required_text_ref(&self, column: impl Column) -> Result<&str, FieldError> {
        match self.text(column) {
            "" => Err(FieldError::new(column.name(), "is empty")),
            text => Ok(text),
        }
    }

    pub(crate) fn required_text(&self, column: impl Column) -> Result<String, FieldError> {
        self.optional_text(column)
            .ok_or_else(|| FieldError::new(column.name(), "is empty"))
    }

    pub(crate) fn date(&self, column: impl Column) -> Result<NaiveDate, FieldError> {
        self.optional_date(column)?.ok_or_else(|| {
            FieldError::new(
                column.name(),
                format!(
                    "is empty; expected a date like {}",
                    self.format.date.map_or("2025-01-31", |f| f.example())
                ),
            )
        })
    }

    pub(crate) fn optional_date(
        &self,
        column: impl Column,
    ) -> Result<Option<NaiveDate>, FieldError> {
        match self.text(column) {
            "" => Ok(None),
            text => self
                .parse_date(text)
                .map(Some)
                .map_err(|m| FieldError::new(column.name(), m)),
        }
    }

    /// A whole number ≥ 0; spaces may separate thousands (`1 234`).
    pub(crate) fn count(&self, column: impl Column) -> Result<u64, FieldError> {
        self.optional_count(column)?
            .ok_or_else(|| FieldError::new(column.name(), "is empty; expected a whole number"))
    }

    /// [`Record::count`], `None` when the field is empty (unknown, not zero).
    pub(crate) fn optional_count(&self, column: impl Column) -> Result<Option<u64>, FieldError> {
        let text = self.text(column);
        if text.is_empty() {
            return Ok(None);
        }
        // Plain digits, as nearly every export writes counts: no copy without thousands.
        if text.len() < 20 && text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(text.parse::<u64>().ok());
        }
        without_thousands(text)
            .parse::<u64>()
            .map(Some)
            .map_err(|_| {
                FieldError::new(column.name(), format!("{text:?} is not a whole number ≥ 0"))
            })
    }

    pub(crate) fn money(&self, column: impl Column) -> Result<Money, FieldError> {
        self.optional_money(column)?.ok_or_else(|| {
            FieldError::new(
                column.name(),
                "is empty; expected an amount like 125.50 (or 125,50)",
            )
        })
    }

    /// An amount ≥ 0, `None` when the field is empty. The decimal mark is a point or a
    /// comma, the same throughout the file; spaces may separate thousands (`1 234,50`).
    pub(crate) fn optional_money(&self, column: impl Column) -> Result<Option<Money>, FieldError> {
        let text = self.text(column);
        if text.is_empty() {
            return Ok(None);
        }
        let error = |message: String| FieldError::new(column.name(), message);
        if let Some((micros, mark)) = plain_amount(text) {
            if let Some(mark) = mark {
                self.agree(
                    mark,
                    self.format.decimal,
                    &self.seen.decimal,
                    DecimalMark::describe,
                    "decimal",
                )
                .map_err(|m| error(format!("{text:?} has {m}")))?;
            }
            return Ok(Some(Money::from_micros(micros)));
        }
        let plain = without_thousands(text);
        let mark = match (plain.contains('.'), plain.contains(',')) {
            (true, true) => {
                return Err(error(format!(
                    "{text:?} has both `.` and `,`; write amounts with one decimal mark, like \
                     1234.50 or 1234,50 (spaces may separate thousands)"
                )));
            }
            (true, false) => Some(DecimalMark::Point),
            (false, true) => Some(DecimalMark::Comma),
            (false, false) => None,
        };
        if let Some(mark) = mark {
            self.agree(
                mark,
                self.format.decimal,
                &self.seen.decimal,
                DecimalMark::describe,
                "decimal",
            )
            .map_err(|m| error(format!("{text:?} has {m}")))?;
        }
        let decimal = plain.replace(',', ".");
        // parse_decimal's reasons (not a number, too many places, too large) quote what it
        // was given; the user should see what the file holds.
        let money = Money::parse_decimal(&decimal)
            .map_err(|m| error(m.replace(&format!("{decimal:?}"), &format!("{text:?}"))))?;
        if money.is_negative() {
            return Err(error(format!("{text:?} is negative")));
        }
        Ok(Some(money))
    }

    fn parse_date(&self, text: &str) -> Result<NaiveDate, String> {
        let candidates: &[DateFormat] = match &self.format.date {
            Some(format) => std::slice::from_ref(format),
            None => &DateFormat::ALL,
        };
        let Some((format, date)) = candidates.iter().find_map(|f| {
            fixed_width_date(text, *f)
                .or_else(|| NaiveDate::parse_from_str(text, f.pattern()).ok())
                .map(|d| (*f, d))
        }) else {
            let names: Vec<&str> = candidates.iter().map(|f| f.name()).collect();
            return Err(format!(
                "{text:?} is not a date in the form {}",
                names.join(" or ")
            ));
        };
        self.agree(
            format,
            self.format.date,
            &self.seen.date,
            |f| f.name(),
            "date_format",
        )
        .map_err(|m| format!("{text:?} is written {m}"))?;
        Ok(date)
    }

    /// Checks that `found` (a decimal mark or a date format) is what the source configures or,
    /// when it configures nothing, what the file used first; remembers the first. The error
    /// completes "<value> has …" / "<value> is written …".
    fn agree<T: Copy + PartialEq>(
        &self,
        found: T,
        configured: Option<T>,
        seen: &Cell<Option<(T, u64)>>,
        describe: fn(T) -> &'static str,
        key: &str,
    ) -> Result<(), String> {
        if let Some(want) = configured {
            return if want == found {
                Ok(())
            } else {
                Err(format!(
                    "{}, but the source sets `{key}` to {}",
                    describe(found),
                    describe(want)
                ))
            };
        }
        match seen.get() {
            None => {
                seen.set(Some((found, self.line)));
                Ok(())
            }
            Some((first, _)) if first == found => Ok(()),
            Some((first, line)) => Err(format!(
                "{}, but line {line} uses {}; a file must use one throughout (set `{key}` on the \
                 source if the file is right and line {line} is the odd one)",
                describe(found),
                describe(first)
            )),
        }
    }
}

/// An amount written plainly (`1234`, `1234.5`, `0,25`: digits, at most one decimal mark and
/// at most six places, no sign, no thousands), in micros, with the mark it used; `None` for
/// anything else, which takes the full path. Nearly every exported amount is plain, and this
/// reads it without a copy.
fn plain_amount(text: &str) -> Option<(i64, Option<DecimalMark>)> {
    let bytes = text.as_bytes();
    let mark_at = bytes.iter().position(|b| *b == b'.' || *b == b',');
    let (whole, fraction, mark) = match mark_at {
        Some(i) => (
            &bytes[..i],
            &bytes[i + 1..],
            Some(if bytes[i] == b'.' {
                DecimalMark::Point
            } else {
                DecimalMark::Comma
            }),
        ),
        None => (bytes, &bytes[..0], None),
    };
    let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if whole.len() > 12
        || fraction.len() > 6
        || (whole.is_empty() && fraction.is_empty())
        || !digits(whole)
        || !digits(fraction)
    {
        return None;
    }
    let value = |part: &[u8]| part.iter().fold(0i64, |v, b| v * 10 + i64::from(b - b'0'));
    let scale = 10i64.pow(6 - fraction.len() as u32);
    Some((value(whole) * 1_000_000 + value(fraction) * scale, mark))
}

/// A date written at its full width (`2025-01-31`, `31.01.2025`), read without chrono's
/// format parser; `None` for anything else (or an impossible day), which takes the full path.
fn fixed_width_date(text: &str, format: DateFormat) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |v, c| {
            c.is_ascii_digit().then(|| v * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = match format {
        DateFormat::Iso if b[4] == b'-' && b[7] == b'-' => {
            (number(0..4)?, number(5..7)?, number(8..10)?)
        }
        DateFormat::DayMonthYear if b[2] == b'.' && b[5] == b'.' => {
            (number(6..10)?, number(3..5)?, number(0..2)?)
        }
        _ => return None,
    };
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// Strings that repeat down a column (channels, campaigns, currencies), each kept once and
/// referred to by a code: a million rows of a few thousand campaigns hold a few thousand
/// strings.
#[derive(Default)]
pub(crate) struct Interner {
    codes: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

/// The code of an empty optional value.
pub(crate) const NONE: u32 = u32::MAX;

impl Interner {
    /// The code of `text`; [`NONE`] for an empty one.
    pub(crate) fn code(&mut self, text: &str) -> u32 {
        if text.is_empty() {
            return NONE;
        }
        if let Some(code) = self.codes.get(text) {
            return *code;
        }
        let code = u32::try_from(self.names.len()).unwrap_or(NONE);
        self.names.push(text.into());
        self.codes.insert(text.into(), code);
        code
    }

    pub(crate) fn get(&self, code: u32) -> Option<&str> {
        self.names.get(code as usize).map(|n| &**n)
    }

    /// The column of `codes`, named `name`.
    pub(crate) fn column(&self, name: &str, codes: &[u32]) -> polars::prelude::Column {
        use polars::prelude::{IntoColumn, NewChunkedArray, StringChunked};
        StringChunked::from_iter_options(name.into(), codes.iter().map(|c| self.get(*c)))
            .into_column()
    }
}

/// `text` without the spaces that separate thousands.
fn without_thousands(text: &str) -> String {
    text.chars().filter(|c| !THOUSANDS.contains(c)).collect()
}

/// The delimiter that finds the most `required` columns in the header line; on a tie, the one
/// that occurs most often in it, then the first of [`DELIMITERS`].
fn detect_delimiter(header: &str, required: &[&str]) -> u8 {
    let score = |d: u8| {
        let found = header
            .split(char::from(d))
            .map(|name| name.trim().trim_matches('"').trim())
            .filter(|name| required.contains(name))
            .count();
        let occurs = header.bytes().filter(|b| *b == d).count();
        (found, occurs)
    };
    DELIMITERS
        .into_iter()
        .rev()
        .max_by_key(|d| score(*d))
        .unwrap_or(b',')
}

fn describe_delimiter(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "tabs".to_string(),
        d => format!("`{}`", char::from(d)),
    }
}

/// What a CSV pull vouches for: the span of days the file's rows reach, clipped to `range`.
/// Days outside it are not covered, so they surface as data gaps; the warnings say why (the
/// file is empty, ends before the window does, or starts after it).
pub(crate) fn coverage(
    range: DateRange,
    dates: impl Iterator<Item = NaiveDate>,
    warnings: &mut Vec<String>,
) -> Option<DateRange> {
    let (min, max) = dates.fold(
        (None, None),
        |(lo, hi): (Option<NaiveDate>, Option<NaiveDate>), d| {
            (
                Some(lo.map_or(d, |l| l.min(d))),
                Some(hi.map_or(d, |h| h.max(d))),
            )
        },
    );
    let (Some(first), Some(last)) = (min, max) else {
        warnings.push(format!(
            "the file has no rows: {range} is not covered (a data gap)"
        ));
        return None;
    };
    if last < range.end {
        warnings.push(format!(
            "newest row is {last}, {} before the window's end ({}): the days after it are \
             not covered (a data gap); is the export up to date?",
            day_count((range.end - last).num_days()),
            range.end
        ));
    }
    if first > range.start {
        warnings.push(format!(
            "oldest row is {first}, {} after the window's start ({}): the days before it are \
             not covered (a data gap)",
            day_count((first - range.start).num_days()),
            range.start
        ));
    }
    DateRange::new(first, last).and_then(|span| span.intersect(&range))
}

/// `1 day`, `3 days`.
pub(crate) fn day_count(n: i64) -> String {
    format!("{n} day{}", if n == 1 { "" } else { "s" })
}

/// Days of `span` missing from `present`, as ranges: `2025-01-08, 2025-01-10..2025-01-11`.
pub(crate) fn missing_days(span: DateRange, present: &BTreeSet<NaiveDate>) -> Vec<DateRange> {
    let mut missing: Vec<DateRange> = Vec::new();
    for day in span.start.iter_days().take_while(|d| *d <= span.end) {
        if present.contains(&day) {
            continue;
        }
        match missing.last_mut() {
            Some(last) if last.end.succ_opt() == Some(day) => last.end = day,
            _ => missing.push(DateRange {
                start: day,
                end: day,
            }),
        }
    }
    missing
}

/// `2025-01-08, 2025-01-10..2025-01-11`, with at most ten ranges listed.
pub(crate) fn list_ranges(ranges: &[DateRange]) -> String {
    const LISTED: usize = 10;
    let mut shown: Vec<String> = ranges
        .iter()
        .take(LISTED)
        .map(|r| {
            if r.start == r.end {
                r.start.to_string()
            } else {
                r.to_string()
            }
        })
        .collect();
    if ranges.len() > LISTED {
        shown.push(format!("and {} more", ranges.len() - LISTED));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_delimiter_is_the_one_that_finds_the_columns() {
        let required = ["date", "channel", "spend"];
        assert_eq!(detect_delimiter("date;channel;spend", &required), b';');
        assert_eq!(
            detect_delimiter("\"date\",\"channel\",\"spend\"", &required),
            b','
        );
        assert_eq!(detect_delimiter("date\tchannel\tspend", &required), b'\t');
        // Amounts with decimal commas in a `;` header do not outvote it.
        assert_eq!(detect_delimiter("date;channel;spend,eur", &required), b';');
        assert_eq!(detect_delimiter("nothing", &required), b',');
    }

    #[test]
    fn missing_days_are_listed_as_compact_ranges() {
        let present: BTreeSet<NaiveDate> = ["2025-01-06", "2025-01-08", "2025-01-11"]
            .into_iter()
            .map(d)
            .collect();
        let span = DateRange::new(d("2025-01-06"), d("2025-01-11")).unwrap();
        let missing = missing_days(span, &present);
        assert_eq!(list_ranges(&missing), "2025-01-07, 2025-01-09..2025-01-10");
        let many: Vec<DateRange> = (1..=12)
            .map(|i| {
                let day = d("2025-01-01") + chrono::Duration::days(2 * i);
                DateRange::new(day, day).unwrap()
            })
            .collect();
        assert!(list_ranges(&many).ends_with(", and 2 more"));
    }
}
