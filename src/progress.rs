//! A backfill's progress, for the person or the log watching it: one bar per source on a
//! terminal ([`Bars`], indicatif), a log line per source at most every [`LOG_EVERY`] and at its
//! end when stderr is not a terminal ([`LogLines`]: cron, Docker), nothing with `-q`
//! ([`for_backfill`] picks). Both are [`pipeline::Progress`] observers; the pipeline knows
//! nothing of how they show what it tells them.
//!
//! Time is `tokio::time::Instant`, so tests move it with tokio's paused clock. Every word comes
//! from [`console`]; what is shown is source names, date ranges and counts, never a secret.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

use crate::domain::{DateRange, Locale};
use crate::pipeline::{self, NoProgress, SourceOutcome};
use crate::telemetry::LogsAroundBars;
use crate::text::console;

/// At most one progress log line per source this often (plus one at the source's end): often
/// enough to see that a long backfill moves, rare enough not to bury the warnings.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// How a backfill shows its progress: nothing with `quiet`, bars when stderr is a terminal,
/// log lines otherwise (indicatif would draw nothing there, and a log keeps no bars).
pub fn for_backfill(quiet: bool, locale: Locale) -> Box<dyn pipeline::Progress> {
    if quiet {
        Box::new(NoProgress)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bars::new(MultiProgress::new(), locale))
    } else {
        Box::new(LogLines::new(locale))
    }
}

/// What is known of one source's pull so far.
#[derive(Debug, Clone, Copy)]
struct Tally {
    started: Instant,
    chunks_done: usize,
    chunks_total: usize,
    rows: usize,
    /// The chunk being pulled, or the last one pulled.
    range: Option<DateRange>,
}

impl Tally {
    fn new(chunks_total: usize) -> Tally {
        Tally {
            started: Instant::now(),
            chunks_done: 0,
            chunks_total,
            rows: 0,
            range: None,
        }
    }

    fn chunk_done(&mut self, range: DateRange, rows: usize) {
        self.chunks_done += 1;
        self.rows += rows;
        self.range = Some(range);
    }

    fn rows_per_second(&self) -> Option<u64> {
        rows_per_second(self.rows, self.started.elapsed())
    }

    /// What a bar or log line says while the source is under way.
    fn message(&self, locale: Locale) -> String {
        let eta = eta(self.chunks_done, self.chunks_total, self.started.elapsed());
        console::progress_message(
            self.rows,
            self.range.as_ref(),
            self.rows_per_second(),
            eta,
            locale,
        )
    }
}

/// Rows per second over `elapsed`; `None` before a second has passed (a rate over a blink is
/// noise).
fn rows_per_second(rows: usize, elapsed: Duration) -> Option<u64> {
    let seconds = elapsed.as_secs_f64();
    (seconds >= 1.0).then(|| (rows as f64 / seconds).round() as u64)
}

/// The time the chunks left should take at the pace of those done; `None` before the first is
/// done, and once all are.
fn eta(done: usize, total: usize, elapsed: Duration) -> Option<Duration> {
    let left = total.saturating_sub(done);
    (done > 0 && left > 0).then(|| elapsed.mul_f64(left as f64 / done as f64))
}

/// Whether a log line is due: at most one per `every`, the first `every` after the start.
#[derive(Debug, Clone, Copy)]
struct Throttle {
    every: Duration,
    last: Instant,
}

impl Throttle {
    fn new(every: Duration, start: Instant) -> Throttle {
        Throttle { every, last: start }
    }

    /// True, and from now on counting again, when `every` has passed since the last line.
    fn due(&mut self, now: Instant) -> bool {
        let due = now.duration_since(self.last) >= self.every;
        if due {
            self.last = now;
        }
        due
    }
}

/// Entries by source name, behind a lock (the pipeline's observer is shared).
#[derive(Debug)]
struct BySource<T>(Mutex<HashMap<String, T>>);

impl<T> BySource<T> {
    fn new() -> BySource<T> {
        BySource(Mutex::new(HashMap::new()))
    }

    fn insert(&self, name: &str, entry: T) {
        self.lock().insert(name.to_string(), entry);
    }

    fn with<R>(&self, name: &str, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.lock().get_mut(name).map(f)
    }

    fn remove(&self, name: &str) -> Option<T> {
        self.lock().remove(name)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, T>> {
        // A panic while the lock was held left at worst a stale count: keep showing.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One log line of a backfill's progress, before it is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    source: String,
    chunks_done: usize,
    chunks_total: usize,
    rows: usize,
    range: Option<DateRange>,
    rows_per_s: Option<u64>,
    message: String,
}

impl Line {
    fn log(&self) {
        tracing::info!(
            source = %self.source,
            chunks_done = self.chunks_done,
            chunks_total = self.chunks_total,
            rows = self.rows,
            range = self.range.map(tracing::field::display),
            rows_per_s = self.rows_per_s,
            "{}",
            self.message
        );
    }
}

/// Progress as log lines at info level, for stderr that is not a terminal: per source, one
/// line at most every [`LOG_EVERY`] as chunks end, and one when the source is done. A chunk that
/// takes longer than that gets no line of its own while it runs: the lines follow the work.
#[derive(Debug)]
pub struct LogLines {
    locale: Locale,
    every: Duration,
    sources: BySource<(Tally, Throttle)>,
}

impl LogLines {
    pub fn new(locale: Locale) -> LogLines {
        LogLines {
            locale,
            every: LOG_EVERY,
            sources: BySource::new(),
        }
    }

    /// The line to log now that a chunk is done, if one is due.
    fn after_chunk(&self, name: &str, range: DateRange, rows: usize) -> Option<Line> {
        self.sources
            .with(name, |(tally, throttle)| {
                tally.chunk_done(range, rows);
                let message = console::progress_line(
                    name,
                    tally.chunks_done,
                    tally.chunks_total,
                    &tally.message(self.locale),
                    self.locale,
                );
                throttle.due(Instant::now()).then(|| Line {
                    source: name.to_string(),
                    chunks_done: tally.chunks_done,
                    chunks_total: tally.chunks_total,
                    rows: tally.rows,
                    range: tally.range,
                    rows_per_s: tally.rows_per_second(),
                    message,
                })
            })
            .flatten()
    }

    /// The source's last line: what the backfill stored, and how long it took. `None` for a
    /// source that never started (it failed to build, or all its days are pending): the lines
    /// after the backfill say what happened to it.
    fn at_end(&self, outcome: &SourceOutcome) -> Option<Line> {
        let (tally, _) = self.sources.remove(&outcome.name)?;
        let rows_per_s = rows_per_second(outcome.rows, tally.started.elapsed());
        let done = console::progress_done(
            outcome.rows,
            tally.started.elapsed(),
            rows_per_s,
            !outcome.errors.is_empty(),
            self.locale,
        );
        Some(Line {
            source: outcome.name.clone(),
            chunks_done: outcome.chunks_done,
            chunks_total: outcome.chunks_total,
            rows: outcome.rows,
            range: tally.range,
            rows_per_s,
            message: console::progress_line(
                &outcome.name,
                outcome.chunks_done,
                outcome.chunks_total,
                &done,
                self.locale,
            ),
        })
    }
}

impl pipeline::Progress for LogLines {
    fn source_started(&self, name: &str, chunks_total: usize) {
        let tally = Tally::new(chunks_total);
        let throttle = Throttle::new(self.every, tally.started);
        self.sources.insert(name, (tally, throttle));
    }

    fn chunk_done(&self, name: &str, range: DateRange, rows: usize) {
        if let Some(line) = self.after_chunk(name, range, rows) {
            line.log();
        }
    }

    fn source_finished(&self, outcome: &SourceOutcome) {
        if let Some(line) = self.at_end(outcome) {
            line.log();
        }
    }
}

/// Progress bars on a terminal: one per source, added when it starts, left finished (or
/// abandoned, when it failed) while the others run, and all cleared when this is dropped, so
/// that the lines the command prints afterwards stand alone. Log lines written meanwhile go
/// above the bars ([`LogsAroundBars`]).
pub struct Bars {
    multi: MultiProgress,
    style: ProgressStyle,
    locale: Locale,
    sources: BySource<(ProgressBar, Tally)>,
    _logs: Option<LogsAroundBars>,
}

impl Bars {
    /// Bars drawn by `multi` (a hidden one draws nothing, for tests).
    pub fn new(multi: MultiProgress, locale: Locale) -> Bars {
        // The template is a constant checked by a test; should it ever fail, plain bars still
        // show the counts.
        let style = ProgressStyle::with_template(console::progress_bar_template(locale))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let logs = (!multi.is_hidden()).then(|| LogsAroundBars::new(&multi));
        Bars {
            multi,
            style,
            locale,
            sources: BySource::new(),
            _logs: logs,
        }
    }

    /// Bars that draw nothing, for tests.
    pub fn hidden(locale: Locale) -> Bars {
        Bars::new(
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            locale,
        )
    }

    /// The bar of source `name`, once it has started.
    pub fn bar(&self, name: &str) -> Option<ProgressBar> {
        self.sources.with(name, |(bar, _)| bar.clone())
    }
}

impl pipeline::Progress for Bars {
    fn source_started(&self, name: &str, chunks_total: usize) {
        let tally = Tally::new(chunks_total);
        let bar = self.multi.add(
            ProgressBar::new(chunks_total as u64)
                .with_style(self.style.clone())
                .with_prefix(name.to_string())
                .with_message(tally.message(self.locale)),
        );
        if !self.multi.is_hidden() {
            // The time so far keeps running while a long chunk pages through its platform.
            bar.enable_steady_tick(Duration::from_millis(500));
        }
        self.sources.insert(name, (bar, tally));
    }

    fn chunk_started(&self, name: &str, range: DateRange) {
        self.sources.with(name, |(bar, tally)| {
            tally.range = Some(range);
            bar.set_message(tally.message(self.locale));
        });
    }

    fn chunk_done(&self, name: &str, range: DateRange, rows: usize) {
        self.sources.with(name, |(bar, tally)| {
            tally.chunk_done(range, rows);
            bar.set_position(tally.chunks_done as u64);
            bar.set_message(tally.message(self.locale));
        });
    }

    fn source_finished(&self, outcome: &SourceOutcome) {
        self.sources.with(&outcome.name, |(bar, tally)| {
            let elapsed = tally.started.elapsed();
            let failed = !outcome.errors.is_empty();
            let done = console::progress_done(
                outcome.rows,
                elapsed,
                rows_per_second(outcome.rows, elapsed),
                failed,
                self.locale,
            );
            if failed {
                bar.abandon_with_message(done);
            } else {
                bar.finish_with_message(done);
            }
        });
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        // Nothing to do about a terminal that cannot be written to.
        let _ = self.multi.clear();
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::pipeline::Progress;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn week(start: &str) -> DateRange {
        let start = day(start);
        DateRange::new(start, start + chrono::Days::new(6)).unwrap()
    }

    fn outcome(name: &str, done: usize, total: usize, rows: usize) -> SourceOutcome {
        let mut outcome = SourceOutcome::new(name);
        outcome.chunks_done = done;
        outcome.chunks_total = total;
        outcome.rows = rows;
        outcome
    }

    #[test]
    fn rate_waits_for_a_second_then_rounds() {
        assert_eq!(rows_per_second(500, Duration::from_millis(999)), None);
        assert_eq!(rows_per_second(500, Duration::from_secs(1)), Some(500));
        assert_eq!(rows_per_second(1172, Duration::from_secs(33)), Some(36));
        assert_eq!(rows_per_second(0, Duration::from_secs(5)), Some(0));
    }

    #[test]
    fn eta_is_the_pace_so_far_times_the_chunks_left() {
        assert_eq!(eta(0, 10, Duration::from_secs(30)), None, "no pace yet");
        assert_eq!(
            eta(3, 10, Duration::from_secs(30)),
            Some(Duration::from_secs(70))
        );
        assert_eq!(eta(10, 10, Duration::from_secs(30)), None, "nothing left");
        assert_eq!(eta(12, 10, Duration::from_secs(30)), None);
    }

    #[test]
    fn clock_durations_read_like_a_clock() {
        let clock = |s| console::clock_duration(Duration::from_secs(s));
        assert_eq!(clock(7), "0:07");
        assert_eq!(clock(750), "12:30");
        assert_eq!(clock(3723), "1:02:03");
    }

    #[test]
    fn messages_leave_out_what_is_not_known_yet() {
        let range = week("2025-01-06");
        assert_eq!(
            console::progress_message(
                1172,
                Some(&range),
                Some(35),
                Some(Duration::from_secs(65)),
                Locale::En
            ),
            "1172 rows · 2025-01-06..2025-01-12 · 35 rows/s · about 1:05 left"
        );
        assert_eq!(
            console::progress_message(0, None, None, None, Locale::En),
            "0 rows"
        );
        assert_eq!(
            console::progress_message(
                1172,
                Some(&range),
                Some(35),
                Some(Duration::from_secs(65)),
                Locale::Ru
            ),
            "1\u{a0}172 строки · с 2025-01-06 по 2025-01-12 · 35 строк/с · осталось около 1:05"
        );
        assert_eq!(
            console::progress_line(
                "meta",
                7,
                7,
                &console::progress_done(7, Duration::from_secs(3), Some(2), false, Locale::En),
                Locale::En
            ),
            "meta: 7 of 7 chunks · done: 7 rows in 0:03, 2 rows/s"
        );
        assert_eq!(
            console::progress_line(
                "meta",
                3,
                7,
                &console::progress_done(3, Duration::from_secs(3), None, true, Locale::Ru),
                Locale::Ru
            ),
            "meta: частей 3 из 7 · остановлено: 3 строки за 0:03"
        );
    }

    #[test]
    fn bar_templates_parse_in_both_languages() {
        for locale in [Locale::En, Locale::Ru] {
            let template = console::progress_bar_template(locale);
            assert!(
                ProgressStyle::with_template(template).is_ok(),
                "{locale:?}: {template}"
            );
        }
    }

    /// Time moves on tokio's paused clock: with a chunk every 4 s, a line is due after the
    /// 3rd, 6th and 9th chunks (12, 24 and 36 s: at least 10 s apart), and at the end.
    #[tokio::test(start_paused = true)]
    async fn log_lines_come_at_most_every_ten_seconds_per_source_and_at_the_end() {
        let lines = LogLines::new(Locale::En);
        lines.source_started("meta", 10);
        let mut logged = Vec::new();
        for (i, start) in (0..10).map(|i| (i, day("2025-01-06") + chrono::Days::new(7 * i))) {
            tokio::time::advance(Duration::from_secs(4)).await;
            let range = week(&start.to_string());
            // A second source, started later, keeps its own pace.
            if i == 1 {
                lines.source_started("crm", 1);
            }
            if let Some(line) = lines.after_chunk("meta", range, 100) {
                logged.push(line);
            }
        }
        let done: Vec<usize> = logged.iter().map(|l| l.chunks_done).collect();
        assert_eq!(done, [3, 6, 9]);
        let third = &logged[0];
        assert_eq!(
            (third.rows, third.chunks_total, third.rows_per_s),
            (300, 10, Some(25))
        );
        assert_eq!(third.range, Some(week("2025-01-20")));
        assert_eq!(
            third.message,
            "meta: 3 of 10 chunks · 300 rows · 2025-01-20..2025-01-26 · 25 rows/s · about 0:28 left"
        );

        // crm's first chunk ends 32 s after it started: due, though meta's line just came.
        let crm = lines.after_chunk("crm", week("2025-01-06"), 5).unwrap();
        assert_eq!((crm.source.as_str(), crm.chunks_done), ("crm", 1));

        let end = lines.at_end(&outcome("meta", 10, 10, 1000)).unwrap();
        assert_eq!(
            (end.chunks_done, end.rows, end.rows_per_s),
            (10, 1000, Some(25))
        );
        assert_eq!(
            end.message,
            "meta: 10 of 10 chunks · done: 1000 rows in 0:40, 25 rows/s"
        );
        assert!(
            lines.at_end(&outcome("meta", 10, 10, 1000)).is_none(),
            "one last line"
        );
        assert!(
            lines.at_end(&outcome("never-started", 0, 0, 0)).is_none(),
            "a source that never started has no progress to tell"
        );
    }

    #[test]
    fn throttle_counts_from_the_start_and_from_each_line() {
        let start = Instant::now();
        let mut throttle = Throttle::new(LOG_EVERY, start);
        assert!(!throttle.due(start + Duration::from_secs(9)));
        assert!(throttle.due(start + Duration::from_secs(10)));
        assert!(!throttle.due(start + Duration::from_secs(19)));
        assert!(throttle.due(start + Duration::from_secs(25)));
        assert!(!throttle.due(start + Duration::from_secs(34)));
        assert!(throttle.due(start + Duration::from_secs(35)));
    }

    #[test]
    fn bars_follow_each_source_to_its_end() {
        let bars = Bars::hidden(Locale::En);
        bars.source_started("meta", 3);
        bars.source_started("crm", 1);
        let meta = bars.bar("meta").unwrap();
        assert_eq!((meta.position(), meta.length()), (0, Some(3)));
        assert!(bars.bar("hubspot").is_none());

        bars.chunk_started("meta", week("2025-01-06"));
        assert_eq!(meta.message(), "0 rows · 2025-01-06..2025-01-12");
        bars.chunk_done("meta", week("2025-01-06"), 40);
        bars.chunk_started("meta", week("2025-01-13"));
        assert_eq!(meta.position(), 1);
        assert!(
            meta.message()
                .starts_with("40 rows · 2025-01-13..2025-01-19"),
            "{}",
            meta.message()
        );
        bars.chunk_done("meta", week("2025-01-13"), 2);
        bars.chunk_done("meta", week("2025-01-20"), 0);
        assert_eq!((meta.position(), meta.length()), (3, Some(3)));
        assert!(!meta.is_finished());

        bars.source_finished(&outcome("meta", 3, 3, 42));
        assert!(meta.is_finished());
        assert!(
            meta.message().starts_with("done: 42 rows in "),
            "{}",
            meta.message()
        );
        let crm = bars.bar("crm").unwrap();
        assert_eq!((crm.position(), crm.length()), (0, Some(1)));
    }
}
