//! The nightly cycle behind `kassa run`, `kassa worker` and `kassa demo`: re-pull each
//! source's trailing lookback window, analyse, turn what changed into alerts, record them in
//! the outbox, and deliver whatever is pending.
//!
//! Ordering is what makes it safe to repeat: alerts are recorded (with the episode states that
//! caused them, in one transaction) before any is sent; delivery marks each message only after
//! the target accepted it. A crash between the two re-sends at most that one message on the
//! next run; a repeated run finds nothing new to record and nothing pending to send.
//!
//! A target that refuses a message for good (see [`AlertError::is_permanent`]) does not make
//! every later run fail: the message becomes a dead letter at once, and one a target keeps
//! failing to take becomes one after `[alerting] dead_after_runs` runs. The run that set it
//! aside reports the target as broken (and exits 2); later runs do not. A source that fails
//! `[alerting] source_down_after_runs` runs in a row raises a `source_down` alert, and a
//! resolved note when it is pulled again; the count lives in the ledger between runs.
//!
//! [`replay`] (`kassa analyze --replay`) runs step 3's decisions night after night over the
//! store as it is, with episode states kept in memory, and records and sends nothing.

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use serde_json::json;

use crate::alerts::{AlertError, AlertEvent, AlertMessage, AlertTarget, ReportLink, TargetFilter};
use crate::analysis::{ALL_CHANNELS, Analysis, FindingKind};
use crate::clock::{At, Clock};
use crate::config::{AlertingSettings, Settings};
use crate::domain::{AlertKind, DateRange, EpisodeState};
use crate::episodes::{self, Change, Episode, SourceChange};
use crate::pipeline::{self, SourceOutcome};
use crate::report;
use crate::report::replay::Replayed;
use crate::store::{NewOutboxItem, Store};
use crate::text;

/// The furthest back a nightly run reaches to fill a hole left by failed runs; older holes
/// are for `kassa backfill`.
const MAX_CATCH_UP_DAYS: i64 = 92;

/// One delivered message, for the summary and the demo.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub target: String,
    pub message: AlertMessage,
    pub body: String,
}

/// What one cycle did.
#[derive(Debug, Default)]
pub struct CycleOutcome {
    pub sources: Vec<SourceOutcome>,
    /// Periods with a verdict that flags them (every kind but `data_gap`).
    pub flagged: usize,
    pub data_gaps: usize,
    /// Findings of the analysis by kind, every kind present.
    pub findings: std::collections::BTreeMap<FindingKind, usize>,
    /// Messages newly recorded in the outbox by this cycle.
    pub recorded: usize,
    pub delivered: Vec<Delivered>,
    /// Delivery failures that the next run retries (target named, no URL or token).
    pub undelivered: Vec<String>,
    /// Targets whose messages became dead letters in this cycle, one entry per target.
    pub broken_targets: Vec<BrokenTarget>,
    /// Messages still waiting after this cycle.
    pub pending: u64,
    /// Dead letters in the outbox after this cycle (this cycle's and older ones).
    pub dead: u64,
    pub delivered_total: u64,
    /// Sources reported down (a `source_down` alert recorded, not yet back).
    pub sources_down: usize,
}

/// A target that refused messages for good in this cycle, or failed them for
/// `dead_after_runs` runs: they are dead letters now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenTarget {
    pub target: String,
    /// Messages of this target that became dead letters in this cycle.
    pub dead: usize,
    /// The last failure, as the receiver put it (`HTTP 410: channel_is_archived`), never a
    /// URL or token.
    pub error: String,
}

impl CycleOutcome {
    /// A source failed or left days uncovered, or an alert failed in this cycle (it is still
    /// pending, or became a dead letter now): exit code 2. A source's pending days (not
    /// finished in its own time zone) are not a failure, and neither are dead letters of
    /// earlier runs.
    pub fn partial(&self) -> bool {
        self.sources.iter().any(SourceOutcome::partial)
            || !self.undelivered.is_empty()
            || !self.broken_targets.is_empty()
            || self.pending > 0
    }
}

/// The range the nightly run pulls for one source: its lookback window ending yesterday (the
/// business's), reaching further back when earlier runs left the days after its coverage
/// uncovered. [`pipeline::pull_source`] then leaves out the days the source has not finished
/// in its own time zone.
pub fn nightly_window(
    lookback_days: u32,
    covered: &[DateRange],
    today: NaiveDate,
) -> Option<DateRange> {
    let yesterday = today.pred_opt()?;
    let mut start = yesterday - Duration::days(i64::from(lookback_days.max(1)) - 1);
    if let Some(last) = covered
        .iter()
        .map(|r| r.end)
        .filter(|end| *end < yesterday)
        .max()
        && !covered.iter().any(|r| r.contains(yesterday))
    {
        let catch_up =
            (last + Duration::days(1)).max(yesterday - Duration::days(MAX_CATCH_UP_DAYS));
        start = start.min(catch_up);
    }
    DateRange::new(start, yesterday)
}

/// Runs one cycle as of `at`: an instant, or a business date to replay (see
/// [`Clock::resolve`]; a date after the business's real today is refused).
///
/// The cycle is numbered in the ledger's `runs` like a backfill (command `run`, outcome `ok`,
/// `partial` when a source failed, `failed` with the error), so an agency can see from the
/// ledger alone when each tenant last ran and how it went.
pub async fn run_cycle(
    settings: &Settings,
    store: &mut Store,
    targets: &[AlertTarget],
    at: impl Into<At>,
) -> Result<CycleOutcome> {
    let run = store
        .start_run("run")
        .context("cannot record the run in the ledger")?;
    let result = cycle(settings, store, targets, at.into()).await;
    let (verdict, detail) = match &result {
        Ok(outcome) => {
            let failed: Vec<&str> = outcome
                .sources
                .iter()
                .filter(|s| !s.errors.is_empty())
                .map(|s| s.name.as_str())
                .collect();
            if failed.is_empty() {
                ("ok", String::new())
            } else {
                ("partial", format!("failed: {}", failed.join(", ")))
            }
        }
        Err(error) => ("failed", format!("{error:#}")),
    };
    let recorded = store.finish_run(run, verdict, &detail);
    let outcome = result?;
    recorded.context("cannot record the run in the ledger")?;
    Ok(outcome)
}

async fn cycle(
    settings: &Settings,
    store: &mut Store,
    targets: &[AlertTarget],
    at: At,
) -> Result<CycleOutcome> {
    let clock = Clock::resolve(at, settings.timezone)?;
    let today = clock.today();
    let mut outcome = CycleOutcome::default();
    pipeline::use_business_timezone(settings, store)?;

    // 1. Re-pull each source's trailing window; a failing source does not stop the others.
    let names: Vec<&str> = settings.sources.iter().map(|s| s.name()).collect();
    let coverage = store
        .coverage(&names)
        .context("cannot read the coverage ledger")?;
    for (config, covered) in settings.sources.iter().zip(&coverage) {
        let Some(window) = nightly_window(config.lookback_days(), &covered.ranges, today) else {
            continue;
        };
        outcome
            .sources
            .push(pipeline::pull_source(settings, store, config, window, &clock, false).await?);
    }

    // 2. Analyse everything covered up to yesterday.
    let yesterday = today.pred_opt().context("today is the first day of time")?;
    let analysis = match pipeline::analyze_as_of(
        settings,
        store,
        None,
        Some(yesterday),
        &clock,
        &outcome.sources,
    ) {
        Ok(analysis) => Some(analysis),
        Err(error) if store.coverage(&names)?.iter().all(|c| c.ranges.is_empty()) => {
            tracing::warn!("nothing to analyse yet: {error:#}");
            None
        }
        Err(error) => return Err(error),
    };

    // 3. Compare episodes with what was already said, and record what to say now.
    // Each message with its money at stake: the run sends the largest first, and a target's
    // `min_money_at_stake` leaves out the small ones.
    let mut messages: Vec<(AlertMessage, Option<f64>)> = Vec::new();
    let mut plan = episodes::Plan::default();
    if let Some(analysis) = &analysis {
        outcome.findings = analysis.counts();
        outcome.flagged = analysis.flagged().count();
        outcome.data_gaps = outcome.findings[&FindingKind::DataGap];
        let states = store
            .episode_states()
            .context("cannot read episode states")?;
        let suspicious = suspicious_windows(store, &names)?;
        (plan, messages) = decide(settings, analysis, &states, &suspicious, today);
    }
    // A source that failed run after run, or is back after that.
    let ran: Vec<(&str, Option<String>)> = outcome
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.errors.first().map(ToString::to_string)))
        .collect();
    let previous = store
        .source_health()
        .context("cannot read the sources' health")?;
    let (health, source_changes) = episodes::source_health(
        &previous,
        &ran,
        today,
        settings.alerting.source_down_after_runs,
    );
    messages.extend(
        source_changes
            .iter()
            .map(|c| (source_message(c, &settings.alerting), None)),
    );
    // This run's state of a source where it changed, the ledger's otherwise.
    outcome.sources_down = names
        .iter()
        .filter(|name| {
            health
                .iter()
                .chain(&previous)
                .find(|h| h.source == **name)
                .is_some_and(|h| h.alerted)
        })
        .count();
    let mut items = Vec::new();
    let filters: Vec<&TargetFilter> = targets.iter().map(AlertTarget::filter).collect();
    for (target, message, _) in addressed(&filters, &messages, settings, today) {
        items.push(NewOutboxItem {
            target,
            message_id: message.id.clone(),
            message: serde_json::to_string(&message).context("cannot serialise an alert")?,
        });
    }
    outcome.recorded = store
        .record_alerts(&plan.states, &health, &items)
        .context("cannot record alerts in the outbox")?;
    tracing::info!(
        changes = plan.changes.len(),
        recorded = outcome.recorded,
        flagged = outcome.flagged,
        "alerts recorded"
    );

    // 4. Deliver what is pending, including what earlier runs could not deliver.
    finish_delivery(store, targets, settings.alerting.dead_after_runs, outcome).await
}

/// Windows whose re-pull answered with less than the store held: they resolve nothing.
fn suspicious_windows(store: &Store, names: &[&str]) -> Result<Vec<DateRange>> {
    Ok(store
        .suspicious_windows(names)
        .context("cannot read the suspicious windows from the ledger")?
        .into_iter()
        .map(|w| w.range)
        .collect())
}

/// What one night says about the analysis: the episodes compared with the stored `states`
/// (the plan, with the states to store) and one message per change, before any target's
/// filter. The nightly cycle and `analyze --replay` both decide here.
fn decide(
    settings: &Settings,
    analysis: &Analysis,
    states: &[EpisodeState],
    suspicious: &[DateRange],
    today: NaiveDate,
) -> (episodes::Plan, Vec<(AlertMessage, Option<f64>)>) {
    let found = episodes::find_episodes(analysis);
    let recent_from = episodes::window_start(
        settings.rule.granularity,
        today,
        settings.alerting.window_periods,
    );
    let mut plan = episodes::plan(
        &found,
        states,
        recent_from,
        settings.alerting.update_min_growth,
    );
    // A window whose re-pull answered with less than the store held resolves nothing: the
    // "resolved" note waits until the window is accepted or re-pulled whole.
    for state in episodes::hold_resolutions(&mut plan, suspicious, settings.rule.granularity) {
        tracing::warn!(
            episode = %state.key,
            "the episode is not resolved: its periods overlap a suspicious re-pull; it stays open until that window is re-pulled whole or accepted with `kassa backfill --accept-empty`"
        );
    }
    let messages = plan
        .changes
        .iter()
        .map(|c| (message_for(c, settings), money_at_stake(c)))
        .collect();
    (plan, messages)
}

/// The messages each target takes (its filters), at most `max_per_run` of them with the rest
/// in one digest, as (target name, message) in the order they are recorded.
fn addressed(
    targets: &[&TargetFilter],
    messages: &[(AlertMessage, Option<f64>)],
    settings: &Settings,
    today: NaiveDate,
) -> Vec<(String, AlertMessage, Option<f64>)> {
    let mut ordered: Vec<&(AlertMessage, Option<f64>)> = messages.iter().collect();
    by_money_at_stake(&mut ordered);
    let mut out = Vec::new();
    for target in targets {
        let wanted: Vec<&AlertMessage> = ordered
            .iter()
            .filter(|(m, money)| {
                target.wants(&m.finding_kind, &m.channel) && target.wants_money(*money)
            })
            .map(|(m, _)| m)
            .collect();
        for message in capped(
            &wanted,
            settings.alerting.max_per_run,
            today,
            &settings.alerting,
        ) {
            let money = messages
                .iter()
                .find(|(m, _)| m.id == message.id)
                .and_then(|(_, money)| *money);
            out.push((target.name.clone(), message, money));
        }
    }
    out
}

/// `kassa analyze --replay`: every night from `from` to `to`, what the nightly run would have
/// recorded for each target, over the store as it is (no pull, nothing written: no outbox,
/// no episode states, no ledger). Episode states start empty, as on a first night, and carry
/// from night to night in memory; the decisions are the nightly cycle's own (`decide`,
/// `addressed`). Sources' health is not replayed: nothing is pulled. Without any
/// `[[alerts]]` target, one that takes every kind it would by default stands in, named `-`.
/// Returns the alerts in order, and the reporting currency of the last night's analysis.
pub fn replay(
    settings: &Settings,
    store: &Store,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Vec<Replayed>, Option<String>)> {
    if from > to {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    let mut filters: Vec<TargetFilter> = settings.alerts.iter().map(|a| a.filter()).collect();
    if filters.is_empty() {
        filters.push(TargetFilter::everything_by_default("-"));
    }
    let filters: Vec<&TargetFilter> = filters.iter().collect();
    let names: Vec<&str> = settings.sources.iter().map(|s| s.name()).collect();
    let suspicious = suspicious_windows(store, &names)?;
    let mut states: Vec<EpisodeState> = Vec::new();
    let mut out = Vec::new();
    let mut currency = None;
    let mut night = from;
    while night <= to {
        let clock = Clock::resolve(night.into(), settings.timezone)
            .with_context(|| format!("cannot replay the night of {night}"))?;
        let yesterday = night.pred_opt().context("today is the first day of time")?;
        let analysis =
            match pipeline::analyze_as_of(settings, store, None, Some(yesterday), &clock, &[]) {
                Ok(analysis) => analysis,
                // Nights before the store's first day have nothing to analyse.
                Err(error)
                    if store
                        .coverage(&names)?
                        .iter()
                        .all(|c| c.ranges.iter().all(|r| r.start >= night)) =>
                {
                    tracing::debug!("night {night}: nothing to analyse yet: {error:#}");
                    night = night.succ_opt().context("the end of time")?;
                    continue;
                }
                Err(error) => {
                    return Err(error.context(format!("cannot replay the night of {night}")));
                }
            };
        let (plan, messages) = decide(settings, &analysis, &states, &suspicious, night);
        currency.clone_from(&analysis.currency);
        for state in plan.states {
            match states.iter_mut().find(|s| s.key == state.key) {
                Some(stored) => *stored = state,
                None => states.push(state),
            }
        }
        for (target, message, money_at_stake) in addressed(&filters, &messages, settings, night) {
            out.push(Replayed {
                night,
                target,
                message,
                money_at_stake,
            });
        }
        night = night.succ_opt().context("the end of time")?;
    }
    Ok((out, currency))
}

/// How long a claim on an outbox message lasts: far longer than one delivery attempt takes
/// (each request has its own timeout), so a message is only sent again after a crash.
const DELIVERY_LEASE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

async fn finish_delivery(
    store: &mut Store,
    targets: &[AlertTarget],
    dead_after_runs: u32,
    mut outcome: CycleOutcome,
) -> Result<CycleOutcome> {
    // Only what this process claimed: another pod delivering the same outbox at once (two
    // runs of one tenant racing past the lock's window, a worker beside a run) gets the rest.
    let owner = format!("kassa pid {}", std::process::id());
    let pending = store
        .claim_pending(&owner, DELIVERY_LEASE)
        .context("cannot read the outbox")?;
    // Targets that failed in this run without refusing for good (errors name their target).
    let mut failed_targets: Vec<AlertError> = Vec::new();
    for item in pending {
        let Some(target) = targets.iter().find(|t| t.name() == item.target) else {
            tracing::warn!(target = %item.target, "an alert waits for a target that is no longer configured");
            continue;
        };
        // One transient failure per target per run: a target that is down gets the rest next
        // run, and does not hold up the others. Its other messages failed this run too.
        if let Some(error) = failed_targets.iter().find(|e| e.target == target.name()) {
            let dead = store
                .mark_failed(item.id, &error.to_string(), false, false, dead_after_runs)
                .context("cannot record a failed delivery")?;
            if dead {
                note_dead(&mut outcome, error);
            }
            continue;
        }
        let message: AlertMessage = serde_json::from_str(&item.message)
            .with_context(|| format!("outbox message {} is unreadable", item.message_id))?;
        match target.deliver(&message).await {
            Ok(()) => {
                store
                    .mark_delivered(item.id)
                    .context("cannot mark an alert delivered")?;
                tracing::info!(target = target.name(), alert = %message.id, "alert delivered");
                outcome.delivered.push(Delivered {
                    target: target.name().to_string(),
                    body: target.preview(&message),
                    message,
                });
            }
            Err(error) => {
                // Said once by the caller, from `undelivered` or `broken_targets`.
                tracing::debug!(target = target.name(), alert = %message.id, "alert not delivered");
                let permanent = error.is_permanent();
                let dead = store
                    .mark_failed(
                        item.id,
                        &error.to_string(),
                        true,
                        permanent,
                        dead_after_runs,
                    )
                    .context("cannot record a failed delivery")?;
                if dead {
                    note_dead(&mut outcome, &error);
                }
                // A permanent refusal is about this message (or says the target is broken,
                // which the next message shows at the cost of one request): go on with the
                // target's other messages. Anything else waits for the next run.
                if !permanent {
                    if !dead {
                        outcome.undelivered.push(error.to_string());
                    }
                    failed_targets.push(error);
                }
            }
        }
    }
    let (delivered, _) = store.outbox_counts().context("cannot count the outbox")?;
    outcome.delivered_total = delivered;
    outcome.dead = store.dead_alerts().context("cannot count the outbox")?;
    // Messages for a target removed from the configuration stay in the outbox (nothing is
    // lost) but no longer count as pending: no run could deliver them.
    outcome.pending = store
        .pending_alerts()
        .context("cannot read the outbox")?
        .iter()
        .filter(|item| targets.iter().any(|t| t.name() == item.target))
        .count() as u64;
    Ok(outcome)
}

/// Counts a message that became a dead letter in this cycle under its target, with the
/// failure as the receiver put it.
fn note_dead(outcome: &mut CycleOutcome, error: &AlertError) {
    match outcome
        .broken_targets
        .iter_mut()
        .find(|b| b.target == error.target)
    {
        Some(broken) => {
            broken.dead += 1;
            broken.error.clone_from(&error.message);
        }
        None => outcome.broken_targets.push(BrokenTarget {
            target: error.target.clone(),
            dead: 1,
            error: error.message.clone(),
        }),
    }
}

/// Turns a change of a source's health into an alert: `source_down` when it went down, a
/// resolved note when it is back. The id names the source and the first failed day, so each
/// run of failures is announced once.
fn source_message(change: &SourceChange, alerting: &AlertingSettings) -> AlertMessage {
    let locale = alerting.locale;
    let (health, event, words) = match change {
        SourceChange::Down(h) => (h, AlertEvent::Opened, text::alerts::source_down(h, locale)),
        SourceChange::Recovered(h) => (
            h,
            AlertEvent::Resolved,
            text::alerts::source_recovered(h, locale),
        ),
    };
    let since = health.since.map(|d| d.to_string()).unwrap_or_default();
    let suffix = match event {
        AlertEvent::Resolved => "resolved",
        _ => "opened",
    };
    AlertMessage {
        id: format!("source_down:{}:{since}:{suffix}", health.source),
        event,
        finding_kind: AlertKind::SourceDown.as_str().to_string(),
        channel: ALL_CHANNELS.to_string(),
        title: words.title,
        summary: words.summary,
        facts: words.facts,
        decision: words.decision,
        data: json!({"source_down": {
            "source": health.source,
            "failed_runs": health.failed_runs,
            "since": health.since,
            "last_error": health.last_error,
        }}),
        // A source that is down is about the latest data: the report as a whole.
        link: report_link(alerting, None),
    }
}

/// At most `max` messages for one target; the rest folded into one digest.
fn capped(
    messages: &[&AlertMessage],
    max: usize,
    today: NaiveDate,
    alerting: &AlertingSettings,
) -> Vec<AlertMessage> {
    if messages.len() <= max {
        return messages.iter().map(|m| (*m).clone()).collect();
    }
    let keep = max.saturating_sub(1);
    let mut out: Vec<AlertMessage> = messages[..keep].iter().map(|m| (*m).clone()).collect();
    let rest = &messages[keep..];
    let titles: Vec<&str> = rest.iter().map(|m| m.title.as_str()).collect();
    let words = text::alerts::digest(&titles, alerting.locale);
    out.push(AlertMessage {
        id: format!("digest:{today}:{}", rest[0].id),
        event: AlertEvent::Digest,
        finding_kind: "digest".to_string(),
        channel: ALL_CHANNELS.to_string(),
        title: words.title,
        summary: words.summary,
        facts: words.facts,
        decision: words.decision,
        data: json!({"messages": rest.iter().map(|m| &m.id).collect::<Vec<_>>()}),
        link: report_link(alerting, None),
    });
    out
}

/// The money at stake of the episode a change is about; `None` for data gaps and for a
/// resolved episode the analysis no longer shows.
fn money_at_stake(change: &Change) -> Option<f64> {
    match change {
        Change::Opened(e) | Change::Updated(_, e) | Change::Resolved(_, Some(e), _) => {
            e.money_at_stake()
        }
        Change::Resolved(_, None, _) => None,
    }
}

/// Orders a run's alerts by money at stake, largest first; alerts without money at stake
/// (data gaps, sources down) follow in the order they came. The cap keeps the first ones
/// whole and folds the rest into the digest, so the small amounts are the ones folded.
fn by_money_at_stake(messages: &mut [&(AlertMessage, Option<f64>)]) {
    messages.sort_by(|(_, a), (_, b)| match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

fn episode_data(e: &Episode, key: &str) -> serde_json::Value {
    json!({
        "episode": {
            "key": key,
            "channel": e.channel,
            "kind": e.kind,
            "first_period_start": e.first_start,
            "last_period_start": e.last_start,
            "last_period_end": e.last_end,
            "periods": e.findings.len(),
            "spend": e.spend().as_f64(),
            "money_at_stake": e.money_at_stake(),
            "ended_by": e.ended_by,
        },
        "finding": report::json::finding(e.latest()),
    })
}

/// Turns one change of an episode into an alert: identity, event and data here, the words
/// from [`text::alerts`].
fn message_for(change: &Change, settings: &Settings) -> AlertMessage {
    let locale = settings.alerting.locale;
    let g = settings.rule.granularity;
    match change {
        Change::Opened(e) | Change::Updated(_, e) => {
            let updated = matches!(change, Change::Updated(..));
            let key = match change {
                Change::Updated(state, _) => state.key.clone(),
                _ => format!("{}:{}:{}", e.kind, e.channel, e.first_start),
            };
            let words = text::alerts::episode(e, updated, g, locale);
            AlertMessage {
                id: format!("{key}:{}", if updated { "updated" } else { "opened" }),
                event: if updated {
                    AlertEvent::Updated
                } else {
                    AlertEvent::Opened
                },
                finding_kind: e.kind.to_string(),
                channel: e.channel.clone(),
                title: words.title,
                summary: words.summary,
                facts: words.facts,
                decision: words.decision,
                data: episode_data(e, &key),
                link: report_link(&settings.alerting, Some((e.first_start, e.last_end))),
            }
        }
        Change::Resolved(state, episode, resolution) => {
            let last_end = g.period_end(state.last_start);
            let words = text::alerts::resolved(
                &state.kind,
                &state.channel,
                state.first_start,
                last_end,
                *resolution,
                g,
                locale,
            );
            AlertMessage {
                id: format!("{}:resolved", state.key),
                event: AlertEvent::Resolved,
                finding_kind: state.kind.clone(),
                channel: state.channel.clone(),
                title: words.title,
                summary: words.summary,
                facts: words.facts,
                decision: words.decision,
                data: match episode {
                    Some(e) => episode_data(e, &state.key),
                    None => {
                        json!({"episode": {"key": state.key, "channel": state.channel, "kind": state.kind,
                        "first_period_start": state.first_start, "last_period_start": state.last_start}})
                    }
                },
                link: report_link(&settings.alerting, Some((state.first_start, last_end))),
            }
        }
    }
}

/// A sample alert for `kassa alert-test`, in the configured language, with the link to the
/// report when `[alerting] report_url` is set (so the test shows what the nights will send).
pub fn sample_message(alerting: &AlertingSettings) -> AlertMessage {
    let words = text::alerts::sample(alerting.locale);
    AlertMessage {
        id: format!("test:{}", chrono::Utc::now().timestamp_millis()),
        event: AlertEvent::Test,
        finding_kind: "test".to_string(),
        channel: ALL_CHANNELS.to_string(),
        title: words.title,
        summary: words.summary,
        facts: words.facts,
        decision: words.decision,
        data: json!({"test": true}),
        link: report_link(alerting, None),
    }
}

/// The link to the report of `range` (the latest report when `None`) under `[alerting]
/// report_url`, or `None` without one. The URL's own query survives; `from` and `to` take
/// the place of any it had. The link is not part of an alert's id, which stays the
/// episode's: adding or changing the URL never re-sends an alert.
pub fn report_link(
    alerting: &AlertingSettings,
    range: Option<(NaiveDate, NaiveDate)>,
) -> Option<ReportLink> {
    let mut url = alerting.report_url.clone()?;
    if let Some((from, to)) = range {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| key != "from" && key != "to")
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string());
    }
    Some(ReportLink {
        url: url.to_string(),
        text: text::alerts::open_report(alerting.locale).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn message(id: &str) -> AlertMessage {
        AlertMessage {
            id: id.to_string(),
            event: AlertEvent::Opened,
            finding_kind: "activity_without_money".into(),
            channel: "meta".into(),
            title: format!("title {id}"),
            summary: String::new(),
            facts: Vec::new(),
            decision: None,
            data: json!({}),
            link: None,
        }
    }

    #[test]
    fn a_storm_is_capped_with_a_digest_of_the_rest() {
        let messages: Vec<AlertMessage> = (1..=5).map(|i| message(&i.to_string())).collect();
        let refs: Vec<&AlertMessage> = messages.iter().collect();
        assert_eq!(
            capped(&refs, 5, d("2025-03-17"), &AlertingSettings::default()).len(),
            5
        );
        let out = capped(&refs, 3, d("2025-03-17"), &AlertingSettings::default());
        assert_eq!(out.len(), 3);
        assert_eq!((out[0].id.as_str(), out[1].id.as_str()), ("1", "2"));
        let digest = &out[2];
        assert_eq!(digest.event, AlertEvent::Digest);
        assert_eq!(digest.title, "3 more alerts");
        assert!(
            digest.summary.contains("• title 3\n• title 4\n• title 5"),
            "{}",
            digest.summary
        );
        // The digest's id is stable for the same night and the same messages.
        assert_eq!(
            capped(&refs, 3, d("2025-03-17"), &AlertingSettings::default())[2].id,
            digest.id
        );
    }

    #[test]
    fn report_links_carry_the_range_and_keep_the_urls_own_query() {
        assert_eq!(report_link(&AlertingSettings::default(), None), None);
        let alerting = AlertingSettings {
            report_url: Some(
                "https://kassa.example.com/report?team=ads&from=2020-01-01"
                    .parse()
                    .unwrap(),
            ),
            locale: crate::domain::Locale::Ru,
            ..AlertingSettings::default()
        };
        let link = report_link(&alerting, Some((d("2025-03-10"), d("2025-03-23")))).unwrap();
        assert_eq!(
            link.url,
            "https://kassa.example.com/report?team=ads&from=2025-03-10&to=2025-03-23"
        );
        assert_eq!(link.text, "Открыть отчёт");
        // Without a range: the latest report, the URL as configured.
        assert_eq!(
            report_link(&alerting, None).unwrap().url,
            "https://kassa.example.com/report?team=ads&from=2020-01-01"
        );
    }

    #[test]
    fn the_nightly_window_ends_yesterday_and_catches_up_on_holes() {
        let today = d("2025-06-30");
        assert_eq!(
            nightly_window(28, &[], today),
            DateRange::new(d("2025-06-02"), d("2025-06-29"))
        );
        // Covered up to 2025-05-20 only: the run reaches back to fill the hole.
        let covered = [DateRange::new(d("2025-01-01"), d("2025-05-20")).unwrap()];
        assert_eq!(
            nightly_window(3, &covered, today),
            DateRange::new(d("2025-05-21"), d("2025-06-29"))
        );
        // A hole older than the catch-up limit is for backfill.
        let covered = [DateRange::new(d("2024-01-01"), d("2024-02-01")).unwrap()];
        assert_eq!(
            nightly_window(3, &covered, today).unwrap().start,
            d("2025-03-29")
        );
    }
}
