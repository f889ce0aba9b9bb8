//! `kind = "slack"`: Slack incoming webhooks, and the chats that accept Slack's legacy payload
//! (Mattermost, Rocket.Chat, Discord's `/slack` endpoint) with `compat = "mattermost"`.
//!
//! Slack gets Block Kit (`blocks`) with `text` as the notification fallback. The compatible
//! chats render `blocks` as an empty message (mattermost#14973), so for them we send the
//! portable subset instead: `text` plus one legacy attachment (`fallback`, `color`, `title`,
//! `text`, `fields`). Slack answers `200 ok`, and failures as plain-text codes (`404
//! no_service` when the webhook was revoked, `410 channel_is_archived`, ...), which go into the
//! error message. The webhook URL itself is the secret, so requests are logged by a label.

use std::path::PathBuf;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::markup::{escape_html_text, fit, no_escape};
use super::target::{
    AlertEvent, AlertMessage, BuildError, Filters, Receiver, ReportLink, TargetConfig,
};
use crate::http::{
    BoxFuture, Classifier, Failure, FailureKind, HttpClient, HttpError, Request, summarize_body,
};
use crate::secrets::{EnvLookup, SecretSpec, parse_secret_url};
use crate::validation::Problems;

/// An `[[alerts]]` table with `kind = "slack"`.
///
/// ```toml
/// [[alerts]]
/// name = "team"
/// kind = "slack"
/// url_env = "KASSA_TEAM_WEBHOOK"   # or url_file = "/run/secrets/team-webhook"
/// compat = "slack"                 # or "mattermost" for Mattermost, Rocket.Chat, Discord
/// findings = ["activity_without_money"]   # optional; default: all but data_gap
/// channels = ["meta", "all"]              # optional; default: every channel
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub name: String,
    /// Kinds to send (`activity_without_money`, `data_gap`, `source_down`); absent: all but
    /// `data_gap`.
    pub findings: Option<Vec<String>>,
    /// Channels to send; absent: all.
    pub channels: Option<Vec<String>>,
    /// Alerts about less money at stake than this (reporting currency) are not sent;
    /// `data_gap` and `source_down` have no money at stake and always pass.
    pub min_money_at_stake: Option<f64>,
    /// The environment variable holding the webhook URL (the URL is the secret).
    pub url_env: Option<String>,
    /// A file holding the webhook URL (surrounding whitespace is ignored).
    pub url_file: Option<PathBuf>,
    /// Which payload dialect the receiver speaks.
    #[serde(default)]
    pub compat: SlackCompat,
}

/// `compat`: the payload dialect of a Slack-style webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackCompat {
    /// Slack itself: Block Kit `blocks` plus fallback `text`.
    #[default]
    Slack,
    /// Mattermost, Rocket.Chat, Discord's `/slack` endpoint: `text` plus legacy
    /// `attachments`, never `blocks`.
    Mattermost,
}

const URL_EXAMPLE: &str = "url_env = \"KASSA_TEAM_WEBHOOK\"";

impl SlackConfig {
    fn url_spec(&self) -> SecretSpec<'_> {
        SecretSpec {
            what: "webhook URL",
            env_key: "url_env",
            file_key: "url_file",
            env: self.url_env.as_deref(),
            file: self.url_file.as_deref(),
            example: URL_EXAMPLE,
        }
    }
}

/// A built Slack-style target. Its URL stays secret: `Debug` shows only the dialect.
pub(super) struct SlackTarget {
    url: SecretString,
    compat: SlackCompat,
}

impl std::fmt::Debug for SlackTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackTarget")
            .field("url", &"[redacted]")
            .field("compat", &self.compat)
            .finish()
    }
}

// Block Kit limits (characters): header text 150, section text 3000, each field 2000 and at
// most 10 fields per section; a message holds at most 50 blocks.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
const FIELDS_PER_SECTION: usize = 10;
const MAX_FACTS: usize = 40;

// Legacy attachments, sized for the strictest receiver (Discord's embeds: title 256,
// description 4096, field value 1024, 25 fields).
const ATTACHMENT_TITLE_MAX: usize = 256;
const ATTACHMENT_TEXT_MAX: usize = 4000;
const ATTACHMENT_FIELD_VALUE_MAX: usize = 1024;
const ATTACHMENT_FIELDS_MAX: usize = 25;

/// Slack's rule for message text: escape `&`, `<` and `>` (and nothing else), because `<...>`
/// is its link and mention syntax.
fn mrkdwn(text: &str, max: usize) -> String {
    fit(text, max, escape_html_text)
}

/// The report link in Slack's link syntax, `<url|text>`. Inside it `&`, `<` and `>` are
/// escaped like any mrkdwn, and a `|` in the URL (which would end it early) is
/// percent-encoded, as it means the same there.
fn link_mrkdwn(link: &ReportLink) -> String {
    let url = fit(&link.url, usize::MAX, escape_html_text).replace('|', "%7C");
    format!("<{url}|{}>", mrkdwn(&link.text, 200))
}

/// The title, or a stand-in: Slack rejects an empty header.
fn title_of(message: &AlertMessage) -> String {
    if message.title.trim().is_empty() {
        format!("kassa: {}", message.event.as_str())
    } else {
        message.title.clone()
    }
}

fn color(event: AlertEvent) -> &'static str {
    match event {
        AlertEvent::Opened => "#d93f0b",
        AlertEvent::Updated => "#fbca04",
        AlertEvent::Resolved => "#2eb67d",
        AlertEvent::Digest | AlertEvent::Test => "#439fe0",
    }
}

impl SlackTarget {
    async fn send(
        &self,
        client: &HttpClient,
        name: &str,
        message: &AlertMessage,
    ) -> Result<(), HttpError> {
        // Checked by build(); parsed again here because only the secret form is kept.
        let url = parse_secret_url(self.url.expose_secret()).map_err(|problem| {
            HttpError::new(FailureKind::Rejected, format!("the webhook URL {problem}"))
        })?;
        let request = Request::post_json(url, self.payload(message))
            .label(format!("POST slack webhook of alert target {name}"));
        let body = client.send(&request).await?;
        // Rocket.Chat says no with a 200 and `{"success": false}`; Slack and Mattermost
        // answer `ok`, Discord an empty body.
        let refused = serde_json::from_str::<Value>(&body)
            .is_ok_and(|answer| answer.get("success") == Some(&Value::Bool(false)));
        if refused {
            return Err(HttpError::new(
                FailureKind::Rejected,
                format!(
                    "the receiver answered success=false: {}",
                    summarize_body(&body)
                ),
            ));
        }
        Ok(())
    }
}

impl TargetConfig for SlackConfig {
    fn filters(&self) -> Filters<'_> {
        Filters {
            name: &self.name,
            findings: self.findings.as_deref(),
            channels: self.channels.as_deref(),
            min_money_at_stake: self.min_money_at_stake,
        }
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        if let Some(path) = &mut self.url_file {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, env: EnvLookup<'_>, problems: &mut Problems) {
        if let Some(url) = self.url_spec().validate(key, env, problems)
            && let Err(problem) = parse_secret_url(url.expose_secret())
        {
            problems.push_with_example(
                format!("{key}.url_env"),
                format!("{} {problem}", self.url_spec().origin()),
                format!(
                    "export {}=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
                    self.url_env.as_deref().unwrap_or("KASSA_TEAM_WEBHOOK")
                ),
            );
        }
    }

    fn build(&self) -> Result<Box<dyn Receiver>, BuildError> {
        let spec = self.url_spec();
        let url = spec.resolve().map_err(BuildError::secret)?;
        parse_secret_url(url.expose_secret()).map_err(|problem| {
            BuildError::new(
                FailureKind::Rejected,
                format!("{} {problem}", spec.origin()),
            )
        })?;
        Ok(Box::new(SlackTarget {
            url,
            compat: self.compat,
        }))
    }

    fn classifier(&self) -> Classifier {
        classify
    }
}

impl Receiver for SlackTarget {
    fn payload(&self, message: &AlertMessage) -> Value {
        match self.compat {
            SlackCompat::Slack => blocks_payload(message),
            SlackCompat::Mattermost => attachments_payload(message),
        }
    }

    fn deliver<'a>(
        &'a self,
        client: &'a HttpClient,
        name: &'a str,
        message: &'a AlertMessage,
    ) -> BoxFuture<'a, Result<(), HttpError>> {
        Box::pin(self.send(client, name, message))
    }
}

/// Slack's failures are plain-text codes. A `404` (`no_service`, `no_team`,
/// `channel_not_found`) means the webhook was revoked or its channel deleted: the credential is
/// gone, so it reads as an auth failure. 429 and 5xx fall through to the shared classification,
/// which retries them and honours `Retry-After`; every other 4xx is fatal.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> Option<Failure> {
    match status {
        StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Some(Failure::fatal(FailureKind::Auth, summarize_body(body)))
        }
        _ => None,
    }
}

fn blocks_payload(message: &AlertMessage) -> Value {
    let title = title_of(message);
    let fallback = if message.summary.trim().is_empty() {
        title.clone()
    } else {
        format!("{title}\n{}", message.summary)
    };
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": fit(&title, HEADER_MAX, no_escape), "emoji": true},
    })];
    if !message.summary.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": mrkdwn(&message.summary, SECTION_MAX)},
        }));
    }
    let fields: Vec<Value> = message
        .facts
        .iter()
        .take(MAX_FACTS)
        .filter(|fact| !(fact.label.trim().is_empty() && fact.value.trim().is_empty()))
        .map(|fact| json!({"type": "mrkdwn", "text": field_text(&fact.label, &fact.value)}))
        .collect();
    for chunk in fields.chunks(FIELDS_PER_SECTION) {
        blocks.push(json!({"type": "section", "fields": chunk}));
    }
    if let Some(decision) = message.decision.as_deref().filter(|d| !d.trim().is_empty()) {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": mrkdwn(decision, SECTION_MAX)},
        }));
    }
    if let Some(link) = &message.link {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": link_mrkdwn(link)},
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("kassa · {}", message.event.as_str())}],
    }));
    json!({"text": mrkdwn(&fallback, SECTION_MAX), "blocks": blocks})
}

/// `*label*\nvalue`, escaped, within a field's 2000 characters. A long label is cut first so
/// the value keeps most of the room.
fn field_text(label: &str, value: &str) -> String {
    if label.trim().is_empty() {
        return mrkdwn(value, FIELD_MAX);
    }
    let label = mrkdwn(label, 200);
    let room = FIELD_MAX - label.chars().count() - 3;
    let value = if value.trim().is_empty() {
        String::new()
    } else {
        mrkdwn(value, room)
    };
    format!("*{label}*\n{value}")
}

fn attachments_payload(message: &AlertMessage) -> Value {
    let title = title_of(message);
    let mut text = String::new();
    if !message.summary.trim().is_empty() {
        text.push_str(&message.summary);
    }
    if let Some(decision) = message.decision.as_deref().filter(|d| !d.trim().is_empty()) {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(decision);
    }
    // The text is escaped as a whole below, so the link (already mrkdwn) joins it after.
    let mut text = mrkdwn(&text, ATTACHMENT_TEXT_MAX);
    if let Some(link) = &message.link {
        let link = link_mrkdwn(link);
        if text.chars().count() + link.chars().count() + 2 <= ATTACHMENT_TEXT_MAX {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&link);
        }
    }
    let fields: Vec<Value> = message
        .facts
        .iter()
        .take(ATTACHMENT_FIELDS_MAX)
        .map(|fact| {
            json!({
                "title": fit(&fact.label, ATTACHMENT_TITLE_MAX, no_escape),
                "value": mrkdwn(&fact.value, ATTACHMENT_FIELD_VALUE_MAX),
                "short": fact.label.chars().count() + fact.value.chars().count() <= 40,
            })
        })
        .collect();
    // The top-level text is the notification line; the attachment carries the details, so
    // repeating the summary there would show it twice.
    let fallback = if message.summary.trim().is_empty() {
        title.clone()
    } else {
        format!("{title}: {}", message.summary)
    };
    json!({
        "text": mrkdwn(&title, ATTACHMENT_TEXT_MAX),
        "attachments": [{
            "fallback": fit(&fallback, ATTACHMENT_TEXT_MAX, no_escape),
            "color": color(message.event),
            "title": fit(&title, ATTACHMENT_TITLE_MAX, no_escape),
            "text": text,
            "fields": fields,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Fact;

    fn message() -> AlertMessage {
        AlertMessage {
            id: "ep-1".into(),
            event: AlertEvent::Opened,
            finding_kind: "activity_without_money".into(),
            channel: "<b>&co".into(),
            title: "Activity without money: <b>&co".into(),
            summary: "Clicks up 40% & revenue flat <!channel>".into(),
            facts: vec![Fact {
                label: "Spend".into(),
                value: "1 200 USD <x>".into(),
            }],
            decision: Some("What to decide: stop it?".into()),
            data: json!({}),
            link: None,
        }
    }

    #[test]
    fn blocks_escape_mrkdwn_but_not_plain_text_headers() {
        let payload = blocks_payload(&message());
        assert_eq!(
            payload["text"],
            "Activity without money: &lt;b&gt;&amp;co\nClicks up 40% &amp; revenue flat &lt;!channel&gt;"
        );
        let blocks = payload["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["text"]["text"], "Activity without money: <b>&co");
        assert_eq!(
            blocks[1]["text"]["text"],
            "Clicks up 40% &amp; revenue flat &lt;!channel&gt;"
        );
        assert_eq!(
            blocks[2]["fields"][0]["text"],
            "*Spend*\n1 200 USD &lt;x&gt;"
        );
        assert_eq!(blocks[3]["text"]["text"], "What to decide: stop it?");
        assert_eq!(blocks[4]["elements"][0]["text"], "kassa · episode.opened");
    }

    #[test]
    fn blocks_respect_slack_limits() {
        let mut m = message();
        m.title = "t".repeat(400);
        m.summary = "&".repeat(4000);
        m.facts = (0..23)
            .map(|i| Fact {
                label: format!("l{i}"),
                value: "v".repeat(5000),
            })
            .collect();
        let payload = blocks_payload(&m);
        let blocks = payload["blocks"].as_array().unwrap();
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), 150);
        assert!(header.ends_with('…'));
        let summary = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(summary.chars().count() <= 3000);
        assert!(
            summary.ends_with("&amp;…"),
            "cut inside an entity: {summary:.40}"
        );
        let field_sections: Vec<&Value> =
            blocks.iter().filter(|b| b["fields"].is_array()).collect();
        assert_eq!(field_sections.len(), 3);
        for section in field_sections {
            let fields = section["fields"].as_array().unwrap();
            assert!(fields.len() <= 10);
            for field in fields {
                assert!(field["text"].as_str().unwrap().chars().count() <= 2000);
            }
        }
    }

    #[test]
    fn compat_sends_attachments_and_no_blocks() {
        let target = SlackTarget {
            url: SecretString::from("https://chat.example.com/hooks/x"),
            compat: SlackCompat::Mattermost,
        };
        let payload = target.payload(&message());
        assert!(payload.get("blocks").is_none());
        let attachment = &payload["attachments"][0];
        assert_eq!(attachment["color"], "#d93f0b");
        assert_eq!(attachment["fields"][0]["title"], "Spend");
        assert_eq!(attachment["fields"][0]["value"], "1 200 USD &lt;x&gt;");
        assert!(
            attachment["text"]
                .as_str()
                .unwrap()
                .ends_with("\n\nWhat to decide: stop it?")
        );
        assert!(!format!("{target:?}").contains("chat.example.com"));
    }
}
