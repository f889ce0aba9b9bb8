//! The metric audit, the ritual detector: for every activity metric and channel, does the
//! metric move with money at all? A metric that predicts no money drives no decision: it is
//! a ritual, however green its chart.
//!
//! Over the window (the last `audit_periods` periods of the analysed range that end with a
//! complete one), for each metric of [`ActivityMetric::EVERY`] and each channel (`all` first):
//! - the best lag: [`stats::best_lag`] of the metric at `t` against money at `t + lag`, lags
//!   `0..=max_lag_periods`, on at least `min_periods` complete pairs;
//! - Pearson's r and Spearman's rho at that lag, and `n`, the pairs it rests on;
//! - the interval of r by Fisher's z, Bonferroni-corrected over every correlation the audit
//!   looked at: `m` = (metric-channel pairs with a correlation) x (lags tried), each interval
//!   at confidence `1 - 0.05 / m`, so the chance that any `drives_money` is a fluke of the
//!   search stays under 5%;
//! - the verdict: `drives_money` when the corrected interval lies above
//!   [`DRIVES_MIN_LOW`]; `ritual` when it includes 0 and |r| < [`RITUAL_MAX_R`]; `weak`
//!   otherwise (some sign, too little to rely on, or money moving the other way); and,
//!   with no correlation, `not_enough_data` (fewer pairs than the minimum) or `constant`
//!   (the metric or money never changed over the window).
//!
//! Periods that are not complete (not ended, not covered, a won deal without an amount) are
//! left out as missing pairs, never read as zero; the series keep their positions so a lag
//! is always a lag in calendar periods.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::rules::{ActivityMetric, MoneyMetric, RuleSettings};
use super::stats::{self, Correlation, NoCorrelation};
use super::{ALL_CHANNELS, PeriodMetrics};

/// `drives_money` needs the corrected interval's lower bound above this: a correlation that
/// is positive beyond chance, after the correction for the search.
pub const DRIVES_MIN_LOW: f64 = 0.0;
/// `ritual` needs |r| below this (and an interval that includes 0): whatever the data's
/// length, a metric that explains under 9% of money's variation (r² < 0.09) steers nothing.
pub const RITUAL_MAX_R: f64 = 0.3;
/// The family-wise error rate the Bonferroni correction holds.
pub const FAMILY_ALPHA: f64 = 0.05;

/// The audit's numbers: `[analysis] audit_periods`, `max_lag_periods`, `min_periods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditSettings {
    /// How many periods, back from the last complete one, the audit reads.
    pub periods: usize,
    /// The longest lag tried, in periods.
    pub max_lag: usize,
    /// The fewest complete pairs a correlation is computed on.
    pub min_periods: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            periods: 26,
            max_lag: 6,
            min_periods: stats::MIN_PERIODS,
        }
    }
}

/// What the audit concluded about one metric on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditVerdict {
    DrivesMoney,
    Weak,
    Ritual,
    NotEnoughData,
    Constant,
}

impl AuditVerdict {
    pub const EVERY: [AuditVerdict; 5] = [
        AuditVerdict::DrivesMoney,
        AuditVerdict::Weak,
        AuditVerdict::Ritual,
        AuditVerdict::NotEnoughData,
        AuditVerdict::Constant,
    ];

    /// The contract's code (JSON `verdict`).
    pub fn code(self) -> &'static str {
        match self {
            AuditVerdict::DrivesMoney => "drives_money",
            AuditVerdict::Weak => "weak",
            AuditVerdict::Ritual => "ritual",
            AuditVerdict::NotEnoughData => "not_enough_data",
            AuditVerdict::Constant => "constant",
        }
    }
}

/// The correlation at the best lag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaggedCorrelation {
    /// Money `lag` periods after the metric.
    pub lag: usize,
    /// Pearson's r with its `n` and 95% interval.
    pub pearson: Correlation,
    /// Spearman's rho at the same lag (`None` only if the ranks cannot be correlated).
    pub spearman: Option<Correlation>,
    /// The Bonferroni-corrected interval of Pearson's r, the one the verdict reads.
    pub ci_low: f64,
    pub ci_high: f64,
}

/// One metric on one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricAuditRow {
    pub metric: ActivityMetric,
    pub channel: String,
    /// The pairs the correlation rests on (at lag 0 when there is none).
    pub n: usize,
    /// `None` when there is no correlation: the verdict says why.
    pub best: Option<LaggedCorrelation>,
    pub verdict: AuditVerdict,
}

/// The whole audit.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricAudit {
    pub money_metric: MoneyMetric,
    /// The window's first and last day (`None` when no period of the range is complete).
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// How many periods the window holds (at most `settings.periods`).
    pub periods: usize,
    pub settings: AuditSettings,
    /// `m`: the correlations the correction accounts for.
    pub tests: usize,
    /// The corrected intervals' confidence, `1 - 0.05 / m` (0.95 when nothing was tested).
    pub confidence: f64,
    /// Channel by channel in the period table's order (`all` first), metrics in
    /// [`ActivityMetric::EVERY`] order.
    pub rows: Vec<MetricAuditRow>,
}

/// Audits the period table (any channels, each in period order, as [`super::analyze`] builds
/// it).
pub fn audit(periods: &[PeriodMetrics], rule: &RuleSettings) -> MetricAudit {
    let settings = rule.audit;
    let money = rule.money_metric;
    let mut channels: Vec<&str> = Vec::new();
    for p in periods {
        if !channels.contains(&p.channel.as_str()) {
            channels.push(&p.channel);
        }
    }
    // The window is drawn on the total, which has every period, so channels share it.
    let reference = channels
        .iter()
        .find(|c| **c == ALL_CHANNELS)
        .or(channels.first())
        .copied();
    let window: Vec<NaiveDate> = reference.map_or_else(Vec::new, |c| {
        let rows: Vec<&PeriodMetrics> = periods.iter().filter(|p| p.channel == c).collect();
        let end = rows.iter().rposition(|p| p.complete).map_or(0, |i| i + 1);
        rows[end.saturating_sub(settings.periods)..end]
            .iter()
            .map(|p| p.period_start)
            .collect()
    });
    let from = window.first().copied();
    let to = window.last().and_then(|last| {
        periods
            .iter()
            .find(|p| p.period_start == *last)
            .map(|p| p.period_end)
    });

    let complete: HashMap<(&str, NaiveDate), &PeriodMetrics> = periods
        .iter()
        .filter(|p| p.complete)
        .map(|p| ((p.channel.as_str(), p.period_start), p))
        .collect();
    let mut found = Vec::new();
    for channel in channels {
        let rows: Vec<Option<&PeriodMetrics>> = window
            .iter()
            .map(|start| complete.get(&(channel, *start)).copied())
            .collect();
        let y: Vec<Option<f64>> = rows
            .iter()
            .map(|p| p.and_then(|p| money.value(p)))
            .collect();
        for metric in ActivityMetric::EVERY {
            let x: Vec<Option<f64>> = rows
                .iter()
                .map(|p| p.and_then(|p| metric.value(p)))
                .collect();
            found.push((metric, channel, correlate(&x, &y, &settings)));
        }
    }

    let tests = found.iter().filter(|(_, _, c)| c.is_ok()).count() * (settings.max_lag + 1);
    let alpha = FAMILY_ALPHA / tests.max(1) as f64;
    let z = normal_quantile(1.0 - alpha / 2.0);
    let rows = found
        .into_iter()
        .map(|(metric, channel, outcome)| {
            let (n, best, verdict) = match outcome {
                Ok((lag, pearson, spearman)) => {
                    let (ci_low, ci_high) = stats::fisher_interval_at(pearson.r, pearson.n, z);
                    let verdict = if ci_low > DRIVES_MIN_LOW {
                        AuditVerdict::DrivesMoney
                    } else if ci_low <= 0.0 && ci_high >= 0.0 && pearson.r.abs() < RITUAL_MAX_R {
                        AuditVerdict::Ritual
                    } else {
                        AuditVerdict::Weak
                    };
                    let best = LaggedCorrelation {
                        lag,
                        pearson,
                        spearman,
                        ci_low,
                        ci_high,
                    };
                    (pearson.n, Some(best), verdict)
                }
                Err((n, NoCorrelation::TooFewPeriods { .. })) => {
                    (n, None, AuditVerdict::NotEnoughData)
                }
                Err((n, NoCorrelation::Constant)) => (n, None, AuditVerdict::Constant),
            };
            MetricAuditRow {
                metric,
                channel: channel.to_string(),
                n,
                best,
                verdict,
            }
        })
        .collect();
    MetricAudit {
        money_metric: money,
        from,
        to,
        periods: window.len(),
        settings,
        tests,
        confidence: 1.0 - alpha,
        rows,
    }
}

type Outcome = Result<(usize, Correlation, Option<Correlation>), (usize, NoCorrelation)>;

/// The best lag's Pearson and Spearman, or why there is none with the pairs at lag 0.
fn correlate(x: &[Option<f64>], y: &[Option<f64>], settings: &AuditSettings) -> Outcome {
    match stats::best_lag(x, y, settings.max_lag, settings.min_periods) {
        Ok((lag, pearson)) => {
            let later = &y[lag.min(y.len())..];
            let len = later.len().min(x.len());
            let spearman = stats::spearman(&x[..len], &later[..len], settings.min_periods).ok();
            Ok((lag, pearson, spearman))
        }
        Err(reason) => {
            let n = x
                .iter()
                .zip(y)
                .filter(|(a, b)| a.is_some_and(f64::is_finite) && b.is_some_and(f64::is_finite))
                .count();
            Err((n, reason))
        }
    }
}

/// The standard normal quantile (Acklam's rational approximation, relative error below
/// 1.2e-9 over (0, 1)): the z of a corrected two-sided interval.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_quantile_matches_the_tables() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-6);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.005) + 2.575_829).abs() < 1e-6);
        // 24 pairs x 7 lags: 0.05 / 168 two-sided.
        assert!((normal_quantile(1.0 - 0.05 / 336.0) - 3.6183).abs() < 1e-3);
    }
}
