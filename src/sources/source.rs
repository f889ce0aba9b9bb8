//! The toolbox every connector imports: the two traits a connector implements, the errors it
//! returns, and the kit that builds its HTTP client, reads its secrets and checks its URLs.
//!
//! A connector is two types (Vector's component pattern):
//! 1. a config struct, deserialised from one `[[sources]]` table with
//!    `#[serde(deny_unknown_fields)]`, implementing [`ConnectorConfig`]: it names its common
//!    settings, validates itself without I/O (reporting every problem it finds), and builds
//! 2. the running source, implementing [`Connector`]: `pull` one date range, `probe` once for
//!    `kassa check`, and say how many days one request may ask for.
//!
//! The registry in [`super`] lists the config structs; this module knows none of them, so the
//! arrows run one way: registry -> connectors -> toolbox. Retries, backoff, throttling, paging
//! safety and credentials come from [`crate::http`]; a connector adds only its wire format and a
//! classifier for its platform's error bodies.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};

use super::channels::LegacyChannels;
use crate::domain::{DateRange, Pulled, RowKind};
use crate::http::auth::{MemoryTokenCache, TokenCache};
use crate::http::{Authenticator, Classifier, FailureKind, HttpClient, HttpError, RetryPolicy};
use crate::secrets::{SecretSpec, is_safe_transport, parse_secret_url, process_env};
use crate::validation::Problems;

pub use crate::http::BoxFuture;

/// The settings of one `[[sources]]` table, validated without I/O, and how to build the
/// running source from them.
pub trait ConnectorConfig: fmt::Debug + Send + Sync {
    /// The source's name (`name` key): errors, logs and the store refer to it.
    fn name(&self) -> &str;

    /// The `lookback_days` key, if set.
    fn configured_lookback_days(&self) -> Option<u32>;

    /// How many trailing days the nightly run re-pulls when `lookback_days` is not set: as far
    /// back as the platform restates its numbers.
    fn default_lookback_days(&self) -> u32;

    /// Whether the source yields ad rows or deals.
    fn row_kind(&self) -> RowKind;

    /// Checks the kind's own keys (the common ones are checked by the registry) without I/O
    /// beyond looking at environment variables and whether named files exist. `key` is where
    /// the table sits, e.g. `sources[2]`.
    fn validate(&self, key: &str, problems: &mut Problems);

    /// Makes the table's relative file paths (a CSV `path`, a `token_file`) relative to `base`,
    /// the configuration file's directory, so kassa reads the same files from any working
    /// directory (cron starts in `$HOME`). Kinds without file keys keep the default.
    fn resolve_paths(&mut self, _base: &Path) {}

    /// Resolves secrets and returns the running source.
    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError>;

    /// The time zone the source's days are in, when the configuration settles it without
    /// asking the platform (`None`: ask the running source, [`Connector::timezone`]). A day is
    /// complete for the source once it has ended there. CRMs date their deals in the
    /// business's zone, `business`, which is the default.
    fn timezone(&self, business: Tz) -> Option<Tz> {
        Some(business)
    }

    /// The older channel-mapping keys the table sets, read as rules, so `kassa check` and
    /// every run can show the `[[sources.channel_rules]]` to paste in their place; `None`
    /// when it sets none (or the kind never had any).
    fn legacy_channels(&self) -> Option<LegacyChannels> {
        None
    }
}

/// Reads an optional `timezone` key (an IANA name), reporting a bad one under `key`.
pub fn validate_timezone(value: Option<&str>, key: &str, problems: &mut Problems) {
    if let Some(text) = value
        && text.parse::<Tz>().is_err()
    {
        problems.push_with_example(
            format!("{key}.timezone"),
            format!("{text:?} is not an IANA time zone name"),
            "timezone = \"Europe/Moscow\"",
        );
    }
}

/// A running source, ready to pull date ranges. Errors need not name the source or the range:
/// [`super::Source`] attaches both.
pub trait Connector: fmt::Debug + Send + Sync {
    /// Every row of `range`.
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>>;

    /// Reaches the source once (reads the file header, or makes one small API call) and says
    /// what it found, so `kassa check` can prove credentials work before the first night.
    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>>;

    /// The longest range one request should ask for; `None` reads everything at once (files).
    fn chunk_days(&self) -> Option<u32> {
        None
    }

    /// The time zone the platform reports days in, asked once when the configuration does not
    /// say ([`ConnectorConfig::timezone`]); `None` when the platform does not tell.
    fn timezone(&self) -> BoxFuture<'_, Result<Option<Tz>, SourceError>> {
        Box::pin(async { Ok(None) })
    }
}

/// What building a source needs from the rest of the configuration.
#[derive(Clone)]
pub struct BuildContext {
    /// The business's time zone: CRM instants become dates in it.
    pub timezone: Tz,
    pub retry: RetryPolicy,
    /// Where OAuth2 access tokens (and rotated refresh tokens) live between runs.
    pub tokens: Arc<dyn TokenCache>,
}

impl BuildContext {
    /// A context whose tokens last as long as the process.
    pub fn new(timezone: Tz, retry: RetryPolicy) -> BuildContext {
        BuildContext {
            timezone,
            retry,
            tokens: Arc::new(MemoryTokenCache::default()),
        }
    }
}

impl fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildContext")
            .field("timezone", &self.timezone)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// The connector kit's HTTP client: the shared retry policy, the platform's classifier and
/// its credentials.
pub fn http_client(
    context: &BuildContext,
    auth: Option<Box<dyn Authenticator>>,
    classifier: Classifier,
) -> Result<HttpClient, SourceError> {
    HttpClient::new(auth, context.retry.clone(), classifier).map_err(|e| {
        SourceError::new(
            ErrorKind::Config,
            format!("cannot build the HTTP client: {}", e.without_url()),
        )
    })
}

/// What kind of failure a source hit; decides whether retrying can help and how it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Credentials missing, expired or refused.
    Auth,
    /// The platform asked us to slow down and kept asking.
    Throttled,
    /// The platform's allowance for the day is spent (HubSpot's daily limit, Google Ads'
    /// daily operations, Salesforce's rolling 24-hour requests): the source stops for the
    /// run, its remaining chunks are not asked for, and the next run tries again.
    QuotaSpent,
    /// The platform had trouble (5xx) and kept having it.
    Server,
    /// Could not reach the platform, or it timed out.
    Network,
    /// The TLS handshake failed (an untrusted certificate, not an HTTPS port).
    Tls,
    /// The platform refused the request as made (4xx other than auth and throttling).
    Rejected,
    /// The answer was not in the documented format.
    Decode,
    /// A record had a value we cannot accept (negative spend, unknown status, ...).
    InvalidData,
    /// A file could not be read.
    Io,
    /// The source's own setup is unusable (missing secret file, bad URL).
    Config,
    /// What the source returned could not be written to the store (a full disk, a path that
    /// cannot be written): the source fails, the rest of the run goes on.
    Store,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "authentication failed",
            ErrorKind::Throttled => "rate-limited",
            ErrorKind::QuotaSpent => "quota for the day spent",
            ErrorKind::Server => "platform error",
            ErrorKind::Network => "network error",
            ErrorKind::Tls => "TLS failure",
            ErrorKind::Rejected => "request rejected",
            ErrorKind::Decode => "unexpected answer",
            ErrorKind::InvalidData => "invalid data",
            ErrorKind::Io => "cannot read",
            ErrorKind::Config => "configuration",
            ErrorKind::Store => "cannot write the store",
        }
    }
}

impl From<FailureKind> for ErrorKind {
    fn from(kind: FailureKind) -> ErrorKind {
        match kind {
            FailureKind::Auth => ErrorKind::Auth,
            FailureKind::Throttled => ErrorKind::Throttled,
            FailureKind::QuotaSpent => ErrorKind::QuotaSpent,
            FailureKind::Server => ErrorKind::Server,
            FailureKind::Network => ErrorKind::Network,
            FailureKind::Rejected => ErrorKind::Rejected,
            FailureKind::Decode => ErrorKind::Decode,
            FailureKind::Tls => ErrorKind::Tls,
        }
    }
}

impl From<HttpError> for SourceError {
    fn from(error: HttpError) -> SourceError {
        SourceError::new(error.kind.into(), error.message)
    }
}

/// A failed pull: which source, which date range, what went wrong. The message names the field
/// or the file position where it can; it never contains a token or a URL's query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub kind: ErrorKind,
    pub message: String,
    pub source_name: Option<String>,
    pub range: Option<DateRange>,
}

impl SourceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> SourceError {
        SourceError {
            kind,
            message: message.into(),
            source_name: None,
            range: None,
        }
    }

    /// A record that breaks the contract, naming the field.
    pub fn invalid(field: &str, message: impl fmt::Display) -> SourceError {
        SourceError::new(
            ErrorKind::InvalidData,
            format!("field `{field}`: {message}"),
        )
    }

    /// Attaches the source name and date range, which every error reaching a user must carry.
    pub fn in_source(mut self, name: &str, range: Option<DateRange>) -> SourceError {
        self.source_name.get_or_insert_with(|| name.to_string());
        if self.range.is_none() {
            self.range = range;
        }
        self
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source_name, &self.range) {
            (Some(name), Some(range)) => write!(f, "source {name:?}, {range}: ")?,
            (Some(name), None) => write!(f, "source {name:?}: ")?,
            (None, Some(range)) => write!(f, "{range}: ")?,
            (None, None) => {}
        }
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for SourceError {}

/// The rows of one successful pull and the days they account for.
#[derive(Debug, Clone, PartialEq)]
pub struct Pull {
    pub rows: Pulled,
    /// The days this pull vouches for. An API answering for a range covers all of it; a CSV
    /// export covers only the span of days its file actually reaches.
    pub covered: Option<DateRange>,
    /// What the user should know about rows that were accepted (days with no rows, a file
    /// that ends before the range does, clicks without impressions), in words. The pipeline
    /// logs them as warnings and keeps them in the source's outcome.
    pub warnings: Vec<String>,
}

/// Where one of a connector's secrets comes from: an environment variable (`<prefix>_env`) or
/// a file (`<prefix>_file`), never the TOML itself. Reading and checking it is shared with
/// alert targets in [`crate::secrets`].
#[derive(Debug, Clone)]
pub struct SecretRef {
    /// What the secret is, for messages: "token", "refresh token", "client secret".
    pub what: &'static str,
    /// The config keys, e.g. `token_env` and `token_file`.
    pub env_key: &'static str,
    pub file_key: &'static str,
    pub env: Option<String>,
    pub file: Option<PathBuf>,
    /// A complete config line to show when the secret is missing, naming this platform.
    pub example: String,
}

impl SecretRef {
    /// A connector's API token from its `token_env` / `token_file` keys. `example_env` is the
    /// variable the "missing token" message suggests, e.g. `KASSA_HUBSPOT_TOKEN`.
    pub fn token(
        token_env: &Option<String>,
        token_file: &Option<PathBuf>,
        example_env: &str,
    ) -> SecretRef {
        SecretRef {
            what: "token",
            env_key: "token_env",
            file_key: "token_file",
            env: token_env.clone(),
            file: token_file.clone(),
            example: format!("token_env = \"{example_env}\""),
        }
    }

    /// A URL that is itself the secret, from `url_env` / `url_file`: Bitrix24's inbound
    /// webhook (`https://<portal>/rest/<user>/<key>/`) carries its key in the path.
    pub fn url(
        url_env: &Option<String>,
        url_file: &Option<PathBuf>,
        example_env: &str,
    ) -> SecretRef {
        SecretRef {
            what: "webhook URL",
            env_key: "url_env",
            file_key: "url_file",
            env: url_env.clone(),
            file: url_file.clone(),
            example: format!("url_env = \"{example_env}\""),
        }
    }

    fn spec(&self) -> SecretSpec<'_> {
        SecretSpec {
            what: self.what,
            env_key: self.env_key,
            file_key: self.file_key,
            env: self.env.as_deref(),
            file: self.file.as_deref(),
            example: &self.example,
        }
    }

    pub fn validate(&self, key: &str, problems: &mut Problems) {
        self.spec().validate(key, &process_env, problems);
    }

    /// Reads the secret. The error names where it looked, never what it found.
    pub fn resolve(&self) -> Result<SecretString, SourceError> {
        self.spec()
            .resolve()
            .map_err(|e| SourceError::new(ErrorKind::Config, e.0))
    }

    /// [`SecretRef::validate`] for a secret URL: one given in the environment is also checked
    /// for shape (https, or http on loopback) without quoting it; one in a file is checked by
    /// [`SecretRef::resolve_url`].
    pub fn validate_url(&self, key: &str, problems: &mut Problems) {
        let spec = self.spec();
        if let Some(value) = spec.validate(key, &process_env, problems)
            && let Err(problem) = parse_secret_url(value.expose_secret())
        {
            problems.push(
                format!("{key}.{}", self.env_key),
                format!("{} {problem}", spec.origin()),
            );
        }
    }

    /// Reads a secret URL and checks that it may be sent to. Neither the error nor the
    /// result's `Debug` shows the URL.
    pub fn resolve_url(&self) -> Result<SecretUrl, SourceError> {
        let value = self.resolve()?;
        parse_secret_url(value.expose_secret())
            .map(SecretUrl)
            .map_err(|problem| {
                SourceError::new(
                    ErrorKind::Config,
                    format!("{} {problem}", self.spec().origin()),
                )
            })
    }
}

/// A URL that carries its own secret. Requests built on it must be given a
/// [`crate::http::Request::label`], so logs never show its path.
#[derive(Clone)]
pub struct SecretUrl(url::Url);

impl SecretUrl {
    /// The URL itself, to build requests on; never log or format it.
    pub fn expose(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretUrl({}://{}/[redacted])",
            self.0.scheme(),
            self.0.host_str().unwrap_or("?")
        )
    }
}

/// Checks a configured base URL; plain `http://` only for loopback (test fakes, local proxies).
pub fn validate_base_url(url: &str, key: &str, problems: &mut Problems) {
    match url::Url::parse(url) {
        Ok(parsed) if is_safe_transport(&parsed) => {}
        Ok(_) => problems.push(
            key,
            format!(
                "{url:?} must use https:// (plain http:// is accepted for loopback addresses only)"
            ),
        ),
        Err(e) => problems.push_with_example(
            key,
            format!("{url:?} is not a URL: {e}"),
            "base_url = \"https://graph.facebook.com\"",
        ),
    }
}

/// Parses a base URL that validation already accepted, making sure it ends with a slash so
/// relative joins append to it.
pub fn parse_base_url(url: &str) -> Result<url::Url, SourceError> {
    let with_slash = if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    };
    url::Url::parse(&with_slash).map_err(|e| {
        SourceError::new(
            ErrorKind::Config,
            format!("base_url {url:?} is not a URL: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_url_in_the_environment_is_checked_for_shape_when_validating() {
        // PATH is set wherever tests run, and it is not a URL.
        let mut problems = Problems::default();
        SecretRef::url(&Some("PATH".to_string()), &None, "KASSA_BITRIX_URL")
            .validate_url("sources[0]", &mut problems);
        let problem = problems.iter().next().expect("one problem");
        assert_eq!(problem.key, "sources[0].url_env");
        assert!(
            problem.message.contains("the environment variable PATH")
                && problem.message.contains("URL"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn a_secret_url_is_checked_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        std::fs::write(&good, "https://portal.bitrix24.ru/rest/1/s3cretkey/\n").unwrap();
        let url = SecretRef::url(&None, &Some(good), "KASSA_BITRIX_URL")
            .resolve_url()
            .unwrap();
        assert_eq!(url.expose().path(), "/rest/1/s3cretkey/");
        let shown = format!("{url:?}");
        assert!(
            shown.contains("portal.bitrix24.ru") && !shown.contains("s3cret"),
            "{shown}"
        );

        let plain = dir.path().join("plain");
        std::fs::write(&plain, "http://portal.example.com/rest/1/s3cretkey/").unwrap();
        let error = SecretRef::url(&None, &Some(plain), "KASSA_BITRIX_URL")
            .resolve_url()
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Config);
        assert!(error.message.contains("https://"), "{}", error.message);
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
