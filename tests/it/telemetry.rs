//! Telemetry through the real binary: JSON logs (`KASSA__LOG__FORMAT=json`) whose every line
//! is an object carrying the spans it happened in, so one night can be followed by its run id;
//! and a log format kassa does not know is a configuration problem like any other.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Workspace, repo};

/// The demo's CSVs and a Slack target on `slack_url`.
fn workspace(slack_url: &str) -> Workspace {
    let ws = Workspace::new();
    let fixtures = repo().join("fixtures/demo");
    let url_file = ws.write("slack.url", slack_url);
    ws.config(&format!(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n\n\
         [[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {:?}\n",
        fixtures.join("ads.csv").display().to_string(),
        fixtures.join("crm.csv").display().to_string(),
        url_file.display().to_string()
    ));
    ws
}

/// The spans (name and fields) of one JSON log line, outermost first: the spans an event
/// happened in, or for a span's closing line (`"message": "close"`), that span and its parents.
fn spans(line: &Value) -> Vec<&serde_json::Map<String, Value>> {
    let mut spans: Vec<_> = line["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    if let Some(current) = line["span"].as_object()
        && !spans.contains(&current)
    {
        spans.push(current);
    }
    spans
}

fn named<'a>(
    spans: &[&'a serde_json::Map<String, Value>],
    name: &str,
) -> Option<&'a serde_json::Map<String, Value>> {
    spans.iter().copied().find(|s| s["name"] == name)
}

#[tokio::test]
async fn json_logs_follow_one_night_by_its_run_id() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/secret"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let ws = workspace(&format!("{}/services/T0/B0/secret", slack.uri()));
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-05-25"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");

    // 2025-05-26: google's week of 2025-05-19 is new activity without money, so the night
    // pulls, analyses and delivers one alert.
    let run = ws.kassa_with_env(
        &["run", "--today", "2025-05-26"],
        &[("KASSA__LOG__FORMAT", "json"), ("RUST_LOG", "kassa=info")],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(slack.received_requests().await.unwrap().len(), 1);

    let lines: Vec<Value> = run
        .stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line:?}"))
        })
        .collect();
    assert!(!lines.is_empty(), "no log lines at info level");

    // Every line inside the night carries the same cycle span and run id.
    let run_ids: std::collections::BTreeSet<String> = lines
        .iter()
        .filter_map(|line| named(&spans(line), "cycle").map(|c| c["run_id"].to_string()))
        .collect();
    assert_eq!(run_ids.len(), 1, "one cycle, one run id: {run_ids:?}");
    let run_id = run_ids.iter().next().unwrap();
    assert!(run_id.len() > 2, "an empty run id: {run_id}");

    // The stages nest inside it with their source, date range and target.
    let stored = lines
        .iter()
        .find(|line| {
            let spans = spans(line);
            named(&spans, "pull").is_some_and(|p| p["source"] == "ads")
                && named(&spans, "chunk").is_some()
        })
        .unwrap_or_else(|| panic!("no line inside the pull of source ads:\n{}", run.stderr));
    let spans_of_stored = spans(stored);
    assert!(named(&spans_of_stored, "cycle").is_some(), "{stored}");
    let pull = named(&spans_of_stored, "pull").unwrap();
    assert!(
        pull["range"].as_str().is_some_and(|r| r.contains("2025-")),
        "{pull:?}"
    );
    let analyzed = lines
        .iter()
        .find_map(|line| named(&spans(line), "analyze"))
        .unwrap_or_else(|| panic!("no line of the analysis:\n{}", run.stderr));
    assert_eq!(analyzed["range"], "2025-01-06..2025-05-25");
    let delivered = lines
        .iter()
        .find(|line| named(&spans(line), "deliver").is_some())
        .unwrap_or_else(|| panic!("no line of a delivery:\n{}", run.stderr));
    let spans_of_delivered = spans(delivered);
    assert_eq!(
        named(&spans_of_delivered, "deliver").unwrap()["target"],
        "team"
    );
    assert!(named(&spans_of_delivered, "cycle").is_some(), "{delivered}");

    // The webhook URL is a secret: no span field or message carries it.
    assert!(!run.stderr.contains("/services/"), "the URL leaked");
    assert!(!run.stderr.contains(&slack.uri()), "the URL leaked");
}

#[test]
fn an_unknown_log_format_is_a_configuration_problem_reported_with_the_others() {
    let ws = workspace("https://hooks.slack.com/services/T0/B0/secret");
    let run = ws.kassa_with_env(
        &["check", "--offline"],
        &[
            ("KASSA__LOG__FORMAT", "xml"),
            ("KASSA__ANALYSIS__GRANULARITY", "fortnight"),
        ],
    );
    assert_eq!(run.code, 1, "{run:?}");
    for expected in [
        "the configuration has 2 problems",
        "log.format (from the environment variable KASSA__LOG__FORMAT): \"xml\" is not one of text, json",
        "analysis.granularity",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from:\n{}",
            run.stderr
        );
    }
}
