//! The pipeline: the only module that knows sources, store and analysis, and wires them.
//!
//! - [`backfill`] pulls every source over a range, in checkpointed chunks, into the store;
//! - [`analyze`] reads the store and applies the rule;
//! - [`check`] builds every source and reaches each once.
//!
//! A failing source never stops the others: its error is recorded in the outcome, its window
//! stays uncovered (and so becomes a `data_gap` in the analysis), and the caller turns the
//! outcome into exit code 2. So does a source that answered but left days of the window
//! uncovered (a CSV export that ends before the window does, or has no rows at all).

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use tracing::Instrument;

use crate::analysis::{self, Analysis};
use crate::config::Settings;
use crate::domain::{Coverage, DateRange, TokenCache};
use crate::sources::{BuildContext, ErrorKind, RetryPolicy, Source, SourceConfig, SourceError};
use crate::store::Store;
use crate::text;

/// What happened to one source during a backfill.
#[derive(Debug)]
pub struct SourceOutcome {
    pub name: String,
    pub chunks_done: usize,
    pub chunks_total: usize,
    pub rows: usize,
    pub errors: Vec<SourceError>,
    /// What the pulls said about rows they accepted (already logged as warnings).
    pub warnings: Vec<String>,
    /// Days of the window that pulls succeeded for but did not cover: data gaps.
    pub uncovered: Vec<DateRange>,
}

impl SourceOutcome {
    /// The source failed or left days of its window uncovered: a partial failure (exit 2).
    pub fn partial(&self) -> bool {
        !self.errors.is_empty() || !self.uncovered.is_empty()
    }
}

/// What a backfill did, source by source.
#[derive(Debug)]
pub struct BackfillOutcome {
    /// The range actually pulled (the request, clipped to completed days).
    pub range: DateRange,
    pub sources: Vec<SourceOutcome>,
}

impl BackfillOutcome {
    pub fn failed_sources(&self) -> impl Iterator<Item = &SourceOutcome> {
        self.sources.iter().filter(|s| !s.errors.is_empty())
    }

    /// A source failed or left days uncovered: exit code 2.
    pub fn partial(&self) -> bool {
        self.sources.iter().any(SourceOutcome::partial)
    }
}

/// What building a source needs: the business's time zone, the retry policy, and where OAuth2
/// tokens live between runs (the store's ledger, so a refresh token a platform rotates is
/// never lost with the process).
fn build_context(settings: &Settings, tokens: Arc<dyn TokenCache>) -> BuildContext {
    BuildContext {
        tokens,
        ..BuildContext::new(settings.timezone, RetryPolicy::default())
    }
}

/// Clips `requested` to days that have ended: platforms restate "today" all day, and Meta
/// rejects days that are still in the future somewhere.
pub fn completed_days(requested: DateRange, today: NaiveDate) -> Result<DateRange> {
    let yesterday = today.pred_opt().context("today is the first day of time")?;
    match DateRange::new(requested.start, requested.end.min(yesterday)) {
        Some(range) => Ok(range),
        None => bail!(
            "the range {requested} has no completed day yet (today is {today} in the configured time zone)"
        ),
    }
}

/// Pulls every selected source over `requested` (clipped to completed days) into the store.
///
/// Each source's range is cut into its chunk size; every chunk is upserted and recorded as
/// covered before the next one starts, so a killed backfill resumes by simply running again:
/// finished chunks are replaced by identical rows, unfinished ones are filled.
pub async fn backfill(
    settings: &Settings,
    store: &mut Store,
    requested: DateRange,
    only: &[String],
    today: NaiveDate,
) -> Result<BackfillOutcome> {
    let range = completed_days(requested, today)?;
    if range != requested {
        tracing::warn!(%requested, pulled = %range, "the range reaches days that have not ended; pulling completed days only");
    }
    for name in only {
        if !settings.sources.iter().any(|s| s.name() == name) {
            bail!(
                "no source is named {name:?}; configured: {}",
                source_names(settings).join(", ")
            );
        }
    }
    let run = store
        .start_run("backfill")
        .context("cannot record the run in the ledger")?;
    // A backfill is numbered in the ledger, so its lines carry that number.
    let span = tracing::info_span!("backfill", run_id = run, range = %range);
    let mut outcomes = Vec::new();
    for config in settings
        .sources
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|n| n == s.name()))
    {
        let mut outcome = pull_source(settings, store, config, range)
            .instrument(span.clone())
            .await?;
        if outcome.errors.is_empty() && outcome.rows == 0 {
            let warning = format!("the backfill found no rows for {range}");
            span.in_scope(|| tracing::warn!(source = %outcome.name, "{warning}"));
            outcome.warnings.push(warning);
        }
        outcomes.push(outcome);
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.partial())
        .map(|o| o.name.as_str())
        .collect();
    let (verdict, detail) = if failed.is_empty() {
        ("ok", format!("{range}"))
    } else {
        (
            "partial",
            format!("{range}; failed or uncovered: {}", failed.join(", ")),
        )
    };
    store
        .finish_run(run, verdict, &detail)
        .context("cannot record the run in the ledger")?;
    Ok(BackfillOutcome {
        range,
        sources: outcomes,
    })
}

/// Builds one source and pulls `range` into the store, chunk by chunk. Source failures are
/// recorded in the outcome, not logged: the caller says them once (the command line prints
/// them, the worker logs them); only store failures are errors. Logs run in a `pull`
/// span per source, a `chunk` span per request range and an `upsert` span per store write.
pub async fn pull_source(
    settings: &Settings,
    store: &mut Store,
    config: &SourceConfig,
    range: DateRange,
) -> Result<SourceOutcome> {
    let span =
        tracing::info_span!("pull", source = config.name(), kind = config.kind(), range = %range);
    let outcome = async {
        let tokens = store
            .token_ledger()
            .context("cannot open the store's token cache")?;
        match config.build(&build_context(settings, Arc::new(tokens))) {
            Ok(source) => pull_chunks(store, config.name(), &source, range).await,
            Err(error) => Ok(SourceOutcome {
                name: config.name().to_string(),
                chunks_done: 0,
                chunks_total: 0,
                rows: 0,
                errors: vec![error],
                warnings: Vec::new(),
                uncovered: Vec::new(),
            }),
        }
    }
    .instrument(span)
    .await?;
    for warning in &outcome.warnings {
        tracing::warn!(source = %outcome.name, "{warning}");
    }
    Ok(outcome)
}

async fn pull_chunks(
    store: &mut Store,
    name: &str,
    source: &Source,
    range: DateRange,
) -> Result<SourceOutcome> {
    let chunks = match source.chunk_days() {
        Some(days) => range.chunks(days),
        None => vec![range],
    };
    let mut outcome = SourceOutcome {
        name: name.to_string(),
        chunks_done: 0,
        chunks_total: chunks.len(),
        rows: 0,
        errors: Vec::new(),
        warnings: Vec::new(),
        uncovered: Vec::new(),
    };
    for chunk in chunks {
        let chunk_span = tracing::info_span!("chunk", source = name, range = %chunk);
        match source.pull(chunk).instrument(chunk_span.clone()).await {
            Ok(pull) => {
                let upsert_span = tracing::info_span!(parent: &chunk_span, "upsert", source = name, range = %chunk);
                let stats = upsert_span
                    .in_scope(|| store.upsert(name, chunk, &pull.rows, pull.covered))
                    .with_context(|| {
                        format!("cannot store what source {name:?} returned for {chunk}")
                    })?;
                upsert_span.in_scope(|| {
                    tracing::info!(%chunk, rows = stats.written, replaced = stats.replaced, "stored")
                });
                outcome.chunks_done += 1;
                outcome.rows += stats.written;
                let covered = Coverage {
                    source: name.to_string(),
                    ranges: pull.covered.into_iter().collect(),
                };
                outcome.uncovered.extend(covered.missing_in(chunk));
                outcome.warnings.extend(pull.warnings);
            }
            Err(error) => {
                // Credentials and setup will not fix themselves by the next chunk; data and
                // throttling problems may, so those chunks are still tried.
                let hopeless = matches!(
                    error.kind,
                    ErrorKind::Auth | ErrorKind::Config | ErrorKind::Tls
                );
                outcome.errors.push(error);
                if hopeless {
                    break;
                }
            }
        }
    }
    Ok(outcome)
}

/// Analyses what the store holds for `from..=to`, with messages in the configured language.
/// Without bounds, the range is everything the configured sources have covered. The bounds
/// limit what is reported only: baselines read the covered history before `from`.
pub fn analyze(
    settings: &Settings,
    store: &Store,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<Analysis> {
    let names = source_names(settings);
    let coverage = store
        .coverage(&names)
        .context("cannot read the coverage ledger")?;
    let covered = coverage.iter().flat_map(|c| c.ranges.iter());
    let first = covered.clone().map(|r| r.start).min();
    let last = covered.map(|r| r.end).max();
    let (Some(from), Some(to)) = (from.or(first), to.or(last)) else {
        bail!(
            "the store at {} holds no data for the configured sources ({}); run `kassa backfill --from DATE --to DATE` first",
            store.root().display(),
            names.join(", ")
        );
    };
    let Some(range) = DateRange::new(from, to) else {
        bail!("--from {from} is after --to {to}");
    };
    let span = tracing::info_span!("analyze", range = %range);
    let _entered = span.enter();
    let ads = store
        .ads(&names)
        .context("cannot load ad rows from the store")?;
    let deals = store
        .deals(&names)
        .context("cannot load deals from the store")?;
    tracing::debug!(ads = ads.height(), deals = deals.height(), "loaded");
    let mut analysis =
        off_runtime(|| analysis::analyze(&ads, &deals, &coverage, &settings.rule, range, today))
            .context("the analysis failed")?;
    if analysis.currency.is_none() && analysis.warnings.is_empty() {
        analysis.currency = settings.alerting.currency.clone();
        for finding in &mut analysis.findings {
            finding.currency = analysis.currency.clone();
        }
    }
    text::describe_findings(&mut analysis, &settings.rule, settings.alerting.locale);
    Ok(analysis)
}

/// Runs `work` on a plain thread outside any tokio runtime and waits for it. polars' lazy engine
/// blocks on its own async executor and refuses to do so from inside a tokio runtime's context
/// (a current-thread runtime, as in the worker's tests, panics outright).
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// One source's answer to `kassa check`.
#[derive(Debug)]
pub struct CheckOutcome {
    pub name: String,
    pub kind: &'static str,
    pub result: Result<String, SourceError>,
}

/// Builds every source and, unless `offline`, reaches each once. `tokens` keeps any OAuth2
/// token a probe obtains.
pub async fn check(
    settings: &Settings,
    offline: bool,
    tokens: Arc<dyn TokenCache>,
) -> Vec<CheckOutcome> {
    let context = build_context(settings, tokens);
    let mut outcomes = Vec::new();
    for config in &settings.sources {
        let span = tracing::info_span!("check", source = config.name(), kind = config.kind());
        let result = async {
            let source = config.build(&context)?;
            if offline {
                Ok("configuration is valid (not contacted: --offline)".to_string())
            } else {
                source.probe().await
            }
        }
        .instrument(span)
        .await;
        outcomes.push(CheckOutcome {
            name: config.name().to_string(),
            kind: config.kind(),
            result,
        });
    }
    outcomes
}

fn source_names(settings: &Settings) -> Vec<&str> {
    settings.sources.iter().map(|s| s.name()).collect()
}
