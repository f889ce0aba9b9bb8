//! Silence is the worst failure of a monitor: a source that fails run after run raises a
//! `source_down` alert (and a resolved note when it is back), counted across runs in the
//! ledger; data gaps reach the targets that ask for them, and only those. Through the real
//! cycle and outbox, against loopback Slack and webhook receivers, on the demo data of
//! `run.rs`.

use kassa::cycle::run_cycle;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Workspace, d};
use crate::run::{NIGHT, accept, in_process_after_backfill, slack_url, texts, workspace_with};

/// A webhook target `bi` posting to `server`, which accepts everything.
async fn webhook(ws: &Workspace, server: &MockServer) -> String {
    Mock::given(method("POST"))
        .and(path("/hooks/kassa"))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
    let url = ws.write("hook.url", &format!("{}/hooks/kassa", server.uri()));
    let secret = ws.write("hook.secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    format!(
        "[[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_file = {:?}\nsecret_file = {:?}\n",
        url.display().to_string(),
        secret.display().to_string()
    )
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn source_down_after_two_failed_runs() {
    let slack = MockServer::start().await;
    accept(&slack).await;
    let hook = MockServer::start().await;
    let keys = Workspace::new();
    let table = webhook(&keys, &hook).await;
    let ws = workspace_with(&slack_url(&slack), &table);
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    assert_eq!(settings.alerting.source_down_after_runs, 2);
    let ads = ws.path().join("ads.csv");
    let good = std::fs::read_to_string(&ads).unwrap();
    let header = good.lines().next().unwrap();
    std::fs::write(
        &ads,
        format!("{header}\n2025-05-20,meta,m-101,Prospecting,100,50,lots,5.00,USD\n"),
    )
    .unwrap();
    let down = |texts: &[String]| texts.iter().filter(|t| t.contains("Source down")).count();

    let first = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert!(!first.sources[0].errors.is_empty(), "ads fails");
    assert_eq!(
        down(&texts(&slack).await),
        0,
        "one failed run is not yet down"
    );
    assert_eq!(first.sources_down, 0);

    // The count survives between runs: it lives in the ledger, not in this process.
    drop(store);
    let mut store = kassa::store::Store::open(&settings.store_path).unwrap();
    let second = run_cycle(&settings, &mut store, &targets, d("2025-05-27"))
        .await
        .unwrap();
    assert_eq!(second.sources_down, 1);
    let sent = texts(&slack).await;
    assert_eq!(down(&sent), 1, "{sent:#?}");
    let alert = sent.iter().find(|t| t.contains("Source down")).unwrap();
    assert!(alert.contains("Source down: ads"), "{alert}");
    let hooked = bodies(&hook).await;
    let event = hooked
        .iter()
        .find(|b| b["data"]["finding_kind"] == "source_down")
        .expect("the webhook got the source_down alert");
    assert_eq!(event["type"], "episode.opened");
    let data = &event["data"]["data"]["source_down"];
    assert_eq!(
        (&data["source"], &data["failed_runs"], &data["since"]),
        (&Value::from("ads"), &Value::from(2), &Value::from(NIGHT))
    );
    assert!(
        data["last_error"].as_str().unwrap().contains("clicks"),
        "{data}"
    );

    // Still failing: said once per run of failures.
    run_cycle(&settings, &mut store, &targets, d("2025-05-28"))
        .await
        .unwrap();
    assert_eq!(down(&texts(&slack).await), 1);

    std::fs::write(&ads, good).unwrap();
    let back = run_cycle(&settings, &mut store, &targets, d("2025-05-29"))
        .await
        .unwrap();
    assert!(back.sources.iter().all(|s| s.errors.is_empty()));
    assert_eq!(back.sources_down, 0);
    let notes: Vec<&str> = back
        .delivered
        .iter()
        .filter(|m| m.message.finding_kind == "source_down")
        .map(|m| m.message.title.as_str())
        .collect();
    assert_eq!(
        notes,
        [
            "Resolved: source ads is back",
            "Resolved: source ads is back"
        ],
        "one note per target"
    );
    let resolved = bodies(&hook).await;
    assert!(
        resolved
            .iter()
            .any(|b| b["type"] == "episode.resolved" && b["data"]["finding_kind"] == "source_down")
    );
}

/// The ads export stops at 2025-05-14: the weeks of 05-12 and 05-19 have no verdict (a data
/// gap, `source_missing`), within the alert window of `NIGHT`. `gaps` asks for data gaps;
/// `team` keeps the default.
async fn a_night_with_a_data_gap() -> (MockServer, kassa::cycle::CycleOutcome) {
    let slack = MockServer::start().await;
    accept(&slack).await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B1/gaps"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let keys = Workspace::new();
    let gaps_url = keys.write("gaps.url", &format!("{}/services/T0/B1/gaps", slack.uri()));
    let ws = workspace_with(
        &slack_url(&slack),
        &format!(
            "[[alerts]]\nname = \"gaps\"\nkind = \"slack\"\nurl_file = {:?}\n\
             findings = [\"data_gap\"]\n",
            gaps_url.display().to_string()
        ),
    );
    let ads = ws.path().join("ads.csv");
    let text = std::fs::read_to_string(&ads).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("date") || &l[..10] <= "2025-05-14")
        .collect();
    std::fs::write(&ads, kept.join("\n") + "\n").unwrap();
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    let outcome = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    (slack, outcome)
}

#[tokio::test(start_paused = true)]
async fn data_gap_reaches_targets_that_ask() {
    let (_slack, outcome) = a_night_with_a_data_gap().await;
    let gaps: Vec<&str> = outcome
        .delivered
        .iter()
        .filter(|m| m.target == "gaps")
        .map(|m| m.message.title.as_str())
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(
        gaps[0].starts_with("No verdict: All channels together, 2 weeks, 2025-05-12 to 2025-05-25"),
        "{}",
        gaps[0]
    );
    let message = &outcome
        .delivered
        .iter()
        .find(|m| m.target == "gaps")
        .unwrap()
        .message;
    assert_eq!(message.finding_kind, "data_gap");
    assert!(
        message
            .facts
            .iter()
            .any(|f| f.label == "Why no verdict" && f.value.contains("ads")),
        "{:?}",
        message.facts
    );
}

#[tokio::test(start_paused = true)]
async fn default_targets_get_no_data_gaps() {
    let (slack, outcome) = a_night_with_a_data_gap().await;
    assert!(
        outcome
            .delivered
            .iter()
            .filter(|m| m.target == "team")
            .all(|m| m.message.finding_kind != "data_gap"),
        "{:?}",
        outcome.delivered
    );
    let team = slack
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/services/T0/B0/secret")
        .count();
    assert_eq!(team, 0, "the default target received a data gap");
}
