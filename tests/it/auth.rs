//! The auth hook of the shared HTTP client against fake token endpoints and APIs on
//! 127.0.0.1: OAuth2 access tokens obtained from a refresh token or client credentials,
//! cached, renewed once when the platform refuses them, rotated refresh tokens kept, and no
//! secret in any error or `Debug` output.

use std::sync::Arc;

use kassa::http::auth::{
    Grant, MemoryTokenCache, OAuth2, SecretHeaders, Stacked, TokenBody, TokenCache,
};
use kassa::http::{FailureKind, HttpClient, Request, RetryPolicy};
use reqwest::Url;
use reqwest::header::HeaderName;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::script;

const REFRESH: &str = "1//kassa-refresh-token-canary-0001";
const ROTATED: &str = "1//kassa-refresh-token-canary-0002";
const CLIENT_SECRET: &str = "kassa-client-secret-canary";
const ACCESS_1: &str = "ya29.kassa-access-canary-1";
const ACCESS_2: &str = "ya29.kassa-access-canary-2";

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_string())
}

fn no_classifier(
    _: reqwest::StatusCode,
    _: &reqwest::header::HeaderMap,
    _: &str,
) -> Option<kassa::http::Failure> {
    None
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        timeout: None,
        ..RetryPolicy::default()
    }
}

fn oauth(server: &MockServer, grant: Grant, body: TokenBody, cache: Arc<dyn TokenCache>) -> OAuth2 {
    OAuth2::new(
        Url::parse(&format!("{}/oauth2/token", server.uri())).unwrap(),
        "kassa-client",
        Some(secret(CLIENT_SECRET)),
        grant,
        body,
        cache,
        "source:test",
    )
}

fn client(auth: OAuth2) -> HttpClient {
    HttpClient::new(Some(Box::new(auth)), policy(), no_classifier).unwrap()
}

fn token_answer(access: &str, expires_in: i64, refresh: Option<&str>) -> ResponseTemplate {
    let mut body =
        json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in});
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// Answers every token request with `answer`.
async fn token_endpoint(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(answer)
        .mount(server)
        .await;
}

async fn api_ok(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/data"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(server)
        .await;
}

fn data_request(server: &MockServer) -> Request {
    Request::get(Url::parse(&format!("{}/api/data", server.uri())).unwrap())
}

async fn received(server: &MockServer, route: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .collect()
}

fn form(request: &wiremock::Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

fn field(fields: &[(String, String)], key: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

fn bearer(request: &wiremock::Request) -> String {
    request.headers["authorization"]
        .to_str()
        .unwrap()
        .to_string()
}

// Proves: a refresh-token grant is posted as a form per RFC 6749, the access token it returns
// authorises the API call, and a token still valid is reused rather than fetched per request.
#[tokio::test]
async fn a_refresh_token_grant_fetches_one_access_token_and_reuses_it() {
    let server = MockServer::start().await;
    token_endpoint(&server, token_answer(ACCESS_1, 3600, None)).await;
    api_ok(&server).await;
    let client = client(oauth(
        &server,
        Grant::RefreshToken(secret(REFRESH)),
        TokenBody::Form,
        Arc::new(MemoryTokenCache::default()),
    ));
    for _ in 0..3 {
        client
            .send(&data_request(&server))
            .await
            .expect("the call succeeds");
    }
    let tokens = received(&server, "/oauth2/token").await;
    assert_eq!(tokens.len(), 1, "the token is cached while valid");
    assert_eq!(
        tokens[0].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let fields = form(&tokens[0]);
    assert_eq!(
        field(&fields, "grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(field(&fields, "refresh_token").as_deref(), Some(REFRESH));
    assert_eq!(field(&fields, "client_id").as_deref(), Some("kassa-client"));
    assert_eq!(
        field(&fields, "client_secret").as_deref(),
        Some(CLIENT_SECRET)
    );
    for call in received(&server, "/api/data").await {
        assert_eq!(bearer(&call), format!("Bearer {ACCESS_1}"));
    }
}

// Proves: a platform that rotates refresh tokens (amoCRM) gets the newest one on the next
// refresh, and the rotated token survives the process through the token cache, so the next
// night does not log in with a token the platform already retired.
#[tokio::test]
async fn a_rotated_refresh_token_is_used_next_and_kept_in_the_cache() {
    let server = MockServer::start().await;
    // Tokens that expire inside the renewal margin are renewed on every request.
    script(
        &server,
        "POST",
        "/oauth2/token",
        token_answer(ACCESS_1, 30, Some(ROTATED)),
        token_answer(ACCESS_2, 30, Some(ROTATED)),
    )
    .await;
    api_ok(&server).await;
    let cache: Arc<dyn TokenCache> = Arc::new(MemoryTokenCache::default());
    let first = client(oauth(
        &server,
        Grant::RefreshToken(secret(REFRESH)),
        TokenBody::Json,
        cache.clone(),
    ));
    first.send(&data_request(&server)).await.unwrap();
    first.send(&data_request(&server)).await.unwrap();
    // A new process (same cache, same configuration) continues from the rotated token.
    let next_night = client(oauth(
        &server,
        Grant::RefreshToken(secret(REFRESH)),
        TokenBody::Json,
        cache.clone(),
    ));
    next_night.send(&data_request(&server)).await.unwrap();

    let tokens = received(&server, "/oauth2/token").await;
    let used: Vec<String> = tokens
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).expect("a JSON token request");
            body["refresh_token"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(used, [REFRESH, ROTATED, ROTATED]);
    let cached = cache.load("source:test").unwrap().expect("a cached token");
    assert!(format!("{cached:?}").contains("[redacted]"));
}

// Proves: when a person puts a new refresh token in the configuration, the cached (rotated)
// one from the old authorisation is not used.
#[tokio::test]
async fn a_new_configured_refresh_token_replaces_the_cached_one() {
    let server = MockServer::start().await;
    token_endpoint(&server, token_answer(ACCESS_1, 30, Some(ROTATED))).await;
    api_ok(&server).await;
    let cache: Arc<dyn TokenCache> = Arc::new(MemoryTokenCache::default());
    client(oauth(
        &server,
        Grant::RefreshToken(secret(REFRESH)),
        TokenBody::Form,
        cache.clone(),
    ))
    .send(&data_request(&server))
    .await
    .unwrap();
    let reauthorised = "1//kassa-refresh-token-reauthorised";
    client(oauth(
        &server,
        Grant::RefreshToken(secret(reauthorised)),
        TokenBody::Form,
        cache,
    ))
    .send(&data_request(&server))
    .await
    .unwrap();
    let used: Vec<Option<String>> = received(&server, "/oauth2/token")
        .await
        .iter()
        .map(|r| field(&form(r), "refresh_token"))
        .collect();
    assert_eq!(used, [Some(REFRESH.into()), Some(reauthorised.into())]);
}

// Proves: an access token the platform refuses before its announced expiry is renewed once
// and the request repeated; a platform that keeps refusing fails as an auth error.
#[tokio::test]
async fn a_refused_access_token_is_renewed_once() {
    let server = MockServer::start().await;
    script(
        &server,
        "POST",
        "/oauth2/token",
        token_answer(ACCESS_1, 3600, None),
        token_answer(ACCESS_2, 3600, None),
    )
    .await;
    script(
        &server,
        "GET",
        "/api/data",
        ResponseTemplate::new(401).set_body_string("token revoked"),
        ResponseTemplate::new(200).set_body_json(json!({"ok": true})),
    )
    .await;
    let client = client(oauth(
        &server,
        Grant::RefreshToken(secret(REFRESH)),
        TokenBody::Form,
        Arc::new(MemoryTokenCache::default()),
    ));
    client
        .send(&data_request(&server))
        .await
        .expect("renewed and repeated");
    let calls = received(&server, "/api/data").await;
    assert_eq!(calls.len(), 2);
    assert_eq!(bearer(&calls[0]), format!("Bearer {ACCESS_1}"));
    assert_eq!(bearer(&calls[1]), format!("Bearer {ACCESS_2}"));

    let refusing = MockServer::start().await;
    token_endpoint(&refusing, token_answer(ACCESS_1, 3600, None)).await;
    Mock::given(method("GET"))
        .and(path("/api/data"))
        .respond_with(ResponseTemplate::new(401).set_body_string("no"))
        .mount(&refusing)
        .await;
    let client = self::client(oauth(
        &refusing,
        Grant::RefreshToken(secret(REFRESH)),
        TokenBody::Form,
        Arc::new(MemoryTokenCache::default()),
    ));
    let error = client.send(&data_request(&refusing)).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Auth);
    assert_eq!(
        received(&refusing, "/api/data").await.len(),
        2,
        "renewed once, not forever"
    );
}

// Proves: a revoked refresh token stops at once with words a person can act on, and no secret
// (refresh token, client secret, access token) appears in the error or in Debug output.
#[tokio::test]
async fn a_revoked_grant_is_a_clear_auth_error_without_secrets() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "Token has been expired or revoked."
        })),
    )
    .await;
    api_ok(&server).await;
    let auth = oauth(
        &server,
        Grant::RefreshToken(secret(REFRESH)),
        TokenBody::Form,
        Arc::new(MemoryTokenCache::default()),
    );
    let debug = format!("{auth:?}");
    let client = client(auth);
    let error = client.send(&data_request(&server)).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Auth);
    assert!(error.message.contains("invalid_grant"), "{}", error.message);
    assert!(
        error.message.contains("authorise kassa again"),
        "{}",
        error.message
    );
    assert_eq!(
        received(&server, "/oauth2/token").await.len(),
        1,
        "not retried"
    );
    assert!(received(&server, "/api/data").await.is_empty());
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        debug,
        format!("{client:?}"),
    ] {
        for canary in [REFRESH, CLIENT_SECRET, "canary"] {
            assert!(!shown.contains(canary), "a secret leaked into: {shown}");
        }
    }
}

// Proves: a token endpoint that redirects is refused like any other redirect: the refresh
// token and client secret are never posted to the host it points at.
#[tokio::test]
async fn a_redirecting_token_endpoint_gets_no_secrets() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(token_answer(ACCESS_1, 3600, None))
        .mount(&elsewhere)
        .await;
    token_endpoint(
        &server,
        ResponseTemplate::new(308)
            .insert_header("Location", format!("{}/token", elsewhere.uri()).as_str()),
    )
    .await;
    api_ok(&server).await;
    let client = client(oauth(
        &server,
        Grant::RefreshToken(secret(REFRESH)),
        TokenBody::Form,
        Arc::new(MemoryTokenCache::default()),
    ));
    let error = client.send(&data_request(&server)).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Rejected);
    assert!(error.message.contains("HTTP 308"), "{}", error.message);
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    assert!(received(&server, "/api/data").await.is_empty());
}

// Proves: the client-credentials grant sends its scope, and an authenticator stack adds a
// static API-key header (Google's developer-token) beside the OAuth2 bearer token.
#[tokio::test]
async fn client_credentials_and_a_stacked_api_key_header() {
    let server = MockServer::start().await;
    token_endpoint(&server, token_answer(ACCESS_1, 3600, None)).await;
    api_ok(&server).await;
    let auth = Stacked(vec![
        Box::new(oauth(
            &server,
            Grant::ClientCredentials {
                scope: Some("ads.read".into()),
            },
            TokenBody::Form,
            Arc::new(MemoryTokenCache::default()),
        )),
        Box::new(SecretHeaders::default().with_header(
            HeaderName::from_static("developer-token"),
            secret("kassa-developer-token-canary"),
        )),
    ]);
    let client = HttpClient::new(Some(Box::new(auth)), policy(), no_classifier).unwrap();
    assert!(!format!("{client:?}").contains("canary"));
    client.send(&data_request(&server)).await.unwrap();
    let token = &received(&server, "/oauth2/token").await[0];
    let fields = form(token);
    assert_eq!(
        field(&fields, "grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(field(&fields, "scope").as_deref(), Some("ads.read"));
    let call = &received(&server, "/api/data").await[0];
    assert_eq!(bearer(call), format!("Bearer {ACCESS_1}"));
    assert_eq!(
        call.headers["developer-token"],
        "kassa-developer-token-canary"
    );
}
