//! Sources: one module per platform, each turning its wire format into [`AdDay`] or [`Deal`]
//! rows and nothing else.
//!
//! Every source follows the same two steps (Vector's component pattern):
//! 1. a [`SourceConfig`] variant, deserialised from a `[[sources]]` table, that validates
//!    itself without I/O and reports every problem it finds;
//! 2. [`SourceConfig::build`], which resolves secrets and returns a running [`Source`] whose
//!    [`Source::pull`] fetches one date range.
//!
//! Adding a platform means adding a module with its config struct, its wire-format parsing and,
//! for HTTP platforms, a classifier for its error bodies; retries, backoff, paging-link safety
//! and secret handling come from [`crate::http`]. Sources know nothing of the store or the analysis.
//!
//! [`AdDay`]: crate::domain::AdDay
//! [`Deal`]: crate::domain::Deal

pub mod csv_ads;
mod csv_common;
pub mod csv_crm;
pub mod hubspot;
pub mod meta;
pub mod wire;

use std::fmt;
use std::path::PathBuf;

use chrono_tz::Tz;
use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::{DateRange, Pulled, RowKind};
use crate::secrets::{SecretSpec, is_safe_transport, process_env};
use crate::validation::{Problems, validate_name};

pub use crate::http::RetryPolicy;
use crate::http::{FailureKind, HttpError};

/// What kind of failure a source hit; decides whether retrying can help and how it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Credentials missing, expired or refused.
    Auth,
    /// The platform asked us to slow down and kept asking.
    Throttled,
    /// The platform had trouble (5xx) and kept having it.
    Server,
    /// Could not reach the platform, or it timed out.
    Network,
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
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "authentication failed",
            ErrorKind::Throttled => "rate-limited",
            ErrorKind::Server => "platform error",
            ErrorKind::Network => "network error",
            ErrorKind::Rejected => "request rejected",
            ErrorKind::Decode => "unexpected answer",
            ErrorKind::InvalidData => "invalid data",
            ErrorKind::Io => "cannot read",
            ErrorKind::Config => "configuration",
        }
    }
}

impl From<FailureKind> for ErrorKind {
    fn from(kind: FailureKind) -> ErrorKind {
        match kind {
            FailureKind::Auth => ErrorKind::Auth,
            FailureKind::Throttled => ErrorKind::Throttled,
            FailureKind::Server => ErrorKind::Server,
            FailureKind::Network => ErrorKind::Network,
            FailureKind::Rejected => ErrorKind::Rejected,
            FailureKind::Decode => ErrorKind::Decode,
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

/// One `[[sources]]` table. The `kind` key picks the variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    CsvAds(csv_ads::CsvAdsConfig),
    CsvCrm(csv_crm::CsvCrmConfig),
    Meta(meta::MetaConfig),
    Hubspot(hubspot::HubSpotConfig),
}

/// The kinds `SourceConfig` accepts, for error messages.
pub const SOURCE_KINDS: &str = "csv_ads, csv_crm, meta, hubspot";

/// What building a source needs from the rest of the configuration.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The business's time zone: CRM instants become dates in it.
    pub timezone: Tz,
    pub retry: RetryPolicy,
}

impl SourceConfig {
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::CsvAds(c) => &c.name,
            SourceConfig::CsvCrm(c) => &c.name,
            SourceConfig::Meta(c) => &c.name,
            SourceConfig::Hubspot(c) => &c.name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::CsvAds(_) => "csv_ads",
            SourceConfig::CsvCrm(_) => "csv_crm",
            SourceConfig::Meta(_) => "meta",
            SourceConfig::Hubspot(_) => "hubspot",
        }
    }

    /// How many trailing days the nightly run re-pulls: as far back as the platform restates
    /// its numbers (Meta's attribution reaches 28 days; CRM deals change at any time).
    pub fn lookback_days(&self) -> u32 {
        let (configured, default) = match self {
            SourceConfig::CsvAds(c) => (c.lookback_days, 28),
            SourceConfig::CsvCrm(c) => (c.lookback_days, 30),
            SourceConfig::Meta(c) => (c.lookback_days, 28),
            SourceConfig::Hubspot(c) => (c.lookback_days, 30),
        };
        configured.unwrap_or(default)
    }

    pub fn row_kind(&self) -> RowKind {
        match self {
            SourceConfig::CsvAds(_) | SourceConfig::Meta(_) => RowKind::Ads,
            SourceConfig::CsvCrm(_) | SourceConfig::Hubspot(_) => RowKind::Deals,
        }
    }

    /// Checks the section without I/O beyond looking at environment variables and whether
    /// named files exist. `key` is where this table sits, e.g. `sources[2]`.
    pub fn validate(&self, key: &str, problems: &mut Problems) {
        validate_name(
            self.name(),
            &format!("{key}.name"),
            "source",
            "meta-main",
            problems,
        );
        if !(1..=366).contains(&self.lookback_days()) {
            problems.push_with_example(
                format!("{key}.lookback_days"),
                format!(
                    "{} is out of range; use 1 to 366 days",
                    self.lookback_days()
                ),
                "lookback_days = 28",
            );
        }
        match self {
            SourceConfig::CsvAds(c) => c.validate(key, problems),
            SourceConfig::CsvCrm(c) => c.validate(key, problems),
            SourceConfig::Meta(c) => c.validate(key, problems),
            SourceConfig::Hubspot(c) => c.validate(key, problems),
        }
    }

    pub fn build(&self, context: &BuildContext) -> Result<Source, SourceError> {
        let built = match self {
            SourceConfig::CsvAds(c) => Ok(Source::CsvAds(c.build())),
            SourceConfig::CsvCrm(c) => Ok(Source::CsvCrm(c.build())),
            SourceConfig::Meta(c) => c.build(context).map(Source::Meta),
            SourceConfig::Hubspot(c) => c.build(context).map(Source::Hubspot),
        };
        built.map_err(|e| e.in_source(self.name(), None))
    }
}

/// A running source, ready to pull date ranges.
#[derive(Debug)]
pub enum Source {
    CsvAds(csv_ads::CsvAdsSource),
    CsvCrm(csv_crm::CsvCrmSource),
    Meta(meta::MetaSource),
    Hubspot(hubspot::HubSpotSource),
}

/// The rows of one successful pull and the days they account for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub rows: Pulled,
    /// The days this pull vouches for. An API answering for a range covers all of it; a CSV
    /// export covers only the span of days its file actually reaches.
    pub covered: Option<DateRange>,
}

impl Source {
    /// Pulls every row of `range`. Errors carry the source name and the range.
    pub async fn pull(&self, name: &str, range: DateRange) -> Result<Pull, SourceError> {
        let pulled = match self {
            Source::CsvAds(s) => s.pull(range),
            Source::CsvCrm(s) => s.pull(range),
            Source::Meta(s) => s.pull(range).await,
            Source::Hubspot(s) => s.pull(range).await,
        };
        pulled.map_err(|e| e.in_source(name, Some(range)))
    }

    /// Reaches the source once (reads the file header, or makes one small API call) and says
    /// what it found, so `kassa check` can prove credentials work before the first night.
    pub async fn probe(&self, name: &str) -> Result<String, SourceError> {
        let probed = match self {
            Source::CsvAds(s) => s.probe(),
            Source::CsvCrm(s) => s.probe(),
            Source::Meta(s) => s.probe().await,
            Source::Hubspot(s) => s.probe().await,
        };
        probed.map_err(|e| e.in_source(name, None))
    }

    /// The longest range one request should ask for; files are read whole.
    pub fn chunk_days(&self) -> Option<u32> {
        match self {
            Source::CsvAds(_) | Source::CsvCrm(_) => None,
            Source::Meta(s) => Some(s.chunk_days()),
            Source::Hubspot(s) => Some(s.chunk_days()),
        }
    }
}

/// Where a secret comes from: an environment variable or a file, never the TOML itself.
/// Reading and checking it is shared with alert targets in [`crate::secrets`].
#[derive(Debug, Clone, Default)]
pub struct SecretRef {
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
}

impl SecretRef {
    /// From a connector's `token_env` and `token_file` keys.
    pub fn from_keys(token_env: &Option<String>, token_file: &Option<PathBuf>) -> SecretRef {
        SecretRef {
            token_env: token_env.clone(),
            token_file: token_file.clone(),
        }
    }

    fn spec(&self) -> SecretSpec<'_> {
        SecretSpec {
            what: "token",
            env_key: "token_env",
            file_key: "token_file",
            env: self.token_env.as_deref(),
            file: self.token_file.as_deref(),
            example: "token_env = \"KASSA_META_TOKEN\"",
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
pub(crate) fn parse_base_url(url: &str) -> Result<url::Url, SourceError> {
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
