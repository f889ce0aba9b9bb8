//! The metric audit (`kassa audit`, `metric_audit` in the JSON): seeded data where one metric
//! drives revenue two weeks later and the others are noise, through the pure
//! `analysis::analyze`; too short a history and a constant series give a reason, never a
//! number; and the binary on the demo data, in English, Russian and JSON.

use kassa::analysis::{
    self, ActivityMetric, Analysis, AuditSettings, AuditVerdict, MetricAuditRow, RuleSettings,
};
use kassa::domain::{AdDay, Coverage, DateRange, Deal};
use kassa::store::{ad_rows_to_frame, claims_to_frame, deals_to_frame};

use crate::helpers::{Workspace, ad_day, d, demo_sources, won};

/// A small deterministic generator (SplitMix64): the same "random" weeks on every run.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

const FIRST_MONDAY: &str = "2024-01-01";

fn monday(week: usize) -> chrono::NaiveDate {
    d(FIRST_MONDAY) + chrono::Duration::weeks(week as i64)
}

/// `weeks` weeks of channel `x`, one ad day and one won deal each Wednesday: clicks random,
/// revenue two weeks later ten times those clicks (plus a little noise), impressions, reach
/// and spend random and unrelated to anything, one lead a week (a constant).
fn driven_by_clicks(weeks: usize, seed: u64) -> (Vec<AdDay>, Vec<Deal>) {
    let mut rng = Seeded(seed);
    let clicks: Vec<u64> = (0..weeks).map(|_| 100 + rng.below(100)).collect();
    let mut ads = Vec::new();
    let mut deals = Vec::new();
    for week in 0..weeks {
        let wednesday = (monday(week) + chrono::Duration::days(2)).to_string();
        let impressions = 20_000 + rng.below(10_000);
        let reach = 8_000 + rng.below(4_000);
        let spend = format!("{}.00", 300 + rng.below(200));
        ads.push(ad_day(
            &wednesday,
            "x",
            impressions,
            clicks[week],
            reach,
            &spend,
        ));
        // Before clicks can pay, revenue is noise around their mean.
        let driver = if week >= 2 { clicks[week - 2] } else { 150 };
        let amount = format!("{}.00", driver * 10 + rng.below(100));
        deals.push(won(
            &format!("w{week}"),
            "x",
            &wednesday,
            &wednesday,
            &amount,
        ));
    }
    (ads, deals)
}

fn audit_of(ads: &[AdDay], deals: &[Deal], weeks: usize, settings: &RuleSettings) -> Analysis {
    let range = DateRange {
        start: d(FIRST_MONDAY),
        end: monday(weeks) - chrono::Duration::days(1),
    };
    let coverage: Vec<Coverage> = ["ads", "crm"]
        .map(|source| Coverage {
            source: source.into(),
            ranges: vec![range],
            pending_from: None,
        })
        .into();
    analysis::analyze(
        &ad_rows_to_frame("ads", ads).unwrap(),
        &deals_to_frame("crm", deals).unwrap(),
        &claims_to_frame("report", &[]).unwrap(),
        &coverage,
        settings,
        range,
        monday(weeks + 1),
    )
    .unwrap()
}

fn row<'a>(analysis: &'a Analysis, channel: &str, metric: ActivityMetric) -> &'a MetricAuditRow {
    analysis
        .metric_audit
        .rows
        .iter()
        .find(|r| r.channel == channel && r.metric == metric)
        .unwrap()
}

fn settings(periods: usize) -> RuleSettings {
    RuleSettings {
        audit: AuditSettings {
            periods,
            ..AuditSettings::default()
        },
        ..RuleSettings::default()
    }
}

#[test]
fn a_metric_unrelated_to_revenue_is_a_ritual_and_one_that_drives_it_drives_money() {
    let (ads, deals) = driven_by_clicks(52, 16);
    let analysis = audit_of(&ads, &deals, 52, &settings(52));
    let audit = &analysis.metric_audit;
    assert_eq!(audit.periods, 52);
    assert_eq!(
        (audit.from, audit.to),
        (Some(d("2024-01-01")), Some(d("2024-12-29")))
    );

    let clicks = row(&analysis, "x", ActivityMetric::Clicks);
    assert_eq!(clicks.verdict, AuditVerdict::DrivesMoney, "{clicks:?}");
    let best = clicks.best.unwrap();
    assert_eq!(best.lag, 2, "the lag the data was built with");
    assert_eq!(clicks.n, 50, "52 weeks, two lost to the lag");
    assert!(best.pearson.r > 0.99, "{best:?}");
    assert!(best.spearman.unwrap().r > 0.95, "{best:?}");
    // The corrected interval is wider than the plain 95% one, and still far above zero.
    assert!(
        best.ci_low < best.pearson.ci_low && best.ci_low > 0.9,
        "{best:?}"
    );

    for metric in [
        ActivityMetric::Impressions,
        ActivityMetric::Reach,
        ActivityMetric::Spend,
    ] {
        let noise = row(&analysis, "x", metric);
        assert_eq!(noise.verdict, AuditVerdict::Ritual, "{metric:?}: {noise:?}");
        let best = noise.best.unwrap();
        assert!(best.ci_low < 0.0 && best.ci_high > 0.0 && best.pearson.r.abs() < 0.3);
    }
    // Five metrics with a correlation (leads is constant), on two channels (x and all), at
    // seven lags each: Bonferroni over 70 tests.
    assert_eq!(audit.tests, 2 * 5 * 7);
    assert!((audit.confidence - (1.0 - 0.05 / 70.0)).abs() < 1e-12);
}

#[test]
fn a_constant_series_is_reported_as_constant_never_nan() {
    let (ads, deals) = driven_by_clicks(30, 7);
    let analysis = audit_of(&ads, &deals, 30, &settings(26));
    let leads = row(&analysis, "x", ActivityMetric::Leads);
    assert_eq!(leads.verdict, AuditVerdict::Constant, "one lead every week");
    assert_eq!(leads.best, None);
    assert_eq!(leads.n, 26);
    let json = kassa::report::audit_to_json(&analysis);
    assert!(!json.contains("NaN"), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let entry = value["metric_audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["channel"] == "x" && e["metric"] == "leads")
        .unwrap();
    assert_eq!(entry["verdict"], "constant");
    assert_eq!(entry["pearson"], serde_json::Value::Null);
    assert_eq!(entry["n"], 26);
}

#[test]
fn fewer_periods_than_the_minimum_give_no_correlation() {
    let (ads, deals) = driven_by_clicks(7, 3);
    let analysis = audit_of(&ads, &deals, 7, &settings(26));
    assert_eq!(analysis.metric_audit.periods, 7);
    assert_eq!(analysis.metric_audit.tests, 0);
    for row in &analysis.metric_audit.rows {
        assert_eq!(row.verdict, AuditVerdict::NotEnoughData, "{row:?}");
        assert_eq!((row.n, row.best), (7, None), "{row:?}");
    }
    // Eight weeks are enough at lag 0 (the longer lags have fewer pairs and are skipped).
    let (ads, deals) = driven_by_clicks(8, 3);
    let analysis = audit_of(&ads, &deals, 8, &settings(26));
    let clicks = row(&analysis, "x", ActivityMetric::Clicks);
    assert_eq!((clicks.n, clicks.best.map(|b| b.lag)), (8, Some(0)));
}

/// The demo data in a scratch store.
fn demo() -> Workspace {
    let ws = Workspace::new();
    ws.config(&demo_sources());
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"]);
    assert_eq!(backfill.code, 0, "{}", backfill.stderr);
    ws
}

#[test]
fn kassa_audit_on_the_demo_tells_which_metrics_are_rituals() {
    let ws = demo();
    let kassa = |args: &[&str], env: &[(&str, &str)]| ws.kassa_with_env(args, env);

    let table = kassa(&["audit"], &[]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let out = &table.stdout;
    assert!(
        out.starts_with(
            "kassa metric audit: 25 weeks from 2025-01-06 to 2025-06-29; each activity metric against revenue 0 to 6 weeks later"
        ),
        "{out}"
    );
    assert!(
        out.contains("Bonferroni-corrected to 99.96% confidence"),
        "{out}"
    );
    // Meta's scaled-up reach and clicks bought no money (the demo's episode A): rituals.
    let story = out.split("What the numbers say:").nth(1).unwrap();
    let ritual = story
        .lines()
        .find(|l| l.trim_start().starts_with("ritual:"))
        .unwrap();
    for metric in [
        "reach (meta)",
        "clicks (meta)",
        "spend (meta)",
        "leads (meta)",
    ] {
        assert!(ritual.contains(metric), "{ritual}");
    }
    assert!(!out.contains("NaN"), "{out}");

    let ru = kassa(&["audit"], &[("KASSA__ALERTING__LOCALE", "ru")]);
    assert_eq!(ru.code, 0, "{}", ru.stderr);
    assert!(
        ru.stdout
            .starts_with("kassa, аудит метрик: 25 недель с 2025-01-06 по 2025-06-29"),
        "{}",
        ru.stdout
    );
    assert!(
        ru.stdout.contains("поправкой Бонферрони, доверие 99,96%"),
        "{}",
        ru.stdout
    );
    assert!(ru.stdout.contains("ритуал: "), "{}", ru.stdout);
    assert!(ru.stdout.contains("охват (meta)"), "{}", ru.stdout);

    let json = kassa(&["audit", "--format", "json"], &[]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let audit: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(audit["money_metric"], "revenue");
    assert_eq!(audit["periods"], 25);
    assert_eq!(audit["max_lag_periods"], 6);
    let entries = audit["metric_audit"].as_array().unwrap();
    assert_eq!(entries.len(), 3 * 6, "six metrics on all, google and meta");
    for entry in entries {
        for key in [
            "metric", "channel", "best_lag", "pearson", "spearman", "n", "ci_low", "ci_high",
            "verdict",
        ] {
            assert!(entry.get(key).is_some(), "{key} missing in {entry}");
        }
        let r = entry["pearson"].as_f64().unwrap();
        let (low, high) = (
            entry["ci_low"].as_f64().unwrap(),
            entry["ci_high"].as_f64().unwrap(),
        );
        assert!(low <= r && r <= high, "{entry}");
    }
    let meta_reach = entries
        .iter()
        .find(|e| e["channel"] == "meta" && e["metric"] == "reach")
        .unwrap();
    assert_eq!(meta_reach["verdict"], "ritual");

    // `analyze --format json` carries the same list.
    let analyze = kassa(&["analyze", "--format", "json"], &[]);
    assert_eq!(analyze.code, 0, "{}", analyze.stderr);
    let analysis: serde_json::Value = serde_json::from_str(&analyze.stdout).unwrap();
    assert_eq!(analysis["metric_audit"], audit["metric_audit"]);
}
