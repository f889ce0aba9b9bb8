//! Dead letters: a target that refuses a message for good (Slack's `410 channel_is_archived`,
//! Telegram's `403 bot was kicked`) or fails it for `dead_after_runs` runs gets it set aside,
//! reported once as broken, counted by `/metrics`, and managed with `kassa outbox`; later runs
//! neither send it again nor fail because of it. Through the real cycle and outbox, against
//! loopback fakes of the receivers, on the demo data of `run.rs` (one episode to push on
//! `NIGHT`).

use chrono::{TimeZone, Utc};
use kassa::cycle::run_cycle;
use kassa::worker::Worker;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Workspace, d};
use crate::run::{NIGHT, accept, in_process_after_backfill, slack_url, workspace_with};

const TELEGRAM_TOKEN: &str = "987654321:AAHkassa-test_token-Sw0rdfish";

async fn slack_archived(server: &MockServer) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(410).set_body_string("channel_is_archived"))
        .mount(server)
        .await;
}

/// An `[[alerts]]` table for a Telegram bot whose API is `server`.
fn telegram_table(ws: &Workspace, server: &MockServer) -> String {
    let token = ws.write("telegram.token", TELEGRAM_TOKEN);
    format!(
        "[[alerts]]\nname = \"owner\"\nkind = \"telegram\"\ntoken_file = {:?}\n\
         chat_id = -1001234567890\napi_base = {:?}\n",
        token.display().to_string(),
        server.uri()
    )
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test(start_paused = true)]
async fn permanent_failure_goes_dead_letter() {
    let slack = MockServer::start().await;
    slack_archived(&slack).await;
    let telegram = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TELEGRAM_TOKEN}/sendMessage")))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "ok": false, "error_code": 403,
            "description": "Forbidden: bot was kicked from the supergroup chat",
        })))
        .mount(&telegram)
        .await;
    let ws = Workspace::new();
    let table = telegram_table(&ws, &telegram);
    let ws = workspace_with(&slack_url(&slack), &table);
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;

    let first = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!((first.recorded, first.delivered.len()), (2, 0));
    // One request each: a permanent answer is not retried, and the message is set aside.
    assert_eq!((requests(&slack).await, requests(&telegram).await), (1, 1));
    assert_eq!((first.pending, first.dead), (0, 2));
    assert!(
        first.partial(),
        "a message that went dead in this run fails it"
    );
    let broken: Vec<(&str, usize, &str)> = first
        .broken_targets
        .iter()
        .map(|b| (b.target.as_str(), b.dead, b.error.as_str()))
        .collect();
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert_eq!((broken[0].0, broken[0].1), ("team", 1));
    assert!(broken[0].2.contains("410") && broken[0].2.contains("channel_is_archived"));
    assert_eq!((broken[1].0, broken[1].1), ("owner", 1));
    assert!(broken[1].2.contains("bot was kicked"), "{}", broken[1].2);
    assert!(!broken[1].2.contains(TELEGRAM_TOKEN), "the token leaked");
    assert!(first.undelivered.is_empty(), "{:?}", first.undelivered);

    let dead = store.undelivered_alerts().unwrap();
    assert_eq!(dead.len(), 2);
    assert!(dead.iter().all(|m| m.dead_at.is_some() && m.attempts == 1));

    let second = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!((requests(&slack).await, requests(&telegram).await), (1, 1));
    assert!(!second.partial(), "{second:?}");
    assert_eq!(second.dead, 2);
}

#[tokio::test(start_paused = true)]
async fn transient_failure_dead_after_runs() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .mount(&slack)
        .await;
    let ws = workspace_with(&slack_url(&slack), "[alerting]\ndead_after_runs = 3\n");
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    assert_eq!(settings.alerting.dead_after_runs, 3);

    for run in 1..=2 {
        let outcome = run_cycle(&settings, &mut store, &targets, d(NIGHT))
            .await
            .unwrap();
        assert_eq!((outcome.pending, outcome.dead), (1, 0), "run {run}");
        assert_eq!(outcome.undelivered.len(), 1, "run {run}");
        assert!(outcome.broken_targets.is_empty(), "run {run}");
        assert!(outcome.partial(), "run {run}");
    }
    let third = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!((third.pending, third.dead), (0, 1));
    assert_eq!(third.broken_targets.len(), 1);
    assert!(
        third.broken_targets[0].error.contains("503"),
        "{:?}",
        third.broken_targets
    );
    assert!(third.partial());
    let sent = requests(&slack).await;
    let item = &store.undelivered_alerts().unwrap()[0];
    assert_eq!(item.failed_runs, 3);

    let fourth = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert!(!fourth.partial(), "{fourth:?}");
    assert_eq!(
        requests(&slack).await,
        sent,
        "a dead letter is not sent again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_list_retry_drop() {
    let slack = MockServer::start().await;
    // The channel is archived for two deliveries, then someone un-archives it.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(410).set_body_string("channel_is_archived"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&slack)
        .await;
    accept(&slack).await;
    let ws = workspace_with(&slack_url(&slack), "");
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-05-25"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");

    let run = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "kassa: error: target team: 1 alert undeliverable (HTTP 410: channel_is_archived); \
             see `kassa outbox list`"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("/services/"), "{}", run.stderr);

    let list = ws.kassa(&["outbox", "list"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert!(
        list.stdout
            .contains("#1 dead     team activity_without_money: 1 attempt, 1 failed run"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout
            .contains("activity_without_money:google:2025-05-19:opened: Activity without money: Channel google"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("channel_is_archived"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("outbox: 0 pending, 1 dead"),
        "{}",
        list.stdout
    );

    // Nothing chosen is refused; so is an id that is no dead letter.
    let bare = ws.kassa(&["outbox", "retry"]);
    assert_eq!(bare.code, 1, "{bare:?}");
    let unknown = ws.kassa(&["outbox", "drop", "42"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no dead letter matches #42"),
        "{}",
        unknown.stderr
    );

    let retry = ws.kassa(&["outbox", "retry", "--target", "team"]);
    assert_eq!(retry.code, 0, "{retry:?}");
    assert!(
        retry.stdout.contains("1 alert pending again"),
        "{}",
        retry.stdout
    );
    let list = ws.kassa(&["outbox", "list"]);
    assert!(list.stdout.contains("#1 pending  team"), "{}", list.stdout);

    // Still archived: dead again, and this time dropped.
    assert_eq!(ws.kassa(&["run", "--today", NIGHT]).code, 2);
    let drop = ws.kassa(&["outbox", "drop", "#1"]);
    assert_eq!(drop.code, 0, "{drop:?}");
    assert!(drop.stdout.contains("1 alert deleted"), "{}", drop.stdout);
    let list = ws.kassa(&["outbox", "list"]);
    assert!(
        list.stdout.contains("outbox: 0 pending, 0 dead"),
        "{}",
        list.stdout
    );

    // The episode was announced: the next run records and sends nothing.
    let calm = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(calm.code, 0, "{calm:?}");
    assert_eq!(requests(&slack).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_do_not_fail_later_runs() {
    let slack = MockServer::start().await;
    slack_archived(&slack).await;
    let ws = workspace_with(&slack_url(&slack), "");
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-05-25"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    let first = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(first.code, 2, "{first:?}");
    for _ in 0..2 {
        let later = ws.kassa(&["run", "--today", NIGHT]);
        assert_eq!(later.code, 0, "{later:?}");
        assert!(!later.stderr.contains("undeliverable"), "{}", later.stderr);
    }
    assert_eq!(requests(&slack).await, 1);
}

/// One worker step. The store's lock is an `flock` on an open file; a process another test
/// spawns at that moment holds a copy of the descriptor until its `exec` closes it, so a step
/// may find the store briefly busy: it is tried again (a skipped step counts apart).
async fn tick(worker: &Worker, now: chrono::DateTime<Utc>) -> kassa::cycle::CycleOutcome {
    for _ in 0..50 {
        if let Some(outcome) = worker.tick(now).await.unwrap() {
            return outcome;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the store stayed busy");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_dead_letters() {
    let slack = MockServer::start().await;
    slack_archived(&slack).await;
    let ws = workspace_with(&slack_url(&slack), "");
    let (settings, targets, store) = in_process_after_backfill(&ws).await;
    drop(store);
    let worker = Worker::new(settings, targets);
    let night = Utc.with_ymd_and_hms(2025, 5, 26, 6, 0, 0).unwrap();

    let first = tick(&worker, night).await;
    assert_eq!(first.dead, 1);
    let metrics = worker.metrics().render();
    for expected in [
        "kassa_alerts_dead 1",
        "kassa_alerts_pending 0",
        "kassa_runs_total{outcome=\"partial\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == expected),
            "{expected:?} missing from:\n{metrics}"
        );
    }

    tick(&worker, night).await;
    let metrics = worker.metrics().render();
    for expected in ["kassa_alerts_dead 1", "kassa_runs_total{outcome=\"ok\"} 1"] {
        assert!(
            metrics.lines().any(|l| l == expected),
            "{expected:?} missing from:\n{metrics}"
        );
    }
}
