//! A fake VK Ads API (the myTarget engine) as its documentation describes the wire format: the
//! client-credentials token endpoint (`POST /api/v2/oauth2/token.json`, form-encoded, answering
//! `expires_in` as a string), the ad plan listing (`count`/`offset`/`limit`/`items`), the v2
//! daily statistics (`items[].rows[].base` with integer counts, `spent` a decimal string, rates
//! as percent floats), errors as `{"error": {"code", "message"}}` (`{"code", "message"}` for a
//! refused token) and throttling as HTTP 429 with `X-RateLimit-*` headers.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{Days, NaiveDate};
use kassa::sources::{BuildContext, Source};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use super::{answer, ok};
use crate::connector::{Next, Paging, Platform};
use crate::helpers::{Workspace, paused_clock_context, source_config};

/// The client secret: distinctive enough that finding it anywhere cannot be a coincidence.
pub const TOKEN: &str = "vkKASSAclientSECRET0123456789abcdefZZ";
/// The access token the fake issues. It starts with [`TOKEN`], so a check that finds no
/// `TOKEN` in the logs or errors has found neither secret there.
pub const ACCESS_TOKEN: &str = "vkKASSAclientSECRET0123456789abcdefZZ.access.1";
/// The access token the fake issues on the second request, after the first expired.
pub const RENEWED_TOKEN: &str = "vkKASSAclientSECRET0123456789abcdefZZ.access.2";
pub const CLIENT_ID: &str = "kassa-vk-client-42";
pub const SOURCE: &str = "vk-main";
pub const TOKEN_PATH: &str = "/api/v2/oauth2/token.json";
pub const AD_PLANS_PATH: &str = "/api/v2/ad_plans.json";
pub const STATS_PATH: &str = "/api/v2/statistics/ad_plans/day.json";

/// A `[[sources]]` table of kind `vk_ads` for the fake at `base_url`, its client id and secret
/// in files; `extra` adds lines.
pub fn table(
    name: &str,
    base_url: &str,
    client_id_file: &std::path::Path,
    client_secret_file: &std::path::Path,
    extra: &str,
) -> String {
    format!(
        "[[sources]]\n\
         name = {name:?}\n\
         kind = \"vk_ads\"\n\
         client_id_file = {:?}\n\
         client_secret_file = {:?}\n\
         base_url = {:?}\n\
         {extra}\n",
        client_id_file.display().to_string(),
        client_secret_file.display().to_string(),
        base_url,
    )
}

/// Writes the client id and `secret` into `workspace`: the two files a table names.
pub fn credentials(workspace: &Workspace, secret: &str) -> (PathBuf, PathBuf) {
    (
        workspace.write("secrets/vk_client_id", &format!("{CLIENT_ID}\n")),
        workspace.write("secrets/vk_client_secret", &format!("{secret}\n")),
    )
}

/// The source named [`SOURCE`] for the fake at `server`, with client secret `secret`, built
/// with `context` (whose token cache two builds may share, as two runs share the store).
pub fn source_with(
    server: &MockServer,
    secret: &str,
    extra: &str,
    context: &BuildContext,
) -> (Workspace, Source) {
    let workspace = Workspace::new();
    let (id, secret) = credentials(&workspace, secret);
    let source = source_config(&table(SOURCE, &server.uri(), &id, &secret, extra))
        .build(context)
        .expect("the source builds");
    (workspace, source)
}

/// The line that lets the fake serve days older than VK Ads keeps (the contract's are in
/// 2024): every source here has it but the one that tests the limit.
pub const ANY_AGE: &str = "statistics_days = 100000";

/// [`source_with`] the right secret, days of any age and a fresh token cache, for the paused
/// clock.
pub fn source(server: &MockServer, extra: &str) -> (Workspace, Source) {
    source_with(
        server,
        TOKEN,
        &format!("{ANY_AGE}\n{extra}"),
        &paused_clock_context(),
    )
}

/// A response body from `fixtures/vk_ads/`.
pub fn fixture(name: &str, server: &MockServer) -> Value {
    super::fixture("vk_ads", name, server)
}

/// The token endpoint's answer (the documented example) carrying `access_token`.
pub fn token_answer(access_token: &str, server: &MockServer) -> ResponseTemplate {
    let mut body = fixture("token.json", server);
    body["access_token"] = json!(access_token);
    ok(body)
}

/// Issues [`ACCESS_TOKEN`] to every token request.
pub async fn mount_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_answer(ACCESS_TOKEN, server))
        .mount(server)
        .await;
}

/// One ad plan as the listing sends it (ids are JSON integers).
pub fn ad_plan(id: u64, name: &str) -> Value {
    json!({"id": id, "name": name, "status": "active"})
}

/// A page of the ad plan listing.
pub fn ad_plans_page(items: Vec<Value>, count: usize, offset: usize) -> Value {
    json!({"count": count, "offset": offset, "limit": 50, "items": items})
}

/// One day's `base` metrics: counts as integers, money as decimal strings, rates as percent.
pub fn day(date: &str, shows: u64, clicks: u64, goals: u64, spent: &str) -> Value {
    json!({
        "date": date,
        "base": {
            "shows": shows, "clicks": clicks, "goals": goals, "spent": spent,
            "cpm": "307.44", "cpc": "86.4", "cpa": "0",
            "ctr": 0.355820297571197, "cr": 0
        }
    })
}

/// A statistics answer: `(ad plan id, its days)` per item.
pub fn stats(items: Vec<(u64, Vec<Value>)>) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|(id, rows)| json!({"id": id, "rows": rows, "total": {"base": {}}}))
        .collect();
    json!({"items": items, "total": {"base": {}}})
}

/// VK Ads' API error envelope.
pub fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// The 401 VK Ads sends for a dead access token.
pub fn token_refused(code: &str) -> ResponseTemplate {
    answer(401)
        .insert_header(
            "WWW-Authenticate",
            format!("Bearer realm=\"api\", error=\"{code}\"").as_str(),
        )
        .set_body_json(json!({"code": code, "message": "Access token is expired"}))
}

/// A 429 with the hourly budget spent, sent at `minute`:00 past the hour.
pub fn hourly_limit_spent(minute: u32) -> ResponseTemplate {
    answer(429)
        .insert_header("X-RateLimit-RPS-Limit", "10")
        .insert_header("X-RateLimit-RPS-Remaining", "9")
        .insert_header("X-RateLimit-Hourly-Limit", "3000")
        .insert_header("X-RateLimit-Hourly-Remaining", "0")
        .insert_header("X-RateLimit-Daily-Limit", "30000")
        .insert_header("X-RateLimit-Daily-Remaining", "27000")
        .insert_header(
            "Date",
            format!("Mon, 30 Nov 2026 12:{minute:02}:00 GMT").as_str(),
        )
        .set_body_json(error("ERR_LIMIT_EXCEEDED", "Rate limit exceeded"))
}

/// Answers the ad plan listing from `total` ad plans (ids 1000, 1001, …) by `limit` and
/// `offset`, as VK Ads pages it.
pub struct Listing(pub usize);

impl Respond for Listing {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let number = |key: &str, default: usize| {
            super::query(request, key)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let (limit, offset) = (number("limit", 20), number("offset", 0));
        let items = (offset..self.0.min(offset + limit))
            .map(|i| ad_plan(1000 + i as u64, &format!("Plan {i}")))
            .collect();
        ok(ad_plans_page(items, self.0, offset))
    }
}

/// Answers statistics for every requested id with one day, `date_from`: 1000 shows, 10 clicks,
/// 2 goals, 150.50 spent.
pub struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let date = super::query(request, "date_from").unwrap_or_default();
        let items = super::query(request, "id")
            .unwrap_or_default()
            .split(',')
            .filter_map(|id| id.parse().ok())
            .map(|id| (id, vec![day(&date, 1000, 10, 2, "150.50")]))
            .collect();
        ok(stats(items))
    }
}

/// The ids one statistics request named.
pub fn ids(request: &wiremock::Request) -> Vec<String> {
    super::query(request, "id")
        .map(|ids| ids.split(',').map(String::from).collect())
        .unwrap_or_default()
}

/// A date `days` before today in Moscow, the account's zone.
pub fn days_ago(days: u64) -> NaiveDate {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive();
    today.checked_sub_days(Days::new(days)).unwrap()
}

/// VK Ads for the connector contract. The paged request is the ad plan listing; the rows come
/// from the statistics of the listed ad plans, which [`Platform::support`] answers for every
/// ad plan with one day (the range's first, so inside every check's range).
pub struct VkAds;

impl Platform for VkAds {
    const KIND: &'static str = "vk_ads";
    const SOURCE: &'static str = SOURCE;
    const TOKEN: &'static str = TOKEN;
    const METHOD: &'static str = "GET";
    const DATA_PATH: &'static str = AD_PLANS_PATH;
    const PAGING: Paging = Paging::Cursor;
    // The rest of the hour: two minutes, distinct from the one second a spent per-second
    // budget (or a 429 without headers) waits.
    const THROTTLE_WAIT: Duration = Duration::from_secs(120);

    fn source(server: &MockServer) -> (Workspace, Source) {
        source(server, "")
    }

    /// A listing page with one ad plan; a continuation says there is one more (`count` 2), as
    /// VK Ads pages by `offset`, not by cursor or link.
    fn page(_day: NaiveDate, next: Option<Next<'_>>) -> Value {
        let count = if next.is_some() { 2 } else { 1 };
        ad_plans_page(vec![ad_plan(8372481, "Весенняя распродажа")], count, 0)
    }

    fn empty_page() -> Value {
        ad_plans_page(Vec::new(), 0, 0)
    }

    fn throttled() -> ResponseTemplate {
        hourly_limit_spent(58)
    }

    async fn support(server: &MockServer) {
        mount_token(server).await;
        Mock::given(method("GET"))
            .and(path(STATS_PATH))
            .respond_with(Echo)
            .mount(server)
            .await;
    }
}
