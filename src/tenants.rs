//! Many clients (tenants) from one directory: `DIR/<tenant>.toml`, each a full configuration
//! for one client, read over the shared base file (`--config`). This module finds the tenants
//! and checks their names, loads one tenant's configuration, tells which shard a tenant
//! belongs to, checks that no two tenants share a store, and runs a job per tenant a few at a
//! time, each isolated from the others (an error or even a panic in one is that tenant's
//! outcome). What a job does (the nightly cycle) is the command line's business.
//!
//! Shards: a tenant belongs to shard `hash(name) mod N`, where the hash is the first 8 bytes of
//! the name's SHA-256 (stable across builds and machines, unlike std's randomised hasher). So
//! adding or removing a tenant never moves another; changing N does.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::{ConfigError, Secrets, Settings};
use crate::domain::TenantStatus;

/// The longest tenant name: a DNS label's, since names end up in paths and object keys.
pub const MAX_NAME: usize = 63;

/// One tenant: its name (the file stem) and its configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub name: String,
    pub file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantsError {
    #[error("cannot read the tenants directory {dir}: {source}")]
    Read {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{file}: {name:?} is not a tenant name: {why} (the file's name is the tenant's: lowercase letters, digits, '-' and '_', starting with a letter or digit, at most {MAX_NAME} characters)"
    )]
    BadName {
        file: PathBuf,
        name: String,
        why: &'static str,
    },
    #[error("no tenant is named {name:?} in {dir}; {known}")]
    Unknown {
        name: String,
        dir: PathBuf,
        known: String,
    },
    #[error(
        "no two tenants may share a ledger: {first} and {second} both use {ledger} (put {{tenant}} in [store] ledger_schema, or leave it out: a tenant's default is kassa_<tenant>)"
    )]
    SharedLedger {
        first: String,
        second: String,
        ledger: String,
    },
    #[error("no two tenants may share a store: {first} and {second} both use {path}{hint}")]
    SharedStore {
        first: String,
        second: String,
        path: PathBuf,
        hint: &'static str,
    },
    #[error("{0}")]
    Shard(String),
}

/// Whether `name` may name a tenant: `[a-z0-9][a-z0-9_-]*`, at most [`MAX_NAME`] characters.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("it is empty"),
        Some(first) if !(first.is_ascii_lowercase() || first.is_ascii_digit()) => {
            return Err("it must start with a lowercase letter or a digit");
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Err("it may hold only lowercase letters, digits, '-' and '_'");
    }
    if name.len() > MAX_NAME {
        return Err("it is longer than 63 characters");
    }
    Ok(())
}

/// Every tenant in `dir`, sorted by name: each `*.toml` file. Other files, and names starting
/// with `.` or `_` (editors' swap files, a disabled `_acme.toml`), are left out. A file whose
/// stem is not a valid name is an error naming it.
pub fn discover(dir: &Path) -> Result<Vec<Tenant>, TenantsError> {
    let read_error = |source| TenantsError::Read {
        dir: dir.to_path_buf(),
        source,
    };
    let mut tenants = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(name) = file_name.strip_suffix(".toml") else {
            continue;
        };
        if file_name.starts_with('.') || file_name.starts_with('_') || path.is_dir() {
            continue;
        }
        check_name(name).map_err(|why| TenantsError::BadName {
            file: path.clone(),
            name: name.to_string(),
            why,
        })?;
        tenants.push(Tenant {
            name: name.to_string(),
            file: path.clone(),
        });
    }
    tenants.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tenants)
}

/// The tenant `name` of `dir`; unknown names list a few known ones.
pub fn find(dir: &Path, name: &str) -> Result<Tenant, TenantsError> {
    let tenants = discover(dir)?;
    if let Some(tenant) = tenants.iter().find(|t| t.name == name) {
        return Ok(tenant.clone());
    }
    const SHOWN: usize = 5;
    let names: Vec<&str> = tenants.iter().map(|t| t.name.as_str()).collect();
    let known = match names.len() {
        0 => "the directory holds no tenant (<name>.toml files)".to_string(),
        n if n <= SHOWN => format!("known: {}", names.join(", ")),
        n => format!(
            "known: {} and {} more",
            names[..SHOWN].join(", "),
            n - SHOWN
        ),
    };
    Err(TenantsError::Unknown {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        known,
    })
}

/// A tenant's configuration: defaults, the base file, the tenant's file, the environment.
pub fn load(
    base: Option<&Path>,
    tenant: &Tenant,
    secrets: Secrets,
) -> Result<Settings, ConfigError> {
    Settings::load_layered(base, Some((&tenant.name, &tenant.file)), secrets)
}

/// Fails when two tenants resolve to one store path, naming both and the path.
pub fn check_stores<'a>(
    stores: impl IntoIterator<Item = (&'a str, &'a Path)>,
) -> Result<(), TenantsError> {
    let mut seen: HashMap<PathBuf, &str> = HashMap::new();
    for (name, path) in stores {
        let key = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(first) = seen.insert(key, name) {
            let named = path.to_string_lossy().contains(name);
            return Err(TenantsError::SharedStore {
                first: first.to_string(),
                second: name.to_string(),
                path: path.to_path_buf(),
                hint: if named {
                    ""
                } else {
                    " (put {tenant} in [store] path and snapshots, as in path = \"/var/lib/kassa/{tenant}\")"
                },
            });
        }
    }
    Ok(())
}

/// Fails when two tenants' ledgers are one Postgres schema on one server (`ledger` is
/// [`crate::store::LedgerLocation::shared_key`]; `None` for an embedded ledger, which the store
/// path already tells apart), naming both and the schema.
pub fn check_ledgers<'a>(
    ledgers: impl IntoIterator<Item = (&'a str, Option<String>)>,
) -> Result<(), TenantsError> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (name, ledger) in ledgers {
        let Some(ledger) = ledger else { continue };
        if let Some(first) = seen.insert(ledger.clone(), name) {
            return Err(TenantsError::SharedLedger {
                first: first.to_string(),
                second: name.to_string(),
                ledger,
            });
        }
    }
    Ok(())
}

/// Which shard a tenant belongs to out of `count`: the first 8 bytes of the SHA-256 of its
/// name (big-endian), modulo `count`.
pub fn shard_of(name: &str, count: u32) -> u32 {
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let shard = u64::from_be_bytes(first) % u64::from(count.max(1));
    // Below `count`, which is a u32.
    shard as u32
}

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Every tenant, when kassa is not sharded.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("the number of shards must be at least 1".to_string());
        }
        if index >= count {
            return Err(format!(
                "shard {index} does not exist: shards of {count} are numbered 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard an Indexed Job's pod runs: `JOB_COMPLETION_INDEX` (its value given here) of
    /// `count`.
    pub fn from_job_index(count: u32, index: Option<&str>) -> Result<Shard, TenantsError> {
        let fail = |why: String| TenantsError::Shard(format!("--shards {count}: {why}"));
        let Some(text) = index else {
            return Err(fail(
                "JOB_COMPLETION_INDEX is not set (Kubernetes sets it in the pods of an Indexed Job); elsewhere use --shard I/N".to_string(),
            ));
        };
        let index = text.trim().parse::<u32>().map_err(|_| {
            fail(format!(
                "JOB_COMPLETION_INDEX is {text:?}, not a shard number"
            ))
        })?;
        Shard::new(index, count).map_err(|why| fail(format!("JOB_COMPLETION_INDEX: {why}")))
    }

    pub fn holds(&self, name: &str) -> bool {
        shard_of(name, self.count) == self.index
    }
}

/// `I/N`, as `--shard` takes it.
impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let parsed = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        let Some((index, count)) = parsed else {
            return Err(format!(
                "{text:?} is not I/N (shard I of N, 0-based: 0/8 .. 7/8)"
            ));
        };
        Shard::new(index, count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A line a tenant's run would have printed: a status line (stdout) or an error (stderr).
/// They are kept until the tenant is done, so tenants running side by side do not interleave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Status(String),
    Error(String),
}

/// How one tenant's run ended and what it said.
#[derive(Debug, Clone)]
pub struct TenantRun {
    pub name: String,
    pub status: TenantStatus,
    /// Why it failed or is invalid, for the summary (the first line of the error).
    pub problem: Option<String>,
    pub said: Vec<Said>,
}

/// Runs `job` for every tenant, up to `parallel` at once, each inside a `tenant` span, and
/// hands each result to `finished` as it comes (to print it). A job that panics is that
/// tenant's failure; the others run on. Returns the results sorted by name.
pub async fn run_each<F, Fut>(
    tenants: Vec<Tenant>,
    parallel: usize,
    job: F,
    mut finished: impl FnMut(&TenantRun),
) -> Vec<TenantRun>
where
    F: Fn(Tenant) -> Fut,
    Fut: Future<Output = TenantRun> + Send + 'static,
{
    let mut waiting = tenants.into_iter();
    let mut running = JoinSet::new();
    let mut names = HashMap::new();
    let mut done = Vec::new();
    loop {
        while running.len() < parallel.max(1) {
            let Some(tenant) = waiting.next() else {
                break;
            };
            let span = tracing::info_span!("tenant", tenant = %tenant.name);
            let name = tenant.name.clone();
            let handle = running.spawn(job(tenant).instrument(span));
            names.insert(handle.id(), name);
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        let run = match joined {
            Ok((_, run)) => run,
            Err(error) => {
                let name = names.get(&error.id()).cloned().unwrap_or_default();
                let why = if error.is_panic() {
                    let payload = error.into_panic();
                    let text = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    format!("the run panicked: {text}")
                } else {
                    "the run was cancelled".to_string()
                };
                TenantRun {
                    name,
                    status: TenantStatus::Failed,
                    said: vec![Said::Error(why.clone())],
                    problem: Some(why),
                }
            }
        };
        finished(&run);
        done.push(run);
    }
    done.sort_by(|a, b| a.name.cmp(&b.name));
    done
}

/// The exit code's view of many tenants: the worst status (failed and invalid over busy over
/// partial over ok); `None` when there were none.
pub fn worst(runs: &[TenantRun]) -> Option<TenantStatus> {
    runs.iter().map(|run| run.status).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shard_of_a_name_never_moves() {
        // Pinned (and checked against Python's hashlib): a refactor of the hash would silently
        // move every agency's tenants.
        let pinned: Vec<(&str, u32)> = ["acme", "globex", "initech", "umbrella", "a", "tenant-42"]
            .iter()
            .map(|name| (*name, shard_of(name, 8)))
            .collect();
        assert_eq!(
            pinned, PINNED,
            "the shard of a tenant changed: every agency's pods would swap tenants"
        );
    }

    const PINNED: [(&str, u32); 6] = [
        ("acme", 0),
        ("globex", 7),
        ("initech", 3),
        ("umbrella", 0),
        ("a", 2),
        ("tenant-42", 0),
    ];

    #[test]
    fn names_are_dns_label_like() {
        for good in ["acme", "a", "0", "acme-shop_2", &"a".repeat(63)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Acme",
            "-acme",
            "_acme",
            "acme.shop",
            "acme shop",
            "аcme",
            &"a".repeat(64),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shards_parse_as_index_of_count() {
        assert_eq!("3/8".parse(), Ok(Shard { index: 3, count: 8 }));
        assert!("8/8".parse::<Shard>().unwrap_err().contains("0 to 7"));
        assert!("0/0".parse::<Shard>().unwrap_err().contains("at least 1"));
        assert!("3".parse::<Shard>().unwrap_err().contains("I/N"));
        assert_eq!(
            Shard::from_job_index(2, Some("1")).unwrap(),
            Shard { index: 1, count: 2 }
        );
        for (index, expected) in [
            (None, "JOB_COMPLETION_INDEX is not set"),
            (Some("x"), "not a shard number"),
            (Some("2"), "0 to 1"),
        ] {
            let text = Shard::from_job_index(2, index).unwrap_err().to_string();
            assert!(text.contains(expected), "{text}");
        }
    }

    #[test]
    fn every_tenant_is_in_exactly_one_shard() {
        let names: Vec<String> = (0..200).map(|i| format!("client-{i}")).collect();
        for count in [1, 2, 8] {
            for name in &names {
                let holders = (0..count)
                    .filter(|&i| Shard { index: i, count }.holds(name))
                    .count();
                assert_eq!(holders, 1, "{name} in {holders} shards of {count}");
            }
        }
    }

    #[test]
    fn discovery_skips_other_files_and_names_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["b.toml", "a.toml", "_off.toml", ".swap.toml", "notes.txt"] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        let names: Vec<String> = discover(dir.path())
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        let unknown = find(dir.path(), "c").unwrap_err().to_string();
        assert!(unknown.contains("known: a, b"), "{unknown}");
        std::fs::write(dir.path().join("Bad.toml"), "").unwrap();
        let text = discover(dir.path()).unwrap_err().to_string();
        assert!(
            text.contains("Bad.toml") && text.contains("lowercase"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_panicking_tenant_fails_alone() {
        let tenants: Vec<Tenant> = ["a", "b", "c"]
            .iter()
            .map(|name| Tenant {
                name: name.to_string(),
                file: PathBuf::from(format!("{name}.toml")),
            })
            .collect();
        let mut seen = Vec::new();
        let runs = run_each(
            tenants,
            2,
            |tenant| async move {
                assert_ne!(tenant.name, "b", "tenant b's run breaks");
                TenantRun {
                    name: tenant.name,
                    status: TenantStatus::Ok,
                    problem: None,
                    said: Vec::new(),
                }
            },
            |run| seen.push(run.name.clone()),
        )
        .await;
        seen.sort();
        assert_eq!(seen, ["a", "b", "c"]);
        let statuses: Vec<(&str, TenantStatus)> =
            runs.iter().map(|r| (r.name.as_str(), r.status)).collect();
        assert_eq!(
            statuses,
            [
                ("a", TenantStatus::Ok),
                ("b", TenantStatus::Failed),
                ("c", TenantStatus::Ok)
            ]
        );
        let problem = runs[1].problem.as_deref().unwrap_or_default();
        assert!(problem.contains("panicked: assertion"), "{problem}");
        assert!(problem.contains("tenant b's run breaks"), "{problem}");
        assert_eq!(worst(&runs), Some(TenantStatus::Failed));
    }

    #[test]
    fn a_shared_store_names_both_tenants() {
        let shared = Path::new("/var/lib/kassa/one");
        let text = check_stores([("acme", shared), ("globex", shared)])
            .unwrap_err()
            .to_string();
        assert!(
            text.contains(
                "no two tenants may share a store: acme and globex both use /var/lib/kassa/one"
            ) && text.contains("{tenant}"),
            "{text}"
        );
        check_stores([
            ("acme", Path::new("/s/acme")),
            ("globex", Path::new("/s/globex")),
        ])
        .unwrap();
    }

    #[test]
    fn a_shared_postgres_schema_names_both_tenants() {
        let schema = || Some("Postgres schema kassa on db:5432/agency".to_string());
        let text = check_ledgers([("acme", schema()), ("embedded", None), ("globex", schema())])
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("acme and globex both use Postgres schema kassa on db:5432/agency"),
            "{text}"
        );
        check_ledgers([("acme", None), ("globex", None)]).unwrap();
    }
}
