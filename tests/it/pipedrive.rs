//! The Pipedrive deals connector against a fake API v2 on 127.0.0.1 (`fakes::pipedrive`) that
//! answers in Pipedrive's documented wire format: `data` arrays paged by
//! `additional_data.next_cursor`, RFC 3339 instants, `value` a number with or without a
//! fraction (or null), the `{"success": false, "error": ...}` envelope, 429s with
//! `x-ratelimit-*` headers and an OAuth token endpoint. The checks every HTTP connector passes
//! come from the contract kit (`connector`); this file holds what is Pipedrive's own.

use std::sync::Arc;

use kassa::domain::DealStatus::{Lost, Open, Won};
use kassa::domain::{Deal, DealStatus, Pulled};
use kassa::sources::{BuildContext, ErrorKind};
use kassa::store::Store;
use serde_json::json;
use tokio::time::Instant;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::connector::{assert_names_source_and_range, connector_contract};
use crate::fakes::pipedrive::{self, Pipedrive, deal, page};
use crate::fakes::{answer, authorization, ok, query, requests};
use crate::helpers::{
    Workspace, assert_waited, d, money, paused_clock_context, range, script, source_config,
};

connector_contract!(contract, Pipedrive);

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
    (created, closed): (&str, Option<&str>),
    status: DealStatus,
    (amount, currency): (Option<&str>, &str),
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

/// Serves `response` for the deals request without a cursor (`None`) or with `cursor`.
async fn serve(server: &MockServer, cursor: Option<&str>, response: ResponseTemplate) {
    let mock = Mock::given(method("GET")).and(path(pipedrive::DEALS_PATH));
    match cursor {
        Some(cursor) => mock.and(query_param("cursor", cursor)),
        None => mock.and(query_param_is_missing("cursor")),
    }
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

// Proves: the cursor is followed to the end (a null `next_cursor`), each page asked with the
// same filters plus the cursor and the token in `x-api-token` only; every deal maps (won and
// lost by their own instants, a fractional value exact, a null value unknown, each deal's own
// currency, the lower-cased `origin` as channel, an empty one unattributed) and a deal merely
// edited in the window is dropped.
#[tokio::test(start_paused = true)]
async fn follows_the_cursor_to_the_end_and_maps_every_deal() {
    let server = MockServer::start().await;
    serve(
        &server,
        None,
        ok(pipedrive::fixture("deals-page-1.json", &server)),
    )
    .await;
    serve(
        &server,
        Some("eyJmaWVsZCI6ImlkIiwiZmllbGRWYWx1ZSI6MTAyfQ"),
        ok(pipedrive::fixture("deals-page-2.json", &server)),
    )
    .await;
    let (_ws, source) = pipedrive::source(&server, &paused_clock_context(), "page_size = 2");
    let may = range("2024-05-01", "2024-05-31");

    let pull = source.pull(may).await.expect("two pages");

    assert_eq!(pull.covered, Some(may));
    assert!(pull.warnings.is_empty(), "{:?}", pull.warnings);
    assert_eq!(
        deals(pull.rows),
        vec![
            expected(
                "101",
                ("2024-04-20", Some("2024-05-01")),
                Won,
                (Some("1500"), "EUR"),
                "webforms"
            ),
            expected(
                "102",
                ("2024-04-28", Some("2024-05-02")),
                Won,
                (Some("780.5"), "USD"),
                "manuallycreated"
            ),
            expected(
                "103",
                ("2024-05-03", Some("2024-05-20")),
                Lost,
                (Some("2400.25"), "EUR"),
                "leadbooster"
            ),
            expected(
                "104",
                ("2024-05-30", None),
                Open,
                (None, "SEK"),
                "unattributed"
            ),
        ]
    );
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2, "stopped at the null cursor");
    for request in &sent {
        assert_eq!(
            query(request, "updated_since").as_deref(),
            Some("2024-05-01T00:00:00Z")
        );
        assert_eq!(query(request, "limit").as_deref(), Some("2"));
        assert_eq!(query(request, "sort_by").as_deref(), Some("id"));
        assert_eq!(query(request, "api_token"), None, "never in the URL");
        assert_eq!(
            request
                .headers
                .get("x-api-token")
                .and_then(|v| v.to_str().ok()),
            Some(pipedrive::TOKEN)
        );
        assert_eq!(authorization(request), None);
    }
    assert_eq!(query(&sent[0], "cursor"), None);
}

// Proves: a deal added in one month and won in the next belongs to both months' pulls (leads on
// its add date, revenue on its won date), its won instant is dated in the business's zone
// (22:30 UTC on 30 April is 1 May in Berlin), and `updated_since` is the window's first
// instant in that zone.
#[tokio::test(start_paused = true)]
async fn a_deal_won_in_a_different_month_than_it_was_added_counts_in_both() {
    let server = MockServer::start().await;
    let straddling = deal(
        7,
        "won",
        "2024-03-28T10:00:00Z",
        Some("2024-04-30T22:30:00Z"),
        json!(1250.75),
    );
    serve(&server, None, ok(page(vec![straddling], None))).await;
    let berlin = context_in(chrono_tz::Europe::Berlin);
    let (_ws, source) = pipedrive::source(&server, &berlin, "");
    let expect = expected(
        "7",
        ("2024-03-28", Some("2024-05-01")),
        Won,
        (Some("1250.75"), "EUR"),
        "webforms",
    );

    for (month, since) in [
        (range("2024-03-01", "2024-03-31"), "2024-02-29T23:00:00Z"),
        (range("2024-05-01", "2024-05-31"), "2024-04-30T22:00:00Z"),
    ] {
        let pull = source.pull(month).await.expect("the month");
        assert_eq!(deals(pull.rows), vec![expect.clone()], "{month}");
        let sent = requests(&server).await;
        let last = sent.last().expect("a request");
        assert_eq!(query(last, "updated_since").as_deref(), Some(since));
    }
    let april = source
        .pull(range("2024-04-01", "2024-04-30"))
        .await
        .expect("April");
    assert!(
        april.rows.is_empty(),
        "neither added nor won in Berlin's April: {:?}",
        april.rows
    );
}

// Proves: a won deal without a value has an unknown amount, never zero; a won deal valued 0
// (Pipedrive's default for a deal nobody priced) is kept with a warning naming it; deleted
// deals are skipped whichever way they are marked.
#[tokio::test(start_paused = true)]
async fn a_won_deal_without_value_is_unknown_and_deleted_deals_are_skipped() {
    let server = MockServer::start().await;
    let day = "2024-05-02T10:00:00Z";
    let mut flagged = deal(3, "won", day, Some(day), json!(10));
    flagged["is_deleted"] = json!(true);
    let mut unpriced = deal(4, "won", day, Some(day), json!(null));
    unpriced.as_object_mut().expect("an object").remove("value");
    serve(
        &server,
        None,
        ok(page(
            vec![
                deal(1, "won", day, Some(day), json!(null)),
                deal(2, "won", day, Some(day), json!(0)),
                flagged,
                unpriced,
                deal(5, "deleted", day, None, json!(10)),
            ],
            None,
        )),
    )
    .await;
    let (_ws, source) = pipedrive::source(&server, &paused_clock_context(), "");

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect("the week");

    let amounts: Vec<(String, Option<kassa::domain::Money>)> = deals(pull.rows)
        .into_iter()
        .map(|deal| (deal.id, deal.amount))
        .collect();
    assert_eq!(
        amounts,
        vec![
            ("1".to_string(), None),
            ("2".to_string(), Some(money("0"))),
            ("4".to_string(), None),
        ]
    );
    assert_eq!(pull.warnings.len(), 1, "{:?}", pull.warnings);
    assert!(
        pull.warnings[0].contains("value 0") && pull.warnings[0].contains("ids 2"),
        "{:?}",
        pull.warnings
    );
}

// Proves: a malformed deal (a status Pipedrive does not have, a won deal without any close
// instant, a negative or non-numeric value) is an error naming the field, the page and the
// deal, the source and the range; nothing is guessed.
#[tokio::test(start_paused = true)]
async fn a_malformed_deal_names_the_field_and_the_deal() {
    let day = "2024-05-02T10:00:00Z";
    let mut bad_status = deal(11, "won", day, Some(day), json!(1));
    bad_status["status"] = json!("archived");
    let mut no_won_time = deal(12, "won", day, Some(day), json!(1));
    no_won_time["won_time"] = json!(null);
    no_won_time["close_time"] = json!(null);
    let negative = deal(13, "won", day, Some(day), json!(-5));
    let text = deal(14, "won", day, Some(day), json!("12,50"));
    let week = range("2024-05-01", "2024-05-07");
    for (bad, field) in [
        (bad_status, "status"),
        (no_won_time, "won_time"),
        (negative, "value"),
        (text, "value"),
    ] {
        let id = bad["id"].to_string();
        let server = MockServer::start().await;
        serve(&server, None, ok(page(vec![bad], None))).await;
        let (_ws, source) = pipedrive::source(&server, &paused_clock_context(), "");

        let error = source.pull(week).await.expect_err("a malformed deal");

        assert_eq!(error.kind, ErrorKind::InvalidData, "{error}");
        assert_names_source_and_range::<Pipedrive>(&error, &week.to_string());
        let shown = error.to_string();
        assert!(
            shown.contains(&format!("field `{field}`"))
                && shown.contains(&format!("(id {id})"))
                && shown.contains("page 1"),
            "{shown}"
        );
    }
}

// Proves: with `channel_rules`, the channel comes from a custom field by its key or a
// top-level field (`channel`, an option id), first matching rule first; the rest are
// "unattributed", never the default field's value.
#[tokio::test(start_paused = true)]
async fn channel_rules_read_custom_field_keys_and_top_level_fields() {
    let server = MockServer::start().await;
    serve(
        &server,
        None,
        ok(pipedrive::fixture("deals-page-1.json", &server)),
    )
    .await;
    serve(
        &server,
        Some("eyJmaWVsZCI6ImlkIiwiZmllbGRWYWx1ZSI6MTAyfQ"),
        ok(pipedrive::fixture("deals-page-2.json", &server)),
    )
    .await;
    let rules = format!(
        "[[sources.channel_rules]]\n\
         field = {field:?}\n\
         values = [\"google\", \"adwords\"]\n\
         channel = \"google_ads\"\n\
         [[sources.channel_rules]]\n\
         field = \"channel\"\n\
         values = [\"3\"]\n\
         channel = \"meta\"\n",
        field = pipedrive::SOURCE_FIELD
    );
    let (_ws, source) = pipedrive::source(&server, &paused_clock_context(), &rules);

    let pull = source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .expect("the month");

    let channels: Vec<(String, String)> = deals(pull.rows)
        .into_iter()
        .map(|deal| (deal.id, deal.channel))
        .collect();
    assert_eq!(
        channels,
        [
            ("101", "google_ads"),
            ("102", "meta"),
            ("103", "unattributed"),
            ("104", "unattributed"),
        ]
        .map(|(id, channel)| (id.to_string(), channel.to_string()))
    );
}

// Proves: a 429 waits `Retry-After` when Pipedrive sends it (over `x-ratelimit-reset`), then
// the deals arrive.
#[tokio::test(start_paused = true)]
async fn a_429_waits_retry_after_before_the_ratelimit_reset() {
    let server = MockServer::start().await;
    let day = "2024-05-02T10:00:00Z";
    script(
        &server,
        "GET",
        pipedrive::DEALS_PATH,
        pipedrive::too_many_requests(1, Some(6)),
        ok(page(vec![deal(1, "won", day, Some(day), json!(10))], None)),
    )
    .await;
    let (_ws, source) = pipedrive::source(&server, &paused_clock_context(), "");
    let started = Instant::now();

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect("after the wait");

    assert_eq!(pull.rows.len(), 1);
    assert_waited(
        started,
        std::time::Duration::from_secs(6)..std::time::Duration::from_secs(7),
    );
}

// Proves: a refused API token is an auth error saying where the token goes and where to find
// it, without the token, and is not retried.
#[tokio::test(start_paused = true)]
async fn a_refused_token_names_what_to_fix() {
    let server = MockServer::start().await;
    let body = pipedrive::fixture("unauthorized.json", &server);
    serve(&server, None, answer(401).set_body_json(body)).await;
    let (_ws, source) = pipedrive::source(&server, &paused_clock_context(), "");
    let week = range("2024-05-01", "2024-05-07");

    let error = source.pull(week).await.expect_err("401");

    assert_eq!(error.kind, ErrorKind::Auth, "{error}");
    assert_names_source_and_range::<Pipedrive>(&error, &week.to_string());
    let shown = error.to_string();
    assert!(
        shown.contains("unauthorized access")
            && shown.contains("token_env/token_file")
            && shown.contains("Personal preferences, API"),
        "{shown}"
    );
    assert_eq!(requests(&server).await.len(), 1, "not retried");
}

/// A `[[sources]]` table using OAuth against the fake at `server` (API and token endpoint),
/// its secrets in files in `ws`.
fn oauth_table(ws: &Workspace, server: &MockServer) -> String {
    let secret = ws.write("secrets/client-secret", "kassa-pipedrive-client-secret\n");
    let refresh = ws.write("secrets/refresh", "pd-refresh-0\n");
    format!(
        "[[sources]]\n\
         name = \"pipedrive\"\n\
         kind = \"pipedrive\"\n\
         base_url = {uri:?}\n\
         oauth_url = {uri:?}\n\
         client_id = \"kassa-client\"\n\
         client_secret_file = {secret:?}\n\
         refresh_token_file = {refresh:?}\n",
        uri = server.uri(),
        secret = secret.display().to_string(),
        refresh = refresh.display().to_string(),
    )
}

// Proves: with OAuth, the access token is refreshed from the refresh token (client id and
// secret as HTTP Basic, as Pipedrive wants), sent as a bearer, and kept in the store's token
// cache, so the next run's build reuses it instead of refreshing again.
#[tokio::test(start_paused = true)]
async fn an_oauth_access_token_is_refreshed_once_and_kept_in_the_store() {
    let server = MockServer::start().await;
    // base64("kassa-client:kassa-pipedrive-client-secret")
    let basic = "Basic a2Fzc2EtY2xpZW50Omthc3NhLXBpcGVkcml2ZS1jbGllbnQtc2VjcmV0";
    Mock::given(method("POST"))
        .and(path(pipedrive::TOKEN_PATH))
        .and(header("authorization", basic))
        .respond_with(ok(pipedrive::fixture("token.json", &server)))
        .mount(&server)
        .await;
    serve(&server, None, ok(page(vec![], None))).await;
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
    let refreshes: Vec<String> = sent
        .iter()
        .filter(|r| r.url.path() == pipedrive::TOKEN_PATH)
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        refreshes,
        ["grant_type=refresh_token&refresh_token=pd-refresh-0"],
        "one refresh, credentials not in the body"
    );
    let bearers: Vec<Option<&str>> = sent
        .iter()
        .filter(|r| r.url.path() == pipedrive::DEALS_PATH)
        .map(authorization)
        .collect();
    let bearer = Some("Bearer v1u:AQIBAHj-pipedrive-access-kassa-test");
    assert_eq!(bearers, [bearer, bearer]);
}
