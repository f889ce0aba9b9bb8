//! The Salesforce opportunities connector against a fake org on 127.0.0.1 (`fakes::salesforce`)
//! that answers in the REST API's documented wire format: client-credentials tokens, SOQL
//! `query` pages joined by `nextRecordsUrl`, JSON-number amounts, `+0000` instants, bare
//! `CloseDate`s and error arrays. The checks every HTTP connector passes come from the
//! contract kit (`connector`); this file holds what is Salesforce's own.

use kassa::domain::DealStatus::{Lost, Open, Won};
use kassa::domain::{Deal, Pulled};
use kassa::sources::{BuildContext, ErrorKind};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::connector::{assert_names_source_and_range, connector_contract};
use crate::fakes::salesforce::{
    self, ACCESS_TOKEN, QUERY_PATH, RENEWED_TOKEN, Salesforce, TOKEN_PATH, opportunity, page,
};
use crate::fakes::{authorization, ok, requests};
use crate::helpers::{d, money, paused_clock_context, range, script};

connector_contract!(contract, Salesforce);

fn deals(pulled: Pulled) -> Vec<Deal> {
    match pulled {
        Pulled::Deals(rows) => rows,
        other => panic!("expected deals, got {other:?}"),
    }
}

fn by_id<'a>(deals: &'a [Deal], id: &str) -> &'a Deal {
    deals
        .iter()
        .find(|deal| deal.id == id)
        .unwrap_or_else(|| panic!("no deal {id} in {deals:?}"))
}

/// A context on the paused clock whose business time zone is `zone`.
fn context_in(zone: chrono_tz::Tz) -> BuildContext {
    BuildContext {
        timezone: zone,
        ..paused_clock_context()
    }
}

/// The requests `server` received on `route`.
async fn on(server: &MockServer, route: &str) -> Vec<wiremock::Request> {
    let mut all = requests(server).await;
    all.retain(|r| r.url.path() == route);
    all
}

/// An org with a token endpoint whose query answers `body` to every request.
async fn org_answering(body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    salesforce::mount_token(&server).await;
    Mock::given(method("GET"))
        .and(path(QUERY_PATH))
        .respond_with(ok(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test(start_paused = true)]
async fn three_pages_of_next_records_url_are_followed_to_the_end() {
    let server = MockServer::start().await;
    salesforce::mount_token(&server).await;
    for (route, fixture) in [
        (QUERY_PATH.to_string(), "query-page-1.json"),
        (
            format!("{QUERY_PATH}/01gD0000002HU6KIAW-2000"),
            "query-page-2.json",
        ),
        (
            format!("{QUERY_PATH}/01gD0000002HU6KIAW-4000"),
            "query-page-3.json",
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ok(salesforce::fixture(fixture, &server)))
            .mount(&server)
            .await;
    }
    let (_workspace, source) = salesforce::source(&server, "");

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    let deals = deals(pull.rows);
    let ids: Vec<&str> = deals.iter().map(|deal| deal.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "0065g00000AbCdEAAV",
            "0065g00000AbCdFAAV",
            "0065g00000AbCdGAAV",
            "0065g00000AbCdHAAV",
            "0065g00000AbCdIAAV",
        ]
    );
    assert_eq!(pull.covered, Some(range("2024-05-01", "2024-05-07")));
    let data: Vec<wiremock::Request> = requests(&server)
        .await
        .into_iter()
        .filter(|r| r.url.path() != TOKEN_PATH)
        .collect();
    let paths: Vec<&str> = data.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths,
        [
            QUERY_PATH,
            "/services/data/v60.0/query/01gD0000002HU6KIAW-2000",
            "/services/data/v60.0/query/01gD0000002HU6KIAW-4000",
        ]
    );
    // The later pages are fetched as given, without the query again; every page carries the
    // access token, and one token served all three.
    assert!(salesforce::soql(&data[0]).is_some());
    assert!(data[1..].iter().all(|r| r.url.query().is_none()));
    assert!(
        data.iter()
            .all(|r| authorization(r) == Some(&format!("Bearer {ACCESS_TOKEN}")))
    );
    assert_eq!(on(&server, TOKEN_PATH).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_soql_asks_for_opportunities_created_or_closed_in_the_window() {
    let server = org_answering(page(Vec::new(), None)).await;
    let rules = "[[sources.channel_rules]]\n\
                 field = \"UTM_Source__c\"\n\
                 values = [\"google\"]\n\
                 channel = \"google_ads\"\n\
                 [[sources.channel_rules]]\n\
                 field = \"leadsource\"\n\
                 values = [\"Web\"]\n\
                 channel = \"seo\"";
    let (_workspace, source) =
        salesforce::source_with(&server, rules, &context_in(chrono_tz::Europe::Moscow));

    source
        .pull(range("2024-05-01", "2024-05-31"))
        .await
        .unwrap();

    let sent = on(&server, QUERY_PATH).await;
    assert_eq!(
        salesforce::soql(&sent[0]).unwrap(),
        "SELECT Id, Amount, CloseDate, IsWon, IsClosed, CreatedDate, LeadSource, UTM_Source__c \
         FROM Opportunity WHERE (CreatedDate >= 2024-04-30T21:00:00Z AND CreatedDate < \
         2024-05-31T21:00:00Z) OR (IsClosed = true AND CloseDate >= 2024-05-01 AND CloseDate \
         <= 2024-05-31) ORDER BY Id",
        "the business day in Moscow starts at 21:00 UTC; a rule's field already selected \
         (`leadsource`) is not selected twice"
    );
}

#[tokio::test(start_paused = true)]
async fn a_multi_currency_org_keeps_each_deals_currency() {
    let server = MockServer::start().await;
    salesforce::mount_token(&server).await;
    Mock::given(method("GET"))
        .and(path(QUERY_PATH))
        .respond_with(ok(salesforce::fixture("multi-currency.json", &server)))
        .mount(&server)
        .await;
    let (_workspace, source) =
        salesforce::source(&server, "multi_currency = true\ncurrency = \"USD\"");

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    let soql = salesforce::soql(&on(&server, QUERY_PATH).await[0]).unwrap();
    assert!(soql.contains("LeadSource, CurrencyIsoCode FROM"), "{soql}");
    let deals = deals(pull.rows);
    let currencies: Vec<(&str, &str, String)> = deals
        .iter()
        .map(|deal| {
            (
                deal.id.as_str(),
                deal.currency.as_deref().unwrap(),
                deal.amount.unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        currencies,
        [
            ("0065g00000EuRoAAAV", "EUR", money("9000").to_string()),
            ("0065g00000UsDoAAAV", "USD", money("15000").to_string()),
            ("0065g00000JpYeAAAV", "JPY", money("1200000").to_string()),
        ],
        "every deal keeps its own currency, unconverted"
    );
}

#[tokio::test(start_paused = true)]
async fn a_single_currency_org_never_selects_currency_iso_code() {
    // The last page of the three holds no link back to the fake.
    let last = salesforce::fixture("query-page-3.json", &MockServer::start().await);
    let server = org_answering(last).await;
    let (_workspace, source) = salesforce::source(&server, "currency = \"GBP\"");

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    let soql = salesforce::soql(&on(&server, QUERY_PATH).await[0]).unwrap();
    assert!(!soql.contains("CurrencyIsoCode"), "{soql}");
    assert_eq!(deals(pull.rows)[0].currency.as_deref(), Some("GBP"));
}

#[tokio::test(start_paused = true)]
async fn status_dates_and_amounts_follow_the_salesforce_encodings() {
    let records = vec![
        // Created late on 2 May UTC: 3 May in Moscow. Closed on the date written.
        opportunity(
            "won-int",
            json!(4200),
            "2024-05-04",
            (true, true),
            "2024-05-02T22:30:00.000+0000",
            Some("Google Ads"),
        ),
        opportunity(
            "won-cents",
            json!(980.55),
            "2024-05-05",
            (true, true),
            "2024-05-01T10:00:00.000+0000",
            Some("  Web "),
        ),
        opportunity(
            "won-null",
            json!(null),
            "2024-05-06",
            (true, true),
            "2024-05-01T10:00:00.000+0000",
            None,
        ),
        opportunity(
            "lost",
            json!(100.0),
            "2024-05-06",
            (false, true),
            "2024-05-01T10:00:00.000+0000",
            Some(""),
        ),
        opportunity(
            "open",
            json!(0),
            "2024-07-01",
            (false, false),
            "2024-05-01T10:00:00.000+0000",
            Some("Web"),
        ),
    ];
    let server = org_answering(page(records, None)).await;
    let (_workspace, source) =
        salesforce::source_with(&server, "", &context_in(chrono_tz::Europe::Moscow));

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    let deals = deals(pull.rows);
    let won = by_id(&deals, "won-int");
    assert_eq!((won.status, won.amount), (Won, Some(money("4200"))));
    assert_eq!(
        won.created_date,
        d("2024-05-03"),
        "CreatedDate is an instant"
    );
    assert_eq!(
        won.closed_date,
        Some(d("2024-05-04")),
        "CloseDate is a date"
    );
    assert_eq!(won.channel, "google ads");
    assert_eq!(won.currency, None, "no currency key, none invented");
    let cents = by_id(&deals, "won-cents");
    assert_eq!(
        (cents.amount, cents.channel.as_str()),
        (Some(money("980.55")), "web")
    );
    let unknown = by_id(&deals, "won-null");
    assert_eq!(unknown.amount, None, "a null Amount is unknown, never zero");
    assert_eq!(unknown.channel, "unattributed");
    let lost = by_id(&deals, "lost");
    assert_eq!(
        (lost.status, lost.closed_date, lost.channel.as_str()),
        (Lost, Some(d("2024-05-06")), "unattributed")
    );
    let open = by_id(&deals, "open");
    assert_eq!(
        (open.status, open.closed_date, open.amount),
        (Open, None, Some(money("0"))),
        "an open deal's CloseDate is only expected"
    );
}

#[tokio::test(start_paused = true)]
async fn channel_rules_read_any_opportunity_field() {
    let mut campaign = opportunity(
        "from-google",
        json!(10),
        "2024-05-02",
        (true, true),
        "2024-05-01T10:00:00.000+0000",
        Some("Web"),
    );
    campaign["UTM_Source__c"] = json!("Google");
    let mut parent = opportunity(
        "from-partner",
        json!(20),
        "2024-05-02",
        (true, true),
        "2024-05-01T10:00:00.000+0000",
        Some("Other"),
    );
    parent["UTM_Source__c"] = json!(null);
    parent["Account"] = json!({"attributes": {"type": "Account"}, "Type": "Channel Partner"});
    let other = opportunity(
        "nobody",
        json!(30),
        "2024-05-02",
        (true, true),
        "2024-05-01T10:00:00.000+0000",
        Some("Other"),
    );
    let server = org_answering(page(vec![campaign, parent, other], None)).await;
    let rules = "[[sources.channel_rules]]\n\
                 field = \"UTM_Source__c\"\n\
                 values = [\"google\"]\n\
                 channel = \"google_ads\"\n\
                 [[sources.channel_rules]]\n\
                 field = \"Account.Type\"\n\
                 values = [\"channel partner\"]\n\
                 channel = \"partners\"";
    let (_workspace, source) = salesforce::source(&server, rules);

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    let soql = salesforce::soql(&on(&server, QUERY_PATH).await[0]).unwrap();
    assert!(
        soql.contains("LeadSource, UTM_Source__c, Account.Type FROM"),
        "{soql}"
    );
    let deals = deals(pull.rows);
    assert_eq!(by_id(&deals, "from-google").channel, "google_ads");
    assert_eq!(by_id(&deals, "from-partner").channel, "partners");
    assert_eq!(by_id(&deals, "nobody").channel, "unattributed");
}

#[tokio::test(start_paused = true)]
async fn request_limit_exceeded_stops_the_source_for_the_run() {
    let server = MockServer::start().await;
    salesforce::mount_token(&server).await;
    Mock::given(method("GET"))
        .and(path(QUERY_PATH))
        .respond_with(
            crate::fakes::answer(403)
                .set_body_json(salesforce::fixture("request-limit-exceeded.json", &server)),
        )
        .mount(&server)
        .await;
    let (_workspace, source) = salesforce::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("the day's allocation is spent");

    assert_eq!(error.kind, ErrorKind::QuotaSpent, "{error}");
    assert_names_source_and_range::<Salesforce>(&error, "2024-05-01");
    let shown = error.to_string();
    assert!(
        shown.contains("REQUEST_LIMIT_EXCEEDED") && shown.contains("next run tries again"),
        "{shown}"
    );
    assert_eq!(on(&server, QUERY_PATH).await.len(), 1, "never retried");
}

#[tokio::test(start_paused = true)]
async fn an_invalid_session_renews_the_token_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(salesforce::token_answer(ACCESS_TOKEN, &server))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(salesforce::token_answer(RENEWED_TOKEN, &server))
        .with_priority(2)
        .mount(&server)
        .await;
    script(
        &server,
        "GET",
        QUERY_PATH,
        salesforce::invalid_session(),
        ok(page(Vec::new(), None)),
    )
    .await;
    let (_workspace, source) = salesforce::source(&server, "");

    source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect("the renewed token works");

    let sent = on(&server, QUERY_PATH).await;
    assert_eq!(
        authorization(&sent[1]),
        Some(&*format!("Bearer {RENEWED_TOKEN}"))
    );
    assert_eq!(on(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_invalid_session_after_renewal_is_an_auth_error_naming_what_to_fix() {
    let server = MockServer::start().await;
    salesforce::mount_token(&server).await;
    Mock::given(method("GET"))
        .and(path(QUERY_PATH))
        .respond_with(salesforce::invalid_session())
        .mount(&server)
        .await;
    let (_workspace, source) = salesforce::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("the session is refused twice");

    assert_eq!(error.kind, ErrorKind::Auth, "{error}");
    assert_names_source_and_range::<Salesforce>(&error, "2024-05-01");
    assert!(
        error.message.contains("INVALID_SESSION_ID") && error.message.contains("Run As user"),
        "{error}"
    );
    assert_eq!(on(&server, QUERY_PATH).await.len(), 2, "renewed once");
    assert_eq!(on(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_refused_client_secret_or_flow_is_an_auth_error_naming_what_to_fix() {
    for (error, description, hint) in [
        (
            "invalid_client",
            "invalid client credentials",
            "client id or secret",
        ),
        (
            "invalid_grant",
            "no client credentials user enabled",
            "client-credentials grant was refused",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(
                crate::fakes::answer(400)
                    .set_body_json(json!({"error": error, "error_description": description})),
            )
            .mount(&server)
            .await;
        let (_workspace, source) = salesforce::source(&server, "");

        let refused = source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .expect_err("the token endpoint refuses");

        assert_eq!(refused.kind, ErrorKind::Auth, "{refused}");
        assert_names_source_and_range::<Salesforce>(&refused, "2024-05-01");
        assert!(refused.message.contains(hint), "{refused}");
        assert!(on(&server, QUERY_PATH).await.is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn the_access_token_is_cached_between_runs() {
    let server = org_answering(page(Vec::new(), None)).await;
    let context = paused_clock_context();
    for _ in 0..2 {
        let (_workspace, source) = salesforce::source_with(&server, "", &context);
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap();
    }

    assert_eq!(on(&server, QUERY_PATH).await.len(), 2);
    assert_eq!(
        on(&server, TOKEN_PATH).await.len(),
        1,
        "the second run reuses it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_malformed_record_names_the_opportunity_and_the_field() {
    let mut bad = opportunity(
        "0065g00000BadAAAV",
        json!(10),
        "2024-05-02",
        (true, true),
        "2024-05-01T10:00:00.000+0000",
        None,
    );
    bad["Amount"] = json!("ten");
    let server = org_answering(page(vec![bad], None)).await;
    let (_workspace, source) = salesforce::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("a text amount is refused");

    assert_eq!(error.kind, ErrorKind::InvalidData, "{error}");
    assert_names_source_and_range::<Salesforce>(&error, "2024-05-01");
    assert!(
        error.message.contains("0065g00000BadAAAV") && error.message.contains("field `Amount`"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_answer_without_records_is_a_decode_error() {
    let server = org_answering(json!({"totalSize": 0, "done": true})).await;
    let (_workspace, source) = salesforce::source(&server, "");

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .expect_err("no records array");

    assert_eq!(error.kind, ErrorKind::Decode, "{error}");
    assert!(error.message.contains("`records`"), "{error}");
}

/// The fields of a form-encoded request body.
fn form(request: &wiremock::Request) -> std::collections::BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// A JWT's part decoded as JSON.
fn jwt_part(part: &str) -> serde_json::Value {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_jwt_bearer_flow_posts_an_rs256_assertion_for_the_user() {
    use base64::Engine;
    let server = org_answering(page(Vec::new(), None)).await;
    let key = crate::helpers::repo().join("fixtures/salesforce/jwt-test-key.pem");
    let extra = format!(
        "private_key_file = {:?}\nusername = \"kassa@example.com\"",
        key.display().to_string()
    );
    let workspace = crate::helpers::Workspace::new();
    let unused = workspace.write("unused", "x");
    let toml = salesforce::table(salesforce::SOURCE, &server.uri(), &unused, &extra)
        .lines()
        .filter(|line| !line.starts_with("client_secret_file"))
        .collect::<Vec<_>>()
        .join("\n");
    let source = crate::helpers::source_config(&toml)
        .build(&paused_clock_context())
        .expect("the source builds");

    source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();

    let tokens = on(&server, TOKEN_PATH).await;
    assert_eq!(tokens.len(), 1);
    let fields = form(&tokens[0]);
    assert_eq!(
        fields.keys().map(String::as_str).collect::<Vec<_>>(),
        ["assertion", "grant_type"],
        "no client id or secret beside the assertion"
    );
    assert_eq!(
        fields["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let parts: Vec<&str> = fields["assertion"].split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(jwt_part(parts[0])["alg"], "RS256");
    let claims = jwt_part(parts[1]);
    assert_eq!(
        (&claims["iss"], &claims["sub"], &claims["aud"]),
        (
            &json!(salesforce::CLIENT_ID),
            &json!("kassa@example.com"),
            &json!("https://login.salesforce.com")
        )
    );
    let ahead = claims["exp"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!((60..=180).contains(&ahead), "exp {ahead} s ahead");
    // The signature verifies with the key's public half.
    let pem = std::fs::read_to_string(&key).unwrap();
    let der: String = pem
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN"))
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        ring::signature::KeyPair::public_key(&pair).as_ref(),
    );
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap();
    public
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("a valid RS256 signature");
    let debug = format!("{source:?}");
    let key_line = pem.lines().nth(2).unwrap();
    assert!(
        !debug.contains(key_line),
        "the key leaked into Debug: {debug}"
    );
}

#[test]
fn an_unsafe_channel_rule_field_is_refused_before_it_reaches_the_soql() {
    let workspace = crate::helpers::Workspace::new();
    let secret = workspace.write("secret", "x");
    let toml = salesforce::table(
        "sf",
        "https://example.my.salesforce.com",
        &secret,
        "api_version = \"v60\"\n\
         [[sources.channel_rules]]\n\
         field = \"Id FROM User WHERE Name != ''\"\n\
         values = [\"x\"]\n\
         channel = \"x\"",
    )
    .replace("api_version = \"60.0\"\n", "");
    let sources: Vec<kassa::sources::SourceConfig> = config::Config::builder()
        .add_source(config::File::from_str(&toml, config::FileFormat::Toml))
        .build()
        .unwrap()
        .get("sources")
        .unwrap();
    let mut problems = kassa::validation::Problems::default();
    sources[0].validate("sources[0]", &mut problems);
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "sources[0].api_version",
            "sources[0].channel_rules[0].field"
        ],
        "{problems}"
    );
}
