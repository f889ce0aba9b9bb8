//! Rows of the fault matrix (`docs/reliability.md`) that no other module covered: a
//! connection dropped before the answer, a body cut mid-transfer, a body that trickles in
//! slower than the timeout, a page shorter than the page size that still continues, a
//! failure in the middle of a paginated pull, and a `Retry-After` too large for any clock. Every
//! server is on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kassa::domain::Pulled;
use kassa::http::{FailureKind, HttpClient, Request, RetryPolicy, Timeouts};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer};

use crate::fakes::{TokenFrom, answer, meta, ok, requests};
use crate::helpers::{Workspace, range};

/// Serves each accepted connection with `serve(connection number, stream)` on its own thread.
fn server(serve: fn(usize, TcpStream)) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let n = count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || serve(n, stream));
        }
    });
    (url, accepted)
}

/// Reads the request head, so the client is waiting for the answer.
fn read_request(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buffer = [0; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
}

const BODY: &str = r#"{"data":[]}"#;

fn client(policy: RetryPolicy) -> HttpClient {
    HttpClient::new(None, policy, |_, _, _| None).unwrap()
}

fn quick(timeout: Option<Duration>) -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        timeout: timeout.map(|limit| Timeouts {
            connect: limit,
            total: limit,
        }),
        ..RetryPolicy::default()
    }
}

/// The first connection is dropped by the server after reading the request, without a byte
/// of answer (a reset, a restarting proxy); the client tries again and gets the body.
#[tokio::test]
async fn a_dropped_connection_is_retried_then_succeeds() {
    let (url, accepted) = server(|n, mut stream| {
        read_request(&mut stream);
        if n > 0 {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
                BODY.len()
            );
        }
    });

    let body = client(quick(Some(Duration::from_secs(10))))
        .send(&Request::get(url.parse().unwrap()))
        .await
        .expect("the second attempt is answered");

    assert_eq!(body, BODY);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

/// A body cut short of its `content-length` (the connection dies mid-transfer) is an error,
/// never a short success, however often it is tried.
#[tokio::test]
async fn a_body_cut_mid_transfer_is_an_error_not_a_short_success() {
    let (url, accepted) = server(|_, mut stream| {
        read_request(&mut stream);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\nconnection: close\r\n\r\n{}",
            &BODY[..5]
        );
    });

    let error = client(quick(Some(Duration::from_secs(10))))
        .send(&Request::get(url.parse().unwrap()))
        .await
        .expect_err("a cut body is not an answer");

    assert_eq!(error.kind, FailureKind::Network, "{error}");
    assert!(accepted.load(Ordering::SeqCst) >= 1);
}

/// A server that sends its headers at once and then a byte every 100 ms never finishes within
/// the request timeout: the timeout covers the whole answer, not only the wait for its first
/// byte, so a trickling body fails as timed out instead of stalling the night.
#[tokio::test]
async fn a_body_slower_than_the_timeout_times_out() {
    let (url, accepted) = server(|_, mut stream| {
        read_request(&mut stream);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n["
        );
        // Ends when the client gives up and the write fails, or after a minute at most.
        for _ in 0..600 {
            std::thread::sleep(Duration::from_millis(100));
            if stream.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let policy = RetryPolicy {
        max_attempts: 2,
        ..quick(Some(Duration::from_millis(400)))
    };
    let started = std::time::Instant::now();

    let error = client(policy)
        .send(&Request::get(url.parse().unwrap()))
        .await
        .expect_err("the body never completes");

    assert_eq!(error.kind, FailureKind::Network, "{error}");
    assert!(error.message.starts_with("timed out"), "{error}");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A page holding fewer rows than the page size that still has a `paging.next` is not the
/// end: the pull follows the link and every row of every page arrives.
#[tokio::test(start_paused = true)]
async fn a_short_page_with_a_next_link_is_followed() {
    let server = MockServer::start().await;
    let next = meta::next_link(&server.uri(), "MQZDZD");
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(query_param_is_missing("after"))
        .respond_with(ok(meta::page(
            vec![meta::row("2024-05-01", "1", "1")],
            Some(&next),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(query_param("after", "MQZDZD"))
        .respond_with(ok(meta::page(
            vec![
                meta::row("2024-05-02", "2", "2"),
                meta::row("2024-05-03", "3", "3"),
            ],
            None,
        )))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, "page_size = 500");

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect("both pages are read");

    let Pulled::Ads(rows) = pull.rows else {
        panic!("ad rows")
    };
    assert_eq!(rows.iter().map(|r| r.clicks).sum::<u64>(), 6);
    assert_eq!(requests(&server).await.len(), 2);
}

/// A backfill whose second page fails stores nothing of that chunk (not the first page's rows
/// as if they were the whole window), fails the run, and the next backfill pulls the chunk whole,
/// without duplicates.
#[tokio::test]
async fn a_failure_mid_pagination_stores_nothing_of_the_chunk() {
    let server = MockServer::start().await;
    let next = meta::next_link(&server.uri(), "MQZDZD");
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(query_param_is_missing("after"))
        .respond_with(ok(meta::page(
            vec![meta::row("2025-01-06", "31", "12.5")],
            Some(&next),
        )))
        .mount(&server)
        .await;
    let page_two = || {
        Mock::given(method("GET"))
            .and(path(meta::INSIGHTS_PATH))
            .and(query_param("after", "MQZDZD"))
    };
    let refused = page_two()
        .respond_with(answer(400).set_body_json(meta::error(100, None, "Invalid parameter")))
        .mount_as_scoped(&server)
        .await;
    let ws = Workspace::new();
    ws.config(&meta::table(
        "meta",
        &server.uri(),
        TokenFrom::Env("KASSA_TEST_META_TOKEN"),
        "channel = \"meta\"",
    ));
    let env = [("KASSA_TEST_META_TOKEN", meta::TOKEN)];
    let backfill = || {
        ws.kassa_with_env(
            &["backfill", "--from", "2025-01-06", "--to", "2025-01-12"],
            &env,
        )
    };
    let meta_clicks = || -> Option<u64> {
        let report = ws
            .kassa_with_env(&["analyze", "--format", "json"], &env)
            .json();
        report["periods"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["channel"] == "meta")
            .map(|p| p["clicks"].as_u64())
            .sum()
    };

    let failed = backfill();
    assert_eq!(failed.code, 1, "its only source failed: {failed:?}");
    assert!(
        failed.stdout.contains("meta: FAILED, 0 of 1 chunks stored"),
        "{}",
        failed.stdout
    );
    let analyze = ws.kassa_with_env(&["analyze", "--format", "json"], &env);
    assert!(
        analyze
            .stderr
            .contains("holds no data for the configured sources (meta)"),
        "nothing of the failed chunk is stored: {analyze:?}"
    );

    drop(refused);
    page_two()
        .respond_with(ok(meta::page(
            vec![meta::row("2025-01-07", "9", "3")],
            None,
        )))
        .mount(&server)
        .await;
    let resumed = backfill();
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert_eq!(meta_clicks(), Some(40), "both pages, once each");
}

/// A `Retry-After` too large for any clock (`1e300` seconds, or beyond `f64`) is a wait longer
/// than kassa waits within a run: refused at once, naming the wait, never a panic.
#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_is_refused_not_a_panic() {
    for absurd in ["1e300", "1e400"] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(answer(429).insert_header("Retry-After", absurd))
            .mount(&server)
            .await;
        let policy = RetryPolicy {
            timeout: None,
            ..RetryPolicy::default()
        };

        let error = client(policy)
            .send(&Request::get(
                format!("{}/x", server.uri()).parse().unwrap(),
            ))
            .await
            .expect_err("no one waits that long");

        assert_eq!(error.kind, FailureKind::Throttled, "{absurd}: {error}");
        assert!(error.message.contains("longer than the 300s"), "{error}");
        assert_eq!(requests(&server).await.len(), 1, "{absurd}: not retried");
    }
}

/// A quota spent for the day (HubSpot's daily limit here; Google Ads' `RESOURCE_EXHAUSTED`
/// and Salesforce's `REQUEST_LIMIT_EXCEEDED` are the same kind) stops the source for the run:
/// a backfill of three weekly chunks asks once, not three times, because every further
/// request would spend tomorrow's allowance; the error says the next run tries again.
#[tokio::test(flavor = "multi_thread")]
async fn a_spent_daily_quota_stops_the_source_for_the_run() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(crate::fakes::hubspot::SEARCH_PATH))
        .respond_with(crate::fakes::hubspot::rate_limited("DAILY"))
        .mount(&server)
        .await;
    let ws = Workspace::new();
    let token = ws.write("secrets/hubspot.token", crate::fakes::hubspot::TOKEN);
    ws.config(&format!(
        "[[sources]]\nname = \"crm\"\nkind = \"hubspot\"\ntoken_file = {:?}\nbase_url = {:?}\nchunk_days = 7\n",
        token.display().to_string(),
        server.uri()
    ));

    let run = ws.kassa(&["backfill", "--from", "2024-05-01", "--to", "2024-05-21"]);

    assert_eq!(run.code, 1, "the only source failed: {run:?}");
    assert_eq!(
        requests(&server).await.len(),
        1,
        "one request, not one per chunk"
    );
    assert!(
        run.stderr.contains("quota for the day spent")
            && run.stderr.contains("the next run tries again"),
        "{}",
        run.stderr
    );
}
