//! `kind = "telegram"`: a Telegram bot posting to one chat with `sendMessage`.
//!
//! The text is Telegram HTML (`parse_mode = "HTML"`): the title in `<b>`, the summary, one
//! `label: <b>value</b>` line per fact, the decision in `<i>`. Every piece of user text is
//! escaped, because one stray `<` makes Telegram refuse the whole message ("can't parse
//! entities"), and the whole text is kept within Telegram's 4096 characters, cut at the end
//! without breaking an entity or a tag.
//!
//! The bot token sits in the URL path (`/bot{token}/sendMessage`), so requests are logged by a
//! label and errors never carry the URL. Telegram answers JSON both ways; its failures say how
//! long to wait in `parameters.retry_after`, which the classifier passes to the shared retry
//! loop, and an `{"ok": false}` answer counts as a failure even with HTTP 200.

use std::fmt;
use std::path::PathBuf;

use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::markup::{escape_html_attribute, escape_html_text, escape_prefix};
use super::target::{AlertMessage, BuildError, Filters, Receiver, TargetConfig};
use crate::http::{
    BoxFuture, Classifier, Failure, FailureKind, HttpClient, HttpError, Request, summarize_body,
    wait_of_seconds,
};
use crate::secrets::{EnvLookup, SecretSpec, is_safe_transport};
use crate::validation::Problems;

/// An `[[alerts]]` table with `kind = "telegram"`.
///
/// ```toml
/// [[alerts]]
/// name = "owner"
/// kind = "telegram"
/// token_env = "KASSA_TELEGRAM_TOKEN"   # or token_file = "/run/secrets/telegram-token"
/// chat_id = -1001234567890             # or "@channelname" for a public channel
/// api_base = "https://api.telegram.org" # optional; a local Bot API server, a test fake
/// findings = ["activity_without_money"] # optional; default: all but data_gap
/// channels = ["all"]                    # optional; default: every channel
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    pub name: String,
    /// Kinds to send (`activity_without_money`, `data_gap`, `source_down`); absent: all but
    /// `data_gap`.
    pub findings: Option<Vec<String>>,
    /// Channels to send; absent: all.
    pub channels: Option<Vec<String>>,
    /// Alerts about less money at stake than this (reporting currency) are not sent;
    /// `data_gap` and `source_down` have no money at stake and always pass.
    pub min_money_at_stake: Option<f64>,
    /// The environment variable holding the bot token (from @BotFather).
    pub token_env: Option<String>,
    /// A file holding the bot token.
    pub token_file: Option<PathBuf>,
    /// The chat: a numeric id (groups and channels are negative and exceed 32 bits) or
    /// `"@channelname"`. Optional here only so that a missing one is reported by validation
    /// with the other problems.
    pub chat_id: Option<ChatId>,
    /// The Bot API server; requests go to `{api_base}/bot{token}/sendMessage`.
    #[serde(default = "default_api_base")]
    pub api_base: String,
}

fn default_api_base() -> String {
    "https://api.telegram.org".to_string()
}

/// A Telegram chat: a numeric id, or `@username` of a public channel. TOML may give either an
/// integer or a string; a string of digits (an environment override) reads as an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ChatId {
    Id(i64),
    Username(String),
}

impl<'de> Deserialize<'de> for ChatId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ChatId, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ChatId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a chat id (an integer such as -1001234567890) or \"@channelname\"")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ChatId, E> {
                Ok(ChatId::Id(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ChatId, E> {
                i64::try_from(v)
                    .map(ChatId::Id)
                    .map_err(|_| E::custom("the chat id is too large"))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ChatId, E> {
                let v = v.trim();
                Ok(match v.parse::<i64>() {
                    Ok(id) => ChatId::Id(id),
                    Err(_) => ChatId::Username(v.to_string()),
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatId::Id(id) => write!(f, "{id}"),
            ChatId::Username(name) => f.write_str(name),
        }
    }
}

const CHAT_EXAMPLE: &str = "chat_id = -1001234567890";

impl TelegramConfig {
    fn token_spec(&self) -> SecretSpec<'_> {
        SecretSpec {
            what: "bot token",
            env_key: "token_env",
            file_key: "token_file",
            env: self.token_env.as_deref(),
            file: self.token_file.as_deref(),
            example: "token_env = \"KASSA_TELEGRAM_TOKEN\"",
        }
    }
}

/// Telegram bot tokens are `<bot id>:<secret>`. Checking the shape keeps a token with `/` or
/// `?` from turning the URL into a different request.
fn is_bot_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !secret.is_empty()
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        None => false,
    }
}

/// A built Telegram target. `Debug` shows the chat and the server, never the token.
pub(super) struct TelegramTarget {
    token: SecretString,
    chat_id: ChatId,
    api_base: Url,
}

impl fmt::Debug for TelegramTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramTarget")
            .field("token", &"[redacted]")
            .field("chat_id", &self.chat_id)
            .field("api_base", &self.api_base.as_str())
            .finish()
    }
}

/// Telegram's limit on a message's text, in characters.
const TEXT_MAX: usize = 4096;

impl TelegramTarget {
    /// `{api_base}/bot{token}/sendMessage`, built per request so the token is only ever held
    /// as a secret. The error never includes the URL.
    fn send_url(&self) -> Result<Url, HttpError> {
        let base = self.api_base.as_str().trim_end_matches('/');
        Url::parse(&format!(
            "{base}/bot{}/sendMessage",
            self.token.expose_secret()
        ))
        .map_err(|_| {
            HttpError::new(
                FailureKind::Rejected,
                "the api_base and bot token do not form a URL",
            )
        })
    }

    async fn send(
        &self,
        client: &HttpClient,
        name: &str,
        message: &AlertMessage,
    ) -> Result<(), HttpError> {
        let request = Request::post_json(self.send_url()?, self.payload(message))
            .label(format!("telegram sendMessage of alert target {name}"));
        let body = client.send(&request).await?;
        let answer: Answer = serde_json::from_str(&body).map_err(|_| {
            HttpError::new(
                FailureKind::Decode,
                format!(
                    "Telegram answered with something other than its JSON: {}",
                    summarize_body(&body)
                ),
            )
        })?;
        if answer.ok {
            Ok(())
        } else {
            // HTTP 200 with `ok: false` still means the message was not sent.
            Err(HttpError::new(
                FailureKind::Rejected,
                format!("Telegram answered ok=false: {}", answer.describe(&body)),
            ))
        }
    }
}

/// Telegram's answer envelope, both ways.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default)]
    ok: bool,
    description: Option<String>,
    #[serde(default)]
    parameters: Parameters,
}

#[derive(Debug, Default, Deserialize)]
struct Parameters {
    /// Seconds to wait before the next request (flood control).
    retry_after: Option<f64>,
    /// The group became a supergroup with this new id.
    migrate_to_chat_id: Option<i64>,
}

impl Answer {
    fn describe(&self, body: &str) -> String {
        match &self.description {
            Some(description) => summarize_body(description),
            None => summarize_body(body),
        }
    }
}

impl TargetConfig for TelegramConfig {
    fn filters(&self) -> Filters<'_> {
        Filters {
            name: &self.name,
            findings: self.findings.as_deref(),
            channels: self.channels.as_deref(),
            min_money_at_stake: self.min_money_at_stake,
        }
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        if let Some(path) = &mut self.token_file {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, env: EnvLookup<'_>, problems: &mut Problems) {
        if let Some(token) = self.token_spec().validate(key, env, problems)
            && !is_bot_token(token.expose_secret())
        {
            problems.push_with_example(
                format!("{key}.token_env"),
                format!(
                    "{} does not hold a bot token (digits, ':', then letters, digits, '-' and '_')",
                    self.token_spec().origin()
                ),
                "export KASSA_TELEGRAM_TOKEN=123456789:AAE...",
            );
        }
        match &self.chat_id {
            None => problems.push_with_example(
                format!("{key}.chat_id"),
                "a chat is required: its numeric id (negative for groups and channels) or \"@channelname\" of a public channel",
                CHAT_EXAMPLE,
            ),
            Some(ChatId::Id(0)) => {
                problems.push_with_example(format!("{key}.chat_id"), "0 is not a chat id", CHAT_EXAMPLE)
            }
            Some(ChatId::Id(_)) => {}
            Some(ChatId::Username(name)) => {
                let handle = name.strip_prefix('@').unwrap_or("");
                let ok = !handle.is_empty()
                    && handle.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    problems.push_with_example(
                        format!("{key}.chat_id"),
                        format!("{name:?} is neither a numeric chat id nor \"@channelname\""),
                        CHAT_EXAMPLE,
                    );
                }
            }
        }
        match Url::parse(&self.api_base) {
            Ok(url) if is_safe_transport(&url) && url.query().is_none() => {}
            Ok(_) => problems.push_with_example(
                format!("{key}.api_base"),
                format!(
                    "{:?} must be an https:// URL without a query (plain http:// is accepted for loopback addresses only)",
                    self.api_base
                ),
                "api_base = \"https://api.telegram.org\"",
            ),
            Err(e) => problems.push_with_example(
                format!("{key}.api_base"),
                format!("{:?} is not a URL: {e}", self.api_base),
                "api_base = \"https://api.telegram.org\"",
            ),
        }
    }

    fn build(&self) -> Result<Box<dyn Receiver>, BuildError> {
        let spec = self.token_spec();
        let token = spec.resolve().map_err(BuildError::secret)?;
        if !is_bot_token(token.expose_secret()) {
            return Err(BuildError::new(
                FailureKind::Auth,
                format!(
                    "{} does not hold a bot token (digits, ':', then letters, digits, '-' and '_')",
                    spec.origin()
                ),
            ));
        }
        let chat_id = self
            .chat_id
            .clone()
            .ok_or_else(|| BuildError::new(FailureKind::Rejected, "no chat_id configured"))?;
        let api_base = Url::parse(&self.api_base)
            .ok()
            .filter(is_safe_transport)
            .ok_or_else(|| {
                BuildError::new(
                    FailureKind::Rejected,
                    format!("api_base {:?} is not a usable https:// URL", self.api_base),
                )
            })?;
        let target = TelegramTarget {
            token,
            chat_id,
            api_base,
        };
        // Fail now, not at 3 a.m., if the token cannot form a URL.
        target
            .send_url()
            .map_err(|e| BuildError::new(e.kind, e.message))?;
        Ok(Box::new(target))
    }

    fn classifier(&self) -> Classifier {
        classify
    }
}

impl Receiver for TelegramTarget {
    fn payload(&self, message: &AlertMessage) -> Value {
        json!({
            "chat_id": self.chat_id,
            "text": html_text(message),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        })
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

/// Reads Telegram's JSON failures. The API's own advice is to key off `description` and
/// `parameters` rather than `error_code`, so a `retry_after` means "wait and retry" whatever
/// the status; a body that is not Telegram's JSON (a proxy's HTML page) falls back to the
/// shared classification by status.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> Option<Failure> {
    let answer: Answer = serde_json::from_str(body).ok()?;
    let description = answer.describe(body);
    if let Some(wait) = answer.parameters.retry_after.and_then(wait_of_seconds) {
        return Some(Failure::retry(
            FailureKind::Throttled,
            Some(wait),
            description,
        ));
    }
    Some(match status {
        StatusCode::UNAUTHORIZED => Failure::fatal(
            FailureKind::Auth,
            format!("{description} (the bot token was refused)"),
        ),
        StatusCode::FORBIDDEN => Failure::fatal(FailureKind::Auth, description),
        StatusCode::TOO_MANY_REQUESTS => Failure::retry(FailureKind::Throttled, None, description),
        s if s.is_server_error() => Failure::retry(FailureKind::Server, None, description),
        _ => match answer.parameters.migrate_to_chat_id {
            Some(id) => Failure::fatal(
                FailureKind::Rejected,
                format!("{description} (the group is now a supergroup: set chat_id = {id})"),
            ),
            None => Failure::fatal(FailureKind::Rejected, description),
        },
    })
}

/// Escapes user text for Telegram HTML. `"` matters only inside attributes, and the one kassa
/// writes (the report link's `href`) escapes it itself, so text needs just `&`, `<` and `>`.
fn escape(text: &str) -> String {
    escape_prefix(text, usize::MAX, escape_html_text)
}

/// One piece of the message: user text, optionally wrapped in a tag, or a fixed separator.
struct Piece<'a> {
    open: &'a str,
    text: &'a str,
    close: &'a str,
    /// Separators are our own markup-free text and are not escaped.
    user_text: bool,
}

impl Piece<'_> {
    fn render(&self) -> String {
        let text = if self.user_text {
            escape(self.text)
        } else {
            self.text.to_string()
        };
        format!("{}{text}{}", self.open, self.close)
    }
}

fn text<'a>(text: &'a str) -> Piece<'a> {
    Piece {
        open: "",
        text,
        close: "",
        user_text: true,
    }
}

fn tagged<'a>(open: &'a str, text: &'a str, close: &'a str) -> Piece<'a> {
    Piece {
        open,
        text,
        close,
        user_text: true,
    }
}

fn sep(text: &'static str) -> Piece<'static> {
    Piece {
        open: "",
        text,
        close: "",
        user_text: false,
    }
}

/// The message as Telegram HTML, within [`TEXT_MAX`] characters.
pub(super) fn html_text(message: &AlertMessage) -> String {
    let fallback_title = format!("kassa: {}", message.event.as_str());
    let title = if message.title.trim().is_empty() {
        fallback_title.as_str()
    } else {
        message.title.as_str()
    };
    let mut pieces = vec![tagged("<b>", title, "</b>")];
    if !message.summary.trim().is_empty() {
        pieces.extend([sep("\n\n"), text(&message.summary)]);
    }
    let facts: Vec<_> = message
        .facts
        .iter()
        .filter(|fact| !(fact.label.trim().is_empty() && fact.value.trim().is_empty()))
        .collect();
    for (i, fact) in facts.iter().enumerate() {
        pieces.push(sep(if i == 0 { "\n\n" } else { "\n" }));
        if !fact.label.trim().is_empty() {
            pieces.extend([text(&fact.label), sep(": ")]);
        }
        pieces.push(tagged("<b>", &fact.value, "</b>"));
    }
    if let Some(decision) = message.decision.as_deref().filter(|d| !d.trim().is_empty()) {
        pieces.extend([sep("\n\n"), tagged("<i>", decision, "</i>")]);
    }
    // The one attribute kassa writes: `"` must be escaped inside it as well.
    let anchor = message.link.as_ref().map(|link| {
        let href = escape_prefix(&link.url, usize::MAX, escape_html_attribute);
        (format!("<a href=\"{href}\">"), link.text.as_str())
    });
    if let Some((open, text)) = &anchor {
        pieces.extend([sep("\n\n"), tagged(open, text, "</a>")]);
    }
    render_within(&pieces, TEXT_MAX)
}

/// Renders the pieces; if they exceed `max` characters, keeps whole pieces while they fit in
/// `max - 1`, cuts the first piece that does not (inside its tag, before an entity, never
/// through one), and ends with "…", closing the tag that was open.
fn render_within(pieces: &[Piece<'_>], max: usize) -> String {
    let full: String = pieces.iter().map(Piece::render).collect();
    if full.chars().count() <= max {
        return full;
    }
    let budget = max.saturating_sub(1);
    let mut out = String::new();
    let mut used = 0;
    for piece in pieces {
        let whole = piece.render();
        let len = whole.chars().count();
        if used + len <= budget {
            out.push_str(&whole);
            used += len;
            continue;
        }
        let frame = piece.open.chars().count() + piece.close.chars().count();
        if piece.user_text && used + frame < budget {
            out.push_str(piece.open);
            out.push_str(&escape_prefix(
                piece.text,
                budget - used - frame,
                escape_html_text,
            ));
            out.push('…');
            out.push_str(piece.close);
        } else {
            out.push('…');
        }
        break;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::alerts::{AlertEvent, Fact};

    fn message() -> AlertMessage {
        AlertMessage {
            id: "ep-1".into(),
            event: AlertEvent::Opened,
            finding_kind: "activity_without_money".into(),
            channel: "<b>&co".into(),
            title: "Activity without money: <b>&co".into(),
            summary: "Clicks up 40% & revenue flat.".into(),
            facts: vec![
                Fact {
                    label: "Spend".into(),
                    value: "1 200 USD".into(),
                },
                Fact {
                    label: "CTR <>".into(),
                    value: "+40%".into(),
                },
            ],
            decision: Some("What to decide: stop it?".into()),
            data: json!({}),
            link: None,
        }
    }

    #[test]
    fn text_is_escaped_html_with_bold_title_and_facts() {
        assert_eq!(
            html_text(&message()),
            "<b>Activity without money: &lt;b&gt;&amp;co</b>\n\n\
             Clicks up 40% &amp; revenue flat.\n\n\
             Spend: <b>1 200 USD</b>\n\
             CTR &lt;&gt;: <b>+40%</b>\n\n\
             <i>What to decide: stop it?</i>"
        );
    }

    #[test]
    fn long_text_is_cut_within_4096_without_breaking_tags_or_entities() {
        let mut m = message();
        m.summary = "&".repeat(5000);
        let text = html_text(&m);
        assert!(text.chars().count() <= 4096, "{}", text.chars().count());
        assert!(text.ends_with("&amp;…"));
        assert!(text.starts_with("<b>Activity without money: &lt;b&gt;&amp;co</b>\n\n&amp;"));

        // A cut inside a tagged piece keeps its closing tag.
        let mut m = message();
        m.summary = String::new();
        m.facts.clear();
        m.decision = Some("<".repeat(5000));
        let text = html_text(&m);
        assert!(text.chars().count() <= 4096);
        assert!(text.ends_with("&lt;…</i>"), "{}", &text[text.len() - 20..]);

        // Exactly at the limit: untouched.
        let pieces = [tagged("<b>", "abc", "</b>")];
        assert_eq!(render_within(&pieces, 10), "<b>abc</b>");
        assert_eq!(render_within(&pieces, 9), "<b>a…</b>");
        assert_eq!(render_within(&pieces, 7), "…");
    }

    #[test]
    fn chat_ids_read_from_integers_and_strings() {
        let id: ChatId = serde_json::from_value(json!(-1001234567890i64)).unwrap();
        assert_eq!(id, ChatId::Id(-1001234567890));
        let id: ChatId = serde_json::from_value(json!("-1001234567890")).unwrap();
        assert_eq!(id, ChatId::Id(-1001234567890));
        let id: ChatId = serde_json::from_value(json!("@kassa_news")).unwrap();
        assert_eq!(id, ChatId::Username("@kassa_news".into()));
        assert_eq!(serde_json::to_value(ChatId::Id(-5)).unwrap(), json!(-5));
    }

    #[test]
    fn bot_tokens_have_their_shape() {
        assert!(is_bot_token("123456:AAE-x_y"));
        assert!(!is_bot_token("123456:AAE/../x"));
        assert!(!is_bot_token("abc:def"));
        assert!(!is_bot_token("123456"));
    }

    #[test]
    fn retry_after_in_the_body_is_a_wait() {
        let failure = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#,
        )
        .unwrap();
        assert!(failure.retryable);
        assert_eq!(failure.wait, Some(Duration::from_secs(5)));
        let failure = classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1009876543210}}"#,
        )
        .unwrap();
        assert!(!failure.retryable);
        assert!(failure.message.contains("chat_id = -1009876543210"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Any `retry_after` Telegram sends (huge, negative, fractional) is a wait or a plain
        /// failure, never a panic.
        #[test]
        fn any_retry_after_is_a_wait_or_a_failure(seconds in proptest::prelude::any::<f64>()) {
            let body = serde_json::json!({
                "ok": false,
                "error_code": 429,
                "description": "Too Many Requests",
                "parameters": {"retry_after": seconds},
            });
            let failure = classify(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), &body.to_string());
            if seconds.is_finite() && seconds >= 0.0 {
                proptest::prop_assert!(failure.unwrap().wait.is_some());
            }
        }
    }
}
