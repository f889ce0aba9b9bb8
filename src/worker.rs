//! `kassa worker`: a long-running process that runs the nightly cycle on its own schedule (a
//! cron expression in a time zone), serves `/healthz` and Prometheus `/metrics` (through
//! [`crate::server`], counted with prometheus-client) and the HTML report (`GET /`,
//! `GET /report`, rendered per request from the store, behind an optional bearer token), and
//! shuts down gracefully: on SIGTERM or Ctrl-C it stops scheduling, lets a cycle in flight
//! finish within the grace period, and otherwise abandons it. Abandoning is safe because every
//! store write is atomic (snapshots are renamed into place, the ledger and outbox are SQLite
//! transactions): the next cycle simply pulls that window again.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use secrecy::SecretString;

use crate::alerts::AlertTarget;
use crate::analysis::FindingKind;
use crate::config::Settings;
use crate::cycle::{self, CycleOutcome};
use crate::domain::Locale;
use crate::pipeline::{self, NothingToAnalyze};
use crate::server;
use crate::store::{LockError, Store, StoreError, StoreLock};
use crate::telemetry;
use crate::text;

/// How long the HTTP server gets, after the schedule stops, to finish the requests it is
/// answering; a scraper holding a connection open must not hold up a shutdown.
const SERVER_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The next time `schedule` fires strictly after `after`, read in `timezone`: `0 6 * * *` in
/// Europe/Berlin is 05:00 UTC in winter and 04:00 UTC in summer. A local time skipped by a DST
/// change fires at the first instant after the gap; a repeated one fires once.
pub fn next_run(schedule: &Cron, timezone: Tz, after: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let local = after.with_timezone(&timezone);
    let next = schedule
        .find_next_occurrence(&local, false)
        .with_context(|| format!("the schedule {schedule:?} never fires after {after}"))?;
    Ok(next.with_timezone(&Utc))
}

/// The label of `kassa_runs_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RunLabels {
    outcome: &'static str,
}

/// The label of `kassa_findings`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// The label of `kassa_source_failures_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

/// What `/metrics` reports (the README lists the names; a scraper relies on them).
///
/// Two quirks of prometheus-client shape the registration: it appends `_total` to counter
/// samples itself, so counters are registered without it (the samples still read
/// `kassa_runs_total`), and it ends every HELP text with a full stop, so the texts here have
/// none.
#[derive(Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    runs: Family<RunLabels, Counter>,
    last_success: Gauge,
    next_run: Gauge,
    findings: Family<KindLabels, Gauge>,
    alerts_delivered: Counter,
    alerts_pending: Gauge,
    alerts_dead: Gauge,
    source_failures: Family<SourceLabels, Counter>,
}

impl Metrics {
    /// Metrics for a worker whose configured sources are `sources`.
    pub fn new<'a>(sources: impl IntoIterator<Item = &'a str>) -> Metrics {
        let runs = Family::<RunLabels, Counter>::default();
        // Every outcome is shown from the start, at 0, so a rate over it is defined before the
        // first failure.
        for outcome in ["ok", "partial", "failed", "skipped_locked"] {
            drop(runs.get_or_create(&RunLabels { outcome }));
        }
        let findings = Family::<KindLabels, Gauge>::default();
        for kind in FindingKind::ALL {
            drop(findings.get_or_create(&KindLabels {
                kind: kind.as_str(),
            }));
        }
        let last_success = Gauge::default();
        let next_run = Gauge::default();
        let alerts_delivered = Counter::default();
        let alerts_pending = Gauge::default();
        let alerts_dead = Gauge::default();
        let source_failures = Family::<SourceLabels, Counter>::default();
        // prometheus-client leaves out a family without samples, HELP and TYPE included, so
        // each configured source starts at 0 (which also lets `increase()` see the first
        // failure).
        for source in sources {
            drop(source_failures.get_or_create(&SourceLabels {
                source: source.to_string(),
            }));
        }
        let mut registry = Registry::default();
        registry.register("kassa_runs", "Nightly cycles by outcome", runs.clone());
        registry.register(
            "kassa_last_success_timestamp_seconds",
            "When the last fully successful cycle finished (0: never)",
            last_success.clone(),
        );
        registry.register(
            "kassa_next_run_timestamp_seconds",
            "When the next cycle is scheduled",
            next_run.clone(),
        );
        registry.register(
            "kassa_findings",
            "Findings of the last cycle's analysis, by kind",
            findings.clone(),
        );
        registry.register(
            "kassa_alerts_delivered",
            "Alerts delivered from the outbox, over the store's lifetime",
            alerts_delivered.clone(),
        );
        registry.register(
            "kassa_alerts_pending",
            "Alerts waiting in the outbox for delivery",
            alerts_pending.clone(),
        );
        registry.register(
            "kassa_alerts_dead",
            "Dead letters in the outbox: alerts a target refused for good or failed for dead_after_runs runs (kassa outbox list)",
            alerts_dead.clone(),
        );
        registry.register(
            "kassa_source_failures",
            "Cycles in which a source failed, by source",
            source_failures.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            runs,
            last_success,
            next_run,
            findings,
            alerts_delivered,
            alerts_pending,
            alerts_dead,
            source_failures,
        }
    }

    /// The registry `/metrics` encodes.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    fn record(&self, outcome: &Result<CycleOutcome>, now: DateTime<Utc>) {
        let runs = |outcome| {
            self.runs.get_or_create(&RunLabels { outcome }).inc();
        };
        match outcome {
            Ok(o) => {
                if o.partial() {
                    runs("partial");
                } else {
                    runs("ok");
                    self.last_success.set(now.timestamp());
                }
                for kind in FindingKind::ALL {
                    let count = o.findings.get(&kind).copied().unwrap_or(0);
                    self.findings
                        .get_or_create(&KindLabels {
                            kind: kind.as_str(),
                        })
                        .set(i64::try_from(count).unwrap_or(i64::MAX));
                }
                // The store counts deliveries over its lifetime, across restarts of the
                // worker, so the counter takes the store's absolute figure rather than
                // counting this process's deliveries.
                self.alerts_delivered
                    .inner()
                    .store(o.delivered_total, Ordering::Relaxed);
                self.alerts_pending
                    .set(i64::try_from(o.pending).unwrap_or(i64::MAX));
                self.alerts_dead
                    .set(i64::try_from(o.dead).unwrap_or(i64::MAX));
                for source in o.sources.iter().filter(|s| !s.errors.is_empty()) {
                    self.source_failures
                        .get_or_create(&SourceLabels {
                            source: source.name.clone(),
                        })
                        .inc();
                }
            }
            Err(_) => runs("failed"),
        }
    }

    fn skipped_locked(&self) {
        self.runs
            .get_or_create(&RunLabels {
                outcome: "skipped_locked",
            })
            .inc();
    }

    fn scheduled(&self, next: DateTime<Utc>) {
        self.next_run.set(next.timestamp());
    }

    /// The exposition `/metrics` serves (OpenMetrics text).
    pub fn render(&self) -> String {
        // Encoding into a String only fails if a metric's own encoder does, and these are
        // the library's own counters and gauges.
        server::metrics_text(&self.registry).unwrap_or_default()
    }
}

/// The worker's shared state.
pub struct Worker {
    settings: Settings,
    targets: Vec<AlertTarget>,
    metrics: Arc<Metrics>,
}

impl Worker {
    pub fn new(settings: Settings, targets: Vec<AlertTarget>) -> Worker {
        let metrics = Arc::new(Metrics::new(settings.sources.iter().map(|s| s.name())));
        Worker {
            settings,
            targets,
            metrics,
        }
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// One scheduled step: takes the store lock, runs the cycle as of `now`, records metrics.
    /// A store held by another process (a manual `kassa run`) skips the step.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Option<CycleOutcome>> {
        let _lock = match StoreLock::acquire_at(&self.settings.store_location()) {
            Ok(lock) => lock,
            Err(LockError::Held { holder, .. }) => {
                tracing::warn!(%holder, "the store is busy; skipping this cycle");
                self.metrics.skipped_locked();
                return Ok(None);
            }
            Err(LockError::Store(e)) => return Err(e.into()),
        };
        let today = crate::clock::Clock::at(now, self.settings.timezone).today();
        // The span's run id is made before the store is open; the ledger numbers the cycle
        // too (`runs`, inside `run_cycle`).
        let span = telemetry::cycle_span(&telemetry::new_run_id(), today);
        let result = async {
            let mut store =
                Store::open_at(&self.settings.store_location()).context("cannot open the store")?;
            cycle::run_cycle(&self.settings, &mut store, &self.targets, now).await
        };
        let result = tracing::Instrument::instrument(result, span).await;
        self.metrics.record(&result, Utc::now());
        result.map(Some)
    }

    /// Serves health and metrics, and runs the schedule until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(self.settings.worker.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.settings.worker.listen))?;
        self.run_on(listener, shutdown).await
    }

    /// [`Worker::run`] on a listener the caller bound (tests bind port 0).
    pub async fn run_on(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        tracing::info!(
            listen = %listener.local_addr().map_or("?".to_string(), |a| a.to_string()),
            schedule = %self.settings.worker.schedule_text,
            timezone = %self.settings.worker.timezone,
            "worker started"
        );
        // Read once, before serving: a token that cannot be read stops the worker here rather
        // than leaving the report open or refusing everyone.
        let token = self
            .settings
            .worker
            .report_token
            .resolve()
            .context("cannot read the report token")?;
        let reports = report_router(Arc::new(self.settings.clone()), token.map(Arc::new));
        let (stop_serving, serving_stopped) = tokio::sync::oneshot::channel::<()>();
        let mut server = tokio::spawn(server::serve(
            listener,
            server::router(self.metrics.registry()).merge(reports),
            async {
                // A dropped sender (the worker returned early with an error) stops it too.
                let _ = serving_stopped.await;
            },
        ));
        tokio::pin!(shutdown);
        let result = loop {
            let next = next_run(
                &self.settings.worker.schedule,
                self.settings.worker.timezone,
                Utc::now(),
            )?;
            self.metrics.scheduled(next);
            tracing::info!(%next, "next cycle scheduled");
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = &mut shutdown => break Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
            let cycle = self.tick(next);
            tokio::pin!(cycle);
            tokio::select! {
                result = &mut cycle => log_cycle(result),
                () = &mut shutdown => {
                    tracing::info!(grace_s = self.settings.worker.shutdown_grace.as_secs(), "shutting down; letting the cycle in flight finish");
                    match tokio::time::timeout(self.settings.worker.shutdown_grace, cycle).await {
                        Ok(result) => log_cycle(result),
                        Err(_) => tracing::warn!("the cycle did not finish within the grace period; abandoned (the next cycle pulls its window again)"),
                    }
                    break Ok(());
                }
            }
        };
        // /healthz and /metrics stay up while a cycle in flight finishes; only now does the
        // server stop, answering what it is answering, within a bound.
        let _ = stop_serving.send(());
        match tokio::time::timeout(SERVER_DRAIN, &mut server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::error!("{error:#}"),
            Ok(Err(join)) => tracing::error!("the HTTP server ended abnormally: {join}"),
            Err(_) => {
                server.abort();
                tracing::warn!(
                    "the HTTP server did not drain in time; its connections were dropped"
                );
            }
        }
        tracing::info!("worker stopped");
        result
    }
}

/// What the report endpoints share: the settings to analyse with and the token they require
/// (`None`: the report is open).
#[derive(Clone)]
struct ReportState {
    settings: Arc<Settings>,
    token: Option<Arc<SecretString>>,
}

/// `GET /` (the latest report: everything the store covers, in `[alerting] locale`) and `GET
/// /report?from=&to=&locale=` (any range; each parameter optional, defaulting as `kassa
/// analyze` does).
fn report_router(settings: Arc<Settings>, token: Option<Arc<SecretString>>) -> Router {
    Router::new()
        .route("/", get(latest_report))
        .route("/report", get(ranged_report))
        .with_state(ReportState { settings, token })
}

async fn latest_report(State(state): State<ReportState>, headers: HeaderMap) -> Response {
    let locale = state.settings.alerting.locale;
    let request = ReportRequest {
        from: None,
        to: None,
        locale,
    };
    serve_report(state, &headers, Ok(request)).await
}

async fn ranged_report(
    State(state): State<ReportState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = ReportRequest::parse(query.as_deref(), state.settings.alerting.locale);
    serve_report(state, &headers, request).await
}

/// The token first (a caller without it learns nothing, not even that a parameter is
/// wrong), then the parameters, then the page, rendered off the async threads.
async fn serve_report(
    state: ReportState,
    headers: &HeaderMap,
    request: Result<ReportRequest, String>,
) -> Response {
    let configured = state.settings.alerting.locale;
    if let Some(token) = &state.token
        && !server::bearer_matches(headers, token)
    {
        let locale = request.as_ref().map_or(configured, |r| r.locale);
        return server::unauthorized(text::web::token_required(locale));
    }
    let request = match request {
        Ok(request) => request,
        Err(sentence) => return server::plain(StatusCode::BAD_REQUEST, &sentence),
    };
    let locale = request.locale;
    let settings = state.settings.clone();
    match tokio::task::spawn_blocking(move || render_report(&settings, &request)).await {
        Ok(Ok(page)) => server::html(page),
        Ok(Err(ReportError::NoData)) => server::plain(
            StatusCode::SERVICE_UNAVAILABLE,
            text::web::no_data_yet(locale),
        ),
        Ok(Err(ReportError::Backwards { from, to })) => server::plain(
            StatusCode::BAD_REQUEST,
            &text::web::range_backwards(from, to, locale),
        ),
        Ok(Err(ReportError::Failed(error))) => {
            tracing::error!("the report failed: {error:#}");
            server::plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                text::web::report_failed(locale),
            )
        }
        Err(join) => {
            tracing::error!("the report's rendering ended abnormally: {join}");
            server::plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                text::web::report_failed(locale),
            )
        }
    }
}

/// One report asked for: bounds as `kassa analyze --from/--to` take them, and its language.
#[derive(Debug, Clone, PartialEq)]
struct ReportRequest {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    locale: Locale,
}

impl ReportRequest {
    /// Reads `from`, `to` and `locale` from a query string; an empty value is an absent one,
    /// and other parameters (a cache-buster) are ignored. A problem comes back as the sentence
    /// to answer with, in the language asked for when that much was readable.
    fn parse(query: Option<&str>, configured: Locale) -> Result<ReportRequest, String> {
        let (mut from, mut to, mut locale) = (None, None, None);
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let value = value.trim().to_string();
            match key.as_ref() {
                "from" => from = Some(value),
                "to" => to = Some(value),
                "locale" => locale = Some(value),
                _ => {}
            }
        }
        let locale = match locale.as_deref() {
            None | Some("") => configured,
            Some("en") => Locale::En,
            Some("ru") => Locale::Ru,
            Some(other) => {
                return Err(text::web::unknown_locale(other, configured));
            }
        };
        let date = |parameter: &str, value: Option<String>| match value.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => text
                .parse::<NaiveDate>()
                .map(Some)
                .map_err(|_| text::web::not_a_date(parameter, text, locale)),
        };
        let (from, to) = (date("from", from)?, date("to", to)?);
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(text::web::range_backwards(from, to, locale));
        }
        Ok(ReportRequest { from, to, locale })
    }
}

/// Why no page was rendered.
enum ReportError {
    /// The store does not exist yet or covers nothing.
    NoData,
    /// A given bound and a default one make a range that runs backwards.
    Backwards {
        from: NaiveDate,
        to: NaiveDate,
    },
    Failed(anyhow::Error),
}

/// The page for `request`, from the store as it is now: opened read-only, so a cycle writing
/// it at the same time is neither blocked nor disturbed, and analysed as of today in the
/// business's zone, as `kassa analyze` does.
fn render_report(settings: &Settings, request: &ReportRequest) -> Result<String, ReportError> {
    let store = match Store::open_read_only_at(&settings.store_location()) {
        Ok(store) => store,
        Err(StoreError::Missing { .. }) => return Err(ReportError::NoData),
        Err(error) => {
            return Err(ReportError::Failed(
                anyhow::Error::new(error).context("cannot open the store"),
            ));
        }
    };
    let today = crate::clock::Clock::now(settings.timezone).today();
    let analysis =
        pipeline::analyze(settings, &store, request.from, request.to, today).map_err(|error| {
            match error.downcast_ref::<NothingToAnalyze>() {
                Some(NothingToAnalyze::NoData { .. }) => ReportError::NoData,
                Some(NothingToAnalyze::Inverted { from, to }) => ReportError::Backwards {
                    from: *from,
                    to: *to,
                },
                None => ReportError::Failed(error),
            }
        })?;
    Ok(crate::report::html::render(
        &analysis,
        &settings.rule,
        request.locale,
    ))
}

fn log_cycle(result: Result<Option<CycleOutcome>>) {
    match result {
        Ok(Some(outcome)) => {
            // The cycle records failures without logging them; the worker has no other
            // output, so it says each one here, once.
            for source in &outcome.sources {
                for error in &source.errors {
                    tracing::error!(source = %source.name, "source failed: {error}");
                }
            }
            for error in &outcome.undelivered {
                tracing::error!("{error}");
            }
            for broken in &outcome.broken_targets {
                tracing::error!(
                    "{}",
                    crate::text::console::target_broken(&broken.target, broken.dead, &broken.error)
                );
            }
            tracing::info!(
                flagged = outcome.flagged,
                delivered = outcome.delivered.len(),
                pending = outcome.pending,
                partial = outcome.partial(),
                "cycle finished"
            );
        }
        Ok(None) => {}
        Err(error) => tracing::error!("cycle failed: {error:#}"),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::SourceOutcome;
    use crate::sources::{ErrorKind, SourceError};

    #[test]
    fn report_parameters_are_optional_dates_and_a_known_locale() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            ReportRequest::parse(None, Locale::Ru),
            Ok(ReportRequest {
                from: None,
                to: None,
                locale: Locale::Ru
            })
        );
        assert_eq!(
            ReportRequest::parse(Some("from=2025-03-01&to=&locale=en&_=17"), Locale::Ru),
            Ok(ReportRequest {
                from: Some(d("2025-03-01")),
                to: None,
                locale: Locale::En
            })
        );
        let problem = |query| ReportRequest::parse(Some(query), Locale::En).unwrap_err();
        assert_eq!(
            problem("to=2025-13-01"),
            "to: \"2025-13-01\" is not a date; use YYYY-MM-DD, for example to=2025-03-01"
        );
        assert!(
            problem("from=2025-03-01&to=2025-02-01")
                .starts_with("from: 2025-03-01 is after to (2025-02-01)")
        );
        assert_eq!(problem("locale=de"), "locale: \"de\" is not en or ru");
        // The sentence is in the language asked for.
        assert!(problem("locale=ru&from=x").contains("не дата"));
    }

    fn sorted_lines(text: &str) -> Vec<String> {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    }

    /// The names, types and HELP texts the README documents, exactly; sample order within a
    /// labelled metric is the library's, so lines are compared as a set.
    #[test]
    fn a_fresh_exposition_lists_every_documented_metric() {
        let text = Metrics::new(["ads", "crm"]).render();
        assert!(text.ends_with("# EOF\n"), "{text}");
        let mut expected = vec![
            "# HELP kassa_runs Nightly cycles by outcome.".to_string(),
            "# TYPE kassa_runs counter".into(),
            "kassa_runs_total{outcome=\"ok\"} 0".into(),
            "kassa_runs_total{outcome=\"partial\"} 0".into(),
            "kassa_runs_total{outcome=\"failed\"} 0".into(),
            "kassa_runs_total{outcome=\"skipped_locked\"} 0".into(),
            "# HELP kassa_last_success_timestamp_seconds When the last fully successful cycle finished (0: never).".into(),
            "# TYPE kassa_last_success_timestamp_seconds gauge".into(),
            "kassa_last_success_timestamp_seconds 0".into(),
            "# HELP kassa_next_run_timestamp_seconds When the next cycle is scheduled.".into(),
            "# TYPE kassa_next_run_timestamp_seconds gauge".into(),
            "kassa_next_run_timestamp_seconds 0".into(),
            "# HELP kassa_findings Findings of the last cycle's analysis, by kind.".into(),
            "# TYPE kassa_findings gauge".into(),
            "# HELP kassa_alerts_delivered Alerts delivered from the outbox, over the store's lifetime.".into(),
            "# TYPE kassa_alerts_delivered counter".into(),
            "kassa_alerts_delivered_total 0".into(),
            "# HELP kassa_alerts_pending Alerts waiting in the outbox for delivery.".into(),
            "# TYPE kassa_alerts_pending gauge".into(),
            "kassa_alerts_pending 0".into(),
            "# HELP kassa_alerts_dead Dead letters in the outbox: alerts a target refused for good or failed for dead_after_runs runs (kassa outbox list).".into(),
            "# TYPE kassa_alerts_dead gauge".into(),
            "kassa_alerts_dead 0".into(),
            "# HELP kassa_source_failures Cycles in which a source failed, by source.".into(),
            "# TYPE kassa_source_failures counter".into(),
            "kassa_source_failures_total{source=\"ads\"} 0".into(),
            "kassa_source_failures_total{source=\"crm\"} 0".into(),
            "# EOF".into(),
        ];
        for kind in FindingKind::ALL {
            expected.push(format!("kassa_findings{{kind=\"{}\"}} 0", kind.as_str()));
        }
        expected.sort();
        assert_eq!(sorted_lines(&text), expected, "{text}");
    }

    fn failing(name: &str) -> SourceOutcome {
        SourceOutcome {
            name: name.to_string(),
            chunks_done: 0,
            chunks_total: 1,
            chunks_skipped: 0,
            rows: 0,
            errors: vec![SourceError::new(ErrorKind::Server, "down")],
            warnings: Vec::new(),
            uncovered: Vec::new(),
            pending: None,
            timezone: None,
            suspicious: Vec::new(),
        }
    }

    #[test]
    fn cycles_count_by_outcome_and_store_figures_are_absolute() {
        let metrics = Metrics::new(["meta", "crm"]);
        let finished = Utc::now();
        let clean = CycleOutcome {
            findings: [(FindingKind::ActivityWithoutMoney, 3)]
                .into_iter()
                .collect(),
            delivered_total: 7,
            ..CycleOutcome::default()
        };
        metrics.record(&Ok(clean), finished);
        let partial = CycleOutcome {
            sources: vec![failing("meta")],
            findings: [(FindingKind::DataGap, 2)].into_iter().collect(),
            delivered_total: 9,
            pending: 1,
            ..CycleOutcome::default()
        };
        metrics.record(&Ok(partial), finished);
        metrics.record(&Err(anyhow::anyhow!("the store is unreadable")), finished);
        metrics.skipped_locked();
        let text = metrics.render();
        for expected in [
            "kassa_runs_total{outcome=\"ok\"} 1".to_string(),
            "kassa_runs_total{outcome=\"partial\"} 1".into(),
            "kassa_runs_total{outcome=\"failed\"} 1".into(),
            "kassa_runs_total{outcome=\"skipped_locked\"} 1".into(),
            format!(
                "kassa_last_success_timestamp_seconds {}",
                finished.timestamp()
            ),
            // The last cycle's findings: a kind it did not report is back to 0.
            "kassa_findings{kind=\"activity_without_money\"} 0".into(),
            "kassa_findings{kind=\"data_gap\"} 2".into(),
            // The store's lifetime figure, not 7 + 9.
            "kassa_alerts_delivered_total 9".into(),
            "kassa_alerts_pending 1".into(),
            "kassa_source_failures_total{source=\"meta\"} 1".into(),
            "kassa_source_failures_total{source=\"crm\"} 0".into(),
        ] {
            assert!(
                text.lines().any(|line| line == expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }
}
