//! Time zones: "today" is the business's date, each source finishes its days in its own zone
//! (a day it has not finished is pending, not a failure), a `--today` in the future is
//! refused, and changing `[analysis] timezone` re-dates stored deals without losing any.
//!
//! The clocks are fixed instants: the cycle and the pipeline take the moment they run as of.

use chrono::{DateTime, Utc};
use kassa::analysis::{ALL_CHANNELS, Analysis, GapReason};
use kassa::config::Settings;
use kassa::cycle::run_cycle;
use kassa::domain::DateRange;
use kassa::pipeline;
use kassa::report;
use kassa::store::Store;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::fakes::{TokenFrom, hubspot, meta, ok};
use crate::helpers::{Workspace, d, repo};

/// Monday 2025-05-26, 01:00 in Moscow: still Sunday 22:00 in UTC.
const MOSCOW_MONDAY_1AM: &str = "2025-05-25T22:00:00Z";
/// The same Monday, 06:00 in Moscow (03:00 UTC): every zone west to UTC has finished Sunday.
const MOSCOW_MONDAY_6AM: &str = "2025-05-26T03:00:00Z";

fn instant(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The demo's CSVs in a workspace whose business runs on Moscow time; `ads_extra` adds keys to
/// the ads source (its `timezone`).
fn moscow_workspace(ads_extra: &str) -> (Workspace, Settings) {
    let ws = Workspace::new();
    for file in ["ads.csv", "crm.csv"] {
        let text = std::fs::read_to_string(repo().join("fixtures/demo").join(file)).unwrap();
        ws.write(file, &text);
    }
    let absolute = |name: &str| ws.path().join(name).display().to_string();
    ws.config(&format!(
        "[analysis]\ntimezone = \"Europe/Moscow\"\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n{ads_extra}\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n",
        absolute("ads.csv"),
        absolute("crm.csv"),
    ));
    let settings = Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    (ws, settings)
}

/// The history before the week of 2025-05-19, backfilled as of the Monday it ended.
async fn backfilled(settings: &Settings) -> Store {
    let mut store = Store::open(&settings.store_path).unwrap();
    let history = DateRange::new(d("2025-01-06"), d("2025-05-18")).unwrap();
    pipeline::backfill(settings, &mut store, history, &[], d("2025-05-19"))
        .await
        .unwrap();
    store
}

fn week_of(analysis: &Analysis, channel: &str, start: &str) -> kassa::analysis::PeriodMetrics {
    analysis
        .periods
        .iter()
        .find(|p| p.channel == channel && p.period_start == d(start))
        .unwrap_or_else(|| panic!("no {channel} period starting {start}"))
        .clone()
}

// Guards: "today" is the business's date. At 01:00 on Monday in Moscow the week that ended at
// Moscow midnight is judged (its google episode flagged), though it is still Sunday in UTC.
#[tokio::test]
async fn moscow_monday_run_judges_last_week() {
    let (_ws, settings) = moscow_workspace("timezone = \"Europe/Moscow\"");
    let mut store = backfilled(&settings).await;

    let outcome = run_cycle(&settings, &mut store, &[], instant(MOSCOW_MONDAY_1AM))
        .await
        .unwrap();

    assert!(!outcome.partial(), "{outcome:?}");
    assert!(
        outcome.sources.iter().all(|s| s.pending.is_none()),
        "{outcome:?}"
    );
    let analysis = pipeline::analyze(
        &settings,
        &store,
        None,
        Some(d("2025-05-25")),
        instant(MOSCOW_MONDAY_1AM),
    )
    .unwrap();
    let week = week_of(&analysis, ALL_CHANNELS, "2025-05-19");
    assert!(
        week.complete,
        "the week has ended in Moscow: {:?}",
        week.gaps
    );
    assert!(
        analysis
            .flagged()
            .any(|f| f.channel == "google" && f.period_start == d("2025-05-19")),
        "google's week of 2025-05-19 gets its verdict: {:?}",
        analysis.findings
    );
}

// Guards: a source whose zone has not finished a day leaves that day pending for itself
// alone (not pulled, a gap reason of its own, no failure and so no exit 2); the next run
// fills it and the week gets its verdict.
#[tokio::test]
async fn utc_source_day_pending_is_not_failure() {
    // The ads export's days are UTC days (the default for CSV).
    let (_ws, settings) = moscow_workspace("");
    let mut store = backfilled(&settings).await;

    let early = run_cycle(&settings, &mut store, &[], instant(MOSCOW_MONDAY_1AM))
        .await
        .unwrap();

    assert!(!early.partial(), "pending is not a failure: {early:?}");
    let pending = |name: &str| {
        early
            .sources
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .pending
    };
    assert_eq!(
        pending("ads"),
        DateRange::new(d("2025-05-25"), d("2025-05-25"))
    );
    assert_eq!(pending("crm"), None, "the CRM's days are Moscow days");
    let analysis = pipeline::analyze(
        &settings,
        &store,
        None,
        Some(d("2025-05-25")),
        instant(MOSCOW_MONDAY_1AM),
    )
    .unwrap();
    let week = week_of(&analysis, ALL_CHANNELS, "2025-05-19");
    assert_eq!(
        week.gaps,
        vec![GapReason::SourcePending {
            source: "ads".into(),
            ranges: vec![DateRange::new(d("2025-05-25"), d("2025-05-25")).unwrap()],
        }],
        "pending, not missing, and nothing else"
    );
    let json: Value = serde_json::from_str(&report::to_json(&analysis)).unwrap();
    let gaps = json["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["channel"] == ALL_CHANNELS && p["period_start"] == "2025-05-19")
        .map(|p| p["gaps"].clone())
        .unwrap();
    assert_eq!(
        gaps,
        serde_json::json!([
            "source \"ads\" has not finished the day 2025-05-25 in its time zone yet; the next run pulls it"
        ])
    );

    let later = run_cycle(&settings, &mut store, &[], instant(MOSCOW_MONDAY_6AM))
        .await
        .unwrap();
    assert!(
        later.sources.iter().all(|s| s.pending.is_none()),
        "{later:?}"
    );
    let analysis = pipeline::analyze(
        &settings,
        &store,
        None,
        Some(d("2025-05-25")),
        instant(MOSCOW_MONDAY_6AM),
    )
    .unwrap();
    assert!(week_of(&analysis, ALL_CHANNELS, "2025-05-19").complete);
}

// Guards: `--today` replays past nights only; a date after the business's real today is a
// clear error with exit 1, and nothing is pulled.
#[test]
fn future_today_is_refused() {
    let (ws, _) = moscow_workspace("");
    let run = ws.kassa(&["run", "--today", "2999-01-04"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("--today 2999-01-04")
            && run.stderr.contains("Europe/Moscow")
            && run.stderr.contains("past nights only"),
        "{}",
        run.stderr
    );
    assert!(
        !ws.store_path().join("deals").exists(),
        "nothing was pulled"
    );
}

/// Deals the fake HubSpot answers every search with (the connector keeps those of the
/// requested range): one won late on Sunday 2025-03-16 in UTC, which is already Monday in
/// Moscow, and one won in the middle of each week.
fn hubspot_deals() -> Value {
    hubspot::page(
        3,
        vec![
            hubspot::won_deal(
                "1",
                "2025-03-16T21:30:00Z",
                Some("2025-03-16T22:00:00Z"),
                "100",
            ),
            hubspot::won_deal(
                "2",
                "2025-03-12T10:00:00Z",
                Some("2025-03-12T11:00:00Z"),
                "50",
            ),
            hubspot::won_deal(
                "3",
                "2025-03-19T10:00:00Z",
                Some("2025-03-19T11:00:00Z"),
                "70",
            ),
        ],
        None,
    )
}

fn hubspot_settings(ws: &Workspace, server: &MockServer, timezone: &str) -> Settings {
    let token = ws.write("secrets/hubspot", hubspot::TOKEN);
    ws.config(&format!(
        "[analysis]\ntimezone = {timezone:?}\n\n{}",
        hubspot::table("crm", &server.uri(), TokenFrom::File(&token), "")
    ));
    Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap()
}

/// Revenue and won deals of the two weeks of March, from the JSON contract.
fn march_weeks(settings: &Settings, store: &Store) -> Vec<(String, f64, u64)> {
    let analysis = pipeline::analyze(
        settings,
        store,
        Some(d("2025-03-10")),
        Some(d("2025-03-23")),
        d("2025-04-01"),
    )
    .unwrap();
    let json: Value = serde_json::from_str(&report::to_json(&analysis)).unwrap();
    json["periods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["channel"] == ALL_CHANNELS)
        .map(|p| {
            (
                p["period_start"].as_str().unwrap().to_string(),
                p["revenue"].as_f64().unwrap(),
                p["deals_won"].as_u64().unwrap(),
            )
        })
        .collect()
}

// Guards: deals keep the CRM's instants, so switching `[analysis] timezone` re-dates them
// (analyze shows the new weeks at once) and re-pulling one week afterwards loses nothing from
// either week: the deal won late on Sunday in UTC moves to Monday's week and stays there.
#[tokio::test]
async fn timezone_change_rebuckets_deals() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hubspot::SEARCH_PATH))
        .respond_with(ok(hubspot_deals()))
        .mount(&server)
        .await;
    let ws = Workspace::new();
    let march = DateRange::new(d("2025-03-10"), d("2025-03-23")).unwrap();

    let utc = hubspot_settings(&ws, &server, "UTC");
    let mut store = Store::open(&utc.store_path).unwrap();
    pipeline::backfill(&utc, &mut store, march, &[], d("2025-04-01"))
        .await
        .unwrap();
    assert_eq!(
        march_weeks(&utc, &store),
        vec![
            ("2025-03-10".to_string(), 150.0, 2),
            ("2025-03-17".to_string(), 70.0, 1)
        ]
    );
    drop(store);

    let moscow = hubspot_settings(&ws, &server, "Europe/Moscow");
    let store = Store::open(&moscow.store_path).unwrap();
    let changes = store.timezone_changes(&["crm"], moscow.timezone).unwrap();
    assert_eq!(changes.len(), 1, "the change is said: {changes:?}");
    assert_eq!((changes[0].stored.as_str(), changes[0].redated), ("UTC", 3));
    let rebucketed = vec![
        ("2025-03-10".to_string(), 50.0, 1),
        ("2025-03-17".to_string(), 170.0, 2),
    ];
    assert_eq!(march_weeks(&moscow, &store), rebucketed, "analyze re-dates");
    drop(store);

    // Re-pull only the first week, in Moscow time.
    let mut store = Store::open(&moscow.store_path).unwrap();
    let first_week = DateRange::new(d("2025-03-10"), d("2025-03-16")).unwrap();
    pipeline::backfill(&moscow, &mut store, first_week, &[], d("2025-04-01"))
        .await
        .unwrap();
    assert_eq!(
        march_weeks(&moscow, &store),
        rebucketed,
        "no won revenue lost from either week"
    );
    assert!(
        store
            .timezone_changes(&["crm"], moscow.timezone)
            .unwrap()
            .is_empty(),
        "the rewritten snapshot is stamped with the new zone"
    );
}

// Guards: a Meta source without a `timezone` key takes the ad account's `timezone_name`: an
// account in Los Angeles has not finished Sunday at 06:00 on Monday in Moscow, so Sunday is
// pending for it (not requested, no failure), and the pull stops at Saturday.
#[tokio::test]
async fn meta_account_zone_decides_its_pending_days() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::ACCOUNT_PATH))
        .respond_with(ok(meta::account("America/Los_Angeles")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(ok(meta::page(vec![], None)))
        .mount(&server)
        .await;
    let ws = Workspace::new();
    let token = ws.write("secrets/meta", meta::TOKEN);
    ws.config(&format!(
        "[analysis]\ntimezone = \"Europe/Moscow\"\n\n{}",
        meta::table(
            "meta",
            &server.uri(),
            TokenFrom::File(&token),
            "lookback_days = 3"
        )
    ));
    let settings = Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let mut store = Store::open(&settings.store_path).unwrap();

    let outcome = run_cycle(&settings, &mut store, &[], instant(MOSCOW_MONDAY_6AM))
        .await
        .unwrap();

    assert!(!outcome.partial(), "{outcome:?}");
    let meta = &outcome.sources[0];
    assert_eq!(meta.timezone, Some("America/Los_Angeles".parse().unwrap()));
    assert_eq!(
        meta.pending,
        DateRange::new(d("2025-05-25"), d("2025-05-25"))
    );
    let insights: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == meta::INSIGHTS_PATH)
        .map(|r| r.url.query().unwrap_or_default().to_string())
        .collect();
    assert_eq!(insights.len(), 1);
    assert!(
        insights[0].contains("2025-05-24") && !insights[0].contains("2025-05-25"),
        "Saturday is the last day asked for: {}",
        insights[0]
    );
}
