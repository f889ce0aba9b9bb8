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

use chrono_tz::Tz;
use serde::Deserialize;

use super::{
    CsvFile, FieldError, Format, coverage, day_count, list_ranges, missing_days, validate_path,
};
use crate::domain::{AdDay, Claims, DateRange, Pulled, RowKind};
use crate::sources::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, Pull, SourceError, validate_timezone,
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
    /// the rows of `range`.
    fn read_range(&self, range: DateRange) -> Result<Pull, SourceError> {
        let rows = self.read_all()?;
        let mut warnings = Vec::new();
        let covered = coverage(range, rows.iter().map(|r| r.date), &mut warnings);
        let rows: Vec<AdDay> = rows
            .into_iter()
            .filter(|r| range.contains(r.date))
            .collect();
        if let Some(span) = covered {
            let present: BTreeSet<_> = rows.iter().map(|r| r.date).collect();
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
        let clicks_only = rows
            .iter()
            .filter(|r| r.clicks > 0 && r.impressions == 0)
            .count();
        if clicks_only > 0 {
            warnings.push(format!(
                "{clicks_only} row{} with clicks but no impressions: their impressions read as \
                 0, and the CTR of the periods containing them is unknown",
                if clicks_only == 1 { "" } else { "s" }
            ));
        }
        Ok(Pull {
            rows: Pulled::Ads(rows),
            covered,
            warnings,
        })
    }

    fn describe(&self) -> Result<String, SourceError> {
        let rows = self.read_all()?;
        let span = rows
            .iter()
            .map(|r| r.date)
            .min()
            .zip(rows.iter().map(|r| r.date).max());
        Ok(match span {
            Some((first, last)) => format!(
                "{}: {} rows from {first} to {last}",
                self.path.display(),
                rows.len()
            ),
            None => format!("{}: header is valid, no rows", self.path.display()),
        })
    }

    fn read_all(&self) -> Result<Vec<AdDay>, SourceError> {
        let file = CsvFile::open(&self.path, REQUIRED_COLUMNS, self.format)?;
        let mut rows = Vec::new();
        let mut seen: HashMap<(chrono::NaiveDate, String, String), u64> = HashMap::new();
        file.for_each_record(|record| {
            let row = AdDay {
                date: record.date("date")?,
                channel: record.required_text("channel")?,
                account: self.account.clone(),
                campaign_id: record.required_text("campaign_id")?,
                campaign_name: record.optional_text("campaign_name"),
                // Empty impressions (a clicks-only export) are unknown; they read as 0, which
                // the analysis takes as "CTR unknown" for the period when there are clicks.
                impressions: record.optional_count("impressions")?.unwrap_or(0),
                reach: record.optional_count("reach")?,
                clicks: record.count("clicks")?,
                spend: record.money("spend")?,
                currency: record.optional_text("currency"),
                claims: Claims {
                    leads: record.optional_count("claimed_leads")?,
                    purchases: record.optional_count("claimed_purchases")?,
                    revenue: record.optional_money("claimed_revenue")?,
                },
            };
            if row.impressions > 0 && row.clicks > row.impressions {
                return Err(FieldError::new(
                    "clicks",
                    format!(
                        "{} clicks is more than the {} impressions of the same row; \
                         leave impressions empty or 0 if the export does not know them",
                        row.clicks, row.impressions
                    ),
                ));
            }
            let key = (row.date, row.channel.clone(), row.campaign_id.clone());
            if let Some(first) = seen.insert(key, record.line) {
                return Err(FieldError::new(
                    "campaign_id",
                    format!(
                        "a second row for campaign {:?} on {} (the first is on line {first}); \
                         the file must hold one row per day per campaign",
                        row.campaign_id, row.date
                    ),
                ));
            }
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }
}
