//! Reconciliation: what the reports claim against what kassa observed. A claim is a row of a
//! report (`csv_report`: its own dates, any length) or what an ad platform claims its rows
//! brought (`claimed_*` of the ads frame), summed per source, channel and kassa period. For
//! each, the observation over the same channel and dates: leads are deals created, purchases
//! deals won, revenue the amounts of won deals (the CRM); impressions, reach, clicks and spend
//! the ad platforms' own numbers; CPL is spend over CRM leads, ROAS revenue over spend.
//!
//! A claim that flatters beyond the tolerance ([`ReconcileSettings`]) is a `claim_mismatch`
//! (more leads, purchases, revenue, clicks, ROAS; a lower CPL), one on the other side a
//! `claim_below_observed`. A claim whose observation is incomplete (a source did not cover its
//! dates, won deals lack amounts, reach was not reported) gets no verdict and says why
//! ([`ClaimGap`]): missing data is never read as zero. Per kassa period, the platforms' claimed
//! purchases and revenue over every channel are held against the CRM's won deals: several
//! platforms counting the same sale is an `overclaimed_total`.
//!
//! The frames are summed per channel and day in polars once; claims then add up days, so a
//! monthly report row is compared over its own month whatever the analysis granularity.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDate};
use polars::prelude::*;

use super::periods::Granularity;
use super::{ALL_CHANNELS, AnalysisError, Finding, FindingDetail, at};
use crate::domain::{ClaimMetric, Coverage, DateRange, Money};

/// `[reconciliation]`: how far a claim may stray from the observation before it is a finding.
/// A gap counts when it exceeds both `tolerance` (relative to the observation) and the metric's
/// absolute floor ([`MinAbs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileSettings {
    pub tolerance: f64,
    pub min_abs: MinAbs,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            tolerance: 0.10,
            min_abs: MinAbs::default(),
        }
    }
}

/// The absolute floor a gap must exceed, per metric: counts in units, money (`revenue`,
/// `spend`) as a fraction of the observed amount. CPL takes spend's floor; ROAS has none
/// beyond the tolerance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinAbs {
    pub leads: f64,
    pub purchases: f64,
    pub clicks: f64,
    pub impressions: f64,
    pub reach: f64,
    pub revenue: f64,
    pub spend: f64,
}

impl Default for MinAbs {
    fn default() -> Self {
        MinAbs {
            leads: 3.0,
            purchases: 2.0,
            clicks: 50.0,
            impressions: 500.0,
            reach: 500.0,
            revenue: 0.01,
            spend: 0.01,
        }
    }
}

impl MinAbs {
    /// The keys of `min_abs`, in the order the defaults list them.
    pub const KEYS: [&'static str; 7] = [
        "leads",
        "purchases",
        "clicks",
        "impressions",
        "reach",
        "revenue",
        "spend",
    ];

    /// The floor of `key` (one of [`MinAbs::KEYS`]), to set it.
    pub fn slot(&mut self, key: &str) -> Option<&mut f64> {
        Some(match key {
            "leads" => &mut self.leads,
            "purchases" => &mut self.purchases,
            "clicks" => &mut self.clicks,
            "impressions" => &mut self.impressions,
            "reach" => &mut self.reach,
            "revenue" => &mut self.revenue,
            "spend" => &mut self.spend,
            _ => return None,
        })
    }

    /// The absolute gap a claim of `metric` must exceed when kassa observed `observed`.
    pub fn floor(&self, metric: ClaimMetric, observed: f64) -> f64 {
        match metric {
            ClaimMetric::Leads => self.leads,
            ClaimMetric::Purchases => self.purchases,
            ClaimMetric::Clicks => self.clicks,
            ClaimMetric::Impressions => self.impressions,
            ClaimMetric::Reach => self.reach,
            ClaimMetric::Revenue => self.revenue * observed.abs(),
            ClaimMetric::Spend | ClaimMetric::Cpl => self.spend * observed.abs(),
            ClaimMetric::Roas => 0.0,
        }
    }
}

/// Where a claim comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOrigin {
    /// A report row (`csv_report`), with the report's note on it.
    Report { note: Option<String> },
    /// An ad platform's own claim on its rows.
    Platform,
}

/// Why a claim gets no verdict. Typed; `text` words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimGap {
    /// The claim's dates reach today or later; `ends` is its last day.
    NotEnded { ends: NaiveDate },
    /// A source the observation needs did not cover these days of the claim.
    SourceMissing {
        source: String,
        ranges: Vec<DateRange>,
    },
    /// This many won deals lack an amount, so the observed revenue is unknown.
    WonWithoutAmount(u64),
    /// An ad platform did not report reach for some day of the claim.
    ReachUnknown,
    /// The observed ratio is undefined: CPL without CRM leads, ROAS without spend.
    Undefined,
    /// No ad source delivers the channel, so kassa observes none of its activity: not zero.
    NoAdSource { channel: String },
    /// The claim is an amount in another currency than the data's: not comparable.
    CurrencyMismatch { claimed: String, observed: String },
    /// Amounts the claim or its observation is made of, in `currency` on these days, have no
    /// rate into the reporting currency (`None`: none is set), so they are unknown.
    MissingRate {
        currency: String,
        reporting: Option<String>,
        ranges: Vec<DateRange>,
    },
}

/// What the reconciliation concluded about one claim.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimVerdict {
    /// The observation confirms it, within the tolerance.
    Confirmed,
    /// The claim flatters beyond the tolerance (`claim_mismatch`).
    Mismatch,
    /// The claim falls short of the observation beyond the tolerance (`claim_below_observed`).
    BelowObserved,
    /// The observation is incomplete; never empty.
    NoVerdict(Vec<ClaimGap>),
}

/// One claim beside its observation: a row of the `reconciliation` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconciliationRow {
    pub channel: String,
    /// The claim's own dates.
    pub period: DateRange,
    pub metric: ClaimMetric,
    /// The source that claims it.
    pub claimed_by: String,
    pub origin: ClaimOrigin,
    pub claimed: f64,
    /// `None` when the observation is incomplete (see the verdict's reasons).
    pub observed: Option<f64>,
    /// `claimed - observed`.
    pub gap: Option<f64>,
    /// `gap / observed`; infinite when nothing was observed and something is claimed.
    pub gap_ratio: Option<f64>,
    /// The currency of money metrics.
    pub currency: Option<String>,
    pub verdict: ClaimVerdict,
    /// The ad platforms' spend over the claim's channel and dates, when they covered them.
    pub spend: Option<Money>,
    /// Spend per claimed lead and per CRM lead (leads claims).
    pub cpl_claimed: Option<f64>,
    pub cpl_observed: Option<f64>,
    /// Claimed revenue and CRM revenue over spend (revenue claims).
    pub roas_claimed: Option<f64>,
    pub roas_observed: Option<f64>,
}

/// The numbers of a `claim_mismatch` or `claim_below_observed` finding.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimCheck {
    pub metric: ClaimMetric,
    pub claimed: f64,
    pub observed: f64,
    pub gap: f64,
    pub gap_ratio: f64,
    pub claimed_by: String,
    pub origin: ClaimOrigin,
}

/// One platform's part of an [`Overclaim`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimShare {
    pub source: String,
    pub claimed: f64,
}

/// The numbers of an `overclaimed_total` finding: the platforms together claim more purchases
/// (or revenue) in a period than the CRM recorded over every channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Overclaim {
    pub metric: ClaimMetric,
    pub claimed: f64,
    pub observed: f64,
    pub gap: f64,
    pub gap_ratio: f64,
    /// Each claiming source's sum, largest first.
    pub shares: Vec<ClaimShare>,
}

/// The reconciliation's table and findings.
#[derive(Debug, Default)]
pub(super) struct Reconciled {
    pub rows: Vec<ReconciliationRow>,
    pub findings: Vec<Finding>,
}

/// One channel's day.
#[derive(Debug, Clone, Default)]
struct Day {
    impressions: u64,
    clicks: u64,
    reach: u64,
    reach_missing: u64,
    spend_micros: i64,
    leads: u64,
    won: u64,
    revenue_micros: i64,
    won_without_amount: u64,
}

impl Day {
    fn add(&mut self, o: &Day) {
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.reach += o.reach;
        self.reach_missing += o.reach_missing;
        self.spend_micros += o.spend_micros;
        self.leads += o.leads;
        self.won += o.won;
        self.revenue_micros += o.revenue_micros;
        self.won_without_amount += o.won_without_amount;
    }
}

/// A claim before it is judged.
struct Claim {
    source: String,
    channel: String,
    period: DateRange,
    metric: ClaimMetric,
    value: f64,
    currency: Option<String>,
    origin: ClaimOrigin,
}

/// What the reconciliation reads besides the frames.
pub(super) struct Context<'a> {
    pub coverage: &'a [Coverage],
    pub settings: &'a ReconcileSettings,
    pub granularity: Granularity,
    /// Claims whose dates meet this range are reconciled.
    pub reported: DateRange,
    pub today: NaiveDate,
    pub currency: Option<&'a str>,
    /// The channels each ad source delivers (computed once for the whole analysis).
    pub ad_channels: &'a HashMap<String, BTreeSet<String>>,
    /// Days whose amounts have no rate into the reporting currency.
    pub missing_rates: &'a super::currency::MissingRates,
}

/// Reconciles every claim of the report frame and of the ads frame's `claimed_*` columns.
pub(super) fn reconcile(
    ads: &DataFrame,
    deals: &DataFrame,
    claims: &DataFrame,
    cx: &Context<'_>,
) -> Result<Reconciled, AnalysisError> {
    let mut all = report_claims(claims, cx)?;
    all.extend(platform_claims(ads, cx)?);
    if all.is_empty() {
        return Ok(Reconciled::default());
    }
    let window = DateRange {
        start: all
            .iter()
            .map(|c| c.period.start)
            .min()
            .unwrap_or(cx.reported.start),
        end: all
            .iter()
            .map(|c| c.period.end)
            .max()
            .unwrap_or(cx.reported.end),
    };
    let days = daily(ads, deals, window)?;
    let sources = SourceRoles::of(deals, cx.ad_channels)?;

    let mut out = Reconciled::default();
    for claim in &all {
        let row = judge(claim, &days, &sources, cx);
        let check = |observed: f64, gap: f64, gap_ratio: f64| ClaimCheck {
            metric: claim.metric,
            claimed: claim.value,
            observed,
            gap,
            gap_ratio,
            claimed_by: claim.source.clone(),
            origin: claim.origin.clone(),
        };
        if let (Some(observed), Some(gap), Some(ratio)) = (row.observed, row.gap, row.gap_ratio) {
            let detail = match row.verdict {
                ClaimVerdict::Mismatch => {
                    Some(FindingDetail::ClaimMismatch(check(observed, gap, ratio)))
                }
                ClaimVerdict::BelowObserved => Some(FindingDetail::ClaimBelowObserved(check(
                    observed, gap, ratio,
                ))),
                _ => None,
            };
            if let Some(detail) = detail {
                out.findings.push(Finding {
                    channel: row.channel.clone(),
                    period_start: row.period.start,
                    period_end: row.period.end,
                    spend: row.spend.unwrap_or(Money::ZERO),
                    // The spend (and a leads claim's money at stake, which is that spend) is
                    // in the reporting currency even when the claim counts leads.
                    currency: row
                        .currency
                        .clone()
                        .or_else(|| cx.currency.map(str::to_string)),
                    detail,
                    message: String::new(),
                });
            }
        }
        out.rows.push(row);
    }
    out.findings.extend(overclaims(&all, &days, &sources, cx));
    out.rows.sort_by(|a, b| {
        (a.period.start, &a.channel, a.metric, &a.claimed_by).cmp(&(
            b.period.start,
            &b.channel,
            b.metric,
            &b.claimed_by,
        ))
    });
    Ok(out)
}

/// The claims of the report frame (CLAIMS schema) whose dates meet the reported range.
fn report_claims(claims: &DataFrame, cx: &Context<'_>) -> Result<Vec<Claim>, AnalysisError> {
    let stage = "reading the report claims";
    let text = |name: &str| {
        claims
            .column(name)
            .and_then(|c| c.str().cloned())
            .map_err(at(stage))
    };
    let date = |name: &str| {
        claims
            .column(name)
            .and_then(|c| c.cast(&DataType::Int32))
            .and_then(|c| c.i32().cloned())
            .map_err(at(stage))
    };
    let (sources, channels, metrics, currencies, notes) = (
        text("source")?,
        text("channel")?,
        text("metric")?,
        text("currency")?,
        text("note")?,
    );
    let (starts, ends) = (date("period_start")?, date("period_end")?);
    let values = claims
        .column("value_micros")
        .and_then(|c| c.i64().cloned())
        .map_err(at(stage))?;
    let mut out = Vec::new();
    for row in 0..claims.height() {
        let (Some(source), Some(channel), Some(metric), Some(start), Some(end), Some(value)) = (
            sources.get(row),
            channels.get(row),
            metrics.get(row).and_then(ClaimMetric::parse),
            starts.get(row).map(from_epoch),
            ends.get(row).map(from_epoch),
            values.get(row),
        ) else {
            continue;
        };
        let Some(period) = DateRange::new(start, end) else {
            continue;
        };
        if period.intersect(&cx.reported).is_none() {
            continue;
        }
        out.push(Claim {
            source: source.to_string(),
            channel: channel.to_string(),
            period,
            metric,
            value: Money::from_micros(value).as_f64(),
            currency: currencies
                .get(row)
                .map(str::to_string)
                .or_else(|| cx.currency.map(str::to_string)),
            origin: ClaimOrigin::Report {
                note: notes.get(row).map(str::to_string),
            },
        });
    }
    Ok(out)
}

/// What each ad source claims per channel and kassa period: the sum of the rows that report a
/// claim; a period in which no row reports one has no claim (not reported is not zero).
fn platform_claims(ads: &DataFrame, cx: &Context<'_>) -> Result<Vec<Claim>, AnalysisError> {
    let stage = "summing platform claims by period";
    let within = col("date")
        .gt_eq(lit(cx.reported.start))
        .and(col("date").lt_eq(lit(cx.reported.end)));
    let reported = |name: &str| col(name).is_not_null().sum().cast(DataType::UInt64);
    let sums = ads
        .clone()
        .lazy()
        .filter(within)
        .with_column(
            col("date")
                .dt()
                .truncate(lit(cx.granularity.every()))
                .alias("period"),
        )
        .group_by([col("source"), col("channel"), col("period")])
        .agg([
            col("claimed_leads")
                .sum()
                .cast(DataType::Int64)
                .alias("leads"),
            reported("claimed_leads").alias("leads_n"),
            col("claimed_purchases")
                .sum()
                .cast(DataType::Int64)
                .alias("purchases"),
            reported("claimed_purchases").alias("purchases_n"),
            col("claimed_revenue_micros")
                .sum()
                .cast(DataType::Int64)
                .alias("revenue"),
            reported("claimed_revenue_micros").alias("revenue_n"),
            col("currency").drop_nulls().first().alias("currency"),
        ])
        .collect()
        .map_err(at(stage))?;
    let text = |name: &str| {
        sums.column(name)
            .and_then(|c| c.str().cloned())
            .map_err(at(stage))
    };
    let int = |name: &str| {
        sums.column(name)
            .and_then(|c| c.i64().cloned())
            .map_err(at(stage))
    };
    let count = |name: &str| {
        sums.column(name)
            .and_then(|c| c.u64().cloned())
            .map_err(at(stage))
    };
    let (sources, channels, currencies) = (text("source")?, text("channel")?, text("currency")?);
    let periods = sums
        .column("period")
        .and_then(|c| c.cast(&DataType::Int32))
        .and_then(|c| c.i32().cloned())
        .map_err(at(stage))?;
    let metrics = [
        (ClaimMetric::Leads, int("leads")?, count("leads_n")?, 1.0),
        (
            ClaimMetric::Purchases,
            int("purchases")?,
            count("purchases_n")?,
            1.0,
        ),
        (
            ClaimMetric::Revenue,
            int("revenue")?,
            count("revenue_n")?,
            1e-6,
        ),
    ];
    let mut out = Vec::new();
    for row in 0..sums.height() {
        let (Some(source), Some(channel), Some(start)) = (
            sources.get(row),
            channels.get(row),
            periods.get(row).map(from_epoch),
        ) else {
            continue;
        };
        for (metric, values, reported, scale) in &metrics {
            if reported.get(row).unwrap_or(0) == 0 {
                continue;
            }
            let value = values.get(row).unwrap_or(0) as f64 * scale;
            out.push(Claim {
                source: source.to_string(),
                channel: channel.to_string(),
                period: DateRange {
                    start,
                    end: cx.granularity.period_end(start),
                },
                metric: *metric,
                value,
                currency: (*metric == ClaimMetric::Revenue)
                    .then(|| currencies.get(row).or(cx.currency).map(str::to_string))
                    .flatten(),
                origin: ClaimOrigin::Platform,
            });
        }
    }
    Ok(out)
}

fn from_epoch(days: i32) -> NaiveDate {
    chrono::DateTime::UNIX_EPOCH.date_naive() + Duration::days(i64::from(days))
}

type Days = HashMap<String, BTreeMap<NaiveDate, Day>>;

/// Stores one aggregate row's unsigned and signed sums in a day.
type SetDay = dyn Fn(&mut Day, &[u64], &[i64]);

/// Both frames summed per channel and day over `window`, in polars.
fn daily(ads: &DataFrame, deals: &DataFrame, window: DateRange) -> Result<Days, AnalysisError> {
    let within = |column: &str| {
        col(column)
            .gt_eq(lit(window.start))
            .and(col(column).lt_eq(lit(window.end)))
    };
    let u = |e: Expr| e.cast(DataType::UInt64);
    let i = |e: Expr| e.cast(DataType::Int64);
    let ad_days = ads
        .clone()
        .lazy()
        .filter(within("date"))
        .group_by([col("channel"), col("date").alias("day")])
        .agg([
            u(col("impressions").sum()).alias("impressions"),
            u(col("clicks").sum()).alias("clicks"),
            u(col("reach").sum()).alias("reach"),
            u(col("reach").null_count()).alias("reach_missing"),
            i(col("spend_micros").sum()).alias("spend_micros"),
        ])
        .collect()
        .map_err(at("summing ad rows by day"))?;
    let lead_days = deals
        .clone()
        .lazy()
        .filter(within("created_date"))
        .group_by([col("channel"), col("created_date").alias("day")])
        .agg([u(len()).alias("leads")])
        .collect()
        .map_err(at("counting leads by day"))?;
    let won_days = deals
        .clone()
        .lazy()
        .filter(col("status").eq(lit("won")).and(within("closed_date")))
        .group_by([col("channel"), col("closed_date").alias("day")])
        .agg([
            u(len()).alias("won"),
            i(col("amount_micros").sum()).alias("revenue_micros"),
            u(col("amount_micros").null_count()).alias("won_without_amount"),
        ])
        .collect()
        .map_err(at("summing won deals by day"))?;

    let mut days: Days = HashMap::new();
    let mut visit = |df: &DataFrame,
                     unsigned: &[&str],
                     signed: &[&str],
                     set: &SetDay|
     -> Result<(), AnalysisError> {
        let stage = "reading the daily sums";
        let channels = df
            .column("channel")
            .and_then(|c| c.str().cloned())
            .map_err(at(stage))?;
        let dates = df
            .column("day")
            .and_then(|c| c.cast(&DataType::Int32))
            .and_then(|c| c.i32().cloned())
            .map_err(at(stage))?;
        let unsigned: Vec<UInt64Chunked> = unsigned
            .iter()
            .map(|n| df.column(n).and_then(|c| c.u64().cloned()))
            .collect::<PolarsResult<_>>()
            .map_err(at(stage))?;
        let signed: Vec<Int64Chunked> = signed
            .iter()
            .map(|n| df.column(n).and_then(|c| c.i64().cloned()))
            .collect::<PolarsResult<_>>()
            .map_err(at(stage))?;
        for row in 0..df.height() {
            let (Some(channel), Some(day)) = (channels.get(row), dates.get(row)) else {
                continue;
            };
            let us: Vec<u64> = unsigned.iter().map(|c| c.get(row).unwrap_or(0)).collect();
            let is: Vec<i64> = signed.iter().map(|c| c.get(row).unwrap_or(0)).collect();
            let entry = days
                .entry(channel.to_string())
                .or_default()
                .entry(from_epoch(day))
                .or_default();
            set(entry, &us, &is);
        }
        Ok(())
    };
    visit(
        &ad_days,
        &["impressions", "clicks", "reach", "reach_missing"],
        &["spend_micros"],
        &|d, u, i| {
            (d.impressions, d.clicks, d.reach, d.reach_missing) = (u[0], u[1], u[2], u[3]);
            d.spend_micros = i[0];
        },
    )?;
    visit(&lead_days, &["leads"], &[], &|d, u, _| d.leads = u[0])?;
    visit(
        &won_days,
        &["won", "won_without_amount"],
        &["revenue_micros"],
        &|d, u, i| {
            (d.won, d.won_without_amount) = (u[0], u[1]);
            d.revenue_micros = i[0];
        },
    )?;
    Ok(days)
}

/// The sum of `channel`'s days in `period` (every channel's for [`ALL_CHANNELS`]).
fn observe(days: &Days, channel: &str, period: DateRange) -> Day {
    let mut total = Day::default();
    for (c, by_day) in days {
        if channel == ALL_CHANNELS || c == channel {
            for day in by_day.range(period.start..=period.end).map(|(_, d)| d) {
                total.add(day);
            }
        }
    }
    total
}

/// Which sources deliver deals and which deliver which channels' ads, from the frames; a
/// covered source with no rows at all may be either, so its missing days concern every claim.
struct SourceRoles {
    crm: BTreeSet<String>,
    ads: HashMap<String, BTreeSet<String>>,
}

impl SourceRoles {
    fn of(
        deals: &DataFrame,
        ad_channels: &HashMap<String, BTreeSet<String>>,
    ) -> Result<SourceRoles, AnalysisError> {
        let crm = deals
            .column("source")
            .and_then(|c| c.unique())
            .and_then(|c| c.str().cloned())
            .map_err(at("listing the CRM sources"))?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect();
        Ok(SourceRoles {
            crm,
            ads: ad_channels.clone(),
        })
    }

    /// Whether `source`'s missing days can change a CRM observation.
    fn feeds_crm(&self, source: &str) -> bool {
        self.crm.contains(source) || !self.ads.contains_key(source)
    }

    /// Whether some ad source delivers `channel`, or may (a covered source with no rows yet
    /// could be an ad source of any channel).
    fn may_deliver(&self, channel: &str, coverage: &[Coverage]) -> bool {
        channel == ALL_CHANNELS
            || self.ads.values().any(|channels| channels.contains(channel))
            || coverage
                .iter()
                .any(|c| !self.crm.contains(&c.source) && !self.ads.contains_key(&c.source))
    }

    /// Whether `source`'s missing days can change an ad observation of `channel`.
    fn feeds_ads(&self, source: &str, channel: &str) -> bool {
        match self.ads.get(source) {
            Some(channels) => channel == ALL_CHANNELS || channels.contains(channel),
            None => !self.crm.contains(source),
        }
    }
}

/// Whether the metric's observation reads the CRM, the ad platforms, or both.
fn needs(metric: ClaimMetric) -> (bool, bool) {
    match metric {
        ClaimMetric::Leads | ClaimMetric::Purchases | ClaimMetric::Revenue => (true, false),
        ClaimMetric::Impressions
        | ClaimMetric::Reach
        | ClaimMetric::Clicks
        | ClaimMetric::Spend => (false, true),
        ClaimMetric::Cpl | ClaimMetric::Roas => (true, true),
    }
}

/// The gaps that keep `period` of `channel` from being observed for `metric`, ignoring what
/// the values themselves lack.
fn coverage_gaps(
    metric: ClaimMetric,
    channel: &str,
    period: DateRange,
    sources: &SourceRoles,
    cx: &Context<'_>,
) -> Vec<ClaimGap> {
    let (crm, ads) = needs(metric);
    let mut gaps = Vec::new();
    if period.end >= cx.today {
        gaps.push(ClaimGap::NotEnded { ends: period.end });
    }
    if ads && !sources.may_deliver(channel, cx.coverage) {
        gaps.push(ClaimGap::NoAdSource {
            channel: channel.to_string(),
        });
    }
    for c in cx.coverage {
        let concerned =
            (crm && sources.feeds_crm(&c.source)) || (ads && sources.feeds_ads(&c.source, channel));
        if !concerned {
            continue;
        }
        let ranges = c.missing_in(period);
        if !ranges.is_empty() {
            gaps.push(ClaimGap::SourceMissing {
                source: c.source.clone(),
                ranges,
            });
        }
    }
    gaps
}

/// Whether the ad platforms covered `channel` over all of `period` (so its spend is known).
fn ads_covered(channel: &str, period: DateRange, sources: &SourceRoles, cx: &Context<'_>) -> bool {
    coverage_gaps(ClaimMetric::Spend, channel, period, sources, cx).is_empty()
}

/// The observed value of `metric` in `day`, or why it is unknown.
fn observed_value(metric: ClaimMetric, day: &Day) -> Result<f64, ClaimGap> {
    let spend = Money::from_micros(day.spend_micros).as_f64();
    let revenue = || {
        if day.won_without_amount > 0 {
            Err(ClaimGap::WonWithoutAmount(day.won_without_amount))
        } else {
            Ok(Money::from_micros(day.revenue_micros).as_f64())
        }
    };
    match metric {
        ClaimMetric::Impressions => Ok(day.impressions as f64),
        ClaimMetric::Clicks => Ok(day.clicks as f64),
        ClaimMetric::Reach if day.reach_missing > 0 => Err(ClaimGap::ReachUnknown),
        ClaimMetric::Reach => Ok(day.reach as f64),
        ClaimMetric::Spend => Ok(spend),
        ClaimMetric::Leads => Ok(day.leads as f64),
        ClaimMetric::Purchases => Ok(day.won as f64),
        ClaimMetric::Revenue => revenue(),
        ClaimMetric::Cpl if day.leads == 0 => Err(ClaimGap::Undefined),
        ClaimMetric::Cpl => Ok(spend / day.leads as f64),
        ClaimMetric::Roas if day.spend_micros == 0 => Err(ClaimGap::Undefined),
        ClaimMetric::Roas => Ok(revenue()? / spend),
    }
}

/// Where a claim stands against its observation.
fn verdict(
    metric: ClaimMetric,
    claimed: f64,
    observed: f64,
    s: &ReconcileSettings,
) -> ClaimVerdict {
    let gap = claimed - observed;
    let beyond =
        gap.abs() > s.tolerance * observed.abs() && gap.abs() > s.min_abs.floor(metric, observed);
    // A lower cost per lead flatters, like more of anything else.
    let flatters = if metric == ClaimMetric::Cpl {
        gap < 0.0
    } else {
        gap > 0.0
    };
    match (beyond, flatters) {
        (false, _) => ClaimVerdict::Confirmed,
        (true, true) => ClaimVerdict::Mismatch,
        (true, false) => ClaimVerdict::BelowObserved,
    }
}

/// `gap / observed`, infinite over nothing observed.
fn ratio(gap: f64, observed: f64) -> f64 {
    if observed == 0.0 {
        if gap == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(gap)
        }
    } else {
        gap / observed
    }
}

fn judge(claim: &Claim, days: &Days, sources: &SourceRoles, cx: &Context<'_>) -> ReconciliationRow {
    let day = observe(days, &claim.channel, claim.period);
    let mut gaps = coverage_gaps(claim.metric, &claim.channel, claim.period, sources, cx);
    if claim.metric.is_money()
        && let (Some(claimed), Some(observed)) = (&claim.currency, cx.currency)
        && !claimed.eq_ignore_ascii_case(observed)
    {
        gaps.push(ClaimGap::CurrencyMismatch {
            claimed: claimed.clone(),
            observed: observed.to_string(),
        });
    }
    if claim.metric.is_money() || claim.metric == ClaimMetric::Roas {
        let channel = (claim.channel != super::ALL_CHANNELS).then_some(claim.channel.as_str());
        for (currency, ranges) in cx.missing_rates.within(channel, claim.period) {
            gaps.push(ClaimGap::MissingRate {
                currency,
                reporting: cx.missing_rates.reporting.clone(),
                ranges,
            });
        }
    }
    let observed = match observed_value(claim.metric, &day) {
        Ok(value) => Some(value),
        Err(gap) => {
            gaps.push(gap);
            None
        }
    };
    let observed = observed.filter(|_| gaps.is_empty());
    let verdict = match observed {
        Some(observed) => verdict(claim.metric, claim.value, observed, cx.settings),
        None => ClaimVerdict::NoVerdict(gaps),
    };
    let spend = ads_covered(&claim.channel, claim.period, sources, cx)
        .then(|| Money::from_micros(day.spend_micros));
    let per = |num: Option<f64>, den: Option<f64>| match (num, den) {
        (Some(n), Some(d)) if d != 0.0 => Some(n / d),
        _ => None,
    };
    let spend_f = spend.map(Money::as_f64);
    let (mut cpl_claimed, mut cpl_observed, mut roas_claimed, mut roas_observed) =
        (None, None, None, None);
    match claim.metric {
        ClaimMetric::Leads => {
            cpl_claimed = per(spend_f, Some(claim.value));
            cpl_observed = per(spend_f, observed);
        }
        ClaimMetric::Revenue => {
            roas_claimed = per(Some(claim.value), spend_f);
            roas_observed = per(observed, spend_f);
        }
        _ => {}
    }
    ReconciliationRow {
        channel: claim.channel.clone(),
        period: claim.period,
        metric: claim.metric,
        claimed_by: claim.source.clone(),
        origin: claim.origin.clone(),
        claimed: claim.value,
        observed,
        gap: observed.map(|o| claim.value - o),
        gap_ratio: observed.map(|o| ratio(claim.value - o, o)),
        currency: if claim.metric.is_money() {
            claim
                .currency
                .clone()
                .or_else(|| cx.currency.map(str::to_string))
        } else {
            None
        },
        verdict,
        spend,
        cpl_claimed,
        cpl_observed,
        roas_claimed,
        roas_observed,
    }
}

/// Per kassa period, the platforms' claimed purchases (and revenue) over every channel against
/// the CRM's won deals (revenue): a finding when two or more sources together claim more than
/// the CRM recorded beyond the tolerance. (One source alone is a `claim_mismatch` already.)
fn overclaims(
    claims: &[Claim],
    days: &Days,
    sources: &SourceRoles,
    cx: &Context<'_>,
) -> Vec<Finding> {
    let mut totals: BTreeMap<(DateRange, ClaimMetric), BTreeMap<&str, f64>> = BTreeMap::new();
    for c in claims.iter().filter(|c| {
        c.origin == ClaimOrigin::Platform
            && matches!(c.metric, ClaimMetric::Purchases | ClaimMetric::Revenue)
    }) {
        *totals
            .entry((c.period, c.metric))
            .or_default()
            .entry(c.source.as_str())
            .or_default() += c.value;
    }
    let mut findings = Vec::new();
    for ((period, metric), by_source) in totals {
        if by_source.len() < 2
            || !coverage_gaps(metric, ALL_CHANNELS, period, sources, cx).is_empty()
        {
            continue;
        }
        let day = observe(days, ALL_CHANNELS, period);
        let Ok(observed) = observed_value(metric, &day) else {
            continue;
        };
        let claimed: f64 = by_source.values().sum();
        if verdict(metric, claimed, observed, cx.settings) != ClaimVerdict::Mismatch {
            continue;
        }
        let mut shares: Vec<ClaimShare> = by_source
            .into_iter()
            .map(|(source, claimed)| ClaimShare {
                source: source.to_string(),
                claimed,
            })
            .collect();
        shares.sort_by(|a, b| b.claimed.total_cmp(&a.claimed));
        let gap = claimed - observed;
        findings.push(Finding {
            channel: ALL_CHANNELS.to_string(),
            period_start: period.start,
            period_end: period.end,
            spend: Money::from_micros(day.spend_micros),
            currency: cx.currency.map(str::to_string),
            detail: FindingDetail::OverclaimedTotal(Overclaim {
                metric,
                claimed,
                observed,
                gap,
                gap_ratio: ratio(gap, observed),
                shares,
            }),
            message: String::new(),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lower_cpl_flatters_and_floors_hold_small_gaps() {
        let s = ReconcileSettings::default();
        assert_eq!(
            verdict(ClaimMetric::Cpl, 300.0, 1150.0, &s),
            ClaimVerdict::Mismatch
        );
        assert_eq!(
            verdict(ClaimMetric::Leads, 3.0, 0.0, &s),
            ClaimVerdict::Confirmed
        );
        assert_eq!(
            verdict(ClaimMetric::Leads, 4.0, 0.0, &s),
            ClaimVerdict::Mismatch
        );
        assert_eq!(
            verdict(ClaimMetric::Revenue, 100.0, 120.0, &s),
            ClaimVerdict::BelowObserved
        );
    }
}
