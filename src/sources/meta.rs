//! `meta`: Meta Marketing API Ads Insights, daily rows at campaign level.
//!
//! `GET {base_url}/{api_version}/act_{account_id}/insights` with `level=campaign`,
//! `time_increment=1` and a `time_range`; every metric comes back as a JSON string; pages are
//! followed through `paging.next` until it is absent (a short page does not mean the end).
//! Meta signals throttling with HTTP 400 and an error code in the body (4, 17, 613, 80000…),
//! so the classifier reads the body, not only the status. Dates are the ad account's days.
//!
//! Claimed conversions come from `actions` (counts) and `action_values` (money in the account
//! currency), read with the account's own attribution setting
//! (`use_unified_attribution_setting=true`, what Ads Manager shows). Meta lists one conversion
//! under several action types (`purchase`, `omni_purchase` and the pixel's
//! `offsite_conversion.fb_pixel_purchase` are the same sale), so each claim is an ordered list
//! of alternatives of which the first present in a row counts: never their sum.

use std::time::Duration;

use chrono_tz::Tz;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SecretRef, SourceError,
    http_client, parse_base_url, validate_base_url, validate_timezone,
};
use super::wire;
use crate::domain::{AdDay, Claims, DateRange, Money, Pulled, RowKind};
use crate::http::auth::SecretHeaders;
use crate::http::{
    Failure, FailureKind, HttpClient, PageGuard, Request, retry_after, same_origin_link,
    summarize_body, wait_of_seconds,
};
use crate::validation::Problems;

const FIELDS: &str = "campaign_id,campaign_name,impressions,reach,clicks,ctr,spend,account_currency,actions,action_values,date_start,date_stop";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night (the platform restates this far back).
    pub lookback_days: Option<u32>,
    /// The ad account id, with or without the `act_` prefix.
    pub account_id: String,
    pub token_env: Option<String>,
    pub token_file: Option<std::path::PathBuf>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Graph API versions are sunset on a schedule; pin one.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The channel every row of this account is reported under.
    #[serde(default = "default_channel")]
    pub channel: String,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Days per request; smaller when Meta answers "reduce the amount of data".
    #[serde(default = "default_chunk_days")]
    pub chunk_days: u32,
    /// The ad account's time zone (IANA name). When not set, the account's `timezone_name`
    /// is read from Meta when it matters (a run near the end of a day); UTC if Meta does not
    /// say.
    pub timezone: Option<String>,
    /// Which action types are which claim.
    #[serde(default)]
    pub claims: MetaClaims,
}

/// The action types read as each claimed figure: for each, alternatives in order of preference,
/// of which the first present in a row counts (Meta reports one conversion under several
/// types; summing them would count it two or three times).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaClaims {
    #[serde(default = "default_lead_types")]
    pub leads: Vec<String>,
    #[serde(default = "default_purchase_types")]
    pub purchases: Vec<String>,
    /// Read from `action_values`; the purchases list when not set.
    pub revenue: Option<Vec<String>>,
}

impl Default for MetaClaims {
    fn default() -> Self {
        MetaClaims {
            leads: default_lead_types(),
            purchases: default_purchase_types(),
            revenue: None,
        }
    }
}

impl MetaClaims {
    fn revenue_types(&self) -> &[String] {
        self.revenue.as_deref().unwrap_or(&self.purchases)
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        let lists = [
            ("leads", Some(&self.leads)),
            ("purchases", Some(&self.purchases)),
            ("revenue", self.revenue.as_ref()),
        ];
        for (claim, types) in lists {
            let Some(types) = types else { continue };
            let example = format!("claims = {{ {claim} = [\"purchase\", \"omni_purchase\"] }}");
            if types.is_empty() {
                problems.push_with_example(
                    format!("{key}.claims.{claim}"),
                    "is an empty list; name at least one action type, or leave the key out for the defaults",
                    example,
                );
            } else if types.iter().any(|t| t.trim().is_empty()) {
                problems.push_with_example(
                    format!("{key}.claims.{claim}"),
                    "holds an empty action type",
                    example,
                );
            }
        }
    }
}

fn default_lead_types() -> Vec<String> {
    [
        "lead",
        "onsite_conversion.lead_grouped",
        "offsite_conversion.fb_pixel_lead",
    ]
    .map(String::from)
    .to_vec()
}
fn default_purchase_types() -> Vec<String> {
    [
        "purchase",
        "omni_purchase",
        "offsite_conversion.fb_pixel_purchase",
    ]
    .map(String::from)
    .to_vec()
}

fn default_base_url() -> String {
    "https://graph.facebook.com".to_string()
}
fn default_api_version() -> String {
    "v25.0".to_string()
}
fn default_channel() -> String {
    "meta".to_string()
}
fn default_page_size() -> u32 {
    500
}
fn default_chunk_days() -> u32 {
    30
}

impl MetaConfig {
    fn secret(&self) -> SecretRef {
        SecretRef::token(&self.token_env, &self.token_file, "KASSA_META_TOKEN")
    }

    fn account_digits(&self) -> &str {
        self.account_id.trim().trim_start_matches("act_")
    }
}

impl ConnectorConfig for MetaConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// Meta restates conversions for up to 28 days (its attribution window).
    fn default_lookback_days(&self) -> u32 {
        28
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Ads
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        if let Some(path) = &mut self.token_file {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        let digits = self.account_digits();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            problems.push_with_example(
                format!("{key}.account_id"),
                format!("{:?} is not an ad account id", self.account_id),
                "account_id = \"act_123456789\"",
            );
        }
        self.secret().validate(key, problems);
        validate_base_url(&self.base_url, &format!("{key}.base_url"), problems);
        let version_ok = self.api_version.strip_prefix('v').is_some_and(|v| {
            v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        });
        if !version_ok {
            problems.push_with_example(
                format!("{key}.api_version"),
                format!("{:?} is not a Graph API version", self.api_version),
                "api_version = \"v25.0\"",
            );
        }
        if self.channel.trim().is_empty() {
            problems.push_with_example(format!("{key}.channel"), "is empty", "channel = \"meta\"");
        }
        if !(1..=5000).contains(&self.page_size) {
            problems.push(format!("{key}.page_size"), "must be between 1 and 5000");
        }
        if !(1..=90).contains(&self.chunk_days) {
            problems.push(format!("{key}.chunk_days"), "must be between 1 and 90");
        }
        validate_timezone(self.timezone.as_deref(), key, problems);
        self.claims.validate(key, problems);
    }

    fn timezone(&self, _business: Tz) -> Option<Tz> {
        self.timezone.as_deref().and_then(|t| t.parse().ok())
    }

    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        let token = self.secret().resolve()?;
        let client = http_client(
            context,
            Some(Box::new(SecretHeaders::bearer(token))),
            classify,
        )?;
        let base = parse_base_url(&self.base_url)?;
        let account = self.account_digits().to_string();
        let account_url = base
            .join(&format!("{}/act_{account}", self.api_version))
            .map_err(|e| SourceError::new(ErrorKind::Config, format!("bad base_url: {e}")))?;
        Ok(Box::new(MetaSource {
            client,
            base,
            account_url,
            account,
            channel: self.channel.clone(),
            page_size: self.page_size,
            chunk_days: self.chunk_days,
            claims: self.claims.clone(),
        }))
    }
}

#[derive(Debug)]
pub struct MetaSource {
    client: HttpClient,
    base: Url,
    account_url: Url,
    account: String,
    channel: String,
    page_size: u32,
    chunk_days: u32,
    claims: MetaClaims,
}

impl Connector for MetaSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(self.insights(range))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(self.account())
    }

    fn chunk_days(&self) -> Option<u32> {
        Some(self.chunk_days)
    }

    fn timezone(&self) -> BoxFuture<'_, Result<Option<Tz>, SourceError>> {
        Box::pin(async {
            let request = Request::get(self.account_url.clone()).query("fields", "timezone_name");
            let body = self
                .client
                .send_json(&request)
                .await
                .map_err(SourceError::from)?;
            Ok(wire::text(&body, "timezone_name").and_then(|name| name.parse().ok()))
        })
    }
}

impl MetaSource {
    async fn insights(&self, range: DateRange) -> Result<Pull, SourceError> {
        let insights = Url::parse(&format!("{}/insights", self.account_url))
            .map_err(|e| SourceError::new(ErrorKind::Config, format!("bad insights URL: {e}")))?;
        let time_range = json!({"since": range.start.to_string(), "until": range.end.to_string()});
        let mut request = Request::get(insights)
            .query("level", "campaign")
            .query("fields", FIELDS)
            .query("time_range", time_range.to_string())
            .query("time_increment", "1")
            .query("use_unified_attribution_setting", "true")
            .query("limit", self.page_size.to_string());
        let mut rows = Vec::new();
        let mut page = 0;
        let mut guard = PageGuard::default();
        loop {
            page += 1;
            let body = self
                .client
                .send_json(&request)
                .await
                .map_err(SourceError::from)?;
            let data = body.get("data").and_then(Value::as_array).ok_or_else(|| {
                SourceError::new(
                    ErrorKind::Decode,
                    format!(
                        "page {page}: the answer has no `data` array: {}",
                        summarize_body(&body.to_string())
                    ),
                )
            })?;
            for (i, row) in data.iter().enumerate() {
                let parsed = self.parse_row(row, range).map_err(|e| SourceError {
                    message: format!("page {page}, row {}: {}", i + 1, e.message),
                    ..e
                })?;
                rows.push(parsed);
            }
            tracing::debug!(page, rows = data.len(), "read a page of insights");
            match body.pointer("/paging/next").and_then(Value::as_str) {
                Some(next) => {
                    guard.follow(next).map_err(SourceError::from)?;
                    request =
                        Request::get(same_origin_link(&self.base, next).map_err(SourceError::from)?)
                }
                None => break,
            }
        }
        Ok(Pull {
            rows: Pulled::Ads(rows),
            covered: Some(range),
            warnings: Vec::new(),
        })
    }

    fn parse_row(&self, row: &Value, range: DateRange) -> Result<AdDay, SourceError> {
        let date = wire::date(row, "date_start")?;
        if let Some(stop) = wire::text(row, "date_stop")
            && stop != date.to_string()
        {
            return Err(SourceError::invalid(
                "date_stop",
                format!(
                    "{stop:?} differs from date_start {date}; expected daily rows (time_increment=1)"
                ),
            ));
        }
        if !range.contains(date) {
            return Err(SourceError::invalid(
                "date_start",
                format!("{date} is outside the requested range {range}"),
            ));
        }
        let spend = wire::optional_money(row, "spend")?
            .ok_or_else(|| SourceError::invalid("spend", "is missing"))?;
        if spend.is_negative() {
            return Err(SourceError::invalid(
                "spend",
                format!("{spend} is negative"),
            ));
        }
        Ok(AdDay {
            date,
            channel: self.channel.clone(),
            account: self.account.clone(),
            campaign_id: wire::required_text(row, "campaign_id")?,
            campaign_name: wire::text(row, "campaign_name"),
            impressions: wire::count(row, "impressions")?,
            reach: wire::optional_count(row, "reach")?,
            clicks: wire::count(row, "clicks")?,
            spend,
            currency: wire::text(row, "account_currency"),
            claims: self.claims_of(row)?,
        })
    }

    /// The row's claims. Revenue is read from `action_values`; when the row has none, its
    /// revenue is zero if `actions` lists none of the revenue types (no purchase, no purchase
    /// value) and not reported otherwise (purchases counted, their value not tracked).
    fn claims_of(&self, row: &Value) -> Result<Claims, SourceError> {
        let revenue_types = self.claims.revenue_types();
        let revenue = match claimed(row, "action_values", revenue_types, parse_amount)? {
            Some(value) => Some(value),
            None => claimed(row, "actions", revenue_types, parse_count)?
                .filter(|&n| n == 0)
                .map(|_| Money::ZERO),
        };
        Ok(Claims {
            leads: claimed(row, "actions", &self.claims.leads, parse_count)?,
            purchases: claimed(row, "actions", &self.claims.purchases, parse_count)?,
            revenue,
        })
    }

    /// Reads the ad account's name, currency and time zone: one cheap call that proves the
    /// token and the account id.
    async fn account(&self) -> Result<String, SourceError> {
        let request =
            Request::get(self.account_url.clone()).query("fields", "name,currency,timezone_name");
        let body = self
            .client
            .send_json(&request)
            .await
            .map_err(SourceError::from)?;
        Ok(format!(
            "ad account act_{} {:?}, currency {}, time zone {}",
            self.account,
            wire::text(&body, "name").unwrap_or_default(),
            wire::text(&body, "currency").unwrap_or_else(|| "?".into()),
            wire::text(&body, "timezone_name").unwrap_or_else(|| "?".into()),
        ))
    }
}

/// The value of the first of `types` present in the row's `list` (`actions` or
/// `action_values`: `[{"action_type": "lead", "value": "12"}, ...]`).
///
/// A row without the list reports no actions at all: the claim is not reported (`None`). A row
/// with the list but none of `types` in it has none of that conversion, since Meta leaves out
/// the action types a row has zero of: `Some(zero)`.
fn claimed<T: Default>(
    row: &Value,
    list: &str,
    types: &[String],
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, SourceError> {
    let entries = match row.get(list) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            return Err(SourceError::invalid(
                list,
                format!(
                    "is not a list of actions: {}",
                    summarize_body(&other.to_string())
                ),
            ));
        }
    };
    let Some((kind, entry)) = types.iter().find_map(|kind| {
        entries
            .iter()
            .find(|e| e.get("action_type").and_then(Value::as_str) == Some(kind.as_str()))
            .map(|e| (kind, e))
    }) else {
        return Ok(Some(T::default()));
    };
    let raw = wire::text(entry, "value").unwrap_or_default();
    parse(raw.trim())
        .map(Some)
        .map_err(|m| SourceError::invalid(list, format!("action type {kind:?}: {m}")))
}

fn parse_count(raw: &str) -> Result<u64, String> {
    raw.parse()
        .map_err(|_| format!("{raw:?} is not a whole number ≥ 0"))
}

fn parse_amount(raw: &str) -> Result<Money, String> {
    match Money::parse_decimal(raw)? {
        amount if amount.is_negative() => Err(format!("{raw:?} is negative")),
        amount => Ok(amount),
    }
}

/// How long to wait on a Meta throttling error that says nothing about when access returns.
/// Meta's call limits recover over minutes, not the sub-second steps of a generic backoff, so a
/// quick retry would only spend the remaining attempts.
const THROTTLE_WAIT_WITHOUT_HINT: Duration = Duration::from_secs(60);

/// Error codes Meta uses for "too many calls" (app, user, ad account, business use case).
fn is_throttling_code(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 341 | 613) || (80000..=80014).contains(&code)
}

/// Reads Meta's error envelope `{"error": {"code", "error_subcode", "message", ...}}`.
fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> Option<Failure> {
    let parsed: Value = serde_json::from_str(body).ok()?;
    let error = parsed.get("error")?;
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let subcode = error.get("error_subcode").and_then(Value::as_i64);
    let text = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let mut message = format!("Meta error {code}");
    if let Some(sub) = subcode {
        message.push_str(&format!("/{sub}"));
    }
    message.push_str(&format!(": {text}"));
    if let Some(trace) = error.get("fbtrace_id").and_then(Value::as_str) {
        message.push_str(&format!(" (fbtrace_id {trace})"));
    }
    let transient = error
        .get("is_transient")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some(if is_throttling_code(code) {
        Failure::retry(
            FailureKind::Throttled,
            Some(
                regain_access_wait(headers)
                    .or_else(|| retry_after(headers))
                    .unwrap_or(THROTTLE_WAIT_WITHOUT_HINT),
            ),
            message,
        )
    } else if code == 190 || code == 102 || status == StatusCode::UNAUTHORIZED {
        Failure::fatal(
            FailureKind::Auth,
            format!("{message} (the access token is invalid or expired)"),
        )
    } else if code == 100 && subcode == Some(1_504_018) {
        Failure::fatal(
            FailureKind::Rejected,
            format!("{message} (the request timed out at Meta: lower chunk_days for this source)"),
        )
    } else if transient || matches!(code, 1 | 2) || status.is_server_error() {
        Failure::retry(FailureKind::Server, retry_after(headers), message)
    } else if status == StatusCode::FORBIDDEN || code == 10 || (200..300).contains(&code) {
        Failure::fatal(
            FailureKind::Auth,
            format!("{message} (the token lacks permission for this ad account)"),
        )
    } else {
        Failure::fatal(FailureKind::Rejected, message)
    })
}

/// `X-Business-Use-Case-Usage` says, per business object, how many *minutes* until access
/// returns; wait for the longest of them when it is above zero.
fn regain_access_wait(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get("x-business-use-case-usage")?.to_str().ok()?;
    let usage: Value = serde_json::from_str(raw).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|entry| {
            entry
                .get("estimated_time_to_regain_access")
                .and_then(Value::as_f64)
        })
        .fold(0.0_f64, f64::max);
    (minutes > 0.0)
        .then(|| wait_of_seconds(minutes * 60.0))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem `claims` has, as `kassa check` shows them.
    fn claim_problems(claims: MetaClaims) -> Vec<String> {
        let mut problems = Problems::default();
        claims.validate("sources[0]", &mut problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn claim_lists_must_name_action_types() {
        assert!(claim_problems(MetaClaims::default()).is_empty());
        let problems = claim_problems(MetaClaims {
            leads: Vec::new(),
            purchases: vec!["purchase".into(), " ".into()],
            revenue: Some(Vec::new()),
        });
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].contains("sources[0].claims.leads"),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains("empty list"), "{}", problems[0]);
        assert!(
            problems[0].contains("claims = {"),
            "no example: {}",
            problems[0]
        );
        assert!(
            problems[1].contains("sources[0].claims.purchases"),
            "{}",
            problems[1]
        );
        assert!(problems[1].contains("empty action type"), "{}", problems[1]);
        assert!(
            problems[2].contains("sources[0].claims.revenue"),
            "{}",
            problems[2]
        );
    }

    #[test]
    fn throttling_is_read_from_the_body_of_a_400() {
        let body = r#"{"error":{"message":"(#80000) There have been too many calls from this ad-account.","type":"OAuthException","code":80000,"error_subcode":2446079,"fbtrace_id":"AbC"}}"#;
        let failure = classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), body).unwrap();
        assert_eq!(failure.kind, FailureKind::Throttled);
        assert!(failure.retryable);
    }

    #[test]
    fn regain_access_minutes_become_a_wait() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-business-use-case-usage",
            r#"{"123":[{"type":"ads_insights","call_count":98,"estimated_time_to_regain_access":2}]}"#
                .parse()
                .unwrap(),
        );
        assert_eq!(regain_access_wait(&headers), Some(Duration::from_secs(120)));
    }

    #[test]
    fn an_expired_token_is_an_auth_failure() {
        let body = r#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190}}"#;
        let failure = classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), body).unwrap();
        assert_eq!(failure.kind, FailureKind::Auth);
        assert!(!failure.retryable);
    }

    fn usage_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = value.parse() {
            headers.insert("x-business-use-case-usage", value);
        }
        headers
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Whole minutes to regain access become exactly that wait, the longest use case's.
        #[test]
        fn usage_minutes_become_the_longest_wait(minutes in proptest::collection::vec(0u32..100_000, 1..4)) {
            let entries: Vec<Value> = minutes
                .iter()
                .map(|m| json!({"type": "ads_insights", "estimated_time_to_regain_access": m}))
                .collect();
            let headers = usage_header(&json!({"123": entries}).to_string());
            let longest = u64::from(*minutes.iter().max().unwrap_or(&0));
            let expected = (longest > 0).then(|| Duration::from_secs(longest * 60));
            proptest::prop_assert_eq!(regain_access_wait(&headers), expected);
        }

        /// Any usage header (any number, however large or negative, any shape, any text) is a
        /// wait or none, never a panic; nor is classifying a throttling error that carries it.
        #[test]
        fn any_usage_header_is_a_wait_or_none(
            minutes in proptest::prelude::any::<f64>(),
            text in "[ -~]{0,60}",
            raw in proptest::prelude::any::<bool>(),
        ) {
            let value = if raw {
                text
            } else {
                json!({"1": [{"estimated_time_to_regain_access": minutes}]}).to_string()
            };
            let headers = usage_header(&value);
            let _ = regain_access_wait(&headers);
            let body = r#"{"error":{"message":"too many calls","code":80000}}"#;
            let failure = classify(StatusCode::BAD_REQUEST, &headers, body).unwrap();
            proptest::prop_assert_eq!(failure.kind, FailureKind::Throttled);
        }
    }
}
