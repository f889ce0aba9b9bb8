//! Reconciliation against hand-computed expectations: report claims (any dates) and ad
//! platforms' claims (summed per week) beside what the CRM and the platforms recorded, through
//! the pure `analysis::analyze`; and the `[reconciliation]` configuration.

use kassa::analysis::{
    self, Analysis, ClaimCheck, ClaimGap, ClaimVerdict, FindingDetail, FindingKind,
    ReconciliationRow, RuleSettings,
};
use kassa::config::{Secrets, Settings};
use kassa::domain::{
    AdDay, AlertKind, ClaimMetric, Claims, Coverage, DateRange, Deal, Locale, Money, ReportClaim,
};
use kassa::store::{ad_rows_to_frame, claims_to_frame, deals_to_frame};
use polars::prelude::DataFrame;

use crate::helpers::{Workspace, ad_day, d, demo_sources, lead, money, range, won};

/// The week every test looks at, and March around it.
const WEEK: (&str, &str) = ("2025-03-10", "2025-03-16");

fn march() -> DateRange {
    range("2025-03-01", "2025-03-31")
}

fn covered(source: &str, ranges: Vec<DateRange>) -> Coverage {
    Coverage {
        source: source.into(),
        ranges,
        pending_from: None,
    }
}

fn report(from: &str, to: &str, channel: &str, metric: ClaimMetric, value: &str) -> ReportClaim {
    ReportClaim {
        period: range(from, to),
        channel: channel.into(),
        metric,
        value: money(value),
        currency: None,
        note: None,
    }
}

/// `n` leads of `channel` created on `day`.
fn leads(n: usize, channel: &str, day: &str) -> Vec<Deal> {
    (0..n)
        .map(|i| lead(&format!("{channel}-{day}-{i}"), channel, day))
        .collect()
}

/// Runs the analysis of March over `ads` (by source), `deals` of source `crm` and the report
/// `agency`'s claims, with the English messages filled.
fn run(
    ads: &[(&str, Vec<AdDay>)],
    deals: &[Deal],
    claims: &[ReportClaim],
    coverage: &[Coverage],
) -> Analysis {
    let mut frame: Option<DataFrame> = None;
    for (source, rows) in ads {
        let part = ad_rows_to_frame(source, rows).unwrap();
        frame = Some(match frame {
            Some(f) => f.vstack(&part).unwrap(),
            None => part,
        });
    }
    let ads = frame.unwrap_or_else(|| ad_rows_to_frame("ads", &[]).unwrap());
    let deals = deals_to_frame("crm", deals).unwrap();
    let claims = claims_to_frame("agency", claims).unwrap();
    let settings = RuleSettings::default();
    let mut analysis = analysis::analyze(
        &ads,
        &deals,
        &claims,
        coverage,
        &settings,
        march(),
        d("2025-04-07"),
    )
    .unwrap();
    kassa::text::describe_findings(&mut analysis, &settings, Locale::En);
    analysis
}

/// One ad row of meta in the week (1000 spent) and `deals`, both sources covering March.
fn week_with(deals: &[Deal], claims: &[ReportClaim]) -> Analysis {
    let ads = vec![ad_day("2025-03-12", "meta", 10_000, 400, 8_000, "1000")];
    let coverage = [covered("ads", vec![march()]), covered("crm", vec![march()])];
    run(&[("ads", ads)], deals, claims, &coverage)
}

fn claim_findings(a: &Analysis) -> Vec<(FindingKind, &ClaimCheck)> {
    a.findings
        .iter()
        .filter_map(|f| match &f.detail {
            FindingDetail::ClaimMismatch(c) | FindingDetail::ClaimBelowObserved(c) => {
                Some((f.kind(), c))
            }
            _ => None,
        })
        .collect()
}

fn only_row(a: &Analysis) -> &ReconciliationRow {
    assert_eq!(a.reconciliation.len(), 1, "{:#?}", a.reconciliation);
    &a.reconciliation[0]
}

#[test]
fn report_claiming_2_6x_crm_leads_is_a_mismatch() {
    // The CRM has 10 meta leads in the week; the report claims 26 (2.6x).
    let a = week_with(
        &leads(10, "meta", "2025-03-11"),
        &[report(WEEK.0, WEEK.1, "meta", ClaimMetric::Leads, "26")],
    );
    let found = claim_findings(&a);
    assert_eq!(found.len(), 1, "{:#?}", a.findings);
    let (kind, c) = found[0];
    assert_eq!(kind, FindingKind::ClaimMismatch);
    assert_eq!(c.metric, ClaimMetric::Leads);
    assert_eq!((c.claimed, c.observed, c.gap), (26.0, 10.0, 16.0));
    assert!((c.gap_ratio - 1.6).abs() < 1e-9);
    assert_eq!(c.claimed_by, "agency");

    let finding = a
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::ClaimMismatch)
        .unwrap();
    assert_eq!(
        (
            finding.channel.as_str(),
            finding.period_start,
            finding.period_end
        ),
        ("meta", d(WEEK.0), d(WEEK.1))
    );
    // (10 - 26) / 26 = -61.5%.
    assert!(
        finding.message.contains("claims 26 leads on channel meta")
            && finding.message.contains("the CRM recorded 10 (−62%)"),
        "{}",
        finding.message
    );

    // Cost per real result: 1000 spent, per claimed lead 1000/26, per CRM lead 100.
    let row = only_row(&a);
    assert_eq!(row.verdict, ClaimVerdict::Mismatch);
    assert_eq!(row.spend, Some(Money::from_micros(1_000_000_000)));
    assert!((row.cpl_claimed.unwrap() - 1000.0 / 26.0).abs() < 1e-9);
    assert_eq!(row.cpl_observed, Some(100.0));
}

/// Spend claimed in roubles is not held against spend in dollars, and clicks claimed for a
/// channel no ad source delivers are not held against zero: both get no verdict, with the
/// reason. The same spend claimed in the data's currency is judged.
#[test]
fn incomparable_claims_get_no_verdict() {
    let mut roubles = report(WEEK.0, WEEK.1, "meta", ClaimMetric::Spend, "96000");
    roubles.currency = Some("RUB".into());
    let vk = report(WEEK.0, WEEK.1, "vk", ClaimMetric::Clicks, "1234");
    let a = week_with(&leads(10, "meta", "2025-03-11"), &[roubles, vk]);
    assert!(claim_findings(&a).is_empty(), "{:#?}", a.findings);
    for (metric, reason) in [
        (
            ClaimMetric::Spend,
            ClaimGap::CurrencyMismatch {
                claimed: "RUB".into(),
                observed: "USD".into(),
            },
        ),
        (
            ClaimMetric::Clicks,
            ClaimGap::NoAdSource {
                channel: "vk".into(),
            },
        ),
    ] {
        let row = a
            .reconciliation
            .iter()
            .find(|r| r.metric == metric)
            .unwrap();
        assert_eq!(row.verdict, ClaimVerdict::NoVerdict(vec![reason]));
        assert_eq!(row.observed, None, "unknown, never zero");
    }

    let mut dollars = report(WEEK.0, WEEK.1, "meta", ClaimMetric::Spend, "1000");
    dollars.currency = Some("usd".into());
    let a = week_with(&leads(10, "meta", "2025-03-11"), &[dollars]);
    assert_eq!(only_row(&a).verdict, ClaimVerdict::Confirmed);
}

#[test]
fn honest_claim_is_not_a_mismatch() {
    let a = week_with(
        &leads(10, "meta", "2025-03-11"),
        &[report(WEEK.0, WEEK.1, "meta", ClaimMetric::Leads, "10")],
    );
    assert!(claim_findings(&a).is_empty(), "{:#?}", a.findings);
    let row = only_row(&a);
    assert_eq!(row.verdict, ClaimVerdict::Confirmed);
    assert_eq!((row.observed, row.gap), (Some(10.0), Some(0.0)));
}

#[test]
fn claim_within_tolerance_is_not_a_mismatch() {
    // 100 CRM leads. 108 claimed: 8 over the floor of 3 but within 10% -> confirmed; 111
    // claimed: beyond both -> a mismatch. 12 clicks more than 400 are within the floor of 50.
    let deals = leads(100, "meta", "2025-03-13");
    let within = week_with(
        &deals,
        &[
            report(WEEK.0, WEEK.1, "meta", ClaimMetric::Leads, "108"),
            report(WEEK.0, WEEK.1, "meta", ClaimMetric::Clicks, "412"),
        ],
    );
    assert!(claim_findings(&within).is_empty(), "{:#?}", within.findings);
    assert!(
        within
            .reconciliation
            .iter()
            .all(|r| r.verdict == ClaimVerdict::Confirmed)
    );
    let beyond = week_with(
        &deals,
        &[report(WEEK.0, WEEK.1, "meta", ClaimMetric::Leads, "111")],
    );
    assert_eq!(claim_findings(&beyond).len(), 1);
}

#[test]
fn claim_for_uncovered_crm_week_gets_no_verdict() {
    // The CRM export stops on 2025-03-13: the week's leads are not all known.
    let ads = vec![ad_day("2025-03-12", "meta", 10_000, 400, 8_000, "1000")];
    let coverage = [
        covered("ads", vec![march()]),
        covered("crm", vec![range("2025-03-01", "2025-03-13")]),
    ];
    let a = run(
        &[("ads", ads)],
        &leads(2, "meta", "2025-03-11"),
        &[report(WEEK.0, WEEK.1, "meta", ClaimMetric::Leads, "26")],
        &coverage,
    );
    assert!(claim_findings(&a).is_empty(), "{:#?}", a.findings);
    let row = only_row(&a);
    assert_eq!(row.observed, None, "missing leads are not zero leads");
    assert_eq!(
        row.verdict,
        ClaimVerdict::NoVerdict(vec![ClaimGap::SourceMissing {
            source: "crm".into(),
            ranges: vec![range("2025-03-14", "2025-03-16")],
        }])
    );
    let json: serde_json::Value = serde_json::from_str(&kassa::report::json::to_json(&a)).unwrap();
    let row = &json["reconciliation"][0];
    assert_eq!(row["verdict"], "none");
    assert_eq!(row["reasons"][0], "source_missing");
    assert!(row["observed"].is_null());
}

#[test]
fn three_platforms_claiming_the_same_purchases_overclaim_total() {
    // Each platform claims the same 10 purchases in the week; the CRM won 10 deals.
    let claiming = |channel: &str| {
        let mut row = ad_day("2025-03-12", channel, 5_000, 200, 4_000, "500");
        row.claims = Claims {
            leads: None,
            purchases: Some(10),
            revenue: None,
        };
        vec![row]
    };
    let sources = [
        ("meta_ads", claiming("meta")),
        ("google_ads", claiming("google")),
        ("vk_ads", claiming("vk")),
    ];
    let mut deals = Vec::new();
    for (i, channel) in [
        "meta", "meta", "meta", "meta", "google", "google", "google", "vk", "vk", "vk",
    ]
    .iter()
    .enumerate()
    {
        deals.push(won(
            &format!("w{i}"),
            channel,
            "2025-03-03",
            "2025-03-12",
            "100",
        ));
    }
    let coverage: Vec<Coverage> = ["meta_ads", "google_ads", "vk_ads", "crm"]
        .iter()
        .map(|s| covered(s, vec![march()]))
        .collect();
    let a = run(&sources, &deals, &[], &coverage);
    let totals: Vec<_> = a
        .findings
        .iter()
        .filter_map(|f| match &f.detail {
            FindingDetail::OverclaimedTotal(o) => Some((f, o)),
            _ => None,
        })
        .collect();
    assert_eq!(totals.len(), 1, "{:#?}", a.findings);
    let (f, o) = totals[0];
    assert_eq!((f.channel.as_str(), f.period_start), ("all", d(WEEK.0)));
    assert_eq!(o.metric, ClaimMetric::Purchases);
    assert_eq!((o.claimed, o.observed, o.gap), (30.0, 10.0, 20.0));
    assert_eq!(o.shares.len(), 3);
    assert!(o.shares.iter().all(|s| s.claimed == 10.0));
    assert!(
        f.message.contains("google_ads 10, meta_ads 10, vk_ads 10"),
        "{}",
        f.message
    );
    // Per channel: meta claims 10 against its 4 won deals.
    let meta = a
        .reconciliation
        .iter()
        .find(|r| r.channel == "meta")
        .unwrap();
    assert_eq!(
        (meta.claimed, meta.observed, &meta.verdict),
        (10.0, Some(4.0), &ClaimVerdict::Mismatch)
    );
}

#[test]
fn monthly_report_row_compared_over_its_own_dates() {
    // Weekly analysis, a report row for March: the 12 leads of March count (over five ISO
    // weeks, the first and last only partly in March); the leads of 2025-02-28 and 2025-04-01
    // do not.
    let mut deals = Vec::new();
    for day in ["2025-03-01", "2025-03-05", "2025-03-18", "2025-03-31"] {
        deals.extend(leads(3, "meta", day));
    }
    deals.extend(leads(5, "meta", "2025-02-28"));
    deals.extend(leads(5, "meta", "2025-04-01"));
    let ads = vec![ad_day("2025-03-12", "meta", 10_000, 400, 8_000, "1000")];
    let coverage = [
        covered("ads", vec![range("2025-02-01", "2025-04-06")]),
        covered("crm", vec![range("2025-02-01", "2025-04-06")]),
    ];
    let a = run(
        &[("ads", ads)],
        &deals,
        &[report(
            "2025-03-01",
            "2025-03-31",
            "meta",
            ClaimMetric::Leads,
            "40",
        )],
        &coverage,
    );
    let row = only_row(&a);
    assert_eq!(row.period, march());
    assert_eq!((row.claimed, row.observed), (40.0, Some(12.0)));
    let f = a
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::ClaimMismatch)
        .unwrap();
    assert_eq!(
        (f.period_start, f.period_end),
        (d("2025-03-01"), d("2025-03-31"))
    );
}

#[test]
fn claim_below_observed_is_its_own_kind() {
    let a = week_with(
        &leads(20, "meta", "2025-03-11"),
        &[report(WEEK.0, WEEK.1, "meta", ClaimMetric::Leads, "5")],
    );
    let found = claim_findings(&a);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, FindingKind::ClaimBelowObserved);
    assert_eq!((found[0].1.claimed, found[0].1.observed), (5.0, 20.0));
    // Targets get it only when they list it; a mismatch and an overclaim go by default.
    assert!(!AlertKind::Finding(FindingKind::ClaimBelowObserved).sent_by_default());
    assert!(AlertKind::Finding(FindingKind::ClaimMismatch).sent_by_default());
    assert!(AlertKind::Finding(FindingKind::OverclaimedTotal).sent_by_default());
}

#[test]
fn not_reported_platform_claims_are_not_claims() {
    // Rows that report no claims make no reconciliation row (not a claim of zero); a week in
    // which one row reports 3 leads claims 3.
    let quiet = ad_day("2025-03-04", "meta", 10_000, 400, 8_000, "1000");
    let mut claiming = ad_day("2025-03-12", "meta", 10_000, 400, 8_000, "1000");
    claiming.claims.leads = Some(3);
    let also = ad_day("2025-03-13", "meta", 10_000, 400, 8_000, "1000");
    let coverage = [covered("ads", vec![march()]), covered("crm", vec![march()])];
    let a = run(
        &[("ads", vec![quiet, claiming, also])],
        &leads(3, "meta", "2025-03-11"),
        &[],
        &coverage,
    );
    let row = only_row(&a);
    assert_eq!(
        (
            row.metric,
            row.claimed,
            row.period.start,
            row.claimed_by.as_str()
        ),
        (ClaimMetric::Leads, 3.0, d(WEEK.0), "ads")
    );
    assert_eq!(row.verdict, ClaimVerdict::Confirmed);
}

fn load(rest: &str) -> Result<Settings, String> {
    let ws = Workspace::new();
    let path = ws.write("kassa.toml", &format!("{rest}\n\n{}", demo_sources()));
    Settings::load_for(Some(&path), Secrets::Unused).map_err(|e| e.to_string())
}

#[test]
fn reconciliation_defaults_are_documented_values() {
    let settings = load("").unwrap();
    let r = &settings.rule.reconciliation;
    assert_eq!(r.tolerance, 0.10);
    assert_eq!(
        (r.min_abs.leads, r.min_abs.purchases, r.min_abs.clicks),
        (3.0, 2.0, 50.0)
    );
    assert_eq!((r.min_abs.impressions, r.min_abs.reach), (500.0, 500.0));
    assert_eq!((r.min_abs.revenue, r.min_abs.spend), (0.01, 0.01));

    let set = load("[reconciliation]\ntolerance = 0.2\nmin_abs = { leads = 5 }").unwrap();
    let r = &set.rule.reconciliation;
    assert_eq!(
        (r.tolerance, r.min_abs.leads, r.min_abs.purchases),
        (0.2, 5.0, 2.0)
    );
}

#[test]
fn bad_reconciliation_settings_are_reported_key_by_key() {
    let error = load(
        "[reconciliation]\ntolerance = 10\ntolerence = 0.1\n\
         min_abs = { leads = -1, revenue = 5, lead = 2 }",
    )
    .unwrap_err();
    for part in [
        "reconciliation.tolerance: 10 is not a fraction between 0 and 1 (0.10 is 10%): for 10% write 0.1",
        "reconciliation.tolerence: unknown key `tolerence` in [reconciliation]; did you mean `tolerance`?",
        "reconciliation.min_abs.leads: -1 is not a count of zero or more",
        "reconciliation.min_abs.revenue: 5 is not a fraction of the observed amount between 0 and 1",
        "reconciliation.min_abs.lead: unknown key `lead` in [reconciliation.min_abs]; did you mean `leads`?",
    ] {
        assert!(error.contains(part), "{part:?} missing from:\n{error}");
    }
}

#[test]
fn the_table_shows_the_reconciliation_only_when_there_are_claims() {
    let deals = leads(123, "meta", "2025-03-11");
    let claimed = week_with(
        &deals,
        &[report(WEEK.0, WEEK.1, "meta", ClaimMetric::Leads, "1320")],
    );
    let en = kassa::report::table::to_table(&claimed, Locale::En);
    assert!(
        en.contains("reconciliation: what the reports claim"),
        "{en}"
    );
    assert!(en.contains("1,320") && en.contains("MISMATCH"), "{en}");
    let mut ru_analysis = claimed.clone();
    kassa::text::describe_findings(&mut ru_analysis, &RuleSettings::default(), Locale::Ru);
    let ru = kassa::report::table::to_table(&ru_analysis, Locale::Ru);
    assert!(ru.contains("сверка") && ru.contains("1\u{a0}320"), "{ru}");
    assert!(ru.contains("в CRM — 123 (−91%)"), "{ru}");

    let quiet = week_with(&deals, &[]);
    let table = kassa::report::table::to_table(&quiet, Locale::En);
    assert!(!table.contains("reconciliation"), "{table}");
    assert!(!table.contains("claim"), "{table}");
}
