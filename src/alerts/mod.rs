//! Alerts: renders an [`AlertMessage`] for each kind of target and delivers it over HTTP.
//!
//! Three kinds of target, one `[[alerts]]` table each, picked by `kind`:
//! - `slack`: a Slack incoming webhook, or (with `compat = "mattermost"`) any chat that speaks
//!   Slack's legacy payload: Mattermost, Rocket.Chat, Discord's `/slack` endpoint;
//! - `telegram`: a Telegram bot posting to one chat with `sendMessage`;
//! - `webhook`: a generic JSON webhook signed per the Standard Webhooks spec, for other tools.
//!
//! Like sources, each target is a config struct that validates without I/O and then builds the
//! running thing ([`AlertTargetConfig::build`]), which resolves its secret. Delivery goes through
//! the shared [`HttpClient`], so retries, backoff and `Retry-After` are
//! the same as everywhere else; each target only says how to read its receiver's failures.
//!
//! Messages arrive already worded (and translated) by the caller; this module only lays them
//! out and escapes them for each receiver's markup. It keeps no state: the outbox (one alert
//! per episode, stored before sending, re-sent by the next run if it failed) is the caller's;
//! the message `id` lets receivers that can deduplicate drop a re-sent alert. Every target's URL, token and signing key is a secret: none appears in a log,
//! an error or `Debug` output, and [`AlertTarget::preview`] shows bodies, never addresses.
//!
//! Common config keys of every `[[alerts]]` table:
//! - `name` (required): letters, digits, `-` and `_`; errors and logs name the target by it;
//! - `kind` (required): `slack`, `telegram` or `webhook`;
//! - `findings` (optional list): the finding kinds this target wants, out of
//!   `activity_without_money` and `data_gap`; absent means all of them;
//! - `channels` (optional list): the channels this target wants (e.g. `["meta", "all"]`);
//!   absent means all of them.
//!
//! The keys of each kind are documented on [`SlackConfig`], [`TelegramConfig`] and
//! [`WebhookConfig`].

mod slack;
mod telegram;
mod webhook;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::analysis::FindingKind;
use crate::http::{Classifier, FailureKind, HttpClient, HttpError, RetryPolicy};
use crate::secrets::{EnvLookup, SecretError, process_env};
use crate::validation::{Problems, validate_name};

pub use slack::{SlackCompat, SlackConfig};
pub use telegram::{ChatId, TelegramConfig};
pub use webhook::{SecretFormatError, WebhookConfig, parse_secret, sign, verify};

/// One alert, already worded in the user's language by the caller. Stored in the outbox as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMessage {
    /// A stable idempotency key: the same alert re-sent by a later run carries the same id, so
    /// receivers can drop duplicates. The generic webhook sends it as `webhook-id`.
    pub id: String,
    pub event: AlertEvent,
    /// E.g. `activity_without_money`; targets filter on it (`findings`).
    pub finding_kind: String,
    /// E.g. `meta`, or `all` for the total over channels; targets filter on it (`channels`).
    pub channel: String,
    /// One line, e.g. "Activity without money: meta, week 2025-03-10 – 2025-03-16".
    pub title: String,
    /// Plain text, one or more sentences.
    pub summary: String,
    /// Label/value pairs; values already formatted (money, percentages).
    pub facts: Vec<Fact>,
    /// The "What to decide: …" sentence, if there is one.
    pub decision: Option<String>,
    /// The structured finding or episode, passed through to the generic webhook untouched.
    pub data: serde_json::Value,
}

/// One label/value pair of an alert, both plain text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// Why an alert is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    /// A new episode of a finding began.
    Opened,
    /// A known episode changed (it grew longer, or its figures moved).
    Updated,
    /// An episode ended.
    Resolved,
    /// A periodic summary, not tied to one finding.
    Digest,
    /// A test message (`kassa alerts test`), to prove a target works.
    Test,
}

impl AlertEvent {
    /// The event's name on the wire: the generic webhook's `type`, Slack's context line.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertEvent::Opened => "episode.opened",
            AlertEvent::Updated => "episode.updated",
            AlertEvent::Resolved => "episode.resolved",
            AlertEvent::Digest => "digest",
            AlertEvent::Test => "test",
        }
    }

    /// Whether every target gets this event regardless of its `findings`/`channels` filters.
    pub fn bypasses_filters(self) -> bool {
        matches!(self, AlertEvent::Digest | AlertEvent::Test)
    }
}

impl fmt::Display for AlertEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[alerts]]` table; `kind` picks the variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertTargetConfig {
    Slack(SlackConfig),
    Telegram(TelegramConfig),
    Webhook(WebhookConfig),
}

/// The kinds `AlertTargetConfig` accepts, for error messages.
pub const ALERT_KINDS: &str = "slack, telegram, webhook";

impl AlertTargetConfig {
    pub fn name(&self) -> &str {
        self.filters().name
    }

    pub fn kind(&self) -> &'static str {
        match self {
            AlertTargetConfig::Slack(_) => "slack",
            AlertTargetConfig::Telegram(_) => "telegram",
            AlertTargetConfig::Webhook(_) => "webhook",
        }
    }

    fn filters(&self) -> Filters<'_> {
        match self {
            AlertTargetConfig::Slack(c) => Filters {
                name: &c.name,
                findings: c.findings.as_deref(),
                channels: c.channels.as_deref(),
            },
            AlertTargetConfig::Telegram(c) => Filters {
                name: &c.name,
                findings: c.findings.as_deref(),
                channels: c.channels.as_deref(),
            },
            AlertTargetConfig::Webhook(c) => Filters {
                name: &c.name,
                findings: c.findings.as_deref(),
                channels: c.channels.as_deref(),
            },
        }
    }

    /// Checks the table without I/O beyond looking at environment variables and whether named
    /// files exist. `key` is where this table sits, e.g. `alerts[0]`. A URL or secret given
    /// through an environment variable is checked for shape here; one in a file is checked by
    /// [`AlertTargetConfig::build`], which reads it.
    pub fn validate(&self, key: &str, problems: &mut Problems) {
        self.validate_with_env(key, problems, &process_env);
    }

    /// [`AlertTargetConfig::validate`] with environment variables looked up through `env`, so
    /// tests can check env-based configs without touching the process environment.
    pub fn validate_with_env(&self, key: &str, problems: &mut Problems, env: EnvLookup<'_>) {
        self.filters().validate(key, problems);
        match self {
            AlertTargetConfig::Slack(c) => c.validate(key, env, problems),
            AlertTargetConfig::Telegram(c) => c.validate(key, env, problems),
            AlertTargetConfig::Webhook(c) => c.validate(key, env, problems),
        }
    }

    /// Resolves the target's secrets (reading environment variables and files) and returns a
    /// target ready to deliver. Errors name the target and where the secret was looked for,
    /// never the secret.
    pub fn build(&self, retry: &RetryPolicy) -> Result<AlertTarget, AlertError> {
        let name = self.name().to_string();
        let filters = self.filters();
        let fail = |kind: FailureKind, message: String| AlertError::new(&name, kind, message);
        let (receiver, classifier): (Receiver, Classifier) = match self {
            AlertTargetConfig::Slack(c) => (
                Receiver::Slack(c.build().map_err(|e| fail(e.kind, e.message))?),
                slack::classify as Classifier,
            ),
            AlertTargetConfig::Telegram(c) => (
                Receiver::Telegram(c.build().map_err(|e| fail(e.kind, e.message))?),
                telegram::classify as Classifier,
            ),
            AlertTargetConfig::Webhook(c) => (
                Receiver::Webhook(c.build().map_err(|e| fail(e.kind, e.message))?),
                webhook::classify as Classifier,
            ),
        };
        // No bearer token: each receiver carries its secret in the URL or a signature.
        let client = HttpClient::new(None, retry.clone(), classifier).map_err(|e| {
            fail(
                FailureKind::Network,
                format!("cannot build the HTTP client: {}", e.without_url()),
            )
        })?;
        Ok(AlertTarget {
            name,
            findings: filters.findings.map(<[String]>::to_vec),
            channels: filters.channels.map(<[String]>::to_vec),
            receiver,
            client,
        })
    }
}

/// Validates every `[[alerts]]` table (keys `alerts[0]`, `alerts[1]`, …) and checks that names
/// are unique, since outbox entries and logs refer to targets by name.
pub fn validate_all(configs: &[AlertTargetConfig], problems: &mut Problems) {
    let mut seen = std::collections::HashSet::new();
    for (i, config) in configs.iter().enumerate() {
        let key = format!("alerts[{i}]");
        config.validate(&key, problems);
        if !seen.insert(config.name()) {
            problems.push(
                format!("{key}.name"),
                format!(
                    "another [[alerts]] table is already named {:?}; names must be unique",
                    config.name()
                ),
            );
        }
    }
}

/// The keys every kind shares.
struct Filters<'a> {
    name: &'a str,
    findings: Option<&'a [String]>,
    channels: Option<&'a [String]>,
}

impl Filters<'_> {
    fn validate(&self, key: &str, problems: &mut Problems) {
        validate_name(
            self.name,
            &format!("{key}.name"),
            "alert target",
            "team-slack",
            problems,
        );
        if let Some(findings) = self.findings {
            if findings.is_empty() {
                problems.push_with_example(
                    format!("{key}.findings"),
                    "an empty list would send nothing; remove the key to get every finding",
                    "findings = [\"activity_without_money\"]",
                );
            }
            for finding in findings {
                if FindingKind::parse(finding).is_none() {
                    problems.push_with_example(
                        format!("{key}.findings"),
                        format!(
                            "{finding:?} is not a finding kind; use {}",
                            FindingKind::ALL.map(FindingKind::as_str).join(" or ")
                        ),
                        "findings = [\"activity_without_money\", \"data_gap\"]",
                    );
                }
            }
        }
        if let Some(channels) = self.channels {
            if channels.is_empty() {
                problems.push_with_example(
                    format!("{key}.channels"),
                    "an empty list would send nothing; remove the key to get every channel",
                    "channels = [\"meta\", \"all\"]",
                );
            }
            if channels.iter().any(|c| c.trim().is_empty()) {
                problems.push_with_example(
                    format!("{key}.channels"),
                    "a channel name is empty",
                    "channels = [\"meta\", \"all\"]",
                );
            }
        }
    }
}

/// A target ready to deliver: its filters, its receiver (with its secrets) and an HTTP client.
pub struct AlertTarget {
    name: String,
    findings: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    receiver: Receiver,
    client: HttpClient,
}

/// What differs between kinds: the payload, the request, how an answer reads.
enum Receiver {
    Slack(slack::SlackTarget),
    Telegram(telegram::TelegramTarget),
    Webhook(webhook::WebhookTarget),
}

impl fmt::Debug for AlertTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The receivers' own Debug impls redact their URLs, tokens and keys.
        let mut s = f.debug_struct("AlertTarget");
        s.field("name", &self.name)
            .field("findings", &self.findings)
            .field("channels", &self.channels);
        match &self.receiver {
            Receiver::Slack(r) => s.field("slack", r),
            Receiver::Telegram(r) => s.field("telegram", r),
            Receiver::Webhook(r) => s.field("webhook", r),
        };
        s.finish_non_exhaustive()
    }
}

impl AlertTarget {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &'static str {
        match self.receiver {
            Receiver::Slack(_) => "slack",
            Receiver::Telegram(_) => "telegram",
            Receiver::Webhook(_) => "webhook",
        }
    }

    /// Whether this target wants alerts of this finding kind and channel (config keys
    /// `findings` and `channels`; absent keys mean everything). Digest and test messages pass
    /// every filter: callers that only have the two strings may pass `"digest"` or `"test"`
    /// as `finding_kind`, or use [`AlertTarget::wants_message`].
    pub fn wants(&self, finding_kind: &str, channel: &str) -> bool {
        if matches!(finding_kind, "digest" | "test") {
            return true;
        }
        let finding_ok = self
            .findings
            .as_ref()
            .is_none_or(|list| list.iter().any(|f| f == finding_kind));
        let channel_ok = self
            .channels
            .as_ref()
            .is_none_or(|list| list.iter().any(|c| c == channel));
        finding_ok && channel_ok
    }

    /// [`AlertTarget::wants`] for a whole message: digest and test events always pass.
    pub fn wants_message(&self, message: &AlertMessage) -> bool {
        message.event.bypasses_filters() || self.wants(&message.finding_kind, &message.channel)
    }

    /// The exact JSON body this target would POST for `message` (pretty-printed), for
    /// `kassa demo` and logs. Contains no secret. The generic webhook's `timestamp` is now.
    pub fn preview(&self, message: &AlertMessage) -> String {
        let body = match &self.receiver {
            Receiver::Slack(r) => r.payload(message),
            Receiver::Telegram(r) => r.payload(message),
            Receiver::Webhook(_) => webhook::payload(message, chrono::Utc::now()),
        };
        serde_json::to_string_pretty(&body).unwrap_or_else(|_| body.to_string())
    }

    /// Sends `message` once per call, with the shared client's retries (exponential backoff
    /// with jitter; `Retry-After` and Telegram's `parameters.retry_after` honoured). Errors
    /// name the target, never its URL or token. A failure is safe to retry later with the same
    /// message: receivers see the same `id`. Runs in a `deliver` span naming the target (never
    /// its URL).
    #[tracing::instrument(name = "deliver", skip_all, fields(target = %self.name, kind = self.kind(), alert = %message.id))]
    pub async fn deliver(&self, message: &AlertMessage) -> Result<(), AlertError> {
        let delivered = match &self.receiver {
            Receiver::Slack(r) => r.deliver(&self.client, &self.name, message).await,
            Receiver::Telegram(r) => r.deliver(&self.client, &self.name, message).await,
            Receiver::Webhook(r) => r.deliver(&self.client, &self.name, message).await,
        };
        match delivered {
            Ok(()) => {
                tracing::debug!(
                    target_name = %self.name,
                    kind = self.kind(),
                    event = message.event.as_str(),
                    id = %message.id,
                    "alert delivered"
                );
                Ok(())
            }
            Err(e) => Err(AlertError::http(&self.name, e)),
        }
    }
}

/// A target that could not be built or could not deliver. `target` is the target's name; the
/// message carries the receiver's own words (Slack's `no_service`, Telegram's `description`)
/// and never a URL, token or secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertError {
    pub target: String,
    pub kind: FailureKind,
    pub message: String,
}

impl AlertError {
    pub fn new(target: &str, kind: FailureKind, message: impl Into<String>) -> AlertError {
        AlertError {
            target: target.to_string(),
            kind,
            message: message.into(),
        }
    }

    /// A failed request of target `target`.
    pub fn http(target: &str, error: HttpError) -> AlertError {
        AlertError::new(target, error.kind, error.message)
    }

    /// Whether sending again later can help (the outbox keeps the alert for the next run
    /// either way; this only says whether the failure looks temporary).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            FailureKind::Throttled | FailureKind::Server | FailureKind::Network
        )
    }
}

/// Words for a failure kind as a person reads them in an alert error.
fn kind_words(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Auth => "credentials missing or refused",
        FailureKind::Throttled => "rate-limited",
        FailureKind::Server => "receiver error",
        FailureKind::Network => "network error",
        FailureKind::Rejected => "rejected",
        FailureKind::Decode => "unexpected answer",
    }
}

impl fmt::Display for AlertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "alert target {:?}: {}: {}",
            self.target,
            kind_words(self.kind),
            self.message
        )
    }
}

impl std::error::Error for AlertError {}

/// A failure while building one receiver, before the target's name is attached. Secrets that
/// cannot be read count as [`FailureKind::Auth`] (credentials missing); URLs kassa refuses to
/// send to as [`FailureKind::Rejected`].
#[derive(Debug)]
struct BuildError {
    kind: FailureKind,
    message: String,
}

impl BuildError {
    fn secret(error: SecretError) -> BuildError {
        BuildError {
            kind: FailureKind::Auth,
            message: error.0,
        }
    }

    fn new(kind: FailureKind, message: impl Into<String>) -> BuildError {
        BuildError {
            kind,
            message: message.into(),
        }
    }
}

/// Escapes `text` with `escape` and keeps the result within `max` characters, cutting at a
/// character boundary *before* an escape sequence (never inside `&amp;`) and ending a cut text
/// with "…". Receivers count characters, not bytes, so neither do we.
pub(crate) fn fit(text: &str, max: usize, escape: fn(char) -> Option<&'static str>) -> String {
    let full = escape_prefix(text, usize::MAX, escape);
    if full.chars().count() <= max {
        return full;
    }
    let mut cut = escape_prefix(text, max.saturating_sub(1), escape);
    cut.push('…');
    cut
}

/// The longest escaped prefix of `text` that fits in `room` characters.
pub(crate) fn escape_prefix(
    text: &str,
    room: usize,
    escape: fn(char) -> Option<&'static str>,
) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let (piece_len, piece) = match escape(c) {
            Some(entity) => (entity.chars().count(), Some(entity)),
            None => (1, None),
        };
        if used + piece_len > room {
            break;
        }
        match piece {
            Some(entity) => out.push_str(entity),
            None => out.push(c),
        }
        used += piece_len;
    }
    out
}

/// No escaping, for plain-text fields.
pub(crate) fn no_escape(_: char) -> Option<&'static str> {
    None
}

/// `&`, `<` and `>`: the three characters both Slack's mrkdwn and Telegram's HTML reserve.
pub(crate) fn escape_html_text(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_escapes_and_never_cuts_inside_an_entity() {
        assert_eq!(fit("a<b", 10, escape_html_text), "a&lt;b");
        // "a&lt;" is 5 characters: with 5 of room and "…" to add, "&lt;" no longer fits whole.
        assert_eq!(fit("a<bcdef", 5, escape_html_text), "a…");
        assert_eq!(fit("a<bcdef", 6, escape_html_text), "a&lt;…");
        assert_eq!(fit("abc", 3, no_escape), "abc");
        assert_eq!(fit("abcd", 3, no_escape), "ab…");
        assert_eq!(fit("жжжж", 3, no_escape), "жж…");
    }

    #[test]
    fn events_have_wire_names_and_round_trip_as_snake_case() {
        assert_eq!(AlertEvent::Opened.as_str(), "episode.opened");
        assert_eq!(AlertEvent::Digest.as_str(), "digest");
        let message = AlertMessage {
            id: "ep-1".into(),
            event: AlertEvent::Resolved,
            finding_kind: "data_gap".into(),
            channel: "meta".into(),
            title: "t".into(),
            summary: "s".into(),
            facts: vec![Fact {
                label: "Spend".into(),
                value: "1 USD".into(),
            }],
            decision: None,
            data: serde_json::json!({"k": 1}),
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["event"], "resolved");
        let back: AlertMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn error_display_names_target_and_kind() {
        let e = AlertError::new("team", FailureKind::Rejected, "HTTP 404: no_service");
        assert_eq!(
            e.to_string(),
            "alert target \"team\": rejected: HTTP 404: no_service"
        );
    }
}
