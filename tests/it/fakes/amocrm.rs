//! A fake amoCRM (Kommo) API v4 as amoCRM documents its wire format: `GET /api/v4/leads`
//! answering HAL pages (`_embedded.leads`, `_links.next.href`, `_page`), `204 No Content` with
//! an empty body when there is nothing (more) to list, Unix-second timestamps, integer
//! `price`, errors as `application/problem+json`, a `429` whose body may not be JSON, and the
//! OAuth token endpoint `POST /oauth2/access_token` that rotates the refresh token.

use std::time::Duration;

use chrono::NaiveDate;
use kassa::sources::{BuildContext, Source};
use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use super::{TokenFrom, answer, build_source, sources_table};
use crate::connector::{Next, Paging, Platform};
use crate::helpers::{Workspace, paused_clock_context};

/// A long-lived token distinctive enough that finding it anywhere cannot be a coincidence.
pub const TOKEN: &str = "eyJ0eXAiOiJKV1Qi.kassa-amocrm-long-lived-7c1e.test-token";
pub const SOURCE: &str = "amo";
pub const LEADS_PATH: &str = "/api/v4/leads";
pub const TOKEN_PATH: &str = "/oauth2/access_token";

/// A `[[sources]]` table of kind `amocrm` for the fake at `base_url`; `extra` adds lines.
pub fn table(name: &str, base_url: &str, token: TokenFrom<'_>, extra: &str) -> String {
    sources_table("amocrm", name, base_url, token, extra)
}

/// The lines `amocrm.rs` tests configure (last: they end in rule tables): RUB, channel rules on the "Источник" field (by id)
/// and on the lead's tags; the rest are "unattributed".
pub const CHANNELS: &str = "currency = \"RUB\"\n\
     [[sources.channel_rules]]\nfield = \"1278898021\"\nvalues = [\"yandex\"]\nchannel = \"yandex_direct\"\n\
     [[sources.channel_rules]]\nfield = \"1278898021\"\nvalues = [\"facebook\"]\nchannel = \"meta\"\n\
     [[sources.channel_rules]]\nfield = \"tags\"\nvalues = [\"vk\"]\nchannel = \"vk_ads\"";

/// The source `amocrm.rs` tests: named [`SOURCE`], [`CHANNELS`] plus `extra`, the token in a
/// file, built with `context` (its time zone, its token cache).
pub fn source(server: &MockServer, context: &BuildContext, extra: &str) -> (Workspace, Source) {
    build_source(
        TOKEN,
        |token| {
            table(
                SOURCE,
                &server.uri(),
                token,
                &format!("{extra}\n{CHANNELS}"),
            )
        },
        context,
    )
}

/// A response body from `fixtures/amocrm/`.
pub fn fixture(name: &str, server: &MockServer) -> Value {
    super::fixture("amocrm", name, server)
}

/// An RFC 3339 instant as the Unix seconds amoCRM sends.
pub fn seconds(instant: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(instant)
        .expect("an RFC 3339 instant")
        .timestamp()
}

/// One lead as amoCRM sends it: `status_id` 142 won, 143 lost, anything else open; instants
/// in Unix seconds; `price` an integer or null.
pub fn lead(
    id: u64,
    status_id: u64,
    created: i64,
    closed: Option<i64>,
    price: Option<i64>,
) -> Value {
    json!({
        "id": id,
        "name": format!("Сделка #{id}"),
        "price": price,
        "responsible_user_id": 504141,
        "group_id": 0,
        "status_id": status_id,
        "pipeline_id": 3177727,
        "loss_reason_id": null,
        "source_id": null,
        "created_by": 504141,
        "updated_by": 504141,
        "created_at": created,
        "updated_at": closed.unwrap_or(created),
        "closed_at": closed,
        "closest_task_at": null,
        "is_deleted": false,
        "custom_fields_values": null,
        "score": null,
        "account_id": 28805383,
        "_embedded": {"tags": [], "companies": []},
    })
}

/// A leads page; `next` becomes `_links.next.href`, a link to page `next.cursor` on
/// `next.host`. Absent on the last page.
pub fn page(number: u32, leads: Vec<Value>, next: Option<Next<'_>>) -> Value {
    let mut links = json!({"self": {"href": format!("/api/v4/leads?page={number}")}});
    if let Some(Next { host, cursor }) = next {
        links["next"] = json!({"href": format!("{host}{LEADS_PATH}?page={cursor}&limit=250")});
    }
    json!({"_page": number, "_links": links, "_embedded": {"leads": leads}})
}

/// amoCRM's answer when a listing holds nothing (more): `204 No Content`, no body.
pub fn no_content() -> ResponseTemplate {
    answer(204)
}

/// amoCRM's 429: a plain body (the official client checks for one that is not JSON) and a
/// `Retry-After`.
pub fn too_many_requests(seconds: u64) -> ResponseTemplate {
    answer(429)
        .insert_header("Retry-After", seconds.to_string().as_str())
        .set_body_string("Too Many Requests")
}

/// The token endpoint's answer: a new access token and a new (rotated) refresh token.
pub fn token_answer(access: &str, refresh: &str, expires_in: i64) -> ResponseTemplate {
    answer(200).set_body_json(json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "access_token": access,
        "refresh_token": refresh,
    }))
}

/// amoCRM for the connector contract.
pub struct AmoCrm;

impl Platform for AmoCrm {
    const KIND: &'static str = "amocrm";
    const SOURCE: &'static str = SOURCE;
    const TOKEN: &'static str = TOKEN;
    const METHOD: &'static str = "GET";
    const DATA_PATH: &'static str = LEADS_PATH;
    const PAGING: Paging = Paging::Link;
    // `Retry-After: 3`: longer than the sub-second first backoff and the 1 s fallback.
    const THROTTLE_WAIT: Duration = Duration::from_secs(3);

    fn source(server: &MockServer) -> (Workspace, Source) {
        source(server, &paused_clock_context(), "")
    }

    fn page(day: NaiveDate, next: Option<Next<'_>>) -> Value {
        let created = seconds(&format!("{day}T09:00:00Z"));
        let closed = seconds(&format!("{day}T15:00:00Z"));
        page(
            1,
            vec![lead(1001, 142, created, Some(closed), Some(900))],
            next,
        )
    }

    fn empty_page() -> Value {
        page(1, vec![], None)
    }

    fn throttled() -> ResponseTemplate {
        too_many_requests(3)
    }
}
