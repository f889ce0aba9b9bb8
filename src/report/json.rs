//! The JSON contract of `kassa analyze --format json` (README, "JSON output"), and the
//! finding object that alert data carries. Field names, their order and the rules for null
//! and absent fields live here, in one place, rather than in serde attributes on the analysis
//! types: the contract stays put when the analysis reshapes its types, and the analysis stays
//! free of wording (data-gap reasons and warnings are typed there and worded here, always in
//! English: other tools parse them).

use chrono::NaiveDate;
use serde::Serialize;

use crate::analysis::{
    Analysis, ChainBreak, Finding, FindingDetail, FindingKind, Granularity, Growth, PeriodMetrics,
};
use crate::domain::Locale;
use crate::text;

/// The whole analysis as pretty-printed JSON.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    periods: Vec<PeriodJson<'a>>,
    findings: Vec<FindingJson<'a>>,
}

impl<'a> From<&'a Analysis> for AnalysisJson<'a> {
    fn from(a: &'a Analysis) -> Self {
        AnalysisJson {
            granularity: a.granularity,
            from: a.from,
            to: a.to,
            currency: a.currency.as_deref(),
            warnings: a.warnings.iter().map(text::report::warning).collect(),
            periods: a.periods.iter().map(PeriodJson::from).collect(),
            findings: a.findings.iter().map(FindingJson::from).collect(),
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gaps: Vec<String>,
    impressions: u64,
    reach: Option<u64>,
    clicks: u64,
    ctr: Option<f64>,
    spend: f64,
    cpc: Option<f64>,
    leads: u64,
    deals_won: u64,
    revenue: f64,
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
            gaps: p
                .gaps
                .iter()
                .map(|g| text::gap_reason(g, Locale::En))
                .collect(),
            impressions: p.impressions,
            reach: p.reach,
            clicks: p.clicks,
            ctr: p.ctr,
            spend: p.spend.as_f64(),
            cpc: p.cpc,
            leads: p.leads,
            deals_won: p.deals_won,
            revenue: p.revenue.as_f64(),
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
    spend: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gaps: Vec<String>,
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
            spend: f.spend.as_f64(),
            currency: f.currency.as_deref(),
            gaps: Vec::new(),
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
                json.gaps = gap
                    .reasons
                    .iter()
                    .map(|r| text::gap_reason(r, Locale::En))
                    .collect();
            }
        }
        json
    }
}
