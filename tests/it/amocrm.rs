//! The amoCRM (Kommo) leads connector against a fake API v4 on 127.0.0.1 (`fakes::amocrm`)
//! that answers in amoCRM's documented wire format: HAL pages with `_embedded.leads` and
//! `_links.next`, `204 No Content` for an empty page, Unix-second timestamps, integer prices,
//! `application/problem+json` errors and an OAuth endpoint that rotates refresh tokens. The
//! checks every HTTP connector passes come from the contract kit (`connector`); this file
//! holds what is amoCRM's own.

use std::sync::Arc;

use kassa::domain::DealStatus::{Lost, Open, Won};
use kassa::domain::{Deal, DealStatus, Pulled};
use kassa::sources::{BuildContext, ErrorKind};
use kassa::store::Store;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer};

use crate::connector::{assert_names_source_and_range, connector_contract};
use crate::fakes::amocrm::{self, AmoCrm, lead, page, seconds};
use crate::fakes::{answer, authorization, build_source, ok, query, requests};
use crate::helpers::{Workspace, d, money, paused_clock_context, range, source_config};

connector_contract!(contract, AmoCrm);

/// The pulled deals without their instants: these tests are about the dates.
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

fn expected(
    id: &str,
    created: &str,
    closed: Option<&str>,
    status: DealStatus,
    amount: Option<&str>,
    channel: &str,
) -> Deal {
    Deal {
        id: id.to_string(),
        created_date: d(created),
        closed_date: closed.map(d),
        status,
        amount: amount.map(money),
        currency: Some("RUB".to_string()),
        channel: channel.to_string(),
        customer_id: None,
        instants: None,
    }
}

/// Serves `body` for the leads request of page `number`.
async fn serve_page(server: &MockServer, number: &str, response: wiremock::ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(amocrm::LEADS_PATH))
        .and(query_param("page", number))
        .respond_with(response)
        .mount(server)
        .await;
}

/// A context in `zone` on the paused clock.
fn context_in(zone: chrono_tz::Tz) -> BuildContext {
    BuildContext {
        timezone: zone,
        ..paused_clock_context()
    }
}

// Proves: paging follows `_links.next` across the documented pages until amoCRM answers 204,
// and every lead maps: 142 won and 143 lost in any pipeline, integer prices, a null price
// unknown, the channel from rules on the field (by id) and on the tags, the rest
// "unattributed", Unix seconds as dates.
#[tokio::test(start_paused = true)]
async fn follows_next_links_until_a_204_and_maps_every_lead() {
    let server = MockServer::start().await;
    serve_page(
        &server,
        "1",
        ok(amocrm::fixture("leads-page-1.json", &server)),
    )
    .await;
    serve_page(
        &server,
        "2",
        ok(amocrm::fixture("leads-page-2.json", &server)),
    )
    .await;
    serve_page(&server, "3", amocrm::no_content()).await;
    let (_ws, source) = amocrm::source(&server, &paused_clock_context(), "page_size = 2");
    let may = range("2024-05-01", "2024-05-31");

    let pull = source.pull(may).await.expect("three pages");

    assert_eq!(pull.covered, Some(may));
    assert_eq!(
        deals(pull.rows),
        vec![
            expected(
                "19619",
                "2024-04-29",
                Some("2024-05-01"),
                Won,
                Some("46333"),
                "unattributed"
            ),
            expected(
                "19634",
                "2024-04-29",
                Some("2024-05-02"),
                Won,
                Some("120000"),
                "yandex_direct"
            ),
            expected(
                "19700",
                "2024-05-01",
                Some("2024-05-03"),
                Lost,
                Some("5000"),
                "vk_ads"
            ),
            expected("19701", "2024-04-30", Some("2024-05-03"), Won, None, "meta"),
            expected(
                "19702",
                "2024-05-04",
                None,
                Open,
                Some("15000"),
                "unattributed"
            ),
        ]
    );
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 3);
    let first = &sent[0];
    assert_eq!(
        query(first, "filter[updated_at][from]"),
        Some(seconds("2024-05-01T00:00:00Z").to_string())
    );
    assert_eq!(
        query(first, "filter[created_at][to]"),
        Some(seconds("2024-05-31T23:59:59Z").to_string())
    );
    assert_eq!(query(first, "limit").as_deref(), Some("2"));
    assert_eq!(query(&sent[2], "page").as_deref(), Some("3"));
    for request in &sent {
        assert_eq!(
            authorization(request),
            Some(format!("Bearer {}", amocrm::TOKEN).as_str())
        );
    }
}

// Proves: an empty first page (204, no body) is "covered, zero rows", not a decode error.
#[tokio::test(start_paused = true)]
async fn a_204_on_the_first_page_is_covered_with_zero_rows() {
    let server = MockServer::start().await;
    serve_page(&server, "1", amocrm::no_content()).await;
    let (_ws, source) = amocrm::source(&server, &paused_clock_context(), "");
    let week = range("2024-05-01", "2024-05-07");

    let pull = source.pull(week).await.expect("204 is an empty result");

    assert_eq!(pull.covered, Some(week));
    assert!(pull.rows.is_empty());
}

// Proves: 142 is won and 143 lost whatever the pipeline, every other status open; leads that
// only changed in the range (created and closed outside it) are not the range's; pipelines
// can be included and excluded.
#[tokio::test(start_paused = true)]
async fn status_142_is_won_and_143_lost_in_every_pipeline() {
    let created = seconds("2024-05-02T09:00:00Z");
    let closed = Some(seconds("2024-05-03T09:00:00Z"));
    let in_pipeline = |mut lead: Value, pipeline: u64| {
        lead["pipeline_id"] = json!(pipeline);
        lead
    };
    let leads = vec![
        in_pipeline(lead(1, 142, created, closed, Some(100)), 111),
        in_pipeline(lead(2, 143, created, closed, Some(100)), 222),
        in_pipeline(lead(3, 142, created, closed, Some(100)), 333),
        in_pipeline(lead(4, 27000005, created, None, Some(100)), 111),
        // Created and closed in April, edited in May: not May's.
        lead(
            5,
            142,
            seconds("2024-04-01T09:00:00Z"),
            Some(seconds("2024-04-02T09:00:00Z")),
            Some(100),
        ),
    ];
    let server = MockServer::start().await;
    serve_page(&server, "1", ok(page(1, leads, None))).await;
    let week = range("2024-05-01", "2024-05-07");

    let (_ws, source) = amocrm::source(&server, &paused_clock_context(), "");
    let all = deals(source.pull(week).await.unwrap().rows);
    let statuses: Vec<(&str, DealStatus)> = all.iter().map(|d| (d.id.as_str(), d.status)).collect();
    assert_eq!(statuses, [("1", Won), ("2", Lost), ("3", Won), ("4", Open)]);

    for (keys, kept) in [
        ("pipelines = [111, 222]", &["1", "2", "4"][..]),
        ("exclude_pipelines = [111]", &["2", "3"][..]),
    ] {
        let (_ws, source) = amocrm::source(&server, &paused_clock_context(), keys);
        let picked = deals(source.pull(week).await.unwrap().rows);
        let ids: Vec<&str> = picked.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, kept, "{keys}");
    }
}

// Proves: Unix seconds are instants, dated in the business's zone: a lead created at 22:30
// UTC on May 1 is May 2's in Moscow and May 1's in UTC; the request's window is the Moscow
// days' seconds; the instants are kept so a change of zone re-dates the lead.
#[tokio::test(start_paused = true)]
async fn seconds_timestamps_land_on_the_business_day_across_midnight_moscow_utc() {
    let created = seconds("2024-05-01T22:30:00Z");
    let closed = seconds("2024-05-02T21:30:00Z");
    let server = MockServer::start().await;
    serve_page(
        &server,
        "1",
        ok(page(
            1,
            vec![lead(7, 142, created, Some(closed), Some(500))],
            None,
        )),
    )
    .await;
    let week = range("2024-05-01", "2024-05-07");

    let (_ws, moscow) = amocrm::source(&server, &context_in(chrono_tz::Europe::Moscow), "");
    let pulled = moscow.pull(week).await.unwrap();
    let Pulled::Deals(rows) = &pulled.rows else {
        panic!("deals")
    };
    assert_eq!(rows[0].created_date, d("2024-05-02"));
    assert_eq!(rows[0].closed_date, Some(d("2024-05-03")));
    let instants = rows[0].instants.expect("instants are kept");
    assert_eq!(instants.created.timestamp(), created);
    assert_eq!(instants.closed.map(|t| t.timestamp()), Some(closed));

    let (_ws, utc) = amocrm::source(&server, &paused_clock_context(), "");
    let rows = deals(utc.pull(week).await.unwrap().rows);
    assert_eq!(rows[0].created_date, d("2024-05-01"));
    assert_eq!(rows[0].closed_date, Some(d("2024-05-02")));

    let sent = requests(&server).await;
    assert_eq!(
        query(&sent[0], "filter[updated_at][from]"),
        Some(seconds("2024-04-30T21:00:00Z").to_string())
    );
    assert_eq!(
        query(&sent[0], "filter[created_at][to]"),
        Some(seconds("2024-05-07T20:59:59Z").to_string())
    );
}

// Proves: a timestamp in milliseconds where amoCRM documents seconds is an error naming the
// field, the lead, the source and the range, never a date in the year 56000.
#[tokio::test(start_paused = true)]
async fn a_timestamp_in_milliseconds_is_an_error_naming_the_field() {
    let millis = seconds("2024-05-02T09:00:00Z") * 1000;
    let server = MockServer::start().await;
    serve_page(
        &server,
        "1",
        ok(page(
            1,
            vec![lead(19619, 143, millis, Some(millis), Some(1))],
            None,
        )),
    )
    .await;
    let (_ws, source) = amocrm::source(&server, &paused_clock_context(), "");
    let week = range("2024-05-01", "2024-05-07");

    let error = source
        .pull(week)
        .await
        .expect_err("milliseconds are refused");

    assert_eq!(error.kind, ErrorKind::InvalidData, "{error}");
    assert_names_source_and_range::<AmoCrm>(&error, &week.to_string());
    let shown = error.to_string();
    assert!(
        shown.contains("field `created_at`") && shown.contains("id 19619"),
        "{shown}"
    );
    assert!(shown.contains("looks like milliseconds"), "{shown}");
}

// Proves: a won lead whose price is null or absent has an unknown amount, never zero; a
// price of 0 (amoCRM's empty budget) is kept as sent, with a warning naming the lead.
#[tokio::test(start_paused = true)]
async fn a_won_lead_without_price_has_an_unknown_amount() {
    let created = seconds("2024-05-02T09:00:00Z");
    let closed = Some(seconds("2024-05-02T10:00:00Z"));
    let mut absent = lead(2, 142, created, closed, None);
    absent.as_object_mut().expect("an object").remove("price");
    let leads = vec![
        lead(1, 142, created, closed, None),
        absent,
        lead(3, 142, created, closed, Some(0)),
    ];
    let server = MockServer::start().await;
    serve_page(&server, "1", ok(page(1, leads, None))).await;
    let (_ws, source) = amocrm::source(&server, &paused_clock_context(), "");

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    assert_eq!(pull.warnings.len(), 1, "{:?}", pull.warnings);
    assert!(pull.warnings[0].contains("ids 3"), "{:?}", pull.warnings);
    let amounts: Vec<_> = deals(pull.rows).into_iter().map(|d| d.amount).collect();
    assert_eq!(amounts, [None, None, Some(money("0"))]);
}

// Proves: a refused long-lived token is an auth error that says what to fix (the token behind
// token_env/token_file, where amoCRM issues it), is not retried, and never shows the token.
#[tokio::test(start_paused = true)]
async fn a_refused_token_names_what_to_fix() {
    let server = MockServer::start().await;
    let body = amocrm::fixture("unauthorized.json", &server).to_string();
    serve_page(
        &server,
        "1",
        answer(401).set_body_raw(body, "application/problem+json"),
    )
    .await;
    let (_ws, source) = amocrm::source(&server, &paused_clock_context(), "");
    let week = range("2024-05-01", "2024-05-07");

    let error = source.pull(week).await.expect_err("401");

    assert_eq!(error.kind, ErrorKind::Auth, "{error}");
    assert_names_source_and_range::<AmoCrm>(&error, &week.to_string());
    let shown = error.to_string();
    assert!(
        shown.contains("HTTP 401") && shown.contains("token_env/token_file"),
        "{shown}"
    );
    assert!(shown.contains("long-lived token"), "{shown}");
    assert_eq!(requests(&server).await.len(), 1, "not retried");
}

// Proves: amoCRM's validation errors reach the user with the path and detail they name.
#[tokio::test(start_paused = true)]
async fn a_validation_error_names_the_path_amocrm_refused() {
    let server = MockServer::start().await;
    let body = amocrm::fixture("validation-error.json", &server).to_string();
    serve_page(
        &server,
        "1",
        answer(400).set_body_raw(body, "application/problem+json"),
    )
    .await;
    let (_ws, source) = amocrm::source(&server, &paused_clock_context(), "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("400");

    assert_eq!(error.kind, ErrorKind::Rejected, "{error}");
    let shown = error.to_string();
    assert!(
        shown.contains("Request validation failed")
            && shown.contains("custom_fields_values.0.field_id"),
        "{shown}"
    );
}

// Proves: a 200 whose JSON lacks `_embedded.leads` is a decode error naming the page.
#[tokio::test(start_paused = true)]
async fn an_answer_without_embedded_leads_is_a_decode_error() {
    let server = MockServer::start().await;
    serve_page(&server, "1", ok(json!({"_page": 1, "_links": {}}))).await;
    let (_ws, source) = amocrm::source(&server, &paused_clock_context(), "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("no leads array");

    assert_eq!(error.kind, ErrorKind::Decode, "{error}");
    assert!(error.to_string().contains("page 1"), "{error}");
    assert!(error.to_string().contains("_embedded.leads"), "{error}");
}

/// An OAuth `[[sources]]` table for the fake: secrets in files of `ws`.
fn oauth_table(ws: &Workspace, server: &MockServer) -> String {
    let secret = ws.write("secrets/client-secret", "kassa-amocrm-client-secret\n");
    let refresh = ws.write("secrets/refresh", "def502-refresh-0\n");
    format!(
        "[[sources]]\n\
         name = \"amo\"\n\
         kind = \"amocrm\"\n\
         base_url = {:?}\n\
         client_id = \"6a2d4741-0000-4000-8000-92277723dcea\"\n\
         client_secret_file = {:?}\n\
         refresh_token_file = {:?}\n\
         redirect_uri = \"https://example.com/amocrm\"\n\
         currency = \"RUB\"\n",
        server.uri(),
        secret.display().to_string(),
        refresh.display().to_string(),
    )
}

// Proves: with OAuth, the refresh token amoCRM rotates on every refresh is kept in the store's
// token cache, so the next run's build of the source refreshes with the rotated token, not
// the configured one amoCRM has already retired; the request carries amoCRM's fields.
#[tokio::test(start_paused = true)]
async fn a_rotated_refresh_token_survives_between_two_builds() {
    let server = MockServer::start().await;
    // Access tokens that expire inside the renewal margin: every run must refresh.
    for (used, access, rotated) in [
        ("def502-refresh-0", "access-1", "def502-refresh-1"),
        ("def502-refresh-1", "access-2", "def502-refresh-2"),
    ] {
        Mock::given(method("POST"))
            .and(path(amocrm::TOKEN_PATH))
            .and(body_partial_json(json!({"refresh_token": used})))
            .respond_with(amocrm::token_answer(access, rotated, 30))
            .mount(&server)
            .await;
    }
    serve_page(&server, "1", amocrm::no_content()).await;
    let ws = Workspace::new();
    let table = oauth_table(&ws, &server);
    let week = range("2024-05-01", "2024-05-07");

    for _night in 0..2 {
        let store = Store::open(&ws.store_path()).expect("the store opens");
        let context = BuildContext {
            tokens: Arc::new(store.token_ledger().expect("the token ledger")),
            ..paused_clock_context()
        };
        let source = source_config(&table).build(&context).expect("builds");
        source.pull(week).await.expect("the pull succeeds");
    }

    let sent = requests(&server).await;
    let refreshes: Vec<Value> = sent
        .iter()
        .filter(|r| r.url.path() == amocrm::TOKEN_PATH)
        .map(|r| r.body_json().expect("a JSON token request"))
        .collect();
    let used: Vec<&str> = refreshes
        .iter()
        .map(|b| b["refresh_token"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(used, ["def502-refresh-0", "def502-refresh-1"]);
    for body in &refreshes {
        assert_eq!(body["grant_type"], "refresh_token");
        assert_eq!(body["redirect_uri"], "https://example.com/amocrm");
        assert_eq!(body["client_secret"], "kassa-amocrm-client-secret");
    }
    let bearers: Vec<Option<&str>> = sent
        .iter()
        .filter(|r| r.url.path() == amocrm::LEADS_PATH)
        .map(authorization)
        .collect();
    assert_eq!(bearers, [Some("Bearer access-1"), Some("Bearer access-2")]);
}

/// With `channel_rules`, a lead's channel is the first rule whose field (a custom field by its
/// code or name, a top-level field, or `tags`: any of the lead's tags) holds one of its values;
/// the rest are "unattributed".
#[tokio::test(start_paused = true)]
async fn channel_rules_map_leads_and_unmatched_are_unattributed() {
    let server = MockServer::start().await;
    let created = seconds("2024-05-02T10:00:00Z");
    let utm = |id: u64, value: &str| {
        let mut lead = lead(id, 1, created, None, Some(100));
        lead["custom_fields_values"] = json!([{
            "field_id": 1278898021,
            "field_name": "utm_source",
            "field_code": "UTM_SOURCE",
            "field_type": "tracking_data",
            "values": [{"value": value}],
        }]);
        lead
    };
    let mut by_pipeline = lead(4, 1, created, None, Some(100));
    by_pipeline["pipeline_id"] = json!(555);
    let mut tagged = lead(6, 1, created, None, Some(100));
    tagged["_embedded"] =
        json!({"tags": [{"id": 1, "name": "vip"}, {"id": 2, "name": " VK-Ads "}]});
    let mut untagged = lead(7, 1, created, None, Some(100));
    untagged["_embedded"] = json!({"tags": [{"id": 1, "name": "vip"}]});
    serve_page(
        &server,
        "1",
        ok(page(
            1,
            vec![
                utm(1, " Yandex "),
                utm(2, "VK"),
                utm(3, "google"),
                by_pipeline,
                lead(5, 1, created, None, Some(100)),
                tagged,
                untagged,
            ],
            None,
        )),
    )
    .await;
    let (_ws, source) = build_source(
        amocrm::TOKEN,
        |token| {
            amocrm::table(
                amocrm::SOURCE,
                &server.uri(),
                token,
                "currency = \"RUB\"\n\
                 [[sources.channel_rules]]\nfield = \"utm_source\"\n\
                 values = [\"yandex\", \"ya\"]\nchannel = \"yandex_direct\"\n\
                 [[sources.channel_rules]]\nfield = \"UTM_SOURCE\"\n\
                 values = [\"vk\"]\nchannel = \"vk_ads\"\n\
                 [[sources.channel_rules]]\nfield = \"pipeline_id\"\n\
                 values = [\"555\"]\nchannel = \"partners\"\n\
                 [[sources.channel_rules]]\nfield = \"tags\"\n\
                 values = [\"vk-ads\"]\nchannel = \"vk_ads\"",
            )
        },
        &paused_clock_context(),
    );

    let pulled = deals(
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap()
            .rows,
    );

    let channels: Vec<(&str, &str)> = pulled
        .iter()
        .map(|deal| (deal.id.as_str(), deal.channel.as_str()))
        .collect();
    assert_eq!(
        channels,
        [
            ("1", "yandex_direct"),
            ("2", "vk_ads"),
            ("3", "unattributed"),
            ("4", "partners"),
            ("5", "unattributed"),
            ("6", "vk_ads"),
            ("7", "unattributed"),
        ]
    );
}

/// Without rules, a lead's channel is its `utm_source` custom field lower-cased, and a lead
/// without one is "unattributed".
#[tokio::test(start_paused = true)]
async fn amocrm_without_rules_uses_the_lower_cased_utm_source() {
    let server = MockServer::start().await;
    let created = seconds("2024-05-02T10:00:00Z");
    let mut utm = lead(1, 1, created, None, Some(100));
    utm["custom_fields_values"] = json!([{
        "field_id": 77, "field_name": "utm_source", "field_code": "UTM_SOURCE",
        "field_type": "tracking_data", "values": [{"value": " Yandex "}],
    }]);
    let mut tagged = lead(2, 1, created, None, Some(100));
    tagged["_embedded"] = json!({"tags": [{"id": 2, "name": "vk"}]});
    serve_page(&server, "1", ok(page(1, vec![utm, tagged], None))).await;
    let (_ws, source) = build_source(
        amocrm::TOKEN,
        |token| amocrm::table(amocrm::SOURCE, &server.uri(), token, "currency = \"RUB\""),
        &paused_clock_context(),
    );

    let pulled = deals(
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap()
            .rows,
    );

    let channels: Vec<(&str, &str)> = pulled
        .iter()
        .map(|deal| (deal.id.as_str(), deal.channel.as_str()))
        .collect();
    assert_eq!(channels, [("1", "yandex"), ("2", "unattributed")]);
}
