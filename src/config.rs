//! Configuration: built-in defaults (`config/default.toml`, compiled in), then the file given
//! with `--config`, then a tenant's file when kassa runs many (`--tenants DIR`, see
//! `tenants`), then `KASSA__SECTION__KEY` environment variables. Everything is validated
//! before anything runs, and every problem is reported at once with the key, what is wrong and
//! an example of a right value: an unknown section or key is an error with the closest known
//! name as a suggestion, and a value from an environment variable names the variable. Relative
//! paths in a file are relative to its directory (defaults and environment: the working
//! directory). Secrets never live in the TOML: sources name the environment variable or file
//! that holds them.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono_tz::Tz;
use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use std::net::SocketAddr;

use crate::alerts::{AlertTargetConfig, validate_all};
use crate::analysis::currency::{self, CurrencySettings};
use crate::analysis::{
    ActivityMetric, AuditSettings, ChainSettings, Granularity, LagPeriods, LagSettings, MinAbs,
    MoneyMetric, ReconcileSettings, RuleSettings,
};
use crate::domain::{Locale, Money};
use crate::secrets::{SecretError, SecretSpec, process_env};
use crate::sources::{SourceConfig, kinds_list};
use crate::store::{LedgerLocation, SnapshotLocation, StoreLocation};
use crate::telemetry::LogFormat;
use crate::validation::{Problems, closest, with_suggestion};

/// The defaults every configuration starts from.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Everything kassa needs to run, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store_path: PathBuf,
    /// `[store]`: where the ledger lives (`ledger.sqlite` under `store_path` by default).
    pub ledger: LedgerLocation,
    /// `[store] snapshots`: where the Parquet snapshots live (under `store_path` by default).
    pub snapshots: SnapshotLocation,
    /// `[store] max_shrink`: a re-pull that shrinks a window's spend or won revenue by more
    /// than this fraction of what the store held is stored but marked suspicious.
    pub max_shrink: f64,
    pub timezone: Tz,
    pub rule: RuleSettings,
    /// `[currency] rates_file`: dated rates, read afresh by every analysis (a nightly job may
    /// update it); `rule.currency` holds the rest of `[currency]`.
    pub rates_file: Option<PathBuf>,
    pub sources: Vec<SourceConfig>,
    pub alerting: AlertingSettings,
    pub worker: WorkerSettings,
    pub alerts: Vec<AlertTargetConfig>,
    pub log: LogSettings,
}

/// `[log]`: the shape of the log lines on stderr (how many is `-v`/`-q` and `RUST_LOG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// `[alerting]`: what `kassa run` pushes, and in which language.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingSettings {
    pub locale: Locale,
    pub window_periods: usize,
    pub max_per_run: usize,
    pub update_min_growth: f64,
    /// A message still undeliverable after this many runs becomes a dead letter (a permanent
    /// refusal makes it one at once).
    pub dead_after_runs: u32,
    /// A source that failed this many runs in a row raises a `source_down` alert.
    pub source_down_after_runs: u32,
    /// The currency amounts are shown in when the data does not say (a CSV without a
    /// `currency` column); when the data names one currency, the data wins.
    pub currency: Option<String>,
    /// `report_url`: where the worker's HTML report is reachable (`…/report`); every alert then
    /// links to the report of its range. An absolute http(s) URL; its own query survives.
    pub report_url: Option<url::Url>,
}

/// `[worker]`: the schedule and the health endpoint of `kassa worker`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    pub schedule: croner::Cron,
    pub schedule_text: String,
    pub timezone: Tz,
    pub listen: SocketAddr,
    pub shutdown_grace: std::time::Duration,
    /// The bearer token `/` and `/report` require; none configured leaves them open.
    pub report_token: ReportToken,
}

/// `[worker] report_token_env` / `report_token_file`: where the bearer token of the report
/// endpoints is kept, like every other secret (named here, never written in the TOML).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportToken {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
}

impl ReportToken {
    fn spec(&self) -> SecretSpec<'_> {
        SecretSpec {
            what: "report token",
            env_key: "report_token_env",
            file_key: "report_token_file",
            env: self.env.as_deref(),
            file: self.file.as_deref(),
            example: "report_token_env = \"KASSA_REPORT_TOKEN\"",
        }
    }

    /// Whether a token is configured at all (otherwise the report is open).
    pub fn is_configured(&self) -> bool {
        self.env.is_some() || self.file.is_some()
    }

    /// Reads the token (`None` when none is configured). The error names where it looked,
    /// never what it found.
    pub fn resolve(&self) -> Result<Option<SecretString>, SecretError> {
        if !self.is_configured() {
            return Ok(None);
        }
        let spec = self.spec();
        let key = match self.env {
            Some(_) => spec.env_key,
            None => spec.file_key,
        };
        spec.resolve()
            .map(Some)
            .map_err(|e| SecretError(format!("worker.{key}: {e}")))
    }
}

#[derive(Debug)]
struct RawAlerting {
    locale: Option<String>,
    window_periods: Option<i64>,
    max_per_run: Option<i64>,
    update_min_growth: Option<f64>,
    dead_after_runs: Option<i64>,
    source_down_after_runs: Option<i64>,
    currency: Option<String>,
    report_url: Option<String>,
}

#[derive(Debug)]
struct RawWorker {
    schedule: Option<String>,
    timezone: Option<String>,
    listen: Option<String>,
    shutdown_grace_seconds: Option<i64>,
    report_token_env: Option<String>,
    report_token_file: Option<PathBuf>,
}

#[derive(Debug)]
struct RawLog {
    format: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration: {0}")]
    Read(#[from] config::ConfigError),
    #[error("{0}")]
    Invalid(Problems),
}

#[derive(Debug)]
struct RawAnalysis {
    granularity: Option<String>,
    timezone: Option<String>,
    baseline_periods: Option<i64>,
    activity_metrics: Option<Vec<String>>,
    activity_growth_min: Option<f64>,
    money_metric: Option<String>,
    money_growth_max: Option<f64>,
    audit_periods: Option<i64>,
    min_periods: Option<i64>,
    lag_periods: Option<String>,
    max_lag_periods: Option<i64>,
    spend_without_money_floor: Option<f64>,
    spend_without_money_periods: Option<i64>,
    decoupling_window: Option<i64>,
    decoupling_max_r: Option<f64>,
    returning_fall_periods: Option<i64>,
}

/// Whether a command reads the secrets the configuration names (sources' tokens, targets'
/// webhook URLs): one that does not is not stopped by a secret that cannot be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    Needed,
    Unused,
}

impl Settings {
    /// The store this configuration names: its directory, ledger and snapshots.
    pub fn store_location(&self) -> StoreLocation {
        StoreLocation {
            path: self.store_path.clone(),
            ledger: self.ledger.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    /// Loads defaults, then `file` (when given), then the environment, and validates the result.
    /// Relative paths given in `file` are relative to the file's directory; those in the
    /// defaults and the environment to the working directory.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load_for(file, Secrets::Needed)
    }

    /// [`Settings::load`] for a command that does or does not use the configured secrets: one
    /// that does not (`analyze`) runs where the token variables are unset.
    pub fn load_for(file: Option<&Path>, secrets: Secrets) -> Result<Settings, ConfigError> {
        Settings::load_layered(file, None, secrets)
    }

    /// [`Settings::load_for`] with one more file between `base` and the environment: a
    /// tenant's (`kassa run --tenants DIR`), whose values override the base file's. Relative
    /// paths resolve against the directory of the file they come from, and `{tenant}` in
    /// `[store] path` becomes the tenant's name. Without a tenant, a `{tenant}` in the store
    /// path is a problem: that base file is only half a configuration.
    pub fn load_layered(
        base: Option<&Path>,
        tenant: Option<(&str, &Path)>,
        secrets: Secrets,
    ) -> Result<Settings, ConfigError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        let mut files = Vec::new();
        let given = base
            .map(|path| ("--config", path))
            .into_iter()
            .chain(tenant.map(|(_, path)| ("the tenant file", path)));
        for (what, path) in given {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            if !absolute.is_file() {
                let mut problems = Problems::default();
                problems.push(
                    what,
                    format!("{} does not exist or is not a file", absolute.display()),
                );
                return Err(ConfigError::Invalid(problems));
            }
            let dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
            files.push(ConfigFile {
                canonical: std::fs::canonicalize(&absolute).unwrap_or_else(|_| absolute.clone()),
                dir,
            });
            builder = builder.add_source(File::from(absolute.as_path()).format(FileFormat::Toml));
        }
        let raw = builder
            .add_source(
                Environment::with_prefix("KASSA")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("analysis.activity_metrics"),
            )
            .build()?;
        Settings::from_config(&raw, &files, tenant.map(|(name, _)| name), secrets)
    }

    /// The language and log format for a run over many tenants: the base file's (over the
    /// defaults and the environment), read leniently since the base alone is only half a
    /// configuration. A bad value here falls back to the default; each tenant's own
    /// validation reports it.
    pub fn shared(base: Option<&Path>) -> (Locale, LogFormat) {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = base {
            builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(false));
        }
        let raw = builder
            .add_source(
                Environment::with_prefix("KASSA")
                    .prefix_separator("__")
                    .separator("__"),
            )
            .build()
            .ok();
        let read = |key: &str| raw.as_ref().and_then(|raw| raw.get_string(key).ok());
        (
            read("alerting.locale")
                .and_then(|text| parse_enum(&text))
                .unwrap_or_default(),
            read("log.format")
                .and_then(|text| parse_enum(&text))
                .unwrap_or_default(),
        )
    }

    /// Reads the merged configuration key by key, so that every unknown key and every value of
    /// the wrong type is reported, not only the first of each section. `files` are the
    /// configuration files read, in order: relative paths from each are relative to its
    /// directory. `tenant` replaces `{tenant}` in the store path.
    fn from_config(
        raw: &Config,
        files: &[ConfigFile],
        tenant: Option<&str>,
        secrets: Secrets,
    ) -> Result<Settings, ConfigError> {
        let mut problems = Problems::default();
        let mut env_keys = Vec::new();
        let mut root = Table::new(String::new(), raw.cache.clone().into_table()?, files);

        let mut store = root.section("store");
        let store_path = match store.path("path") {
            Some(path) if !path.as_os_str().is_empty() => path,
            _ => {
                store.problems.push_with_example(
                    "store.path",
                    "is required",
                    "path = \"var/kassa\"",
                );
                PathBuf::new()
            }
        };
        let store_path = match (tenant, store_path.to_str()) {
            (Some(name), Some(text)) if text.contains(TENANT_PLACEHOLDER) => {
                PathBuf::from(text.replace(TENANT_PLACEHOLDER, name))
            }
            (None, Some(text)) if text.contains(TENANT_PLACEHOLDER) => {
                store.problems.push(
                    "store.path",
                    format!(
                        "{text:?} contains {TENANT_PLACEHOLDER}, which only a tenant's configuration fills in; run with --tenants DIR (and --tenant NAME), or name one store"
                    ),
                );
                store_path
            }
            _ => store_path,
        };
        let snapshots = match store.string("snapshots") {
            None => SnapshotLocation::Embedded,
            Some(text) => {
                let filled = match tenant {
                    Some(name) => text.replace(TENANT_PLACEHOLDER, name),
                    None => text.clone(),
                };
                if tenant.is_none() && text.contains(TENANT_PLACEHOLDER) {
                    store.problems.push(
                        "store.snapshots",
                        format!(
                            "{text:?} contains {TENANT_PLACEHOLDER}, which only a tenant's configuration fills in; run with --tenants DIR (and --tenant NAME), or name one bucket and prefix"
                        ),
                    );
                    SnapshotLocation::Embedded
                } else {
                    SnapshotLocation::parse(&filled).unwrap_or_else(|why| {
                        store.problems.push_with_example(
                            "store.snapshots",
                            &why,
                            "snapshots = \"s3://kassa-snapshots/{tenant}\"",
                        );
                        SnapshotLocation::Embedded
                    })
                }
            }
        };
        let max_shrink = validate_max_shrink(store.float("max_shrink"), &mut problems);
        let ledger = LedgerKeys {
            url_env: store.string("ledger_url_env"),
            url_file: store.path("ledger_url_file"),
            schema: store.string("ledger_schema"),
        }
        .location(tenant, &mut problems);
        store.finish(&mut problems, &mut env_keys);

        let mut analysis = root.section("analysis");
        let raw_analysis = RawAnalysis {
            granularity: analysis.string("granularity"),
            timezone: analysis.string("timezone"),
            baseline_periods: analysis.int("baseline_periods"),
            activity_metrics: analysis.strings("activity_metrics"),
            activity_growth_min: analysis.float("activity_growth_min"),
            money_metric: analysis.string("money_metric"),
            money_growth_max: analysis.float("money_growth_max"),
            audit_periods: analysis.int("audit_periods"),
            min_periods: analysis.int("min_periods"),
            lag_periods: analysis.string("lag_periods"),
            max_lag_periods: analysis.int("max_lag_periods"),
            spend_without_money_floor: analysis.float("spend_without_money_floor"),
            spend_without_money_periods: analysis.int("spend_without_money_periods"),
            decoupling_window: analysis.int("decoupling_window"),
            decoupling_max_r: analysis.float("decoupling_max_r"),
            returning_fall_periods: analysis.int("returning_fall_periods"),
        };
        analysis.finish(&mut problems, &mut env_keys);
        let (timezone, mut rule) = validate_analysis(raw_analysis, &mut problems);

        let mut reconciliation = root.section("reconciliation");
        let tolerance = reconciliation.float("tolerance");
        let mut min_abs = reconciliation.section("min_abs");
        let floors: Vec<(&'static str, Option<f64>)> = MinAbs::KEYS
            .into_iter()
            .map(|key| (key, min_abs.float(key)))
            .collect();
        min_abs.finish(&mut problems, &mut env_keys);
        reconciliation.finish(&mut problems, &mut env_keys);
        rule.reconciliation = validate_reconciliation(tolerance, floors, &mut problems);

        let mut alerting = root.section("alerting");
        let raw_alerting = RawAlerting {
            locale: alerting.string("locale"),
            window_periods: alerting.int("window_periods"),
            max_per_run: alerting.int("max_per_run"),
            update_min_growth: alerting.float("update_min_growth"),
            dead_after_runs: alerting.int("dead_after_runs"),
            source_down_after_runs: alerting.int("source_down_after_runs"),
            currency: alerting.string("currency"),
            report_url: alerting.string("report_url"),
        };
        alerting.finish(&mut problems, &mut env_keys);
        let alerting = validate_alerting(raw_alerting, &mut problems);

        let mut currency = root.section("currency");
        let present = !currency.entries.is_empty();
        let reporting = currency.string("reporting");
        let rates_file = currency.path("rates_file");
        let valid_days = currency.int("rate_valid_days");
        let mut fixed = currency.section("rates");
        let rates: Vec<(String, Option<f64>)> = fixed
            .rest()
            .into_iter()
            .map(|(name, value)| (name, number(&value.kind)))
            .collect();
        fixed.finish(&mut problems, &mut env_keys);
        currency.finish(&mut problems, &mut env_keys);
        rule.currency = validate_currency(
            RawCurrency {
                present,
                reporting,
                rates,
                valid_days,
            },
            alerting.currency.as_deref(),
            &mut problems,
        );

        let mut worker = root.section("worker");
        let raw_worker = RawWorker {
            schedule: worker.string("schedule"),
            timezone: worker.string("timezone"),
            listen: worker.string("listen"),
            shutdown_grace_seconds: worker.int("shutdown_grace_seconds"),
            report_token_env: worker.string("report_token_env"),
            report_token_file: worker.path("report_token_file"),
        };
        worker.finish(&mut problems, &mut env_keys);
        let worker = validate_worker(raw_worker, timezone, &mut problems);

        let mut log = root.section("log");
        let raw_log = RawLog {
            format: log.string("format"),
        };
        log.finish(&mut problems, &mut env_keys);
        let log = validate_log(raw_log, &mut problems);

        let mut sources = Vec::new();
        for (i, table) in root.tables("sources").into_iter().enumerate() {
            let key = format!("sources[{i}]");
            let base = root.base_of(&table);
            let example =
                "[[sources]] name = \"ads\", kind = \"csv_ads\", path = \"fixtures/demo/ads.csv\"";
            if let Some(mut source) =
                read_table::<SourceConfig>(table, &key, (&kinds_list(), example), &mut problems)
            {
                if let Some(base) = base {
                    source.resolve_paths(&base);
                }
                source.validate(&key, &mut problems);
                sources.push(source);
            }
        }
        if sources.is_empty() && problems.is_empty() {
            problems.push_with_example(
                "sources",
                "no sources are configured",
                "[[sources]] name = \"ads\", kind = \"csv_ads\", path = \"fixtures/demo/ads.csv\"",
            );
        }
        let mut names = std::collections::HashSet::new();
        for (i, source) in sources.iter().enumerate() {
            if !names.insert(source.name()) {
                problems.push(
                    format!("sources[{i}].name"),
                    format!(
                        "{:?} is used by two sources; names must be unique",
                        source.name()
                    ),
                );
            }
        }

        let mut alerts = Vec::new();
        for (i, table) in root.tables("alerts").into_iter().enumerate() {
            let base = root.base_of(&table);
            let example =
                "[[alerts]] name = \"team\", kind = \"slack\", url_env = \"KASSA_TEAM_WEBHOOK\"";
            if let Some(mut alert) = read_table::<AlertTargetConfig>(
                table,
                &format!("alerts[{i}]"),
                (&crate::alerts::kinds_list(), example),
                &mut problems,
            ) {
                if let Some(base) = base {
                    alert.resolve_paths(&base);
                }
                alerts.push(alert)
            }
        }
        validate_all(&alerts, &mut problems);

        root.finish(&mut problems, &mut env_keys);
        // Problems found while validating values (a granularity that is not one) name the key;
        // when the value came from the environment, they name the variable too.
        for (key, variable) in env_keys {
            problems.attribute(&key, &format!("the environment variable {variable}"));
        }

        if secrets == Secrets::Unused {
            problems.forget_unavailable_secrets();
        }
        if problems.is_empty() {
            Ok(Settings {
                store_path,
                ledger,
                snapshots,
                max_shrink,
                timezone,
                rule,
                rates_file,
                sources,
                alerting,
                worker,
                alerts,
                log,
            })
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// `[store] ledger_url_env` / `ledger_url_file` / `ledger_schema`: the ledger on Postgres.
struct LedgerKeys {
    url_env: Option<String>,
    url_file: Option<PathBuf>,
    schema: Option<String>,
}

impl LedgerKeys {
    /// Where the ledger lives. The URL is read here, whatever the command: every command that
    /// opens the store needs its ledger (`analyze` too), so a missing URL is a problem even
    /// where the sources' tokens are not read. Its value never reaches a message.
    fn location(self, tenant: Option<&str>, problems: &mut Problems) -> LedgerLocation {
        let example = "ledger_url_env = \"KASSA_LEDGER_URL\"";
        if self.url_env.is_none() && self.url_file.is_none() {
            if self.schema.is_some() {
                problems.push_with_example(
                    "store.ledger_schema",
                    "names a Postgres schema, but no ledger URL is configured (ledger_url_env or ledger_url_file)",
                    example,
                );
            }
            return LedgerLocation::Embedded;
        }
        let spec = SecretSpec {
            what: "ledger URL",
            env_key: "ledger_url_env",
            file_key: "ledger_url_file",
            env: self.url_env.as_deref(),
            file: self.url_file.as_deref(),
            example,
        };
        let key = match self.url_env {
            Some(_) => "store.ledger_url_env",
            None => "store.ledger_url_file",
        };
        if self.url_env.is_some() && self.url_file.is_some() {
            problems.push(key, "set ledger_url_env or ledger_url_file, not both");
            return LedgerLocation::Embedded;
        }
        let schema = ledger_schema(self.schema.as_deref(), tenant, problems);
        let url = match spec.resolve() {
            Ok(url) => url,
            Err(e) => {
                problems.push_with_example(key, e.to_string(), example);
                return LedgerLocation::Embedded;
            }
        };
        let scheme_ok = ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.expose_secret().starts_with(scheme));
        if !scheme_ok || crate::store::describe_ledger_server(&url).is_none() {
            problems.push(
                key,
                format!(
                    "{} does not hold a postgres:// URL (postgres://user:password@host:5432/database; the value is not shown)",
                    spec.origin()
                ),
            );
        }
        LedgerLocation::Postgres { url, schema }
    }
}

/// `[store] ledger_schema` with `{tenant}` filled in, or the default (`kassa`, a tenant's
/// `kassa_<tenant>`), checked to be a lower-case Postgres identifier.
fn ledger_schema(given: Option<&str>, tenant: Option<&str>, problems: &mut Problems) -> String {
    let tenant_part = tenant.map(|name| name.to_lowercase().replace('-', "_"));
    let schema = match (given, &tenant_part) {
        (Some(text), Some(name)) => text.replace(TENANT_PLACEHOLDER, name),
        (Some(text), None) if text.contains(TENANT_PLACEHOLDER) => {
            problems.push(
                "store.ledger_schema",
                format!(
                    "{text:?} contains {TENANT_PLACEHOLDER}, which only a tenant's configuration fills in; run with --tenants DIR (and --tenant NAME), or name one schema"
                ),
            );
            return text.to_string();
        }
        (Some(text), None) => text.to_string(),
        (None, Some(name)) => format!("kassa_{name}"),
        (None, None) => "kassa".to_string(),
    };
    let mut chars = schema.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63;
    if !identifier {
        problems.push_with_example(
            "store.ledger_schema",
            format!(
                "{schema:?} is not a usable Postgres schema name: lower-case letters, digits and _, starting with a letter or _, at most 63 bytes"
            ),
            "ledger_schema = \"kassa_{tenant}\"",
        );
    }
    schema
}

/// The sections kassa reads, for suggestions: `[[name]]` for lists of tables.
const SECTIONS: &[(&str, bool)] = &[
    ("store", false),
    ("analysis", false),
    ("reconciliation", false),
    ("alerting", false),
    ("worker", false),
    ("log", false),
    ("sources", true),
    ("alerts", true),
];

/// What `[store] path` may contain to give each tenant its own store.
pub const TENANT_PLACEHOLDER: &str = "{tenant}";

/// A configuration file that was read: `canonical` to recognise its values by their origin,
/// `dir` for the relative paths in it.
#[derive(Debug)]
struct ConfigFile {
    canonical: PathBuf,
    dir: PathBuf,
}

/// What `config` records as the origin of a value read from an environment variable.
const ENV_ORIGIN: &str = "the environment";

/// One table of the merged configuration, read key by key: each getter takes its key out and
/// records it as known, so whatever is left at [`Table::finish`] is unknown. Problems are
/// collected in the table and handed over by `finish`.
struct Table<'a> {
    /// The dotted path of the table (`analysis`), empty for the root.
    path: String,
    entries: config::Map<String, config::Value>,
    known: Vec<&'static str>,
    problems: Problems,
    files: &'a [ConfigFile],
    /// Every key read from an environment variable, with that variable.
    env_keys: Vec<(String, String)>,
}

impl<'a> Table<'a> {
    fn new(
        path: String,
        entries: config::Map<String, config::Value>,
        files: &'a [ConfigFile],
    ) -> Table<'a> {
        Table {
            path,
            entries,
            known: Vec::new(),
            problems: Problems::default(),
            files,
            env_keys: Vec::new(),
        }
    }

    fn key(&self, name: &str) -> String {
        join_key(&self.path, name)
    }

    /// Takes `name` out of the table, noting where it came from.
    fn take(&mut self, name: &'static str) -> Option<config::Value> {
        self.known.push(name);
        let value = self.entries.remove(name)?;
        if value.origin() == Some(ENV_ORIGIN) {
            let key = self.key(name);
            self.env_keys.push((key.clone(), env_variable(&key)));
        }
        Some(value)
    }

    /// Takes `name` and converts it, or records "expected {expected}, got …".
    fn typed<T>(
        &mut self,
        name: &'static str,
        expected: &str,
        convert: impl FnOnce(&config::ValueKind) -> Option<T>,
    ) -> Option<T> {
        let value = self.take(name)?;
        if matches!(value.kind, config::ValueKind::Nil) {
            return None;
        }
        let converted = convert(&value.kind);
        if converted.is_none() {
            let key = self.key(name);
            self.problems.push(
                key,
                format!("expected {expected}, got {}", describe(&value)),
            );
        }
        converted
    }

    fn string(&mut self, name: &'static str) -> Option<String> {
        self.typed(name, "a string", scalar_text)
    }

    fn int(&mut self, name: &'static str) -> Option<i64> {
        self.typed(name, "an integer", |kind| match kind {
            config::ValueKind::I64(n) => Some(*n),
            config::ValueKind::U64(n) => i64::try_from(*n).ok(),
            config::ValueKind::I128(n) => i64::try_from(*n).ok(),
            config::ValueKind::U128(n) => i64::try_from(*n).ok(),
            config::ValueKind::String(text) => text.trim().parse().ok(),
            _ => None,
        })
    }

    fn float(&mut self, name: &'static str) -> Option<f64> {
        self.typed(name, "a number", number)
    }

    fn strings(&mut self, name: &'static str) -> Option<Vec<String>> {
        self.typed(name, "a list of strings", |kind| match kind {
            config::ValueKind::Array(items) => {
                items.iter().map(|item| scalar_text(&item.kind)).collect()
            }
            _ => None,
        })
    }

    /// A path; a relative one from the configuration file is made relative to its directory.
    fn path(&mut self, name: &'static str) -> Option<PathBuf> {
        let value = self.entries.get(name).cloned();
        let text = self.string(name)?;
        let path = PathBuf::from(text);
        Some(match value.and_then(|v| self.base_of(&v)) {
            Some(base) => base.join(path),
            None => path,
        })
    }

    /// The directory relative paths in `value` are relative to: the configuration file's when
    /// the value comes from one; `None` (the working directory) for defaults and environment.
    /// With a base and a tenant file, the value's origin (the file as `config` names it,
    /// relative to the working directory) tells which.
    fn base_of(&self, value: &config::Value) -> Option<PathBuf> {
        let origin = leaf_origin(value)?;
        if origin == ENV_ORIGIN {
            return None;
        }
        let file = match self.files {
            [] => return None,
            [only] => only,
            [first, ..] => {
                let canonical = std::fs::canonicalize(origin).ok();
                self.files
                    .iter()
                    .find(|file| Some(&file.canonical) == canonical.as_ref())
                    .unwrap_or(first)
            }
        };
        Some(file.dir.clone())
    }

    /// The sub-table `name`, read the same way; its problems come back from its `finish`.
    fn section(&mut self, name: &'static str) -> Table<'a> {
        let key = self.key(name);
        let entries = match self.take(name) {
            None => config::Map::new(),
            Some(value) => match value.kind {
                config::ValueKind::Table(entries) => entries,
                config::ValueKind::Nil => config::Map::new(),
                _ => {
                    self.problems.push(
                        key.clone(),
                        format!("expected a [{key}] table, got {}", describe(&value)),
                    );
                    config::Map::new()
                }
            },
        };
        Table::new(key, entries, self.files)
    }

    /// Every key left in the table, taken out (for tables whose keys are data: `[currency.rates]`).
    fn rest(&mut self) -> Vec<(String, config::Value)> {
        let mut rest: Vec<(String, config::Value)> =
            std::mem::take(&mut self.entries).into_iter().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        rest
    }

    /// The list of tables `name` (`[[sources]]`); empty when absent.
    fn tables(&mut self, name: &'static str) -> Vec<config::Value> {
        match self.take(name) {
            None => Vec::new(),
            Some(value) => match value.kind {
                config::ValueKind::Array(items) => items,
                config::ValueKind::Nil => Vec::new(),
                _ => {
                    self.problems.push(
                        name,
                        format!(
                            "expected a list of [[{name}]] tables, got {}",
                            describe(&value)
                        ),
                    );
                    Vec::new()
                }
            },
        }
    }

    /// Reports every key nobody asked for, with the closest known one as a suggestion, hands
    /// the table's problems over to `problems` and the keys read from the environment (with
    /// their variables) over to `env_keys`.
    fn finish(self, problems: &mut Problems, env_keys: &mut Vec<(String, String)>) {
        problems.extend(self.problems);
        env_keys.extend(self.env_keys);
        // Sorted, so the same file always lists its problems in the same order.
        let mut unknown: Vec<_> = self.entries.into_iter().collect();
        unknown.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in unknown {
            let key = join_key(&self.path, &name);
            let message = if self.path.is_empty() {
                let shape = |name: &str, list: bool| {
                    if list {
                        format!("[[{name}]]")
                    } else {
                        format!("[{name}]")
                    }
                };
                let list = matches!(value.kind, config::ValueKind::Array(_));
                let suggestion = closest(&name, SECTIONS.iter().map(|(known, _)| *known))
                    .and_then(|known| SECTIONS.iter().find(|(k, _)| *k == known))
                    .map(|(known, list)| format!("; did you mean {}?", shape(known, *list)))
                    .unwrap_or_default();
                format!(
                    "{} is not a section kassa knows{suggestion}",
                    shape(&name, list)
                )
            } else {
                let hint = match closest(&name, self.known.iter().copied()) {
                    Some(known) => format!("did you mean `{known}`?"),
                    None => format!("known keys: {}", self.known.join(", ")),
                };
                format!("unknown key `{name}` in [{}]; {hint}", self.path)
            };
            problems.push(key.clone(), message);
            if leaf_origin(&value) == Some(ENV_ORIGIN) {
                let variable = env_variable(&first_leaf_key(&key, &value));
                env_keys.push((key, variable));
            }
        }
    }
}

/// Deserialises one `[[sources]]` or `[[alerts]]` table (`kinds` lists the kinds it may be,
/// `example` shows a right one), reporting every problem in it under its full key.
///
/// serde stops at the first problem, and through the `kind`-tagged enum a value of the wrong
/// type names no key. So the key at fault is found by leaving keys out one at a time (serde
/// meets a bad value while walking the keys, so leaving out any other key changes nothing,
/// leaving out the bad one changes the error); it is reported and left out, and the rest is
/// tried again, until the table deserialises or what is wrong belongs to no single key (a
/// missing key, an unknown kind). What deserialises is returned even after a problem, so its
/// own validation can report more; the problems keep the configuration from being used.
fn read_table<T: serde::de::DeserializeOwned>(
    table: config::Value,
    key: &str,
    (kinds, example): (&str, &str),
    problems: &mut Problems,
) -> Option<T> {
    let origin = table.origin().map(str::to_string);
    let config::ValueKind::Table(mut entries) = table.kind else {
        problems.push_with_example(
            key,
            format!("expected a table, got {}", describe(&table)),
            example,
        );
        return None;
    };
    let attempt = |entries: &config::Map<String, config::Value>| {
        config::Value::new(origin.as_ref(), config::ValueKind::Table(entries.clone()))
            .try_deserialize::<T>()
    };
    // By key, so a file lists its problems in the same order every time (the table's keys
    // come in no particular order).
    let mut found = std::collections::BTreeMap::new();
    let read = loop {
        let error = match attempt(&entries) {
            Ok(value) => break Some(value),
            Err(error) => error,
        };
        let message = error.to_string();
        // A missing key is the table's problem, not one of its keys' (and leaving any key out
        // would change which key serde says is missing).
        if let Some(name) = missing_key(&message) {
            problems.push_with_example(join_key(key, name), "is required", example);
            break None;
        }
        let at_fault = entries
            .keys()
            .filter(|name| name.as_str() != "kind")
            .find(|name| {
                let mut without = entries.clone();
                without.remove(name.as_str());
                attempt(&without).map_or_else(|e| e.to_string() != message, |_| true)
            })
            .cloned();
        let Some(name) = at_fault else {
            problems.push_with_example(key, table_error(&error, kinds), example);
            break None;
        };
        let problem = match entries.remove(&name) {
            Some(value) if message.starts_with("invalid type: ") => format!(
                "expected {}, got {}",
                expected_type(&message),
                describe(&value)
            ),
            Some(_) if message.starts_with("unknown field") => {
                let suggested = with_suggestion(&message);
                match suggested.split_once("; did you mean ") {
                    Some((_, known)) => format!("unknown key `{name}`; did you mean {known}"),
                    None => format!(
                        "unknown key `{name}`; known keys: {}",
                        message
                            .split_once("expected ")
                            .map_or("", |(_, known)| known)
                            .trim_start_matches("one of ")
                    ),
                }
            }
            _ => table_error(&error, kinds),
        };
        found.insert(join_key(key, &name), problem);
    };
    for (key, problem) in found {
        problems.push(key, problem);
    }
    read
}

/// The key a "missing field" error names.
fn missing_key(message: &str) -> Option<&str> {
    let rest = ["missing configuration field ", "missing field "]
        .iter()
        .find_map(|start| Some(&message[message.find(start)? + start.len()..]))?;
    rest.split(['"', '`']).nth(1)
}

/// serde's "expected u32" in words: "expected an integer".
fn expected_type(message: &str) -> String {
    let expected = message
        .split(", expected ")
        .nth(1)
        .unwrap_or("another type")
        .split(" for key ")
        .next()
        .unwrap_or_default();
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            "an integer".to_string()
        }
        "f32" | "f64" => "a number".to_string(),
        "a boolean" => "true or false".to_string(),
        other => other.to_string(),
    }
}

/// Why a `[[sources]]` or `[[alerts]]` table did not deserialise, with the closest known
/// name for a misspelt key or kind, and the kinds when the kind is what is wrong.
fn table_error(error: &config::ConfigError, kinds: &str) -> String {
    let message = with_suggestion(&error.to_string());
    if message.contains("`kind`") && !message.contains("did you mean") {
        format!("{message} (kind must be one of {kinds})")
    } else {
        message
    }
}

/// `path.name`, or `name` at the root.
fn join_key(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The environment variable that sets the dotted `key`: `KASSA__ANALYSIS__BASELINE_PERIODS`.
fn env_variable(key: &str) -> String {
    format!("KASSA__{}", key.replace('.', "__").to_uppercase())
}

/// The origin of a value, or of the first value inside a table or list.
fn leaf_origin(value: &config::Value) -> Option<&str> {
    match &value.kind {
        config::ValueKind::Table(entries) => entries.values().find_map(leaf_origin),
        config::ValueKind::Array(items) => items.iter().find_map(leaf_origin),
        _ => value.origin(),
    }
}

/// The dotted key of the first value inside `value`, which sits at `key`.
fn first_leaf_key(key: &str, value: &config::Value) -> String {
    match &value.kind {
        config::ValueKind::Table(entries) => entries
            .iter()
            .next()
            .map(|(name, inner)| first_leaf_key(&format!("{key}.{name}"), inner))
            .unwrap_or_else(|| key.to_string()),
        _ => key.to_string(),
    }
}

/// A scalar as text: strings as they are, numbers and booleans as written (an environment
/// variable such as `KASSA__STORE__PATH=2025` arrives as a number).
fn scalar_text(kind: &config::ValueKind) -> Option<String> {
    match kind {
        config::ValueKind::String(text) => Some(text.clone()),
        config::ValueKind::I64(n) => Some(n.to_string()),
        config::ValueKind::U64(n) => Some(n.to_string()),
        config::ValueKind::Float(v) => Some(v.to_string()),
        config::ValueKind::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A value as a user would recognise it in an error: `"four"`, `4.5`, `a table`.
fn describe(value: &config::Value) -> String {
    match &value.kind {
        config::ValueKind::String(text) => format!("{text:?}"),
        config::ValueKind::Table(_) => "a table".to_string(),
        config::ValueKind::Array(_) => "a list".to_string(),
        config::ValueKind::Nil => "nothing".to_string(),
        other => other.to_string(),
    }
}

fn validate_analysis(raw: RawAnalysis, problems: &mut Problems) -> (Tz, RuleSettings) {
    let chain = validate_chain(&raw, problems);
    let defaults = RuleSettings::default();
    let audit = validate_audit(&raw, defaults.audit, problems);
    let granularity = match raw.granularity.as_deref() {
        None => defaults.granularity,
        Some(text) => parse_enum::<Granularity>(text).unwrap_or_else(|| {
            problems.push_with_example(
                "analysis.granularity",
                format!("{text:?} is not one of day, week, month"),
                "granularity = \"week\"",
            );
            defaults.granularity
        }),
    };
    let timezone = match raw.timezone.as_deref() {
        None => Tz::UTC,
        Some(text) => Tz::from_str(text).unwrap_or_else(|_| {
            problems.push_with_example(
                "analysis.timezone",
                format!("{text:?} is not an IANA time zone name"),
                "timezone = \"Europe/Moscow\"",
            );
            Tz::UTC
        }),
    };
    let baseline_periods = match raw.baseline_periods {
        None => defaults.baseline_periods,
        Some(n) if (1..=104).contains(&n) => n as usize,
        Some(n) => {
            problems.push_with_example(
                "analysis.baseline_periods",
                format!("{n} is out of range; use 1 to 104 periods"),
                "baseline_periods = 4",
            );
            defaults.baseline_periods
        }
    };
    let activity_metrics = match raw.activity_metrics {
        None => defaults.activity_metrics.clone(),
        Some(names) => {
            let mut metrics = Vec::new();
            for name in &names {
                match parse_enum::<ActivityMetric>(name.trim()) {
                    Some(m) if !metrics.contains(&m) => metrics.push(m),
                    Some(_) => {}
                    None => problems.push_with_example(
                        "analysis.activity_metrics",
                        format!("{name:?} is not one of {}", ActivityMetric::ALL),
                        "activity_metrics = [\"clicks\", \"reach\", \"ctr\"]",
                    ),
                }
            }
            if names.is_empty() {
                problems.push_with_example(
                    "analysis.activity_metrics",
                    "needs at least one metric",
                    "activity_metrics = [\"clicks\", \"reach\", \"ctr\"]",
                );
            }
            metrics
        }
    };
    let money_metric = match raw.money_metric.as_deref() {
        None => defaults.money_metric,
        Some(text) => parse_enum::<MoneyMetric>(text).unwrap_or_else(|| {
            problems.push_with_example(
                "analysis.money_metric",
                format!("{text:?} is not one of {}", MoneyMetric::ALL),
                "money_metric = \"revenue\"",
            );
            defaults.money_metric
        }),
    };
    let activity_growth_min = growth_threshold(
        problems,
        "analysis.activity_growth_min",
        raw.activity_growth_min,
        defaults.activity_growth_min,
        "activity_growth_min = 0.20",
    );
    let money_growth_max = growth_threshold(
        problems,
        "analysis.money_growth_max",
        raw.money_growth_max,
        defaults.money_growth_max,
        "money_growth_max = 0.0",
    );
    let lag = validate_lag(raw.lag_periods, raw.max_lag_periods, granularity, problems);
    let mut audit = audit;
    audit.max_lag = lag.max_lag(granularity);
    let returning_fall_periods = match raw.returning_fall_periods {
        None => defaults.returning_fall_periods,
        Some(n) if (1..=52).contains(&n) => n as usize,
        Some(n) => {
            problems.push_with_example(
                "analysis.returning_fall_periods",
                format!("{n} is out of range; use 1 to 52 periods"),
                "returning_fall_periods = 3",
            );
            defaults.returning_fall_periods
        }
    };
    (
        timezone,
        RuleSettings {
            granularity,
            baseline_periods,
            activity_metrics,
            activity_growth_min,
            money_metric,
            money_growth_max,
            lag,
            returning_fall_periods,
            reconciliation: ReconcileSettings::default(),
            currency: CurrencySettings::default(),
            audit,
            chain,
        },
    )
}

/// The metric audit's `[analysis]` keys: a minimum of at least 4 pairs (below that Fisher's
/// interval is undefined) and a window that can hold it (else no metric ever gets a verdict).
fn validate_audit(
    raw: &RawAnalysis,
    defaults: AuditSettings,
    problems: &mut Problems,
) -> AuditSettings {
    let mut key = |name: &'static str,
                   value: Option<i64>,
                   range: std::ops::RangeInclusive<i64>,
                   default: usize,
                   example: &str| match value {
        None => default,
        Some(n) if range.contains(&n) => n as usize,
        Some(n) => {
            problems.push_with_example(
                format!("analysis.{name}"),
                format!(
                    "{n} is out of range; use {} to {} periods",
                    range.start(),
                    range.end()
                ),
                example,
            );
            default
        }
    };
    let min_periods = key(
        "min_periods",
        raw.min_periods,
        4..=1000,
        defaults.min_periods,
        "min_periods = 8",
    );
    let periods = key(
        "audit_periods",
        raw.audit_periods,
        4..=1000,
        defaults.periods,
        "audit_periods = 26",
    );
    if periods < min_periods {
        problems.push_with_example(
            "analysis.audit_periods",
            format!("{periods} periods can never hold min_periods = {min_periods} pairs; use at least {min_periods}"),
            "audit_periods = 26",
        );
    }
    // The longest lag is the lag rule's `max_lag_periods`, set once the granularity is known.
    AuditSettings {
        periods,
        max_lag: defaults.max_lag,
        min_periods,
    }
}

/// `[analysis] max_lag_periods` (1 to 104; default by granularity) and `lag_periods` ("auto" or
/// 0 to `max_lag_periods`: a fixed lag beyond the longest one tried could never be learned or
/// checked against the data).
fn validate_lag(
    lag_periods: Option<String>,
    max_lag_periods: Option<i64>,
    g: Granularity,
    problems: &mut Problems,
) -> LagSettings {
    let max_lag_periods = match max_lag_periods {
        None => None,
        Some(n) if (1..=104).contains(&n) => Some(n as usize),
        Some(n) => {
            problems.push_with_example(
                "analysis.max_lag_periods",
                format!("{n} is out of range; use 1 to 104 periods"),
                "max_lag_periods = 6",
            );
            None
        }
    };
    let mut lag = LagSettings {
        lag_periods: LagPeriods::default(),
        max_lag_periods,
    };
    let max = lag.max_lag(g);
    lag.lag_periods = match lag_periods.as_deref().map(str::trim) {
        None => LagPeriods::default(),
        Some("auto") => LagPeriods::Auto,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n <= max => LagPeriods::Fixed(n),
            _ => {
                problems.push_with_example(
                    "analysis.lag_periods",
                    format!("{text:?} is not \"auto\" or a number of periods from 0 to {max} (max_lag_periods)"),
                    "lag_periods = \"auto\"",
                );
                LagPeriods::default()
            }
        },
    };
    lag
}

/// The chain rules' keys of `[analysis]`: each checked on its own, with an example.
fn validate_chain(raw: &RawAnalysis, problems: &mut Problems) -> ChainSettings {
    let defaults = ChainSettings::default();
    let spend_floor = match raw.spend_without_money_floor {
        None => defaults.spend_floor,
        Some(v) if (0.0..1e12).contains(&v) => Money::from_micros((v * 1e6).round() as i64),
        Some(v) => {
            problems.push_with_example(
                "analysis.spend_without_money_floor",
                format!("{v} is not an amount of zero or more in the reporting currency"),
                "spend_without_money_floor = 1000",
            );
            defaults.spend_floor
        }
    };
    let spend_periods = match raw.spend_without_money_periods {
        None => defaults.spend_periods,
        Some(n) if (1..=104).contains(&n) => n as usize,
        Some(n) => {
            problems.push_with_example(
                "analysis.spend_without_money_periods",
                format!("{n} is out of range; use 1 to 104 periods"),
                "spend_without_money_periods = 3",
            );
            defaults.spend_periods
        }
    };
    let min = crate::analysis::stats::MIN_PERIODS as i64;
    let decoupling_window = match raw.decoupling_window {
        None => defaults.decoupling_window,
        Some(n) if (min..=104).contains(&n) => n as usize,
        Some(n) => {
            problems.push_with_example(
                "analysis.decoupling_window",
                format!(
                    "{n} is out of range; use {min} to 104 periods (no correlation is computed on fewer than {min})"
                ),
                "decoupling_window = 8",
            );
            defaults.decoupling_window
        }
    };
    let decoupling_max_r = match raw.decoupling_max_r {
        None => defaults.decoupling_max_r,
        Some(r) if (-1.0..=1.0).contains(&r) => r,
        Some(r) => {
            problems.push_with_example(
                "analysis.decoupling_max_r",
                format!("{r} is not a correlation between -1 and 1"),
                "decoupling_max_r = 0.3",
            );
            defaults.decoupling_max_r
        }
    };
    ChainSettings {
        spend_floor,
        spend_periods,
        decoupling_window,
        decoupling_max_r,
    }
}

/// Growth beyond this (1000%) is taken for a percentage written as a whole number.
const GROWTH_BOUND: f64 = 10.0;

/// A growth threshold is a fraction (`0.20` is 20%): `20` would mean 2000% and silently flag
/// nothing, so values beyond ±[`GROWTH_BOUND`] are refused with the fraction they likely meant.
/// `[store] max_shrink`: a fraction of the stored amount, more than 0 and at most 1 (which
/// marks no shrinking at all); 0.5 when not set.
fn validate_max_shrink(value: Option<f64>, problems: &mut Problems) -> f64 {
    const DEFAULT: f64 = 0.5;
    match value {
        None => DEFAULT,
        Some(v) if v > 0.0 && v <= 1.0 => v,
        Some(v) => {
            let why = if v > 1.0 && v <= 100.0 {
                format!(
                    "{v} is not a fraction between 0 and 1 (0.5 is 50%): for {v}% write {}",
                    v / 100.0
                )
            } else {
                format!("{v} is not a fraction more than 0 and at most 1 (0.5 is 50%)")
            };
            problems.push_with_example("store.max_shrink", why, "max_shrink = 0.5");
            DEFAULT
        }
    }
}

fn growth_threshold(
    problems: &mut Problems,
    key: &str,
    value: Option<f64>,
    default: f64,
    example: &str,
) -> f64 {
    match value {
        None => default,
        Some(v) if v.is_finite() && v.abs() <= GROWTH_BOUND => v,
        Some(v) if v.is_finite() => {
            problems.push_with_example(
                key,
                format!(
                    "{v} means {}% (growth is a fraction, so 0.20 is 20%): for {v}% write {}; \
                     values beyond ±{GROWTH_BOUND} (1000%) are refused",
                    v * 100.0,
                    v / 100.0
                ),
                example,
            );
            default
        }
        Some(v) => {
            problems.push_with_example(key, format!("{v} is not a finite number"), example);
            default
        }
    }
}

/// `[reconciliation]`: `tolerance` is a fraction of the observation from 0 to 1 (0.10 is
/// 10%); each `min_abs` floor is a non-negative count, or for `revenue` and `spend` a fraction
/// of the observed amount from 0 to 1. Every bad key is reported; the defaults stand in.
fn validate_reconciliation(
    tolerance: Option<f64>,
    floors: Vec<(&'static str, Option<f64>)>,
    problems: &mut Problems,
) -> ReconcileSettings {
    let mut settings = ReconcileSettings::default();
    match tolerance {
        None => {}
        Some(v) if (0.0..=1.0).contains(&v) => settings.tolerance = v,
        Some(v) => problems.push_with_example(
            "reconciliation.tolerance",
            if v > 1.0 && v <= 100.0 {
                format!(
                    "{v} is not a fraction between 0 and 1 (0.10 is 10%): for {v}% write {}",
                    v / 100.0
                )
            } else {
                format!("{v} is not a fraction between 0 and 1 (0.10 is 10%)")
            },
            "tolerance = 0.10",
        ),
    }
    for (key, value) in floors {
        let Some(v) = value else { continue };
        let money = matches!(key, "revenue" | "spend");
        let fits = if money {
            (0.0..=1.0).contains(&v)
        } else {
            v.is_finite() && v >= 0.0
        };
        if !fits {
            let full = format!("reconciliation.min_abs.{key}");
            let (why, example) = if money {
                (
                    format!(
                        "{v} is not a fraction of the observed amount between 0 and 1 (0.01 is 1%)"
                    ),
                    format!("min_abs = {{ {key} = 0.01 }}"),
                )
            } else {
                (
                    format!("{v} is not a count of zero or more"),
                    format!("min_abs = {{ {key} = 3 }}"),
                )
            };
            problems.push_with_example(full, why, example);
        } else if let Some(slot) = settings.min_abs.slot(key) {
            *slot = v;
        }
    }
    settings
}

impl Default for AlertingSettings {
    fn default() -> Self {
        AlertingSettings {
            locale: Locale::En,
            window_periods: 2,
            max_per_run: 10,
            update_min_growth: 0.10,
            dead_after_runs: 5,
            source_down_after_runs: 2,
            currency: None,
            report_url: None,
        }
    }
}

impl WorkerSettings {
    fn default_in(timezone: Tz) -> WorkerSettings {
        #[allow(clippy::expect_used, reason = "a constant, valid cron expression")]
        WorkerSettings {
            schedule: "0 6 * * *".parse().expect("a valid cron expression"),
            schedule_text: "0 6 * * *".to_string(),
            timezone,
            listen: SocketAddr::from(([127, 0, 0, 1], 9184)),
            shutdown_grace: std::time::Duration::from_secs(60),
            report_token: ReportToken::default(),
        }
    }
}

fn validate_alerting(raw: RawAlerting, problems: &mut Problems) -> AlertingSettings {
    let defaults = AlertingSettings::default();
    let locale = match raw.locale.as_deref() {
        None => defaults.locale,
        Some(text) => parse_enum::<Locale>(text).unwrap_or_else(|| {
            problems.push_with_example(
                "alerting.locale",
                format!("{text:?} is not en or ru"),
                "locale = \"ru\"",
            );
            defaults.locale
        }),
    };
    let mut count = |key: &str,
                     value: Option<i64>,
                     default: usize,
                     range: std::ops::RangeInclusive<i64>| match value {
        None => default,
        Some(n) if range.contains(&n) => n as usize,
        Some(n) => {
            problems.push(
                key,
                format!(
                    "{n} is out of range; use {} to {}",
                    range.start(),
                    range.end()
                ),
            );
            default
        }
    };
    let window_periods = count(
        "alerting.window_periods",
        raw.window_periods,
        defaults.window_periods,
        1..=52,
    );
    let max_per_run = count(
        "alerting.max_per_run",
        raw.max_per_run,
        defaults.max_per_run,
        1..=1000,
    );
    let dead_after_runs = count(
        "alerting.dead_after_runs",
        raw.dead_after_runs,
        defaults.dead_after_runs as usize,
        1..=1000,
    ) as u32;
    let source_down_after_runs = count(
        "alerting.source_down_after_runs",
        raw.source_down_after_runs,
        defaults.source_down_after_runs as usize,
        1..=1000,
    ) as u32;
    let update_min_growth = match raw.update_min_growth {
        Some(v) if v < 0.0 => {
            problems.push_with_example(
                "alerting.update_min_growth",
                format!("{v} is not a number ≥ 0"),
                "update_min_growth = 0.10",
            );
            defaults.update_min_growth
        }
        value => growth_threshold(
            problems,
            "alerting.update_min_growth",
            value,
            defaults.update_min_growth,
            "update_min_growth = 0.10",
        ),
    };
    let currency = match raw.currency.map(|c| c.trim().to_uppercase()) {
        None => None,
        Some(c) if c.is_empty() => None,
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => Some(c),
        Some(c) => {
            problems.push_with_example(
                "alerting.currency",
                format!("{c:?} is not a three-letter ISO 4217 code"),
                "currency = \"RUB\"",
            );
            None
        }
    };
    let report_url = raw
        .report_url
        .filter(|text| !text.trim().is_empty())
        .and_then(|text| match validate_report_url(&text) {
            Ok(url) => Some(url),
            Err(why) => {
                problems.push_with_example(
                    "alerting.report_url",
                    format!("{text:?} {why}"),
                    "report_url = \"https://kassa.example.com/report\"",
                );
                None
            }
        });
    AlertingSettings {
        locale,
        window_periods,
        max_per_run,
        update_min_growth,
        dead_after_runs,
        source_down_after_runs,
        currency,
        report_url,
    }
}

/// The report's address as people's browsers will open it: absolute, http or https, with a
/// host. Not a secret (it goes into every chat message), so it may be quoted in errors.
fn validate_report_url(text: &str) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(text.trim()).map_err(|_| "is not an absolute URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("is not an http:// or https:// URL");
    }
    if url.host().is_none() {
        return Err("has no host");
    }
    Ok(url)
}

/// A configuration value as a number, if it is one (or a string holding one).
fn number(kind: &config::ValueKind) -> Option<f64> {
    match kind {
        config::ValueKind::Float(v) => Some(*v),
        config::ValueKind::I64(n) => Some(*n as f64),
        config::ValueKind::U64(n) => Some(*n as f64),
        config::ValueKind::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// `[currency]` as read.
struct RawCurrency {
    present: bool,
    reporting: Option<String>,
    /// `[currency.rates]`: each currency with its rate, `None` when it is not a number.
    rates: Vec<(String, Option<f64>)>,
    valid_days: Option<i64>,
}

fn validate_currency(
    raw: RawCurrency,
    alerting_currency: Option<&str>,
    problems: &mut Problems,
) -> CurrencySettings {
    let valid_days = match raw.valid_days {
        None => currency::DEFAULT_VALID_DAYS,
        Some(days) => match u32::try_from(days) {
            Ok(days) if (1..=366).contains(&days) => days,
            _ => {
                problems.push_with_example(
                    "currency.rate_valid_days",
                    format!("{days} is not between 1 and 366"),
                    "rate_valid_days = 7",
                );
                currency::DEFAULT_VALID_DAYS
            }
        },
    };
    let mut rates = currency::Rates::new(valid_days);
    let reporting = match raw.reporting.map(|c| c.trim().to_uppercase()) {
        Some(code) if currency::is_currency_code(&code) => Some(code),
        Some(code) => {
            problems.push_with_example(
                "currency.reporting",
                format!("{code:?} is not a three-letter ISO 4217 code"),
                "reporting = \"RUB\"",
            );
            None
        }
        None => {
            if raw.present {
                problems.push_with_example(
                    "currency.reporting",
                    "is required: the currency every amount is converted into",
                    "reporting = \"RUB\"",
                );
            }
            None
        }
    };
    if let (Some(reporting), Some(alerting)) = (&reporting, alerting_currency)
        && reporting != alerting
    {
        problems.push_with_example(
            "alerting.currency",
            format!(
                "is {alerting} but [currency] reporting is {reporting}; amounts are shown in the reporting currency, so remove alerting.currency"
            ),
            "[currency]\nreporting = \"RUB\"",
        );
    }
    for (name, rate) in raw.rates {
        let code = name.trim().to_uppercase();
        let key = format!("currency.rates.{name}");
        if !currency::is_currency_code(&code) {
            problems.push_with_example(
                key,
                format!("{name:?} is not a three-letter ISO 4217 code"),
                "rates = { USD = 92.5, KZT = 0.19 }",
            );
            continue;
        }
        match rate.and_then(currency::Rate::from_f64) {
            Some(rate) => rates.set_fixed(&code, rate),
            None => problems.push_with_example(
                key,
                "is not a positive number (units of the reporting currency for one unit of this one)",
                "rates = { USD = 92.5, KZT = 0.19 }",
            ),
        }
    }
    CurrencySettings {
        unnamed: reporting.clone().or(alerting_currency.map(str::to_string)),
        reporting,
        rates,
    }
}

fn validate_worker(
    raw: RawWorker,
    analysis_timezone: Tz,
    problems: &mut Problems,
) -> WorkerSettings {
    let mut worker = WorkerSettings::default_in(analysis_timezone);
    if let Some(text) = raw.schedule {
        match text.parse::<croner::Cron>() {
            Ok(cron) => {
                worker.schedule = cron;
                worker.schedule_text = text;
            }
            Err(e) => problems.push_with_example(
                "worker.schedule",
                format!("{text:?} is not a cron expression: {e}"),
                "schedule = \"0 6 * * *\"",
            ),
        }
    }
    if let Some(text) = raw.timezone {
        match Tz::from_str(&text) {
            Ok(tz) => worker.timezone = tz,
            Err(_) => problems.push_with_example(
                "worker.timezone",
                format!("{text:?} is not an IANA time zone name"),
                "timezone = \"Europe/Moscow\"",
            ),
        }
    }
    if let Some(text) = raw.listen {
        match text.parse::<SocketAddr>() {
            Ok(addr) => worker.listen = addr,
            Err(_) => problems.push_with_example(
                "worker.listen",
                format!("{text:?} is not an address and port"),
                "listen = \"0.0.0.0:9184\"",
            ),
        }
    }
    match raw.shutdown_grace_seconds {
        None => {}
        Some(n) if (0..=3600).contains(&n) => {
            worker.shutdown_grace = std::time::Duration::from_secs(n as u64)
        }
        Some(n) => problems.push(
            "worker.shutdown_grace_seconds",
            format!("{n} is out of range; use 0 to 3600"),
        ),
    }
    worker.report_token = ReportToken {
        env: raw.report_token_env,
        file: raw.report_token_file,
    };
    // Optional: only a token that is named must be found (a missing one is forgotten by
    // commands that serve no report, like every other unavailable secret).
    if worker.report_token.is_configured() {
        worker
            .report_token
            .spec()
            .validate("worker", &process_env, problems);
    }
    worker
}

fn validate_log(raw: RawLog, problems: &mut Problems) -> LogSettings {
    let format = match raw.format.as_deref() {
        None => LogFormat::default(),
        Some(text) => parse_enum::<LogFormat>(text).unwrap_or_else(|| {
            problems.push_with_example(
                "log.format",
                format!("{text:?} is not one of {}", LogFormat::ALL),
                "format = \"json\"",
            );
            LogFormat::default()
        }),
    };
    LogSettings { format }
}

fn parse_enum<T: for<'de> Deserialize<'de>>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_a_schema_of_its_own_and_bad_schemas_are_named() {
        let schema = |given: Option<&str>, tenant: Option<&str>| {
            let mut problems = Problems::default();
            let schema = ledger_schema(given, tenant, &mut problems);
            (
                schema,
                problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(schema(None, None), ("kassa".to_string(), vec![]));
        assert_eq!(
            schema(None, Some("acme-corp")),
            ("kassa_acme_corp".to_string(), vec![])
        );
        assert_eq!(
            schema(Some("ledger_{tenant}"), Some("globex")),
            ("ledger_globex".to_string(), vec![])
        );
        for bad in ["Kassa", "1kassa", "kassa-acme", &"k".repeat(64)] {
            let (_, problems) = schema(Some(bad), None);
            assert!(problems[0].contains("store.ledger_schema"), "{problems:?}");
        }
        let (_, problems) = schema(Some("kassa_{tenant}"), None);
        assert!(problems[0].contains("{tenant}"), "{problems:?}");
    }

    #[test]
    fn the_ledger_url_comes_from_exactly_one_place_and_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ledger-url");
        let location = |env: Option<&str>, file: Option<&Path>, schema: Option<&str>| {
            let mut problems = Problems::default();
            let location = LedgerKeys {
                url_env: env.map(str::to_string),
                url_file: file.map(Path::to_path_buf),
                schema: schema.map(str::to_string),
            }
            .location(None, &mut problems);
            let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            (location, problems.join("\n"))
        };
        assert_eq!(
            location(None, None, None),
            (LedgerLocation::Embedded, String::new())
        );
        assert!(
            location(None, None, Some("kassa"))
                .1
                .contains("no ledger URL")
        );
        assert!(
            location(Some("X"), Some(&file), None)
                .1
                .contains("not both")
        );
        assert!(
            location(None, Some(&file), None)
                .1
                .contains("ledger_url_file")
        );
        std::fs::write(&file, "mysql://kassa:pw-secret@db/x\n").unwrap();
        let (_, problems) = location(None, Some(&file), None);
        assert!(problems.contains("postgres://"), "{problems}");
        assert!(!problems.contains("pw-secret"), "{problems}");
        std::fs::write(&file, "postgres://kassa:pw-secret@db:5432/agency\n").unwrap();
        let (ledger, problems) = location(None, Some(&file), None);
        assert_eq!(problems, "");
        assert_eq!(
            ledger.shared_key().unwrap(),
            "Postgres schema kassa on db:5432/agency"
        );
        assert!(!format!("{ledger:?}").contains("pw-secret"));
    }

    fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let raw = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from_str(text, FileFormat::Toml))
            .build()
            .unwrap();
        Settings::from_config(&raw, &[], None, Secrets::Needed)
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = from_toml(
            r#"
            [analysis]
            granularity = "fortnight"
            timezone = "Mars/Olympus"
            activity_metrics = ["clicks", "likes"]

            [[sources]]
            name = "meta"
            kind = "meta"
            account_id = "act_12x"
            token_env = "KASSA_TEST_UNSET_TOKEN_VARIABLE"
            base_url = "http://example.com"

            [[sources]]
            name = "x"
            kind = "tiktok"
            "#,
        )
        .unwrap_err();
        let text = err.to_string();
        for expected in [
            "analysis.granularity",
            "analysis.timezone",
            "\"likes\"",
            "sources[0].account_id",
            "KASSA_TEST_UNSET_TOKEN_VARIABLE is not set",
            "sources[0].base_url",
            "sources[1]",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }

    #[test]
    fn the_log_format_is_text_or_json() {
        let source =
            "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"fixtures/demo/ads.csv\"\n";
        let json = from_toml(&format!("[log]\nformat = \"json\"\n\n{source}")).unwrap();
        assert_eq!(json.log.format, LogFormat::Json);
        assert_eq!(from_toml(source).unwrap().log.format, LogFormat::Text);
        let text = from_toml(&format!("[log]\nformat = \"xml\"\n\n{source}"))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("log.format: \"xml\" is not one of text, json"),
            "{text}"
        );
        let unknown = from_toml(&format!("[log]\nlevel = \"debug\"\n\n{source}"))
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("log.level: unknown key `level` in [log]; known keys: format"),
            "{unknown}"
        );
    }

    #[test]
    fn relative_file_keys_follow_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let absolute = elsewhere.path().join("secret");
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        for file in [
            dir.path().join("secrets/meta.token"),
            dir.path().join("secrets/url"),
            absolute.clone(),
        ] {
            std::fs::write(file, "x").unwrap();
        }
        let file = dir.path().join("kassa.toml");
        std::fs::write(
            &file,
            format!(
                "[store]\npath = \"state\"\n\n\
                 [[sources]]\nname = \"meta\"\nkind = \"meta\"\naccount_id = \"act_1\"\n\
                 token_file = \"secrets/meta.token\"\n\n\
                 [[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_file = \"secrets/url\"\n\
                 secret_file = {:?}\n",
                absolute.display().to_string()
            ),
        )
        .unwrap();
        let settings = Settings::load(Some(&file)).unwrap();
        assert_eq!(settings.store_path, dir.path().join("state"));
        let SourceConfig::Meta(meta) = &settings.sources[0] else {
            panic!("{:?}", settings.sources);
        };
        assert_eq!(
            meta.token_file.as_deref(),
            Some(dir.path().join("secrets/meta.token").as_path())
        );
        let AlertTargetConfig::Webhook(webhook) = &settings.alerts[0] else {
            panic!("{:?}", settings.alerts);
        };
        assert_eq!(
            webhook.url_file.as_deref(),
            Some(dir.path().join("secrets/url").as_path())
        );
        assert_eq!(webhook.secret_file.as_deref(), Some(absolute.as_path()));
    }

    #[test]
    fn a_tenant_file_overrides_the_base_file_and_fills_in_its_store() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.toml");
        std::fs::write(
            &base,
            "[store]\npath = \"stores/{tenant}\"\n\n[analysis]\ngranularity = \"month\"\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(dir.path().join("conf.d/ads.csv"), "").unwrap();
        let source = "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n";
        let acme = dir.path().join("conf.d/acme.toml");
        std::fs::write(
            &acme,
            format!("[analysis]\ngranularity = \"week\"\n\n{source}"),
        )
        .unwrap();
        let globex = dir.path().join("conf.d/globex.toml");
        std::fs::write(&globex, source).unwrap();

        let load = |name, file: &Path| {
            Settings::load_layered(Some(&base), Some((name, file)), Secrets::Needed).unwrap()
        };
        let acme = load("acme", &acme);
        assert_eq!(acme.rule.granularity, Granularity::Week);
        assert_eq!(acme.store_path, dir.path().join("stores/acme"));
        let SourceConfig::CsvAds(csv) = &acme.sources[0] else {
            panic!("{:?}", acme.sources);
        };
        assert_eq!(csv.path, dir.path().join("conf.d/ads.csv"));
        let globex = load("globex", &globex);
        assert_eq!(globex.rule.granularity, Granularity::Month);
        assert_eq!(globex.store_path, dir.path().join("stores/globex"));

        let alone = Settings::load(Some(&base)).unwrap_err().to_string();
        assert!(
            alone.contains("store.path") && alone.contains("{tenant}"),
            "{alone}"
        );
    }

    #[test]
    fn the_built_in_defaults_file_agrees_with_the_code_defaults() {
        let settings = from_toml(
            r#"
            [[sources]]
            name = "ads"
            kind = "csv_ads"
            path = "fixtures/demo/ads.csv"
            "#,
        )
        .unwrap();
        assert_eq!(settings.rule, RuleSettings::default());
        assert_eq!(settings.timezone, Tz::UTC);
        assert_eq!(settings.store_path, PathBuf::from("var/kassa"));
    }
}
