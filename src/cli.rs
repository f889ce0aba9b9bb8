//! The command line: parses arguments, loads and validates the configuration, runs one
//! command, prints errors with their whole chain, and turns the outcome into an exit code.
//!
//! Exit codes (README, "Exit codes"): 0 all good; 1 the command failed (bad arguments
//! included, or every source failed); 2 it finished with partial failures (some source
//! failed, an alert is not delivered yet); 3 another kassa process holds the store's lock, so
//! nothing was done; over many tenants (`run --tenants`), the worst tenant's, failed over busy
//! over partial. Logs go to stderr, results to stdout, so `kassa analyze --format json |
//! jq` stays clean.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use chrono::NaiveDate;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use tracing::Instrument;

use crate::alerts::{AlertMessage, AlertTarget};
use crate::clock;
use crate::config::{ConfigError, Secrets, Settings};
use crate::cycle::{self, CycleOutcome};
use crate::demo;
use crate::domain::DateRange;
use crate::domain::Locale;
use crate::http::auth::{MemoryTokenCache, TokenCache};
use crate::outln;
use crate::pipeline;
use crate::progress;
use crate::report;
use crate::sources::{RetryPolicy, SourceError};
use crate::store::{self, OutboxSelection, Store};
use crate::store::{LockError, StoreLock};
use crate::telemetry::{self, LogFormat, Verbosity};
use crate::tenants::{self, Said, Shard, Tenant};
use crate::text::console;
use crate::worker::{self, Worker};

/// A status line on stdout: what went well and what to do. `-q` keeps errors only, so a quiet
/// command that prints nothing went well.
macro_rules! status {
    ($quiet:expr, $($arg:tt)*) => {
        if !$quiet {
            outln!($($arg)*)
        }
    };
}

// After `status!`, which it uses.
mod many;
use many::{Many, check_tenants, run_tenants};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything worked: exit code 0.
    Success,
    /// It finished, but some part failed (a source, an alert delivery): exit code 2.
    Partial,
    /// Another kassa process holds the store: exit code 3. Nothing was done.
    Busy,
    /// Every source failed, so the command did nothing it was asked to: exit code 1. The
    /// errors are already printed, each once.
    Failed,
}

#[derive(Debug, Parser)]
#[command(
    name = "kassa",
    version,
    about = "Holds the marketing report against the till: flags periods of activity without money."
)]
pub struct Cli {
    /// The configuration file (TOML), read over the built-in defaults.
    #[arg(short, long, global = true, env = "KASSA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Errors only: no warnings on stderr, no status lines on stdout (`analyze` still prints
    /// its report).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pull every source over a date range into the store (chunked; safe to re-run).
    Backfill {
        /// First day, YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        from: NaiveDate,
        /// Last day, YYYY-MM-DD (days that have not ended yet are skipped).
        #[arg(long, value_name = "DATE")]
        to: NaiveDate,
        /// Only this source (repeatable); all configured sources by default.
        #[arg(long = "source", value_name = "NAME")]
        sources: Vec<String>,
        /// Pull every chunk again, even those an interrupted backfill of the same range
        /// already stored (by default it resumes).
        #[arg(long)]
        refresh: bool,
        /// Store what the platforms answer for this range as it is, even no rows where the
        /// store holds some (deleted campaigns, merged deals), and clear its suspicious marks.
        #[arg(long)]
        accept_empty: bool,
        #[command(flatten)]
        tenant: TenantPick,
    },
    /// Line activity up against money by period and channel and flag activity without money.
    Analyze {
        /// First day to analyse (widened to the start of its period); default: the first covered day.
        #[arg(long, value_name = "DATE")]
        from: Option<NaiveDate>,
        /// Last day to analyse (widened to the end of its period); default: the last covered day.
        #[arg(long, value_name = "DATE")]
        to: Option<NaiveDate>,
        /// `table` for people, `json` for other tools (see the README for the contract).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// List every alert the nightly run would have sent on each night from --from to --to,
        /// over the store as it is, sending and recording nothing (to tune thresholds).
        #[arg(long, requires_all = ["from", "to"])]
        replay: bool,
        #[command(flatten)]
        tenant: TenantPick,
    },
    /// The metric audit: which activity metric moves with money, and which is a ritual.
    Audit {
        /// First day the audit may read (widened to the start of its period); default: the
        /// first covered day.
        #[arg(long, value_name = "DATE")]
        from: Option<NaiveDate>,
        /// Last day (widened to the end of its period); the audit reads the last
        /// `[analysis] audit_periods` complete periods up to it. Default: the last covered day.
        #[arg(long, value_name = "DATE")]
        to: Option<NaiveDate>,
        /// `table` for people, `json` for other tools (see the README for the contract).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Never set: the audit has no replay (kept so `analyze` and `audit` share one arm).
        #[arg(skip)]
        replay: bool,
        #[command(flatten)]
        tenant: TenantPick,
    },
    /// Write the HTML report: one self-contained page with charts, readable offline and printable.
    Report {
        /// First day (widened to the start of its period); default: the first covered day.
        #[arg(long, value_name = "DATE")]
        from: Option<NaiveDate>,
        /// Last day (widened to the end of its period); default: the last covered day.
        #[arg(long, value_name = "DATE")]
        to: Option<NaiveDate>,
        /// The file to write (replaced whole, never left half-written).
        #[arg(long, value_name = "FILE", default_value = "report.html")]
        out: PathBuf,
        /// The report's language: en or ru; default: `[alerting] locale`.
        #[arg(long, value_enum)]
        locale: Option<LocaleArg>,
        #[command(flatten)]
        tenant: TenantPick,
    },
    /// The nightly cycle: re-pull each source's lookback window, analyse, alert on what is new.
    Run {
        /// Run as if today were DATE (YYYY-MM-DD), to replay a past night.
        #[arg(long, value_name = "DATE")]
        today: Option<NaiveDate>,
        /// Run every tenant of DIR (`DIR/<tenant>.toml`, each over the --config base file)
        /// instead of one configuration.
        #[arg(long, value_name = "DIR")]
        tenants: Option<PathBuf>,
        /// Only the tenants of shard I of N (0-based: 0/8 .. 7/8), by a stable hash of the name.
        #[arg(
            long,
            value_name = "I/N",
            requires = "tenants",
            conflicts_with = "shards"
        )]
        shard: Option<Shard>,
        /// N shards, this one from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's pod).
        #[arg(long, value_name = "N", requires = "tenants")]
        shards: Option<u32>,
        /// Only this tenant (its file's name without `.toml`): one client's night again.
        #[arg(
            long,
            value_name = "NAME",
            requires = "tenants",
            conflicts_with_all = ["shard", "shards"]
        )]
        tenant: Option<String>,
        /// Run up to K tenants at once.
        #[arg(long, value_name = "K", default_value_t = 1, requires = "tenants",
              value_parser = clap::value_parser!(u16).range(1..))]
        parallel: u16,
    },
    /// Run the nightly cycle on the configured schedule, with /healthz and /metrics.
    Worker,
    /// Send a sample alert to one target, to check it before the first night.
    AlertTest {
        /// The `name` of an `[[alerts]]` table.
        #[arg(long, value_name = "NAME")]
        target: String,
    },
    /// The nightly cycle on demo data, against in-process fake platforms and alert receivers.
    Demo {
        /// The language of the alerts: en or ru.
        #[arg(long, value_enum, default_value_t = LocaleArg::En)]
        locale: LocaleArg,
        /// Where to write the HTML report of the demo's whole range.
        #[arg(long, value_name = "FILE", default_value = "demo-report.html")]
        report: PathBuf,
    },
    /// Validate the configuration and reach every source once.
    Check {
        /// Only validate the configuration and secrets; contact nothing.
        #[arg(long)]
        offline: bool,
        /// Validate every tenant of DIR (each over the --config base file) and that no two
        /// share a store; contacts nothing.
        #[arg(long, value_name = "DIR")]
        tenants: Option<PathBuf>,
    },
    /// Show the alerts waiting in the outbox and the dead letters; send dead ones again or
    /// delete them.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },
}

/// One tenant of a tenants directory, for the commands that work on one store.
#[derive(Debug, Clone, clap::Args)]
pub struct TenantPick {
    /// The tenants directory (`DIR/<tenant>.toml`, each over the --config base file).
    #[arg(long, value_name = "DIR", requires = "tenant")]
    tenants: Option<PathBuf>,
    /// The tenant to work on: its file's name without `.toml`.
    #[arg(long, value_name = "NAME", requires = "tenants")]
    tenant: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Pending alerts and dead letters, oldest first, with target, kind, attempts and last error.
    List,
    /// Make dead letters pending again: the next run sends them.
    Retry(OutboxPick),
    /// Delete dead letters for good (pending alerts are never deleted).
    Drop(OutboxPick),
}

/// Which dead letters: ids from `kassa outbox list`, one target's, or all of them.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct OutboxPick {
    /// Outbox ids, as `kassa outbox list` shows them (`#3` or `3`).
    #[arg(value_name = "ID", value_parser = parse_outbox_id)]
    ids: Vec<i64>,
    /// Every dead letter of this `[[alerts]]` target.
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// Every dead letter.
    #[arg(long)]
    all: bool,
}

fn parse_outbox_id(text: &str) -> Result<i64, String> {
    text.trim_start_matches('#')
        .parse()
        .map_err(|_| format!("{text:?} is not an outbox id (a number from `kassa outbox list`)"))
}

impl OutboxPick {
    fn selection(&self) -> OutboxSelection {
        match (&self.target, self.all) {
            (Some(name), _) => OutboxSelection::Target(name.clone()),
            (None, true) => OutboxSelection::All,
            (None, false) => OutboxSelection::Ids(self.ids.clone()),
        }
    }
}

/// A language on the command line (`--locale en|ru`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LocaleArg {
    En,
    Ru,
}

impl LocaleArg {
    fn locale(self) -> Locale {
        match self {
            LocaleArg::En => Locale::En,
            LocaleArg::Ru => Locale::Ru,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Parses the process's arguments, runs, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Partial) => ExitCode::from(2),
        Ok(Outcome::Busy) => ExitCode::from(3),
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(error) => {
            eprintln!("kassa: error: {}", chain(&error));
            ExitCode::from(1)
        }
    }
}

/// The command line's grammar. `--config` is global (it may follow the command), but the demo
/// brings its own configuration: its help does not offer the flag.
fn command() -> clap::Command {
    let command = Cli::command();
    // A subcommand that has its own argument of a global's name does not receive the global.
    let hidden = command
        .get_arguments()
        .find(|arg| arg.get_id() == "config")
        .map(|config| config.clone().hide(true));
    command.mut_subcommand("demo", |demo| match hidden {
        Some(config) => demo.arg(config),
        None => demo,
    })
}

/// Parses the process's arguments. `--help` and `--version` print to stdout and end with 0. A
/// bad argument is a failed command: exit 1, as the README promises (clap's own 2 means
/// "partial failure" to kassa), printed like every other error with clap's explanation.
fn parse() -> Result<Cli, ExitCode> {
    let parsed = command()
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let error = match parsed {
        Ok((cli, matches)) => {
            let given = |m: &clap::ArgMatches| {
                m.value_source("config") == Some(clap::parser::ValueSource::CommandLine)
            };
            let demo_given = matches.subcommand_matches("demo").is_some_and(given);
            if !(matches!(cli.command, Command::Demo { .. }) && (given(&matches) || demo_given)) {
                return Ok(cli);
            }
            // KASSA_CONFIG in the environment (as in the Docker image) is ignored quietly.
            eprintln!(
                "kassa: error: the demo brings its own configuration and reads no --config; run `kassa demo` without it"
            );
            return Err(ExitCode::from(1));
        }
        Err(error) => error,
    };
    if !error.use_stderr() {
        let _ = error.print();
        return Err(ExitCode::SUCCESS);
    }
    let text = error.render().to_string();
    match text.strip_prefix("error: ") {
        Some(rest) => eprint!("kassa: error: {rest}"),
        // `kassa` alone: clap shows the help as the error.
        None => eprint!("kassa: error: no command given\n\n{text}"),
    }
    Err(ExitCode::from(1))
}

/// The error and its causes, each once: `a: b: c`. Configuration problems print as a list.
fn chain(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<Outcome> {
    let quiet = cli.quiet;
    let verbosity = Verbosity {
        verbose: cli.verbose,
        quiet: cli.quiet,
    };
    // The demo brings its own configuration: it must work on a fresh checkout with none.
    if let Command::Demo { locale, report } = cli.command {
        // The demo prints its own story; its logs would only interleave with it.
        let quiet = Verbosity {
            quiet: cli.quiet || cli.verbose == 0,
            ..verbosity
        };
        telemetry::init(quiet, LogFormat::Text);
        demo::run(locale.locale(), &report).await?;
        return Ok(Outcome::Success);
    }
    match &cli.command {
        Command::Run {
            tenants: Some(dir),
            today,
            shard,
            shards,
            tenant,
            parallel,
        } => {
            let shard = match (shard, shards) {
                (Some(shard), _) => *shard,
                (None, Some(count)) => Shard::from_job_index(
                    *count,
                    std::env::var("JOB_COMPLETION_INDEX").ok().as_deref(),
                )?,
                (None, None) => Shard::ALL,
            };
            let many = Many {
                base: cli.config.clone(),
                dir: dir.clone(),
                quiet,
            };
            let only = tenant.as_deref();
            return run_tenants(many, shard, only, usize::from(*parallel), *today, verbosity).await;
        }
        Command::Check {
            tenants: Some(dir), ..
        } => {
            let many = Many {
                base: cli.config.clone(),
                dir: dir.clone(),
                quiet,
            };
            return check_tenants(&many, verbosity);
        }
        _ => {}
    }
    let tenant = match cli.command.tenant_pick() {
        Some(TenantPick {
            tenants: Some(dir),
            tenant: Some(name),
        }) => Some(tenants::find(dir, name)?),
        _ => None,
    };
    // Commands that contact nothing read no secret, so they run where no token is set.
    let secrets = match cli.command {
        Command::Analyze { .. }
        | Command::Audit { .. }
        | Command::Report { .. }
        | Command::Outbox { .. } => Secrets::Unused,
        _ => Secrets::Needed,
    };
    let loaded = match &tenant {
        Some(tenant) => tenants::load(cli.config.as_deref(), tenant, secrets),
        None => Settings::load_for(cli.config.as_deref(), secrets),
    };
    let settings = loaded.map_err(|e| config_error(e, cli.config.as_deref(), tenant.as_ref()))?;
    // Logging starts once the configuration says in which format; nothing before this point
    // logs (configuration problems are printed as the command's error).
    telemetry::init(verbosity, settings.log.format);
    let today = clock::Clock::now(settings.timezone).today();
    let locale = settings.alerting.locale;
    match cli.command {
        Command::Backfill {
            from,
            to,
            sources,
            refresh,
            accept_empty,
            ..
        } => {
            let Some(range) = DateRange::new(from, to) else {
                bail!("--from {from} is after --to {to}");
            };
            let Some(_lock) = lock_store(&settings)? else {
                return Ok(Outcome::Busy);
            };
            let mut store = open_store(&settings)?;
            let options = pipeline::BackfillOptions {
                refresh,
                accept_empty,
            };
            // Bars or log lines on stderr while it runs; the bars are cleared (dropped)
            // before the lines below.
            let progress = progress::for_backfill(quiet, locale);
            let watched = progress.as_ref();
            let outcome = pipeline::backfill_watched(
                &settings, &mut store, range, &sources, options, watched, today,
            )
            .await;
            drop(progress);
            let outcome = outcome?;
            for source in &outcome.sources {
                if source.errors.is_empty() {
                    status!(
                        quiet,
                        "{}{}{}{}",
                        console::backfill_source(
                            &source.name,
                            source.rows,
                            &outcome.range,
                            source.chunks_done,
                            locale
                        ),
                        console::chunks_skipped(source.chunks_skipped, locale),
                        console::not_covered(&source.uncovered, locale),
                        console::suspicious(&source.suspicious, locale)
                    );
                } else {
                    status!(
                        quiet,
                        "{}",
                        console::backfill_source_failed(
                            &source.name,
                            source.chunks_done,
                            source.chunks_total,
                            needs_a_person(&source.errors, locale),
                            locale
                        )
                    );
                    print_errors(&source.errors);
                }
            }
            let failed = outcome.failed_sources().count();
            let result = sources_outcome(failed, outcome.sources.len());
            // Days a source left uncovered make an otherwise good backfill partial.
            Ok(if result == Outcome::Success && outcome.partial() {
                Outcome::Partial
            } else {
                result
            })
        }
        Command::Analyze {
            from,
            to,
            format,
            replay,
            ..
        }
        | Command::Audit {
            from,
            to,
            format,
            replay,
            ..
        } => {
            let audit = matches!(cli.command, Command::Audit { .. });
            // Reading only: no lock, no ledger created, no migration; works on a read-only store.
            let store = open_store_read_only(&settings)?;
            if let (true, Some(from), Some(to)) = (replay, from, to) {
                let (alerts, currency) = cycle::replay(&settings, &store, from, to)?;
                let currency = currency.as_deref();
                match format {
                    Format::Table => outln!(
                        "{}",
                        report::replay::to_table(&alerts, from, to, currency, locale).trim_end()
                    ),
                    Format::Json => {
                        outln!("{}", report::replay::to_json(&alerts, from, to, currency))
                    }
                }
                return Ok(Outcome::Success);
            }
            let analysis = pipeline::analyze(&settings, &store, from, to, today)?;
            let locale = settings.alerting.locale;
            match (format, audit) {
                (Format::Table, false) => {
                    outln!("{}", report::to_table(&analysis, locale).trim_end())
                }
                (Format::Json, false) => outln!("{}", report::to_json(&analysis)),
                (Format::Table, true) => {
                    outln!("{}", report::to_audit_table(&analysis, locale).trim_end())
                }
                (Format::Json, true) => outln!("{}", report::audit_to_json(&analysis)),
            }
            Ok(Outcome::Success)
        }
        Command::Report {
            from,
            to,
            out,
            locale: chosen,
            ..
        } => {
            // Reading only, like `analyze`: no lock, no secrets.
            let store = open_store_read_only(&settings)?;
            let analysis = pipeline::analyze(&settings, &store, from, to, today)?;
            let locale = chosen.map_or(locale, LocaleArg::locale);
            let page = report::html::render(&analysis, &settings.rule, locale);
            crate::output::write_file(&out, page.as_bytes())?;
            status!(
                quiet,
                "{}",
                console::report_written(&out.display().to_string(), page.len(), locale)
            );
            Ok(Outcome::Success)
        }
        Command::Run { today: replay, .. } => {
            let mut said = Vec::new();
            let outcome = nightly(&settings, replay.unwrap_or(today), &mut said).await;
            print_now(&said, quiet);
            outcome
        }
        Command::Worker => {
            let targets = build_targets(&settings)?;
            Worker::new(settings, targets)
                .run(worker::shutdown_signal())
                .await?;
            Ok(Outcome::Success)
        }
        Command::AlertTest { target } => {
            let Some(config) = settings.alerts.iter().find(|a| a.name() == target) else {
                let names: Vec<&str> = settings.alerts.iter().map(|a| a.name()).collect();
                bail!(
                    "no [[alerts]] target is named {target:?}; configured: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                );
            };
            let built = config.build(&RetryPolicy::default())?;
            let message = cycle::sample_message(&settings.alerting);
            built.deliver(&message).await?;
            status!(
                quiet,
                "{}",
                console::sample_delivered(&target, built.kind(), locale)
            );
            Ok(Outcome::Success)
        }
        Command::Demo { .. } => unreachable!("handled before the configuration is read"),
        Command::Outbox { action } => outbox(&settings, action, quiet, locale),
        Command::Check { offline, .. } => {
            status!(
                quiet,
                "{}",
                console::config_valid(settings.sources.len(), settings.alerts.len(), locale)
            );
            // A rates file with bad rows would leave amounts unknown every night: fail here.
            let rates_failed = match pipeline::currency_settings(&settings) {
                Ok(_) => false,
                Err((_, error)) => {
                    eprintln!("kassa: error: {error:#}");
                    true
                }
            };
            let mut store_failed = false;
            let store_path = settings.store_path.display();
            let writable = store::check_writable(&settings.store_path);
            match &writable {
                Ok(()) if settings.store_path.exists() => {
                    status!(quiet, "{}", console::store_ok(&store_path, true, locale))
                }
                Ok(()) => status!(quiet, "{}", console::store_ok(&store_path, false, locale)),
                Err(error) => {
                    store_failed = true;
                    status!(quiet, "{}", console::store_failed(&store_path, locale));
                    eprintln!("kassa: error: the store cannot be written: {error}");
                }
            }
            // Probing a source may refresh an OAuth2 token, and some platforms rotate the
            // refresh token on every refresh: keep it in the store, or the next run is locked
            // out. Offline (or with a store that cannot be written), nothing needs keeping.
            // Opening the store also reaches its services (Postgres, the bucket), if any: a
            // store line of its own, and no source run on a store that cannot be opened.
            let tokens: Arc<dyn TokenCache> = if offline || writable.is_err() {
                Arc::new(MemoryTokenCache::default())
            } else {
                let services = store_services(&settings);
                let opened = open_store(&settings).and_then(|store| {
                    store
                        .token_ledger()
                        .context("cannot open the store's token cache")
                });
                match opened {
                    Ok(tokens) => {
                        if let Some(services) = &services {
                            status!(quiet, "{}", console::store_services_ok(services, locale));
                        }
                        Arc::new(tokens)
                    }
                    Err(error) => {
                        store_failed = true;
                        let services = services.unwrap_or_else(|| store_path.to_string());
                        status!(
                            quiet,
                            "{}",
                            console::store_services_failed(&services, locale)
                        );
                        eprintln!("kassa: error: {}", chain(&error));
                        Arc::new(MemoryTokenCache::default())
                    }
                }
            };
            let outcomes = pipeline::check(&settings, offline, tokens).await;
            let sources = outcomes.len();
            let mut failed_sources = 0;
            for outcome in outcomes {
                match outcome.result {
                    Ok(found) => {
                        status!(
                            quiet,
                            "{}",
                            console::check_ok(
                                &outcome.name,
                                outcome.kind,
                                found.as_deref(),
                                locale
                            )
                        );
                        if let Some(legacy) = &outcome.legacy_channels {
                            status!(
                                quiet,
                                "{}",
                                console::legacy_channels(&outcome.name, legacy, locale)
                            );
                        }
                    }
                    Err(error) => {
                        failed_sources += 1;
                        status!(
                            quiet,
                            "{}",
                            console::check_failed(&outcome.name, outcome.kind, locale)
                        );
                        eprintln!("kassa: error: {error}");
                    }
                }
            }
            let mut failed_targets = false;
            for config in &settings.alerts {
                match config.build(&RetryPolicy::default()) {
                    Ok(_) => status!(
                        quiet,
                        "{}",
                        console::check_target_ok(config.name(), config.kind(), locale)
                    ),
                    Err(error) => {
                        failed_targets = true;
                        status!(
                            quiet,
                            "{}",
                            console::check_failed(config.name(), config.kind(), locale)
                        );
                        eprintln!("kassa: error: {error}");
                    }
                }
            }
            // Nothing can run on a store that cannot be written: that fails the check.
            let result = sources_outcome(failed_sources, sources);
            Ok(if store_failed || rates_failed {
                Outcome::Failed
            } else if result == Outcome::Success && failed_targets {
                Outcome::Partial
            } else {
                result
            })
        }
    }
}

/// A configuration that did not load, as the command's error: its problems, after the file
/// they can be in (the tenant's file over the base, or the base alone).
fn config_error(error: ConfigError, base: Option<&Path>, tenant: Option<&Tenant>) -> anyhow::Error {
    let problems = match error {
        ConfigError::Invalid(problems) => problems,
        other => return other.into(),
    };
    // Problems that came from environment variables name them; the file is named only when
    // some problem can be in it.
    if problems.iter().all(|p| p.origin.is_some()) {
        return anyhow!("{}", problems.to_string().trim_end());
    }
    let base = base.map_or("the built-in defaults".to_string(), |p| {
        p.display().to_string()
    });
    let origin = match tenant {
        Some(tenant) => format!("{} (over {base})", tenant.file.display()),
        None => base,
    };
    anyhow!("{origin}: {}", problems.to_string().trim_end())
}

/// What `kassa run` prints, on stdout and stderr as it is said.
fn print_now(said: &[Said], quiet: bool) {
    for line in said {
        match line {
            Said::Status(text) => status!(quiet, "{text}"),
            Said::Error(text) => eprintln!("kassa: error: {text}"),
        }
    }
}

impl Command {
    /// The tenant a one-store command was pointed at (`--tenants DIR --tenant NAME`).
    fn tenant_pick(&self) -> Option<&TenantPick> {
        match self {
            Command::Backfill { tenant, .. }
            | Command::Analyze { tenant, .. }
            | Command::Audit { tenant, .. }
            | Command::Report { tenant, .. } => Some(tenant),
            _ => None,
        }
    }
}

/// `kassa outbox list|retry|drop`. Listing only reads (it works while a run holds the store);
/// retry and drop take the store's lock and touch dead letters only.
fn outbox(
    settings: &Settings,
    action: OutboxAction,
    quiet: bool,
    locale: Locale,
) -> Result<Outcome> {
    let retry = matches!(action, OutboxAction::Retry(_));
    let pick = match action {
        OutboxAction::List => {
            let store = open_store_read_only(settings)?;
            // Reading takes no lock, so it migrates nothing; dead letters came with schema 6.
            let version = store
                .schema_version()
                .context("cannot read the store's schema version")?;
            if version < 6 {
                bail!(
                    "the store at {} was written by an older kassa (schema {version}) and has no dead letters yet; the next `kassa run` or `kassa backfill` upgrades it",
                    settings.store_path.display()
                );
            }
            let items = store
                .undelivered_alerts()
                .context("cannot read the outbox")?;
            for item in &items {
                // The message as recorded; an unreadable one still shows its id and target.
                let message: Option<AlertMessage> = serde_json::from_str(&item.message).ok();
                outln!(
                    "{}",
                    console::outbox_line(
                        &console::OutboxLine {
                            id: item.id,
                            dead: item.dead_at.is_some(),
                            target: &item.target,
                            kind: message.as_ref().map_or("?", |m| m.finding_kind.as_str()),
                            attempts: item.attempts,
                            failed_runs: item.failed_runs,
                            alert: &item.message_id,
                            title: message.as_ref().map_or("", |m| m.title.as_str()),
                            last_error: item.last_error.as_deref(),
                        },
                        locale
                    )
                );
            }
            let dead = items.iter().filter(|i| i.dead_at.is_some()).count();
            status!(
                quiet,
                "{}",
                console::outbox_tally(items.len() - dead, dead, locale)
            );
            return Ok(Outcome::Success);
        }
        OutboxAction::Retry(pick) | OutboxAction::Drop(pick) => pick,
    };
    let selection = pick.selection();
    let Some(_lock) = lock_store(settings)? else {
        return Ok(Outcome::Busy);
    };
    let mut store = open_store(settings)?;
    let changed = if retry {
        store.retry_dead(&selection)
    } else {
        store.drop_dead(&selection)
    }
    .context("cannot change the outbox")?;
    let missing: Vec<String> = match &selection {
        OutboxSelection::Ids(ids) => ids
            .iter()
            .filter(|id| !changed.contains(id))
            .map(|id| format!("#{id}"))
            .collect(),
        _ => Vec::new(),
    };
    if changed.is_empty() {
        bail!(
            "no dead letter matches{}; `kassa outbox list` shows them",
            if missing.is_empty() {
                String::new()
            } else {
                format!(
                    " {} (pending, delivered or unknown ids are left alone)",
                    missing.join(", ")
                )
            }
        );
    }
    status!(
        quiet,
        "{}",
        if retry {
            console::outbox_retried(&changed, locale)
        } else {
            console::outbox_dropped(&changed, locale)
        }
    );
    if !missing.is_empty() {
        eprintln!(
            "kassa: error: not dead letters, left alone: {}",
            missing.join(", ")
        );
        return Ok(Outcome::Partial);
    }
    Ok(Outcome::Success)
}

/// The nightly cycle on one configuration (`kassa run`, and each tenant of `run --tenants`):
/// the store's lock, the alert targets, the cycle. What it would print goes to `said`, so a
/// tenant's lines can be kept together.
async fn nightly(settings: &Settings, today: NaiveDate, said: &mut Vec<Said>) -> Result<Outcome> {
    if let Err(future) = clock::Clock::resolve(today.into(), settings.timezone) {
        bail!("--today {today}: {future}");
    }
    let Some(_lock) = lock_store_into(settings, said)? else {
        return Ok(Outcome::Busy);
    };
    let targets = build_targets(settings)?;
    let mut store = open_store(settings)?;
    let outcome = cycle::run_cycle(settings, &mut store, &targets, today)
        .instrument(telemetry::cycle_span(&telemetry::new_run_id(), today))
        .await?;
    cycle_lines(&outcome, settings.alerting.locale, said);
    let failed = outcome.sources.iter().filter(|s| !s.errors.is_empty());
    let result = sources_outcome(failed.count(), outcome.sources.len());
    // Alerts still waiting in the outbox make an otherwise good run partial.
    Ok(if result == Outcome::Success && outcome.partial() {
        Outcome::Partial
    } else {
        result
    })
}

/// Every source failed: the command failed (1); some did: partial failure (2).
fn sources_outcome(failed: usize, total: usize) -> Outcome {
    match failed {
        0 => Outcome::Success,
        n if n == total => Outcome::Failed,
        _ => Outcome::Partial,
    }
}

/// Prints a source's errors, each once, on stderr (`-q` keeps them).
fn print_errors(errors: &[SourceError]) {
    for error in errors {
        eprintln!("kassa: error: {error}");
    }
}

/// What a person must do before a failed source can work, or `None` when every one of its
/// errors may pass by itself (throttling, platform trouble, the network), so that waiting for
/// the next run is the whole remedy.
fn needs_a_person(errors: &[SourceError], locale: Locale) -> Option<&'static str> {
    errors
        .iter()
        .find_map(|error| console::fix_for(error.kind, locale))
}

/// Takes the store's lock; `None` (after saying so) when another process holds it.
fn lock_store(settings: &Settings) -> Result<Option<StoreLock>> {
    let mut said = Vec::new();
    let lock = lock_store_into(settings, &mut said);
    print_now(&said, false);
    lock
}

/// [`lock_store`], saying into `said`.
fn lock_store_into(settings: &Settings, said: &mut Vec<Said>) -> Result<Option<StoreLock>> {
    match StoreLock::acquire_at(&settings.store_location()) {
        Ok(lock) => Ok(Some(lock)),
        Err(error @ LockError::Held { .. }) => {
            said.push(Said::Error(error.to_string()));
            Ok(None)
        }
        Err(LockError::Store(error)) => Err(error).context("cannot lock the store"),
    }
}

fn build_targets(settings: &Settings) -> Result<Vec<AlertTarget>> {
    settings
        .alerts
        .iter()
        .map(|config| {
            config
                .build(&RetryPolicy::default())
                .map_err(anyhow::Error::from)
        })
        .collect()
}

/// What `run` says about a cycle, in order: each source, the analysis, the alerts.
fn cycle_lines(outcome: &CycleOutcome, locale: Locale, said: &mut Vec<Said>) {
    for source in &outcome.sources {
        if source.errors.is_empty() {
            said.push(Said::Status(format!(
                "{}{}{}",
                console::run_source(&source.name, source.rows, locale),
                console::not_covered(&source.uncovered, locale),
                console::suspicious(&source.suspicious, locale)
            )));
            if let Some(pending) = source.pending {
                said.push(Said::Status(format!(
                    "{}: {pending} not finished in the source's time zone yet; the next run pulls it",
                    source.name
                )));
            }
        } else {
            said.push(Said::Status(console::run_source_failed(
                &source.name,
                needs_a_person(&source.errors, locale),
                locale,
            )));
            said.extend(source.errors.iter().map(|e| Said::Error(e.to_string())));
        }
    }
    said.push(Said::Status(console::run_analysis(
        outcome.flagged,
        outcome.data_gaps,
        locale,
    )));
    for delivered in &outcome.delivered {
        said.push(Said::Status(console::alert_delivered(
            &delivered.target,
            &delivered.message.title,
            locale,
        )));
    }
    said.extend(
        outcome
            .undelivered
            .iter()
            .map(|e| Said::Error(e.to_string())),
    );
    said.extend(
        outcome
            .broken_targets
            .iter()
            .map(|b| Said::Error(console::target_broken(&b.target, b.dead, &b.error))),
    );
    said.push(Said::Status(console::alerts_tally(
        outcome.recorded,
        outcome.delivered.len(),
        outcome.pending,
        locale,
    )));
}

/// The services a store is kept in, for `check`'s line: the Postgres schema and server, the
/// bucket; `None` for an embedded store.
fn store_services(settings: &Settings) -> Option<String> {
    let services: Vec<String> = [settings.ledger.shared_key(), settings.snapshots.address()]
        .into_iter()
        .flatten()
        .collect();
    (!services.is_empty()).then(|| services.join(", "))
}

fn open_store(settings: &Settings) -> Result<Store> {
    Store::open_at(&settings.store_location())
        .with_context(|| format!("cannot open the store at {}", settings.store_path.display()))
}

/// [`open_store`] for reading only (`analyze`, `audit`, `report`, `outbox list`): no lock, no
/// migration.
fn open_store_read_only(settings: &Settings) -> Result<Store> {
    Store::open_read_only_at(&settings.store_location())
        .with_context(|| format!("cannot open the store at {}", settings.store_path.display()))
}
