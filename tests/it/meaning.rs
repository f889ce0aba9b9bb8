//! The meaning layer against hand-computed expectations: who is a returning customer, the
//! share of revenue they bring, deal size, conversion, days to win, trends; and the
//! `returning_revenue_falling` rule. Frames are built from domain rows and handed to the pure
//! `analysis::analyze`, as in `analysis.rs`.

use kassa::analysis::{
    self, Analysis, FindingDetail, FindingKind, MeaningMetric, MeaningRow, RuleSettings, Trend,
};
use kassa::domain::{AdDay, Coverage, Deal, Locale};
use kassa::store::{ad_rows_to_frame, claims_to_frame, deals_to_frame};

use crate::helpers::{ad_day, d, range, won};

fn six_weeks_coverage() -> Vec<Coverage> {
    ["ads", "crm"]
        .map(|source| Coverage {
            source: source.into(),
            ranges: vec![range("2025-01-06", "2025-02-16")],
            pending_from: None,
        })
        .to_vec()
}

fn analyze(ads: &[AdDay], deals: &[Deal]) -> Analysis {
    let settings = RuleSettings::default();
    let mut analysis = analysis::analyze(
        &ad_rows_to_frame("ads", ads).unwrap(),
        &deals_to_frame("crm", deals).unwrap(),
        &claims_to_frame("report", &[]).unwrap(),
        &six_weeks_coverage(),
        &settings,
        range("2025-01-06", "2025-02-16"),
        d("2025-02-17"),
    )
    .unwrap();
    kassa::text::describe_findings(&mut analysis, &settings, Locale::En);
    analysis
}

/// A won deal of `customer` (`None`: the CRM named none).
fn bought(
    id: &str,
    customer: Option<&str>,
    channel: &str,
    created: &str,
    closed: &str,
    amount: &str,
) -> Deal {
    Deal {
        customer_id: customer.map(str::to_string),
        ..won(id, channel, created, closed, amount)
    }
}

fn row<'a>(a: &'a Analysis, channel: &str, week: &str) -> &'a MeaningRow {
    a.meaning
        .iter()
        .find(|m| m.channel == channel && m.period_start == d(week))
        .unwrap_or_else(|| panic!("no meaning row for {channel} {week}"))
}

fn trend(row: &MeaningRow, metric: MeaningMetric) -> Option<Trend> {
    row.trends.iter().find(|(m, _)| *m == metric).unwrap().1
}

/// One ad day per week (Wednesday) for `channel`, with the given spends.
fn weekly_spend(channel: &str, spends: [&str; 6]) -> Vec<AdDay> {
    [
        "2025-01-08",
        "2025-01-15",
        "2025-01-22",
        "2025-01-29",
        "2025-02-05",
        "2025-02-12",
    ]
    .iter()
    .zip(spends)
    .map(|(day, spend)| ad_day(day, channel, 1000, 50, 800, spend))
    .collect()
}

#[test]
fn returning_customer_share_on_a_small_crm_table() {
    let deals = vec![
        // Week of 2025-01-06: c1's first win, new.
        bought(
            "d1",
            Some("c1"),
            "google",
            "2025-01-06",
            "2025-01-07",
            "100",
        ),
        // Week of 2025-01-13.
        // c1 again: returning (a won deal on an earlier day).
        bought("d2", Some("c1"), "google", "2025-01-13", "2025-01-15", "50"),
        // c2's first: new.
        bought(
            "d3",
            Some("c2"),
            "google",
            "2025-01-08",
            "2025-01-14",
            "200",
        ),
        // No customer id: cannot be known to return, counts as new.
        bought("d4", None, "google", "2025-01-10", "2025-01-16", "30"),
        // c4 wins twice on its first day: both new (no earlier day).
        bought("d5", Some("c4"), "google", "2025-01-13", "2025-01-14", "10"),
        bought("d6", Some("c4"), "google", "2025-01-13", "2025-01-14", "20"),
        // Week of 2025-01-20: c1 returns through another channel.
        bought("d7", Some("c1"), "meta", "2025-01-20", "2025-01-21", "70"),
    ];
    let mut ads = weekly_spend("google", ["100"; 6]);
    ads.extend(weekly_spend("meta", ["50"; 6]));
    let a = analyze(&ads, &deals);

    let first = row(&a, "google", "2025-01-06");
    assert_eq!(first.revenue_returning.unwrap().as_f64(), 0.0);
    assert_eq!(first.returning_share, Some(0.0));

    // Revenue 50 + 200 + 30 + 10 + 20 = 310, of which 50 from a returning customer.
    let week = row(&a, "google", "2025-01-13");
    assert_eq!(week.revenue_returning.unwrap().as_f64(), 50.0);
    assert_eq!(week.revenue_without_customer.unwrap().as_f64(), 30.0);
    assert_eq!(week.returning_share, Some(50.0 / 310.0));
    assert_eq!(week.avg_deal_size, Some(62.0));
    // Deals created in the week: d2, d5, d6; won in it: five.
    assert_eq!(week.lead_to_won, Some(5.0 / 3.0));
    // Days from creation to win: 2, 6, 6, 1, 1; the median is 2.
    assert_eq!(week.median_days_to_won, Some(2.0));
    // 100 spent over five won deals; (310 - 100) / 100.
    assert_eq!(week.cost_per_won_deal, Some(20.0));
    assert_eq!(week.romi, Some(2.1));

    // The customer's earlier win in google makes meta's deal returning.
    let meta = row(&a, "meta", "2025-01-20");
    assert_eq!(meta.returning_share, Some(1.0));
    assert_eq!(row(&a, "all", "2025-01-20").returning_share, Some(1.0));

    // The total's returning revenue: 0, 50, 70, 0 over the four weeks before 2025-02-03, whose
    // own is 0: baseline 30, change -30. A week without won deals has no deal size.
    let feb = row(&a, "all", "2025-02-03");
    assert_eq!(
        trend(feb, MeaningMetric::RevenueReturning),
        Some(Trend {
            baseline: 30.0,
            change: -30.0
        })
    );
    assert_eq!(feb.avg_deal_size, None);
    assert_eq!(trend(feb, MeaningMetric::AvgDealSize), None);
    // Too few complete weeks before the second week for a baseline.
    assert_eq!(trend(week, MeaningMetric::ReturningShare), None);
}

/// c1 first buys in the first week, then returns every week for less and less: 300, 200, 100,
/// 50, 40.
fn fading_customer() -> Vec<Deal> {
    [
        ("2025-01-07", "10"),
        ("2025-01-14", "300"),
        ("2025-01-21", "200"),
        ("2025-01-28", "100"),
        ("2025-02-04", "50"),
        ("2025-02-11", "40"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (day, amount))| bought(&format!("d{i}"), Some("c1"), "google", day, day, amount))
    .collect()
}

#[test]
fn returning_revenue_falling_while_spend_rises_is_flagged() {
    // Returning revenue falls three weeks running to the week of 2025-02-03 (300 > 200 > 100 >
    // 50) while spend rose from 100 to 160: flagged there, on google and on the total. The week
    // after falls too (200 > 100 > 50 > 40) but spend went back below 120: not flagged.
    let ads = weekly_spend("google", ["100", "100", "120", "140", "160", "100"]);
    let a = analyze(&ads, &fading_customer());
    let flags: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.kind() == FindingKind::ReturningRevenueFalling)
        .collect();
    assert_eq!(flags.len(), 2, "{flags:#?}");
    for f in &flags {
        assert_eq!(f.period_start, d("2025-02-03"));
        let FindingDetail::ReturningRevenueFalling(r) = &f.detail else {
            unreachable!()
        };
        assert_eq!(r.periods, 3);
        assert_eq!(r.first_start, d("2025-01-13"));
        assert_eq!((r.returning_before, r.returning_now), (300.0, 50.0));
        assert_eq!((r.spend_before, r.spend_now), (100.0, 160.0));
        assert_eq!(r.returning_share, Some(1.0));
        assert!(
            f.message
                .contains("buying new customers and losing old ones"),
            "{}",
            f.message
        );
    }
    assert!(flags.iter().any(|f| f.channel == "all"));

    // The same fall with flat spend is not flagged: nothing was bought instead.
    let flat = analyze(&weekly_spend("google", ["100"; 6]), &fading_customer());
    assert!(
        flat.findings
            .iter()
            .all(|f| f.kind() != FindingKind::ReturningRevenueFalling)
    );
}
