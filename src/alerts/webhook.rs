//! `kind = "webhook"`: a generic JSON webhook for other tools, signed per the Standard Webhooks
//! spec (<https://www.standardwebhooks.com>), so a receiver can prove the alert came from us and
//! was not replayed.
//!
//! The body is serialised once, and those exact bytes are both signed and sent
//! ([`Request::post_raw_json`]): re-serialising would be free to reorder keys or change number
//! formatting and break the signature. Headers:
//! - `webhook-id`: the message id, stable across re-deliveries, for receivers to deduplicate;
//! - `webhook-timestamp`: Unix seconds when this delivery was signed;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with
//!   the base64-decoded part of the `whsec_…` secret.
//!
//! Retries inside one [`deliver`](super::AlertTarget::deliver) call re-send the same signed
//! bytes; a later call signs afresh with a new timestamp.

use std::fmt;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::target::{AlertMessage, BuildError, Filters, Receiver, TargetConfig};
use crate::http::{BoxFuture, Classifier, Failure, FailureKind, HttpClient, HttpError, Request};
use crate::secrets::{EnvLookup, SecretSpec, parse_secret_url};
use crate::validation::Problems;

type HmacSha256 = Hmac<Sha256>;

/// An `[[alerts]]` table with `kind = "webhook"`.
///
/// ```toml
/// [[alerts]]
/// name = "bi"
/// kind = "webhook"
/// url_env = "KASSA_BI_WEBHOOK"        # or url_file = "/run/secrets/bi-webhook-url"
/// secret_env = "KASSA_BI_SECRET"      # or secret_file; "whsec_" + base64 of random bytes
/// findings = ["activity_without_money", "data_gap"]   # optional; default: all but data_gap
/// channels = ["all"]                                  # optional; default: all
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    /// Kinds to send (`activity_without_money`, `data_gap`, `source_down`); absent: all but
    /// `data_gap`.
    pub findings: Option<Vec<String>>,
    /// Channels to send; absent: all.
    pub channels: Option<Vec<String>>,
    /// Alerts about less money at stake than this (reporting currency) are not sent;
    /// `data_gap` and `source_down` have no money at stake and always pass.
    pub min_money_at_stake: Option<f64>,
    /// The environment variable holding the receiver's URL (treated as a secret: such URLs
    /// often carry a token).
    pub url_env: Option<String>,
    /// A file holding the receiver's URL.
    pub url_file: Option<PathBuf>,
    /// The environment variable holding the signing secret, `whsec_<base64>`.
    pub secret_env: Option<String>,
    /// A file holding the signing secret.
    pub secret_file: Option<PathBuf>,
}

const SECRET_EXAMPLE: &str = "export KASSA_BI_SECRET=whsec_$(openssl rand -base64 32)";

impl WebhookConfig {
    fn url_spec(&self) -> SecretSpec<'_> {
        SecretSpec {
            what: "webhook URL",
            env_key: "url_env",
            file_key: "url_file",
            env: self.url_env.as_deref(),
            file: self.url_file.as_deref(),
            example: "url_env = \"KASSA_BI_WEBHOOK\"",
        }
    }

    fn secret_spec(&self) -> SecretSpec<'_> {
        SecretSpec {
            what: "signing secret",
            env_key: "secret_env",
            file_key: "secret_file",
            env: self.secret_env.as_deref(),
            file: self.secret_file.as_deref(),
            example: "secret_env = \"KASSA_BI_SECRET\"",
        }
    }
}

/// Why a signing secret is unusable. Never quotes the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormatError {
    MissingPrefix,
    NotBase64,
    Empty,
}

impl fmt::Display for SecretFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretFormatError::MissingPrefix => "it does not start with \"whsec_\"",
            SecretFormatError::NotBase64 => "the part after \"whsec_\" is not base64",
            SecretFormatError::Empty => "the part after \"whsec_\" is empty",
        })
    }
}

impl std::error::Error for SecretFormatError {}

/// The signing key inside a `whsec_<base64>` secret.
pub fn parse_secret(secret: &str) -> Result<Vec<u8>, SecretFormatError> {
    let encoded = secret
        .trim()
        .strip_prefix("whsec_")
        .ok_or(SecretFormatError::MissingPrefix)?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| SecretFormatError::NotBase64)?;
    if key.is_empty() {
        return Err(SecretFormatError::Empty);
    }
    Ok(key)
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &str) -> HmacSha256 {
    #[allow(
        clippy::expect_used,
        reason = "HMAC accepts keys of any length (long ones are hashed)"
    )]
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac
}

/// The `webhook-signature` value for one delivery: `v1,` and the base64 HMAC-SHA256 of
/// `"{id}.{timestamp}.{body}"` keyed with `secret_bytes` (the decoded part of `whsec_…`).
pub fn sign(secret_bytes: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let tag = mac(secret_bytes, id, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// What a receiver does with a delivery: true when `signature` (the `webhook-signature`
/// header, possibly several space-separated `v1,…` values) holds a valid signature of `id`,
/// `timestamp` and `body` under `secret` (`whsec_…`), and `timestamp` is within
/// `tolerance_secs` of `now` (both Unix seconds) so an old delivery cannot be replayed.
/// Signatures are compared in constant time.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &str,
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let Ok(key) = parse_secret(secret) else {
        return false;
    };
    let Ok(sent_at) = timestamp.parse::<i64>() else {
        return false;
    };
    if now.abs_diff(sent_at) > tolerance_secs.unsigned_abs() {
        return false;
    }
    let expected = mac(&key, id, timestamp, body);
    signature.split(' ').any(|candidate| {
        candidate
            .strip_prefix("v1,")
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .is_some_and(|tag| expected.clone().verify_slice(&tag).is_ok())
    })
}

/// The body kassa sends: the event, when, and the message.
///
/// With `[alerting] report_url` set, `data.report_url` links to the report of the alert's
/// range; without it the key is absent, as before it existed.
pub(super) fn payload(message: &AlertMessage, now: DateTime<Utc>) -> Value {
    let mut data = json!({
        "id": message.id,
        "finding_kind": message.finding_kind,
        "channel": message.channel,
        "title": message.title,
        "summary": message.summary,
        "facts": message.facts,
        "decision": message.decision,
        "data": message.data,
    });
    if let (Some(link), Some(fields)) = (&message.link, data.as_object_mut()) {
        fields.insert("report_url".to_string(), Value::String(link.url.clone()));
    }
    json!({
        "type": message.event.as_str(),
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "data": data,
    })
}

/// A built webhook target. `Debug` shows neither the URL nor the key.
pub(super) struct WebhookTarget {
    url: SecretString,
    key: SecretSlice<u8>,
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &"[redacted]")
            .field("key", &"[redacted]")
            .finish()
    }
}

impl WebhookTarget {
    async fn send(
        &self,
        client: &HttpClient,
        name: &str,
        message: &AlertMessage,
    ) -> Result<(), HttpError> {
        // A header value must be visible ASCII; refuse rather than let the HTTP layer fail
        // on every retry.
        let id_ok = !message.id.is_empty() && message.id.bytes().all(|b| (0x21..0x7f).contains(&b));
        if !id_ok {
            return Err(HttpError::new(
                FailureKind::Rejected,
                format!(
                    "the message id {:?} cannot be a webhook-id header (use visible ASCII)",
                    message.id
                ),
            ));
        }
        let url = parse_secret_url(self.url.expose_secret()).map_err(|problem| {
            HttpError::new(FailureKind::Rejected, format!("the webhook URL {problem}"))
        })?;
        let now = Utc::now();
        let body = serde_json::to_string(&payload(message, now)).map_err(|e| {
            HttpError::new(
                FailureKind::Decode,
                format!("cannot serialise the alert: {e}"),
            )
        })?;
        let signature = sign(
            self.key.expose_secret(),
            &message.id,
            now.timestamp(),
            &body,
        );
        let request = Request::post_raw_json(url, body)
            .header("webhook-id", message.id.as_str())
            .header("webhook-timestamp", now.timestamp().to_string())
            .header("webhook-signature", signature)
            .label(format!("POST webhook of alert target {name}"));
        client.send(&request).await.map(|_| ())
    }
}

impl TargetConfig for WebhookConfig {
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
        if let Some(path) = &mut self.secret_file {
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
                    "export {}=https://example.com/hooks/kassa",
                    self.url_env.as_deref().unwrap_or("KASSA_BI_WEBHOOK")
                ),
            );
        }
        if let Some(secret) = self.secret_spec().validate(key, env, problems)
            && let Err(problem) = parse_secret(secret.expose_secret())
        {
            problems.push_with_example(
                format!("{key}.secret_env"),
                format!(
                    "{} does not hold a Standard Webhooks secret: {problem}",
                    self.secret_spec().origin()
                ),
                SECRET_EXAMPLE,
            );
        }
    }

    fn build(&self) -> Result<Box<dyn Receiver>, BuildError> {
        let url_spec = self.url_spec();
        let url = url_spec.resolve().map_err(BuildError::secret)?;
        parse_secret_url(url.expose_secret()).map_err(|problem| {
            BuildError::new(
                FailureKind::Rejected,
                format!("{} {problem}", url_spec.origin()),
            )
        })?;
        let secret_spec = self.secret_spec();
        let secret = secret_spec.resolve().map_err(BuildError::secret)?;
        let key = parse_secret(secret.expose_secret()).map_err(|problem| {
            BuildError::new(
                FailureKind::Auth,
                format!(
                    "{} does not hold a Standard Webhooks secret: {problem} (for example: {SECRET_EXAMPLE})",
                    secret_spec.origin()
                ),
            )
        })?;
        Ok(Box::new(WebhookTarget {
            url,
            key: SecretSlice::from(key),
        }))
    }

    fn classifier(&self) -> Classifier {
        classify
    }
}

impl Receiver for WebhookTarget {
    fn payload(&self, message: &AlertMessage) -> Value {
        payload(message, chrono::Utc::now())
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

/// Any 2xx is success; failures read by status alone (429 and 5xx retried, `Retry-After`
/// honoured), as receivers of generic webhooks have no common error format.
fn classify(_status: StatusCode, _headers: &HeaderMap, _body: &str) -> Option<Failure> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_need_the_prefix_and_base64() {
        assert_eq!(
            parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretFormatError::MissingPrefix)
        );
        assert_eq!(parse_secret("whsec_!!!"), Err(SecretFormatError::NotBase64));
        assert_eq!(parse_secret("whsec_"), Err(SecretFormatError::Empty));
        assert_eq!(parse_secret("whsec_AQID").unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn verify_accepts_any_of_several_signatures_and_rejects_stale_ones() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let key = parse_secret(secret).unwrap();
        let good = sign(&key, "msg_1", 1_700_000_000, "{}");
        let header = format!("v1,AAAA {good}");
        assert!(verify(
            secret,
            "msg_1",
            "1700000000",
            &header,
            "{}",
            1_700_000_100,
            300
        ));
        assert!(!verify(
            secret,
            "msg_1",
            "1700000000",
            &header,
            "{}",
            1_700_000_301,
            300
        ));
        assert!(!verify(
            secret,
            "msg_1",
            "1700000000",
            &header,
            "{}",
            1_699_999_699,
            300
        ));
        assert!(!verify(
            secret,
            "msg_2",
            "1700000000",
            &good,
            "{}",
            1_700_000_000,
            300
        ));
        assert!(!verify(
            secret,
            "msg_1",
            "x",
            &good,
            "{}",
            1_700_000_000,
            300
        ));
    }
}
