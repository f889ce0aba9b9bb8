//! The pipeline: the only module that knows sources, store and analysis, and wires them.
//!
//! - [`backfill`] pulls every source over a range, in checkpointed chunks, into the store; run
//!   again after an interruption, it skips the chunks already stored ([`BackfillOptions`]);
//! - [`analyze`] reads the store and applies the rule;
//! - [`check`] builds every source and reaches each once.
//!
//! A backfill tells a [`Progress`] observer what it does, source by source and chunk by chunk
//! (the command line draws bars or logs lines from it, `progress.rs`); other callers pass
//! [`NoProgress`].
//!
//! A failing source never stops the others: its error is recorded in the outcome, its window
//! stays uncovered (and so becomes a `data_gap` in the analysis), and the caller turns the
//! outcome into exit code 2. So does a source that answered but left days of the window
//! uncovered (a CSV export that ends before the window does, or has no rows at all). A report
//! (`csv_report`) is the exception: it covers the periods it lists and claims nothing about
//! the others, so its unlisted days are neither a failure nor a data gap.
//!
//! Days are pulled once they have ended: for the business ([`completed_days`]) and in the
//! source's own time zone ([`pull_source`]). A source's day that has not ended yet is
//! *pending*: left out of that source's pull, not a failure, filled by the next run.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use chrono_tz::Tz;
use tracing::Instrument;

use crate::analysis::currency::CurrencySettings;
use crate::analysis::{self, Analysis, AnalysisWarning};
use crate::clock::{At, Clock};
use crate::config::Settings;
use crate::domain::{Coverage, DateRange, RowKind, Suspicion, SuspiciousWindow, TokenCache};
use crate::sources::channels::LegacyChannels;
use crate::sources::{BuildContext, ErrorKind, RetryPolicy, Source, SourceConfig, SourceError};
use crate::store::{Guard, Store};
use crate::text;

/// What happened to one source during a backfill.
#[derive(Debug)]
pub struct SourceOutcome {
    pub name: String,
    pub chunks_done: usize,
    pub chunks_total: usize,
    /// Chunks an interrupted backfill of the same range had stored, not pulled again (counted
    /// in `chunks_done` too).
    pub chunks_skipped: usize,
    pub rows: usize,
    pub errors: Vec<SourceError>,
    /// What the pulls said about rows they accepted (already logged as warnings).
    pub warnings: Vec<String>,
    /// Days of the window that pulls succeeded for but did not cover: data gaps.
    pub uncovered: Vec<DateRange>,
    /// Days of the range the source has not finished in its own time zone: not pulled, not a
    /// failure; the next run fills them.
    pub pending: Option<DateRange>,
    /// The time zone the source's days are in, when known.
    pub timezone: Option<Tz>,
    /// Windows whose answer looked like silence rather than data (already logged as
    /// warnings): stored rows kept, or a spend or revenue that shrank beyond `[store]
    /// max_shrink`. Marked in the ledger until accepted.
    pub suspicious: Vec<SuspiciousWindow>,
}

impl SourceOutcome {
    pub(crate) fn new(name: &str) -> SourceOutcome {
        SourceOutcome {
            name: name.to_string(),
            chunks_done: 0,
            chunks_total: 0,
            chunks_skipped: 0,
            rows: 0,
            errors: Vec::new(),
            warnings: Vec::new(),
            uncovered: Vec::new(),
            pending: None,
            timezone: None,
            suspicious: Vec::new(),
        }
    }

    /// The source failed, left days of its window uncovered, or answered a window with no
    /// rows where the store kept some: a partial failure (exit 2). Pending days are not a
    /// failure, nor is a shrunken window (it was stored; its mark is the warning).
    pub fn partial(&self) -> bool {
        !self.errors.is_empty()
            || !self.uncovered.is_empty()
            || self
                .suspicious
                .iter()
                .any(|w| matches!(w.suspicion, Suspicion::Kept { .. }))
    }
}

/// Whoever watches a backfill: told when a source starts (with its number of chunks), when
/// each chunk starts and ends, and when the source is done. Each method does nothing unless
/// overridden. Sources are pulled one after another (they share the store), but an observer
/// keys everything by source name, so it would stay right if they were pulled side by side.
/// Names, date ranges and counts only: nothing here can carry a secret.
pub trait Progress: Send + Sync {
    fn source_started(&self, _name: &str, _chunks_total: usize) {}
    fn chunk_started(&self, _name: &str, _range: DateRange) {}
    /// A chunk was handled: stored (`rows` written), skipped as stored by an interrupted
    /// backfill, or failed (both with 0 rows).
    fn chunk_done(&self, _name: &str, _range: DateRange, _rows: usize) {}
    /// The source's last word, also for a source that never started (it failed to build, or
    /// all its days are pending).
    fn source_finished(&self, _outcome: &SourceOutcome) {}
}

/// The observer that watches nothing: `run`, the worker, the demo and `-q`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

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

/// Clips `requested` to days that have ended for the business (`today` is the business's date):
/// platforms restate "today" all day. Each source then drops the days it has not finished in
/// its own zone ([`pull_source`]).
pub fn completed_days(requested: DateRange, today: NaiveDate) -> Result<DateRange> {
    let yesterday = today.pred_opt().context("today is the first day of time")?;
    match DateRange::new(requested.start, requested.end.min(yesterday)) {
        Some(range) => Ok(range),
        None => bail!(
            "the range {requested} has no completed day yet (today is {today} in the configured time zone)"
        ),
    }
}

/// How a backfill treats what earlier backfills stored and what the platforms answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillOptions {
    /// Pull every chunk, even those an interrupted backfill of the same range stored
    /// (`backfill --refresh`).
    pub refresh: bool,
    /// `--accept-empty`: store each chunk's answer as it is, even one with no rows where the
    /// store holds some (deleted campaigns, merged deals), and clear the suspicious marks of
    /// the chunks pulled.
    pub accept_empty: bool,
}

/// [`backfill_with`] with the default options: an interrupted backfill resumes, and an
/// answer with less than the store holds is kept back and marked.
pub async fn backfill(
    settings: &Settings,
    store: &mut Store,
    requested: DateRange,
    only: &[String],
    at: impl Into<At>,
) -> Result<BackfillOutcome> {
    backfill_with(
        settings,
        store,
        requested,
        only,
        BackfillOptions::default(),
        at,
    )
    .await
}

/// Pulls every selected source over `requested` (clipped to completed days) into the store.
///
/// Each source's range is cut into its chunk size; every chunk is upserted and recorded as
/// covered before the next one starts, so a killed backfill resumes by simply running again.
/// The ledger records which chunks each backfill stored: run again over the same range, a
/// backfill that was killed or ended partial is resumed, its stored chunks skipped (the rule
/// is in `store/backfills.rs`); with `options.refresh`, or after a backfill of the range that
/// finished well, every chunk is pulled again.
/// `options.accept_empty` stores what the platforms answer as it is.
pub async fn backfill_with(
    settings: &Settings,
    store: &mut Store,
    requested: DateRange,
    only: &[String],
    options: BackfillOptions,
    at: impl Into<At>,
) -> Result<BackfillOutcome> {
    backfill_watched(settings, store, requested, only, options, &NoProgress, at).await
}

/// [`backfill_with`], telling `progress` what it does.
pub async fn backfill_watched(
    settings: &Settings,
    store: &mut Store,
    requested: DateRange,
    only: &[String],
    options: BackfillOptions,
    progress: &dyn Progress,
    at: impl Into<At>,
) -> Result<BackfillOutcome> {
    let clock = Clock::resolve(at.into(), settings.timezone)?;
    use_business_timezone(settings, store)?;
    let range = completed_days(requested, clock.today())?;
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
    store
        .start_backfill(run, range)
        .context("cannot record the run in the ledger")?;
    let stored = if options.refresh {
        BTreeMap::new()
    } else {
        store
            .resumable_chunks(run, range)
            .context("cannot read earlier backfills from the ledger")?
    };
    // A backfill is numbered in the ledger, so its lines carry that number.
    let span = tracing::info_span!("backfill", run_id = run, range = %range);
    let mut outcomes = Vec::new();
    for config in settings
        .sources
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|n| n == s.name()))
    {
        let resume = Resume {
            run,
            stored: stored.get(config.name()).map_or(&[], Vec::as_slice),
        };
        let guard = guard(settings, options.accept_empty);
        let pulled = pull_source_in(
            settings,
            store,
            config,
            range,
            &clock,
            guard,
            Some(resume),
            progress,
        );
        let mut outcome = pulled.instrument(span.clone()).await?;
        if outcome.errors.is_empty()
            && outcome.rows == 0
            && outcome.chunks_skipped == 0
            && outcome.pending != Some(range)
        {
            let warning = format!("the backfill found no rows for {range}");
            span.in_scope(|| tracing::warn!(source = %outcome.name, "{warning}"));
            outcome.warnings.push(warning);
        }
        span.in_scope(|| progress.source_finished(&outcome));
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

/// Builds one source and pulls `range` into the store, chunk by chunk, leaving out the days
/// the source has not finished in its own time zone as of `clock` (its *pending* days).
/// Source failures are recorded in the outcome, not logged: the caller says them once (the
/// command line prints them, the worker logs them); only store failures are errors. Logs run
/// in a `pull` span per source, a `chunk` span per request range and an `upsert` span per
/// store write. `accept_empty` stores every answer as it is (see [`BackfillOptions`]); without
/// it, silence never erases stored rows (see [`Store::upsert_checked`]).
pub async fn pull_source(
    settings: &Settings,
    store: &mut Store,
    config: &SourceConfig,
    range: DateRange,
    clock: &Clock,
    accept_empty: bool,
) -> Result<SourceOutcome> {
    let guard = guard(settings, accept_empty);
    pull_source_in(
        settings,
        store,
        config,
        range,
        clock,
        guard,
        None,
        &NoProgress,
    )
    .await
}

/// What an upsert may replace: everything when the user accepts the answers as they are;
/// otherwise silence keeps stored rows, and shrinking beyond `[store] max_shrink` is marked.
fn guard(settings: &Settings, accept_empty: bool) -> Guard {
    if accept_empty {
        Guard::ACCEPT
    } else {
        Guard::new(settings.max_shrink)
    }
}

/// A backfill's memory, for one source: the run that records the chunks it stores, and the
/// days interrupted backfills of the same range stored, which it skips.
#[derive(Debug, Clone, Copy)]
struct Resume<'a> {
    run: i64,
    stored: &'a [DateRange],
}

/// [`pull_source`], within a backfill when `resume` is given.
#[allow(
    clippy::too_many_arguments,
    reason = "one private step of two public functions"
)]
async fn pull_source_in(
    settings: &Settings,
    store: &mut Store,
    config: &SourceConfig,
    range: DateRange,
    clock: &Clock,
    guard: Guard,
    resume: Option<Resume<'_>>,
    progress: &dyn Progress,
) -> Result<SourceOutcome> {
    let span =
        tracing::info_span!("pull", source = config.name(), kind = config.kind(), range = %range);
    let outcome = async {
        let tokens = store
            .token_ledger()
            .context("cannot open the store's token cache")?;
        if let Some(legacy) = config.legacy_channels() {
            let locale = settings.alerting.locale;
            tracing::warn!("{}", text::console::legacy_channels(config.name(), &legacy, locale));
        }
        match config.build(&build_context(settings, Arc::new(tokens))) {
            Ok(source) => {
                let timezone = source_timezone(settings, config, &source, range, clock).await;
                let source_today = clock.today_in(timezone.unwrap_or(Tz::UTC));
                let (ended, pending) = split_pending(range, source_today);
                if let Some(pending) = pending {
                    tracing::info!(%pending, timezone = %timezone.unwrap_or(Tz::UTC), "the source has not finished these days yet; the next run pulls them");
                }
                let report = config.row_kind() == RowKind::Claims;
                let mut outcome = match ended {
                    Some(ended) => {
                        let name = config.name();
                        pull_chunks(store, name, &source, ended, guard, resume, report, progress)
                            .await?
                    }
                    None => SourceOutcome::new(config.name()),
                };
                outcome.pending = pending;
                outcome.timezone = timezone;
                Ok::<_, anyhow::Error>(outcome)
            }
            Err(error) => Ok(SourceOutcome {
                errors: vec![error],
                ..SourceOutcome::new(config.name())
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

/// The zone `source`'s days are in: from its configuration, else asked from the platform, but
/// only when `range` reaches days that may not have ended somewhere on Earth (a historical
/// backfill asks nothing). `None` when the platform does not say; callers read it as UTC.
async fn source_timezone(
    settings: &Settings,
    config: &SourceConfig,
    source: &Source,
    range: DateRange,
    clock: &Clock,
) -> Option<Tz> {
    if let Some(zone) = config.timezone(settings.timezone) {
        return Some(zone);
    }
    // UTC-12 is the last zone to finish a day: a range ending before its today has ended
    // everywhere.
    if range.end < clock.today_in(Tz::Etc__GMTPlus12) {
        return None;
    }
    match source.timezone().await {
        Ok(Some(zone)) => Some(zone),
        Ok(None) => {
            tracing::warn!(
                "the platform did not say its time zone; its days are taken as UTC days (set `timezone` on the source)"
            );
            None
        }
        Err(error) => {
            tracing::warn!(
                "cannot read the source's time zone, taking its days as UTC days (set `timezone` on the source): {error}"
            );
            None
        }
    }
}

/// Splits `range` into the days that have ended where the source is (before `source_today`)
/// and the pending rest.
fn split_pending(
    range: DateRange,
    source_today: NaiveDate,
) -> (Option<DateRange>, Option<DateRange>) {
    let ended = source_today
        .pred_opt()
        .and_then(|last| DateRange::new(range.start, range.end.min(last)));
    let pending = DateRange::new(range.start.max(source_today), range.end);
    (ended, pending)
}

/// `report`: the source is a report (`csv_report`), which vouches only for the periods it
/// lists; the days it does not list are no failure of it (nothing was claimed for them).
#[allow(
    clippy::too_many_arguments,
    reason = "one private step of pull_source_in"
)]
async fn pull_chunks(
    store: &mut Store,
    name: &str,
    source: &Source,
    range: DateRange,
    guard: Guard,
    resume: Option<Resume<'_>>,
    report: bool,
    progress: &dyn Progress,
) -> Result<SourceOutcome> {
    let chunks = match source.chunk_days() {
        Some(days) => range.chunks(days),
        None => vec![range],
    };
    let mut outcome = SourceOutcome {
        chunks_total: chunks.len(),
        ..SourceOutcome::new(name)
    };
    progress.source_started(name, chunks.len());
    // Skipped only while the ledger still counts the days as covered.
    let covered = match resume {
        Some(resume) if !resume.stored.is_empty() => store
            .coverage(&[name])
            .context("cannot read the coverage ledger")?
            .pop()
            .map(|c| c.ranges)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let within = |ranges: &[DateRange], chunk: DateRange| {
        ranges
            .iter()
            .any(|r| r.start <= chunk.start && chunk.end <= r.end)
    };
    for chunk in chunks {
        if let Some(resume) = resume
            && within(resume.stored, chunk)
            && within(&covered, chunk)
        {
            tracing::debug!(source = name, %chunk, "stored by the interrupted backfill; skipped");
            outcome.chunks_done += 1;
            outcome.chunks_skipped += 1;
            progress.chunk_done(name, chunk, 0);
            continue;
        }
        progress.chunk_started(name, chunk);
        let chunk_span = tracing::info_span!("chunk", source = name, range = %chunk);
        match source.pull(chunk).instrument(chunk_span.clone()).await {
            Ok(pull) => {
                let upsert_span = tracing::info_span!(parent: &chunk_span, "upsert", source = name, range = %chunk);
                let covered = Coverage {
                    source: name.to_string(),
                    ranges: pull.covered.into_iter().collect(),
                    pending_from: None,
                };
                let missing = if report {
                    Vec::new()
                } else {
                    covered.missing_in(chunk)
                };
                let stored = upsert_span
                    .in_scope(|| store.upsert_checked(name, chunk, &pull.rows, pull.covered, guard))
                    .and_then(|checked| {
                        // A backfill remembers the chunks it stored whole, to skip them if it
                        // is interrupted and run again; a chunk whose answer was held back or
                        // marked is pulled again.
                        match resume {
                            Some(resume) if missing.is_empty() && checked.suspicions.is_empty() => {
                                store.record_stored_chunk(resume.run, name, chunk)?
                            }
                            _ => {}
                        }
                        Ok(checked)
                    });
                let checked = match stored {
                    Ok(checked) => checked,
                    Err(error) => {
                        // A full disk or an unwritable snapshot fails this source only; the
                        // next chunks would fail the same way, so they are not pulled.
                        outcome.errors.push(
                            SourceError::new(ErrorKind::Store, error.to_string())
                                .in_source(name, Some(chunk)),
                        );
                        progress.chunk_done(name, chunk, 0);
                        break;
                    }
                };
                let stats = checked.stats;
                upsert_span.in_scope(|| {
                    tracing::info!(%chunk, rows = stats.written, replaced = stats.replaced, "stored")
                });
                outcome.chunks_done += 1;
                outcome.rows += stats.written;
                progress.chunk_done(name, chunk, stats.written);
                outcome.uncovered.extend(missing);
                outcome.warnings.extend(pull.warnings);
                for suspicion in checked.suspicions {
                    outcome
                        .warnings
                        .push(suspicious_warning(name, chunk, &suspicion));
                    outcome.suspicious.push(SuspiciousWindow {
                        source: name.to_string(),
                        range: chunk,
                        suspicion,
                    });
                }
            }
            Err(error) => {
                // Credentials and setup will not fix themselves by the next chunk, nor a
                // quota spent for the day (asking again spends the next day's); data and
                // throttling problems may, so those chunks are still tried.
                let hopeless = matches!(
                    error.kind,
                    ErrorKind::Auth | ErrorKind::Config | ErrorKind::Tls | ErrorKind::QuotaSpent
                );
                outcome.errors.push(error);
                progress.chunk_done(name, chunk, 0);
                if hopeless {
                    break;
                }
            }
        }
    }
    Ok(outcome)
}

/// The log's warning about a suspicious window: the source, the range, what was kept or how
/// much shrank, and how a person accepts it.
fn suspicious_warning(name: &str, chunk: DateRange, suspicion: &Suspicion) -> String {
    let accept = format!(
        "if the rows were really deleted, accept it with `kassa backfill --from {} --to {} --source {name} --accept-empty`",
        chunk.start, chunk.end
    );
    match suspicion {
        Suspicion::Kept {
            channel: None,
            rows,
        } => format!(
            "the source answered no rows at all for {chunk}, where the store holds {rows}: kept the {rows} stored rows, not erased them, and marked the window suspicious; {accept}"
        ),
        Suspicion::Kept {
            channel: Some(channel),
            rows,
        } => format!(
            "the source answered no rows of channel {channel:?} for {chunk}, where the store holds {rows}: kept the {rows} stored rows of that channel and marked the window suspicious; {accept}"
        ),
        Suspicion::Shrunk {
            metric,
            before,
            after,
        } => format!(
            "the re-pull of {chunk} shrank its {metric} from {before} to {after}, by more than [store] max_shrink allows: stored, but marked suspicious, and no episode it overlaps is resolved until the window is accepted; {accept}"
        ),
    }
}

/// Why [`analyze`] has no analysis for the range asked, as opposed to failing: the store holds
/// nothing yet, or the range (a given end with a default one) runs backwards. The worker's
/// report answers these as the asker's to fix, not as its own failure.
#[derive(Debug, thiserror::Error)]
pub enum NothingToAnalyze {
    #[error(
        "the store at {store} holds no data for the configured sources ({sources}); run `kassa backfill --from DATE --to DATE` first"
    )]
    NoData { store: String, sources: String },
    #[error("--from {from} is after --to {to}")]
    Inverted { from: NaiveDate, to: NaiveDate },
}

/// Analyses what the store holds for `from..=to`, with messages in the configured language.
/// Without bounds, the range is everything the configured sources have covered. The bounds
/// limit what is reported only: baselines read the covered history before `from`. Each
/// source's pending days are judged in the zone its configuration gives (UTC when only the
/// platform knows it).
pub fn analyze(
    settings: &Settings,
    store: &Store,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    at: impl Into<At>,
) -> Result<Analysis> {
    let clock = Clock::resolve(at.into(), settings.timezone)?;
    analyze_as_of(settings, store, from, to, &clock, &[])
}

/// [`analyze`] as of `clock`, with the zones `known` from this run's pulls (a platform's own
/// zone, read over the network) taking precedence over the configuration's.
pub fn analyze_as_of(
    settings: &Settings,
    store: &Store,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    clock: &Clock,
    known: &[SourceOutcome],
) -> Result<Analysis> {
    note_timezone_change(settings, store)?;
    let today = clock.today();
    let names = source_names(settings);
    // What the ads and the CRM covered withholds verdicts; a report's coverage does not: it
    // vouches for neither, and the days it does not list are not data gaps.
    let observing: Vec<&SourceConfig> = settings
        .sources
        .iter()
        .filter(|s| s.row_kind() != RowKind::Claims)
        .collect();
    let observed: Vec<&str> = observing.iter().map(|s| s.name()).collect();
    let mut coverage = store
        .coverage(&observed)
        .context("cannot read the coverage ledger")?;
    for (source, config) in coverage.iter_mut().zip(observing) {
        let zone = known
            .iter()
            .find(|o| o.name == source.source)
            .and_then(|o| o.timezone)
            .or_else(|| config.timezone(settings.timezone))
            .unwrap_or(Tz::UTC);
        source.pending_from = Some(clock.today_in(zone)).filter(|day| *day < today);
    }
    let covered = coverage.iter().flat_map(|c| c.ranges.iter());
    let first = covered.clone().map(|r| r.start).min();
    let last = covered.map(|r| r.end).max();
    let (Some(from), Some(to)) = (from.or(first), to.or(last)) else {
        return Err(NothingToAnalyze::NoData {
            store: store.root().display().to_string(),
            sources: names.join(", "),
        }
        .into());
    };
    let Some(range) = DateRange::new(from, to) else {
        return Err(NothingToAnalyze::Inverted { from, to }.into());
    };
    let span = tracing::info_span!("analyze", range = %range);
    let _entered = span.enter();
    // Lazy scans: the analysis reads only the columns it needs, one month file of ad rows
    // at a time.
    let scans = analysis::Scans {
        ads: store
            .scan_ad_parts(&observed)
            .context("cannot read ad rows from the store")?,
        deals: store
            .scan_deals_in(&observed, settings.timezone)
            .context("cannot read deals from the store")?,
        claims: store
            .scan_claims(&names)
            .context("cannot read report claims from the store")?,
    };
    // A rates file with bad rows still lends its good ones; the amounts the bad ones would
    // have converted become unknown, and the warning says why.
    let mut rule = settings.rule.clone();
    let rates_problem = match currency_settings(settings) {
        Ok(currency) => {
            rule.currency = currency;
            None
        }
        Err((currency, error)) => {
            tracing::error!("{error:#}");
            rule.currency = currency;
            Some(format!("{error:#}"))
        }
    };
    let mut analysis =
        off_runtime(|| analysis::analyze_scans(scans, &coverage, &rule, range, today))
            .context("the analysis failed")?;
    analysis
        .warnings
        .extend(rates_problem.map(AnalysisWarning::RatesFile));
    // Windows whose re-pull looked like silence, so that whoever reads the analysis knows
    // which numbers the store kept or doubts.
    let shown = DateRange::new(analysis.from, analysis.to);
    analysis.warnings.extend(
        store
            .suspicious_windows(&names)
            .context("cannot read the suspicious windows from the ledger")?
            .into_iter()
            .filter(|w| shown.is_some_and(|shown| shown.intersect(&w.range).is_some()))
            .map(AnalysisWarning::Suspicious),
    );
    text::describe_findings(&mut analysis, &settings.rule, settings.alerting.locale);
    Ok(analysis)
}

/// `[currency]` with the dated rates of `[currency] rates_file` read now (a nightly job may
/// update the file between runs). On a file that cannot be read or holds bad rows, the error
/// comes with the settings read so far: the fixed rates and the file's good rows.
pub fn currency_settings(
    settings: &Settings,
) -> Result<CurrencySettings, (CurrencySettings, anyhow::Error)> {
    let mut currency = settings.rule.currency.clone();
    let Some(path) = &settings.rates_file else {
        return Ok(currency);
    };
    let read = std::fs::read_to_string(path)
        .map_err(anyhow::Error::from)
        .and_then(|text| Ok(currency.rates.read_csv(&text)?));
    match read {
        Ok(rows) => {
            tracing::debug!(rows, file = %path.display(), "read the currency rates");
            Ok(currency)
        }
        Err(error) => {
            let error = error.context(format!(
                "the rates file {} ([currency] rates_file)",
                path.display()
            ));
            Err((currency, error))
        }
    }
}

/// Says when deals in the store were dated in another time zone than `[analysis] timezone`.
/// Reading re-dates them from the instants the CRM recorded, so nothing mixes zones; deals
/// without instants (CSV exports, or written by a kassa before store schema 3) keep their
/// dates, and the warning says how many.
fn note_timezone_change(settings: &Settings, store: &Store) -> Result<()> {
    let changes = store
        .timezone_changes(&source_names(settings), settings.timezone)
        .context("cannot read the time zone of stored deals")?;
    for change in changes {
        tracing::warn!(
            source = %change.source,
            stored = %change.stored,
            configured = %settings.timezone,
            redated = change.redated,
            kept = change.without_instants,
            "deals were stored with their dates in {} but [analysis] timezone is {}: {} re-dated from their instants{}",
            change.stored,
            settings.timezone,
            change.redated,
            if change.without_instants == 0 {
                String::new()
            } else {
                format!(
                    "; {} have no stored instant and keep their dates (re-pull the source's history with `kassa backfill` if they came from an API)",
                    change.without_instants
                )
            }
        );
    }
    Ok(())
}

/// Dates deals in `[analysis] timezone` from here on: what the store writes is in it.
pub fn use_business_timezone(settings: &Settings, store: &mut Store) -> Result<()> {
    note_timezone_change(settings, store)?;
    store.set_timezone(settings.timezone);
    Ok(())
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
    /// The older channel-mapping keys the source sets, read as rules (`check` shows what to
    /// paste in their place).
    pub legacy_channels: Option<LegacyChannels>,
    /// What the probe found, in the platform's words; `None` when offline (built, not
    /// contacted).
    pub result: Result<Option<String>, SourceError>,
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
                Ok(None)
            } else {
                source.probe().await.map(Some)
            }
        }
        .instrument(span)
        .await;
        outcomes.push(CheckOutcome {
            name: config.name().to_string(),
            kind: config.kind(),
            legacy_channels: config.legacy_channels(),
            result,
        });
    }
    outcomes
}

fn source_names(settings: &Settings) -> Vec<&str> {
    settings.sources.iter().map(|s| s.name()).collect()
}
