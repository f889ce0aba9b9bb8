//! The Google Ads connector against a fake Google Ads API on 127.0.0.1 (`fakes::google_ads`)
//! that answers in its documented REST wire format: `searchStream` answers as a JSON array of
//! batches, int64 values as strings, Google's error envelope with Google Ads failure codes,
//! quota errors with `retryDelay`, and Google's OAuth2 token endpoint. The checks every HTTP
//! connector passes come from the contract kit (`connector`); this file holds what is Google
//! Ads' own.

use std::time::Duration;

use kassa::domain::{AdDay, Claims, Pulled};
use kassa::sources::ErrorKind;
use kassa::sources::google_ads::STREAM_RESTARTS;
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::connector::{Platform, assert_names_source_and_range, connector_contract};
use crate::fakes::google_ads::{self, GoogleAds};
use crate::fakes::{answer, authorization, ok, requests};
use crate::helpers::{assert_waited, d, money, paused_clock_context, range, script, source_config};

connector_contract!(contract, GoogleAds);

fn ads(pulled: Pulled) -> Vec<AdDay> {
    match pulled {
        Pulled::Ads(rows) => rows,
        other => panic!("expected ad rows, got {other:?}"),
    }
}

/// The requests `server` received on `route`.
async fn on(server: &MockServer, route: &str) -> Vec<wiremock::Request> {
    let mut all = requests(server).await;
    all.retain(|r| r.url.path() == route);
    all
}

/// Answers every stream request with `response`, and issues tokens.
async fn serve(server: &MockServer, response: ResponseTemplate) {
    google_ads::mount_token(server).await;
    Mock::given(method("POST"))
        .and(path(google_ads::STREAM_PATH))
        .respond_with(response)
        .mount(server)
        .await;
}

/// The GAQL query a stream request carried.
fn query_of(request: &wiremock::Request) -> String {
    let body: Value = request.body_json().expect("a JSON body");
    body["query"].as_str().expect("a query").to_string()
}

fn header<'r>(request: &'r wiremock::Request, name: &str) -> Option<&'r str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

// Proves: the documented stream is read: int64 metrics from strings, cost from micros
// exactly, the currency from `customer.currencyCode`, the campaign's id and name; reach stays
// unknown and claims are not reported unless asked for; the query is GAQL on `campaign` with
// `segments.date` over the range; the access token comes from the refresh token (form-encoded,
// as Google's token endpoint wants) and neither a developer token nor a manager header is sent
// when not configured.
#[tokio::test]
async fn reads_the_documented_stream_int64_strings_and_cost_micros() {
    let server = MockServer::start().await;
    serve(
        &server,
        ok(google_ads::fixture("search_stream.json", &server)),
    )
    .await;
    let (_workspace, source) = google_ads::source(&server, "channel = \"google\"");

    let pull = source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap();

    let expected = |date: &str, impressions, clicks, spend: &str| AdDay {
        date: d(date),
        channel: "google".into(),
        account: google_ads::CUSTOMER.into(),
        campaign_id: "111111".into(),
        campaign_name: Some("Brand_Search".into()),
        impressions,
        reach: None,
        clicks,
        spend: money(spend),
        currency: Some("USD".into()),
        claims: Claims::default(),
    };
    assert_eq!(
        ads(pull.rows),
        vec![
            expected("2024-05-01", 10234, 312, "125.50"),
            expected("2024-05-02", 9876, 298, "118.80"),
        ]
    );
    assert_eq!(pull.covered, Some(range("2024-05-01", "2024-05-02")));
    let streams = on(&server, google_ads::STREAM_PATH).await;
    let query = query_of(&streams[0]);
    assert!(query.contains("FROM campaign"), "{query}");
    assert!(
        query.contains("segments.date BETWEEN '2024-05-01' AND '2024-05-02'"),
        "{query}"
    );
    assert!(query.contains("metrics.cost_micros"), "{query}");
    assert!(!query.contains("conversions"), "{query}");
    let bearer = format!("Bearer {}", google_ads::ACCESS_TOKEN);
    assert_eq!(authorization(&streams[0]), Some(bearer.as_str()));
    assert_eq!(header(&streams[0], "developer-token"), None);
    assert_eq!(header(&streams[0], "login-customer-id"), None);
    let tokens = on(&server, google_ads::TOKEN_PATH).await;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&tokens[0].body)
        .into_owned()
        .collect();
    for pair in [
        ("grant_type", "refresh_token"),
        ("refresh_token", google_ads::REFRESH_TOKEN),
        ("client_id", google_ads::CLIENT_ID),
        ("client_secret", google_ads::TOKEN),
    ] {
        assert!(form.contains(&(pair.0.into(), pair.1.into())), "{form:?}");
    }
}

// Proves: a stream of several batches in one answer is read whole, in order, across batches;
// a final batch holding only `queryResourceConsumption` adds nothing; a count proto3 left out
// (no clicks) is zero, while cost is present.
#[tokio::test]
async fn a_multi_batch_stream_is_read_whole() {
    let server = MockServer::start().await;
    serve(
        &server,
        ok(google_ads::fixture("search_stream_batches.json", &server)),
    )
    .await;
    let (_workspace, source) = google_ads::source(&server, "");

    let rows = ads(source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap()
        .rows);

    let seen: Vec<(String, String, u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.date.to_string(),
                r.campaign_id.clone(),
                r.impressions,
                r.clicks,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("2024-05-01".into(), "111111".into(), 10234, 312),
            ("2024-05-01".into(), "222222".into(), 2000, 41),
            ("2024-05-02".into(), "111111".into(), 9876, 298),
            ("2024-05-02".into(), "222222".into(), 150, 0),
        ]
    );
    assert_eq!(rows[1].spend, money("20.01"));
    assert_eq!(rows[3].spend, money("0"));
    assert!(rows.iter().all(|r| r.currency.as_deref() == Some("EUR")));
    assert_eq!(on(&server, google_ads::STREAM_PATH).await.len(), 1);
}

// Proves: `RESOURCE_TEMPORARILY_EXHAUSTED` is waited out for exactly its `retryDelay`
// (30 s on the paused clock, not the sub-second backoff), then the stream is read.
#[tokio::test(start_paused = true)]
async fn resource_temporarily_exhausted_is_waited_out_for_its_retry_delay() {
    let server = MockServer::start().await;
    google_ads::mount_token(&server).await;
    script(
        &server,
        "POST",
        google_ads::STREAM_PATH,
        answer(429).set_body_json(google_ads::fixture(
            "quota_temporarily_exhausted.json",
            &server,
        )),
        ok(google_ads::fixture("search_stream.json", &server)),
    )
    .await;
    let (_workspace, source) = google_ads::source(&server, "");
    let started = Instant::now();

    let pull = source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap();

    assert_eq!(pull.rows.len(), 2);
    assert_waited(started, Duration::from_secs(30)..Duration::from_secs(31));
    assert_eq!(on(&server, google_ads::STREAM_PATH).await.len(), 2);
}

// Proves: `RESOURCE_EXHAUSTED` (the project's daily operations cap, sent inside the stream's
// array as Google does) is not retried; the error says what it is and that the source stops
// for the run; a later pull of the same run (the next chunk) fails at once without asking
// Google again.
#[tokio::test(start_paused = true)]
async fn resource_exhausted_stops_the_source_for_the_run() {
    let server = MockServer::start().await;
    serve(
        &server,
        answer(429).set_body_json(google_ads::fixture("quota_exhausted.json", &server)),
    )
    .await;
    let (_workspace, source) = google_ads::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("the daily cap is spent");

    // A spent quota is its own kind: the pipeline asks no further chunk of the source this
    // run (`faults::a_spent_daily_quota_stops_the_source_for_the_run`).
    assert_eq!(error.kind, ErrorKind::QuotaSpent, "{error}");
    assert_names_source_and_range::<GoogleAds>(&error, "2024-05-01");
    let shown = error.to_string();
    assert!(shown.contains("daily operations cap"), "{shown}");
    assert!(shown.contains("stops for this run"), "{shown}");
    assert!(shown.contains("dAiLyCaPrEqUeSt"), "the request id: {shown}");
    assert_eq!(on(&server, google_ads::STREAM_PATH).await.len(), 1);
}

// Proves: an access token Google refuses (401 UNAUTHENTICATED before its announced expiry)
// is refreshed once from the refresh token, the stream asked again with the new one, and the
// new one cached: a second run with the same store asks for no token.
#[tokio::test(start_paused = true)]
async fn an_expired_access_token_is_refreshed_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(google_ads::TOKEN_PATH))
        .respond_with(google_ads::token_answer(google_ads::ACCESS_TOKEN, &server))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(google_ads::TOKEN_PATH))
        .respond_with(google_ads::token_answer(google_ads::RENEWED_TOKEN, &server))
        .with_priority(2)
        .mount(&server)
        .await;
    script(
        &server,
        "POST",
        google_ads::STREAM_PATH,
        answer(401).set_body_json(google_ads::fixture("unauthenticated.json", &server)),
        ok(google_ads::fixture("search_stream.json", &server)),
    )
    .await;
    let context = paused_clock_context();

    for _run in 0..2 {
        let (_workspace, source) = google_ads::source_with(&server, "", &context);
        let pull = source
            .pull(range("2024-05-01", "2024-05-02"))
            .await
            .unwrap();
        assert_eq!(pull.rows.len(), 2);
    }

    assert_eq!(on(&server, google_ads::TOKEN_PATH).await.len(), 2);
    let streams = on(&server, google_ads::STREAM_PATH).await;
    assert_eq!(
        streams.len(),
        3,
        "the refused request, its repeat, the second run"
    );
    let renewed = format!("Bearer {}", google_ads::RENEWED_TOKEN);
    assert!(
        streams[1..]
            .iter()
            .all(|r| authorization(r) == Some(renewed.as_str()))
    );
}

// Proves: a token Google keeps refusing is an authentication error naming what to fix (the
// three credentials, the adwords scope) and the customer, tried with one fresh token only.
#[tokio::test(start_paused = true)]
async fn unauthenticated_names_the_credentials_to_check() {
    let server = MockServer::start().await;
    serve(
        &server,
        answer(401).set_body_json(google_ads::fixture("unauthenticated.json", &server)),
    )
    .await;
    let (_workspace, source) = google_ads::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .expect_err("refused");

    assert_eq!(error.kind, ErrorKind::Auth, "{error}");
    let shown = error.to_string();
    for words in ["refresh_token", "adwords", "customer 1234567890"] {
        assert!(shown.contains(words), "{words}: {shown}");
    }
    assert_names_source_and_range::<GoogleAds>(&error, "2024-05-01");
    assert_eq!(on(&server, google_ads::STREAM_PATH).await.len(), 2);
}

// Proves: PERMISSION_DENIED (USER_PERMISSION_DENIED) says to set login_customer_id when the
// customer is reached through a manager, and CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION says in
// plain words that the Cloud project has Test access only and what to apply for; neither is
// retried.
#[tokio::test(start_paused = true)]
async fn permission_errors_say_what_to_fix() {
    let cases = [
        ("permission_denied.json", "set login_customer_id"),
        ("cloud_project_not_approved.json", "Test access only"),
    ];
    for (fixture, words) in cases {
        let server = MockServer::start().await;
        serve(
            &server,
            answer(403).set_body_json(google_ads::fixture(fixture, &server)),
        )
        .await;
        let (_workspace, source) = google_ads::source(&server, "");

        let error = source
            .pull(range("2024-05-01", "2024-05-02"))
            .await
            .expect_err("refused");

        assert_eq!(error.kind, ErrorKind::Auth, "{fixture}: {error}");
        assert!(error.to_string().contains(words), "{fixture}: {error}");
        assert!(error.to_string().contains("reached directly"), "{error}");
        assert_eq!(on(&server, google_ads::STREAM_PATH).await.len(), 1);
    }
}

// Proves: a manager's id goes in `login-customer-id` (digits only) and a configured developer
// token in `developer-token`; both are optional.
#[tokio::test]
async fn manager_and_developer_token_headers_are_sent_only_when_configured() {
    let server = MockServer::start().await;
    serve(&server, ok(GoogleAds::empty_page())).await;
    let workspace = crate::helpers::Workspace::new();
    let developer = workspace.write("secrets/dev", "kassaDEVtoken\n");
    let (_workspace, source) = google_ads::source(
        &server,
        &format!(
            "login_customer_id = \"111-222-3333\"\ndeveloper_token_file = {:?}",
            developer.display().to_string()
        ),
    );

    source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap();

    let streams = on(&server, google_ads::STREAM_PATH).await;
    assert_eq!(header(&streams[0], "login-customer-id"), Some("1112223333"));
    assert_eq!(
        header(&streams[0], "developer-token"),
        Some("kassaDEVtoken")
    );
    let bearer = format!("Bearer {}", google_ads::ACCESS_TOKEN);
    assert_eq!(authorization(&streams[0]), Some(bearer.as_str()));
}

// Proves: `conversions = "purchases"` reads click-date conversions as claimed purchases
// (fractions rounded) and their value as revenue in the row's currency, a zero as zero;
// `conversions = "leads"` with `conversions_by = "conversion"` asks for the conversion-date
// metrics and reads them as leads; the lookback is 30 days with conversions, 14 without.
#[tokio::test]
async fn conversions_are_claims_by_click_date_or_conversion_date() {
    let server = MockServer::start().await;
    serve(
        &server,
        ok(google_ads::fixture("search_stream.json", &server)),
    )
    .await;
    let (_workspace, source) = google_ads::source(&server, "conversions = \"purchases\"");

    let rows = ads(source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap()
        .rows);

    assert_eq!(
        rows[0].claims,
        Claims {
            leads: None,
            purchases: Some(13),
            revenue: Some(money("1875.25")),
        }
    );
    assert_eq!(rows[1].claims.purchases, Some(0));
    assert_eq!(rows[1].claims.revenue, Some(money("0")));
    let query = query_of(&on(&server, google_ads::STREAM_PATH).await[0]);
    assert!(
        query.contains("metrics.conversions, metrics.conversions_value"),
        "{query}"
    );

    let server = MockServer::start().await;
    let mut by_conversion = google_ads::fixture("search_stream.json", &server);
    for result in by_conversion[0]["results"].as_array_mut().unwrap() {
        result["metrics"]["conversionsByConversionDate"] = json!(4.0);
    }
    serve(&server, ok(by_conversion)).await;
    let (_workspace, source) = google_ads::source(
        &server,
        "conversions = \"leads\"\nconversions_by = \"conversion\"",
    );
    let rows = ads(source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap()
        .rows);
    assert_eq!(
        rows[0].claims,
        Claims {
            leads: Some(4),
            purchases: None,
            revenue: None,
        }
    );
    let query = query_of(&on(&server, google_ads::STREAM_PATH).await[0]);
    assert!(
        query.contains("metrics.conversions_by_conversion_date"),
        "{query}"
    );

    let workspace = crate::helpers::Workspace::new();
    let files = google_ads::credentials(&workspace);
    let lookback = |extra: &str| {
        source_config(&google_ads::table("g", &server.uri(), &files, extra)).lookback_days()
    };
    assert_eq!(lookback(""), 14);
    assert_eq!(lookback("conversions = \"leads\""), 30);
}

// Proves: the customer's time zone is read from the API (`customer.time_zone` through a
// stream on `customer`) when the table has no `timezone`, so days end in the customer's zone.
#[tokio::test]
async fn the_customer_time_zone_is_read_from_the_api() {
    let server = MockServer::start().await;
    serve(&server, ok(google_ads::fixture("customer.json", &server))).await;
    let (_workspace, source) = google_ads::source(&server, "");

    let zone = source.timezone().await.unwrap();

    assert_eq!(zone, Some(chrono_tz::America::New_York));
    let query = query_of(&on(&server, google_ads::STREAM_PATH).await[0]);
    assert!(
        query.contains("customer.time_zone FROM customer"),
        "{query}"
    );
    let probe = source.probe().await.unwrap();
    assert!(
        probe.contains("kassa test customer") && probe.contains("USD"),
        "{probe}"
    );
}

// Proves: a stream that keeps breaking off (HTTP 200, then UNAVAILABLE inside the array) is
// started again at most STREAM_RESTARTS times, then fails as a platform error naming how
// often; its partial rows are never returned.
#[tokio::test(start_paused = true)]
async fn a_stream_that_keeps_breaking_off_fails_after_its_restarts() {
    let server = MockServer::start().await;
    serve(
        &server,
        google_ads::broken_off(vec![google_ads::row("2024-05-02", "1", 10, 1, 100)]),
    )
    .await;
    let (_workspace, source) = google_ads::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("it never finishes");

    assert_eq!(error.kind, ErrorKind::Server, "{error}");
    assert!(error.to_string().contains("broke off 3 times"), "{error}");
    assert_eq!(
        on(&server, google_ads::STREAM_PATH).await.len(),
        1 + STREAM_RESTARTS as usize
    );
}

// Proves: a row without `costMicros` is an error naming the field, the campaign and the day,
// never a zero spend; a cost that is not an int64 string names it too.
#[tokio::test(start_paused = true)]
async fn a_missing_or_malformed_cost_names_the_field_campaign_and_day() {
    for (cost, words) in [(Value::Null, "is missing"), (json!("12.5"), "whole number")] {
        let server = MockServer::start().await;
        let mut row = google_ads::row("2024-05-02", "111111", 10, 1, 100);
        match &cost {
            Value::Null => {
                row["metrics"].as_object_mut().unwrap().remove("costMicros");
            }
            other => row["metrics"]["costMicros"] = other.clone(),
        }
        serve(&server, ok(json!([google_ads::batch(vec![row])]))).await;
        let (_workspace, source) = google_ads::source(&server, "");

        let error = source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .expect_err("no cost, no row");

        assert_eq!(error.kind, ErrorKind::InvalidData, "{error}");
        let shown = error.to_string();
        for part in ["metrics.costMicros", "campaign 111111", "2024-05-02", words] {
            assert!(shown.contains(part), "{part}: {shown}");
        }
    }
}

/// Answers the customer query with the customer (in New York) and every campaign query with
/// no rows, as one `searchStream` endpoint does.
struct ByQuery(Value);

impl wiremock::Respond for ByQuery {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        if query_of(request).contains("FROM customer") {
            ok(self.0.clone())
        } else {
            ok(GoogleAds::empty_page())
        }
    }
}

// Guards: a Google Ads source without a `timezone` key takes the customer's
// `customer.time_zone`: a customer in New York has not finished Sunday at 06:00 on Monday in
// Moscow, so Sunday is pending for it (not requested, no failure), and the campaign query
// stops at Saturday.
#[tokio::test]
async fn only_days_ended_in_the_customer_zone_are_asked_for() {
    let server = MockServer::start().await;
    google_ads::mount_token(&server).await;
    Mock::given(method("POST"))
        .and(path(google_ads::STREAM_PATH))
        .respond_with(ByQuery(google_ads::fixture("customer.json", &server)))
        .mount(&server)
        .await;
    let ws = crate::helpers::Workspace::new();
    let files = google_ads::credentials(&ws);
    ws.config(&format!(
        "[analysis]\ntimezone = \"Europe/Moscow\"\n\n{}",
        google_ads::table("google", &server.uri(), &files, "lookback_days = 3")
    ));
    let settings = kassa::config::Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let mut store = kassa::store::Store::open(&settings.store_path).unwrap();
    let monday_6am_moscow: chrono::DateTime<chrono::Utc> = "2025-05-26T03:00:00Z".parse().unwrap();

    let outcome = kassa::cycle::run_cycle(&settings, &mut store, &[], monday_6am_moscow)
        .await
        .unwrap();

    assert!(!outcome.partial(), "{outcome:?}");
    let google = &outcome.sources[0];
    assert_eq!(google.timezone, Some(chrono_tz::America::New_York));
    assert_eq!(
        google.pending,
        kassa::domain::DateRange::new(d("2025-05-25"), d("2025-05-25"))
    );
    let campaign_queries: Vec<String> = on(&server, google_ads::STREAM_PATH)
        .await
        .iter()
        .map(query_of)
        .filter(|q| q.contains("FROM campaign"))
        .collect();
    assert_eq!(campaign_queries.len(), 1);
    assert!(
        campaign_queries[0].contains("AND '2025-05-24'"),
        "Saturday is the last day asked for: {}",
        campaign_queries[0]
    );
}

// Proves: a service account's key file logs in with the JWT bearer grant: the token request
// carries an RS256 assertion that verifies against the key file's key, issued by the service
// account's e-mail, addressed to the token endpoint, for the adwords scope, and no client id
// or secret; the access token it brings is used and kept, so a second run signs nothing.
#[tokio::test]
async fn a_service_account_key_file_logs_in_with_a_signed_jwt() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use ring::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};

    let server = MockServer::start().await;
    serve(
        &server,
        ok(google_ads::fixture("search_stream.json", &server)),
    )
    .await;
    let context = paused_clock_context();

    for _run in 0..2 {
        let (_workspace, source) = google_ads::service_account_source(&server, &context);
        let pull = source
            .pull(range("2024-05-01", "2024-05-02"))
            .await
            .unwrap();
        assert_eq!(pull.rows.len(), 2);
    }

    let tokens = on(&server, google_ads::TOKEN_PATH).await;
    assert_eq!(tokens.len(), 1, "one token for two runs");
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&tokens[0].body)
            .into_owned()
            .collect();
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert!(
        !form.contains_key("client_id") && !form.contains_key("client_secret"),
        "{form:?}"
    );
    let jwt: Vec<&str> = form["assertion"].split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], google_ads::SERVICE_ACCOUNT);
    assert_eq!(
        claims["aud"],
        format!("{}{}", server.uri(), google_ads::TOKEN_PATH)
    );
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/adwords");

    let key_file = google_ads::fixture("service_account.json", &server);
    let pem = key_file["private_key"].as_str().unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let key = RsaKeyPair::from_pkcs8(&STANDARD.decode(body).unwrap()).unwrap();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key().as_ref())
        .verify(
            format!("{}.{}", jwt[0], jwt[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(jwt[2]).unwrap(),
        )
        .expect("the assertion is signed with the key file's key");
    let streams = on(&server, google_ads::STREAM_PATH).await;
    let bearer = format!("Bearer {}", google_ads::ACCESS_TOKEN);
    assert!(
        streams
            .iter()
            .all(|r| authorization(r) == Some(bearer.as_str()))
    );
}

// Proves: a key file that is not one (not JSON, no private key, a key that is not RSA PKCS#8)
// fails the build as a configuration error that names what is wrong and never quotes the file;
// a table with both a key file and an OAuth client is refused by validation.
#[tokio::test]
async fn a_bad_service_account_key_names_what_is_wrong_without_quoting_it() {
    let cases = [
        ("not json secret-material", "not a JSON key file"),
        (
            r#"{"client_email": "a@b", "private_key_id": "x"}"#,
            "no `private_key`",
        ),
        (
            r#"{"client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END PRIVATE KEY-----\n"}"#,
            "not a usable RSA private key",
        ),
    ];
    for (contents, words) in cases {
        let workspace = crate::helpers::Workspace::new();
        let key_file = workspace.write("key.json", contents);
        let table = format!(
            "[[sources]]\nname = \"g\"\nkind = \"google_ads\"\ncustomer_id = \"1234567890\"\nservice_account_key_file = {:?}\n",
            key_file.display().to_string()
        );
        let error = source_config(&table)
            .build(&paused_clock_context())
            .expect_err("an unusable key");
        assert_eq!(error.kind, ErrorKind::Config, "{error}");
        let shown = error.to_string();
        assert!(
            shown.contains(words) && shown.contains("service account key"),
            "{shown}"
        );
        assert!(
            !shown.contains("secret-material") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
    }

    let workspace = crate::helpers::Workspace::new();
    let key_file = workspace.write("key.json", "{}");
    let files = google_ads::credentials(&workspace);
    let table = google_ads::table(
        "g",
        "https://googleads.googleapis.com",
        &files,
        &format!(
            "service_account_key_file = {:?}",
            key_file.display().to_string()
        ),
    );
    let sources: Vec<kassa::sources::SourceConfig> = config::Config::builder()
        .add_source(config::File::from_str(&table, config::FileFormat::Toml))
        .build()
        .unwrap()
        .get("sources")
        .unwrap();
    let mut problems = kassa::validation::Problems::default();
    sources[0].validate("sources[0]", &mut problems);
    assert!(problems.to_string().contains("keep one"), "{problems}");
}
