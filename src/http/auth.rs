//! How a client proves who it is: the auth hook of [`super::HttpClient`].
//!
//! Platforms disagree here as much as on throttling. Meta and HubSpot take a static bearer
//! token; Google Ads adds a `developer-token` header and `login-customer-id`; Google Ads, VK Ads,
//! amoCRM and Salesforce hand out short-lived access tokens refreshed from a refresh token or
//! client credentials (amoCRM *rotates* the refresh token on every refresh, so the new one must
//! be kept or the next night cannot log in); Bitrix24 puts the secret in the webhook URL itself.
//! So the client asks an [`Authenticator`] for the headers of every attempt, and tells it when
//! the platform refused them, instead of knowing one token.
//!
//! - [`SecretHeaders`]: static secrets in headers: a bearer token, an API key, or several.
//! - [`OAuth2`]: access tokens obtained from a token endpoint (RFC 6749 section 6, refresh
//!   token; section 4.4, client credentials; or RFC 7523, a JWT assertion signed by
//!   [`super::jwt`]), cached until shortly before they expire and
//!   refreshed once when the platform answers 401. Tokens outlive the process in a
//!   [`TokenCache`], a small trait handed in at build time: the store implements it through
//!   the pipeline, so sources never import the store.
//! - A URL that carries its secret (Bitrix24 inbound webhooks, Slack, Telegram) needs no
//!   authenticator: a source reads it with `SecretRef::url(..).resolve_url()` (in
//!   `sources::source`; alert targets with [`crate::secrets::parse_secret_url`]), and gives
//!   every request a [`super::Request::label`] so logs never show its path.
//!
//! Every header value an authenticator returns is marked sensitive (hyper then keeps it out of
//! its own debug output and HPACK tables); no secret is ever formatted into a message.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    Failure, FailureKind, TARGET_MAX_BODY, classify_by_status, network_failure, read_body,
    redirect_failure, summarize_body,
};
pub use crate::domain::{CachedToken, TokenCache};

/// A boxed future, so that traits with async methods stay usable as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Headers to add to one attempt. Values are sensitive.
pub type AuthHeaders = Vec<(HeaderName, HeaderValue)>;

/// Credentials for every attempt of every request of one client.
pub trait Authenticator: fmt::Debug + Send + Sync {
    /// The headers to send with the next attempt. `http` is the client's own connection pool,
    /// for authenticators that must fetch a token first. A failure is classified like any
    /// other: a token endpoint that is down is retried, a revoked grant is not.
    fn headers<'a>(
        &'a self,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<AuthHeaders, Failure>>;

    /// The platform refused the credentials just sent (HTTP 401). Forget whatever is cached
    /// and say whether a fresh attempt could succeed (true only when new credentials can be
    /// obtained without a person).
    fn refused(&self) -> bool {
        false
    }
}

/// A header value that holds a secret.
fn sensitive(value: &str) -> Result<HeaderValue, Failure> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        Failure::fatal(
            FailureKind::Auth,
            "a credential contains characters that cannot be sent in an HTTP header",
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Static secrets sent as headers: a bearer token, API keys, or both.
#[derive(Clone, Default)]
pub struct SecretHeaders {
    headers: Vec<(HeaderName, SecretString)>,
}

impl SecretHeaders {
    /// `Authorization: Bearer <token>`.
    pub fn bearer(token: SecretString) -> SecretHeaders {
        SecretHeaders::default().with_bearer(token)
    }

    pub fn with_bearer(self, token: SecretString) -> SecretHeaders {
        let value = SecretString::from(format!("Bearer {}", token.expose_secret()));
        self.with_header(reqwest::header::AUTHORIZATION, value)
    }

    /// Any other header carrying a secret, e.g. Google's `developer-token`.
    pub fn with_header(mut self, name: HeaderName, value: SecretString) -> SecretHeaders {
        self.headers.push((name, value));
        self
    }
}

impl fmt::Debug for SecretHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.headers
                    .iter()
                    .map(|(name, _)| format!("{name}: [redacted]")),
            )
            .finish()
    }
}

impl Authenticator for SecretHeaders {
    fn headers<'a>(
        &'a self,
        _: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<AuthHeaders, Failure>> {
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| Ok((name.clone(), sensitive(value.expose_secret())?)))
            .collect();
        Box::pin(std::future::ready(headers))
    }
}

/// Several authenticators at once, e.g. an OAuth2 bearer token plus a `developer-token` header.
#[derive(Debug)]
pub struct Stacked(pub Vec<Box<dyn Authenticator>>);

impl Authenticator for Stacked {
    fn headers<'a>(
        &'a self,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<AuthHeaders, Failure>> {
        Box::pin(async move {
            let mut all = Vec::new();
            for auth in &self.0 {
                all.extend(auth.headers(http).await?);
            }
            Ok(all)
        })
    }

    fn refused(&self) -> bool {
        // Every member must forget (no short-circuit); one that can renew is enough to try
        // again.
        let renewable: Vec<bool> = self.0.iter().map(|auth| auth.refused()).collect();
        renewable.contains(&true)
    }
}

/// A [`TokenCache`] that lives as long as the process: for one-shot commands and tests.
#[derive(Default)]
pub struct MemoryTokenCache {
    tokens: Mutex<std::collections::HashMap<String, CachedToken>>,
}

impl TokenCache for MemoryTokenCache {
    fn load(&self, key: &str) -> Result<Option<CachedToken>, String> {
        let tokens = self.tokens.lock().map_err(|_| "token cache poisoned")?;
        Ok(tokens.get(key).cloned())
    }

    fn save(&self, key: &str, token: &CachedToken) -> Result<(), String> {
        let mut tokens = self.tokens.lock().map_err(|_| "token cache poisoned")?;
        tokens.insert(key.to_string(), token.clone());
        Ok(())
    }
}

/// How an OAuth2 client obtains access tokens.
#[derive(Clone)]
pub enum Grant {
    /// `grant_type=refresh_token` with the refresh token a person authorised once.
    RefreshToken(SecretString),
    /// `grant_type=client_credentials`, optionally for a scope.
    ClientCredentials { scope: Option<String> },
    /// RFC 7523: a signed JWT assertion, new for every token request (Salesforce).
    JwtBearer(Arc<super::jwt::JwtSigner>),
}

/// How the token endpoint wants its request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenBody {
    /// `application/x-www-form-urlencoded`, as RFC 6749 says (Google, VK Ads, Salesforce).
    Form,
    /// A JSON object with the same fields (amoCRM accepts and documents this form).
    Json,
}

/// Renew a token this long before it expires, so no request carries one that dies in flight.
const EXPIRY_MARGIN: Duration = Duration::seconds(60);

/// OAuth2 access tokens from a token endpoint, cached in a [`TokenCache`].
pub struct OAuth2 {
    token_url: Url,
    client_id: String,
    client_secret: Option<SecretString>,
    grant: Grant,
    body: TokenBody,
    cache: Arc<dyn TokenCache>,
    cache_key: String,
    /// Fields the platform wants beside the grant (amoCRM: `redirect_uri`); not secret.
    extra: Vec<(&'static str, String)>,
    /// Client id and secret in an `Authorization: Basic` header instead of the body
    /// (RFC 6749 section 2.3.1; Pipedrive accepts only this form).
    basic_auth: bool,
    current: tokio::sync::Mutex<Option<CachedToken>>,
}

impl fmt::Debug for OAuth2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2")
            .field("token_url", &self.token_url.path())
            .field("client_id", &self.client_id)
            .field(
                "grant",
                &match self.grant {
                    Grant::RefreshToken(_) => "refresh_token",
                    Grant::ClientCredentials { .. } => "client_credentials",
                    Grant::JwtBearer(_) => "jwt_bearer",
                },
            )
            .finish_non_exhaustive()
    }
}

impl OAuth2 {
    /// `cache_key` names whose tokens these are (e.g. `source:amocrm-main`); `token_url` must
    /// already be checked as safe to send secrets to (https, or http on loopback).
    pub fn new(
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        grant: Grant,
        body: TokenBody,
        cache: Arc<dyn TokenCache>,
        cache_key: impl Into<String>,
    ) -> OAuth2 {
        OAuth2 {
            token_url,
            client_id: client_id.into(),
            client_secret,
            grant,
            body,
            cache,
            cache_key: cache_key.into(),
            extra: Vec::new(),
            basic_auth: false,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// Sends `name = value` with every token request (amoCRM wants the integration's
    /// `redirect_uri` even when refreshing).
    pub fn with_field(mut self, name: &'static str, value: impl Into<String>) -> OAuth2 {
        self.extra.push((name, value.into()));
        self
    }

    /// Sends the client id and secret as HTTP Basic credentials rather than body fields.
    pub fn with_basic_auth(mut self) -> OAuth2 {
        self.basic_auth = true;
        self
    }

    /// A fingerprint of the configured credentials (never the credentials themselves).
    fn seed(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.client_id.as_bytes());
        hash.update([0]);
        if let Some(secret) = &self.client_secret {
            hash.update(secret.expose_secret().as_bytes());
        }
        hash.update([0]);
        match &self.grant {
            Grant::RefreshToken(token) => hash.update(token.expose_secret().as_bytes()),
            Grant::JwtBearer(signer) => hash.update(signer.identity()),
            Grant::ClientCredentials { .. } => {}
        }
        hash.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn fresh(token: &CachedToken) -> bool {
        token
            .expires_at
            .checked_sub_signed(EXPIRY_MARGIN)
            .is_some_and(|renew_at| renew_at > Utc::now())
    }

    /// A valid access token: the one in memory, the cached one, or a new one.
    async fn token(&self, http: &reqwest::Client) -> Result<SecretString, Failure> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref().filter(|t| Self::fresh(t)) {
            return Ok(token.access_token.clone());
        }
        let seed = self.seed();
        let cached = match self.cache.load(&self.cache_key) {
            Ok(cached) => cached.filter(|t| t.seed == seed),
            Err(e) => {
                tracing::warn!(key = %self.cache_key, "cannot read the token cache: {e}");
                None
            }
        };
        let previous = current.take().or(cached);
        if let Some(token) = previous.as_ref().filter(|t| Self::fresh(t)) {
            *current = Some(token.clone());
            return Ok(token.access_token.clone());
        }
        let rotated = previous.and_then(|t| t.refresh_token);
        let token = self.request_token(http, rotated, seed).await?;
        if let Err(e) = self.cache.save(&self.cache_key, &token) {
            // A rotated refresh token that cannot be kept is lost when the process ends: say
            // so loudly, the next run may have to be re-authorised by a person.
            tracing::error!(key = %self.cache_key, "cannot keep the new access token: {e}");
        }
        let access = token.access_token.clone();
        *current = Some(token);
        Ok(access)
    }

    async fn request_token(
        &self,
        http: &reqwest::Client,
        rotated: Option<SecretString>,
        seed: String,
    ) -> Result<CachedToken, Failure> {
        let mut fields: Vec<(&str, String)> = Vec::new();
        // Basic credentials travel in a header; a JWT assertion names its client itself (`iss`).
        if !self.basic_auth {
            if !matches!(self.grant, Grant::JwtBearer(_)) {
                fields.push(("client_id", self.client_id.clone()));
            }
            if let Some(secret) = &self.client_secret {
                fields.push(("client_secret", secret.expose_secret().to_string()));
            }
        }
        let refresh_used = match &self.grant {
            Grant::RefreshToken(configured) => {
                let token = rotated.unwrap_or_else(|| configured.clone());
                fields.push(("grant_type", "refresh_token".into()));
                fields.push(("refresh_token", token.expose_secret().to_string()));
                Some(token)
            }
            Grant::ClientCredentials { scope } => {
                fields.push(("grant_type", "client_credentials".into()));
                if let Some(scope) = scope {
                    fields.push(("scope", scope.clone()));
                }
                None
            }
            Grant::JwtBearer(signer) => {
                let assertion = signer
                    .assertion(Utc::now())
                    .map_err(|e| Failure::fatal(FailureKind::Auth, e))?;
                fields.push((
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                ));
                fields.push(("assertion", assertion));
                None
            }
        };
        fields.extend(self.extra.iter().cloned());
        let mut request = http.post(self.token_url.clone());
        if self.basic_auth {
            use base64::Engine as _;
            let pair = format!(
                "{}:{}",
                self.client_id,
                self.client_secret
                    .as_ref()
                    .map(|s| s.expose_secret())
                    .unwrap_or_default()
            );
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header(
                reqwest::header::AUTHORIZATION,
                sensitive(&format!("Basic {encoded}"))?,
            );
        }
        let request = match self.body {
            // Encoded here rather than with reqwest's `form` feature, which would rebuild
            // reqwest and everything above it for one call.
            TokenBody::Form => request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&fields)
                        .finish(),
                ),
            TokenBody::Json => request.json(
                &fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
                    .collect::<serde_json::Map<_, _>>(),
            ),
        };
        let response = request.send().await.map_err(network_failure)?;
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(failure) = redirect_failure(status, &headers) {
            return Err(failure);
        }
        // A token answer is a short JSON; anything near a megabyte is not one.
        let body = read_body(response, TARGET_MAX_BODY, "the token request").await?;
        if !status.is_success() {
            return Err(token_failure(status, &headers, &body, &self.grant));
        }
        let answer: Value = serde_json::from_str(&body).map_err(|_| {
            Failure::fatal(
                FailureKind::Decode,
                "the token endpoint answered with something that is not JSON",
            )
        })?;
        let access_token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Failure::fatal(
                    FailureKind::Decode,
                    "the token endpoint's answer has no access_token",
                )
            })?;
        // Without `expires_in` the token is used for one run's worth of requests at most.
        let lifetime = answer
            .get("expires_in")
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(3600);
        let refresh_token = answer
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::from(t.to_string()))
            .or(refresh_used);
        tracing::debug!(lifetime_s = lifetime, "obtained an access token");
        Ok(CachedToken {
            access_token: SecretString::from(access_token.to_string()),
            expires_at: Utc::now() + Duration::seconds(lifetime),
            refresh_token,
            seed,
        })
    }
}

/// Reads a token endpoint's refusal (`{"error": "invalid_grant", "error_description": ...}`,
/// or VK Ads' `{"code": "invalid_client", "message": ...}`): a grant or client the endpoint
/// refuses will not work on retry and needs a person; what to fix depends on the `grant`.
fn token_failure(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    grant: &Grant,
) -> Failure {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field = |names: &[&str]| {
        let object = parsed.as_ref()?;
        names
            .iter()
            .find_map(|name| object.get(*name).and_then(Value::as_str))
    };
    let code = field(&["error", "code"]);
    let description = field(&["error_description", "hint", "message"]);
    match code {
        Some(code @ ("invalid_grant" | "invalid_client" | "unauthorized_client")) => {
            let what = match (code, grant) {
                ("invalid_grant", Grant::RefreshToken(_)) => {
                    "the refresh token was refused (revoked, expired or already used): authorise kassa again and put the new refresh token where the configuration names it"
                }
                ("invalid_grant", Grant::ClientCredentials { .. }) => {
                    "the client-credentials grant was refused: check in the platform's app settings that the app may use this flow and has a user to run as"
                }
                ("invalid_grant", Grant::JwtBearer(_)) => {
                    "the JWT assertion was refused: check that the private key is still valid for the client (its certificate uploaded to the app, or the service account key not deleted), that the user is pre-authorised for the app, and the assertion's audience"
                }
                _ => {
                    "the client id or secret was refused: check them in the platform's app settings"
                }
            };
            let detail = description.map(|d| format!(" ({d})")).unwrap_or_default();
            Failure::fatal(
                FailureKind::Auth,
                format!(
                    "token endpoint: HTTP {}: {code}{detail}: {what}",
                    status.as_u16()
                ),
            )
        }
        _ => {
            let mut failure = classify_by_status(status, headers, body);
            failure.message = format!(
                "token endpoint: HTTP {}: {}",
                status.as_u16(),
                summarize_body(&failure.message)
            );
            failure
        }
    }
}

impl Authenticator for OAuth2 {
    fn headers<'a>(
        &'a self,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<AuthHeaders, Failure>> {
        Box::pin(async move {
            let token = self.token(http).await?;
            let value = sensitive(&format!("Bearer {}", token.expose_secret()))?;
            Ok(vec![(reqwest::header::AUTHORIZATION, value)])
        })
    }

    fn refused(&self) -> bool {
        // The platform says the token is dead before its time (revoked, or the clock lied):
        // drop it here and in the cache so the next attempt asks for a new one.
        if let Ok(mut current) = self.current.try_lock()
            && let Some(token) = current.as_mut()
        {
            token.expires_at = DateTime::<Utc>::UNIX_EPOCH;
            let _ = self.cache.save(&self.cache_key, token);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let headers = SecretHeaders::bearer(SecretString::from("canary-bearer".to_string()))
            .with_header(
                HeaderName::from_static("developer-token"),
                SecretString::from("canary-dev".to_string()),
            );
        let text = format!("{headers:?}");
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("developer-token"), "{text}");
        let token = CachedToken {
            access_token: SecretString::from("canary-access".to_string()),
            expires_at: Utc::now(),
            refresh_token: Some(SecretString::from("canary-refresh".to_string())),
            seed: "x".into(),
        };
        assert!(!format!("{token:?}").contains("canary"));
    }

    #[test]
    fn a_refused_grant_names_what_to_do_and_is_not_retried() {
        let body =
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#;
        let failure = token_failure(
            reqwest::StatusCode::BAD_REQUEST,
            &reqwest::header::HeaderMap::new(),
            body,
            &Grant::RefreshToken(SecretString::from(String::new())),
        );
        assert_eq!(failure.kind, FailureKind::Auth);
        assert!(!failure.retryable);
        assert!(
            failure.message.contains("authorise kassa again"),
            "{}",
            failure.message
        );
        let failure = token_failure(
            reqwest::StatusCode::SERVICE_UNAVAILABLE,
            &reqwest::header::HeaderMap::new(),
            "down",
            &Grant::ClientCredentials { scope: None },
        );
        assert!(failure.retryable);
    }
}
