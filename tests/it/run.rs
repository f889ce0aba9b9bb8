//! The nightly cycle: one alert per episode, recorded before it is sent, never lost, never sent
//! twice; a resolved note when restated data clears an episode; one cycle per store at a time;
//! a digest past `max_per_run`, one update for a growing episode, and a failing target that
//! holds up no other, all through the outbox to receiving fakes.
//!
//! The data is the demo's (fixtures/demo): google's week of 2025-05-19 is an episode of
//! activity without money. "Today" is 2025-05-26, so the last two complete weeks are
//! 2025-05-12 and 2025-05-19 and only that episode is recent enough to push; the March episodes
//! are history.

use kassa::alerts::AlertTarget;
use kassa::config::Settings;
use kassa::cycle::run_cycle;
use kassa::domain::DateRange;
use kassa::pipeline;
use kassa::store::Store;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Workspace, d, paused_clock_context, repo};

pub(crate) const NIGHT: &str = "2025-05-26";

/// A workspace whose CSV sources are copies of the demo files (so tests can restate them) and
/// whose Slack target posts to `slack_url`.
fn workspace(slack_url: &str) -> Workspace {
    workspace_with(slack_url, "")
}

/// [`workspace`] with `extra` TOML after the Slack target (more `[[alerts]]` tables, an
/// `[alerting]` section).
pub(crate) fn workspace_with(slack_url: &str, extra: &str) -> Workspace {
    workspace_with_targets(&[("team", slack_url)], extra)
}

/// The demo's sources (copies), a Slack target per `(name, url)`, then `rest` (more
/// `[[alerts]]` tables, an `[alerting]` table).
fn workspace_with_targets(targets: &[(&str, &str)], rest: &str) -> Workspace {
    let ws = Workspace::new();
    for file in ["ads.csv", "crm.csv"] {
        let text = std::fs::read_to_string(repo().join("fixtures/demo").join(file)).unwrap();
        ws.write(file, &text);
    }
    let absolute = |name: &str| ws.path().join(name).display().to_string();
    let mut config = format!(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n",
        absolute("ads.csv"),
        absolute("crm.csv"),
    );
    for (name, url) in targets {
        let url_file = ws.write(&format!("{name}.url"), url);
        config.push_str(&format!(
            "\n[[alerts]]\nname = {name:?}\nkind = \"slack\"\nurl_file = {:?}\n",
            url_file.display().to_string()
        ));
    }
    config.push_str(&format!("\n{rest}\n"));
    ws.config(&config);
    ws
}

pub(crate) fn slack_url(server: &MockServer) -> String {
    format!("{}/services/T0/B0/secret", server.uri())
}

/// Every episode of the demo up to `NIGHT` is recent: meta's and the total's in March (leads
/// without money, then the total's activity without money),
/// google's in May.
const EVERY_EPISODE_RECENT: &str = "[alerting]\nwindow_periods = 20";

/// The channel of an episode message, read from its id (`kind:channel:first_start:event`).
fn channel_of(id: &str) -> &str {
    id.split(':').nth(1).unwrap()
}

pub(crate) async fn accept(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/secret"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(server)
        .await;
}

/// A receiver that answers 503 to the five attempts of one run's delivery (the retry policy's
/// whole budget), then accepts.
async fn down_for_one_run_then_up(server: &MockServer) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .up_to_n_times(5)
        .with_priority(1)
        .mount(server)
        .await;
    accept(server).await;
}

/// The Slack `text` of every message the receiver accepted (status 200) or saw.
pub(crate) async fn texts(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["text"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

/// Loads the workspace's settings in-process, with targets on the paused-clock policy, and
/// backfills the history up to the night before `NIGHT` (a backfill never alerts).
pub(crate) async fn in_process_after_backfill(
    ws: &Workspace,
) -> (Settings, Vec<AlertTarget>, Store) {
    let settings = Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let retry = paused_clock_context().retry;
    let targets = settings
        .alerts
        .iter()
        .map(|a| a.build(&retry).unwrap())
        .collect();
    let mut store = Store::open(&settings.store_path).unwrap();
    let history = DateRange::new(d("2025-01-06"), d("2025-05-25")).unwrap();
    pipeline::backfill(&settings, &mut store, history, &[], d(NIGHT))
        .await
        .unwrap();
    (settings, targets, store)
}

#[tokio::test]
async fn two_runs_after_a_backfill_send_exactly_one_message_per_episode() {
    let server = MockServer::start().await;
    accept(&server).await;
    let ws = workspace(&slack_url(&server));
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-05-25"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "a backfill sends nothing"
    );

    let first = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(first.code, 0, "{first:?}");
    let sent = texts(&server).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(
        sent[0].contains("Activity without money: Channel google"),
        "{}",
        sent[0]
    );
    assert!(sent[0].contains("clicks grew 38%"), "{}", sent[0]);
    assert!(
        first
            .stdout
            .contains("alerts: 1 new, 1 delivered this run, 0 pending"),
        "{}",
        first.stdout
    );

    let second = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(
        texts(&server).await.len(),
        1,
        "the second run sent something"
    );
    assert!(
        second
            .stdout
            .contains("alerts: 0 new, 0 delivered this run, 0 pending"),
        "{}",
        second.stdout
    );
    // The ledger numbers each run like the backfill: one backfill, then two nightly runs.
    let ledger = rusqlite::Connection::open(ws.store_path().join("ledger.sqlite")).unwrap();
    let runs: Vec<(String, String)> = ledger
        .prepare("SELECT command, outcome FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        runs,
        [("backfill", "ok"), ("run", "ok"), ("run", "ok")]
            .map(|(command, outcome)| (command.to_string(), outcome.to_string()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_failing_twice_gets_exactly_one_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("rollup_error"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    accept(&server).await;
    let ws = workspace(&slack_url(&server));
    assert_eq!(
        ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-05-25"])
            .code,
        0
    );
    let run = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(run.code, 0, "{run:?}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3, "two failures, then the delivery");
    assert_eq!(
        requests[0].body, requests[2].body,
        "the retry carries the same message"
    );
}

/// A receiver that is down for a whole run keeps the alert in the outbox; the next run
/// delivers it, once. Retries use tokio's paused clock, so the backoff costs no real time.
#[tokio::test(start_paused = true)]
async fn an_alert_that_cannot_be_delivered_is_delivered_by_the_next_run() {
    let server = MockServer::start().await;
    down_for_one_run_then_up(&server).await;
    let ws = workspace(&slack_url(&server));
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;

    let first = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!(
        (first.recorded, first.delivered.len(), first.pending),
        (1, 0, 1)
    );
    assert!(first.partial(), "an undelivered alert is a partial failure");
    assert!(
        first.undelivered[0].contains("alert target \"team\""),
        "{:?}",
        first.undelivered
    );
    assert!(
        !first.undelivered[0].contains("/services/"),
        "the URL leaked: {:?}",
        first.undelivered
    );

    let second = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!(
        (second.recorded, second.delivered.len(), second.pending),
        (0, 1, 0)
    );
    assert!(!second.partial());
    let third = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!((third.recorded, third.delivered.len()), (0, 0));
    let accepted = server.received_requests().await.unwrap().len() - 5;
    assert_eq!(accepted, 1, "exactly one delivery reached the receiver");
}

/// google's week of 2025-05-19 is restated to look like the week before: the episode is gone,
/// and exactly one "resolved" note follows the opening alert.
#[tokio::test(start_paused = true)]
async fn restated_data_that_clears_an_episode_produces_one_resolved_note() {
    let server = MockServer::start().await;
    accept(&server).await;
    let ws = workspace(&slack_url(&server));
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    let opened = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!(opened.delivered.len(), 1);

    restate_google_week(&ws.path().join("ads.csv"));
    let restated = run_cycle(&settings, &mut store, &targets, d("2025-05-27"))
        .await
        .unwrap();
    assert_eq!(restated.delivered.len(), 1, "{:?}", restated.delivered);
    let note = &restated.delivered[0].message;
    assert_eq!(note.event.as_str(), "episode.resolved");
    assert!(
        note.title.starts_with("Resolved: Channel google"),
        "{}",
        note.title
    );
    assert!(note.summary.contains("Restated data"), "{}", note.summary);

    let again = run_cycle(&settings, &mut store, &targets, d("2025-05-28"))
        .await
        .unwrap();
    assert!(again.delivered.is_empty());
    assert_eq!(
        texts(&server).await.len(),
        2,
        "one opening alert and one resolved note"
    );
}

/// Replaces google's rows of 2025-05-19..25 with the week before, shifted by seven days.
fn restate_google_week(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let earlier: Vec<String> = lines
        .iter()
        .filter(|l| l.contains(",google,") && ("2025-05-12".."2025-05-19").contains(&&l[..10]))
        .cloned()
        .collect();
    lines.retain(|l| !(l.contains(",google,") && ("2025-05-19".."2025-05-26").contains(&&l[..10])));
    for line in earlier {
        let date: chrono::NaiveDate = line[..10].parse().unwrap();
        lines.push(format!(
            "{}{}",
            date + chrono::Duration::days(7),
            &line[10..]
        ));
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// A `kassa run` while another process holds the store's lock (held here, explicitly) does
/// nothing, says so and exits with 3; once the lock is released, the same run works.
#[test]
fn a_second_concurrent_run_exits_with_a_clear_message() {
    let ws = workspace("http://127.0.0.1:9/services/T0/B0/secret");
    let held = kassa::store::StoreLock::acquire(&ws.store_path()).unwrap();
    let second = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(second.code, 3, "{second:?}");
    assert!(
        second
            .stderr
            .contains("kassa: error: another kassa process (pid"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("already working on the store"),
        "{}",
        second.stderr
    );
    assert!(
        !ws.store_path().join("ads").exists(),
        "a locked-out run wrote nothing"
    );
    drop(held);
    let after = ws.kassa(&["backfill", "--from", "2025-05-01", "--to", "2025-05-25"]);
    assert_eq!(after.code, 0, "{after:?}");
}

/// A target removed from the configuration leaves its undelivered alert in the outbox, but it
/// no longer makes every run a partial failure.
#[tokio::test(start_paused = true)]
async fn alerts_for_a_removed_target_do_not_keep_runs_partial() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .mount(&server)
        .await;
    let ws = workspace(&slack_url(&server));
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    let first = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!(first.pending, 1);

    let without_targets = run_cycle(&settings, &mut store, &[], d(NIGHT))
        .await
        .unwrap();
    assert_eq!(without_targets.pending, 0);
    assert!(!without_targets.partial());
    assert_eq!(
        store.pending_alerts().unwrap().len(),
        1,
        "the message is kept, not lost"
    );
}

/// Three episodes for a target capped at two per run: the first alert, then one digest of the
/// other two, through the outbox to the receiver; the next run sends nothing more.
#[tokio::test(start_paused = true)]
async fn a_storm_past_max_per_run_arrives_as_one_digest() {
    let server = MockServer::start().await;
    accept(&server).await;
    let ws = workspace_with_targets(
        &[("team", &slack_url(&server))],
        &format!("{EVERY_EPISODE_RECENT}\nmax_per_run = 2"),
    );
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    let first = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!((first.recorded, first.delivered.len()), (2, 2));
    let [alert, digest] = [&first.delivered[0].message, &first.delivered[1].message];
    assert_eq!(alert.event.as_str(), "episode.opened");
    assert_eq!(digest.event.as_str(), "digest");
    let folded: Vec<&str> = digest.data["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    let mut channels: Vec<&str> = folded.iter().map(|id| channel_of(id)).collect();
    channels.push(channel_of(&alert.id));
    channels.sort_unstable();
    // The total twice: leads without money (2025-03-10), then activity without money.
    assert_eq!(channels, ["all", "all", "google", "meta"], "{folded:?}");
    let sent = texts(&server).await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[1].contains("3 more alerts"), "{}", sent[1]);

    let again = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!((again.recorded, again.delivered.len()), (0, 0));
    assert_eq!(texts(&server).await.len(), 2);
}

/// google's episode (opened for the week of 2025-05-19) goes on into the next week with far
/// more clicks and no money: its peak growth rises past `update_min_growth`, so it gets one
/// update; a third such week sends nothing more (at most one update per episode).
#[tokio::test(start_paused = true)]
async fn an_episode_that_grows_gets_exactly_one_update() {
    let server = MockServer::start().await;
    accept(&server).await;
    let ws = workspace(&slack_url(&server));
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    let opened = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!(opened.delivered.len(), 1);
    let opening = opened.delivered[0].message.id.clone();

    let updates = |outcome: &kassa::cycle::CycleOutcome| -> Vec<String> {
        outcome
            .delivered
            .iter()
            .filter(|d| d.message.event.as_str() == "episode.updated")
            .map(|d| d.message.id.clone())
            .collect()
    };
    google_grows_without_money(&ws, "2025-05-26");
    let grown = run_cycle(&settings, &mut store, &targets, d("2025-06-02"))
        .await
        .unwrap();
    // The update belongs to the episode the opening alert announced.
    assert_eq!(
        updates(&grown),
        [opening.replace(":opened", ":updated")],
        "{:#?}",
        grown.delivered
    );

    google_grows_without_money(&ws, "2025-06-02");
    let later = run_cycle(&settings, &mut store, &targets, d("2025-06-09"))
        .await
        .unwrap();
    assert!(updates(&later).is_empty(), "{:#?}", later.delivered);
}

/// In the week starting `monday`: google's clicks grow by 70% and its won deals are lost.
fn google_grows_without_money(ws: &Workspace, monday: &str) {
    let start: chrono::NaiveDate = monday.parse().unwrap();
    let end = (start + chrono::Duration::days(6)).to_string();
    let in_week = |date: &str| (monday..=end.as_str()).contains(&date);
    // date,channel,campaign_id,campaign_name,impressions,reach,clicks,spend,currency
    edit_csv(&ws.path().join("ads.csv"), |cells| {
        if cells[1] == "google" && in_week(&cells[0]) {
            let clicks: u64 = cells[6].parse().unwrap();
            cells[6] = (clicks * 17 / 10).to_string();
        }
    });
    // deal_id,created_date,closed_date,status,amount,channel,currency,customer_id
    edit_csv(&ws.path().join("crm.csv"), |cells| {
        if cells[5] == "google" && cells[3] == "won" && in_week(&cells[2]) {
            cells[3] = "lost".to_string();
        }
    });
}

/// Rewrites every line of a CSV file (the demo files quote nothing) through `edit`.
fn edit_csv(path: &std::path::Path, edit: impl Fn(&mut Vec<String>)) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
            edit(&mut cells);
            cells.join(",")
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Two targets, one of them down for the whole run: the other still receives every alert of
/// the night, and the failing one keeps its alerts in the outbox for the next run.
#[tokio::test(start_paused = true)]
async fn a_failing_target_does_not_hold_up_the_others() {
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .mount(&down)
        .await;
    let up = MockServer::start().await;
    accept(&up).await;
    // "down" comes first in the configuration, so its alerts are first in the outbox.
    let ws = workspace_with_targets(
        &[("down", &slack_url(&down)), ("team", &slack_url(&up))],
        EVERY_EPISODE_RECENT,
    );
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    let outcome = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    // Four episodes: leads without money on meta and the total (2025-03-10), activity without
    // money on the total (2025-03-17) and on google (2025-05-19).
    assert_eq!(outcome.recorded, 8, "four episodes for each target");
    assert_eq!(outcome.delivered.len(), 4, "{:#?}", outcome.delivered);
    assert!(outcome.delivered.iter().all(|d| d.target == "team"));
    assert_eq!(texts(&up).await.len(), 4);
    // One message was tried against the target that is down (with its retries); the rest
    // wait for the next run instead of each spending a run's retries.
    let tried: std::collections::BTreeSet<Vec<u8>> = down
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.body)
        .collect();
    assert_eq!(tried.len(), 1);
    assert!(outcome.partial());
    assert_eq!(outcome.undelivered.len(), 1, "{:?}", outcome.undelivered);
    assert!(
        outcome.undelivered[0].contains("\"down\""),
        "{:?}",
        outcome.undelivered
    );
    let waiting: Vec<String> = store
        .pending_alerts()
        .unwrap()
        .into_iter()
        .map(|item| item.target)
        .collect();
    assert_eq!(waiting, ["down", "down", "down", "down"]);
}

/// A snapshot that cannot be written (a full disk; here a directory standing where the
/// temporary file must go, which even root cannot write over) fails its own source only: the
/// other source is stored, the analysis runs, the alert waiting in the outbox is delivered, and
/// the run ends partial (exit 2) naming the source, the range and the path.
#[tokio::test(start_paused = true)]
async fn failed_write_fails_its_source_only() {
    let server = MockServer::start().await;
    down_for_one_run_then_up(&server).await;
    let ws = workspace(&slack_url(&server));
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    let first = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!(first.pending, 1, "the alert waits in the outbox");
    let blocked = ws.store_path().join("ads/ads.parquet.tmp");
    std::fs::create_dir(&blocked).unwrap();
    let crm = ws.store_path().join("deals/crm.parquet");
    let crm_before = std::fs::metadata(&crm).unwrap().modified().unwrap();

    let second = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .expect("a failed write does not end the run");

    let ads = &second.sources[0];
    assert_eq!(ads.name, "ads");
    assert_eq!(ads.errors.len(), 1, "{:?}", ads.errors);
    let error = ads.errors[0].to_string();
    assert!(
        error.starts_with("source \"ads\", 2025-")
            && error.contains("cannot write the store: store ")
            && error.contains("ads.parquet.tmp"),
        "{error}"
    );
    assert!(
        second.sources[1].errors.is_empty(),
        "{:?}",
        second.sources[1]
    );
    assert_ne!(
        std::fs::metadata(&crm).unwrap().modified().unwrap(),
        crm_before,
        "crm was stored"
    );
    assert!(second.findings.values().sum::<usize>() > 0, "analysed");
    assert_eq!((second.delivered.len(), second.pending), (1, 0));
    assert!(second.partial());
    drop(store);

    // Through the binary: exit 2, the source named with what a person must do.
    let run = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("source \"ads\"") && run.stderr.contains("cannot write the store"),
        "{}",
        run.stderr
    );
    assert!(blocked.is_dir(), "a directory is not a leftover temporary");
}

/// The outbox is written in the same transaction as the episode states that caused its
/// messages: when the outbox write fails (a trigger here makes SQLite refuse it), no episode
/// state is left behind either, so the next run still sees the episode as new and alerts.
#[tokio::test(start_paused = true)]
async fn a_failing_outbox_write_leaves_no_episode_state_behind() {
    let server = MockServer::start().await;
    accept(&server).await;
    let ws = workspace(&slack_url(&server));
    let (settings, targets, mut store) = in_process_after_backfill(&ws).await;
    let ledger = rusqlite::Connection::open(ws.store_path().join("ledger.sqlite")).unwrap();
    ledger
        .execute_batch(
            "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox
             BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
        )
        .unwrap();

    let failed = run_cycle(&settings, &mut store, &targets, d(NIGHT)).await;
    let error = format!("{:#}", failed.expect_err("the outbox write failed"));
    assert!(error.contains("outbox"), "{error}");
    assert!(
        store.episode_states().unwrap().is_empty(),
        "an episode state was stored without its alert"
    );
    assert!(texts(&server).await.is_empty());

    ledger.execute_batch("DROP TRIGGER refuse_outbox;").unwrap();
    let next = run_cycle(&settings, &mut store, &targets, d(NIGHT))
        .await
        .unwrap();
    assert_eq!((next.recorded, next.delivered.len()), (1, 1));
    // google's decoupling episode of the same week is stored too, though no target lists it.
    let states = store.episode_states().unwrap();
    let kinds: Vec<(&str, &str)> = states
        .iter()
        .map(|s| (s.kind.as_str(), s.channel.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("activity_without_money", "google"),
            ("decoupling", "all"),
            ("decoupling", "google")
        ],
        "{states:?}"
    );
}

/// An agency report claiming far more meta leads than the CRM recorded alerts once, through
/// the nightly run, the outbox and a receiver, with the claim and the CRM's figure; the next
/// run sends nothing new for it, and a target that lists other kinds never gets it.
#[tokio::test]
async fn a_report_claim_the_crm_does_not_confirm_alerts_once() {
    let server = MockServer::start().await;
    accept(&server).await;
    let other = MockServer::start().await;
    accept(&other).await;
    let ws = workspace_with(&slack_url(&server), "");
    let report = ws.write(
        "agency.csv",
        "period_start,period_end,channel,metric,value\n2025-05-12,2025-05-18,meta,leads,120\n",
    );
    let other_url = ws.write("other.url", &slack_url(&other));
    let config = std::fs::read_to_string(ws.path().join("kassa.toml")).unwrap();
    ws.write(
        "kassa.toml",
        &format!(
            "{config}\n[[sources]]\nname = \"agency\"\nkind = \"csv_report\"\npath = {:?}\n\n\
             [[alerts]]\nname = \"flags-only\"\nkind = \"slack\"\nurl_file = {:?}\n\
             findings = [\"activity_without_money\"]\n",
            report.display().to_string(),
            other_url.display().to_string()
        ),
    );
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-05-25"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");

    let first = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(first.code, 0, "{first:?}");
    let sent = texts(&server).await;
    let claims: Vec<&String> = sent
        .iter()
        .filter(|t| t.contains("claims 120 leads"))
        .collect();
    assert_eq!(claims.len(), 1, "{sent:#?}");
    assert!(claims[0].contains("the CRM recorded 46"), "{}", claims[0]);
    assert!(claims[0].contains("Ask the agency"), "{}", claims[0]);
    assert!(
        texts(&other)
            .await
            .iter()
            .all(|t| !t.contains("claims 120 leads")),
        "a target that lists other kinds got the claim"
    );

    let second = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(texts(&server).await.len(), sent.len(), "sent again");
}
