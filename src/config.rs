//! Configuration: built-in defaults (`config/default.toml`, compiled in), then the file given
//! with `--config`, then `KASSA__SECTION__KEY` environment variables. Everything is validated
//! before anything runs, and every problem is reported at once with the key, what is wrong and
//! an example of a right value. Secrets never live in the TOML: sources name the environment
//! variable or file that holds them.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono_tz::Tz;
use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use std::net::SocketAddr;

use crate::alerts::{AlertTargetConfig, validate_all};
use crate::analysis::{ActivityMetric, Granularity, MoneyMetric, RuleSettings};
use crate::domain::Locale;
use crate::sources::{SourceConfig, kinds_list};
use crate::telemetry::LogFormat;
use crate::validation::Problems;

/// The defaults every configuration starts from.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Everything kassa needs to run, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store_path: PathBuf,
    pub timezone: Tz,
    pub rule: RuleSettings,
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
    /// The currency amounts are shown in when the data does not say (a CSV without a
    /// `currency` column); when the data names one currency, the data wins.
    pub currency: Option<String>,
}

/// `[worker]`: the schedule and the health endpoint of `kassa worker`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    pub schedule: croner::Cron,
    pub schedule_text: String,
    pub timezone: Tz,
    pub listen: SocketAddr,
    pub shutdown_grace: std::time::Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerting {
    locale: Option<String>,
    window_periods: Option<i64>,
    max_per_run: Option<i64>,
    update_min_growth: Option<f64>,
    currency: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorker {
    schedule: Option<String>,
    timezone: Option<String>,
    listen: Option<String>,
    shutdown_grace_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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

#[derive(Debug, Deserialize)]
struct RawStore {
    path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnalysis {
    granularity: Option<String>,
    timezone: Option<String>,
    baseline_periods: Option<i64>,
    activity_metrics: Option<Vec<String>>,
    activity_growth_min: Option<f64>,
    money_metric: Option<String>,
    money_growth_max: Option<f64>,
}

impl Settings {
    /// Loads defaults, then `file` (when given), then the environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = file {
            if !path.is_file() {
                let mut problems = Problems::default();
                problems.push(
                    "--config",
                    format!("{} does not exist or is not a file", path.display()),
                );
                return Err(ConfigError::Invalid(problems));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
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
        Settings::from_config(&raw)
    }

    fn from_config(raw: &Config) -> Result<Settings, ConfigError> {
        let mut problems = Problems::default();

        let store_path = match raw.get::<RawStore>("store") {
            Ok(RawStore { path: Some(path) }) if !path.as_os_str().is_empty() => path,
            Ok(_) => {
                problems.push_with_example("store.path", "is required", "path = \"var/kassa\"");
                PathBuf::new()
            }
            Err(e) => {
                problems.push("store", e.to_string());
                PathBuf::new()
            }
        };

        let (timezone, rule) = match raw.get::<RawAnalysis>("analysis") {
            Ok(analysis) => validate_analysis(analysis, &mut problems),
            Err(e) => {
                problems.push("analysis", e.to_string());
                (Tz::UTC, RuleSettings::default())
            }
        };

        let alerting = match raw.get::<RawAlerting>("alerting") {
            Ok(alerting) => validate_alerting(alerting, &mut problems),
            Err(e) => {
                problems.push("alerting", e.to_string());
                AlertingSettings::default()
            }
        };
        let worker = match raw.get::<RawWorker>("worker") {
            Ok(worker) => validate_worker(worker, timezone, &mut problems),
            Err(e) => {
                problems.push("worker", e.to_string());
                WorkerSettings::default_in(timezone)
            }
        };
        let log = match raw.get::<RawLog>("log") {
            Ok(log) => validate_log(log, &mut problems),
            Err(e) => {
                problems.push("log", e.to_string());
                LogSettings::default()
            }
        };

        let tables: Vec<config::Value> = raw.get("sources").unwrap_or_default();
        let mut sources = Vec::new();
        for (i, table) in tables.into_iter().enumerate() {
            let key = format!("sources[{i}]");
            match table.try_deserialize::<SourceConfig>() {
                Ok(source) => {
                    source.validate(&key, &mut problems);
                    sources.push(source);
                }
                Err(e) => problems.push_with_example(
                    key,
                    format!("{e} (kind must be one of {})", kinds_list()),
                    "[[sources]] name = \"ads\", kind = \"csv_ads\", path = \"fixtures/demo/ads.csv\"",
                ),
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

        let tables: Vec<config::Value> = raw.get("alerts").unwrap_or_default();
        let mut alerts = Vec::new();
        for (i, table) in tables.into_iter().enumerate() {
            match table.try_deserialize::<AlertTargetConfig>() {
                Ok(alert) => alerts.push(alert),
                Err(e) => problems.push_with_example(
                    format!("alerts[{i}]"),
                    format!("{e} (kind must be one of {})", crate::alerts::kinds_list()),
                    "[[alerts]] name = \"team\", kind = \"slack\", url_env = \"KASSA_TEAM_WEBHOOK\"",
                ),
            }
        }
        validate_all(&alerts, &mut problems);

        if problems.is_empty() {
            Ok(Settings {
                store_path,
                timezone,
                rule,
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

fn validate_analysis(raw: RawAnalysis, problems: &mut Problems) -> (Tz, RuleSettings) {
    let defaults = RuleSettings::default();
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
    (
        timezone,
        RuleSettings {
            granularity,
            baseline_periods,
            activity_metrics,
            activity_growth_min,
            money_metric,
            money_growth_max,
        },
    )
}

/// Growth beyond this (1000%) is taken for a percentage written as a whole number.
const GROWTH_BOUND: f64 = 10.0;

/// A growth threshold is a fraction (`0.20` is 20%): `20` would mean 2000% and silently flag
/// nothing, so values beyond ±[`GROWTH_BOUND`] are refused with the fraction they likely meant.
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

impl Default for AlertingSettings {
    fn default() -> Self {
        AlertingSettings {
            locale: Locale::En,
            window_periods: 2,
            max_per_run: 10,
            update_min_growth: 0.10,
            currency: None,
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
    AlertingSettings {
        locale,
        window_periods,
        max_per_run,
        update_min_growth,
        currency,
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

    fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let raw = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from_str(text, FileFormat::Toml))
            .build()
            .unwrap();
        Settings::from_config(&raw)
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
        assert!(unknown.contains("log: unknown field `level`"), "{unknown}");
    }

    #[test]
    fn defaults_match_the_documented_rule() {
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
