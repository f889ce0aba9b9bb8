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
//! This file is the registry: [`target`] is the toolbox kinds import (the [`TargetConfig`] and
//! [`Receiver`] traits, the message, the shared keys, errors), `markup` the escaping helpers.
//! Adding a kind is its module plus one line in the `targets!` list below.
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
//! - `findings` (optional list): the kinds this target wants, out of
//!   `activity_without_money`, `data_gap` and `source_down`; absent means every kind but
//!   `data_gap`, which a target gets only when it lists it;
//! - `channels` (optional list): the channels this target wants (e.g. `["meta", "all"]`);
//!   absent means all of them. A `source_down` alert is about a source, not a channel, and
//!   passes this filter;
//! - `min_money_at_stake` (optional amount in the reporting currency): alerts with less money
//!   at stake are not sent to this target; alerts without money at stake (`data_gap`,
//!   `source_down`) pass.
//!
//! The keys of each kind are documented on [`SlackConfig`], [`TelegramConfig`] and
//! [`WebhookConfig`].

mod markup;
mod slack;
pub mod target;
mod telegram;
mod webhook;

use std::fmt;

use serde::Deserialize;

use crate::domain::AlertKind;
use crate::http::{FailureKind, HttpClient, RetryPolicy, TARGET_MAX_BODY};
use crate::secrets::{EnvLookup, process_env};
use crate::validation::Problems;

pub use slack::{SlackCompat, SlackConfig};
pub use target::{
    AlertError, AlertEvent, AlertMessage, BuildError, Fact, Filters, Receiver, ReportLink,
    TargetConfig,
};
pub use telegram::{ChatId, TelegramConfig};
pub use webhook::{SecretFormatError, WebhookConfig, parse_secret, sign, verify};

/// Declares the registry: `kind => Variant(ConfigType)` per target kind. Generates the
/// `AlertTargetConfig` enum that serde picks by the table's `kind` key,
/// [`AlertTargetConfig::KINDS`], and the one match that turns a variant into its
/// [`TargetConfig`].
macro_rules! targets {
    ($($(#[$doc:meta])* $kind:literal => $variant:ident($config:ty),)+) => {
        /// One `[[alerts]]` table; `kind` picks the variant.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "kind")]
        pub enum AlertTargetConfig {
            $($(#[$doc])* #[serde(rename = $kind)] $variant($config),)+
        }

        impl AlertTargetConfig {
            /// Every `kind` an `[[alerts]]` table may have, in registry order.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The target kind behind this table.
            pub fn spec(&self) -> &dyn TargetConfig {
                match self {
                    $(AlertTargetConfig::$variant(config) => config,)+
                }
            }

            /// The table's `kind`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(AlertTargetConfig::$variant(_) => $kind,)+
                }
            }

            fn spec_mut(&mut self) -> &mut dyn TargetConfig {
                match self {
                    $(AlertTargetConfig::$variant(config) => config,)+
                }
            }
        }
    };
}

targets! {
    /// A Slack incoming webhook, or a Slack-compatible chat.
    "slack" => Slack(SlackConfig),
    /// A Telegram bot posting to one chat.
    "telegram" => Telegram(TelegramConfig),
    /// A generic JSON webhook signed per the Standard Webhooks spec.
    "webhook" => Webhook(WebhookConfig),
}

/// The kinds `AlertTargetConfig` accepts, for error messages: `slack, telegram, webhook`.
pub fn kinds_list() -> String {
    AlertTargetConfig::KINDS.join(", ")
}

impl AlertTargetConfig {
    pub fn name(&self) -> &str {
        self.spec().filters().name
    }

    /// Which alerts the target takes, without resolving its secrets (for `analyze --replay`).
    pub fn filter(&self) -> TargetFilter {
        let filters = self.spec().filters();
        TargetFilter {
            name: filters.name.to_string(),
            findings: filters.findings.map(<[String]>::to_vec),
            channels: filters.channels.map(<[String]>::to_vec),
            min_money_at_stake: filters.min_money_at_stake,
        }
    }

    /// Makes relative file paths relative to `base`, the configuration file's directory.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        self.spec_mut().resolve_paths(base);
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
        let spec = self.spec();
        spec.filters().validate(key, problems);
        spec.validate(key, env, problems);
    }

    /// Resolves the target's secrets (reading environment variables and files) and returns a
    /// target ready to deliver. Errors name the target and where the secret was looked for,
    /// never the secret.
    pub fn build(&self, retry: &RetryPolicy) -> Result<AlertTarget, AlertError> {
        let spec = self.spec();
        let filters = spec.filters();
        let name = filters.name.to_string();
        let fail = |kind: FailureKind, message: String| AlertError::new(&name, kind, message);
        let receiver = spec.build().map_err(|e| fail(e.kind, e.message))?;
        // No authenticator: each receiver carries its secret in the URL or a signature.
        // A target answers `ok` or a short JSON: its answers are capped far below a data API's.
        let policy = RetryPolicy {
            max_body: retry.max_body.min(TARGET_MAX_BODY),
            ..retry.clone()
        };
        let client = HttpClient::new(None, policy, spec.classifier()).map_err(|e| {
            fail(
                FailureKind::Network,
                format!("cannot build the HTTP client: {}", e.without_url()),
            )
        })?;
        Ok(AlertTarget {
            name: name.clone(),
            kind: self.kind(),
            filter: self.filter(),
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

/// A target's name and filters (`findings`, `channels`): what it takes, without its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetFilter {
    pub name: String,
    findings: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    min_money_at_stake: Option<f64>,
}

impl TargetFilter {
    /// A target named `name` without filters: every kind sent by default, every channel.
    pub fn everything_by_default(name: &str) -> TargetFilter {
        TargetFilter {
            name: name.to_string(),
            findings: None,
            channels: None,
            min_money_at_stake: None,
        }
    }

    /// Whether this target wants alerts of this finding kind and channel (config keys
    /// `findings` and `channels`). Without `findings` a target gets every kind but `data_gap`
    /// ([`AlertKind::sent_by_default`]); without `channels`, every channel; `source_down`
    /// passes the channel filter. Digest and test messages pass every filter: callers that
    /// only have the two strings may pass `"digest"` or `"test"` as `finding_kind`, or use
    /// [`AlertTarget::wants_message`].
    pub fn wants(&self, finding_kind: &str, channel: &str) -> bool {
        if matches!(finding_kind, "digest" | "test") {
            return true;
        }
        let kind = AlertKind::parse(finding_kind);
        let finding_ok = match &self.findings {
            Some(list) => list.iter().any(|f| f == finding_kind),
            None => kind.is_none_or(AlertKind::sent_by_default),
        };
        let channel_ok = kind == Some(AlertKind::SourceDown)
            || self
                .channels
                .as_ref()
                .is_none_or(|list| list.iter().any(|c| c == channel));
        finding_ok && channel_ok
    }

    /// Whether an alert with this much money at stake is worth this target's attention
    /// (`min_money_at_stake`). An alert without money at stake (`data_gap`, `source_down`, a
    /// resolved note of an episode no longer seen) always passes: it is about missing data or
    /// a closed matter, not an amount.
    pub fn wants_money(&self, money_at_stake: Option<f64>) -> bool {
        match (self.min_money_at_stake, money_at_stake) {
            (Some(min), Some(money)) => money >= min,
            _ => true,
        }
    }
}

/// A target ready to deliver: its filters, its receiver (with its secrets) and an HTTP client.
pub struct AlertTarget {
    name: String,
    kind: &'static str,
    filter: TargetFilter,
    receiver: Box<dyn Receiver>,
    client: HttpClient,
}

impl fmt::Debug for AlertTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The receivers' own Debug impls redact their URLs, tokens and keys.
        f.debug_struct("AlertTarget")
            .field("name", &self.name)
            .field("findings", &self.filter.findings)
            .field("channels", &self.filter.channels)
            .field("min_money_at_stake", &self.filter.min_money_at_stake)
            .field(self.kind, &self.receiver)
            .finish_non_exhaustive()
    }
}

impl AlertTarget {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn filter(&self) -> &TargetFilter {
        &self.filter
    }

    /// [`TargetFilter::wants`].
    pub fn wants(&self, finding_kind: &str, channel: &str) -> bool {
        self.filter.wants(finding_kind, channel)
    }

    /// [`AlertTarget::wants`] for a whole message: digest and test events always pass.
    pub fn wants_message(&self, message: &AlertMessage) -> bool {
        message.event.bypasses_filters() || self.wants(&message.finding_kind, &message.channel)
    }

    /// The exact JSON body this target would POST for `message` (pretty-printed), for
    /// `kassa demo` and logs. Contains no secret. The generic webhook's `timestamp` is now.
    pub fn preview(&self, message: &AlertMessage) -> String {
        let body = self.receiver.payload(message);
        serde_json::to_string_pretty(&body).unwrap_or_else(|_| body.to_string())
    }

    /// Sends `message` once per call, with the shared client's retries (exponential backoff
    /// with jitter; `Retry-After` and Telegram's `parameters.retry_after` honoured). Errors
    /// name the target, never its URL or token. A failure is safe to retry later with the same
    /// message: receivers see the same `id`. Runs in a `deliver` span naming the target (never
    /// its URL).
    #[tracing::instrument(name = "deliver", skip_all, fields(target = %self.name, kind = self.kind(), alert = %message.id))]
    pub async fn deliver(&self, message: &AlertMessage) -> Result<(), AlertError> {
        let delivered = self
            .receiver
            .deliver(&self.client, &self.name, message)
            .await;
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
