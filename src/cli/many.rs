//! The command line over many tenants (`--tenants DIR`): `kassa run --tenants` runs the nightly
//! cycle of every tenant of a shard, a few at once, each tenant's lines printed together when
//! it finishes, then a summary and the worst tenant's exit code; `kassa check --tenants`
//! validates every tenant's configuration. Which tenants exist, their shards and how they run
//! side by side is `crate::tenants`'; what one tenant's night is, the parent module's.

use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::NaiveDate;

use super::{Outcome, chain, config_error, nightly};
use crate::clock;
use crate::config::{Secrets, Settings};
use crate::domain::TenantStatus;
use crate::outln;
use crate::telemetry::{self, Verbosity};
use crate::tenants::{self, Said, Shard, Tenant, TenantRun};
use crate::text::console;

/// Where a command over many tenants finds them.
pub(super) struct Many {
    /// The base file (`--config`), read under every tenant's.
    pub(super) base: Option<PathBuf>,
    pub(super) dir: PathBuf,
    pub(super) quiet: bool,
}

impl Many {
    /// Every tenant of the directory, after checking that no two share a store (read without
    /// secrets: a tenant whose configuration does not load has its own line later).
    fn tenants(&self) -> Result<Vec<Tenant>> {
        let all = tenants::discover(&self.dir)?;
        let settings: Vec<(&str, Settings)> = all
            .iter()
            .filter_map(|tenant| {
                let settings = tenants::load(self.base.as_deref(), tenant, Secrets::Unused).ok()?;
                Some((tenant.name.as_str(), settings))
            })
            .collect();
        tenants::check_stores(
            settings
                .iter()
                .map(|(name, settings)| (*name, settings.store_path.as_path())),
        )?;
        // Snapshots on object storage: no two tenants on one bucket and prefix either.
        let buckets: Vec<(&str, PathBuf)> = settings
            .iter()
            .filter_map(|(name, settings)| Some((*name, settings.snapshots.address()?.into())))
            .collect();
        tenants::check_stores(buckets.iter().map(|(name, url)| (*name, url.as_path())))?;
        // A ledger on Postgres: no two tenants on one schema of one server.
        tenants::check_ledgers(
            settings
                .iter()
                .map(|(name, settings)| (*name, settings.ledger.shared_key())),
        )?;
        Ok(all)
    }
}

/// `kassa run --tenants DIR`: the nightly cycle of every tenant of `shard`, up to `parallel`
/// at once. Each tenant's lines are printed together when it finishes (prefixed `[name]`),
/// then a summary line per tenant and the tally. The exit code is the worst tenant's: failed
/// (or invalid configuration) over busy over partial over ok.
pub(super) async fn run_tenants(
    many: Many,
    shard: Shard,
    only: Option<&str>,
    parallel: usize,
    today: Option<NaiveDate>,
    verbosity: Verbosity,
) -> Result<Outcome> {
    let (locale, log_format) = Settings::shared(many.base.as_deref());
    telemetry::init(verbosity, log_format);
    let quiet = many.quiet;
    let all = many.tenants()?;
    let total = all.len();
    // `--tenant NAME`: that one (an unknown name is an error listing known ones), else the shard's.
    let only = only
        .map(|name| tenants::find(&many.dir, name))
        .transpose()?;
    let mine: Vec<Tenant> = all
        .into_iter()
        .filter(|t| match &only {
            Some(one) => t.name == one.name,
            None => shard.holds(&t.name),
        })
        .collect();
    if mine.is_empty() {
        status!(
            quiet,
            "{}",
            console::no_tenants(&shard.to_string(), &many.dir, total, locale)
        );
        return Ok(Outcome::Success);
    }
    let runs = tenants::run_each(
        mine,
        parallel,
        |tenant| {
            let base = many.base.clone();
            async move { run_tenant(base.as_deref(), tenant, today).await }
        },
        |run| print_said(&run.name, &run.said, quiet),
    )
    .await;
    let mut counts: Vec<(TenantStatus, usize)> = [
        TenantStatus::Ok,
        TenantStatus::Partial,
        TenantStatus::Busy,
        TenantStatus::Failed,
        TenantStatus::Invalid,
    ]
    .into_iter()
    .map(|status| (status, 0))
    .collect();
    for run in &runs {
        if let Some(count) = counts.iter_mut().find(|(s, _)| *s == run.status) {
            count.1 += 1;
        }
        status!(
            quiet,
            "{}",
            console::tenant_outcome(&run.name, run.status, run.problem.as_deref(), locale)
        );
    }
    status!(
        quiet,
        "{}",
        console::tenants_tally(&shard.to_string(), &counts, locale)
    );
    Ok(match tenants::worst(&runs) {
        None | Some(TenantStatus::Ok) => Outcome::Success,
        Some(TenantStatus::Partial) => Outcome::Partial,
        Some(TenantStatus::Busy) => Outcome::Busy,
        Some(TenantStatus::Failed | TenantStatus::Invalid) => Outcome::Failed,
    })
}

/// One tenant's night: its configuration, then what `kassa run` does for one. Whatever goes
/// wrong is this tenant's outcome, never the others'.
async fn run_tenant(base: Option<&Path>, tenant: Tenant, today: Option<NaiveDate>) -> TenantRun {
    let mut said = Vec::new();
    let (status, problem) = match tenants::load(base, &tenant, Secrets::Needed) {
        Err(error) => {
            let text = chain(&config_error(error, base, Some(&tenant)));
            said.push(Said::Error(text.clone()));
            let flat = text.replacen(":\n  - ", ": ", 1).replace("\n  - ", "; ");
            (TenantStatus::Invalid, Some(flat))
        }
        Ok(settings) => {
            let today = today.unwrap_or_else(|| clock::Clock::now(settings.timezone).today());
            match nightly(&settings, today, &mut said).await {
                Ok(Outcome::Success) => (TenantStatus::Ok, None),
                Ok(Outcome::Partial) => (TenantStatus::Partial, None),
                Ok(Outcome::Busy) => (TenantStatus::Busy, None),
                Ok(Outcome::Failed) => (TenantStatus::Failed, None),
                Err(error) => {
                    let text = chain(&error);
                    said.push(Said::Error(text.clone()));
                    (TenantStatus::Failed, Some(text))
                }
            }
        }
    };
    TenantRun {
        name: tenant.name,
        status,
        problem,
        said,
    }
}

/// `kassa check --tenants DIR`: every tenant's configuration (base file and tenant file) and
/// secrets, all problems of all tenants each after its tenant, and no two sharing a store.
/// Contacts nothing.
pub(super) fn check_tenants(many: &Many, verbosity: Verbosity) -> Result<Outcome> {
    let (locale, log_format) = Settings::shared(many.base.as_deref());
    telemetry::init(verbosity, log_format);
    let mut failed = false;
    for tenant in many.tenants()? {
        let said = match tenants::load(many.base.as_deref(), &tenant, Secrets::Needed) {
            Ok(settings) => Said::Status(console::config_valid(
                settings.sources.len(),
                settings.alerts.len(),
                locale,
            )),
            Err(error) => {
                failed = true;
                Said::Error(chain(&config_error(
                    error,
                    many.base.as_deref(),
                    Some(&tenant),
                )))
            }
        };
        print_said(&tenant.name, &[said], many.quiet);
    }
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// A tenant's lines, each after its name, together.
fn print_said(name: &str, said: &[Said], quiet: bool) {
    for line in said {
        match line {
            Said::Status(text) => status!(quiet, "[{name}] {text}"),
            Said::Error(text) => eprintln!("kassa: error: [{name}] {text}"),
        }
    }
}
