//! Restatements that look like silence: a re-pull that answers a window with no rows (or with
//! none of a channel) where the store holds some never erases them; one that shrinks a
//! window's spend or revenue beyond `[store] max_shrink` is stored but marked suspicious; no
//! episode is resolved on the strength of a suspicious window; `backfill --accept-empty`
//! accepts a real deletion. Meta and HubSpot are fakes on 127.0.0.1.

use kassa::config::Settings;
use kassa::cycle::run_cycle;
use kassa::domain::{DateRange, Suspicion};
use kassa::pipeline::{self, BackfillOptions};
use kassa::store::Store;
use polars::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fakes::{TokenFrom, hubspot, meta, ok};
use crate::helpers::{Workspace, d, money, paused_clock_context, range, repo};

const WEEK: [&str; 2] = ["2025-03-03", "2025-03-09"];

/// Answers every Meta insights request with `rows` (one campaign), from now on.
async fn meta_answers(server: &MockServer, rows: Vec<Value>) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(ok(meta::page(rows, None)))
        .mount(server)
        .await;
}

/// One row a day of `WEEK`, each with `spend`.
fn meta_week(spend: &str) -> Vec<Value> {
    (3..=9)
        .map(|day| meta::row(&format!("2025-03-{day:02}"), "31", spend))
        .collect()
}

/// A workspace with one Meta source on `server`, named `meta`; `store_extra` goes into
/// `[store]`.
fn meta_workspace(server: &MockServer, store_extra: &str) -> Workspace {
    let ws = Workspace::new();
    let token = ws.write("meta.token", meta::TOKEN);
    let table = meta::table(
        "meta",
        &server.uri(),
        TokenFrom::File(&token),
        "timezone = \"UTC\"",
    );
    ws.write(
        "kassa.toml",
        &format!(
            "[store]\npath = {:?}\n{store_extra}\n\n{table}",
            ws.store_path().display().to_string()
        ),
    );
    ws
}

fn backfill_week(ws: &Workspace, extra: &[&str]) -> crate::helpers::Run {
    let mut args = vec!["backfill", "--from", WEEK[0], "--to", WEEK[1]];
    args.extend_from_slice(extra);
    ws.kassa(&args)
}

/// The stored ad rows of `source` and their spend in micros.
fn stored_ads(ws: &Workspace, source: &str) -> (usize, i64) {
    let store = Store::open_read_only(&ws.store_path()).unwrap();
    let ads = store.ads(&[source]).unwrap();
    let spend = ads
        .column("spend_micros")
        .unwrap()
        .i64()
        .unwrap()
        .sum()
        .unwrap_or(0);
    (ads.height(), spend)
}

fn suspicions(ws: &Workspace, source: &str) -> Vec<(DateRange, Suspicion)> {
    Store::open_read_only(&ws.store_path())
        .unwrap()
        .suspicious_windows(&[source])
        .unwrap()
        .into_iter()
        .map(|w| (w.range, w.suspicion))
        .collect()
}

#[tokio::test]
async fn empty_repull_keeps_stored_rows() {
    let server = MockServer::start().await;
    meta_answers(&server, meta_week("100")).await;
    let ws = meta_workspace(&server, "");
    let first = backfill_week(&ws, &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(stored_ads(&ws, "meta"), (7, 700_000_000));

    // The platform now answers the same week with nothing at all.
    meta_answers(&server, vec![]).await;
    let empty = backfill_week(&ws, &[]);
    assert_eq!(
        empty.code, 2,
        "a kept window is a partial outcome: {empty:?}"
    );
    assert_eq!(stored_ads(&ws, "meta"), (7, 700_000_000), "nothing erased");
    assert!(
        empty.stderr.contains(
            "the source answered no rows at all for 2025-03-03..2025-03-09, where the store holds 7: kept the 7 stored rows"
        ) && empty.stderr.contains("meta"),
        "{}",
        empty.stderr
    );
    assert!(
        empty.stderr.contains(
            "kassa backfill --from 2025-03-03 --to 2025-03-09 --source meta --accept-empty"
        ),
        "{}",
        empty.stderr
    );
    assert!(
        empty.stdout.contains(
            "suspicious: 2025-03-03..2025-03-09 answered no rows: the 7 rows stored were kept"
        ),
        "{}",
        empty.stdout
    );
    assert_eq!(
        suspicions(&ws, "meta"),
        vec![(
            range(WEEK[0], WEEK[1]),
            Suspicion::Kept {
                channel: None,
                rows: 7
            }
        )]
    );
    // `analyze` lists the window among its warnings.
    let analysis = ws.kassa(&["analyze", "--format", "json"]);
    assert_eq!(analysis.code, 0, "{analysis:?}");
    let warnings = analysis.json()["warnings"].to_string();
    assert!(
        warnings.contains("source \\\"meta\\\": 2025-03-03..2025-03-09 answered no rows"),
        "{warnings}"
    );

    // The data comes back: the window is whole again and its mark goes.
    meta_answers(&server, meta_week("100")).await;
    let back = backfill_week(&ws, &[]);
    assert_eq!(back.code, 0, "{back:?}");
    assert!(suspicions(&ws, "meta").is_empty());
}

#[tokio::test]
async fn accept_empty_replaces() {
    let server = MockServer::start().await;
    meta_answers(&server, meta_week("100")).await;
    let ws = meta_workspace(&server, "");
    assert_eq!(backfill_week(&ws, &[]).code, 0);
    meta_answers(&server, vec![]).await;
    assert_eq!(backfill_week(&ws, &[]).code, 2);
    assert_eq!(suspicions(&ws, "meta").len(), 1);

    // The campaign was really deleted: the user accepts the empty answer.
    let accepted = backfill_week(&ws, &["--source", "meta", "--accept-empty"]);
    assert_eq!(accepted.code, 0, "{accepted:?}");
    assert_eq!(stored_ads(&ws, "meta"), (0, 0));
    assert!(suspicions(&ws, "meta").is_empty(), "the mark is cleared");
    let store = Store::open_read_only(&ws.store_path()).unwrap();
    assert_eq!(
        store.coverage(&["meta"]).unwrap()[0].ranges,
        vec![range(WEEK[0], WEEK[1])],
        "the week stays covered: zero delivery, now vouched for"
    );
    let analysis = ws.kassa(&["analyze", "--format", "json"]);
    assert!(analysis.json().get("warnings").is_none(), "{analysis:?}");
}

/// A won HubSpot deal of `WEEK` from the source HubSpot calls `origin`.
fn crm_deal(id: &str, origin: &str, day: u32, amount: &str) -> Value {
    let created = format!("2025-03-{day:02}T10:00:00Z");
    let mut deal = hubspot::won_deal(id, &created, Some(&created), amount);
    deal["properties"]["hs_analytics_source"] = json!(origin);
    deal
}

async fn crm_answers(server: &MockServer, deals: Vec<Value>) {
    server.reset().await;
    Mock::given(method("POST"))
        .and(path(hubspot::SEARCH_PATH))
        .respond_with(ok(hubspot::page(deals.len() as u64, deals, None)))
        .mount(server)
        .await;
}

#[tokio::test]
async fn crm_channel_vanishing_is_kept() {
    let server = MockServer::start().await;
    let both = vec![
        crm_deal("1", "PAID_SOCIAL", 3, "100"),
        crm_deal("2", "PAID_SEARCH", 4, "200"),
        crm_deal("3", "PAID_SEARCH", 5, "300"),
    ];
    crm_answers(&server, both.clone()).await;
    let ws = Workspace::new();
    let token = ws.write("crm.token", hubspot::TOKEN);
    ws.config(&hubspot::table(
        "crm",
        &server.uri(),
        TokenFrom::File(&token),
        "channel_map = { PAID_SOCIAL = \"meta\", PAID_SEARCH = \"google\" }",
    ));
    assert_eq!(backfill_week(&ws, &[]).code, 0);

    // The CRM suddenly returns no google deals at all; meta's deal is restated.
    crm_answers(&server, vec![crm_deal("1", "PAID_SOCIAL", 3, "150")]).await;
    let vanished = backfill_week(&ws, &[]);
    assert_eq!(vanished.code, 2, "{vanished:?}");
    assert!(
        vanished.stderr.contains(
            "the source answered no rows of channel \"google\" for 2025-03-03..2025-03-09, where the store holds 2: kept the 2 stored rows of that channel"
        ),
        "{}",
        vanished.stderr
    );
    let store = Store::open_read_only(&ws.store_path()).unwrap();
    let deals = store.deals(&["crm"]).unwrap();
    let amounts: Vec<(String, String, i64)> = deals
        .column("deal_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .zip(deals.column("channel").unwrap().str().unwrap().iter())
        .zip(deals.column("amount_micros").unwrap().i64().unwrap().iter())
        .map(|((id, channel), amount)| {
            (
                id.unwrap().to_string(),
                channel.unwrap().to_string(),
                amount.unwrap() / 1_000_000,
            )
        })
        .collect();
    assert_eq!(
        amounts,
        vec![
            ("1".into(), "meta".into(), 150),
            ("2".into(), "google".into(), 200),
            ("3".into(), "google".into(), 300),
        ],
        "google's deals are kept, meta's restatement is stored"
    );
    assert_eq!(
        suspicions(&ws, "crm"),
        vec![(
            range(WEEK[0], WEEK[1]),
            Suspicion::Kept {
                channel: Some("google".into()),
                rows: 2
            }
        )]
    );

    // A deal re-attributed to another channel is not a vanished channel: nothing is kept.
    crm_answers(
        &server,
        vec![
            crm_deal("1", "PAID_SOCIAL", 3, "150"),
            crm_deal("2", "PAID_SOCIAL", 4, "200"),
            crm_deal("3", "PAID_SOCIAL", 5, "300"),
        ],
    )
    .await;
    let moved = backfill_week(&ws, &[]);
    assert_eq!(moved.code, 0, "{moved:?}");
    assert!(
        suspicions(&ws, "crm").is_empty(),
        "a whole answer clears the mark"
    );
    let store = Store::open_read_only(&ws.store_path()).unwrap();
    assert_eq!(store.deals(&["crm"]).unwrap().height(), 3);
}

#[tokio::test]
async fn shrinking_spend_is_flagged() {
    let server = MockServer::start().await;
    meta_answers(&server, meta_week("100")).await;
    let ws = meta_workspace(&server, "");
    assert_eq!(backfill_week(&ws, &[]).code, 0);

    // The same rows, a tenth of the spend: stored, but marked.
    meta_answers(&server, meta_week("10")).await;
    let shrunk = backfill_week(&ws, &[]);
    assert_eq!(shrunk.code, 0, "a shrunken window is stored: {shrunk:?}");
    assert_eq!(stored_ads(&ws, "meta"), (7, 70_000_000));
    assert!(
        shrunk
            .stderr
            .contains("the re-pull of 2025-03-03..2025-03-09 shrank its spend from 700 to 70"),
        "{}",
        shrunk.stderr
    );
    assert_eq!(
        suspicions(&ws, "meta"),
        vec![(
            range(WEEK[0], WEEK[1]),
            Suspicion::Shrunk {
                metric: "spend".into(),
                before: money("700"),
                after: money("70"),
            }
        )]
    );
    // Comparing the next answer with a shrunken window proves nothing: the mark stays.
    assert_eq!(backfill_week(&ws, &[]).code, 0);
    assert_eq!(suspicions(&ws, "meta").len(), 1);

    // `[store] max_shrink` says how much shrinking is expected.
    let server = MockServer::start().await;
    meta_answers(&server, meta_week("100")).await;
    let tolerant = meta_workspace(&server, "max_shrink = 0.95");
    assert_eq!(backfill_week(&tolerant, &[]).code, 0);
    meta_answers(&server, meta_week("10")).await;
    assert_eq!(backfill_week(&tolerant, &[]).code, 0);
    assert!(suspicions(&tolerant, "meta").is_empty());

    // A value that is not a fraction is refused, naming the key.
    let bad = meta_workspace(&server, "max_shrink = 50");
    let refused = bad.kassa(&["check", "--offline"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("store.max_shrink") && refused.stderr.contains("write 0.5"),
        "{}",
        refused.stderr
    );
}

/// The demo's CSV data with a Slack target: google's week of 2025-05-19 opens an episode on
/// the night of 2025-05-26 (see `run.rs`). `[store] max_shrink = 0.1`.
fn demo_workspace(slack_url: &str) -> Workspace {
    let ws = Workspace::new();
    for file in ["ads.csv", "crm.csv"] {
        let text = std::fs::read_to_string(repo().join("fixtures/demo").join(file)).unwrap();
        ws.write(file, &text);
    }
    let url_file = ws.write("slack.url", slack_url);
    let absolute = |name: &str| ws.path().join(name).display().to_string();
    ws.write(
        "kassa.toml",
        &format!(
            "[store]\npath = {:?}\nmax_shrink = 0.1\n\n\
             [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n\n\
             [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n\n\
             [[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {:?}\n",
            ws.store_path().display().to_string(),
            absolute("ads.csv"),
            absolute("crm.csv"),
            url_file.display().to_string()
        ),
    );
    ws
}

#[tokio::test(start_paused = true)]
async fn suspicious_window_resolves_no_episode() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let ws = demo_workspace(&format!("{}/services/T0/B0/secret", slack.uri()));
    let settings = Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let retry = paused_clock_context().retry;
    let targets: Vec<_> = settings
        .alerts
        .iter()
        .map(|a| a.build(&retry).unwrap())
        .collect();
    let mut store = Store::open(&settings.store_path).unwrap();
    let history = DateRange::new(d("2025-01-06"), d("2025-05-25")).unwrap();
    pipeline::backfill(&settings, &mut store, history, &[], d("2025-05-26"))
        .await
        .unwrap();
    let opened = run_cycle(&settings, &mut store, &targets, d("2025-05-26"))
        .await
        .unwrap();
    assert_eq!(opened.delivered.len(), 1);
    assert_eq!(opened.delivered[0].message.event.as_str(), "episode.opened");

    // The export loses google's week of 2025-05-19: its activity is gone (the episode would
    // be cleared) and the window's spend shrinks by about 15%, beyond max_shrink.
    let csv = ws.path().join("ads.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !(l.contains(",google,") && ("2025-05-19".."2025-05-26").contains(&&l[..10])))
        .collect();
    std::fs::write(&csv, kept.join("\n") + "\n").unwrap();
    for night in ["2025-05-27", "2025-05-28"] {
        let outcome = run_cycle(&settings, &mut store, &targets, d(night))
            .await
            .unwrap();
        assert!(
            outcome.delivered.is_empty(),
            "{night}: resolved on a suspicious window: {:?}",
            outcome.delivered
        );
        // google's decoupling episode of the same week is stored beside it (no target lists
        // that kind); the activity-without-money episode is the one a resolution would close.
        let open: Vec<_> = store
            .episode_states()
            .unwrap()
            .into_iter()
            .filter(|s| s.kind == "activity_without_money")
            .collect();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].status.as_str(), "open", "{night}");
    }
    let ads = &store.suspicious_windows(&["ads"]).unwrap();
    assert_eq!(ads.len(), 1, "{ads:?}");
    assert!(matches!(&ads[0].suspicion, Suspicion::Shrunk { metric, .. } if metric == "spend"));

    // The user confirms the export: the mark goes, and the episode is resolved, once.
    let accept = DateRange::new(d("2025-04-01"), d("2025-05-27")).unwrap();
    let accepted = pipeline::backfill_with(
        &settings,
        &mut store,
        accept,
        &["ads".to_string()],
        BackfillOptions {
            accept_empty: true,
            ..BackfillOptions::default()
        },
        d("2025-05-28"),
    )
    .await
    .unwrap();
    assert!(!accepted.partial(), "{accepted:?}");
    assert!(store.suspicious_windows(&["ads"]).unwrap().is_empty());
    let resolved = run_cycle(&settings, &mut store, &targets, d("2025-05-28"))
        .await
        .unwrap();
    assert_eq!(resolved.delivered.len(), 1, "{:?}", resolved.delivered);
    assert_eq!(
        resolved.delivered[0].message.event.as_str(),
        "episode.resolved"
    );
    let again = run_cycle(&settings, &mut store, &targets, d("2025-05-28"))
        .await
        .unwrap();
    assert!(again.delivered.is_empty());
}
