//! A fake Salesforce org as the REST API documents its wire format: the OAuth 2.0 token
//! endpoint (`POST /services/oauth2/token`, form-encoded client credentials, an answer without
//! `expires_in`), `GET /services/data/v60.0/query?q=<SOQL>` answering `totalSize`/`done`/
//! `records` with `nextRecordsUrl` (a path on the instance) until `done`, records with their
//! `attributes`, `Amount` a JSON number or null, `CreatedDate` as `...000+0000`, `CloseDate` a
//! bare date, and errors as a JSON array of `{"message", "errorCode"}` (403 for
//! `REQUEST_LIMIT_EXCEEDED`, 401 for `INVALID_SESSION_ID`).

use std::time::Duration;

use chrono::NaiveDate;
use kassa::sources::{BuildContext, Source};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{answer, ok};
use crate::connector::{Next, Paging, Platform};
use crate::helpers::{Workspace, paused_clock_context, source_config};

/// The connected app's consumer secret: distinctive enough that finding it anywhere cannot be
/// a coincidence.
pub const TOKEN: &str = "sfKASSAconsumerSECRET9f8e7d6c5b4a";
/// The access token the fake issues. It starts with [`TOKEN`], so a check that finds no
/// `TOKEN` in the logs or errors has found neither secret there.
pub const ACCESS_TOKEN: &str = "sfKASSAconsumerSECRET9f8e7d6c5b4a!session.1";
pub const RENEWED_TOKEN: &str = "sfKASSAconsumerSECRET9f8e7d6c5b4a!session.2";
pub const CLIENT_ID: &str = "3MVG9kassaConsumerKey";
pub const SOURCE: &str = "sf";
pub const TOKEN_PATH: &str = "/services/oauth2/token";
pub const QUERY_PATH: &str = "/services/data/v60.0/query";

/// A `[[sources]]` table of kind `salesforce` for the fake at `instance_url`, API v60.0, the
/// consumer secret in `secret_file`; `extra` adds lines.
pub fn table(name: &str, instance_url: &str, secret_file: &std::path::Path, extra: &str) -> String {
    format!(
        "[[sources]]\n\
         name = {name:?}\n\
         kind = \"salesforce\"\n\
         instance_url = {instance_url:?}\n\
         api_version = \"60.0\"\n\
         client_id = {CLIENT_ID:?}\n\
         client_secret_file = {:?}\n\
         {extra}\n",
        secret_file.display().to_string(),
    )
}

/// The source named [`SOURCE`] for the fake at `server`, built with `context` (its time zone,
/// its token cache).
pub fn source_with(
    server: &MockServer,
    extra: &str,
    context: &BuildContext,
) -> (Workspace, Source) {
    let workspace = Workspace::new();
    let secret = workspace.write("secrets/sf_client_secret", &format!("{TOKEN}\n"));
    let source = source_config(&table(SOURCE, &server.uri(), &secret, extra))
        .build(context)
        .expect("the source builds");
    (workspace, source)
}

/// [`source_with`] a fresh token cache on the paused clock, in UTC.
pub fn source(server: &MockServer, extra: &str) -> (Workspace, Source) {
    source_with(server, extra, &paused_clock_context())
}

/// A response body from `fixtures/salesforce/`.
pub fn fixture(name: &str, server: &MockServer) -> Value {
    super::fixture("salesforce", name, server)
}

/// The token endpoint's answer (the documented example) carrying `access_token`.
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

/// One Opportunity as the query resource sends it.
pub fn opportunity(
    id: &str,
    amount: Value,
    close_date: &str,
    (is_won, is_closed): (bool, bool),
    created: &str,
    lead_source: Option<&str>,
) -> Value {
    json!({
        "attributes": {
            "type": "Opportunity",
            "url": format!("/services/data/v60.0/sobjects/Opportunity/{id}")
        },
        "Id": id,
        "Amount": amount,
        "CloseDate": close_date,
        "IsWon": is_won,
        "IsClosed": is_closed,
        "CreatedDate": created,
        "LeadSource": lead_source,
    })
}

/// A query answer: `records`, continued at `next` (a `nextRecordsUrl`) unless it is the last.
pub fn page(records: Vec<Value>, next: Option<&str>) -> Value {
    let mut page = json!({
        "totalSize": records.len(),
        "done": next.is_none(),
        "records": records,
    });
    if let Some(next) = next {
        page["nextRecordsUrl"] = json!(next);
    }
    page
}

/// Salesforce's error body: an array of errors.
pub fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    answer(status).set_body_json(json!([{"message": message, "errorCode": code, "fields": []}]))
}

/// The 401 for a dead or revoked access token.
pub fn invalid_session() -> ResponseTemplate {
    error(401, "INVALID_SESSION_ID", "Session expired or invalid")
}

/// The SOQL a query request carried.
pub fn soql(request: &wiremock::Request) -> Option<String> {
    super::query(request, "q")
}

/// Salesforce for the connector contract. Its continuations are `nextRecordsUrl` links; the
/// kit mounts the data path only, so the contract's links lead back to [`QUERY_PATH`] with the
/// locator in the query string, where the real org uses `/query/<locator>` (the three-page
/// test in `salesforce.rs` follows that form, from the fixtures).
pub struct Salesforce;

impl Platform for Salesforce {
    const KIND: &'static str = "salesforce";
    const SOURCE: &'static str = SOURCE;
    const TOKEN: &'static str = TOKEN;
    const METHOD: &'static str = "GET";
    const DATA_PATH: &'static str = QUERY_PATH;
    const PAGING: Paging = Paging::Link;
    // The concurrent long-request limit's own wait, distinct from the sub-second backoff.
    const THROTTLE_WAIT: Duration = Duration::from_secs(20);

    fn source(server: &MockServer) -> (Workspace, Source) {
        source(server, "")
    }

    fn page(day: NaiveDate, next: Option<Next<'_>>) -> Value {
        let close = day.to_string();
        let record = opportunity(
            "0065g00000AbCdEAAV",
            json!(15000.0),
            &close,
            (true, true),
            "2024-04-12T09:15:00.000+0000",
            Some("Google Ads"),
        );
        let link = next.map(|n| format!("{}{QUERY_PATH}?locator={}", n.host, n.cursor));
        page(vec![record], link.as_deref())
    }

    fn empty_page() -> Value {
        page(Vec::new(), None)
    }

    fn throttled() -> ResponseTemplate {
        error(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentPerOrgLongTxn Limit exceeded.",
        )
    }

    async fn support(server: &MockServer) {
        mount_token(server).await;
    }
}
