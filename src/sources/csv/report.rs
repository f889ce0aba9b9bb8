//! `csv_report`: an agency's or marketer's report, as people send it, read as the claims it
//! makes ([`ReportClaim`]) for the reconciliation to hold against the CRM and the platforms.
//!
//! Contract (README, "CSV contracts"), in one of two layouts picked by the header:
//! - long form, one row per claim: `period_start,period_end,channel,metric,value`;
//! - wide form, as spreadsheets usually have it: `period_start,period_end,channel` and one
//!   column per metric (`leads,clicks,spend,…`), an empty cell claiming nothing.
//!
//! Both take optional `currency` (for the money metrics) and `source_note`. A period is the
//! report's own dates (a day, a week, a month): they need not match kassa's periods.
//!
//! A report vouches only for the periods it lists, and for nothing about the CRM or the ads:
//! its coverage is the span of those periods, and days it does not list are not data gaps
//! (the pipeline leaves report sources out of the coverage that withholds verdicts).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{CsvFile, FieldError, Format, Record, validate_path};
use crate::domain::{ClaimMetric, DateRange, Money, Pulled, ReportClaim, RowKind};
use crate::sources::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SourceError,
};
use crate::validation::{Problems, closest};

/// The columns both layouts need.
pub const REQUIRED_COLUMNS: &[&str] = &["period_start", "period_end", "channel"];

/// The long form's two columns: which metric a row claims, and how much.
const LONG_COLUMNS: [&str; 2] = ["metric", "value"];

/// Optional columns of both layouts.
const OPTIONAL_COLUMNS: [&str; 2] = ["currency", "source_note"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvReportConfig {
    pub name: String,
    /// Days `kassa run` re-reads every night, by the start of a report's period.
    pub lookback_days: Option<u32>,
    pub path: PathBuf,
    /// `,` `;` `\t` or `|`; detected from the header line when not set.
    pub delimiter: Option<String>,
    /// `.` or `,`; detected from the values when not set.
    pub decimal: Option<String>,
    /// `YYYY-MM-DD` or `DD.MM.YYYY`; detected from the dates when not set.
    pub date_format: Option<String>,
}

impl ConnectorConfig for CsvReportConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// Reports arrive for last month: 62 days always reach back to the first day of the
    /// previous month, so a monthly report sent in the first days of a month is read.
    fn default_lookback_days(&self) -> u32 {
        62
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Claims
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        validate_path(&self.path, key, "reports/agency.csv", problems);
        Format::from_keys(
            self.delimiter.as_deref(),
            self.decimal.as_deref(),
            self.date_format.as_deref(),
            key,
            problems,
        );
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        self.path = base.join(&self.path);
    }

    fn build(&self, _: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        Ok(Box::new(CsvReportSource {
            path: self.path.clone(),
            format: Format::build(
                self.delimiter.as_deref(),
                self.decimal.as_deref(),
                self.date_format.as_deref(),
            )?,
        }))
    }
}

#[derive(Debug)]
pub struct CsvReportSource {
    path: PathBuf,
    format: Format,
}

impl Connector for CsvReportSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(std::future::ready(self.read_range(range)))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(std::future::ready(self.describe()))
    }
}

/// How the file lays its claims out, from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// `metric,value`: one claim per row.
    Long,
    /// One column per metric, in the header's order.
    Wide(Vec<ClaimMetric>),
}

/// The claims a file makes, and what it said that kassa ignored.
struct Read {
    claims: Vec<ReportClaim>,
    layout: Layout,
    warnings: Vec<String>,
}

impl CsvReportSource {
    /// Reads the whole file (so every bad row is reported) and keeps the claims whose period
    /// starts in `range`: the store replaces a report's claims by their start, so a claim is
    /// read again exactly when it would be replaced. The pull covers the span of the periods
    /// kept, within `range`; a report silent about other days says nothing about them.
    fn read_range(&self, range: DateRange) -> Result<Pull, SourceError> {
        let read = self.read_all()?;
        let claims: Vec<ReportClaim> = read
            .claims
            .into_iter()
            .filter(|c| range.contains(c.period.start))
            .collect();
        Ok(Pull {
            covered: span(&claims).and_then(|s| s.intersect(&range)),
            rows: Pulled::Claims(claims),
            warnings: read.warnings,
        })
    }

    fn describe(&self) -> Result<String, SourceError> {
        let read = self.read_all()?;
        let layout = match read.layout {
            Layout::Long => "long form",
            Layout::Wide(_) => "wide form",
        };
        Ok(match span(&read.claims) {
            Some(span) => format!(
                "{}: {} claims ({layout}) for periods from {} to {}",
                self.path.display(),
                read.claims.len(),
                span.start,
                span.end
            ),
            None => format!(
                "{}: header is valid ({layout}), no claims",
                self.path.display()
            ),
        })
    }

    fn read_all(&self) -> Result<Read, SourceError> {
        let file = CsvFile::open(&self.path, REQUIRED_COLUMNS, self.format)?;
        let (layout, warnings) = self.layout(&file)?;
        let mut claims = Vec::new();
        let mut seen: HashMap<(String, ClaimMetric, DateRange), u64> = HashMap::new();
        file.for_each_record(|record| {
            let period = period(record)?;
            let channel = record.required_text("channel")?;
            let found: Vec<(ClaimMetric, &str, Money)> = match &layout {
                Layout::Long => {
                    let metric = metric(record)?;
                    let value = claim_value(record, "value", metric)?.ok_or_else(|| {
                        FieldError::new("value", "is empty; expected a number like 320 or 4.2")
                    })?;
                    vec![(metric, "value", value)]
                }
                Layout::Wide(metrics) => {
                    let mut found = Vec::new();
                    for &metric in metrics {
                        if let Some(value) = claim_value(record, metric.as_str(), metric)? {
                            found.push((metric, metric.as_str(), value));
                        }
                    }
                    found
                }
            };
            for (metric, column, value) in found {
                let key = (channel.clone(), metric, period);
                if let Some(first) = seen.insert(key, record.line) {
                    return Err(FieldError::new(
                        column,
                        format!(
                            "a second {} claim for channel {channel:?} over {period} (the first \
                             is on line {first}); a report claims each figure once",
                            metric.as_str()
                        ),
                    ));
                }
                claims.push(ReportClaim {
                    period,
                    channel: channel.clone(),
                    metric,
                    value,
                    currency: metric
                        .is_money()
                        .then(|| record.optional_text("currency"))
                        .flatten(),
                    note: record.optional_text("source_note"),
                });
            }
            Ok(())
        })?;
        Ok(Read {
            claims,
            layout,
            warnings,
        })
    }

    /// The layout the header says: `metric` and `value` make the long form; otherwise the
    /// metric columns make the wide form. A column that looks like a misspelt metric is an
    /// error (its claims would be lost in silence); any other extra column is ignored with a
    /// warning (spreadsheets carry CTR, comments, totals).
    fn layout(&self, file: &CsvFile) -> Result<(Layout, Vec<String>), SourceError> {
        let at_header = |message: String| {
            SourceError::new(
                ErrorKind::InvalidData,
                format!("{}, line 1: {message}", self.path.display()),
            )
        };
        let names = || ClaimMetric::ALL.into_iter().map(ClaimMetric::as_str);
        let header = file.header();
        match LONG_COLUMNS.map(|c| file.has_column(c)) {
            [true, true] => return Ok((Layout::Long, Vec::new())),
            [true, false] | [false, true] => {
                return Err(at_header(
                    "the long form needs both `metric` and `value` columns \
                     (period_start,period_end,channel,metric,value)"
                        .to_string(),
                ));
            }
            [false, false] => {}
        }
        let metrics: Vec<ClaimMetric> = header
            .iter()
            .filter_map(|name| ClaimMetric::parse(name))
            .collect();
        let mut ignored = Vec::new();
        for name in &header {
            let known = REQUIRED_COLUMNS.contains(name)
                || OPTIONAL_COLUMNS.contains(name)
                || ClaimMetric::parse(name).is_some();
            if known {
                continue;
            }
            if let Some(metric) = closest(name, names()) {
                return Err(at_header(format!(
                    "column `{name}` is not a metric; did you mean `{metric}`? (metric columns: {})",
                    names().collect::<Vec<_>>().join(", ")
                )));
            }
            ignored.push(format!("`{name}`"));
        }
        if metrics.is_empty() {
            return Err(at_header(format!(
                "no claims: the header needs `metric,value` (long form) or a column per metric \
                 (wide form: {})",
                names().collect::<Vec<_>>().join(", ")
            )));
        }
        let warnings = if ignored.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "column{} {} ignored: not a metric kassa reconciles ({})",
                if ignored.len() == 1 { "" } else { "s" },
                ignored.join(", "),
                names().collect::<Vec<_>>().join(", ")
            )]
        };
        Ok((Layout::Wide(metrics), warnings))
    }
}

/// A row's own dates; the end may not come before the start.
fn period(record: &Record<'_>) -> Result<DateRange, FieldError> {
    let start = record.date("period_start")?;
    let end = record.date("period_end")?;
    DateRange::new(start, end).ok_or_else(|| {
        FieldError::new(
            "period_end",
            format!("{end} is before period_start {start}"),
        )
    })
}

/// The long form's `metric`, in any letter case; a name that is not one says the closest.
fn metric(record: &Record<'_>) -> Result<ClaimMetric, FieldError> {
    let text = record.required_text("metric")?;
    ClaimMetric::parse(&text.to_lowercase()).ok_or_else(|| {
        let names = ClaimMetric::ALL.map(ClaimMetric::as_str);
        let hint = closest(&text, names)
            .map(|m| format!("did you mean `{m}`? "))
            .unwrap_or_default();
        FieldError::new(
            "metric",
            format!(
                "{text:?} is not a metric; {hint}(metrics: {})",
                names.join(", ")
            ),
        )
    })
}

/// A claimed value: an exact decimal ≥ 0 written as the file writes its numbers; counts
/// (impressions, reach, clicks, leads, purchases) are whole, amounts and ratios (spend,
/// revenue, CPL, ROAS) may have fractions. `None` when the cell is empty.
fn claim_value(
    record: &Record<'_>,
    column: &str,
    metric: ClaimMetric,
) -> Result<Option<Money>, FieldError> {
    let value = record.optional_money(column)?;
    let counted = !metric.is_money() && metric != ClaimMetric::Roas;
    // A whole number is a whole count of millionths in Money's fixed point.
    if let Some(value) = value
        && counted
        && value.micros() % 1_000_000 != 0
    {
        return Err(FieldError::new(
            column,
            format!(
                "{:?} is not a whole number; {} are counted (only spend, revenue, cpl and roas \
                 may have fractions)",
                record.text(column),
                metric.as_str()
            ),
        ));
    }
    Ok(value)
}

/// From the earliest period start to the latest period end.
fn span(claims: &[ReportClaim]) -> Option<DateRange> {
    let start = claims.iter().map(|c| c.period.start).min()?;
    let end = claims.iter().map(|c| c.period.end).max()?;
    DateRange::new(start, end)
}
