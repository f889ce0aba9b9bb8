//! Property tests of every parser of outside input, through public APIs: CSV exports, Meta's
//! and HubSpot's JSON, `Retry-After`, configuration values and money. Whatever arrives, kassa
//! never panics: it parses, or it rejects with an error that says where (the file, the
//! field, the key). Valid random input parses to what a straightforward computation gives.
//!
//! Cases are bounded (64 to 256 per property) so the suite stays quick in debug builds, and
//! failures are not persisted into the source tree (`failure_persistence: None`): a failing
//! case is printed, minimised, with the seed to reproduce it.

use std::collections::BTreeMap;

use chrono::{Duration as Days, NaiveDate};
use kassa::domain::{DateRange, DealStatus, Money, Pulled};
use kassa::sources::{ErrorKind, Pull, SourceConfig, SourceError};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};
use wiremock::MockServer;

use crate::connector::{Platform, always};
use crate::fakes::google_ads::GoogleAds;
use crate::fakes::salesforce::Salesforce;
use crate::fakes::{
    amocrm::AmoCrm, answer, bitrix24::Bitrix24, hubspot::HubSpot, meta::Meta, ok,
    pipedrive::Pipedrive,
};
use crate::helpers::{Workspace, paused_clock_context, range, source_config};

fn cases(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// A runtime on tokio's paused clock, like the connector tests'.
fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Any JSON value, nested a few levels, with the numbers and strings platforms get wrong:
/// huge, negative, fractional, exponent forms, numbers as text.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "-?[0-9]{0,25}(\\.[0-9]{0,9})?(e[+-]?[0-9]{1,3})?".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:]{8}Z)?".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// Money

proptest! {
    #![proptest_config(cases(256))]

    /// Every amount kassa can hold prints as a decimal that parses back to exactly the same
    /// micros.
    #[test]
    fn money_round_trips_exactly_through_its_decimal_text(
        micros in prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX)],
    ) {
        let money = Money::from_micros(micros);
        prop_assert_eq!(Money::parse_decimal(&money.to_string()), Ok(money));
    }

    /// A plain decimal with up to six places is read to the exact micro.
    #[test]
    fn money_parses_decimals_to_the_exact_micro(
        negative in any::<bool>(),
        whole in 0i64..1_000_000_000_000,
        fraction in "[0-9]{0,6}",
    ) {
        let text = format!("{}{whole}.{fraction}", if negative { "-" } else { "" });
        let scaled: i64 = format!("{fraction:0<6}").parse().unwrap();
        let micros = whole * 1_000_000 + scaled;
        let expected = Money::from_micros(if negative { -micros } else { micros });
        prop_assert_eq!(Money::parse_decimal(&text), Ok(expected));
    }

    /// Any text at all is read or refused with the text quoted, never a panic.
    #[test]
    fn money_never_panics_and_quotes_what_it_refuses(text in any::<String>()) {
        if let Err(message) = Money::parse_decimal(&text) {
            prop_assert!(message.contains(&format!("{text:?}")), "{}", message);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Retry-After

fn retry_after(value: &str) -> Option<std::time::Duration> {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(value).ok()?;
    headers.insert(reqwest::header::RETRY_AFTER, value);
    kassa::http::retry_after(&headers)
}

proptest! {
    #![proptest_config(cases(256))]

    /// Whole seconds are read as exactly that wait.
    #[test]
    fn retry_after_reads_whole_seconds(seconds in any::<u32>()) {
        prop_assert_eq!(
            retry_after(&seconds.to_string()),
            Some(std::time::Duration::from_secs(u64::from(seconds)))
        );
    }

    /// Any header value (numbers of any size, exponents, dates, garbage) is a wait or none,
    /// never a panic; and classifying a 429 or 503 carrying it never panics either.
    #[test]
    fn retry_after_never_panics(
        value in prop_oneof![
            "[ -~]{0,40}",
            "-?[0-9]{1,400}(\\.[0-9]{0,20})?(e[+-]?[0-9]{1,4})?",
            any::<f64>().prop_map(|f| f.to_string()),
        ]
    ) {
        let wait = retry_after(&value);
        if let Some(wait) = wait {
            prop_assert!(wait >= std::time::Duration::ZERO);
        }
        let Ok(header) = reqwest::header::HeaderValue::from_str(&value) else {
            return Ok(());
        };
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, header);
        for status in [429, 503] {
            let status = reqwest::StatusCode::from_u16(status).unwrap();
            let failure = kassa::http::classify_by_status(status, &headers, "");
            prop_assert!(failure.retryable);
            prop_assert_eq!(failure.wait, wait);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Platform JSON, field by field (`sources::wire`), and whole pages through the real sources

proptest! {
    #![proptest_config(cases(256))]

    /// Every reader of a JSON field returns a value or an error that names the field, whatever
    /// the field holds.
    #[test]
    fn wire_readers_never_panic_and_name_the_field(value in any_json()) {
        use kassa::sources::wire;
        let field = "the_field";
        let object = json!({ field: value });
        let errors: Vec<SourceError> = [
            wire::count(&object, field).err(),
            wire::optional_count(&object, field).err(),
            wire::optional_money(&object, field).err(),
            wire::date(&object, field).err(),
            wire::required_text(&object, field).err(),
            wire::optional_instant(&object, field).err(),
            wire::optional_unix_seconds(&object, field).err(),
        ]
        .into_iter()
        .flatten()
        .collect();
        for error in errors {
            prop_assert!(error.message.contains(field), "{}", error);
        }
        // The same readers on a value that is not an object at all.
        let _ = wire::text(&value, field);
        let _ = wire::optional_money(&value, field);
    }
}

/// One platform's source against one fake, on one paused-clock runtime, reused by every case
/// of a property: each case only changes what the fake answers.
struct Fake<P: Platform> {
    runtime: tokio::runtime::Runtime,
    server: MockServer,
    source: kassa::sources::Source,
    _workspace: Workspace,
    _platform: std::marker::PhantomData<P>,
}

impl<P: Platform> Fake<P> {
    fn new() -> Fake<P> {
        let runtime = paused_runtime();
        let server = runtime.block_on(MockServer::start());
        let (workspace, source) = P::source(&server);
        Fake {
            runtime,
            server,
            source,
            _workspace: workspace,
            _platform: std::marker::PhantomData,
        }
    }

    /// Pulls the platform's week from the fake answering every data request with `body`.
    fn pull(&self, body: ResponseBody) -> Result<Pull, SourceError> {
        self.runtime.block_on(async {
            self.server.reset().await;
            P::support(&self.server).await;
            let response = match body {
                ResponseBody::Json(value) => ok(value),
                ResponseBody::Raw(text) => answer(200).set_body_raw(text, "application/json"),
            };
            always::<P>(&self.server, response).await;
            self.source.pull(range("2024-05-01", "2024-05-07")).await
        })
    }
}

enum ResponseBody {
    Json(Value),
    Raw(String),
}

/// An error from a pull says which source and range it was.
fn assert_located<P: Platform>(error: &SourceError) -> Result<(), TestCaseError> {
    let shown = error.to_string();
    prop_assert!(
        shown.contains(&format!("source {:?}", P::SOURCE)),
        "{}",
        shown
    );
    prop_assert!(shown.contains("2024-05-01..2024-05-07"), "{}", shown);
    prop_assert!(!shown.contains(P::TOKEN), "{}", shown);
    Ok(())
}

/// One field of the platform's one-row page (`P::page`) replaced by `value`: the pull reads
/// the row or fails as a `Decode` or `InvalidData` error naming that field.
fn mutated_row_names_the_field<P: Platform>(
    fake: &Fake<P>,
    row_path: &str,
    field: &str,
    value: Value,
) -> Result<(), TestCaseError> {
    let mut page = P::page(NaiveDate::from_ymd_opt(2024, 5, 2).unwrap(), None);
    page.pointer_mut(row_path).unwrap()[field] = value.clone();
    match fake.pull(ResponseBody::Json(page)) {
        Ok(pull) => prop_assert!(pull.rows.len() <= 1),
        Err(error) => {
            prop_assert!(
                matches!(error.kind, ErrorKind::Decode | ErrorKind::InvalidData),
                "{}",
                error
            );
            assert_located::<P>(&error)?;
            prop_assert!(
                error.message.contains(field),
                "{} = {} gave an error not naming it: {}",
                field,
                value,
                error
            );
        }
    }
    Ok(())
}

const META_FIELDS: &[&str] = &[
    "date_start",
    "date_stop",
    "campaign_id",
    "campaign_name",
    "impressions",
    "reach",
    "clicks",
    "ctr",
    "spend",
    "account_currency",
];

const HUBSPOT_PROPERTIES: &[&str] = &[
    "createdate",
    "closedate",
    "amount",
    "dealstage",
    "hs_is_closed",
    "hs_is_closed_won",
    "deal_currency_code",
    "hs_analytics_source",
];

const BITRIX24_FIELDS: &[&str] = &[
    "ID",
    "STAGE_SEMANTIC_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "DATE_CREATE",
    "CLOSEDATE",
    "UTM_SOURCE",
];

/// Runs `property` on `cases` values of `strategy`, failing with the minimal failing input.
fn check<S: Strategy>(
    cases_run: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = proptest::test_runner::TestRunner::new(cases(cases_run));
    if let Err(failure) = runner.run(&strategy, property) {
        panic!("{failure}");
    }
}

/// Meta insights rows: any value in any field is read or refused naming that field.
#[test]
fn meta_rows_with_any_field_value_are_read_or_name_the_field() {
    let fake = Fake::<Meta>::new();
    check(
        64,
        (prop::sample::select(META_FIELDS), any_json()),
        |(field, value)| mutated_row_names_the_field(&fake, "/data/0", field, value),
    );
}

/// HubSpot deals: any value in any property, or as the deal's id, is read or refused naming
/// it.
#[test]
fn hubspot_deals_with_any_property_value_are_read_or_name_the_field() {
    let fake = Fake::<HubSpot>::new();
    check(
        64,
        (
            prop::sample::select(HUBSPOT_PROPERTIES),
            any_json(),
            prop::bool::weighted(0.1),
        ),
        |(field, value, as_id)| {
            if as_id {
                mutated_row_names_the_field(&fake, "/results/0", "id", value)
            } else {
                mutated_row_names_the_field(&fake, "/results/0/properties", field, value)
            }
        },
    );
}

/// Bitrix24 deals: any value in any field kassa reads is read or refused naming it.
#[test]
fn bitrix24_deals_with_any_field_value_are_read_or_name_the_field() {
    let fake = Fake::<Bitrix24>::new();
    check(
        64,
        (prop::sample::select(BITRIX24_FIELDS), any_json()),
        |(field, value)| {
            mutated_row_names_the_field(&fake, "/result/result/created/0", field, value)
        },
    );
}

const SALESFORCE_FIELDS: &[&str] = &[
    "Id",
    "Amount",
    "CloseDate",
    "IsWon",
    "IsClosed",
    "CreatedDate",
    "LeadSource",
];

/// Salesforce opportunities: any value in any field kassa reads is read or refused naming it.
#[test]
fn salesforce_opportunities_with_any_field_value_are_read_or_name_the_field() {
    let fake = Fake::<Salesforce>::new();
    check(
        64,
        (prop::sample::select(SALESFORCE_FIELDS), any_json()),
        |(field, value)| mutated_row_names_the_field(&fake, "/records/0", field, value),
    );
}

const AMOCRM_FIELDS: &[&str] = &[
    "id",
    "price",
    "status_id",
    "pipeline_id",
    "created_at",
    "closed_at",
    "is_deleted",
    "custom_fields_values",
    "_embedded",
];

/// amoCRM leads: any value in any field is read or refused naming it; any answer body is
/// leads or an error naming the source and the range.
#[test]
fn amocrm_leads_with_any_field_value_are_read_or_name_the_field() {
    let fake = Fake::<AmoCrm>::new();
    check(
        64,
        (prop::sample::select(AMOCRM_FIELDS), any_json()),
        |(field, value)| mutated_row_names_the_field(&fake, "/_embedded/leads/0", field, value),
    );
    check(32, (any_json(), "[ -~]{0,60}"), |(value, text)| {
        for body in [
            ResponseBody::Json(value.clone()),
            ResponseBody::Raw(text.clone()),
        ] {
            if let Err(error) = fake.pull(body) {
                assert_located::<AmoCrm>(&error)?;
            }
        }
        Ok(())
    });
}

const PIPEDRIVE_FIELDS: &[&str] = &[
    "id",
    "status",
    "value",
    "currency",
    "add_time",
    "won_time",
    "lost_time",
    "close_time",
    "is_deleted",
    "origin",
    "custom_fields",
];

/// Pipedrive deals: any value in any field is read or refused naming it; any answer body is
/// deals or an error naming the source and the range.
#[test]
fn pipedrive_deals_with_any_field_value_are_read_or_name_the_field() {
    let fake = Fake::<Pipedrive>::new();
    check(
        64,
        (prop::sample::select(PIPEDRIVE_FIELDS), any_json()),
        |(field, value)| mutated_row_names_the_field(&fake, "/data/0", field, value),
    );
    check(32, (any_json(), "[ -~]{0,60}"), |(value, text)| {
        for body in [
            ResponseBody::Json(value.clone()),
            ResponseBody::Raw(text.clone()),
        ] {
            if let Err(error) = fake.pull(body) {
                assert_located::<Pipedrive>(&error)?;
            }
        }
        Ok(())
    });
}

/// Google Ads stream rows: any value in any field kassa reads is read or refused naming it;
/// any answer body is rows or an error naming the source and the range.
#[test]
fn google_ads_rows_with_any_field_value_are_read_or_name_the_field() {
    let fake = Fake::<GoogleAds>::new();
    let fields = vec![
        ("/0/results/0/metrics", "impressions"),
        ("/0/results/0/metrics", "clicks"),
        ("/0/results/0/metrics", "costMicros"),
        ("/0/results/0/segments", "date"),
        ("/0/results/0/campaign", "id"),
    ];
    check(
        64,
        (prop::sample::select(fields), any_json()),
        |((row_path, field), value)| mutated_row_names_the_field(&fake, row_path, field, value),
    );
    check(32, (any_json(), "[ -~]{0,60}"), |(value, text)| {
        for body in [
            ResponseBody::Json(value.clone()),
            ResponseBody::Raw(text.clone()),
        ] {
            if let Err(error) = fake.pull(body) {
                assert_located::<GoogleAds>(&error)?;
            }
        }
        Ok(())
    });
}

/// Any JSON document as the whole answer, or any text, never panics either platform's source:
/// it is rows or an error naming the source and the range.
#[test]
fn any_answer_body_is_rows_or_a_located_error() {
    let (meta, hubspot) = (Fake::<Meta>::new(), Fake::<HubSpot>::new());
    let bitrix24 = Fake::<Bitrix24>::new();
    check(
        64,
        (any_json(), "[ -~]{0,60}", any::<bool>()),
        |(value, text, raw)| {
            let body = || {
                if raw {
                    ResponseBody::Raw(text.clone())
                } else {
                    ResponseBody::Json(value.clone())
                }
            };
            if let Err(error) = meta.pull(body()) {
                assert_located::<Meta>(&error)?;
            }
            if let Err(error) = hubspot.pull(body()) {
                assert_located::<HubSpot>(&error)?;
            }
            if let Err(error) = bitrix24.pull(body()) {
                assert_located::<Bitrix24>(&error)?;
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// CSV exports

/// How a generated file is written: `,` with ISO dates and a decimal point, or `;` with
/// DD.MM.YYYY dates and a decimal comma (as Russian and European Excel write them); LF or
/// CRLF line ends.
#[derive(Debug, Clone, Copy)]
struct Dialect {
    semicolon: bool,
    crlf: bool,
}

fn dialect() -> impl Strategy<Value = Dialect> {
    (any::<bool>(), any::<bool>()).prop_map(|(semicolon, crlf)| Dialect { semicolon, crlf })
}

impl Dialect {
    fn date(self, date: NaiveDate) -> String {
        if self.semicolon {
            date.format("%d.%m.%Y").to_string()
        } else {
            date.to_string()
        }
    }

    /// `cents` as an amount with two decimals, or none when they are zero and `short`.
    fn amount(self, cents: i64, short: bool) -> String {
        let text = if short && cents % 100 == 0 {
            (cents / 100).to_string()
        } else {
            format!("{}.{:02}", cents / 100, cents % 100)
        };
        if self.semicolon {
            text.replace('.', ",")
        } else {
            text
        }
    }

    fn file(self, header: &[&str], rows: &[Vec<String>]) -> String {
        let (delimiter, end) = (
            if self.semicolon { ";" } else { "," },
            if self.crlf { "\r\n" } else { "\n" },
        );
        let mut text = header.join(delimiter) + end;
        for row in rows {
            text += &(row.join(delimiter) + end);
        }
        text
    }
}

const FIRST_DAY: &str = "2025-01-01";
const DAYS: i64 = 90;

fn day(offset: i64) -> NaiveDate {
    FIRST_DAY.parse::<NaiveDate>().unwrap() + Days::days(offset)
}

fn whole_range() -> DateRange {
    DateRange::new(day(0), day(DAYS - 1)).unwrap()
}

/// Builds a CSV source of `kind` over `contents` the way `kassa` does, and pulls the whole
/// quarter.
fn pull_csv(kind: &str, file: &str, contents: &[u8]) -> Result<Pull, SourceError> {
    let ws = Workspace::new();
    let path = ws.path().join(file);
    std::fs::write(&path, contents).unwrap();
    let table = format!(
        "[[sources]]\nname = \"file\"\nkind = {kind:?}\npath = {:?}\n",
        path.display().to_string()
    );
    let source = source_config(&table)
        .build(&paused_clock_context())
        .unwrap();
    paused_runtime().block_on(source.pull(whole_range()))
}

/// One ad row: (day offset, campaign) → (impressions beyond the clicks, reach, clicks, spend
/// in cents).
type AdRows = BTreeMap<(i64, u8), (u32, u32, u32, i64)>;

fn ad_rows() -> impl Strategy<Value = AdRows> {
    prop::collection::btree_map(
        (0..DAYS, 0u8..4),
        (any::<u32>(), any::<u32>(), any::<u32>(), 0i64..100_000_000),
        0..40,
    )
}

/// Deals: id → (created offset, status 0 open / 1 won / 2 lost, days to close, amount cents).
type DealRows = BTreeMap<u16, (i64, u8, i64, i64)>;

fn deal_rows() -> impl Strategy<Value = DealRows> {
    prop::collection::btree_map(
        any::<u16>(),
        (0..DAYS - 30, 0u8..3, 0i64..30, 0i64..10_000_000_000),
        0..40,
    )
}

proptest! {
    #![proptest_config(cases(64))]

    /// A valid ads export of random rows, in either dialect, parses to the totals a plain sum
    /// of the rows gives: impressions, reach, clicks and spend to the cent.
    #[test]
    fn an_ads_csv_of_valid_rows_parses_to_the_same_totals(
        rows in ad_rows(),
        dialect in dialect(),
        short in any::<bool>(),
    ) {
        let header = ["date", "channel", "campaign_id", "impressions", "reach", "clicks", "spend"];
        let lines: Vec<Vec<String>> = rows
            .iter()
            .map(|(&(offset, campaign), &(extra, reach, clicks, cents))| {
                vec![
                    dialect.date(day(offset)),
                    format!("channel{}", campaign % 2),
                    format!("c{campaign}"),
                    (u64::from(clicks) + u64::from(extra)).to_string(),
                    reach.to_string(),
                    clicks.to_string(),
                    dialect.amount(cents, short),
                ]
            })
            .collect();
        let text = dialect.file(&header, &lines);
        let pull = pull_csv("csv_ads", "ads.csv", text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let Pulled::AdFrame(parsed) = pull.rows else { panic!("ads") };
        let parsed = kassa::frames::ad_days(&parsed).unwrap();
        prop_assert_eq!(parsed.len(), rows.len());
        let sum = |f: fn(&(u32, u32, u32, i64)) -> u64| rows.values().map(f).sum::<u64>();
        prop_assert_eq!(
            parsed.iter().map(|r| r.impressions).sum::<u64>(),
            sum(|r| u64::from(r.0) + u64::from(r.2))
        );
        prop_assert_eq!(parsed.iter().map(|r| r.reach.unwrap()).sum::<u64>(), sum(|r| u64::from(r.1)));
        prop_assert_eq!(parsed.iter().map(|r| r.clicks).sum::<u64>(), sum(|r| u64::from(r.2)));
        prop_assert_eq!(
            parsed.iter().map(|r| r.spend.micros()).sum::<i64>(),
            rows.values().map(|r| r.3 * 10_000).sum::<i64>()
        );
    }

    /// A valid CRM export of random deals, in either dialect, parses to the same deals per
    /// status and the same won money, to the cent.
    #[test]
    fn a_crm_csv_of_valid_deals_parses_to_the_same_totals(
        deals in deal_rows(),
        dialect in dialect(),
        short in any::<bool>(),
    ) {
        let header = ["deal_id", "created_date", "closed_date", "status", "amount", "channel"];
        let lines: Vec<Vec<String>> = deals
            .iter()
            .map(|(&id, &(created, status, to_close, cents))| {
                let (status, closed) = match status {
                    0 => ("open", String::new()),
                    1 => ("won", dialect.date(day(created + to_close))),
                    _ => ("lost", dialect.date(day(created + to_close))),
                };
                vec![
                    format!("deal-{id}"),
                    dialect.date(day(created)),
                    closed,
                    status.to_string(),
                    dialect.amount(cents, short),
                    format!("channel{}", id % 3),
                ]
            })
            .collect();
        let text = dialect.file(&header, &lines);
        let pull = pull_csv("csv_crm", "crm.csv", text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let Pulled::DealFrame(parsed) = pull.rows else { panic!("deals") };
        let parsed = kassa::frames::deals(&parsed).unwrap();
        prop_assert_eq!(parsed.len(), deals.len());
        for status in [DealStatus::Open, DealStatus::Won, DealStatus::Lost] {
            let code = match status { DealStatus::Open => 0, DealStatus::Won => 1, _ => 2 };
            prop_assert_eq!(
                parsed.iter().filter(|d| d.status == status).count(),
                deals.values().filter(|d| d.1 == code).count()
            );
        }
        prop_assert_eq!(
            parsed
                .iter()
                .filter(|d| d.status == DealStatus::Won)
                .map(|d| d.amount.unwrap().micros())
                .sum::<i64>(),
            deals.values().filter(|d| d.1 == 1).map(|d| d.3 * 10_000).sum::<i64>()
        );
    }

    /// Any bytes after a valid or a random header are rows or an error naming the file:
    /// never a panic.
    #[test]
    fn any_csv_is_rows_or_an_error_naming_the_file(
        crm in any::<bool>(),
        valid_header in any::<bool>(),
        header in "[a-z_,;]{0,60}",
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            "([0-9a-z.,;\"\\- ]{0,30}\r?\n){0,10}".prop_map(String::into_bytes),
        ],
    ) {
        let (kind, file, columns) = if crm {
            ("csv_crm", "crm.csv", "deal_id,created_date,closed_date,status,amount,channel")
        } else {
            ("csv_ads", "ads.csv", "date,channel,campaign_id,impressions,reach,clicks,spend")
        };
        let mut contents = if valid_header { columns.to_string() } else { header }.into_bytes();
        contents.push(b'\n');
        contents.extend(body);
        if let Err(error) = pull_csv(kind, file, &contents) {
            prop_assert!(error.to_string().contains(file), "{}", error);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration values

/// A TOML scalar: any string, integer, float or boolean, written as TOML writes it.
fn toml_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        "[a-z0-9_./:-]{0,12}".prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        (-5i64..100).prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
    ]
}

/// A valid configuration, as `(table header, key = value lines)`, with one source and one
/// alert target of every kind; secrets come from files so nothing depends on the environment.
fn valid_tables(ws: &Workspace) -> Vec<(String, BTreeMap<String, String>)> {
    let ads = ws.write(
        "ads.csv",
        "date,channel,campaign_id,impressions,reach,clicks,spend\n",
    );
    let crm = ws.write(
        "crm.csv",
        "deal_id,created_date,closed_date,status,amount,channel\n",
    );
    let token = ws.write("secrets/token", "EAAGkassaTESTtoken0123456789\n");
    let slack = ws.write(
        "secrets/slack",
        "https://hooks.slack.com/services/T0/B0/abc\n",
    );
    let bot = ws.write(
        "secrets/bot",
        "123456789:AAHkassaTESTbotTOKENabcdefghijklmnop\n",
    );
    let signing = ws.write(
        "secrets/signing",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
    );
    let q = |p: &std::path::Path| format!("{:?}", p.display().to_string());
    let table = |header: &str, lines: &[(&str, String)]| {
        (
            header.to_string(),
            lines
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    };
    vec![
        table("[store]", &[("path", q(&ws.path().join("store")))]),
        table("[analysis]", &[("granularity", "\"week\"".into())]),
        table("[alerting]", &[]),
        table("[worker]", &[]),
        table("[log]", &[]),
        table(
            "[[sources]]",
            &[
                ("name", "\"ads\"".into()),
                ("kind", "\"csv_ads\"".into()),
                ("path", q(&ads)),
            ],
        ),
        table(
            "[[sources]]",
            &[
                ("name", "\"crm\"".into()),
                ("kind", "\"csv_crm\"".into()),
                ("path", q(&crm)),
            ],
        ),
        table(
            "[[sources]]",
            &[
                ("name", "\"meta\"".into()),
                ("kind", "\"meta\"".into()),
                ("account_id", "\"act_1\"".into()),
                ("token_file", q(&token)),
            ],
        ),
        table(
            "[[sources]]",
            &[
                ("name", "\"hubspot\"".into()),
                ("kind", "\"hubspot\"".into()),
                ("token_file", q(&token)),
            ],
        ),
        table(
            "[[alerts]]",
            &[
                ("name", "\"team\"".into()),
                ("kind", "\"slack\"".into()),
                ("url_file", q(&slack)),
            ],
        ),
        table(
            "[[alerts]]",
            &[
                ("name", "\"owner\"".into()),
                ("kind", "\"telegram\"".into()),
                ("token_file", q(&bot)),
                ("chat_id", "-1001234567890".into()),
            ],
        ),
        table(
            "[[alerts]]",
            &[
                ("name", "\"bi\"".into()),
                ("kind", "\"webhook\"".into()),
                ("url_file", q(&slack)),
                ("secret_file", q(&signing)),
            ],
        ),
    ]
}

/// Every key of every table of [`valid_tables`]: the sections' keys as kassa reads them, and
/// for sources and alert targets every key their kind accepts.
fn every_key(tables: &[(String, BTreeMap<String, String>)]) -> Vec<(usize, String)> {
    let sections: &[(&str, &[&str])] = &[
        ("[store]", &["path"]),
        (
            "[analysis]",
            &[
                "granularity",
                "timezone",
                "baseline_periods",
                "activity_metrics",
                "activity_growth_min",
                "money_metric",
                "money_growth_max",
            ],
        ),
        (
            "[alerting]",
            &[
                "locale",
                "window_periods",
                "max_per_run",
                "update_min_growth",
                "currency",
            ],
        ),
        (
            "[worker]",
            &["schedule", "timezone", "listen", "shutdown_grace_seconds"],
        ),
        ("[log]", &["format"]),
    ];
    let mut keys = Vec::new();
    for (i, (header, lines)) in tables.iter().enumerate() {
        let kind = lines.get("kind").map(|k| k.trim_matches('"').to_string());
        let names: Vec<String> = match (header.as_str(), kind) {
            ("[[sources]]", Some(kind)) => crate::docs::accepted_keys::<SourceConfig>(&kind),
            ("[[alerts]]", Some(kind)) => {
                crate::docs::accepted_keys::<kassa::alerts::AlertTargetConfig>(&kind)
            }
            (header, _) => sections
                .iter()
                .find(|(h, _)| *h == header)
                .unwrap()
                .1
                .iter()
                .map(|k| k.to_string())
                .collect(),
        };
        keys.extend(names.into_iter().map(|k| (i, k)));
    }
    keys
}

fn render(tables: &[(String, BTreeMap<String, String>)]) -> String {
    tables
        .iter()
        .map(|(header, lines)| {
            let body: String = lines.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
            format!("{header}\n{body}\n")
        })
        .collect()
}

#[test]
fn the_base_configuration_of_the_config_property_is_valid() {
    let ws = Workspace::new();
    let path = ws.write("kassa.toml", &render(&valid_tables(&ws)));
    if let Err(error) = kassa::config::Settings::load(Some(&path)) {
        panic!("{error}");
    }
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any TOML scalar in any key of a valid configuration is accepted or refused with a
    /// problem naming that key; loading never panics.
    #[test]
    fn any_value_in_any_config_key_is_accepted_or_names_the_key(
        pick in any::<prop::sample::Index>(),
        value in toml_scalar(),
    ) {
        let ws = Workspace::new();
        let mut tables = valid_tables(&ws);
        let keys = every_key(&tables);
        let (table, key) = pick.get(&keys).clone();
        tables[table].1.insert(key.clone(), value.clone());
        let text = render(&tables);
        let path = ws.write("kassa.toml", &text);
        if let Err(error) = kassa::config::Settings::load(Some(&path)) {
            let shown = error.to_string();
            prop_assert!(
                shown.contains(&key),
                "{} = {} in {} gave a problem not naming the key:\n{}",
                key,
                value,
                tables[table].0,
                shown
            );
        }
    }
}
