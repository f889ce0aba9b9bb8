//! A fake Google Ads API as Google documents its REST wire format: Google's OAuth2 token
//! endpoint (`POST /token`, form-encoded `grant_type=refresh_token`), and
//! `POST /v25/customers/{id}/googleAds:searchStream` answering a JSON *array* of batches in
//! one response, int64 values as strings and doubles as numbers (`ctr` a fraction), errors in
//! Google's `{"error": {code, message, status, details: [GoogleAdsFailure]}}` envelope (bare
//! or, as streams send them, inside the array), quota errors with `retryDelay`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use kassa::sources::{BuildContext, Source};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{answer, ok};
use crate::connector::{Next, Paging, Platform};
use crate::helpers::{Workspace, paused_clock_context, source_config};

/// The client secret: distinctive enough that finding it anywhere cannot be a coincidence.
pub const TOKEN: &str = "GOCSPX-kassaTESTgoogleSECRET0123456789";
/// The refresh token and the access tokens the fake issues all start with [`TOKEN`], so a
/// check that finds no `TOKEN` anywhere has found none of them.
pub const REFRESH_TOKEN: &str = "GOCSPX-kassaTESTgoogleSECRET0123456789.refresh";
pub const ACCESS_TOKEN: &str = "GOCSPX-kassaTESTgoogleSECRET0123456789.access.1";
pub const RENEWED_TOKEN: &str = "GOCSPX-kassaTESTgoogleSECRET0123456789.access.2";
pub const CLIENT_ID: &str = "1234-kassa.apps.googleusercontent.com";
pub const SOURCE: &str = "google-main";
pub const CUSTOMER: &str = "1234567890";
pub const TOKEN_PATH: &str = "/token";
pub const STREAM_PATH: &str = "/v25/customers/1234567890/googleAds:searchStream";

/// The three credential files a table names.
pub struct Credentials {
    pub client_id: PathBuf,
    pub client_secret: PathBuf,
    pub refresh_token: PathBuf,
}

/// Writes the client id, the client secret and the refresh token into `workspace`.
pub fn credentials(workspace: &Workspace) -> Credentials {
    Credentials {
        client_id: workspace.write("secrets/google_client_id", &format!("{CLIENT_ID}\n")),
        client_secret: workspace.write("secrets/google_client_secret", &format!("{TOKEN}\n")),
        refresh_token: workspace.write(
            "secrets/google_refresh_token",
            &format!("{REFRESH_TOKEN}\n"),
        ),
    }
}

/// A `[[sources]]` table of kind `google_ads` for the fake at `base_url` (its token endpoint
/// too), customer `123-456-7890`; `extra` adds lines.
pub fn table(name: &str, base_url: &str, files: &Credentials, extra: &str) -> String {
    let file = |p: &Path| p.display().to_string();
    format!(
        "[[sources]]\n\
         name = {name:?}\n\
         kind = \"google_ads\"\n\
         customer_id = \"123-456-7890\"\n\
         client_id_file = {:?}\n\
         client_secret_file = {:?}\n\
         refresh_token_file = {:?}\n\
         base_url = {base_url:?}\n\
         token_url = \"{base_url}{TOKEN_PATH}\"\n\
         {extra}\n",
        file(&files.client_id),
        file(&files.client_secret),
        file(&files.refresh_token),
    )
}

/// The source named [`SOURCE`] for the fake at `server`, built with `context` (whose token
/// cache two builds may share, as two runs share the store).
pub fn source_with(
    server: &MockServer,
    extra: &str,
    context: &BuildContext,
) -> (Workspace, Source) {
    let workspace = Workspace::new();
    let files = credentials(&workspace);
    let source = source_config(&table(SOURCE, &server.uri(), &files, extra))
        .build(context)
        .expect("the source builds");
    (workspace, source)
}

/// [`source_with`] a fresh token cache, for the paused clock.
pub fn source(server: &MockServer, extra: &str) -> (Workspace, Source) {
    source_with(server, extra, &paused_clock_context())
}

/// A response body from `fixtures/google_ads/`.
pub fn fixture(name: &str, server: &MockServer) -> Value {
    super::fixture("google_ads", name, server)
}

/// The token endpoint's answer (Google's documented shape) carrying `access_token`.
pub fn token_answer(access_token: &str, server: &MockServer) -> ResponseTemplate {
    let mut body = fixture("token.json", server);
    body["access_token"] = json!(access_token);
    ok(body)
}

/// Issues [`ACCESS_TOKEN`] to every token request.
pub async fn mount_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_answer(ACCESS_TOKEN, server))
        .mount(server)
        .await;
}

/// One result row of the campaign query: int64 values as strings, `ctr` a fraction.
pub fn row(
    date: &str,
    campaign_id: &str,
    impressions: u64,
    clicks: u64,
    cost_micros: u64,
) -> Value {
    json!({
        "customer": {"resourceName": format!("customers/{CUSTOMER}"), "currencyCode": "USD"},
        "campaign": {
            "resourceName": format!("customers/{CUSTOMER}/campaigns/{campaign_id}"),
            "id": campaign_id,
            "name": format!("Campaign {campaign_id}"),
        },
        "metrics": {
            "impressions": impressions.to_string(),
            "clicks": clicks.to_string(),
            "costMicros": cost_micros.to_string(),
            "ctr": if impressions == 0 { 0.0 } else { clicks as f64 / impressions as f64 },
        },
        "segments": {"date": date},
    })
}

/// One batch of a stream.
pub fn batch(results: Vec<Value>) -> Value {
    json!({
        "results": results,
        "fieldMask": "customer.currencyCode,campaign.id,campaign.name,segments.date,metrics.impressions,metrics.clicks,metrics.ctr,metrics.costMicros",
        "requestId": "fAkEgOoGlErEqUeSt",
    })
}

/// Google's error object: `status` and, for Google Ads failures, one error code.
pub fn error(code: u16, status: &str, error_code: Option<(&str, &str)>) -> Value {
    let mut error =
        json!({"code": code, "message": format!("{status} from the fake"), "status": status});
    if let Some((kind, value)) = error_code {
        error["details"] = json!([{
            "@type": "type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure",
            "errors": [{"errorCode": {kind: value}, "message": "as documented"}],
            "requestId": "fAkEeRrOrReQuEsT",
        }]);
    }
    json!({ "error": error })
}

/// A 429 `RESOURCE_TEMPORARILY_EXHAUSTED` asking to retry in `delay` (`"30s"`).
pub fn temporarily_exhausted(delay: &str) -> ResponseTemplate {
    let mut body = error(
        429,
        "RESOURCE_EXHAUSTED",
        Some(("quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED")),
    );
    body["error"]["details"][0]["errors"][0]["details"] = json!({"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "Requests per account", "retryDelay": delay}});
    answer(429).set_body_json(body)
}

/// A stream that breaks off after `rows`: HTTP 200, a batch, then an `UNAVAILABLE` error.
pub fn broken_off(rows: Vec<Value>) -> ResponseTemplate {
    ok(json!([batch(rows), error(503, "UNAVAILABLE", None)]))
}

/// Google Ads for the connector contract. A stream has no pages; what makes the source ask
/// again is a stream that broke off, which it starts again from the beginning.
pub struct GoogleAds;

impl Platform for GoogleAds {
    const KIND: &'static str = "google_ads";
    const SOURCE: &'static str = SOURCE;
    const TOKEN: &'static str = TOKEN;
    const METHOD: &'static str = "POST";
    const DATA_PATH: &'static str = STREAM_PATH;
    const PAGING: Paging = Paging::None;
    // The `retryDelay` of a temporarily exhausted quota: 7 s, distinct from the policy's
    // sub-second backoff and the 30 s kassa waits when no delay is given.
    const THROTTLE_WAIT: Duration = Duration::from_secs(7);

    fn source(server: &MockServer) -> (Workspace, Source) {
        source(server, "")
    }

    fn page(day: NaiveDate, _next: Option<Next<'_>>) -> Value {
        json!([batch(vec![row(
            &day.to_string(),
            "111111",
            1000,
            31,
            12_500_000
        )])])
    }

    /// No rows: one batch with its field mask and request id only.
    fn empty_page() -> Value {
        json!([{"fieldMask": "campaign.id", "requestId": "eMpTyReQuEsT"}])
    }

    fn throttled() -> ResponseTemplate {
        temporarily_exhausted("7s")
    }

    fn continued(day: NaiveDate, _next: Next<'_>) -> ResponseTemplate {
        broken_off(vec![row(&day.to_string(), "111111", 1000, 31, 12_500_000)])
    }

    async fn support(server: &MockServer) {
        mount_token(server).await;
    }
}

/// The service account of `fixtures/google_ads/service_account.json`.
pub const SERVICE_ACCOUNT: &str = "kassa-reader@kassa-test-project.iam.gserviceaccount.com";

/// A `google_ads` source for the fake at `server` that logs in with the fixture's service
/// account key file instead of an OAuth client, built with `context`.
pub fn service_account_source(server: &MockServer, context: &BuildContext) -> (Workspace, Source) {
    let workspace = Workspace::new();
    let key = std::fs::read_to_string(
        crate::helpers::repo().join("fixtures/google_ads/service_account.json"),
    )
    .unwrap();
    let key_file = workspace.write("secrets/google_service_account.json", &key);
    let base_url = server.uri();
    let table = format!(
        "[[sources]]\n\
         name = {SOURCE:?}\n\
         kind = \"google_ads\"\n\
         customer_id = \"123-456-7890\"\n\
         service_account_key_file = {:?}\n\
         base_url = {base_url:?}\n\
         token_url = \"{base_url}{TOKEN_PATH}\"\n",
        key_file.display().to_string(),
    );
    let source = source_config(&table)
        .build(context)
        .expect("the source builds");
    (workspace, source)
}
