//! `amocrm`: amoCRM (and Kommo, the same API) leads, `GET /api/v4/leads`.
//!
//! One listing per chunk: every lead created before the chunk ends and updated since it began
//! (`filter[created_at][to]` and `filter[updated_at][from]`, Unix seconds). That holds every
//! lead created *or* closed in the chunk (closing a lead updates it), in half the requests of
//! a created query plus a closed query, which matters under amoCRM's 7 requests a second and
//! its IP bans for repeated full listings; the leads that merely changed are dropped here, by
//! their dates. Pages follow `_links.next`; a page with nothing on it is `204 No Content`.
//! Status 142 is won and 143 lost in every pipeline; any other status is open. `price` is an
//! integer in the account's currency (the `currency` key says which); a lead without one has an
//! unknown amount, never zero. Timestamps are Unix seconds, dated in the business's zone.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use secrecy::SecretString;
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
    same_origin_link, summarize_body,
};
use crate::validation::Problems;

/// amoCRM's "Успешно реализовано" and "Закрыто и не реализовано": the same ids in every
/// pipeline.
const STATUS_WON: u64 = 142;
const STATUS_LOST: u64 = 143;

/// The most leads one page may hold.
const MAX_PAGE_SIZE: u32 = 250;

/// How many lead ids a warning lists before it says "and N more".
const WARN_IDS: usize = 5;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmoCrmConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night (leads are reopened and re-priced at any time).
    pub lookback_days: Option<u32>,
    /// The account's subdomain: `example` is `https://example.amocrm.ru`.
    pub subdomain: Option<String>,
    /// The API's address instead of `subdomain` (Kommo: `https://example.kommo.com`).
    pub base_url: Option<String>,
    /// A long-lived token of a private integration.
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    /// OAuth instead of a long-lived token: the integration's id, secret and redirect URI,
    /// and the refresh token a person obtained once (amoCRM rotates it on every refresh).
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub refresh_token_env: Option<String>,
    pub refresh_token_file: Option<PathBuf>,
    pub redirect_uri: Option<String>,
    /// The account's currency (`price` carries none of its own), e.g. "RUB".
    pub currency: Option<String>,
    /// Rules from lead fields (`tags`; custom fields by code, name or id; top-level fields)
    /// to channels. Without them, a lead's channel is its `utm_source` custom field
    /// lower-cased.
    #[serde(default)]
    pub channel_rules: ChannelRules,
    /// Only leads in these pipelines (ids); empty: every pipeline.
    #[serde(default)]
    pub pipelines: Vec<u64>,
    /// Never leads in these pipelines (ids).
    #[serde(default)]
    pub exclude_pipelines: Vec<u64>,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    #[serde(default = "default_chunk_days")]
    pub chunk_days: u32,
}

/// The custom field a lead's channel is read from without rules.
const SOURCE_FIELD: &str = "utm_source";
/// The rule field that means the lead's tags.
const TAGS: &str = "tags";
fn default_page_size() -> u32 {
    MAX_PAGE_SIZE
}
fn default_chunk_days() -> u32 {
    31
}

impl AmoCrmConfig {
    fn token(&self) -> SecretRef {
        SecretRef::token(&self.token_env, &self.token_file, "KASSA_AMOCRM_TOKEN")
    }

    fn client_secret(&self) -> SecretRef {
        SecretRef {
            what: "client secret",
            env_key: "client_secret_env",
            file_key: "client_secret_file",
            env: self.client_secret_env.clone(),
            file: self.client_secret_file.clone(),
            example: "client_secret_env = \"KASSA_AMOCRM_CLIENT_SECRET\"".to_string(),
        }
    }

    fn refresh_token(&self) -> SecretRef {
        SecretRef {
            what: "refresh token",
            env_key: "refresh_token_env",
            file_key: "refresh_token_file",
            env: self.refresh_token_env.clone(),
            file: self.refresh_token_file.clone(),
            example: "refresh_token_env = \"KASSA_AMOCRM_REFRESH_TOKEN\"".to_string(),
        }
    }

    /// OAuth is chosen by naming any of its keys; otherwise a long-lived token.
    fn uses_oauth(&self) -> bool {
        self.client_id.is_some()
            || self.client_secret_env.is_some()
            || self.client_secret_file.is_some()
            || self.refresh_token_env.is_some()
            || self.refresh_token_file.is_some()
            || self.redirect_uri.is_some()
    }

    fn api_base(&self) -> String {
        match (&self.base_url, &self.subdomain) {
            (Some(url), _) => url.clone(),
            (None, Some(sub)) => format!("https://{sub}.amocrm.ru"),
            (None, None) => String::new(),
        }
    }
}

impl ConnectorConfig for AmoCrmConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// Leads are reopened, re-priced and re-closed at any time; the reference re-pulls the
    /// trailing 30 days of won and lost leads nightly.
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
        match (&self.subdomain, &self.base_url) {
            (Some(_), Some(_)) => problems.push(
                format!("{key}.subdomain"),
                "give either subdomain (amoCRM) or base_url (Kommo, a proxy), not both",
            ),
            (None, None) => problems.push_with_example(
                format!("{key}.subdomain"),
                "is missing: the account's address is needed",
                "subdomain = \"example\"   # https://example.amocrm.ru",
            ),
            (Some(sub), None) => {
                let valid = !sub.is_empty()
                    && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !sub.starts_with('-');
                if !valid {
                    problems.push_with_example(
                        format!("{key}.subdomain"),
                        format!("{sub:?} is not a subdomain (only the part before .amocrm.ru)"),
                        "subdomain = \"example\"",
                    );
                }
            }
            (None, Some(url)) => validate_base_url(url, &format!("{key}.base_url"), problems),
        }
        if self.uses_oauth() {
            if self.token_env.is_some() || self.token_file.is_some() {
                problems.push(
                    format!("{key}.token_env"),
                    "give either a long-lived token (token_env/token_file) or OAuth (client_id, client_secret_env, refresh_token_env, redirect_uri), not both",
                );
            }
            if self
                .client_id
                .as_deref()
                .is_none_or(|id| id.trim().is_empty())
            {
                problems.push_with_example(
                    format!("{key}.client_id"),
                    "is missing: OAuth needs the integration's id",
                    "client_id = \"6a2d4741-0000-4000-8000-92277723dcea\"",
                );
            }
            match &self.redirect_uri {
                None => problems.push_with_example(
                    format!("{key}.redirect_uri"),
                    "is missing: amoCRM wants the integration's redirect URI with every refresh",
                    "redirect_uri = \"https://example.com/amocrm\"",
                ),
                Some(uri) if Url::parse(uri).is_err() => problems.push(
                    format!("{key}.redirect_uri"),
                    format!("{uri:?} is not a URL"),
                ),
                Some(_) => {}
            }
            self.client_secret().validate(key, problems);
            self.refresh_token().validate(key, problems);
        } else {
            self.token().validate(key, problems);
        }
        if let Some(currency) = &self.currency
            && !(currency.len() == 3 && currency.chars().all(|c| c.is_ascii_uppercase()))
        {
            problems.push_with_example(
                format!("{key}.currency"),
                format!("{currency:?} is not an ISO 4217 code"),
                "currency = \"RUB\"",
            );
        }
        self.channel_rules.validate(key, &[], problems);
        if let Some(both) = self
            .pipelines
            .iter()
            .find(|p| self.exclude_pipelines.contains(p))
        {
            problems.push(
                format!("{key}.exclude_pipelines"),
                format!("pipeline {both} is both included and excluded"),
            );
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            problems.push(
                format!("{key}.page_size"),
                format!("must be between 1 and {MAX_PAGE_SIZE} (amoCRM's maximum)"),
            );
        }
        if !(1..=366).contains(&self.chunk_days) {
            problems.push(format!("{key}.chunk_days"), "must be between 1 and 366");
        }
    }

    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        let base = parse_base_url(&self.api_base())?;
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| SourceError::new(ErrorKind::Config, format!("bad base_url: {e}")))
        };
        let auth: Box<dyn Authenticator> = if self.uses_oauth() {
            let oauth = OAuth2::new(
                join("oauth2/access_token")?,
                self.client_id.clone().unwrap_or_default(),
                Some(self.client_secret().resolve()?),
                Grant::RefreshToken(self.refresh_token().resolve()?),
                TokenBody::Json,
                context.tokens.clone(),
                format!("source:{}", self.name),
            )
            .with_field(
                "redirect_uri",
                self.redirect_uri.clone().unwrap_or_default(),
            );
            Box::new(oauth)
        } else {
            let token: SecretString = self.token().resolve()?;
            Box::new(SecretHeaders::bearer(token))
        };
        let client = http_client(context, Some(auth), classify)?;
        Ok(Box::new(AmoCrmSource {
            client,
            leads_url: join("api/v4/leads")?,
            account_url: join("api/v4/account")?,
            channels: ChannelMapping::new(&self.channel_rules, SOURCE_FIELD),
            timezone: context.timezone,
            config: self.clone(),
        }))
    }
}

#[derive(Debug)]
pub struct AmoCrmSource {
    client: HttpClient,
    leads_url: Url,
    account_url: Url,
    channels: ChannelMapping,
    timezone: Tz,
    config: AmoCrmConfig,
}

impl Connector for AmoCrmSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(self.leads(range))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(self.account())
    }

    fn chunk_days(&self) -> Option<u32> {
        Some(self.config.chunk_days)
    }
}

impl AmoCrmSource {
    async fn leads(&self, range: DateRange) -> Result<Pull, SourceError> {
        let (from, to) = self.range_seconds(range);
        let mut request = Request::get(self.leads_url.clone())
            .query("filter[created_at][to]", to.to_string())
            .query("filter[updated_at][from]", from.to_string())
            .query("order[id]", "asc")
            .query("limit", self.config.page_size.to_string())
            .query("page", "1");
        let mut guard = PageGuard::default();
        let mut deals: Vec<Deal> = Vec::new();
        let mut unpriced_zero = Vec::new();
        let mut page = 0;
        loop {
            page += 1;
            // 204 No Content: nothing (more) to list.
            let Some(answer) = self
                .client
                .send_json_or_empty(&request)
                .await
                .map_err(SourceError::from)?
            else {
                break;
            };
            let leads = answer
                .pointer("/_embedded/leads")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    SourceError::new(
                        ErrorKind::Decode,
                        format!(
                            "page {page}: the answer has no `_embedded.leads` array: {}",
                            summarize_body(&answer.to_string())
                        ),
                    )
                })?;
            for (row, lead) in leads.iter().enumerate() {
                let id = wire::text(lead, "id").unwrap_or_else(|| "?".to_string());
                let in_source = |e: SourceError| SourceError {
                    message: format!("page {page}, lead {} (id {id}): {}", row + 1, e.message),
                    ..e
                };
                let Some(deal) = self.parse_lead(lead).map_err(in_source)? else {
                    continue;
                };
                if !deal.touches(&range) {
                    continue;
                }
                if deal.status == DealStatus::Won && deal.amount == Some(Money::ZERO) {
                    unpriced_zero.push(deal.id.clone());
                }
                deals.push(deal);
            }
            let Some(next) = answer.pointer("/_links/next/href").and_then(Value::as_str) else {
                break;
            };
            guard.follow(next).map_err(SourceError::from)?;
            request = Request::get(same_origin_link(&self.leads_url, next)?);
        }
        deals.sort_by(|a, b| a.id.cmp(&b.id));
        deals.dedup_by(|a, b| a.id == b.id);
        let mut warnings = Vec::new();
        if !unpriced_zero.is_empty() {
            let shown = unpriced_zero
                .iter()
                .take(WARN_IDS)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            let more = unpriced_zero.len().saturating_sub(WARN_IDS);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            warnings.push(format!(
                "{} won leads have price 0 (ids {shown}{more}): amoCRM shows an empty budget as 0, so their revenue counts as zero",
                unpriced_zero.len()
            ));
        }
        Ok(Pull {
            rows: Pulled::Deals(deals),
            covered: Some(range),
            warnings,
        })
    }

    /// One lead as a deal; `None` for a deleted lead or one in a pipeline left out.
    fn parse_lead(&self, lead: &Value) -> Result<Option<Deal>, SourceError> {
        if lead.get("is_deleted").and_then(Value::as_bool) == Some(true) {
            return Ok(None);
        }
        let pipeline = wire::optional_count(lead, "pipeline_id")?;
        let config = &self.config;
        if let Some(p) = pipeline
            && (config.exclude_pipelines.contains(&p)
                || (!config.pipelines.is_empty() && !config.pipelines.contains(&p)))
        {
            return Ok(None);
        }
        let id = wire::required_text(lead, "id")?;
        let status = match wire::count(lead, "status_id")? {
            STATUS_WON => DealStatus::Won,
            STATUS_LOST => DealStatus::Lost,
            _ => DealStatus::Open,
        };
        let created = wire::optional_unix_seconds(lead, "created_at")?
            .ok_or_else(|| SourceError::invalid("created_at", "is missing"))?;
        let closed = match status {
            DealStatus::Open => None,
            DealStatus::Won | DealStatus::Lost => Some(
                wire::optional_unix_seconds(lead, "closed_at")?.ok_or_else(|| {
                    SourceError::invalid(
                        "closed_at",
                        format!("is missing on a {} lead", status.as_str()),
                    )
                })?,
            ),
        };
        let amount = wire::optional_money(lead, "price")?;
        if amount.is_some_and(|a| a.is_negative()) {
            return Err(SourceError::invalid("price", "is negative"));
        }
        Ok(Some(Deal {
            id,
            created_date: self.local_date(created),
            closed_date: closed.map(|instant| self.local_date(instant)),
            status,
            amount,
            currency: config.currency.clone(),
            channel: self
                .channels
                .channel_for(|field| Self::field_values(lead, field)),
            customer_id: None,
            instants: Some(DealInstants { created, closed }),
        }))
    }

    /// Every value `field` holds on the lead: its tags for `tags`, else a custom field's
    /// values (by code, name or id), else a top-level field.
    fn field_values(lead: &Value, field: &str) -> Vec<String> {
        if field.eq_ignore_ascii_case(TAGS) {
            return lead
                .pointer("/_embedded/tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|tag| wire::text(tag, "name"))
                .collect();
        }
        let custom = custom_field_values(lead, field);
        if custom.is_empty() {
            wire::text(lead, field).into_iter().collect()
        } else {
            custom
        }
    }

    fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.timezone).date_naive()
    }

    /// The range's first and last second in the business's time zone, as Unix seconds.
    fn range_seconds(&self, range: DateRange) -> (i64, i64) {
        let start_of = |day: NaiveDate| {
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
                .timestamp()
        };
        let next_day = range.end.succ_opt().unwrap_or(NaiveDate::MAX);
        (start_of(range.start), start_of(next_day) - 1)
    }

    /// `GET /api/v4/account`: proves the token and says which account and currency it is.
    async fn account(&self) -> Result<String, SourceError> {
        let answer = self
            .client
            .send_json(&Request::get(self.account_url.clone()))
            .await?;
        let name = wire::text(&answer, "name").unwrap_or_else(|| "?".to_string());
        let subdomain = wire::text(&answer, "subdomain").unwrap_or_else(|| "?".to_string());
        let mut said = format!("account {name:?} ({subdomain})");
        if let Some(currency) = wire::text(&answer, "currency") {
            said.push_str(&format!(", currency {currency}"));
            match &self.config.currency {
                Some(configured) if *configured != currency => said.push_str(&format!(
                    "; the configuration says currency = {configured:?}: prices are in {currency}"
                )),
                None => said.push_str(&format!("; set currency = {currency:?}")),
                Some(_) => {}
            }
        }
        Ok(said)
    }
}

/// The non-empty values of the custom field named `wanted` by its code (`UTM_SOURCE`), its
/// name (`utm_source`, `Источник`) or its id, ignoring (ASCII) case; none when it is absent.
fn custom_field_values(lead: &Value, wanted: &str) -> Vec<String> {
    lead.get("custom_fields_values")
        .and_then(Value::as_array)
        .and_then(|fields| {
            fields.iter().find(|field| {
                ["field_code", "field_name", "field_id"]
                    .iter()
                    .filter_map(|key| wire::text(field, key))
                    .any(|name| name.eq_ignore_ascii_case(wanted))
            })
        })
        .and_then(|field| field.get("values"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| wire::text(v, "value"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// amoCRM's errors are `application/problem+json` (`title`, `detail`, `status`, and for a
/// refused request `validation-errors`); a 429 may have no JSON at all. Its limit is 7
/// requests a second, so a 429 without `Retry-After` waits one second.
fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> Option<Failure> {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let title = parsed.get("title").and_then(Value::as_str);
    let detail = parsed.get("detail").and_then(Value::as_str);
    let mut message = match (title, detail) {
        (Some(t), Some(d)) if t != d => format!("amoCRM: {t}: {d}"),
        (Some(t), _) | (None, Some(t)) => format!("amoCRM: {t}"),
        (None, None) => format!("amoCRM: {}", summarize_body(body)),
    };
    if let Some(errors) = parsed
        .pointer("/validation-errors/0/errors")
        .and_then(Value::as_array)
    {
        for error in errors {
            let path = error.get("path").and_then(Value::as_str).unwrap_or("?");
            let text = error.get("detail").and_then(Value::as_str).unwrap_or("?");
            message.push_str(&format!("; {path}: {text}"));
        }
    }
    Some(match status {
        StatusCode::TOO_MANY_REQUESTS => Failure::retry(
            FailureKind::Throttled,
            Some(retry_after(headers).unwrap_or(Duration::from_secs(1))),
            format!("{message} (more than 7 requests a second)"),
        ),
        StatusCode::UNAUTHORIZED => Failure::fatal(
            FailureKind::Auth,
            format!(
                "{message}: the token was refused; put a valid long-lived token where token_env/token_file points (amoCRM: Settings, Integrations, your private integration, Keys and scopes), or with OAuth check client_id, the client secret and the refresh token"
            ),
        ),
        StatusCode::FORBIDDEN => Failure::fatal(
            FailureKind::Auth,
            format!(
                "{message}: the token's user may not read leads, or amoCRM blocked this address for too many repeated requests"
            ),
        ),
        StatusCode::PAYMENT_REQUIRED => Failure::fatal(
            FailureKind::Rejected,
            format!("{message}: the account's subscription has ended"),
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
    fn the_channel_field_is_found_by_code_name_or_id() {
        let lead = json!({"custom_fields_values": [
            {"field_id": 1278898021, "field_name": "Источник", "field_code": null,
             "values": [{"value": "yandex"}]},
            {"field_id": 77, "field_name": "utm_source", "field_code": "UTM_SOURCE",
             "values": [{"value": " vk "}]},
        ]});
        assert_eq!(custom_field_values(&lead, "utm_source"), ["vk"]);
        assert_eq!(custom_field_values(&lead, "UTM_SOURCE"), ["vk"]);
        assert_eq!(custom_field_values(&lead, "1278898021"), ["yandex"]);
        assert!(custom_field_values(&lead, "источник").is_empty());
        assert_eq!(custom_field_values(&lead, "Источник"), ["yandex"]);
        assert!(custom_field_values(&json!({"custom_fields_values": null}), "x").is_empty());
    }

    fn config(table: Value) -> AmoCrmConfig {
        serde_json::from_value(table).unwrap()
    }

    #[test]
    fn a_subdomain_is_the_accounts_address_and_credentials_are_one_kind() {
        // PATH is set wherever tests run: a stand-in for the token's variable.
        let good = config(json!({"name": "amo", "subdomain": "example", "token_env": "PATH"}));
        let mut problems = Problems::default();
        good.validate("sources[0]", &mut problems);
        assert!(problems.is_empty(), "{problems}");
        assert_eq!(good.api_base(), "https://example.amocrm.ru");
        good.build(&BuildContext::new(Tz::UTC, Default::default()))
            .unwrap();

        let bad = config(json!({
            "name": "amo", "subdomain": "example.amocrm.ru/x", "token_env": "PATH",
            "client_id": "id", "pipelines": [1], "exclude_pipelines": [1], "page_size": 500,
        }));
        let mut problems = Problems::default();
        bad.validate("sources[0]", &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "sources[0].subdomain",
            "sources[0].token_env",
            "sources[0].redirect_uri",
            "sources[0].client_secret_env",
            "sources[0].refresh_token_env",
            "sources[0].exclude_pipelines",
            "sources[0].page_size",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }

    #[test]
    fn a_throttled_answer_without_json_waits_a_second() {
        let failure = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            "<html>Too Many Requests</html>",
        )
        .unwrap();
        assert!(failure.retryable);
        assert_eq!(failure.wait, Some(Duration::from_secs(1)));
    }
}
