//! An agency on shared services (issue 18): tenants whose snapshots live on S3 (moto's server)
//! and whose ledgers, run locks and outboxes live on Postgres, against the same tenants on
//! embedded stores, through the real binary. The same data gives byte-identical analyses; two
//! shards started at once run each of six tenants exactly once and deliver the same alerts as
//! six single-business installs, each once; a backfill killed with SIGKILL and resumed by a
//! new pod (an empty working directory) leaves the store an uninterrupted backfill leaves;
//! `kassa check` reaches the services, and names those it cannot reach.
//!
//! These tests need `KASSA_SERVICES=1` (see `services.rs`): without it they say they were
//! skipped; with it, a service that cannot start fails them. The unreachable-ledger test needs
//! nothing and always runs.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Run, Workspace, finish, kassa_in, repo, spawn_in};
use crate::resume;
use crate::run::NIGHT;
use crate::services::{Moto, Postgres, moto, postgres};

const SIX: [&str; 6] = ["t1", "t2", "t3", "t4", "t5", "t6"];
const LEDGER_URL: &str = "KASSA_TEST_LEDGER_URL";
const FROM: &str = "2025-01-06";
const TO: &str = "2025-05-25";

/// Where an agency's stores live: each tenant's own directory, or S3 + Postgres.
enum Stores<'a> {
    Embedded,
    Services {
        moto: &'a Moto,
        postgres: &'a Postgres,
        bucket: String,
        /// Prefix of the tenants' Postgres schemas (`<prefix>_<tenant>`).
        schemas: String,
    },
}

impl Stores<'_> {
    /// The `[store]` keys beyond `path`.
    fn toml(&self) -> String {
        match self {
            Stores::Embedded => String::new(),
            Stores::Services {
                bucket, schemas, ..
            } => format!(
                "snapshots = \"s3://{bucket}/stores/{{tenant}}\"\n\
                 ledger_url_env = \"{LEDGER_URL}\"\n\
                 ledger_schema = \"{schemas}_{{tenant}}\"\n"
            ),
        }
    }

    /// The environment a pod gets: the AWS variables and the ledger's URL.
    fn env(&self) -> Vec<(String, String)> {
        match self {
            Stores::Embedded => Vec::new(),
            Stores::Services { moto, postgres, .. } => {
                let mut env = moto.env();
                env.push((LEDGER_URL.to_string(), postgres.url()));
                env
            }
        }
    }
}

/// Data in the style of the independent checks (`data/ads.csv`, `data/crm.csv`): three
/// channels over 20 weeks of days with two campaigns each, one channel spending without a won
/// deal for three weeks and again for the last two, a week of missing ad days on another, lost
/// and open deals, deals of a channel without ads, amounts with cents, customers buying again.
fn scenario(ws: &Workspace) {
    let start = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
    let mut ads = String::from(
        "date,channel,campaign_id,campaign_name,impressions,reach,clicks,spend,currency\n",
    );
    let mut crm = String::from(
        "deal_id,created_date,closed_date,status,amount,channel,currency,customer_id\n",
    );
    let mut deal = 0;
    for day in 0..140i64 {
        let date = start + chrono::Duration::days(day);
        let week = day / 7;
        for (c, channel) in ["meta", "google", "yandex"].into_iter().enumerate() {
            let c = c as i64;
            // google's week 9 is missing from the export: a gap, never zero spend.
            if channel == "google" && week == 9 {
                continue;
            }
            for campaign in 0..2i64 {
                let k = day * 7 + c * 13 + campaign * 5;
                let impressions = 4000 + (k * 37) % 3000;
                let clicks = 60 + (k * 11) % 90;
                let spend = 40 + (k * 17) % 60;
                let cents = (k * 29) % 100;
                ads.push_str(&format!(
                    "{date},{channel},{channel}-{campaign},Campaign {campaign},{impressions},{},{clicks},{spend}.{cents:02},USD\n",
                    impressions * 2 / 3
                ));
            }
            // yandex spends in weeks 12-14 and 18-19 and wins nothing there: activity
            // without money, once judged and once too recent for a verdict.
            let dry = channel == "yandex" && ((12..15).contains(&week) || week >= 18);
            if (day + c) % 2 == 0 {
                deal += 1;
                let status = match (dry, deal % 5) {
                    (true, _) | (false, 0) => "lost",
                    (false, 1) => "open",
                    _ => "won",
                };
                let closed = if status == "open" {
                    String::new()
                } else {
                    (date + chrono::Duration::days(1 + deal % 4)).to_string()
                };
                let amount = if status == "open" {
                    String::new()
                } else {
                    format!("{}.{:02}", 200 + (deal * 53) % 700, deal % 100)
                };
                let customer = if deal % 17 == 0 { 1 } else { deal };
                crm.push_str(&format!(
                    "d-{deal:05},{date},{closed},{status},{amount},{channel},USD,c-{customer:05}\n"
                ));
            }
        }
        if day % 9 == 0 {
            deal += 1;
            crm.push_str(&format!(
                "d-{deal:05},{date},{date},won,99.90,partners,USD,c-{deal:05}\n"
            ));
        }
    }
    ws.write("data/ads.csv", &ads);
    ws.write("data/crm.csv", &crm);
}

/// The demo's data (`data/ads.csv`, `data/crm.csv`): its google week of 2025-05-19 is an
/// episode recent enough to alert on `NIGHT` (see `run.rs`).
fn demo(ws: &Workspace) {
    for file in ["ads.csv", "crm.csv"] {
        let text = std::fs::read_to_string(repo().join("fixtures/demo").join(file)).unwrap();
        ws.write(&format!("data/{file}"), &text);
    }
}

/// An agency: `base.toml` (stores under `stores/{tenant}` plus `stores`' keys, alerts in
/// English) and `conf.d/<name>.toml` for each name: `data`'s CSV files and a signed webhook to
/// `receiver/<name>`.
fn agency(names: &[&str], stores: &Stores, receiver: &str, data: fn(&Workspace)) -> Workspace {
    let ws = Workspace::new();
    data(&ws);
    ws.write(
        "webhook.secret",
        "whsec_a2Fzc2EtdGVzdC13ZWJob29rLXNlY3JldA==",
    );
    ws.write(
        "base.toml",
        &format!(
            "[store]\npath = \"stores/{{tenant}}\"\n{}\n[alerting]\nlocale = \"en\"\n",
            stores.toml()
        ),
    );
    for name in names {
        let url = ws.write(&format!("{name}.url"), &format!("{receiver}/{name}"));
        ws.write(
            &format!("conf.d/{name}.toml"),
            &format!(
                "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"../data/ads.csv\"\n\n\
                 [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"../data/crm.csv\"\n\n\
                 [[alerts]]\nname = \"hook\"\nkind = \"webhook\"\nurl_file = {:?}\n\
                 secret_file = \"../webhook.secret\"\n",
                url.display().to_string()
            ),
        );
    }
    ws
}

fn spawn(ws: &Workspace, stores: &Stores, args: &[&str]) -> std::process::Child {
    spawn_in(ws.path(), &ws.path().join("base.toml"), args, &stores.env())
}

fn kassa(ws: &Workspace, stores: &Stores, args: &[&str]) -> Run {
    let env = stores.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    kassa_in(ws.path(), &ws.path().join("base.toml"), args, &env)
}

/// Backfills every tenant of `ws`, one after another.
fn backfill_all(ws: &Workspace, stores: &Stores, names: &[&str]) {
    for name in names {
        let run = kassa(
            ws,
            stores,
            &[
                "backfill",
                "--tenants",
                "conf.d",
                "--tenant",
                name,
                "--from",
                FROM,
                "--to",
                TO,
            ],
        );
        assert_eq!(run.code, 0, "backfill of {name}: {run:?}");
    }
}

fn analyze(ws: &Workspace, stores: &Stores, name: &str) -> String {
    let run = kassa(
        ws,
        stores,
        &[
            "analyze",
            "--tenants",
            "conf.d",
            "--tenant",
            name,
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "analyze of {name}: {run:?}");
    run.stdout
}

/// Every alert the receiver got, by tenant (the request's path), as (webhook-id, the
/// message's `type` and `data`); the timestamps differ from run to run and are left out.
async fn alerts_by_tenant(server: &MockServer) -> BTreeMap<String, Vec<(String, Value)>> {
    let mut by_tenant: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for request in server.received_requests().await.unwrap() {
        let id = request.headers["webhook-id"].to_str().unwrap().to_string();
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let tenant = request.url.path().trim_start_matches('/').to_string();
        by_tenant
            .entry(tenant)
            .or_default()
            .push((id, serde_json::json!([body["type"], body["data"]])));
    }
    for alerts in by_tenant.values_mut() {
        alerts.sort_by(|a, b| a.0.cmp(&b.0));
    }
    by_tenant
}

async fn receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

fn services<'a>(test: &str) -> Option<Stores<'a>> {
    let moto = moto(test)?;
    let postgres = postgres(test)?;
    Some(Stores::Services {
        moto,
        bucket: moto.bucket(test),
        schemas: postgres.schema(test),
        postgres,
    })
}

/// The demo's data and an agency's report through S3 + Postgres analyses byte for byte like the
/// embedded store, for every view: `analyze`, `audit` and the HTML report.
#[tokio::test(flavor = "multi_thread")]
async fn the_same_data_through_s3_and_postgres_analyses_byte_identical_to_the_embedded_store() {
    let test = "the_same_data_through_s3_and_postgres";
    let Some(shared) = services(test) else { return };
    let hooks = receiver().await;
    let embedded = agency(&["acme"], &Stores::Embedded, &hooks.uri(), scenario);
    let agency_ws = agency(&["acme"], &shared, &hooks.uri(), scenario);
    backfill_all(&embedded, &Stores::Embedded, &["acme"]);
    backfill_all(&agency_ws, &shared, &["acme"]);
    let expected = analyze(&embedded, &Stores::Embedded, "acme");
    // The scenario is not trivial: periods are flagged, and google's missing week is a gap.
    let report: Value = serde_json::from_str(&expected).unwrap();
    let flagged = report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["verdict"] == "flagged")
        .count();
    assert!(flagged >= 2, "{expected}");
    assert!(expected.contains("\"data_gap\""), "{expected}");
    assert_eq!(analyze(&agency_ws, &shared, "acme"), expected);
    // Nothing but working copies under the agency's store path: no ledger file.
    assert!(!agency_ws.path().join("stores/acme/ledger.sqlite").exists());
}

/// Two shards started at once over six tenants on one Postgres and one bucket: each tenant
/// runs exactly once (one `run` in its ledger), and the receiver gets, tenant by tenant, the
/// alerts six single-business installs send, each once.
#[tokio::test(flavor = "multi_thread")]
async fn two_shards_on_s3_and_postgres_run_each_tenant_once_with_the_alerts_of_single_installs() {
    let test = "two_shards_on_s3_and_postgres";
    let Some(shared) = services(test) else { return };
    let embedded_hooks = receiver().await;
    let embedded = agency(&SIX, &Stores::Embedded, &embedded_hooks.uri(), demo);
    backfill_all(&embedded, &Stores::Embedded, &SIX);
    // Six single-business installs: each tenant on its own embedded store, one at a time.
    let run = kassa(
        &embedded,
        &Stores::Embedded,
        &["run", "--tenants", "conf.d", "--today", NIGHT],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let expected = alerts_by_tenant(&embedded_hooks).await;
    assert_eq!(expected.len(), 6, "every tenant alerts: {expected:?}");

    let hooks = receiver().await;
    let ws = agency(&SIX, &shared, &hooks.uri(), demo);
    backfill_all(&ws, &shared, &SIX);
    let run = |shard: &str| {
        spawn(
            &ws,
            &shared,
            &[
                "run",
                "--tenants",
                "conf.d",
                "--shard",
                shard,
                "--parallel",
                "3",
                "--today",
                NIGHT,
            ],
        )
    };
    let (first, second) = (run("0/2"), run("1/2"));
    let (first, second) = (finish(first), finish(second));
    for shard in [&first, &second] {
        assert_eq!(shard.code, 0, "{shard:?}");
    }
    assert_eq!(alerts_by_tenant(&hooks).await, expected);
    let Stores::Services {
        postgres, schemas, ..
    } = &shared
    else {
        unreachable!()
    };
    let client = postgres.client().await;
    for name in SIX {
        let runs: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {schemas}_{name}.runs WHERE command = 'run'"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(runs, 1, "{name} ran {runs} times");
        assert_eq!(
            analyze(&ws, &shared, name),
            analyze(&embedded, &Stores::Embedded, name)
        );
    }
}

/// A pod killed with SIGKILL mid-backfill into S3 snapshots and a Postgres ledger (after 1, 3
/// and 7 of its ten chunks): what it finished is there for anyone reading, and the backfill run
/// again by a new pod (an empty working directory: the killed pod's disk is gone) leaves
/// exactly the store an uninterrupted backfill into the embedded store leaves: `analyze
/// --format json` is byte-identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_pod_mid_backfill_then_a_new_pod_resumes_to_the_uninterrupted_store() {
    let test = "kill_9_of_a_pod_mid_backfill";
    let (Some(pg), Some(moto)) = (postgres(test), moto(test)) else {
        return;
    };
    let (server, insights) = resume::fake().await;
    let embedded = resume::finish_and_analyze(&resume::workspace(&server, ""), &[]);
    for kills in [1, 3, 7] {
        let bucket = moto.bucket("kill-9-pg");
        let schema = pg.schema("kill_9");
        let keys = format!(
            "ledger_url_env = \"KASSA_TEST_LEDGER_URL\"\nledger_schema = {schema:?}\n\
             snapshots = \"s3://{bucket}/agency/acme\"\n"
        );
        let mut env = moto.env();
        env.push(("KASSA_TEST_LEDGER_URL".to_string(), pg.url()));
        let killed_pod = resume::workspace(&server, &keys);
        resume::kill_after(&killed_pod, &env, &insights, kills).await;
        drop(killed_pod);
        let new_pod = resume::workspace(&server, &keys);
        assert_eq!(
            resume::meta_clicks(&resume::analyze(&new_pod, &env)),
            resume::clicks_of_first(kills as u64),
            "the chunks the killed pod finished are on the services"
        );
        let resumed = resume::finish_and_analyze(&new_pod, &env);
        assert!(
            resumed == embedded,
            "killed after {kills} chunks, the analysis differs:\n{}\nembedded:\n{}",
            String::from_utf8_lossy(&resumed),
            String::from_utf8_lossy(&embedded)
        );
    }
}

/// `kassa check` (online) reaches the store's services and says so on a line of its own.
#[test]
fn check_reaches_the_stores_postgres_and_bucket() {
    let test = "check_reaches_the_stores_postgres_and_bucket";
    let Some(shared) = services(test) else { return };
    let Stores::Services {
        bucket, schemas, ..
    } = &shared
    else {
        unreachable!()
    };
    let ws = Workspace::new();
    demo(&ws);
    ws.config(&format!(
        "{}\n[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"data/ads.csv\"\n",
        shared.toml().replace("{tenant}", "acme")
    ));
    let env = shared.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let check = ws.kassa_with_env(&["check"], &env);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stdout.contains(&format!(
            "store services (Postgres schema {schemas}_acme on 127.0.0.1:"
        )) && check
            .stdout
            .contains(&format!("s3://{bucket}/stores/acme): ok: reached")),
        "{}",
        check.stdout
    );
}

/// A ledger on a Postgres that does not answer: `check` names the store's services as failed,
/// with the server and never the password, still checks the sources, and exits 1. No service
/// needed: nothing listens on port 1.
#[test]
fn check_names_a_ledger_it_cannot_reach() {
    let ws = Workspace::new();
    demo(&ws);
    ws.config(
        "ledger_url_env = \"KASSA_TEST_LEDGER_URL\"\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"data/ads.csv\"\n",
    );
    let check = ws.kassa_with_env(
        &["check"],
        &[(
            "KASSA_TEST_LEDGER_URL",
            "postgres://kassa:hunter2-secret@127.0.0.1:1/agency",
        )],
    );
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check
            .stdout
            .contains("store services (Postgres schema kassa on 127.0.0.1:1/agency): FAILED"),
        "{}",
        check.stdout
    );
    assert!(check.stdout.contains("ads (csv_ads): ok"), "{check:?}");
    assert!(
        check.stderr.contains("Connection refused"),
        "{}",
        check.stderr
    );
    assert!(!format!("{check:?}").contains("hunter2"), "{check:?}");
}
