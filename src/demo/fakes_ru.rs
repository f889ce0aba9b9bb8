//! The Russian demo's fake platforms, as axum handlers on 127.0.0.1: Yandex Direct's Reports
//! API (a TSV report, money in micros, the offline queue's 201 and 202 once), VK Ads (the
//! client-credentials token endpoint, the ad plan listing, daily statistics) and amoCRM's
//! leads (`_embedded.leads`, `_links.next`, 204 past the end, Unix-second instants, integer
//! prices). They answer from the English demo's rows retold in Russian terms ([`retell`]), so
//! the demo tells the same story through the connectors a Russian business uses.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Europe::Moscow;
use serde_json::{Value, json};

use super::fakes::{OVERSTATED_WEEK, bearer_is, dealt, json_response, not_found};
use crate::domain::{AdDay, Deal, DealStatus, Money};

/// The OAuth token the Yandex Direct fake accepts.
pub const YANDEX_TOKEN: &str = "y0_demo-yandex-direct-token";
/// The VK Ads API client the fake knows.
pub const VK_CLIENT_ID: &str = "demo-vk-client";
pub const VK_CLIENT_SECRET: &str = "demo-vk-client-secret";
/// The access token the VK Ads fake issues for that client.
const VK_ACCESS_TOKEN: &str = "demo-vk-access-token";
/// The amoCRM integration's long-lived token.
pub const AMOCRM_TOKEN: &str = "demo-amocrm-long-lived-token";
/// The Metrica goals Yandex Direct reports conversions for: a lead form and a purchase.
pub const LEAD_GOAL: u64 = 31_415_926;
pub const PURCHASE_GOAL: u64 = 27_182_818;
/// The `utm_source` values of the demo's leads, per channel (the configuration's channel
/// rules name the first two lists); unattributed leads came from sources no rule names.
pub const YANDEX_SOURCES: [&str; 3] = ["yandex", "ya", "direct"];
pub const VK_SOURCES: [&str; 2] = ["vk", "vkontakte"];
const OTHER_SOURCES: [&str; 2] = ["avito", "sarafan"];
/// Roubles per dollar of the English demo's amounts.
const RUB_PER_USD: i64 = 90;

/// How many requests each fake platform answered, for the demo's closing line.
#[derive(Debug, Default)]
pub struct Requests {
    /// Report requests, the offline queue's polls included.
    pub yandex: AtomicUsize,
    /// Of which the offline queue answered 201 or 202.
    pub yandex_queued: AtomicUsize,
    /// Token requests to VK Ads.
    pub vk_tokens: AtomicUsize,
    /// Ad plan and statistics requests to VK Ads.
    pub vk: AtomicUsize,
    /// Leads pages asked of amoCRM, the 204s included.
    pub amocrm: AtomicUsize,
}

/// The English demo's rows in Russian terms: `meta` becomes VK Ads and `google` Yandex
/// Direct (their campaigns get the platforms' numeric ids), dollars become roubles (deal
/// amounts whole roubles, as amoCRM keeps them), and every third open deal came from a source
/// no channel rule names, so it lands in `unattributed` (open deals carry no money, so the
/// channels' verdicts are the English demo's).
pub fn retell(ads: Vec<AdDay>, deals: Vec<Deal>) -> (Vec<AdDay>, Vec<Deal>) {
    fn channel(english: &str) -> &str {
        match english {
            "meta" => "vk_ads",
            "google" => "yandex_direct",
            other => other,
        }
    }
    let ads = ads
        .into_iter()
        .map(|row| {
            let digits: String = row
                .campaign_id
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            let base = if row.channel == "meta" {
                "8372"
            } else {
                "70123"
            };
            AdDay {
                channel: channel(&row.channel).to_string(),
                account: "demo".into(),
                campaign_id: format!("{base}{digits}"),
                spend: Money::from_micros(row.spend.micros() * RUB_PER_USD),
                currency: Some("RUB".into()),
                reach: None,
                ..row
            }
        })
        .collect();
    let mut open = 0;
    let deals = deals
        .into_iter()
        .map(|deal| {
            let mut channel = channel(&deal.channel).to_string();
            if deal.status == DealStatus::Open {
                open += 1;
                if open % 3 == 0 {
                    channel = "unattributed".into();
                }
            }
            // Whole roubles, rounded half up.
            let amount = deal.amount.map(|a| {
                let micros = a.micros() * RUB_PER_USD;
                Money::from_micros((micros + 500_000).div_euclid(1_000_000) * 1_000_000)
            });
            Deal {
                channel,
                amount,
                currency: Some("RUB".into()),
                ..deal
            }
        })
        .collect();
    (ads, deals)
}

struct Platforms {
    ads: Vec<AdDay>,
    deals: Vec<Deal>,
    requests: Arc<Requests>,
}

/// Answers like Yandex Direct's reports service, VK Ads' token, ad plan and statistics
/// endpoints and amoCRM's leads listing, from [`retell`]'s rows.
pub fn platforms(ads: Vec<AdDay>, deals: Vec<Deal>, requests: Arc<Requests>) -> Router {
    Router::new()
        .route("/json/v5/reports", post(yandex_report))
        .route("/api/v2/oauth2/token.json", post(vk_token))
        .route("/api/v2/ad_plans.json", get(vk_ad_plans))
        .route("/api/v2/statistics/ad_plans/day.json", get(vk_statistics))
        .route("/api/v4/leads", get(amocrm_leads))
        .fallback(not_found)
        .with_state(Arc::new(Platforms {
            ads,
            deals,
            requests,
        }))
}

fn yandex_error(code: u32, text: &str, detail: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": {"request_id": "demo", "error_code": code, "error_string": text, "error_detail": detail}}),
    )
}

/// A `CUSTOM_REPORT` as TSV, money in micros, the goals' `Conversions_<goal>_<model>` and
/// `Revenue_<goal>_<model>` columns when goals are asked for. The first report goes through
/// the offline queue (201, then 202, then 200) with a one-second `retryIn`, as a real account's
/// first large report does.
async fn yandex_report(
    State(platforms): State<Arc<Platforms>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let requests = &platforms.requests;
    requests.yandex.fetch_add(1, Ordering::Relaxed);
    if !bearer_is(&headers, YANDEX_TOKEN) {
        return yandex_error(53, "Authorization error", "Invalid OAuth token");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return yandex_error(8000, "Invalid request", "The request is not JSON");
    };
    let params = &body["params"];
    let date = |key: &str| {
        params["SelectionCriteria"][key]
            .as_str()
            .and_then(|s| s.parse::<NaiveDate>().ok())
    };
    let (Some(from), Some(to)) = (date("DateFrom"), date("DateTo")) else {
        return yandex_error(
            8000,
            "Invalid request",
            "SelectionCriteria needs DateFrom and DateTo",
        );
    };
    let queued = requests.yandex_queued.load(Ordering::Relaxed);
    if queued < 2 {
        requests.yandex_queued.fetch_add(1, Ordering::Relaxed);
        let status = if queued == 0 {
            StatusCode::CREATED
        } else {
            StatusCode::ACCEPTED
        };
        return (
            status,
            [
                ("retryIn", "1"),
                ("reportsInQueue", "1"),
                ("RequestId", "demo"),
            ],
        )
            .into_response();
    }
    let goals: Vec<u64> = params["Goals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    let model = params["AttributionModels"][0].as_str().unwrap_or("LSC");
    let mut tsv = String::from("Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost");
    for goal in &goals {
        tsv.push_str(&format!(
            "\tConversions_{goal}_{model}\tRevenue_{goal}_{model}"
        ));
    }
    tsv.push('\n');
    let rows = platforms
        .ads
        .iter()
        .filter(|r| r.channel == "yandex_direct" && from <= r.date && r.date <= to);
    for row in rows {
        tsv.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            row.date,
            row.campaign_id,
            row.campaign_name.as_deref().unwrap_or(""),
            row.impressions,
            row.clicks,
            row.spend.micros()
        ));
        let (leads, won) = dealt(&platforms.ads, &platforms.deals, row);
        for goal in &goals {
            // Yandex writes `--` where a goal was not reached.
            let (conversions, revenue) = match *goal {
                LEAD_GOAL if leads > 0 => (leads.to_string(), "--".to_string()),
                PURCHASE_GOAL if !won.is_empty() => {
                    let micros: i64 = won.iter().filter_map(|d| d.amount).map(Money::micros).sum();
                    (won.len().to_string(), micros.to_string())
                }
                _ => ("--".to_string(), "--".to_string()),
            };
            tsv.push_str(&format!("\t{conversions}\t{revenue}"));
        }
        tsv.push('\n');
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/tab-separated-values; charset=utf-8",
        )],
        tsv,
    )
        .into_response()
}

fn vk_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// The client-credentials grant: a form with the client's id and secret.
async fn vk_token(State(platforms): State<Arc<Platforms>>, body: Bytes) -> Response {
    platforms.requests.vk_tokens.fetch_add(1, Ordering::Relaxed);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |key: &str| form.get(key).map(String::as_str);
    if field("grant_type") != Some("client_credentials")
        || field("client_id") != Some(VK_CLIENT_ID)
        || field("client_secret") != Some(VK_CLIENT_SECRET)
    {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"code": "invalid_client", "message": "Client authentication failed"}),
        );
    }
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": VK_ACCESS_TOKEN,
            "token_type": "bearer",
            "scope": "read_ads",
            "expires_in": "86400",
            "refresh_token": "demo-vk-refresh-token-unused",
        }),
    )
}

/// The VK Ads campaigns (ad plans) with their names, in id order.
fn vk_plans(platforms: &Platforms) -> Vec<(&str, &str)> {
    let mut plans: Vec<(&str, &str)> = platforms
        .ads
        .iter()
        .filter(|r| r.channel == "vk_ads")
        .map(|r| {
            (
                r.campaign_id.as_str(),
                r.campaign_name.as_deref().unwrap_or(""),
            )
        })
        .collect();
    plans.sort_unstable();
    plans.dedup_by(|a, b| a.0 == b.0);
    plans
}

async fn vk_ad_plans(
    State(platforms): State<Arc<Platforms>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    platforms.requests.vk.fetch_add(1, Ordering::Relaxed);
    if !bearer_is(&headers, VK_ACCESS_TOKEN) {
        return vk_error(StatusCode::UNAUTHORIZED, "invalid_token", "Invalid token");
    }
    let number = |key: &str, default: usize| {
        query
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (limit, offset) = (number("limit", 20), number("offset", 0));
    let plans = vk_plans(&platforms);
    let items: Vec<Value> = plans
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(id, name)| json!({"id": id.parse::<u64>().unwrap_or(0), "name": name, "status": "active"}))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"count": plans.len(), "offset": offset, "limit": limit, "items": items}),
    )
}

/// Daily `base` statistics of the asked ad plans: integer counts, `spent` a decimal string,
/// rates in percent, `goals` the leads VK Ads claims (overstated in [`OVERSTATED_WEEK`]).
async fn vk_statistics(
    State(platforms): State<Arc<Platforms>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    platforms.requests.vk.fetch_add(1, Ordering::Relaxed);
    if !bearer_is(&headers, VK_ACCESS_TOKEN) {
        return vk_error(StatusCode::UNAUTHORIZED, "invalid_token", "Invalid token");
    }
    let date = |key: &str| query.get(key).and_then(|d| d.parse::<NaiveDate>().ok());
    let (Some(from), Some(to), Some(ids)) = (date("date_from"), date("date_to"), query.get("id"))
    else {
        return vk_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "id, date_from and date_to are required",
        );
    };
    let items: Vec<Value> = ids
        .split(',')
        .map(|id| {
            let rows: Vec<Value> = platforms
                .ads
                .iter()
                .filter(|r| {
                    r.channel == "vk_ads" && r.campaign_id == id && from <= r.date && r.date <= to
                })
                .map(|r| {
                    let (leads, _) = dealt(&platforms.ads, &platforms.deals, r);
                    // One week VK Ads counts two and a half times the leads the CRM recorded.
                    let goals = if OVERSTATED_WEEK.contains(r.date) {
                        leads * 5 / 2
                    } else {
                        leads
                    };
                    let percent = |part: u64, whole: u64| {
                        if whole == 0 {
                            0.0
                        } else {
                            part as f64 * 100.0 / whole as f64
                        }
                    };
                    json!({
                        "date": r.date.to_string(),
                        "base": {
                            "shows": r.impressions,
                            "clicks": r.clicks,
                            "goals": goals,
                            "spent": r.spend.to_string(),
                            "ctr": percent(r.clicks, r.impressions),
                            "cr": percent(goals as u64, r.clicks),
                        }
                    })
                })
                .collect();
            json!({"id": id.parse::<u64>().unwrap_or(0), "rows": rows})
        })
        .collect();
    json_response(StatusCode::OK, &json!({"items": items}))
}

/// The instant amoCRM recorded for a deal's day, in Unix seconds: mid-morning in Moscow, or
/// for about one deal in four half past one at night, which is still the previous day in UTC, so
/// only dating in the business's zone (Moscow) puts the lead on its day.
fn seconds(deal: &Deal, date: NaiveDate) -> i64 {
    let night = deal.id.bytes().map(u64::from).sum::<u64>() % 4 == 0;
    let time = if night {
        NaiveTime::from_hms_opt(1, 30, 0)
    } else {
        NaiveTime::from_hms_opt(10, 0, 0)
    }
    .unwrap_or_default();
    Moscow
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|t| t.timestamp())
        .unwrap_or_default()
}

/// `GET /api/v4/leads` with `filter[created_at][to]` and `filter[updated_at][from]`: a page of
/// `limit` leads by `page`, `_links.next` while a page is full, and 204 No Content for a page
/// with nothing on it.
async fn amocrm_leads(
    State(platforms): State<Arc<Platforms>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    platforms.requests.amocrm.fetch_add(1, Ordering::Relaxed);
    if !bearer_is(&headers, AMOCRM_TOKEN) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json!({"title": "Unauthorized", "type": "https://httpstatus.es/401", "status": 401, "detail": "Invalid access token"}).to_string(),
        )
            .into_response();
    }
    let number = |key: &str| query.get(key).and_then(|v| v.parse::<i64>().ok());
    let created_to = number("filter[created_at][to]").unwrap_or(i64::MAX);
    let updated_from = number("filter[updated_at][from]").unwrap_or(i64::MIN);
    let limit = number("limit").unwrap_or(50).clamp(1, 250) as usize;
    let page = number("page").unwrap_or(1).max(1) as usize;
    let matching: Vec<(&Deal, i64, Option<i64>)> = platforms
        .deals
        .iter()
        .map(|d| {
            (
                d,
                seconds(d, d.created_date),
                d.closed_date.map(|c| seconds(d, c)),
            )
        })
        .filter(|(_, created, closed)| {
            *created <= created_to && closed.unwrap_or(*created) >= updated_from
        })
        .collect();
    let leads: Vec<Value> = matching
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|(deal, created, closed)| {
            let id: u64 = deal
                .id
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0);
            let pick = |values: &[&'static str]| values[id as usize % values.len()];
            let source = match deal.channel.as_str() {
                "yandex_direct" => Some(pick(&YANDEX_SOURCES)),
                "vk_ads" => Some(pick(&VK_SOURCES)),
                // Some leads have no source at all.
                _ => (!id.is_multiple_of(3)).then(|| pick(&OTHER_SOURCES)),
            };
            let fields = source.map(|s| {
                json!([{"field_id": 1_278_898_021, "field_name": "utm_source", "field_code": "UTM_SOURCE",
                        "field_type": "tracking_data", "values": [{"value": s}]}])
            });
            json!({
                "id": id,
                "name": format!("Сделка #{id}"),
                "price": deal.amount.map(|a| a.micros() / 1_000_000),
                "responsible_user_id": 504_141,
                "group_id": 0,
                "status_id": match deal.status { DealStatus::Won => 142, DealStatus::Lost => 143, DealStatus::Open => 47_411_995 },
                "pipeline_id": 3_177_727,
                "created_at": created,
                "updated_at": closed.unwrap_or(*created),
                "closed_at": closed,
                "is_deleted": false,
                "custom_fields_values": fields,
                "account_id": 28_805_383,
                "_embedded": {"tags": []},
            })
        })
        .collect();
    if leads.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let link = |page: usize| {
        let mut url = format!("http://{host}/api/v4/leads?");
        let pairs = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter[created_at][to]", &created_to.to_string())
            .append_pair("filter[updated_at][from]", &updated_from.to_string())
            .append_pair("limit", &limit.to_string())
            .append_pair("page", &page.to_string())
            .finish();
        url.push_str(&pairs);
        json!({"href": url})
    };
    let mut links = json!({"self": link(page)});
    if leads.len() == limit {
        links["next"] = link(page + 1);
    }
    json_response(
        StatusCode::OK,
        &json!({"_page": page, "_links": links, "_embedded": {"leads": leads}}),
    )
}
