//! OAuth2 access tokens, and the refresh tokens platforms rotate, kept in the ledger between
//! runs: the store's implementation of [`TokenCache`].
//!
//! Connectors hold their cache for as long as they run, while the pipeline holds the
//! [`Store`] mutably, so the cache is a separate handle with its own connection to the same
//! ledger (SQLite's WAL mode lets both work at once), opened when a connector first reads or
//! keeps a token: most sources use API keys and never do, and on Postgres a connection is a
//! round trip and a server process. Losing a rotated refresh token means
//! a person must authorise kassa again, so every new token is written before it is used.
//!
//! The tokens are secrets at rest: the ledger file is readable by its owner only (see
//! [`Store::open`]), and nothing here puts a token in an error or in `Debug` output.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::sql::{Ledger, LedgerAddress, ValueError, values};
use super::{Store, StoreError};
use crate::domain::{CachedToken, TokenCache};

/// The ledger's `tokens` table, behind its own connection.
pub struct TokenLedger {
    /// The ledger, for messages.
    ledger: String,
    address: LedgerAddress,
    /// `None` until the first token is read or kept.
    connection: Mutex<Option<Ledger>>,
}

impl std::fmt::Debug for TokenLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenLedger")
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A token cache backed by this store's ledger, to hand to connectors.
    pub fn token_ledger(&self) -> Result<TokenLedger, StoreError> {
        Ok(TokenLedger {
            ledger: self.ledger.describe(),
            address: self.ledger.address(),
            connection: Mutex::new(None),
        })
    }
}

impl TokenLedger {
    fn failed(&self, what: &str, error: impl std::fmt::Display) -> String {
        format!(
            "store ledger {}: cannot {what} a token: {error}",
            self.ledger
        )
    }

    /// Runs `work` on the cache's connection, opening it on first use.
    fn with_connection<T>(
        &self,
        what: &str,
        work: impl FnOnce(&Ledger) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut connection = self
            .connection
            .lock()
            .map_err(|_| self.failed(what, "the connection is poisoned"))?;
        if connection.is_none() {
            *connection = Some(self.address.open().map_err(|e| self.failed(what, e))?);
        }
        match connection.as_ref() {
            Some(ledger) => work(ledger),
            None => Err(self.failed(what, "no connection")),
        }
    }
}

impl TokenCache for TokenLedger {
    fn load(&self, key: &str) -> Result<Option<CachedToken>, String> {
        let row = self.with_connection("read", |connection| {
            connection
                .query_opt(
                    "SELECT access_token, expires_at, refresh_token, seed FROM tokens WHERE key = ?1",
                    values![key],
                )
                .map_err(|e| self.failed("read", e))
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (access, expires_at, refresh, seed) = (|| -> Result<_, ValueError> {
            Ok((row.text(0)?, row.text(1)?, row.opt_text(2)?, row.text(3)?))
        })()
        .map_err(|e| self.failed("read", e))?;
        let expires_at = DateTime::parse_from_rfc3339(&expires_at)
            .map_err(|e| self.failed("read", format!("expires_at: {e}")))?
            .with_timezone(&Utc);
        Ok(Some(CachedToken {
            access_token: SecretString::from(access),
            expires_at,
            refresh_token: refresh.map(SecretString::from),
            seed,
        }))
    }

    fn save(&self, key: &str, token: &CachedToken) -> Result<(), String> {
        self.with_connection("keep", |connection| {
            connection
                .execute(
                    "INSERT INTO tokens (key, access_token, expires_at, refresh_token, seed, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (key) DO UPDATE SET access_token = ?2, expires_at = ?3,
                         refresh_token = ?4, seed = ?5, updated_at = ?6",
                    values![
                        key,
                        token.access_token.expose_secret(),
                        token.expires_at.to_rfc3339(),
                        token.refresh_token.as_ref().map(|t| t.expose_secret()),
                        token.seed.as_str(),
                        Utc::now().to_rfc3339(),
                    ],
                )
                .map_err(|e| self.failed("keep", e))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_survive_reopening_the_store_and_are_replaced_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cache = store.token_ledger().unwrap();
        assert!(cache.load("source:a").unwrap().is_none());
        let token = |access: &str, refresh: Option<&str>| CachedToken {
            access_token: SecretString::from(access.to_string()),
            expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
            refresh_token: refresh.map(|r| SecretString::from(r.to_string())),
            seed: "seed".into(),
        };
        cache.save("source:a", &token("a1", Some("r1"))).unwrap();
        cache.save("source:a", &token("a2", Some("r2"))).unwrap();
        cache.save("source:b", &token("b1", None)).unwrap();
        drop(cache);
        drop(store);

        let reopened = Store::open(dir.path()).unwrap().token_ledger().unwrap();
        let a = reopened.load("source:a").unwrap().unwrap();
        assert_eq!(a.access_token.expose_secret(), "a2");
        assert_eq!(a.refresh_token.unwrap().expose_secret(), "r2");
        assert_eq!(a.expires_at.to_rfc3339(), "2030-01-01T00:00:00+00:00");
        assert!(
            reopened
                .load("source:b")
                .unwrap()
                .unwrap()
                .refresh_token
                .is_none()
        );
        assert!(!format!("{reopened:?}").contains("a2"));
    }
}
