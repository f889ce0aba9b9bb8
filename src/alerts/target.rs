//! The toolbox every alert target imports: the message it renders, the two traits it
//! implements, the keys every `[[alerts]]` table shares, and its errors.
//!
//! A target kind is two types, like a source: a config struct implementing [`TargetConfig`]
//! (validate without I/O, then build) and the built receiver implementing [`Receiver`] (lay a
//! message out for its chat, deliver it through the shared [`HttpClient`]). The registry in
//! [`super`] lists the config structs; this module knows none of them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::AlertKind;
use crate::http::{BoxFuture, Classifier, FailureKind, HttpClient, HttpError};
use crate::secrets::{EnvLookup, SecretError};
use crate::validation::{Problems, validate_name};

/// One `[[alerts]]` table's settings, validated without I/O, and how to build its receiver.
pub trait TargetConfig: fmt::Debug + Send + Sync {
    /// The keys every kind shares: `name`, `findings`, `channels`.
    fn filters(&self) -> Filters<'_>;

    /// Checks the kind's own keys. A URL or secret given through an environment variable is
    /// checked for shape here (looked up through `env`); one in a file is checked by `build`,
    /// which reads it.
    fn validate(&self, key: &str, env: EnvLookup<'_>, problems: &mut Problems);

    /// Makes the table's relative file paths (`url_file`, `token_file`, `secret_file`)
    /// relative to `base`, the configuration file's directory.
    fn resolve_paths(&mut self, _base: &std::path::Path) {}

    /// Resolves the secrets and returns the receiver.
    fn build(&self) -> Result<Box<dyn Receiver>, BuildError>;

    /// Reads the receiver's failure bodies (Slack's `no_service`, Telegram's `retry_after`).
    fn classifier(&self) -> Classifier;
}

/// A built receiver: how a message looks for it and how it is sent. Its `Debug` must redact
/// its URL, token and keys.
pub trait Receiver: fmt::Debug + Send + Sync {
    /// The exact JSON body this receiver would POST for `message` (the generic webhook's
    /// `timestamp` is now). Contains no secret.
    fn payload(&self, message: &AlertMessage) -> serde_json::Value;

    /// Sends `message` once, with the client's retries. `name` is the target's, for labels.
    fn deliver<'a>(
        &'a self,
        client: &'a HttpClient,
        name: &'a str,
        message: &'a AlertMessage,
    ) -> BoxFuture<'a, Result<(), HttpError>>;
}

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
    /// Where the HTML report of the alert's range is (`[alerting] report_url`), if anywhere.
    /// Absent from messages stored before the link existed, and left out of the stored JSON
    /// when there is none, so the outbox reads either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<ReportLink>,
}

/// A link to the report, with its words: each receiver lays it out in its own markup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportLink {
    /// An absolute http(s) URL.
    pub url: String,
    /// "Open the report", in the message's language.
    pub text: String,
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

/// The keys every kind shares.
pub struct Filters<'a> {
    pub name: &'a str,
    pub findings: Option<&'a [String]>,
    pub channels: Option<&'a [String]>,
    /// `min_money_at_stake`: in the reporting currency.
    pub min_money_at_stake: Option<f64>,
}

impl Filters<'_> {
    pub fn validate(&self, key: &str, problems: &mut Problems) {
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
                    "an empty list would send nothing; remove the key to get every kind but data_gap",
                    "findings = [\"activity_without_money\"]",
                );
            }
            for finding in findings {
                if AlertKind::parse(finding).is_none() {
                    problems.push_with_example(
                        format!("{key}.findings"),
                        format!(
                            "{finding:?} is not a finding kind; use {}",
                            AlertKind::all()
                                .map(AlertKind::as_str)
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                        "findings = [\"activity_without_money\", \"data_gap\"]",
                    );
                }
            }
        }
        if let Some(min) = self.min_money_at_stake
            && !(min.is_finite() && min >= 0.0)
        {
            problems.push_with_example(
                format!("{key}.min_money_at_stake"),
                format!("{min} is not an amount of zero or more in the reporting currency"),
                "min_money_at_stake = 5000",
            );
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

    /// Whether the receiver refused the message for good: it answered, and the answer is one
    /// no later run changes without a person (Slack's `410 channel_is_archived` or `400
    /// invalid_payload`, a revoked webhook, Telegram's `403 bot was kicked`, a refused token,
    /// a redirect). The outbox sets such a message aside as a dead letter at once. Everything
    /// else (throttling, 5xx, the network, TLS, an unreadable answer) may pass by itself, and
    /// becomes a dead letter only after `dead_after_runs` runs.
    pub fn is_permanent(&self) -> bool {
        matches!(self.kind, FailureKind::Auth | FailureKind::Rejected)
    }
}

/// Words for a failure kind as a person reads them in an alert error.
fn kind_words(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Auth => "credentials missing or refused",
        FailureKind::Throttled => "rate-limited",
        FailureKind::QuotaSpent => "quota for the day spent",
        FailureKind::Server => "receiver error",
        FailureKind::Network => "network error",
        FailureKind::Rejected => "rejected",
        FailureKind::Decode => "unexpected answer",
        FailureKind::Tls => "TLS failure",
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
pub struct BuildError {
    pub kind: FailureKind,
    pub message: String,
}

impl BuildError {
    pub fn secret(error: SecretError) -> BuildError {
        BuildError {
            kind: FailureKind::Auth,
            message: error.0,
        }
    }

    pub fn new(kind: FailureKind, message: impl Into<String>) -> BuildError {
        BuildError {
            kind,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            link: None,
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["event"], "resolved");
        // A message without a link is stored as before the link existed.
        assert!(json.get("link").is_none(), "{json}");
        let back: AlertMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, message);
        let linked = AlertMessage {
            link: Some(ReportLink {
                url: "https://kassa.example.com/report?from=2025-03-10&to=2025-03-16".into(),
                text: "Open the report".into(),
            }),
            ..message
        };
        let back: AlertMessage =
            serde_json::from_value(serde_json::to_value(&linked).unwrap()).unwrap();
        assert_eq!(back, linked);
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
