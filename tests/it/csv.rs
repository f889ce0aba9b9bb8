//! The CSV contract: bad files fail with the file, the line and the column, and a bad source
//! loses nothing of the good ones.

use crate::helpers::Workspace;

const ADS_HEADER: &str = "date,channel,campaign_id,impressions,reach,clicks,spend";
const CRM_HEADER: &str = "deal_id,created_date,closed_date,status,amount,channel";

fn workspace(ads: &str, crm: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write("ads.csv", ads);
    ws.write("crm.csv", crm);
    ws.config(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\n",
    );
    ws
}

fn good_ads() -> String {
    format!(
        "{ADS_HEADER}\n2025-01-06,meta,c1,1000,800,20,10.5\n2025-01-07,meta,c1,1000,800,21,11\n"
    )
}

fn good_crm() -> String {
    format!("{CRM_HEADER}\nd1,2025-01-06,2025-01-07,won,100,meta\nd2,2025-01-06,,open,,meta\n")
}

fn backfill(ws: &Workspace) -> crate::helpers::Run {
    ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-01-12"])
}

#[test]
fn a_non_numeric_clicks_value_names_file_line_and_column() {
    let ads = format!(
        "{ADS_HEADER}\n2025-01-06,meta,c1,1000,800,20,10\n2025-01-07,meta,c1,1000,800,lots,10\n"
    );
    let ws = workspace(&ads, &good_crm());
    let run = backfill(&ws);
    assert_eq!(run.code, 2, "a failed source is a partial failure: {run:?}");
    assert!(run.stderr.contains("ads.csv"), "{}", run.stderr);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert!(run.stderr.contains("column `clicks`"), "{}", run.stderr);
    assert!(run.stderr.contains("\"lots\""), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("source \"ads\", 2025-01-06..2025-01-12"),
        "{}",
        run.stderr
    );
    // The CRM source was still read and stored.
    assert!(run.stdout.contains("crm: 2 rows"), "{}", run.stdout);
}

#[test]
fn a_missing_column_is_named() {
    let ads = "date,channel,campaign_id,impressions,clicks,spend
2025-01-06,meta,c1,1000,20,10
";
    let run = backfill(&workspace(ads, &good_crm()));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("ads.csv, line 1: missing column `reach`"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_status_is_named() {
    let crm = format!(
        "{CRM_HEADER}\nd1,2025-01-06,2025-01-07,won,100,meta\nd2,2025-01-06,2025-01-08,maybe,100,meta\n"
    );
    let run = backfill(&workspace(&good_ads(), &crm));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("crm.csv"), "{}", run.stderr);
    assert!(
        run.stderr.contains("line 3, column `status`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("\"maybe\""), "{}", run.stderr);
    assert!(run.stdout.contains("ads: 2 rows"), "{}", run.stdout);
}

#[test]
fn every_bad_row_is_listed_at_once() {
    let ads = format!(
        "{ADS_HEADER}\n2025-01-06,meta,c1,1000,800,20,-5\n2025-01-07,meta,c1,1000,800,20,abc\n2025-01-08,meta,c1,x,800,20,1\n"
    );
    let run = backfill(&workspace(&ads, &good_crm()));
    assert_eq!(run.code, 2);
    for expected in [
        "3 bad rows",
        "line 2, column `spend`",
        "negative",
        "line 3, column `spend`",
        "line 4, column `impressions`",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from {}",
            run.stderr
        );
    }
}

#[test]
fn contract_violations_in_deals_are_caught() {
    let crm = format!(
        "{CRM_HEADER}\nd1,2025-01-06,,won,100,meta\nd2,2025-01-06,2025-01-07,open,,meta\nd3,2025-01-08,2025-01-07,lost,,meta\nd4,2025-01-06,,open,,meta\nd4,2025-01-07,,open,,meta\n"
    );
    let run = backfill(&workspace(&good_ads(), &crm));
    assert_eq!(run.code, 2);
    for expected in [
        "line 2, column `closed_date`: a won deal needs its closed date",
        "line 3, column `closed_date`: an open deal has a closed date",
        "line 4, column `closed_date`: 2025-01-07 is before the created date 2025-01-08",
        "line 6, column `deal_id`: deal \"d4\" appears twice (first on line 5)",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from {}",
            run.stderr
        );
    }
}

#[test]
fn a_missing_file_is_a_config_problem_reported_with_the_others() {
    let ws = Workspace::new();
    ws.config(
        "[analysis]\ngranularity = \"year\"\n\n[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"nowhere.csv\"\n",
    );
    let run = ws.kassa(&["check", "--offline"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("the configuration has 2 problems"),
        "{}",
        run.stderr
    );
    // Relative to the config file's directory, and shown resolved.
    let resolved = ws.path().join("nowhere.csv");
    assert!(
        run.stderr.contains(&format!(
            "sources[0].path: {} does not exist",
            resolved.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("analysis.granularity: \"year\" is not one of day, week, month"),
        "{}",
        run.stderr
    );
}

/// The first period row of `channel` starting on `day` in an `analyze --format json` report.
fn period<'a>(report: &'a serde_json::Value, channel: &str, day: &str) -> &'a serde_json::Value {
    report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["channel"] == channel && p["period_start"] == day)
        .unwrap_or_else(|| panic!("no {channel} period on {day}: {report}"))
}

/// Excel on Windows and Python's csv module end lines with CRLF; the csv crate counts such a
/// record's line only when it reads the next one, which made every line number one too low.
#[test]
fn crlf_line_numbers() {
    let ads = format!(
        "{ADS_HEADER}\r\n2025-01-06,meta,c1,1000,800,20,10\r\n2025-01-07,meta,c1,1000,800,lots,10\r\n"
    );
    let run = backfill(&workspace(&ads, &good_crm()));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("line 3, column `clicks`: \"lots\""),
        "{}",
        run.stderr
    );
}

/// A Russian Excel export: BOM, CRLF, `;`, `1 234,50` (with spaces and no-break spaces between
/// thousands) and `06.01.2025`, for both kinds of source, read without any key set.
#[test]
fn semicolon_csv_with_decimal_comma() {
    let ws = Workspace::new();
    for file in ["ads_semicolon.csv", "crm_semicolon.csv"] {
        let bytes = std::fs::read(crate::helpers::repo().join("fixtures/csv").join(file)).unwrap();
        std::fs::write(ws.path().join(file), bytes).unwrap();
    }
    ws.config(
        "[analysis]\ngranularity = \"day\"\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads_semicolon.csv\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm_semicolon.csv\"\n",
    );
    let run = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-01-07"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("ads: 4 rows"), "{}", run.stdout);
    assert!(run.stdout.contains("crm: 4 rows"), "{}", run.stdout);

    let report = ws.kassa(&["analyze", "--format", "json"]).json();
    let yandex = period(&report, "yandex", "2025-01-06");
    assert_eq!(yandex["impressions"], 12345);
    assert_eq!(yandex["reach"], 9876);
    assert_eq!(yandex["spend"], 1234.5);
    let vk = period(&report, "vk", "2025-01-06");
    assert_eq!(vk["impressions"], 40000);
    assert_eq!(vk["spend"], 1000.25);
    let won = period(&report, "all", "2025-01-07");
    assert_eq!(won["revenue"], 57500.5, "45 000,00 + 12 500,50");
    assert_eq!(won["spend"], 2087.65, "1100 + 987,65");
    assert_eq!(period(&report, "all", "2025-01-06")["leads"], 2);
}

#[test]
fn semicolon_header_mismatch_names_delimiter() {
    let ads =
        "date;channel;campaign;impressions;reach;clicks;spend\n06.01.2025;meta;c1;1000;800;20;10\n";
    let run = backfill(&workspace(ads, &good_crm()));
    assert_eq!(run.code, 2, "{run:?}");
    for expected in [
        "ads.csv, line 1: missing column `campaign_id`",
        "split at `;` (detected from the header line)",
        "\"date;channel;campaign;impressions;reach;clicks;spend\"",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from {}",
            run.stderr
        );
    }

    // A header that mixes delimiters is split at the one that finds the most columns, and
    // shown as it is so the mix is visible.
    let mixed = "date;channel;campaign_id,impressions,reach,clicks,spend\n";
    let run = backfill(&workspace(mixed, &good_crm()));
    assert!(
        run.stderr
            .contains("missing columns `date`, `channel`, `campaign_id`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("split at `,`"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("\"date;channel;campaign_id,impressions,reach,clicks,spend\""),
        "{}",
        run.stderr
    );
}

/// A file that switches decimal mark or date format halfway is ambiguous (`1.234` may be a
/// thousand written the German way): the odd value is named with the line that set the rule.
#[test]
fn mixed_decimal_marks_and_date_formats_are_named() {
    let ads = "date;channel;campaign_id;impressions;reach;clicks;spend\n\
               06.01.2025;meta;c1;1000;800;20;10,5\n\
               07.01.2025;meta;c1;1000;800;20;1.234\n\
               2025-01-08;meta;c1;1000;800;20;3\n";
    let crm = format!("{CRM_HEADER}\nd1,06.01.2025,2025-01-07,won,100,meta\n");
    let run = backfill(&workspace(ads, &crm));
    assert_eq!(run.code, 1, "both sources failed: {run:?}");
    for expected in [
        "line 3, column `spend`: \"1.234\" has a decimal point, but line 2 uses a decimal comma",
        "line 4, column `date`: \"2025-01-08\" is written YYYY-MM-DD, but line 2 uses DD.MM.YYYY",
        "line 2, column `closed_date`: \"2025-01-07\" is written YYYY-MM-DD, but line 2 uses DD.MM.YYYY",
        "set `decimal` on the source",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from {}",
            run.stderr
        );
    }
}

#[test]
fn csv_format_keys_are_validated_and_obeyed() {
    let ws = workspace(&good_ads(), &good_crm());
    ws.config(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n\
         delimiter = \"::\"\ndecimal = \"dot\"\ndate_format = \"MM/DD/YYYY\"\n",
    );
    let run = ws.kassa(&["check", "--offline"]);
    assert_eq!(run.code, 1, "{run:?}");
    for expected in [
        "sources[0].delimiter: \"::\" is not one of",
        "(for example: delimiter = \";\")",
        "sources[0].decimal: \"dot\" is not \".\" or \",\"",
        "sources[0].date_format: \"MM/DD/YYYY\" is not \"YYYY-MM-DD\" or \"DD.MM.YYYY\"",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from {}",
            run.stderr
        );
    }

    // Set keys win over detection: this file's `10.5` is not a decimal comma.
    ws.config(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\ndecimal = \",\"\n",
    );
    let run = backfill(&ws);
    assert!(
        run.stderr.contains(
            "line 2, column `spend`: \"10.5\" has a decimal point, but the source sets `decimal` to a decimal comma"
        ),
        "{}",
        run.stderr
    );
}

/// A clicks-only export (or data merged from two tools) has clicks without impressions: the
/// rows are accepted with a warning, and no CTR is made up for their periods.
#[test]
fn clicks_without_impressions_are_accepted() {
    let ads = format!(
        "{ADS_HEADER}\n2025-01-06,google,g1,0,,120,30\n2025-01-06,meta,c1,1000,800,20,10\n\
         2025-01-07,google,g1,,,90,25\n2025-01-07,meta,c1,1000,800,20,10\n"
    );
    let ws = workspace(&ads, &good_crm());
    ws.config(
        "[analysis]\ngranularity = \"day\"\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\n",
    );
    let run = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-01-07"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("2 rows with clicks but no impressions"),
        "{}",
        run.stderr
    );
    let report = ws.kassa(&["analyze", "--format", "json"]).json();
    let google = period(&report, "google", "2025-01-06");
    assert_eq!(google["clicks"], 120);
    assert_eq!(google["ctr"], serde_json::Value::Null, "{google}");
    assert_eq!(
        period(&report, "all", "2025-01-06")["ctr"],
        serde_json::Value::Null
    );
    assert_eq!(period(&report, "meta", "2025-01-06")["ctr"], 0.02);

    // More clicks than a known number of impressions is still an error, which says the rule.
    let ads = format!("{ADS_HEADER}\n2025-01-06,meta,c1,10,8,20,10\n");
    let run = backfill(&workspace(&ads, &good_crm()));
    assert!(
        run.stderr
            .contains("20 clicks is more than the 10 impressions of the same row; leave impressions empty or 0"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_day_in_ads_csv_warns() {
    let ads = format!(
        "{ADS_HEADER}\n2025-01-06,meta,c1,1000,800,20,10\n2025-01-08,meta,c1,1000,800,20,10\n\
         2025-01-11,meta,c1,1000,800,20,10\n"
    );
    let ws = workspace(&ads, &good_crm());
    let run = ws.kassa(&[
        "backfill",
        "--from",
        "2025-01-06",
        "--to",
        "2025-01-11",
        "--source",
        "ads",
    ]);
    assert_eq!(run.code, 0, "a missing day is read as a zero day: {run:?}");
    assert!(
        run.stderr.contains(
            "no rows at all on 2025-01-07, 2025-01-09..2025-01-10 (3 days inside the file's span)"
        ),
        "{}",
        run.stderr
    );
}

/// A CSV whose newest row is long past: the nightly run re-pulls it, the days after its
/// newest row are not covered, and the run says how old the data is and exits 2.
#[test]
fn stale_csv_is_a_gap() {
    let ws = workspace(&good_ads(), &good_crm());
    let run = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-01-07"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = ws.kassa(&["run", "--today", "2025-12-01"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("newest row is 2025-01-07, 327 days before the window's end (2025-11-30)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("ads: 0 rows re-pulled; not covered: "),
        "{}",
        run.stdout
    );

    // A backfill reaching past the files' end is a partial failure too.
    let run = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-01-12"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout
            .contains("not covered: 2025-01-08..2025-01-12 (a data gap)"),
        "{}",
        run.stdout
    );
}

#[test]
fn header_only_csv_warns() {
    let ws = workspace(&format!("{ADS_HEADER}\n"), &good_crm());
    let run = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-01-07"]);
    assert_eq!(run.code, 2, "a file without rows covers nothing: {run:?}");
    assert!(
        run.stderr
            .contains("the file has no rows: 2025-01-06..2025-01-07 is not covered"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("the backfill found no rows for 2025-01-06..2025-01-07"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains(
            "ads: 0 rows over 2025-01-06..2025-01-07 (1 chunk); not covered: 2025-01-06..2025-01-07"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("crm: 2 rows"), "{}", run.stdout);
}

/// Pulls every row of the `csv_ads` file `ads` holds, written by `ws`, through the source.
async fn pull_ads(ws: &Workspace, ads: &str) -> Result<Vec<kassa::domain::AdDay>, String> {
    let path = ws.write("claims.csv", ads);
    let config = crate::helpers::source_config(&format!(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n",
        path.display().to_string()
    ));
    let source = config
        .build(&crate::helpers::paused_clock_context())
        .expect("the source builds");
    match source
        .pull(crate::helpers::range("2025-01-01", "2025-01-31"))
        .await
    {
        Ok(pull) => match pull.rows {
            kassa::domain::Pulled::AdFrame(frame) => Ok(kassa::frames::ad_days(&frame).unwrap()),
            other => panic!("expected ad rows, got {other:?}"),
        },
        Err(error) => Err(error.to_string()),
    }
}

/// The optional claim columns are read as the platform's claims (a semicolon file with a
/// decimal comma and a thousands space, as Russian Excel writes it); an empty one is not
/// reported, never zero; a file without them claims nothing. A bad claim names the file, the
/// line and the column.
#[tokio::test]
async fn csv_ads_claim_columns_are_read() {
    use kassa::domain::Claims;

    use crate::helpers::money;

    let ws = Workspace::new();
    let ads = "date;channel;campaign_id;impressions;reach;clicks;spend;claimed_leads;claimed_purchases;claimed_revenue\n\
               2025-01-06;meta;c1;1000;800;20;10,50;12;3;1 234,50\n\
               2025-01-07;meta;c1;1000;800;21;11;0;;\n";
    let claims: Vec<Claims> = pull_ads(&ws, ads)
        .await
        .expect("the file is read")
        .into_iter()
        .map(|r| r.claims)
        .collect();
    assert_eq!(
        claims,
        vec![
            Claims {
                leads: Some(12),
                purchases: Some(3),
                revenue: Some(money("1234.5")),
            },
            Claims {
                leads: Some(0),
                purchases: None,
                revenue: None,
            },
        ]
    );

    let rows = pull_ads(&ws, &good_ads()).await.expect("the file is read");
    assert!(rows.iter().all(|r| r.claims == Claims::default()));

    for (bad, column, value) in [
        ("-2,,", "claimed_leads", "\"-2\""),
        ("2,1.5,", "claimed_purchases", "\"1.5\""),
        (",,lots", "claimed_revenue", "\"lots\""),
    ] {
        let ads = format!(
            "{ADS_HEADER},claimed_leads,claimed_purchases,claimed_revenue\n\
             2025-01-06,meta,c1,1000,800,20,10.5,1,1,100\n\
             2025-01-07,meta,c1,1000,800,21,11,{bad}\n"
        );
        let error = pull_ads(&ws, &ads).await.expect_err("the row is refused");
        assert!(error.contains("claims.csv"), "{error}");
        assert!(error.contains("line 3"), "{error}");
        assert!(error.contains(&format!("column `{column}`")), "{error}");
        assert!(error.contains(value), "{error}");
    }
}

/// A `csv_ads` file of `rows` valid rows (1,000 campaigns a day from 2020-01-01), written as
/// bytes so two million rows take a moment; `bad` replaces the spend of that line.
fn many_ads(rows: usize, bad: Option<(usize, &str)>) -> Vec<u8> {
    use std::io::Write;
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let days: Vec<String> = (0..=rows / 1000)
        .map(|d| (start + chrono::Duration::days(d as i64)).to_string())
        .collect();
    let mut out = Vec::with_capacity(rows * 48);
    out.extend_from_slice(b"date,channel,campaign_id,impressions,reach,clicks,spend\n");
    for i in 0..rows {
        let line = i + 2;
        let spend = match bad {
            Some((at, value)) if at == line => value.to_string(),
            _ => format!("{}.{:02}", i % 500, i % 100),
        };
        writeln!(
            out,
            "{},ch{},c{},{},{},{},{spend}",
            days[i / 1000],
            i % 3,
            i % 1000,
            1000 + i % 7,
            800,
            i % 50
        )
        .unwrap();
    }
    out
}

/// Pulls a `csv_ads` file of `bytes` over every day, as the pipeline would.
async fn pull_ads_bytes(
    ws: &Workspace,
    bytes: &[u8],
) -> Result<kassa::sources::source::Pull, String> {
    let path = ws.path().join("many.csv");
    std::fs::write(&path, bytes).unwrap();
    let config = crate::helpers::source_config(&format!(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n",
        path.display().to_string()
    ));
    let source = config
        .build(&crate::helpers::paused_clock_context())
        .expect("the source builds");
    source
        .pull(crate::helpers::range("2020-01-01", "2030-12-31"))
        .await
        .map_err(|e| e.to_string())
}

/// Columnar parsing keeps the error quality of row-by-row parsing at any size: a bad amount
/// two million lines down is reported with its line and column.
#[tokio::test]
async fn csv_bad_value_on_row_2000001_reports_its_line_and_column() {
    let ws = Workspace::new();
    let bytes = many_ads(2_000_000, Some((2_000_001, "12x5")));
    let error = pull_ads_bytes(&ws, &bytes).await.unwrap_err();
    assert!(
        error.ends_with("many.csv: line 2000001, column `spend`: \"12x5\" is not a decimal number"),
        "{error}"
    );
}

/// Not a test: the parse of a million-row ads CSV into the frame the store writes, with the
/// process's peak memory before and after. Written against what every kassa has (`Pulled` rows
/// or a frame), so the same test times the row-by-row parser it replaced. Run with
/// `cargo test --test it csv_parse_of_a_million_rows -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn csv_parse_of_a_million_rows() {
    let peak = || {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
                    / 1024
            })
            .unwrap_or(0)
    };
    let ws = Workspace::new();
    let bytes = many_ads(1_000_000, None);
    let before = peak();
    let started = std::time::Instant::now();
    let pull = pull_ads_bytes(&ws, &bytes).await.unwrap();
    let height = match &pull.rows {
        kassa::domain::Pulled::Ads(rows) => kassa::store::ad_rows_to_frame("ads", rows)
            .unwrap()
            .height(),
        other => other.len(),
    };
    let elapsed = started.elapsed();
    assert_eq!(height, 1_000_000);
    println!(
        "1M ad rows to a frame: {elapsed:?}; peak {before} MiB before, {} MiB after",
        peak()
    );
}
