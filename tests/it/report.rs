//! `csv_report`, an agency's report as people send it: both layouts are read to exact
//! claims, bad rows fail with the file, line and column, a backfill stores what
//! `Store::claims` reads back, and a report never turns the days it does not list into data
//! gaps.

use kassa::domain::{ClaimMetric, Pulled, ReportClaim};
use kassa::sources::{Pull, SourceError};
use kassa::store::Store;
use proptest::prelude::*;

use crate::helpers::{Workspace, money, paused_clock_context, range, repo, source_config};

const HEADER: &str = "period_start,period_end,channel,metric,value";

/// Builds a `csv_report` source over `path` the way `kassa` does, and pulls `from..=to`.
fn read_report(path: &std::path::Path, from: &str, to: &str) -> Result<Pull, SourceError> {
    let table = format!(
        "[[sources]]\nname = \"agency\"\nkind = \"csv_report\"\npath = {:?}\n",
        path.display().to_string()
    );
    let source = source_config(&table)
        .build(&paused_clock_context())
        .unwrap();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(source.pull(range(from, to)))
}

fn claims(pull: &Pull) -> &[ReportClaim] {
    match &pull.rows {
        Pulled::Claims(claims) => claims,
        other => panic!("a report pulls claims, got {other:?}"),
    }
}

fn claim(
    from: &str,
    to: &str,
    channel: &str,
    metric: ClaimMetric,
    value: &str,
    currency: Option<&str>,
    note: Option<&str>,
) -> ReportClaim {
    ReportClaim {
        period: range(from, to),
        channel: channel.to_string(),
        metric,
        value: money(value),
        currency: currency.map(str::to_string),
        note: note.map(str::to_string),
    }
}

#[test]
fn csv_report_long_form_is_read() {
    let path = repo().join("fixtures/csv/report_long.csv");
    let pull = read_report(&path, "2025-01-01", "2025-03-31").unwrap();
    assert_eq!(
        claims(&pull),
        [
            claim(
                "2025-01-06",
                "2025-01-12",
                "meta",
                ClaimMetric::Leads,
                "320",
                None,
                Some("Ads Manager, 7-day click")
            ),
            claim(
                "2025-01-06",
                "2025-01-12",
                "meta",
                ClaimMetric::Spend,
                "96000.5",
                Some("RUB"),
                None
            ),
            claim(
                "2025-01-06",
                "2025-01-12",
                "meta",
                ClaimMetric::Cpl,
                "300",
                Some("RUB"),
                None
            ),
            claim(
                "2025-01-01",
                "2025-01-31",
                "meta",
                ClaimMetric::Roas,
                "4.2",
                None,
                None
            ),
            claim(
                "2025-01-01",
                "2025-01-31",
                "yandex",
                ClaimMetric::Purchases,
                "41",
                None,
                Some("Metrika goals")
            ),
            claim(
                "2025-01-13",
                "2025-01-13",
                "vk",
                ClaimMetric::Clicks,
                "1234",
                None,
                None
            ),
        ]
    );
    // It covers the periods it lists, and warns of nothing it does not list.
    assert_eq!(pull.covered, Some(range("2025-01-01", "2025-01-31")));
    assert!(pull.warnings.is_empty(), "{:?}", pull.warnings);

    // A pull keeps the claims whose period starts in its range (the store replaces claims by
    // their start), and covers them within the range.
    let pull = read_report(&path, "2025-01-06", "2025-01-20").unwrap();
    assert_eq!(claims(&pull).len(), 4, "{:?}", claims(&pull));
    assert_eq!(pull.covered, Some(range("2025-01-06", "2025-01-13")));
    let pull = read_report(&path, "2025-02-01", "2025-02-28").unwrap();
    assert!(claims(&pull).is_empty());
    assert_eq!(pull.covered, None);
}

#[test]
fn csv_report_bad_rows_name_file_line_column() {
    let ws = Workspace::new();
    let path = ws.write(
        "agency.csv",
        &format!(
            "{HEADER}\n\
             2025-01-06,2025-01-12,meta,roas,4.2\n\
             2025-01-06,2025-01-12,meta,lead,320\n\
             2025-01-12,2025-01-06,meta,leads,320\n\
             2025-01-06,2025-01-12,meta,clicks,-5\n\
             2025-01-06,2025-01-12,meta,purchases,12.5\n\
             2025-01-06,2025-01-12,meta,roas,3\n"
        ),
    );
    let message = read_report(&path, "2025-01-01", "2025-01-31")
        .unwrap_err()
        .to_string();
    assert!(message.contains("agency.csv: 5 bad rows"), "{message}");
    for expected in [
        "line 3, column `metric`: \"lead\" is not a metric; did you mean `leads`?",
        "line 4, column `period_end`: 2025-01-06 is before period_start 2025-01-12",
        "line 5, column `value`: \"-5\" is negative",
        "line 6, column `value`: \"12.5\" is not a whole number; purchases are counted",
        "line 7, column `value`: a second roas claim for channel \"meta\" over \
         2025-01-06..2025-01-12 (the first is on line 2)",
    ] {
        assert!(message.contains(expected), "{expected}\nin: {message}");
    }

    // Through `kassa`: the source and its range are named, and the backfill fails (its one
    // source did).
    ws.config("[[sources]]\nname = \"agency\"\nkind = \"csv_report\"\npath = \"agency.csv\"\n");
    let run = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-01-12"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("source \"agency\", 2025-01-06..2025-01-12"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("line 3, column `metric`"),
        "{}",
        run.stderr
    );
}

/// A Russian Excel export of a report: BOM, CRLF, `;`, `1 234,50`, `4,2` and `DD.MM.YYYY`,
/// read without any key set.
#[test]
fn csv_report_semicolon_decimal_comma() {
    let path = repo().join("fixtures/csv/report_semicolon.csv");
    let pull = read_report(&path, "2025-03-01", "2025-03-31").unwrap();
    assert_eq!(
        claims(&pull),
        [
            claim(
                "2025-03-01",
                "2025-03-31",
                "yandex",
                ClaimMetric::Spend,
                "1234.5",
                Some("RUB"),
                None
            ),
            claim(
                "2025-03-01",
                "2025-03-31",
                "yandex",
                ClaimMetric::Roas,
                "4.2",
                None,
                None
            ),
            claim(
                "2025-03-03",
                "2025-03-09",
                "vk",
                ClaimMetric::Leads,
                "12345",
                None,
                None
            ),
        ]
    );
}

/// The wide form, as spreadsheets have it: one column per metric, an empty cell claiming
/// nothing, other columns ignored with a warning, a misspelt metric column refused.
#[test]
fn csv_report_wide_form_is_read() {
    let ws = Workspace::new();
    let path = ws.write(
        "wide.csv",
        "period_start,period_end,channel,leads,clicks,spend,ctr,currency\n\
         2025-01-06,2025-01-12,meta,320,,96000.50,1.9%,RUB\n\
         2025-01-06,2025-01-12,vk,,4100,,2.1%,RUB\n",
    );
    let pull = read_report(&path, "2025-01-01", "2025-01-31").unwrap();
    assert_eq!(
        claims(&pull),
        [
            claim(
                "2025-01-06",
                "2025-01-12",
                "meta",
                ClaimMetric::Leads,
                "320",
                None,
                None
            ),
            claim(
                "2025-01-06",
                "2025-01-12",
                "meta",
                ClaimMetric::Spend,
                "96000.5",
                Some("RUB"),
                None
            ),
            claim(
                "2025-01-06",
                "2025-01-12",
                "vk",
                ClaimMetric::Clicks,
                "4100",
                None,
                None
            ),
        ]
    );
    assert_eq!(pull.warnings.len(), 1, "{:?}", pull.warnings);
    assert!(
        pull.warnings[0].contains("column `ctr` ignored"),
        "{:?}",
        pull.warnings
    );

    let misspelt = ws.write(
        "misspelt.csv",
        "period_start,period_end,channel,lead,spend\n2025-01-06,2025-01-12,meta,320,100\n",
    );
    let message = pull_err(&misspelt);
    assert!(
        message
            .contains("misspelt.csv, line 1: column `lead` is not a metric; did you mean `leads`?"),
        "{message}"
    );
    let bad = ws.write(
        "bad.csv",
        "period_start,period_end,channel,leads\n2025-01-06,2025-01-12,meta,3.5\n",
    );
    let message = pull_err(&bad);
    assert!(
        message.contains("line 2, column `leads`: \"3.5\" is not a whole number"),
        "{message}"
    );
}

fn pull_err(path: &std::path::Path) -> String {
    read_report(path, "2025-01-01", "2025-01-31")
        .unwrap_err()
        .to_string()
}

/// The demo's ads and CRM with and without a report that covers March only: the report
/// leaves April and every other month alone (no data gaps, same verdicts), its backfill is
/// no partial failure, and `Store::claims` reads back what it stored.
#[test]
fn csv_report_does_not_create_data_gaps() {
    let report = "period_start,period_end,channel,metric,value,currency,source_note\n\
                  2025-03-01,2025-03-31,meta,leads,320,,agency slide 4\n\
                  2025-03-03,2025-03-09,google,spend,1500.25,USD,\n";
    let analyses: Vec<serde_json::Value> = [false, true]
        .into_iter()
        .map(|with_report| {
            let ws = Workspace::new();
            ws.write("agency.csv", report);
            let mut sources = crate::helpers::demo_sources();
            if with_report {
                sources.push_str(
                    "\n[[sources]]\nname = \"agency\"\nkind = \"csv_report\"\npath = \"agency.csv\"\n",
                );
            }
            ws.config(&sources);
            let run = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"]);
            assert_eq!(run.code, 0, "{run:?}");
            assert!(!run.stdout.contains("not covered"), "{}", run.stdout);
            let analysis = ws.kassa(&["analyze", "--format", "json"]).json();
            if with_report {
                assert!(run.stdout.contains("agency: 2 rows"), "{}", run.stdout);
                let store = Store::open(&ws.store_path()).unwrap();
                let frame = store.claims(&["agency"]).unwrap();
                assert_eq!(frame.height(), 2);
                let text = |c: &str| -> Vec<Option<String>> {
                    let column = frame.column(c).unwrap().str().unwrap().clone();
                    column.iter().map(|v| v.map(str::to_string)).collect()
                };
                let s = |v: &str| Some(v.to_string());
                assert_eq!(text("source"), [s("agency"), s("agency")]);
                assert_eq!(text("channel"), [s("meta"), s("google")]);
                assert_eq!(text("metric"), [s("leads"), s("spend")]);
                assert_eq!(text("currency"), [None, s("USD")]);
                assert_eq!(text("note"), [s("agency slide 4"), None]);
                let values: Vec<Option<i64>> = frame
                    .column("value_micros")
                    .unwrap()
                    .i64()
                    .unwrap()
                    .iter()
                    .collect();
                assert_eq!(values, [Some(320_000_000), Some(1_500_250_000)]);
            }
            analysis
        })
        .collect();
    let [without, with] = analyses.as_slice() else {
        unreachable!()
    };
    assert!(
        without["periods"].as_array().is_some_and(|p| !p.is_empty()),
        "{without}"
    );
    assert_eq!(with["periods"], without["periods"]);
    // The report's claims are reconciled (their own findings and rows); every other finding
    // is the same, and no gap names the report: the demo's own gaps (weeks without a
    // baseline) are all there are.
    let not_claims = |analysis: &serde_json::Value| -> Vec<serde_json::Value> {
        analysis["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| !f["kind"].as_str().unwrap().starts_with("claim_"))
            .cloned()
            .collect()
    };
    assert_eq!(not_claims(with), not_claims(without));
    assert!(
        !serde_json::Value::from(not_claims(with))
            .to_string()
            .contains("agency"),
        "{with}"
    );
    assert_eq!(without["reconciliation"], serde_json::json!([]));
    let rows = with["reconciliation"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{with}");
    assert!(rows.iter().all(|r| r["claimed_by"] == "agency"), "{with}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any bytes after a valid or a random header are claims or an error naming the file:
    /// never a panic.
    #[test]
    fn any_report_csv_is_claims_or_an_error_naming_the_file(
        valid_header in any::<bool>(),
        header in "[a-z_,;]{0,60}",
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            "([0-9a-z.,;\"\\- ]{0,30}\r?\n){0,10}".prop_map(String::into_bytes),
        ],
    ) {
        let ws = Workspace::new();
        let mut contents = if valid_header { HEADER.to_string() } else { header }.into_bytes();
        contents.push(b'\n');
        contents.extend(body);
        let path = ws.path().join("agency.csv");
        std::fs::write(&path, contents).unwrap();
        if let Err(error) = read_report(&path, "2025-01-01", "2025-03-31") {
            prop_assert!(error.to_string().contains("agency.csv"), "{}", error);
        }
    }
}
