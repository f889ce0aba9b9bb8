//! `csv_crm`: deals exported from any CRM.
//!
//! Contract (README, "CSV sources"): header `deal_id,created_date,closed_date,status,amount,channel`,
//! optional `currency,customer_id`. `status` is won, lost or open; `closed_date` is empty for
//! open deals. An empty `amount` means the CRM does not know it, which is not zero.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Deserialize;

use super::{CsvFile, FieldError, Format, Interner, coverage, validate_path};
use crate::domain::{DateRange, DealStatus, Money, Pulled, RowKind};
use crate::frames;
use crate::sources::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SourceError,
};
use crate::validation::Problems;

pub const REQUIRED_COLUMNS: &[&str] = &[
    "deal_id",
    "created_date",
    "closed_date",
    "status",
    "amount",
    "channel",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvCrmConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night (the platform restates this far back).
    pub lookback_days: Option<u32>,
    pub path: PathBuf,
    /// `,` `;` `\t` or `|`; detected from the header line when not set.
    pub delimiter: Option<String>,
    /// `.` or `,`; detected from the amounts when not set.
    pub decimal: Option<String>,
    /// `YYYY-MM-DD` or `DD.MM.YYYY`; detected from the dates when not set.
    pub date_format: Option<String>,
}

impl ConnectorConfig for CsvCrmConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    fn default_lookback_days(&self) -> u32 {
        30
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Deals
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        validate_path(&self.path, key, "fixtures/demo/crm.csv", problems);
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
        Ok(Box::new(CsvCrmSource {
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
pub struct CsvCrmSource {
    path: PathBuf,
    format: Format,
}

impl Connector for CsvCrmSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(std::future::ready(self.read_range(range)))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(std::future::ready(self.describe()))
    }
}

impl CsvCrmSource {
    /// Reads the whole file and keeps the deals created or closed in `range`, as one frame.
    fn read_range(&self, range: DateRange) -> Result<Pull, SourceError> {
        let read = self.read_all()?;
        let mut warnings = Vec::new();
        let covered = coverage(range, read.dates(), &mut warnings);
        let (start, end) = (range.start.to_epoch_days(), range.end.to_epoch_days());
        let inside = |d: Option<i32>| d.is_some_and(|d| start <= d && d <= end);
        let keep: BooleanChunked = read
            .created
            .iter()
            .zip(&read.closed)
            .map(|(created, closed)| inside(Some(*created)) || inside(*closed))
            .collect();
        let frame = read.frame.filter(&keep).map_err(|e| self.frame_error(e))?;
        Ok(Pull {
            rows: Pulled::DealFrame(frame),
            covered,
            warnings,
        })
    }

    fn describe(&self) -> Result<String, SourceError> {
        let read = self.read_all()?;
        Ok(match read.dates().min().zip(read.dates().max()) {
            Some((first, last)) => format!(
                "{}: {} deals from {first} to {last}",
                self.path.display(),
                read.created.len()
            ),
            None => format!("{}: header is valid, no deals", self.path.display()),
        })
    }

    fn frame_error(&self, e: PolarsError) -> SourceError {
        SourceError::new(
            ErrorKind::InvalidData,
            format!("{}: {e}", self.path.display()),
        )
    }

    /// Parses the file straight into columns, checking each deal as it is read with the same
    /// messages, in the same order, as deals were always checked.
    fn read_all(&self) -> Result<Read, SourceError> {
        let file = CsvFile::open(&self.path, REQUIRED_COLUMNS, self.format)?;
        let f = |name| file.field(name);
        let (deal_id, status, created_date, closed_date) = (
            f("deal_id"),
            f("status"),
            f("created_date"),
            f("closed_date"),
        );
        let (amount, currency, channel, customer_id) =
            (f("amount"), f("currency"), f("channel"), f("customer_id"));
        let mut ids = StringChunkedBuilder::new("deal_id".into(), 0);
        let mut customers = StringChunkedBuilder::new("customer_id".into(), 0);
        let (mut channels, mut currencies, mut statuses) = Default::default();
        let mut c = Columns::default();
        let mut seen: HashMap<Box<str>, u64> = HashMap::new();
        file.for_each_record(|record| {
            let id = record.required_text_ref(deal_id)?;
            let deal_status: DealStatus = record
                .required_text_ref(status)?
                .parse()
                .map_err(|m: String| FieldError::new("status", m))?;
            let created = record.date(created_date)?;
            let closed = record.optional_date(closed_date)?;
            match (deal_status, closed) {
                (DealStatus::Open, Some(_)) => {
                    return Err(FieldError::new(
                        "closed_date",
                        "an open deal has a closed date; leave it empty or set status to won or lost",
                    ));
                }
                (DealStatus::Won | DealStatus::Lost, None) => {
                    return Err(FieldError::new(
                        "closed_date",
                        format!("a {} deal needs its closed date", deal_status.as_str()),
                    ));
                }
                (_, Some(closed)) if closed < created => {
                    return Err(FieldError::new(
                        "closed_date",
                        format!("{closed} is before the created date {created}"),
                    ));
                }
                _ => {}
            }
            if let Some(first) = seen.insert(id.into(), record.line) {
                return Err(FieldError::new(
                    "deal_id",
                    format!("deal {id:?} appears twice (first on line {first})"),
                ));
            }
            let deal_amount = record.optional_money(amount)?;
            let deal_currency = record.text(currency);
            let deal_channel = record.required_text_ref(channel)?;
            ids.append_value(id);
            c.created.push(created.to_epoch_days());
            c.closed.push(closed.map(|d| d.to_epoch_days()));
            c.status.push(Interner::code(&mut statuses, deal_status.as_str()));
            c.amount.push(deal_amount.map(Money::micros));
            c.currency.push(Interner::code(&mut currencies, deal_currency));
            c.channel.push(Interner::code(&mut channels, deal_channel));
            customers.append_option(Some(record.text(customer_id)).filter(|t| !t.is_empty()));
            Ok(())
        })?;
        let frame = (|| {
            let height = c.created.len();
            let columns = vec![
                ids.finish().into_column(),
                Int32Chunked::from_slice("created_date".into(), &c.created)
                    .into_column()
                    .cast(&DataType::Date)?,
                Int32Chunked::from_slice_options("closed_date".into(), &c.closed)
                    .into_column()
                    .cast(&DataType::Date)?,
                statuses.column("status", &c.status),
                Int64Chunked::from_slice_options("amount_micros".into(), &c.amount).into_column(),
                currencies.column("currency", &c.currency),
                channels.column("channel", &c.channel),
                customers.finish().into_column(),
                Column::full_null("created_at_ms".into(), height, &DataType::Int64),
                Column::full_null("closed_at_ms".into(), height, &DataType::Int64),
            ];
            let frame = DataFrame::new(height, columns)?;
            debug_assert_eq!(
                frame
                    .columns()
                    .iter()
                    .map(|c| (c.name().as_str(), c.dtype().clone()))
                    .collect::<Vec<_>>(),
                frames::schema(&frames::DEALS[1..])
            );
            Ok(frame)
        })()
        .map_err(|e| self.frame_error(e))?;
        Ok(Read {
            frame,
            created: c.created,
            closed: c.closed,
        })
    }
}

/// The column builders of [`CsvCrmSource::read_all`] that are read again after it.
#[derive(Default)]
struct Columns {
    created: Vec<i32>,
    closed: Vec<Option<i32>>,
    status: Vec<u32>,
    amount: Vec<Option<i64>>,
    currency: Vec<u32>,
    channel: Vec<u32>,
}

/// A file's deals as a frame of the [`frames::DEALS`] columns without `source`, and their
/// dates (days since 1970-01-01) for the coverage.
struct Read {
    frame: DataFrame,
    created: Vec<i32>,
    closed: Vec<Option<i32>>,
}

impl Read {
    /// Every created and closed date.
    fn dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.created
            .iter()
            .copied()
            .chain(self.closed.iter().flatten().copied())
            .filter_map(NaiveDate::from_epoch_days)
    }
}
