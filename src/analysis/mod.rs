//! Analysis: pure functions over polars frames. No I/O, no async, no clock, no words: "today"
//! is an argument, so every verdict can be replayed and tested, and what it finds is typed
//! data that [`crate::text`] words and [`crate::report`] renders.
//!
//! Input frames (the store's snapshot schema):
//! - ads: `date` (Date), `channel` (str), `impressions`, `clicks` (u64), `reach` (u64, null
//!   when the platform did not report it), `spend_micros` (i64), `currency` (str, nullable);
//! - deals: `created_date`, `closed_date` (Date, null while open), `status` (`won`, `lost`,
//!   `open`), `amount_micros` (i64, null when unknown), `channel`, `currency`.
//!
//! The steps: `daily` sums the ad rows (millions, lazily, part by part) by source, channel,
//! day and currency, the only pass over them; [`currency`] converts amounts into the reporting
//! currency; [`periods`] periodises and aggregates the daily sums and the deals in polars into a
//! small per-channel period table; each rule module then walks that table. A
//! period that has not ended, that some source did not cover, or whose won deals lack an amount
//! gets no verdict and becomes a `data_gap`: missing money is never read as zero. So does a
//! complete period with too few complete periods before it for a baseline: every period ends
//! with exactly one [`Verdict`], and a period without one always says why.
//!
//! Modules:
//! - [`currency`]: every amount into the reporting currency first, or unknown without a rate;
//! - [`periods`]: granularity, the polars aggregation, why a period is incomplete;
//! - [`rules`]: the default rule, activity without money, and where the chain broke;
//! - [`lag`]: how many periods money follows activity per channel, the rule's `lag_periods`,
//!   and whether a flagged period's money is not yet due or overdue;
//! - [`chain`]: leads without money, spend without money, decoupling;
//! - [`reconcile`]: what reports and platforms claim against what kassa observed
//!   (`claim_mismatch`, `claim_below_observed`, `overclaimed_total`);
//! - [`audit`]: the metric audit, which activity metric moves with money and which is a
//!   ritual (read from the period table; it judges metrics, not periods, so it makes no
//!   findings).
//! - [`meaning`]: the meaning layer (returning customers, deal size, conversion, days to win,
//!   cost per won deal, ROMI, with trends) and `returning_revenue_falling`.
//!
//! A third frame, the report claims (the store's `claims` schema: `source`, `period_start`,
//! `period_end`, `channel`, `metric`, `value_micros`, `currency`, `note`), and the ads frame's
//! nullable `claimed_leads`, `claimed_purchases`, `claimed_revenue_micros` feed [`reconcile`].
//!
//! Adding a rule (lag, decoupling): a sibling module with a function from
//! the period table (or the frames) to `Vec<Finding>`, called in [`analyze`]; a variant in
//! [`FindingKind`] and one in [`FindingDetail`] carrying its numbers. The exhaustive matches
//! on the kind then point at every place that needs words or a JSON shape (`text`, `report`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::domain::{Coverage, DateRange, Money, SuspiciousWindow};

pub mod audit;
pub mod chain;
pub mod currency;
mod daily;
pub mod lag;
pub mod meaning;
pub mod periods;
pub mod reconcile;
pub mod rules;
pub mod stats;

pub use crate::domain::FindingKind;
pub use audit::{AuditSettings, AuditVerdict, MetricAudit, MetricAuditRow};
pub use chain::{ChainSettings, Decoupling, LeadsWithoutMoney, SpendWithoutMoney};
pub use lag::{ChannelLag, LagPeriods, LagSettings, MetricLag, MoneyDue, MoneyTiming};
pub use meaning::{MeaningMetric, MeaningRow, ReturningFalling, Trend};
pub use periods::{GapReason, Granularity};
pub use reconcile::{
    ClaimCheck, ClaimGap, ClaimOrigin, ClaimShare, ClaimVerdict, MinAbs, Overclaim,
    ReconcileSettings, ReconciliationRow,
};
pub use rules::{
    ActivityMetric, ActivityWithoutMoney, ChainBreak, Growth, MoneyMetric, RuleSettings, growth,
};

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

/// One channel's numbers for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodMetrics {
    pub channel: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Whether the period's data is whole: it has ended, every source covered every day of it,
    /// and every won deal in it has an amount. Only complete periods make baselines.
    pub complete: bool,
    /// Why the period has no verdict: its data is incomplete, or (complete, but too early in
    /// the history) it has no baseline. Non-empty exactly when `verdict` is `NoVerdict`.
    pub gaps: Vec<GapReason>,
    pub verdict: Verdict,
    pub impressions: u64,
    /// Summed over days; `None` when a platform did not report reach for some day.
    pub reach: Option<u64>,
    pub clicks: u64,
    /// Clicks over impressions of the whole period; `None` when there were no impressions or
    /// some row had clicks without impressions (a clicks-only export).
    pub ctr: Option<f64>,
    /// `None` when some spend in it has no rate into the reporting currency.
    pub spend: Option<Money>,
    /// The spend that is known (equal to `spend` when that is known).
    pub spend_known: Money,
    pub cpc: Option<f64>,
    /// Deals created in the period.
    pub leads: u64,
    /// Deals won (closed as won) in the period.
    pub deals_won: u64,
    /// The amounts of the deals won in the period; `None` when a won deal lacks its amount or
    /// its amount has no rate into the reporting currency.
    pub revenue: Option<Money>,
    /// The sum of the amounts that are known (equal to `revenue` when that is known).
    pub revenue_known: Money,
    /// Won deals without an amount: their money is unknown, so the period is incomplete.
    pub won_without_amount: u64,
    /// Spend over won deals; `None` when revenue is unknown or nothing was won.
    pub cost_per_won_deal: Option<f64>,
    /// (revenue - spend) / spend; `None` when revenue is unknown or nothing was spent.
    pub romi: Option<f64>,
}

/// What the analysis concluded about one channel's period: every period gets exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A rule flagged it.
    Flagged,
    /// It was judged, and no rule flagged it.
    Clear,
    /// It could not be judged; its `gaps` say why.
    NoVerdict,
}

/// A period without a verdict, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DataGap {
    /// Never empty: a period with no reason to doubt it is complete.
    pub reasons: Vec<GapReason>,
}

/// What a finding says, with the numbers of its kind. The kind is derived from the variant
/// ([`FindingDetail::kind`]), so the two cannot disagree.
#[derive(Debug, Clone, PartialEq)]
pub enum FindingDetail {
    ActivityWithoutMoney(ActivityWithoutMoney),
    DataGap(DataGap),
    ClaimMismatch(ClaimCheck),
    ClaimBelowObserved(ClaimCheck),
    OverclaimedTotal(Overclaim),
    LeadsWithoutMoney(LeadsWithoutMoney),
    SpendWithoutMoney(SpendWithoutMoney),
    Decoupling(Decoupling),
    ReturningRevenueFalling(ReturningFalling),
}

impl FindingDetail {
    pub fn kind(&self) -> FindingKind {
        match self {
            FindingDetail::ActivityWithoutMoney(_) => FindingKind::ActivityWithoutMoney,
            FindingDetail::DataGap(_) => FindingKind::DataGap,
            FindingDetail::ClaimMismatch(_) => FindingKind::ClaimMismatch,
            FindingDetail::ClaimBelowObserved(_) => FindingKind::ClaimBelowObserved,
            FindingDetail::OverclaimedTotal(_) => FindingKind::OverclaimedTotal,
            FindingDetail::LeadsWithoutMoney(_) => FindingKind::LeadsWithoutMoney,
            FindingDetail::SpendWithoutMoney(_) => FindingKind::SpendWithoutMoney,
            FindingDetail::Decoupling(_) => FindingKind::Decoupling,
            FindingDetail::ReturningRevenueFalling(_) => FindingKind::ReturningRevenueFalling,
        }
    }
}

/// One flagged period, or one period without a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub channel: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Spend in the period.
    pub spend: Money,
    pub currency: Option<String>,
    pub detail: FindingDetail,
    /// The finding in plain words; filled by [`crate::text::describe_findings`] in the
    /// configured language (analysis itself stays free of wording).
    pub message: String,
}

impl Finding {
    pub fn kind(&self) -> FindingKind {
        self.detail.kind()
    }

    /// The money at stake, in the reporting currency: the spend of the period for findings
    /// about activity (the whole streak's for `spend_without_money`); for a claim, the money
    /// the claim and the observation disagree by (the gap itself for revenue and spend, the
    /// ROAS gap times the spend for ROAS) or, for claimed counts and CPL, the spend paid on
    /// the strength of the claim. `None` for a data gap: it is about missing data, not money.
    pub fn money_at_stake(&self) -> Option<f64> {
        use crate::domain::ClaimMetric;
        let spend = self.spend.as_f64();
        let claim = |metric: ClaimMetric, gap: f64| match metric {
            ClaimMetric::Revenue | ClaimMetric::Spend => gap.abs(),
            ClaimMetric::Roas => (gap * spend).abs(),
            _ => spend,
        };
        match &self.detail {
            FindingDetail::DataGap(_) => None,
            FindingDetail::ActivityWithoutMoney(_)
            | FindingDetail::LeadsWithoutMoney(_)
            | FindingDetail::Decoupling(_)
            | FindingDetail::ReturningRevenueFalling(_) => Some(spend),
            FindingDetail::SpendWithoutMoney(s) => Some(s.streak_spend.as_f64()),
            FindingDetail::ClaimMismatch(c) | FindingDetail::ClaimBelowObserved(c) => {
                Some(claim(c.metric, c.gap))
            }
            FindingDetail::OverclaimedTotal(o) => Some(claim(o.metric, o.gap)),
        }
    }
}

/// Something about the input as a whole that people should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisWarning {
    /// Amounts in `currency` on `days` days from `first` to `last` could not be converted into
    /// the reporting currency (`None`: none is set and the data names several): no rate
    /// covers them, so they are unknown and their periods have no verdict.
    Unconverted {
        currency: String,
        reporting: Option<String>,
        first: NaiveDate,
        last: NaiveDate,
        days: usize,
    },
    /// `[currency] rates_file` could not be read, or some of its rows are bad (the message, in
    /// English, names the file, lines and columns); its good rows were used.
    RatesFile(String),
    /// A re-pull of this window answered with less than the store held (the store's ledger
    /// marks it; the analysis does not look for these, the pipeline adds them).
    Suspicious(SuspiciousWindow),
}

/// The whole answer for one range.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub granularity: Granularity,
    /// The analysed range, widened to whole periods.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The reporting currency every amount is in (`None` when the data names none, or several
    /// and nothing says which to report in).
    pub currency: Option<String>,
    pub warnings: Vec<AnalysisWarning>,
    pub periods: Vec<PeriodMetrics>,
    pub findings: Vec<Finding>,
    /// Every claim whose dates meet the range, beside what kassa observed.
    pub reconciliation: Vec<ReconciliationRow>,
    /// Which activity metric moves with money, over the range's last periods.
    pub metric_audit: MetricAudit,
    /// Per channel (the total first), how many periods its money follows its activity.
    pub lags: Vec<ChannelLag>,
    /// The meaning layer, one row per channel and period (in the order of `periods`).
    pub meaning: Vec<MeaningRow>,
}

impl Analysis {
    /// Findings that are verdicts (every kind but `data_gap`).
    pub fn flagged(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.kind().is_flag())
    }

    /// How many findings of each kind, every kind of [`FindingKind::ALL`] present (zero or more).
    pub fn counts(&self) -> BTreeMap<FindingKind, usize> {
        let mut counts: BTreeMap<FindingKind, usize> =
            FindingKind::ALL.into_iter().map(|k| (k, 0)).collect();
        for finding in &self.findings {
            *counts.entry(finding.kind()).or_default() += 1;
        }
        counts
    }
}

/// Analyses `range` (widened to whole periods). `today` is the first day that has not ended in
/// the business's time zone; periods reaching it get no verdict.
///
/// `range` bounds only what is reported: baselines read the covered history before it, so a
/// period gets the same verdict however the range around it is drawn.
pub fn analyze(
    ads: &DataFrame,
    deals: &DataFrame,
    claims: &DataFrame,
    coverage: &[Coverage],
    settings: &RuleSettings,
    range: DateRange,
    today: NaiveDate,
) -> Result<Analysis, AnalysisError> {
    analyze_scans(
        Scans {
            ads: vec![ads.clone().lazy()],
            deals: deals.clone().lazy(),
            claims: claims.clone().lazy(),
        },
        coverage,
        settings,
        range,
        today,
    )
}

/// The rows an analysis reads, as lazy scans: polars reads only the columns the analysis
/// needs. Ads may come in parts (a store's month partitions): each is summed by day on its
/// own, so memory holds one part's rows at a time, never the whole history's.
pub struct Scans {
    pub ads: Vec<LazyFrame>,
    pub deals: LazyFrame,
    pub claims: LazyFrame,
}

/// [`analyze`] over lazy scans.
pub fn analyze_scans(
    scans: Scans,
    coverage: &[Coverage],
    settings: &RuleSettings,
    range: DateRange,
    today: NaiveDate,
) -> Result<Analysis, AnalysisError> {
    let ads = &daily::ads_by_day(scans.ads)?;
    let deals = &meaning::mark_returning(daily::deals(scans.deals)?)?;
    let claims = &scans
        .claims
        .collect()
        .map_err(at("reading the report claims"))?;
    let g = settings.granularity;
    let from = g.period_start(range.start);
    let to = g.period_end(g.period_start(range.end));
    let reported = DateRange {
        start: from,
        end: to,
    };
    // Days before the first covered day are gaps and make no baseline, so history starts there.
    let history_start = coverage
        .iter()
        .flat_map(|c| c.ranges.iter().map(|r| r.start))
        .min()
        .map_or(from, |first| g.period_start(first).min(from));
    // With a lag, the rule reads money up to that many periods past the range.
    let window = DateRange {
        start: history_start,
        end: g.period_end(lag::advance(
            g,
            g.period_start(to),
            settings.lag.lookahead(g),
        )),
    };

    let converted = currency::convert(ads, deals, claims, &settings.currency, window)?;
    let (ads, deals, claims) = (&converted.ads, &converted.deals, &converted.claims);
    let currency = converted.reporting.clone();
    let warnings = converted
        .missing
        .summary()
        .into_iter()
        .map(|(code, (first, last, days))| AnalysisWarning::Unconverted {
            currency: code,
            reporting: currency.clone(),
            first,
            last,
            days,
        })
        .collect();
    let sums = periods::aggregate(ads, deals, g, window)?;
    let won = meaning::won_by_period(deals, g, window)?;

    let mut starts = Vec::new();
    let mut start = history_start;
    while start <= window.end {
        starts.push(start);
        start = g.next_start(start);
    }
    let shared_gaps: Vec<Vec<GapReason>> = starts
        .iter()
        .map(|&start| periods::period_gaps(g, start, coverage, today))
        .collect();

    let ad_channels = periods::ad_source_channels(ads)?;

    let channels: BTreeSet<&str> = sums.keys().map(|(c, _)| c.as_str()).collect();
    let mut findings = Vec::new();
    let mut table = Vec::new();
    let mut lags = Vec::new();
    let mut meaning_rows = Vec::new();
    for channel in std::iter::once(ALL_CHANNELS).chain(channels.iter().copied()) {
        let mut rows = Vec::with_capacity(starts.len());
        for (i, &start) in starts.iter().enumerate() {
            let total = if channel == ALL_CHANNELS {
                let mut total = periods::Sums::default();
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
            let mut gaps: Vec<GapReason> = shared_gaps[i]
                .iter()
                .filter(|gap| periods::gap_concerns(gap, channel, &ad_channels))
                .cloned()
                .collect();
            let period = DateRange {
                start,
                end: g.period_end(start),
            };
            let only = (channel != ALL_CHANNELS).then_some(channel);
            gaps.extend(converted.missing.within(only, period).into_iter().map(
                |(code, ranges)| GapReason::MissingRate {
                    currency: code,
                    reporting: currency.clone(),
                    ranges,
                },
            ));
            rows.push(periods::period_metrics(channel, g, start, &total, gaps));
        }
        // The lag is learned from the periods up to the range's end, never from the money
        // read past it.
        let reported_rows = rows.partition_point(|r| r.period_start <= to);
        let channel_lag = lag::channel_lag(
            &rows[..reported_rows],
            &settings.activity_metrics,
            settings.money_metric,
            &settings.lag,
            g,
            // `[analysis] min_periods`: the same floor as the metric audit's.
            settings.audit.min_periods,
        );
        // With a lag the rule judges each period's activity against later money; the reasons
        // it finds go back to the period, whose own metrics stay as they were.
        let mut judged = (channel_lag.rule_lag > 0)
            .then(|| lag::with_money_later(&rows, channel_lag.rule_lag, g));
        let target = judged.as_mut().unwrap_or(&mut rows);
        mark_missing_baselines(target, g, settings.baseline_periods);

        // The rules, over the channel's whole history; every rule module adds its call here.
        let refs: Vec<&PeriodMetrics> = target.iter().collect();
        let rules::RuleOutcome {
            findings: mut flags,
            unjudged,
        } = rules::activity_without_money(&refs, settings, currency.as_deref());
        for (start, metrics) in unjudged {
            if let Some(row) = target.iter_mut().find(|r| r.period_start == start) {
                row.gaps.push(GapReason::ActivityUnknown { metrics });
            }
        }
        if let Some(judged) = judged {
            for (row, j) in rows.iter_mut().zip(judged) {
                row.gaps = j.gaps;
            }
        }
        let (meaning_table, falling) = meaning::channel_meaning(
            &rows,
            &won,
            settings.baseline_periods,
            settings.returning_fall_periods,
            currency.as_deref(),
        );
        flags.extend(falling);
        meaning_rows.extend(meaning_table.into_iter().filter(|m| m.period_start >= from));
        for flag in &mut flags {
            if let FindingDetail::ActivityWithoutMoney(a) = &mut flag.detail {
                a.timing = lag::timing(g, flag.period_start, &channel_lag, today);
            }
        }
        lags.push(channel_lag);
        // The chain rules read each period's own leads, spend and money (no lag).
        let refs: Vec<&PeriodMetrics> = rows.iter().collect();
        let chained = chain::chain_rules(&refs, settings, currency.as_deref(), &flags);
        flags.extend(chained);

        for row in &mut rows {
            row.verdict = if !row.gaps.is_empty() {
                Verdict::NoVerdict
            } else if flags.iter().any(|f| f.period_start == row.period_start) {
                Verdict::Flagged
            } else {
                Verdict::Clear
            };
        }
        // Periods past the range were read only for the money of a lag.
        let in_range = |start: NaiveDate| start >= from && start <= to;
        findings.extend(flags.into_iter().filter(|f| in_range(f.period_start)));
        table.extend(rows.into_iter().filter(|p| in_range(p.period_start)));
    }
    let reconciled = reconcile::reconcile(
        ads,
        deals,
        claims,
        &reconcile::Context {
            coverage,
            settings: &settings.reconciliation,
            granularity: g,
            reported,
            today,
            currency: currency.as_deref(),
            ad_channels: &ad_channels,
            missing_rates: &converted.missing,
        },
    )?;
    findings.extend(reconciled.findings);
    // One data gap per period, on the total: it lacks a verdict whenever any channel does
    // (its sums hold every channel's unknown amounts, and it has the fewest complete periods).
    // The exception is `lag_periods = "auto"`, where a channel's learned lag can be longer
    // than the total's: its `money_not_due` periods then show in the period table only.
    for p in table
        .iter()
        .filter(|p| p.channel == ALL_CHANNELS && p.verdict == Verdict::NoVerdict)
    {
        findings.push(periods::data_gap(p, currency.as_deref()));
    }
    findings.sort_by(|a, b| {
        (
            a.period_start,
            a.kind() == FindingKind::DataGap,
            a.channel != ALL_CHANNELS,
            &a.channel,
        )
            .cmp(&(
                b.period_start,
                b.kind() == FindingKind::DataGap,
                b.channel != ALL_CHANNELS,
                &b.channel,
            ))
    });

    let metric_audit = audit::audit(&table, settings);
    Ok(Analysis {
        granularity: g,
        from,
        to,
        currency,
        warnings,
        periods: table,
        findings,
        reconciliation: reconciled.rows,
        metric_audit,
        lags,
        meaning: meaning_rows,
    })
}

/// Adds [`GapReason::NoBaseline`] to each complete period of one channel (in order) that has
/// fewer than `needed` complete periods before it.
fn mark_missing_baselines(rows: &mut [PeriodMetrics], g: Granularity, needed: usize) {
    for (have, row) in rows.iter_mut().filter(|r| r.complete).enumerate() {
        // No baseline at all (zero periods) judges nothing either.
        if have < needed.max(1) {
            row.gaps.push(GapReason::NoBaseline {
                granularity: g,
                have,
                needed,
            });
        }
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
