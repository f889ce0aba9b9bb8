//! The Meta Marketing API connector against a fake Graph API on 127.0.0.1 (`fakes::meta`) that
//! answers in Meta's documented wire format: metrics as JSON strings, `data`, `paging.cursors`
//! and `paging.next` (a full URL back to the fake), throttling as HTTP 400 with a code in the
//! body. The checks every HTTP connector passes come from the contract kit (`connector`); this
//! file holds what is Meta's own.

use std::time::Duration;

use kassa::domain::{AdDay, Claims, Pulled};
use kassa::sources::ErrorKind;
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer};

use crate::connector::{assert_names_source_and_range, connector_contract};
use crate::fakes::meta::{self, Meta};
use crate::fakes::{answer, authorization, ok, query, requests};
use crate::helpers::{assert_waited, d, money, range, script};

connector_contract!(contract, Meta);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ad_rows(pulled: Pulled) -> Vec<AdDay> {
    match pulled {
        Pulled::Ads(rows) => rows,
        other => panic!("expected ad rows, got {other:?}"),
    }
}

fn brand_search(date: &str, impressions: u64, reach: u64, clicks: u64, spend: &str) -> AdDay {
    AdDay {
        date: d(date),
        channel: "facebook".to_string(),
        account: "123456789".to_string(),
        campaign_id: "120210000000000001".to_string(),
        campaign_name: Some("Brand_Search".to_string()),
        impressions,
        reach: Some(reach),
        clicks,
        spend: money(spend),
        currency: Some("USD".to_string()),
        claims: Claims::default(),
    }
}

// Proves: pages are followed through `paging.next` until it is absent (a short page is not the
// end), every string metric is parsed to the right type, and the first request asks for daily
// campaign rows of the range with the bearer token.
#[tokio::test]
async fn follows_paging_next_across_three_pages_and_parses_every_row() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(query_param_is_missing("after"))
        .respond_with(ok(meta::fixture("insights_page1.json", &server)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(query_param("after", "MQZDZD"))
        .respond_with(ok(meta::fixture("insights_page2.json", &server)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(query_param("after", "MgZDZD"))
        .respond_with(ok(meta::fixture("insights_page3.json", &server)))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, "page_size = 2");
    let may = range("2024-05-01", "2024-05-03");

    let pull = source.pull(may).await.expect("the pull succeeds");

    assert_eq!(pull.covered, Some(may));
    let prospecting = |date: &str, impressions, reach, clicks, spend| AdDay {
        campaign_id: "120210000000000002".to_string(),
        campaign_name: Some("Prospecting_Lookalike".to_string()),
        reach,
        ..brand_search(date, impressions, 0, clicks, spend)
    };
    let rows = ad_rows(pull.rows);
    assert_eq!(
        rows,
        vec![
            brand_search("2024-05-01", 10234, 8120, 312, "125.5"),
            brand_search("2024-05-02", 9876, 7901, 298, "118.8"),
            brand_search("2024-05-03", 11002, 8544, 341, "130"),
            // Meta left `reach` out of this row: unknown, not zero.
            prospecting("2024-05-01", 48210, None, 402, "0.75"),
            prospecting("2024-05-02", 0, Some(0), 0, "0"),
        ]
    );
    assert_eq!(
        rows[0].spend.micros(),
        125_500_000,
        "\"125.5\" is exact money"
    );

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 3, "one request per page");
    let first = &sent[0];
    assert_eq!(query(first, "level").as_deref(), Some("campaign"));
    assert_eq!(query(first, "time_increment").as_deref(), Some("1"));
    assert_eq!(query(first, "limit").as_deref(), Some("2"));
    let time_range: Value =
        serde_json::from_str(&query(first, "time_range").expect("a time_range")).unwrap();
    assert_eq!(
        time_range,
        json!({"since": "2024-05-01", "until": "2024-05-03"})
    );
    let fields = query(first, "fields").expect("a fields list");
    for field in [
        "campaign_id",
        "impressions",
        "reach",
        "clicks",
        "spend",
        "date_start",
    ] {
        assert!(
            fields.split(',').any(|f| f == field),
            "{field} not asked for in {fields}"
        );
    }
    assert_eq!(query(&sent[1], "after").as_deref(), Some("MQZDZD"));
    assert_eq!(query(&sent[2], "after").as_deref(), Some("MgZDZD"));
    for request in &sent {
        assert_eq!(request.method.as_str(), "GET");
        assert_eq!(
            authorization(request),
            Some(format!("Bearer {}", meta::TOKEN).as_str())
        );
    }
}

// Proves: when `X-Business-Use-Case-Usage` names several use cases, the longest wait wins
// (here three minutes, not the one of the other use case, nor the minute kassa waits when no
// header says), measured on tokio's paused clock.
#[tokio::test(start_paused = true)]
async fn business_use_case_throttling_waits_for_the_longest_use_case() {
    let server = MockServer::start().await;
    script(
        &server,
        "GET",
        meta::INSIGHTS_PATH,
        meta::throttled_80000(&[("ads_insights", 1), ("ads_management", 3)]),
        ok(meta::page(
            vec![meta::row("2024-05-01", "312", "125.5")],
            None,
        )),
    )
    .await;
    let (_workspace, source) = meta::source(&server, "");
    let started = Instant::now();

    let pull = source
        .pull(range("2024-05-01", "2024-05-01"))
        .await
        .expect("the pull succeeds after the wait");

    assert_eq!(ad_rows(pull.rows).len(), 1);
    assert_eq!(requests(&server).await.len(), 2);
    assert_waited(started, secs(180)..secs(181));
}

// Proves: the other throttling codes the README lists (17 user limit, 613 ad-account limit,
// 4 app limit, 32 page limit, 341 application limit, 80001-80014 business use case limits
// without a usage header) are recognised in a 400 body and retried with backoff, not
// reported as a rejected request.
#[tokio::test(start_paused = true)]
async fn user_account_and_app_call_limits_are_retried() {
    for (code, subcode) in [
        (17, Some(2446079)),
        (613, Some(1487742)),
        (4, Some(1504022)),
        (32, None),
        (341, None),
        (80001, None),
        (80007, None),
        (80014, None),
    ] {
        let server = MockServer::start().await;
        let throttled =
            answer(400).set_body_json(meta::error(code, subcode, "User request limit reached"));
        script(
            &server,
            "GET",
            meta::INSIGHTS_PATH,
            throttled,
            ok(meta::page(vec![meta::row("2024-05-01", "1", "1")], None)),
        )
        .await;
        let (_workspace, source) = meta::source(&server, "");
        let started = Instant::now();

        let pull = source.pull(range("2024-05-01", "2024-05-01")).await;

        let pull = pull.unwrap_or_else(|e| panic!("code {code} was not retried: {e}"));
        assert_eq!(ad_rows(pull.rows).len(), 1, "code {code}");
        assert_eq!(requests(&server).await.len(), 2, "code {code}");
        // No usage header says when access returns: Meta's limits recover over minutes, so
        // kassa waits a minute rather than spending its attempts in quick backoff.
        assert_waited(started, secs(60)..secs(61));
    }
}

// Proves: plain HTTP throttling and server trouble (429, 503, non-JSON bodies) are retried and
// their `Retry-After` seconds are honoured.
#[tokio::test(start_paused = true)]
async fn http_429_and_503_honour_retry_after() {
    for (status, seconds) in [(429, 7), (503, 3)] {
        let server = MockServer::start().await;
        let refused = answer(status)
            .insert_header("Retry-After", seconds.to_string().as_str())
            .set_body_string("Service temporarily unavailable");
        script(
            &server,
            "GET",
            meta::INSIGHTS_PATH,
            refused,
            ok(meta::page(vec![meta::row("2024-05-01", "1", "1")], None)),
        )
        .await;
        let (_workspace, source) = meta::source(&server, "");
        let started = Instant::now();

        let pull = source.pull(range("2024-05-01", "2024-05-01")).await;

        assert!(pull.is_ok(), "HTTP {status} was not retried: {pull:?}");
        assert_eq!(requests(&server).await.len(), 2);
        assert_waited(started, secs(seconds)..secs(seconds + 1));
    }
}

// Proves: throttling that never lifts ends in a `Throttled` error after the configured number
// of attempts, each wait honoured, and the error says which source and range gave up.
#[tokio::test(start_paused = true)]
async fn throttling_that_never_lifts_gives_up_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(meta::throttled_80000(&[("ads_insights", 1)]))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, "");
    let started = Instant::now();

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("throttled for good");

    assert_eq!(error.kind, ErrorKind::Throttled);
    assert_names_source_and_range::<Meta>(&error, "2024-05-01..2024-05-07");
    assert!(error.to_string().contains("80000"), "{error}");
    assert!(
        error.to_string().contains("gave up after 5 attempts"),
        "{error}"
    );
    assert_eq!(
        requests(&server).await.len(),
        5,
        "RetryPolicy::default().max_attempts"
    );
    // Four waits of a minute between five attempts.
    assert_waited(started, secs(4 * 60)..secs(4 * 60 + 1));
}

// Proves: a wait longer than kassa accepts within one run (here 10 minutes) fails at once
// instead of stalling the night; the next run retries the range.
#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_max_server_wait_fails_without_sleeping() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(meta::throttled_80000(&[("ads_insights", 10)]))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, "");
    let started = Instant::now();

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("the wait is too long");

    assert_eq!(error.kind, ErrorKind::Throttled);
    assert_names_source_and_range::<Meta>(&error, "2024-05-01..2024-05-07");
    assert!(error.to_string().contains("600s"), "{error}");
    assert_eq!(requests(&server).await.len(), 1);
    assert_waited(started, secs(0)..secs(1));
}

// Proves: the README's cap on a server-requested wait, exactly: a `Retry-After` of five minutes
// is waited, one second more fails the chunk at once (the next run retries it).
#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_up_to_five_minutes_and_no_longer() {
    let server = MockServer::start().await;
    script(
        &server,
        "GET",
        meta::INSIGHTS_PATH,
        answer(429).insert_header("Retry-After", "300"),
        ok(meta::page(vec![meta::row("2024-05-01", "1", "1")], None)),
    )
    .await;
    let (_workspace, source) = meta::source(&server, "");
    let started = Instant::now();
    let pull = source.pull(range("2024-05-01", "2024-05-01")).await;
    assert!(pull.is_ok(), "a five-minute wait is honoured: {pull:?}");
    assert_waited(started, secs(300)..secs(301));

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(answer(429).insert_header("Retry-After", "301"))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, "");
    let started = Instant::now();
    let error = source
        .pull(range("2024-05-01", "2024-05-01"))
        .await
        .expect_err("a wait past five minutes is refused");
    assert_eq!(error.kind, ErrorKind::Throttled);
    assert_eq!(requests(&server).await.len(), 1);
    assert_waited(started, secs(0)..secs(1));
}

// Proves: an expired or invalid token (code 190, as a 401 or as Meta's usual 400) is an `Auth`
// error, not retried, whose message names the source and range, says what is wrong, and never
// contains the token.
#[tokio::test]
async fn an_invalid_token_is_a_clear_auth_error_without_the_token() {
    for status in [401, 400] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(meta::INSIGHTS_PATH))
            .respond_with(answer(status).set_body_json(meta::error(
                190,
                Some(463),
                "Error validating access token: Session has expired on Tuesday, 30-Apr-24 10:00:00 PDT.",
            )))
            .mount(&server)
            .await;
        let (_workspace, source) = meta::source(&server, "");

        let error = source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .expect_err("the token is refused");

        assert_eq!(error.kind, ErrorKind::Auth, "HTTP {status}: {error}");
        assert_names_source_and_range::<Meta>(&error, "2024-05-01..2024-05-07");
        let shown = error.to_string();
        assert!(shown.contains("authentication failed"), "{shown}");
        assert!(
            shown.contains("access token is invalid or expired"),
            "{shown}"
        );
        assert_eq!(
            requests(&server).await.len(),
            1,
            "an auth failure is not retried"
        );
    }
}

// Proves: a row that breaks the contract (a count that is not a number, a negative spend) fails
// the pull with an `InvalidData` error naming the field, the page and row, source and range.
#[tokio::test]
async fn a_malformed_row_names_the_field_and_the_range() {
    let cases = [
        (meta::row("2024-05-02", "abc", "10"), "`clicks`", "\"abc\""),
        (meta::row("2024-05-02", "5", "-3.5"), "`spend`", "negative"),
    ];
    for (bad_row, field, detail) in cases {
        let server = MockServer::start().await;
        let page = meta::page(vec![meta::row("2024-05-01", "1", "1"), bad_row], None);
        Mock::given(method("GET"))
            .and(path(meta::INSIGHTS_PATH))
            .respond_with(ok(page))
            .mount(&server)
            .await;
        let (_workspace, source) = meta::source(&server, "");

        let error = source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .expect_err("the row is refused");

        assert_eq!(error.kind, ErrorKind::InvalidData);
        assert_names_source_and_range::<Meta>(&error, "2024-05-01..2024-05-07");
        let shown = error.to_string();
        assert!(shown.contains(field), "{field} not named in: {shown}");
        assert!(shown.contains(detail), "{detail} not in: {shown}");
        assert!(shown.contains("page 1, row 2"), "no position in: {shown}");
    }
}

// Proves: when a later page fails, the error names the request by the insights path, and only
// by it: the paging link's query string (its cursor, its `access_token`) never reaches the
// message. The contract's error check covers the token on every platform; this is Meta's path.
#[tokio::test]
async fn an_error_on_a_later_page_does_not_echo_the_paging_link() {
    let server = MockServer::start().await;
    let next = meta::next_link(&server.uri(), "MQZDZD");
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(query_param_is_missing("after"))
        .respond_with(ok(meta::page(
            vec![meta::row("2024-05-01", "1", "1")],
            Some(&next),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(query_param("after", "MQZDZD"))
        .respond_with(answer(200).set_body_string("<html>upstream hiccup</html>"))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("page 2 is not JSON");

    assert_eq!(error.kind, ErrorKind::Decode);
    assert_names_source_and_range::<Meta>(&error, "2024-05-01..2024-05-07");
    assert!(error.to_string().contains(meta::INSIGHTS_PATH), "{error}");
    assert!(!error.to_string().contains("after=MQZDZD"), "{error}");
    assert_eq!(requests(&server).await.len(), 2);
}

// Proves: `probe` makes one call for the ad account's name, currency and time zone, with the
// token, and reports what it read.
#[tokio::test]
async fn probe_reads_the_ad_account_name_currency_and_time_zone() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::ACCOUNT_PATH))
        .and(query_param("fields", "name,currency,timezone_name"))
        .respond_with(ok(json!({
            "name": "Acme Store Ads",
            "currency": "EUR",
            "timezone_name": "Europe/Berlin",
            "id": "act_123456789",
        })))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, "");

    let found = source.probe().await.expect("the probe succeeds");

    for part in ["act_123456789", "Acme Store Ads", "EUR", "Europe/Berlin"] {
        assert!(found.contains(part), "{part} missing from: {found}");
    }
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        authorization(&sent[0]),
        Some(format!("Bearer {}", meta::TOKEN).as_str())
    );
}

// Proves: a probe with a refused token fails as `Auth`, naming the source, without the token.
#[tokio::test]
async fn probe_with_a_refused_token_is_an_auth_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::ACCOUNT_PATH))
        .respond_with(answer(400).set_body_json(meta::error(
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        )))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, "");

    let error = source.probe().await.expect_err("the token is refused");

    assert_eq!(error.kind, ErrorKind::Auth);
    let shown = error.to_string();
    assert!(shown.contains(&format!("{:?}", meta::SOURCE)), "{shown}");
    assert!(!shown.contains(meta::TOKEN), "{shown}");
}

/// A workspace whose Meta source pulls one day per request from `server`, with its token in a
/// file (so the in-process and the binary backfills both read it).
fn one_day_chunks(server: &MockServer) -> crate::helpers::Workspace {
    let ws = crate::helpers::Workspace::new();
    let token = ws.write("secrets/meta.token", meta::TOKEN);
    ws.config(&meta::table(
        "meta",
        &server.uri(),
        crate::fakes::TokenFrom::File(&token),
        "chunk_days = 1\ntimezone = \"UTC\"",
    ));
    ws
}

/// Starts a backfill of 2024-05-01..07 (seven one-day chunks) in-process and stops it the way
/// a kill does, while its fourth request hangs: three chunks stored, the run never finished.
async fn interrupted_backfill(server: &MockServer, ws: &crate::helpers::Workspace) {
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(ok(meta::page(vec![], None)))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(ok(meta::page(vec![], None)).set_delay(Duration::from_secs(3600)))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(ok(meta::page(vec![], None)))
        .with_priority(3)
        .mount(server)
        .await;
    let settings = kassa::config::Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let mut store = kassa::store::Store::open(&settings.store_path).unwrap();
    let week = range("2024-05-01", "2024-05-07");
    let backfill = kassa::pipeline::backfill(&settings, &mut store, week, &[], d("2024-06-01"));
    let fourth_request = async {
        while requests(server).await.len() < 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        outcome = backfill => panic!("the backfill was to hang, but ended: {outcome:?}"),
        () = fourth_request => {}
    }
}

/// Run again over the same range, an interrupted backfill pulls only the chunks it had not
/// stored, and says how many it skipped. Once it has finished well, running it again is a
/// deliberate re-pull of everything.
#[tokio::test(flavor = "multi_thread")]
async fn rerun_backfill_skips_stored_chunks() {
    let server = MockServer::start().await;
    let ws = one_day_chunks(&server);
    interrupted_backfill(&server, &ws).await;
    assert_eq!(requests(&server).await.len(), 4);

    let resumed = ws.kassa(&["backfill", "--from", "2024-05-01", "--to", "2024-05-07"]);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert_eq!(requests(&server).await.len(), 4 + 4, "days 4 to 7 only");
    assert!(
        resumed.stdout.contains(
            "meta: 0 rows over 2024-05-01..2024-05-07 (7 chunks); 3 chunks stored by the interrupted backfill skipped (--refresh pulls them again)"
        ),
        "{}",
        resumed.stdout
    );

    let again = ws.kassa(&["backfill", "--from", "2024-05-01", "--to", "2024-05-07"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        requests(&server).await.len(),
        8 + 7,
        "a finished backfill is re-pulled"
    );
    assert!(!again.stdout.contains("skipped"), "{}", again.stdout);
}

/// `backfill --refresh` pulls every chunk, even those the interrupted run stored.
#[tokio::test(flavor = "multi_thread")]
async fn refresh_repulls_everything() {
    let server = MockServer::start().await;
    let ws = one_day_chunks(&server);
    interrupted_backfill(&server, &ws).await;

    let refreshed = ws.kassa(&[
        "backfill",
        "--from",
        "2024-05-01",
        "--to",
        "2024-05-07",
        "--refresh",
    ]);
    assert_eq!(refreshed.code, 0, "{refreshed:?}");
    assert_eq!(requests(&server).await.len(), 4 + 7);
    assert!(
        !refreshed.stdout.contains("skipped"),
        "{}",
        refreshed.stdout
    );
}

/// The claims of the rows one page of `rows` reads as, through a source with `extra` keys.
async fn claims_of(rows: Vec<Value>, extra: &str) -> Vec<Claims> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(ok(meta::page(rows, None)))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, extra);
    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect("the pull succeeds");
    ad_rows(pull.rows).into_iter().map(|r| r.claims).collect()
}

// Proves: Meta lists one sale under `purchase`, `omni_purchase` and the pixel's type at once;
// kassa counts it once, from the first type of the list present in the row (here 3, not
// 3 + 3 + 2), and when `purchase` is absent from the next listed (`omni_purchase`). Revenue
// comes from `action_values` the same way; and the request asks for both lists with the
// account's attribution setting.
#[tokio::test]
async fn meta_overlapping_action_types_count_once() {
    let server = MockServer::start().await;
    let rows = vec![
        meta::with_actions(
            meta::row("2024-05-01", "31", "12.5"),
            &[
                ("link_click", "31"),
                ("offsite_conversion.fb_pixel_purchase", "2"),
                ("omni_purchase", "3"),
                ("purchase", "3"),
                ("offsite_conversion.fb_pixel_lead", "5"),
                ("lead", "5"),
            ],
            &[
                ("offsite_conversion.fb_pixel_purchase", "99"),
                ("omni_purchase", "150.50"),
                ("purchase", "150.50"),
            ],
        ),
        meta::with_actions(
            meta::row("2024-05-02", "20", "10"),
            &[
                ("omni_purchase", "4"),
                ("offsite_conversion.fb_pixel_purchase", "4"),
                ("onsite_conversion.lead_grouped", "7"),
            ],
            &[
                ("omni_purchase", "200"),
                ("offsite_conversion.fb_pixel_purchase", "200"),
            ],
        ),
    ];
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(ok(meta::page(rows, None)))
        .mount(&server)
        .await;
    let (_workspace, source) = meta::source(&server, "");

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect("the pull succeeds");

    let claims: Vec<Claims> = ad_rows(pull.rows).into_iter().map(|r| r.claims).collect();
    assert_eq!(
        claims,
        vec![
            Claims {
                leads: Some(5),
                purchases: Some(3),
                revenue: Some(money("150.5")),
            },
            Claims {
                leads: Some(7),
                purchases: Some(4),
                revenue: Some(money("200")),
            },
        ]
    );
    let sent = requests(&server).await;
    let fields = query(&sent[0], "fields").expect("a fields list");
    for field in ["actions", "action_values"] {
        assert!(
            fields.split(',').any(|f| f == field),
            "{field} not asked for in {fields}"
        );
    }
    assert_eq!(
        query(&sent[0], "use_unified_attribution_setting").as_deref(),
        Some("true")
    );
}

// Proves: the `claims` table decides which action types are which claim, in its order;
// revenue follows the purchases list unless it has its own; a row that reports actions but
// none of the listed types claims zero of them (Meta leaves zero actions out), not unknown.
#[tokio::test]
async fn meta_claims_follow_configured_action_types() {
    let rows = vec![
        meta::with_actions(
            meta::row("2024-05-01", "31", "12.5"),
            &[
                ("lead", "9"),
                ("offsite_conversion.fb_pixel_custom", "2"),
                ("purchase", "3"),
                ("offsite_conversion.fb_pixel_purchase", "1"),
            ],
            &[
                ("purchase", "300"),
                ("offsite_conversion.fb_pixel_purchase", "120.25"),
            ],
        ),
        meta::with_actions(
            meta::row("2024-05-02", "20", "10"),
            &[("link_click", "20")],
            &[("omni_add_to_cart", "55")],
        ),
    ];
    let custom = r#"claims = { leads = ["offsite_conversion.fb_pixel_custom", "lead"], purchases = ["offsite_conversion.fb_pixel_purchase"] }"#;
    let expected = vec![
        Claims {
            leads: Some(2),
            purchases: Some(1),
            revenue: Some(money("120.25")),
        },
        Claims {
            leads: Some(0),
            purchases: Some(0),
            revenue: Some(money("0")),
        },
    ];
    assert_eq!(claims_of(rows.clone(), custom).await, expected);

    let own_revenue = r#"claims = { purchases = ["offsite_conversion.fb_pixel_purchase"], revenue = ["purchase"] }"#;
    let claims = claims_of(rows, own_revenue).await;
    assert_eq!(claims[0].leads, Some(9), "the default leads list");
    assert_eq!(claims[0].purchases, Some(1));
    assert_eq!(claims[0].revenue, Some(money("300")));
}

// Proves: a row without `actions` reports no claim: every claim of it is `None`, not
// reported, never zero. A row with purchases but without `action_values` does not report
// their value (`None`); one without purchases nor `action_values` claims no revenue (zero).
#[tokio::test]
async fn meta_without_actions_is_not_reported() {
    let rows = vec![
        meta::row("2024-05-01", "31", "12.5"),
        meta::with_actions(
            meta::row("2024-05-02", "20", "10"),
            &[("lead", "4"), ("purchase", "1")],
            &[],
        ),
        meta::with_actions(meta::row("2024-05-03", "20", "10"), &[("lead", "2")], &[]),
    ];
    let claims = claims_of(rows, "").await;
    assert_eq!(
        claims,
        vec![
            Claims {
                leads: None,
                purchases: None,
                revenue: None,
            },
            Claims {
                leads: Some(4),
                purchases: Some(1),
                revenue: None,
            },
            Claims {
                leads: Some(2),
                purchases: Some(0),
                revenue: Some(money("0")),
            },
        ]
    );
}

// Proves: a claimed value that is not a count (or not an amount) fails the pull naming the
// list, the action type, the value, the page and row.
#[tokio::test]
async fn meta_bad_action_value_names_the_list_and_the_type() {
    for (actions, values, detail) in [
        (
            vec![("lead", "1.5")],
            vec![],
            "`actions`: action type \"lead\": \"1.5\"",
        ),
        (
            vec![("purchase", "1")],
            vec![("purchase", "-10")],
            "`action_values`: action type \"purchase\": \"-10\" is negative",
        ),
    ] {
        let server = MockServer::start().await;
        let bad = meta::with_actions(meta::row("2024-05-02", "5", "10"), &actions, &values);
        Mock::given(method("GET"))
            .and(path(meta::INSIGHTS_PATH))
            .respond_with(ok(meta::page(vec![bad], None)))
            .mount(&server)
            .await;
        let (_workspace, source) = meta::source(&server, "");

        let error = source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .expect_err("the row is refused");

        assert_eq!(error.kind, ErrorKind::InvalidData);
        let shown = error.to_string();
        assert!(shown.contains(detail), "{detail} not in: {shown}");
        assert!(shown.contains("page 1, row 1"), "no position in: {shown}");
    }
}
