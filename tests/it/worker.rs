//! The worker: its schedule across DST changes, a single step driven from a test with the
//! numbers its `/metrics` then reports, and `kassa worker` as a process: SIGTERM and Ctrl-C
//! stop it cleanly, and a cycle in flight finishes within the grace period or is abandoned.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use kassa::config::Settings;
use kassa::domain::DateRange;
use kassa::pipeline;
use kassa::store::Store;
use kassa::worker::{Worker, next_run};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Workspace, d, demo_sources, repo};

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn cron(text: &str) -> Cron {
    text.parse().unwrap()
}

#[test]
fn six_in_the_morning_follows_the_clock_across_dst() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let daily = cron("0 6 * * *");
    // Spring forward on 2025-03-30: 06:00 is 05:00 UTC before and 04:00 UTC after.
    assert_eq!(
        next_run(&daily, berlin, utc("2025-03-29T05:30:00Z")).unwrap(),
        utc("2025-03-30T04:00:00Z")
    );
    assert_eq!(
        next_run(&daily, berlin, utc("2025-03-28T06:00:00Z")).unwrap(),
        utc("2025-03-29T05:00:00Z")
    );
    // Fall back on 2025-10-26: 06:00 is 04:00 UTC before and 05:00 UTC after.
    assert_eq!(
        next_run(&daily, berlin, utc("2025-10-25T05:00:00Z")).unwrap(),
        utc("2025-10-26T05:00:00Z")
    );
    // Moscow keeps UTC+3 all year.
    let moscow: Tz = "Europe/Moscow".parse().unwrap();
    assert_eq!(
        next_run(&daily, moscow, utc("2025-03-29T04:00:00Z")).unwrap(),
        utc("2025-03-30T03:00:00Z")
    );
}

#[test]
fn a_time_skipped_or_repeated_by_dst_runs_once() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let at_half_past_two = cron("30 2 * * *");
    // 02:30 does not exist on 2025-03-30: the run happens at the first instant after the gap
    // (03:00 CEST = 01:00 UTC), and the next day at 02:30 CEST again.
    let skipped = next_run(&at_half_past_two, berlin, utc("2025-03-29T12:00:00Z")).unwrap();
    assert_eq!(skipped, utc("2025-03-30T01:00:00Z"));
    assert_eq!(
        next_run(&at_half_past_two, berlin, skipped).unwrap(),
        utc("2025-03-31T00:30:00Z")
    );
    // 02:30 happens twice on 2025-10-26: one run, then the next day.
    let repeated = next_run(&at_half_past_two, berlin, utc("2025-10-25T12:00:00Z")).unwrap();
    assert_eq!(repeated, utc("2025-10-26T00:30:00Z"));
    assert_eq!(
        next_run(&at_half_past_two, berlin, repeated).unwrap(),
        utc("2025-10-27T01:30:00Z")
    );
}

fn demo_settings(ws: &Workspace) -> Settings {
    ws.config(&format!(
        "[worker]\nschedule = \"0 6 * * *\"\ntimezone = \"Europe/Moscow\"\n\n{}",
        demo_sources()
    ));
    Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap()
}

/// A workspace with copies of the demo files (so a test can break one) and a Slack target
/// posting to `slack`, backfilled up to 2025-05-25 (a backfill never alerts).
async fn backfilled_demo_with_slack(ws: &Workspace, slack: &MockServer) -> Settings {
    for file in ["ads.csv", "crm.csv"] {
        let text = std::fs::read_to_string(repo().join("fixtures/demo").join(file)).unwrap();
        ws.write(file, &text);
    }
    let url = ws.write(
        "slack.url",
        &format!("{}/services/T0/B0/secret", slack.uri()),
    );
    let absolute = |name: &str| ws.path().join(name).display().to_string();
    ws.config(&format!(
        "[worker]\nschedule = \"0 6 * * *\"\ntimezone = \"Europe/Moscow\"\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n\n\
         [[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {:?}\n",
        absolute("ads.csv"),
        absolute("crm.csv"),
        url.display().to_string(),
    ));
    let settings = Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let mut store = Store::open(&settings.store_path).unwrap();
    let history = DateRange::new(d("2025-01-06"), d("2025-05-25")).unwrap();
    let backfill = pipeline::backfill(&settings, &mut store, history, &[], d("2025-05-26"))
        .await
        .unwrap();
    assert!(!backfill.partial(), "the backfill is clean");
    settings
}

/// The one line of `metrics` that starts with `name ` (its sample), exactly.
fn sample<'a>(metrics: &'a str, name: &str) -> &'a str {
    metrics
        .lines()
        .find(|line| line.strip_prefix(name).is_some_and(|v| v.starts_with(' ')))
        .unwrap_or_else(|| panic!("no sample {name} in:\n{metrics}"))
}

/// One real cycle, driven directly, with a source that fails, findings, and an alert that
/// reaches a receiving fake: `/metrics` reports those numbers, not merely its names.
#[tokio::test(flavor = "multi_thread")]
async fn a_step_runs_the_cycle_and_the_endpoints_report_it() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/secret"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let ws = Workspace::new();
    let settings = backfilled_demo_with_slack(&ws, &slack).await;
    // The ads export gets a bad row: this night's ads pull fails (its stored weeks stay).
    let ads = ws.path().join("ads.csv");
    let mut text = std::fs::read_to_string(&ads).unwrap();
    text.push_str("2025-05-25,meta,m-x,,lots,1,1,1.00,USD\n");
    std::fs::write(&ads, text).unwrap();
    let targets = settings
        .alerts
        .iter()
        .map(|a| a.build(&kassa::sources::RetryPolicy::default()).unwrap())
        .collect();
    let worker = Worker::new(settings, targets);

    // One step, driven directly: 2025-05-26 06:00 Moscow.
    let now = "Europe/Moscow"
        .parse::<Tz>()
        .unwrap()
        .with_ymd_and_hms(2025, 5, 26, 6, 0, 0)
        .unwrap();
    let outcome = worker
        .tick(now.with_timezone(&Utc))
        .await
        .unwrap()
        .expect("the store was free");
    let failed: Vec<&str> = outcome
        .sources
        .iter()
        .filter(|s| !s.errors.is_empty())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(failed, ["ads"]);
    // google's week of 2025-05-19 is the one recent episode: one message, delivered.
    assert_eq!(slack.received_requests().await.unwrap().len(), 1);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_on(listener, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let metrics = client
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    // What prometheus-client writes is OpenMetrics, and it says so.
    assert_eq!(
        metrics.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    // The demo up to 2025-05-25 flags five periods (meta and all in two March weeks, google in
    // May: fixtures/demo/check_rule.py) and has four weeks without a baseline.
    for (name, value) in [
        ("kassa_runs_total{outcome=\"ok\"}", "0"),
        ("kassa_runs_total{outcome=\"partial\"}", "1"),
        ("kassa_last_success_timestamp_seconds", "0"),
        ("kassa_findings{kind=\"activity_without_money\"}", "5"),
        ("kassa_findings{kind=\"data_gap\"}", "4"),
        ("kassa_alerts_delivered_total", "1"),
        ("kassa_alerts_pending", "0"),
        ("kassa_source_failures_total{source=\"ads\"}", "1"),
        ("kassa_source_failures_total{source=\"crm\"}", "0"),
    ] {
        assert_eq!(
            sample(&metrics, name),
            format!("{name} {value}"),
            "{metrics}"
        );
    }
    // The next run is scheduled in the future (a real timestamp, not the initial 0).
    let next: i64 = sample(&metrics, "kassa_next_run_timestamp_seconds")
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > Utc::now().timestamp(), "{metrics}");
    assert_eq!(
        client
            .get(format!("http://{address}/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Shutdown while waiting for the next scheduled run returns promptly and cleanly.
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), running)
        .await
        .expect("the worker stops")
        .unwrap()
        .unwrap();
    // ... and the HTTP server with it: the port no longer answers.
    assert!(
        reqwest::Client::new()
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .is_err(),
        "the server still answers after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_skips_a_store_that_another_process_holds() {
    let ws = Workspace::new();
    let settings = demo_settings(&ws);
    let _held = kassa::store::StoreLock::acquire(&settings.store_path).unwrap();
    let worker = Worker::new(settings, Vec::new());
    assert!(worker.tick(Utc::now()).await.unwrap().is_none());
    let metrics = worker.metrics().render();
    assert!(
        metrics.contains("kassa_runs_total{outcome=\"skipped_locked\"} 1"),
        "{metrics}"
    );
}

/// `kassa worker` as a process: killed when the test ends, whatever happens; its stderr goes
/// to a file in the workspace (a pipe nobody reads could fill and block it).
struct WorkerProcess {
    child: std::process::Child,
    log: std::path::PathBuf,
    address: std::net::SocketAddr,
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a worker may take for what should be immediate (start, stop): generous, so that
/// a busy machine does not fail the test; a hang still does.
const PROMPTLY: std::time::Duration = std::time::Duration::from_secs(30);

impl WorkerProcess {
    /// Starts `kassa worker` on the workspace's `kassa.toml` with `/healthz` on a free loopback
    /// port, and waits until it answers.
    async fn start(ws: &Workspace) -> WorkerProcess {
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let log = ws.path().join("worker.log");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
            .current_dir(ws.path())
            .arg("--config")
            .arg(ws.path().join("kassa.toml"))
            .arg("worker")
            .env_remove("KASSA_CONFIG")
            .env("RUST_LOG", "info")
            .env("KASSA__WORKER__LISTEN", address.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut worker = WorkerProcess {
            child,
            log,
            address,
        };
        let started = std::time::Instant::now();
        loop {
            let health = reqwest::get(format!("http://{address}/healthz")).await;
            if health.is_ok_and(|r| r.status() == 200) {
                break worker;
            }
            if let Some(status) = worker.child.try_wait().unwrap() {
                panic!(
                    "the worker exited ({status}) before serving:\n{}",
                    worker.log()
                );
            }
            assert!(
                started.elapsed() < PROMPTLY,
                "/healthz never answered:\n{}",
                worker.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit within `bound` and returns its exit code and its log.
    async fn exit_within(&mut self, bound: std::time::Duration) -> (Option<i32>, String) {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), self.log());
            }
            assert!(
                started.elapsed() < bound,
                "the worker did not exit within {bound:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// A worker whose schedule does not fire during the test (06:00 on the 1st of January).
fn idle_worker_config(ws: &Workspace) {
    let fixtures = repo().join("fixtures/demo");
    ws.config(&format!(
        "[worker]\nschedule = \"0 6 1 1 *\"\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n",
        fixtures.join("ads.csv").display().to_string(),
    ));
}

async fn an_idle_worker_stops_on(signal: &str) {
    let ws = Workspace::new();
    idle_worker_config(&ws);
    let mut worker = WorkerProcess::start(&ws).await;
    worker.signal(signal);
    let (code, log) = worker.exit_within(PROMPTLY).await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("worker stopped"), "{log}");
    assert!(!log.contains("ERROR"), "{log}");
    // The HTTP server went with it.
    assert!(
        reqwest::get(format!("http://{}/healthz", worker.address))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_an_idle_worker_cleanly() {
    an_idle_worker_stops_on("TERM").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_an_idle_worker_cleanly() {
    an_idle_worker_stops_on("INT").await;
}

/// A worker that starts a cycle every second against a Meta fake that answers after `delay`,
/// with `grace` seconds to finish a cycle in flight. Returns the fake and the workspace.
async fn worker_with_a_slow_source(
    delay: std::time::Duration,
    grace: u64,
) -> (MockServer, Workspace) {
    use crate::fakes::{TokenFrom, meta, ok};
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(ok(meta::page(vec![], None)).set_delay(delay))
        .mount(&fake)
        .await;
    let ws = Workspace::new();
    let token = ws.write("meta.token", meta::TOKEN);
    ws.config(&format!(
        "[worker]\nschedule = \"* * * * * *\"\nshutdown_grace_seconds = {grace}\n\n{}",
        meta::table(
            "meta",
            &fake.uri(),
            TokenFrom::File(&token),
            "lookback_days = 3\ntimezone = \"UTC\""
        )
    ));
    (fake, ws)
}

/// Waits until the fake has received a request: a cycle is in flight.
async fn until_a_request_arrives(fake: &MockServer, worker: &WorkerProcess) {
    let started = std::time::Instant::now();
    while fake.received_requests().await.unwrap().is_empty() {
        assert!(
            started.elapsed() < PROMPTLY,
            "no cycle started:\n{}",
            worker.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn meta_coverage(ws: &Workspace) -> Vec<DateRange> {
    Store::open(&ws.store_path())
        .unwrap()
        .coverage(&["meta"])
        .unwrap()
        .remove(0)
        .ranges
}

/// SIGTERM while a cycle waits on a slow platform: the cycle finishes within the grace
/// period (its window is stored), then the worker exits 0 without starting another.
#[tokio::test(flavor = "multi_thread")]
async fn a_cycle_in_flight_finishes_within_the_grace_period() {
    let (fake, ws) = worker_with_a_slow_source(std::time::Duration::from_secs(3), 120).await;
    let mut worker = WorkerProcess::start(&ws).await;
    until_a_request_arrives(&fake, &worker).await;
    worker.signal("TERM");
    let (code, log) = worker.exit_within(std::time::Duration::from_secs(90)).await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("letting the cycle in flight finish"), "{log}");
    assert!(!log.contains("abandoned"), "{log}");
    assert!(log.contains("worker stopped"), "{log}");
    assert_eq!(
        fake.received_requests().await.unwrap().len(),
        1,
        "one cycle, one request, nothing after the signal"
    );
    assert_eq!(
        meta_coverage(&ws).len(),
        1,
        "the finished cycle stored its window"
    );
}

/// SIGTERM while a cycle waits on a platform slower than the grace period: the cycle is
/// abandoned, nothing of it is stored, and the worker exits 0 long before the answer would
/// have come.
#[tokio::test(flavor = "multi_thread")]
async fn a_cycle_slower_than_the_grace_period_is_abandoned() {
    let (fake, ws) = worker_with_a_slow_source(std::time::Duration::from_secs(600), 1).await;
    let mut worker = WorkerProcess::start(&ws).await;
    until_a_request_arrives(&fake, &worker).await;
    worker.signal("TERM");
    // Well under the fake's 600 s: the worker did not wait for the answer.
    let (code, log) = worker
        .exit_within(std::time::Duration::from_secs(120))
        .await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("abandoned"), "{log}");
    assert!(log.contains("worker stopped"), "{log}");
    assert_eq!(fake.received_requests().await.unwrap().len(), 1);
    assert!(
        meta_coverage(&ws).is_empty(),
        "an abandoned cycle stores nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// The HTML report: `GET /` and `GET /report`

/// A worker serving on a free loopback port over the demo's sources, with `worker_keys` added
/// to its `[worker]` table (its schedule does not fire during a test) and, when `backfill`,
/// the demo's history stored. It serves until the returned sender is sent or dropped.
async fn serving_demo(
    ws: &Workspace,
    worker_keys: &str,
    backfill: bool,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    ws.config(&format!(
        "[worker]\nschedule = \"0 6 1 1 *\"\ntimezone = \"Europe/Moscow\"\n{worker_keys}\n\n{}",
        demo_sources()
    ));
    let settings = Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    if backfill {
        let mut store = Store::open(&settings.store_path).unwrap();
        let history = DateRange::new(d("2025-01-06"), d("2025-05-25")).unwrap();
        let outcome = pipeline::backfill(&settings, &mut store, history, &[], d("2025-05-26"))
            .await
            .unwrap();
        assert!(!outcome.partial(), "the backfill is clean");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(Worker::new(settings, Vec::new()).run_on(listener, async {
        let _ = stopped.await;
    }));
    (address, stop)
}

async fn get(
    address: std::net::SocketAddr,
    target: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("http://{address}{target}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// The `lang` of a page's `<html>` element, read by an HTML parser.
fn page_lang(page: &str) -> Option<String> {
    let document = scraper::Html::parse_document(page);
    let html = scraper::Selector::parse("html").unwrap();
    document
        .select(&html)
        .next()
        .and_then(|e| e.value().attr("lang"))
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_serves_the_report_of_the_store() {
    let ws = Workspace::new();
    let (address, _stop) = serving_demo(&ws, "", true).await;

    let latest = get(address, "/", None).await;
    assert_eq!(latest.status(), 200);
    assert_eq!(latest.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(latest.headers()["cache-control"], "no-store");
    let page = latest.text().await.unwrap();
    assert!(page.contains("<html"), "{page}");
    assert_eq!(page_lang(&page).as_deref(), Some("en"));
    // The report itself: its summary, charts, and the demo's flagged March weeks.
    for part in [
        "id=\"summary\"",
        "<svg role=\"img\"",
        "id=\"findings\"",
        "2025-03-10",
    ] {
        assert!(page.contains(part), "{part} missing from the report");
    }

    // Any range, in the language asked for.
    let march = get(
        address,
        "/report?from=2025-03-01&to=2025-03-31&locale=ru",
        None,
    )
    .await;
    assert_eq!(march.status(), 200);
    let page = march.text().await.unwrap();
    assert_eq!(page_lang(&page).as_deref(), Some("ru"));
    // Each parameter is optional.
    assert_eq!(get(address, "/report", None).await.status(), 200);
    assert_eq!(
        get(address, "/report?from=2025-04-01", None).await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_rejects_an_invalid_range_with_400() {
    let ws = Workspace::new();
    let (address, _stop) = serving_demo(&ws, "", true).await;
    for (target, sentence) in [
        (
            "/report?from=2025-03-01&to=2025-02-01",
            "from: 2025-03-01 is after to (2025-02-01)",
        ),
        (
            "/report?from=nonsense",
            "from: \"nonsense\" is not a date; use YYYY-MM-DD",
        ),
        ("/report?to=2025-02-30", "to: \"2025-02-30\" is not a date"),
        ("/report?locale=de", "locale: \"de\" is not en or ru"),
        // A given start after the last covered day (the default end).
        (
            "/report?from=2030-01-01",
            "from: 2030-01-01 is after to (2025-05-25)",
        ),
    ] {
        let response = get(address, target, None).await;
        assert_eq!(response.status(), 400, "{target}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        let body = response.text().await.unwrap();
        assert!(body.starts_with(sentence), "{target}: {body}");
        assert!(!body.contains("<html"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_token_keeps_the_report_closed_but_not_health_or_metrics() {
    let ws = Workspace::new();
    let token = ws.write("report.token", "Zx81-report-token\n");
    let (address, _stop) = serving_demo(
        &ws,
        &format!("report_token_file = {:?}", token.display().to_string()),
        true,
    )
    .await;
    for target in ["/", "/report?from=2025-03-01", "/report?from=nonsense"] {
        for wrong in [None, Some("Zx81-report-toke"), Some("wrong")] {
            let response = get(address, target, wrong).await;
            assert_eq!(response.status(), 401, "{target} with {wrong:?}");
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"kassa\""
            );
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("<html"),
                "no report without the token: {body}"
            );
        }
    }
    let right = get(address, "/", Some("Zx81-report-token")).await;
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("<html"));
    assert_eq!(
        get(address, "/report?from=nonsense", Some("Zx81-report-token"))
            .await
            .status(),
        400
    );
    for open in ["/healthz", "/metrics"] {
        assert_eq!(get(address, open, None).await.status(), 200, "{open}");
    }
}

/// Before the first backfill there is no store at all; after `kassa run` found nothing to
/// store, there is one without data. Either way the report says so, with a 503.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_without_data_answers_503_with_a_sentence() {
    let ws = Workspace::new();
    let (address, _stop) = serving_demo(&ws, "", false).await;
    let response = get(address, "/", None).await;
    assert_eq!(response.status(), 503);
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("kassa has no data to report yet"),
        "{body}"
    );
    assert!(!body.contains(&ws.path().display().to_string()), "{body}");

    drop(Store::open(&ws.store_path()).unwrap());
    let response = get(address, "/report?locale=ru", None).await;
    assert_eq!(response.status(), 503);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .starts_with("Данных для отчёта пока нет")
    );
}
