//! kill -9 mid-backfill: a `kassa backfill` killed with SIGKILL after any number of stored
//! chunks resumes by being run again, and the store it leaves analyses byte for byte like the
//! store of a backfill that was never interrupted.
//!
//! The kill points are chosen by the fake, not by the clock: the Meta fake answers the first
//! `hold_after` chunk requests and holds the next one open. Chunks are pulled and stored one
//! after another, so when that next request arrives every earlier chunk has been stored and
//! recorded, and the process is killed while it waits for an answer.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use crate::fakes::{TokenFrom, meta, ok};
use crate::helpers::Workspace;

const FROM: &str = "2025-01-06";
const TO: &str = "2025-01-15";
const TOKEN_VARIABLE: &str = "KASSA_TEST_META_TOKEN";

/// Insights for the one day a 1-day chunk asks for (its `time_range`), different every day;
/// requests past the first `hold_after` are held open far longer than the test lives.
pub(crate) struct Insights {
    answered: AtomicUsize,
    hold_after: AtomicUsize,
}

impl Insights {
    fn day(request: &wiremock::Request) -> NaiveDate {
        let range: Value = serde_json::from_str(
            &crate::fakes::query(request, "time_range").expect("a time_range"),
        )
        .expect("time_range is JSON");
        let since = range["since"].as_str().expect("since");
        assert_eq!(Some(since), range["until"].as_str(), "1-day chunks");
        since.parse().expect("a date")
    }
}

/// The fake's answer, sharing its counters with the test.
struct Answers(Arc<Insights>);

impl Respond for Answers {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let day = Insights::day(request);
        let n = self.0.answered.fetch_add(1, Ordering::SeqCst);
        if n >= self.0.hold_after.load(Ordering::SeqCst) {
            return ResponseTemplate::new(200).set_delay(Duration::from_secs(3600));
        }
        let k = u64::from(day.day());
        let mut row = meta::row(
            &day.to_string(),
            &(10 + k * 7).to_string(),
            &format!("{}.{:02}", 3 + k, k * 13 % 100),
        );
        row["impressions"] = json!((1000 + k * 97).to_string());
        ok(meta::page(vec![row], None))
    }
}

/// A workspace whose Meta source (1-day chunks) points at `server`, with a small CRM file so
/// the analysis has money to line up; `store` holds more keys of its `[store]` table (empty:
/// the embedded store under the workspace).
pub(crate) fn workspace(server: &MockServer, store: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write(
        "crm.csv",
        "deal_id,created_date,closed_date,status,amount,channel\n\
         d1,2025-01-06,2025-01-08,won,120.50,meta\n\
         d2,2025-01-09,2025-01-14,won,80,meta\n\
         d3,2025-01-13,,open,,meta\n\
         d4,2025-01-15,,open,,meta\n",
    );
    ws.config(&format!(
        "{store}\n{}\n[[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\n",
        meta::table(
            "meta",
            &server.uri(),
            TokenFrom::Env(TOKEN_VARIABLE),
            "channel = \"meta\"\nchunk_days = 1",
        ),
    ));
    ws
}

/// `kassa backfill` of the range in `ws`, with `env` (a remote store's variables) set.
fn backfill(ws: &Workspace, env: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kassa"));
    command
        .current_dir(ws.path())
        .arg("--config")
        .arg(ws.path().join("kassa.toml"))
        .args(["backfill", "--from", FROM, "--to", TO])
        .env_remove("KASSA_CONFIG")
        .env("RUST_LOG", "warn")
        .env(TOKEN_VARIABLE, meta::TOKEN)
        .envs(env.iter().cloned());
    command
}

pub(crate) async fn fake() -> (MockServer, Arc<Insights>) {
    let server = MockServer::start().await;
    let insights = Arc::new(Insights {
        answered: AtomicUsize::new(0),
        hold_after: AtomicUsize::new(usize::MAX),
    });
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(Answers(insights.clone()))
        .mount(&server)
        .await;
    (server, insights)
}

/// Starts a backfill that gets `chunks` more answers, waits until it asks for the one after
/// them (so those chunks are stored), and kills it with SIGKILL.
pub(crate) async fn kill_after(
    ws: &Workspace,
    env: &[(String, String)],
    insights: &Insights,
    chunks: usize,
) {
    let before = insights.answered.load(Ordering::SeqCst);
    insights.hold_after.store(before + chunks, Ordering::SeqCst);
    let mut child: Child = backfill(ws, env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kassa starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while insights.answered.load(Ordering::SeqCst) <= before + chunks {
        if let Some(status) = child.try_wait().expect("the child's status") {
            panic!("the backfill ended ({status}) before chunk {}", chunks + 1);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the backfill never asked for chunk {}",
            chunks + 1
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // `Child::kill` is SIGKILL on Unix: no destructor, no flush, no lock release of our own.
    child.kill().expect("SIGKILL");
    child.wait().expect("the killed child is reaped");
    insights.hold_after.store(usize::MAX, Ordering::SeqCst);
}

pub(crate) fn analyze(ws: &Workspace, env: &[(String, String)]) -> Vec<u8> {
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push((TOKEN_VARIABLE, meta::TOKEN));
    let analyze = ws.kassa_with_env(&["analyze", "--format", "json"], &env);
    assert_eq!(analyze.code, 0, "{analyze:?}");
    analyze.stdout.into_bytes()
}

/// The clicks the Meta source has stored, summed over the report's periods.
pub(crate) fn meta_clicks(report: &[u8]) -> u64 {
    let report: Value = serde_json::from_slice(report).unwrap();
    report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["channel"] == "meta")
        .filter_map(|p| p["clicks"].as_u64())
        .sum()
}

/// The clicks the fake reports for the first `days` days of the range.
pub(crate) fn clicks_of_first(days: u64) -> u64 {
    (6..6 + days).map(|k| 10 + k * 7).sum()
}

pub(crate) fn finish_and_analyze(ws: &Workspace, env: &[(String, String)]) -> Vec<u8> {
    let run = backfill(ws, env).output().expect("kassa runs");
    assert_eq!(
        run.status.code(),
        Some(0),
        "the resumed backfill:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    analyze(ws, env)
}

/// A backfill killed with SIGKILL after 1, 3 and 7 of its ten 1-day chunks (and one killed
/// twice, after 1 and then after 3 more), then run again to the end, leaves a store whose
/// `analyze --format json` is byte-identical to an uninterrupted backfill's.
#[tokio::test]
async fn kill_9_mid_backfill_resumes_byte_identical() {
    let (server, insights) = fake().await;
    let uninterrupted = finish_and_analyze(&workspace(&server, ""), &[]);
    assert_eq!(meta_clicks(&uninterrupted), clicks_of_first(10));

    for kills in [&[1][..], &[3], &[7], &[1, 3]] {
        let ws = workspace(&server, "");
        kill_after(&ws, &[], &insights, kills[0]).await;
        // The killed run kept exactly the chunks it had finished.
        assert_eq!(
            meta_clicks(&analyze(&ws, &[])),
            clicks_of_first(kills[0] as u64)
        );
        for &chunks in &kills[1..] {
            kill_after(&ws, &[], &insights, chunks).await;
        }
        let resumed = finish_and_analyze(&ws, &[]);
        assert!(
            resumed == uninterrupted,
            "killed after {kills:?} chunks, the analysis differs:\n{}\nuninterrupted:\n{}",
            String::from_utf8_lossy(&resumed),
            String::from_utf8_lossy(&uninterrupted)
        );
    }
}
