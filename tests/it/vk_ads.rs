//! The VK Ads connector against a fake VK Ads API on 127.0.0.1 (`fakes::vk_ads`) that answers
//! in its documented wire format: a client-credentials token endpoint, the ad plan listing by
//! `offset`, v2 daily statistics with integer counts and `spent` as a decimal string, and 429s
//! with `X-RateLimit-*` headers. The checks every HTTP connector passes come from the contract
//! kit (`connector`); this file holds what is VK Ads' own.

use kassa::domain::{AdDay, Claims, Pulled};
use kassa::sources::ErrorKind;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::connector::{Platform, assert_names_source_and_range, connector_contract};
use crate::fakes::vk_ads::{self, VkAds};
use crate::fakes::{answer, authorization, ok, query, requests};
use crate::helpers::{d, money, paused_clock_context, range};

connector_contract!(contract, VkAds);

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

async fn mount(server: &MockServer, route: &str, response: impl wiremock::Respond + 'static) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(response)
        .mount(server)
        .await;
}

// Proves: the ad plans are listed first, then their statistics asked for by id with the
// range, `metrics=base` and the bearer token; counts are read from integers and `spent` from
// its decimal string exactly; goals become claimed leads; reach stays unknown (the `base`
// metrics have none), never zero; a day with nothing on it adds no row; rows carry the
// ad plan's name, the configured channel and the account currency.
#[tokio::test]
async fn reads_the_documented_statistics_spent_exactly_goals_as_leads_reach_unknown() {
    let server = MockServer::start().await;
    vk_ads::mount_token(&server).await;
    mount(
        &server,
        vk_ads::AD_PLANS_PATH,
        ok(vk_ads::fixture("ad_plans.json", &server)),
    )
    .await;
    mount(
        &server,
        vk_ads::STATS_PATH,
        ok(vk_ads::fixture("day.json", &server)),
    )
    .await;
    let (_workspace, source) = vk_ads::source(&server, "channel = \"vk\"");

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    let expected = |date: &str, shows, clicks, spent: &str, goals| AdDay {
        date: d(date),
        channel: "vk".into(),
        account: vk_ads::CLIENT_ID.into(),
        campaign_id: "8372481".into(),
        campaign_name: Some("Весенняя распродажа".into()),
        impressions: shows,
        reach: None,
        clicks,
        spend: money(spent),
        currency: Some("RUB".into()),
        claims: Claims {
            leads: Some(goals),
            purchases: None,
            revenue: None,
        },
    };
    assert_eq!(
        ads(pull.rows),
        vec![
            expected("2024-05-01", 75881, 270, "23328.92", 0),
            expected("2024-05-02", 70112, 251, "21540.10", 3),
        ]
    );
    assert_eq!(pull.covered, Some(range("2024-05-01", "2024-05-07")));
    let all = requests(&server).await;
    let paths: Vec<&str> = all.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths,
        [
            vk_ads::TOKEN_PATH,
            vk_ads::AD_PLANS_PATH,
            vk_ads::STATS_PATH
        ]
    );
    let stats = &all[2];
    assert_eq!(vk_ads::ids(stats), ["8372481", "8372482"]);
    assert_eq!(query(stats, "date_from").as_deref(), Some("2024-05-01"));
    assert_eq!(query(stats, "date_to").as_deref(), Some("2024-05-07"));
    assert_eq!(query(stats, "metrics").as_deref(), Some("base"));
    let bearer = format!("Bearer {}", vk_ads::ACCESS_TOKEN);
    assert!(all[1..].iter().all(|r| authorization(r) == Some(&bearer)));
}

// Proves: with more ad plans than one statistics request may name (200), the listing is read
// page by page (50 a page) and the statistics are asked for in batches of at most 200 ids,
// every ad plan exactly once.
#[tokio::test]
async fn more_ad_plans_than_the_id_limit_are_asked_in_batches() {
    let server = MockServer::start().await;
    vk_ads::mount_token(&server).await;
    mount(&server, vk_ads::AD_PLANS_PATH, vk_ads::Listing(250)).await;
    mount(&server, vk_ads::STATS_PATH, vk_ads::Echo).await;
    let (_workspace, source) = vk_ads::source(&server, "");

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    assert_eq!(ads(pull.rows).len(), 250);
    let listing = on(&server, vk_ads::AD_PLANS_PATH).await;
    let offsets: Vec<String> = listing.iter().filter_map(|r| query(r, "offset")).collect();
    assert_eq!(offsets, ["0", "50", "100", "150", "200"]);
    let batches: Vec<Vec<String>> = on(&server, vk_ads::STATS_PATH)
        .await
        .iter()
        .map(vk_ads::ids)
        .collect();
    assert_eq!(
        batches.iter().map(Vec::len).collect::<Vec<_>>(),
        [200, 50],
        "{batches:?}"
    );
    let mut asked: Vec<String> = batches.concat();
    asked.dedup();
    assert_eq!(asked.len(), 250);
}

// Proves: the access token comes from the client-credentials grant (form-encoded client id
// and secret) and is kept in the token cache: a second run with the same cache (the store,
// between two nights) asks for no new token, since VK Ads issues at most five per client.
#[tokio::test]
async fn the_token_is_obtained_once_and_reused_across_runs() {
    let server = MockServer::start().await;
    VkAds::support(&server).await;
    mount(&server, vk_ads::AD_PLANS_PATH, vk_ads::Listing(1)).await;
    let context = paused_clock_context();

    for _run in 0..2 {
        let (_workspace, source) =
            vk_ads::source_with(&server, vk_ads::TOKEN, vk_ads::ANY_AGE, &context);
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap();
    }

    let tokens = on(&server, vk_ads::TOKEN_PATH).await;
    assert_eq!(tokens.len(), 1, "one token for two runs");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&tokens[0].body)
        .into_owned()
        .collect();
    assert!(form.contains(&("grant_type".into(), "client_credentials".into())));
    assert!(form.contains(&("client_id".into(), vk_ads::CLIENT_ID.into())));
    assert!(form.contains(&("client_secret".into(), vk_ads::TOKEN.into())));
    assert_eq!(on(&server, vk_ads::AD_PLANS_PATH).await.len(), 2);
}

// Proves: an access token VK Ads refuses as expired (401 `expired_token`) is replaced once,
// the request is repeated with the new one, and the new one is cached: two consecutive runs
// make one token request beyond the first.
#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_cached() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(vk_ads::TOKEN_PATH))
        .respond_with(vk_ads::token_answer(vk_ads::ACCESS_TOKEN, &server))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(vk_ads::TOKEN_PATH))
        .respond_with(vk_ads::token_answer(vk_ads::RENEWED_TOKEN, &server))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(vk_ads::AD_PLANS_PATH))
        .respond_with(vk_ads::token_refused("expired_token"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, vk_ads::AD_PLANS_PATH, vk_ads::Listing(3)).await;
    mount(&server, vk_ads::STATS_PATH, vk_ads::Echo).await;
    let context = paused_clock_context();

    for _run in 0..2 {
        let (_workspace, source) =
            vk_ads::source_with(&server, vk_ads::TOKEN, vk_ads::ANY_AGE, &context);
        let pull = source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap();
        assert_eq!(ads(pull.rows).len(), 3);
    }

    assert_eq!(on(&server, vk_ads::TOKEN_PATH).await.len(), 2);
    let renewed = format!("Bearer {}", vk_ads::RENEWED_TOKEN);
    let listing = on(&server, vk_ads::AD_PLANS_PATH).await;
    assert_eq!(
        listing.len(),
        3,
        "the refused request, its repeat, the second run"
    );
    assert!(
        listing[1..]
            .iter()
            .all(|r| authorization(r) == Some(&renewed))
    );
}

// Proves: a client secret VK Ads refuses is an authentication error that says to check
// client_id and client_secret and where, names the source, shows no secret, and is not
// retried (a person must fix it); nothing else is asked.
#[tokio::test]
async fn a_refused_client_secret_names_what_to_fix() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(vk_ads::TOKEN_PATH))
        .respond_with(answer(401).set_body_json(serde_json::json!({
            "code": "invalid_client",
            "message": "Client authentication failed"
        })))
        .mount(&server)
        .await;
    let wrong = "vkKASSAclientSECRET0123456789abcdefZZ-wrong";
    let (_workspace, source) =
        vk_ads::source_with(&server, wrong, vk_ads::ANY_AGE, &paused_clock_context());

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("the secret is refused");

    assert_eq!(error.kind, ErrorKind::Auth, "{error}");
    assert_names_source_and_range::<VkAds>(&error, "2024-05-01");
    let shown = error.to_string();
    assert!(shown.contains("invalid_client"), "{shown}");
    assert!(
        shown.contains("client_id and client_secret") && shown.contains("API access"),
        "{shown}"
    );
    assert!(!shown.contains(wrong), "{shown}");
    assert_eq!(requests(&server).await.len(), 1, "not retried");
}

// Proves: VK Ads keeps daily statistics for a year: a range wholly older is refused before
// anything is sent, saying so and what to do instead; a range reaching past the year is
// pulled from the earliest kept day, the older days left uncovered (data gaps) with a
// warning naming them.
#[tokio::test]
async fn days_older_than_a_year_are_refused_or_left_uncovered() {
    let server = MockServer::start().await;
    VkAds::support(&server).await;
    mount(&server, vk_ads::AD_PLANS_PATH, vk_ads::Listing(1)).await;
    // The documented 365 days, not the fake's any age.
    let (_workspace, source) =
        vk_ads::source_with(&server, vk_ads::TOKEN, "", &paused_clock_context());

    let old = kassa::domain::DateRange::new(vk_ads::days_ago(500), vk_ads::days_ago(400)).unwrap();
    let error = source.pull(old).await.expect_err("older than a year");
    assert_eq!(error.kind, ErrorKind::Rejected, "{error}");
    assert!(error.message.contains("365 days"), "{error}");
    assert!(error.message.contains("csv_ads"), "{error}");
    assert!(requests(&server).await.is_empty());

    let straddling =
        kassa::domain::DateRange::new(vk_ads::days_ago(370), vk_ads::days_ago(360)).unwrap();
    let pull = source.pull(straddling).await.unwrap();
    let earliest = vk_ads::days_ago(364);
    assert_eq!(pull.covered.map(|c| c.start), Some(earliest));
    assert_eq!(pull.covered.map(|c| c.end), Some(straddling.end));
    assert_eq!(pull.warnings.len(), 1);
    assert!(
        pull.warnings[0].contains(&straddling.start.to_string())
            && pull.warnings[0].contains("data gap"),
        "{:?}",
        pull.warnings
    );
    let stats = on(&server, vk_ads::STATS_PATH).await;
    assert_eq!(query(&stats[0], "date_from"), Some(earliest.to_string()));
}

// Proves: a `spent` that is not a decimal (a comma, as a spreadsheet would write it) fails
// the pull naming the field, the ad plan and the day, never a zero.
#[tokio::test]
async fn a_malformed_spent_names_the_field_ad_plan_and_day() {
    let server = MockServer::start().await;
    vk_ads::mount_token(&server).await;
    mount(&server, vk_ads::AD_PLANS_PATH, vk_ads::Listing(1)).await;
    let bad = vk_ads::stats(vec![(
        1000,
        vec![vk_ads::day("2024-05-02", 10, 1, 0, "12,50")],
    )]);
    mount(&server, vk_ads::STATS_PATH, ok(bad)).await;
    let (_workspace, source) = vk_ads::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("a comma is not a decimal point");

    assert_eq!(error.kind, ErrorKind::InvalidData, "{error}");
    let shown = error.to_string();
    assert!(
        shown.contains("`spent`") && shown.contains("ad plan 1000") && shown.contains("2024-05-02"),
        "{shown}"
    );
}
