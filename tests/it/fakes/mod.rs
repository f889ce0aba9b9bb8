//! Fake platforms on 127.0.0.1: each platform's wire shapes, written once, in its own module
//! (rows and deals as the platform sends them, pages with their paging links or cursors, error
//! envelopes, throttling answers with their headers, the `[[sources]]` table that points at a
//! fake, fixtures from `fixtures/<platform>/`), and the few helpers every fake shares.
//!
//! The connector tests (`meta.rs`, `hubspot.rs`), the contract kit (`connector/`) and the
//! end-to-end tests (`cli.rs`, `run.rs`) all speak to the fakes through these modules, so a
//! change in a platform's wire format is made in one place.

pub mod amocrm;
pub mod bitrix24;
pub mod google_ads;
pub mod hubspot;
pub mod meta;
pub mod pipedrive;
pub mod salesforce;
pub mod vk_ads;
pub mod yandex_direct;

use std::fmt;
use std::path::Path;

use kassa::sources::{BuildContext, Source};
use serde_json::Value;
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{Workspace, repo, source_config};

/// A response that closes its connection. With no idle connection in reqwest's pool there is
/// no pool-expiry timer (90 s) for tokio's paused clock to jump to while a request is in
/// flight, so virtual elapsed time measures exactly the waits the client chose.
pub fn answer(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("Connection", "close")
}

/// A 200 with a JSON body.
pub fn ok(body: Value) -> ResponseTemplate {
    answer(200).set_body_json(body)
}

/// Every request the fake received, in order.
pub async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

/// The JSON body of every request the fake received, in order.
pub async fn json_bodies(server: &MockServer) -> Vec<Value> {
    requests(server)
        .await
        .iter()
        .map(|r| r.body_json().expect("a JSON request body"))
        .collect()
}

/// The `Authorization` header a request carried.
pub fn authorization(request: &wiremock::Request) -> Option<&str> {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
}

/// The value of `key` in a request's query string.
pub fn query(request: &wiremock::Request, key: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A response body from `fixtures/<platform>/`, with `{{server}}` replaced by the fake's
/// address (paging links point back to the fake).
pub fn fixture(platform: &str, name: &str, server: &MockServer) -> Value {
    let file = repo().join("fixtures").join(platform).join(name);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text.replace("{{server}}", &server.uri())).expect("fixture is JSON")
}

/// Where a `[[sources]]` table takes its token from: the line it writes into the table.
pub enum TokenFrom<'a> {
    File(&'a Path),
    Env(&'a str),
}

impl fmt::Display for TokenFrom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenFrom::File(path) => write!(f, "token_file = {:?}", path.display().to_string()),
            TokenFrom::Env(variable) => write!(f, "token_env = {variable:?}"),
        }
    }
}

/// A `[[sources]]` table of `kind` named `name` whose API lives at `base_url`; `extra` adds the
/// kind's own lines.
pub fn sources_table(
    kind: &str,
    name: &str,
    base_url: &str,
    token: TokenFrom<'_>,
    extra: &str,
) -> String {
    format!(
        "[[sources]]\n\
         name = {name:?}\n\
         kind = {kind:?}\n\
         {token}\n\
         base_url = {base_url:?}\n\
         {extra}\n"
    )
}

/// Builds a source the way `kassa` does: `token` written to a file in a fresh workspace, the
/// `[[sources]]` table that `table` writes around that file read through the `config` crate and
/// validated, then built with `context`. The workspace holds the token file: keep it alive.
pub fn build_source(
    token: &str,
    table: impl FnOnce(TokenFrom<'_>) -> String,
    context: &BuildContext,
) -> (Workspace, Source) {
    let workspace = Workspace::new();
    let token_file = workspace.write("secrets/token", &format!("{token}\n"));
    let source = source_config(&table(TokenFrom::File(&token_file)))
        .build(context)
        .expect("the source builds");
    (workspace, source)
}
