//! `bitrix24`: Bitrix24 deals through `crm.deal.list`, over an inbound webhook.
//!
//! The webhook URL (`https://<portal>/rest/<user>/<key>/`) is the credential: it comes from
//! `url_env`/`url_file`, lives in a [`SecretUrl`], and every request carries a label so the
//! key in its path never reaches a log or an error.
//!
//! A window needs every deal created *or* closed in it, and `crm.deal.list`'s filter cannot say
//! "or". So each round is one `batch` call (one request against the portal's rate limit)
//! holding two `crm.deal.list` commands: `created` (`DATE_CREATE` in the window) and `closed`
//! (`CLOSED = Y`, `CLOSEDATE` in the window). Each command pages on its own through Bitrix24's
//! fixed page of 50 (`next` is the `start` of the following page), or with `id_cursor` by ID
//! (`start=-1`, which skips the portal's row count, and `filter[>ID]` after the last ID read,
//! until a short page); deals found by both are kept once. The filters are widened by a day on each side, because the portal reads them in its
//! own zone, and the deals are then kept when their dates (in the business's zone) touch the
//! window.
//!
//! Values: every field arrives as a string. `STAGE_SEMANTIC_ID` says won (`S`), lost (`F`) or
//! in progress (`P`) in every funnel; anything else is an error naming the deal. `OPPORTUNITY`
//! is an exact decimal string; an empty one is "unknown", never zero. `DATE_CREATE` is an
//! instant with the portal's offset; `CLOSEDATE` is a date field sent as midnight with that
//! offset, so its calendar date is taken as written.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use chrono_tz::Tz;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::channels::{ChannelMapping, ChannelRules};
use super::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SecretRef, SecretUrl,
    SourceError, http_client,
};
use super::wire;
use crate::domain::{DateRange, Deal, DealInstants, DealStatus, Pulled, RowKind};
use crate::http::{
    Failure, FailureKind, HttpClient, PageGuard, Request, retry_after, summarize_body,
};
use crate::validation::Problems;

/// The two listings of one window, as named in the `batch` call.
const LISTINGS: [&str; 2] = ["created", "closed"];

/// The fields asked for besides the channel field.
const SELECT: [&str; 8] = [
    "ID",
    "STAGE_ID",
    "STAGE_SEMANTIC_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "DATE_CREATE",
    "CLOSEDATE",
    "CLOSED",
];

/// Bitrix24's fixed page: a shorter page is the last one in `id_cursor` mode.
const PAGE_SIZE: usize = 50;

/// The wait after `QUERY_LIMIT_EXCEEDED` when no `Retry-After` says otherwise: the leaky
/// bucket drains two requests a second, so a second frees room for the next call.
const QUERY_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// The wait after `OPERATION_TIME_LIMIT` (the method used more than 480 s of server time in
/// ten minutes): part of the budget frees up within a minute or two.
const OPERATION_LIMIT_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitrix24Config {
    pub name: String,
    /// Days `kassa run` re-pulls every night.
    pub lookback_days: Option<u32>,
    /// Where the inbound webhook URL comes from: it holds the webhook's key, so it is a secret.
    pub url_env: Option<String>,
    pub url_file: Option<std::path::PathBuf>,
    /// Rules from deal fields (`UTM_SOURCE`, `SOURCE_ID`, `UF_CRM_…`) to channels. Without
    /// them, a deal's channel is its `UTM_SOURCE` lower-cased.
    #[serde(default)]
    pub channel_rules: ChannelRules,
    /// The currency recorded for a deal without `CURRENCY_ID`.
    pub currency: Option<String>,
    /// Page by ID (`start=-1` with `filter[>ID]`) instead of by `next`: Bitrix24 then skips the
    /// row count it makes for every offset page, which is what makes a large export slow.
    #[serde(default)]
    pub id_cursor: bool,
}

/// The field a deal's channel is read from without rules.
const SOURCE_FIELD: &str = "UTM_SOURCE";

impl Bitrix24Config {
    fn secret(&self) -> SecretRef {
        SecretRef::url(&self.url_env, &self.url_file, "KASSA_BITRIX24_URL")
    }
}

impl ConnectorConfig for Bitrix24Config {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// Deals move out of won, amounts are recalculated from product rows and close dates are
    /// edited at any time; a month catches most late edits, as for HubSpot.
    fn default_lookback_days(&self) -> u32 {
        30
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Deals
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        if let Some(path) = &mut self.url_file {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        self.secret().validate_url(key, problems);
        let is_field = |field: &str| {
            let field = field.trim();
            !field.is_empty()
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        self.channel_rules.validate(key, &[], problems);
        // The rules' fields go into `select[]`; an empty one is reported by the rules.
        for (j, rule) in self.channel_rules.0.iter().enumerate() {
            if !rule.field.trim().is_empty() && !is_field(&rule.field) {
                problems.push_with_example(
                    format!("{key}.channel_rules[{j}].field"),
                    format!("{:?} is not a deal field name", rule.field),
                    "field = \"UTM_SOURCE\"",
                );
            }
        }
    }

    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        let webhook = self.secret().resolve_url()?;
        // The key is in the URL, not in a header: no authenticator.
        let client = http_client(context, None, classify)?;
        Ok(Box::new(Bitrix24Source {
            client,
            webhook,
            channels: ChannelMapping::new(&self.channel_rules, SOURCE_FIELD),
            timezone: context.timezone,
            config: self.clone(),
        }))
    }
}

#[derive(Debug)]
pub struct Bitrix24Source {
    client: HttpClient,
    webhook: SecretUrl,
    channels: ChannelMapping,
    timezone: Tz,
    config: Bitrix24Config,
}

impl Connector for Bitrix24Source {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(self.deals(range))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(self.portal())
    }

    fn chunk_days(&self) -> Option<u32> {
        Some(31)
    }
}

impl Bitrix24Source {
    /// `method` on the webhook, e.g. `.../rest/1/<key>/batch`. A URL pasted without its
    /// trailing slash still keeps its key.
    fn method_url(&self, method: &str) -> Result<Url, SourceError> {
        let mut base = self.webhook.expose().clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.join(method).map_err(|e| {
            SourceError::new(
                ErrorKind::Config,
                format!("the webhook URL cannot take a method name: {e}"),
            )
        })
    }

    async fn deals(&self, range: DateRange) -> Result<Pull, SourceError> {
        let url = self.method_url("batch")?;
        let mut starts: BTreeMap<&str, u64> = LISTINGS.iter().map(|l| (*l, 0)).collect();
        let mut guard = PageGuard::default();
        let mut deals: BTreeMap<String, Deal> = BTreeMap::new();
        let mut round = 0;
        while !starts.is_empty() {
            round += 1;
            let cmd: serde_json::Map<String, Value> = starts
                .iter()
                .map(|(listing, start)| {
                    (
                        listing.to_string(),
                        json!(self.command(listing, range, *start)),
                    )
                })
                .collect();
            let request = Request::post_json(url.clone(), json!({"halt": 0, "cmd": cmd}))
                .label("POST bitrix24 batch(crm.deal.list)");
            let answer = self.client.send_json(&request).await?;
            let batch = Batch::read(&answer, round)?;
            for listing in starts.keys().copied().collect::<Vec<_>>() {
                for row in batch.rows(listing)? {
                    let id = wire::text(row, "ID").unwrap_or_else(|| "?".to_string());
                    let deal = self.parse_deal(row).map_err(|e| SourceError {
                        message: format!("deal {id}: {}", e.message),
                        ..e
                    })?;
                    if deal.touches(&range) {
                        deals.insert(deal.id.clone(), deal);
                    }
                }
                let next = if self.config.id_cursor {
                    batch.after_id(listing, starts[listing])?
                } else {
                    batch.next(listing)?
                };
                match next {
                    Some(next) => {
                        guard.follow(&format!("{listing}:{next}"))?;
                        starts.insert(listing, next);
                    }
                    None => {
                        starts.remove(listing);
                    }
                }
            }
        }
        Ok(Pull {
            rows: Pulled::Deals(deals.into_values().collect()),
            covered: Some(range),
            warnings: Vec::new(),
        })
    }

    /// One `crm.deal.list` call as a `batch` command: the method and its parameters in a query
    /// string, as Bitrix24 reads them (`filter[>=DATE_CREATE]=...&select[]=ID&start=50`).
    /// `start` is the row offset, or with `id_cursor` the last ID read (0: none yet).
    fn command(&self, listing: &str, range: DateRange, start: u64) -> String {
        // A day of margin each side: the portal reads the dates in its own zone.
        let from = range.start.pred_opt().unwrap_or(range.start);
        let until = range
            .end
            .succ_opt()
            .and_then(|d| d.succ_opt())
            .unwrap_or(range.end);
        let field = if listing == "created" {
            "DATE_CREATE"
        } else {
            "CLOSEDATE"
        };
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair(&format!("filter[>={field}]"), &from.to_string());
        query.append_pair(&format!("filter[<{field}]"), &until.to_string());
        if listing == "closed" {
            query.append_pair("filter[CLOSED]", "Y");
        }
        let mut select = SELECT.to_vec();
        for field in self.channels.fields() {
            if !select.contains(&field) {
                select.push(field);
            }
        }
        for name in select {
            query.append_pair("select[]", name);
        }
        query.append_pair("order[ID]", "ASC");
        if self.config.id_cursor {
            if start > 0 {
                query.append_pair("filter[>ID]", &start.to_string());
            }
            query.append_pair("start", "-1");
        } else {
            query.append_pair("start", &start.to_string());
        }
        format!("crm.deal.list?{}", query.finish())
    }

    fn parse_deal(&self, row: &Value) -> Result<Deal, SourceError> {
        let id = wire::required_text(row, "ID")?;
        let created = portal_instant(row, "DATE_CREATE")?
            .ok_or_else(|| SourceError::invalid("DATE_CREATE", "is missing"))?;
        let status = match wire::text(row, "STAGE_SEMANTIC_ID").as_deref() {
            Some("S") => DealStatus::Won,
            Some("F") => DealStatus::Lost,
            Some("P") => DealStatus::Open,
            Some(other) => {
                return Err(SourceError::invalid(
                    "STAGE_SEMANTIC_ID",
                    format!("{other:?} is not S (won), F (lost) or P (in progress)"),
                ));
            }
            None => return Err(SourceError::invalid("STAGE_SEMANTIC_ID", "is missing")),
        };
        let closed = match status {
            DealStatus::Open => None,
            DealStatus::Won | DealStatus::Lost => {
                Some(portal_instant(row, "CLOSEDATE")?.ok_or_else(|| {
                    SourceError::invalid(
                        "CLOSEDATE",
                        format!("is missing on a {} deal", status.as_str()),
                    )
                })?)
            }
        };
        let amount = wire::optional_money(row, "OPPORTUNITY")?;
        if amount.is_some_and(|a| a.is_negative()) {
            return Err(SourceError::invalid("OPPORTUNITY", "is negative"));
        }
        let currency = wire::text(row, "CURRENCY_ID")
            .filter(|c| !c.is_empty())
            .or_else(|| self.config.currency.clone());
        let channel = self
            .channels
            .channel_for(|field| wire::text(row, field).into_iter().collect());
        // CLOSEDATE is a date: its day is the one written, whatever the business's zone. Its
        // instant is noon of that day at the portal's offset, so re-dating the deal in any zone
        // within twelve hours of the portal's keeps the day.
        let closed_instant = closed.and_then(|written| {
            written
                .with_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN))
                .single()
                .map(|noon| noon.with_timezone(&Utc))
        });
        let created_instant = created.with_timezone(&Utc);
        Ok(Deal {
            id,
            created_date: created_instant.with_timezone(&self.timezone).date_naive(),
            closed_date: closed.map(|written| written.date_naive()),
            status,
            amount,
            currency,
            channel,
            customer_id: None,
            instants: Some(DealInstants {
                created: created_instant,
                closed: closed_instant,
            }),
        })
    }

    /// One `crm.deal.list` call asking for a single id: proves the webhook and its `crm` scope.
    async fn portal(&self) -> Result<String, SourceError> {
        let request = Request::post_json(
            self.method_url("crm.deal.list")?,
            json!({"select": ["ID"], "order": {"ID": "DESC"}, "start": 0}),
        )
        .label("POST bitrix24 crm.deal.list");
        let answer = self.client.send_json(&request).await?;
        let total = answer.get("total").and_then(Value::as_u64).unwrap_or(0);
        Ok(format!(
            "the webhook reads deals; the portal holds {total} deals"
        ))
    }
}

/// A Bitrix24 date-time with the portal's offset (`2024-05-02T03:00:00+03:00`), kept with that
/// offset so a date field's calendar day is the one written.
fn portal_instant(row: &Value, field: &str) -> Result<Option<DateTime<FixedOffset>>, SourceError> {
    let Some(raw) = wire::text(row, field).filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let parsed: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(raw.trim()).map_err(|_| {
        SourceError::invalid(
            field,
            format!("{raw:?} is not a date-time with an offset (2024-05-02T03:00:00+03:00)"),
        )
    })?;
    Ok(Some(parsed))
}

/// One `batch` answer: per command, its rows (`result.result`), its `next` (`result.result_next`)
/// and its errors (`result.result_error`). PHP sends an empty map as `[]`, so an array there
/// means "none".
struct Batch<'a> {
    round: u32,
    results: &'a Value,
    next: &'a Value,
    errors: &'a Value,
}

impl<'a> Batch<'a> {
    fn read(answer: &'a Value, round: u32) -> Result<Batch<'a>, SourceError> {
        let decode = |what: &str| {
            SourceError::new(
                ErrorKind::Decode,
                format!(
                    "batch round {round}: the answer has no {what}: {}",
                    summarize_body(&answer.to_string())
                ),
            )
        };
        let inner = answer.get("result").ok_or_else(|| decode("`result`"))?;
        let results = inner
            .get("result")
            .filter(|v| v.is_object() || v.is_array())
            .ok_or_else(|| decode("`result.result`"))?;
        Ok(Batch {
            round,
            results,
            next: inner.get("result_next").unwrap_or(&Value::Null),
            errors: inner.get("result_error").unwrap_or(&Value::Null),
        })
    }

    fn rows(&self, listing: &str) -> Result<&'a [Value], SourceError> {
        if let Some(error) = self.errors.get(listing) {
            return Err(command_error(listing, error));
        }
        self.results
            .get(listing)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .ok_or_else(|| {
                SourceError::new(
                    ErrorKind::Decode,
                    format!(
                        "batch round {}: no list of deals for the `{listing}` command",
                        self.round
                    ),
                )
            })
    }

    /// In `id_cursor` mode: the last ID of a full page (the next page starts after it), `None`
    /// after a short page. An ID not above `after` means the portal ignored the filter or the
    /// order, which would page forever or skip deals.
    fn after_id(&self, listing: &str, after: u64) -> Result<Option<u64>, SourceError> {
        let rows = self.rows(listing)?;
        if rows.len() < PAGE_SIZE {
            return Ok(None);
        }
        let last = rows
            .last()
            .and_then(|row| wire::text(row, "ID"))
            .and_then(|id| id.parse::<u64>().ok())
            .filter(|id| *id > after);
        match last {
            Some(last) => Ok(Some(last)),
            None => Err(SourceError::new(
                ErrorKind::Decode,
                format!(
                    "batch round {}: the `{listing}` page's last ID is not a number above {after}: the portal did not page by ID",
                    self.round
                ),
            )),
        }
    }

    fn next(&self, listing: &str) -> Result<Option<u64>, SourceError> {
        match self.next.get(listing) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_str()?.parse().ok())
                .map(Some)
                .ok_or_else(|| {
                    SourceError::new(
                        ErrorKind::Decode,
                        format!(
                            "batch round {}: `result_next` of `{listing}` is {value}, not a row offset",
                            self.round
                        ),
                    )
                }),
        }
    }
}

/// A command's own failure inside a successful `batch` (Bitrix24 answers the batch with 200).
fn command_error(listing: &str, error: &Value) -> SourceError {
    let code = error.get("error").and_then(Value::as_str).unwrap_or("");
    let description = error
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (kind, hint) = explain(code);
    let said = [code, description]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    SourceError::new(
        kind.into(),
        format!("Bitrix24: crm.deal.list ({listing}) failed: {said}{hint}"),
    )
}

/// What a Bitrix24 error code means and what to fix.
fn explain(code: &str) -> (FailureKind, &'static str) {
    match code {
        "INVALID_CREDENTIALS" | "NO_AUTH_FOUND" | "expired_token" => (
            FailureKind::Auth,
            " (the inbound webhook was deleted or its key changed, or its user was deactivated: create an inbound webhook with the `crm` scope and put its URL in url_env or url_file)",
        ),
        "insufficient_scope" => (
            FailureKind::Auth,
            " (the inbound webhook lacks the `crm` scope: edit it in Bitrix24 under Developer resources and tick CRM)",
        ),
        "ACCESS_DENIED" => (
            FailureKind::Auth,
            " (the portal's plan has no REST API, or the webhook's user may not read deals)",
        ),
        "ERROR_METHOD_NOT_FOUND" => (
            FailureKind::Rejected,
            " (the URL is not an inbound webhook's: it should end in /rest/<user id>/<key>/)",
        ),
        _ => (FailureKind::Rejected, ""),
    }
}

/// Bitrix24 names its failure in `error` (with `error_description`) whatever the status:
/// `QUERY_LIMIT_EXCEEDED` (503) is the request-rate bucket, waited out for a second;
/// `OPERATION_TIME_LIMIT` (429) blocks the method until its server-time budget frees up;
/// `OVERLOAD_LIMIT` blocks the portal's REST for a longer while and is not waited out.
fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> Option<Failure> {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = parsed.get("error").and_then(Value::as_str).unwrap_or("");
    let description = parsed
        .get("error_description")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| summarize_body(body));
    let message = if code.is_empty() {
        format!("Bitrix24: {description}")
    } else {
        format!("Bitrix24: {code}: {description}")
    };
    let (kind, hint) = explain(code);
    Some(match code {
        "QUERY_LIMIT_EXCEEDED" => Failure::retry(
            FailureKind::Throttled,
            Some(retry_after(headers).unwrap_or(QUERY_LIMIT_WAIT)),
            message,
        ),
        "OPERATION_TIME_LIMIT" => Failure::retry(
            FailureKind::Throttled,
            Some(retry_after(headers).unwrap_or(OPERATION_LIMIT_WAIT)),
            format!("{message} (crm.deal.list used up its server time for now)"),
        ),
        "OVERLOAD_LIMIT" => Failure::fatal(
            FailureKind::Throttled,
            format!(
                "{message} (the portal blocked REST calls for overload; the next run tries again)"
            ),
        ),
        _ if !hint.is_empty() => Failure::fatal(kind, format!("{message}{hint}")),
        _ => match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Failure::fatal(
                FailureKind::Auth,
                format!("{message} (check the inbound webhook URL and its `crm` scope)"),
            ),
            StatusCode::TOO_MANY_REQUESTS => {
                Failure::retry(FailureKind::Throttled, retry_after(headers), message)
            }
            s if s.is_server_error() => {
                Failure::retry(FailureKind::Server, retry_after(headers), message)
            }
            _ => Failure::fatal(FailureKind::Rejected, message),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn closedate_keeps_the_day_written_and_created_is_an_instant() {
        let row = json!({"CLOSEDATE": "2024-09-09T02:00:00+02:00"});
        let written = portal_instant(&row, "CLOSEDATE").unwrap().unwrap();
        assert_eq!(
            written.date_naive(),
            NaiveDate::from_ymd_opt(2024, 9, 9).unwrap()
        );
        assert_eq!(
            written.with_timezone(&Utc).to_rfc3339(),
            "2024-09-09T00:00:00+00:00"
        );
        let error = portal_instant(&json!({"CLOSEDATE": "09.09.2024"}), "CLOSEDATE").unwrap_err();
        assert!(
            error.message.contains("field `CLOSEDATE`"),
            "{}",
            error.message
        );
    }

    #[test]
    fn errors_name_what_to_fix() {
        let headers = HeaderMap::new();
        let body = r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the webhook token"}"#;
        let failure = classify(StatusCode::UNAUTHORIZED, &headers, body).unwrap();
        assert_eq!(
            (failure.kind, failure.retryable),
            (FailureKind::Auth, false)
        );
        assert!(
            failure.message.contains("`crm` scope"),
            "{}",
            failure.message
        );
        let body = r#"{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit."}"#;
        let failure = classify(StatusCode::TOO_MANY_REQUESTS, &headers, body).unwrap();
        assert_eq!(failure.wait, Some(OPERATION_LIMIT_WAIT));
        assert!(failure.retryable);
    }
}
