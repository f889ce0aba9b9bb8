//! JWT bearer assertions (RFC 7523) signed with RS256: what [`super::auth::OAuth2`] posts as
//! `assertion` for the `urn:ietf:params:oauth:grant-type:jwt-bearer` grant (Salesforce's
//! server-to-server flow, and Google service accounts, which add a `scope` and act as
//! themselves, without a `sub`). The RSA signing is `ring`'s, the crate rustls already
//! builds, so the flow adds no new code to the build.
//!
//! The private key comes as PEM, PKCS#8 (`BEGIN PRIVATE KEY`, what `openssl genrsa` writes
//! since OpenSSL 3) or PKCS#1 (`BEGIN RSA PRIVATE KEY`, older OpenSSL). It lives only inside
//! `ring`'s key pair: no `Debug` or error ever shows it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// How long an assertion is valid: Salesforce refuses one whose `exp` is more than three
/// minutes ahead.
const ASSERTION_LIFETIME: chrono::Duration = chrono::Duration::seconds(170);

/// Signs assertions for one client (`iss`), acting as one user (`sub`; none when empty), for
/// one audience (`aud`, the authorization server), optionally for a `scope`.
pub struct JwtSigner {
    key: RsaKeyPair,
    issuer: String,
    subject: String,
    audience: String,
    scope: Option<String>,
}

impl fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigner")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl JwtSigner {
    /// Reads an RSA private key in PEM. The error says what is wrong with it, never what it
    /// holds.
    pub fn from_pem(
        pem: &SecretString,
        issuer: impl Into<String>,
        subject: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<JwtSigner, String> {
        let text = pem.expose_secret();
        let (label, der) = pem_block(text).ok_or(
            "is not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)",
        )?;
        let key = match label {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            _ => {
                return Err(format!(
                    "holds a {label:?} block, not an RSA private key (PRIVATE KEY or RSA PRIVATE KEY)"
                ));
            }
        }
        .map_err(|e| format!("is not a usable RSA private key ({e}; 2048 bits or more)"))?;
        Ok(JwtSigner {
            key,
            issuer: issuer.into(),
            subject: subject.into(),
            audience: audience.into(),
            scope: None,
        })
    }

    /// Asks for `scope` (Google: `https://www.googleapis.com/auth/adwords`).
    pub fn with_scope(mut self, scope: impl Into<String>) -> JwtSigner {
        self.scope = Some(scope.into());
        self
    }

    /// A fingerprint input that changes with the key, the client, the user, the audience or the
    /// scope.
    pub fn identity(&self) -> Vec<u8> {
        let mut bytes = self.key.public().as_ref().to_vec();
        let scope = self.scope.clone().unwrap_or_default();
        for part in [&self.issuer, &self.subject, &self.audience, &scope] {
            bytes.push(0);
            bytes.extend_from_slice(part.as_bytes());
        }
        bytes
    }

    /// A signed assertion valid from `now` for a little under three minutes.
    pub fn assertion(&self, now: DateTime<Utc>) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
        let mut claims = json!({
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now.timestamp(),
            "exp": (now + ASSERTION_LIFETIME).timestamp(),
        });
        if !self.subject.is_empty() {
            claims["sub"] = json!(self.subject);
        }
        if let Some(scope) = &self.scope {
            claims["scope"] = json!(scope);
        }
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "the private key could not sign the JWT assertion".to_string())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The label and the decoded bytes of the first PEM block in `text`.
fn pem_block(text: &str) -> Option<(&str, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body = &rest[label_end + 5..];
    let end = body.find(&format!("-----END {label}-----"))?;
    let base64: String = body[..end].split_whitespace().collect();
    STANDARD.decode(base64).ok().map(|der| (label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_pem_is_refused_without_being_shown() {
        let pem = SecretString::from("canary-not-a-key".to_string());
        let error = JwtSigner::from_pem(&pem, "client", "user", "aud").unwrap_err();
        assert!(error.contains("PEM"), "{error}");
        assert!(!error.contains("canary"), "{error}");
        let pem = SecretString::from(
            "-----BEGIN PRIVATE KEY-----\nY2FuYXJ5\n-----END PRIVATE KEY-----\n".to_string(),
        );
        let error = JwtSigner::from_pem(&pem, "client", "user", "aud").unwrap_err();
        assert!(error.contains("not a usable RSA private key"), "{error}");
    }
}
