//! A fake Meta Graph API (Marketing API, Ads Insights) as Meta documents its wire format:
//! every metric a JSON string, `data` + `paging.cursors` + `paging.next` (a full URL back to
//! the API host that carries the `access_token`), errors in an `{"error": {...}}` envelope, and
//! throttling as HTTP 400 with a code in the body and the wait in `X-Business-Use-Case-Usage`.

use std::time::Duration;

use chrono::NaiveDate;
use kassa::sources::Source;
use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use super::{TokenFrom, answer, build_source, sources_table};
use crate::connector::{Next, Paging, Platform};
use crate::helpers::{Workspace, paused_clock_context};

/// A token distinctive enough that finding it anywhere cannot be a coincidence.
pub const TOKEN: &str = "EAAGkassaTESTtoken0123456789abcdefZZ";
pub const SOURCE: &str = "meta-main";
pub const ACCOUNT_PATH: &str = "/v25.0/act_123456789";
pub const INSIGHTS_PATH: &str = "/v25.0/act_123456789/insights";

/// A `[[sources]]` table of kind `meta` for the fake's ad account at `base_url`; `extra` adds
/// lines (`page_size = 2`, `lookback_days = 3`).
pub fn table(name: &str, base_url: &str, token: TokenFrom<'_>, extra: &str) -> String {
    let account = "account_id = \"act_123456789\"";
    sources_table(
        "meta",
        name,
        base_url,
        token,
        &format!("{account}\n{extra}"),
    )
}

/// The source `meta.rs` tests: named [`SOURCE`], reporting under channel `facebook`, the token
/// in a file, built for tokio's paused clock.
pub fn source(server: &MockServer, extra: &str) -> (Workspace, Source) {
    build_source(
        TOKEN,
        |token| {
            table(
                SOURCE,
                &server.uri(),
                token,
                &format!("channel = \"facebook\"\n{extra}"),
            )
        },
        &paused_clock_context(),
    )
}

/// A response body from `fixtures/meta/`, its paging links pointing at `server`.
pub fn fixture(name: &str, server: &MockServer) -> Value {
    super::fixture("meta", name, server)
}

/// The ad account node (`GET /v25.0/act_…?fields=…`) with its `timezone_name`.
pub fn account(timezone_name: &str) -> Value {
    json!({
        "name": "kassa test account",
        "currency": "USD",
        "timezone_name": timezone_name,
        "id": "act_123456789",
    })
}

/// One daily insights row at campaign level, every metric a string as Meta sends them.
pub fn row(date: &str, clicks: &str, spend: &str) -> Value {
    json!({
        "campaign_id": "120210000000000001",
        "campaign_name": "Brand_Search",
        "impressions": "1000",
        "reach": "800",
        "clicks": clicks,
        "ctr": "3.1",
        "spend": spend,
        "account_currency": "USD",
        "date_start": date,
        "date_stop": date,
    })
}

/// `row` with Meta's `actions` and `action_values` lists, each entry
/// `{"action_type": …, "value": "…"}` (values are strings, as Meta sends them). An empty slice
/// leaves that list out of the row, as Meta does for a row without any.
pub fn with_actions(mut row: Value, actions: &[(&str, &str)], values: &[(&str, &str)]) -> Value {
    let list = |entries: &[(&str, &str)]| -> Value {
        entries
            .iter()
            .map(|(kind, value)| json!({"action_type": kind, "value": value}))
            .collect()
    };
    if !actions.is_empty() {
        row["actions"] = list(actions);
    }
    if !values.is_empty() {
        row["action_values"] = list(values);
    }
    row
}

/// A page of insights: rows, cursors, and `paging.next` verbatim when there is a next page.
pub fn page(rows: Vec<Value>, next: Option<&str>) -> Value {
    let mut body = json!({
        "data": rows,
        "paging": {"cursors": {"before": "MAZDZD", "after": "MQZDZD"}},
    });
    if let Some(link) = next {
        body["paging"]["next"] = json!(link);
    }
    body
}

/// A `paging.next` link to the insights of the fake at `host`, as Meta writes them: the full
/// URL, `access_token` included.
pub fn next_link(host: &str, cursor: &str) -> String {
    format!("{host}{INSIGHTS_PATH}?access_token={TOKEN}&after={cursor}")
}

/// Meta's error envelope.
pub fn error(code: i64, subcode: Option<i64>, message: &str) -> Value {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf123",
    });
    if let Some(sub) = subcode {
        error["error_subcode"] = json!(sub);
    }
    json!({"error": error})
}

/// The 400 Meta sends when the ad account's business-use-case budget is spent, its
/// `X-Business-Use-Case-Usage` header giving, per use case, the minutes until access returns.
pub fn throttled_80000(minutes_by_use_case: &[(&str, u64)]) -> ResponseTemplate {
    let usage: Vec<Value> = minutes_by_use_case
        .iter()
        .map(|(use_case, minutes)| {
            json!({
                "type": use_case,
                "call_count": 100,
                "total_cputime": 25,
                "total_time": 25,
                "estimated_time_to_regain_access": minutes,
            })
        })
        .collect();
    answer(400)
        .insert_header(
            "X-Business-Use-Case-Usage",
            json!({"123456789": usage}).to_string().as_str(),
        )
        .set_body_json(error(
            80000,
            Some(2446079),
            "(#80000) There have been too many calls from this ad-account. Wait a bit and try again.",
        ))
}

/// Meta for the connector contract.
pub struct Meta;

impl Platform for Meta {
    const KIND: &'static str = "meta";
    const SOURCE: &'static str = SOURCE;
    const TOKEN: &'static str = TOKEN;
    const METHOD: &'static str = "GET";
    const DATA_PATH: &'static str = INSIGHTS_PATH;
    const PAGING: Paging = Paging::Link;
    // Two minutes: distinct from the one minute Meta's connector waits when no header says.
    const THROTTLE_WAIT: Duration = Duration::from_secs(120);

    fn source(server: &MockServer) -> (Workspace, Source) {
        source(server, "")
    }

    fn page(day: NaiveDate, next: Option<Next<'_>>) -> Value {
        let link = next.map(|n| next_link(n.host, n.cursor));
        page(vec![row(&day.to_string(), "31", "12.5")], link.as_deref())
    }

    fn empty_page() -> Value {
        json!({"data": []})
    }

    fn throttled() -> ResponseTemplate {
        throttled_80000(&[("ads_insights", 2)])
    }
}
