//! The JSON contract of `kassa analyze --format json` (README, "JSON output"), and the
//! finding object that alert data carries. Field names, their order and the rules for null
//! and absent fields live here, in one place, rather than in serde attributes on the analysis
//! types: the contract stays put when the analysis reshapes its types, and the analysis stays
//! free of wording (data-gap reasons and warnings are typed there and worded here, always in
//! English: other tools parse them).

use chrono::NaiveDate;
use serde::Serialize;

use crate::analysis::{
    Analysis, ChainBreak, ClaimOrigin, ClaimVerdict, Finding, FindingDetail, FindingKind,
    GapReason, Granularity, Growth, MeaningRow, PeriodMetrics, ReconciliationRow, Verdict,
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
            meaning: a.meaning.iter().map(MeaningJson::from).collect(),
        }
    }
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
    metric: Option<&'static str>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    returning_falling: Option<FallingJson>,
    spend: f64,
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
            metric: None,
            claimed: None,
            observed: None,
            gap: None,
            gap_ratio: None,
            claimed_by: None,
            shares: None,
            returning_falling: None,
            spend: f.spend.as_f64(),
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
            }),
            Some("USD"),
        );
        assert_eq!(
            json(&flag),
            r#"{"kind":"activity_without_money","channel":"meta","period_start":"2025-03-10","period_end":"2025-03-16","activity":{"metric":"reach","value":150.0,"baseline":100.0,"growth":0.5},"money":{"metric":"revenue","value":0.0,"baseline":0.0,"growth":0.0},"leads":{"metric":"leads","value":5.0,"baseline":0.0,"growth":null},"chain_break":"lead_to_sale","spend":3464.11,"currency":"USD","message":"words"}"#
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
            r#"{"kind":"data_gap","channel":"meta","period_start":"2025-03-10","period_end":"2025-03-16","spend":3464.11,"gaps":["the week has not ended yet (it ends 2025-03-16)","1 won deal without an amount, so revenue is unknown"],"reasons":["not_ended","won_without_amount"],"message":"words"}"#
        );
    }
}
