//! The meaning layer: not "did activity ring the till" but "what kind of money is it". Per
//! channel (and the total, `all`) and period, from the CRM's deals and the period table:
//!
//! - revenue from returning customers and its share of the period's revenue. A won deal is
//!   returning when its customer (`customer_id`, within its CRM source) had a won deal closed on
//!   an earlier day, in any channel and however long before the analysed range. A won deal
//!   without a `customer_id` cannot be known to be returning: its revenue counts as new (and is
//!   reported on its own, `revenue_without_customer`), so the share is a lower bound;
//! - average deal size (revenue over won deals), lead-to-won conversion (deals won in the
//!   period over deals created in it), the median days from a won deal's creation to its win,
//!   cost per won deal and ROMI;
//! - each with its trend: the period's value minus its baseline, the mean over the previous
//!   `baseline_periods` complete periods of the channel (the default rule's baseline), in the
//!   metric's own units (a share's trend is in share points). No trend when a period is
//!   incomplete, or the metric is unknown in it or in any baseline period.
//!
//! And one rule, `returning_revenue_falling`: returning-customer revenue fell period on period
//! for `returning_fall_periods` complete periods in a row while spend at the end was above spend
//! at the start, "buying new customers and losing old ones".
//!
//! Missing money is never zero here either: a period whose revenue is unknown (a won deal
//! without an amount or a rate) has every money figure unknown.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;

use super::periods::Granularity;
use super::{ALL_CHANNELS, AnalysisError, Finding, FindingDetail, PeriodMetrics, at};
use crate::domain::{DateRange, Money};

/// One channel's meaning figures for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct MeaningRow {
    pub channel: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub complete: bool,
    /// Revenue of won deals whose customer had won before; `None` when revenue is unknown.
    pub revenue_returning: Option<Money>,
    /// Revenue of won deals without a `customer_id` (counted as new).
    pub revenue_without_customer: Option<Money>,
    /// `revenue_returning / revenue`; `None` when revenue is unknown or zero.
    pub returning_share: Option<f64>,
    pub avg_deal_size: Option<f64>,
    /// Deals won over deals created in the period; `None` without leads.
    pub lead_to_won: Option<f64>,
    /// Median of closed minus created date of the period's won deals, in days.
    pub median_days_to_won: Option<f64>,
    pub cost_per_won_deal: Option<f64>,
    pub romi: Option<f64>,
    /// The trend of each figure, in [`MeaningMetric::ALL`] order.
    pub trends: Vec<(MeaningMetric, Option<Trend>)>,
}

/// The figures of the meaning layer that carry a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeaningMetric {
    RevenueReturning,
    ReturningShare,
    AvgDealSize,
    LeadToWon,
    MedianDaysToWon,
    CostPerWonDeal,
    Romi,
}

impl MeaningMetric {
    pub const ALL: [MeaningMetric; 7] = [
        MeaningMetric::RevenueReturning,
        MeaningMetric::ReturningShare,
        MeaningMetric::AvgDealSize,
        MeaningMetric::LeadToWon,
        MeaningMetric::MedianDaysToWon,
        MeaningMetric::CostPerWonDeal,
        MeaningMetric::Romi,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MeaningMetric::RevenueReturning => "revenue_returning",
            MeaningMetric::ReturningShare => "returning_share",
            MeaningMetric::AvgDealSize => "avg_deal_size",
            MeaningMetric::LeadToWon => "lead_to_won",
            MeaningMetric::MedianDaysToWon => "median_days_to_won",
            MeaningMetric::CostPerWonDeal => "cost_per_won_deal",
            MeaningMetric::Romi => "romi",
        }
    }

    /// This figure of `row`, in its own units (`None` when unknown).
    pub fn value(self, row: &MeaningRow) -> Option<f64> {
        match self {
            MeaningMetric::RevenueReturning => row.revenue_returning.map(Money::as_f64),
            MeaningMetric::ReturningShare => row.returning_share,
            MeaningMetric::AvgDealSize => row.avg_deal_size,
            MeaningMetric::LeadToWon => row.lead_to_won,
            MeaningMetric::MedianDaysToWon => row.median_days_to_won,
            MeaningMetric::CostPerWonDeal => row.cost_per_won_deal,
            MeaningMetric::Romi => row.romi,
        }
    }
}

/// A figure against its baseline: `change = value - baseline`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    pub baseline: f64,
    pub change: f64,
}

/// What `returning_revenue_falling` found: returning-customer revenue fell every period from
/// `first_start` to the flagged period while spend rose over the same span.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturningFalling {
    /// Periods of falling returning revenue (`returning_fall_periods`).
    pub periods: usize,
    /// The period before the fall began, whose figures the fall is measured from.
    pub first_start: NaiveDate,
    pub returning_before: f64,
    pub returning_now: f64,
    pub spend_before: f64,
    pub spend_now: f64,
    pub returning_share: Option<f64>,
}

/// Marks each deal `returning` (Boolean): won, with a `customer_id` whose first won deal in its
/// source closed on an earlier day. Null for deals that are not won or have no customer. Reads
/// every deal given, so the whole stored history decides who is a returning customer.
pub(super) fn mark_returning(deals: DataFrame) -> Result<DataFrame, AnalysisError> {
    let won = || {
        col("status")
            .eq(lit("won"))
            .and(col("customer_id").is_not_null())
            .and(col("closed_date").is_not_null())
    };
    let firsts = deals
        .clone()
        .lazy()
        .filter(won())
        .group_by([col("source"), col("customer_id")])
        .agg([col("closed_date").min().alias("first_won")]);
    deals
        .lazy()
        .join(
            firsts,
            [col("source"), col("customer_id")],
            [col("source"), col("customer_id")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            when(won())
                .then(col("closed_date").gt(col("first_won")))
                .otherwise(lit(NULL).cast(DataType::Boolean))
                .alias("returning"),
        )
        .drop(by_name(["first_won"], true, false))
        .collect()
        .map_err(at("finding returning customers"))
}

/// The won deals of one channel (or all) in one period, beyond the period table's sums.
#[derive(Debug, Default, Clone)]
pub(super) struct Won {
    returning_micros: i64,
    without_customer_micros: i64,
    days_to_won: Vec<i64>,
}

/// Won deals closed within `window` (amounts already converted), by channel and period and,
/// under [`ALL_CHANNELS`], by period alone.
pub(super) fn won_by_period(
    deals: &DataFrame,
    g: Granularity,
    window: DateRange,
) -> Result<HashMap<(String, NaiveDate), Won>, AnalysisError> {
    let stage = "reading won deals for the meaning layer";
    let won = deals
        .clone()
        .lazy()
        .filter(
            col("status")
                .eq(lit("won"))
                .and(col("closed_date").gt_eq(lit(window.start)))
                .and(col("closed_date").lt_eq(lit(window.end))),
        )
        .select([
            col("channel"),
            col("created_date").cast(DataType::Int32),
            col("closed_date").cast(DataType::Int32),
            col("amount_micros"),
            col("customer_id"),
            col("returning"),
        ])
        .collect()
        .map_err(at(stage))?;
    let read = |e: PolarsError| at(stage)(e);
    let channel = won.column("channel").and_then(|c| c.str().cloned());
    let created = won.column("created_date").and_then(|c| c.i32().cloned());
    let closed = won.column("closed_date").and_then(|c| c.i32().cloned());
    let amount = won.column("amount_micros").and_then(|c| c.i64().cloned());
    let customer = won.column("customer_id").and_then(|c| c.str().cloned());
    let returning = won.column("returning").and_then(|c| c.bool().cloned());
    let (channel, created, closed, amount, customer, returning) = (
        channel.map_err(read)?,
        created.map_err(read)?,
        closed.map_err(read)?,
        amount.map_err(read)?,
        customer.map_err(read)?,
        returning.map_err(read)?,
    );
    let epoch = chrono::DateTime::UNIX_EPOCH.date_naive();
    let mut out: HashMap<(String, NaiveDate), Won> = HashMap::new();
    for row in 0..won.height() {
        let (Some(channel), Some(closed)) = (channel.get(row), closed.get(row)) else {
            continue;
        };
        let period = g.period_start(epoch + chrono::Duration::days(i64::from(closed)));
        // Unknown amounts make the period's revenue unknown (the period table says so); here
        // they add nothing.
        let micros = amount.get(row).unwrap_or(0);
        for key in [channel, ALL_CHANNELS] {
            let w = out.entry((key.to_string(), period)).or_default();
            if returning.get(row) == Some(true) {
                w.returning_micros += micros;
            }
            if customer.get(row).is_none() {
                w.without_customer_micros += micros;
            }
            if let Some(created) = created.get(row) {
                w.days_to_won.push(i64::from(closed - created));
            }
        }
    }
    Ok(out)
}

/// The meaning rows of one channel's whole history (in order) and its
/// `returning_revenue_falling` findings.
pub(super) fn channel_meaning(
    rows: &[PeriodMetrics],
    won: &HashMap<(String, NaiveDate), Won>,
    baseline_periods: usize,
    fall_periods: usize,
    currency: Option<&str>,
) -> (Vec<MeaningRow>, Vec<Finding>) {
    let empty = Won::default();
    let mut out: Vec<MeaningRow> = rows
        .iter()
        .map(|p| {
            let w = won
                .get(&(p.channel.clone(), p.period_start))
                .unwrap_or(&empty);
            let ratio = |num: f64, den: f64| (den != 0.0).then(|| num / den);
            let revenue = p.revenue.map(Money::as_f64);
            let returning = p.revenue.map(|_| Money::from_micros(w.returning_micros));
            MeaningRow {
                channel: p.channel.clone(),
                period_start: p.period_start,
                period_end: p.period_end,
                complete: p.complete,
                revenue_returning: returning,
                revenue_without_customer: p
                    .revenue
                    .map(|_| Money::from_micros(w.without_customer_micros)),
                returning_share: returning
                    .zip(revenue)
                    .and_then(|(r, total)| ratio(r.as_f64(), total)),
                avg_deal_size: revenue.and_then(|r| ratio(r, p.deals_won as f64)),
                lead_to_won: ratio(p.deals_won as f64, p.leads as f64),
                median_days_to_won: median(&w.days_to_won),
                cost_per_won_deal: p.cost_per_won_deal,
                romi: p.romi,
                trends: Vec::new(),
            }
        })
        .collect();
    for i in 0..out.len() {
        let before: Vec<&MeaningRow> = out[..i].iter().filter(|r| r.complete).collect();
        let baseline = &before[before.len().saturating_sub(baseline_periods)..];
        let row = &out[i];
        let trends = MeaningMetric::ALL
            .into_iter()
            .map(|m| {
                let trend = (row.complete && baseline.len() == baseline_periods)
                    .then(|| {
                        let values: Option<Vec<f64>> =
                            baseline.iter().map(|r| m.value(r)).collect();
                        let mean = values?.iter().sum::<f64>() / baseline_periods as f64;
                        m.value(row).map(|value| Trend {
                            baseline: mean,
                            change: value - mean,
                        })
                    })
                    .flatten();
                (m, trend)
            })
            .collect();
        out[i].trends = trends;
    }
    let findings = returning_falling(rows, &out, fall_periods, currency);
    (out, findings)
}

/// `returning_revenue_falling` over one channel's history: a complete period ending `n`
/// consecutive complete periods in which returning revenue fell period on period, while spend
/// at its end is above spend in the period before the fall.
fn returning_falling(
    rows: &[PeriodMetrics],
    meaning: &[MeaningRow],
    n: usize,
    currency: Option<&str>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if n == 0 {
        return findings;
    }
    for end in n..rows.len() {
        let span = &rows[end - n..=end];
        let returning: Option<Vec<f64>> = meaning[end - n..=end]
            .iter()
            .zip(span)
            .map(|(m, p)| {
                p.complete
                    .then_some(m.revenue_returning)
                    .flatten()
                    .map(Money::as_f64)
            })
            .collect();
        let (Some(returning), Some(spend_before), Some(spend_now)) =
            (returning, span[0].spend, span[n].spend)
        else {
            continue;
        };
        let falling = returning.windows(2).all(|w| w[1] < w[0]);
        if !falling || spend_now <= spend_before {
            continue;
        }
        let p = &rows[end];
        findings.push(Finding {
            channel: p.channel.clone(),
            period_start: p.period_start,
            period_end: p.period_end,
            spend: spend_now,
            currency: currency.map(str::to_string),
            detail: FindingDetail::ReturningRevenueFalling(ReturningFalling {
                periods: n,
                first_start: span[0].period_start,
                returning_before: returning[0],
                returning_now: returning[n],
                spend_before: spend_before.as_f64(),
                spend_now: spend_now.as_f64(),
                returning_share: meaning[end].returning_share,
            }),
            message: String::new(),
        });
    }
    findings
}

/// The median of whole days; `None` for none.
fn median(days: &[i64]) -> Option<f64> {
    if days.is_empty() {
        return None;
    }
    let mut sorted = days.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) as f64 / 2.0
    } else {
        sorted[mid] as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7, 1, 3]), Some(3.0));
        assert_eq!(median(&[4, 1, 3, 10]), Some(3.5));
    }
}
