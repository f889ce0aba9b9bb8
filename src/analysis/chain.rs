//! Where the chain from click to money breaks, as findings of their own, and what is at stake:
//!
//! - `leads_without_money`: leads of a channel with spend in the period grew by
//!   `activity_growth_min` over their baseline while the money metric grew at most
//!   `money_growth_max`: the break is between lead and sale (lead
//!   quality, or how sales worked them), which is a different conversation from "activity
//!   without money" (the marketer's). When both hold for one period and channel, both stay in
//!   the analysis (each rule's verdict is a fact) and the episodes take only this one, so one
//!   alert goes out ([`crate::episodes::find_episodes`]).
//! - `spend_without_money`: spend above a floor for N complete periods in a row with won
//!   revenue known to be zero. A period whose data is incomplete (a gap, unknown revenue or
//!   spend) breaks the streak: "in a row" means in a row of periods kassa could see whole.
//! - `decoupling`: the Pearson correlation ([`super::stats::pearson`]) between an activity
//!   metric and money over the last `decoupling_window` complete periods fell below
//!   `decoupling_max_r` from a window where money demonstrably followed the activity (r at or
//!   above the threshold and its 95% interval above zero) while that activity trends up
//!   (least-squares slope above zero); the finding lasts while both stay so. A correlation
//!   that was never there cannot break: a channel whose money never followed its activity is
//!   left to the other rules and to the metric audit.
//!
//! Like the default rule, these read the period table only. They judge only periods with a
//! verdict (complete, with a baseline), so a flag never lands on a period reported as a gap.

use chrono::NaiveDate;

use super::rules::{ActivityMetric, Growth, RuleSettings, growth_of};
use super::stats::{Correlation, MIN_PERIODS, pearson};
use super::{Finding, FindingDetail, PeriodMetrics};
use crate::domain::Money;

/// The numbers of the chain rules (`[analysis]`), every one configurable.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSettings {
    /// `spend_without_money_floor`: spend must be above this (reporting currency) to count.
    pub spend_floor: Money,
    /// `spend_without_money_periods`: how many periods in a row make a finding.
    pub spend_periods: usize,
    /// `decoupling_window`: the periods of the rolling correlation (at least
    /// [`MIN_PERIODS`]).
    pub decoupling_window: usize,
    /// `decoupling_max_r`: a correlation below this, while activity rises, is a finding.
    pub decoupling_max_r: f64,
}

impl Default for ChainSettings {
    fn default() -> Self {
        ChainSettings {
            spend_floor: Money::ZERO,
            spend_periods: 3,
            decoupling_window: MIN_PERIODS,
            decoupling_max_r: 0.3,
        }
    }
}

/// Leads grew, money did not. The break is always lead -> sale.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadsWithoutMoney {
    pub leads: Growth,
    pub money: Growth,
    pub deals_won: Option<Growth>,
    /// The activity growth of `activity_without_money`, when that flagged the same period too
    /// (its alert is folded into this one).
    pub activity: Option<Growth>,
}

/// Spend above the floor, period after period, with no won revenue.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendWithoutMoney {
    /// Periods in the streak up to and including this one (at least `spend_periods`).
    pub periods: usize,
    pub streak_start: NaiveDate,
    /// Spend over the streak up to and including this period: the money at stake.
    pub streak_spend: Money,
    pub floor: Money,
}

/// Activity and money no longer move together while activity rises.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoupling {
    /// The activity metric with the lowest correlation among those rising.
    pub metric: String,
    pub money_metric: String,
    pub correlation: Correlation,
    /// The first period of the window (the last is the finding's).
    pub window_start: NaiveDate,
    pub threshold: f64,
    /// The activity's least-squares slope over the window, in its units per period.
    pub activity_trend: f64,
}

/// The chain rules over one channel's periods (in order); `flagged_by_default` are the default
/// rule's findings for the same channel.
pub(super) fn chain_rules(
    rows: &[&PeriodMetrics],
    settings: &RuleSettings,
    currency: Option<&str>,
    flagged_by_default: &[Finding],
) -> Vec<Finding> {
    let mut findings = leads_without_money(rows, settings, currency, flagged_by_default);
    findings.extend(spend_without_money(rows, &settings.chain, currency));
    findings.extend(decoupling(rows, settings, currency));
    findings
}

fn finding(p: &PeriodMetrics, currency: Option<&str>, detail: FindingDetail) -> Finding {
    Finding {
        channel: p.channel.clone(),
        period_start: p.period_start,
        period_end: p.period_end,
        spend: p.spend_known,
        currency: currency.map(str::to_string),
        detail,
        message: String::new(),
    }
}

/// Whether the period gets a verdict (complete, with a baseline, nothing unknown).
fn judged(p: &PeriodMetrics) -> bool {
    p.complete && p.gaps.is_empty()
}

fn leads_without_money(
    rows: &[&PeriodMetrics],
    settings: &RuleSettings,
    currency: Option<&str>,
    flagged_by_default: &[Finding],
) -> Vec<Finding> {
    let n = settings.baseline_periods;
    let money_metric = settings.money_metric;
    let mut history: Vec<&PeriodMetrics> = Vec::new();
    let mut findings = Vec::new();
    for &p in rows.iter().filter(|p| p.complete) {
        if judged(p) && n > 0 && history.len() >= n {
            let base = &history[history.len() - n..];
            let leads = growth_of("leads", p.leads as f64, base, |q| Some(q.leads as f64));
            let money = money_metric.value(p).and_then(|value| {
                growth_of(money_metric.name(), value, base, |q| money_metric.value(q))
            });
            // Leads of a channel nothing was spent on (deals no rule attributes, a CRM-only
            // source) are no link of a paid chain.
            if let (Some(leads), Some(money)) = (leads, money)
                && p.spend_known > Money::ZERO
                && leads.growth >= settings.activity_growth_min
                && money.growth <= settings.money_growth_max
            {
                let deals_won = growth_of("deals_won", p.deals_won as f64, base, |q| {
                    Some(q.deals_won as f64)
                });
                let activity = flagged_by_default.iter().find_map(|f| match &f.detail {
                    FindingDetail::ActivityWithoutMoney(flag)
                        if f.period_start == p.period_start =>
                    {
                        Some(flag.activity.clone())
                    }
                    _ => None,
                });
                findings.push(finding(
                    p,
                    currency,
                    FindingDetail::LeadsWithoutMoney(LeadsWithoutMoney {
                        leads,
                        money,
                        deals_won,
                        activity,
                    }),
                ));
            }
        }
        history.push(p);
    }
    findings
}

fn spend_without_money(
    rows: &[&PeriodMetrics],
    settings: &ChainSettings,
    currency: Option<&str>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut streak: Vec<&PeriodMetrics> = Vec::new();
    for &p in rows {
        // Known spend above the floor and revenue known to be zero; anything unknown breaks
        // the streak rather than pausing it: missing data is never zero money.
        let counts = p.complete
            && p.spend.is_some_and(|s| s > settings.spend_floor)
            && p.revenue == Some(Money::ZERO)
            && p.deals_won == 0;
        if !counts {
            streak.clear();
            continue;
        }
        streak.push(p);
        if streak.len() >= settings.spend_periods.max(1) && judged(p) {
            let streak_spend = Money::from_micros(
                streak
                    .iter()
                    .filter_map(|q| q.spend.map(Money::micros))
                    .sum(),
            );
            findings.push(finding(
                p,
                currency,
                FindingDetail::SpendWithoutMoney(SpendWithoutMoney {
                    periods: streak.len(),
                    streak_start: streak[0].period_start,
                    streak_spend,
                    floor: settings.spend_floor,
                }),
            ));
        }
    }
    findings
}

/// The least-squares slope of `values` against 0, 1, 2, …
fn slope(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean_t = (n - 1.0) / 2.0;
    let mean_v = values.iter().sum::<f64>() / n;
    let (num, den) = values
        .iter()
        .enumerate()
        .fold((0.0, 0.0), |(num, den), (t, v)| {
            let dt = t as f64 - mean_t;
            (num + dt * (v - mean_v), den + dt * dt)
        });
    if den == 0.0 { 0.0 } else { num / den }
}

fn decoupling(
    rows: &[&PeriodMetrics],
    settings: &RuleSettings,
    currency: Option<&str>,
) -> Vec<Finding> {
    let chain = &settings.chain;
    let w = chain.decoupling_window.max(MIN_PERIODS);
    let max_r = chain.decoupling_max_r;
    let money_metric = settings.money_metric;
    let complete: Vec<&PeriodMetrics> = rows.iter().copied().filter(|p| p.complete).collect();
    let metrics = &settings.activity_metrics;
    // Per metric: the previous window's correlation, and whether the metric is decoupled now.
    let mut previous: Vec<Option<Correlation>> = vec![None; metrics.len()];
    let mut decoupled = vec![false; metrics.len()];
    let mut findings = Vec::new();
    for end in w..=complete.len() {
        let window = &complete[end - w..end];
        let p = window[w - 1];
        let money: Vec<Option<f64>> = window.iter().map(|q| money_metric.value(q)).collect();
        let mut lowest: Option<(ActivityMetric, Correlation, f64)> = None;
        for (i, &metric) in metrics.iter().enumerate() {
            let Some((correlation, trend)) = correlate(metric, window, &money) else {
                previous[i] = None;
                decoupled[i] = false;
                continue;
            };
            // It *fell* below the threshold from a window where money demonstrably followed
            // the activity (its 95% interval above zero), or it stays below since it fell;
            // and the activity rises all the while.
            let below = correlation.r < max_r && trend > 0.0;
            let was_coupled = previous[i].is_some_and(|c| c.r >= max_r && c.ci_low > 0.0);
            decoupled[i] = below && (decoupled[i] || was_coupled);
            previous[i] = Some(correlation);
            if decoupled[i] && lowest.as_ref().is_none_or(|l| correlation.r < l.1.r) {
                lowest = Some((metric, correlation, trend));
            }
        }
        if let (Some((metric, correlation, activity_trend)), true) = (lowest, judged(p)) {
            findings.push(finding(
                p,
                currency,
                FindingDetail::Decoupling(Decoupling {
                    metric: metric.name().to_string(),
                    money_metric: money_metric.name().to_string(),
                    correlation,
                    window_start: window[0].period_start,
                    threshold: max_r,
                    activity_trend,
                }),
            ));
        }
    }
    findings
}

/// The metric's correlation with money over the window, and its trend. A window with an
/// unknown value has fewer pairs than the window and gives no correlation; a constant series
/// gives none either (it cannot decouple from what never moved together).
fn correlate(
    metric: ActivityMetric,
    window: &[&PeriodMetrics],
    money: &[Option<f64>],
) -> Option<(Correlation, f64)> {
    let activity: Vec<Option<f64>> = window.iter().map(|q| metric.value(q)).collect();
    let correlation = pearson(&activity, money, window.len()).ok()?;
    let known: Vec<f64> = activity.iter().copied().collect::<Option<_>>()?;
    Some((correlation, slope(&known)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_of_a_line_is_its_step() {
        assert_eq!(slope(&[1.0, 3.0, 5.0, 7.0]), 2.0);
        assert_eq!(slope(&[4.0, 4.0, 4.0]), 0.0);
        assert_eq!(slope(&[5.0]), 0.0);
    }
}
