//! `csv_crm`: deals exported from any CRM.
//!
//! Contract (README, "CSV sources"): header `deal_id,created_date,closed_date,status,amount,channel`,
//! optional `currency,customer_id`. `status` is won, lost or open; `closed_date` is empty for
//! open deals. An empty `amount` means the CRM does not know it, which is not zero.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{CsvFile, FieldError, Format, coverage, validate_path};
use crate::domain::{DateRange, Deal, DealStatus, Pulled, RowKind};
use crate::sources::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, Pull, SourceError,
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
    /// Reads the whole file and keeps the deals created or closed in `range`.
    fn read_range(&self, range: DateRange) -> Result<Pull, SourceError> {
        let deals = self.read_all()?;
        let mut warnings = Vec::new();
        let covered = coverage(range, deal_dates(&deals), &mut warnings);
        let deals = deals.into_iter().filter(|d| d.touches(&range)).collect();
        Ok(Pull {
            rows: Pulled::Deals(deals),
            covered,
            warnings,
        })
    }

    fn describe(&self) -> Result<String, SourceError> {
        let deals = self.read_all()?;
        let span = deal_dates(&deals).min().zip(deal_dates(&deals).max());
        Ok(match span {
            Some((first, last)) => format!(
                "{}: {} deals from {first} to {last}",
                self.path.display(),
                deals.len()
            ),
            None => format!("{}: header is valid, no deals", self.path.display()),
        })
    }

    fn read_all(&self) -> Result<Vec<Deal>, SourceError> {
        let file = CsvFile::open(&self.path, REQUIRED_COLUMNS, self.format)?;
        let mut deals = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        file.for_each_record(|record| {
            let id = record.required_text("deal_id")?;
            let status: DealStatus = record
                .required_text("status")?
                .parse()
                .map_err(|m: String| FieldError::new("status", m))?;
            let created_date = record.date("created_date")?;
            let closed_date = record.optional_date("closed_date")?;
            match (status, closed_date) {
                (DealStatus::Open, Some(_)) => {
                    return Err(FieldError::new(
                        "closed_date",
                        "an open deal has a closed date; leave it empty or set status to won or lost",
                    ));
                }
                (DealStatus::Won | DealStatus::Lost, None) => {
                    return Err(FieldError::new(
                        "closed_date",
                        format!("a {} deal needs its closed date", status.as_str()),
                    ));
                }
                (_, Some(closed)) if closed < created_date => {
                    return Err(FieldError::new(
                        "closed_date",
                        format!("{closed} is before the created date {created_date}"),
                    ));
                }
                _ => {}
            }
            if let Some(first) = seen.insert(id.clone(), record.line) {
                return Err(FieldError::new(
                    "deal_id",
                    format!("deal {id:?} appears twice (first on line {first})"),
                ));
            }
            deals.push(Deal {
                id,
                created_date,
                closed_date,
                status,
                amount: record.optional_money("amount")?,
                currency: record.optional_text("currency"),
                channel: record.required_text("channel")?,
                customer_id: record.optional_text("customer_id"),
                instants: None,
            });
            Ok(())
        })?;
        Ok(deals)
    }
}

fn deal_dates(deals: &[Deal]) -> impl Iterator<Item = chrono::NaiveDate> + '_ {
    deals
        .iter()
        .flat_map(|d| std::iter::once(d.created_date).chain(d.closed_date))
}
