//! The HubSpot deals connector against a fake CRM v3 search endpoint on 127.0.0.1 that answers
//! in HubSpot's documented wire format: `results` with string `properties`, `paging.next.after`,
//! `total`, and `429 RATE_LIMIT` bodies that name their policy but carry no `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, TimeZone};
use kassa::domain::DealStatus::{Lost, Open, Won};
use kassa::domain::{Deal, DealStatus, Pulled};
use kassa::sources::{BuildContext, ErrorKind, Source, SourceError};
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    Workspace, assert_waited, d, money, paused_clock_context, range, script, source_config,
};

/// A token distinctive enough that finding it in an error message cannot be a coincidence.
const TOKEN: &str = "pat-eu1-kassa0000-test-4a5b-token-9f8e7d6c5b4a";
const SEARCH_PATH: &str = "/crm/v3/objects/deals/search";
const SOURCE: &str = "crm";

/// Builds the source the way `kassa` does: a `[[sources]]` table read through the `config`
/// crate, the token in a file, `base_url` pointing at the fake.
fn hubspot_source(server: &MockServer, context: &BuildContext) -> (Workspace, Source) {
    let workspace = Workspace::new();
    let token_file = workspace.write("secrets/hubspot-token", &format!("{TOKEN}\n"));
    let toml = format!(
        "[[sources]]\n\
         name = \"{SOURCE}\"\n\
         kind = \"hubspot\"\n\
         token_file = {:?}\n\
         base_url = {:?}\n\
         page_size = 2\n\
         currency = \"USD\"\n\
         default_channel = \"direct\"\n\
         channel_map = {{ PAID_SOCIAL = \"meta\", PAID_SEARCH = \"google\" }}\n",
        token_file.display().to_string(),
        server.uri(),
    );
    let source = source_config(&toml)
        .build(context)
        .expect("the source builds");
    (workspace, source)
}

/// A response body from `fixtures/hubspot/`.
fn fixture(name: &str) -> Value {
    let file = format!("{}/fixtures/hubspot/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// An RFC 3339 instant as the epoch-millisecond string HubSpot's filters take.
fn ms(instant: &str) -> String {
    DateTime::parse_from_rfc3339(instant)
        .expect("an RFC 3339 instant")
        .timestamp_millis()
        .to_string()
}

/// One search result; every property value a string (or null), as HubSpot sends them.
fn deal_result(id: &str, properties: Value) -> Value {
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

fn won_deal(id: &str, created: &str, closed: Option<&str>, amount: &str) -> Value {
    deal_result(
        id,
        json!({
            "createdate": created, "closedate": closed, "amount": amount,
            "dealstage": "closedwon", "hs_is_closed": "true", "hs_is_closed_won": "true",
        }),
    )
}

fn lost_deal(id: &str, created: &str, closed: &str) -> Value {
    deal_result(
        id,
        json!({
            "createdate": created, "closedate": closed, "amount": "100",
            "dealstage": "closedlost", "hs_is_closed": "true", "hs_is_closed_won": "false",
        }),
    )
}

/// An open deal; `expected_close` is the close date the salesperson hopes for.
fn open_deal(id: &str, created: &str, expected_close: Option<&str>) -> Value {
    deal_result(
        id,
        json!({
            "createdate": created, "closedate": expected_close, "amount": "100",
            "dealstage": "appointmentscheduled", "hs_is_closed": "false", "hs_is_closed_won": "false",
        }),
    )
}

/// A search answer; `after` becomes `paging.next.after`, absent on the last page.
fn page(total: u64, results: Vec<Value>, after: Option<&str>) -> Value {
    let mut body = json!({"total": total, "results": results});
    if let Some(cursor) = after {
        body["paging"] = json!({"next": {
            "after": cursor,
            "link": format!("https://api.hubapi.com/crm/v3/objects/deals/search?after={cursor}"),
        }});
    }
    body
}

/// A response that closes its connection. With no idle connection in reqwest's pool there is
/// no pool-expiry timer (90 s) for tokio's paused clock to jump to while a request is in
/// flight, so virtual elapsed time measures exactly the waits the client chose.
fn answer(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("Connection", "close")
}

fn ok(body: Value) -> ResponseTemplate {
    answer(200).set_body_json(body)
}

/// HubSpot's 429 body for the named policy.
fn rate_limited(policy: &str) -> ResponseTemplate {
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
fn created_between(from: &str, to: &str) -> Value {
    json!({"filterGroups": [{"filters": [{
        "propertyName": "createdate", "operator": "BETWEEN", "value": ms(from), "highValue": ms(to),
    }]}]})
}

/// Answers every search with `response`.
async fn respond(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .map(|r| r.body_json().expect("a JSON request body"))
        .collect()
}

fn authorization(request: &wiremock::Request) -> Option<&str> {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
}

/// The `(value, highValue)` of the BETWEEN filter on `property` in a search body.
fn between(body: &Value, property: &str) -> (String, String) {
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

fn deals(pulled: Pulled) -> Vec<Deal> {
    match pulled {
        Pulled::Deals(rows) => rows,
        other => panic!("expected deals, got {other:?}"),
    }
}

/// The deal kassa should produce; a `None` closed date or amount means open or unknown.
fn expected(
    id: &str,
    created: &str,
    closed: Option<&str>,
    status: DealStatus,
    amount: Option<&str>,
    currency: &str,
    channel: &str,
) -> Deal {
    Deal {
        id: id.to_string(),
        created_date: d(created),
        closed_date: closed.map(d),
        status,
        amount: amount.map(money),
        currency: Some(currency.to_string()),
        channel: channel.to_string(),
        customer_id: None,
    }
}

fn ids(pulled: Pulled) -> Vec<String> {
    deals(pulled).into_iter().map(|deal| deal.id).collect()
}

/// The checks every error that reaches a user must pass.
fn assert_names_source_and_range(error: &SourceError, range_text: &str) {
    let shown = error.to_string();
    assert!(
        shown.contains(&format!("{SOURCE:?}")),
        "no source name in: {shown}"
    );
    assert!(shown.contains(range_text), "no date range in: {shown}");
    assert!(!shown.contains(TOKEN), "the token leaked into: {shown}");
    assert!(
        !format!("{error:?}").contains(TOKEN),
        "the token leaked into Debug: {error:?}"
    );
}

// Proves: pages are followed through `paging.next.after`; won / lost / open come from
// `hs_is_closed_won` / `hs_is_closed` (also in a custom pipeline); amounts are exact money and
// a null or empty amount stays unknown; `closedate` instants become dates; channels go through
// `channel_map`, lower-casing and `default_channel`; the request asks for deals created OR
// closed in the range, in epoch milliseconds, with the bearer token.
#[tokio::test]
async fn follows_paging_after_and_maps_every_deal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .and(body_partial_json(json!({"after": "2"})))
        .respond_with(ok(fixture("search_page2.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .and(body_partial_json(json!({"after": "4"})))
        .respond_with(ok(fixture("search_page3.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(ok(fixture("search_page1.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    let (_workspace, source) = hubspot_source(&server, &paused_clock_context());
    let may = range("2024-05-01", "2024-05-31");

    let pull = source.pull(may).await.expect("the pull succeeds");

    assert_eq!(pull.covered, Some(may));
    #[rustfmt::skip]
    let wanted = vec![
        expected("101", "2024-04-10", Some("2024-05-03"), Won, Some("1500"), "USD", "meta"),
        // Null amount: unknown, not zero; no currency code: the configured one; an unmapped
        // source lower-cased.
        expected("102", "2024-05-02", Some("2024-05-20"), Lost, None, "USD", "organic_search"),
        // Open: its expected close date is not a close date; no source: the default channel.
        expected("103", "2024-05-10", None, Open, Some("250"), "EUR", "direct"),
        // Won in a custom pipeline (numeric stage id): the calculated flag decides.
        expected("104", "2024-05-05", Some("2024-05-06"), Won, Some("320000"), "RUB", "google"),
        // Empty strings: no amount, no currency code, no source.
        expected("105", "2024-05-28", None, Open, None, "USD", "direct"),
    ];
    assert_eq!(deals(pull.rows), wanted);

    let sent = server.received_requests().await.expect("recording is on");
    assert_eq!(sent.len(), 3, "one search per page");
    for request in &sent {
        assert_eq!(
            authorization(request),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    let bodies = bodies(&server).await;
    let first = &bodies[0];
    let groups = first["filterGroups"].as_array().expect("filterGroups");
    assert_eq!(
        groups.len(),
        2,
        "created-in-range OR closed-in-range: {first}"
    );
    let whole_may = (ms("2024-05-01T00:00:00Z"), ms("2024-05-31T23:59:59.999Z"));
    assert_eq!(groups[0]["filters"][0]["propertyName"], "createdate");
    assert_eq!(groups[1]["filters"][0]["propertyName"], "closedate");
    assert_eq!(between(first, "createdate"), whole_may);
    assert_eq!(between(first, "closedate"), whole_may);
    assert_eq!(first["limit"], 2);
    let properties = first["properties"].as_array().expect("properties");
    for wanted in [
        "amount",
        "createdate",
        "closedate",
        "hs_is_closed",
        "hs_is_closed_won",
        "hs_analytics_source",
    ] {
        assert!(
            properties.iter().any(|p| p == wanted),
            "{wanted} not asked for: {first}"
        );
    }
    assert!(
        first.get("after").is_none(),
        "the first page has no cursor: {first}"
    );
    assert_eq!(bodies[1]["after"], "2");
    assert_eq!(bodies[2]["after"], "4");
}

// Proves: a `SECONDLY` 429 (no `Retry-After`, as on search) is retried after one second of
// (virtual) time, and the deals then arrive.
#[tokio::test(start_paused = true)]
async fn a_secondly_rate_limit_waits_a_second_then_succeeds() {
    let server = MockServer::start().await;
    let found = page(
        1,
        vec![won_deal(
            "1",
            "2024-05-02T10:00:00Z",
            Some("2024-05-03T10:00:00Z"),
            "10",
        )],
        None,
    );
    script(
        &server,
        "POST",
        SEARCH_PATH,
        rate_limited("SECONDLY"),
        ok(found),
    )
    .await;
    let (_workspace, source) = hubspot_source(&server, &paused_clock_context());
    let started = Instant::now();

    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the pull succeeds after the wait");

    assert_eq!(ids(pull.rows), ["1"]);
    assert_eq!(bodies(&server).await.len(), 2);
    assert_waited(started, Duration::from_secs(1)..Duration::from_secs(2));
}

// Proves: a `TEN_SECONDLY` 429 waits out the ten-second window before retrying.
#[tokio::test(start_paused = true)]
async fn a_ten_secondly_rate_limit_waits_ten_seconds() {
    let server = MockServer::start().await;
    let found = page(1, vec![open_deal("1", "2024-05-02T10:00:00Z", None)], None);
    script(
        &server,
        "POST",
        SEARCH_PATH,
        rate_limited("TEN_SECONDLY"),
        ok(found),
    )
    .await;
    let (_workspace, source) = hubspot_source(&server, &paused_clock_context());
    let started = Instant::now();

    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the pull succeeds after the wait");

    assert_eq!(ids(pull.rows), ["1"]);
    assert_eq!(bodies(&server).await.len(), 2);
    assert_waited(started, Duration::from_secs(10)..Duration::from_secs(11));
}

// Proves: the daily cap cannot be waited out within a run: a `DAILY` 429 fails at once as
// `Throttled`, saying so, without retrying.
#[tokio::test(start_paused = true)]
async fn a_daily_rate_limit_fails_without_retrying() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(rate_limited("DAILY"))
        .mount(&server)
        .await;
    let (_workspace, source) = hubspot_source(&server, &paused_clock_context());

    let error = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect_err("the daily limit is used up");

    assert_eq!(error.kind, ErrorKind::Throttled);
    assert_names_source_and_range(&error, "2024-05-01..2024-05-31");
    assert!(error.to_string().contains("daily"), "{error}");
    assert_eq!(bodies(&server).await.len(), 1);
}

// Proves: server trouble (502) is retried with backoff and the deals then arrive.
#[tokio::test(start_paused = true)]
async fn a_server_error_is_retried() {
    let server = MockServer::start().await;
    let trouble = answer(502).set_body_json(json!({
        "status": "error",
        "message": "internal error",
        "correlationId": "c0ffee00-0000-4000-8000-000000000000",
        "category": "INTERNAL_ERROR",
    }));
    let found = page(1, vec![open_deal("7", "2024-05-02T10:00:00Z", None)], None);
    script(&server, "POST", SEARCH_PATH, trouble, ok(found)).await;
    let (_workspace, source) = hubspot_source(&server, &paused_clock_context());
    let started = Instant::now();

    let pull = source.pull(range("2024-05-01", "2024-05-31")).await;

    assert_eq!(ids(pull.expect("retried").rows), ["7"]);
    assert_eq!(bodies(&server).await.len(), 2);
    // The first backoff: 500 ms with jitter down to half of it.
    assert_waited(
        started,
        Duration::from_millis(250)..Duration::from_millis(501),
    );
}

// Proves: a refused token (401) or a missing scope (403) is an `Auth` error, not retried,
// whose message names the source and range, says what to fix, and never contains the token.
#[tokio::test]
async fn a_refused_token_is_a_clear_auth_error_without_the_token() {
    let cases = [
        (
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
            "private app token",
        ),
        (
            403,
            "MISSING_SCOPES",
            "This app hasn't been granted all required scopes.",
            "crm.objects.deals.read",
        ),
    ];
    for (status, category, message, hint) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(SEARCH_PATH))
            .respond_with(answer(status).set_body_json(json!({
                "status": "error",
                "message": message,
                "correlationId": "a1b2c3d4-0000-4000-8000-000000000000",
                "category": category,
            })))
            .mount(&server)
            .await;
        let (_workspace, source) = hubspot_source(&server, &paused_clock_context());

        let error = source
            .pull(range("2024-05-01", "2024-05-31"))
            .await
            .expect_err("the token is refused");

        assert_eq!(error.kind, ErrorKind::Auth, "HTTP {status}: {error}");
        assert_names_source_and_range(&error, "2024-05-01..2024-05-31");
        let shown = error.to_string();
        assert!(shown.contains("authentication failed"), "{shown}");
        assert!(shown.contains(hint), "{hint} not in: {shown}");
        assert_eq!(
            bodies(&server).await.len(),
            1,
            "an auth failure is not retried"
        );
    }
}

// Proves: a range holding more than HubSpot's 10,000-result cap is searched again in two
// halves (the fake sees the narrower ranges), and a deal found in both halves arrives once.
#[tokio::test]
async fn more_than_ten_thousand_results_split_the_range_in_halves() {
    let server = MockServer::start().await;
    let straddling = won_deal(
        "201",
        "2024-05-03T09:00:00Z",
        Some("2024-05-20T15:00:00Z"),
        "900",
    );
    let whole = created_between("2024-05-01T00:00:00Z", "2024-05-31T23:59:59.999Z");
    let first_half = created_between("2024-05-01T00:00:00Z", "2024-05-15T23:59:59.999Z");
    let second_half = created_between("2024-05-16T00:00:00Z", "2024-05-31T23:59:59.999Z");
    let too_many = page(
        12_345,
        vec![
            straddling.clone(),
            open_deal("202", "2024-05-10T08:00:00Z", None),
        ],
        Some("2"),
    );
    let first_answer = page(
        2,
        vec![
            straddling.clone(),
            open_deal("202", "2024-05-10T08:00:00Z", None),
        ],
        None,
    );
    let second_answer = page(
        2,
        vec![
            straddling,
            lost_deal("203", "2024-05-18T08:00:00Z", "2024-05-25T08:00:00Z"),
        ],
        None,
    );
    for (filter, found) in [
        (whole, too_many),
        (first_half, first_answer),
        (second_half, second_answer),
    ] {
        Mock::given(method("POST"))
            .and(path(SEARCH_PATH))
            .and(body_partial_json(filter))
            .respond_with(ok(found))
            .mount(&server)
            .await;
    }
    let (_workspace, source) = hubspot_source(&server, &paused_clock_context());

    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the pull succeeds");

    assert_eq!(ids(pull.rows), ["201", "202", "203"]);
    let searched: Vec<(String, String)> = bodies(&server)
        .await
        .iter()
        .map(|body| {
            assert_eq!(between(body, "createdate"), between(body, "closedate"));
            assert!(body.get("after").is_none(), "paged past the cap: {body}");
            between(body, "createdate")
        })
        .collect();
    assert_eq!(
        searched,
        [
            (ms("2024-05-01T00:00:00Z"), ms("2024-05-31T23:59:59.999Z")),
            (ms("2024-05-01T00:00:00Z"), ms("2024-05-15T23:59:59.999Z")),
            (ms("2024-05-16T00:00:00Z"), ms("2024-05-31T23:59:59.999Z")),
        ]
    );
}

// Proves: an open deal that HubSpot returns only because its *expected* close date is in the
// range, created before the range, is dropped; a won deal created before the range but closed
// in it is kept.
#[tokio::test]
async fn an_open_deal_created_before_the_range_is_dropped() {
    let server = MockServer::start().await;
    let found = page(
        3,
        vec![
            open_deal("301", "2024-04-20T10:00:00Z", Some("2024-05-15T00:00:00Z")),
            won_deal(
                "302",
                "2024-04-20T10:00:00Z",
                Some("2024-05-15T12:00:00Z"),
                "50",
            ),
            open_deal("303", "2024-05-02T10:00:00Z", Some("2024-07-01T00:00:00Z")),
        ],
        None,
    );
    respond(&server, ok(found)).await;
    let (_workspace, source) = hubspot_source(&server, &paused_clock_context());

    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the pull succeeds");

    assert_eq!(ids(pull.rows), ["302", "303"]);
}

// Proves: a won deal without `closedate` cannot be placed on a day: the pull fails with an
// `InvalidData` error naming the deal, the field, the source and the range.
#[tokio::test]
async fn a_won_deal_without_closedate_names_the_deal_and_the_field() {
    let server = MockServer::start().await;
    let found = page(
        2,
        vec![
            open_deal("401", "2024-05-02T10:00:00Z", None),
            won_deal("18234567801", "2024-05-03T10:00:00Z", None, "1500.00"),
        ],
        None,
    );
    respond(&server, ok(found)).await;
    let (_workspace, source) = hubspot_source(&server, &paused_clock_context());

    let error = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect_err("the deal is refused");

    assert_eq!(error.kind, ErrorKind::InvalidData);
    assert_names_source_and_range(&error, "2024-05-01..2024-05-31");
    let shown = error.to_string();
    assert!(shown.contains("18234567801"), "no deal id in: {shown}");
    assert!(shown.contains("`closedate`"), "no field in: {shown}");
}

// Proves: the business's time zone decides both the search window (local midnights in epoch
// ms) and the day of a `closedate` instant: 22:00 UTC on 30 April is 1 May in Moscow.
#[tokio::test]
async fn instants_become_days_in_the_business_time_zone() {
    let server = MockServer::start().await;
    let found = page(
        2,
        vec![
            won_deal(
                "501",
                "2024-04-20T10:00:00Z",
                Some("2024-04-30T22:00:00Z"),
                "10",
            ),
            won_deal(
                "502",
                "2024-05-10T10:00:00Z",
                Some("2024-05-31T20:30:00Z"),
                "20",
            ),
        ],
        None,
    );
    respond(&server, ok(found)).await;
    let moscow = BuildContext {
        timezone: chrono_tz::Europe::Moscow,
        ..paused_clock_context()
    };
    let (_workspace, source) = hubspot_source(&server, &moscow);

    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the pull succeeds");

    let closed: Vec<_> = deals(pull.rows)
        .into_iter()
        .map(|deal| (deal.id, deal.closed_date))
        .collect();
    assert_eq!(
        closed,
        [
            ("501".to_string(), Some(d("2024-05-01"))),
            ("502".to_string(), Some(d("2024-05-31")))
        ]
    );
    let body = &bodies(&server).await[0];
    assert_eq!(
        between(body, "createdate"),
        (ms("2024-04-30T21:00:00Z"), ms("2024-05-31T20:59:59.999Z"))
    );
}

// Proves: on a day whose local midnight does not exist (Cairo springs from 00:00 to 01:00 on
// 26 April 2024), the search starts at the first local instant of the day, 01:00 EEST.
#[tokio::test]
async fn a_day_without_midnight_starts_at_its_first_local_instant() {
    let cairo = chrono_tz::Africa::Cairo;
    let midnight = d("2024-04-26").and_hms_opt(0, 0, 0).unwrap();
    assert!(
        cairo.from_local_datetime(&midnight).earliest().is_none(),
        "the premise: no midnight"
    );
    let server = MockServer::start().await;
    respond(&server, ok(page(0, vec![], None))).await;
    let context = BuildContext {
        timezone: cairo,
        ..paused_clock_context()
    };
    let (_workspace, source) = hubspot_source(&server, &context);

    source
        .pull(range("2024-04-26", "2024-04-26"))
        .await
        .expect("the pull succeeds");

    let body = &bodies(&server).await[0];
    assert_eq!(
        between(body, "createdate"),
        (
            ms("2024-04-26T01:00:00+03:00"),
            ms("2024-04-26T23:59:59.999+03:00")
        )
    );
}

// Proves: `probe` makes one small search with the token and reports the portal's deal count.
#[tokio::test]
async fn probe_reports_the_portal_deal_count() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .and(body_partial_json(json!({"limit": 1})))
        .respond_with(ok(page(
            1234,
            vec![open_deal("1", "2024-05-02T10:00:00Z", None)],
            Some("1"),
        )))
        .mount(&server)
        .await;
    let (_workspace, source) = hubspot_source(&server, &paused_clock_context());

    let found = source.probe().await.expect("the probe succeeds");

    assert!(found.contains("1234"), "{found}");
    let sent = server.received_requests().await.expect("recording is on");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        authorization(&sent[0]),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}
