//! The HTTP behaviour every platform connector shares: timeouts, retries with exponential
//! backoff and jitter, `Retry-After`, and error classification by status *and* body.
//!
//! Platforms disagree on how they say "slow down": Meta answers HTTP 400 with an error code in
//! the body, Bitrix24 answers 503, Salesforce 403, HubSpot 429 without `Retry-After`. So the
//! retry loop lives here once, and each connector passes a small classifier that reads its own
//! platform's failure bodies. Connectors never sleep or loop on their own.
//!
//! Nothing here logs or returns a URL with its query string or any header value: tokens travel
//! in headers and in platform-provided paging URLs, and must never reach a log line.

use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};

use super::{ErrorKind, SourceError};

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
    /// Per-request timeout. `None` disables it, which tests on tokio's paused clock need: a
    /// paused clock jumps straight to the next timer while the test waits on a loopback socket.
    pub timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_server_wait: Duration::from_secs(300),
            timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// What a platform's classifier decided about a failed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: ErrorKind,
    /// Whether trying again can help (throttling, server trouble).
    pub retryable: bool,
    /// The wait the platform asked for, if it said.
    pub wait: Option<Duration>,
    /// A human summary from the platform's own error body, free of secrets.
    pub message: String,
}

impl Failure {
    pub fn fatal(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            retryable: false,
            wait: None,
            message: message.into(),
        }
    }

    pub fn retry(kind: ErrorKind, wait: Option<Duration>, message: impl Into<String>) -> Failure {
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
            Failure::retry(ErrorKind::Throttled, retry_after(headers), message)
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Failure::fatal(ErrorKind::Auth, message)
        }
        s if s.is_server_error() => {
            Failure::retry(ErrorKind::Server, retry_after(headers), message)
        }
        _ => Failure::fatal(ErrorKind::Rejected, message),
    }
}

/// `Retry-After` in its delay-seconds form (the form Slack, HubSpot and most APIs use).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
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
    pub json: Option<serde_json::Value>,
}

impl Request {
    pub fn get(url: Url) -> Request {
        Request {
            method: Method::GET,
            url,
            query: Vec::new(),
            json: None,
        }
    }

    pub fn post_json(url: Url, body: serde_json::Value) -> Request {
        Request {
            method: Method::POST,
            url,
            query: Vec::new(),
            json: Some(body),
        }
    }

    pub fn query(mut self, key: &str, value: impl Into<String>) -> Request {
        self.query.push((key.to_string(), value.into()));
        self
    }

    /// The URL's path, safe to log: no host credentials, no query string.
    fn loggable(&self) -> String {
        format!("{} {}", self.method, self.url.path())
    }
}

/// An HTTP client for one source: its token, its retry policy, its platform's classifier.
pub struct HttpClient {
    client: reqwest::Client,
    token: Option<SecretString>,
    policy: RetryPolicy,
    classifier: Classifier,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("policy", &self.policy)
            .finish()
    }
}

impl HttpClient {
    pub fn new(
        token: Option<SecretString>,
        policy: RetryPolicy,
        classifier: Classifier,
    ) -> Result<HttpClient, reqwest::Error> {
        let mut builder =
            reqwest::Client::builder().user_agent(concat!("kassa/", env!("CARGO_PKG_VERSION")));
        if let Some(timeout) = policy.timeout {
            builder = builder
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(10)));
        }
        let client = builder.build()?;
        Ok(HttpClient {
            client,
            token,
            policy,
            classifier,
        })
    }

    /// Sends `request` until it succeeds, fails for good, or runs out of attempts, and returns
    /// the successful body as text. Errors carry the platform's message, never the URL's query.
    pub async fn send(&self, request: &Request) -> Result<String, SourceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(request).await {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            let exhausted = attempt >= self.policy.max_attempts;
            if !failure.retryable || exhausted {
                let message = if failure.retryable {
                    format!("{} (gave up after {attempt} attempts)", failure.message)
                } else {
                    failure.message
                };
                return Err(SourceError::new(failure.kind, message));
            }
            let wait = match failure.wait {
                Some(asked) if asked > self.policy.max_server_wait => {
                    return Err(SourceError::new(
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

    /// Sends and parses a JSON answer.
    pub async fn send_json(&self, request: &Request) -> Result<serde_json::Value, SourceError> {
        let body = self.send(request).await?;
        serde_json::from_str(&body).map_err(|e| {
            SourceError::new(
                ErrorKind::Decode,
                format!(
                    "the answer to {} is not valid JSON: {e}",
                    request.loggable()
                ),
            )
        })
    }

    async fn attempt(&self, request: &Request) -> Result<String, Failure> {
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone());
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(json) = &request.json {
            builder = builder.json(json);
        }
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token.expose_secret());
        }
        let response = builder.send().await.map_err(network_failure)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(network_failure)?;
        if status.is_success() {
            return Ok(body);
        }
        Err((self.classifier)(status, &headers, &body)
            .unwrap_or_else(|| classify_by_status(status, &headers, &body)))
        .map_err(|mut failure| {
            failure.message = format!("HTTP {}: {}", status.as_u16(), failure.message);
            failure
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

/// Connection trouble and timeouts are worth retrying. `without_url` keeps paging URLs (which
/// can carry tokens) out of the message.
fn network_failure(error: reqwest::Error) -> Failure {
    let error = error.without_url();
    let message = if error.is_timeout() {
        "the request timed out".to_string()
    } else if error.is_connect() {
        format!("could not connect: {error}")
    } else {
        format!("network error: {error}")
    };
    Failure::retry(ErrorKind::Network, None, message)
}

/// Resolves a platform-provided link (a `paging.next` URL) and refuses to follow it off the
/// configured host: our bearer token must never travel anywhere else.
pub fn same_origin_link(base: &Url, link: &str) -> Result<Url, SourceError> {
    let url = base
        .join(link)
        .map_err(|e| SourceError::new(ErrorKind::Decode, format!("unreadable paging link: {e}")))?;
    if url.origin() != base.origin() {
        return Err(SourceError::new(
            ErrorKind::Decode,
            format!(
                "the paging link points to another host ({}); refusing to send the token there",
                url.host_str().unwrap_or("?")
            ),
        ));
    }
    Ok(url)
}
