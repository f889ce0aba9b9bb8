//! `pipedrive`: Pipedrive deals, `GET /api/v2/deals` (the v1 listing is out of support since
//! 2026-08-01, and v2 answers everything kassa needs, so there is no v1 fallback).
//!
//! A window needs every deal added in it and every deal won or lost in it. v2 cannot filter by
//! `add_time` or `won_time`, but adding, winning and losing a deal each update it, and
//! `update_time` only moves forward: so one listing with `updated_since` = the window's first
//! instant (in the business's zone) holds them all. The deals that merely changed since, or
//! were added after the window, are dropped here by their dates. The cost: a pull lists every
//! deal touched since the window began, so an old window lists most of the account; that is why
//! a chunk is a year by default (`chunk_days`), and a nightly lookback lists only the deals
//! touched in it.
//!
//! Pages follow the cursor (`additional_data.next_cursor`, sent back as `cursor`, `limit` up
//! to 500) until it is null. Deleted deals are not listed by default and are skipped if one
//! comes anyway. `value` is a JSON number that may have a fraction (`780.5`): it is read as the
//! shortest decimal that names the same number, which is the one a person typed; a null or
//! absent value is unknown, never zero. Instants are RFC 3339, dated in the business's zone.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use super::channels::{ChannelMapping, ChannelRules};
use super::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SecretRef, SourceError,
    http_client, parse_base_url, validate_base_url,
};
use super::wire;
use crate::domain::{DateRange, Deal, DealInstants, DealStatus, Money, Pulled, RowKind};
use crate::http::auth::{Grant, OAuth2, SecretHeaders, TokenBody};
use crate::http::{
    Authenticator, Failure, FailureKind, HttpClient, PageGuard, Request, retry_after,
    summarize_body, wait_of_seconds,
};
use crate::validation::Problems;

/// The most deals one v2 page may hold.
const MAX_PAGE_SIZE: u32 = 500;

/// Pipedrive's burst window is two seconds: a 429 that names no wait waits one window.
const BURST_WINDOW: Duration = Duration::from_secs(2);

/// How many deal ids a warning lists before it says "and N more".
const WARN_IDS: usize = 5;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipedriveConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night (deals are reopened and re-priced at any time).
    pub lookback_days: Option<u32>,
    /// The company's domain: `example` is `https://example.pipedrive.com`.
    pub company_domain: Option<String>,
    /// The API's address instead of `company_domain` (a proxy, a test fake).
    pub base_url: Option<String>,
    /// A personal API token, sent in the `x-api-token` header.
    pub token_env: Option<String>,
    pub token_file: Option<std::path::PathBuf>,
    /// OAuth instead of an API token: the app's id and secret and the refresh token a person
    /// obtained once by installing the app.
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<std::path::PathBuf>,
    pub refresh_token_env: Option<String>,
    pub refresh_token_file: Option<std::path::PathBuf>,
    /// Where OAuth tokens are refreshed.
    #[serde(default = "default_oauth_url")]
    pub oauth_url: String,
    /// Rules from deal fields (top-level or custom field keys) to channels.
    #[serde(default)]
    pub channel_rules: ChannelRules,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    #[serde(default = "default_chunk_days")]
    pub chunk_days: u32,
}

/// The deal field whose lower-cased value is the channel when no rules are set.
pub const DEFAULT_CHANNEL_FIELD: &str = "origin";

fn default_oauth_url() -> String {
    "https://oauth.pipedrive.com".to_string()
}
fn default_page_size() -> u32 {
    MAX_PAGE_SIZE
}
fn default_chunk_days() -> u32 {
    366
}

impl PipedriveConfig {
    fn token(&self) -> SecretRef {
        SecretRef::token(&self.token_env, &self.token_file, "KASSA_PIPEDRIVE_TOKEN")
    }

    fn client_secret(&self) -> SecretRef {
        SecretRef {
            what: "client secret",
            env_key: "client_secret_env",
            file_key: "client_secret_file",
            env: self.client_secret_env.clone(),
            file: self.client_secret_file.clone(),
            example: "client_secret_env = \"KASSA_PIPEDRIVE_CLIENT_SECRET\"".to_string(),
        }
    }

    fn refresh_token(&self) -> SecretRef {
        SecretRef {
            what: "refresh token",
            env_key: "refresh_token_env",
            file_key: "refresh_token_file",
            env: self.refresh_token_env.clone(),
            file: self.refresh_token_file.clone(),
            example: "refresh_token_env = \"KASSA_PIPEDRIVE_REFRESH_TOKEN\"".to_string(),
        }
    }

    /// OAuth is chosen by naming any of its keys; otherwise an API token.
    fn uses_oauth(&self) -> bool {
        self.client_id.is_some()
            || self.client_secret_env.is_some()
            || self.client_secret_file.is_some()
            || self.refresh_token_env.is_some()
            || self.refresh_token_file.is_some()
    }

    fn api_base(&self) -> String {
        match (&self.base_url, &self.company_domain) {
            (Some(url), _) => url.clone(),
            (None, Some(domain)) => format!("https://{domain}.pipedrive.com"),
            (None, None) => String::new(),
        }
    }
}

impl ConnectorConfig for PipedriveConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// Won deals are reopened and re-priced at any time (`won_time` and `value` change); a
    /// month catches most late edits, as for the other CRMs.
    fn default_lookback_days(&self) -> u32 {
        30
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Deals
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        for path in [
            &mut self.token_file,
            &mut self.client_secret_file,
            &mut self.refresh_token_file,
        ]
        .into_iter()
        .flatten()
        {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        match (&self.company_domain, &self.base_url) {
            (Some(_), Some(_)) => problems.push(
                format!("{key}.company_domain"),
                "give either company_domain or base_url, not both",
            ),
            (None, None) => problems.push_with_example(
                format!("{key}.company_domain"),
                "is missing: the company's Pipedrive address is needed",
                "company_domain = \"example\"   # https://example.pipedrive.com",
            ),
            (Some(domain), None) => {
                let valid = !domain.is_empty()
                    && domain
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !domain.starts_with('-');
                if !valid {
                    problems.push_with_example(
                        format!("{key}.company_domain"),
                        format!("{domain:?} is not a company domain (only the part before .pipedrive.com)"),
                        "company_domain = \"example\"",
                    );
                }
            }
            (None, Some(url)) => validate_base_url(url, &format!("{key}.base_url"), problems),
        }
        if self.uses_oauth() {
            if self.token_env.is_some() || self.token_file.is_some() {
                problems.push(
                    format!("{key}.token_env"),
                    "give either an API token (token_env/token_file) or OAuth (client_id, client_secret_env, refresh_token_env), not both",
                );
            }
            if self
                .client_id
                .as_deref()
                .is_none_or(|id| id.trim().is_empty())
            {
                problems.push_with_example(
                    format!("{key}.client_id"),
                    "is missing: OAuth needs the app's client id",
                    "client_id = \"b4d5e6f7a8b9c0d1\"",
                );
            }
            self.client_secret().validate(key, problems);
            self.refresh_token().validate(key, problems);
            validate_base_url(&self.oauth_url, &format!("{key}.oauth_url"), problems);
        } else {
            self.token().validate(key, problems);
        }
        self.channel_rules.validate(key, &[], problems);
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            problems.push(
                format!("{key}.page_size"),
                format!("must be between 1 and {MAX_PAGE_SIZE} (Pipedrive's maximum)"),
            );
        }
        if !(1..=3660).contains(&self.chunk_days) {
            problems.push(format!("{key}.chunk_days"), "must be between 1 and 3660");
        }
    }

    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        let base = parse_base_url(&self.api_base())?;
        let auth: Box<dyn Authenticator> = if self.uses_oauth() {
            let token_url = parse_base_url(&self.oauth_url)?
                .join("oauth/token")
                .map_err(|e| SourceError::new(ErrorKind::Config, format!("bad oauth_url: {e}")))?;
            Box::new(
                OAuth2::new(
                    token_url,
                    self.client_id.clone().unwrap_or_default(),
                    Some(self.client_secret().resolve()?),
                    Grant::RefreshToken(self.refresh_token().resolve()?),
                    TokenBody::Form,
                    context.tokens.clone(),
                    format!("source:{}", self.name),
                )
                .with_basic_auth(),
            )
        } else {
            // In a header, never in the `api_token` query parameter: a URL ends up in logs.
            Box::new(SecretHeaders::default().with_header(
                HeaderName::from_static("x-api-token"),
                self.token().resolve()?,
            ))
        };
        let client = http_client(context, Some(auth), classify)?;
        let deals_url = base
            .join("api/v2/deals")
            .map_err(|e| SourceError::new(ErrorKind::Config, format!("bad base_url: {e}")))?;
        Ok(Box::new(PipedriveSource {
            client,
            deals_url,
            timezone: context.timezone,
            config: self.clone(),
        }))
    }
}

#[derive(Debug)]
pub struct PipedriveSource {
    client: HttpClient,
    deals_url: Url,
    timezone: Tz,
    config: PipedriveConfig,
}

impl Connector for PipedriveSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(self.deals(range))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(self.probe_deals())
    }

    fn chunk_days(&self) -> Option<u32> {
        Some(self.config.chunk_days)
    }
}

impl PipedriveSource {
    async fn deals(&self, range: DateRange) -> Result<Pull, SourceError> {
        let since = self
            .start_of(range.start)
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let first = Request::get(self.deals_url.clone())
            .query("updated_since", since)
            .query("sort_by", "id")
            .query("sort_direction", "asc")
            .query("limit", self.config.page_size.to_string());
        let mut request = first.clone();
        let mut guard = PageGuard::default();
        let mut deals: Vec<Deal> = Vec::new();
        let mut valued_zero = Vec::new();
        let mut page = 0;
        loop {
            page += 1;
            let answer = self.client.send_json(&request).await?;
            let rows = answer
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    SourceError::new(
                        ErrorKind::Decode,
                        format!(
                            "page {page}: the answer has no `data` array: {}",
                            summarize_body(&answer.to_string())
                        ),
                    )
                })?;
            for (row, raw) in rows.iter().enumerate() {
                let id = wire::text(raw, "id").unwrap_or_else(|| "?".to_string());
                let in_page = |e: SourceError| SourceError {
                    message: format!("page {page}, deal {} (id {id}): {}", row + 1, e.message),
                    ..e
                };
                let Some(deal) = self.parse_deal(raw).map_err(in_page)? else {
                    continue;
                };
                if !deal.touches(&range) {
                    continue;
                }
                if deal.status == DealStatus::Won && deal.amount == Some(Money::ZERO) {
                    valued_zero.push(deal.id.clone());
                }
                deals.push(deal);
            }
            let next = answer
                .pointer("/additional_data/next_cursor")
                .and_then(|cursor| wire::text(&serde_json::json!({ "c": cursor }), "c"))
                .filter(|cursor| !cursor.is_empty());
            let Some(cursor) = next else {
                break;
            };
            guard.follow(&cursor)?;
            request = first.clone().query("cursor", cursor);
        }
        deals.sort_by(|a, b| a.id.cmp(&b.id));
        deals.dedup_by(|a, b| a.id == b.id);
        let mut warnings = Vec::new();
        if !valued_zero.is_empty() {
            let shown = valued_zero
                .iter()
                .take(WARN_IDS)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            let more = match valued_zero.len().saturating_sub(WARN_IDS) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            warnings.push(format!(
                "{} won deals have value 0 (ids {shown}{more}): Pipedrive shows a deal without a value as 0, so their revenue counts as zero",
                valued_zero.len()
            ));
        }
        Ok(Pull {
            rows: Pulled::Deals(deals),
            covered: Some(range),
            warnings,
        })
    }

    /// One v2 deal; `None` for a deleted one.
    fn parse_deal(&self, raw: &Value) -> Result<Option<Deal>, SourceError> {
        if raw.get("is_deleted").and_then(Value::as_bool) == Some(true) {
            return Ok(None);
        }
        let id = wire::required_text(raw, "id")?;
        let status = match wire::text(raw, "status").as_deref() {
            Some("won") => DealStatus::Won,
            Some("lost") => DealStatus::Lost,
            Some("open") => DealStatus::Open,
            Some("deleted") => return Ok(None),
            Some(other) => {
                return Err(SourceError::invalid(
                    "status",
                    format!("{other:?} is not won, lost, open or deleted"),
                ));
            }
            None => return Err(SourceError::invalid("status", "is missing")),
        };
        let created = wire::optional_instant(raw, "add_time")?
            .ok_or_else(|| SourceError::invalid("add_time", "is missing"))?;
        let closed = match status {
            DealStatus::Open => None,
            DealStatus::Won | DealStatus::Lost => {
                let field = if status == DealStatus::Won {
                    "won_time"
                } else {
                    "lost_time"
                };
                // `close_time` is the same instant; older answers may carry only it.
                let instant = match wire::optional_instant(raw, field)? {
                    Some(instant) => instant,
                    None => wire::optional_instant(raw, "close_time")?.ok_or_else(|| {
                        SourceError::invalid(
                            field,
                            format!("is missing on a {} deal", status.as_str()),
                        )
                    })?,
                };
                Some(instant)
            }
        };
        let amount = wire::optional_money(raw, "value")?;
        if amount.is_some_and(|a| a.is_negative()) {
            return Err(SourceError::invalid("value", "is negative"));
        }
        let currency = wire::text(raw, "currency").filter(|c| !c.trim().is_empty());
        Ok(Some(Deal {
            id,
            created_date: self.local_date(created),
            closed_date: closed.map(|instant| self.local_date(instant)),
            status,
            amount,
            currency,
            channel: self.channel(raw),
            customer_id: None,
            instants: Some(DealInstants { created, closed }),
        }))
    }

    /// The channel: through the rules when set, else the lower-cased `origin`.
    fn channel(&self, raw: &Value) -> String {
        ChannelMapping::new(&self.config.channel_rules, DEFAULT_CHANNEL_FIELD)
            .channel_for(|field| field_value(raw, field).into_iter().collect())
    }

    fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.timezone).date_naive()
    }

    /// The first instant of `day` in the business's zone.
    fn start_of(&self, day: NaiveDate) -> DateTime<Utc> {
        let midnight = day.and_time(NaiveTime::MIN);
        self.timezone
            .from_local_datetime(&midnight)
            .earliest()
            // A DST gap at midnight: the day starts an hour after the previous 23:00.
            .or_else(|| {
                let eleven = midnight - chrono::Duration::hours(1);
                self.timezone
                    .from_local_datetime(&eleven)
                    .earliest()
                    .map(|t| t + chrono::Duration::hours(1))
            })
            .unwrap_or_else(|| self.timezone.from_utc_datetime(&midnight))
            .with_timezone(&Utc)
    }

    /// One deal, `limit=1`: proves the address, the credentials and the right to list deals.
    async fn probe_deals(&self) -> Result<String, SourceError> {
        let answer = self
            .client
            .send_json(&Request::get(self.deals_url.clone()).query("limit", "1"))
            .await?;
        let listed = answer
            .get("data")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        Ok(if listed == 0 {
            "deal listing works; the company has no deals yet".to_string()
        } else {
            "deal listing works".to_string()
        })
    }
}

/// A deal field as text: a top-level field (`origin`, `channel`, `channel_id`, `pipeline_id`)
/// or a custom field by its key (`custom_fields.<key>`): text as is, an option by its id, a
/// monetary or other structured value by its `value`, a multiple option by its first id.
fn field_value(raw: &Value, field: &str) -> Option<String> {
    let custom = raw.get("custom_fields").and_then(|c| c.get(field));
    let value = match raw.get(field) {
        Some(v) if !v.is_null() => v,
        _ => custom?,
    };
    let holder = match value {
        Value::Object(object) => object.get("value")?.clone(),
        Value::Array(items) => items.first()?.clone(),
        other => other.clone(),
    };
    wire::text(&serde_json::json!({ "v": holder }), "v").filter(|v| !v.trim().is_empty())
}

/// Pipedrive's errors are `{"success": false, "error": ..., "error_info": ..., "code": ...}`.
/// A 429 (the 2-second burst window, or the company's daily token budget) waits `Retry-After`,
/// else `x-ratelimit-reset` (seconds until the window resets), else one window; a wait longer
/// than the client accepts fails the chunk, and the next run retries.
fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> Option<Failure> {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = parsed.get("error").and_then(Value::as_str);
    let mut message = match error {
        Some(error) => format!("Pipedrive: {error}"),
        None => format!("Pipedrive: {}", summarize_body(body)),
    };
    if let Some(info) = parsed.get("error_info").and_then(Value::as_str) {
        message.push_str(&format!(" ({info})"));
    }
    if let Some(code) = parsed.get("code").and_then(Value::as_str) {
        message.push_str(&format!(" [{code}]"));
    }
    Some(match status {
        StatusCode::TOO_MANY_REQUESTS => {
            let reset = headers
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .and_then(wait_of_seconds);
            let wait = retry_after(headers).or(reset).unwrap_or(BURST_WINDOW);
            Failure::retry(FailureKind::Throttled, Some(wait), message)
        }
        StatusCode::UNAUTHORIZED => Failure::fatal(
            FailureKind::Auth,
            format!(
                "{message}: the credentials were refused; put a valid API token where token_env/token_file points (Pipedrive: Settings, Personal preferences, API), or with OAuth check client_id, the client secret and the refresh token"
            ),
        ),
        StatusCode::FORBIDDEN => Failure::fatal(
            FailureKind::Auth,
            format!(
                "{message}: the token's user may not list deals (give the user visibility of every deal, or the OAuth app the deals:read scope)"
            ),
        ),
        StatusCode::PAYMENT_REQUIRED => Failure::fatal(
            FailureKind::Rejected,
            format!("{message}: the company's subscription does not allow this request"),
        ),
        StatusCode::NOT_FOUND => Failure::fatal(
            FailureKind::Rejected,
            format!("{message}: check company_domain (or base_url)"),
        ),
        s if s.is_server_error() => {
            Failure::retry(FailureKind::Server, retry_after(headers), message)
        }
        _ => Failure::fatal(FailureKind::Rejected, message),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn custom_fields_and_top_level_fields_are_read_as_text() {
        let deal = json!({
            "origin": "WebForms", "channel": 12, "channel_id": null,
            "custom_fields": {
                "a1b2c3": "Yandex",
                "d4e5f6": 37,
                "0a1b2c": {"value": 2300, "currency": "EUR"},
                "9f8e7d": [41, 42],
                "empty": "  ",
            },
        });
        assert_eq!(field_value(&deal, "origin").as_deref(), Some("WebForms"));
        assert_eq!(field_value(&deal, "channel").as_deref(), Some("12"));
        assert_eq!(field_value(&deal, "channel_id"), None);
        assert_eq!(field_value(&deal, "a1b2c3").as_deref(), Some("Yandex"));
        assert_eq!(field_value(&deal, "d4e5f6").as_deref(), Some("37"));
        assert_eq!(field_value(&deal, "0a1b2c").as_deref(), Some("2300"));
        assert_eq!(field_value(&deal, "9f8e7d").as_deref(), Some("41"));
        assert_eq!(field_value(&deal, "empty"), None);
        assert_eq!(field_value(&deal, "absent"), None);
    }

    #[test]
    fn a_429_waits_retry_after_then_the_reset_then_one_window() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, v.parse().unwrap());
            }
            map
        };
        let wait = |h: HeaderMap| {
            classify(StatusCode::TOO_MANY_REQUESTS, &h, "{}")
                .unwrap()
                .wait
                .unwrap()
        };
        assert_eq!(
            wait(headers(&[("retry-after", "5"), ("x-ratelimit-reset", "1")])),
            Duration::from_secs(5)
        );
        assert_eq!(
            wait(headers(&[("x-ratelimit-reset", "1")])),
            Duration::from_secs(1)
        );
        assert_eq!(wait(HeaderMap::new()), BURST_WINDOW);
    }

    #[test]
    fn credentials_are_one_kind_and_the_address_is_required() {
        let config = |table: Value| -> PipedriveConfig { serde_json::from_value(table).unwrap() };
        let good = config(json!({"name": "pd", "company_domain": "acme", "token_env": "PATH"}));
        let mut problems = Problems::default();
        good.validate("sources[0]", &mut problems);
        assert!(problems.is_empty(), "{problems}");
        assert_eq!(good.api_base(), "https://acme.pipedrive.com");

        let bad = config(json!({
            "name": "pd", "token_env": "PATH", "client_id": "id", "page_size": 501,
        }));
        let mut problems = Problems::default();
        bad.validate("sources[0]", &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "sources[0].company_domain",
            "sources[0].token_env",
            "sources[0].client_secret_env",
            "sources[0].refresh_token_env",
            "sources[0].page_size",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }
}
