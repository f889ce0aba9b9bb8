//! `google_ads`: Google Ads API daily rows per campaign, read with one GAQL query through the
//! REST `googleAds:searchStream` method.
//!
//! `POST {base_url}/{api_version}/customers/{customer_id}/googleAds:searchStream` with a GAQL
//! query `FROM campaign` segmented by `segments.date`. The answer is a JSON *array* of
//! batches (`[{"results": [...], "fieldMask", "requestId"}, ...]`), all in one HTTP response:
//! there are no pages. Values follow proto3's JSON mapping: int64 (`impressions`, `clicks`,
//! `costMicros`, ids) arrive as strings, doubles (`conversions`, `conversionsValue`, `ctr`, a
//! fraction) as numbers; money ending in `_micros` is the currency times a million. Days are
//! the customer's (`customer.time_zone`, read from the API when `timezone` is not configured),
//! money in `customer.currency_code`, selected with every row.
//!
//! A stream can break off after it has begun (HTTP 200, then an error object as its last
//! element): it cannot be resumed, so a server-side break starts the whole query again (at
//! most [`STREAM_RESTARTS`] times) and the partial batches are dropped. Any other error inside
//! a stream is read exactly like an error answer.
//!
//! Credentials: OAuth2 access tokens refreshed from a refresh token (client id, client secret
//! and refresh token of one OAuth client, authorised for the `adwords` scope), or obtained
//! with a service account's key file (a JWT signed with its RSA key, RFC 7523), kept in the
//! token cache until they expire. Developer tokens were sunset on 2026-09-09 (access levels now
//! belong to the Google Cloud project that owns the OAuth client): one is sent only when
//! configured. `login_customer_id` is sent when the customer is reached through a manager.
//!
//! Quota: `RESOURCE_TEMPORARILY_EXHAUSTED` carries a `retryDelay` that the client waits out;
//! `RESOURCE_EXHAUSTED` is the project's daily operations cap, which no wait within a run
//! cures, so the source stops for the run: every later pull of the same run fails at once
//! without asking.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SecretRef, SourceError,
    http_client, parse_base_url, validate_base_url, validate_timezone,
};
use super::wire;
use crate::domain::{AdDay, Claims, DateRange, Money, Pulled, RowKind};
use crate::http::auth::{Authenticator, Grant, OAuth2, SecretHeaders, Stacked, TokenBody};
use crate::http::jwt::JwtSigner;
use crate::http::{Answer, Failure, FailureKind, HttpClient, Request, summarize_body};
use crate::validation::Problems;

/// How often a stream that broke off is started again within one pull.
pub const STREAM_RESTARTS: u32 = 2;

/// Days per stream: one answer holds every row of the range, so the limit is only there to
/// keep an answer of a large account well inside the client's size cap.
const CHUNK_DAYS: u32 = 90;

/// The wait when Google says "temporarily exhausted" without a `retryDelay`: its messages
/// usually ask for 30 seconds.
const QUOTA_WAIT_WITHOUT_HINT: Duration = Duration::from_secs(30);

/// Words that mark the daily operations cap in an error, so the source can stop for the run.
const DAILY_CAP: &str = "the Google Cloud project's daily operations cap is spent";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleAdsConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night (conversions arrive late; cost is corrected).
    pub lookback_days: Option<u32>,
    /// The advertiser's customer id: 10 digits, dashes allowed.
    pub customer_id: String,
    /// The manager (MCC) account the customer is reached through, if any.
    pub login_customer_id: Option<String>,
    pub client_id_env: Option<String>,
    pub client_id_file: Option<PathBuf>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub refresh_token_env: Option<String>,
    pub refresh_token_file: Option<PathBuf>,
    /// A service account's JSON key file (or its contents in a variable), instead of the
    /// client id, secret and refresh token.
    pub service_account_key_env: Option<String>,
    pub service_account_key_file: Option<PathBuf>,
    /// Optional since the 2026-09-09 sunset: sent only when configured.
    pub developer_token_env: Option<String>,
    pub developer_token_file: Option<PathBuf>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// Google Ads API versions are sunset roughly yearly; pin one.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The channel every row of this customer is reported under.
    #[serde(default = "default_channel")]
    pub channel: String,
    /// The customer's time zone (IANA name); read from `customer.time_zone` when not set.
    pub timezone: Option<String>,
    /// Read Google's conversions as claimed `purchases` (with `conversions_value` as revenue)
    /// or as claimed `leads`; not read when not set.
    pub conversions: Option<String>,
    /// Which day a conversion counts on: `click` (the day of the ad interaction, what the
    /// Google Ads interface shows) or `conversion` (the day it happened).
    #[serde(default = "default_conversions_by")]
    pub conversions_by: String,
}

fn default_base_url() -> String {
    "https://googleads.googleapis.com".to_string()
}
fn default_token_url() -> String {
    "https://oauth2.googleapis.com/token".to_string()
}
fn default_api_version() -> String {
    "v25".to_string()
}
fn default_channel() -> String {
    "google_ads".to_string()
}
fn default_conversions_by() -> String {
    "click".to_string()
}

/// A customer id without its dashes, when it is one (10 digits).
fn customer_digits(id: &str) -> Option<String> {
    let digits: String = id.trim().chars().filter(|c| *c != '-').collect();
    (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The scope every Google Ads API token is asked for.
const ADWORDS_SCOPE: &str = "https://www.googleapis.com/auth/adwords";

/// A signer from a service account's JSON key file (`client_email`, `private_key`), its
/// assertions addressed to `token_url`.
fn service_account(key_file: &SecretString, token_url: &str) -> Result<JwtSigner, String> {
    let key: Value = serde_json::from_str(key_file.expose_secret())
        .map_err(|_| "it is not a JSON key file (Google Cloud console → IAM → Service accounts → Keys → Add key → JSON)".to_string())?;
    let field = |name: &str| {
        key.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the key file has no `{name}`"))
    };
    let private_key = SecretString::from(field("private_key")?.to_string());
    // No `sub`: the service account acts as itself, a user of the Google Ads account.
    JwtSigner::from_pem(&private_key, field("client_email")?, "", token_url)
        .map(|signer| signer.with_scope(ADWORDS_SCOPE))
        .map_err(|e| format!("its `private_key` {e}"))
}

/// How conversions become claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConversionClaims {
    Purchases,
    Leads,
}

impl GoogleAdsConfig {
    fn secret(
        &self,
        what: &'static str,
        keys: (&'static str, &'static str),
        values: (&Option<String>, &Option<PathBuf>),
        example_env: &str,
    ) -> SecretRef {
        SecretRef {
            what,
            env_key: keys.0,
            file_key: keys.1,
            env: values.0.clone(),
            file: values.1.clone(),
            example: format!("{} = \"{example_env}\"", keys.0),
        }
    }

    fn client_id(&self) -> SecretRef {
        self.secret(
            "client id",
            ("client_id_env", "client_id_file"),
            (&self.client_id_env, &self.client_id_file),
            "KASSA_GOOGLE_ADS_CLIENT_ID",
        )
    }

    fn client_secret(&self) -> SecretRef {
        self.secret(
            "client secret",
            ("client_secret_env", "client_secret_file"),
            (&self.client_secret_env, &self.client_secret_file),
            "KASSA_GOOGLE_ADS_CLIENT_SECRET",
        )
    }

    fn refresh_token(&self) -> SecretRef {
        self.secret(
            "refresh token",
            ("refresh_token_env", "refresh_token_file"),
            (&self.refresh_token_env, &self.refresh_token_file),
            "KASSA_GOOGLE_ADS_REFRESH_TOKEN",
        )
    }

    /// The service account's key, only when one of its keys is set.
    fn service_account_key(&self) -> Option<SecretRef> {
        (self.service_account_key_env.is_some() || self.service_account_key_file.is_some()).then(
            || {
                self.secret(
                    "service account key",
                    ("service_account_key_env", "service_account_key_file"),
                    (
                        &self.service_account_key_env,
                        &self.service_account_key_file,
                    ),
                    "KASSA_GOOGLE_ADS_SERVICE_ACCOUNT_KEY",
                )
            },
        )
    }

    /// Whether any key of the OAuth client flow is set.
    fn oauth_client_keys_set(&self) -> bool {
        self.client_id_env.is_some()
            || self.client_id_file.is_some()
            || self.client_secret_env.is_some()
            || self.client_secret_file.is_some()
            || self.refresh_token_env.is_some()
            || self.refresh_token_file.is_some()
    }

    /// The OAuth2 authenticator: a service account's signed assertions, or the OAuth client's
    /// refresh token.
    fn oauth(&self, context: &BuildContext) -> Result<OAuth2, SourceError> {
        let config_error = |message: String| SourceError::new(ErrorKind::Config, message);
        let token_url = Url::parse(&self.token_url)
            .map_err(|e| config_error(format!("token_url {:?}: {e}", self.token_url)))?;
        let cache_key = format!("source:{}", self.name);
        if let Some(key) = self.service_account_key() {
            let signer = service_account(&key.resolve()?, &self.token_url)
                .map_err(|e| config_error(format!("the service account key: {e}")))?;
            return Ok(OAuth2::new(
                token_url,
                "",
                None,
                Grant::JwtBearer(Arc::new(signer)),
                TokenBody::Form,
                context.tokens.clone(),
                cache_key,
            ));
        }
        let client_id = self.client_id().resolve()?;
        Ok(OAuth2::new(
            token_url,
            client_id.expose_secret(),
            Some(self.client_secret().resolve()?),
            Grant::RefreshToken(self.refresh_token().resolve()?),
            TokenBody::Form,
            context.tokens.clone(),
            cache_key,
        ))
    }

    /// The developer token, only when one of its keys is set.
    fn developer_token(&self) -> Option<SecretRef> {
        (self.developer_token_env.is_some() || self.developer_token_file.is_some()).then(|| {
            self.secret(
                "developer token",
                ("developer_token_env", "developer_token_file"),
                (&self.developer_token_env, &self.developer_token_file),
                "KASSA_GOOGLE_ADS_DEVELOPER_TOKEN",
            )
        })
    }

    fn conversion_claims(&self) -> Option<ConversionClaims> {
        match self.conversions.as_deref() {
            Some("purchases") => Some(ConversionClaims::Purchases),
            Some("leads") => Some(ConversionClaims::Leads),
            _ => None,
        }
    }
}

impl ConnectorConfig for GoogleAdsConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// Clicks and cost are corrected for invalid activity for a few days; conversions keep
    /// arriving for the conversion window (30 days by default), so reading them re-pulls 30.
    fn default_lookback_days(&self) -> u32 {
        if self.conversions.is_some() { 30 } else { 14 }
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Ads
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        for path in [
            &mut self.client_id_file,
            &mut self.client_secret_file,
            &mut self.refresh_token_file,
            &mut self.service_account_key_file,
            &mut self.developer_token_file,
        ]
        .into_iter()
        .flatten()
        {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        if customer_digits(&self.customer_id).is_none() {
            problems.push_with_example(
                format!("{key}.customer_id"),
                format!(
                    "{:?} is not a Google Ads customer id (10 digits)",
                    self.customer_id
                ),
                "customer_id = \"123-456-7890\"",
            );
        }
        if let Some(login) = &self.login_customer_id
            && customer_digits(login).is_none()
        {
            problems.push_with_example(
                format!("{key}.login_customer_id"),
                format!("{login:?} is not a manager account's customer id (10 digits)"),
                "login_customer_id = \"111-222-3333\"",
            );
        }
        match self.service_account_key() {
            Some(service_account) => {
                service_account.validate(key, problems);
                if self.oauth_client_keys_set() {
                    problems.push(
                        format!("{key}.service_account_key_file"),
                        "a service account key and an OAuth client (client_id, client_secret, refresh_token) are both set; keep one",
                    );
                }
            }
            None => {
                self.client_id().validate(key, problems);
                self.client_secret().validate(key, problems);
                self.refresh_token().validate(key, problems);
            }
        }
        if let Some(developer_token) = self.developer_token() {
            developer_token.validate(key, problems);
        }
        validate_base_url(&self.base_url, &format!("{key}.base_url"), problems);
        validate_base_url(&self.token_url, &format!("{key}.token_url"), problems);
        let version_ok = self
            .api_version
            .strip_prefix('v')
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
        if !version_ok {
            problems.push_with_example(
                format!("{key}.api_version"),
                format!("{:?} is not a Google Ads API version", self.api_version),
                "api_version = \"v25\"",
            );
        }
        if self.channel.trim().is_empty() {
            problems.push_with_example(
                format!("{key}.channel"),
                "is empty",
                "channel = \"google_ads\"",
            );
        }
        validate_timezone(self.timezone.as_deref(), key, problems);
        if let Some(conversions) = &self.conversions
            && self.conversion_claims().is_none()
        {
            problems.push_with_example(
                format!("{key}.conversions"),
                format!("{conversions:?} is neither \"purchases\" nor \"leads\""),
                "conversions = \"purchases\"",
            );
        }
        if !matches!(self.conversions_by.as_str(), "click" | "conversion") {
            problems.push_with_example(
                format!("{key}.conversions_by"),
                format!(
                    "{:?} is neither \"click\" nor \"conversion\"",
                    self.conversions_by
                ),
                "conversions_by = \"conversion\"",
            );
        }
    }

    fn timezone(&self, _business: Tz) -> Option<Tz> {
        self.timezone.as_deref().and_then(|t| t.parse().ok())
    }

    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        let config_error = |message: String| SourceError::new(ErrorKind::Config, message);
        let customer = customer_digits(&self.customer_id)
            .ok_or_else(|| config_error(format!("customer_id {:?}", self.customer_id)))?;
        let login_customer = match &self.login_customer_id {
            Some(login) => Some(
                customer_digits(login)
                    .ok_or_else(|| config_error(format!("login_customer_id {login:?}")))?,
            ),
            None => None,
        };
        let oauth: Box<dyn Authenticator> = Box::new(self.oauth(context)?);
        let auth = match self.developer_token() {
            Some(developer_token) => Box::new(Stacked(vec![
                oauth,
                Box::new(SecretHeaders::default().with_header(
                    HeaderName::from_static("developer-token"),
                    developer_token.resolve()?,
                )),
            ])),
            None => oauth,
        };
        let client = http_client(context, Some(auth), classify)?;
        let stream_url = parse_base_url(&self.base_url)?
            .join(&format!(
                "{}/customers/{customer}/googleAds:searchStream",
                self.api_version
            ))
            .map_err(|e| config_error(format!("bad base_url: {e}")))?;
        Ok(Box::new(GoogleAdsSource {
            client,
            stream_url,
            customer,
            login_customer,
            channel: self.channel.clone(),
            claims: self.conversion_claims(),
            by_conversion_date: self.conversions_by == "conversion",
        }))
    }
}

#[derive(Debug)]
pub struct GoogleAdsSource {
    client: HttpClient,
    stream_url: Url,
    customer: String,
    login_customer: Option<String>,
    channel: String,
    claims: Option<ConversionClaims>,
    by_conversion_date: bool,
}

impl Connector for GoogleAdsSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(async move {
            let pulled = self.campaign_days(range).await;
            pulled.map_err(|e| self.explained(e))
        })
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(async move {
            let customer = self.customer_info().await.map_err(|e| self.explained(e))?;
            let name = wire::text(&customer, "descriptiveName").unwrap_or_default();
            let through = match &self.login_customer {
                Some(manager) => format!(", through manager {manager}"),
                None => String::new(),
            };
            Ok(format!(
                "Google Ads: customer {} {name:?}, currency {}, days in {}{through}",
                self.customer,
                wire::text(&customer, "currencyCode").unwrap_or_else(|| "?".into()),
                wire::text(&customer, "timeZone").unwrap_or_else(|| "?".into()),
            ))
        })
    }

    fn chunk_days(&self) -> Option<u32> {
        Some(CHUNK_DAYS)
    }

    fn timezone(&self) -> BoxFuture<'_, Result<Option<Tz>, SourceError>> {
        Box::pin(async move {
            let customer = self.customer_info().await.map_err(|e| self.explained(e))?;
            Ok(wire::text(&customer, "timeZone").and_then(|name| name.parse().ok()))
        })
    }
}

/// One answer of `searchStream`.
enum Stream {
    /// Every batch's results, in order.
    Rows(Vec<Value>),
    /// The stream began and then broke off on the server's side: start it again.
    BrokenOff(String),
}

impl GoogleAdsSource {
    fn query(&self, range: DateRange) -> String {
        let mut fields = vec![
            "campaign.id",
            "campaign.name",
            "customer.currency_code",
            "segments.date",
            "metrics.impressions",
            "metrics.clicks",
            "metrics.cost_micros",
        ];
        if self.claims.is_some() {
            fields.extend(if self.by_conversion_date {
                [
                    "metrics.conversions_by_conversion_date",
                    "metrics.conversions_value_by_conversion_date",
                ]
            } else {
                ["metrics.conversions", "metrics.conversions_value"]
            });
        }
        format!(
            "SELECT {} FROM campaign WHERE segments.date BETWEEN '{}' AND '{}' ORDER BY segments.date",
            fields.join(", "),
            range.start,
            range.end
        )
    }

    /// The stream request for `query`, with the manager header when one is configured.
    fn request(&self, query: String) -> Request {
        let body = json!({"query": query, "summaryRowSetting": "NO_SUMMARY_ROW"});
        let mut request = Request::post_json(self.stream_url.clone(), body);
        if let Some(manager) = &self.login_customer {
            request = request.header("login-customer-id", manager.as_str());
        }
        request
    }

    /// Every result row of `query`, the stream started again when it breaks off.
    async fn stream(&self, query: String) -> Result<Vec<Value>, SourceError> {
        let request = self.request(query);
        let mut broken = 0;
        loop {
            let answer = self.client.send_with(&request, read_stream).await;
            match answer.map_err(SourceError::from) {
                Ok(Stream::Rows(rows)) => return Ok(rows),
                Ok(Stream::BrokenOff(message)) if broken < STREAM_RESTARTS => {
                    broken += 1;
                    tracing::warn!(
                        restart = broken,
                        "the stream broke off, starting it again: {message}"
                    );
                }
                Ok(Stream::BrokenOff(message)) => {
                    return Err(SourceError::new(
                        ErrorKind::Server,
                        format!(
                            "the stream broke off {} times; the last time: {message}",
                            broken + 1
                        ),
                    ));
                }
                Err(error) => {
                    return Err(error);
                }
            }
        }
    }

    async fn campaign_days(&self, range: DateRange) -> Result<Pull, SourceError> {
        let results = self.stream(self.query(range)).await?;
        let mut rows = Vec::with_capacity(results.len());
        for (i, result) in results.iter().enumerate() {
            let row = self.parse_row(result, range).map_err(|e| SourceError {
                message: format!("result {}: {}", i + 1, e.message),
                ..e
            })?;
            rows.push(row);
        }
        tracing::debug!(rows = rows.len(), "read a Google Ads stream");
        Ok(Pull {
            rows: Pulled::Ads(rows),
            covered: Some(range),
            warnings: Vec::new(),
        })
    }

    fn parse_row(&self, result: &Value, range: DateRange) -> Result<AdDay, SourceError> {
        let part = |name: &str| {
            result
                .get(name)
                .filter(|v| v.is_object())
                .ok_or_else(|| SourceError::invalid(name, "is missing"))
        };
        let (campaign, segments, metrics) =
            (part("campaign")?, part("segments")?, part("metrics")?);
        let date = wire::date(segments, "date").map_err(within("segments"))?;
        let campaign_id = wire::required_text(campaign, "id").map_err(within("campaign"))?;
        let at = |e: SourceError| SourceError {
            message: format!("campaign {campaign_id}, {date}: {}", e.message),
            ..e
        };
        if !range.contains(date) {
            return Err(at(SourceError::invalid(
                "segments.date",
                format!("{date} is outside the requested range {range}"),
            )));
        }
        let metric = |e: SourceError| at(within("metrics")(e));
        // proto3 leaves out a count of zero; money is never assumed.
        let impressions = wire::optional_count(metrics, "impressions")
            .map_err(metric)?
            .unwrap_or(0);
        let clicks = wire::optional_count(metrics, "clicks")
            .map_err(metric)?
            .unwrap_or(0);
        let cost_micros = wire::optional_count(metrics, "costMicros")
            .map_err(metric)?
            .ok_or_else(|| metric(SourceError::invalid("costMicros", "is missing")))?;
        let spend = i64::try_from(cost_micros)
            .map(Money::from_micros)
            .map_err(|_| metric(SourceError::invalid("costMicros", "is out of range")))?;
        let (count_field, value_field) = if self.by_conversion_date {
            (
                "conversionsByConversionDate",
                "conversionsValueByConversionDate",
            )
        } else {
            ("conversions", "conversionsValue")
        };
        let claims = match self.claims {
            None => Claims::default(),
            Some(kind) => {
                let conversions = conversion_count(metrics, count_field).map_err(metric)?;
                match kind {
                    ConversionClaims::Leads => Claims {
                        leads: conversions,
                        ..Claims::default()
                    },
                    ConversionClaims::Purchases => Claims {
                        purchases: conversions,
                        revenue: conversion_value(metrics, value_field).map_err(metric)?,
                        ..Claims::default()
                    },
                }
            }
        };
        Ok(AdDay {
            date,
            channel: self.channel.clone(),
            account: self.customer.clone(),
            campaign_id,
            campaign_name: wire::text(campaign, "name").filter(|n| !n.is_empty()),
            impressions,
            // Campaign rows segmented by day carry no reach: unknown, never zero.
            reach: None,
            clicks,
            spend,
            currency: result
                .get("customer")
                .and_then(|c| wire::text(c, "currencyCode")),
            claims,
        })
    }

    /// The customer's name, currency and time zone: one small stream.
    async fn customer_info(&self) -> Result<Value, SourceError> {
        let query = "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer";
        let results = self.stream(query.to_string()).await?;
        results
            .first()
            .and_then(|r| r.get("customer"))
            .cloned()
            .ok_or_else(|| {
                SourceError::new(
                    ErrorKind::Decode,
                    "the customer query returned no customer".to_string(),
                )
            })
    }

    /// An authentication failure with the customer it was about and what to check.
    fn explained(&self, error: SourceError) -> SourceError {
        if error.kind != ErrorKind::Auth {
            return error;
        }
        let reached = match &self.login_customer {
            Some(manager) => format!("through manager account {manager} (login_customer_id)"),
            None => "directly (no login_customer_id)".to_string(),
        };
        SourceError {
            message: format!(
                "{} (customer {}, reached {reached})",
                error.message, self.customer
            ),
            ..error
        }
    }
}

/// Renames a field error of a nested object: `metrics` + `clicks` is `metrics.clicks`.
fn within(object: &'static str) -> impl Fn(SourceError) -> SourceError {
    move |e| SourceError {
        message: e
            .message
            .replacen("field `", &format!("field `{object}."), 1),
        ..e
    }
}

/// A double that must be a finite number ≥ 0; `None` when absent.
fn non_negative(metrics: &Value, field: &str) -> Result<Option<f64>, SourceError> {
    match metrics.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let number = value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|n: &f64| n.is_finite() && *n >= 0.0);
            number
                .map(Some)
                .ok_or_else(|| SourceError::invalid(field, format!("{value} is not a number ≥ 0")))
        }
    }
}

/// Conversions as a whole count: data-driven attribution hands out fractions, rounded here.
fn conversion_count(metrics: &Value, field: &str) -> Result<Option<u64>, SourceError> {
    non_negative(metrics, field)?
        .map(|n| {
            let rounded = n.round();
            if rounded < u64::MAX as f64 {
                Ok(rounded as u64)
            } else {
                Err(SourceError::invalid(field, "is out of range"))
            }
        })
        .transpose()
}

/// The conversion value, a double in the customer's currency, to the micro.
fn conversion_value(metrics: &Value, field: &str) -> Result<Option<Money>, SourceError> {
    non_negative(metrics, field)?
        .map(|n| {
            let micros = (n * 1_000_000.0).round();
            if micros < i64::MAX as f64 {
                Ok(Money::from_micros(micros as i64))
            } else {
                Err(SourceError::invalid(field, "is out of range"))
            }
        })
        .transpose()
}

/// Reads one `searchStream` answer: a JSON array of batches, or an error inside it.
fn read_stream(answer: Answer) -> Result<Stream, Failure> {
    let parsed: Value = serde_json::from_str(&answer.body).map_err(|e| {
        let message = format!("the searchStream answer is not valid JSON: {e}");
        if e.is_eof() {
            Failure::retry(FailureKind::Decode, None, format!("{message} (cut short)"))
        } else {
            Failure::fatal(FailureKind::Decode, message)
        }
    })?;
    let Some(batches) = parsed.as_array() else {
        if let Some(error) = parsed.get("error") {
            return Err(failure_of(answer.status, error));
        }
        return Err(Failure::fatal(
            FailureKind::Decode,
            format!(
                "the searchStream answer is not an array of batches: {}",
                summarize_body(&answer.body)
            ),
        ));
    };
    let mut rows = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        if let Some(error) = batch.get("error") {
            let status = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let failure = failure_of(status, error);
            let message = format!("batch {}: {}", i + 1, failure.message);
            // A server-side break is cured by starting again; a quota or auth error inside the
            // stream is handled like the same error as an answer (waited out, or final).
            return if failure.kind == FailureKind::Server {
                Ok(Stream::BrokenOff(message))
            } else {
                Err(Failure { message, ..failure })
            };
        }
        match batch.get("results") {
            // A batch without results carries only the final consumption figures.
            None => {}
            Some(Value::Array(results)) => rows.extend(results.iter().cloned()),
            Some(_) => {
                return Err(Failure::fatal(
                    FailureKind::Decode,
                    format!("batch {}: `results` is not an array", i + 1),
                ));
            }
        }
    }
    Ok(Stream::Rows(rows))
}

/// Google's error object, read: its status, the Google Ads error codes in its details, its
/// message, the `retryDelay` of a quota error and the request id for support.
struct GoogleError {
    status: String,
    codes: Vec<String>,
    message: String,
    retry_delay: Option<Duration>,
    request_id: Option<String>,
}

fn google_error(error: &Value) -> GoogleError {
    let mut codes = Vec::new();
    let mut retry_delay = None;
    let mut request_id = None;
    let details = error.get("details").and_then(Value::as_array);
    for detail in details.into_iter().flatten() {
        request_id = request_id.or_else(|| wire::text(detail, "requestId"));
        let errors = detail.get("errors").and_then(Value::as_array);
        for failure in errors.into_iter().flatten() {
            if let Some(Value::Object(code)) = failure.get("errorCode") {
                codes.extend(code.values().filter_map(|v| v.as_str().map(String::from)));
            }
            retry_delay = retry_delay.or_else(|| {
                failure
                    .pointer("/details/quotaErrorDetails/retryDelay")
                    .and_then(Value::as_str)
                    .and_then(duration_of)
            });
        }
    }
    GoogleError {
        status: wire::text(error, "status").unwrap_or_default(),
        codes,
        message: wire::text(error, "message").unwrap_or_else(|| "no message".into()),
        retry_delay,
        request_id,
    }
}

/// A protobuf `Duration` in JSON: decimal seconds with an `s` (`"30s"`, `"1.5s"`).
fn duration_of(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    crate::http::wait_of_seconds(seconds)
}

/// What an error from Google Ads means and what to do about it.
fn failure_of(status: StatusCode, error: &Value) -> Failure {
    let error = google_error(error);
    let has = |code: &str| error.codes.iter().any(|c| c == code);
    let mut said = format!("Google Ads {}", error.status);
    if !error.codes.is_empty() {
        said = format!("{said} {}", error.codes.join(", "));
    }
    said = format!("{}: {}", said.trim_end(), error.message);
    if let Some(id) = &error.request_id {
        said = format!("{said} (request id {id})");
    }
    let with = |hint: &str| format!("{said}: {hint}");
    if has("RESOURCE_TEMPORARILY_EXHAUSTED")
        || has("EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION")
    {
        let wait = error.retry_delay.unwrap_or(QUOTA_WAIT_WITHOUT_HINT);
        return Failure::retry(FailureKind::Throttled, Some(wait), said);
    }
    if has("RESOURCE_EXHAUSTED") || has("EXCESSIVE_LONG_TERM_QUERY_RESOURCE_CONSUMPTION") {
        return Failure::fatal(
            FailureKind::QuotaSpent,
            with(&format!(
                "{DAILY_CAP} (Explorer access allows 2,880 operations a rolling 24 hours, Basic 15,000); the source stops for this run and the next run tries again; for more, apply for a higher access level for the project in the Google Ads API Center"
            )),
        );
    }
    if has("CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION") {
        return Failure::fatal(
            FailureKind::Auth,
            with(
                "the Google Cloud project that owns this OAuth client has Test access only, which reaches test accounts only; apply for Explorer or Basic access for the project in the Google Ads API Center, or point kassa at a test account",
            ),
        );
    }
    if error.codes.iter().any(|c| c.starts_with("DEVELOPER_TOKEN")) {
        return Failure::fatal(
            FailureKind::Auth,
            with(
                "developer tokens are no longer needed since 2026-09-09: remove developer_token_env / developer_token_file from the source",
            ),
        );
    }
    if status == StatusCode::UNAUTHORIZED || error.status == "UNAUTHENTICATED" {
        return Failure::fatal(
            FailureKind::Auth,
            with(
                "the access token was refused: check that client_id, client_secret and refresh_token belong to one OAuth client and that the refresh token was granted the https://www.googleapis.com/auth/adwords scope",
            ),
        );
    }
    if status == StatusCode::FORBIDDEN || error.status == "PERMISSION_DENIED" {
        let hint = if has("INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION") {
            "the manager account in login_customer_id does not manage this customer: set it to a manager above the customer, or remove it to reach the customer directly"
        } else if has("USER_PERMISSION_DENIED") {
            "the Google account that authorised the refresh token cannot reach this customer: give it access to the account, or, when it has access through a manager account, set login_customer_id to the manager's customer id"
        } else if has("CUSTOMER_NOT_ENABLED") {
            "the customer account is not enabled (cancelled, or its setup not finished): check customer_id"
        } else {
            "check that the Google Ads API is enabled in the Google Cloud project that owns the OAuth client, and that the Google account that authorised the refresh token can see this customer"
        };
        return Failure::fatal(FailureKind::Auth, with(hint));
    }
    if status == StatusCode::TOO_MANY_REQUESTS || error.status == "RESOURCE_EXHAUSTED" {
        return Failure::retry(FailureKind::Throttled, error.retry_delay, said);
    }
    if status.is_server_error()
        || matches!(
            error.status.as_str(),
            "INTERNAL" | "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "ABORTED"
        )
    {
        return Failure::retry(FailureKind::Server, None, said);
    }
    Failure::fatal(FailureKind::Rejected, said)
}

/// Reads Google's error answers: `{"error": {...}}`, or the same wrapped in an array, as
/// `searchStream` may send it.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> Option<Failure> {
    let parsed: Value = serde_json::from_str(body).ok()?;
    let error = match &parsed {
        Value::Array(items) => items.iter().find_map(|i| i.get("error"))?,
        other => other.get("error")?,
    };
    Some(failure_of(status, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(code: &str, delay: Option<&str>) -> String {
        let mut details = json!({"rateScope": "ACCOUNT", "rateName": "Requests per account"});
        if let Some(delay) = delay {
            details["retryDelay"] = json!(delay);
        }
        json!({"error": {
            "code": 429, "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{
                "@type": "type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure",
                "errors": [{"errorCode": {"quotaError": code}, "message": "Too many requests.",
                            "details": {"quotaErrorDetails": details}}],
                "requestId": "fA2bC3dE"
            }]
        }})
        .to_string()
    }

    #[test]
    fn quota_errors_wait_or_stop() {
        let headers = HeaderMap::new();
        let temporary = quota("RESOURCE_TEMPORARILY_EXHAUSTED", Some("12.5s"));
        let failure = classify(StatusCode::TOO_MANY_REQUESTS, &headers, &temporary).unwrap();
        assert!(failure.retryable);
        assert_eq!(failure.wait, Some(Duration::from_millis(12_500)));
        let no_delay = quota("RESOURCE_TEMPORARILY_EXHAUSTED", None);
        let failure = classify(StatusCode::TOO_MANY_REQUESTS, &headers, &no_delay).unwrap();
        assert_eq!(failure.wait, Some(QUOTA_WAIT_WITHOUT_HINT));
        let daily = quota("RESOURCE_EXHAUSTED", None);
        let failure = classify(StatusCode::TOO_MANY_REQUESTS, &headers, &daily).unwrap();
        assert!(!failure.retryable);
        assert_eq!(failure.kind, FailureKind::QuotaSpent);
        assert!(failure.message.contains(DAILY_CAP), "{}", failure.message);
        assert!(failure.message.contains("fA2bC3dE"), "{}", failure.message);
        let wrapped = format!("[{daily}]");
        let failure = classify(StatusCode::TOO_MANY_REQUESTS, &headers, &wrapped).unwrap();
        assert!(failure.message.contains(DAILY_CAP), "{}", failure.message);
    }

    #[test]
    fn protobuf_durations_are_read() {
        assert_eq!(duration_of("30s"), Some(Duration::from_secs(30)));
        assert_eq!(duration_of("0.5s"), Some(Duration::from_millis(500)));
        assert_eq!(duration_of("30"), None);
        assert_eq!(duration_of("-1s"), None);
    }

    #[test]
    fn customer_ids_lose_their_dashes() {
        assert_eq!(
            customer_digits("123-456-7890").as_deref(),
            Some("1234567890")
        );
        assert_eq!(customer_digits("1234567890").as_deref(), Some("1234567890"));
        assert_eq!(customer_digits("12345"), None);
        assert_eq!(customer_digits("abc-def-ghij"), None);
    }

    #[test]
    fn conversions_are_rounded_and_values_kept_to_the_micro() {
        let metrics = json!({"conversions": 2.5000001, "conversionsValue": 123.4567891, "bad": -1});
        assert_eq!(conversion_count(&metrics, "conversions").unwrap(), Some(3));
        assert_eq!(
            conversion_value(&metrics, "conversionsValue").unwrap(),
            Some(Money::from_micros(123_456_789))
        );
        assert_eq!(conversion_count(&metrics, "absent").unwrap(), None);
        let error = conversion_count(&metrics, "bad").unwrap_err();
        assert!(error.message.contains("field `bad`"), "{}", error.message);
    }
}
