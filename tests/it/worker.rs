//! The worker: its schedule across DST changes, its health and metrics endpoints, a single
//! step driven from a test, and a clean shutdown.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use kassa::config::Settings;
use kassa::worker::{Worker, next_run};

use crate::helpers::{Workspace, repo};

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
    let fixtures = repo().join("fixtures/demo");
    ws.config(&format!(
        "[worker]\nschedule = \"0 6 * * *\"\ntimezone = \"Europe/Moscow\"\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n",
        fixtures.join("ads.csv").display().to_string(),
        fixtures.join("crm.csv").display().to_string(),
    ));
    Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_runs_the_cycle_and_the_endpoints_report_it() {
    let ws = Workspace::new();
    let settings = demo_settings(&ws);
    let worker = Worker::new(settings, Vec::new());

    // One step, driven directly: 2025-06-30 06:00 Moscow.
    let now = "Europe/Moscow"
        .parse::<Tz>()
        .unwrap()
        .with_ymd_and_hms(2025, 6, 30, 6, 0, 0)
        .unwrap();
    let outcome = worker
        .tick(now.with_timezone(&Utc))
        .await
        .unwrap()
        .expect("the store was free");
    assert_eq!(outcome.sources.len(), 2);
    assert!(outcome.sources.iter().all(|s| s.errors.is_empty()));

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
    for expected in [
        "kassa_runs_total{outcome=\"ok\"} 1",
        "# TYPE kassa_last_success_timestamp_seconds gauge",
        "kassa_findings{kind=\"activity_without_money\"}",
        "kassa_alerts_pending 0",
        "kassa_next_run_timestamp_seconds",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected:?} missing from:\n{metrics}"
        );
    }
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
