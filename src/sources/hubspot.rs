//! `hubspot`: HubSpot CRM v3 deal search.
//!
//! `POST {base_url}/crm/v3/objects/deals/search`, asking for every deal created *or* closed in
//! the range (two ORed filter groups): open deals count as leads on their create date, won and
//! lost deals count on their close date. All property values arrive as strings; `amount` may
//! be null, which kassa keeps as "unknown", never zero. Paging follows `paging.next.after`.
//! A search answers at most 10,000 results, so a range that holds more is split in halves.
//! HubSpot's `closedate` is an instant; it becomes a date in the business's time zone.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::channels::{ChannelMapping, ChannelRules, LegacyChannels};
use super::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SecretRef, SourceError,
    http_client, parse_base_url, validate_base_url,
};
use super::wire;
use crate::domain::{DateRange, Deal, DealInstants, DealStatus, Pulled, RowKind};
use crate::http::auth::SecretHeaders;
use crate::http::{
    Failure, FailureKind, HttpClient, PageGuard, Request, retry_after, summarize_body,
};
use crate::validation::Problems;

/// HubSpot refuses to page past this many results of one search.
const SEARCH_RESULT_CAP: u64 = 10_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night (the platform restates this far back).
    pub lookback_days: Option<u32>,
    pub token_env: Option<String>,
    pub token_file: Option<std::path::PathBuf>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Rules from deal properties to channels. Without them, a deal's channel is its
    /// `hs_analytics_source` lower-cased.
    #[serde(default)]
    pub channel_rules: ChannelRules,
    /// Older keys, read as the rules they mean ([`LegacyChannels`]): the property to read,
    /// ...
    pub channel_property: Option<String>,
    /// ... its values mapped to kassa channels (`PAID_SOCIAL = "meta"`; others lower-cased) ...
    #[serde(default)]
    pub channel_map: BTreeMap<String, String>,
    /// ... and the channel of deals whose property is empty.
    pub default_channel: Option<String>,
    /// `amount` (the deal's currency) or `amount_in_home_currency` (the portal's currency).
    #[serde(default = "default_amount_property")]
    pub amount_property: String,
    /// The currency recorded when a deal has no `deal_currency_code`, or for every deal when
    /// `amount_property` is `amount_in_home_currency`.
    pub currency: Option<String>,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    #[serde(default = "default_chunk_days")]
    pub chunk_days: u32,
}

fn default_base_url() -> String {
    "https://api.hubapi.com".to_string()
}
/// The property a deal's channel is read from without rules.
const SOURCE_PROPERTY: &str = "hs_analytics_source";

fn default_amount_property() -> String {
    "amount".to_string()
}
fn default_page_size() -> u32 {
    200
}
fn default_chunk_days() -> u32 {
    31
}

impl HubSpotConfig {
    fn secret(&self) -> SecretRef {
        SecretRef::token(&self.token_env, &self.token_file, "KASSA_HUBSPOT_TOKEN")
    }

    /// The older keys this table sets, each with whether it is set.
    fn legacy_keys(&self) -> [(&'static str, bool); 3] {
        [
            ("channel_property", self.channel_property.is_some()),
            ("channel_map", !self.channel_map.is_empty()),
            ("default_channel", self.default_channel.is_some()),
        ]
    }

    /// How deals get their channels: the rules, or what the older keys meant.
    fn channel_mapping(&self) -> ChannelMapping {
        self.legacy_channels().map_or_else(
            || ChannelMapping::new(&self.channel_rules, SOURCE_PROPERTY),
            |legacy| legacy.mapping(),
        )
    }
}

impl ConnectorConfig for HubSpotConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// Deals change stage and amount at any time; a month catches most late edits.
    fn default_lookback_days(&self) -> u32 {
        30
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Deals
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        if let Some(path) = &mut self.token_file {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        self.secret().validate(key, problems);
        validate_base_url(&self.base_url, &format!("{key}.base_url"), problems);
        if !(1..=200).contains(&self.page_size) {
            problems.push(
                format!("{key}.page_size"),
                "must be between 1 and 200 (HubSpot's maximum)",
            );
        }
        if !(1..=366).contains(&self.chunk_days) {
            problems.push(format!("{key}.chunk_days"), "must be between 1 and 366");
        }
        if self
            .channel_property
            .as_ref()
            .is_some_and(|p| p.trim().is_empty())
        {
            problems.push_with_example(
                format!("{key}.channel_property"),
                "is empty",
                "channel_property = \"hs_analytics_source\"",
            );
        }
        self.channel_rules
            .validate(key, &self.legacy_keys(), problems);
        if !matches!(
            self.amount_property.as_str(),
            "amount" | "amount_in_home_currency"
        ) {
            problems.push_with_example(
                format!("{key}.amount_property"),
                format!(
                    "{:?} is not amount or amount_in_home_currency",
                    self.amount_property
                ),
                "amount_property = \"amount_in_home_currency\"",
            );
        }
    }

    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        let token = self.secret().resolve()?;
        let client = http_client(
            context,
            Some(Box::new(SecretHeaders::bearer(token))),
            classify,
        )?;
        let search_url = parse_base_url(&self.base_url)?
            .join("crm/v3/objects/deals/search")
            .map_err(|e| SourceError::new(ErrorKind::Config, format!("bad base_url: {e}")))?;
        Ok(Box::new(HubSpotSource {
            client,
            search_url,
            channels: self.channel_mapping(),
            timezone: context.timezone,
            config: self.clone(),
        }))
    }

    fn legacy_channels(&self) -> Option<LegacyChannels> {
        let keys = self
            .legacy_keys()
            .into_iter()
            .filter_map(|(key, set)| set.then_some(key))
            .collect();
        LegacyChannels::translate(
            keys,
            self.channel_property
                .as_deref()
                .map_or(SOURCE_PROPERTY, str::trim),
            &self.channel_map,
            self.default_channel.as_deref(),
        )
    }
}

#[derive(Debug)]
pub struct HubSpotSource {
    client: HttpClient,
    search_url: Url,
    channels: ChannelMapping,
    timezone: Tz,
    config: HubSpotConfig,
}

impl Connector for HubSpotSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(self.deals(range))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(self.portal())
    }

    fn chunk_days(&self) -> Option<u32> {
        Some(self.config.chunk_days)
    }
}

impl HubSpotSource {
    async fn deals(&self, range: DateRange) -> Result<Pull, SourceError> {
        let mut deals = Vec::new();
        // Ranges to search, split further whenever one holds more than HubSpot will page.
        let mut pending = vec![range];
        while let Some(part) = pending.pop() {
            match self.search(part).await? {
                Searched::Deals(found) => deals.extend(found),
                Searched::TooMany(total) => {
                    let Some((left, right)) = halves(part) else {
                        return Err(SourceError::new(
                            ErrorKind::Rejected,
                            format!(
                                "{total} deals were created or closed on {} alone, more than HubSpot's search can page ({SEARCH_RESULT_CAP})",
                                part.start
                            ),
                        ));
                    };
                    tracing::debug!(%part, total, "splitting a search that exceeds HubSpot's cap");
                    pending.push(right);
                    pending.push(left);
                }
            }
        }
        // A deal can sit in two halves (created in one, closed in the other): keep it once.
        deals.sort_by(|a: &Deal, b: &Deal| a.id.cmp(&b.id));
        deals.dedup_by(|a, b| a.id == b.id);
        Ok(Pull {
            rows: Pulled::Deals(deals),
            covered: Some(range),
            warnings: Vec::new(),
        })
    }

    async fn search(&self, range: DateRange) -> Result<Searched, SourceError> {
        let (from_ms, to_ms) = self.range_millis(range);
        let between = |property: &str| {
            json!({"filters": [{
                "propertyName": property,
                "operator": "BETWEEN",
                "value": from_ms.to_string(),
                "highValue": to_ms.to_string(),
            }]})
        };
        let mut properties = vec![
            "dealname",
            "amount",
            "amount_in_home_currency",
            "deal_currency_code",
            "createdate",
            "closedate",
            "dealstage",
            "hs_is_closed",
            "hs_is_closed_won",
            "pipeline",
        ];
        for field in self.channels.fields() {
            if !properties.contains(&field) {
                properties.push(field);
            }
        }
        let mut after: Option<String> = None;
        let mut guard = PageGuard::default();
        let mut deals = Vec::new();
        let mut page = 0;
        loop {
            page += 1;
            let mut body = json!({
                "filterGroups": [between("createdate"), between("closedate")],
                "properties": properties,
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "limit": self.config.page_size,
            });
            if let Some(cursor) = &after {
                body["after"] = json!(cursor);
            }
            let answer = self
                .client
                .send_json(&Request::post_json(self.search_url.clone(), body))
                .await
                .map_err(SourceError::from)?;
            if page == 1
                && let Some(total) = answer.get("total").and_then(Value::as_u64)
                && total > SEARCH_RESULT_CAP
            {
                return Ok(Searched::TooMany(total));
            }
            let results = answer
                .get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    SourceError::new(
                        ErrorKind::Decode,
                        format!(
                            "page {page}: the answer has no `results` array: {}",
                            summarize_body(&answer.to_string())
                        ),
                    )
                })?;
            for result in results {
                let id = wire::text(result, "id").unwrap_or_else(|| "?".to_string());
                let deal = self.parse_deal(result).map_err(|e| SourceError {
                    message: format!("deal {id}: {}", e.message),
                    ..e
                })?;
                // Open deals come back when their *expected* close date is in range; they
                // belong to the range of their create date only.
                if deal.touches(&range) {
                    deals.push(deal);
                }
            }
            match answer
                .pointer("/paging/next/after")
                .and_then(|v| wire::text(&json!({"a": v}), "a"))
            {
                Some(cursor) => {
                    guard.follow(&cursor).map_err(SourceError::from)?;
                    after = Some(cursor);
                }
                None => break,
            }
        }
        Ok(Searched::Deals(deals))
    }

    fn parse_deal(&self, result: &Value) -> Result<Deal, SourceError> {
        let id = wire::required_text(result, "id")?;
        let props = result
            .get("properties")
            .ok_or_else(|| SourceError::invalid("properties", "is missing"))?;
        let created = wire::optional_instant(props, "createdate")?
            .or(wire::optional_instant(result, "createdAt")?)
            .ok_or_else(|| SourceError::invalid("createdate", "is missing"))?;
        let status = deal_status(props);
        let closed = match status {
            DealStatus::Open => None,
            DealStatus::Won | DealStatus::Lost => {
                Some(wire::optional_instant(props, "closedate")?.ok_or_else(|| {
                    SourceError::invalid(
                        "closedate",
                        format!("is missing on a {} deal", status.as_str()),
                    )
                })?)
            }
        };
        let amount = wire::optional_money(props, &self.config.amount_property)?;
        if amount.is_some_and(|a| a.is_negative()) {
            return Err(SourceError::invalid(
                &self.config.amount_property,
                "is negative",
            ));
        }
        let currency = if self.config.amount_property == "amount_in_home_currency" {
            self.config.currency.clone()
        } else {
            wire::text(props, "deal_currency_code")
                .filter(|c| !c.is_empty())
                .or_else(|| self.config.currency.clone())
        };
        let channel = self
            .channels
            .channel_for(|field| wire::text(props, field).into_iter().collect());
        Ok(Deal {
            id,
            created_date: self.local_date(created),
            closed_date: closed.map(|instant| self.local_date(instant)),
            status,
            amount,
            currency,
            channel,
            customer_id: None,
            instants: Some(DealInstants { created, closed }),
        })
    }

    fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.timezone).date_naive()
    }

    /// The range's first and last millisecond in the business's time zone, as Unix ms.
    fn range_millis(&self, range: DateRange) -> (i64, i64) {
        let start_of = |day: NaiveDate| {
            let midnight = day.and_time(chrono::NaiveTime::MIN);
            self.timezone
                .from_local_datetime(&midnight)
                .earliest()
                // A DST gap at midnight (Cairo, Santiago, ...): the day starts at the first
                // instant that exists, which is one hour after the previous day's 23:00.
                .or_else(|| {
                    let eleven = midnight - chrono::Duration::hours(1);
                    self.timezone
                        .from_local_datetime(&eleven)
                        .earliest()
                        .map(|t| t + chrono::Duration::hours(1))
                })
                .unwrap_or_else(|| self.timezone.from_utc_datetime(&midnight))
                .timestamp_millis()
        };
        let next_day = range.end.succ_opt().unwrap_or(NaiveDate::MAX);
        (start_of(range.start), start_of(next_day) - 1)
    }

    /// One search with `limit: 1`: proves the token and the scope.
    async fn portal(&self) -> Result<String, SourceError> {
        let body = json!({"filterGroups": [], "properties": ["dealname"], "limit": 1});
        let answer = self
            .client
            .send_json(&Request::post_json(self.search_url.clone(), body))
            .await?;
        let total = answer.get("total").and_then(Value::as_u64).unwrap_or(0);
        Ok(format!("deal search works; the portal holds {total} deals"))
    }
}

enum Searched {
    Deals(Vec<Deal>),
    TooMany(u64),
}

fn halves(range: DateRange) -> Option<(DateRange, DateRange)> {
    if range.days() < 2 {
        return None;
    }
    let mid = range.start + chrono::Duration::days(range.days() / 2 - 1);
    Some((
        DateRange::new(range.start, mid)?,
        DateRange::new(mid.succ_opt()?, range.end)?,
    ))
}

/// Won and lost come from HubSpot's calculated flags, which work in every pipeline; the
/// default pipeline's stage names are the fallback when the flags are absent.
fn deal_status(props: &Value) -> DealStatus {
    let flag = |name: &str| wire::text(props, name).map(|v| v.eq_ignore_ascii_case("true"));
    match (flag("hs_is_closed_won"), flag("hs_is_closed")) {
        (Some(true), _) => DealStatus::Won,
        (_, Some(true)) => DealStatus::Lost,
        (Some(false), _) | (_, Some(false)) => DealStatus::Open,
        (None, None) => match wire::text(props, "dealstage").as_deref() {
            Some("closedwon") => DealStatus::Won,
            Some("closedlost") => DealStatus::Lost,
            _ => DealStatus::Open,
        },
    }
}

/// HubSpot's 429 names the limit it hit; the search endpoint sends no `Retry-After`, so the
/// wait comes from the policy: a second for `SECONDLY`, ten for `TEN_SECONDLY`. The daily cap
/// cannot be waited out within a run.
fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> Option<Failure> {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let text = parsed
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| summarize_body(body));
    let category = parsed.get("category").and_then(Value::as_str);
    let mut message = format!("HubSpot: {text}");
    if let Some(c) = category {
        message.push_str(&format!(" [{c}]"));
    }
    if let Some(id) = parsed.get("correlationId").and_then(Value::as_str) {
        message.push_str(&format!(" (correlationId {id})"));
    }
    Some(match status {
        StatusCode::TOO_MANY_REQUESTS => match parsed.get("policyName").and_then(Value::as_str) {
            Some("DAILY") => Failure::fatal(
                FailureKind::QuotaSpent,
                format!(
                    "{message}; the daily API limit is used up: the source stops for this run and the next run tries again"
                ),
            ),
            policy => {
                let fallback = if policy == Some("TEN_SECONDLY") {
                    10
                } else {
                    1
                };
                let wait = retry_after(headers).unwrap_or(Duration::from_secs(fallback));
                Failure::retry(FailureKind::Throttled, Some(wait), message)
            }
        },
        StatusCode::UNAUTHORIZED => Failure::fatal(
            FailureKind::Auth,
            format!("{message} (check the private app token)"),
        ),
        StatusCode::FORBIDDEN => Failure::fatal(
            FailureKind::Auth,
            format!("{message} (the token needs the crm.objects.deals.read scope)"),
        ),
        s if s.is_server_error() => {
            Failure::retry(FailureKind::Server, retry_after(headers), message)
        }
        _ => Failure::fatal(FailureKind::Rejected, message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_cover_the_range_exactly() {
        let range =
            DateRange::new("2024-05-01".parse().unwrap(), "2024-05-31".parse().unwrap()).unwrap();
        let (a, b) = halves(range).unwrap();
        assert_eq!(a.start, range.start);
        assert_eq!(b.end, range.end);
        assert_eq!(a.end.succ_opt().unwrap(), b.start);
        assert_eq!(a.days() + b.days(), range.days());
    }

    #[test]
    fn status_prefers_the_calculated_flags() {
        let won = json!({"hs_is_closed_won": "true", "hs_is_closed": "true", "dealstage": "123"});
        let lost = json!({"hs_is_closed_won": "false", "hs_is_closed": "true"});
        let open =
            json!({"hs_is_closed_won": "false", "hs_is_closed": "false", "dealstage": "closedwon"});
        let legacy = json!({"dealstage": "closedwon"});
        assert_eq!(deal_status(&won), DealStatus::Won);
        assert_eq!(deal_status(&lost), DealStatus::Lost);
        assert_eq!(deal_status(&open), DealStatus::Open);
        assert_eq!(deal_status(&legacy), DealStatus::Won);
    }
}
