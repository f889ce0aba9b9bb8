//! The HubSpot deals connector against a fake CRM v3 search endpoint on 127.0.0.1
//! (`fakes::hubspot`) that answers in HubSpot's documented wire format: `results` with string
//! `properties`, `paging.next.after`, `total`, and `429 RATE_LIMIT` bodies that name their
//! policy but carry no `Retry-After`. The checks every HTTP connector passes come from the
//! contract kit (`connector`); this file holds what is HubSpot's own.

use std::time::Duration;

use chrono::TimeZone;
use kassa::domain::DealStatus::{Lost, Open, Won};
use kassa::domain::{Deal, DealStatus, Pulled};
use kassa::sources::{BuildContext, ErrorKind};
use serde_json::json;
use tokio::time::Instant;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer};

use crate::connector::{Next, always, assert_names_source_and_range, connector_contract};
use crate::fakes::hubspot::{self, HubSpot};
use crate::fakes::{answer, authorization, build_source, json_bodies, ok, requests};
use crate::helpers::{assert_waited, d, money, paused_clock_context, range, script};

connector_contract!(contract, HubSpot);

/// The pulled deals without their instants (which `store::timezone_change_rebuckets_deals`
/// follows through a change of time zone): these tests are about the dates.
fn deals(pulled: Pulled) -> Vec<Deal> {
    match pulled {
        Pulled::Deals(rows) => rows
            .into_iter()
            .map(|deal| Deal {
                instants: None,
                ..deal
            })
            .collect(),
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
        instants: None,
    }
}

fn ids(pulled: Pulled) -> Vec<String> {
    deals(pulled).into_iter().map(|deal| deal.id).collect()
}

// Proves: pages are followed through `paging.next.after`; won / lost / open come from
// `hs_is_closed_won` / `hs_is_closed` (also in a custom pipeline); amounts are exact money and
// a null or empty amount stays unknown; `closedate` instants become dates; channels go through
// `channel_map`, lower-casing and `default_channel` (the older keys, read as rules); the request asks for deals created OR
// closed in the range, in epoch milliseconds, with the bearer token.
#[tokio::test]
async fn follows_paging_after_and_maps_every_deal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hubspot::SEARCH_PATH))
        .and(body_partial_json(json!({"after": "2"})))
        .respond_with(ok(hubspot::fixture("search_page2.json", &server)))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(hubspot::SEARCH_PATH))
        .and(body_partial_json(json!({"after": "4"})))
        .respond_with(ok(hubspot::fixture("search_page3.json", &server)))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(hubspot::SEARCH_PATH))
        .respond_with(ok(hubspot::fixture("search_page1.json", &server)))
        .with_priority(2)
        .mount(&server)
        .await;
    let (_workspace, source) = hubspot::source(&server, &paused_clock_context());
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

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 3, "one search per page");
    for request in &sent {
        assert_eq!(
            authorization(request),
            Some(format!("Bearer {}", hubspot::TOKEN).as_str())
        );
    }
    let bodies = json_bodies(&server).await;
    let first = &bodies[0];
    let groups = first["filterGroups"].as_array().expect("filterGroups");
    assert_eq!(
        groups.len(),
        2,
        "created-in-range OR closed-in-range: {first}"
    );
    let whole_may = (
        hubspot::ms("2024-05-01T00:00:00Z"),
        hubspot::ms("2024-05-31T23:59:59.999Z"),
    );
    assert_eq!(groups[0]["filters"][0]["propertyName"], "createdate");
    assert_eq!(groups[1]["filters"][0]["propertyName"], "closedate");
    assert_eq!(hubspot::between(first, "createdate"), whole_may);
    assert_eq!(hubspot::between(first, "closedate"), whole_may);
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

// Proves: a `TEN_SECONDLY` 429 waits out the ten-second window before retrying.
#[tokio::test(start_paused = true)]
async fn a_ten_secondly_rate_limit_waits_ten_seconds() {
    let server = MockServer::start().await;
    let found = hubspot::page(
        1,
        vec![hubspot::open_deal("1", "2024-05-02T10:00:00Z", None)],
        None,
    );
    script(
        &server,
        "POST",
        hubspot::SEARCH_PATH,
        hubspot::rate_limited("TEN_SECONDLY"),
        ok(found),
    )
    .await;
    let (_workspace, source) = hubspot::source(&server, &paused_clock_context());
    let started = Instant::now();

    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the pull succeeds after the wait");

    assert_eq!(ids(pull.rows), ["1"]);
    assert_eq!(json_bodies(&server).await.len(), 2);
    assert_waited(started, Duration::from_secs(10)..Duration::from_secs(11));
}

// Proves: the daily cap cannot be waited out within a run: a `DAILY` 429 fails at once as
// `Throttled`, saying so, without retrying.
#[tokio::test(start_paused = true)]
async fn a_daily_rate_limit_fails_without_retrying() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hubspot::SEARCH_PATH))
        .respond_with(hubspot::rate_limited("DAILY"))
        .mount(&server)
        .await;
    let (_workspace, source) = hubspot::source(&server, &paused_clock_context());

    let error = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect_err("the daily limit is used up");

    assert_eq!(error.kind, ErrorKind::QuotaSpent);
    assert_names_source_and_range::<HubSpot>(&error, "2024-05-01..2024-05-31");
    assert!(error.to_string().contains("daily"), "{error}");
    assert_eq!(json_bodies(&server).await.len(), 1);
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
            .and(path(hubspot::SEARCH_PATH))
            .respond_with(answer(status).set_body_json(hubspot::error(category, message)))
            .mount(&server)
            .await;
        let (_workspace, source) = hubspot::source(&server, &paused_clock_context());

        let error = source
            .pull(range("2024-05-01", "2024-05-31"))
            .await
            .expect_err("the token is refused");

        assert_eq!(error.kind, ErrorKind::Auth, "HTTP {status}: {error}");
        assert_names_source_and_range::<HubSpot>(&error, "2024-05-01..2024-05-31");
        let shown = error.to_string();
        assert!(shown.contains("authentication failed"), "{shown}");
        assert!(shown.contains(hint), "{hint} not in: {shown}");
        assert_eq!(
            json_bodies(&server).await.len(),
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
    let straddling = hubspot::won_deal(
        "201",
        "2024-05-03T09:00:00Z",
        Some("2024-05-20T15:00:00Z"),
        "900",
    );
    let whole = hubspot::created_between("2024-05-01T00:00:00Z", "2024-05-31T23:59:59.999Z");
    let first_half = hubspot::created_between("2024-05-01T00:00:00Z", "2024-05-15T23:59:59.999Z");
    let second_half = hubspot::created_between("2024-05-16T00:00:00Z", "2024-05-31T23:59:59.999Z");
    let too_many = hubspot::page(
        12_345,
        vec![
            straddling.clone(),
            hubspot::open_deal("202", "2024-05-10T08:00:00Z", None),
        ],
        Some(Next {
            host: &server.uri(),
            cursor: "2",
        }),
    );
    let first_answer = hubspot::page(
        2,
        vec![
            straddling.clone(),
            hubspot::open_deal("202", "2024-05-10T08:00:00Z", None),
        ],
        None,
    );
    let second_answer = hubspot::page(
        2,
        vec![
            straddling,
            hubspot::lost_deal("203", "2024-05-18T08:00:00Z", "2024-05-25T08:00:00Z"),
        ],
        None,
    );
    for (filter, found) in [
        (whole, too_many),
        (first_half, first_answer),
        (second_half, second_answer),
    ] {
        Mock::given(method("POST"))
            .and(path(hubspot::SEARCH_PATH))
            .and(body_partial_json(filter))
            .respond_with(ok(found))
            .mount(&server)
            .await;
    }
    let (_workspace, source) = hubspot::source(&server, &paused_clock_context());

    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the pull succeeds");

    assert_eq!(ids(pull.rows), ["201", "202", "203"]);
    let searched: Vec<(String, String)> = json_bodies(&server)
        .await
        .iter()
        .map(|body| {
            assert_eq!(
                hubspot::between(body, "createdate"),
                hubspot::between(body, "closedate")
            );
            assert!(body.get("after").is_none(), "paged past the cap: {body}");
            hubspot::between(body, "createdate")
        })
        .collect();
    assert_eq!(
        searched,
        [
            (
                hubspot::ms("2024-05-01T00:00:00Z"),
                hubspot::ms("2024-05-31T23:59:59.999Z")
            ),
            (
                hubspot::ms("2024-05-01T00:00:00Z"),
                hubspot::ms("2024-05-15T23:59:59.999Z")
            ),
            (
                hubspot::ms("2024-05-16T00:00:00Z"),
                hubspot::ms("2024-05-31T23:59:59.999Z")
            ),
        ]
    );
}

// Proves: an open deal that HubSpot returns only because its *expected* close date is in the
// range, created before the range, is dropped; a won deal created before the range but closed
// in it is kept.
#[tokio::test]
async fn an_open_deal_created_before_the_range_is_dropped() {
    let server = MockServer::start().await;
    let found = hubspot::page(
        3,
        vec![
            hubspot::open_deal("301", "2024-04-20T10:00:00Z", Some("2024-05-15T00:00:00Z")),
            hubspot::won_deal(
                "302",
                "2024-04-20T10:00:00Z",
                Some("2024-05-15T12:00:00Z"),
                "50",
            ),
            hubspot::open_deal("303", "2024-05-02T10:00:00Z", Some("2024-07-01T00:00:00Z")),
        ],
        None,
    );
    always::<HubSpot>(&server, ok(found)).await;
    let (_workspace, source) = hubspot::source(&server, &paused_clock_context());

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
    let found = hubspot::page(
        2,
        vec![
            hubspot::open_deal("401", "2024-05-02T10:00:00Z", None),
            hubspot::won_deal("18234567801", "2024-05-03T10:00:00Z", None, "1500.00"),
        ],
        None,
    );
    always::<HubSpot>(&server, ok(found)).await;
    let (_workspace, source) = hubspot::source(&server, &paused_clock_context());

    let error = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect_err("the deal is refused");

    assert_eq!(error.kind, ErrorKind::InvalidData);
    assert_names_source_and_range::<HubSpot>(&error, "2024-05-01..2024-05-31");
    let shown = error.to_string();
    assert!(shown.contains("18234567801"), "no deal id in: {shown}");
    assert!(shown.contains("`closedate`"), "no field in: {shown}");
}

// Proves: the business's time zone decides both the search window (local midnights in epoch
// ms) and the day of a `closedate` instant: 22:00 UTC on 30 April is 1 May in Moscow.
#[tokio::test]
async fn instants_become_days_in_the_business_time_zone() {
    let server = MockServer::start().await;
    let found = hubspot::page(
        2,
        vec![
            hubspot::won_deal(
                "501",
                "2024-04-20T10:00:00Z",
                Some("2024-04-30T22:00:00Z"),
                "10",
            ),
            hubspot::won_deal(
                "502",
                "2024-05-10T10:00:00Z",
                Some("2024-05-31T20:30:00Z"),
                "20",
            ),
        ],
        None,
    );
    always::<HubSpot>(&server, ok(found)).await;
    let moscow = BuildContext {
        timezone: chrono_tz::Europe::Moscow,
        ..paused_clock_context()
    };
    let (_workspace, source) = hubspot::source(&server, &moscow);

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
    let body = &json_bodies(&server).await[0];
    assert_eq!(
        hubspot::between(body, "createdate"),
        (
            hubspot::ms("2024-04-30T21:00:00Z"),
            hubspot::ms("2024-05-31T20:59:59.999Z")
        )
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
    always::<HubSpot>(&server, ok(hubspot::page(0, vec![], None))).await;
    let context = BuildContext {
        timezone: cairo,
        ..paused_clock_context()
    };
    let (_workspace, source) = hubspot::source(&server, &context);

    source
        .pull(range("2024-04-26", "2024-04-26"))
        .await
        .expect("the pull succeeds");

    let body = &json_bodies(&server).await[0];
    assert_eq!(
        hubspot::between(body, "createdate"),
        (
            hubspot::ms("2024-04-26T01:00:00+03:00"),
            hubspot::ms("2024-04-26T23:59:59.999+03:00")
        )
    );
}

// Proves: `probe` makes one small search with the token and reports the portal's deal count.
#[tokio::test]
async fn probe_reports_the_portal_deal_count() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hubspot::SEARCH_PATH))
        .and(body_partial_json(json!({"limit": 1})))
        .respond_with(ok(hubspot::page(
            1234,
            vec![hubspot::open_deal("1", "2024-05-02T10:00:00Z", None)],
            Some(Next {
                host: &server.uri(),
                cursor: "1",
            }),
        )))
        .mount(&server)
        .await;
    let (_workspace, source) = hubspot::source(&server, &paused_clock_context());

    let found = source.probe().await.expect("the probe succeeds");

    assert!(found.contains("1234"), "{found}");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        authorization(&sent[0]),
        Some(format!("Bearer {}", hubspot::TOKEN).as_str())
    );
}

/// With `channel_rules`, the rules' properties are asked for, the first rule whose property
/// holds one of its values names the channel, and the rest are "unattributed".
#[tokio::test]
async fn channel_rules_map_deals_and_unmatched_are_unattributed() {
    let server = MockServer::start().await;
    let with = deal_with;
    let found = hubspot::page(
        4,
        vec![
            with("1", json!({"utm_source": " YA "})),
            with("2", json!({"hs_analytics_source": "PAID_SOCIAL"})),
            with("3", json!({"utm_source": "google"})),
            with("4", json!({})),
        ],
        None,
    );
    always::<HubSpot>(&server, ok(found)).await;
    let (_workspace, source) = build_source(
        hubspot::TOKEN,
        |token| {
            hubspot::table(
                hubspot::SOURCE,
                &server.uri(),
                token,
                "[[sources.channel_rules]]\nfield = \"utm_source\"\n\
                 values = [\"yandex\", \"ya\"]\nchannel = \"yandex_direct\"\n\
                 [[sources.channel_rules]]\nfield = \"hs_analytics_source\"\n\
                 values = [\"paid_social\"]\nchannel = \"meta\"",
            )
        },
        &paused_clock_context(),
    );

    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the pull succeeds");

    let channels: Vec<(String, String)> = deals(pull.rows)
        .into_iter()
        .map(|deal| (deal.id, deal.channel))
        .collect();
    let expected = [
        ("1", "yandex_direct"),
        ("2", "meta"),
        ("3", "unattributed"),
        ("4", "unattributed"),
    ];
    assert_eq!(
        channels,
        expected.map(|(id, channel)| (id.to_string(), channel.to_string()))
    );
    let bodies = json_bodies(&server).await;
    let asked = bodies[0]["properties"].as_array().expect("properties");
    assert!(asked.contains(&json!("utm_source")), "{asked:?}");
    assert!(asked.contains(&json!("hs_analytics_source")), "{asked:?}");
}

/// An open deal created on 2024-05-02 with `props` set on top of the fake's.
fn deal_with(id: &str, props: serde_json::Value) -> serde_json::Value {
    let mut deal = hubspot::open_deal(id, "2024-05-02T10:00:00Z", None);
    for (key, value) in props.as_object().expect("an object") {
        deal["properties"][key] = value.clone();
    }
    deal
}

/// Each deal's (id, channel) from one pull of May 2024.
async fn channels_of(source: &kassa::sources::Source) -> Vec<(String, String)> {
    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the pull succeeds");
    deals(pull.rows)
        .into_iter()
        .map(|deal| (deal.id, deal.channel))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(id, channel)| (id.to_string(), channel.to_string()))
        .collect()
}

/// The older keys HubSpot's users have in their configurations.
const LEGACY_KEYS: &str = "default_channel = \"direct\"\n\
     channel_map = { PAID_SOCIAL = \"meta\", PAID_SEARCH = \"google\", ADWORDS = \"google\" }";

/// HubSpot's older keys keep working, read as rules: a table with `channel_map` and one with
/// the `[[sources.channel_rules]]` kassa prints for it put every deal whose source the map
/// names in the same channel (now ignoring case); the other deals differ only as the migration
/// message says: lower-cased (or `default_channel`) with the older keys, "unattributed" with
/// the rules.
#[tokio::test]
async fn hubspot_legacy_channel_map_gives_the_channels_of_its_printed_rules() {
    let server = MockServer::start().await;
    let source = |value: &str| json!({"hs_analytics_source": value});
    let found = hubspot::page(
        5,
        vec![
            deal_with("1", source("PAID_SOCIAL")),
            deal_with("2", source("paid_search")),
            deal_with("3", source("ADWORDS")),
            deal_with("4", source("ORGANIC_SEARCH")),
            deal_with("5", source("")),
        ],
        None,
    );
    always::<HubSpot>(&server, ok(found)).await;
    let uri = server.uri();
    let legacy_table = |token: crate::fakes::TokenFrom<'_>| {
        hubspot::table(hubspot::SOURCE, &uri, token, LEGACY_KEYS)
    };
    let legacy = crate::helpers::source_config(&legacy_table(crate::fakes::TokenFrom::Env("PATH")))
        .legacy_channels()
        .expect("the older keys are recognised");
    assert_eq!(legacy.keys, ["channel_map", "default_channel"]);
    let printed = legacy.rules.to_toml();
    let (_old, old_source) = build_source(hubspot::TOKEN, legacy_table, &paused_clock_context());
    let (_new, new_source) = build_source(
        hubspot::TOKEN,
        |token| hubspot::table(hubspot::SOURCE, &uri, token, &printed),
        &paused_clock_context(),
    );

    let old = channels_of(&old_source).await;
    let new = channels_of(&new_source).await;

    assert_eq!(old[..3], new[..3], "mapped sources: the same channels");
    assert_eq!(
        new[..3],
        pairs(&[("1", "meta"), ("2", "google"), ("3", "google")])
    );
    assert_eq!(old[3..], pairs(&[("4", "organic_search"), ("5", "direct")]));
    assert_eq!(
        new[3..],
        pairs(&[("4", "unattributed"), ("5", "unattributed")])
    );
}

/// Without rules and without older keys, a deal's channel is its `hs_analytics_source`
/// lower-cased, as before rules existed; an empty one is "unattributed".
#[tokio::test]
async fn hubspot_without_rules_uses_the_lower_cased_source() {
    let server = MockServer::start().await;
    let found = hubspot::page(
        3,
        vec![
            deal_with("1", json!({"hs_analytics_source": "PAID_SOCIAL"})),
            deal_with("2", json!({"hs_analytics_source": " Direct_Traffic "})),
            deal_with("3", json!({"hs_analytics_source": null})),
        ],
        None,
    );
    always::<HubSpot>(&server, ok(found)).await;
    let (_workspace, source) = build_source(
        hubspot::TOKEN,
        |token| hubspot::table(hubspot::SOURCE, &server.uri(), token, ""),
        &paused_clock_context(),
    );

    assert_eq!(
        channels_of(&source).await,
        pairs(&[
            ("1", "paid_social"),
            ("2", "direct_traffic"),
            ("3", "unattributed")
        ])
    );
    let bodies = json_bodies(&server).await;
    let asked = bodies[0]["properties"].as_array().expect("properties");
    assert!(asked.contains(&json!("hs_analytics_source")), "{asked:?}");
}

/// `kassa check` on a table with HubSpot's older keys passes, and says, in the configured
/// language, which keys are older, the rules to paste in their place, and what changes for
/// deals no rule matches.
#[test]
fn hubspot_legacy_keys_print_the_rules_to_paste_in_english_and_russian() {
    for (locale, wording) in [
        (
            "en",
            [
                "crm: channel_map, default_channel are older keys; kassa reads them as the channel rules below. Replace them with these rules in the [[sources]] table of crm:\n",
                "With rules, a deal no rule matches goes to \"unattributed\"; the older keys gave it the lower-cased value of hs_analytics_source (\"direct\" when empty)",
            ],
        ),
        (
            "ru",
            [
                "crm: channel_map, default_channel — устаревшие ключи; kassa читает их как правила каналов ниже. Замените их этими правилами в таблице [[sources]] источника crm:\n",
                "попадает в \"unattributed\"; по старым ключам её каналом было значение hs_analytics_source строчными буквами (\"direct\", если оно пусто)",
            ],
        ),
    ] {
        let ws = crate::helpers::Workspace::new();
        let token = ws.write("hubspot.token", hubspot::TOKEN);
        ws.config(&format!(
            "[alerting]\nlocale = \"{locale}\"\n\n{}",
            hubspot::table(
                "crm",
                "https://api.hubapi.com",
                crate::fakes::TokenFrom::File(&token),
                LEGACY_KEYS
            )
        ));

        let run = ws.kassa(&["check", "--offline"]);

        assert_eq!(run.code, 0, "{run:?}");
        for words in wording {
            assert!(
                run.stdout.contains(words),
                "{locale}: {words}\n{}",
                run.stdout
            );
        }
        assert!(
            run.stdout.contains(
                "[[sources.channel_rules]]\nfield = \"hs_analytics_source\"\n\
                 values = [\"ADWORDS\", \"PAID_SEARCH\"]\nchannel = \"google\"\n\
                 [[sources.channel_rules]]\nfield = \"hs_analytics_source\"\n\
                 values = [\"PAID_SOCIAL\"]\nchannel = \"meta\"\n"
            ),
            "{}",
            run.stdout
        );
    }
}

/// A run with HubSpot's older keys still pulls, and warns on stderr with the rules to paste.
#[tokio::test]
async fn hubspot_legacy_keys_warn_on_every_run() {
    let server = MockServer::start().await;
    let found = hubspot::page(
        1,
        vec![deal_with("1", json!({"hs_analytics_source": "ADWORDS"}))],
        None,
    );
    always::<HubSpot>(&server, ok(found)).await;
    let ws = crate::helpers::Workspace::new();
    let token = ws.write("hubspot.token", hubspot::TOKEN);
    ws.config(&hubspot::table(
        "crm",
        &server.uri(),
        crate::fakes::TokenFrom::File(&token),
        LEGACY_KEYS,
    ));

    let run = ws.kassa(&["backfill", "--from", "2024-05-01", "--to", "2024-05-07"]);

    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("crm: channel_map, default_channel are older keys")
            && run
                .stderr
                .contains("values = [\"ADWORDS\", \"PAID_SEARCH\"]"),
        "{}",
        run.stderr
    );
}
