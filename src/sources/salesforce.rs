//! `salesforce`: Salesforce opportunities through the REST `query` resource (SOQL).
//!
//! One SOQL query per chunk asks for every opportunity created *or* closed in it, in one
//! `WHERE` with `OR`: `CreatedDate` (an instant) between the business day's first and last
//! instants, or `IsClosed = true` with `CloseDate` (a date) in the window. Pages follow
//! `nextRecordsUrl` (a path on the instance, fetched as is) until `done`.
//!
//! Values: `IsWon` says won; `IsClosed` without `IsWon` is lost; anything else is open.
//! `Amount` is a JSON number or `null` (unknown, never zero), in the record's currency:
//! `CurrencyIsoCode` in a multi-currency org (the `multi_currency` key asks for it, since
//! selecting it in any other org is an `INVALID_FIELD`), otherwise the `currency` key.
//! `CreatedDate` is an instant (`2024-05-01T14:03:22.000+0000`), dated in the business's zone;
//! `CloseDate` is a date without a zone, kept as written.
//!
//! Credentials: a connected app's OAuth 2.0 client-credentials flow, or its JWT bearer flow
//! (an RS256 assertion for a pre-authorised user, signed with the app's private key); either
//! way the access token is cached in the store. `REQUEST_LIMIT_EXCEEDED` (403) for the org's rolling 24-hour API
//! allocation stops the source for the run; the concurrent long-request limit, the same code
//! with `ConcurrentPerOrgLongTxn`, is waited out. `INVALID_SESSION_ID` (401) renews the token
//! once, then is an auth error saying what to check.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use super::channels::{ChannelMapping, ChannelRules};
use super::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SecretRef, SourceError,
    http_client, parse_base_url, validate_base_url,
};
use super::wire;
use crate::domain::{DateRange, Deal, DealInstants, DealStatus, Pulled, RowKind};
use crate::http::auth::{Grant, OAuth2, TokenBody};
use crate::http::jwt::JwtSigner;
use crate::http::{
    Failure, FailureKind, HttpClient, PageGuard, Request, retry_after, same_origin_link,
    summarize_body,
};
use crate::validation::Problems;

/// The REST API version used when `api_version` is not set: Winter '26, which every org runs
/// (Salesforce upgrades all orgs three times a year and keeps old versions for years).
pub const DEFAULT_API_VERSION: &str = "65.0";

/// The fields every query selects; `CurrencyIsoCode` and the channel rules' fields follow.
const FIELDS: [&str; 7] = [
    "Id",
    "Amount",
    "CloseDate",
    "IsWon",
    "IsClosed",
    "CreatedDate",
    "LeadSource",
];

/// The field a deal's channel comes from without channel rules.
const CHANNEL_FIELD: &str = "LeadSource";

/// The wait after the concurrent long-running request limit: a request counts as long after
/// 20 seconds, so one of the others has finished by then.
const CONCURRENT_LIMIT_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night.
    pub lookback_days: Option<u32>,
    /// The org's My Domain URL, e.g. `https://example.my.salesforce.com`: the token endpoint
    /// and the API both live there.
    pub instance_url: String,
    /// The REST API version, e.g. "65.0".
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The connected app's consumer key.
    pub client_id: Option<String>,
    /// The connected app's consumer secret (the client-credentials flow).
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    /// The JWT bearer flow instead: the PEM private key whose certificate the app holds, the
    /// user kassa acts as, and the assertion's audience.
    pub private_key_env: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub username: Option<String>,
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Whether the org has multi-currency on: then `CurrencyIsoCode` is selected.
    #[serde(default)]
    pub multi_currency: bool,
    /// The org's currency (ISO 4217), for deals that carry none of their own.
    pub currency: Option<String>,
    /// Rules from Opportunity fields to channels; without them the channel is `LeadSource`
    /// lower-cased.
    #[serde(default)]
    pub channel_rules: ChannelRules,
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_string()
}
fn default_audience() -> String {
    "https://login.salesforce.com".to_string()
}

impl SalesforceConfig {
    fn client_secret(&self) -> SecretRef {
        SecretRef {
            what: "client secret",
            env_key: "client_secret_env",
            file_key: "client_secret_file",
            env: self.client_secret_env.clone(),
            file: self.client_secret_file.clone(),
            example: "client_secret_env = \"KASSA_SALESFORCE_CLIENT_SECRET\"".to_string(),
        }
    }

    fn private_key(&self) -> SecretRef {
        SecretRef {
            what: "private key",
            env_key: "private_key_env",
            file_key: "private_key_file",
            env: self.private_key_env.clone(),
            file: self.private_key_file.clone(),
            example: "private_key_file = \"/run/secrets/salesforce.key\"".to_string(),
        }
    }

    /// The JWT bearer flow is chosen by naming its key or its user.
    fn uses_jwt(&self) -> bool {
        self.private_key_env.is_some() || self.private_key_file.is_some() || self.username.is_some()
    }

    /// Every field the query selects, each once (SOQL refuses a field selected twice).
    fn select(&self) -> Vec<&str> {
        let mut select: Vec<&str> = FIELDS.to_vec();
        if self.multi_currency {
            select.push("CurrencyIsoCode");
        }
        for field in self.channel_rules.fields() {
            if !select.iter().any(|f| f.eq_ignore_ascii_case(field)) {
                select.push(field);
            }
        }
        select
    }
}

/// A SOQL field name: identifiers (a letter, then letters, digits and underscores, as in
/// `Campaign_Source__c`), joined by dots for a parent's field (`Account.Industry`). Nothing
/// else may enter the query.
fn is_soql_field(field: &str) -> bool {
    !field.is_empty()
        && field.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

impl ConnectorConfig for SalesforceConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// Opportunities are edited after close (amount, close date, stage) at any time; a month
    /// catches most late edits, as for the other CRMs.
    fn default_lookback_days(&self) -> u32 {
        30
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Deals
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        for path in [&mut self.client_secret_file, &mut self.private_key_file]
            .into_iter()
            .flatten()
        {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        validate_base_url(&self.instance_url, &format!("{key}.instance_url"), problems);
        let version_ok = self
            .api_version
            .split_once('.')
            .is_some_and(|(major, minor)| {
                !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) && minor == "0"
            });
        if !version_ok {
            problems.push_with_example(
                format!("{key}.api_version"),
                format!(
                    "{:?} is not a REST API version (digits, \".0\", no \"v\")",
                    self.api_version
                ),
                format!("api_version = \"{DEFAULT_API_VERSION}\""),
            );
        }
        if self
            .client_id
            .as_deref()
            .is_none_or(|id| id.trim().is_empty())
        {
            problems.push_with_example(
                format!("{key}.client_id"),
                "is missing: the connected app's consumer key is needed",
                "client_id = \"3MVG9...\"",
            );
        }
        if self.uses_jwt() {
            if self.client_secret_env.is_some() || self.client_secret_file.is_some() {
                problems.push(
                    format!("{key}.client_secret_env"),
                    "give either a client secret (the client-credentials flow) or private_key_env/private_key_file and username (the JWT bearer flow), not both",
                );
            }
            if self.username.as_deref().is_none_or(|u| u.trim().is_empty()) {
                problems.push_with_example(
                    format!("{key}.username"),
                    "is missing: the JWT bearer flow acts as a user pre-authorised for the app",
                    "username = \"kassa-integration@example.com\"",
                );
            }
            self.private_key().validate(key, problems);
            validate_base_url(&self.audience, &format!("{key}.audience"), problems);
        } else {
            self.client_secret().validate(key, problems);
        }
        if let Some(currency) = &self.currency
            && !(currency.len() == 3 && currency.chars().all(|c| c.is_ascii_uppercase()))
        {
            problems.push_with_example(
                format!("{key}.currency"),
                format!("{currency:?} is not an ISO 4217 code"),
                "currency = \"USD\"",
            );
        }
        self.channel_rules.validate(key, &[], problems);
        // The rules' fields go into the SOQL; an empty one is reported by the rules.
        for (j, rule) in self.channel_rules.0.iter().enumerate() {
            let field = rule.field.trim();
            if !field.is_empty() && !is_soql_field(field) {
                problems.push_with_example(
                    format!("{key}.channel_rules[{j}].field"),
                    format!("{:?} is not an Opportunity field name", rule.field),
                    "field = \"LeadSource\"   # or a custom field: \"Channel__c\"",
                );
            }
        }
    }

    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        let base = parse_base_url(&self.instance_url)?;
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| SourceError::new(ErrorKind::Config, format!("bad instance_url: {e}")))
        };
        let client_id = self.client_id.clone().unwrap_or_default();
        let (secret, grant) = if self.uses_jwt() {
            let signer = JwtSigner::from_pem(
                &self.private_key().resolve()?,
                client_id.clone(),
                self.username.clone().unwrap_or_default(),
                self.audience.trim_end_matches('/'),
            )
            .map_err(|problem| {
                SourceError::new(ErrorKind::Config, format!("the private key {problem}"))
            })?;
            (None, Grant::JwtBearer(Arc::new(signer)))
        } else {
            (
                Some(self.client_secret().resolve()?),
                Grant::ClientCredentials { scope: None },
            )
        };
        let auth = OAuth2::new(
            join("services/oauth2/token")?,
            client_id,
            secret,
            grant,
            TokenBody::Form,
            context.tokens.clone(),
            format!("source:{}", self.name),
        );
        let client = http_client(context, Some(Box::new(auth)), classify)?;
        Ok(Box::new(SalesforceSource {
            client,
            query_url: join(&format!("services/data/v{}/query", self.api_version))?,
            timezone: context.timezone,
            config: self.clone(),
        }))
    }
}

#[derive(Debug)]
pub struct SalesforceSource {
    client: HttpClient,
    query_url: Url,
    timezone: Tz,
    config: SalesforceConfig,
}

impl Connector for SalesforceSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(self.deals(range))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(self.one_opportunity())
    }

    fn chunk_days(&self) -> Option<u32> {
        Some(31)
    }
}

impl SalesforceSource {
    async fn deals(&self, range: DateRange) -> Result<Pull, SourceError> {
        let mut request = Request::get(self.query_url.clone())
            .query("q", self.soql(range))
            .label("GET salesforce query (Opportunity)");
        let mut guard = PageGuard::default();
        let mut deals: Vec<Deal> = Vec::new();
        let mut page = 0;
        loop {
            page += 1;
            let answer = self.client.send_json(&request).await?;
            let records = records(&answer, page)?;
            for (row, record) in records.iter().enumerate() {
                let id = wire::text(record, "Id").unwrap_or_else(|| "?".to_string());
                let deal = self.parse(record).map_err(|e| SourceError {
                    message: format!("page {page}, record {} (Id {id}): {}", row + 1, e.message),
                    ..e
                })?;
                if deal.touches(&range) {
                    deals.push(deal);
                }
            }
            if answer.get("done").and_then(Value::as_bool) == Some(true) {
                break;
            }
            let Some(next) = answer.get("nextRecordsUrl").and_then(Value::as_str) else {
                return Err(SourceError::new(
                    ErrorKind::Decode,
                    format!("page {page}: the answer is not `done` and has no `nextRecordsUrl`"),
                ));
            };
            guard.follow(next)?;
            request = Request::get(same_origin_link(&self.query_url, next)?).label(format!(
                "GET salesforce query (Opportunity), page {}",
                page + 1
            ));
        }
        Ok(Pull {
            rows: Pulled::Deals(deals),
            covered: Some(range),
            warnings: Vec::new(),
        })
    }

    /// The window's SOQL. Dates and instants are formatted here from typed values (never from
    /// text), and the field names passed validation as SOQL identifiers, so nothing a person
    /// or a record wrote can change the query's shape.
    fn soql(&self, range: DateRange) -> String {
        let next_day = range.end.succ_opt().unwrap_or(NaiveDate::MAX);
        let instant = |day: NaiveDate| {
            start_of_day(self.timezone, day)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        };
        format!(
            "SELECT {} FROM Opportunity WHERE (CreatedDate >= {} AND CreatedDate < {}) \
             OR (IsClosed = true AND CloseDate >= {} AND CloseDate <= {}) ORDER BY Id",
            self.config.select().join(", "),
            instant(range.start),
            instant(next_day),
            range.start.format("%Y-%m-%d"),
            range.end.format("%Y-%m-%d"),
        )
    }

    fn parse(&self, record: &Value) -> Result<Deal, SourceError> {
        let id = wire::required_text(record, "Id")?;
        let flag = |field: &str| match record.get(field) {
            Some(Value::Bool(value)) => Ok(*value),
            Some(other) => Err(SourceError::invalid(
                field,
                format!("{other} is not true or false"),
            )),
            None => Err(SourceError::invalid(field, "is missing")),
        };
        let status = match (flag("IsWon")?, flag("IsClosed")?) {
            (true, _) => DealStatus::Won,
            (false, true) => DealStatus::Lost,
            (false, false) => DealStatus::Open,
        };
        let created = salesforce_instant(record, "CreatedDate")?;
        // An open opportunity's CloseDate is the expected one: not a close.
        let closed = match status {
            DealStatus::Open => None,
            DealStatus::Won | DealStatus::Lost => Some(wire::date(record, "CloseDate")?),
        };
        let amount = match record.get("Amount") {
            None | Some(Value::Null) => None,
            Some(Value::Number(_)) => wire::optional_money(record, "Amount")?,
            Some(other) => {
                return Err(SourceError::invalid(
                    "Amount",
                    format!("{other} is not a number or null"),
                ));
            }
        };
        if amount.is_some_and(|a| a.is_negative()) {
            return Err(SourceError::invalid("Amount", "is negative"));
        }
        let currency = if self.config.multi_currency {
            wire::text(record, "CurrencyIsoCode").filter(|c| !c.trim().is_empty())
        } else {
            None
        }
        .or_else(|| self.config.currency.clone());
        let channel = ChannelMapping::new(&self.config.channel_rules, CHANNEL_FIELD)
            .channel_for(|field| field_value(record, field).into_iter().collect());
        // CloseDate has no zone: its day is the one written, whatever the business's zone. Its
        // instant is noon UTC of that day, so re-dating it in any zone within twelve hours of
        // UTC keeps the day.
        let closed_instant = closed.map(|day| {
            day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN))
                .and_utc()
        });
        Ok(Deal {
            id,
            created_date: created.with_timezone(&self.timezone).date_naive(),
            closed_date: closed,
            status,
            amount,
            currency,
            channel,
            customer_id: None,
            instants: Some(DealInstants {
                created,
                closed: closed_instant,
            }),
        })
    }

    /// One opportunity with every field a pull selects: proves the token, the API version,
    /// read access to Opportunity and each selected field (`CurrencyIsoCode`, the rules').
    async fn one_opportunity(&self) -> Result<String, SourceError> {
        let soql = format!(
            "SELECT {} FROM Opportunity ORDER BY CreatedDate DESC LIMIT 1",
            self.config.select().join(", ")
        );
        let request = Request::get(self.query_url.clone())
            .query("q", soql)
            .label("GET salesforce query (Opportunity)");
        let answer = self.client.send_json(&request).await?;
        records(&answer, 1)?;
        Ok(format!(
            "the connected app reads opportunities (API v{}; {})",
            self.config.api_version,
            if self.config.multi_currency {
                "multi-currency"
            } else {
                "one currency"
            }
        ))
    }
}

/// The first instant of `day` in `zone` (after a DST gap at midnight, the first that exists).
fn start_of_day(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    zone.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            let eleven = midnight - chrono::Duration::hours(1);
            zone.from_local_datetime(&eleven)
                .earliest()
                .map(|t| t + chrono::Duration::hours(1))
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// A page's `records`.
fn records(answer: &Value, page: u32) -> Result<&[Value], SourceError> {
    answer
        .get("records")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| {
            SourceError::new(
                ErrorKind::Decode,
                format!(
                    "page {page}: the answer has no `records` array: {}",
                    summarize_body(&answer.to_string())
                ),
            )
        })
}

/// A Salesforce dateTime: `2024-05-01T14:03:22.000+0000` (an offset without a colon), or RFC
/// 3339.
fn salesforce_instant(record: &Value, field: &str) -> Result<DateTime<Utc>, SourceError> {
    let raw = wire::text(record, field)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| SourceError::invalid(field, "is missing"))?;
    DateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(raw.trim()))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            SourceError::invalid(
                field,
                format!("{raw:?} is not a date-time (2024-05-01T14:03:22.000+0000)"),
            )
        })
}

/// A field of a record as text, its name compared ignoring case (SOQL does); a dotted name
/// reads a parent's field (`Account.Industry` arrives as `"Account": {"Industry": ...}`).
fn field_value(record: &Value, field: &str) -> Option<String> {
    let mut object = record;
    let mut parts = field.split('.').peekable();
    while let Some(part) = parts.next() {
        let map = object.as_object()?;
        let (name, _) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(part))?;
        if parts.peek().is_none() {
            return wire::text(object, name);
        }
        object = map.get(name)?;
    }
    None
}

/// What a Salesforce error code means and what to fix.
fn explain(code: &str, message: &str) -> (FailureKind, &'static str) {
    match code {
        "INVALID_SESSION_ID" | "INVALID_AUTH_HEADER" => (
            FailureKind::Auth,
            " (the access token was refused even when new: check that the connected app allows its flow (client credentials with an active Run As user, or JWT bearer with the user pre-authorised), and that instance_url is the org's My Domain URL)",
        ),
        "API_DISABLED_FOR_ORG" | "API_CURRENTLY_DISABLED" => (
            FailureKind::Auth,
            " (the org's edition has no API access, or the Run As user lacks the \"API Enabled\" permission)",
        ),
        "INSUFFICIENT_ACCESS" | "INSUFFICIENT_ACCESS_OR_READONLY" => (
            FailureKind::Auth,
            " (the Run As user may not read Opportunity: give its profile or a permission set Read on Opportunities)",
        ),
        "INVALID_FIELD" if message.contains("CurrencyIsoCode") => (
            FailureKind::Rejected,
            " (this org has no multi-currency: remove multi_currency and set currency to the org's currency)",
        ),
        "INVALID_FIELD" => (
            FailureKind::Rejected,
            " (a field a channel rule names is not an Opportunity field, or the Run As user cannot see it: check its API name and field-level security)",
        ),
        "NOT_FOUND" => (
            FailureKind::Rejected,
            " (check instance_url and api_version)",
        ),
        _ => (FailureKind::Rejected, ""),
    }
}

/// Salesforce's error body is a JSON array of `{"message", "errorCode", "fields"}`.
/// `REQUEST_LIMIT_EXCEEDED` comes with 403, not 429: for `ConcurrentPerOrgLongTxn` it is the
/// concurrent long-request limit, waited out; otherwise (`TotalRequests Limit exceeded`) the
/// org's rolling 24-hour allocation is spent, which no wait within a run can fix.
fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> Option<Failure> {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let first = parsed.get(0).unwrap_or(&parsed);
    let code = first.get("errorCode").and_then(Value::as_str)?;
    let said = first
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = format!("Salesforce: {code}: {said}");
    Some(match code {
        "REQUEST_LIMIT_EXCEEDED" if said.contains("ConcurrentPerOrg") => Failure::retry(
            FailureKind::Throttled,
            Some(retry_after(headers).unwrap_or(CONCURRENT_LIMIT_WAIT)),
            format!("{message} (too many long-running requests in the org at once)"),
        ),
        "REQUEST_LIMIT_EXCEEDED" => Failure::fatal(
            FailureKind::QuotaSpent,
            format!(
                "{message} (the org's API allocation for the rolling 24 hours is used up: \
                 this source stops for this run and the next run tries again; Setup > \
                 Company Information shows the usage)"
            ),
        ),
        "SERVER_UNAVAILABLE" | "UNABLE_TO_LOCK_ROW" => {
            Failure::retry(FailureKind::Server, retry_after(headers), message)
        }
        _ if status.is_server_error() => {
            Failure::retry(FailureKind::Server, retry_after(headers), message)
        }
        _ => {
            let (kind, hint) = explain(code, said);
            let kind = match status {
                StatusCode::UNAUTHORIZED => FailureKind::Auth,
                _ => kind,
            };
            Failure::fatal(kind, format!("{message}{hint}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soql_field_names_are_identifiers_only() {
        for good in [
            "LeadSource",
            "Channel__c",
            "Account.Industry",
            "UTM_Source__c",
        ] {
            assert!(is_soql_field(good), "{good}");
        }
        for bad in [
            "",
            "Name, (SELECT Id FROM Contacts)",
            "Id FROM User --",
            "1st",
            "a..b",
            "Lead Source",
            "x'",
        ] {
            assert!(!is_soql_field(bad), "{bad}");
        }
    }

    #[test]
    fn created_date_reads_the_offset_without_a_colon() {
        let record = serde_json::json!({"CreatedDate": "2024-05-01T22:03:22.000+0000"});
        let instant = salesforce_instant(&record, "CreatedDate").unwrap();
        assert_eq!(instant.to_rfc3339(), "2024-05-01T22:03:22+00:00");
        let error = salesforce_instant(
            &serde_json::json!({"CreatedDate": "05/01/2024"}),
            "CreatedDate",
        )
        .unwrap_err();
        assert!(error.message.contains("field `CreatedDate`"), "{error}");
    }

    #[test]
    fn errors_name_what_to_fix() {
        let headers = HeaderMap::new();
        let body =
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        let failure = classify(StatusCode::FORBIDDEN, &headers, body).unwrap();
        assert_eq!(
            (failure.kind, failure.retryable),
            (FailureKind::QuotaSpent, false)
        );
        assert!(failure.message.contains("next run"), "{}", failure.message);
        let body = r#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        let failure = classify(StatusCode::FORBIDDEN, &headers, body).unwrap();
        assert_eq!(failure.wait, Some(CONCURRENT_LIMIT_WAIT));
        let body = r#"[{"message":"No such column 'CurrencyIsoCode' on entity 'Opportunity'.","errorCode":"INVALID_FIELD"}]"#;
        let failure = classify(StatusCode::BAD_REQUEST, &headers, body).unwrap();
        assert!(
            failure.message.contains("remove multi_currency"),
            "{}",
            failure.message
        );
        assert!(classify(StatusCode::BAD_GATEWAY, &headers, "Bad Gateway").is_none());
    }
}
