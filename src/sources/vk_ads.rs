//! `vk_ads`: VK Ads (the myTarget engine) daily statistics per ad plan (a campaign in the
//! cabinet).
//!
//! A pull first lists the account's ad plans (`GET /api/v2/ad_plans.json`, `limit`/`offset`
//! pages), then asks `GET /api/v2/statistics/ad_plans/day.json` for their days, at most
//! [`IDS_PER_REQUEST`] ids per request (the documented limit; v2 statistics have no pages of
//! their own). Counts are JSON integers, money (`spent`) a decimal string in the account
//! currency, rates (`ctr`, `cr`) floats in percent, which kassa does not read. `goals` are what
//! VK Ads claims its ads brought, read as claimed leads. The `base` metrics carry no reach, so
//! reach stays unknown, never zero. Days are the account's (Moscow time unless configured).
//!
//! VK Ads keeps daily statistics for a year: a range reaching further back is pulled from the
//! earliest day it still has, and the days before are left uncovered with a warning (they
//! become data gaps), or refused outright when the whole range is older.
//!
//! Access tokens come from the client-credentials grant (`POST /api/v2/oauth2/token.json`) and
//! are kept in the token cache until they expire: VK Ads issues at most five live tokens per
//! client, so fetching one per run would lock the client out within days.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;

use super::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SecretRef, SourceError,
    http_client, parse_base_url, validate_base_url, validate_timezone,
};
use super::wire;
use crate::domain::{AdDay, Claims, DateRange, Money, Pulled, RowKind};
use crate::http::auth::{Grant, OAuth2, TokenBody};
use crate::http::{
    Failure, FailureKind, HttpClient, PageGuard, Request, retry_after, summarize_body,
};
use crate::validation::Problems;

/// The most ad plan ids one statistics request may name (VK Ads documents 200).
pub const IDS_PER_REQUEST: usize = 200;

/// How many days back VK Ads keeps daily statistics, today included (documented).
pub const DAYS_KEPT: u32 = 365;

/// Ad plans per listing page (the documented maximum).
const LIST_LIMIT: usize = 50;

/// Days per statistics request: the range many VK Ads clients keep to, far inside the API's
/// limit on "requested dates or number of objects".
const CHUNK_DAYS: u32 = 90;

const TOKEN_PATH: &str = "api/v2/oauth2/token.json";
const AD_PLANS_PATH: &str = "api/v2/ad_plans.json";
const STATS_PATH: &str = "api/v2/statistics/ad_plans/day.json";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VkAdsConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night (goals move for a few days after the click).
    pub lookback_days: Option<u32>,
    pub client_id_env: Option<String>,
    pub client_id_file: Option<PathBuf>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The channel every row of this account is reported under.
    #[serde(default = "default_channel")]
    pub channel: String,
    /// The zone the account's days are in (IANA name).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// The account currency: the statistics do not say it.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// When goals are counted: `conversion` (the day of the goal) or `impression` (the day of
    /// the ad's show); VK Ads' own default when not set.
    pub attribution: Option<String>,
    /// How many days back, today included, VK Ads keeps daily statistics: older days are
    /// not asked for. Only for a VK Ads that changed its documented 365, or a test fake that
    /// serves older days.
    #[serde(default = "default_statistics_days")]
    pub statistics_days: u32,
}

fn default_base_url() -> String {
    "https://ads.vk.com".to_string()
}
fn default_channel() -> String {
    "vk_ads".to_string()
}
fn default_timezone() -> String {
    "Europe/Moscow".to_string()
}
fn default_currency() -> String {
    "RUB".to_string()
}
fn default_statistics_days() -> u32 {
    DAYS_KEPT
}

impl VkAdsConfig {
    fn client_id(&self) -> SecretRef {
        SecretRef {
            what: "client id",
            env_key: "client_id_env",
            file_key: "client_id_file",
            env: self.client_id_env.clone(),
            file: self.client_id_file.clone(),
            example: "client_id_env = \"KASSA_VK_CLIENT_ID\"".to_string(),
        }
    }

    fn client_secret(&self) -> SecretRef {
        SecretRef {
            what: "client secret",
            env_key: "client_secret_env",
            file_key: "client_secret_file",
            env: self.client_secret_env.clone(),
            file: self.client_secret_file.clone(),
            example: "client_secret_env = \"KASSA_VK_CLIENT_SECRET\"".to_string(),
        }
    }
}

impl ConnectorConfig for VkAdsConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// VK Ads does not document a restatement window; goals are attributed after the day
    /// (`attribution`), so a week is re-pulled.
    fn default_lookback_days(&self) -> u32 {
        7
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Ads
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        for path in [&mut self.client_id_file, &mut self.client_secret_file]
            .into_iter()
            .flatten()
        {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        self.client_id().validate(key, problems);
        self.client_secret().validate(key, problems);
        validate_base_url(&self.base_url, &format!("{key}.base_url"), problems);
        if self.channel.trim().is_empty() {
            problems.push_with_example(
                format!("{key}.channel"),
                "is empty",
                "channel = \"vk_ads\"",
            );
        }
        validate_timezone(Some(&self.timezone), key, problems);
        let currency = self.currency.trim();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            problems.push_with_example(
                format!("{key}.currency"),
                format!("{:?} is not a currency code", self.currency),
                "currency = \"RUB\"",
            );
        }
        if self.statistics_days == 0 {
            problems.push_with_example(
                format!("{key}.statistics_days"),
                "must be at least 1",
                "statistics_days = 365",
            );
        }
        if let Some(attribution) = &self.attribution
            && !matches!(attribution.as_str(), "conversion" | "impression")
        {
            problems.push_with_example(
                format!("{key}.attribution"),
                format!("{attribution:?} is neither \"conversion\" nor \"impression\""),
                "attribution = \"conversion\"",
            );
        }
    }

    fn timezone(&self, _business: Tz) -> Option<Tz> {
        self.timezone.parse().ok()
    }

    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        let client_id = self.client_id().resolve()?;
        let client_secret = self.client_secret().resolve()?;
        let base = parse_base_url(&self.base_url)?;
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| SourceError::new(ErrorKind::Config, format!("bad base_url: {e}")))
        };
        let auth = OAuth2::new(
            join(TOKEN_PATH)?,
            client_id.expose_secret(),
            Some(client_secret),
            Grant::ClientCredentials { scope: None },
            TokenBody::Form,
            context.tokens.clone(),
            format!("source:{}", self.name),
        );
        let client = http_client(context, Some(Box::new(auth)), classify)?;
        let timezone = self.timezone.parse().map_err(|_| {
            SourceError::new(
                ErrorKind::Config,
                format!("timezone {:?} is not an IANA time zone name", self.timezone),
            )
        })?;
        Ok(Box::new(VkAdsSource {
            client,
            ad_plans_url: join(AD_PLANS_PATH)?,
            stats_url: join(STATS_PATH)?,
            account: client_id.expose_secret().to_string(),
            channel: self.channel.clone(),
            timezone,
            currency: self.currency.trim().to_string(),
            attribution: self.attribution.clone(),
            statistics_days: self.statistics_days,
        }))
    }
}

#[derive(Debug)]
pub struct VkAdsSource {
    client: HttpClient,
    /// The API client's id: it stands for the cabinet whose ad plans it reads.
    account: String,
    ad_plans_url: Url,
    stats_url: Url,
    channel: String,
    timezone: Tz,
    currency: String,
    attribution: Option<String>,
    statistics_days: u32,
}

/// One ad plan from the listing.
#[derive(Debug, Clone)]
struct AdPlan {
    id: String,
    name: Option<String>,
}

impl Connector for VkAdsSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(async move { self.statistics(range).await.map_err(with_auth_hint) })
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(async move { self.probe_listing().await.map_err(with_auth_hint) })
    }

    fn chunk_days(&self) -> Option<u32> {
        Some(CHUNK_DAYS)
    }
}

impl VkAdsSource {
    async fn statistics(&self, range: DateRange) -> Result<Pull, SourceError> {
        let today = Utc::now().with_timezone(&self.timezone).date_naive();
        let (asked, warnings) = within_kept_days(range, today, self.statistics_days)?;
        let plans = self.ad_plans().await?;
        let mut rows = Vec::new();
        for batch in plans.chunks(IDS_PER_REQUEST) {
            rows.extend(self.batch(batch, asked).await?);
        }
        Ok(Pull {
            rows: Pulled::Ads(rows),
            covered: Some(asked),
            warnings,
        })
    }

    /// Every ad plan of the account, deleted ones included (they spent money on past days).
    async fn ad_plans(&self) -> Result<Vec<AdPlan>, SourceError> {
        let mut plans = Vec::new();
        let mut guard = PageGuard::default();
        let mut offset = 0;
        for page in 1.. {
            let request = self.listing(LIST_LIMIT, offset);
            let body = self
                .client
                .send_json(&request)
                .await
                .map_err(SourceError::from)?;
            let items = listing_items(&body, page)?;
            if items.is_empty() {
                break;
            }
            // A platform that answers a later offset with an earlier page would loop forever.
            let answered = match body.get("offset") {
                Some(value) => value.as_u64().and_then(|o| usize::try_from(o).ok()),
                None => Some(offset),
            }
            .ok_or_else(|| SourceError::invalid("offset", "is not a whole number"))?;
            guard
                .follow(&answered.to_string())
                .map_err(SourceError::from)?;
            for (i, item) in items.iter().enumerate() {
                plans.push(ad_plan(item).map_err(|e| SourceError {
                    message: format!("ad plans page {page}, item {}: {}", i + 1, e.message),
                    ..e
                })?);
            }
            offset = answered + items.len();
            let last = match wire::optional_count(&body, "count")? {
                Some(count) => offset as u64 >= count,
                None => items.len() < LIST_LIMIT,
            };
            if last {
                break;
            }
        }
        tracing::debug!(ad_plans = plans.len(), "listed the ad plans");
        Ok(plans)
    }

    fn listing(&self, limit: usize, offset: usize) -> Request {
        Request::get(self.ad_plans_url.clone())
            .query("fields", "id,name,status")
            .query("_status__in", "active,blocked,deleted")
            .query("limit", limit.to_string())
            .query("offset", offset.to_string())
    }

    /// The days of one batch of ad plans.
    async fn batch(&self, plans: &[AdPlan], range: DateRange) -> Result<Vec<AdDay>, SourceError> {
        let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
        let mut request = Request::get(self.stats_url.clone())
            .query("id", ids.join(","))
            .query("date_from", range.start.to_string())
            .query("date_to", range.end.to_string())
            .query("metrics", "base");
        if let Some(attribution) = &self.attribution {
            request = request.query("attribution", attribution.clone());
        }
        let body = self
            .client
            .send_json(&request)
            .await
            .map_err(SourceError::from)?;
        let items = body.get("items").and_then(Value::as_array).ok_or_else(|| {
            SourceError::new(
                ErrorKind::Decode,
                format!(
                    "the statistics answer has no `items` array: {}",
                    summarize_body(&body.to_string())
                ),
            )
        })?;
        let mut rows = Vec::new();
        for item in items {
            let id = wire::required_text(item, "id")?;
            let plan = plans.iter().find(|p| p.id == id).ok_or_else(|| {
                SourceError::invalid("id", format!("statistics for ad plan {id}, not asked for"))
            })?;
            let days = item.get("rows").and_then(Value::as_array).ok_or_else(|| {
                SourceError::new(
                    ErrorKind::Decode,
                    format!("ad plan {id}: the statistics have no `rows` array"),
                )
            })?;
            for day in days {
                let parsed = self.parse_day(plan, day, range).map_err(|e| SourceError {
                    message: format!("ad plan {id}: {}", e.message),
                    ..e
                })?;
                rows.extend(parsed);
            }
        }
        Ok(rows)
    }

    /// One day of one ad plan; `None` for a day without shows, clicks, spend or goals (VK Ads
    /// lists every day of the range, and the range is covered either way).
    fn parse_day(
        &self,
        plan: &AdPlan,
        day: &Value,
        range: DateRange,
    ) -> Result<Option<AdDay>, SourceError> {
        let date = wire::date(day, "date")?;
        let in_day = |e: SourceError| SourceError {
            message: format!("{date}: {}", e.message),
            ..e
        };
        if !range.contains(date) {
            return Err(in_day(SourceError::invalid(
                "date",
                format!("{date} is outside the requested range {range}"),
            )));
        }
        let base = day
            .get("base")
            .filter(|b| b.is_object())
            .ok_or_else(|| in_day(SourceError::invalid("base", "is missing")))?;
        let shows = wire::count(base, "shows").map_err(in_day)?;
        let clicks = wire::count(base, "clicks").map_err(in_day)?;
        let goals = wire::optional_count(base, "goals").map_err(in_day)?;
        let spent = wire::optional_money(base, "spent")
            .map_err(in_day)?
            .ok_or_else(|| in_day(SourceError::invalid("spent", "is missing")))?;
        if spent.is_negative() {
            return Err(in_day(SourceError::invalid(
                "spent",
                format!("{spent} is negative"),
            )));
        }
        if shows == 0 && clicks == 0 && spent == Money::ZERO && goals.unwrap_or(0) == 0 {
            return Ok(None);
        }
        Ok(Some(AdDay {
            date,
            channel: self.channel.clone(),
            account: self.account.clone(),
            campaign_id: plan.id.clone(),
            campaign_name: plan.name.clone(),
            impressions: shows,
            // The `base` metrics have no reach: unknown, never zero.
            reach: None,
            clicks,
            spend: spent,
            currency: Some(self.currency.clone()),
            claims: Claims {
                leads: goals,
                purchases: None,
                revenue: None,
            },
        }))
    }

    /// One listing call: proves the client credentials and that the client sees ad plans.
    async fn probe_listing(&self) -> Result<String, SourceError> {
        let body = self
            .client
            .send_json(&self.listing(1, 0))
            .await
            .map_err(SourceError::from)?;
        let items = listing_items(&body, 1)?;
        let count = wire::optional_count(&body, "count")?.unwrap_or(items.len() as u64);
        Ok(format!(
            "VK Ads: {count} ad plans, days in {}, currency {}",
            self.timezone, self.currency
        ))
    }
}

fn listing_items(body: &Value, page: usize) -> Result<&Vec<Value>, SourceError> {
    body.get("items").and_then(Value::as_array).ok_or_else(|| {
        SourceError::new(
            ErrorKind::Decode,
            format!(
                "ad plans page {page}: the answer has no `items` array: {}",
                summarize_body(&body.to_string())
            ),
        )
    })
}

fn ad_plan(item: &Value) -> Result<AdPlan, SourceError> {
    let id = wire::required_text(item, "id")?;
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SourceError::invalid(
            "id",
            format!("{id:?} is not an ad plan id"),
        ));
    }
    Ok(AdPlan {
        id,
        name: wire::text(item, "name").filter(|n| !n.is_empty()),
    })
}

/// The part of `range` VK Ads still has daily statistics for, on `today` in the account's
/// zone, and a warning naming the days it no longer has; an error when it has none of them.
fn within_kept_days(
    range: DateRange,
    today: NaiveDate,
    kept: u32,
) -> Result<(DateRange, Vec<String>), SourceError> {
    let earliest = today
        .checked_sub_days(Days::new(u64::from(kept.saturating_sub(1))))
        .unwrap_or(NaiveDate::MIN);
    if range.start >= earliest {
        return Ok((range, Vec::new()));
    }
    let advice = format!(
        "VK Ads keeps daily statistics for the last {kept} days only; load older days from a VK Ads export through a csv_ads source"
    );
    match DateRange::new(earliest, range.end) {
        Some(kept) => {
            let lost = DateRange {
                start: range.start,
                end: earliest.pred_opt().unwrap_or(earliest),
            };
            Ok((
                kept,
                vec![format!(
                    "{lost} not pulled (left as a data gap): {advice} (the earliest day today is {earliest})"
                )],
            ))
        }
        None => Err(SourceError::new(
            ErrorKind::Rejected,
            format!(
                "the whole range is older than VK Ads keeps: {advice} (the earliest day today is {earliest})"
            ),
        )),
    }
}

/// An authentication failure with what to check in VK Ads, since the token endpoint's own
/// words rarely say which credential is wrong.
fn with_auth_hint(error: SourceError) -> SourceError {
    if error.kind != ErrorKind::Auth {
        return error;
    }
    SourceError {
        message: format!(
            "{} (check client_id and client_secret against the VK Ads cabinet, Settings → API access; VK Ads issues at most 5 tokens per client, so a refused new token can mean old ones must be deleted or left to expire)",
            error.message
        ),
        ..error
    }
}

/// How long to wait when VK Ads says "too many requests" and no header says more: its
/// per-second limit, the one most often hit, renews within a second.
const PER_SECOND_WAIT: Duration = Duration::from_secs(1);

/// The `code` and `message` of VK Ads' error bodies: `{"error": {"code", "message"}}` from the
/// API, `{"code", "message"}` (with `WWW-Authenticate`) for a refused token.
fn error_of(body: &str) -> Option<(String, String)> {
    let parsed: Value = serde_json::from_str(body).ok()?;
    let error = match parsed.get("error") {
        Some(inner) if inner.is_object() => inner,
        _ => &parsed,
    };
    let code = wire::text(error, "code")?;
    let message = wire::text(error, "message").unwrap_or_else(|| "no message".into());
    Some((code, message))
}

/// Reads VK Ads' error answers and its `X-RateLimit-*` headers.
fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> Option<Failure> {
    let error = error_of(body);
    let message = match &error {
        Some((code, text)) => format!("VK Ads error {code}: {text}"),
        None => summarize_body(body),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Some(throttled(headers, message));
    }
    let (code, _) = error?;
    Some(match (status, code.as_str()) {
        (StatusCode::UNAUTHORIZED, _) => Failure::fatal(
            FailureKind::Auth,
            format!("{message} (the access token was refused)"),
        ),
        (StatusCode::FORBIDDEN, _) => Failure::fatal(
            FailureKind::Auth,
            format!("{message} (the client has no access to these ad plans)"),
        ),
        (s, _) if s.is_server_error() => Failure::retry(FailureKind::Server, None, message),
        (_, "ERR_WRONG_DATE") => Failure::fatal(
            FailureKind::Rejected,
            format!("{message} (VK Ads gives daily statistics for the last 365 days only)"),
        ),
        _ => Failure::fatal(FailureKind::Rejected, message),
    })
}

/// The wait a 429 asks for: `Retry-After` if sent; none when the daily limit is spent (it
/// renews at midnight, the next run's business); the rest of the calendar hour when the hourly
/// one is (as of the answer's `Date`); otherwise a second.
fn throttled(headers: &HeaderMap, message: String) -> Failure {
    let spent = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .is_some_and(|remaining| remaining <= 0)
    };
    if let Some(wait) = retry_after(headers) {
        return Failure::retry(FailureKind::Throttled, Some(wait), message);
    }
    if spent("x-ratelimit-daily-remaining") {
        return Failure::fatal(
            FailureKind::Throttled,
            format!("{message} (the daily request limit is spent; it renews at midnight)"),
        );
    }
    let wait = if spent("x-ratelimit-hourly-remaining") {
        let now = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok());
        let into_hour = now.map_or(0, |t| u64::from(t.minute() * 60 + t.second()));
        Duration::from_secs(3600 - into_hour)
    } else {
        PER_SECOND_WAIT
    };
    Failure::retry(FailureKind::Throttled, Some(wait), message)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::Strategy as _;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn a_spent_hourly_limit_waits_for_the_next_hour() {
        let h = headers(&[
            ("x-ratelimit-hourly-remaining", "0"),
            ("x-ratelimit-rps-remaining", "5"),
            ("date", "Mon, 30 Nov 2026 12:58:30 GMT"),
        ]);
        let failure = throttled(&h, "429".into());
        assert_eq!(failure.kind, FailureKind::Throttled);
        assert_eq!(failure.wait, Some(Duration::from_secs(90)));
        let h = headers(&[("x-ratelimit-rps-remaining", "0")]);
        assert_eq!(throttled(&h, "429".into()).wait, Some(PER_SECOND_WAIT));
        let h = headers(&[("x-ratelimit-daily-remaining", "0")]);
        let failure = throttled(&h, "429".into());
        assert!(!failure.retryable);
        assert!(failure.message.contains("daily"), "{}", failure.message);
    }

    #[test]
    fn api_and_token_errors_are_both_read() {
        let api = r#"{"error":{"message":"Exceeded the limit","code":"ERR_LIMIT_EXCEEDED"}}"#;
        let failure = classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), api).unwrap();
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(failure.message.contains("ERR_LIMIT_EXCEEDED"));
        let token = r#"{"code":"expired_token","message":"Access token is expired"}"#;
        let failure = classify(StatusCode::UNAUTHORIZED, &HeaderMap::new(), token).unwrap();
        assert_eq!(failure.kind, FailureKind::Auth);
        assert!(failure.message.contains("expired_token"));
    }

    /// One source for every case: building an HTTP client is the slow part.
    static SOURCE: std::sync::LazyLock<VkAdsSource> = std::sync::LazyLock::new(|| VkAdsSource {
        client: HttpClient::new(None, crate::http::RetryPolicy::default(), classify).unwrap(),
        ad_plans_url: Url::parse("https://ads.vk.com/api/v2/ad_plans.json").unwrap(),
        stats_url: Url::parse("https://ads.vk.com/api/v2/statistics/ad_plans/day.json").unwrap(),
        account: "client".into(),
        channel: "vk_ads".into(),
        timezone: chrono_tz::Europe::Moscow,
        currency: "RUB".into(),
        attribution: None,
        statistics_days: DAYS_KEPT,
    });

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Any value in any `base` field is read or refused naming a field, never a panic;
        /// whatever is read keeps reach unknown and spend not negative.
        #[test]
        fn any_day_is_read_or_names_the_field(
            field in proptest::sample::select(vec!["shows", "clicks", "goals", "spent", "date"]),
            value in proptest::prop_oneof![
                proptest::prelude::any::<i64>().prop_map(|n| serde_json::json!(n)),
                proptest::prelude::any::<f64>().prop_map(|n| serde_json::json!(n)),
                "[ -~]{0,12}".prop_map(|t| serde_json::json!(t)),
                proptest::strategy::Just(Value::Null),
            ],
        ) {
            let mut day = serde_json::json!({
                "date": "2024-05-02",
                "base": {"shows": 10, "clicks": 1, "goals": 0, "spent": "1.50"}
            });
            if field == "date" {
                day["date"] = value;
            } else {
                day["base"][field] = value;
            }
            let plan = AdPlan { id: "1".into(), name: None };
            let week = DateRange::new(
                NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
                NaiveDate::from_ymd_opt(2024, 5, 7).unwrap(),
            )
            .unwrap();
            match SOURCE.parse_day(&plan, &day, week) {
                Ok(Some(row)) => {
                    proptest::prop_assert!(row.reach.is_none());
                    proptest::prop_assert!(!row.spend.is_negative());
                }
                Ok(None) => {}
                Err(e) => proptest::prop_assert!(e.message.contains('`'), "{}", e.message),
            }
        }

        /// Any rate-limit header value is a wait, a refusal or the default, never a panic.
        #[test]
        fn any_rate_limit_header_is_read_without_panic(value in "[ -~]{0,30}") {
            let mut map = HeaderMap::new();
            for name in ["x-ratelimit-hourly-remaining", "x-ratelimit-daily-remaining", "date"] {
                if let Ok(v) = value.parse() {
                    map.insert(name, v);
                }
            }
            let failure = classify(StatusCode::TOO_MANY_REQUESTS, &map, &value).unwrap();
            proptest::prop_assert_eq!(failure.kind, FailureKind::Throttled);
        }
    }

    #[test]
    fn days_older_than_a_year_are_left_uncovered_or_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let recent = DateRange::new(d("2026-11-01"), d("2026-11-29")).unwrap();
        assert_eq!(
            within_kept_days(recent, today, DAYS_KEPT).unwrap(),
            (recent, vec![])
        );
        let straddling = DateRange::new(d("2025-11-20"), d("2025-12-10")).unwrap();
        let (kept, warnings) = within_kept_days(straddling, today, DAYS_KEPT).unwrap();
        assert_eq!(kept.start, d("2025-12-01"));
        assert!(warnings[0].contains("2025-11-20"), "{warnings:?}");
        let old = DateRange::new(d("2025-01-01"), d("2025-01-31")).unwrap();
        let error = within_kept_days(old, today, DAYS_KEPT).unwrap_err();
        assert!(error.message.contains("365 days"), "{}", error.message);
    }
}
