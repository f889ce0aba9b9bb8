//! `kassa worker`: a long-running process that runs the nightly cycle on its own schedule (a
//! cron expression in a time zone), serves `/healthz` and Prometheus `/metrics`, and shuts down
//! gracefully: on SIGTERM or Ctrl-C it stops scheduling, lets a cycle in flight finish within
//! the grace period, and otherwise abandons it. Abandoning is safe because every store write
//! is atomic (snapshots are renamed into place, the ledger and outbox are SQLite transactions):
//! the next cycle simply pulls that window again.

use std::future::Future;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

use crate::alerts::AlertTarget;
use crate::analysis::FindingKind;
use crate::config::Settings;
use crate::cycle::{self, CycleOutcome};
use crate::httpd::{self, Response};
use crate::store::{LockError, Store, StoreLock};

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

/// What `/metrics` reports.
#[derive(Debug, Default)]
pub struct Metrics {
    runs_ok: u64,
    runs_partial: u64,
    runs_failed: u64,
    runs_skipped_locked: u64,
    last_success: Option<DateTime<Utc>>,
    next_run: Option<DateTime<Utc>>,
    findings: std::collections::BTreeMap<FindingKind, u64>,
    alerts_delivered: u64,
    alerts_pending: u64,
    source_failures: std::collections::BTreeMap<String, u64>,
}

impl Metrics {
    fn record(&mut self, outcome: &Result<CycleOutcome>, now: DateTime<Utc>) {
        match outcome {
            Ok(o) => {
                if o.partial() {
                    self.runs_partial += 1;
                } else {
                    self.runs_ok += 1;
                    self.last_success = Some(now);
                }
                self.findings = o.findings.iter().map(|(k, n)| (*k, *n as u64)).collect();
                self.alerts_delivered = o.delivered_total;
                self.alerts_pending = o.pending;
                for source in o.sources.iter().filter(|s| !s.errors.is_empty()) {
                    *self.source_failures.entry(source.name.clone()).or_default() += 1;
                }
            }
            Err(_) => self.runs_failed += 1,
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in samples {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        metric(
            "kassa_runs_total",
            "counter",
            "Nightly cycles by outcome.",
            vec![
                ("{outcome=\"ok\"}".into(), self.runs_ok.to_string()),
                (
                    "{outcome=\"partial\"}".into(),
                    self.runs_partial.to_string(),
                ),
                ("{outcome=\"failed\"}".into(), self.runs_failed.to_string()),
                (
                    "{outcome=\"skipped_locked\"}".into(),
                    self.runs_skipped_locked.to_string(),
                ),
            ],
        );
        metric(
            "kassa_last_success_timestamp_seconds",
            "gauge",
            "When the last fully successful cycle finished (0: never).",
            vec![(
                String::new(),
                self.last_success.map_or(0, |t| t.timestamp()).to_string(),
            )],
        );
        metric(
            "kassa_next_run_timestamp_seconds",
            "gauge",
            "When the next cycle is scheduled.",
            vec![(
                String::new(),
                self.next_run.map_or(0, |t| t.timestamp()).to_string(),
            )],
        );
        metric(
            "kassa_findings",
            "gauge",
            "Findings of the last cycle's analysis, by kind.",
            FindingKind::ALL
                .iter()
                .map(|kind| {
                    (
                        format!("{{kind=\"{}\"}}", kind.as_str()),
                        self.findings.get(kind).copied().unwrap_or(0).to_string(),
                    )
                })
                .collect(),
        );
        metric(
            "kassa_alerts_delivered_total",
            "counter",
            "Alerts delivered from the outbox, over the store's lifetime.",
            vec![(String::new(), self.alerts_delivered.to_string())],
        );
        metric(
            "kassa_alerts_pending",
            "gauge",
            "Alerts waiting in the outbox for delivery.",
            vec![(String::new(), self.alerts_pending.to_string())],
        );
        metric(
            "kassa_source_failures_total",
            "counter",
            "Cycles in which a source failed, by source.",
            self.source_failures
                .iter()
                .map(|(source, n)| {
                    (
                        format!("{{source=\"{}\"}}", source.replace('"', "'")),
                        n.to_string(),
                    )
                })
                .collect(),
        );
        out
    }
}

/// The worker's shared state.
pub struct Worker {
    settings: Settings,
    targets: Vec<AlertTarget>,
    metrics: Arc<Mutex<Metrics>>,
}

impl Worker {
    pub fn new(settings: Settings, targets: Vec<AlertTarget>) -> Worker {
        Worker {
            settings,
            targets,
            metrics: Arc::new(Mutex::new(Metrics::default())),
        }
    }

    pub fn metrics(&self) -> Arc<Mutex<Metrics>> {
        self.metrics.clone()
    }

    /// One scheduled step: takes the store lock, runs the cycle as of `now`, records metrics.
    /// A store held by another process (a manual `kassa run`) skips the step.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Option<CycleOutcome>> {
        let _lock = match StoreLock::acquire(&self.settings.store_path) {
            Ok(lock) => lock,
            Err(LockError::Held { holder, .. }) => {
                tracing::warn!(%holder, "the store is busy; skipping this cycle");
                self.metrics
                    .lock()
                    .expect("metrics lock")
                    .runs_skipped_locked += 1;
                return Ok(None);
            }
            Err(LockError::Store(e)) => return Err(e.into()),
        };
        let today = crate::clock::today_at(now, self.settings.timezone);
        let span = tracing::info_span!("cycle", today = %today);
        let result = async {
            let mut store =
                Store::open(&self.settings.store_path).context("cannot open the store")?;
            cycle::run_cycle(&self.settings, &mut store, &self.targets, today).await
        };
        let result = tracing::Instrument::instrument(result, span).await;
        self.metrics
            .lock()
            .expect("metrics lock")
            .record(&result, Utc::now());
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
        let metrics = self.metrics.clone();
        let server = tokio::spawn(httpd::serve(
            listener,
            Arc::new(move |request: httpd::Request| {
                match (request.method.as_str(), request.path.as_str()) {
                    ("GET", "/healthz") => Response::text(200, "ok\n"),
                    ("GET", "/metrics") => Response {
                        status: 200,
                        content_type: "text/plain; version=0.0.4; charset=utf-8",
                        body: metrics.lock().expect("metrics lock").render().into_bytes(),
                    },
                    _ => Response::text(404, "not found\n"),
                }
            }),
        ));
        tokio::pin!(shutdown);
        let result = loop {
            let next = next_run(
                &self.settings.worker.schedule,
                self.settings.worker.timezone,
                Utc::now(),
            )?;
            self.metrics.lock().expect("metrics lock").next_run = Some(next);
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
        server.abort();
        tracing::info!("worker stopped");
        result
    }
}

fn log_cycle(result: Result<Option<CycleOutcome>>) {
    match result {
        Ok(Some(outcome)) => tracing::info!(
            flagged = outcome.flagged,
            delivered = outcome.delivered.len(),
            pending = outcome.pending,
            partial = outcome.partial(),
            "cycle finished"
        ),
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
