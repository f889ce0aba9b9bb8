//! A fake Yandex Direct Reports API v5 as Yandex documents it: `POST /json/v5/reports`
//! answered with a TSV report (a column header, tab-separated rows, money in micros unless
//! `returnMoneyInMicros: false`), the offline queue as 201/202 with `retryIn` and
//! `reportsInQueue` headers, errors as `{"error": {"error_code", ...}}` with HTTP 400 or 500,
//! and `Clients.get` at `POST /json/v5/clients` for `kassa check`.

use std::time::Duration;

use chrono::NaiveDate;
use kassa::sources::Source;
use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use super::{TokenFrom, answer, build_source, sources_table};
use crate::connector::{Next, Paging, Platform};
use crate::helpers::{Workspace, paused_clock_context, repo};

/// A token distinctive enough that finding it anywhere cannot be a coincidence.
pub const TOKEN: &str = "y0_AgAAAAkassaTESTyandexToken0123456789";
pub const SOURCE: &str = "yandex-main";
pub const REPORTS_PATH: &str = "/json/v5/reports";
pub const CLIENTS_PATH: &str = "/json/v5/clients";
pub const TSV: &str = "text/tab-separated-values; charset=utf-8";
/// The column header of the report kassa asks for without claims.
pub const HEADER: &str = "Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost";

/// A `[[sources]]` table of kind `yandex_direct` at `base_url`; `extra` adds lines.
pub fn table(name: &str, base_url: &str, token: TokenFrom<'_>, extra: &str) -> String {
    sources_table("yandex_direct", name, base_url, token, extra)
}

/// The source `yandex_direct.rs` tests: named [`SOURCE`], the token in a file, built for
/// tokio's paused clock.
pub fn source(server: &MockServer, extra: &str) -> (Workspace, Source) {
    build_source(
        TOKEN,
        |token| table(SOURCE, &server.uri(), token, extra),
        &paused_clock_context(),
    )
}

/// A file from `fixtures/yandex_direct/`, as text.
pub fn fixture(name: &str) -> String {
    let file = repo().join("fixtures/yandex_direct").join(name);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A JSON file from `fixtures/yandex_direct/`.
pub fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture is JSON")
}

/// One report line of Brand_Search, money in micros.
pub fn line(date: &str, clicks: u64, cost_micros: u64) -> String {
    format!("{date}\t70123456\tBrand_Search\t1000\t{clicks}\t{cost_micros}")
}

/// A 200 with a TSV report.
pub fn report(tsv: &str) -> ResponseTemplate {
    answer(200).set_body_raw(tsv.to_string(), TSV)
}

/// The report of `lines` under [`HEADER`], each line ended.
pub fn tsv(lines: &[String]) -> String {
    let mut text = format!("{HEADER}\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    text
}

/// The offline queue's answer: 201 (accepted) or 202 (being built), ask again in `retry_in`
/// seconds.
pub fn queued(status: u16, retry_in: u64, in_queue: u64) -> ResponseTemplate {
    answer(status)
        .insert_header("retryIn", retry_in.to_string().as_str())
        .insert_header("reportsInQueue", in_queue.to_string().as_str())
        .insert_header("RequestId", "8695244274068608439")
}

/// Yandex's error envelope with `status`.
pub fn error(status: u16, body: Value) -> ResponseTemplate {
    answer(status).set_body_json(body)
}

/// `Clients.get`'s answer.
pub fn client(login: &str, currency: &str) -> Value {
    json!({"result": {"Clients": [{"Login": login, "Currency": currency}]}})
}

/// Yandex Direct for the connector contract.
pub struct YandexDirect;

impl Platform for YandexDirect {
    const KIND: &'static str = "yandex_direct";
    const SOURCE: &'static str = SOURCE;
    const TOKEN: &'static str = TOKEN;
    const METHOD: &'static str = "POST";
    const DATA_PATH: &'static str = REPORTS_PATH;
    const PAGING: Paging = Paging::None;
    // The offline queue's `retryIn`: 7 s, distinct from the policy's sub-second backoff and
    // the 10 s kassa waits when a 201/202 says nothing.
    const THROTTLE_WAIT: Duration = Duration::from_secs(7);
    const CONTENT_TYPE: &'static str = TSV;

    fn source(server: &MockServer) -> (Workspace, Source) {
        source(server, "")
    }

    /// The report as a JSON string; [`Platform::body`] puts the TSV on the wire.
    fn page(day: NaiveDate, _next: Option<Next<'_>>) -> Value {
        json!(tsv(&[line(&day.to_string(), 31, 12_500_000)]))
    }

    fn empty_page() -> Value {
        json!(tsv(&[]))
    }

    fn throttled() -> ResponseTemplate {
        queued(201, 7, 1)
    }

    fn body(page: &Value) -> String {
        page.as_str().expect("a TSV report").to_string()
    }

    /// Reports have no pages: the report is queued, and asked for again at once.
    fn continued(_day: NaiveDate, _next: Next<'_>) -> ResponseTemplate {
        queued(201, 0, 1)
    }
}
