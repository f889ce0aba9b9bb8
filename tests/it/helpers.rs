//! Helpers shared by the integration tests: a scratch workspace with its own config and
//! store, a way to run the real `kassa` binary in it, and small constructors for rows.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use kassa::domain::{AdDay, Claims, DateRange, Deal, DealStatus, Money};
use kassa::sources::{BuildContext, RetryPolicy, SourceConfig};
use kassa::validation::Problems;

pub fn d(text: &str) -> NaiveDate {
    text.parse().expect("a YYYY-MM-DD date")
}

pub fn range(from: &str, to: &str) -> DateRange {
    DateRange::new(d(from), d(to)).expect("from <= to")
}

pub fn money(text: &str) -> Money {
    Money::parse_decimal(text).expect("a decimal")
}

/// The demo data's two CSV sources (`ads` and `crm`), by absolute path, as `[[sources]]`
/// tables: put other tables before them.
pub fn demo_sources() -> String {
    let fixtures = repo().join("fixtures/demo");
    format!(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n",
        fixtures.join("ads.csv").display().to_string(),
        fixtures.join("crm.csv").display().to_string(),
    )
}

/// The repository root, where `fixtures/` and `config/` live.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Retries without per-request timeouts, for tests on tokio's paused clock: a paused clock
/// jumps to the next timer while waiting on a socket, which would fire a timeout at once.
pub fn paused_clock_context() -> BuildContext {
    BuildContext::new(
        chrono_tz::Tz::UTC,
        RetryPolicy {
            timeout: None,
            ..RetryPolicy::default()
        },
    )
}

/// Reads one `[[sources]]` table the way `kassa` reads its configuration (through the
/// `config` crate) and checks that it passes validation, so tests build sources the real way.
pub fn source_config(toml: &str) -> SourceConfig {
    let sources: Vec<SourceConfig> = config::Config::builder()
        .add_source(config::File::from_str(toml, config::FileFormat::Toml))
        .build()
        .expect("the TOML parses")
        .get("sources")
        .expect("the [[sources]] table deserialises");
    let [source]: [SourceConfig; 1] = sources.try_into().expect("exactly one [[sources]] table");
    let mut problems = Problems::default();
    source.validate("sources[0]", &mut problems);
    assert!(
        problems.is_empty(),
        "the source config has problems:\n{problems}"
    );
    source
}

/// Asserts that the virtual time (tokio's paused clock) since `started` lies in `expected`:
/// the lower bound proves a wait was honoured, the upper bound that it was the wait asked for.
pub fn assert_waited(
    started: tokio::time::Instant,
    expected: std::ops::Range<std::time::Duration>,
) {
    let elapsed = started.elapsed();
    assert!(
        expected.contains(&elapsed),
        "waited {elapsed:?}, expected {expected:?}"
    );
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A scratch directory with a config file and a store of its own.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `name` inside the workspace and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Writes `kassa.toml`: a store inside the workspace, then `rest` (sources, analysis).
    pub fn config(&self, rest: &str) -> PathBuf {
        let store = self.dir.path().join("store");
        self.write(
            "kassa.toml",
            &format!(
                "[store]\npath = {:?}\n\n{rest}",
                store.display().to_string()
            ),
        )
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Runs `kassa --config kassa.toml ARGS` in the workspace.
    pub fn kassa(&self, args: &[&str]) -> Run {
        self.kassa_with_env(args, &[])
    }

    pub fn kassa_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        kassa_in(
            self.dir.path(),
            &self.dir.path().join("kassa.toml"),
            args,
            env,
        )
    }
}

/// Runs `kassa --config CONFIG ARGS` with `cwd` as the working directory.
pub fn kassa_in(cwd: &Path, config: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kassa"));
    command
        .current_dir(cwd)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("KASSA_CONFIG")
        .env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("the kassa binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Starts `kassa --config CONFIG ARGS` in `cwd` with `env`, without waiting (several at once:
/// shards, racing pods); [`finish`] collects it.
pub fn spawn_in(
    cwd: &Path,
    config: &Path,
    args: &[&str],
    env: &[(String, String)],
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_kassa"))
        .current_dir(cwd)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("KASSA_CONFIG")
        .env("RUST_LOG", "warn")
        .envs(env.iter().cloned())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the kassa binary starts")
}

/// Waits for a process [`spawn_in`] started.
pub fn finish(child: std::process::Child) -> Run {
    let output = child.wait_with_output().expect("the kassa binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs the binary in `dir` with exactly `args` and `env`: no `--config` added, no `RUST_LOG`,
/// so logging is what a person gets by default.
pub fn kassa_bare(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .current_dir(dir)
        .args(args)
        .env_remove("KASSA_CONFIG")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("the kassa binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// One day of one campaign.
pub fn ad_day(
    date: &str,
    channel: &str,
    impressions: u64,
    clicks: u64,
    reach: u64,
    spend: &str,
) -> AdDay {
    AdDay {
        date: d(date),
        channel: channel.to_string(),
        account: "test".to_string(),
        campaign_id: format!("{channel}-1"),
        campaign_name: None,
        impressions,
        reach: Some(reach),
        clicks,
        spend: money(spend),
        currency: Some("USD".to_string()),
        claims: Claims::default(),
    }
}

/// A won deal created and closed on the given days.
pub fn won(id: &str, channel: &str, created: &str, closed: &str, amount: &str) -> Deal {
    Deal {
        id: id.to_string(),
        created_date: d(created),
        closed_date: Some(d(closed)),
        status: DealStatus::Won,
        amount: Some(money(amount)),
        currency: Some("USD".to_string()),
        channel: channel.to_string(),
        customer_id: None,
        instants: None,
    }
}

/// An open deal (a lead) created on `created`.
pub fn lead(id: &str, channel: &str, created: &str) -> Deal {
    Deal {
        id: id.to_string(),
        created_date: d(created),
        closed_date: None,
        status: DealStatus::Open,
        amount: None,
        currency: Some("USD".to_string()),
        channel: channel.to_string(),
        customer_id: None,
        instants: None,
    }
}

/// Mounts `first` for the first `verb` request to `route` only, then `then` for every request
/// after it: the "fails once, then works" script of the retry tests.
pub async fn script(
    server: &wiremock::MockServer,
    verb: &str,
    route: &str,
    first: wiremock::ResponseTemplate,
    then: wiremock::ResponseTemplate,
) {
    use wiremock::Mock;
    use wiremock::matchers::{method, path};
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(then)
        .with_priority(2)
        .mount(server)
        .await;
}
