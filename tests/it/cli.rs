//! The command line end to end: the real binary, real files, fake platforms on loopback.

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fakes::{TokenFrom, answer, hubspot, meta, ok};
use crate::helpers::{Workspace, demo_sources, repo};

fn demo_workspace() -> Workspace {
    let ws = Workspace::new();
    ws.config(&format!(
        "[analysis]\ntimezone = \"Europe/Moscow\"\n\n{}",
        demo_sources()
    ));
    ws
}

fn flagged(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "activity_without_money")
        .map(|f| {
            (
                f["channel"].as_str().unwrap().to_string(),
                f["period_start"].as_str().unwrap().to_string(),
                f["period_end"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The demo's planted story, as `fixtures/demo/check_rule.py` (an independent implementation
/// of the rule) computes it: two episodes of activity without money, for their channels and,
/// where the channel is big enough, for the total. google's 2025-04-07 growth brought money
/// and is not flagged.
#[test]
fn the_demo_flags_exactly_the_planted_episodes() {
    let ws = demo_workspace();
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    let run = ws.kassa(&[
        "analyze",
        "--from",
        "2025-01-06",
        "--to",
        "2025-06-29",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    let week = |channel: &str, start: &str, end: &str| {
        (channel.to_string(), start.to_string(), end.to_string())
    };
    assert_eq!(
        flagged(&report),
        vec![
            week("all", "2025-03-10", "2025-03-16"),
            week("meta", "2025-03-10", "2025-03-16"),
            week("all", "2025-03-17", "2025-03-23"),
            week("meta", "2025-03-17", "2025-03-23"),
            week("google", "2025-05-19", "2025-05-25"),
        ]
    );

    // The figures agree with check_rule.py to the printed precision.
    let findings = report["findings"].as_array().unwrap();
    let meta = findings.iter().find(|f| f["channel"] == "meta").unwrap();
    assert_eq!(meta["activity"]["metric"], "reach");
    assert_eq!(
        format!("{:.3}", meta["activity"]["growth"].as_f64().unwrap()),
        "0.463"
    );
    assert_eq!(
        format!("{:.3}", meta["money"]["growth"].as_f64().unwrap()),
        "-0.396"
    );
    assert_eq!(meta["spend"], json!(3464.11));
    assert_eq!(meta["currency"], "USD");
    assert_eq!(meta["chain_break"], "lead_to_sale");
    assert!(meta["message"].as_str().unwrap().contains("reach grew 46%"));
    let google = findings.iter().find(|f| f["channel"] == "google").unwrap();
    assert_eq!(google["chain_break"], "click_to_lead");

    // 25 weeks for all, google and meta, every one complete.
    let periods = report["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 75);
    assert!(periods.iter().all(|p| p["complete"] == true));
    let first = &periods[0];
    for key in [
        "channel",
        "period_start",
        "period_end",
        "impressions",
        "reach",
        "clicks",
        "ctr",
        "cpc",
        "spend",
        "leads",
        "deals_won",
        "revenue",
        "revenue_known",
        "verdict",
        "cost_per_won_deal",
        "romi",
    ] {
        assert!(first.get(key).is_some(), "period rows carry {key}: {first}");
    }
    assert_eq!(first["channel"], "all");
}

/// What `fixtures/demo/check_rule.py` (an independent implementation of the rule, with exact
/// fractions) decides for every judged week of the demo, as JSON: channel, week start,
/// flagged, and for each judged week the activity growth, its metric, the revenue growth and
/// the spend in cents.
const ORACLE: &str = r#"
import json, os, sys
sys.path.insert(0, sys.argv[1])
import check_rule
here = sys.argv[1]
weeks, first, last, _, _ = check_rule.load(os.path.join(here, "ads.csv"), os.path.join(here, "crm.csv"))
_, rows = check_rule.analyse(weeks, first, last)
if check_rule.problems:
    sys.exit("check_rule.py found problems: %s" % check_rule.problems)
print(json.dumps([
    {"channel": r["channel"], "start": r["start"].isoformat(), "flagged": r["flagged"],
     "activity": float(r["activity"]), "metric": r["activity_metric"], "money": float(r["money"]),
     "spend_cents": int(r["metrics"]["spend"])}
    for r in rows if r["verdict"]
]))
"#;

/// Every judged week of the demo gets the same verdict from kassa as from the Python oracle,
/// and every flagged week the same growth figures and spend.
#[test]
fn the_demo_agrees_with_the_independent_python_oracle_on_every_week() {
    let python = std::process::Command::new("python3")
        .arg("-c")
        .arg(ORACLE)
        .arg(repo().join("fixtures/demo"))
        // Importing the script must not leave a __pycache__ in the repository.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is needed to run fixtures/demo/check_rule.py (the rule's oracle): {e}")
        });
    assert!(
        python.status.success(),
        "check_rule.py failed:\n{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let oracle: Vec<Value> = serde_json::from_slice(&python.stdout).unwrap();

    let ws = demo_workspace();
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    let report = ws.kassa(&["analyze", "--format", "json"]).json();

    // The oracle knows the default rule only: a judged period is flagged by it when an
    // `activity_without_money` finding names it (the chain's rules flag periods of their own).
    let by_default_rule = |channel: &Value, start: &Value| {
        report["findings"].as_array().unwrap().iter().any(|f| {
            f["kind"] == "activity_without_money"
                && &f["channel"] == channel
                && &f["period_start"] == start
        })
    };
    let judged: Vec<(String, String, bool)> = report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["verdict"] != "none")
        .map(|p| {
            (
                p["channel"].as_str().unwrap().to_string(),
                p["period_start"].as_str().unwrap().to_string(),
                by_default_rule(&p["channel"], &p["period_start"]),
            )
        })
        .collect();
    let mut expected: Vec<(String, String, bool)> = oracle
        .iter()
        .map(|r| {
            (
                r["channel"].as_str().unwrap().to_string(),
                r["start"].as_str().unwrap().to_string(),
                r["flagged"].as_bool().unwrap(),
            )
        })
        .collect();
    let mut got = judged.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "verdicts differ from check_rule.py");

    let findings: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "activity_without_money")
        .collect();
    let flagged: Vec<&Value> = oracle.iter().filter(|r| r["flagged"] == true).collect();
    assert_eq!(findings.len(), flagged.len());
    assert_eq!(flagged.len(), 5, "the planted story");
    for row in flagged {
        let finding = findings
            .iter()
            .find(|f| f["channel"] == row["channel"] && f["period_start"] == row["start"])
            .unwrap_or_else(|| panic!("kassa did not flag {row}"));
        let close =
            |a: &Value, b: &Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 0.0006;
        assert_eq!(
            finding["activity"]["metric"], row["metric"],
            "{row}\n{finding}"
        );
        assert!(
            close(&finding["activity"]["growth"], &row["activity"]),
            "{row}\n{finding}"
        );
        assert_eq!(finding["money"]["metric"], "revenue");
        assert!(
            close(&finding["money"]["growth"], &row["money"]),
            "{row}\n{finding}"
        );
        let spend_cents = (finding["spend"].as_f64().unwrap() * 100.0).round() as i64;
        assert_eq!(
            Some(spend_cents),
            row["spend_cents"].as_i64(),
            "{row}\n{finding}"
        );
    }
}

#[test]
fn the_table_explains_findings_in_plain_words() {
    let ws = demo_workspace();
    assert_eq!(
        ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"])
            .code,
        0
    );
    let run = ws.kassa(&["analyze"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("5 periods of activity without money"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Channel google, week 2025-05-19 to 2025-05-25: clicks grew 38%"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ACTIVITY WITHOUT MONEY"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_range_beyond_the_data_reports_gaps_instead_of_verdicts() {
    let ws = demo_workspace();
    // The files end on 2025-06-29: the backfill covers what they hold and says the rest is a
    // gap (exit 2).
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-07-13"]);
    assert_eq!(backfill.code, 2, "{backfill:?}");
    assert!(
        backfill
            .stdout
            .contains("ads: 875 rows over 2025-01-06..2025-07-13 (1 chunk); not covered: 2025-06-30..2025-07-13"),
        "{}",
        backfill.stdout
    );
    let report = ws
        .kassa(&["analyze", "--to", "2025-07-13", "--format", "json"])
        .json();
    let gaps: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "data_gap" && f["reasons"] != json!(["no_baseline"]))
        .collect();
    // The files end on 2025-06-29: the two July weeks are not covered by either source.
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert_eq!(gaps[0]["period_start"], "2025-06-30");
    assert!(
        gaps[0]["message"]
            .as_str()
            .unwrap()
            .contains("source \"ads\" has no data for 7 days")
    );
}

/// The verdict of every period row, keyed by channel and period start.
fn verdicts(report: &Value) -> Vec<(String, String, String)> {
    report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["channel"].as_str().unwrap().to_string(),
                p["period_start"].as_str().unwrap().to_string(),
                p["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `--from`/`--to` bound what is reported, not the history the baseline reads: the issue's
/// `--from 2025-03-12 --to 2025-03-20` printed no finding at all although the full analysis
/// flags those weeks.
#[test]
fn narrow_range_keeps_history_baseline() {
    let ws = demo_workspace();
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    let analyze = |extra: &[&str]| {
        let mut args = vec!["analyze", "--format", "json"];
        args.extend_from_slice(extra);
        let run = ws.kassa(&args);
        assert_eq!(run.code, 0, "{run:?}");
        run.json()
    };
    let full = analyze(&[]);
    let narrow = analyze(&["--from", "2025-03-12", "--to", "2025-03-20"]);
    let week = |channel: &str, start: &str, end: &str| {
        (channel.to_string(), start.to_string(), end.to_string())
    };
    assert_eq!(
        flagged(&narrow),
        vec![
            week("all", "2025-03-10", "2025-03-16"),
            week("meta", "2025-03-10", "2025-03-16"),
            week("all", "2025-03-17", "2025-03-23"),
            week("meta", "2025-03-17", "2025-03-23"),
        ]
    );
    // Exactly the verdicts (and findings) the full analysis gives the same weeks.
    for (from, to) in [("2025-03-12", "2025-03-20"), ("2025-02-03", "2025-06-29")] {
        let narrow = analyze(&["--from", from, "--to", to]);
        let first = narrow["from"].as_str().unwrap().to_string();
        let last = narrow["to"].as_str().unwrap();
        // Both kinds of rows are (channel, period start, ...); ISO dates compare as text.
        let same_weeks = |rows: Vec<(String, String, String)>| -> Vec<_> {
            rows.into_iter()
                .filter(|(_, start, _)| start.as_str() >= first.as_str() && start.as_str() <= last)
                .collect()
        };
        assert_eq!(verdicts(&narrow), same_weeks(verdicts(&full)));
        assert_eq!(flagged(&narrow), same_weeks(flagged(&full)));
    }
    // The demo's history starts 2025-01-06: its first four weeks have no baseline, and say so.
    let gaps: Vec<&Value> = full["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "data_gap")
        .collect();
    assert_eq!(gaps.len(), 4, "{gaps:?}");
    assert!(gaps.iter().all(|g| g["reasons"] == json!(["no_baseline"])));
    let table = ws.kassa(&["analyze", "--from", "2025-03-12", "--to", "2025-03-20"]);
    assert!(
        table
            .stdout
            .contains("4 periods of activity without money; 0 weeks without a verdict"),
        "{}",
        table.stdout
    );
}

#[test]
fn analyze_before_any_backfill_says_what_to_do() {
    let ws = demo_workspace();
    let run = ws.kassa(&["analyze"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with("kassa: error: "), "{}", run.stderr);
    assert!(run.stderr.contains("run `kassa backfill"), "{}", run.stderr);
}

/// The demo's CSV sources plus a Meta and a HubSpot source whose APIs are one loopback fake
/// that answers anything: `--offline` must not send it a single request (the online check,
/// afterwards, shows the fake would have seen them).
#[tokio::test]
async fn check_offline_validates_without_contacting_anything() {
    let fake = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&fake)
        .await;
    let ws = demo_workspace();
    let meta_token = ws.write("meta.token", meta::TOKEN);
    let hubspot_token = ws.write("hubspot.token", hubspot::TOKEN);
    let config = std::fs::read_to_string(ws.path().join("kassa.toml")).unwrap();
    ws.write(
        "kassa.toml",
        &format!(
            "{config}\n{}\n{}",
            meta::table("meta", &fake.uri(), TokenFrom::File(&meta_token), ""),
            hubspot::table("hubspot", &fake.uri(), TokenFrom::File(&hubspot_token), ""),
        ),
    );
    let run = ws.kassa(&["check", "--offline"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("configuration: valid (4 sources, 0 alert targets)"),
        "{}",
        run.stdout
    );
    assert!(!ws.store_path().exists(), "--offline touches nothing");
    assert_eq!(
        fake.received_requests().await.unwrap().len(),
        0,
        "--offline contacted a platform"
    );
    let run = ws.kassa(&["check"]);
    let probed: std::collections::BTreeSet<String> = fake
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert!(
        probed.iter().any(|p| p.starts_with("/v25.0/"))
            && probed
                .iter()
                .any(|p| p.starts_with("/crm/") || p.starts_with("/account-info/")),
        "the online check probes both platforms: {probed:?}"
    );
    assert_eq!(run.code, 0, "{run:?}");
    // Online, a probe may obtain an OAuth2 token (and a rotated refresh token): the store is
    // opened so that it can keep it.
    assert!(ws.store_path().join("ledger.sqlite").is_file());
    assert!(run.stdout.contains("ads (csv_ads): ok:"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("875 rows from 2025-01-06 to 2025-06-29"),
        "{}",
        run.stdout
    );
}

/// `activity_growth_min = 20` reads as 2000%, which flags nothing, ever.
#[test]
fn percent_threshold_is_rejected() {
    let ws = demo_workspace();
    let config = std::fs::read_to_string(ws.path().join("kassa.toml")).unwrap();
    ws.write(
        "kassa.toml",
        &config.replace(
            "[analysis]\n",
            "[analysis]\nactivity_growth_min = 20\nmoney_growth_max = -15\n",
        ),
    );
    let run = ws.kassa(&["check", "--offline"]);
    assert_eq!(run.code, 1, "{run:?}");
    for expected in [
        "analysis.activity_growth_min: 20 means 2000%",
        "0.20 is 20%",
        "for 20% write 0.2",
        "activity_growth_min = 0.20",
        "analysis.money_growth_max: -15 means -1500%",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from:\n{}",
            run.stderr
        );
    }
}

#[test]
fn backwards_dates_are_refused() {
    let ws = demo_workspace();
    let run = ws.kassa(&["backfill", "--from", "2025-02-01", "--to", "2025-01-01"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("--from 2025-02-01 is after --to 2025-01-01"),
        "{}",
        run.stderr
    );
}

/// Meta and HubSpot fakes on loopback, driven through the real binary: rows land in the store,
/// a failing platform fails only its own source (exit code 2), and no token is ever printed,
/// even with trace logging.
#[tokio::test]
async fn backfill_from_fake_platforms_end_to_end() {
    let meta_fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(header(
            "authorization",
            format!("Bearer {}", meta::TOKEN).as_str(),
        ))
        .respond_with(ok(meta::page(
            vec![meta::row("2025-01-06", "31", "12.5")],
            None,
        )))
        .mount(&meta_fake)
        .await;
    let hubspot_fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hubspot::SEARCH_PATH))
        .respond_with(answer(401).set_body_json(hubspot::error(
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
        )))
        .mount(&hubspot_fake)
        .await;

    let ws = Workspace::new();
    ws.config(&format!(
        "{}\n{}",
        meta::table(
            "meta",
            &meta_fake.uri(),
            TokenFrom::Env("KASSA_TEST_META_TOKEN"),
            ""
        ),
        hubspot::table(
            "hubspot",
            &hubspot_fake.uri(),
            TokenFrom::Env("KASSA_TEST_HUBSPOT_TOKEN"),
            ""
        ),
    ));
    let env = [
        ("KASSA_TEST_META_TOKEN", meta::TOKEN),
        ("KASSA_TEST_HUBSPOT_TOKEN", hubspot::TOKEN),
        ("RUST_LOG", "trace"),
    ];
    let run = ws.kassa_with_env(
        &["backfill", "--from", "2025-01-06", "--to", "2025-01-12"],
        &env,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("meta: 1 row over"), "{}", run.stdout);
    assert!(run.stdout.contains("hubspot: FAILED"), "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "source \"hubspot\", 2025-01-06..2025-01-12: authentication failed: HTTP 401: HubSpot: Authentication credentials not found."
        ),
        "{}",
        run.stderr
    );
    for output in [&run.stdout, &run.stderr] {
        assert!(
            !output.contains(meta::TOKEN) && !output.contains(hubspot::TOKEN),
            "a token leaked:\n{output}"
        );
    }

    // The Meta rows are in the store; the HubSpot window is a gap, not zero money.
    let report = ws
        .kassa_with_env(&["analyze", "--format", "json"], &env)
        .json();
    let meta_week = report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["channel"] == "meta")
        .unwrap();
    assert_eq!(
        (meta_week["clicks"].as_u64(), meta_week["spend"].as_f64()),
        (Some(31), Some(12.5))
    );
    assert_eq!(meta_week["complete"], false);
    let gap = &report["findings"][0];
    assert_eq!(gap["kind"], "data_gap");
    assert!(
        gap["message"]
            .as_str()
            .unwrap()
            .contains("source \"hubspot\" has no data for 7 days"),
        "{gap}"
    );
}

/// `kassa demo` on a fresh checkout: no configuration, no account, the whole story, and the
/// HTML report written to `demo-report.html` in the current directory (a scratch one here).
#[test]
fn the_demo_replays_the_nights_and_shows_what_each_target_received() {
    let scratch = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
        .arg("demo")
        .current_dir(scratch.path())
        .env_remove("KASSA_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "── night of 2025-03-17",
        // meta's leads grew while its revenue fell: one alert, of the more specific kind.
        "team (episode.opened): Leads without money: Channel meta, week 2025-03-10 to 2025-03-16",
        "── night of 2025-03-31",
        "owner (episode.resolved): Resolved: Channel meta, 2025-03-10 to 2025-03-23",
        "bi (episode.opened): Activity without money: Channel google, week 2025-05-19 to 2025-05-25",
        "the slack target received this body:",
        "the telegram target received this body:",
        "\"parse_mode\": \"HTML\"",
        // The reconciliation's story: the fake Meta claims 2.5 times meta's leads one week.
        "── night of 2025-04-28",
        "team (episode.opened): A claim the till does not confirm: Channel meta, week 2025-04-21 to 2025-04-27",
        "claims 106 leads on channel meta for 2025-04-21..2025-04-27; the CRM recorded 44 (−58%)",
        "27 alerts delivered (27 requests reached the receivers)",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("night of 2025-04-14"),
        "the growth with money must not alert"
    );
    let report = scratch
        .path()
        .canonicalize()
        .unwrap()
        .join("demo-report.html");
    assert!(
        stdout.contains(&format!(
            "The report with charts is in {}: open it in a browser.",
            report.display()
        )),
        "the demo names its report by absolute path:\n{stdout}"
    );
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    // Written through a temporary file that was renamed: nothing else is left behind.
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

/// `kassa alert-test` sends one sample to the named target and fails clearly for others.
#[tokio::test]
async fn alert_test_sends_a_sample_to_one_target() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/secret"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let ws = demo_workspace();
    let url = ws.write(
        "slack.url",
        &format!("{}/services/T0/B0/secret", slack.uri()),
    );
    let config = std::fs::read_to_string(ws.path().join("kassa.toml")).unwrap();
    ws.write(
        "kassa.toml",
        &format!(
            "{config}\n[alerting]\nlocale = \"ru\"\nreport_url = \"https://kassa.example.com/report\"\n\n[[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {:?}\n",
            url.display().to_string()
        ),
    );
    let run = ws.kassa(&["alert-test", "--target", "team"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("team (slack): тестовое оповещение отправлено"),
        "{}",
        run.stdout
    );
    let requests = slack.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("Тестовое оповещение kassa"),
        "{body}"
    );
    // With `report_url`, the sample links to the report as the nightly alerts will.
    assert!(
        body.to_string()
            .contains("<https://kassa.example.com/report|Открыть отчёт>"),
        "{body}"
    );

    let unknown = ws.kassa(&["alert-test", "--target", "nobody"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("no [[alerts]] target is named \"nobody\"; configured: team"),
        "{}",
        unknown.stderr
    );
    assert!(!unknown.stderr.contains("/services/"), "the URL leaked");
}
