//! A fake Pipedrive API v2 as Pipedrive documents its wire format: `GET /api/v2/deals`
//! answering `{"success": true, "data": [...], "additional_data": {"next_cursor": ...}}` with
//! RFC 3339 instants and `value` a JSON number (fractions allowed, null when unset), errors as
//! `{"success": false, "error": ..., "error_info": ...}`, a 429 with `x-ratelimit-*` headers,
//! and the OAuth token endpoint `POST /oauth/token` (client credentials as HTTP Basic).

use std::time::Duration;

use chrono::NaiveDate;
use kassa::sources::{BuildContext, Source};
use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use super::{TokenFrom, answer, build_source, sources_table};
use crate::connector::{Next, Paging, Platform};
use crate::helpers::{Workspace, paused_clock_context};

/// An API token distinctive enough that finding it anywhere cannot be a coincidence.
pub const TOKEN: &str = "659c9fddb16335e48cc6-kassa-pipedrive-test-token";
pub const SOURCE: &str = "pipedrive";
pub const DEALS_PATH: &str = "/api/v2/deals";
pub const TOKEN_PATH: &str = "/oauth/token";
/// The custom field the fixtures' deals carry their lead source in.
pub const SOURCE_FIELD: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

/// A `[[sources]]` table of kind `pipedrive` for the fake at `base_url`; `extra` adds lines.
pub fn table(name: &str, base_url: &str, token: TokenFrom<'_>, extra: &str) -> String {
    sources_table("pipedrive", name, base_url, token, extra)
}

/// The source the tests use: named [`SOURCE`], the token in a file, `extra` lines added,
/// built with `context` (its time zone, its token cache).
pub fn source(server: &MockServer, context: &BuildContext, extra: &str) -> (Workspace, Source) {
    build_source(
        TOKEN,
        |token| table(SOURCE, &server.uri(), token, extra),
        context,
    )
}

/// A response body from `fixtures/pipedrive/`.
pub fn fixture(name: &str, server: &MockServer) -> Value {
    super::fixture("pipedrive", name, server)
}

/// One v2 deal: `status` won, lost or open; `closed` is `won_time` or `lost_time` (and
/// `close_time`) by the status; `value` a JSON number or null.
pub fn deal(id: u64, status: &str, added: &str, closed: Option<&str>, value: Value) -> Value {
    let at = |wanted: &str| {
        if status == wanted {
            json!(closed)
        } else {
            Value::Null
        }
    };
    json!({
        "id": id,
        "title": format!("Deal #{id}"),
        "owner_id": 12,
        "pipeline_id": 1,
        "stage_id": 5,
        "value": value,
        "currency": "EUR",
        "status": status,
        "is_deleted": false,
        "origin": "WebForms",
        "channel": null,
        "channel_id": null,
        "add_time": added,
        "update_time": closed.unwrap_or(added),
        "won_time": at("won"),
        "lost_time": at("lost"),
        "close_time": closed,
        "custom_fields": {},
    })
}

/// A deals page; `next` becomes `additional_data.next_cursor` (null on the last page).
pub fn page(deals: Vec<Value>, next: Option<Next<'_>>) -> Value {
    json!({
        "success": true,
        "data": deals,
        "additional_data": {"next_cursor": next.map(|n| n.cursor)},
    })
}

/// Pipedrive's 429: the burst window's headers, `x-ratelimit-reset` saying how many seconds
/// until it resets, and `Retry-After` when given.
pub fn too_many_requests(reset: u64, retry_after: Option<u64>) -> ResponseTemplate {
    let mut response = answer(429)
        .insert_header("x-ratelimit-limit", "40")
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header("x-ratelimit-reset", reset.to_string().as_str())
        .set_body_json(json!({
            "success": false,
            "error": "Request over limit",
            "errorCode": 429,
        }));
    if let Some(seconds) = retry_after {
        response = response.insert_header("Retry-After", seconds.to_string().as_str());
    }
    response
}

/// Pipedrive for the connector contract.
pub struct Pipedrive;

impl Platform for Pipedrive {
    const KIND: &'static str = "pipedrive";
    const SOURCE: &'static str = SOURCE;
    const TOKEN: &'static str = TOKEN;
    const METHOD: &'static str = "GET";
    const DATA_PATH: &'static str = DEALS_PATH;
    const PAGING: Paging = Paging::Cursor;
    // `x-ratelimit-reset: 3`: longer than the sub-second first backoff and the 2 s window.
    const THROTTLE_WAIT: Duration = Duration::from_secs(3);

    fn source(server: &MockServer) -> (Workspace, Source) {
        source(server, &paused_clock_context(), "")
    }

    fn page(day: NaiveDate, next: Option<Next<'_>>) -> Value {
        let added = format!("{day}T09:00:00Z");
        let won = format!("{day}T15:00:00Z");
        page(
            vec![deal(1001, "won", &added, Some(&won), json!(900))],
            next,
        )
    }

    fn empty_page() -> Value {
        page(vec![], None)
    }

    fn throttled() -> ResponseTemplate {
        too_many_requests(3, None)
    }
}
