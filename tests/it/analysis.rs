//! The default rule against hand-computed expectations. Frames are built from domain rows in
//! the store's snapshot schema and handed to the pure `analysis::analyze`, with coverage and
//! "today" as explicit inputs.

use kassa::analysis::{
    self, ActivityMetric, ActivityWithoutMoney, Analysis, ChainBreak, Finding, FindingDetail,
    FindingKind, GapReason, Granularity, MoneyMetric, RuleSettings, Verdict,
};
use kassa::domain::{AdDay, Coverage, DateRange, Deal};
use kassa::store::{ad_rows_to_frame, claims_to_frame, deals_to_frame};

use crate::helpers::{ad_day, d, lead, range, won};

const MONDAYS: [&str; 6] = [
    "2025-01-06",
    "2025-01-13",
    "2025-01-20",
    "2025-01-27",
    "2025-02-03",
    "2025-02-10",
];

/// A report claims frame with no claims: the default rule alone.
fn no_claims() -> polars::prelude::DataFrame {
    claims_to_frame("report", &[]).unwrap()
}

/// Six ISO weeks, 2025-01-06 to 2025-02-16.
fn six_weeks() -> DateRange {
    range("2025-01-06", "2025-02-16")
}

fn full_coverage() -> Vec<Coverage> {
    vec![
        Coverage {
            source: "ads".into(),
            ranges: vec![six_weeks()],
            pending_from: None,
        },
        Coverage {
            source: "crm".into(),
            ranges: vec![six_weeks()],
            pending_from: None,
        },
    ]
}

fn wednesday(monday: &str) -> String {
    (d(monday) + chrono::Duration::days(2)).to_string()
}

fn run(ads: &[AdDay], deals: &[Deal], coverage: &[Coverage], today: &str) -> Analysis {
    run_with(ads, deals, coverage, today, &RuleSettings::default())
}

fn run_with(
    ads: &[AdDay],
    deals: &[Deal],
    coverage: &[Coverage],
    today: &str,
    settings: &RuleSettings,
) -> Analysis {
    let ads = ad_rows_to_frame("ads", ads).unwrap();
    let deals = deals_to_frame("crm", deals).unwrap();
    let mut analysis = analysis::analyze(
        &ads,
        &deals,
        &no_claims(),
        coverage,
        settings,
        six_weeks(),
        d(today),
    )
    .unwrap();
    kassa::text::describe_findings(&mut analysis, settings, kassa::domain::Locale::En);
    analysis
}

/// The numbers of an `activity_without_money` finding.
fn flag(finding: &Finding) -> &ActivityWithoutMoney {
    match &finding.detail {
        FindingDetail::ActivityWithoutMoney(flag) => flag,
        other => panic!("not a flag: {other:?}"),
    }
}

fn flagged(analysis: &Analysis) -> Vec<(String, String)> {
    analysis
        .flagged()
        .map(|f| (f.channel.clone(), f.period_start.to_string()))
        .collect()
}

/// Four steady weeks, then week 5: meta's clicks +30% while its revenue falls 20%; google's
/// clicks +30% while its revenue grows 10%.
///
/// meta   W1-4: 1000 impressions, 100 clicks, reach 500, spend 50, revenue 1000
///        W5:   1100 impressions, 130 clicks, reach 500, spend 65, revenue 800
///        clicks +30%, ctr 130/1100 vs 0.1 = +18.2%, reach 0%  -> activity +30% (clicks)
///        revenue -20%                                          -> flagged
/// google W1-4: 2000 impressions, 100 clicks, reach 800, spend 40, revenue 500
///        W5:   2000 impressions, 130 clicks, reach 800, spend 52, revenue 550
///        activity +30%, revenue +10%                           -> not flagged
/// all    W5:   clicks 260 vs 200 = +30%, ctr 260/3100 vs 200/3000 = +25.8%, reach 0%
///        revenue 1350 vs 1500 = -10%                           -> flagged
fn story() -> (Vec<AdDay>, Vec<Deal>) {
    let mut ads = Vec::new();
    let mut deals = Vec::new();
    for (week, monday) in MONDAYS.iter().take(5).enumerate() {
        let fifth = week == 4;
        let wed = wednesday(monday);
        if fifth {
            ads.push(ad_day(monday, "meta", 1100, 130, 500, "65"));
            ads.push(ad_day(monday, "google", 2000, 130, 800, "52"));
            deals.push(won(&format!("m{week}"), "meta", monday, &wed, "800"));
            deals.push(won(&format!("g{week}"), "google", monday, &wed, "550"));
        } else {
            ads.push(ad_day(monday, "meta", 1000, 100, 500, "50"));
            ads.push(ad_day(monday, "google", 2000, 100, 800, "40"));
            deals.push(won(&format!("m{week}"), "meta", monday, &wed, "1000"));
            deals.push(won(&format!("g{week}"), "google", monday, &wed, "500"));
        }
    }
    (ads, deals)
}

#[test]
fn clicks_up_and_revenue_down_is_flagged_but_growth_with_money_is_not() {
    let (ads, deals) = story();
    let analysis = run(&ads, &deals, &full_coverage(), "2025-03-01");

    assert_eq!(
        flagged(&analysis),
        vec![
            ("all".to_string(), "2025-02-03".to_string()),
            ("meta".to_string(), "2025-02-03".to_string())
        ]
    );
    let meta = analysis.flagged().find(|f| f.channel == "meta").unwrap();
    let activity = &flag(meta).activity;
    assert_eq!(activity.metric, "clicks");
    assert!((activity.growth - 0.30).abs() < 1e-12);
    assert_eq!((activity.value, activity.baseline), (130.0, 100.0));
    let money = &flag(meta).money;
    assert_eq!(money.metric, "revenue");
    assert!((money.growth + 0.20).abs() < 1e-12);
    assert_eq!(meta.spend.to_string(), "65");
    assert_eq!(meta.period_end, d("2025-02-09"));
    assert!(meta.message.contains("clicks grew 30%"), "{}", meta.message);
    assert!(
        meta.message.contains("revenue fell 20%"),
        "{}",
        meta.message
    );
    assert!(meta.message.contains("$65"), "{}", meta.message);

    let all = analysis.flagged().find(|f| f.channel == "all").unwrap();
    assert!((flag(all).activity.growth - 0.30).abs() < 1e-12);
    assert!((flag(all).money.growth + 0.10).abs() < 1e-12);
    assert_eq!(all.spend.to_string(), "117");

    // Every week is covered and over. Weeks 1-4 have no baseline yet: data gaps that say so;
    // week 6 has no rows at all, and zero activity is not activity growth: clear.
    let gaps: Vec<_> = analysis
        .findings
        .iter()
        .filter(|f| f.kind() == FindingKind::DataGap)
        .map(|f| f.period_start.to_string())
        .collect();
    assert_eq!(gaps, &MONDAYS[..4]);
    let week6 = |channel: &str| verdict_of(&analysis, channel, MONDAYS[5]);
    assert_eq!(
        ["all", "meta", "google"].map(week6),
        [Verdict::Clear, Verdict::Clear, Verdict::Clear]
    );
}

/// A watched activity metric that is unknown (reach a platform did not report for a day) leaves
/// a period whose money did not grow without a verdict, with the reason, rather than "clear":
/// the unknown metric may be the one that grew. Money that grew clears a period regardless.
#[test]
fn unknown_activity_is_a_reason_not_clear() {
    let (mut ads, deals) = story();
    for day in ads.iter_mut().filter(|a| a.date == d(MONDAYS[4])) {
        day.reach = None;
        day.clicks = 100;
    }
    let analysis = run(&ads, &deals, &full_coverage(), "2025-03-01");
    assert!(flagged(&analysis).is_empty(), "{:?}", flagged(&analysis));
    let week5 = |channel: &str| {
        analysis
            .periods
            .iter()
            .find(|p| p.channel == channel && p.period_start == d(MONDAYS[4]))
            .unwrap()
    };
    // meta: revenue fell 20%, clicks flat, reach unknown.
    assert_eq!(week5("meta").verdict, Verdict::NoVerdict);
    assert!(matches!(
        week5("meta").gaps.as_slice(),
        [GapReason::ActivityUnknown { metrics }] if metrics == &[ActivityMetric::Reach]
    ));
    // google: revenue grew 10%, so nothing activity did could flag it.
    assert_eq!(week5("google").verdict, Verdict::Clear);
    // The total: revenue fell 10%; reach unknown. Its data gap says why, in words and code.
    assert_eq!(week5("all").verdict, Verdict::NoVerdict);
    let gap = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::DataGap && f.period_start == d(MONDAYS[4]))
        .unwrap();
    assert!(gap.message.contains("reach"), "{}", gap.message);
    let json: serde_json::Value = serde_json::from_str(&kassa::report::to_json(&analysis)).unwrap();
    let all5 = json["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["channel"] == "all" && p["period_start"] == MONDAYS[4])
        .unwrap();
    assert_eq!(all5["verdict"], "none");
    assert_eq!(all5["reasons"], serde_json::json!(["activity_unknown"]));
}

/// A day one ad source missed withholds the verdicts of that source's channels (and the
/// total's), not of channels other sources deliver: meta's week 5 is still judged when only
/// the google account's export lacks a day of it. A CRM gap withholds every channel.
#[test]
fn an_ad_source_gap_withholds_only_its_channels() {
    let (ads, deals) = story();
    let (meta, google): (Vec<AdDay>, Vec<AdDay>) =
        ads.into_iter().partition(|a| a.channel == "meta");
    let mut frame = ad_rows_to_frame("meta_ads", &meta).unwrap();
    frame
        .vstack_mut(&ad_rows_to_frame("google_ads", &google).unwrap())
        .unwrap();
    let deals = deals_to_frame("crm", &deals).unwrap();
    let hole = d(&wednesday(MONDAYS[4]));
    let covered = |source: &str, ranges: Vec<DateRange>| Coverage {
        source: source.into(),
        ranges,
        pending_from: None,
    };
    let around_the_hole = vec![
        range("2025-01-06", &hole.pred_opt().unwrap().to_string()),
        range(&hole.succ_opt().unwrap().to_string(), "2025-02-16"),
    ];
    let analyze = |coverage: &[Coverage]| {
        analysis::analyze(
            &frame,
            &deals,
            &no_claims(),
            coverage,
            &RuleSettings::default(),
            six_weeks(),
            d("2025-03-01"),
        )
        .unwrap()
    };

    let analysis = analyze(&[
        covered("meta_ads", vec![six_weeks()]),
        covered("google_ads", around_the_hole.clone()),
        covered("crm", vec![six_weeks()]),
    ]);
    assert_eq!(
        flagged(&analysis),
        vec![("meta".to_string(), MONDAYS[4].to_string())]
    );
    assert_eq!(
        verdict_of(&analysis, "google", MONDAYS[4]),
        Verdict::NoVerdict
    );
    assert_eq!(verdict_of(&analysis, "all", MONDAYS[4]), Verdict::NoVerdict);

    // The same hole in the CRM: no channel of the week can be judged.
    let analysis = analyze(&[
        covered("meta_ads", vec![six_weeks()]),
        covered("google_ads", vec![six_weeks()]),
        covered("crm", around_the_hole),
    ]);
    assert!(flagged(&analysis).is_empty());
    for channel in ["all", "meta", "google"] {
        assert_eq!(
            verdict_of(&analysis, channel, MONDAYS[4]),
            Verdict::NoVerdict
        );
    }
}

fn verdict_of(analysis: &Analysis, channel: &str, monday: &str) -> Verdict {
    analysis
        .periods
        .iter()
        .find(|p| p.channel == channel && p.period_start == d(monday))
        .unwrap()
        .verdict
}

/// The data gaps of an analysis that are about its data, not about too short a history.
fn data_gaps(analysis: &Analysis) -> Vec<&Finding> {
    analysis
        .findings
        .iter()
        .filter(|f| match &f.detail {
            FindingDetail::DataGap(gap) => !gap
                .reasons
                .iter()
                .all(|r| matches!(r, GapReason::NoBaseline { .. })),
            _ => false,
        })
        .collect()
}

#[test]
fn a_missing_crm_day_makes_a_data_gap_not_a_verdict() {
    let (ads, deals) = story();
    let mut coverage = full_coverage();
    coverage[1].ranges = vec![
        range("2025-01-06", "2025-02-04"),
        range("2025-02-06", "2025-02-16"),
    ];
    let analysis = run(&ads, &deals, &coverage, "2025-03-01");

    assert!(flagged(&analysis).is_empty(), "{:?}", flagged(&analysis));
    let gaps = data_gaps(&analysis);
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].channel, "all");
    assert_eq!(gaps[0].period_start, d("2025-02-03"));
    assert!(gaps[0].message.contains("\"crm\""), "{}", gaps[0].message);
    assert!(
        gaps[0].message.contains("2025-02-05"),
        "{}",
        gaps[0].message
    );
    let week5: Vec<_> = analysis
        .periods
        .iter()
        .filter(|p| p.period_start == d("2025-02-03"))
        .collect();
    assert_eq!(week5.len(), 3, "all, google, meta");
    assert!(week5.iter().all(|p| !p.complete));
}

#[test]
fn a_period_that_has_not_ended_gets_no_verdict() {
    let (ads, deals) = story();
    // Sunday 2025-02-09 is "today": week 5 is still running.
    let analysis = run(&ads, &deals, &full_coverage(), "2025-02-09");
    assert!(flagged(&analysis).is_empty());
    let gap = analysis
        .findings
        .iter()
        .find(|f| f.period_start == d("2025-02-03"))
        .unwrap();
    assert_eq!(gap.kind(), FindingKind::DataGap);
    assert!(gap.message.contains("has not ended"), "{}", gap.message);
}

#[test]
fn ctr_is_clicks_over_impressions_of_the_period_not_a_mean_of_daily_ctrs() {
    // Monday: 10 clicks of 1000 impressions (1%); Sunday: 5 of 10 (50%). The week's CTR is
    // 15 / 1010 = 1.485%, not the 25.5% a mean of daily CTRs would claim.
    let ads = vec![
        ad_day("2025-01-06", "meta", 1000, 10, 900, "10"),
        ad_day("2025-01-12", "meta", 10, 5, 10, "1"),
    ];
    let analysis = run(&ads, &[], &full_coverage(), "2025-03-01");
    let week = analysis
        .periods
        .iter()
        .find(|p| p.channel == "meta" && p.period_start == d("2025-01-06"))
        .unwrap();
    assert_eq!(
        (week.impressions, week.clicks, week.reach),
        (1010, 15, Some(910))
    );
    assert!((week.ctr.unwrap() - 15.0 / 1010.0).abs() < 1e-15);
    assert!((week.cpc.unwrap() - 11.0 / 15.0).abs() < 1e-12);
}

#[test]
fn the_baseline_skips_incomplete_periods() {
    // Clicks 100 every week except week 3 (1000, but the ad source missed a day of it) and
    // week 6 (125). Week 6's baseline is the mean of weeks 1, 2, 4 and 5 = 100, so +25% is
    // flagged; had week 3 counted, the baseline would be 325 and nothing would be flagged.
    // Week 5 has only three complete weeks before it: no verdict. Week 6's impressions grow
    // too, so its CTR (125 / 11000) grows less than its clicks.
    let clicks = [100, 100, 1000, 100, 100, 125];
    let impressions = [10_000, 10_000, 10_000, 10_000, 10_000, 11_000];
    let mut ads = Vec::new();
    let mut deals = Vec::new();
    for (week, monday) in MONDAYS.iter().enumerate() {
        ads.push(ad_day(
            monday,
            "meta",
            impressions[week],
            clicks[week],
            5000,
            "100",
        ));
        deals.push(won(
            &format!("w{week}"),
            "meta",
            monday,
            &wednesday(monday),
            "1000",
        ));
    }
    let mut coverage = full_coverage();
    coverage[0].ranges = vec![
        range("2025-01-06", "2025-01-20"),
        range("2025-01-22", "2025-02-16"),
    ];
    let analysis = run(&ads, &deals, &coverage, "2025-03-01");

    assert_eq!(
        flagged(&analysis),
        vec![
            ("all".to_string(), "2025-02-10".to_string()),
            ("meta".to_string(), "2025-02-10".to_string())
        ]
    );
    let finding = analysis.flagged().find(|f| f.channel == "meta").unwrap();
    let activity = &flag(finding).activity;
    assert_eq!(
        (activity.metric.as_str(), activity.baseline),
        ("clicks", 100.0)
    );
    assert!(
        (flag(finding).money.growth).abs() < 1e-12,
        "flat revenue is not growth"
    );
}

#[test]
fn a_won_deal_without_an_amount_is_unknown_money_not_zero() {
    let (ads, mut deals) = story();
    // google's week-5 deal loses its amount: revenue for google and for "all" is unknown.
    let google5 = deals.iter_mut().find(|deal| deal.id == "g4").unwrap();
    google5.amount = None;
    let analysis = run(&ads, &deals, &full_coverage(), "2025-03-01");

    assert_eq!(
        flagged(&analysis),
        vec![("meta".to_string(), "2025-02-03".to_string())]
    );
    let gaps = data_gaps(&analysis);
    assert_eq!(gaps.len(), 1);
    assert!(
        gaps[0].message.contains("without an amount"),
        "{}",
        gaps[0].message
    );
    let google = analysis
        .periods
        .iter()
        .find(|p| p.channel == "google" && p.period_start == d("2025-02-03"))
        .unwrap();
    assert!(!google.complete);
    assert_eq!(google.won_without_amount, 1);
}

#[test]
fn the_chain_break_is_named() {
    // meta week 5 with leads doubling but one fewer won deal: the break is lead -> sale.
    let (ads, mut deals) = story();
    for i in 0..4 {
        deals.push(lead(&format!("extra{i}"), "meta", "2025-02-04"));
    }
    for (week, monday) in MONDAYS.iter().enumerate().take(4) {
        deals.push(lead(&format!("base{week}"), "meta", monday));
    }
    let analysis = run(&ads, &deals, &full_coverage(), "2025-03-01");
    let meta = analysis.flagged().find(|f| f.channel == "meta").unwrap();
    // Leads: weeks 1-4 have 2 each (the won deal and one open lead); week 5 has 1 + 4 = 5.
    assert_eq!(flag(meta).leads.as_ref().unwrap().value, 5.0);
    assert_eq!(flag(meta).chain_break, Some(ChainBreak::LeadToSale));
    assert!(
        meta.message.contains("between lead and sale"),
        "{}",
        meta.message
    );

    // google's week 5: clicks +30%, one lead as every week. With a looser money threshold
    // (+10% revenue now counts as "no money"), the break is click -> lead.
    let (ads, deals) = story();
    let settings = RuleSettings {
        money_growth_max: 0.5,
        ..RuleSettings::default()
    };
    let analysis = run_with(&ads, &deals, &full_coverage(), "2025-03-01", &settings);
    let google = analysis.flagged().find(|f| f.channel == "google").unwrap();
    assert_eq!(flag(google).chain_break, Some(ChainBreak::ClickToLead));
}

#[test]
fn months_are_calendar_months() {
    let ads = vec![
        ad_day("2025-01-31", "meta", 100, 10, 50, "5"),
        ad_day("2025-02-01", "meta", 200, 20, 60, "6"),
    ];
    let settings = RuleSettings {
        granularity: Granularity::Month,
        ..RuleSettings::default()
    };
    let analysis = run_with(&ads, &[], &full_coverage(), "2025-03-01", &settings);
    let meta: Vec<_> = analysis
        .periods
        .iter()
        .filter(|p| p.channel == "meta")
        .collect();
    assert_eq!(meta.len(), 2);
    assert_eq!(
        (meta[0].period_start, meta[0].period_end, meta[0].clicks),
        (d("2025-01-01"), d("2025-01-31"), 10)
    );
    assert_eq!(
        (meta[1].period_start, meta[1].period_end, meta[1].clicks),
        (d("2025-02-01"), d("2025-02-28"), 20)
    );
    assert!(
        meta.iter().all(|p| !p.complete),
        "coverage ends 2025-02-16, so neither month is whole"
    );
}

#[test]
fn first_periods_are_no_baseline_gaps() {
    let (ads, deals) = story();
    let analysis = run(&ads, &deals, &full_coverage(), "2025-03-01");

    // Weeks 1-4 are complete but have 0, 1, 2 and 3 complete weeks before them, not the 4 a
    // baseline needs: each is a data gap that says so, on every channel, never a silent blank.
    for (have, monday) in MONDAYS[..4].iter().enumerate() {
        for channel in ["all", "google", "meta"] {
            let p = analysis
                .periods
                .iter()
                .find(|p| p.channel == channel && p.period_start == d(monday))
                .unwrap();
            assert!(p.complete, "the data of {monday} is whole");
            assert_eq!(p.verdict, Verdict::NoVerdict);
            assert_eq!(
                p.gaps,
                vec![GapReason::NoBaseline {
                    granularity: Granularity::Week,
                    have,
                    needed: 4
                }]
            );
        }
    }
    let gaps: Vec<&Finding> = analysis
        .findings
        .iter()
        .filter(|f| f.kind() == FindingKind::DataGap)
        .collect();
    assert_eq!(gaps.len(), 4);
    assert!(
        gaps[1]
            .message
            .contains("not enough history for a baseline (1 of the 4 complete weeks it needs)"),
        "{}",
        gaps[1].message
    );

    // Counted in the summary, named in the table and in the JSON.
    let table = kassa::report::to_table(&analysis, kassa::domain::Locale::En);
    assert!(
        table.contains("2 periods of activity without money; 4 weeks without a verdict"),
        "{table}"
    );
    assert!(table.contains("clear"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&kassa::report::to_json(&analysis)).unwrap();
    let first = &json["periods"][0];
    assert_eq!(first["verdict"], "none");
    assert_eq!(first["complete"], true);
    assert_eq!(first["reasons"], serde_json::json!(["no_baseline"]));
    assert_eq!(
        first["gaps"],
        serde_json::json!([
            "not enough history for a baseline (0 of the 4 complete weeks it needs)"
        ])
    );
    let gap = &json["findings"][0];
    assert_eq!(
        (&gap["kind"], &gap["reasons"]),
        (
            &serde_json::json!("data_gap"),
            &serde_json::json!(["no_baseline"])
        )
    );
}

/// A small deterministic generator (xorshift), so the property test needs no new crate and
/// fails the same way every time.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Every period row of every analysis, whatever its data, range and "today", has exactly one
/// of: flagged (with its finding), clear, or no verdict with named reasons (and, on the total,
/// a data-gap finding). And a range drawn anywhere in the history gives its periods exactly the
/// verdicts the whole history gives them.
#[test]
fn every_period_has_a_verdict_or_a_reason() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mondays: Vec<String> = (0..12)
        .map(|w| (d("2025-01-06") + chrono::Duration::weeks(w)).to_string())
        .collect();
    let history = range("2025-01-06", "2025-03-30");
    let mut flags_seen = 0;
    for case in 0..40 {
        let mut ads = Vec::new();
        let mut deals = Vec::new();
        for (week, monday) in mondays.iter().enumerate() {
            for channel in ["meta", "google"] {
                let clicks = 100 + rng.below(80);
                ads.push(ad_day(monday, channel, 10_000, clicks, 5000, "50"));
                let id = format!("{channel}{week}");
                let mut deal = won(&id, channel, monday, &wednesday(monday), "1000");
                if rng.below(4) == 0 {
                    deal.amount = Some(kassa::domain::Money::from_micros(
                        rng.below(1500) as i64 * 1_000_000,
                    ));
                }
                if rng.below(12) == 0 {
                    deal.amount = None;
                }
                deals.push(deal);
            }
        }
        let hole = d(&mondays[rng.below(12) as usize]) + chrono::Duration::days(3);
        let mut coverage = vec![
            Coverage {
                source: "ads".into(),
                ranges: vec![history],
                pending_from: None,
            },
            Coverage {
                source: "crm".into(),
                ranges: if rng.below(2) == 0 {
                    vec![history]
                } else {
                    vec![
                        DateRange::new(history.start, hole.pred_opt().unwrap()).unwrap(),
                        DateRange::new(hole.succ_opt().unwrap(), history.end).unwrap(),
                    ]
                },
                pending_from: None,
            },
        ];
        coverage.rotate_left(case % 2);
        let today = d(&mondays[8 + rng.below(4) as usize]) + chrono::Duration::days(3);
        let settings = RuleSettings {
            baseline_periods: 1 + rng.below(4) as usize,
            activity_growth_min: 0.15,
            ..RuleSettings::default()
        };
        let analyse = |range: DateRange| {
            let ads = ad_rows_to_frame("ads", &ads).unwrap();
            let deals = deals_to_frame("crm", &deals).unwrap();
            analysis::analyze(
                &ads,
                &deals,
                &no_claims(),
                &coverage,
                &settings,
                range,
                today,
            )
            .unwrap()
        };
        let whole = analyse(history);
        let from = 1 + rng.below(10) as usize;
        let narrow = analyse(
            DateRange::new(
                d(&mondays[from]) + chrono::Duration::days(rng.below(4) as i64),
                d(&mondays[(from + rng.below(3) as usize).min(11)])
                    + chrono::Duration::days(3 + rng.below(4) as i64),
            )
            .unwrap(),
        );

        for a in [&whole, &narrow] {
            assert!(!a.periods.is_empty());
            for p in &a.periods {
                let flagged = a
                    .flagged()
                    .any(|f| f.channel == p.channel && f.period_start == p.period_start);
                let gap = a
                    .findings
                    .iter()
                    .any(|f| f.kind() == FindingKind::DataGap && f.period_start == p.period_start);
                match p.verdict {
                    Verdict::Flagged => assert!(flagged && p.gaps.is_empty(), "{p:?}"),
                    Verdict::Clear => assert!(!flagged && p.gaps.is_empty(), "{p:?}"),
                    Verdict::NoVerdict => assert!(!flagged && !p.gaps.is_empty() && gap, "{p:?}"),
                }
                assert_eq!(
                    p.complete,
                    p.gaps
                        .iter()
                        .all(|g| matches!(g, GapReason::NoBaseline { .. }))
                );
            }
            flags_seen += a.flagged().count();
        }
        for p in &narrow.periods {
            let same = whole
                .periods
                .iter()
                .find(|q| q.channel == p.channel && q.period_start == p.period_start)
                .unwrap();
            assert_eq!(p, same, "case {case}: a narrow range changed a verdict");
        }
        let in_range = |f: &&Finding| f.period_start >= narrow.from && f.period_start <= narrow.to;
        assert_eq!(
            narrow.findings.iter().collect::<Vec<_>>(),
            whole.findings.iter().filter(in_range).collect::<Vec<_>>(),
            "case {case}"
        );
    }
    assert!(flags_seen > 0, "the cases exercise flags too");
}

#[test]
fn unknown_revenue_hides_romi() {
    let (ads, mut deals) = story();
    // google's week-5 deal has no amount: google's and the total's revenue are unknown.
    deals
        .iter_mut()
        .find(|deal| deal.id == "g4")
        .unwrap()
        .amount = None;
    let analysis = run(&ads, &deals, &full_coverage(), "2025-03-01");

    let json: serde_json::Value = serde_json::from_str(&kassa::report::to_json(&analysis)).unwrap();
    let row = |channel: &str, start: &str| {
        json["periods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["channel"] == channel && p["period_start"] == start)
            .unwrap()
            .clone()
    };
    let all = row("all", "2025-02-03");
    assert_eq!(all["revenue"], serde_json::Value::Null, "{all}");
    assert_eq!(all["revenue_known"], 800.0, "meta's part only: {all}");
    assert_eq!(all["romi"], serde_json::Value::Null, "{all}");
    assert_eq!(all["cost_per_won_deal"], serde_json::Value::Null, "{all}");
    assert_eq!(all["verdict"], "none");
    let meta = row("meta", "2025-02-03");
    assert_eq!(
        (&meta["revenue"], &meta["revenue_known"]),
        (&800.0.into(), &800.0.into())
    );
    assert_eq!(meta["romi"].as_f64().unwrap(), (800.0 - 65.0) / 65.0);

    // The table: the total's week 5 shows "?" for revenue and for ROMI, not a partial ROMI.
    let table = kassa::report::to_table(&analysis, kassa::domain::Locale::En);
    let week5 = table
        .lines()
        .find(|l| l.trim_start().starts_with("2025-02-03"))
        .unwrap();
    let cells: Vec<&str> = week5.split_whitespace().collect();
    assert_eq!(cells[8..10], ["?", "?"], "revenue and romi: {week5}");
    assert_eq!(cells[10..], ["no", "verdict"], "{week5}");

    // Mixed currencies and no reporting currency: the JSON says `"currency": null`, present
    // rather than missing, and the warnings say how to convert; nothing is summed as it is.
    let mut eur = ads.clone();
    eur[0].currency = Some("EUR".into());
    let mixed = run(&eur, &deals, &full_coverage(), "2025-03-01");
    let json: serde_json::Value = serde_json::from_str(&kassa::report::to_json(&mixed)).unwrap();
    assert_eq!(
        json.get("currency"),
        Some(&serde_json::Value::Null),
        "{json}"
    );
    let warnings: Vec<&str> = json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("EUR") && w.contains("no reporting currency is set")),
        "{warnings:?}"
    );
    let first = &json["periods"][0];
    assert_eq!(first["verdict"], "none", "{first}");
    assert!(
        first["reasons"]
            .as_array()
            .unwrap()
            .contains(&"missing_rate".into()),
        "{first}"
    );
}

/// Four steady weeks of meta (1000 impressions, 100 clicks, reach 500, one won deal of 1000),
/// then week 5 with `clicks` out of `impressions` and one won deal of `revenue`.
fn four_steady_weeks_then(clicks: u64, impressions: u64, revenue: &str) -> (Vec<AdDay>, Vec<Deal>) {
    let mut ads = Vec::new();
    let mut deals = Vec::new();
    for (week, monday) in MONDAYS.iter().take(5).enumerate() {
        let (clicks, impressions, revenue) = if week == 4 {
            (clicks, impressions, revenue)
        } else {
            (100, 1000, "1000")
        };
        ads.push(ad_day(monday, "meta", impressions, clicks, 500, "50"));
        deals.push(won(
            &format!("m{week}"),
            "meta",
            monday,
            &wednesday(monday),
            revenue,
        ));
    }
    (ads, deals)
}

/// The rule's thresholds are inclusive: activity growth of exactly 0.20 (120 clicks against
/// 100) with money growth of exactly 0.0 is flagged; a click less, or a cent more, is not.
#[test]
fn activity_growth_of_exactly_the_threshold_with_flat_money_is_flagged() {
    let week5 = MONDAYS[4];
    // 120 of 1200: clicks +20%, CTR and reach unchanged.
    let (ads, deals) = four_steady_weeks_then(120, 1200, "1000");
    let analysis = run(&ads, &deals, &full_coverage(), "2025-03-01");
    let meta = analysis
        .flagged()
        .find(|f| f.channel == "meta")
        .expect("exactly 0.20 is flagged");
    assert_eq!(meta.period_start, d(week5));
    assert_eq!(flag(meta).activity.growth, 0.20);
    assert_eq!(flag(meta).money.growth, 0.0);

    let (ads, deals) = four_steady_weeks_then(119, 1190, "1000");
    let analysis = run(&ads, &deals, &full_coverage(), "2025-03-01");
    assert_eq!(verdict_of(&analysis, "meta", week5), Verdict::Clear);

    let (ads, deals) = four_steady_weeks_then(120, 1200, "1000.01");
    let analysis = run(&ads, &deals, &full_coverage(), "2025-03-01");
    assert_eq!(verdict_of(&analysis, "meta", week5), Verdict::Clear);
}

/// A channel without any activity or money for four weeks starts spending in week 5: growth
/// from a zero baseline is unbounded (`null` in JSON) for activity, 0 for money that stayed at
/// zero, so the week is flagged.
#[test]
fn a_zero_baseline_gives_zero_for_zero_and_unbounded_growth_otherwise() {
    let mut ads: Vec<AdDay> = MONDAYS[..4]
        .iter()
        .map(|monday| ad_day(monday, "tiktok", 0, 0, 0, "0"))
        .collect();
    ads.push(ad_day(MONDAYS[4], "tiktok", 1000, 50, 400, "20"));
    let analysis = run(&ads, &[], &full_coverage(), "2025-03-01");
    let tiktok = analysis
        .flagged()
        .find(|f| f.channel == "tiktok")
        .expect("growth from nothing is flagged when money did not come");
    assert_eq!(tiktok.period_start, d(MONDAYS[4]));
    assert!(flag(tiktok).activity.growth.is_infinite());
    assert_eq!(flag(tiktok).activity.baseline, 0.0);
    assert_eq!(
        (flag(tiktok).money.baseline, flag(tiktok).money.growth),
        (0.0, 0.0)
    );
    let json: serde_json::Value = serde_json::from_str(&kassa::report::to_json(&analysis)).unwrap();
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["channel"] == "tiktok" && f["kind"] == "activity_without_money")
        .unwrap();
    assert_eq!(
        finding["activity"]["growth"],
        serde_json::Value::Null,
        "{finding}"
    );
    assert_eq!(finding["money"]["growth"], 0.0, "{finding}");
}

/// `money_metric = "deals_won"`: weeks 1-4 bring two won deals of 500 each; week 5, with 30%
/// more clicks, one deal of 1200. Judged by revenue (+20%) the week is clear; judged by won
/// deals (-50%) it is flagged.
#[test]
fn deals_won_as_the_money_metric_counts_deals_not_amounts() {
    let mut ads = Vec::new();
    let mut deals = Vec::new();
    for (week, monday) in MONDAYS.iter().take(5).enumerate() {
        let wed = wednesday(monday);
        if week == 4 {
            ads.push(ad_day(monday, "meta", 1000, 130, 500, "50"));
            deals.push(won("big", "meta", monday, &wed, "1200"));
        } else {
            ads.push(ad_day(monday, "meta", 1000, 100, 500, "50"));
            deals.push(won(&format!("a{week}"), "meta", monday, &wed, "500"));
            deals.push(won(&format!("b{week}"), "meta", monday, &wed, "500"));
        }
    }
    let monday = MONDAYS[4];
    let by_revenue = run(&ads, &deals, &full_coverage(), "2025-03-01");
    assert_eq!(verdict_of(&by_revenue, "meta", monday), Verdict::Clear);

    let settings = RuleSettings {
        money_metric: MoneyMetric::DealsWon,
        ..RuleSettings::default()
    };
    let by_deals = run_with(&ads, &deals, &full_coverage(), "2025-03-01", &settings);
    let meta = by_deals
        .flagged()
        .find(|f| f.channel == "meta")
        .expect("fewer won deals: flagged");
    assert_eq!(meta.period_start, d(monday));
    assert_eq!(flag(meta).money.metric, "deals_won");
    assert_eq!(
        (flag(meta).money.value, flag(meta).money.baseline),
        (1.0, 2.0)
    );
    assert_eq!(flag(meta).money.growth, -0.5);
}

/// Runs the rule over `range` with `granularity`, both sources covering all of it.
fn run_over(ads: &[AdDay], deals: &[Deal], range: DateRange, granularity: Granularity) -> Analysis {
    let coverage = ["ads", "crm"].map(|source| Coverage {
        source: source.into(),
        ranges: vec![range],
        pending_from: None,
    });
    let settings = RuleSettings {
        granularity,
        ..RuleSettings::default()
    };
    let ads = ad_rows_to_frame("ads", ads).unwrap();
    let deals = deals_to_frame("crm", deals).unwrap();
    analysis::analyze(
        &ads,
        &deals,
        &no_claims(),
        &coverage,
        &settings,
        range,
        d("2025-12-31"),
    )
    .unwrap()
}

/// Days and calendar months are periods the rule judges like weeks: four steady periods, then
/// one with 30% more clicks and 20% less revenue, flagged with that period's bounds.
#[test]
fn daily_and_monthly_periods_are_judged_like_weeks() {
    let steady_then_spike = |starts: &[&str]| {
        let mut ads = Vec::new();
        let mut deals = Vec::new();
        for (i, start) in starts.iter().enumerate() {
            let spike = i == 4;
            let (clicks, revenue) = if spike { (130, "800") } else { (100, "1000") };
            ads.push(ad_day(start, "meta", 1000, clicks, 500, "50"));
            deals.push(won(&format!("m{i}"), "meta", start, start, revenue));
        }
        (ads, deals)
    };

    let days = [
        "2025-01-06",
        "2025-01-07",
        "2025-01-08",
        "2025-01-09",
        "2025-01-10",
    ];
    let (ads, deals) = steady_then_spike(&days);
    let daily = run_over(
        &ads,
        &deals,
        range("2025-01-06", "2025-01-12"),
        Granularity::Day,
    );
    let flagged: Vec<_> = daily
        .flagged()
        .filter(|f| f.channel == "meta")
        .map(|f| (f.period_start, f.period_end))
        .collect();
    assert_eq!(flagged, [(d("2025-01-10"), d("2025-01-10"))]);
    assert!((flag(daily.flagged().next().unwrap()).activity.growth - 0.30).abs() < 1e-12);

    let months = [
        "2025-01-15",
        "2025-02-15",
        "2025-03-15",
        "2025-04-15",
        "2025-05-15",
    ];
    let (ads, deals) = steady_then_spike(&months);
    let monthly = run_over(
        &ads,
        &deals,
        range("2025-01-01", "2025-06-30"),
        Granularity::Month,
    );
    let flagged: Vec<_> = monthly
        .flagged()
        .filter(|f| f.channel == "meta")
        .map(|f| (f.period_start, f.period_end))
        .collect();
    assert_eq!(flagged, [(d("2025-05-01"), d("2025-05-31"))]);
    // June has no rows: nothing grew, so it is judged and clear, not flagged.
    assert_eq!(verdict_of(&monthly, "meta", "2025-06-01"), Verdict::Clear);
}
