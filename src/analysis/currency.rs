//! Currency: every amount into one reporting currency before anything is summed, or marked
//! as unknown when no rate says what it is worth.
//!
//! Each row keeps the currency its source gave it. The reporting currency is `[currency]
//! reporting`; without that section it is the one currency the data names (rows naming none
//! count as `[alerting] currency`), and when the data names several it is `[alerting] currency`
//! or, when that is unset too, none at all. A row in another currency is converted with the
//! rate in force on its date (dated rates from a file; otherwise the fixed table). A row no
//! rate covers keeps its currency, its amounts become unknown (never zero, never summed as
//! they are), and its days are recorded in [`MissingRates`]: the periods holding them get no
//! verdict, with that reason.
//!
//! Rates are exact decimals and conversions exact integer arithmetic on micros, rounded half
//! away from zero, so the same data always gives the same cent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{Duration, NaiveDate};
use polars::prelude::*;

use super::{AnalysisError, at};
use crate::domain::DateRange;

/// Units of the reporting currency one unit of a currency is worth, as an exact decimal with
/// nine places (`92.4512` is `92_451_200_000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rate(i128);

const RATE_SCALE: i128 = 1_000_000_000;

impl Rate {
    /// Reads a positive decimal (`92.4512`, `0,19` with a decimal comma); `None` for anything
    /// else, zero and more than nine decimal places included.
    pub fn parse(text: &str) -> Option<Rate> {
        let text = text.trim().replace(',', ".");
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || fraction.len() > 9
            || whole.len() > 18
        {
            return None;
        }
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut nanos: i128 = 0;
        for (i, digit) in fraction.bytes().enumerate() {
            nanos += i128::from(digit - b'0') * 10i128.pow(8 - i as u32);
        }
        let rate = whole * RATE_SCALE + nanos;
        (rate > 0).then_some(Rate(rate))
    }

    /// A rate from a configuration number, read through its shortest decimal form (`0.1` is
    /// exactly one tenth, not the nearest binary fraction).
    pub fn from_f64(value: f64) -> Option<Rate> {
        (value.is_finite() && value > 0.0)
            .then(|| Rate::parse(&format!("{value}")))
            .flatten()
    }

    /// `micros` of the currency in micros of the reporting currency; `None` on overflow.
    fn apply(self, micros: i64) -> Option<i64> {
        let product = i128::from(micros) * self.0;
        let half = RATE_SCALE / 2;
        let rounded = if product >= 0 {
            (product + half) / RATE_SCALE
        } else {
            (product - half) / RATE_SCALE
        };
        i64::try_from(rounded).ok()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / RATE_SCALE;
        let fraction = format!("{:09}", self.0 % RATE_SCALE);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            write!(f, "{whole}")
        } else {
            write!(f, "{whole}.{fraction}")
        }
    }
}

/// The rates kassa may convert with: fixed ones from the configuration, dated ones from a
/// file (`date,currency,rate`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    fixed: BTreeMap<String, Rate>,
    dated: BTreeMap<String, BTreeMap<NaiveDate, Rate>>,
    /// How many days a dated rate stays in force when no newer one follows: central banks
    /// publish none on weekends and holidays, but a file nobody updates must not quietly price
    /// months with an old rate.
    valid_days: u32,
}

/// Days a dated rate stays in force by default: a long holiday, and then some.
pub const DEFAULT_VALID_DAYS: u32 = 7;

impl Default for Rates {
    fn default() -> Rates {
        Rates::new(DEFAULT_VALID_DAYS)
    }
}

impl Rates {
    pub fn new(valid_days: u32) -> Rates {
        Rates {
            fixed: BTreeMap::new(),
            dated: BTreeMap::new(),
            valid_days,
        }
    }

    /// Sets the fixed rate of `currency` (upper case).
    pub fn set_fixed(&mut self, currency: &str, rate: Rate) {
        self.fixed.insert(currency.to_uppercase(), rate);
    }

    /// Sets the rate of `currency` in force from `date`.
    pub fn set_dated(&mut self, currency: &str, date: NaiveDate, rate: Rate) {
        self.dated
            .entry(currency.to_uppercase())
            .or_default()
            .insert(date, rate);
    }

    /// The rate of `currency` on `date`: the latest dated one on or before it, if it is still
    /// in force; else the fixed one.
    pub fn on(&self, currency: &str, date: NaiveDate) -> Option<Rate> {
        self.dated
            .get(currency)
            .and_then(|dated| dated.range(..=date).next_back())
            .filter(|(from, _)| date - **from < Duration::days(i64::from(self.valid_days.max(1))))
            .map(|(_, rate)| *rate)
            .or_else(|| self.fixed.get(currency).copied())
    }

    /// Every currency some rate is given for.
    pub fn currencies(&self) -> BTreeSet<&str> {
        self.fixed
            .keys()
            .chain(self.dated.keys())
            .map(String::as_str)
            .collect()
    }

    /// Reads a rates file's text: a header naming `date`, `currency` and `rate` (in any order,
    /// `,` or `;` between fields), then one row per currency and day. Every problem is
    /// reported, up to ten, each with its line.
    pub fn read_csv(&mut self, text: &str) -> Result<usize, RatesError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(RatesError::Empty);
        };
        let header = header.trim_start_matches('\u{feff}');
        let delimiter = if header.contains(';') { ';' } else { ',' };
        let names: Vec<String> = header
            .split(delimiter)
            .map(|n| n.trim().trim_matches('"').to_lowercase())
            .collect();
        let position = |name: &'static str| {
            names
                .iter()
                .position(|n| n == name)
                .ok_or(RatesError::MissingColumn(name))
        };
        let (date_at, currency_at, rate_at) =
            (position("date")?, position("currency")?, position("rate")?);
        let mut problems = Vec::new();
        let mut rows = 0;
        for (index, line) in lines {
            let fields: Vec<&str> = line
                .split(delimiter)
                .map(|f| f.trim().trim_matches('"'))
                .collect();
            let line = index + 1;
            let field = |at: usize| fields.get(at).copied().unwrap_or("");
            let date = NaiveDate::parse_from_str(field(date_at), "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(field(date_at), "%d.%m.%Y"));
            let currency = field(currency_at).to_uppercase();
            let rate = Rate::parse(field(rate_at));
            let problem = |column: &'static str, value: &str, expected: &'static str| RateProblem {
                line,
                column,
                value: value.to_string(),
                expected,
            };
            match (date, is_currency_code(&currency), rate) {
                (Ok(date), true, Some(rate)) => {
                    self.set_dated(&currency, date, rate);
                    rows += 1;
                }
                (date, code, rate) => {
                    if date.is_err() {
                        problems.push(problem(
                            "date",
                            field(date_at),
                            "a date like 2025-03-01 or 01.03.2025",
                        ));
                    }
                    if !code {
                        problems.push(problem(
                            "currency",
                            field(currency_at),
                            "a three-letter code like USD",
                        ));
                    }
                    if rate.is_none() {
                        problems.push(problem(
                            "rate",
                            field(rate_at),
                            "a positive decimal like 92.4512",
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(rows)
        } else {
            Err(RatesError::Rows(RateProblems(problems)))
        }
    }
}

/// Whether `code` looks like an ISO 4217 code: three ASCII letters.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic())
}

/// What is wrong with a rates file (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum RatesError {
    #[error("it is empty: the first line must name the columns date, currency and rate")]
    Empty,
    #[error("its header has no {0:?} column (it needs date, currency and rate)")]
    MissingColumn(&'static str),
    #[error("{0}")]
    Rows(RateProblems),
}

/// A bad value in a rates file.
#[derive(Debug)]
pub struct RateProblem {
    pub line: usize,
    pub column: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Every bad value of a rates file; shown up to ten.
#[derive(Debug)]
pub struct RateProblems(pub Vec<RateProblem>);

impl fmt::Display for RateProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().take(10).enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(
                f,
                "line {}, column {}: {:?} is not {}",
                p.line, p.column, p.value, p.expected
            )?;
        }
        if self.0.len() > 10 {
            write!(f, "; and {} more", self.0.len() - 10)?;
        }
        Ok(())
    }
}

/// `[currency]`, and `[alerting] currency` when that section is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrencySettings {
    /// `[currency] reporting`: every amount is converted into it.
    pub reporting: Option<String>,
    /// The currency of rows that name none (a CSV without a `currency` column): the reporting
    /// currency, or `[alerting] currency`.
    pub unnamed: Option<String>,
    pub rates: Rates,
}

/// Days no rate covers, per channel and currency: their amounts are unknown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MissingRates {
    /// The reporting currency the amounts could not be converted into (`None`: none is set and
    /// the data names several).
    pub reporting: Option<String>,
    days: BTreeMap<String, BTreeMap<String, BTreeSet<NaiveDate>>>,
}

impl MissingRates {
    fn record(&mut self, channel: &str, currency: &str, date: NaiveDate) {
        self.days
            .entry(channel.to_string())
            .or_default()
            .entry(currency.to_string())
            .or_default()
            .insert(date);
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// The days of `period` without a rate, per currency, for `channel` (every channel for
    /// `None`), as disjoint ranges in order; only currencies with such days.
    pub fn within(
        &self,
        channel: Option<&str>,
        period: DateRange,
    ) -> BTreeMap<String, Vec<DateRange>> {
        let mut days: BTreeMap<String, BTreeSet<NaiveDate>> = BTreeMap::new();
        for (c, currencies) in &self.days {
            if channel.is_some_and(|channel| channel != c) {
                continue;
            }
            for (currency, dates) in currencies {
                let inside = dates.range(period.start..=period.end).copied();
                let mut inside = inside.peekable();
                if inside.peek().is_some() {
                    days.entry(currency.clone()).or_default().extend(inside);
                }
            }
        }
        days.into_iter()
            .map(|(currency, dates)| (currency, ranges(&dates)))
            .collect()
    }

    /// Per currency: the first and last day without a rate, and how many days there are.
    pub fn summary(&self) -> BTreeMap<String, (NaiveDate, NaiveDate, usize)> {
        let mut all: BTreeMap<String, BTreeSet<NaiveDate>> = BTreeMap::new();
        for currencies in self.days.values() {
            for (currency, dates) in currencies {
                all.entry(currency.clone())
                    .or_default()
                    .extend(dates.iter().copied());
            }
        }
        all.into_iter()
            .filter_map(|(currency, dates)| {
                let (first, last) = (*dates.first()?, *dates.last()?);
                Some((currency, (first, last, dates.len())))
            })
            .collect()
    }
}

/// Consecutive days as ranges.
fn ranges(dates: &BTreeSet<NaiveDate>) -> Vec<DateRange> {
    let mut out: Vec<DateRange> = Vec::new();
    for &date in dates {
        match out.last_mut() {
            Some(last) if last.end + Duration::days(1) == date => last.end = date,
            _ => out.push(DateRange {
                start: date,
                end: date,
            }),
        }
    }
    out
}

/// The frames with every amount in the reporting currency, or unknown.
#[derive(Debug)]
pub struct Converted {
    /// `spend_micros` is null where its rate is missing (it is never null otherwise), and
    /// `claimed_revenue_micros` too.
    pub ads: DataFrame,
    /// `amount_micros` is null where its rate is missing, told apart from an amount the CRM
    /// never had by the boolean `unconverted`.
    pub deals: DataFrame,
    /// Money claims in a currency without a rate keep it (the reconciliation says the
    /// currencies differ).
    pub claims: DataFrame,
    /// The reporting currency: `None` when the data names no currency, or several and nothing
    /// says which to report in.
    pub reporting: Option<String>,
    pub missing: MissingRates,
}

/// Converts the amounts of the three frames (the analysis's input schemas) into the reporting
/// currency; `window` is the span the analysis reads, which decides which currencies the
/// data names.
pub fn convert(
    ads: &DataFrame,
    deals: &DataFrame,
    claims: &DataFrame,
    settings: &CurrencySettings,
    window: DateRange,
) -> Result<Converted, AnalysisError> {
    let stage = "converting currencies";
    let ad_rows = AdColumns::read(ads).map_err(at(stage))?;
    let deal_rows = DealColumns::read(deals).map_err(at(stage))?;

    let within = |day: Option<i32>| day.map(from_epoch).is_some_and(|d| window.contains(d));
    let mut named: BTreeSet<String> = BTreeSet::new();
    let mut unnamed_rows = false;
    let mut note = |currency: Option<&str>| match currency {
        Some(c) => {
            if !named.contains(c) {
                named.insert(c.to_string());
            }
        }
        None => unnamed_rows = true,
    };
    for row in 0..ads.height() {
        if within(ad_rows.date.get(row)) {
            note(ad_rows.currency.get(row));
        }
    }
    for row in 0..deals.height() {
        if within(deal_rows.created.get(row)) || within(deal_rows.closed.get(row)) {
            note(deal_rows.currency.get(row));
        }
    }
    if unnamed_rows && let Some(unnamed) = &settings.unnamed {
        named.insert(unnamed.clone());
    }
    let reporting = settings
        .reporting
        .clone()
        .or_else(|| {
            (named.len() == 1)
                .then(|| named.iter().next().cloned())
                .flatten()
        })
        .or_else(|| settings.unnamed.clone());
    let mut rates = RateLookup {
        settings,
        reporting: reporting.as_deref(),
        cache: HashMap::new(),
    };
    let mut missing = MissingRates {
        reporting: reporting.clone(),
        ..MissingRates::default()
    };

    // Ads: spend and the claimed revenue, at the rate of the row's day.
    let (mut spend, mut claimed) = (Vec::with_capacity(ads.height()), Vec::new());
    let mut currency = Vec::with_capacity(ads.height());
    claimed.reserve(ads.height());
    for row in 0..ads.height() {
        let (day, code) = (ad_rows.date.get(row), ad_rows.currency.get(row));
        let amounts = [ad_rows.spend.get(row), ad_rows.claimed_revenue.get(row)];
        let converted = rates.convert(code, day, amounts);
        if converted.unconverted
            && let (Some(day), Some(code), Some(channel)) = (day, code, ad_rows.channel.get(row))
        {
            missing.record(channel, code, from_epoch(day));
        }
        spend.push(converted.amounts[0]);
        claimed.push(converted.amounts[1]);
        currency.push(converted.currency);
    }
    let ads = with_columns(
        ads,
        [
            Int64Chunked::from_iter_options("spend_micros".into(), spend.into_iter()).into_column(),
            Int64Chunked::from_iter_options("claimed_revenue_micros".into(), claimed.into_iter())
                .into_column(),
            text_column("currency", &currency),
        ],
    )
    .map_err(at(stage))?;

    // Deals: the amount at the rate of the day it closed (of the day it was created while open).
    let mut amounts = Vec::with_capacity(deals.height());
    let mut unconverted = Vec::with_capacity(deals.height());
    currency.clear();
    for row in 0..deals.height() {
        let day = deal_rows.closed.get(row).or(deal_rows.created.get(row));
        let code = deal_rows.currency.get(row);
        let converted = rates.convert(code, day, [deal_rows.amount.get(row)]);
        let won = deal_rows.status.get(row) == Some("won");
        if converted.unconverted
            && won
            && let (Some(day), Some(code), Some(channel)) = (day, code, deal_rows.channel.get(row))
        {
            missing.record(channel, code, from_epoch(day));
        }
        amounts.push(converted.amounts[0]);
        unconverted.push(converted.unconverted);
        currency.push(converted.currency);
    }
    let deals = with_columns(
        deals,
        [
            Int64Chunked::from_iter_options("amount_micros".into(), amounts.into_iter())
                .into_column(),
            text_column("currency", &currency),
            BooleanChunked::from_slice("unconverted".into(), &unconverted).into_column(),
        ],
    )
    .map_err(at(stage))?;

    let claims = convert_claims(claims, &mut rates).map_err(at(stage))?;
    Ok(Converted {
        ads,
        deals,
        claims,
        reporting,
        missing,
    })
}

/// Report claims of money at the mean rate over their days; a claim some day of which has
/// no rate keeps its currency.
fn convert_claims(claims: &DataFrame, rates: &mut RateLookup<'_>) -> PolarsResult<DataFrame> {
    let metric = claims.column("metric")?.str()?.clone();
    let currency = claims.column("currency")?.str()?.clone();
    let value = claims.column("value_micros")?.i64()?.clone();
    let start = days(claims, "period_start")?;
    let end = days(claims, "period_end")?;
    let mut values = Vec::with_capacity(claims.height());
    let mut currencies = Vec::with_capacity(claims.height());
    for row in 0..claims.height() {
        let money = metric
            .get(row)
            .and_then(crate::domain::ClaimMetric::parse)
            .is_some_and(crate::domain::ClaimMetric::is_money);
        let (code, amount) = (currency.get(row), value.get(row));
        let converted = match (money, start.get(row), end.get(row)) {
            (true, Some(first), Some(last)) => rates.mean(code, first, last, amount),
            _ => None,
        };
        match converted {
            Some((amount, code)) => {
                values.push(amount);
                currencies.push(code);
            }
            None => {
                values.push(amount);
                currencies.push(code.map(str::to_string));
            }
        }
    }
    with_columns(
        claims,
        [
            Int64Chunked::from_iter_options("value_micros".into(), values.into_iter())
                .into_column(),
            text_column("currency", &currencies),
        ],
    )
}

/// `df` with these columns replacing its columns of the same names (or added).
fn with_columns<const N: usize>(df: &DataFrame, columns: [Column; N]) -> PolarsResult<DataFrame> {
    let mut df = df.clone();
    for column in columns {
        df.with_column(column)?;
    }
    Ok(df)
}

fn text_column(name: &str, values: &[Option<String>]) -> Column {
    StringChunked::from_iter_options(name.into(), values.iter().map(|v| v.as_deref())).into_column()
}

/// One row's amounts after conversion.
struct RowConversion<const N: usize> {
    amounts: [Option<i64>; N],
    /// The row's currency now: the reporting one, or its own when it stayed unconverted.
    currency: Option<String>,
    /// Some non-zero amount had no rate (it is `None` now).
    unconverted: bool,
}

/// Rates by currency and day, looked up once each.
struct RateLookup<'a> {
    settings: &'a CurrencySettings,
    reporting: Option<&'a str>,
    /// By currency, then day: a hit allocates nothing (this runs for every deal).
    cache: HashMap<String, HashMap<i32, Option<Rate>>>,
}

impl RateLookup<'_> {
    /// The rate from `currency` into the reporting currency on `day`; `Some(None)` when no
    /// conversion is needed.
    fn rate(&mut self, currency: Option<&str>, day: Option<i32>) -> Option<Option<Rate>> {
        let Some(currency) = currency.or(self.settings.unnamed.as_deref()) else {
            return Some(None);
        };
        let reporting = self.reporting?;
        if currency.eq_ignore_ascii_case(reporting) {
            return Some(None);
        }
        let day = day?;
        if let Some(rate) = self.cache.get(currency).and_then(|days| days.get(&day)) {
            return rate.map(Some);
        }
        let rate = self
            .settings
            .rates
            .on(&currency.to_uppercase(), from_epoch(day));
        self.cache
            .entry(currency.to_string())
            .or_default()
            .insert(day, rate);
        rate.map(Some)
    }

    fn convert<const N: usize>(
        &mut self,
        currency: Option<&str>,
        day: Option<i32>,
        amounts: [Option<i64>; N],
    ) -> RowConversion<N> {
        let needed = amounts.iter().any(|a| a.is_some_and(|a| a != 0));
        match self.rate(currency, day) {
            Some(None) => RowConversion {
                amounts,
                currency: self.reporting.or(currency).map(str::to_string),
                unconverted: false,
            },
            Some(Some(rate)) => {
                let converted = amounts.map(|a| a.and_then(|micros| rate.apply(micros)));
                let overflowed = converted
                    .iter()
                    .zip(amounts)
                    .any(|(c, a)| c.is_none() && a.is_some());
                RowConversion {
                    amounts: converted,
                    currency: self.reporting.map(str::to_string),
                    unconverted: overflowed,
                }
            }
            // Zero is zero in any currency: a row of zeros needs no rate.
            None if !needed => RowConversion {
                amounts,
                currency: self.reporting.or(currency).map(str::to_string),
                unconverted: false,
            },
            None => RowConversion {
                amounts: [None; N],
                currency: currency.map(str::to_string),
                unconverted: true,
            },
        }
    }

    /// `micros` over `first..=last` at the mean of the days' rates, and the currency it is in.
    fn mean(
        &mut self,
        currency: Option<&str>,
        first: i32,
        last: i32,
        micros: Option<i64>,
    ) -> Option<(Option<i64>, Option<String>)> {
        let mut sum: i128 = 0;
        for day in first..=last.max(first) {
            match self.rate(currency, Some(day))? {
                None => {
                    return Some((micros, self.reporting.or(currency).map(str::to_string)));
                }
                Some(rate) => sum += rate.0,
            }
        }
        let count = i128::from(last.max(first) - first + 1);
        let mean = Rate(sum / count);
        let converted = match micros {
            Some(m) => Some(mean.apply(m)?),
            None => None,
        };
        Some((converted, self.reporting.map(str::to_string)))
    }
}

/// The ads frame's columns conversion reads.
struct AdColumns {
    date: Int32Chunked,
    channel: StringChunked,
    currency: StringChunked,
    spend: Int64Chunked,
    claimed_revenue: Int64Chunked,
}

impl AdColumns {
    fn read(ads: &DataFrame) -> PolarsResult<AdColumns> {
        Ok(AdColumns {
            date: days(ads, "date")?,
            channel: ads.column("channel")?.str()?.clone(),
            currency: ads.column("currency")?.str()?.clone(),
            spend: ads.column("spend_micros")?.i64()?.clone(),
            claimed_revenue: ads.column("claimed_revenue_micros")?.i64()?.clone(),
        })
    }
}

/// The deals frame's columns conversion reads.
struct DealColumns {
    created: Int32Chunked,
    closed: Int32Chunked,
    status: StringChunked,
    channel: StringChunked,
    currency: StringChunked,
    amount: Int64Chunked,
}

impl DealColumns {
    fn read(deals: &DataFrame) -> PolarsResult<DealColumns> {
        Ok(DealColumns {
            created: days(deals, "created_date")?,
            closed: days(deals, "closed_date")?,
            status: deals.column("status")?.str()?.clone(),
            channel: deals.column("channel")?.str()?.clone(),
            currency: deals.column("currency")?.str()?.clone(),
            amount: deals.column("amount_micros")?.i64()?.clone(),
        })
    }
}

/// A date column as days since 1970-01-01.
fn days(df: &DataFrame, name: &str) -> PolarsResult<Int32Chunked> {
    df.column(name)?
        .cast(&DataType::Int32)
        .and_then(|c| c.i32().cloned())
}

fn from_epoch(days: i32) -> NaiveDate {
    chrono::DateTime::UNIX_EPOCH.date_naive() + Duration::days(i64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn rates_are_exact_decimals() {
        assert_eq!(Rate::parse("92.4512"), Some(Rate(92_451_200_000)));
        assert_eq!(Rate::parse("0,19"), Some(Rate(190_000_000)));
        assert_eq!(Rate::parse(".5"), Some(Rate(500_000_000)));
        assert_eq!(Rate::from_f64(0.1), Some(Rate(100_000_000)));
        for bad in ["", "0", "-1", "1e3", "abc", "1.0000000001", "1.2.3"] {
            assert_eq!(Rate::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Rate::parse("92.4512").unwrap().to_string(), "92.4512");
        assert_eq!(Rate::parse("3").unwrap().to_string(), "3");
    }

    #[test]
    fn conversion_rounds_half_away_from_zero() {
        let rate = Rate::parse("0.5").unwrap();
        assert_eq!(rate.apply(3), Some(2));
        assert_eq!(rate.apply(-3), Some(-2));
        assert_eq!(
            Rate::parse("92.5").unwrap().apply(10_000_000),
            Some(925_000_000)
        );
        assert_eq!(Rate::parse("1000").unwrap().apply(i64::MAX), None);
    }

    #[test]
    fn a_dated_rate_holds_until_the_next_for_at_most_the_valid_days() {
        let mut rates = Rates::new(3);
        rates.set_dated("USD", d("2025-03-01"), Rate::parse("90").unwrap());
        rates.set_dated("usd", d("2025-03-10"), Rate::parse("95").unwrap());
        assert_eq!(rates.on("USD", d("2025-02-28")), None);
        assert_eq!(rates.on("USD", d("2025-03-03")), Rate::parse("90"));
        assert_eq!(
            rates.on("USD", d("2025-03-04")),
            None,
            "stale after three days"
        );
        assert_eq!(rates.on("USD", d("2025-03-11")), Rate::parse("95"));
        rates.set_fixed("USD", Rate::parse("80").unwrap());
        assert_eq!(
            rates.on("USD", d("2025-03-05")),
            Rate::parse("80"),
            "the fixed rate fills in"
        );
    }

    #[test]
    fn a_rates_file_reports_every_bad_value_with_its_line() {
        let mut rates = Rates::new(DEFAULT_VALID_DAYS);
        let good = "currency;date;rate\nUSD;01.03.2025;92,5\n\nKZT;2025-03-01;0.19\n";
        assert_eq!(rates.read_csv(good).unwrap(), 2);
        assert_eq!(rates.on("KZT", d("2025-03-02")), Rate::parse("0.19"));
        let bad = "date,currency,rate\n2025-03-01,USD,92.5\n2025-13-01,US,0\n";
        let error = rates.read_csv(bad).unwrap_err().to_string();
        assert!(
            error.contains("line 3, column date: \"2025-13-01\""),
            "{error}"
        );
        assert!(error.contains("line 3, column currency: \"US\""), "{error}");
        assert!(error.contains("line 3, column rate: \"0\""), "{error}");
        let error = rates
            .read_csv("day,currency,rate\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no \"date\" column"), "{error}");
    }

    #[test]
    fn missing_days_come_back_as_ranges_per_currency() {
        let mut missing = MissingRates::default();
        for day in ["2025-03-03", "2025-03-04", "2025-03-06"] {
            missing.record("vk_ads", "USD", d(day));
        }
        missing.record("meta", "EUR", d("2025-03-05"));
        let week = DateRange {
            start: d("2025-03-03"),
            end: d("2025-03-09"),
        };
        let vk = missing.within(Some("vk_ads"), week);
        assert_eq!(vk.len(), 1);
        assert_eq!(vk["USD"].len(), 2);
        assert_eq!(missing.within(None, week).len(), 2);
        assert!(missing.within(Some("google"), week).is_empty());
        assert_eq!(
            missing.summary()["USD"],
            (d("2025-03-03"), d("2025-03-06"), 3)
        );
    }
}
