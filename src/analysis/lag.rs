//! Lag: deals close days or weeks after the clicks that caused them. For each channel and each
//! watched activity metric, the cross-correlation of activity at period t with money at t + k
//! for k in 0..=`max_lag_periods` ([`stats::cross_correlation`]) and its best lag
//! ([`stats::best_lag`]); the channel's learned lag; the default rule's `lag_periods` (hold
//! activity at t against money at t + lag); and whether the money of a flagged period is not
//! yet due or overdue.
//!
//! Only complete periods feed a correlation (an incomplete one is a missing value, never zero
//! money), and a lag is learned only when its correlation is positive beyond chance (the lower
//! end of its 95% interval above zero): a lag read off noise would hide real flags.

use chrono::NaiveDate;

use super::PeriodMetrics;
use super::periods::{GapReason, Granularity};
use super::rules::{ActivityMetric, MoneyMetric};
use super::stats::{self, Correlation, NoCorrelation};

/// `[analysis] lag_periods`: how many periods after the activity the default rule reads money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagPeriods {
    /// Always this many (0: the same period, the rule as it always was).
    Fixed(usize),
    /// Each channel's learned lag, 0 where none can be learned.
    Auto,
}

impl Default for LagPeriods {
    fn default() -> Self {
        LagPeriods::Fixed(0)
    }
}

/// The lag settings of `[analysis]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LagSettings {
    pub lag_periods: LagPeriods,
    /// The longest lag tried (`max_lag_periods`); `None`: [`default_max_lag`] of the
    /// granularity.
    pub max_lag_periods: Option<usize>,
}

/// Six weeks, the usual span from click to closed deal in the articles kassa grew out of, in
/// periods: 42 days, 6 weeks, 2 months (six weeks rounded up to whole months).
pub fn default_max_lag(g: Granularity) -> usize {
    match g {
        Granularity::Day => 42,
        Granularity::Week => 6,
        Granularity::Month => 2,
    }
}

impl LagSettings {
    pub fn max_lag(&self, g: Granularity) -> usize {
        self.max_lag_periods.unwrap_or_else(|| default_max_lag(g))
    }

    /// How many periods past the analysed range the rule may read money from.
    pub fn lookahead(&self, g: Granularity) -> usize {
        match self.lag_periods {
            LagPeriods::Fixed(n) => n,
            LagPeriods::Auto => self.max_lag(g),
        }
    }

    /// The lag the rule uses on a channel whose learned lag is `learned`.
    pub fn rule_lag(&self, learned: Option<usize>) -> usize {
        match self.lag_periods {
            LagPeriods::Fixed(n) => n,
            LagPeriods::Auto => learned.unwrap_or(0),
        }
    }
}

/// One activity metric of one channel against money, at every lag tried.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLag {
    pub metric: ActivityMetric,
    /// The correlation at each lag `0..=max_lag`, or why there is none.
    pub by_lag: Vec<(usize, Result<Correlation, NoCorrelation>)>,
    /// The lag with the highest correlation, or why no lag has one.
    pub best: Result<(usize, Correlation), NoCorrelation>,
}

/// One channel's lags.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelLag {
    pub channel: String,
    pub money_metric: MoneyMetric,
    pub max_lag: usize,
    pub metrics: Vec<MetricLag>,
    /// The channel's learned lag: the best lag of the metric whose best correlation is the
    /// highest among those positive beyond chance; `None` when none is.
    pub learned: Option<(usize, ActivityMetric)>,
    /// The lag the default rule used on this channel.
    pub rule_lag: usize,
}

/// Learns one channel's lags from its periods (in order, one per period, none missing): the
/// activity of complete periods against their money.
pub(super) fn channel_lag(
    rows: &[PeriodMetrics],
    metrics: &[ActivityMetric],
    money: MoneyMetric,
    settings: &LagSettings,
    g: Granularity,
    min_periods: usize,
) -> ChannelLag {
    let max_lag = settings.max_lag(g);
    let known = |value: Option<f64>, p: &PeriodMetrics| value.filter(|_| p.complete);
    let y: Vec<Option<f64>> = rows.iter().map(|p| known(money.value(p), p)).collect();
    let metrics: Vec<MetricLag> = metrics
        .iter()
        .map(|&metric| {
            let x: Vec<Option<f64>> = rows.iter().map(|p| known(metric.value(p), p)).collect();
            MetricLag {
                metric,
                by_lag: stats::cross_correlation(&x, &y, max_lag, min_periods),
                best: stats::best_lag(&x, &y, max_lag, min_periods),
            }
        })
        .collect();
    let learned = metrics
        .iter()
        .filter_map(|m| m.best.ok().map(|(lag, c)| (lag, c, m.metric)))
        .filter(|(_, c, _)| c.ci_low > 0.0)
        .fold(
            None,
            |best: Option<(usize, Correlation, ActivityMetric)>, next| match best {
                Some(b) if b.1.r >= next.1.r => Some(b),
                _ => Some(next),
            },
        )
        .map(|(lag, _, metric)| (lag, metric));
    ChannelLag {
        channel: rows.first().map(|p| p.channel.clone()).unwrap_or_default(),
        money_metric: money,
        max_lag,
        metrics,
        learned,
        rule_lag: settings.rule_lag(learned.map(|(lag, _)| lag)),
    }
}

/// The periods as the rule judges them with money `lag` periods later: each keeps its own
/// activity and takes the money (revenue, won deals) of the period `lag` after it, and with it
/// that period's reasons to doubt the money. A money period that has not ended makes
/// [`GapReason::MoneyNotDue`]; the pair is complete only when both periods are.
pub(super) fn with_money_later(
    rows: &[PeriodMetrics],
    lag: usize,
    g: Granularity,
) -> Vec<PeriodMetrics> {
    rows.iter()
        .enumerate()
        .map(|(i, p)| {
            let mut judged = p.clone();
            match rows.get(i + lag) {
                Some(m) => {
                    judged.revenue = m.revenue;
                    judged.revenue_known = m.revenue_known;
                    judged.deals_won = m.deals_won;
                    judged.won_without_amount = m.won_without_amount;
                    judged.complete = p.complete && m.complete;
                    let not_ended = m.gaps.iter().find_map(|gap| match gap {
                        GapReason::NotEnded { ends, .. } => Some(*ends),
                        _ => None,
                    });
                    match not_ended {
                        // Days of a period still to come are uncovered too; only time is news.
                        Some(due) => judged.gaps.push(GapReason::MoneyNotDue {
                            granularity: g,
                            lag,
                            due,
                        }),
                        None => {
                            for gap in &m.gaps {
                                if !judged.gaps.contains(gap) {
                                    judged.gaps.push(gap.clone());
                                }
                            }
                        }
                    }
                }
                // Past the table's end (never for a range the analysis widened by its lookahead).
                None => {
                    judged.complete = false;
                    judged.gaps.push(GapReason::MoneyNotDue {
                        granularity: g,
                        lag,
                        due: g.period_end(advance(g, p.period_start, lag)),
                    });
                }
            }
            judged
        })
        .collect()
}

/// The start of the period `n` periods after the one starting at `start`.
pub fn advance(g: Granularity, start: NaiveDate, n: usize) -> NaiveDate {
    (0..n).fold(start, |s, _| g.next_start(s))
}

/// Whether the money of a flagged period could still come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyDue {
    /// The period its money is expected in has not ended: watch, do not cut yet.
    NotYetDue,
    /// That period has ended and the money is not there.
    Overdue,
}

/// When the money of a flagged period's activity is expected, from the channel's learned lag
/// and the rule's lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneyTiming {
    /// The lag the rule compared activity and money at.
    pub rule_lag: usize,
    /// The channel's learned lag, when one could be learned.
    pub learned_lag: Option<usize>,
    /// The last day of the period the money is expected in: `lag` periods after the flagged
    /// one, `lag` the larger of the two above.
    pub due: NaiveDate,
    pub status: MoneyDue,
}

/// The timing of a flag on the period starting at `start`; `None` when money is expected in
/// the flagged period itself (no lag learned, `lag_periods` 0): then it is simply missing.
pub(super) fn timing(
    g: Granularity,
    start: NaiveDate,
    channel: &ChannelLag,
    today: NaiveDate,
) -> Option<MoneyTiming> {
    let learned_lag = channel.learned.map(|(lag, _)| lag);
    let lag = channel.rule_lag.max(learned_lag.unwrap_or(0));
    (lag > 0).then(|| {
        let due = g.period_end(advance(g, start, lag));
        MoneyTiming {
            rule_lag: channel.rule_lag,
            learned_lag,
            due,
            // `today` is the first day that has not ended.
            status: if due < today {
                MoneyDue::Overdue
            } else {
                MoneyDue::NotYetDue
            },
        }
    })
}
