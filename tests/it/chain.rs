//! Where the chain breaks, and the money at stake, against hand-computed expectations:
//! `leads_without_money` (one alert when `activity_without_money` holds too),
//! `spend_without_money` after N periods (a data gap breaks the streak), `decoupling` (a
//! correlation that breaks, and one that holds), and a night's alerts ordered by money at stake
//! with a target's `min_money_at_stake` leaving out the small one.

use kassa::analysis::{
    self, ActivityMetric, Analysis, ChainSettings, Finding, FindingDetail, FindingKind,
    Granularity, RuleSettings,
};
use kassa::domain::{AdDay, Coverage, DateRange, Deal, Locale, Money};
use kassa::episodes;
use kassa::store::{ad_rows_to_frame, claims_to_frame, deals_to_frame};
use wiremock::MockServer;

use crate::helpers::{Workspace, ad_day, d, lead, paused_clock_context, range, won};
use crate::run::{accept, slack_url};

/// Mondays of consecutive ISO weeks from 2025-01-06.
fn mondays(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| (d("2025-01-06") + chrono::Duration::weeks(i as i64)).to_string())
        .collect()
}

fn wednesday(monday: &str) -> String {
    (d(monday) + chrono::Duration::days(2)).to_string()
}

/// Analyses `weeks` whole weeks from 2025-01-06, both sources covering `covered` (all of them
/// by default), judged on 2025-12-31, with English messages.
fn analyze(
    ads: &[AdDay],
    deals: &[Deal],
    weeks: usize,
    crm_covered: Option<Vec<DateRange>>,
    settings: &RuleSettings,
) -> Analysis {
    let end = d("2025-01-05") + chrono::Duration::weeks(weeks as i64);
    let all = DateRange::new(d("2025-01-06"), end).unwrap();
    let coverage = vec![
        Coverage {
            source: "ads".into(),
            ranges: vec![all],
            pending_from: None,
        },
        Coverage {
            source: "crm".into(),
            ranges: crm_covered.unwrap_or(vec![all]),
            pending_from: None,
        },
    ];
    let mut analysis = analysis::analyze(
        &ad_rows_to_frame("ads", ads).unwrap(),
        &deals_to_frame("crm", deals).unwrap(),
        &claims_to_frame("report", &[]).unwrap(),
        &coverage,
        settings,
        all,
        d("2025-12-31"),
    )
    .unwrap();
    kassa::text::describe_findings(&mut analysis, settings, Locale::En);
    analysis
}

fn of_kind<'a>(analysis: &'a Analysis, kind: FindingKind, channel: &str) -> Vec<&'a Finding> {
    analysis
        .findings
        .iter()
        .filter(|f| f.kind() == kind && f.channel == channel)
        .collect()
}

/// meta, weeks 1-4: 1000 impressions, 100 clicks, reach 500, spend 50; 10 leads (one won for
/// 1000, nine open). Week 5: 130 clicks, 15 leads (one won for 1000, fourteen open).
///
/// activity: clicks 130 vs 100 = +30% (CTR +30% too, reach 0%) >= 20%; revenue 1000 vs 1000 =
/// 0% <= 0%: `activity_without_money`, chain break lead -> sale (leads +50%, won deals 0%).
/// leads: 15 vs 10 = +50% >= 20%, revenue 0%: `leads_without_money` as well.
#[test]
fn leads_grew_won_did_not_is_leads_without_money_and_alerts_once() {
    let weeks = mondays(5);
    let mut ads = Vec::new();
    let mut deals = Vec::new();
    for (w, monday) in weeks.iter().enumerate() {
        let (clicks, open) = if w == 4 { (130, 14) } else { (100, 9) };
        ads.push(ad_day(monday, "meta", 1000, clicks, 500, "50"));
        deals.push(won(
            &format!("w{w}"),
            "meta",
            monday,
            &wednesday(monday),
            "1000",
        ));
        for i in 0..open {
            deals.push(lead(&format!("l{w}-{i}"), "meta", monday));
        }
    }
    let analysis = analyze(&ads, &deals, 5, None, &RuleSettings::default());

    // Both rules' verdicts stay in the analysis (and its JSON).
    let default = of_kind(&analysis, FindingKind::ActivityWithoutMoney, "meta");
    let leads = of_kind(&analysis, FindingKind::LeadsWithoutMoney, "meta");
    assert_eq!(default.len(), 1, "{:#?}", analysis.findings);
    assert_eq!(leads.len(), 1, "{:#?}", analysis.findings);
    let finding = leads[0];
    assert_eq!(finding.period_start, d(&weeks[4]));
    let FindingDetail::LeadsWithoutMoney(flag) = &finding.detail else {
        panic!("{finding:?}")
    };
    assert_eq!(
        (flag.leads.value, flag.leads.baseline, flag.leads.growth),
        (15.0, 10.0, 0.5)
    );
    assert_eq!((flag.money.value, flag.money.growth), (1000.0, 0.0));
    let activity = flag
        .activity
        .as_ref()
        .expect("the default rule flagged it too");
    assert_eq!((activity.metric.as_str(), activity.growth), ("clicks", 0.3));
    assert_eq!(finding.money_at_stake(), Some(50.0));
    assert!(
        finding.message.contains("between lead and sale"),
        "{}",
        finding.message
    );

    // One episode, of the more specific kind, so one alert.
    let found = episodes::find_episodes(&analysis);
    let meta: Vec<_> = found.iter().filter(|e| e.channel == "meta").collect();
    assert_eq!(meta.len(), 1, "{meta:#?}");
    assert_eq!(meta[0].kind, FindingKind::LeadsWithoutMoney);
    let plan = episodes::plan(&found, &[], d(&weeks[4]), 0.10);
    let opened: Vec<_> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            episodes::Change::Opened(e) if e.channel == "meta" => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 1, "{:#?}", plan.changes);
    let words = kassa::text::alerts::episode(opened[0], false, Granularity::Week, Locale::En);
    assert!(
        words.title.starts_with("Leads without money: Channel meta"),
        "{}",
        words.title
    );
    assert!(
        words.summary.contains("Clicks grew 30% too"),
        "{}",
        words.summary
    );
    assert!(
        words.facts.iter().any(|f| f.value == "lead → sale"),
        "{:?}",
        words.facts
    );
    let decision = words.decision.unwrap();
    assert!(decision.contains("talk to sales"), "{decision}");
    assert!(decision.contains("talk to the marketer"), "{decision}");
    let ru = kassa::text::alerts::episode(opened[0], false, Granularity::Week, Locale::Ru);
    assert!(ru.title.starts_with("Заявки без денег"), "{}", ru.title);
}

/// tiktok spends 100 a week for six weeks and wins nothing; floor 50, three periods, a
/// baseline of one week (so week 1 has no verdict but starts the streak).
///
/// weeks 3, 4, 5, 6: streaks of 3, 4, 5, 6 periods, 300, 400, 500, 600 spent. With the CRM
/// missing a day of week 4, week 4 breaks the streak: only week 3 is flagged (weeks 5 and 6
/// make a streak of two).
#[test]
fn spend_without_money_after_n_periods_and_a_gap_breaks_the_streak() {
    let weeks = mondays(6);
    let ads: Vec<AdDay> = weeks
        .iter()
        .map(|monday| ad_day(monday, "tiktok", 1000, 10, 500, "100"))
        .collect();
    let settings = RuleSettings {
        baseline_periods: 1,
        chain: ChainSettings {
            spend_floor: Money::from_micros(50_000_000),
            spend_periods: 3,
            ..ChainSettings::default()
        },
        ..RuleSettings::default()
    };
    let analysis = analyze(&ads, &[], 6, None, &settings);
    let flagged = of_kind(&analysis, FindingKind::SpendWithoutMoney, "tiktok");
    let streaks: Vec<(String, usize, f64)> = flagged
        .iter()
        .map(|f| match &f.detail {
            FindingDetail::SpendWithoutMoney(s) => (
                f.period_start.to_string(),
                s.periods,
                s.streak_spend.as_f64(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        streaks,
        [
            (weeks[2].clone(), 3, 300.0),
            (weeks[3].clone(), 4, 400.0),
            (weeks[4].clone(), 5, 500.0),
            (weeks[5].clone(), 6, 600.0),
        ]
    );
    assert_eq!(flagged[3].money_at_stake(), Some(600.0));
    // The terminal table names the rule on those weeks: a period flagged by a rule other than
    // the default one is never shown as clear.
    let table = kassa::report::to_table(&analysis, Locale::En);
    for week in &weeks[2..] {
        let row = table
            .lines()
            .find(|line| line.split_whitespace().next() == Some(week.as_str()))
            .unwrap_or_else(|| panic!("no row for {week}:\n{table}"));
        assert!(row.contains("SPEND WITHOUT MONEY"), "{row}");
    }
    assert!(
        flagged[0]
            .message
            .contains("3 weeks in a row from 2025-01-06 to 2025-01-26"),
        "{}",
        flagged[0].message
    );
    // One episode; its money at stake is the streak's, not a sum of running totals.
    let found = episodes::find_episodes(&analysis);
    let tiktok: Vec<_> = found
        .iter()
        .filter(|e| e.channel == "tiktok" && e.kind == FindingKind::SpendWithoutMoney)
        .collect();
    assert_eq!(tiktok.len(), 1);
    assert_eq!(tiktok[0].money_at_stake(), Some(600.0));

    // The CRM misses Wednesday of week 4: unknown money is no zero, and the streak breaks.
    let before = range("2025-01-06", "2025-01-28");
    let after = range("2025-01-30", "2025-02-16");
    let gapped = analyze(&ads, &[], 6, Some(vec![before, after]), &settings);
    let starts: Vec<String> = of_kind(&gapped, FindingKind::SpendWithoutMoney, "tiktok")
        .iter()
        .map(|f| f.period_start.to_string())
        .collect();
    assert_eq!(starts, [weeks[2].clone()]);
}

/// meta's clicks over nine weeks: 100, 120, 100, 120, 100, 120, 100, 120, then 200; revenue
/// is ten times the clicks for eight weeks (r = 1 over weeks 1-8), then 1000 in week 9.
///
/// Window weeks 2-9: clicks mean 122.5, revenue mean 1100; Σdx·dy = 100 × (−2.5 + 22.5 − 2.5 +
/// 22.5 − 2.5 + 22.5 − 2.5 − 77.5) = −2000; Σdx² = 4 × 6.25 + 3 × 506.25 + 77.5² = 7550;
/// Σdy² = 8 × 100² = 80000; r = −2000 / √(7550 × 80000) = −0.0814, below 0.3, from a window
/// at r = 1; the clicks' slope over the window is +7.38 a week: `decoupling` in week 9.
/// With revenue 2000 in week 9, r stays 1: no finding.
#[test]
fn a_correlation_that_breaks_while_activity_rises_is_decoupling_and_one_that_holds_is_not() {
    let weeks = mondays(9);
    let clicks = [100, 120, 100, 120, 100, 120, 100, 120, 200];
    let build = |last_revenue: &str| {
        let mut ads = Vec::new();
        let mut deals = Vec::new();
        for (w, monday) in weeks.iter().enumerate() {
            ads.push(ad_day(monday, "meta", 1000, clicks[w], 500, "50"));
            let revenue = if w == 8 {
                last_revenue.to_string()
            } else {
                (clicks[w] * 10).to_string()
            };
            deals.push(won(
                &format!("w{w}"),
                "meta",
                monday,
                &wednesday(monday),
                &revenue,
            ));
        }
        (ads, deals)
    };
    let settings = RuleSettings {
        activity_metrics: vec![ActivityMetric::Clicks],
        ..RuleSettings::default()
    };

    let (ads, deals) = build("1000");
    let analysis = analyze(&ads, &deals, 9, None, &settings);
    let found = of_kind(&analysis, FindingKind::Decoupling, "meta");
    assert_eq!(found.len(), 1, "{:#?}", analysis.findings);
    let FindingDetail::Decoupling(decoupling) = &found[0].detail else {
        panic!()
    };
    assert_eq!(found[0].period_start, d(&weeks[8]));
    assert_eq!(decoupling.window_start, d(&weeks[1]));
    assert_eq!(decoupling.metric, "clicks");
    assert_eq!(decoupling.correlation.n, 8);
    let expected = -2000.0 / (7550.0_f64 * 80000.0).sqrt();
    assert!((decoupling.correlation.r - expected).abs() < 1e-12);
    assert!(decoupling.correlation.ci_low < expected && expected < decoupling.correlation.ci_high);
    assert!((decoupling.activity_trend - 7.380_952_380_952_381).abs() < 1e-9);
    assert!(
        found[0]
            .message
            .contains("correlation r = -0.08 over 8 periods"),
        "{}",
        found[0].message
    );
    let json: serde_json::Value = serde_json::from_str(&kassa::report::to_json(&analysis)).unwrap();
    let shown = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "decoupling" && f["channel"] == "meta")
        .unwrap();
    assert_eq!(shown["correlation"]["n"], 8, "{shown}");
    assert_eq!(shown["money_at_stake"], 50.0, "{shown}");

    let (ads, deals) = build("2000");
    let analysis = analyze(&ads, &deals, 9, None, &settings);
    assert!(
        of_kind(&analysis, FindingKind::Decoupling, "meta").is_empty(),
        "{:#?}",
        analysis.findings
    );
}

/// Five weeks: meta spends 50 a week then 65, google 400 then 520; each wins one deal of 1000
/// a week (its only lead); in week 5 both have 130 clicks instead of 100 (+30%) and the
/// same revenue: `activity_without_money` for meta (65 at stake), google (520) and all (585).
/// Two Slack targets post to `url`: `team`, and `owner` with `min_money_at_stake = 100`.
fn three_episodes_workspace(url: &str) -> Workspace {
    let ws = Workspace::new();
    let mut ads = String::from("date,channel,campaign_id,impressions,reach,clicks,spend\n");
    let mut crm = String::from("deal_id,created_date,closed_date,status,amount,channel\n");
    for (w, monday) in mondays(5).iter().enumerate() {
        for (channel, spend) in [("meta", 50), ("google", 400)] {
            let (clicks, spend) = if w == 4 {
                (130, spend * 13 / 10)
            } else {
                (100, spend)
            };
            ads.push_str(&format!(
                "{monday},{channel},{channel}-1,1000,500,{clicks},{spend}\n"
            ));
            // Won on Sunday: the CRM export reaches the end of the last week.
            crm.push_str(&format!(
                "{channel}-{w},{monday},{},won,1000,{channel}\n",
                d(monday) + chrono::Duration::days(6)
            ));
        }
    }
    // An empty row on the last Sunday: the ad export reaches the end of the last week too.
    for channel in ["meta", "google"] {
        ads.push_str(&format!("2025-02-09,{channel},{channel}-1,0,0,0,0\n"));
    }
    let path = |name: &str, text: &str| ws.write(name, text).display().to_string();
    let (ads, crm, url) = (
        path("ads.csv", &ads),
        path("crm.csv", &crm),
        path("url", url),
    );
    ws.config(&format!(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {ads:?}\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {crm:?}\n\n\
         [[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {url:?}\n\n\
         [[alerts]]\nname = \"owner\"\nkind = \"slack\"\nurl_file = {url:?}\n\
         min_money_at_stake = 100\n"
    ));
    ws
}

#[tokio::test(start_paused = true)]
async fn alerts_are_ordered_by_money_at_stake_and_min_money_at_stake_leaves_out_a_small_one() {
    let server = MockServer::start().await;
    accept(&server).await;
    let ws = three_episodes_workspace(&slack_url(&server));
    let settings = kassa::config::Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let retry = paused_clock_context().retry;
    let built: Vec<_> = settings
        .alerts
        .iter()
        .map(|a| a.build(&retry).unwrap())
        .collect();
    let mut store = kassa::store::Store::open(&settings.store_path).unwrap();
    let night = d("2025-02-10");
    kassa::pipeline::backfill(
        &settings,
        &mut store,
        range("2025-01-06", "2025-02-09"),
        &[],
        night,
    )
    .await
    .unwrap();
    let outcome = kassa::cycle::run_cycle(&settings, &mut store, &built, night)
        .await
        .unwrap();
    let sent = |target: &str| -> Vec<(String, f64)> {
        outcome
            .delivered
            .iter()
            .filter(|d| d.target == target)
            .map(|d| {
                let episode = &d.message.data["episode"];
                (
                    episode["channel"].as_str().unwrap().to_string(),
                    episode["money_at_stake"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let largest_first = [
        ("all".to_string(), 585.0),
        ("google".to_string(), 520.0),
        ("meta".to_string(), 65.0),
    ];
    assert_eq!(sent("team"), largest_first);
    assert_eq!(sent("owner"), largest_first[..2]);
    let money = &outcome.delivered[0].message.facts;
    assert!(
        money
            .iter()
            .any(|f| f.label == "Money at stake" && f.value.contains("585")),
        "{money:?}"
    );
}
