//! Alert targets against fake receivers on 127.0.0.1 speaking the documented wire formats: a
//! Slack incoming webhook (plain-text `ok` and error codes, `Retry-After`), the Telegram Bot
//! API (`{"ok": …}` envelopes, `parameters.retry_after`), and a Standard Webhooks receiver that
//! checks signatures with kassa's own `verify`. Targets are configured the way `kassa` reads
//! them, `[[alerts]]` tables through the `config` crate, with secrets in files (tests never set
//! process environment variables: they run in parallel threads).

use std::collections::HashMap;
use std::time::Duration;

use kassa::alerts::{
    AlertEvent, AlertMessage, AlertTarget, AlertTargetConfig, Fact, parse_secret, sign, verify,
};
use kassa::http::{FailureKind, RetryPolicy};
use kassa::validation::Problems;
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::Workspace;

/// The secret part of the fake Slack webhook URL: finding it in an error would be a leak.
const SLACK_PATH: &str = "/services/T0KASSA/B0KASSA/hookSecretZx81Qw";
const SLACK_SECRET_PART: &str = "hookSecretZx81Qw";
const TELEGRAM_TOKEN: &str = "987654321:AAHkassa-test_token-Sw0rdfish";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_c2VjcmV0LW9mLXNvbWVib2R5LWVsc2UtMTIzNA==";

/// Reads `[[alerts]]` tables the way `kassa` reads its configuration.
fn alert_configs(toml: &str) -> Result<Vec<AlertTargetConfig>, config::ConfigError> {
    config::Config::builder()
        .add_source(config::File::from_str(toml, config::FileFormat::Toml))
        .build()?
        .get::<Vec<AlertTargetConfig>>("alerts")
}

/// Retries without per-request timeouts: these tests run on tokio's paused clock, which jumps
/// to the next timer while a request waits on a loopback socket.
fn paused_clock_retry() -> RetryPolicy {
    RetryPolicy {
        timeout: None,
        ..RetryPolicy::default()
    }
}

/// Builds the one target of `toml` after checking it validates cleanly.
fn target(toml: &str) -> AlertTarget {
    let [config]: [AlertTargetConfig; 1] = alert_configs(toml)
        .expect("the [[alerts]] table deserialises")
        .try_into()
        .expect("exactly one [[alerts]] table");
    let mut problems = Problems::default();
    config.validate("alerts[0]", &mut problems);
    assert!(
        problems.is_empty(),
        "the alert config has problems:\n{problems}"
    );
    config
        .build(&paused_clock_retry())
        .expect("the target builds")
}

fn slack_target(workspace: &Workspace, server: &MockServer, compat: &str) -> AlertTarget {
    let url_file = workspace.write(
        "secrets/slack-url",
        &format!("{}{SLACK_PATH}\n", server.uri()),
    );
    target(&format!(
        "[[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {:?}\ncompat = \"{compat}\"\n",
        url_file.display().to_string()
    ))
}

fn telegram_target(workspace: &Workspace, server: &MockServer) -> AlertTarget {
    let token_file = workspace.write("secrets/telegram-token", &format!("{TELEGRAM_TOKEN}\n"));
    target(&format!(
        "[[alerts]]\nname = \"owner\"\nkind = \"telegram\"\ntoken_file = {:?}\n\
         chat_id = -1001234567890\napi_base = {:?}\n",
        token_file.display().to_string(),
        server.uri()
    ))
}

fn webhook_target(workspace: &Workspace, server: &MockServer) -> AlertTarget {
    let url_file = workspace.write("secrets/hook-url", &format!("{}/hooks/kassa", server.uri()));
    let secret_file = workspace.write("secrets/hook-secret", WEBHOOK_SECRET);
    target(&format!(
        "[[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_file = {:?}\nsecret_file = {:?}\n",
        url_file.display().to_string(),
        secret_file.display().to_string()
    ))
}

/// An alert whose channel name is made of the characters every receiver's markup reserves.
fn message() -> AlertMessage {
    AlertMessage {
        id: "ep_meta_2025-03-10_opened".to_string(),
        event: AlertEvent::Opened,
        finding_kind: "activity_without_money".to_string(),
        channel: "<b>&co".to_string(),
        title: "Activity without money: <b>&co, week 2025-03-10 – 2025-03-16".to_string(),
        summary: "Clicks grew 42% over the 4-week baseline; revenue fell 3%.".to_string(),
        facts: vec![
            Fact {
                label: "Spend".to_string(),
                value: "1,250.00 USD".to_string(),
            },
            Fact {
                label: "Clicks".to_string(),
                value: "+42%".to_string(),
            },
        ],
        decision: Some("What to decide: keep paying for clicks that bring no sales?".to_string()),
        data: json!({"kind": "activity_without_money", "channel": "<b>&co", "spend": "1250.00"}),
        link: None,
    }
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON body"))
        .collect()
}

/// Asserts that nothing about `target`'s secrets shows in `text`.
fn assert_no_secret(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{secret:?} leaked into: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Slack and Slack-compatible webhooks

#[tokio::test(start_paused = true)]
async fn slack_retries_server_errors_and_delivers_exactly_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_string("rollup_error"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = slack_target(&workspace, &server, "slack");

    target.deliver(&message()).await.expect("delivered");

    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 3, "two failures and one success");
    let body = &sent[2];
    // Fallback text and mrkdwn are escaped; the plain-text header is not.
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("Activity without money: &lt;b&gt;&amp;co, week")
    );
    let blocks = body["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(
        blocks[0]["text"]["text"],
        "Activity without money: <b>&co, week 2025-03-10 – 2025-03-16"
    );
    assert_eq!(blocks[2]["fields"][0]["text"], "*Spend*\n1,250.00 USD");
    assert_eq!(
        blocks.last().unwrap()["elements"][0]["text"],
        "kassa · episode.opened"
    );
    // The preview is the body that was sent.
    let preview: Value = serde_json::from_str(&target.preview(&message())).unwrap();
    assert_eq!(&preview, body);
}

#[tokio::test(start_paused = true)]
async fn slack_rate_limit_waits_for_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_string("rate_limited"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = slack_target(&workspace, &server, "slack");

    let started = Instant::now();
    target.deliver(&message()).await.expect("delivered");

    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "retried after {:?}",
        started.elapsed()
    );
    assert_eq!(bodies(&server).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn slack_revoked_webhook_is_fatal_and_keeps_the_url_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = slack_target(&workspace, &server, "slack");

    let error = target.deliver(&message()).await.expect_err("no_service");

    assert_eq!(error.target, "team");
    assert_eq!(error.kind, FailureKind::Auth);
    let shown = error.to_string();
    assert!(shown.starts_with("alert target \"team\": "), "{shown}");
    assert!(shown.contains("no_service"), "{shown}");
    let uri = server.uri();
    let secrets = [SLACK_SECRET_PART, SLACK_PATH, uri.as_str()];
    assert_no_secret(&shown, &secrets);
    assert_no_secret(&format!("{error:?}"), &secrets);
    assert_no_secret(&format!("{target:?}"), &secrets);
    assert_eq!(
        bodies(&server).await.len(),
        1,
        "a fatal error is not retried"
    );
}

// A 307 would re-post the signed body to the other host, and a followed redirect would send
// a `Referer` holding the secret URL: the redirect is a failure and nothing reaches the host.
#[tokio::test(start_paused = true)]
async fn a_redirect_is_never_followed_with_the_signed_body() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    Mock::given(method("POST"))
        .and(path("/hooks/kassa"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/collect", elsewhere.uri()).as_str()),
        )
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = webhook_target(&workspace, &server);

    let error = target.deliver(&message()).await.expect_err("a redirect");

    assert_eq!(error.kind, FailureKind::Rejected);
    let shown = error.to_string();
    assert!(
        shown.contains("HTTP 307") && shown.contains("never follows redirects"),
        "{shown}"
    );
    assert_no_secret(&shown, &["/hooks/kassa", "/collect", WEBHOOK_SECRET]);
    assert_eq!(bodies(&server).await.len(), 1, "a redirect is not retried");
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the redirect was followed"
    );
}

#[tokio::test(start_paused = true)]
async fn mattermost_compat_sends_attachments_and_no_blocks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = slack_target(&workspace, &server, "mattermost");

    target.deliver(&message()).await.expect("delivered");

    let sent = bodies(&server).await;
    let body = &sent[0];
    assert!(body.get("blocks").is_none(), "blocks sent: {body}");
    assert!(body["text"].as_str().unwrap().contains("&lt;b&gt;&amp;co"));
    let attachment = &body["attachments"][0];
    for key in ["fallback", "color", "title", "text"] {
        assert!(
            attachment[key].is_string(),
            "attachment lacks {key}: {body}"
        );
    }
    assert_eq!(
        attachment["fields"][0],
        json!({"title": "Spend", "value": "1,250.00 USD", "short": true})
    );
    assert!(
        attachment["text"]
            .as_str()
            .unwrap()
            .contains("What to decide: keep paying")
    );
}

// ---------------------------------------------------------------------------------------------
// Telegram

fn telegram_path() -> String {
    format!("/bot{TELEGRAM_TOKEN}/sendMessage")
}

fn telegram_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "ok": true,
        "result": {"message_id": 42, "chat": {"id": -1001234567890i64, "type": "channel"},
                   "date": 1714570000, "text": "…"},
    }))
}

#[tokio::test(start_paused = true)]
async fn telegram_sends_escaped_html() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(telegram_path()))
        .respond_with(telegram_ok())
        .expect(1)
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = telegram_target(&workspace, &server);

    target.deliver(&message()).await.expect("delivered");

    let sent = bodies(&server).await;
    let body = &sent[0];
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["chat_id"], json!(-1001234567890i64));
    assert_eq!(body["link_preview_options"], json!({"is_disabled": true}));
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("<b>Activity without money: &lt;b&gt;&amp;co, week"),
        "{text}"
    );
    assert!(text.contains("Spend: <b>1,250.00 USD</b>"), "{text}");
    assert!(
        text.ends_with("<i>What to decide: keep paying for clicks that bring no sales?</i>"),
        "{text}"
    );
    assert!(!text.contains("<b>&co"), "unescaped user text: {text}");
    let preview = target.preview(&message());
    assert_no_secret(&preview, &[TELEGRAM_TOKEN]);
}

#[tokio::test(start_paused = true)]
async fn telegram_flood_control_waits_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(telegram_path()))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "ok": false, "error_code": 429,
            "description": "Too Many Requests: retry after 5",
            "parameters": {"retry_after": 5},
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(telegram_path()))
        .respond_with(telegram_ok())
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = telegram_target(&workspace, &server);

    let started = Instant::now();
    target.deliver(&message()).await.expect("delivered");

    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "retried after {:?}",
        started.elapsed()
    );
    assert_eq!(bodies(&server).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn telegram_bad_token_is_fatal_and_never_shown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(telegram_path()))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "ok": false, "error_code": 401, "description": "Unauthorized",
        })))
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = telegram_target(&workspace, &server);

    let error = target.deliver(&message()).await.expect_err("401");

    assert_eq!(error.target, "owner");
    assert_eq!(error.kind, FailureKind::Auth);
    let shown = error.to_string();
    assert!(shown.contains("Unauthorized"), "{shown}");
    let token_secret = TELEGRAM_TOKEN.split_once(':').unwrap().1;
    for text in [shown, format!("{error:?}"), format!("{target:?}")] {
        assert_no_secret(&text, &[TELEGRAM_TOKEN, token_secret]);
    }
    assert_eq!(
        bodies(&server).await.len(),
        1,
        "a fatal error is not retried"
    );
}

#[tokio::test(start_paused = true)]
async fn telegram_ok_false_with_http_200_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(telegram_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": false, "description": "Bad Request: chat not found",
        })))
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = telegram_target(&workspace, &server);

    let error = target.deliver(&message()).await.expect_err("ok=false");

    assert_eq!(error.kind, FailureKind::Rejected);
    assert!(error.message.contains("chat not found"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn telegram_chat_not_found_is_fatal_with_description() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(telegram_path()))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "ok": false, "error_code": 400, "description": "Bad Request: chat not found",
        })))
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = telegram_target(&workspace, &server);

    let error = target.deliver(&message()).await.expect_err("400");

    assert_eq!(error.kind, FailureKind::Rejected);
    assert!(
        error.message.contains("Bad Request: chat not found"),
        "{error}"
    );
    assert_eq!(bodies(&server).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Signed generic webhooks

/// What a Standard Webhooks receiver sees: the three headers and the raw body.
struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

async fn deliveries(server: &MockServer) -> Vec<Delivery> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .map(|r| {
            let header = |name: &str| {
                r.headers
                    .get(name)
                    .unwrap_or_else(|| panic!("no {name} header"))
                    .to_str()
                    .expect("an ASCII header")
                    .to_string()
            };
            assert_eq!(header("content-type"), "application/json");
            Delivery {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp"),
                signature: header("webhook-signature"),
                body: String::from_utf8(r.body.clone()).expect("a UTF-8 body"),
            }
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn webhook_signature_verifies_and_tampering_is_caught() {
    let server = MockServer::start().await;
    // One failure first: the retry must re-send the very bytes that were signed.
    Mock::given(method("POST"))
        .and(path("/hooks/kassa"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hooks/kassa"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let workspace = Workspace::new();
    let target = webhook_target(&workspace, &server);

    target.deliver(&message()).await.expect("delivered");

    let sent = deliveries(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body, sent[1].body);
    assert_eq!(sent[0].signature, sent[1].signature);
    let d = &sent[1];
    assert_eq!(d.id, message().id);
    let now = chrono::Utc::now().timestamp();
    let accepts = |secret: &str, timestamp: &str, body: &str| {
        verify(secret, &d.id, timestamp, &d.signature, body, now, 300)
    };
    assert!(accepts(WEBHOOK_SECRET, &d.timestamp, &d.body));

    // One byte of the body changed.
    let mut tampered = d.body.clone().into_bytes();
    let at = tampered.iter().position(|b| *b == b'2').expect("a digit");
    tampered[at] = b'3';
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(!accepts(WEBHOOK_SECRET, &d.timestamp, &tampered));
    // Another timestamp.
    let shifted = (d.timestamp.parse::<i64>().unwrap() + 1).to_string();
    assert!(!accepts(WEBHOOK_SECRET, &shifted, &d.body));
    // Another secret.
    assert!(!accepts(OTHER_SECRET, &d.timestamp, &d.body));
    // Another id.
    assert!(!verify(
        WEBHOOK_SECRET,
        "ep_other",
        &d.timestamp,
        &d.signature,
        &d.body,
        now,
        300
    ));

    let body: Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(body["type"], "episode.opened");
    let stamped = chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap())
        .expect("an RFC 3339 timestamp");
    assert_eq!(stamped.timestamp().to_string(), d.timestamp);
    let data = &body["data"];
    assert_eq!(data["id"], message().id);
    assert_eq!(data["finding_kind"], "activity_without_money");
    assert_eq!(data["channel"], "<b>&co");
    assert_eq!(
        data["facts"][0],
        json!({"label": "Spend", "value": "1,250.00 USD"})
    );
    assert_eq!(data["data"], message().data);
    assert_no_secret(
        &format!("{target:?}"),
        &[WEBHOOK_SECRET, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    );
    assert_no_secret(&target.preview(&message()), &[WEBHOOK_SECRET]);
}

#[test]
fn sign_matches_an_independently_computed_vector() {
    // Computed with Python's hmac/hashlib/base64 (it is also the Standard Webhooks example):
    // base64(HMAC-SHA256(b64decode("MfKQ…"), b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}'))
    let key = parse_secret(WEBHOOK_SECRET).expect("a whsec_ secret");
    let signature = sign(
        &key,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        r#"{"test": 2432232314}"#,
    );
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    assert!(verify(
        WEBHOOK_SECRET,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        &signature,
        r#"{"test": 2432232314}"#,
        1614265330 + 299,
        300
    ));
    assert!(!verify(
        WEBHOOK_SECRET,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        &signature,
        r#"{"test": 2432232314}"#,
        1614265330 + 301,
        300
    ));
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn validation_names_the_key_of_each_problem() {
    let workspace = Workspace::new();
    let token_file = workspace.write("token", TELEGRAM_TOKEN);
    let url_file = workspace.write("url", "https://example.com/hook");
    let toml = format!(
        "[[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_env = \"KASSA_TEST_HOOK\"\n\n\
         [[alerts]]\nname = \"owner\"\nkind = \"telegram\"\ntoken_file = {:?}\n\n\
         [[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_file = {:?}\nsecret_env = \"KASSA_TEST_SECRET\"\n",
        token_file.display().to_string(),
        url_file.display().to_string(),
    );
    let configs = alert_configs(&toml).expect("the tables deserialise");
    // A stand-in for the process environment: tests must not set real variables.
    let env: HashMap<&str, &str> = HashMap::from([
        (
            "KASSA_TEST_HOOK",
            "http://hooks.example.com/services/T1/B1/leakyHookPart",
        ),
        ("KASSA_TEST_SECRET", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ]);
    let lookup = |name: &str| env.get(name).map(|v| v.to_string());
    let mut problems = Problems::default();
    for (i, config) in configs.iter().enumerate() {
        config.validate_with_env(&format!("alerts[{i}]"), &mut problems, &lookup);
    }

    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "alerts[0].url_env",
            "alerts[1].chat_id",
            "alerts[2].secret_env"
        ],
        "{problems}"
    );
    for problem in problems.iter() {
        assert!(problem.example.is_some(), "no example for {problem}");
        assert_no_secret(
            &problem.to_string(),
            &[
                "leakyHookPart",
                "hooks.example.com",
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ],
        );
    }
    let shown = problems.to_string();
    assert!(shown.contains("https://"), "{shown}");
    assert!(shown.contains("whsec_"), "{shown}");
}

#[test]
fn validation_accepts_channel_names_and_reports_bad_filters_and_names() {
    let workspace = Workspace::new();
    let token_file = workspace.write("token", TELEGRAM_TOKEN);
    let toml = format!(
        "[[alerts]]\nname = \"owner\"\nkind = \"telegram\"\ntoken_file = {:?}\nchat_id = \"@kassa_news\"\n\n\
         [[alerts]]\nname = \"bad name\"\nkind = \"telegram\"\ntoken_file = {:?}\nchat_id = 12345\n\
         findings = [\"activity_without_money\", \"vanity\"]\nchannels = []\n",
        token_file.display().to_string(),
        token_file.display().to_string(),
    );
    let configs = alert_configs(&toml).expect("the tables deserialise");
    let mut problems = Problems::default();
    kassa::alerts::validate_all(&configs, &mut problems);
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["alerts[1].name", "alerts[1].findings", "alerts[1].channels"],
        "{problems}"
    );
}

#[test]
fn secrets_in_files_are_checked_when_built() {
    let workspace = Workspace::new();
    let plain_http = workspace.write(
        "url",
        "http://hooks.example.com/services/T1/B1/leakyHookPart\n",
    );
    let good_url = workspace.write("good-url", "https://example.com/hook");
    let bad_secret = workspace.write("secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let toml = format!(
        "[[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {:?}\n\n\
         [[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_file = {:?}\nsecret_file = {:?}\n\n\
         [[alerts]]\nname = \"nowhere\"\nkind = \"slack\"\nurl_file = \"/nonexistent/kassa/url\"\n",
        plain_http.display().to_string(),
        good_url.display().to_string(),
        bad_secret.display().to_string(),
    );
    let configs = alert_configs(&toml).expect("the tables deserialise");

    let error = configs[0]
        .build(&RetryPolicy::default())
        .expect_err("http:// refused");
    assert_eq!(error.target, "team");
    assert!(error.message.contains("https://"), "{error}");
    assert_no_secret(&error.to_string(), &["leakyHookPart", "hooks.example.com"]);

    let error = configs[1]
        .build(&RetryPolicy::default())
        .expect_err("not whsec_");
    assert_eq!(error.target, "bi");
    assert!(error.message.contains("whsec_"), "{error}");
    assert_no_secret(&error.to_string(), &["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]);

    // A missing file is a validation problem before it is a build error.
    let mut problems = Problems::default();
    configs[2].validate("alerts[2]", &mut problems);
    assert_eq!(
        problems.iter().next().map(|p| p.key.as_str()),
        Some("alerts[2].url_file")
    );
    let error = configs[2]
        .build(&RetryPolicy::default())
        .expect_err("no file");
    assert_eq!(error.kind, FailureKind::Auth);
}

#[test]
fn secrets_cannot_be_written_into_the_toml() {
    let error = alert_configs(
        "[[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"\n",
    )
    .expect_err("unknown key");
    assert!(error.to_string().contains("url"), "{error}");
    assert!(alert_configs("[[alerts]]\nname = \"x\"\nkind = \"email\"\n").is_err());
}

#[test]
fn targets_filter_by_finding_kind_and_channel() {
    let workspace = Workspace::new();
    let url_file = workspace.write("url", "https://example.com/hook");
    let picky = target(&format!(
        "[[alerts]]\nname = \"picky\"\nkind = \"slack\"\nurl_file = {:?}\n\
         findings = [\"data_gap\"]\nchannels = [\"meta\"]\n",
        url_file.display().to_string()
    ));
    assert!(picky.wants("data_gap", "meta"));
    assert!(!picky.wants("activity_without_money", "meta"));
    assert!(!picky.wants("data_gap", "all"));
    let mut digest = message();
    digest.event = AlertEvent::Digest;
    assert!(picky.wants_message(&digest));
    assert!(!picky.wants_message(&message()));
    assert!(picky.wants("digest", "all"));

    let everything = target(&format!(
        "[[alerts]]\nname = \"all\"\nkind = \"slack\"\nurl_file = {:?}\n",
        url_file.display().to_string()
    ));
    assert!(everything.wants("activity_without_money", "all"));
    // Without `findings`: every kind but data gaps, which a target gets only by asking.
    assert!(!everything.wants("data_gap", "vk"));
    assert!(everything.wants("source_down", "all"));
    // A source being down is not about a channel: the channel filter lets it through.
    assert!(!picky.wants("source_down", "all"));
    let sources = target(&format!(
        "[[alerts]]\nname = \"ops\"\nkind = \"slack\"\nurl_file = {:?}\n\
         findings = [\"source_down\"]\nchannels = [\"meta\"]\n",
        url_file.display().to_string()
    ));
    assert!(sources.wants("source_down", "all"));
    assert_eq!((everything.name(), everything.kind()), ("all", "slack"));
}

// ---------------------------------------------------------------------------------------------
// The link to the report (`[alerting] report_url`)

/// The alert of [`message`] for the week 2025-03-10..16, linked the way the nightly cycle links
/// it, to a report URL that has a query of its own.
fn linked_message() -> AlertMessage {
    let alerting = kassa::config::AlertingSettings {
        report_url: Some("https://kassa.example.com/report?team=ads".parse().unwrap()),
        ..kassa::config::AlertingSettings::default()
    };
    let link = kassa::cycle::report_link(
        &alerting,
        Some(("2025-03-10".parse().unwrap(), "2025-03-16".parse().unwrap())),
    );
    AlertMessage { link, ..message() }
}

const LINKED_URL: &str = "https://kassa.example.com/report?team=ads&from=2025-03-10&to=2025-03-16";

/// Every kind of target carries the link, in its own markup, with the range of the finding;
/// a message without one is laid out exactly as before.
#[tokio::test(start_paused = true)]
async fn alerts_link_to_the_report_of_their_range_when_report_url_is_set() {
    let server = MockServer::start().await;
    for (route, answer) in [
        (
            SLACK_PATH.to_string(),
            ResponseTemplate::new(200).set_body_string("ok"),
        ),
        (telegram_path(), telegram_ok()),
        ("/hooks/kassa".to_string(), ResponseTemplate::new(204)),
    ] {
        Mock::given(method("POST"))
            .and(path(route))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    let workspace = Workspace::new();
    let slack = slack_target(&workspace, &server, "slack");
    let mattermost = slack_target(&workspace, &server, "mattermost");
    let telegram = telegram_target(&workspace, &server);
    let webhook = webhook_target(&workspace, &server);
    let linked = linked_message();
    assert_eq!(
        linked.id,
        message().id,
        "the link never changes an alert's id"
    );
    for target in [&slack, &mattermost, &telegram, &webhook] {
        target.deliver(&linked).await.expect("delivered");
    }
    let sent = bodies(&server).await;
    let slack_link = "<https://kassa.example.com/report?team=ads&amp;from=2025-03-10&amp;to=2025-03-16|Open the report>";
    let blocks = sent[0]["blocks"].as_array().unwrap();
    assert_eq!(blocks[blocks.len() - 2]["text"]["text"], slack_link);
    let attachment = sent[1]["attachments"][0]["text"].as_str().unwrap();
    assert!(
        attachment.ends_with(&format!("\n\n{slack_link}")),
        "{attachment}"
    );
    let telegram_text = sent[2]["text"].as_str().unwrap();
    assert!(
        telegram_text.ends_with(
            "\n\n<a href=\"https://kassa.example.com/report?team=ads&amp;from=2025-03-10&amp;to=2025-03-16\">Open the report</a>"
        ),
        "{telegram_text}"
    );
    assert_eq!(sent[3]["data"]["report_url"], LINKED_URL);

    // Without report_url: no link anywhere, the bodies as they always were.
    for target in [&slack, &mattermost, &telegram, &webhook] {
        let preview = target.preview(&message());
        assert!(!preview.contains("kassa.example.com"), "{preview}");
        assert!(!preview.contains("report"), "{preview}");
    }
}
