//! `kassa analyze --replay` lists exactly what the nightly runs send: the demo's nights run
//! for real (a backfill of the history, then one `run` per Monday into an accepting Slack
//! fake) against the replay of every night over a copy of the data backfilled whole.

use kassa::config::Settings;
use kassa::cycle::{replay, run_cycle};
use kassa::domain::DateRange;
use kassa::pipeline;
use kassa::store::Store;
use wiremock::MockServer;

use crate::helpers::{d, paused_clock_context};
use crate::run::{accept, slack_url, workspace_with};

#[tokio::test(start_paused = true)]
async fn replay_lists_exactly_the_alerts_the_nightly_runs_send_on_the_demo() {
    let server = MockServer::start().await;
    accept(&server).await;
    let (first, last) = (d("2025-03-10"), d("2025-06-09"));

    // For real: the history backfilled (a backfill never alerts), then every Monday's run.
    let live = workspace_with(&slack_url(&server), "");
    let settings = Settings::load(Some(&live.path().join("kassa.toml"))).unwrap();
    let retry = paused_clock_context().retry;
    let targets: Vec<_> = settings
        .alerts
        .iter()
        .map(|a| a.build(&retry).unwrap())
        .collect();
    let mut store = Store::open(&settings.store_path).unwrap();
    let history = DateRange::new(d("2025-01-06"), d("2025-03-09")).unwrap();
    pipeline::backfill(&settings, &mut store, history, &[], first)
        .await
        .unwrap();
    let mut sent = Vec::new();
    let mut night = first;
    while night <= last {
        let outcome = run_cycle(&settings, &mut store, &targets, night)
            .await
            .unwrap();
        assert!(!outcome.partial(), "{outcome:?}");
        for delivered in outcome.delivered {
            sent.push((night, delivered.target, delivered.message.id));
        }
        night += chrono::Duration::days(7);
    }
    assert!(sent.len() >= 4, "the demo sends its episodes: {sent:?}");

    // Replayed: the whole range backfilled at once into another store, every night replayed.
    let copy = workspace_with(&slack_url(&server), "");
    let settings = Settings::load(Some(&copy.path().join("kassa.toml"))).unwrap();
    let mut store = Store::open(&settings.store_path).unwrap();
    let whole = DateRange::new(d("2025-01-06"), d("2025-06-08")).unwrap();
    pipeline::backfill(&settings, &mut store, whole, &[], last)
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap().len();
    let (replayed, currency) = replay(&settings, &store, first, last).unwrap();
    let listed: Vec<_> = replayed
        .iter()
        .map(|r| (r.night, r.target.clone(), r.message.id.clone()))
        .collect();
    assert_eq!(listed, sent);
    assert_eq!(currency.as_deref(), Some("USD"));
    // Every episode message carries the episode's spend.
    assert!(
        replayed
            .iter()
            .all(|r| r.money_at_stake.is_some_and(|s| s > 0.0))
    );
    // Nothing was sent, and nothing recorded.
    assert_eq!(server.received_requests().await.unwrap().len(), requests);
    assert!(store.pending_alerts().unwrap().is_empty());
    assert!(store.episode_states().unwrap().is_empty());
}

/// The command line: the same list as JSON, each alert with its night, target, kind, channel
/// and spend; `--replay` needs both ends.
#[test]
fn analyze_replay_prints_the_alerts_as_json() {
    let ws = workspace_with("https://hooks.slack.invalid/services/T0/B0/secret", "");
    let backfill = ws.kassa(&["backfill", "--from", "2025-04-14", "--to", "2025-06-01"]);
    assert_eq!(backfill.code, 0, "{}", backfill.stderr);
    let run = ws.kassa(&[
        "analyze",
        "--from",
        "2025-05-26",
        "--to",
        "2025-06-02",
        "--replay",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let alerts = json["alerts"].as_array().unwrap();
    let ids: Vec<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "activity_without_money:google:2025-05-19:opened",
            "activity_without_money:google:2025-05-19:resolved"
        ]
    );
    assert_eq!(alerts[0]["night"], "2025-05-26");
    assert_eq!(alerts[0]["target"], "team");
    assert_eq!(alerts[0]["kind"], "activity_without_money");
    assert_eq!(alerts[0]["channel"], "google");
    assert!(alerts[0]["money_at_stake"].as_f64().unwrap() > 0.0);

    let without_to = ws.kassa(&["analyze", "--from", "2025-05-26", "--replay"]);
    assert_eq!(without_to.code, 1);
    assert!(without_to.stderr.contains("--to"), "{}", without_to.stderr);
}
