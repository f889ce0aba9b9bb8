//! A fake Bitrix24 portal as Bitrix24 documents its REST wire format: an inbound webhook
//! (`/rest/<user>/<key>/<method>`) whose key is the secret, `crm.deal.list` answers with every
//! value a string, `next`/`total` over a fixed page of 50, the `batch` envelope
//! (`result.result`, `result_next`, `result_total`, `result_error`, empty maps sent as `[]` the
//! way PHP encodes them), and errors as `{"error", "error_description"}` with their statuses
//! (`QUERY_LIMIT_EXCEEDED` 503, `OPERATION_TIME_LIMIT` 429, `INVALID_CREDENTIALS` 401).

use std::time::Duration;

use chrono::NaiveDate;
use kassa::sources::{BuildContext, Source};
use serde_json::{Value, json};
use wiremock::{MockServer, Respond, ResponseTemplate};

use super::{TokenFrom, answer, build_source};
use crate::connector::{Next, Paging, Platform};
use crate::helpers::{Workspace, paused_clock_context};

/// The webhook's key, written once so the paths below can be built from it at compile time.
macro_rules! key {
    () => {
        "k4ssa0webhook7c3e9f1a2b5d8e"
    };
}

/// The webhook key: distinctive enough that finding it anywhere cannot be a coincidence.
pub const TOKEN: &str = key!();
pub const SOURCE: &str = "b24";
pub const BATCH_PATH: &str = concat!("/rest/1/", key!(), "/batch");
pub const LIST_PATH: &str = concat!("/rest/1/", key!(), "/crm.deal.list");
/// Bitrix24's fixed page size.
pub const PAGE: usize = 50;

/// The inbound webhook URL of the fake portal, as Bitrix24 shows it (ending in the key and `/`).
pub fn webhook(server: &MockServer) -> String {
    format!("{}/rest/1/{TOKEN}/", server.uri())
}

/// A `[[sources]]` table of kind `bitrix24` whose webhook URL comes from `url` (a file or an
/// environment variable); `extra` adds lines.
pub fn table(name: &str, url: TokenFrom<'_>, extra: &str) -> String {
    let url = match url {
        TokenFrom::File(path) => format!("url_file = {:?}", path.display().to_string()),
        TokenFrom::Env(variable) => format!("url_env = {variable:?}"),
    };
    format!("[[sources]]\nname = {name:?}\nkind = \"bitrix24\"\n{url}\n{extra}\n")
}

/// The source `bitrix24.rs` tests: named [`SOURCE`], the webhook URL in a file, no channel
/// rules (channels are `UTM_SOURCE` lower-cased), built with `context` (its time zone).
pub fn source(server: &MockServer, context: &BuildContext) -> (Workspace, Source) {
    build_source(&webhook(server), |url| table(SOURCE, url, ""), context)
}

/// A `crm.deal.list` answer from `fixtures/bitrix24/`.
pub fn fixture(name: &str, server: &MockServer) -> Value {
    super::fixture("bitrix24", name, server)
}

/// One deal as `crm.deal.list` sends it: every value a string. `closed` is the `CLOSEDATE`
/// (midnight at the portal's offset, as Bitrix24 writes a date field), or `""` on an open deal.
pub fn deal(id: u32, semantic: &str, created: &str, closed: &str, opportunity: &str) -> Value {
    let stage = match semantic {
        "S" => "WON",
        "F" => "LOSE",
        _ => "NEW",
    };
    json!({
        "ID": id.to_string(),
        "TITLE": format!("Сделка #{id}"),
        "CATEGORY_ID": "0",
        "STAGE_ID": stage,
        "STAGE_SEMANTIC_ID": semantic,
        "OPPORTUNITY": opportunity,
        "CURRENCY_ID": "RUB",
        "DATE_CREATE": created,
        "CLOSEDATE": closed,
        "CLOSED": if semantic == "P" { "N" } else { "Y" },
        "UTM_SOURCE": "yandex",
    })
}

/// `deal` with fields replaced, e.g. `{"UTM_SOURCE": ""}`.
pub fn with(mut deal: Value, fields: Value) -> Value {
    for (key, value) in fields.as_object().expect("an object") {
        deal[key] = value.clone();
    }
    deal
}

/// The `time` block Bitrix24 adds to every answer.
fn time() -> Value {
    json!({
        "start": 1714570000.123456, "finish": 1714570000.481234,
        "duration": 0.3577780723571777, "processing": 0.2123451232910156,
        "date_start": "2024-05-01T16:26:40+03:00", "date_finish": "2024-05-01T16:26:40+03:00",
        "operating_reset_at": 1714570600, "operating": 0.21
    })
}

/// A `crm.deal.list` answer: `next` only when more rows exist.
pub fn list(result: Vec<Value>, next: Option<u64>, total: u64) -> Value {
    let mut body = json!({"result": result, "total": total, "time": time()});
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    body
}

/// A PHP associative array as JSON: `[]` when empty.
fn php_map(map: serde_json::Map<String, Value>) -> Value {
    if map.is_empty() {
        json!([])
    } else {
        Value::Object(map)
    }
}

/// The `batch` envelope around `crm.deal.list` answers, one per command name.
pub fn batch(answers: &[(&str, Value)]) -> Value {
    let mut results = serde_json::Map::new();
    let mut next = serde_json::Map::new();
    let mut total = serde_json::Map::new();
    let mut times = serde_json::Map::new();
    for (name, answer) in answers {
        results.insert(name.to_string(), answer["result"].clone());
        if let Some(n) = answer.get("next") {
            next.insert(name.to_string(), n.clone());
        }
        total.insert(name.to_string(), answer["total"].clone());
        times.insert(name.to_string(), time());
    }
    json!({
        "result": {
            "result": php_map(results),
            "result_error": [],
            "result_total": php_map(total),
            "result_next": php_map(next),
            "result_time": php_map(times),
        },
        "time": time(),
    })
}

/// Bitrix24's error body.
pub fn error(code: &str, description: &str) -> Value {
    json!({"error": code, "error_description": description})
}

/// The request-rate limit: 503 `QUERY_LIMIT_EXCEEDED`, no `Retry-After`.
pub fn query_limit() -> ResponseTemplate {
    answer(503).set_body_json(error("QUERY_LIMIT_EXCEEDED", "Too many requests"))
}

/// The `crm.deal.list` commands of a `batch` request body: name and parameters.
pub fn commands(body: &Value) -> Vec<(String, Vec<(String, String)>)> {
    body["cmd"]
        .as_object()
        .expect("a batch has `cmd`")
        .iter()
        .map(|(name, cmd)| {
            let cmd = cmd.as_str().expect("a command is a string");
            let (method, query) = cmd.split_once('?').expect("method?params");
            assert_eq!(method, "crm.deal.list");
            let params = url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            (name.clone(), params)
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A portal holding `deals`, answering `batch` calls of `crm.deal.list` commands the way
/// Bitrix24 does: the `>=`/`<` date filters, `>ID` and `CLOSED` applied (to the date as
/// written), ordered by ID, fifty rows from `start`, `next` while more remain; with
/// `start=-1`, the first fifty without `next` or a count.
pub struct Portal(pub Vec<Value>);

impl Respond for Portal {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = request.body_json().expect("a JSON batch");
        let mut answers = Vec::new();
        for (name, params) in commands(&body) {
            let mut rows: Vec<&Value> = self
                .0
                .iter()
                .filter(|deal| {
                    params.iter().all(|(key, value)| {
                        let Some(filter) = key
                            .strip_prefix("filter[")
                            .and_then(|k| k.strip_suffix(']'))
                        else {
                            return true;
                        };
                        let field = filter.trim_start_matches(['>', '<', '=']);
                        let have = deal[field].as_str().unwrap_or("");
                        let day = have.get(..10).unwrap_or("");
                        let number = |text: &str| text.parse::<u64>().ok();
                        match &filter[..filter.len() - field.len()] {
                            ">" => number(have) > number(value),
                            ">=" => !day.is_empty() && day >= value.as_str(),
                            "<" => !day.is_empty() && day < value.as_str(),
                            _ => have == value,
                        }
                    })
                })
                .collect();
            rows.sort_by_key(|deal| deal["ID"].as_str().unwrap().parse::<u64>().unwrap());
            // `start=-1`: the first fifty, no count (`total` 0) and no `next`.
            let start: i64 = param(&params, "start").unwrap_or("0").parse().unwrap();
            let skip = usize::try_from(start).unwrap_or(0);
            let page: Vec<Value> = rows
                .iter()
                .skip(skip)
                .take(PAGE)
                .map(|d| (*d).clone())
                .collect();
            let answer = if start < 0 {
                list(page, None, 0)
            } else {
                let next = (skip + PAGE < rows.len()).then_some((skip + PAGE) as u64);
                list(page, next, rows.len() as u64)
            };
            answers.push((name, answer));
        }
        let answers: Vec<(&str, Value)> = answers
            .iter()
            .map(|(n, a)| (n.as_str(), a.clone()))
            .collect();
        answer(200).set_body_json(batch(&answers))
    }
}

/// Bitrix24 for the connector contract.
pub struct Bitrix24;

impl Platform for Bitrix24 {
    const KIND: &'static str = "bitrix24";
    const SOURCE: &'static str = SOURCE;
    const TOKEN: &'static str = TOKEN;
    const METHOD: &'static str = "POST";
    const DATA_PATH: &'static str = BATCH_PATH;
    const PAGING: Paging = Paging::Cursor;
    // `QUERY_LIMIT_EXCEEDED` carries no `Retry-After`: the connector waits a second for the
    // leaky bucket, more than the policy's sub-second first backoff for a plain 503.
    const THROTTLE_WAIT: Duration = Duration::from_secs(1);

    fn source(server: &MockServer) -> (Workspace, Source) {
        source(server, &paused_clock_context())
    }

    /// Bitrix24's `next` is the next page's offset; the contract's cursor names no page of
    /// its own, so every continued page says 50.
    fn page(day: NaiveDate, next: Option<Next<'_>>) -> Value {
        let won = deal(
            4101,
            "S",
            &format!("{day}T09:00:00+03:00"),
            &format!("{day}T00:00:00+03:00"),
            "150000.00",
        );
        batch(&[
            ("created", list(vec![won], next.map(|_| PAGE as u64), 1)),
            ("closed", list(vec![], None, 0)),
        ])
    }

    fn empty_page() -> Value {
        batch(&[
            ("created", list(vec![], None, 0)),
            ("closed", list(vec![], None, 0)),
        ])
    }

    fn throttled() -> ResponseTemplate {
        query_limit()
    }
}
