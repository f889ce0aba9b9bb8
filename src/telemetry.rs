//! Telemetry: where logs go and what shape they take, and the span that ties one nightly cycle
//! together.
//!
//! Logs go to stderr (results go to stdout, so `kassa analyze --format json | jq` stays clean),
//! as text for people or as one JSON object per line for a log search (`[log] format`). Every
//! stage runs in a span that names its source and date range: `cycle` (with a `run_id`), `pull`
//! and `chunk` per source, `upsert`, `analyze`, and `deliver` per alert target (a backfill's
//! `backfill` span carries the ledger's run id). In JSON every line carries the whole list of
//! spans it happened in, and every span's close is a line with its duration, so one night can
//! be followed by its run id. Span fields are names, kinds, dates and ids only: never a token
//! or a URL.
//!
//! While a backfill draws progress bars on stderr ([`LogsAroundBars`]), each log line is
//! written with the bars lifted off the screen and drawn again below it.

use std::io::Write;
use std::sync::{Mutex, PoisonError};

use chrono::{NaiveDate, Utc};
use indicatif::MultiProgress;
use rand::Rng;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// `[log] format`: how log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event, with the spans it happened in as a prefix.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields`, the innermost `span` and the
    /// list of all `spans` with their fields.
    Json,
}

impl LogFormat {
    /// The values `[log] format` accepts, for messages.
    pub const ALL: &'static str = "text, json";
}

/// How much to log: `-v`/`-vv` and `-q` on the command line. `RUST_LOG` overrides both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verbosity {
    pub verbose: u8,
    pub quiet: bool,
}

impl Verbosity {
    /// rustls' certificate verifier logs its verdict as an error of its own; kassa reports the
    /// failure with its source and host, so below `-v` the verifier's copy is left out.
    fn default_filter(self) -> &'static str {
        match (self.quiet, self.verbose) {
            (true, _) => "error,rustls_platform_verifier=off",
            (false, 0) => "kassa=info,warn,rustls_platform_verifier=off",
            (false, 1) => "kassa=debug,info",
            (false, _) => "trace",
        }
    }
}

/// Installs the process's log subscriber on stderr. Only the first call in a process takes
/// effect (tests that run commands in-process call it more than once).
pub fn init(verbosity: Verbosity, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(verbosity.default_filter()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogLine(Vec::new()))
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        // Colour codes would end up inside JSON strings.
        // Each span's close is a line of its own too, with its fields and its time: a stage
        // that logged nothing (an analysis, a delivery) still shows in a log search, with how
        // long it took. Text logs stay as they were, for people.
        LogFormat::Json => builder
            .json()
            .with_span_events(FmtSpan::CLOSE)
            .with_ansi(false)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

/// The progress bars on stderr, while a backfill draws them.
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Log lines are written around `bars` until this is dropped.
///
/// Why not simply let both write to stderr: indicatif redraws its bars by moving the cursor
/// up over the lines it drew last, so a log line written in between is overwritten or leaves
/// a torn copy of the bars above it. Writing each line inside [`MultiProgress::suspend`]
/// (bars cleared, the line written, bars drawn again below) keeps both whole, whichever thread
/// logs, without changing what a line says or its format.
#[must_use = "log lines go around the bars only while this lives"]
pub struct LogsAroundBars(());

impl LogsAroundBars {
    pub fn new(bars: &MultiProgress) -> LogsAroundBars {
        *BARS.lock().unwrap_or_else(PoisonError::into_inner) = Some(bars.clone());
        LogsAroundBars(())
    }
}

impl Drop for LogsAroundBars {
    fn drop(&mut self) {
        *BARS.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// One formatted log line (the subscriber writes each event whole, then drops its writer),
/// written to stderr on drop, around the bars if any are drawn.
struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        // A log line that cannot be written has nowhere else to go.
        let write = || {
            let _ = std::io::stderr().write_all(&self.0);
        };
        let bars = BARS.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match bars {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }
}

/// The span of one nightly cycle, for the night before `today`. `run_id` tells one cycle's
/// lines from another's in a log search: pass the ledger's run id when the cycle has one,
/// otherwise [`new_run_id`].
pub fn cycle_span(run_id: &str, today: NaiveDate) -> tracing::Span {
    tracing::info_span!("cycle", run_id = %run_id, today = %today)
}

/// A run id for a cycle the ledger does not number: the start time in UTC (so ids sort by
/// time) and a random suffix (so two processes starting in the same second differ).
pub fn new_run_id() -> String {
    let suffix: u32 = rand::rng().random();
    format!("{}-{suffix:08x}", Utc::now().format("%Y%m%dT%H%M%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time_and_differ() {
        let first = new_run_id();
        let second = new_run_id();
        assert_ne!(first, second);
        let (time, suffix) = first.split_once('-').unwrap();
        assert_eq!(time.len(), "20250526T060000Z".len());
        assert!(time.ends_with('Z'));
        assert_eq!(suffix.len(), 8);
        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn verbosity_picks_the_default_filter() {
        let v = |verbose, quiet| Verbosity { verbose, quiet }.default_filter();
        assert_eq!(v(0, false), "kassa=info,warn,rustls_platform_verifier=off");
        assert_eq!(v(1, false), "kassa=debug,info");
        assert_eq!(v(2, false), "trace");
        assert_eq!(v(0, true), "error,rustls_platform_verifier=off");
    }
}
