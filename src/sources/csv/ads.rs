//! `csv_ads`: daily campaign rows exported from any ad platform.
//!
//! Contract (README, "CSV sources"): header `date,channel,campaign_id,impressions,reach,clicks,spend`,
//! optional `campaign_name,currency`; one row per day per campaign.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono_tz::Tz;
use serde::Deserialize;

use super::{CsvFile, FieldError, covered_span, validate_path};
use crate::domain::{AdDay, DateRange, Pulled, RowKind};
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
        validate_timezone(self.timezone.as_deref(), key, problems);
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
        }))
    }
}

#[derive(Debug)]
pub struct CsvAdsSource {
    path: PathBuf,
    account: String,
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
        let covered = covered_span(range, rows.iter().map(|r| r.date));
        let rows = rows
            .into_iter()
            .filter(|r| range.contains(r.date))
            .collect();
        Ok(Pull {
            rows: Pulled::Ads(rows),
            covered,
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
        let file = CsvFile::open(&self.path, REQUIRED_COLUMNS)?;
        let mut rows = Vec::new();
        let mut seen: HashMap<(chrono::NaiveDate, String, String), u64> = HashMap::new();
        file.for_each_record(|record| {
            let row = AdDay {
                date: record.date("date")?,
                channel: record.required_text("channel")?,
                account: self.account.clone(),
                campaign_id: record.required_text("campaign_id")?,
                campaign_name: record.optional_text("campaign_name"),
                impressions: record.count("impressions")?,
                reach: Some(record.count("reach")?),
                clicks: record.count("clicks")?,
                spend: record.money("spend")?,
                currency: record.optional_text("currency"),
            };
            if row.clicks > row.impressions {
                return Err(FieldError::new(
                    "clicks",
                    format!(
                        "{} clicks is more than the {} impressions of the same row",
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
