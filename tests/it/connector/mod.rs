//! The connector contract: the checks every HTTP source must pass, whatever its platform.
//!
//! A platform's fake (`fakes/<platform>.rs`) implements [`Platform`]: what the contract needs
//! to know about its wire format (one valid page with or without a continuation, an empty
//! page, its throttling answer and the wait that answer must cause, how it pages). The checks
//! below are generic over it, and [`connector_contract!`] turns them into one `#[tokio::test]`
//! each, so a connector gets the whole contract in one line:
//!
//! ```ignore
//! connector_contract!(contract, fakes::meta::Meta);
//! ```
//!
//! Every check builds the real source from a `[[sources]]` table (through
//! [`crate::helpers::source_config`]) against a fake on 127.0.0.1, runs on tokio's paused
//! clock, and fails if the behaviour it names were broken.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use kassa::domain::DateRange;
use kassa::sources::{ErrorKind, RetryPolicy, Source, SourceError};
use serde_json::Value;
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fakes::{answer, requests};
use crate::helpers::{Workspace, assert_waited, d, range, script};

/// How a platform hands out its next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// A full URL to fetch (Meta's `paging.next`): it must stay on the configured host.
    Link,
    /// An opaque cursor sent back to the configured endpoint (HubSpot's `after`); any link
    /// beside it is never followed.
    Cursor,
    /// No pages: one answer holds the whole result (Yandex Direct's reports). The paging
    /// checks have nothing to check; a later answer is reached through
    /// [`Platform::continued`] instead (a report queued, asked for again).
    None,
}

/// Where a page says the next one is: the fake at `host`, at `cursor`. A link-paging platform
/// writes it as a link to `host`; a cursor-paging platform sends `cursor` (and, where its wire
/// format has one, a link to `host` beside it).
#[derive(Debug, Clone, Copy)]
pub struct Next<'a> {
    pub host: &'a str,
    pub cursor: &'a str,
}

/// What the contract needs to know about a platform; implemented by its fake.
pub trait Platform {
    /// The `[[sources]]` `kind`.
    const KIND: &'static str;
    /// The name of the source [`Platform::source`] builds.
    const SOURCE: &'static str;
    /// The token that source is given: distinctive, so finding it anywhere is a leak.
    const TOKEN: &'static str;
    /// The method and path of the request that pulls data.
    const METHOD: &'static str;
    const DATA_PATH: &'static str;
    const PAGING: Paging;
    /// The least wait [`Platform::throttled`] must cause. Pick an answer whose wait differs
    /// from what the connector would wait without reading it (the policy's sub-second first
    /// backoff, a platform's fallback), so the check proves the answer was read.
    const THROTTLE_WAIT: Duration;

    /// Builds the source from a `[[sources]]` table pointing at `server`, for the paused clock.
    fn source(server: &MockServer) -> (Workspace, Source);

    /// A valid page holding one row (an ad day, a deal) on `day`, continued at `next` if given.
    fn page(day: NaiveDate, next: Option<Next<'_>>) -> Value;

    /// A valid page holding nothing, with no continuation.
    fn empty_page() -> Value;

    /// The platform's own "slow down" answer, headers included.
    fn throttled() -> ResponseTemplate;

    /// The `Content-Type` of a page, and a page as the platform writes it on the wire: JSON,
    /// unless the platform answers in another format (Yandex Direct's TSV, carried in a JSON
    /// string by [`Platform::page`]).
    const CONTENT_TYPE: &'static str = "application/json";
    fn body(page: &Value) -> String {
        page.to_string()
    }

    /// An answer holding a row on `day` after which the source asks again: a page continued at
    /// `next`, or whatever makes a platform without pages send a second request.
    fn continued(day: NaiveDate, next: Next<'_>) -> ResponseTemplate {
        ok_page::<Self>(Self::page(day, Some(next)))
    }

    /// Mounts the platform's endpoints other than [`Platform::DATA_PATH`] that a pull needs
    /// (VK Ads: its token endpoint and the statistics of the objects the data path lists) on
    /// every fake a check builds a source for; the checks count data requests only.
    fn support(_server: &MockServer) -> impl std::future::Future<Output = ()> {
        async {}
    }
}

/// A 200 carrying `page` as the platform writes it.
pub fn ok_page<P: Platform + ?Sized>(page: Value) -> ResponseTemplate {
    answer(200).set_body_raw(P::body(&page), P::CONTENT_TYPE)
}

/// Expands to one `#[tokio::test]` per contract check for `$platform`, in a module `$module`.
macro_rules! connector_contract {
    ($module:ident, $platform:ty) => {
        $crate::connector::connector_contract!(@checks $module, $platform;
            an_error_names_source_and_range_and_never_the_token,
            the_token_never_reaches_the_logs,
            a_server_error_is_retried_then_succeeds,
            throttling_in_the_platforms_own_dialect_is_honoured,
            a_repeated_paging_cursor_stops_the_pull,
            an_off_host_paging_link_is_never_followed,
            an_empty_result_is_covered_with_zero_rows,
            truncated_json_is_a_decode_error_naming_source_and_range,
            truncated_body_is_retried_once,
            a_redirect_is_never_followed,
        );
    };
    (@checks $module:ident, $platform:ty; $($check:ident,)+) => {
        /// The connector contract (`tests/it/connector`): the checks every HTTP source passes.
        mod $module {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[tokio::test(start_paused = true)]
                async fn $check() {
                    $crate::connector::$check::<$platform>().await;
                }
            )+
        }
    };
}
pub(crate) use connector_contract;

/// The range every check pulls, and the day its rows fall on.
fn week() -> DateRange {
    range("2024-05-01", "2024-05-07")
}

fn day() -> NaiveDate {
    d("2024-05-02")
}

/// The platform's source, checked to be the connector the platform names, with the
/// platform's supporting endpoints mounted on `server`.
async fn built<P: Platform>(server: &MockServer) -> (Workspace, Source) {
    P::support(server).await;
    let (workspace, source) = P::source(server);
    assert_eq!(source.kind(), P::KIND);
    assert_eq!(source.name(), P::SOURCE);
    (workspace, source)
}

/// The requests `server` received on the platform's data path.
async fn data_requests<P: Platform>(server: &MockServer) -> Vec<wiremock::Request> {
    let mut all = requests(server).await;
    all.retain(|r| r.url.path() == P::DATA_PATH);
    all
}

/// An answer whose one row falls in [`week`], continued on the fake at `host`.
fn continued_at<P: Platform>(host: &str) -> ResponseTemplate {
    P::continued(
        day(),
        Next {
            host,
            cursor: "MQZDZD",
        },
    )
}

/// A fake whose first data answer is a page continued on the fake itself and whose every later
/// answer is `later`, and the platform's source pointing at it: a failure on a later page,
/// reached through the continuation (for link-paging platforms, a link carrying the token).
async fn first_page_then<P: Platform>(later: ResponseTemplate) -> (MockServer, Workspace, Source) {
    let server = MockServer::start().await;
    let first = continued_at::<P>(&server.uri());
    script(&server, P::METHOD, P::DATA_PATH, first, later).await;
    let (workspace, source) = built::<P>(&server).await;
    (server, workspace, source)
}

/// Answers every data request with `response`.
pub async fn always<P: Platform>(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method(P::METHOD))
        .and(path(P::DATA_PATH))
        .respond_with(response)
        .mount(server)
        .await;
}

/// The checks every error that reaches a user must pass: it names the source and the date
/// range, and neither its `Display` nor its `Debug` holds the token.
pub fn assert_names_source_and_range<P: Platform>(error: &SourceError, range_text: &str) {
    let shown = error.to_string();
    assert!(
        shown.contains(&format!("source {:?}", P::SOURCE)),
        "no source name in: {shown}"
    );
    assert!(shown.contains(range_text), "no date range in: {shown}");
    assert!(!shown.contains(P::TOKEN), "the token leaked into: {shown}");
    let debug = format!("{error:?}");
    assert!(
        !debug.contains(P::TOKEN),
        "the token leaked into Debug: {debug}"
    );
}

/// An error on a later page (reached through a continuation, which for link-paging platforms
/// carries the token in its query) names the source and the range, and the token appears in
/// neither the error nor the `Debug` of the source that carries it.
pub async fn an_error_names_source_and_range_and_never_the_token<P: Platform>() {
    let hiccup = answer(200).set_body_string("<html>upstream hiccup</html>");
    let (server, _workspace, source) = first_page_then::<P>(hiccup).await;

    let error = source
        .pull(week())
        .await
        .expect_err("the second page is not JSON");

    assert_eq!(error.kind, ErrorKind::Decode, "{error}");
    assert_names_source_and_range::<P>(&error, &week().to_string());
    assert_eq!(
        data_requests::<P>(&server).await.len(),
        2,
        "it failed on the second page"
    );
    let debug = format!("{source:?}");
    assert!(debug.contains(P::SOURCE), "{debug}");
    assert!(
        !debug.contains(P::TOKEN),
        "the token leaked into the source's Debug: {debug}"
    );
}

/// `tracing` output of one thread, captured in memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the log buffer")).into_owned()
    }
}

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<LogBuffer>> = const { std::cell::RefCell::new(None) };
}

/// Writes into the calling thread's [`LogBuffer`], if it is capturing; elsewhere, nowhere.
struct ThreadCapture;

impl io::Write for ThreadCapture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        CAPTURING.with_borrow(|buffer| {
            if let Some(buffer) = buffer {
                buffer
                    .0
                    .lock()
                    .expect("the log buffer")
                    .extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Captures every event, at every level, logged on this thread until the buffer's guard is
/// dropped. One process-wide subscriber does the capturing, installed once: a subscriber set
/// per thread (`set_default`) races with other tests' threads, because `tracing` caches each
/// call site's interest process-wide, and a thread without a subscriber can cache "never" for
/// a call site at the very moment this one installs its own, silently dropping the lines under
/// test.
fn capture_logs() -> (LogBuffer, impl Drop) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| ThreadCapture)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test installs a global subscriber");
    });
    struct StopCapturing;
    impl Drop for StopCapturing {
        fn drop(&mut self) {
            CAPTURING.set(None);
        }
    }
    let buffer = LogBuffer::default();
    CAPTURING.set(Some(buffer.clone()));
    (buffer, StopCapturing)
}

/// Every event at every level, while a pull retries a later page and then gives up, is
/// captured (the paused-clock test runtime runs on this thread); the token appears nowhere in
/// it, while the retry warnings do.
pub async fn the_token_never_reaches_the_logs<P: Platform>() {
    let (logs, _capturing) = capture_logs();
    let trouble = answer(502).set_body_string("Bad Gateway");
    let (server, _workspace, source) = first_page_then::<P>(trouble).await;

    let error = source
        .pull(week())
        .await
        .expect_err("the second page never comes");

    assert_eq!(error.kind, ErrorKind::Server, "{error}");
    let attempts = RetryPolicy::default().max_attempts as usize;
    assert_eq!(data_requests::<P>(&server).await.len(), 1 + attempts);
    let logged = logs.text();
    assert!(
        logged.contains("request failed, retrying"),
        "no retry warning was captured:\n{logged}"
    );
    assert!(
        !logged.contains(P::TOKEN),
        "the token reached the logs:\n{logged}"
    );
}

/// A 5xx is retried after the retry policy's first backoff (0.25 to 0.5 s), and the rows of
/// the answer that follows arrive.
pub async fn a_server_error_is_retried_then_succeeds<P: Platform>() {
    let server = MockServer::start().await;
    let trouble = answer(502).set_body_string("Bad Gateway");
    script(
        &server,
        P::METHOD,
        P::DATA_PATH,
        trouble,
        ok_page::<P>(P::page(day(), None)),
    )
    .await;
    let (_workspace, source) = built::<P>(&server).await;
    let started = Instant::now();

    let pull = source.pull(week()).await.expect("the 502 is retried");

    assert_eq!(pull.rows.len(), 1);
    assert_eq!(data_requests::<P>(&server).await.len(), 2);
    assert_waited(
        started,
        Duration::from_millis(250)..Duration::from_millis(501),
    );
}

/// The platform's own throttling answer is retried after the wait it asks for (measured on
/// the paused clock), not after a generic backoff, and the rows then arrive.
pub async fn throttling_in_the_platforms_own_dialect_is_honoured<P: Platform>() {
    let server = MockServer::start().await;
    script(
        &server,
        P::METHOD,
        P::DATA_PATH,
        P::throttled(),
        ok_page::<P>(P::page(day(), None)),
    )
    .await;
    let (_workspace, source) = built::<P>(&server).await;
    let started = Instant::now();

    let pull = source
        .pull(week())
        .await
        .expect("the pull succeeds after the wait");

    assert_eq!(pull.rows.len(), 1);
    assert_eq!(data_requests::<P>(&server).await.len(), 2);
    assert_waited(
        started,
        P::THROTTLE_WAIT..P::THROTTLE_WAIT + Duration::from_secs(1),
    );
}

/// A platform that hands out the same continuation again ends the pull with an error at the
/// first repeat. The fake repeats it five times and then ends the listing, so a connector that
/// loops gets rows instead of an error and fails the check rather than hanging it.
pub async fn a_repeated_paging_cursor_stops_the_pull<P: Platform>() {
    if P::PAGING == Paging::None {
        return; // No cursor to repeat.
    }
    let server = MockServer::start().await;
    let again = continued_at::<P>(&server.uri());
    Mock::given(method(P::METHOD))
        .and(path(P::DATA_PATH))
        .respond_with(again)
        .up_to_n_times(5)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method(P::METHOD))
        .and(path(P::DATA_PATH))
        .respond_with(ok_page::<P>(P::empty_page()))
        .with_priority(2)
        .mount(&server)
        .await;
    let (_workspace, source) = built::<P>(&server).await;

    let error = source
        .pull(week())
        .await
        .expect_err("the repeated cursor stops the pull");

    assert_eq!(error.kind, ErrorKind::Decode, "{error}");
    assert_names_source_and_range::<P>(&error, &week().to_string());
    assert_eq!(
        data_requests::<P>(&server).await.len(),
        2,
        "stopped at the first repeat"
    );
}

/// A continuation that points off the configured host (another port of 127.0.0.1 where a fake
/// listens, and 127.0.0.2 where nothing does) is never followed: a link-paging platform's pull
/// fails before anything is sent there; a cursor-paging platform sends the cursor back to its
/// own host and ignores the link. Nothing reaches the other host either way.
pub async fn an_off_host_paging_link_is_never_followed<P: Platform>() {
    if P::PAGING == Paging::None {
        return; // No link to follow.
    }
    let elsewhere = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ok_page::<P>(P::empty_page()))
        .mount(&elsewhere)
        .await;
    for host in [elsewhere.uri(), "http://127.0.0.2:1".to_string()] {
        let server = MockServer::start().await;
        let first = continued_at::<P>(&host);
        script(
            &server,
            P::METHOD,
            P::DATA_PATH,
            first,
            ok_page::<P>(P::empty_page()),
        )
        .await;
        let (_workspace, source) = built::<P>(&server).await;

        let pulled = source.pull(week()).await;

        match P::PAGING {
            Paging::Link => {
                let error = pulled.expect_err("the link to another host is refused");
                assert_eq!(error.kind, ErrorKind::Decode, "{host}: {error}");
                assert!(error.to_string().contains("another host"), "{error}");
                assert_names_source_and_range::<P>(&error, &week().to_string());
                assert_eq!(data_requests::<P>(&server).await.len(), 1, "{host}");
            }
            Paging::Cursor | Paging::None => {
                let pull = pulled
                    .unwrap_or_else(|e| panic!("{host}: the cursor goes to the own host: {e}"));
                assert_eq!(pull.rows.len(), 1, "{host}");
                assert_eq!(data_requests::<P>(&server).await.len(), 2, "{host}");
            }
        }
    }
    assert!(
        requests(&elsewhere).await.is_empty(),
        "the other host was contacted"
    );
}

/// A range with no data is a success that covers the whole range with zero rows: "nothing
/// happened", which is different from "we do not know".
pub async fn an_empty_result_is_covered_with_zero_rows<P: Platform>() {
    let server = MockServer::start().await;
    always::<P>(&server, ok_page::<P>(P::empty_page())).await;
    let (_workspace, source) = built::<P>(&server).await;

    let pull = source
        .pull(week())
        .await
        .expect("an empty range is a success");

    assert_eq!(pull.covered, Some(week()));
    assert!(pull.rows.is_empty(), "{:?}", pull.rows);
    assert_eq!(data_requests::<P>(&server).await.len(), 1);
}

/// A 200 whose JSON is cut mid-object every time (a proxy's limit) is, once the attempts are
/// spent, a `Decode` error naming the source and the range, never a short success.
pub async fn truncated_json_is_a_decode_error_naming_source_and_range<P: Platform>() {
    let whole = P::body(&P::page(day(), None));
    let cut = whole[..whole.len() / 2].to_string();
    let server = MockServer::start().await;
    always::<P>(&server, answer(200).set_body_raw(cut, P::CONTENT_TYPE)).await;
    let (_workspace, source) = built::<P>(&server).await;

    let error = source
        .pull(week())
        .await
        .expect_err("a cut answer is an error");

    assert_eq!(error.kind, ErrorKind::Decode, "{error}");
    assert_names_source_and_range::<P>(&error, &week().to_string());
    // Every attempt was cut: retried within the policy, then reported.
    let attempts = RetryPolicy::default().max_attempts as usize;
    assert_eq!(data_requests::<P>(&server).await.len(), attempts, "{error}");
    assert!(error.message.contains("gave up after"), "{error}");
}

/// An answer cut short on the way (its JSON ends mid-document) is retried like a network
/// failure, so one bad transfer does not lose the night; the whole answer that follows is used.
pub async fn truncated_body_is_retried_once<P: Platform>() {
    let whole = P::body(&P::page(day(), None));
    let cut = whole[..whole.len() / 2].to_string();
    let server = MockServer::start().await;
    script(
        &server,
        P::METHOD,
        P::DATA_PATH,
        answer(200).set_body_raw(cut, P::CONTENT_TYPE),
        ok_page::<P>(P::page(day(), None)),
    )
    .await;
    let (_workspace, source) = built::<P>(&server).await;

    let pull = source
        .pull(week())
        .await
        .expect("the cut answer is retried");

    assert_eq!(pull.rows.len(), 1);
    assert_eq!(data_requests::<P>(&server).await.len(), 2);
}

/// A data request answered with a redirect to another host (another loopback port) fails at
/// once as rejected, naming the status and that host but not the redirect's path; the other
/// host receives nothing, so neither the token nor the request body travels there.
pub async fn a_redirect_is_never_followed<P: Platform>() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    always::<P>(&elsewhere, ok_page::<P>(P::empty_page())).await;
    let location = format!("{}{}?stolen=secret-path", elsewhere.uri(), P::DATA_PATH);
    always::<P>(
        &server,
        answer(307).insert_header("Location", location.as_str()),
    )
    .await;
    let (_workspace, source) = built::<P>(&server).await;

    let error = source
        .pull(week())
        .await
        .expect_err("a redirect is a failure");

    assert_eq!(error.kind, ErrorKind::Rejected, "{error}");
    assert_names_source_and_range::<P>(&error, &week().to_string());
    let shown = error.to_string();
    assert!(
        shown.contains("HTTP 307") && shown.contains("redirects to 127.0.0.1"),
        "{shown}"
    );
    assert!(
        !shown.contains("secret-path"),
        "the redirect's query leaked: {shown}"
    );
    assert_eq!(data_requests::<P>(&server).await.len(), 1, "not retried");
    assert!(
        requests(&elsewhere).await.is_empty(),
        "the redirect was followed"
    );
}
