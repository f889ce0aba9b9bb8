//! The JSON contract of `kassa analyze --format json` (README, "JSON output"), and the
//! finding object that alert data carries. Field names, their order and the rules for null
//! and absent fields live here, in one place, rather than in serde attributes on the analysis
//! types: the contract stays put when the analysis reshapes its types, and the analysis stays
//! free of wording (data-gap reasons and warnings are typed there and worded here, always in
//! English: other tools parse them).

use chrono::NaiveDate;
use serde::Serialize;

use crate::analysis::stats::{Correlation, NoCorrelation};
use crate::analysis::{
    Analysis, ChainBreak, ChannelLag, ClaimOrigin, ClaimVerdict, Finding, FindingDetail,
    FindingKind, GapReason, Granularity, Growth, MeaningRow, MetricAudit, MoneyDue, MoneyTiming,
    PeriodMetrics, ReconciliationRow, Verdict,
};
use crate::domain::Locale;
use crate::text;

/// The whole analysis as pretty-printed JSON.
#[allow(
    clippy::expect_used,
    reason = "plain structs of strings, numbers and dates: serde_json cannot fail on them"
)]
pub fn to_json(analysis: &Analysis) -> String {
    serde_json::to_string_pretty(&AnalysisJson::from(analysis))
        .expect("an analysis always serialises")
}

/// One finding as its JSON object (the same as in `findings` of [`to_json`]).
pub fn finding(f: &Finding) -> impl Serialize + '_ {
    FindingJson::from(f)
}

#[derive(Serialize)]
struct AnalysisJson<'a> {
    granularity: Granularity,
    from: NaiveDate,
    to: NaiveDate,
    /// `null` when the amounts come in several currencies or name none.
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    periods: Vec<PeriodJson<'a>>,
    findings: Vec<FindingJson<'a>>,
    reconciliation: Vec<ClaimJson<'a>>,
    metric_audit: Vec<AuditRowJson<'a>>,
    lags: Vec<LagJson<'a>>,
    meaning: Vec<MeaningJson<'a>>,
}

impl<'a> From<&'a Analysis> for AnalysisJson<'a> {
    fn from(a: &'a Analysis) -> Self {
        AnalysisJson {
            granularity: a.granularity,
            from: a.from,
            to: a.to,
            currency: a.currency.as_deref(),
            warnings: a
                .warnings
                .iter()
                .map(|w| text::report::warning(w, Locale::En))
                .collect(),
            periods: a.periods.iter().map(PeriodJson::from).collect(),
            findings: a.findings.iter().map(FindingJson::from).collect(),
            reconciliation: a.reconciliation.iter().map(ClaimJson::from).collect(),
            metric_audit: audit_rows(&a.metric_audit),
            lags: a.lags.iter().flat_map(LagJson::rows).collect(),
            meaning: a.meaning.iter().map(MeaningJson::from).collect(),
        }
    }
}

/// The metric audit alone, as `kassa audit --format json` prints it: the window and the
/// correction, then the same `metric_audit` list as in [`to_json`].
#[allow(
    clippy::expect_used,
    reason = "plain structs of strings, numbers and dates: serde_json cannot fail on them"
)]
pub fn audit_to_json(analysis: &Analysis) -> String {
    let audit = &analysis.metric_audit;
    serde_json::to_string_pretty(&AuditJson {
        granularity: analysis.granularity,
        from: audit.from,
        to: audit.to,
        periods: audit.periods,
        money_metric: audit.money_metric.name(),
        max_lag_periods: audit.settings.max_lag,
        min_periods: audit.settings.min_periods,
        tests: audit.tests,
        confidence: audit.confidence,
        metric_audit: audit_rows(audit),
    })
    .expect("an audit always serialises")
}

#[derive(Serialize)]
struct AuditJson<'a> {
    granularity: Granularity,
    /// The window's first and last day; null when no period is complete yet.
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    periods: usize,
    money_metric: &'static str,
    max_lag_periods: usize,
    min_periods: usize,
    tests: usize,
    confidence: f64,
    metric_audit: Vec<AuditRowJson<'a>>,
}

/// One metric on one channel. The figures are null when there is no correlation
/// (`not_enough_data`, `constant`); `ci_low`/`ci_high` are the Bonferroni-corrected interval
/// of `pearson` at `confidence`.
#[derive(Serialize)]
struct AuditRowJson<'a> {
    metric: &'static str,
    channel: &'a str,
    verdict: &'static str,
    best_lag: Option<usize>,
    pearson: Option<f64>,
    spearman: Option<f64>,
    n: usize,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    confidence: f64,
}

fn audit_rows(audit: &MetricAudit) -> Vec<AuditRowJson<'_>> {
    audit
        .rows
        .iter()
        .map(|row| AuditRowJson {
            metric: row.metric.name(),
            channel: &row.channel,
            verdict: row.verdict.code(),
            best_lag: row.best.map(|b| b.lag),
            pearson: row.best.map(|b| b.pearson.r),
            spearman: row.best.and_then(|b| b.spearman).map(|s| s.r),
            n: row.n,
            ci_low: row.best.map(|b| b.ci_low),
            ci_high: row.best.map(|b| b.ci_high),
            confidence: audit.confidence,
        })
        .collect()
}

/// Amounts are numbers in the currency's units.
#[derive(Serialize)]
struct PeriodJson<'a> {
    channel: &'a str,
    period_start: NaiveDate,
    period_end: NaiveDate,
    complete: bool,
    verdict: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gaps: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<&'static str>,
    impressions: u64,
    reach: Option<u64>,
    clicks: u64,
    ctr: Option<f64>,
    spend: Option<f64>,
    spend_known: f64,
    cpc: Option<f64>,
    leads: u64,
    deals_won: u64,
    revenue: Option<f64>,
    revenue_known: f64,
    won_without_amount: u64,
    cost_per_won_deal: Option<f64>,
    romi: Option<f64>,
}

impl<'a> From<&'a PeriodMetrics> for PeriodJson<'a> {
    fn from(p: &'a PeriodMetrics) -> Self {
        PeriodJson {
            channel: &p.channel,
            period_start: p.period_start,
            period_end: p.period_end,
            complete: p.complete,
            verdict: match p.verdict {
                Verdict::Flagged => "flagged",
                Verdict::Clear => "clear",
                Verdict::NoVerdict => "none",
            },
            gaps: gap_words(&p.gaps),
            reasons: p.gaps.iter().map(reason_code).collect(),
            impressions: p.impressions,
            reach: p.reach,
            clicks: p.clicks,
            ctr: p.ctr,
            spend: p.spend.map(|s| s.as_f64()),
            spend_known: p.spend_known.as_f64(),
            cpc: p.cpc,
            leads: p.leads,
            deals_won: p.deals_won,
            revenue: p.revenue.map(|r| r.as_f64()),
            revenue_known: p.revenue_known.as_f64(),
            won_without_amount: p.won_without_amount,
            cost_per_won_deal: p.cost_per_won_deal,
            romi: p.romi,
        }
    }
}

/// Every kind's fields in one flat object; a kind leaves out the fields it does not have.
#[derive(Serialize)]
struct FindingJson<'a> {
    kind: FindingKind,
    channel: &'a str,
    period_start: NaiveDate,
    period_end: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    activity: Option<&'a Growth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    money: Option<&'a Growth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    leads: Option<&'a Growth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deals_won: Option<&'a Growth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_break: Option<ChainBreak>,
    #[serde(skip_serializing_if = "Option::is_none")]
    money_due: Option<MoneyDueJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metric: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claimed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gap: Option<f64>,
    /// `gap / observed`; null when nothing was observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    gap_ratio: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claimed_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shares: Option<Vec<ShareJson<'a>>>,
    /// `spend_without_money`: periods in the streak, its first period, its spend, the floor.
    #[serde(skip_serializing_if = "Option::is_none")]
    periods: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    streak_start: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    streak_spend: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spend_floor: Option<f64>,
    /// `decoupling`: the activity metric, the money metric, the correlation with its n and
    /// interval, the window's first period, the threshold and the activity's trend.
    #[serde(skip_serializing_if = "Option::is_none")]
    money_metric: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation: Option<&'a Correlation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window_start: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    activity_trend: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    returning_falling: Option<FallingJson>,
    spend: f64,
    /// In the reporting currency; null for a data gap ([`Finding::money_at_stake`]).
    money_at_stake: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gaps: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<&'static str>,
    message: &'a str,
}

impl<'a> From<&'a Finding> for FindingJson<'a> {
    fn from(f: &'a Finding) -> Self {
        let mut json = FindingJson {
            kind: f.kind(),
            channel: &f.channel,
            period_start: f.period_start,
            period_end: f.period_end,
            activity: None,
            money: None,
            leads: None,
            deals_won: None,
            chain_break: None,
            money_due: None,
            metric: None,
            claimed: None,
            observed: None,
            gap: None,
            gap_ratio: None,
            claimed_by: None,
            shares: None,
            periods: None,
            streak_start: None,
            streak_spend: None,
            spend_floor: None,
            money_metric: None,
            correlation: None,
            window_start: None,
            threshold: None,
            activity_trend: None,
            returning_falling: None,
            spend: f.spend.as_f64(),
            money_at_stake: f.money_at_stake().and_then(finite),
            currency: f.currency.as_deref(),
            gaps: Vec::new(),
            reasons: Vec::new(),
            message: &f.message,
        };
        match &f.detail {
            FindingDetail::ActivityWithoutMoney(flag) => {
                json.activity = Some(&flag.activity);
                json.money = Some(&flag.money);
                json.leads = flag.leads.as_ref();
                json.deals_won = flag.deals_won.as_ref();
                json.chain_break = flag.chain_break;
                json.money_due = flag.timing.map(MoneyDueJson::from);
            }
            FindingDetail::LeadsWithoutMoney(flag) => {
                json.activity = flag.activity.as_ref();
                json.money = Some(&flag.money);
                json.leads = Some(&flag.leads);
                json.deals_won = flag.deals_won.as_ref();
                json.chain_break = Some(ChainBreak::LeadToSale);
            }
            FindingDetail::SpendWithoutMoney(s) => {
                json.periods = Some(s.periods);
                json.streak_start = Some(s.streak_start);
                json.streak_spend = Some(s.streak_spend.as_f64());
                json.spend_floor = Some(s.floor.as_f64());
            }
            FindingDetail::Decoupling(d) => {
                json.metric = Some(&d.metric);
                json.money_metric = Some(&d.money_metric);
                json.correlation = Some(&d.correlation);
                json.window_start = Some(d.window_start);
                json.threshold = Some(d.threshold);
                json.activity_trend = Some(d.activity_trend);
            }
            FindingDetail::DataGap(gap) => {
                json.gaps = gap_words(&gap.reasons);
                json.reasons = gap.reasons.iter().map(reason_code).collect();
            }
            FindingDetail::ClaimMismatch(c) | FindingDetail::ClaimBelowObserved(c) => {
                json.metric = Some(c.metric.as_str());
                json.claimed = Some(c.claimed);
                json.observed = Some(c.observed);
                json.gap = Some(c.gap);
                json.gap_ratio = Some(finite(c.gap_ratio));
                json.claimed_by = Some(&c.claimed_by);
            }
            FindingDetail::ReturningRevenueFalling(r) => {
                json.returning_falling = Some(FallingJson {
                    periods: r.periods,
                    from_period_start: r.first_start,
                    revenue_before: r.returning_before,
                    revenue_now: r.returning_now,
                    spend_before: r.spend_before,
                    spend_now: r.spend_now,
                    share: r.returning_share.and_then(finite),
                });
            }
            FindingDetail::OverclaimedTotal(o) => {
                json.metric = Some(o.metric.as_str());
                json.claimed = Some(o.claimed);
                json.observed = Some(o.observed);
                json.gap = Some(o.gap);
                json.gap_ratio = Some(finite(o.gap_ratio));
                json.shares = Some(
                    o.shares
                        .iter()
                        .map(|s| ShareJson {
                            source: &s.source,
                            claimed: s.claimed,
                        })
                        .collect(),
                );
            }
        }
        json
    }
}

/// When a flag's money is expected (`money_due` of an `activity_without_money`).
#[derive(Serialize)]
struct MoneyDueJson {
    /// `not_yet_due` or `overdue`.
    status: &'static str,
    /// The last day of the period the money is expected in.
    due: NaiveDate,
    rule_lag: usize,
    learned_lag: Option<usize>,
}

impl From<MoneyTiming> for MoneyDueJson {
    fn from(t: MoneyTiming) -> Self {
        MoneyDueJson {
            status: match t.status {
                MoneyDue::NotYetDue => "not_yet_due",
                MoneyDue::Overdue => "overdue",
            },
            due: t.due,
            rule_lag: t.rule_lag,
            learned_lag: t.learned_lag,
        }
    }
}

/// One row of `lags`: one activity metric of one channel against money. `best_lag`, `r`, `n`,
/// `ci_low` and `ci_high` are null when no lag has a correlation, and `reason` says why.
#[derive(Serialize)]
struct LagJson<'a> {
    channel: &'a str,
    metric: &'static str,
    money_metric: &'static str,
    max_lag: usize,
    best_lag: Option<usize>,
    r: Option<f64>,
    n: Option<usize>,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<ReasonJson>,
    /// The channel's learned lag (null when none could be learned) and the metric it came from.
    channel_lag: Option<usize>,
    channel_lag_metric: Option<&'static str>,
    /// The lag the default rule used on the channel.
    rule_lag: usize,
    by_lag: Vec<LagPointJson>,
}

/// Why there is no correlation: `too_few_periods` (with `n` and `needed`) or `constant`.
#[derive(Serialize)]
struct ReasonJson {
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    needed: Option<usize>,
}

impl From<NoCorrelation> for ReasonJson {
    fn from(reason: NoCorrelation) -> Self {
        match reason {
            NoCorrelation::TooFewPeriods { n, needed } => ReasonJson {
                code: "too_few_periods",
                n: Some(n),
                needed: Some(needed),
            },
            NoCorrelation::Constant => ReasonJson {
                code: "constant",
                n: None,
                needed: None,
            },
        }
    }
}

/// The numbers of a `returning_revenue_falling`: returning-customer revenue and spend in the
/// period before the fall (`from_period_start`) and in the flagged period.
#[derive(Serialize)]
struct FallingJson {
    periods: usize,
    from_period_start: NaiveDate,
    revenue_before: f64,
    revenue_now: f64,
    spend_before: f64,
    spend_now: f64,
    share: Option<f64>,
}

/// One row of `meaning`: a channel's meaning figures for one period, each with its trend
/// (`change` = value minus `baseline`, the mean of the previous `baseline_periods` complete
/// periods), null where unknown.
#[derive(Serialize)]
struct MeaningJson<'a> {
    channel: &'a str,
    period_start: NaiveDate,
    period_end: NaiveDate,
    complete: bool,
    revenue_returning: Option<f64>,
    revenue_without_customer: Option<f64>,
    returning_share: Option<f64>,
    avg_deal_size: Option<f64>,
    lead_to_won: Option<f64>,
    median_days_to_won: Option<f64>,
    cost_per_won_deal: Option<f64>,
    romi: Option<f64>,
    trend: serde_json::Map<String, serde_json::Value>,
}

impl<'a> From<&'a MeaningRow> for MeaningJson<'a> {
    fn from(m: &'a MeaningRow) -> Self {
        let ok = |v: Option<f64>| v.and_then(finite);
        MeaningJson {
            channel: &m.channel,
            period_start: m.period_start,
            period_end: m.period_end,
            complete: m.complete,
            revenue_returning: m.revenue_returning.map(|r| r.as_f64()),
            revenue_without_customer: m.revenue_without_customer.map(|r| r.as_f64()),
            returning_share: ok(m.returning_share),
            avg_deal_size: ok(m.avg_deal_size),
            lead_to_won: ok(m.lead_to_won),
            median_days_to_won: ok(m.median_days_to_won),
            cost_per_won_deal: ok(m.cost_per_won_deal),
            romi: ok(m.romi),
            trend: m
                .trends
                .iter()
                .map(|(metric, trend)| {
                    let value = trend
                        .filter(|t| t.baseline.is_finite() && t.change.is_finite())
                        .map_or(
                            serde_json::Value::Null,
                            |t| serde_json::json!({"baseline": t.baseline, "change": t.change}),
                        );
                    (metric.as_str().to_string(), value)
                })
                .collect(),
        }
    }
}

/// The correlation at one lag, or why there is none.
#[derive(Serialize)]
struct LagPointJson {
    lag: usize,
    r: Option<f64>,
    n: Option<usize>,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<ReasonJson>,
}

impl LagPointJson {
    fn new(lag: usize, c: Result<Correlation, NoCorrelation>) -> Self {
        let (c, reason) = match c {
            Ok(c) => (Some(c), None),
            Err(reason) => (None, Some(ReasonJson::from(reason))),
        };
        LagPointJson {
            lag,
            r: c.map(|c| c.r),
            n: c.map(|c| c.n),
            ci_low: c.map(|c| c.ci_low),
            ci_high: c.map(|c| c.ci_high),
            reason,
        }
    }
}

impl<'a> LagJson<'a> {
    fn rows(c: &'a ChannelLag) -> impl Iterator<Item = LagJson<'a>> + 'a {
        c.metrics.iter().map(move |m| {
            let best_lag = m.best.ok().map(|(lag, _)| lag);
            let best = LagPointJson::new(best_lag.unwrap_or(0), m.best.map(|(_, c)| c));
            LagJson {
                channel: &c.channel,
                metric: m.metric.name(),
                money_metric: c.money_metric.name(),
                max_lag: c.max_lag,
                best_lag,
                r: best.r,
                n: best.n,
                ci_low: best.ci_low,
                ci_high: best.ci_high,
                reason: best.reason,
                channel_lag: c.learned.map(|(lag, _)| lag),
                channel_lag_metric: c.learned.map(|(_, metric)| metric.name()),
                rule_lag: c.rule_lag,
                by_lag: m
                    .by_lag
                    .iter()
                    .map(|&(lag, c)| LagPointJson::new(lag, c))
                    .collect(),
            }
        })
    }
}

/// One source's part of an `overclaimed_total`.
#[derive(Serialize)]
struct ShareJson<'a> {
    source: &'a str,
    claimed: f64,
}

/// One row of `reconciliation`: a claim beside what kassa observed. Money in the currency's
/// units; `observed`, `gap` and `gap_ratio` are null when the row has no verdict (`gaps` and
/// `reasons` say why), `gap_ratio` also when nothing was observed.
#[derive(Serialize)]
struct ClaimJson<'a> {
    channel: &'a str,
    period_start: NaiveDate,
    period_end: NaiveDate,
    metric: &'static str,
    claimed_by: &'a str,
    /// `report` (a report row) or `platform` (an ad platform's own claim).
    origin: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    claimed: f64,
    observed: Option<f64>,
    gap: Option<f64>,
    gap_ratio: Option<f64>,
    currency: Option<&'a str>,
    /// `confirmed`, `claim_mismatch`, `claim_below_observed` or `none`.
    verdict: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gaps: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<&'static str>,
    spend: Option<f64>,
    cpl_claimed: Option<f64>,
    cpl_observed: Option<f64>,
    roas_claimed: Option<f64>,
    roas_observed: Option<f64>,
}

impl<'a> From<&'a ReconciliationRow> for ClaimJson<'a> {
    fn from(r: &'a ReconciliationRow) -> Self {
        let gaps: &[_] = match &r.verdict {
            ClaimVerdict::NoVerdict(gaps) => gaps,
            _ => &[],
        };
        ClaimJson {
            channel: &r.channel,
            period_start: r.period.start,
            period_end: r.period.end,
            metric: r.metric.as_str(),
            claimed_by: &r.claimed_by,
            origin: match r.origin {
                ClaimOrigin::Report { .. } => "report",
                ClaimOrigin::Platform => "platform",
            },
            note: match &r.origin {
                ClaimOrigin::Report { note } => note.as_deref(),
                ClaimOrigin::Platform => None,
            },
            claimed: r.claimed,
            observed: r.observed,
            gap: r.gap,
            gap_ratio: r.gap_ratio.and_then(finite),
            currency: r.currency.as_deref(),
            verdict: text::reconcile::claim_verdict(&r.verdict, Locale::En),
            gaps: gaps
                .iter()
                .map(|g| text::reconcile::claim_gap(g, Locale::En))
                .collect(),
            reasons: gaps.iter().map(text::reconcile::claim_gap_code).collect(),
            spend: r.spend.map(|s| s.as_f64()),
            cpl_claimed: r.cpl_claimed,
            cpl_observed: r.cpl_observed,
            roas_claimed: r.roas_claimed,
            roas_observed: r.roas_observed,
        }
    }
}

/// A ratio over nothing is null in JSON.
fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// Data-gap reasons as the contract words them, in English.
fn gap_words(reasons: &[GapReason]) -> Vec<String> {
    reasons
        .iter()
        .map(|r| text::gap_reason(r, Locale::En))
        .collect()
}

/// The stable code of a data-gap reason (`reasons`), for tools that branch on it rather than
/// parse the sentence in `gaps`.
fn reason_code(reason: &GapReason) -> &'static str {
    match reason {
        GapReason::NotEnded { .. } => "not_ended",
        GapReason::SourcePending { .. } => "source_pending",
        GapReason::SourceMissing { .. } => "source_missing",
        GapReason::WonWithoutAmount(_) => "won_without_amount",
        GapReason::NoBaseline { .. } => "no_baseline",
        GapReason::ActivityUnknown { .. } => "activity_unknown",
        GapReason::MissingRate { .. } => "missing_rate",
        GapReason::MoneyNotDue { .. } => "money_not_due",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{ActivityWithoutMoney, DataGap};
    use crate::domain::Money;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn growth(metric: &str, value: f64, baseline: f64, growth: f64) -> Growth {
        Growth {
            metric: metric.into(),
            value,
            baseline,
            growth,
        }
    }

    fn finding(detail: FindingDetail, currency: Option<&str>) -> Finding {
        Finding {
            channel: "meta".into(),
            period_start: d("2025-03-10"),
            period_end: d("2025-03-16"),
            spend: Money::from_micros(3_464_110_000),
            currency: currency.map(str::to_string),
            detail,
            message: "words".into(),
        }
    }

    fn json(f: &Finding) -> String {
        serde_json::to_string(&super::finding(f)).unwrap()
    }

    #[test]
    fn a_flag_keeps_the_contract_field_order_and_leaves_out_what_it_lacks() {
        let flag = finding(
            FindingDetail::ActivityWithoutMoney(ActivityWithoutMoney {
                activity: growth("reach", 150.0, 100.0, 0.5),
                money: growth("revenue", 0.0, 0.0, 0.0),
                leads: Some(growth("leads", 5.0, 0.0, f64::INFINITY)),
                deals_won: None,
                chain_break: Some(ChainBreak::LeadToSale),
                timing: None,
            }),
            Some("USD"),
        );
        assert_eq!(
            json(&flag),
            r#"{"kind":"activity_without_money","channel":"meta","period_start":"2025-03-10","period_end":"2025-03-16","activity":{"metric":"reach","value":150.0,"baseline":100.0,"growth":0.5},"money":{"metric":"revenue","value":0.0,"baseline":0.0,"growth":0.0},"leads":{"metric":"leads","value":5.0,"baseline":0.0,"growth":null},"chain_break":"lead_to_sale","spend":3464.11,"money_at_stake":3464.11,"currency":"USD","message":"words"}"#
        );
    }

    #[test]
    fn a_data_gap_lists_its_reasons_in_english_and_no_growth() {
        let gap = finding(
            FindingDetail::DataGap(DataGap {
                reasons: vec![
                    GapReason::NotEnded {
                        granularity: Granularity::Week,
                        ends: d("2025-03-16"),
                    },
                    GapReason::WonWithoutAmount(1),
                ],
            }),
            None,
        );
        assert_eq!(
            json(&gap),
            r#"{"kind":"data_gap","channel":"meta","period_start":"2025-03-10","period_end":"2025-03-16","spend":3464.11,"money_at_stake":null,"gaps":["the week has not ended yet (it ends 2025-03-16)","1 won deal without an amount, so revenue is unknown"],"reasons":["not_ended","won_without_amount"],"message":"words"}"#
        );
    }
}
