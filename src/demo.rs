//! `kassa demo`: the nightly cycle end to end with no account anywhere.
//!
//! In-process fakes on 127.0.0.1 serve the demo data (`fixtures/demo/`, compiled in) in the
//! platforms' wire formats: two ad accounts through a Meta Insights fake (strings for every
//! metric, cursor paging through `paging.next`) and the deals through a HubSpot search fake
//! (ORed filter groups, `paging.next.after`). An in-process receiver plays Slack, Telegram and
//! a signed webhook endpoint. kassa talks to all of them over real HTTP with the real
//! connectors, store, analysis, episodes and outbox: no shortcut.
//!
//! The demo backfills the first two months as history (a backfill never alerts), then replays
//! one nightly run per Monday from March to June and prints what each target received.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use crate::cli::Outcome;
use crate::config::Settings;
use crate::cycle;
use crate::domain::Locale;
use crate::domain::{AdDay, DateRange, Deal, DealStatus, Pulled};
use crate::httpd::{self, Request, Response};
use crate::pipeline;
use crate::sources::csv::ads::CsvAdsConfig;
use crate::sources::csv::crm::CsvCrmConfig;
use crate::sources::{BuildContext, RetryPolicy, SourceConfig};
use crate::store::Store;

const ADS_CSV: &str = include_str!("../fixtures/demo/ads.csv");
const CRM_CSV: &str = include_str!("../fixtures/demo/crm.csv");
const META_TOKEN: &str = "demo-meta-token";
const HUBSPOT_TOKEN: &str = "demo-hubspot-token";
const TELEGRAM_TOKEN: &str = "123456:demo-telegram-token";
const WEBHOOK_SECRET: &str = "whsec_ZGVtby1zZWNyZXQtZm9yLWthc3NhLXdlYmhvb2tz";

/// Meta ad account ids of the two demo channels.
const ACCOUNTS: [(&str, &str); 2] = [("1001", "meta"), ("1002", "google")];

fn d(text: &str) -> NaiveDate {
    text.parse().expect("a literal date")
}

/// Runs the demo in a fresh temporary store and prints what every target received.
pub async fn run(locale: Locale) -> Result<Outcome> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory for the demo")?;
    let (ads, deals) = demo_rows(dir.path()).await?;

    let platforms = start(platform_handler(Arc::new(ads), Arc::new(deals))).await?;
    let received = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let receiver = start(receiver_handler(received.clone())).await?;

    let settings = demo_settings(dir.path(), platforms, receiver, locale)?;
    let targets: Vec<_> = settings
        .alerts
        .iter()
        .map(|config| config.build(&crate::http::RetryPolicy::default()))
        .collect::<Result<_, _>>()?;
    let mut store = Store::open(&settings.store_path)?;

    crate::outln!(
        "kassa demo: two ad accounts (meta, google) served by a fake Meta Insights API, deals by a fake"
    );
    crate::outln!(
        "HubSpot search API, alerts to fake Slack, Telegram and webhook receivers, all on 127.0.0.1.\n"
    );
    let history = DateRange::new(d("2025-01-06"), d("2025-03-09")).expect("ordered");
    let backfill = pipeline::backfill(&settings, &mut store, history, &[], d("2025-03-10")).await?;
    let rows: usize = backfill.sources.iter().map(|s| s.rows).sum();
    crate::outln!(
        "backfill {}: {rows} rows of history (a backfill never alerts)\n",
        backfill.range
    );

    let mut night = d("2025-03-10");
    let mut delivered = 0;
    let mut nights = 0;
    let mut shown_kinds = Vec::new();
    while night <= d("2025-06-09") {
        let outcome = cycle::run_cycle(&settings, &mut store, &targets, night).await?;
        if outcome.partial() {
            anyhow::bail!("the demo's own fakes failed: {:?}", outcome.undelivered);
        }
        if !outcome.delivered.is_empty() {
            crate::outln!("── night of {night} ─────────────────────────────────────────────");
            for message in &outcome.delivered {
                crate::outln!(
                    "  {} ({}): {}",
                    message.target,
                    message.message.event.as_str(),
                    message.message.title
                );
                let kind = targets
                    .iter()
                    .find(|t| t.name() == message.target)
                    .map(|t| t.kind())
                    .unwrap_or_default();
                if !shown_kinds.contains(&kind) {
                    shown_kinds.push(kind);
                    crate::outln!("    the {kind} target received this body:");
                    for line in message.body.lines() {
                        crate::outln!("      {line}");
                    }
                }
            }
            delivered += outcome.delivered.len();
            crate::outln!();
        }
        night += Duration::days(7);
        nights += 1;
    }
    let requests = received.lock().expect("receiver lock").len();
    crate::outln!(
        "{delivered} alerts delivered ({requests} requests reached the receivers) over {nights} nightly runs; \
         the 2025-04-07 growth brought money and was not flagged."
    );
    crate::outln!(
        "Run it for yourself: cargo run -- --config config/demo.toml backfill --from 2025-01-06 --to 2025-06-29"
    );
    crate::outln!("                     cargo run -- --config config/demo.toml analyze");
    Ok(Outcome::Success)
}

/// Reads the compiled-in CSVs with the CSV sources themselves.
async fn demo_rows(dir: &Path) -> Result<(Vec<AdDay>, Vec<Deal>)> {
    let everything = DateRange::new(d("2000-01-01"), d("2100-01-01")).expect("ordered");
    std::fs::write(dir.join("ads.csv"), ADS_CSV)?;
    std::fs::write(dir.join("crm.csv"), CRM_CSV)?;
    let context = BuildContext::new(chrono_tz::UTC, RetryPolicy::default());
    let ads = SourceConfig::CsvAds(CsvAdsConfig {
        name: "demo".into(),
        lookback_days: None,
        path: dir.join("ads.csv"),
        account: "demo".into(),
    })
    .build(&context)?
    .pull(everything)
    .await?;
    let deals = SourceConfig::CsvCrm(CsvCrmConfig {
        name: "demo".into(),
        lookback_days: None,
        path: dir.join("crm.csv"),
    })
    .build(&context)?
    .pull(everything)
    .await?;
    match (ads.rows, deals.rows) {
        (Pulled::Ads(ads), Pulled::Deals(deals)) => Ok((ads, deals)),
        _ => anyhow::bail!("the demo CSVs did not parse as ads and deals"),
    }
}

async fn start(handler: httpd::Handler) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1 for the demo's fakes")?;
    let address = listener.local_addr()?;
    tokio::spawn(httpd::serve(listener, handler));
    Ok(address)
}

fn demo_settings(
    dir: &Path,
    platforms: SocketAddr,
    receiver: SocketAddr,
    locale: Locale,
) -> Result<Settings> {
    let secret = |name: &str, value: &str| -> Result<String> {
        let path = dir.join(name);
        std::fs::write(&path, value)?;
        Ok(format!("{:?}", path.display().to_string()))
    };
    let mut toml = format!(
        "[store]\npath = {store:?}\n\n[analysis]\ntimezone = \"UTC\"\n\n[alerting]\nlocale = \"{locale}\"\n\n",
        store = dir.join("store").display().to_string(),
        locale = if locale == Locale::Ru { "ru" } else { "en" },
    );
    for (account, channel) in ACCOUNTS {
        toml.push_str(&format!(
            "[[sources]]\nname = \"{channel}-ads\"\nkind = \"meta\"\naccount_id = \"act_{account}\"\nchannel = \"{channel}\"\n\
             token_file = {}\nbase_url = \"http://{platforms}\"\npage_size = 50\n\n",
            secret(&format!("meta-{account}.token"), META_TOKEN)?
        ));
    }
    toml.push_str(&format!(
        "[[sources]]\nname = \"crm\"\nkind = \"hubspot\"\ntoken_file = {}\nbase_url = \"http://{platforms}\"\n\
         channel_map = {{ PAID_SOCIAL = \"meta\", PAID_SEARCH = \"google\" }}\ncurrency = \"USD\"\n\n",
        secret("hubspot.token", HUBSPOT_TOKEN)?
    ));
    toml.push_str(&format!(
        "[[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {}\n\n\
         [[alerts]]\nname = \"owner\"\nkind = \"telegram\"\ntoken_file = {}\nchat_id = -1001234567890\napi_base = \"http://{receiver}\"\n\n\
         [[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_file = {}\nsecret_file = {}\n",
        secret("slack.url", &format!("http://{receiver}/services/T000/B000/demo"))?,
        secret("telegram.token", TELEGRAM_TOKEN)?,
        secret("webhook.url", &format!("http://{receiver}/kassa-events"))?,
        secret("webhook.secret", WEBHOOK_SECRET)?,
    ));
    let path = dir.join("demo.toml");
    std::fs::write(&path, toml)?;
    Settings::load(Some(&path))
        .map_err(|e| anyhow::anyhow!("the demo's own configuration is invalid: {e}"))
}

/// Answers like Meta's Insights edge and HubSpot's deal search, from the demo rows.
fn platform_handler(ads: Arc<Vec<AdDay>>, deals: Arc<Vec<Deal>>) -> httpd::Handler {
    Arc::new(move |request: Request| {
        let host = request.header("host").unwrap_or("127.0.0.1").to_string();
        if request.method == "GET" && request.path.ends_with("/insights") {
            if request.header("authorization") != Some(&format!("Bearer {META_TOKEN}")) {
                return meta_error(401, 190, "Invalid OAuth access token.");
            }
            meta_insights(&request, &host, &ads)
        } else if request.method == "POST" && request.path == "/crm/v3/objects/deals/search" {
            if request.header("authorization") != Some(&format!("Bearer {HUBSPOT_TOKEN}")) {
                return Response::json(
                    401,
                    &json!({"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"}),
                );
            }
            hubspot_search(&request, &deals)
        } else {
            Response::text(404, "not found")
        }
    })
}

fn meta_error(status: u16, code: i64, message: &str) -> Response {
    Response::json(
        status,
        &json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "demo"}}),
    )
}

fn meta_insights(request: &Request, host: &str, ads: &[AdDay]) -> Response {
    let account = request
        .path
        .split('/')
        .find_map(|part| part.strip_prefix("act_"))
        .unwrap_or_default();
    let Some((_, channel)) = ACCOUNTS.iter().find(|(id, _)| *id == account) else {
        return meta_error(400, 100, "Unsupported get request. Object does not exist.");
    };
    let range: Value = request
        .query_param("time_range")
        .and_then(|t| serde_json::from_str(&t).ok())
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
            400,
            100,
            "(#100) time_range must be {'since':'YYYY-MM-DD','until':'YYYY-MM-DD'}",
        );
    };
    let limit: usize = request
        .query_param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25);
    let offset: usize = request
        .query_param("after")
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let rows: Vec<&AdDay> = ads
        .iter()
        .filter(|r| r.channel == *channel && since <= r.date && r.date <= until)
        .collect();
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| {
            json!({
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
            })
        })
        .collect();
    let mut body = json!({"data": page, "paging": {"cursors": {"before": offset.to_string(), "after": (offset + limit).to_string()}}});
    if offset + limit < rows.len() {
        let mut next =
            url::Url::parse(&format!("http://{host}{}", request.path)).expect("a valid URL");
        next.query_pairs_mut()
            .append_pair("level", "campaign")
            .append_pair("time_increment", "1")
            .append_pair("time_range", &range.to_string())
            .append_pair("limit", &limit.to_string())
            .append_pair("after", &(offset + limit).to_string());
        body["paging"]["next"] = json!(next.to_string());
    }
    Response::json(200, &body)
}

fn hubspot_search(request: &Request, deals: &[Deal]) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return Response::json(
            400,
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
    let instant = |date: NaiveDate| -> DateTime<Utc> {
        Utc.from_utc_datetime(&date.and_hms_opt(10, 0, 0).expect("a valid time"))
    };
    let inside = |property: &str, date: Option<NaiveDate>| {
        matches!((ranges.get(property), date), (Some((low, high)), Some(date))
            if (*low..=*high).contains(&instant(date).timestamp_millis()))
    };
    let matching: Vec<&Deal> = deals
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
    Response::json(200, &answer)
}

/// Plays Slack (`ok`), Telegram (`{"ok": true, ...}`) and a webhook endpoint (204), keeping
/// what arrived.
fn receiver_handler(received: Arc<Mutex<Vec<(String, String)>>>) -> httpd::Handler {
    Arc::new(move |request: Request| {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        received
            .lock()
            .expect("receiver lock")
            .push((request.path.clone(), body));
        if request.path.starts_with("/services/") {
            Response::text(200, "ok")
        } else if request.path.ends_with("/sendMessage") {
            Response::json(
                200,
                &json!({"ok": true, "result": {"message_id": 1, "chat": {"id": -1001234567890_i64}, "date": 0}}),
            )
        } else if request.path == "/kassa-events" {
            Response {
                status: 204,
                content_type: "text/plain",
                body: Vec::new(),
            }
        } else {
            Response::text(404, "not found")
        }
    })
}
