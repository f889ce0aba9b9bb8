//! `csv_ads`: daily campaign rows exported from any ad platform.
//!
//! Contract (README, "CSV sources"): header `date,channel,campaign_id,impressions,reach,clicks,spend`,
//! optional `campaign_name,currency` and the platform's claimed conversions
//! `claimed_leads,claimed_purchases,claimed_revenue` (empty: not reported, never zero); one
//! row per day per campaign. A row may carry clicks without impressions (a clicks-only search
//! export, data merged from two tools): its impressions read as 0 and the analysis leaves the
//! CTR of its periods unknown. A day with no row at all inside the file's span reads as a day
//! without delivery, with a warning.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use chrono::NaiveDate;
use chrono_tz::Tz;
use polars::prelude::*;
use serde::Deserialize;

use super::{
    CsvFile, FieldError, Format, Interner, coverage, day_count, list_ranges, missing_days,
    validate_path,
};
use crate::domain::{DateRange, Money, Pulled, RowKind};
use crate::frames;
use crate::sources::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SourceError,
    validate_timezone,
};
use crate::validation::Problems;

pub const REQUIRED_COLUMNS: &[&str] = &[
    "date",
    "channel",
    "campaign_id",
    "impressions",
    "reach",
    "clicks",
    "spend",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvAdsConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night (the platform restates this far back).
    pub lookback_days: Option<u32>,
    pub path: PathBuf,
    /// The account recorded with every row (the natural key is source, account, campaign, date).
    #[serde(default = "default_account")]
    pub account: String,
    /// `,` `;` `\t` or `|`; detected from the header line when not set.
    pub delimiter: Option<String>,
    /// `.` or `,`; detected from the amounts when not set.
    pub decimal: Option<String>,
    /// `YYYY-MM-DD` or `DD.MM.YYYY`; detected from the dates when not set.
    pub date_format: Option<String>,
    /// The time zone the export's days are in (IANA name); UTC when not set.
    pub timezone: Option<String>,
}

fn default_account() -> String {
    "csv".to_string()
}

impl ConnectorConfig for CsvAdsConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    fn default_lookback_days(&self) -> u32 {
        28
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Ads
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        validate_path(&self.path, key, "fixtures/demo/ads.csv", problems);
        Format::from_keys(
            self.delimiter.as_deref(),
            self.decimal.as_deref(),
            self.date_format.as_deref(),
            key,
            problems,
        );
        validate_timezone(self.timezone.as_deref(), key, problems);
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        self.path = base.join(&self.path);
    }

    fn timezone(&self, _business: Tz) -> Option<Tz> {
        Some(
            self.timezone
                .as_deref()
                .and_then(|t| t.parse().ok())
                .unwrap_or(Tz::UTC),
        )
    }

    fn build(&self, _: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        Ok(Box::new(CsvAdsSource {
            path: self.path.clone(),
            account: self.account.clone(),
            format: Format::build(
                self.delimiter.as_deref(),
                self.decimal.as_deref(),
                self.date_format.as_deref(),
            )?,
        }))
    }
}

#[derive(Debug)]
pub struct CsvAdsSource {
    path: PathBuf,
    account: String,
    format: Format,
}

impl Connector for CsvAdsSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(std::future::ready(self.read_range(range)))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(std::future::ready(self.describe()))
    }
}

impl CsvAdsSource {
    /// Reads the whole file (so every bad row is reported, not only those in range) and keeps
    /// the rows of `range`, as one frame.
    fn read_range(&self, range: DateRange) -> Result<Pull, SourceError> {
        let read = self.read_all()?;
        let mut warnings = Vec::new();
        let covered = coverage(range, read.dates(), &mut warnings);
        let (start, end) = (range.start.to_epoch_days(), range.end.to_epoch_days());
        let keep: BooleanChunked = read.days.iter().map(|d| start <= *d && *d <= end).collect();
        if let Some(span) = covered {
            let present: BTreeSet<_> = read.dates().filter(|d| range.contains(*d)).collect();
            let missing = missing_days(span, &present);
            if !missing.is_empty() {
                warnings.push(format!(
                    "no rows at all on {} ({} inside the file's span): read as days without \
                     delivery; if the export skipped them, export it again",
                    list_ranges(&missing),
                    day_count(missing.iter().map(DateRange::days).sum())
                ));
            }
        }
        let clicks_only = keep
            .iter()
            .zip(&read.clicks_only)
            .filter(|(keep, clicks_only)| *keep == Some(true) && **clicks_only)
            .count();
        if clicks_only > 0 {
            warnings.push(format!(
                "{clicks_only} row{} with clicks but no impressions: their impressions read as \
                 0, and the CTR of the periods containing them is unknown",
                if clicks_only == 1 { "" } else { "s" }
            ));
        }
        let frame = read.frame.filter(&keep).map_err(|e| self.frame_error(e))?;
        Ok(Pull {
            rows: Pulled::AdFrame(frame),
            covered,
            warnings,
        })
    }

    fn describe(&self) -> Result<String, SourceError> {
        let read = self.read_all()?;
        Ok(match read.dates().min().zip(read.dates().max()) {
            Some((first, last)) => format!(
                "{}: {} rows from {first} to {last}",
                self.path.display(),
                read.days.len()
            ),
            None => format!("{}: header is valid, no rows", self.path.display()),
        })
    }

    fn frame_error(&self, e: PolarsError) -> SourceError {
        SourceError::new(
            ErrorKind::InvalidData,
            format!("{}: {e}", self.path.display()),
        )
    }

    /// Parses the file straight into columns: counts and amounts into vectors, the strings
    /// that repeat (channels, campaigns, currencies) as codes of an [`Interner`], so a row
    /// costs a few dozen bytes and no allocation. Each row is checked as it is read, with the
    /// same messages, in the same order, as the rows were always checked; only a duplicate's
    /// message looks back for the line of the row it repeats.
    fn read_all(&self) -> Result<Read, SourceError> {
        let file = CsvFile::open(&self.path, REQUIRED_COLUMNS, self.format)?;
        let f = |name| file.field(name);
        let (date, channel, campaign_id, campaign_name) = (
            f("date"),
            f("channel"),
            f("campaign_id"),
            f("campaign_name"),
        );
        let (impressions, reach, clicks, spend, currency) = (
            f("impressions"),
            f("reach"),
            f("clicks"),
            f("spend"),
            f("currency"),
        );
        let (leads, purchases, revenue) = (
            f("claimed_leads"),
            f("claimed_purchases"),
            f("claimed_revenue"),
        );
        let mut c = Columns::default();
        // The days each (channel, campaign) has a row on, and, for a key whose latest row was
        // a duplicate, that row's line (the next duplicate names it, as it always did).
        let mut days: HashMap<(u32, u32), DaySet> = HashMap::new();
        let mut repeated: HashMap<(i32, u32, u32), u64> = HashMap::new();
        file.for_each_record(|record| {
            let day = record.date(date)?.to_epoch_days();
            let channel_text = record.required_text_ref(channel)?;
            let campaign_text = record.required_text_ref(campaign_id)?;
            let name = record.text(campaign_name);
            // Empty impressions (a clicks-only export) are unknown; they read as 0, which
            // the analysis takes as "CTR unknown" for the period when there are clicks.
            let row_impressions = record.optional_count(impressions)?.unwrap_or(0);
            let row_reach = record.optional_count(reach)?;
            let row_clicks = record.count(clicks)?;
            let row_spend = record.money(spend)?;
            let row_currency = record.text(currency);
            let row_leads = record.optional_count(leads)?;
            let row_purchases = record.optional_count(purchases)?;
            let row_revenue = record.optional_money(revenue)?;
            if row_impressions > 0 && row_clicks > row_impressions {
                return Err(FieldError::new(
                    "clicks",
                    format!(
                        "{row_clicks} clicks is more than the {row_impressions} impressions of \
                         the same row; leave impressions empty or 0 if the export does not \
                         know them"
                    ),
                ));
            }
            let key = (
                c.channels.code(channel_text),
                c.campaigns.code(campaign_text),
            );
            if !days.entry(key).or_default().insert(day) {
                let first = match repeated.insert((day, key.0, key.1), record.line) {
                    Some(line) => line,
                    None if record.listed => c.line_of(day, key),
                    None => 0,
                };
                return Err(FieldError::new(
                    "campaign_id",
                    format!(
                        "a second row for campaign {campaign_text:?} on {} (the first is on \
                         line {first}); the file must hold one row per day per campaign",
                        NaiveDate::from_epoch_days(day).unwrap_or_default()
                    ),
                ));
            }
            c.days.push(day);
            c.lines.push(record.line);
            c.channel.push(key.0);
            c.campaign.push(key.1);
            c.name.push(c.names.code(name));
            c.impressions.push(row_impressions);
            c.reach.push(row_reach);
            c.clicks.push(row_clicks);
            c.spend.push(row_spend.micros());
            c.currency.push(c.currencies.code(row_currency));
            c.leads.push(row_leads);
            c.purchases.push(row_purchases);
            c.revenue.push(row_revenue.map(Money::micros));
            Ok(())
        })?;
        c.into_read(&self.account).map_err(|e| self.frame_error(e))
    }
}

/// A file's rows as a frame of the [`frames::ADS`] columns without `source`, and what the
/// warnings need of them.
struct Read {
    frame: DataFrame,
    /// Each row's day, as days since 1970-01-01.
    days: Vec<i32>,
    /// Whether each row has clicks without impressions.
    clicks_only: Vec<bool>,
}

impl Read {
    fn dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.days
            .iter()
            .filter_map(|d| NaiveDate::from_epoch_days(*d))
    }
}

/// The column builders of [`CsvAdsSource::read_all`].
#[derive(Default)]
struct Columns {
    channels: Interner,
    campaigns: Interner,
    names: Interner,
    currencies: Interner,
    days: Vec<i32>,
    lines: Vec<u64>,
    channel: Vec<u32>,
    campaign: Vec<u32>,
    name: Vec<u32>,
    impressions: Vec<u64>,
    reach: Vec<Option<u64>>,
    clicks: Vec<u64>,
    spend: Vec<i64>,
    currency: Vec<u32>,
    leads: Vec<Option<u64>>,
    purchases: Vec<Option<u64>>,
    revenue: Vec<Option<i64>>,
}

impl Columns {
    /// The line of the latest row read for `day` and `key` (only for a duplicate's message).
    fn line_of(&self, day: i32, key: (u32, u32)) -> u64 {
        (0..self.days.len())
            .rev()
            .find(|&i| self.days[i] == day && (self.channel[i], self.campaign[i]) == key)
            .map_or(0, |i| self.lines[i])
    }

    fn into_read(self, account: &str) -> PolarsResult<Read> {
        let height = self.days.len();
        let clicks_only = self
            .clicks
            .iter()
            .zip(&self.impressions)
            .map(|(clicks, impressions)| *clicks > 0 && *impressions == 0)
            .collect();
        let columns = vec![
            Column::new_scalar(
                "account".into(),
                Scalar::new(DataType::String, AnyValue::StringOwned(account.into())),
                height,
            ),
            self.channels.column("channel", &self.channel),
            self.campaigns.column("campaign_id", &self.campaign),
            self.names.column("campaign_name", &self.name),
            Int32Chunked::from_slice("date".into(), &self.days)
                .into_column()
                .cast(&DataType::Date)?,
            UInt64Chunked::from_vec("impressions".into(), self.impressions).into_column(),
            UInt64Chunked::from_iter_options("reach".into(), self.reach.into_iter()).into_column(),
            UInt64Chunked::from_vec("clicks".into(), self.clicks).into_column(),
            Int64Chunked::from_vec("spend_micros".into(), self.spend).into_column(),
            self.currencies.column("currency", &self.currency),
            UInt64Chunked::from_iter_options("claimed_leads".into(), self.leads.into_iter())
                .into_column(),
            UInt64Chunked::from_iter_options(
                "claimed_purchases".into(),
                self.purchases.into_iter(),
            )
            .into_column(),
            Int64Chunked::from_iter_options(
                "claimed_revenue_micros".into(),
                self.revenue.into_iter(),
            )
            .into_column(),
        ];
        let frame = DataFrame::new(height, columns)?;
        debug_assert_eq!(
            frame
                .columns()
                .iter()
                .map(|c| (c.name().as_str(), c.dtype().clone()))
                .collect::<Vec<_>>(),
            frames::schema(&frames::ADS[1..])
        );
        Ok(Read {
            frame,
            days: self.days,
            clicks_only,
        })
    }
}

/// The days one campaign has a row on, as bits from its earliest day: a few years of days
/// are a few hundred bytes, however many rows the file has.
#[derive(Default)]
struct DaySet {
    first: i32,
    bits: Vec<u64>,
}

impl DaySet {
    /// Adds `day`; false when it was there already.
    fn insert(&mut self, day: i32) -> bool {
        if self.bits.is_empty() {
            self.first = day;
        }
        if day < self.first {
            let words = (self.first - day + 63) as usize / 64;
            self.bits.splice(0..0, std::iter::repeat_n(0, words));
            self.first -= (words as i32) * 64;
        }
        let offset = (day - self.first) as usize;
        let (word, bit) = (offset / 64, offset % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let fresh = self.bits[word] & (1 << bit) == 0;
        self.bits[word] |= 1 << bit;
        fresh
    }
}
