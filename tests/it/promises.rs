//! Promises the README makes that no other module checks: the documented default numbers
//! (read from the README itself, not from the code), `KASSA_CONFIG` and `KASSA__SECTION__KEY`,
//! backfill chunks and resuming a failed backfill, `analyze` widening its bounds to whole
//! periods, `null` in the JSON for a metric a platform did not report, and `alert-test`
//! failing when the sample is not delivered.

use kassa::config::Settings;
use kassa::http::RetryPolicy;
use kassa::store::Store;
use serde_json::Value;
use wiremock::matchers::{method, path, query_param_contains};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fakes::{TokenFrom, answer, hubspot, meta, ok, query};
use crate::helpers::{Workspace, demo_sources, kassa_bare, range, repo, source_config};

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// The README with every run of whitespace made one space, so prose wrapped across lines
/// reads as one sentence.
fn readme_prose() -> String {
    readme().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `key = value` lines of the `[section]` tables in the README's TOML examples.
fn readme_section(section: &str) -> Vec<String> {
    let text = readme();
    let mut lines = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') || line.starts_with("```") {
            inside = line == format!("[{section}]");
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            lines.push(line.to_string());
        }
    }
    assert!(!lines.is_empty(), "the README shows no [{section}] table");
    lines
}

/// The number the README's prose gives in brackets after `what` (`what (4)`).
fn prose_number(prose: &str, what: &str) -> f64 {
    let needle = format!("{what} (");
    let start = prose
        .find(&needle)
        .unwrap_or_else(|| panic!("the README no longer says {needle:?}"))
        + needle.len();
    let end = start + prose[start..].find(')').unwrap();
    prose[start..end].parse().unwrap()
}

/// The whole number the README's prose writes just before `suffix` (`60` in "60 s for").
fn number_before(prose: &str, suffix: &str) -> u64 {
    let end = prose
        .find(suffix)
        .unwrap_or_else(|| panic!("the README no longer says {suffix:?}"));
    let digits = prose[..end]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number before {suffix:?}"))
}

/// The default the README's table of sources gives `key` for `kind` (`lookback_days` [28]).
fn source_default(kind: &str, key: &str) -> String {
    let text = readme();
    let row = text
        .lines()
        .find(|line| line.starts_with(&format!("| `{kind}` |")))
        .unwrap_or_else(|| panic!("no row for {kind} in the README's table of sources"));
    let needle = format!("`{key}` [");
    let start = row
        .find(&needle)
        .unwrap_or_else(|| panic!("no default for {key} in the row of {kind}"))
        + needle.len();
    let end = start + row[start..].find(']').unwrap();
    row[start..end].to_string()
}

/// The settings a configuration with only a CSV source gets: the built-in defaults.
fn defaults() -> (Workspace, Settings) {
    let ws = Workspace::new();
    ws.write(
        "ads.csv",
        "date,channel,campaign_id,impressions,reach,clicks,spend\n",
    );
    ws.config("[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n");
    let settings = Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    (ws, settings)
}

/// The README's `[analysis]`, `[alerting]` and `[worker]` examples are its documented defaults
/// (all but the worker's example time zone, documented as "default: analysis.timezone"), and so
/// are the numbers its prose gives for the rule, the sources and the HTTP client.
#[test]
fn the_defaults_are_the_numbers_the_readme_documents() {
    let (ws, built_in) = defaults();
    let mut written = String::new();
    let keys = [
        (
            "analysis",
            &[
                "granularity",
                "timezone",
                "baseline_periods",
                "activity_metrics",
                "activity_growth_min",
                "money_metric",
                "money_growth_max",
            ][..],
        ),
        (
            "alerting",
            &[
                "locale",
                "window_periods",
                "max_per_run",
                "update_min_growth",
            ][..],
        ),
        (
            "worker",
            &["schedule", "listen", "shutdown_grace_seconds"][..],
        ),
    ];
    for (section, expected) in keys {
        let lines: Vec<String> = readme_section(section)
            .into_iter()
            .filter(|line| !(section == "worker" && line.starts_with("timezone")))
            .collect();
        for key in expected {
            assert!(
                lines.iter().any(|l| l.starts_with(&format!("{key} "))),
                "the README's [{section}] example lacks {key}: {lines:?}"
            );
        }
        written.push_str(&format!("[{section}]\n{}\n\n", lines.join("\n")));
    }
    written.push_str("[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n");
    let file = ws.write("readme.toml", &written);
    let documented = Settings::load(Some(&file)).unwrap();
    assert_eq!(documented.rule, built_in.rule);
    assert_eq!(documented.timezone, built_in.timezone);
    assert_eq!(documented.alerting, built_in.alerting);
    assert_eq!(
        documented.worker.schedule_text,
        built_in.worker.schedule_text
    );
    assert_eq!(documented.worker.listen, built_in.worker.listen);
    assert_eq!(
        documented.worker.shutdown_grace,
        built_in.worker.shutdown_grace
    );
    assert_eq!(built_in.worker.timezone, built_in.timezone);

    // "The default rule": the numbers in brackets.
    let prose = readme_prose();
    let rule = &built_in.rule;
    assert_eq!(
        prose_number(&prose, "`baseline_periods`"),
        rule.baseline_periods as f64
    );
    assert_eq!(
        prose_number(&prose, "`activity_growth_min`"),
        rule.activity_growth_min
    );
    assert_eq!(
        prose_number(&prose, "`money_growth_max`"),
        rule.money_growth_max
    );

    // The table of sources: each kind's lookback.
    let csv = repo().join("fixtures/demo/ads.csv").display().to_string();
    let token = ws.write("source.token", "token").display().to_string();
    for (kind, table) in [
        ("csv_ads", format!("kind = \"csv_ads\"\npath = {csv:?}")),
        ("csv_crm", format!("kind = \"csv_crm\"\npath = {csv:?}")),
        (
            "meta",
            format!("kind = \"meta\"\naccount_id = \"act_1\"\ntoken_file = {token:?}"),
        ),
        (
            "hubspot",
            format!("kind = \"hubspot\"\ntoken_file = {token:?}"),
        ),
    ] {
        let source = source_config(&format!("[[sources]]\nname = \"s\"\n{table}\n"));
        assert_eq!(
            source_default(kind, "lookback_days"),
            source.lookback_days().to_string(),
            "{kind}"
        );
    }

    // The HTTP client every source shares.
    let policy = RetryPolicy::default();
    let timeouts = policy.timeout.expect("requests time out by default");
    assert_eq!(
        number_before(&prose, " s to connect and"),
        timeouts.connect.as_secs()
    );
    assert_eq!(
        number_before(&prose, " s for the whole request"),
        timeouts.total.as_secs()
    );
    assert_eq!(
        number_before(&prose, " attempts with exponential backoff"),
        u64::from(policy.max_attempts)
    );
    assert_eq!(
        number_before(&prose, " minutes; a longer wait fails"),
        policy.max_server_wait.as_secs() / 60
    );
}

/// A workspace whose `kassa.toml` reads the demo files.
fn demo() -> Workspace {
    let ws = Workspace::new();
    ws.config(&demo_sources());
    ws
}

/// `KASSA_CONFIG` names the configuration file when `--config` is not given.
#[test]
fn kassa_config_names_the_configuration_file() {
    let ws = demo();
    let config = ws.path().join("kassa.toml").display().to_string();
    let run = kassa_bare(
        ws.path(),
        &["check", "--offline"],
        &[("KASSA_CONFIG", config.as_str())],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("configuration: valid (2 sources, 0 alert targets)"),
        "{}",
        run.stdout
    );
    // Without it (and without --config) the built-in defaults have no sources.
    let without = kassa_bare(ws.path(), &["check", "--offline"], &[]);
    assert_ne!(without.code, 0, "{without:?}");
}

/// `KASSA__SECTION__KEY` overrides the file: the store's path, the granularity, and a list
/// written with commas.
#[test]
fn environment_variables_override_the_configuration_file() {
    let ws = demo();
    let elsewhere = [("KASSA__STORE__PATH", "elsewhere")];
    let backfill = ws.kassa_with_env(
        &["backfill", "--from", "2025-01-06", "--to", "2025-06-29"],
        &elsewhere,
    );
    assert_eq!(backfill.code, 0, "{backfill:?}");
    // Relative to the working directory, and instead of the file's store.
    assert!(ws.path().join("elsewhere/ledger.sqlite").is_file());
    assert!(!ws.store_path().exists());

    let monthly = ws
        .kassa_with_env(
            &["analyze", "--format", "json"],
            &[elsewhere[0], ("KASSA__ANALYSIS__GRANULARITY", "month")],
        )
        .json();
    assert_eq!(monthly["granularity"], "month");
    assert_eq!(monthly["periods"][0]["period_start"], "2025-01-01");

    // By default meta's March weeks are flagged on reach; watching clicks only, on clicks.
    let clicks = ws
        .kassa_with_env(
            &["analyze", "--format", "json"],
            &[
                elsewhere[0],
                ("KASSA__ANALYSIS__ACTIVITY_METRICS", "clicks"),
            ],
        )
        .json();
    let metrics: Vec<&Value> = clicks["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "activity_without_money")
        .map(|f| &f["activity"]["metric"])
        .collect();
    assert_eq!(metrics.len(), 5, "{clicks}");
    assert!(metrics.iter().all(|m| *m == "clicks"), "{metrics:?}");
}

/// `analyze --from/--to` widen to whole periods: a Wednesday to the next Thursday reports the
/// two whole weeks around them, with whole-week numbers.
#[test]
fn analyze_widens_its_bounds_to_whole_periods() {
    let ws = demo();
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    let narrow = ws
        .kassa(&[
            "analyze",
            "--from",
            "2025-03-12",
            "--to",
            "2025-03-20",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(
        (narrow["from"].as_str(), narrow["to"].as_str()),
        (Some("2025-03-10"), Some("2025-03-23"))
    );
    let whole = ws.kassa(&["analyze", "--format", "json"]).json();
    let weeks = |report: &Value| -> Vec<Value> {
        report["periods"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| ["2025-03-10", "2025-03-17"].contains(&p["period_start"].as_str().unwrap()))
            .cloned()
            .collect()
    };
    assert_eq!(
        narrow["periods"].as_array().unwrap().len(),
        6,
        "3 channels, 2 weeks"
    );
    assert_eq!(weeks(&narrow), weeks(&whole));
}

/// Reach a platform did not report for a day is unknown: the week's `reach` is `null` in the
/// JSON, never the sum of the days that had it.
#[test]
fn unreported_reach_is_null_in_the_json() {
    let ws = Workspace::new();
    ws.write(
        "ads.csv",
        "date,channel,campaign_id,impressions,reach,clicks,spend\n\
         2025-01-06,meta,c1,1000,800,20,10\n2025-01-07,meta,c1,1000,,20,10\n\
         2025-01-06,google,g1,1000,700,20,10\n2025-01-07,google,g1,1000,600,20,10\n",
    );
    ws.write(
        "crm.csv",
        "deal_id,created_date,closed_date,status,amount,channel\n\
         1,2025-01-06,2025-01-07,won,100,meta\n",
    );
    ws.config(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\n",
    );
    let run = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-01-07"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report = ws.kassa(&["analyze", "--format", "json"]).json();
    let week = |channel: &str| -> Value {
        report["periods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["channel"] == channel)
            .unwrap()
            .clone()
    };
    assert_eq!(week("meta")["reach"], Value::Null, "{report}");
    assert_eq!(week("all")["reach"], Value::Null, "{report}");
    assert_eq!(week("google")["reach"], 1300, "{report}");
    // The key is there, as null, not left out.
    assert!(week("meta").get("reach").is_some());
}

/// `backfill` pulls Meta in 30-day and HubSpot in 31-day requests (the README's numbers); a
/// chunk that fails leaves the chunks before it stored and covered (exit 2), and running the
/// same backfill again completes the range without duplicates or holes.
#[tokio::test]
async fn backfill_pulls_in_chunks_and_a_failed_backfill_resumes() {
    assert_eq!(source_default("meta", "chunk_days"), "30");
    assert_eq!(source_default("hubspot", "chunk_days"), "31");
    let meta_fake = MockServer::start().await;
    // The second Meta chunk (from 2025-01-31) is refused once: a bad request is not retried.
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .and(query_param_contains("time_range", "2025-01-31"))
        .respond_with(answer(400).set_body_json(meta::error(100, None, "Invalid parameter")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&meta_fake)
        .await;
    for (since, day) in [("2025-01-01", "2025-01-02"), ("2025-01-31", "2025-02-02")] {
        Mock::given(method("GET"))
            .and(path(meta::INSIGHTS_PATH))
            .and(query_param_contains("time_range", since))
            .respond_with(ok(meta::page(vec![meta::row(day, "10", "5")], None)))
            .with_priority(2)
            .mount(&meta_fake)
            .await;
    }
    let hubspot_fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hubspot::SEARCH_PATH))
        .respond_with(ok(hubspot::page(0, vec![], None)))
        .mount(&hubspot_fake)
        .await;
    let ws = Workspace::new();
    let meta_token = ws.write("meta.token", meta::TOKEN);
    let hubspot_token = ws.write("hubspot.token", hubspot::TOKEN);
    ws.config(&format!(
        "{}\n{}",
        meta::table(
            "meta",
            &meta_fake.uri(),
            TokenFrom::File(&meta_token),
            "timezone = \"UTC\""
        ),
        hubspot::table(
            "hubspot",
            &hubspot_fake.uri(),
            TokenFrom::File(&hubspot_token),
            ""
        ),
    ));
    let args = ["backfill", "--from", "2025-01-01", "--to", "2025-03-01"];
    let first = ws.kassa(&args);
    assert_eq!(first.code, 2, "{first:?}");

    // 60 days: two Meta chunks of 30 days; two HubSpot chunks (31 + 29 days).
    let ranges: Vec<String> = meta_fake
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| query(r, "time_range").unwrap())
        .collect();
    assert_eq!(
        ranges,
        [
            r#"{"since":"2025-01-01","until":"2025-01-30"}"#,
            r#"{"since":"2025-01-31","until":"2025-03-01"}"#,
        ]
    );
    let searches = hubspot_fake.received_requests().await.unwrap();
    let mut starts: Vec<String> = searches
        .iter()
        .map(|r| hubspot::between(&r.body_json().unwrap(), "createdate").0)
        .collect();
    starts.dedup();
    assert_eq!(
        starts,
        [
            hubspot::ms("2025-01-01T00:00:00Z"),
            hubspot::ms("2025-02-01T00:00:00Z")
        ]
    );
    let coverage = |ws: &Workspace| {
        Store::open(&ws.store_path())
            .unwrap()
            .coverage(&["meta"])
            .unwrap()
            .remove(0)
            .ranges
    };
    assert_eq!(coverage(&ws), [range("2025-01-01", "2025-01-30")]);

    let again = ws.kassa(&args);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(coverage(&ws), [range("2025-01-01", "2025-03-01")]);
    let store = Store::open(&ws.store_path()).unwrap();
    let ads = store.ads(&["meta"]).unwrap();
    assert_eq!(ads.height(), 2, "one row per chunk, none twice: {ads}");
}

/// `alert-test` exits 1 when the sample is not delivered, naming the target and not its URL.
#[tokio::test]
async fn alert_test_exits_1_when_delivery_fails() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&slack)
        .await;
    let ws = demo();
    let url = ws.write(
        "slack.url",
        &format!("{}/services/T0/B0/secret", slack.uri()),
    );
    let config = std::fs::read_to_string(ws.path().join("kassa.toml")).unwrap();
    ws.write(
        "kassa.toml",
        &format!(
            "{config}\n[[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {:?}\n",
            url.display().to_string()
        ),
    );
    let run = ws.kassa(&["alert-test", "--target", "team"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.starts_with("kassa: error: "), "{}", run.stderr);
    assert!(run.stderr.contains("\"team\""), "{}", run.stderr);
    assert!(
        !run.stderr.contains("/services/"),
        "the URL leaked: {}",
        run.stderr
    );
    assert!(!slack.received_requests().await.unwrap().is_empty());
}

/// Every metric the README names for `/metrics` is in the exposition, with the labels it
/// names (and nothing else is: the README lists them all).
#[test]
fn the_metrics_are_the_ones_the_readme_names() {
    let prose = readme_prose();
    let start = prose
        .find("Metrics: `")
        .expect("the README lists the metrics");
    let end = start + prose[start..].find(". They are served").unwrap();
    let documented: Vec<&str> = prose[start..end].split('`').skip(1).step_by(2).collect();
    let text = kassa::worker::Metrics::new(["ads"]).render();
    let samples: std::collections::BTreeSet<String> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let name = line.split([' ', '{']).next().unwrap();
            match line.find('{') {
                Some(open) if open < line.find(' ').unwrap() => {
                    let label = line[open + 1..].split('=').next().unwrap();
                    format!("{name}{{{label}}}")
                }
                _ => name.to_string(),
            }
        })
        .collect();
    let documented: std::collections::BTreeSet<String> =
        documented.iter().map(|m| m.to_string()).collect();
    assert_eq!(samples, documented, "{text}");
}
