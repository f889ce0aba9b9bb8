//! The default rule, "activity without money": for each complete period of one channel, the
//! baseline of a metric is the mean of the previous `baseline_periods` complete periods;
//! activity growth is the largest growth among the activity metrics; the period is flagged when
//! activity growth reaches `activity_growth_min` while money growth stays at or below
//! `money_growth_max`. A flagged period also says where the chain from click to sale broke,
//! when leads and won deals tell.
//!
//! The rule reads the period table only, never the raw frames, so it is cheap to replay with
//! other settings.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize, Serializer};

use super::audit::AuditSettings;
use super::chain::ChainSettings;
use super::currency::CurrencySettings;
use super::lag::{LagSettings, MoneyTiming};
use super::periods::Granularity;
use super::reconcile::ReconcileSettings;
use super::{Finding, FindingDetail, PeriodMetrics};

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
    /// Every activity metric, in the order the metric audit lists them.
    pub const EVERY: [ActivityMetric; 6] = [
        ActivityMetric::Impressions,
        ActivityMetric::Reach,
        ActivityMetric::Clicks,
        ActivityMetric::Ctr,
        ActivityMetric::Spend,
        ActivityMetric::Leads,
    ];

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

    /// Whether the metric is unknown in `p` for want of data (reach a platform did not report,
    /// the CTR of a clicks-only export), as opposed to undefined because nothing happened (the
    /// CTR of a period without clicks or impressions).
    fn unknown(self, p: &PeriodMetrics) -> bool {
        self.value(p).is_none() && !(self == ActivityMetric::Ctr && p.clicks == 0)
    }

    pub fn value(self, p: &PeriodMetrics) -> Option<f64> {
        match self {
            ActivityMetric::Impressions => Some(p.impressions as f64),
            ActivityMetric::Reach => p.reach.map(|r| r as f64),
            ActivityMetric::Clicks => Some(p.clicks as f64),
            ActivityMetric::Ctr => p.ctr,
            ActivityMetric::Spend => p.spend.map(|s| s.as_f64()),
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

    pub fn value(self, p: &PeriodMetrics) -> Option<f64> {
        match self {
            MoneyMetric::Revenue => p.revenue.map(|r| r.as_f64()),
            MoneyMetric::DealsWon => Some(p.deals_won as f64),
        }
    }
}

/// The numbers of the default rule (`[analysis]`), and of the reconciliation
/// (`[reconciliation]`). Every one is configurable.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    pub granularity: Granularity,
    pub baseline_periods: usize,
    pub activity_metrics: Vec<ActivityMetric>,
    pub activity_growth_min: f64,
    pub money_metric: MoneyMetric,
    pub money_growth_max: f64,
    /// `lag_periods` and `max_lag_periods` (see [`super::lag`]).
    pub lag: LagSettings,
    /// `returning_revenue_falling`: periods in a row of falling returning-customer revenue.
    pub returning_fall_periods: usize,
    pub reconciliation: ReconcileSettings,
    pub currency: CurrencySettings,
    /// The metric audit's window, lags and minimum (`[analysis] audit_periods`,
    /// `max_lag_periods`, `min_periods`).
    pub audit: AuditSettings,
    /// The chain rules: leads, spend without money, decoupling.
    pub chain: ChainSettings,
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
            lag: LagSettings::default(),
            returning_fall_periods: 3,
            reconciliation: ReconcileSettings::default(),
            currency: CurrencySettings::default(),
            audit: AuditSettings::default(),
            chain: ChainSettings::default(),
        }
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

fn finite_or_null<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        s.serialize_f64(*value)
    } else {
        s.serialize_none()
    }
}

/// What the default rule found in a flagged period: activity grew, money did not.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityWithoutMoney {
    /// The activity metric that grew most.
    pub activity: Growth,
    pub money: Growth,
    /// Leads and won deals against their baselines, to locate the chain break.
    pub leads: Option<Growth>,
    pub deals_won: Option<Growth>,
    pub chain_break: Option<ChainBreak>,
    /// When money is expected later than the flagged period (a learned lag, or
    /// `lag_periods`): whether it is not yet due or overdue.
    pub timing: Option<MoneyTiming>,
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

pub(super) fn growth_of(
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

/// What the default rule concluded over one channel's periods.
#[derive(Debug, Default)]
pub(super) struct RuleOutcome {
    /// The flagged periods.
    pub findings: Vec<Finding>,
    /// Periods the rule could not clear: money did not grow and nothing it could read grew
    /// enough, but these watched activity metrics are unknown in the period or its baseline,
    /// so one of them may have.
    pub unjudged: Vec<(NaiveDate, Vec<ActivityMetric>)>,
}

/// Applies the default rule to one channel's periods, in order.
pub(super) fn activity_without_money(
    rows: &[&PeriodMetrics],
    settings: &RuleSettings,
    currency: Option<&str>,
) -> RuleOutcome {
    let n = settings.baseline_periods;
    let mut history: Vec<&PeriodMetrics> = Vec::new();
    let mut outcome = RuleOutcome::default();
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
            let money = money_metric.value(p).and_then(|value| {
                growth_of(money_metric.name(), value, base, |q| money_metric.value(q))
            });
            let flagged = match (&activity, &money) {
                (Some(activity), Some(money)) => {
                    activity.growth >= settings.activity_growth_min
                        && money.growth <= settings.money_growth_max
                }
                _ => false,
            };
            // Money that grew clears the period whatever activity did; money that did not
            // leaves it to the activity, which must then be known to clear it.
            let money_allows_a_flag = money
                .as_ref()
                .is_some_and(|m| m.growth <= settings.money_growth_max);
            if !flagged && money_allows_a_flag {
                let unknown: Vec<ActivityMetric> = settings
                    .activity_metrics
                    .iter()
                    .copied()
                    .filter(|&m| m.unknown(p) || base.iter().any(|&q| m.unknown(q)))
                    .collect();
                if !unknown.is_empty() {
                    outcome.unjudged.push((p.period_start, unknown));
                }
            }
            if let (true, Some(activity), Some(money)) = (flagged, activity, money) {
                let leads = growth_of("leads", p.leads as f64, base, |q| Some(q.leads as f64));
                let deals_won = growth_of("deals_won", p.deals_won as f64, base, |q| {
                    Some(q.deals_won as f64)
                });
                let chain_break = match (&leads, &deals_won) {
                    (Some(l), _) if l.growth <= 0.0 => Some(ChainBreak::ClickToLead),
                    (Some(_), Some(w)) if w.growth <= 0.0 => Some(ChainBreak::LeadToSale),
                    _ => None,
                };
                outcome.findings.push(Finding {
                    channel: p.channel.clone(),
                    period_start: p.period_start,
                    period_end: p.period_end,
                    spend: p.spend_known,
                    currency: currency.map(str::to_string),
                    detail: FindingDetail::ActivityWithoutMoney(ActivityWithoutMoney {
                        activity,
                        money,
                        leads,
                        deals_won,
                        chain_break,
                        timing: None,
                    }),
                    message: String::new(),
                });
            }
        }
        history.push(p);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_handles_zero_baselines() {
        assert_eq!(growth(12.0, 10.0), 0.2);
        assert_eq!(growth(0.0, 0.0), 0.0);
        assert!(growth(5.0, 0.0).is_infinite());
    }
}
