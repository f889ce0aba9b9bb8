//! The columns of the frames sources hand the store and the store keeps: ad rows, deals and
//! report claims. One definition, used by the CSV sources that parse straight into columns
//! and by the store's snapshot schemas (`store::snapshots`), so the two cannot drift.
//!
//! A source's frame has every column below except `source`, in this order; the store adds
//! `source` when it writes the frame.

use polars::prelude::*;

use crate::domain::{AdDay, Claims, Deal, DealStatus, Money};

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    /// A polars `Date` (days since 1970-01-01).
    Date,
    /// A count (impressions, clicks): `u64`.
    Count,
    /// Money as exact millionths ([`crate::domain::Money`]): `i64`.
    Micros,
    /// An instant as milliseconds since 1970-01-01 UTC: `i64`.
    UnixMillis,
}

impl ColumnType {
    pub fn dtype(self) -> DataType {
        match self {
            ColumnType::Text => DataType::String,
            ColumnType::Date => DataType::Date,
            ColumnType::Count => DataType::UInt64,
            ColumnType::Micros | ColumnType::UnixMillis => DataType::Int64,
        }
    }
}

/// One column: its name, how it is stored, and whether it may be null (not reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: &'static str,
    pub column_type: ColumnType,
    pub nullable: bool,
}

const fn def(name: &'static str, column_type: ColumnType, nullable: bool) -> ColumnDef {
    ColumnDef {
        name,
        column_type,
        nullable,
    }
}

use ColumnType::{Count, Date, Micros, Text, UnixMillis};

/// Ad rows: one row per source, account, campaign and day.
pub const ADS: &[ColumnDef] = &[
    def("source", Text, false),
    def("account", Text, false),
    def("channel", Text, false),
    def("campaign_id", Text, false),
    def("campaign_name", Text, true),
    def("date", Date, false),
    def("impressions", Count, false),
    def("reach", Count, true),
    def("clicks", Count, false),
    def("spend_micros", Micros, false),
    def("currency", Text, true),
    // Store schema 7: what the platform claims the row brought (null: not reported).
    def("claimed_leads", Count, true),
    def("claimed_purchases", Count, true),
    def("claimed_revenue_micros", Micros, true),
];

/// Deals: one row per source and deal id.
pub const DEALS: &[ColumnDef] = &[
    def("source", Text, false),
    def("deal_id", Text, false),
    def("created_date", Date, false),
    def("closed_date", Date, true),
    def("status", Text, false),
    def("amount_micros", Micros, true),
    def("currency", Text, true),
    def("channel", Text, false),
    def("customer_id", Text, true),
    // Store schema 3: the CRM's instants, so a change of time zone re-dates the deal.
    def("created_at_ms", UnixMillis, true),
    def("closed_at_ms", UnixMillis, true),
];

/// A report's claims (`csv_report`): one row per source, channel, metric and the report's own
/// dates. Store schema 7.
pub const CLAIMS: &[ColumnDef] = &[
    def("source", Text, false),
    def("period_start", Date, false),
    def("period_end", Date, false),
    def("channel", Text, false),
    def("metric", Text, false),
    def("value_micros", Micros, false),
    def("currency", Text, true),
    def("note", Text, true),
];

/// The column `name` of `columns`; a name not in them fails the build (it is evaluated in
/// constants).
pub const fn column(columns: &'static [ColumnDef], name: &str) -> ColumnDef {
    let mut i = 0;
    while i < columns.len() {
        let (a, b) = (columns[i].name.as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return columns[i];
            }
        }
        i += 1;
    }
    panic!("no such column")
}

/// `columns` as `(name, dtype)`, in order: what a frame of them must have.
pub fn schema(columns: &[ColumnDef]) -> Vec<(&'static str, DataType)> {
    columns
        .iter()
        .map(|c| (c.name, c.column_type.dtype()))
        .collect()
}

/// The rows of an ads frame (with or without `source`), for the few callers that need structs
/// (the demo's fake platforms); the store takes the frame as it is.
pub fn ad_days(df: &DataFrame) -> PolarsResult<Vec<AdDay>> {
    let text = |name: &str| -> PolarsResult<StringChunked> { Ok(df.column(name)?.str()?.clone()) };
    let count = |name: &str| -> PolarsResult<UInt64Chunked> { Ok(df.column(name)?.u64()?.clone()) };
    let micros = |name: &str| -> PolarsResult<Int64Chunked> { Ok(df.column(name)?.i64()?.clone()) };
    let days = df.column("date")?.cast(&DataType::Int32)?.i32()?.clone();
    let (account, channel, campaign, name, currency) = (
        text("account")?,
        text("channel")?,
        text("campaign_id")?,
        text("campaign_name")?,
        text("currency")?,
    );
    let (impressions, reach, clicks, leads, purchases) = (
        count("impressions")?,
        count("reach")?,
        count("clicks")?,
        count("claimed_leads")?,
        count("claimed_purchases")?,
    );
    let (spend, revenue) = (micros("spend_micros")?, micros("claimed_revenue_micros")?);
    let owned = |s: Option<&str>| s.map(str::to_string);
    (0..df.height())
        .map(|i| {
            Ok(AdDay {
                date: date(days.get(i))?,
                channel: owned(channel.get(i)).unwrap_or_default(),
                account: owned(account.get(i)).unwrap_or_default(),
                campaign_id: owned(campaign.get(i)).unwrap_or_default(),
                campaign_name: owned(name.get(i)),
                impressions: impressions.get(i).unwrap_or(0),
                reach: reach.get(i),
                clicks: clicks.get(i).unwrap_or(0),
                spend: Money::from_micros(spend.get(i).unwrap_or(0)),
                currency: owned(currency.get(i)),
                claims: Claims {
                    leads: leads.get(i),
                    purchases: purchases.get(i),
                    revenue: revenue.get(i).map(Money::from_micros),
                },
            })
        })
        .collect()
}

/// The deals of a deals frame (with or without `source`; without instants, as CSV exports
/// have none), for the few callers that need structs.
pub fn deals(df: &DataFrame) -> PolarsResult<Vec<Deal>> {
    let text = |name: &str| -> PolarsResult<StringChunked> { Ok(df.column(name)?.str()?.clone()) };
    let days = |name: &str| -> PolarsResult<Int32Chunked> {
        Ok(df.column(name)?.cast(&DataType::Int32)?.i32()?.clone())
    };
    let (id, status, currency, channel, customer) = (
        text("deal_id")?,
        text("status")?,
        text("currency")?,
        text("channel")?,
        text("customer_id")?,
    );
    let (created, closed) = (days("created_date")?, days("closed_date")?);
    let amount = df.column("amount_micros")?.i64()?.clone();
    let owned = |s: Option<&str>| s.map(str::to_string);
    (0..df.height())
        .map(|i| {
            let status: DealStatus = status
                .get(i)
                .unwrap_or_default()
                .parse()
                .map_err(|e: String| PolarsError::ComputeError(e.into()))?;
            Ok(Deal {
                id: owned(id.get(i)).unwrap_or_default(),
                created_date: date(created.get(i))?,
                closed_date: closed.get(i).map(|d| date(Some(d))).transpose()?,
                status,
                amount: amount.get(i).map(Money::from_micros),
                currency: owned(currency.get(i)),
                channel: owned(channel.get(i)).unwrap_or_default(),
                customer_id: owned(customer.get(i)),
                instants: None,
            })
        })
        .collect()
}

fn date(days: Option<i32>) -> PolarsResult<chrono::NaiveDate> {
    days.and_then(chrono::NaiveDate::from_epoch_days)
        .ok_or_else(|| PolarsError::ComputeError("a date out of range".into()))
}
