//! Requests that get no answer keep their cause: a refused connection, a timeout and a TLS
//! failure read differently, and an untrusted certificate is not retried. Every server here
//! is on 127.0.0.1: a closed port, a listener that never answers, a TLS server with a
//! certificate no trust store holds (`fixtures/tls/`), a plain TCP server on an https:// URL.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kassa::http::{FailureKind, HttpClient, HttpError, Request, RetryPolicy, Timeouts};

use crate::fakes::{TokenFrom, meta};
use crate::helpers::{Workspace, kassa_bare, repo};

fn client(policy: RetryPolicy) -> HttpClient {
    HttpClient::new(None, policy, |_, _, _| None).unwrap()
}

/// Quick retries, so a test that wrongly retries fails by its count, not by its duration.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

async fn get(client: &HttpClient, url: &str) -> HttpError {
    client
        .send(&Request::get(url.parse().unwrap()))
        .await
        .unwrap_err()
}

/// A port on 127.0.0.1 where nothing listens: bound, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Accepts connections on a thread, counting them, and hands each to `serve`.
fn server(serve: fn(std::net::TcpStream)) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || serve(stream));
        }
    });
    (port, accepted)
}

/// Completes TLS handshakes with the untrusted certificate of `fixtures/tls/`.
fn untrusted_tls(stream: std::net::TcpStream) {
    let read = |name: &str| std::fs::read(repo().join("fixtures/tls").join(name)).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![read("cert.der").into()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(read("key.der")).into(),
        )
        .unwrap();
    let connection = rustls::ServerConnection::new(Arc::new(config)).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, stream);
    // The client gives up during the handshake; what it says back does not matter.
    let _ = tls.read(&mut [0; 64]);
}

/// Answers anything with plain text, as an HTTP port behind an https:// URL would.
fn not_tls(mut stream: std::net::TcpStream) {
    let _ = stream.read(&mut [0; 1024]);
    let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
}

#[tokio::test]
async fn connection_refused_is_named() {
    let port = closed_port();
    let error = get(&client(quick()), &format!("http://127.0.0.1:{port}/x")).await;
    assert_eq!(error.kind, FailureKind::Network, "{error}");
    assert!(
        error
            .message
            .starts_with(&format!("connection refused by 127.0.0.1:{port}")),
        "{error}"
    );
    // Refusals may pass (a restarting server): retried within the run.
    assert!(
        error.message.contains("gave up after 3 attempts"),
        "{error}"
    );
}

/// A listener that accepts (the kernel completes the handshake) and never answers. On tokio's
/// paused clock the timeout fires as soon as nothing else can happen.
#[tokio::test(start_paused = true)]
async fn timeout_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let policy = RetryPolicy {
        timeout: Some(Timeouts::default()),
        ..quick()
    };
    let error = get(&client(policy), &format!("http://127.0.0.1:{port}/x")).await;
    assert_eq!(error.kind, FailureKind::Network, "{error}");
    assert!(error.message.starts_with("timed out"), "{error}");
    assert!(
        error.message.contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
    assert!(!error.message.contains("refused"), "{error}");
    drop(listener);
}

/// The default policy's timeout is the README's 60 s: a server that accepts and never
/// answers is given up on after exactly one minute of (paused, virtual) time per attempt.
#[tokio::test(start_paused = true)]
async fn the_default_timeout_is_sixty_seconds() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let policy = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let started = tokio::time::Instant::now();
    let error = get(&client(policy), &format!("http://127.0.0.1:{port}/x")).await;
    assert!(error.message.starts_with("timed out"), "{error}");
    crate::helpers::assert_waited(started, Duration::from_secs(60)..Duration::from_secs(61));
    drop(listener);
}

#[tokio::test]
async fn tls_error_is_named_and_not_retried() {
    let (port, accepted) = server(untrusted_tls);
    let error = get(&client(quick()), &format!("https://127.0.0.1:{port}/x")).await;
    assert_eq!(error.kind, FailureKind::Tls, "{error}");
    assert!(
        error.message.starts_with(&format!(
            "the TLS certificate of 127.0.0.1:{port} is not trusted"
        )),
        "{error}"
    );
    assert!(error.message.contains("not retried"), "{error}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "retried: {error}");
}

#[tokio::test]
async fn plain_http_behind_an_https_url_is_a_tls_error() {
    let (port, accepted) = server(not_tls);
    let error = get(&client(quick()), &format!("https://127.0.0.1:{port}/x")).await;
    assert_eq!(error.kind, FailureKind::Tls, "{error}");
    assert!(
        error
            .message
            .starts_with(&format!("the TLS handshake with 127.0.0.1:{port} failed")),
        "{error}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "retried: {error}");
}

/// Through the binary: a source behind an untrusted certificate fails once, says what to fix
/// instead of promising a retry, and, being the only source, fails the command (exit 1). The
/// certificate verifier's own log line is not a second copy.
#[test]
fn untrusted_certificate_needs_a_person() {
    let (port, accepted) = server(untrusted_tls);
    let ws = Workspace::new();
    ws.config(&meta::table(
        "meta",
        &format!("https://127.0.0.1:{port}"),
        TokenFrom::Env("KASSA_TEST_META_TOKEN"),
        "",
    ));
    let config = ws.path().join("kassa.toml").display().to_string();
    let run = kassa_bare(
        ws.path(),
        &[
            "--config",
            &config,
            "backfill",
            "--from",
            "2025-01-06",
            "--to",
            "2025-01-12",
        ],
        &[("KASSA_TEST_META_TOKEN", meta::TOKEN)],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr.matches("not trusted").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("UnknownIssuer").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "source \"meta\", 2025-01-06..2025-01-12: TLS failure: the TLS certificate of 127.0.0.1:{port} is not trusted"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("meta: FAILED, 0 of 1 chunks stored; the rest stays uncovered: fix the TLS problem named below"),
        "{}",
        run.stdout
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "retried: {run:?}");
}

/// Answers once: reads the request, waits `headers_after`, then sends `body` with its length,
/// one byte every `byte_every` (all at once when zero). A tokio task on the test's runtime, so
/// its waits run on the same paused clock as the client's timeouts.
async fn slow_server(headers_after: Duration, body: &'static [u8], byte_every: Duration) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let _ = stream.read(&mut [0; 4096]).await;
        tokio::time::sleep(headers_after).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        if byte_every.is_zero() {
            let _ = stream.write_all(body).await;
            return;
        }
        for byte in body {
            tokio::time::sleep(byte_every).await;
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    });
    port
}

/// The connect timeout (10 s) does not cut an answer that takes longer to come; the total
/// (60 s) covers the body too, so a body trickling in a byte every 5 s (each byte well inside
/// the connect timeout) is a timeout at 60 s, not a night-long wait.
#[tokio::test(start_paused = true)]
async fn connect_and_total_timeouts_are_separate() {
    let policy = RetryPolicy {
        max_attempts: 1,
        timeout: Some(Timeouts::default()),
        ..quick()
    };
    assert_eq!(
        Timeouts::default(),
        Timeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(60)
        }
    );

    let port = slow_server(Duration::from_secs(30), b"ok", Duration::ZERO).await;
    let started = tokio::time::Instant::now();
    let body = client(policy.clone())
        .send(&Request::get(
            format!("http://127.0.0.1:{port}/slow").parse().unwrap(),
        ))
        .await
        .expect("an answer after 30 s is inside the total timeout");
    assert_eq!(body, "ok");
    assert!(started.elapsed() >= Duration::from_secs(30));

    let port = slow_server(Duration::ZERO, &[b'x'; 100], Duration::from_secs(5)).await;
    let started = tokio::time::Instant::now();
    let error = get(&client(policy), &format!("http://127.0.0.1:{port}/trickle")).await;
    let waited = started.elapsed();
    assert_eq!(error.kind, FailureKind::Network, "{error}");
    assert!(
        error.message.starts_with("timed out waiting for an answer"),
        "{error}"
    );
    assert!(
        (Duration::from_secs(60)..Duration::from_secs(61)).contains(&waited),
        "{waited:?}"
    );
}

/// Sends headers announcing `length` bytes (when given) or a chunked body, then writes zeros
/// until the client goes away: an answer far bigger than anything kassa should read.
fn endless(mut stream: std::net::TcpStream, length: Option<u64>) {
    let _ = stream.read(&mut [0; 1024]);
    let head = match length {
        Some(length) => format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n"),
        None => "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_string(),
    };
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = [b'0'; 8192];
    loop {
        let written = match length {
            Some(_) => stream.write_all(&chunk),
            None => stream
                .write_all(b"2000\r\n")
                .and_then(|()| stream.write_all(&chunk))
                .and_then(|()| stream.write_all(b"\r\n")),
        };
        if written.is_err() {
            return;
        }
    }
}

/// An answer larger than the client's cap fails without being read into memory: refused at
/// once when its `Content-Length` says so (64 MiB for data APIs), and cut off after the cap
/// when it does not say (1 MiB for alert targets); neither is retried.
#[tokio::test]
async fn oversized_body_is_refused() {
    let (port, accepted) = server(|stream| endless(stream, Some(100 * 1024 * 1024)));
    let error = get(
        &client(quick()),
        &format!("http://127.0.0.1:{port}/insights"),
    )
    .await;
    assert_eq!(error.kind, FailureKind::Decode, "{error}");
    assert_eq!(
        error.message,
        "the answer to GET /insights is larger than 64 MiB, the most kassa reads from one answer; not read further"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "retried: {error}");

    let (port, accepted) = server(|stream| endless(stream, None));
    let target = RetryPolicy {
        max_body: kassa::http::TARGET_MAX_BODY,
        ..quick()
    };
    let error = client(target)
        .send(
            &Request::get(format!("http://127.0.0.1:{port}/hook").parse().unwrap())
                .label("POST webhook of alert target bi"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.message,
        "the answer to POST webhook of alert target bi is larger than 1 MiB, the most kassa reads from one answer; not read further"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "retried: {error}");
}

/// Announces ten bytes and sends five before closing on the first connection (a transfer cut
/// short); answers in full on the next.
fn cut_then_whole(mut stream: std::net::TcpStream, first: bool) {
    let _ = stream.read(&mut [0; 1024]);
    let answer: &[u8] = if first {
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\n12345"
    } else {
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\n1234567890"
    };
    let _ = stream.write_all(answer);
}

/// A body shorter than its `Content-Length` (the connection closed mid-body) is a network
/// failure and retried within the run.
#[tokio::test]
async fn a_body_cut_short_is_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().flatten().enumerate() {
            cut_then_whole(stream, i == 0);
        }
    });
    let body = client(quick())
        .send(&Request::get(
            format!("http://127.0.0.1:{port}/x").parse().unwrap(),
        ))
        .await
        .expect("the cut transfer is retried");
    assert_eq!(body, "1234567890");
}
