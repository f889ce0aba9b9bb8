//! The Yandex Direct connector against a fake Reports API on 127.0.0.1 (`fakes::yandex_direct`)
//! that answers in Yandex's documented wire format: TSV reports, the offline queue (201/202
//! with `retryIn`), money in micros or decimals, errors as JSON with an `error_code`. The
//! checks every HTTP connector passes come from the contract kit (`connector`); this file holds
//! what is Yandex Direct's own.

use std::time::Duration;

use kassa::domain::{AdDay, Claims, Pulled};
use kassa::sources::ErrorKind;
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::connector::{assert_names_source_and_range, connector_contract};
use crate::fakes::yandex_direct::{self as fake, YandexDirect};
use crate::fakes::{authorization, json_bodies, ok, requests};
use crate::helpers::{assert_waited, d, money, range, source_config};

connector_contract!(contract, YandexDirect);

fn ad_rows(pulled: Pulled) -> Vec<AdDay> {
    match pulled {
        Pulled::Ads(rows) => rows,
        other => panic!("expected ad rows, got {other:?}"),
    }
}

fn brand_search(date: &str, impressions: u64, clicks: u64, spend: &str) -> AdDay {
    AdDay {
        date: d(date),
        channel: "yandex_direct".to_string(),
        account: String::new(),
        campaign_id: "70123456".to_string(),
        campaign_name: Some("Brand_Search".to_string()),
        impressions,
        reach: None,
        clicks,
        spend: money(spend),
        currency: Some("RUB".to_string()),
        claims: Claims::default(),
    }
}

/// Answers the report request with `answers` in order, the last one from then on.
async fn answers(server: &MockServer, answers: Vec<ResponseTemplate>) {
    let last = answers.len() - 1;
    for (i, answer) in answers.into_iter().enumerate() {
        let mock = Mock::given(method("POST"))
            .and(path(fake::REPORTS_PATH))
            .respond_with(answer)
            .with_priority(u8::try_from(i + 1).unwrap());
        let mock = if i < last {
            mock.up_to_n_times(1)
        } else {
            mock
        };
        mock.mount(server).await;
    }
}

fn header<'r>(request: &'r wiremock::Request, name: &str) -> Option<&'r str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

// Proves: a report accepted into the offline queue (201) and still being built (202) is asked
// for again, identically, after each `retryIn` (5 s, then 10 s, on the paused clock), and the
// 200's TSV arrives; every request carries the bearer token, the advertiser's `Client-Login`,
// `processingMode: auto`, `Accept-Language` and the skip headers; another range gets another
// report name.
#[tokio::test(start_paused = true)]
async fn offline_queue_201_then_202_then_200_honours_retry_in() {
    let server = MockServer::start().await;
    answers(
        &server,
        vec![
            fake::queued(201, 5, 1),
            fake::queued(202, 10, 1),
            fake::report(&fake::tsv(&[fake::line("2024-05-01", 31, 12_500_000)])),
        ],
    )
    .await;
    let (_workspace, source) = fake::source(&server, "client_login = \"advertiser-1\"");
    let started = Instant::now();

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    assert_waited(started, Duration::from_secs(15)..Duration::from_secs(16));
    let rows = ad_rows(pull.rows);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].spend, money("12.5"));
    assert_eq!(rows[0].account, "advertiser-1");
    let received = requests(&server).await;
    assert_eq!(received.len(), 3);
    for request in &received {
        let bearer = format!("Bearer {}", fake::TOKEN);
        assert_eq!(authorization(request), Some(bearer.as_str()));
        assert_eq!(header(request, "client-login"), Some("advertiser-1"));
        assert_eq!(header(request, "processingmode"), Some("auto"));
        assert_eq!(header(request, "accept-language"), Some("en"));
        assert_eq!(header(request, "skipreportsummary"), Some("true"));
        assert_eq!(header(request, "returnmoneyinmicros"), None);
    }
    let bodies = json_bodies(&server).await;
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "every poll repeats the request"
    );
    let params = &bodies[0]["params"];
    assert_eq!(params["ReportType"], "CUSTOM_REPORT");
    assert_eq!(params["Format"], "TSV");
    assert_eq!(params["SelectionCriteria"]["DateFrom"], "2024-05-01");
    assert_eq!(params["SelectionCriteria"]["DateTo"], "2024-05-07");
    assert_eq!(
        params["FieldNames"],
        json!([
            "Date",
            "CampaignId",
            "CampaignName",
            "Impressions",
            "Clicks",
            "Cost"
        ])
    );

    source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap();
    let bodies = json_bodies(&server).await;
    assert_ne!(
        bodies[0]["params"]["ReportName"], bodies[3]["params"]["ReportName"],
        "each distinct report has its own name"
    );
}

// Proves: a report that stays in the offline queue is given up after `max_wait_minutes`
// (measured on the paused clock), with an error naming the key to raise.
#[tokio::test(start_paused = true)]
async fn a_report_queued_past_max_wait_minutes_is_an_error_naming_the_key() {
    let server = MockServer::start().await;
    answers(&server, vec![fake::queued(202, 50, 5)]).await;
    let (_workspace, source) = fake::source(&server, "max_wait_minutes = 2");
    let started = Instant::now();

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap_err();

    assert_eq!(error.kind, ErrorKind::Server, "{error}");
    assert!(error.message.contains("max_wait_minutes"), "{error}");
    assert_names_source_and_range::<YandexDirect>(&error, "2024-05-01");
    assert_waited(started, Duration::from_secs(100)..Duration::from_secs(101));
    assert_eq!(requests(&server).await.len(), 3);
}

// Proves: the documented example report, with its report-name line and its `Total rows` line
// (both there when Yandex ignores the skip headers), is read with money in micros, exactly;
// reach is not reported (null, never zero); the columns kassa does not use (Ctr, AvgCpc) are
// ignored.
#[tokio::test(start_paused = true)]
async fn tsv_with_micros_and_a_totals_line_is_read_exactly() {
    let server = MockServer::start().await;
    answers(
        &server,
        vec![fake::report(&fake::fixture("report_micros.tsv"))],
    )
    .await;
    let (_workspace, source) = fake::source(&server, "");

    let pull = source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap();

    assert_eq!(pull.covered, Some(range("2024-05-01", "2024-05-02")));
    assert_eq!(
        ad_rows(pull.rows),
        vec![
            brand_search("2024-05-01", 10234, 312, "125.5"),
            brand_search("2024-05-02", 9876, 298, "118.8"),
        ]
    );
}

// Proves: a totals line that disagrees with the rows read (a report that lost lines) is an
// error naming the line, never a short success.
#[tokio::test(start_paused = true)]
async fn a_totals_line_that_disagrees_with_the_rows_is_an_error() {
    let server = MockServer::start().await;
    let short = format!(
        "{}Total rows: 2\n",
        fake::tsv(&[fake::line("2024-05-01", 31, 12_500_000)])
    );
    answers(&server, vec![fake::report(&short)]).await;
    let (_workspace, source) = fake::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap_err();

    assert_eq!(error.kind, ErrorKind::Decode, "{error}");
    assert!(error.message.contains("line 3"), "{error}");
}

// Proves: `money_in_micros = false` sends `returnMoneyInMicros: false` and reads the decimals
// Yandex then sends (the documented example) to the same amounts.
#[tokio::test(start_paused = true)]
async fn return_money_in_micros_false_reads_decimals() {
    let server = MockServer::start().await;
    answers(
        &server,
        vec![fake::report(&fake::fixture("report_decimals.tsv"))],
    )
    .await;
    let (_workspace, source) = fake::source(&server, "money_in_micros = false");

    let pull = source
        .pull(range("2024-05-01", "2024-05-02"))
        .await
        .unwrap();

    assert_eq!(
        ad_rows(pull.rows),
        vec![
            brand_search("2024-05-01", 10234, 312, "125.5"),
            brand_search("2024-05-02", 9876, 298, "118.8"),
        ]
    );
    let received = requests(&server).await;
    assert_eq!(header(&received[0], "returnmoneyinmicros"), Some("false"));
}

// Proves: with claims configured, the report asks for `Conversions` and `Revenue` of the
// configured goals under the configured attribution model; leads are the lead goal's
// conversions, purchases and revenue the purchase goal's; a goal shown as `--` leaves its claim
// unreported (null), never zero. The default lookback is 28 days with claims, 3 without.
#[tokio::test(start_paused = true)]
async fn claims_come_from_goal_conversions_and_revenue() {
    let server = MockServer::start().await;
    answers(
        &server,
        vec![fake::report(&fake::fixture("report_goals.tsv"))],
    )
    .await;
    let claims = "claims = { lead_goals = [12345678], purchase_goals = [87654321], attribution_model = \"LSC\" }";
    let (_workspace, source) = fake::source(&server, claims);

    let rows = ad_rows(
        source
            .pull(range("2024-05-01", "2024-05-02"))
            .await
            .unwrap()
            .rows,
    );

    assert_eq!(
        rows[0].claims,
        Claims {
            leads: Some(7),
            purchases: Some(2),
            revenue: Some(money("9990")),
        }
    );
    assert_eq!(rows[1].claims, Claims::default());
    assert_eq!(rows[0].spend, money("125.5"));
    let params = &json_bodies(&server).await[0]["params"];
    assert_eq!(params["Goals"], json!([12345678, 87654321]));
    assert_eq!(params["AttributionModels"], json!(["LSC"]));
    let fields: Vec<Value> = params["FieldNames"].as_array().unwrap().clone();
    assert!(fields.contains(&json!("Conversions")) && fields.contains(&json!("Revenue")));

    let table = |extra: &str| {
        source_config(&fake::table(
            "y",
            "https://api.direct.yandex.com",
            crate::fakes::TokenFrom::Env("PATH"),
            extra,
        ))
    };
    assert_eq!(table(claims).lookback_days(), 28);
    assert_eq!(table("").lookback_days(), 3);
}

// Proves: Yandex's "invalid token" (error_code 53, HTTP 400) fails at once as an auth failure
// whose message says what to fix (a new OAuth token, where token_env/token_file point), names
// the source and range, and never shows the token.
#[tokio::test(start_paused = true)]
async fn an_invalid_token_error_53_names_what_to_fix() {
    let server = MockServer::start().await;
    answers(
        &server,
        vec![fake::error(400, fake::json_fixture("error_53.json"))],
    )
    .await;
    let (_workspace, source) = fake::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap_err();

    assert_eq!(error.kind, ErrorKind::Auth, "{error}");
    let shown = error.to_string();
    assert!(shown.contains("error 53"), "{shown}");
    assert!(shown.contains("token_env or token_file"), "{shown}");
    assert_names_source_and_range::<YandexDirect>(&error, "2024-05-01");
    assert_eq!(requests(&server).await.len(), 1, "not retried");
}

// Proves: a full offline queue (error_code 9000, HTTP 400) is throttling: waited out (a minute,
// since Yandex names no wait), then the report arrives.
#[tokio::test(start_paused = true)]
async fn a_full_offline_queue_error_9000_is_waited_out() {
    let server = MockServer::start().await;
    answers(
        &server,
        vec![
            fake::error(400, fake::json_fixture("error_9000.json")),
            fake::report(&fake::tsv(&[fake::line("2024-05-01", 31, 12_500_000)])),
        ],
    )
    .await;
    let (_workspace, source) = fake::source(&server, "");
    let started = Instant::now();

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    assert_eq!(pull.rows.len(), 1);
    assert_waited(started, Duration::from_secs(60)..Duration::from_secs(61));
}

// Proves: a value that is not a number fails the pull with an error naming the field and the
// report line, never a row with a guessed value.
#[tokio::test(start_paused = true)]
async fn a_bad_number_names_the_field_and_the_line() {
    let server = MockServer::start().await;
    let bad = fake::tsv(&[
        fake::line("2024-05-01", 31, 12_500_000),
        "2024-05-02\t70123456\tBrand_Search\t1000\t3x1\t12500000".to_string(),
    ]);
    answers(&server, vec![fake::report(&bad)]).await;
    let (_workspace, source) = fake::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap_err();

    assert_eq!(error.kind, ErrorKind::InvalidData, "{error}");
    assert!(error.message.contains("line 3"), "{error}");
    assert!(error.message.contains("`Clicks`"), "{error}");
    assert!(error.message.contains("3x1"), "{error}");
}

// Proves: `kassa check`'s probe reads the advertiser's login and currency with `Clients.get`,
// sending `Client-Login`, and says when the configured currency differs.
#[tokio::test(start_paused = true)]
async fn the_probe_reads_the_client_and_its_currency() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(fake::CLIENTS_PATH))
        .respond_with(ok(fake::client("advertiser-1", "KZT")))
        .mount(&server)
        .await;
    let (_workspace, source) = fake::source(&server, "client_login = \"advertiser-1\"");

    let found = source.probe().await.unwrap();

    assert!(found.contains("advertiser-1"), "{found}");
    assert!(found.contains("set it to \"KZT\""), "{found}");
    let received = requests(&server).await;
    assert_eq!(header(&received[0], "client-login"), Some("advertiser-1"));
}
