//! Where a store keeps its two halves: the ledger (coverage, runs, episodes, the outbox, the
//! backfill chunks, the run lock) and the Parquet snapshots of rows.
//!
//! One business keeps both in one directory ([`LedgerLocation::Embedded`],
//! [`SnapshotLocation::Embedded`]): no server to run. An agency running many pods keeps them in
//! services made for sharing (issue 18): the ledger on Postgres, the snapshots on S3-compatible
//! object storage; the directory then only holds working copies, and the ledger says which
//! objects are current. The configuration (`[store]`) builds a [`StoreLocation`];
//! [`super::Store::open_at`] and [`super::StoreLock::acquire_at`] open whatever it names.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

/// Where the ledger lives.
#[derive(Clone)]
pub enum LedgerLocation {
    /// `ledger.sqlite` in the store directory.
    Embedded,
    /// A schema of its own in a Postgres database (`[store] ledger_url_env` or
    /// `ledger_url_file`, `ledger_schema`). The URL holds a password: `Debug` shows neither.
    Postgres { url: SecretString, schema: String },
}

impl LedgerLocation {
    /// What identifies the ledger across configurations: the Postgres server, database and
    /// schema (`db:5432/agency schema kassa_acme`), whatever user or password reaches it;
    /// `None` for an embedded ledger (its store directory identifies it).
    pub fn shared_key(&self) -> Option<String> {
        match self {
            LedgerLocation::Embedded => None,
            LedgerLocation::Postgres { url, schema } => {
                let server = super::sql::describe_server(url)
                    .unwrap_or_else(|_| "(an invalid URL)".to_string());
                Some(format!("Postgres schema {schema} on {server}"))
            }
        }
    }
}

impl std::fmt::Debug for LedgerLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerLocation::Embedded => f.write_str("Embedded"),
            LedgerLocation::Postgres { schema, .. } => f
                .debug_struct("Postgres")
                .field("schema", schema)
                .finish_non_exhaustive(),
        }
    }
}

impl PartialEq for LedgerLocation {
    fn eq(&self, other: &LedgerLocation) -> bool {
        match (self, other) {
            (LedgerLocation::Embedded, LedgerLocation::Embedded) => true,
            (
                LedgerLocation::Postgres { url, schema },
                LedgerLocation::Postgres {
                    url: other_url,
                    schema: other_schema,
                },
            ) => schema == other_schema && url.expose_secret() == other_url.expose_secret(),
            _ => false,
        }
    }
}

/// Where the snapshots live.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotLocation {
    /// `ads/`, `deals/`, `claims/` in the store directory.
    Embedded,
    /// `[store] snapshots = "s3://bucket/prefix"`: month files are objects under `prefix` in
    /// `bucket` (`prefix/ads/meta.month=2025-03.<version>.parquet`), the ledger points at the
    /// current object of each month, and the store directory holds a working copy
    /// (`bucket.rs`). Holds no credentials: those come from the AWS environment.
    ObjectStore { bucket: String, prefix: String },
}

impl SnapshotLocation {
    /// Reads `[store] snapshots`: `s3://bucket` or `s3://bucket/prefix` (a prefix without
    /// leading or trailing `/`). The error says what is wrong with the value.
    pub fn parse(text: &str) -> Result<SnapshotLocation, String> {
        let Some(rest) = text.strip_prefix("s3://") else {
            return Err(format!(
                "{text:?} is not an s3:// address (as in snapshots = \"s3://bucket/prefix\")"
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket).map_err(|why| format!("{text:?}: the bucket {bucket:?} {why}"))?;
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == "." || part == "..")
            || prefix.contains("//")
            || prefix.chars().any(|c| c.is_control() || c == '\\')
        {
            return Err(format!(
                "{text:?}: the prefix {prefix:?} must be plain names separated by '/'"
            ));
        }
        Ok(SnapshotLocation::ObjectStore {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// `s3://bucket/prefix`, as configured (for messages and for telling tenants apart).
    pub fn address(&self) -> Option<String> {
        match self {
            SnapshotLocation::Embedded => None,
            SnapshotLocation::ObjectStore { bucket, prefix } if prefix.is_empty() => {
                Some(format!("s3://{bucket}"))
            }
            SnapshotLocation::ObjectStore { bucket, prefix } => {
                Some(format!("s3://{bucket}/{prefix}"))
            }
        }
    }
}

/// S3's bucket naming rules, in short: 3 to 63 lowercase letters, digits, '.' and '-',
/// starting and ending with a letter or digit.
fn check_bucket(bucket: &str) -> Result<(), &'static str> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if bucket.is_empty() {
        Err("is missing")
    } else if !(3..=63).contains(&bucket.len()) {
        Err("must be 3 to 63 characters long")
    } else if !bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        Err("may hold only lowercase letters, digits, '.' and '-'")
    } else if !edge(bucket.chars().next()) || !edge(bucket.chars().last()) {
        Err("must start and end with a lowercase letter or a digit")
    } else {
        Ok(())
    }
}

/// A whole store: its directory and where its ledger and snapshots live.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreLocation {
    /// `[store] path`: the embedded store, or the working directory of a store kept in services.
    pub path: PathBuf,
    pub ledger: LedgerLocation,
    pub snapshots: SnapshotLocation,
}

impl StoreLocation {
    /// A store kept entirely in the directory `path` (the default).
    pub fn embedded(path: impl Into<PathBuf>) -> StoreLocation {
        StoreLocation {
            path: path.into(),
            ledger: LedgerLocation::Embedded,
            snapshots: SnapshotLocation::Embedded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_addresses_parse_and_bad_ones_say_why() {
        assert_eq!(
            SnapshotLocation::parse("s3://kassa-data/agency/acme/").unwrap(),
            SnapshotLocation::ObjectStore {
                bucket: "kassa-data".into(),
                prefix: "agency/acme".into()
            }
        );
        let bare = SnapshotLocation::parse("s3://kassa-data").unwrap();
        assert_eq!(bare.address().unwrap(), "s3://kassa-data");
        for (bad, why) in [
            ("/var/lib/kassa", "not an s3:// address"),
            ("gs://bucket/x", "not an s3:// address"),
            ("s3:///prefix", "is missing"),
            ("s3://Bucket/x", "lowercase"),
            ("s3://ab", "3 to 63"),
            ("s3://bucket/a/../b", "plain names"),
        ] {
            let text = SnapshotLocation::parse(bad).unwrap_err();
            assert!(text.contains(why), "{bad}: {text}");
        }
    }
}
