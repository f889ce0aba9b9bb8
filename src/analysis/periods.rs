//! Periods: how long one is ([`Granularity`]), the polars aggregation that turns millions of
//! daily rows into one row per channel and period, and why a period gets no verdict
//! ([`GapReason`]).
//!
//! This is the only part of the analysis that meets the raw frames; the rules read the small
//! period table it returns.

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, Duration, Months, NaiveDate};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{ActivityMetric, AnalysisError, Finding, FindingDetail, PeriodMetrics, Verdict, at};
use crate::domain::{Coverage, DateRange, Money};

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
            Granularity::Month => date.with_day0(0).unwrap_or(date),
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
    pub(super) fn every(self) -> &'static str {
        match self {
            Granularity::Day => "1d",
            Granularity::Week => "1w",
            Granularity::Month => "1mo",
        }
    }
}

/// Why a period gets no verdict. Typed, not worded: `text` says it in each language, and the
/// JSON contract words it in English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GapReason {
    /// The period reaches today or later; `ends` is its last day.
    NotEnded {
        granularity: Granularity,
        ends: NaiveDate,
    },
    /// A source did not cover these days of the period (in order, disjoint).
    SourceMissing {
        source: String,
        ranges: Vec<DateRange>,
    },
    /// This many won deals lack an amount, so the period's revenue is unknown.
    WonWithoutAmount(u64),
    /// The period's data is complete, but only `have` complete periods of its channel come
    /// before it, fewer than the `needed` (`baseline_periods`) its baseline is the mean of.
    NoBaseline {
        granularity: Granularity,
        have: usize,
        needed: usize,
    },
    /// The period's data is complete and nothing the rule could read grew enough, but these
    /// watched activity metrics are unknown in it or in its baseline (reach a platform did not
    /// report, the CTR of a clicks-only export): one of them may have grown, so it is not clear.
    ActivityUnknown { metrics: Vec<ActivityMetric> },
    /// Amounts in `currency` on these days (in order, disjoint) have no rate into the
    /// reporting currency (`None`: none is set, and the data names several currencies), so
    /// they are unknown.
    MissingRate {
        currency: String,
        reporting: Option<String>,
        ranges: Vec<DateRange>,
    },
    /// The source has not finished these days in its own time zone yet (in order, disjoint):
    /// the next run fills them. Not a failure.
    SourcePending {
        source: String,
        ranges: Vec<DateRange>,
    },
    /// The rule holds this period's activity against money `lag` periods later
    /// (`lag_periods`), and that period has not ended (its last day is `due`): the money is
    /// not known yet. Not a failure; time fills it.
    MoneyNotDue {
        granularity: Granularity,
        lag: usize,
        due: NaiveDate,
    },
}

impl GapReason {
    /// How many days a [`GapReason::SourceMissing`] misses; zero for the other reasons.
    pub fn missing_days(&self) -> i64 {
        match self {
            GapReason::SourceMissing { ranges, .. } => ranges.iter().map(DateRange::days).sum(),
            GapReason::NotEnded { .. }
            | GapReason::WonWithoutAmount(_)
            | GapReason::NoBaseline { .. }
            | GapReason::ActivityUnknown { .. }
            | GapReason::MissingRate { .. }
            | GapReason::SourcePending { .. }
            | GapReason::MoneyNotDue { .. } => 0,
        }
    }
}

/// Sums of one channel in one period, as aggregated by polars.
#[derive(Debug, Clone, Default)]
pub(super) struct Sums {
    impressions: u64,
    reach: u64,
    reach_missing: u64,
    clicks: u64,
    /// Rows with clicks but no impressions (a clicks-only export): the CTR is unknown.
    clicks_only: u64,
    spend_micros: i64,
    /// Ad rows whose spend has no rate into the reporting currency.
    spend_unconverted: u64,
    leads: u64,
    deals_won: u64,
    revenue_micros: i64,
    won_without_amount: u64,
    /// Won deals whose amount has no rate into the reporting currency.
    won_unconverted: u64,
}

impl Sums {
    pub(super) fn add(&mut self, other: &Sums) {
        self.impressions += other.impressions;
        self.reach += other.reach;
        self.reach_missing += other.reach_missing;
        self.clicks += other.clicks;
        self.clicks_only += other.clicks_only;
        self.spend_micros += other.spend_micros;
        self.spend_unconverted += other.spend_unconverted;
        self.leads += other.leads;
        self.deals_won += other.deals_won;
        self.revenue_micros += other.revenue_micros;
        self.won_without_amount += other.won_without_amount;
        self.won_unconverted += other.won_unconverted;
    }
}

/// Periodises and sums the daily ad sums and the deals by channel and period, in polars.
pub(super) fn aggregate(
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
            count(col("clicks_only").sum()).alias("clicks_only"),
            col("spend_micros")
                .sum()
                .cast(DataType::Int64)
                .alias("spend_micros"),
            // Spend is never null but where its rate is missing (see `currency`).
            count(col("spend_micros").null_count()).alias("spend_unconverted"),
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
            count(
                col("amount_micros")
                    .is_null()
                    .and(col("unconverted").not())
                    .sum(),
            )
            .alias("won_without_amount"),
            count(col("unconverted").sum()).alias("won_unconverted"),
        ])
        .collect()
        .map_err(at("summing won deals by period"))?;

    let mut sums: HashMap<(String, NaiveDate), Sums> = HashMap::new();
    for_each_group(
        &ad_sums,
        &[
            "impressions",
            "reach",
            "reach_missing",
            "clicks",
            "clicks_only",
            "spend_unconverted",
        ],
        &["spend_micros"],
        |key, u, i| {
            let s = sums.entry(key).or_default();
            s.impressions = u[0];
            s.reach = u[1];
            s.reach_missing = u[2];
            s.clicks = u[3];
            s.clicks_only = u[4];
            s.spend_unconverted = u[5];
            s.spend_micros = i[0];
        },
    )?;
    for_each_group(&leads, &["leads"], &[], |key, u, _| {
        sums.entry(key).or_default().leads = u[0];
    })?;
    for_each_group(
        &won,
        &["deals_won", "won_without_amount", "won_unconverted"],
        &["revenue_micros"],
        |key, u, i| {
            let s = sums.entry(key).or_default();
            s.deals_won = u[0];
            s.won_without_amount = u[1];
            s.won_unconverted = u[2];
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
    let epoch = chrono::DateTime::UNIX_EPOCH.date_naive();
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

/// The channels each ad source has rows for, over its whole history: a day an ad source missed
/// (or has not finished) can hide activity of those channels only, so it withholds their
/// verdicts and the total's, not every channel's.
pub(super) fn ad_source_channels(
    ads: &DataFrame,
) -> Result<HashMap<String, BTreeSet<String>>, AnalysisError> {
    let pairs = ads
        .clone()
        .lazy()
        .group_by([col("source"), col("channel")])
        .agg([len()])
        .collect()
        .map_err(at("listing the channels of each ad source"))?;
    let read = |name: &str| {
        pairs
            .column(name)
            .and_then(|c| c.str().cloned())
            .map_err(at("listing the channels of each ad source"))
    };
    let (sources, channels) = (read("source")?, read("channel")?);
    let mut by_source: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (source, channel) in sources.iter().zip(channels.iter()) {
        if let (Some(source), Some(channel)) = (source, channel) {
            by_source
                .entry(source.to_string())
                .or_default()
                .insert(channel.to_string());
        }
    }
    Ok(by_source)
}

/// Whether a period's gap withholds `channel`'s verdict. A source's missing or pending days
/// concern the channels it delivers: an ad source's own channels, every channel for a CRM (any
/// deal may carry any channel) and for an ad source with no rows at all (nothing says which
/// channels it would have had). The total and "not ended" concern every channel.
pub(super) fn gap_concerns(
    reason: &GapReason,
    channel: &str,
    ad_channels: &HashMap<String, BTreeSet<String>>,
) -> bool {
    match reason {
        GapReason::SourceMissing { source, .. } | GapReason::SourcePending { source, .. } => {
            channel == super::ALL_CHANNELS
                || ad_channels
                    .get(source)
                    .is_none_or(|channels| channels.contains(channel))
        }
        _ => true,
    }
}

/// Gaps of the period starting at `start` (each channel keeps those that concern it, see
/// [`gap_concerns`]): it has not ended, a source missed days of it, or a source has not finished days of it yet (uncovered days from its
/// `pending_from` up to yesterday).
pub(super) fn period_gaps(
    g: Granularity,
    start: NaiveDate,
    coverage: &[Coverage],
    today: NaiveDate,
) -> Vec<GapReason> {
    let end = g.period_end(start);
    let mut gaps = Vec::new();
    if end >= today {
        gaps.push(GapReason::NotEnded {
            granularity: g,
            ends: end,
        });
    }
    let period = DateRange { start, end };
    for source in coverage {
        let mut missing = Vec::new();
        let mut pending = Vec::new();
        let pending_days = source
            .pending_from
            .zip(today.pred_opt())
            .and_then(|(from, to)| DateRange::new(from, to));
        for range in source.missing_in(period) {
            let Some(days) = pending_days else {
                missing.push(range);
                continue;
            };
            missing.extend(DateRange::new(
                range.start,
                range.end.min(days.start - Duration::days(1)),
            ));
            pending.extend(DateRange::new(
                range.start.max(days.start),
                range.end.min(days.end),
            ));
            missing.extend(DateRange::new(
                range.start.max(days.end + Duration::days(1)),
                range.end,
            ));
        }
        if !missing.is_empty() {
            gaps.push(GapReason::SourceMissing {
                source: source.source.clone(),
                ranges: missing,
            });
        }
        if !pending.is_empty() {
            gaps.push(GapReason::SourcePending {
                source: source.source.clone(),
                ranges: pending,
            });
        }
    }
    gaps
}

/// One channel's row of the period table, from its sums and the period's shared gaps.
pub(super) fn period_metrics(
    channel: &str,
    g: Granularity,
    start: NaiveDate,
    s: &Sums,
    mut gaps: Vec<GapReason>,
) -> PeriodMetrics {
    if s.won_without_amount > 0 {
        gaps.push(GapReason::WonWithoutAmount(s.won_without_amount));
    }
    let ratio = |num: f64, den: f64| (den != 0.0).then(|| num / den);
    let spend_known = Money::from_micros(s.spend_micros);
    let spend = (s.spend_unconverted == 0).then_some(spend_known);
    let revenue_known = Money::from_micros(s.revenue_micros);
    // A won deal without an amount (or without a rate for it) makes the whole revenue
    // unknown, and with it every figure built on it: a partial sum must not pose as the total.
    let revenue = (s.won_without_amount == 0 && s.won_unconverted == 0).then_some(revenue_known);
    let spent = |f: &dyn Fn(f64) -> Option<f64>| spend.and_then(|s| f(s.as_f64()));
    PeriodMetrics {
        channel: channel.to_string(),
        period_start: start,
        period_end: g.period_end(start),
        complete: gaps.is_empty(),
        gaps,
        verdict: Verdict::NoVerdict,
        impressions: s.impressions,
        reach: (s.reach_missing == 0).then_some(s.reach),
        clicks: s.clicks,
        ctr: ratio(s.clicks as f64, s.impressions as f64).filter(|_| s.clicks_only == 0),
        spend,
        spend_known,
        cpc: spent(&|spend| ratio(spend, s.clicks as f64)),
        leads: s.leads,
        deals_won: s.deals_won,
        revenue,
        revenue_known,
        won_without_amount: s.won_without_amount,
        cost_per_won_deal: revenue.and_then(|_| spent(&|spend| ratio(spend, s.deals_won as f64))),
        romi: revenue.and_then(|r| spent(&|spend| ratio(r.as_f64() - spend, spend))),
    }
}

/// A `data_gap` finding for a period without a verdict, and the reasons why.
pub(super) fn data_gap(p: &PeriodMetrics, currency: Option<&str>) -> Finding {
    Finding {
        channel: p.channel.clone(),
        period_start: p.period_start,
        period_end: p.period_end,
        spend: p.spend_known,
        currency: currency.map(str::to_string),
        detail: FindingDetail::DataGap(super::DataGap {
            reasons: p.gaps.clone(),
        }),
        message: String::new(),
    }
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
    fn a_period_names_each_reason_it_has_no_verdict() {
        let coverage = [
            Coverage {
                source: "ads".into(),
                ranges: vec![DateRange::new(d("2025-03-01"), d("2025-03-31")).unwrap()],
                pending_from: None,
            },
            Coverage {
                source: "crm".into(),
                ranges: vec![
                    DateRange::new(d("2025-03-01"), d("2025-03-11")).unwrap(),
                    DateRange::new(d("2025-03-13"), d("2025-03-14")).unwrap(),
                ],
                pending_from: None,
            },
        ];
        let gaps = period_gaps(
            Granularity::Week,
            d("2025-03-10"),
            &coverage,
            d("2025-03-16"),
        );
        assert_eq!(
            gaps,
            vec![
                GapReason::NotEnded {
                    granularity: Granularity::Week,
                    ends: d("2025-03-16")
                },
                GapReason::SourceMissing {
                    source: "crm".into(),
                    ranges: vec![
                        DateRange::new(d("2025-03-12"), d("2025-03-12")).unwrap(),
                        DateRange::new(d("2025-03-15"), d("2025-03-16")).unwrap(),
                    ],
                },
            ]
        );
        assert_eq!(gaps[1].missing_days(), 3);
        assert!(
            period_gaps(
                Granularity::Week,
                d("2025-03-03"),
                &coverage,
                d("2025-03-17")
            )
            .is_empty()
        );
    }
}
