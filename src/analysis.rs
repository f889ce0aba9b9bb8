//! Analysis: pure functions over polars frames. No I/O, no async, no clock: "today" is an
//! argument, so every verdict can be replayed and tested.
//!
//! Input frames (the store's snapshot schema):
//! - ads: `date` (Date), `channel` (str), `impressions`, `clicks` (u64), `reach` (u64, null
//!   when the platform did not report it), `spend_micros` (i64), `currency` (str, nullable);
//! - deals: `created_date`, `closed_date` (Date, null while open), `status` (`won`, `lost`,
//!   `open`), `amount_micros` (i64, null when unknown), `channel`, `currency`.
//!
//! The steps: periodise and aggregate in polars (the part that meets millions of rows), then
//! walk the small per-channel period table to apply the default rule:
//! the baseline of a metric is the mean of the previous `baseline_periods` *complete* periods of
//! the same channel; activity growth is the largest growth among the activity metrics; a
//! complete period is flagged `activity_without_money` when activity growth reaches
//! `activity_growth_min` while money growth stays at or below `money_growth_max`. A period that
//! has not ended, that some source did not cover, or whose won deals lack an amount gets no
//! verdict and becomes a `data_gap`: missing money is never read as zero.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{Datelike, Duration, Months, NaiveDate};
use polars::prelude::*;
use serde::{Deserialize, Serialize, Serializer};

use crate::domain::{Coverage, DateRange, Money};

/// The channel name of the total over all channels.
pub const ALL_CHANNELS: &str = "all";

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("analysis failed while {stage}: {source}")]
    Polars {
        stage: &'static str,
        #[source]
        source: PolarsError,
    },
}

fn at(stage: &'static str) -> impl FnOnce(PolarsError) -> AnalysisError {
    move |source| AnalysisError::Polars { stage, source }
}

/// How long a period is. Weeks are ISO weeks, Monday to Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    pub fn period_start(self, date: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => date,
            Granularity::Week => {
                date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
            }
            Granularity::Month => date.with_day(1).expect("every month has a first day"),
        }
    }

    pub fn period_end(self, start: NaiveDate) -> NaiveDate {
        self.next_start(start) - Duration::days(1)
    }

    /// The first day of the period after the one starting at `start`.
    pub fn next_start(self, start: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => start + Duration::days(1),
            Granularity::Week => start + Duration::days(7),
            Granularity::Month => start + Months::new(1),
        }
    }

    /// polars' truncation interval; its weeks start on Monday like ISO weeks.
    fn every(self) -> &'static str {
        match self {
            Granularity::Day => "1d",
            Granularity::Week => "1w",
            Granularity::Month => "1mo",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }
}

/// Activity metrics the rule can watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActivityMetric {
    Impressions,
    Reach,
    Clicks,
    Ctr,
    Spend,
    Leads,
}

impl ActivityMetric {
    pub const ALL: &'static str = "impressions, reach, clicks, ctr, spend, leads";

    pub fn name(self) -> &'static str {
        match self {
            ActivityMetric::Impressions => "impressions",
            ActivityMetric::Reach => "reach",
            ActivityMetric::Clicks => "clicks",
            ActivityMetric::Ctr => "ctr",
            ActivityMetric::Spend => "spend",
            ActivityMetric::Leads => "leads",
        }
    }

    fn value(self, p: &PeriodMetrics) -> Option<f64> {
        match self {
            ActivityMetric::Impressions => Some(p.impressions as f64),
            ActivityMetric::Reach => p.reach.map(|r| r as f64),
            ActivityMetric::Clicks => Some(p.clicks as f64),
            ActivityMetric::Ctr => p.ctr,
            ActivityMetric::Spend => Some(p.spend.as_f64()),
            ActivityMetric::Leads => Some(p.leads as f64),
        }
    }
}

/// Money metrics the rule can hold activity against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MoneyMetric {
    Revenue,
    DealsWon,
}

impl MoneyMetric {
    pub const ALL: &'static str = "revenue, deals_won";

    pub fn name(self) -> &'static str {
        match self {
            MoneyMetric::Revenue => "revenue",
            MoneyMetric::DealsWon => "deals_won",
        }
    }

    fn value(self, p: &PeriodMetrics) -> f64 {
        match self {
            MoneyMetric::Revenue => p.revenue.as_f64(),
            MoneyMetric::DealsWon => p.deals_won as f64,
        }
    }
}

/// The numbers of the default rule. Every one is configurable (`[analysis]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    pub granularity: Granularity,
    pub baseline_periods: usize,
    pub activity_metrics: Vec<ActivityMetric>,
    pub activity_growth_min: f64,
    pub money_metric: MoneyMetric,
    pub money_growth_max: f64,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings {
            granularity: Granularity::Week,
            baseline_periods: 4,
            activity_metrics: vec![
                ActivityMetric::Clicks,
                ActivityMetric::Reach,
                ActivityMetric::Ctr,
            ],
            activity_growth_min: 0.20,
            money_metric: MoneyMetric::Revenue,
            money_growth_max: 0.0,
        }
    }
}

/// One channel's numbers for one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodMetrics {
    pub channel: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Whether the period has a verdict: it has ended, every source covered every day of it,
    /// and every won deal in it has an amount.
    pub complete: bool,
    /// Why the period is incomplete; empty when complete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
    pub impressions: u64,
    /// Summed over days; null when a platform did not report reach for some day.
    pub reach: Option<u64>,
    pub clicks: u64,
    /// Clicks over impressions of the whole period.
    pub ctr: Option<f64>,
    #[serde(serialize_with = "money_number")]
    pub spend: Money,
    pub cpc: Option<f64>,
    /// Deals created in the period.
    pub leads: u64,
    /// Deals won (closed as won) in the period.
    pub deals_won: u64,
    /// The amounts of the deals won in the period.
    #[serde(serialize_with = "money_number")]
    pub revenue: Money,
    /// Won deals without an amount: their money is unknown, so the period is incomplete.
    pub won_without_amount: u64,
    pub cost_per_won_deal: Option<f64>,
    /// (revenue - spend) / spend.
    pub romi: Option<f64>,
}

/// What kind of finding. [`FindingKind::ALL`] is the one list every consumer derives from
/// (alert filters, episodes, outcome counts, worker metrics), so a new kind is counted,
/// filtered and exported everywhere as soon as it is added here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    ActivityWithoutMoney,
    DataGap,
}

impl FindingKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [FindingKind; 2] = [FindingKind::ActivityWithoutMoney, FindingKind::DataGap];

    /// The kind's name on the wire (JSON `kind`, alert filters, metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ActivityWithoutMoney => "activity_without_money",
            FindingKind::DataGap => "data_gap",
        }
    }

    /// The kind named `name` on the wire.
    pub fn parse(name: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether this kind is a verdict about money (as opposed to the absence of one).
    pub fn is_flag(self) -> bool {
        !matches!(self, FindingKind::DataGap)
    }
}

/// Where the chain from click to sale broke, when the numbers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainBreak {
    /// Activity grew but leads did not.
    ClickToLead,
    /// Leads grew but won deals did not.
    LeadToSale,
}

/// A growth figure with the numbers behind it. `growth` is `(value - baseline) / baseline`;
/// it is infinite (null in JSON) when the baseline is zero and the value is not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Growth {
    pub metric: String,
    pub value: f64,
    pub baseline: f64,
    #[serde(serialize_with = "finite_or_null")]
    pub growth: f64,
}

/// One flagged period, or one period without a verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub channel: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// The activity metric that grew most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<Growth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub money: Option<Growth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leads: Option<Growth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deals_won: Option<Growth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_break: Option<ChainBreak>,
    #[serde(serialize_with = "money_number")]
    pub spend: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// For data gaps: what is missing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
    /// The finding in plain words; filled by [`crate::text::describe_findings`] in the
    /// configured language (analysis itself stays free of wording).
    pub message: String,
}

/// The whole answer for one range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub granularity: Granularity,
    /// The analysed range, widened to whole periods.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The currency of the amounts, when all rows agree on one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub periods: Vec<PeriodMetrics>,
    pub findings: Vec<Finding>,
}

impl Analysis {
    /// Findings that are verdicts (every kind but `data_gap`).
    pub fn flagged(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.kind.is_flag())
    }

    /// How many findings of each kind, every kind of [`FindingKind::ALL`] present (zero or more).
    pub fn counts(&self) -> BTreeMap<FindingKind, usize> {
        let mut counts: BTreeMap<FindingKind, usize> =
            FindingKind::ALL.into_iter().map(|k| (k, 0)).collect();
        for finding in &self.findings {
            *counts.entry(finding.kind).or_default() += 1;
        }
        counts
    }
}

fn money_number<S: Serializer>(money: &Money, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(money.as_f64())
}

fn finite_or_null<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        s.serialize_f64(*value)
    } else {
        s.serialize_none()
    }
}

/// Sums of one channel in one period, as aggregated by polars.
#[derive(Debug, Clone, Default)]
struct Sums {
    impressions: u64,
    reach: u64,
    reach_missing: u64,
    clicks: u64,
    spend_micros: i64,
    leads: u64,
    deals_won: u64,
    revenue_micros: i64,
    won_without_amount: u64,
}

impl Sums {
    fn add(&mut self, other: &Sums) {
        self.impressions += other.impressions;
        self.reach += other.reach;
        self.reach_missing += other.reach_missing;
        self.clicks += other.clicks;
        self.spend_micros += other.spend_micros;
        self.leads += other.leads;
        self.deals_won += other.deals_won;
        self.revenue_micros += other.revenue_micros;
        self.won_without_amount += other.won_without_amount;
    }
}

/// Analyses `range` (widened to whole periods). `today` is the first day that has not ended in
/// the business's time zone; periods reaching it get no verdict.
pub fn analyze(
    ads: &DataFrame,
    deals: &DataFrame,
    coverage: &[Coverage],
    settings: &RuleSettings,
    range: DateRange,
    today: NaiveDate,
) -> Result<Analysis, AnalysisError> {
    let g = settings.granularity;
    let from = g.period_start(range.start);
    let to = g.period_end(g.period_start(range.end));
    let window = DateRange {
        start: from,
        end: to,
    };

    let sums = aggregate(ads, deals, g, window)?;
    let currencies = currencies(ads, deals, window)?;
    let mut warnings = Vec::new();
    if currencies.len() > 1 {
        warnings.push(format!(
            "amounts come in several currencies ({}); kassa sums them as they are and does not convert",
            currencies.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let currency = (currencies.len() == 1)
        .then(|| currencies.iter().next().cloned())
        .flatten();

    let mut starts = Vec::new();
    let mut start = from;
    while start <= to {
        starts.push(start);
        start = g.next_start(start);
    }
    // Gaps shared by every channel: the period has not ended, or a source missed days of it.
    let shared_gaps: Vec<Vec<String>> = starts
        .iter()
        .map(|&start| period_gaps(g, start, coverage, today))
        .collect();

    let channels: BTreeSet<&str> = sums.keys().map(|(c, _)| c.as_str()).collect();
    let mut periods = Vec::new();
    for channel in std::iter::once(ALL_CHANNELS).chain(channels.iter().copied()) {
        for (i, &start) in starts.iter().enumerate() {
            let total = if channel == ALL_CHANNELS {
                let mut total = Sums::default();
                for c in &channels {
                    if let Some(s) = sums.get(&(c.to_string(), start)) {
                        total.add(s);
                    }
                }
                total
            } else {
                sums.get(&(channel.to_string(), start))
                    .cloned()
                    .unwrap_or_default()
            };
            periods.push(period_metrics(
                channel,
                g,
                start,
                &total,
                shared_gaps[i].clone(),
            ));
        }
    }

    let mut findings = Vec::new();
    for channel in std::iter::once(ALL_CHANNELS).chain(channels.iter().copied()) {
        let rows: Vec<&PeriodMetrics> = periods.iter().filter(|p| p.channel == channel).collect();
        findings.extend(apply_rule(&rows, settings, currency.as_deref()));
    }
    for p in periods
        .iter()
        .filter(|p| p.channel == ALL_CHANNELS && !p.complete)
    {
        findings.push(data_gap(p, currency.as_deref()));
    }
    findings.sort_by(|a, b| {
        (
            a.period_start,
            a.kind == FindingKind::DataGap,
            a.channel != ALL_CHANNELS,
            &a.channel,
        )
            .cmp(&(
                b.period_start,
                b.kind == FindingKind::DataGap,
                b.channel != ALL_CHANNELS,
                &b.channel,
            ))
    });

    Ok(Analysis {
        granularity: g,
        from,
        to,
        currency,
        warnings,
        periods,
        findings,
    })
}

/// Periodises and sums both frames by channel and period, in polars.
fn aggregate(
    ads: &DataFrame,
    deals: &DataFrame,
    g: Granularity,
    window: DateRange,
) -> Result<HashMap<(String, NaiveDate), Sums>, AnalysisError> {
    let within = |column: &str| {
        col(column)
            .gt_eq(lit(window.start))
            .and(col(column).lt_eq(lit(window.end)))
    };
    let period = |column: &str| col(column).dt().truncate(lit(g.every())).alias("period");
    let count = |e: Expr| e.cast(DataType::UInt64);

    let ad_sums = ads
        .clone()
        .lazy()
        .filter(within("date"))
        .with_column(period("date"))
        .group_by([col("channel"), col("period")])
        .agg([
            count(col("impressions").sum()).alias("impressions"),
            count(col("reach").sum()).alias("reach"),
            count(col("reach").null_count()).alias("reach_missing"),
            count(col("clicks").sum()).alias("clicks"),
            col("spend_micros")
                .sum()
                .cast(DataType::Int64)
                .alias("spend_micros"),
        ])
        .collect()
        .map_err(at("summing ad rows by period"))?;
    let leads = deals
        .clone()
        .lazy()
        .filter(within("created_date"))
        .with_column(period("created_date"))
        .group_by([col("channel"), col("period")])
        .agg([count(len()).alias("leads")])
        .collect()
        .map_err(at("counting leads by period"))?;
    let won = deals
        .clone()
        .lazy()
        .filter(col("status").eq(lit("won")).and(within("closed_date")))
        .with_column(period("closed_date"))
        .group_by([col("channel"), col("period")])
        .agg([
            count(len()).alias("deals_won"),
            col("amount_micros")
                .sum()
                .cast(DataType::Int64)
                .alias("revenue_micros"),
            count(col("amount_micros").null_count()).alias("won_without_amount"),
        ])
        .collect()
        .map_err(at("summing won deals by period"))?;

    let mut sums: HashMap<(String, NaiveDate), Sums> = HashMap::new();
    for_each_group(
        &ad_sums,
        &["impressions", "reach", "reach_missing", "clicks"],
        &["spend_micros"],
        |key, u, i| {
            let s = sums.entry(key).or_default();
            s.impressions = u[0];
            s.reach = u[1];
            s.reach_missing = u[2];
            s.clicks = u[3];
            s.spend_micros = i[0];
        },
    )?;
    for_each_group(&leads, &["leads"], &[], |key, u, _| {
        sums.entry(key).or_default().leads = u[0];
    })?;
    for_each_group(
        &won,
        &["deals_won", "won_without_amount"],
        &["revenue_micros"],
        |key, u, i| {
            let s = sums.entry(key).or_default();
            s.deals_won = u[0];
            s.won_without_amount = u[1];
            s.revenue_micros = i[0];
        },
    )?;
    Ok(sums)
}

/// Walks an aggregate frame keyed by `channel` and `period`, handing each row's unsigned and
/// signed columns (nulls as zero: these are sums of rows that exist) to `visit`.
fn for_each_group(
    df: &DataFrame,
    unsigned: &[&str],
    signed: &[&str],
    mut visit: impl FnMut((String, NaiveDate), &[u64], &[i64]),
) -> Result<(), AnalysisError> {
    let read = at("reading the aggregates");
    let channels = df
        .column("channel")
        .and_then(|c| c.str().cloned())
        .map_err(read)?;
    let periods = df
        .column("period")
        .and_then(|c| c.cast(&DataType::Int32))
        .and_then(|c| c.i32().cloned())
        .map_err(at("reading the aggregates"))?;
    let unsigned: Vec<UInt64Chunked> = unsigned
        .iter()
        .map(|name| df.column(name).and_then(|c| c.u64().cloned()))
        .collect::<PolarsResult<_>>()
        .map_err(at("reading the aggregates"))?;
    let signed: Vec<Int64Chunked> = signed
        .iter()
        .map(|name| df.column(name).and_then(|c| c.i64().cloned()))
        .collect::<PolarsResult<_>>()
        .map_err(at("reading the aggregates"))?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let mut u = vec![0u64; unsigned.len()];
    let mut i = vec![0i64; signed.len()];
    for row in 0..df.height() {
        let (Some(channel), Some(days)) = (channels.get(row), periods.get(row)) else {
            continue;
        };
        for (slot, column) in u.iter_mut().zip(&unsigned) {
            *slot = column.get(row).unwrap_or(0);
        }
        for (slot, column) in i.iter_mut().zip(&signed) {
            *slot = column.get(row).unwrap_or(0);
        }
        visit(
            (channel.to_string(), epoch + Duration::days(i64::from(days))),
            &u,
            &i,
        );
    }
    Ok(())
}

/// The distinct currencies of the rows in the window.
fn currencies(
    ads: &DataFrame,
    deals: &DataFrame,
    window: DateRange,
) -> Result<BTreeSet<String>, AnalysisError> {
    let distinct = |df: &DataFrame, date: &str| -> PolarsResult<Vec<String>> {
        let out = df
            .clone()
            .lazy()
            .filter(
                col(date)
                    .gt_eq(lit(window.start))
                    .and(col(date).lt_eq(lit(window.end))),
            )
            .filter(col("currency").is_not_null())
            .group_by([col("currency")])
            .agg([len()])
            .collect()?;
        Ok(out
            .column("currency")?
            .str()?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect())
    };
    let mut set = BTreeSet::new();
    set.extend(distinct(ads, "date").map_err(at("listing currencies"))?);
    set.extend(distinct(deals, "created_date").map_err(at("listing currencies"))?);
    Ok(set)
}

fn period_gaps(
    g: Granularity,
    start: NaiveDate,
    coverage: &[Coverage],
    today: NaiveDate,
) -> Vec<String> {
    let end = g.period_end(start);
    let mut gaps = Vec::new();
    if end >= today {
        gaps.push(format!(
            "the {} has not ended yet (it ends {end})",
            g.noun()
        ));
    }
    let period = DateRange { start, end };
    for source in coverage {
        let missing = source.missing_in(period);
        if !missing.is_empty() {
            let days: i64 = missing.iter().map(DateRange::days).sum();
            let list = missing
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            gaps.push(format!(
                "source {:?} has no data for {days} day{} ({list})",
                source.source,
                if days == 1 { "" } else { "s" }
            ));
        }
    }
    gaps
}

fn period_metrics(
    channel: &str,
    g: Granularity,
    start: NaiveDate,
    s: &Sums,
    mut gaps: Vec<String>,
) -> PeriodMetrics {
    if s.won_without_amount > 0 {
        gaps.push(format!(
            "{} won deal{} without an amount, so revenue is unknown",
            s.won_without_amount,
            if s.won_without_amount == 1 { "" } else { "s" }
        ));
    }
    let ratio = |num: f64, den: f64| (den != 0.0).then(|| num / den);
    let spend = Money::from_micros(s.spend_micros);
    let revenue = Money::from_micros(s.revenue_micros);
    PeriodMetrics {
        channel: channel.to_string(),
        period_start: start,
        period_end: g.period_end(start),
        complete: gaps.is_empty(),
        gaps,
        impressions: s.impressions,
        reach: (s.reach_missing == 0).then_some(s.reach),
        clicks: s.clicks,
        ctr: ratio(s.clicks as f64, s.impressions as f64),
        spend,
        cpc: ratio(spend.as_f64(), s.clicks as f64),
        leads: s.leads,
        deals_won: s.deals_won,
        revenue,
        won_without_amount: s.won_without_amount,
        cost_per_won_deal: ratio(spend.as_f64(), s.deals_won as f64),
        romi: ratio(revenue.as_f64() - spend.as_f64(), spend.as_f64()),
    }
}

/// `(value - baseline) / baseline`; zero over a zero baseline is no growth, anything more is
/// unbounded growth.
pub fn growth(value: f64, baseline: f64) -> f64 {
    if baseline == 0.0 {
        if value == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(value)
        }
    } else {
        (value - baseline) / baseline
    }
}

fn growth_of(
    metric: &str,
    value: f64,
    history: &[&PeriodMetrics],
    read: impl Fn(&PeriodMetrics) -> Option<f64>,
) -> Option<Growth> {
    let values: Option<Vec<f64>> = history.iter().map(|p| read(p)).collect();
    let values = values?;
    let baseline = values.iter().sum::<f64>() / values.len() as f64;
    Some(Growth {
        metric: metric.to_string(),
        value,
        baseline,
        growth: growth(value, baseline),
    })
}

/// Applies the default rule to one channel's periods, in order.
fn apply_rule(
    rows: &[&PeriodMetrics],
    settings: &RuleSettings,
    currency: Option<&str>,
) -> Vec<Finding> {
    let n = settings.baseline_periods;
    let mut history: Vec<&PeriodMetrics> = Vec::new();
    let mut findings = Vec::new();
    for &p in rows {
        if !p.complete {
            continue;
        }
        if n > 0 && history.len() >= n {
            let base = &history[history.len() - n..];
            let activity = settings
                .activity_metrics
                .iter()
                .filter_map(|&m| growth_of(m.name(), m.value(p)?, base, |q| m.value(q)))
                .reduce(|best, next| {
                    if next.growth > best.growth {
                        next
                    } else {
                        best
                    }
                });
            let money_metric = settings.money_metric;
            let money = growth_of(money_metric.name(), money_metric.value(p), base, |q| {
                Some(money_metric.value(q))
            });
            if let (Some(activity), Some(money)) = (activity, money)
                && activity.growth >= settings.activity_growth_min
                && money.growth <= settings.money_growth_max
            {
                let leads = growth_of("leads", p.leads as f64, base, |q| Some(q.leads as f64));
                let deals_won = growth_of("deals_won", p.deals_won as f64, base, |q| {
                    Some(q.deals_won as f64)
                });
                let chain_break = match (&leads, &deals_won) {
                    (Some(l), _) if l.growth <= 0.0 => Some(ChainBreak::ClickToLead),
                    (Some(_), Some(w)) if w.growth <= 0.0 => Some(ChainBreak::LeadToSale),
                    _ => None,
                };
                findings.push(Finding {
                    kind: FindingKind::ActivityWithoutMoney,
                    channel: p.channel.clone(),
                    period_start: p.period_start,
                    period_end: p.period_end,
                    activity: Some(activity),
                    money: Some(money),
                    leads,
                    deals_won,
                    chain_break,
                    spend: p.spend,
                    currency: currency.map(str::to_string),
                    gaps: Vec::new(),
                    message: String::new(),
                });
            }
        }
        history.push(p);
    }
    findings
}

fn data_gap(p: &PeriodMetrics, currency: Option<&str>) -> Finding {
    Finding {
        kind: FindingKind::DataGap,
        channel: p.channel.clone(),
        period_start: p.period_start,
        period_end: p.period_end,
        activity: None,
        money: None,
        leads: None,
        deals_won: None,
        chain_break: None,
        spend: p.spend,
        currency: currency.map(str::to_string),
        gaps: p.gaps.clone(),
        message: String::new(),
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Channels in the order reports show them: the total first.
pub fn channel_order(analysis: &Analysis) -> Vec<&str> {
    let mut seen = BTreeMap::new();
    for p in &analysis.periods {
        seen.entry(p.channel.as_str()).or_insert(());
    }
    let mut channels: Vec<&str> = seen.into_keys().filter(|c| *c != ALL_CHANNELS).collect();
    channels.insert(0, ALL_CHANNELS);
    channels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_follow_iso_weeks_and_calendar_months() {
        let g = Granularity::Week;
        assert_eq!(g.period_start(d("2025-03-16")), d("2025-03-10"));
        assert_eq!(g.period_start(d("2025-03-10")), d("2025-03-10"));
        assert_eq!(g.period_end(d("2025-03-10")), d("2025-03-16"));
        assert_eq!(
            Granularity::Month.period_start(d("2024-02-29")),
            d("2024-02-01")
        );
        assert_eq!(
            Granularity::Month.period_end(d("2024-02-01")),
            d("2024-02-29")
        );
        assert_eq!(
            Granularity::Day.period_end(d("2024-02-01")),
            d("2024-02-01")
        );
    }

    #[test]
    fn growth_handles_zero_baselines() {
        assert_eq!(growth(12.0, 10.0), 0.2);
        assert_eq!(growth(0.0, 0.0), 0.0);
        assert!(growth(5.0, 0.0).is_infinite());
    }
}
