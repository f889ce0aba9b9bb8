//! A fake HubSpot CRM v3 deal search as HubSpot documents its wire format: `results` whose
//! `properties` are all strings (or null), `total`, `paging.next.after` (a cursor, beside a
//! `link` the connector must not follow), filters in epoch milliseconds, and `429` bodies that
//! name their policy but carry no `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use kassa::sources::{BuildContext, Source};
use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use super::{TokenFrom, answer, build_source, sources_table};
use crate::connector::{Next, Paging, Platform};
use crate::helpers::{Workspace, paused_clock_context};

/// A token distinctive enough that finding it anywhere cannot be a coincidence.
pub const TOKEN: &str = "pat-eu1-kassa0000-test-4a5b-token-9f8e7d6c5b4a";
pub const SOURCE: &str = "crm";
pub const SEARCH_PATH: &str = "/crm/v3/objects/deals/search";

/// A `[[sources]]` table of kind `hubspot` for the fake at `base_url`; `extra` adds lines.
pub fn table(name: &str, base_url: &str, token: TokenFrom<'_>, extra: &str) -> String {
    sources_table("hubspot", name, base_url, token, extra)
}

/// The source `hubspot.rs` tests: named [`SOURCE`], two deals a page, USD when a deal names
/// no currency, a channel map, the token in a file, built with `context` (its time zone).
pub fn source(server: &MockServer, context: &BuildContext) -> (Workspace, Source) {
    build_source(
        TOKEN,
        |token| {
            table(
                SOURCE,
                &server.uri(),
                token,
                "page_size = 2\n\
                 currency = \"USD\"\n\
                 default_channel = \"direct\"\n\
                 channel_map = { PAID_SOCIAL = \"meta\", PAID_SEARCH = \"google\" }",
            )
        },
        context,
    )
}

/// A response body from `fixtures/hubspot/`.
pub fn fixture(name: &str, server: &MockServer) -> Value {
    super::fixture("hubspot", name, server)
}

/// An RFC 3339 instant as the epoch-millisecond string HubSpot's filters take.
pub fn ms(instant: &str) -> String {
    DateTime::parse_from_rfc3339(instant)
        .expect("an RFC 3339 instant")
        .timestamp_millis()
        .to_string()
}

/// One search result; every property value a string (or null), as HubSpot sends them.
pub fn deal(id: &str, properties: Value) -> Value {
    let mut props = json!({
        "dealname": format!("Deal {id}"),
        "deal_currency_code": "USD",
        "hs_object_id": id,
        "pipeline": "default",
    });
    for (key, value) in properties.as_object().expect("an object") {
        props[key] = value.clone();
    }
    json!({"id": id, "properties": props, "archived": false})
}

pub fn won_deal(id: &str, created: &str, closed: Option<&str>, amount: &str) -> Value {
    deal(
        id,
        json!({
            "createdate": created, "closedate": closed, "amount": amount,
            "dealstage": "closedwon", "hs_is_closed": "true", "hs_is_closed_won": "true",
        }),
    )
}

pub fn lost_deal(id: &str, created: &str, closed: &str) -> Value {
    deal(
        id,
        json!({
            "createdate": created, "closedate": closed, "amount": "100",
            "dealstage": "closedlost", "hs_is_closed": "true", "hs_is_closed_won": "false",
        }),
    )
}

/// An open deal; `expected_close` is the close date the salesperson hopes for.
pub fn open_deal(id: &str, created: &str, expected_close: Option<&str>) -> Value {
    deal(
        id,
        json!({
            "createdate": created, "closedate": expected_close, "amount": "100",
            "dealstage": "appointmentscheduled", "hs_is_closed": "false", "hs_is_closed_won": "false",
        }),
    )
}

/// A search answer; `next` becomes `paging.next`: the `after` cursor and HubSpot's `link` to
/// the next page on `next.host`. Absent on the last page.
pub fn page(total: u64, results: Vec<Value>, next: Option<Next<'_>>) -> Value {
    let mut body = json!({"total": total, "results": results});
    if let Some(Next { host, cursor }) = next {
        body["paging"] = json!({"next": {
            "after": cursor,
            "link": format!("{host}{SEARCH_PATH}?after={cursor}"),
        }});
    }
    body
}

/// HubSpot's error envelope.
pub fn error(category: &str, message: &str) -> Value {
    json!({
        "status": "error",
        "message": message,
        "correlationId": "a1b2c3d4-0000-4000-8000-000000000000",
        "category": category,
    })
}

/// HubSpot's 429 body for the named policy (`SECONDLY`, `TEN_SECONDLY`, `DAILY`).
pub fn rate_limited(policy: &str) -> ResponseTemplate {
    answer(429).set_body_json(json!({
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "b5c3f2a1-d4e6-7890-ab12-cd34ef567890",
        "policyName": policy,
        "requestId": "b5c3f2a1",
    }))
}

/// A body matcher for searches whose `createdate` filter spans `from..=to` (RFC 3339).
pub fn created_between(from: &str, to: &str) -> Value {
    json!({"filterGroups": [{"filters": [{
        "propertyName": "createdate", "operator": "BETWEEN", "value": ms(from), "highValue": ms(to),
    }]}]})
}

/// The `(value, highValue)` of the BETWEEN filter on `property` in a search body.
pub fn between(body: &Value, property: &str) -> (String, String) {
    let groups = body["filterGroups"].as_array().expect("filterGroups");
    let filter = groups
        .iter()
        .flat_map(|g| g["filters"].as_array().expect("filters"))
        .find(|f| f["propertyName"] == property)
        .unwrap_or_else(|| panic!("no {property} filter in {body}"));
    assert_eq!(filter["operator"], "BETWEEN");
    let text = |v: &Value| v.as_str().expect("filter values are strings").to_string();
    (text(&filter["value"]), text(&filter["highValue"]))
}

/// HubSpot for the connector contract.
pub struct HubSpot;

impl Platform for HubSpot {
    const KIND: &'static str = "hubspot";
    const SOURCE: &'static str = SOURCE;
    const TOKEN: &'static str = TOKEN;
    const METHOD: &'static str = "POST";
    const DATA_PATH: &'static str = SEARCH_PATH;
    const PAGING: Paging = Paging::Cursor;
    // `SECONDLY`: a second, distinct from the sub-second first backoff of the retry policy.
    const THROTTLE_WAIT: Duration = Duration::from_secs(1);

    fn source(server: &MockServer) -> (Workspace, Source) {
        source(server, &paused_clock_context())
    }

    fn page(day: NaiveDate, next: Option<Next<'_>>) -> Value {
        let created = format!("{day}T09:00:00Z");
        let closed = format!("{day}T15:00:00Z");
        page(
            1,
            vec![won_deal("1001", &created, Some(&closed), "900")],
            next,
        )
    }

    fn empty_page() -> Value {
        page(0, vec![], None)
    }

    fn throttled() -> ResponseTemplate {
        rate_limited("SECONDLY")
    }
}
