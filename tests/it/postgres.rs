//! The ledger on Postgres (issue 18), against a real server (`services`): the same store as the
//! embedded ledger gives, one run per tenant at a time (the advisory lock, exit 3), each alert
//! sent once when two pods deliver one outbox, migrations applied once when pods open a new
//! schema together, and the URL's password in no message. Skipped, saying so, without
//! `KASSA_SERVICES=1`.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use kassa::config::Settings;
use kassa::cycle::run_cycle;
use kassa::http::RetryPolicy;
use kassa::store::{
    LedgerLocation, NewOutboxItem, SCHEMA_VERSION, Store, StoreLocation, StoreLock,
};
use secrecy::SecretString;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Workspace, d, demo_sources};
use crate::run::NIGHT;
use crate::services::{self, Postgres};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A workspace of the demo's sources and a webhook target posting to `receiver`, whose ledger
/// is embedded (`None`) or the Postgres schema given (the URL in a file, as a secret is).
fn workspace(ledger: Option<(&str, &str)>, receiver: &str) -> Workspace {
    let ws = Workspace::new();
    let mut store = format!(
        "[store]\npath = {:?}\n",
        ws.store_path().display().to_string()
    );
    if let Some((url, schema)) = ledger {
        let url_file = ws.write("secrets/ledger-url", url);
        store.push_str(&format!(
            "ledger_url_file = {:?}\nledger_schema = {schema:?}\n",
            url_file.display().to_string()
        ));
    }
    let hook = ws.write("secrets/hook-url", &format!("{receiver}/hooks/kassa"));
    let secret = ws.write("secrets/hook-secret", SECRET);
    ws.write(
        "kassa.toml",
        &format!(
            "{store}\n{}\n[[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_file = {:?}\nsecret_file = {:?}\n\n\
             [alerting]\nwindow_periods = 20\n",
            demo_sources(),
            hook.display().to_string(),
            secret.display().to_string()
        ),
    );
    ws
}

fn location(pg: &Postgres, path: &std::path::Path, schema: &str) -> StoreLocation {
    StoreLocation {
        path: path.to_path_buf(),
        ledger: LedgerLocation::Postgres {
            url: SecretString::from(pg.url()),
            schema: schema.to_string(),
        },
        snapshots: kassa::store::SnapshotLocation::Embedded,
    }
}

/// A webhook receiver that takes `delay` to accept each request (so two pods' deliveries
/// overlap).
async fn receiver(delay: std::time::Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(delay))
        .mount(&server)
        .await;
    server
}

/// How many requests the receiver got per `webhook-id`.
async fn ids(server: &MockServer) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for request in server.received_requests().await.unwrap_or_default() {
        let id = request
            .headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_string();
        *ids.entry(id).or_default() += 1;
    }
    ids
}

// Guards: one SQL code path. A backfill and a run of the demo with the ledger on Postgres
// leave the store `analyze` reads exactly as the embedded ledger does (coverage, episodes,
// suspicious windows), and the outbox holds the same messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_on_postgres_analyses_byte_identically_to_the_embedded_one() {
    let Some(pg) = services::postgres("a_store_on_postgres_analyses_byte_identically") else {
        return;
    };
    let server = receiver(std::time::Duration::ZERO).await;
    let schema = pg.schema("identical");
    let embedded = workspace(None, &server.uri());
    let remote = workspace(Some((&pg.url(), &schema)), &server.uri());
    let mut outputs = Vec::new();
    for ws in [&embedded, &remote] {
        let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-05-25"]);
        assert_eq!(backfill.code, 0, "{backfill:?}");
        let run = ws.kassa(&["run", "--today", NIGHT]);
        assert_eq!(run.code, 0, "{run:?}");
        // Again: nothing new is sent, and the run is recorded.
        let again = ws.kassa(&["run", "--today", NIGHT]);
        assert_eq!(again.code, 0, "{again:?}");
        let analyze = ws.kassa(&["analyze", "--format", "json"]);
        assert_eq!(analyze.code, 0, "{analyze:?}");
        let outbox = ws.kassa(&["outbox", "list"]);
        assert_eq!(outbox.code, 0, "{outbox:?}");
        outputs.push((analyze.stdout, outbox.stdout, run.stdout));
    }
    assert!(!outputs[0].0.is_empty());
    assert_eq!(outputs[0].0, outputs[1].0, "analyze --format json differs");
    assert_eq!(outputs[0].1, outputs[1].1, "outbox list differs");
    assert_eq!(outputs[0].2, outputs[1].2, "the run's summary differs");
    // Each message went once from each store.
    let sent = ids(&server).await;
    assert!(!sent.is_empty());
    assert!(sent.values().all(|n| *n == 2), "{sent:?}");
}

// Guards: the migrations in Postgres' dialect build the same tables and columns (by type) as
// SQLite's, and the ledger's behaviours answer the same on both.
#[test]
fn both_ledgers_have_the_same_tables_columns_and_answers() {
    let Some(pg) = services::postgres("both_ledgers_have_the_same_tables_columns_and_answers")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let embedded = Store::open(&dir.path().join("embedded")).unwrap();
    let remote = Store::open_at(&location(
        pg,
        &dir.path().join("remote"),
        &pg.schema("columns"),
    ))
    .unwrap();
    assert_eq!(
        embedded.ledger_columns().unwrap(),
        remote.ledger_columns().unwrap()
    );
    assert_eq!(remote.schema_version().unwrap(), i64::from(SCHEMA_VERSION));

    let answers = |mut store: Store| {
        use kassa::domain::{CachedToken, TokenCache};
        use secrecy::ExposeSecret;
        let range = crate::helpers::range("2025-01-01", "2025-03-31");
        let run = store.start_run("backfill").unwrap();
        store.start_backfill(run, range).unwrap();
        store
            .record_stored_chunk(
                run,
                "ads",
                crate::helpers::range("2025-01-01", "2025-01-31"),
            )
            .unwrap();
        store
            .record_stored_chunk(
                run,
                "ads",
                crate::helpers::range("2025-01-01", "2025-02-28"),
            )
            .unwrap();
        store.finish_run(run, "partial", "cut short").unwrap();
        let next = store.start_run("backfill").unwrap();
        store.start_backfill(next, range).unwrap();
        let resumable = store.resumable_chunks(next, range).unwrap();
        let item = |id: &str| NewOutboxItem {
            target: "bi".into(),
            message_id: id.into(),
            message: "{}".into(),
        };
        let first = store
            .record_alerts(&[], &[], &[item("a"), item("b")])
            .unwrap();
        let repeated = store.record_alerts(&[], &[], &[item("a")]).unwrap();
        let claimed = store
            .claim_pending("pod", std::time::Duration::from_secs(60))
            .unwrap();
        let claimed_again = store
            .claim_pending("other", std::time::Duration::from_secs(60))
            .unwrap();
        store.mark_delivered(claimed[0].id).unwrap();
        let dead = store
            .mark_failed(claimed[1].id, "gone", true, true, 3)
            .unwrap();
        let counts = store.outbox_counts().unwrap();
        let tokens = store.token_ledger().unwrap();
        tokens
            .save(
                "source:a",
                &CachedToken {
                    access_token: SecretString::from("a1".to_string()),
                    expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
                    refresh_token: None,
                    seed: "seed".into(),
                },
            )
            .unwrap();
        let token = tokens.load("source:a").unwrap().unwrap();
        format!(
            "{resumable:?} {first} {repeated} {} {} {dead} {counts:?} {} {:?} {}",
            claimed.len(),
            claimed_again.len(),
            token.access_token.expose_secret(),
            store
                .undelivered_alerts()
                .unwrap()
                .iter()
                .map(|i| (i.id, i.attempts, i.failed_runs, i.dead_at.is_some()))
                .collect::<Vec<_>>(),
            store.coverage(&["ads"]).unwrap()[0].ranges.len(),
        )
    };
    let remote_answers = answers(remote);
    assert_eq!(answers(embedded), remote_answers);
    assert!(
        remote_answers.contains("2 0 2 0 true (1, 0)"),
        "{remote_answers}"
    );
}

// Guards: the run lock on Postgres. While one process holds the tenant's advisory lock, a
// second `kassa run` of the same tenant exits 3 naming the schema; once it is released the run
// goes ahead.
#[test]
fn the_same_tenant_started_twice_gets_exit_3_from_the_advisory_lock() {
    let Some(pg) = services::postgres("the_same_tenant_started_twice_gets_exit_3") else {
        return;
    };
    let schema = pg.schema("lock");
    let ws = workspace(Some((&pg.url(), &schema)), "http://127.0.0.1:9");
    let settings = Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let held = StoreLock::acquire_at(&settings.store_location()).unwrap();
    let busy = ws.kassa(&["run", "--today", NIGHT]);
    assert_eq!(busy.code, 3, "{busy:?}");
    assert!(
        busy.stderr.contains(&format!("Postgres schema {schema}")),
        "{busy:?}"
    );
    assert!(busy.stderr.contains("kassa pid"), "{busy:?}");
    // A second lock in this process is refused too: the lock is per session, not per process.
    assert!(StoreLock::acquire_at(&settings.store_location()).is_err());
    drop(held);
    let backfill = ws.kassa(&["backfill", "--from", "2025-05-01", "--to", "2025-05-25"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
}

// Guards: outbox claims. Two pods of one tenant (their own store directories, one Postgres
// schema) run the nightly cycle at the same moment; each alert reaches the receiver once.
#[test]
fn an_alert_is_delivered_once_when_two_pods_race_on_the_outbox() {
    let Some(pg) = services::postgres("an_alert_is_delivered_once_when_two_pods_race") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(receiver(std::time::Duration::from_millis(400)));
    let schema = pg.schema("race");
    let pods = [
        workspace(Some((&pg.url(), &schema)), &server.uri()),
        workspace(Some((&pg.url(), &schema)), &server.uri()),
    ];
    let backfill = pods[0].kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-05-25"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    // The second pod sees the same snapshots (as it would in a shared bucket).
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(pods[0].store_path())
        .arg(pods[1].store_path())
        .status()
        .unwrap();
    assert!(copied.success());

    let start = Arc::new(Barrier::new(2));
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = pods
            .iter()
            .map(|ws| {
                let start = Arc::clone(&start);
                let config = ws.path().join("kassa.toml");
                scope.spawn(move || {
                    let settings = Settings::load(Some(&config)).unwrap();
                    let targets: Vec<_> = settings
                        .alerts
                        .iter()
                        .map(|a| a.build(&RetryPolicy::default()).unwrap())
                        .collect();
                    let mut store = Store::open_at(&settings.store_location()).unwrap();
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    start.wait();
                    runtime
                        .block_on(run_cycle(&settings, &mut store, &targets, d(NIGHT)))
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sent = runtime.block_on(ids(&server));
    assert!(sent.len() > 1, "the demo has several episodes: {sent:?}");
    assert!(sent.values().all(|n| *n == 1), "{sent:?}");
    let delivered: usize = outcomes.iter().map(|o| o.delivered.len()).sum();
    assert_eq!(delivered, sent.len());
    // What one pod counted as pending while the other still held its claims is delivered now.
    let settings = Settings::load(Some(&pods[0].path().join("kassa.toml"))).unwrap();
    let store = Store::open_at(&settings.store_location()).unwrap();
    assert!(store.pending_alerts().unwrap().is_empty());
    assert_eq!(store.outbox_counts().unwrap(), (sent.len() as u64, 0));
}

// Guards: migrations under the advisory lock. Pods opening a brand-new schema at the same
// moment all succeed, and the schema records one version, applied once.
#[test]
fn migrations_run_once_when_pods_open_a_new_schema_at_once() {
    let Some(pg) = services::postgres("migrations_run_once_when_pods_open_a_new_schema") else {
        return;
    };
    let schema = pg.schema("migrate");
    let dir = tempfile::tempdir().unwrap();
    let start = Arc::new(Barrier::new(4));
    std::thread::scope(|scope| {
        for pod in 0..4 {
            let start = Arc::clone(&start);
            let location = location(pg, &dir.path().join(pod.to_string()), &schema);
            scope.spawn(move || {
                start.wait();
                let store = Store::open_at(&location).unwrap();
                assert_eq!(store.schema_version().unwrap(), i64::from(SCHEMA_VERSION));
            });
        }
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let versions: Vec<i64> = runtime.block_on(async {
        let client = pg.client().await;
        client
            .query(&format!("SELECT version FROM {schema}.kassa_schema"), &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    });
    assert_eq!(versions, vec![i64::from(SCHEMA_VERSION)]);
}

// Guards: the URL's password stays secret: not in `Debug` of the settings, the location, the
// store or its lock, and not in the errors of a server that does not answer or a URL that does
// not parse.
#[test]
fn the_ledger_password_never_appears_in_errors_or_debug_output() {
    let Some(pg) = services::postgres("the_ledger_password_never_appears") else {
        return;
    };
    const PASSWORD: &str = "pw-7f3a9c-never-shown";
    let schema = pg.schema("password");
    let ws = workspace(
        Some((&pg.url_with_password(PASSWORD), &schema)),
        "http://127.0.0.1:9",
    );
    let settings = Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let store = Store::open_at(&settings.store_location()).unwrap();
    let lock = StoreLock::acquire_at(&settings.store_location()).unwrap();
    let shown = format!(
        "{settings:?} {:?} {store:?} {lock:?}",
        settings.store_location()
    );
    assert!(shown.contains(&schema), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    drop((store, lock));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for (url, expected) in [
        (
            format!("postgresql://kassa:{PASSWORD}@127.0.0.1:{port}/postgres"),
            format!("127.0.0.1:{port}/postgres"),
        ),
        (
            format!("postgresql://kassa:{PASSWORD}@127.0.0.1:port/postgres"),
            "postgres://".to_string(),
        ),
    ] {
        let ws = workspace(Some((&url, "kassa")), "http://127.0.0.1:9");
        for args in [&["analyze"][..], &["run", "--today", NIGHT]] {
            let run = ws.kassa(args);
            assert_ne!(run.code, 0, "{run:?}");
            let all = format!("{}{}", run.stdout, run.stderr);
            assert!(all.contains(&expected), "{args:?}: {all}");
            assert!(!all.contains(PASSWORD), "{args:?}: {all}");
        }
    }
}
