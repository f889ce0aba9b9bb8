//! The demo's fake platforms, as axum handlers on 127.0.0.1: Meta's Insights edge (strings for
//! every metric, cursor paging through `paging.next`) and HubSpot's deal search (ORed filter
//! groups, `paging.next.after`) answering from the demo rows, and one receiver that plays
//! Slack, Telegram and a signed webhook endpoint and keeps what arrived. They speak the wire
//! formats the real connectors and alert targets expect, so the demo exercises the real code.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use crate::domain::{AdDay, DateRange, Deal, DealStatus, Money};
use crate::server;

/// The bearer token the Meta fake accepts.
pub const META_TOKEN: &str = "demo-meta-token";
/// The bearer token the HubSpot fake accepts.
pub const HUBSPOT_TOKEN: &str = "demo-hubspot-token";

/// Meta ad account ids of the two demo channels.
pub const ACCOUNTS: [(&str, &str); 2] = [("1001", "meta"), ("1002", "google")];

/// What the receiver was sent: the request path and body of every request.
pub type Received = Arc<Mutex<Vec<(String, String)>>>;

/// Serves `router` on a fresh port of 127.0.0.1 for the rest of the process.
pub async fn start(router: Router) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1 for the demo's fakes")?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = server::serve(listener, router, std::future::pending()).await {
            tracing::error!("a demo fake stopped: {error:#}");
        }
    });
    Ok(address)
}

/// The demo rows the platform fakes answer from.
struct Platforms {
    ads: Vec<AdDay>,
    deals: Vec<Deal>,
}

/// Answers like Meta's Insights edge and HubSpot's deal search, from the demo rows.
pub fn platforms(ads: Vec<AdDay>, deals: Vec<Deal>) -> Router {
    Router::new()
        .route("/{version}/{account}", get(meta_account))
        .route("/{version}/{account}/insights", get(meta_insights))
        .route("/crm/v3/objects/deals/search", post(hubspot_search))
        .fallback(not_found)
        .with_state(Arc::new(Platforms { ads, deals }))
}

/// Plays Slack (`ok`), Telegram (`{"ok": true, ...}`) and a webhook endpoint (204), keeping
/// what arrived.
pub fn receiver(received: Received) -> Router {
    Router::new()
        .route("/services/{*hook}", post(slack))
        .route("/{bot}/sendMessage", post(telegram))
        .route("/kassa-events", post(webhook))
        .fallback(unknown_receiver)
        .with_state(received)
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(super) async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found")
}

pub(super) fn bearer_is(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {token}"))
}

fn meta_error(status: StatusCode, code: i64, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "demo"}}),
    )
}

/// The ad account node: its name, currency and time zone (the demo's accounts run on UTC).
async fn meta_account(headers: HeaderMap, uri: Uri) -> Response {
    if !bearer_is(&headers, META_TOKEN) {
        return meta_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.");
    }
    let account = uri
        .path()
        .split('/')
        .find_map(|part| part.strip_prefix("act_"))
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        &json!({"id": format!("act_{account}"), "name": format!("demo {account}"), "currency": "USD", "timezone_name": "UTC"}),
    )
}

async fn meta_insights(
    State(platforms): State<Arc<Platforms>>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !bearer_is(&headers, META_TOKEN) {
        return meta_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.");
    }
    let account = uri
        .path()
        .split('/')
        .find_map(|part| part.strip_prefix("act_"))
        .unwrap_or_default();
    let Some((_, channel)) = ACCOUNTS.iter().find(|(id, _)| *id == account) else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            100,
            "Unsupported get request. Object does not exist.",
        );
    };
    let range: Value = query
        .get("time_range")
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    let (Some(since), Some(until)) = (
        range["since"]
            .as_str()
            .and_then(|s| s.parse::<NaiveDate>().ok()),
        range["until"]
            .as_str()
            .and_then(|s| s.parse::<NaiveDate>().ok()),
    ) else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            100,
            "(#100) time_range must be {'since':'YYYY-MM-DD','until':'YYYY-MM-DD'}",
        );
    };
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25);
    let offset: usize = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let rows: Vec<&AdDay> = platforms
        .ads
        .iter()
        .filter(|r| r.channel == *channel && since <= r.date && r.date <= until)
        .collect();
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| {
            let mut row = json!({
                "campaign_id": r.campaign_id,
                "campaign_name": r.campaign_name,
                "impressions": r.impressions.to_string(),
                "reach": r.reach.map(|x| x.to_string()),
                "clicks": r.clicks.to_string(),
                "ctr": format!("{:.6}", if r.impressions == 0 { 0.0 } else { r.clicks as f64 * 100.0 / r.impressions as f64 }),
                "spend": r.spend.to_string(),
                "account_currency": r.currency,
                "date_start": r.date.to_string(),
                "date_stop": r.date.to_string(),
            });
            let (actions, values) = meta_actions(&platforms, r);
            if !actions.is_empty() {
                row["actions"] = Value::Array(actions);
            }
            if !values.is_empty() {
                row["action_values"] = Value::Array(values);
            }
            row
        })
        .collect();
    let mut body = json!({"data": page, "paging": {"cursors": {"before": offset.to_string(), "after": (offset + limit).to_string()}}});
    if offset + limit < rows.len() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let Ok(mut next) = url::Url::parse(&format!("http://{host}{}", uri.path())) else {
            return meta_error(StatusCode::BAD_REQUEST, 100, "Invalid Host header.");
        };
        next.query_pairs_mut()
            .append_pair("level", "campaign")
            .append_pair("time_increment", "1")
            .append_pair("time_range", &range.to_string())
            .append_pair("limit", &limit.to_string())
            .append_pair("after", &(offset + limit).to_string());
        body["paging"]["next"] = json!(next.to_string());
    }
    json_response(StatusCode::OK, &body)
}

/// The week whose leads the fake Meta (and, in the Russian demo, the fake VK Ads) overstates:
/// the reconciliation's story in the demo.
pub(super) const OVERSTATED_WEEK: DateRange = DateRange {
    start: NaiveDate::from_ymd_opt(2025, 4, 21).expect("a date"),
    end: NaiveDate::from_ymd_opt(2025, 4, 27).expect("a date"),
};

/// The channel's deals of `row`'s day dealt out over its campaigns of the day in turn: the
/// leads created that day and the deals won and closed that day that fall to `row`'s campaign,
/// so a channel-day claims exactly what the CRM recorded.
pub(super) fn dealt<'a>(ads: &[AdDay], deals: &'a [Deal], row: &AdDay) -> (usize, Vec<&'a Deal>) {
    let mut campaigns: Vec<&str> = ads
        .iter()
        .filter(|r| r.channel == row.channel && r.date == row.date)
        .map(|r| r.campaign_id.as_str())
        .collect();
    campaigns.sort_unstable();
    let turn = campaigns
        .iter()
        .position(|c| *c == row.campaign_id)
        .unwrap_or(0);
    let mine = |i: usize| i % campaigns.len().max(1) == turn;
    let deals = deals.iter().filter(|d| d.channel == row.channel);
    let leads = deals
        .clone()
        .filter(|d| d.created_date == row.date)
        .enumerate()
        .filter(|(i, _)| mine(*i))
        .count();
    let won = deals
        .filter(|d| d.status == DealStatus::Won && d.closed_date == Some(row.date))
        .enumerate()
        .filter(|(i, _)| mine(*i))
        .map(|(_, d)| d)
        .collect();
    (leads, won)
}

/// Meta's `actions` and `action_values` for one campaign-day, as Meta writes them: every
/// conversion under each of its overlapping type names (`lead` and the pixel's lead; `purchase`,
/// `omni_purchase` and the pixel's purchase), zero actions left out. The figures are honest:
/// the channel's deals of the day (created: leads; won and closed that day: purchases and their
/// revenue) are dealt out over its campaigns of the day in turn, so a channel-day claims what
/// the CRM recorded, except in [`OVERSTATED_WEEK`].
fn meta_actions(platforms: &Platforms, row: &AdDay) -> (Vec<Value>, Vec<Value>) {
    let (leads, won) = dealt(&platforms.ads, &platforms.deals, row);
    let revenue = Money::from_micros(won.iter().filter_map(|d| d.amount).map(Money::micros).sum());
    // One week the platform claims two and a half times the leads the CRM recorded, as
    // platforms do when they count one person's form twice or count leads the CRM filtered out.
    let leads = if row.channel == "meta" && OVERSTATED_WEEK.contains(row.date) {
        leads * 5 / 2
    } else {
        leads
    };
    let entry = |kind: &str, value: String| json!({"action_type": kind, "value": value});
    let mut actions = Vec::new();
    if row.clicks > 0 {
        actions.push(entry("link_click", row.clicks.to_string()));
    }
    if leads > 0 {
        for kind in ["lead", "offsite_conversion.fb_pixel_lead"] {
            actions.push(entry(kind, leads.to_string()));
        }
    }
    let mut values = Vec::new();
    if !won.is_empty() {
        for kind in [
            "purchase",
            "omni_purchase",
            "offsite_conversion.fb_pixel_purchase",
        ] {
            actions.push(entry(kind, won.len().to_string()));
            values.push(entry(kind, revenue.to_string()));
        }
    }
    (actions, values)
}

async fn hubspot_search(
    State(platforms): State<Arc<Platforms>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !bearer_is(&headers, HUBSPOT_TOKEN) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"}),
        );
    }
    // The body is read as bytes, not through axum's `Json`, so a bad body gets HubSpot's own
    // error shape.
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"status": "error", "message": "Invalid input JSON", "category": "VALIDATION_ERROR"}),
        );
    };
    // Each filter group is one BETWEEN on createdate or closedate; groups are ORed.
    let mut ranges: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for group in body["filterGroups"].as_array().into_iter().flatten() {
        for filter in group["filters"].as_array().into_iter().flatten() {
            let ms = |v: &Value| v.as_str().and_then(|s| s.parse::<i64>().ok());
            if let (Some(property), Some(low), Some(high)) = (
                filter["propertyName"].as_str(),
                ms(&filter["value"]),
                ms(&filter["highValue"]),
            ) {
                ranges.insert(property.to_string(), (low, high));
            }
        }
    }
    let instant = |date: NaiveDate| -> DateTime<Utc> { Utc.from_utc_datetime(&date.and_time(TEN)) };
    let inside = |property: &str, date: Option<NaiveDate>| {
        matches!((ranges.get(property), date), (Some((low, high)), Some(date))
            if (*low..=*high).contains(&instant(date).timestamp_millis()))
    };
    let matching: Vec<&Deal> = platforms
        .deals
        .iter()
        .filter(|deal| {
            ranges.is_empty()
                || inside("createdate", Some(deal.created_date))
                || inside("closedate", deal.closed_date)
        })
        .collect();
    let limit = body["limit"].as_u64().unwrap_or(10).min(200) as usize;
    let offset: usize = body["after"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let results: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|deal| {
            let source = match deal.channel.as_str() {
                "meta" => "PAID_SOCIAL",
                "google" => "PAID_SEARCH",
                _ => "OFFLINE",
            };
            json!({
                "id": deal.id,
                "properties": {
                    "amount": deal.amount.map(|a| a.to_string()),
                    "createdate": instant(deal.created_date).to_rfc3339(),
                    "closedate": deal.closed_date.map(|c| instant(c).to_rfc3339()),
                    "deal_currency_code": deal.currency,
                    "dealname": format!("Deal {}", deal.id),
                    "dealstage": match deal.status { DealStatus::Won => "closedwon", DealStatus::Lost => "closedlost", DealStatus::Open => "appointmentscheduled" },
                    "hs_is_closed": (deal.status != DealStatus::Open).to_string(),
                    "hs_is_closed_won": (deal.status == DealStatus::Won).to_string(),
                    "hs_analytics_source": source,
                    "hs_object_id": deal.id,
                    "pipeline": "default",
                },
                "createdAt": instant(deal.created_date).to_rfc3339(),
                "archived": false,
            })
        })
        .collect();
    let mut answer = json!({"total": matching.len(), "results": results});
    if offset + limit < matching.len() {
        answer["paging"] = json!({"next": {"after": (offset + limit).to_string(), "link": "demo"}});
    }
    json_response(StatusCode::OK, &answer)
}

/// The time of day the fake gives every deal's timestamps: mid-morning UTC, so the dates stay
/// the same in the demo's time zone.
const TEN: chrono::NaiveTime = match chrono::NaiveTime::from_hms_opt(10, 0, 0) {
    Some(time) => time,
    None => panic!("10:00 is a time of day"),
};

fn keep(received: &Received, uri: &Uri, body: &Bytes) {
    received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((
            uri.path().to_string(),
            String::from_utf8_lossy(body).into_owned(),
        ));
}

async fn slack(State(received): State<Received>, uri: Uri, body: Bytes) -> &'static str {
    keep(&received, &uri, &body);
    "ok"
}

async fn telegram(State(received): State<Received>, uri: Uri, body: Bytes) -> Response {
    keep(&received, &uri, &body);
    json_response(
        StatusCode::OK,
        &json!({"ok": true, "result": {"message_id": 1, "chat": {"id": -1001234567890_i64}, "date": 0}}),
    )
}

async fn webhook(State(received): State<Received>, uri: Uri, body: Bytes) -> StatusCode {
    keep(&received, &uri, &body);
    StatusCode::NO_CONTENT
}

async fn unknown_receiver(
    State(received): State<Received>,
    uri: Uri,
    body: Bytes,
) -> (StatusCode, &'static str) {
    keep(&received, &uri, &body);
    (StatusCode::NOT_FOUND, "not found")
}
