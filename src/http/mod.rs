//! The HTTP behaviour every connector and every alert target shares: timeouts (to connect, and
//! for the whole request), a cap on the size of an answer, retries with exponential backoff and
//! jitter, `Retry-After`, and error classification by status *and* body.
//!
//! Platforms disagree on how they say "slow down": Meta answers HTTP 400 with an error code in
//! the body, Bitrix24 answers 503, Salesforce 403, HubSpot 429 without `Retry-After`, Telegram
//! puts `retry_after` in its JSON. So the retry loop lives here once, and each platform passes a
//! small classifier that reads its own failure bodies. Callers never sleep or loop on their own.
//!
//! Nothing here logs or returns a URL with its query string or any header value: tokens travel
//! in headers, in paging URLs and (Slack, Telegram) in the URL path itself, so requests are
//! logged by a label, and errors never carry a URL.

use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};

pub mod auth;
pub mod jwt;

pub use auth::{Authenticator, BoxFuture};

/// How persistent the client is. Defaults suit a nightly job: patient, but bounded.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
    /// First backoff; doubles with every retry.
    pub base_delay: Duration,
    /// Longest backoff between two attempts.
    pub max_delay: Duration,
    /// Longest server-requested wait we accept; a platform asking for more fails the request
    /// (it will be retried by the next run) instead of stalling the whole night.
    pub max_server_wait: Duration,
    /// How long connecting and a whole request may take. `None` disables both, which tests
    /// on tokio's paused clock need: a paused clock jumps straight to the next timer while the
    /// test waits on a loopback socket.
    pub timeout: Option<Timeouts>,
    /// The largest answer read, in bytes: a bigger one fails the request (not retried) instead
    /// of filling the memory. Alert targets read at most [`TARGET_MAX_BODY`].
    pub max_body: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_server_wait: Duration::from_secs(300),
            timeout: Some(Timeouts::default()),
            max_body: DATA_MAX_BODY,
        }
    }
}

/// The most a data API's answer may hold: a page of insights or deals is a few megabytes at
/// most, so 64 MiB is far beyond any honest answer and still fits in memory.
pub const DATA_MAX_BODY: u64 = 64 * 1024 * 1024;

/// The most an alert target's answer may hold: targets answer `ok` or a short JSON.
pub const TARGET_MAX_BODY: u64 = 1024 * 1024;

/// Two separate limits: a host that does not accept the connection fails fast, while an
/// answer may take its time up to the total, which also covers reading the body, so a body
/// trickling in byte by byte cannot hold a run forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (TCP and TLS).
    pub connect: Duration,
    /// The whole request: connecting, sending, waiting and reading the body.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(60),
        }
    }
}

/// What kind of failure a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Credentials missing, expired or refused.
    Auth,
    /// The platform asked us to slow down and kept asking.
    Throttled,
    /// The platform's allowance for the day (or a rolling 24 hours) is spent: no wait within
    /// a run helps, so the source stops for the run and the next run tries again.
    QuotaSpent,
    /// The platform had trouble (5xx) and kept having it.
    Server,
    /// Could not reach the platform, or it timed out.
    Network,
    /// The platform refused the request as made.
    Rejected,
    /// The answer was not in the documented format.
    Decode,
    /// The TLS handshake failed, typically an untrusted certificate: a setup problem that
    /// waiting does not fix.
    Tls,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Auth => "auth",
            FailureKind::Throttled => "throttled",
            FailureKind::QuotaSpent => "quota_spent",
            FailureKind::Server => "server",
            FailureKind::Network => "network",
            FailureKind::Rejected => "rejected",
            FailureKind::Decode => "decode",
            FailureKind::Tls => "tls",
        }
    }
}

/// A request that failed for good: what kind of failure, and the platform's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub kind: FailureKind,
    pub message: String,
}

impl HttpError {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> HttpError {
        HttpError {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// What a platform's classifier decided about a failed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: FailureKind,
    /// Whether trying again can help (throttling, server trouble).
    pub retryable: bool,
    /// The wait the platform asked for, if it said.
    pub wait: Option<Duration>,
    /// A human summary from the platform's own error body, free of secrets.
    pub message: String,
}

impl Failure {
    pub fn fatal(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            retryable: false,
            wait: None,
            message: message.into(),
        }
    }

    pub fn retry(kind: FailureKind, wait: Option<Duration>, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            retryable: true,
            wait,
            message: message.into(),
        }
    }
}

/// Reads a platform's failed answer. Returning `None` defers to [`classify_by_status`].
pub type Classifier = fn(StatusCode, &HeaderMap, &str) -> Option<Failure>;

/// The classification every platform starts from: 429 and 5xx are worth retrying (honouring
/// `Retry-After`), 401/403 are credentials, anything else is a request we should not repeat.
pub fn classify_by_status(status: StatusCode, headers: &HeaderMap, body: &str) -> Failure {
    let message = summarize_body(body);
    match status {
        StatusCode::TOO_MANY_REQUESTS => {
            Failure::retry(FailureKind::Throttled, retry_after(headers), message)
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Failure::fatal(FailureKind::Auth, message)
        }
        s if s.is_server_error() => {
            Failure::retry(FailureKind::Server, retry_after(headers), message)
        }
        _ => Failure::fatal(FailureKind::Rejected, message),
    }
}

/// `Retry-After` in its delay-seconds form (the form Slack, HubSpot and most APIs use).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<f64>().ok().and_then(wait_of_seconds)
}

/// A wait a server asked for in (fractional) seconds; `None` when it is negative or not a
/// number. A wait too long for a `Duration` (`1e300`) saturates rather than panicking, so the
/// retry loop refuses it as longer than `max_server_wait`.
pub fn wait_of_seconds(seconds: f64) -> Option<Duration> {
    (!seconds.is_nan() && seconds >= 0.0)
        .then(|| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// The first few hundred characters of a body, on one line, for error messages.
pub fn summarize_body(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "(empty body)".to_string();
    }
    let mut cut: String = one_line.chars().take(300).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    cut
}

/// One request, rebuilt for every attempt.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub json: Option<serde_json::Value>,
    /// A raw body sent as JSON, for callers that sign the exact bytes.
    pub body: Option<String>,
    /// What logs call this request; `None` logs the URL's path.
    pub label: Option<String>,
}

impl Request {
    pub fn get(url: Url) -> Request {
        Request {
            method: Method::GET,
            url,
            query: Vec::new(),
            headers: Vec::new(),
            json: None,
            body: None,
            label: None,
        }
    }

    pub fn post_json(url: Url, body: serde_json::Value) -> Request {
        Request {
            method: Method::POST,
            url,
            query: Vec::new(),
            headers: Vec::new(),
            json: Some(body),
            body: None,
            label: None,
        }
    }

    /// A POST of exactly these bytes as `application/json` (signed payloads).
    pub fn post_raw_json(url: Url, body: String) -> Request {
        Request {
            method: Method::POST,
            url,
            query: Vec::new(),
            headers: Vec::new(),
            json: None,
            body: Some(body),
            label: None,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Logs name the request by `label` instead of its path (for URLs that hold secrets).
    pub fn label(mut self, label: impl Into<String>) -> Request {
        self.label = Some(label.into());
        self
    }

    pub fn query(mut self, key: &str, value: impl Into<String>) -> Request {
        self.query.push((key.to_string(), value.into()));
        self
    }

    /// The URL's path, safe to log: no host credentials, no query string.
    fn loggable(&self) -> String {
        match &self.label {
            Some(label) => label.clone(),
            None => format!("{} {}", self.method, self.url.path()),
        }
    }
}

/// A successful answer: its status, its headers, its body as text.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// An HTTP client for one source or alert target: its credentials, its retry policy, its
/// platform's classifier.
pub struct HttpClient {
    client: reqwest::Client,
    auth: Option<Box<dyn Authenticator>>,
    policy: RetryPolicy,
    classifier: Classifier,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Authenticators redact their own secrets.
        f.debug_struct("HttpClient")
            .field("auth", &self.auth)
            .field("policy", &self.policy)
            .finish()
    }
}

/// One failed attempt, and whether the platform refused the credentials it carried.
struct Attempted {
    failure: Failure,
    credentials_refused: bool,
}

impl From<Failure> for Attempted {
    fn from(failure: Failure) -> Attempted {
        Attempted {
            failure,
            credentials_refused: false,
        }
    }
}

impl HttpClient {
    pub fn new(
        auth: Option<Box<dyn Authenticator>>,
        policy: RetryPolicy,
        classifier: Classifier,
    ) -> Result<HttpClient, reqwest::Error> {
        // Never follow a redirect, never send `Referer`: a redirect must not carry a token, a
        // webhook path or a signed body to another host (DESIGN, reliability rules).
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("kassa/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .referer(false);
        if let Some(timeouts) = policy.timeout {
            builder = builder
                .timeout(timeouts.total)
                .connect_timeout(timeouts.connect);
        }
        let client = builder.build()?;
        Ok(HttpClient {
            client,
            auth,
            policy,
            classifier,
        })
    }

    /// Sends `request` until it succeeds, fails for good, or runs out of attempts, and returns
    /// the successful body as text. Errors carry the platform's message, never the URL's query.
    pub async fn send(&self, request: &Request) -> Result<String, HttpError> {
        self.send_and_read(request, |answer| Ok(answer.body)).await
    }

    /// Sends `request` and hands every successful answer (any 2xx, with its status and
    /// headers) to `read`, whose failure is retried or not like any other: for platforms whose
    /// 2xx statuses mean different things (Yandex Direct's 201/202 "report queued").
    pub async fn send_with<T>(
        &self,
        request: &Request,
        read: impl Fn(Answer) -> Result<T, Failure>,
    ) -> Result<T, HttpError> {
        self.send_and_read(request, read).await
    }

    /// Sends and parses a JSON answer. An answer that ends in the middle of its JSON was cut
    /// short on the way (a proxy, a dropped connection that still closed cleanly): it is
    /// retried like a network failure, and reported as undecodable only if every attempt is cut.
    pub async fn send_json(&self, request: &Request) -> Result<serde_json::Value, HttpError> {
        self.send_and_read(request, |answer| parse_json(request, &answer.body))
            .await
    }

    /// [`HttpClient::send_json`] for platforms that answer "nothing found" with `204 No
    /// Content` (amoCRM): `None` then, never an undecodable answer.
    pub async fn send_json_or_empty(
        &self,
        request: &Request,
    ) -> Result<Option<serde_json::Value>, HttpError> {
        self.send_and_read(request, |answer| {
            if answer.status == StatusCode::NO_CONTENT {
                Ok(None)
            } else {
                parse_json(request, &answer.body).map(Some)
            }
        })
        .await
    }

    /// The retry loop: each attempt's successful body goes through `read`, whose failure is
    /// retried or not like any other.
    async fn send_and_read<T>(
        &self,
        request: &Request,
        read: impl Fn(Answer) -> Result<T, Failure>,
    ) -> Result<T, HttpError> {
        let mut attempt = 0;
        let mut renewed = false;
        loop {
            attempt += 1;
            let answer = self
                .attempt(request)
                .await
                .and_then(|answer| read(answer).map_err(Attempted::from));
            let failure = match answer {
                Ok(body) => return Ok(body),
                Err(Attempted {
                    credentials_refused: true,
                    failure,
                }) if !renewed && attempt < self.policy.max_attempts => {
                    // An access token can die before its announced expiry; one that can be
                    // renewed gets exactly one more try, at once.
                    match &self.auth {
                        Some(auth) if auth.refused() => {
                            renewed = true;
                            tracing::warn!(
                                request = %request.loggable(),
                                "credentials refused, renewing them: {}",
                                failure.message
                            );
                            continue;
                        }
                        _ => failure,
                    }
                }
                Err(attempted) => attempted.failure,
            };
            let exhausted = attempt >= self.policy.max_attempts;
            if !failure.retryable || exhausted {
                let message = if failure.retryable {
                    format!("{} (gave up after {attempt} attempts)", failure.message)
                } else {
                    failure.message
                };
                return Err(HttpError::new(failure.kind, message));
            }
            let wait = match failure.wait {
                Some(asked) if asked > self.policy.max_server_wait => {
                    return Err(HttpError::new(
                        failure.kind,
                        format!(
                            "{} (the platform asked to wait {}s, longer than the {}s kassa waits within one run)",
                            failure.message,
                            asked.as_secs(),
                            self.policy.max_server_wait.as_secs()
                        ),
                    ));
                }
                Some(asked) => asked,
                None => self.backoff(attempt),
            };
            tracing::warn!(
                request = %request.loggable(),
                attempt,
                wait_ms = wait.as_millis() as u64,
                kind = failure.kind.as_str(),
                "request failed, retrying: {}",
                failure.message
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, request: &Request) -> Result<Answer, Attempted> {
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone());
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(json) = &request.json {
            builder = builder.json(json);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(auth) = &self.auth {
            for (name, value) in auth.headers(&self.client).await? {
                builder = builder.header(name, value);
            }
        }
        let response = builder.send().await.map_err(network_failure)?;
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(failure) = redirect_failure(status, &headers) {
            return Err(failure.into());
        }
        let body = read_body(response, self.policy.max_body, &request.loggable()).await?;
        if status.is_success() {
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
        let mut failure = (self.classifier)(status, &headers, &body)
            .unwrap_or_else(|| classify_by_status(status, &headers, &body));
        failure.message = format!("HTTP {}: {}", status.as_u16(), failure.message);
        Err(Attempted {
            credentials_refused: status == StatusCode::UNAUTHORIZED,
            failure,
        })
    }

    /// Exponential backoff with full jitter: a random wait up to `base * 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self
            .policy
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.policy.max_delay);
        let jitter = rand::rng().random_range(0.5..=1.0);
        ceiling.mul_f64(jitter)
    }
}

/// Parses a successful answer; one that ends mid-document was cut short and is retried.
fn parse_json(request: &Request, body: &str) -> Result<serde_json::Value, Failure> {
    serde_json::from_str(body).map_err(|e| {
        let message = format!(
            "the answer to {} is not valid JSON: {e}",
            request.loggable()
        );
        if e.is_eof() {
            Failure::retry(FailureKind::Decode, None, format!("{message} (cut short)"))
        } else {
            Failure::fatal(FailureKind::Decode, message)
        }
    })
}

/// Reads an answer's body chunk by chunk, up to `limit` bytes: a larger one (announced by its
/// `Content-Length` or found while reading) fails without being read further. A connection
/// that breaks mid-body, or closes before its announced length, is a network failure and so is
/// retried. `what` names the request in the message.
async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
    what: &str,
) -> Result<String, Failure> {
    let too_large = || {
        Failure::fatal(
            FailureKind::Decode,
            format!(
                "the answer to {what} is larger than {}, the most kassa reads from one answer; not read further",
                size_text(limit)
            ),
        )
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(network_failure)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// A byte count as people write limits: `64 MiB`, `1 MiB`, `512 KiB`, `100 bytes`.
fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A 3xx answer, which kassa never follows: a failure naming the status and the host it points
/// to, never the redirect's path or query (they may hold what the request was protecting).
/// `None` for any other status.
fn redirect_failure(status: StatusCode, headers: &HeaderMap) -> Option<Failure> {
    if !status.is_redirection() {
        return None;
    }
    let target = headers
        .get(reqwest::header::LOCATION)
        .and_then(|location| location.to_str().ok())
        .and_then(|location| Url::parse(location).ok())
        .and_then(|url| url.host_str().map(|host| format!("to {host}")))
        .unwrap_or_else(|| "elsewhere on the same host".to_string());
    Some(Failure::fatal(
        FailureKind::Rejected,
        format!(
            "HTTP {}: the server redirects {target}; kassa never follows redirects (check the configured URL)",
            status.as_u16()
        ),
    ))
}

/// Why a request got no answer at all. reqwest folds these into one error type; they differ in
/// what a person checks and in whether waiting can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoAnswer {
    /// The host name did not resolve: a typo in the URL, or this machine's DNS.
    Dns,
    /// Nothing listens at the address (or a firewall says so).
    Refused,
    /// No connection or no answer within the timeout.
    Timeout { connecting: bool },
    /// The server's certificate is not trusted: a setup problem (an intercepting proxy, a
    /// missing CA bundle), which no retry fixes.
    Untrusted,
    /// The TLS handshake failed otherwise (often: not an HTTPS port).
    Tls,
    /// Any other failure to connect, or a connection that broke.
    Other { connecting: bool },
}

impl NoAnswer {
    /// Reads reqwest's error and the chain of causes under it (hyper's, the socket's,
    /// rustls').
    fn of(error: &reqwest::Error) -> NoAnswer {
        let causes = causes(error);
        let tls = causes
            .iter()
            .find_map(|cause| cause.downcast_ref::<rustls::Error>());
        let refused = causes.iter().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        });
        match tls {
            Some(rustls::Error::InvalidCertificate(_)) => NoAnswer::Untrusted,
            Some(_) => NoAnswer::Tls,
            None if error.is_timeout() => NoAnswer::Timeout {
                connecting: error.is_connect(),
            },
            None if error.is_dns() => NoAnswer::Dns,
            None if refused => NoAnswer::Refused,
            None => NoAnswer::Other {
                connecting: error.is_connect(),
            },
        }
    }

    /// The failure, in words naming the host (never the path or query, which may hold a
    /// token). DNS trouble, refusals and timeouts may pass by the next attempt; TLS failures
    /// will not.
    fn failure(self, host: &str, detail: &str) -> Failure {
        let network = |message: String| Failure::retry(FailureKind::Network, None, message);
        match self {
            NoAnswer::Dns => network(format!(
                "cannot resolve the host name {host} (DNS lookup failed: {detail}); check the host in the URL and this machine's DNS"
            )),
            NoAnswer::Refused => network(format!(
                "connection refused by {host}: nothing listens there, or a firewall refuses the connection"
            )),
            NoAnswer::Timeout { connecting: true } => {
                network(format!("timed out connecting to {host}"))
            }
            NoAnswer::Timeout { connecting: false } => {
                network(format!("timed out waiting for an answer from {host}"))
            }
            NoAnswer::Untrusted => Failure::fatal(
                FailureKind::Tls,
                format!(
                    "the TLS certificate of {host} is not trusted ({detail}); not retried: if a proxy intercepts HTTPS, add its CA to this machine's trust store, otherwise check the host in the URL"
                ),
            ),
            NoAnswer::Tls => Failure::fatal(
                FailureKind::Tls,
                format!(
                    "the TLS handshake with {host} failed ({detail}); not retried: check that the URL points at an HTTPS port"
                ),
            ),
            NoAnswer::Other { connecting: true } => {
                network(format!("could not connect to {host}: {detail}"))
            }
            NoAnswer::Other { connecting: false } => {
                network(format!("the connection to {host} failed: {detail}"))
            }
        }
    }
}

/// A request that got no answer, classified by its cause (see [`NoAnswer`]). The message names
/// the host and port only: paging URLs and webhook paths can carry tokens.
fn network_failure(error: reqwest::Error) -> Failure {
    let host = error
        .url()
        .and_then(|url| {
            let host = url.host_str()?;
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            })
        })
        .unwrap_or_else(|| "the server".to_string());
    let error = error.without_url();
    NoAnswer::of(&error).failure(&host, &deepest_cause(&error))
}

/// The innermost cause's words ("Connection refused (os error 111)", "invalid peer
/// certificate: UnknownIssuer"): reqwest's own ("error sending request") says little.
fn deepest_cause(error: &reqwest::Error) -> String {
    causes(error)
        .last()
        .map_or_else(|| error.to_string(), |cause| cause.to_string())
}

/// The causes under `error`, outermost first. An `io::Error` answers `source()` with the
/// source of the error it wraps, skipping that error itself (rustls' certificate verdict,
/// wrapped twice by the TLS connector): each one is opened with `get_ref` instead.
fn causes(error: &reqwest::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut causes: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    let mut next = std::error::Error::source(error);
    while let Some(cause) = next {
        causes.push(cause);
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(wrapped) => Some(wrapped),
            None => cause.source(),
        };
    }
    causes
}

/// Resolves a platform-provided link (a `paging.next` URL) and refuses to follow it off the
/// configured host: our bearer token must never travel anywhere else.
pub fn same_origin_link(base: &Url, link: &str) -> Result<Url, HttpError> {
    let url = base
        .join(link)
        .map_err(|e| HttpError::new(FailureKind::Decode, format!("unreadable paging link: {e}")))?;
    if url.origin() != base.origin() {
        return Err(HttpError::new(
            FailureKind::Decode,
            format!(
                "the paging link points to another host ({}); refusing to send the token there",
                url.host_str().unwrap_or("?")
            ),
        ));
    }
    Ok(url)
}

/// Remembers the paging cursors (or `next` links) of one listing, so a platform that hands out
/// the same cursor twice ends the pull with an error instead of an endless loop.
#[derive(Debug, Default)]
pub struct PageGuard {
    seen: std::collections::HashSet<String>,
}

impl PageGuard {
    /// Records `cursor`; fails if it was already followed.
    pub fn follow(&mut self, cursor: &str) -> Result<(), HttpError> {
        if self.seen.insert(cursor.to_string()) {
            Ok(())
        } else {
            Err(HttpError::new(
                FailureKind::Decode,
                format!(
                    "the platform returned a paging cursor it had already returned (after {} pages); stopping rather than looping",
                    self.seen.len()
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_cursor_stops_the_listing() {
        let mut guard = PageGuard::default();
        assert!(guard.follow("a").is_ok());
        assert!(guard.follow("b").is_ok());
        let error = guard.follow("a").unwrap_err();
        assert_eq!(error.kind, FailureKind::Decode);
        assert!(
            error.message.contains("already returned"),
            "{}",
            error.message
        );
    }

    /// A DNS failure cannot be caused on loopback without asking a resolver, so the words are
    /// checked here: each cause reads differently, and only TLS failures are final.
    #[test]
    fn dns_failure_is_named() {
        let host = "graph.facebook.com";
        let detail = "failed to lookup address information: Name or service not known";
        let dns = NoAnswer::Dns.failure(host, detail);
        assert_eq!((dns.kind, dns.retryable), (FailureKind::Network, true));
        assert!(
            dns.message
                .starts_with("cannot resolve the host name graph.facebook.com (DNS lookup failed: failed to lookup"),
            "{}",
            dns.message
        );
        let causes = [
            NoAnswer::Dns,
            NoAnswer::Refused,
            NoAnswer::Timeout { connecting: true },
            NoAnswer::Timeout { connecting: false },
            NoAnswer::Untrusted,
            NoAnswer::Tls,
            NoAnswer::Other { connecting: true },
            NoAnswer::Other { connecting: false },
        ];
        let openings: std::collections::HashSet<String> = causes
            .iter()
            .map(|cause| cause.failure(host, detail).message[..20].to_string())
            .collect();
        assert_eq!(openings.len(), causes.len(), "{openings:?}");
        for cause in causes {
            let failure = cause.failure(host, detail);
            let tls = matches!(cause, NoAnswer::Untrusted | NoAnswer::Tls);
            assert_eq!(failure.retryable, !tls, "{cause:?}");
            assert_eq!(failure.kind == FailureKind::Tls, tls, "{cause:?}");
        }
    }

    #[test]
    fn retry_after_reads_delay_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
