//! Episodes: consecutive flagged periods of one channel and rule, and what changed about them
//! since the last run. Pure functions: the analysis and the stored episode states go in, a
//! plan of alerts comes out; the cycle stores and sends it.
//!
//! Why episodes: a channel flagged three weeks running is one problem, not three. One alert
//! when an episode opens, at most one update when it grows materially, one note when it is
//! resolved (a new complete period is no longer flagged, or restated data no longer shows it),
//! but never on the strength of a suspicious window ([`hold_resolutions`]).
//!
//! Data gaps form episodes the same way (consecutive periods without a verdict, on channel
//! `"all"`), for the targets that ask for them; a gap that only waits for time (the period has
//! not ended, a source has not finished its day) is no episode. A source that fails run after
//! run is the other thing that changes between runs: [`source_health`] counts its failed runs
//! and says when it went down and when it came back.

use chrono::NaiveDate;

use crate::analysis::{
    Analysis, Finding, FindingDetail, FindingKind, GapReason, Granularity, Verdict,
};
use crate::domain::{DateRange, EpisodeState, SourceHealth, Status};

/// A run of consecutive flagged periods of one channel, as the current analysis sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub channel: String,
    pub kind: FindingKind,
    /// What a claim episode is about, beyond its kind and channel: the metric and who claimed
    /// it (`leads by agency`); empty for runs of periods.
    pub subject: String,
    pub first_start: NaiveDate,
    pub last_start: NaiveDate,
    pub last_end: NaiveDate,
    /// The flagged periods, in order.
    pub findings: Vec<Finding>,
    /// The first complete period after the episode was not flagged: the episode is over.
    pub ended_by: Option<NaiveDate>,
}

impl Episode {
    /// The largest activity growth of the episode (what makes an update worth sending); 0
    /// for an episode of data gaps, which has none.
    pub fn peak_growth(&self) -> f64 {
        let peak = self
            .findings
            .iter()
            .filter_map(|f| match &f.detail {
                FindingDetail::ActivityWithoutMoney(flag) => Some(flag.activity.growth),
                FindingDetail::LeadsWithoutMoney(flag) => Some(flag.leads.growth),
                FindingDetail::DataGap(_)
                | FindingDetail::ClaimMismatch(_)
                | FindingDetail::ClaimBelowObserved(_)
                | FindingDetail::OverclaimedTotal(_)
                | FindingDetail::SpendWithoutMoney(_)
                | FindingDetail::Decoupling(_)
                | FindingDetail::ReturningRevenueFalling(_) => None,
            })
            .fold(f64::NEG_INFINITY, f64::max);
        if peak == f64::NEG_INFINITY { 0.0 } else { peak }
    }

    /// The spend over all flagged periods.
    pub fn spend(&self) -> crate::domain::Money {
        crate::domain::Money::from_micros(self.findings.iter().map(|f| f.spend.micros()).sum())
    }

    /// The money at stake over the episode ([`Finding::money_at_stake`]): the sum over its
    /// periods, except for `spend_without_money`, whose latest period already holds the whole
    /// streak's spend; `None` for data gaps, which are not about money.
    pub fn money_at_stake(&self) -> Option<f64> {
        match self.kind {
            FindingKind::SpendWithoutMoney => self.latest().money_at_stake(),
            _ => self
                .findings
                .iter()
                .map(Finding::money_at_stake)
                .sum::<Option<f64>>(),
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "find_episodes never builds an episode without a period"
    )]
    pub fn latest(&self) -> &Finding {
        self.findings
            .last()
            .expect("an episode has at least one period")
    }

    fn overlaps(&self, state: &EpisodeState) -> bool {
        if self.is_claim() {
            // A claim is one fact with its own dates: the same claim, or none.
            return self.key() == state.key;
        }
        self.channel == state.channel
            && self.kind.to_string() == state.kind
            && self.first_start <= state.last_start
            && state.first_start <= self.last_start
    }

    /// Whether the episode is one claim held against the till (a report row, or a platform's
    /// claim for one period) rather than a run of flagged periods.
    pub fn is_claim(&self) -> bool {
        matches!(
            self.kind,
            FindingKind::ClaimMismatch
                | FindingKind::ClaimBelowObserved
                | FindingKind::OverclaimedTotal
        )
    }

    /// The stored identity: kind, channel and first period; a claim's metric and claimant too.
    fn key(&self) -> String {
        if self.subject.is_empty() {
            format!("{}:{}:{}", self.kind, self.channel, self.first_start)
        } else {
            format!(
                "{}:{}:{}:{}",
                self.kind, self.channel, self.first_start, self.subject
            )
        }
    }
}

/// What a claim finding is about beyond its kind, channel and dates (see [`Episode::subject`]).
fn subject(finding: &Finding) -> String {
    match &finding.detail {
        FindingDetail::ClaimMismatch(check) | FindingDetail::ClaimBelowObserved(check) => {
            format!("{} by {}", check.metric.as_str(), check.claimed_by)
        }
        FindingDetail::OverclaimedTotal(overclaim) => overclaim.metric.as_str().to_string(),
        FindingDetail::ActivityWithoutMoney(_)
        | FindingDetail::DataGap(_)
        | FindingDetail::LeadsWithoutMoney(_)
        | FindingDetail::SpendWithoutMoney(_)
        | FindingDetail::Decoupling(_)
        | FindingDetail::ReturningRevenueFalling(_) => String::new(),
    }
}

/// Whether a finding belongs in an episode: every flag, and a data gap that more time alone
/// will not fill (not one whose period has not ended, nor one that only waits for a source to
/// finish its day).
fn alertable(finding: &Finding) -> bool {
    match &finding.detail {
        FindingDetail::ActivityWithoutMoney(_)
        | FindingDetail::ClaimMismatch(_)
        | FindingDetail::ClaimBelowObserved(_)
        | FindingDetail::OverclaimedTotal(_)
        | FindingDetail::LeadsWithoutMoney(_)
        | FindingDetail::SpendWithoutMoney(_)
        | FindingDetail::Decoupling(_)
        | FindingDetail::ReturningRevenueFalling(_) => true,
        FindingDetail::DataGap(gap) => {
            !gap.reasons.iter().any(|r| {
                matches!(
                    r,
                    GapReason::NotEnded { .. } | GapReason::MoneyNotDue { .. }
                )
            }) && gap
                .reasons
                .iter()
                .any(|r| !matches!(r, GapReason::SourcePending { .. }))
        }
    }
}

/// Whether `finding` is an `activity_without_money` period that `leads_without_money` also
/// flagged: the more specific kind speaks for both, so the owner gets one alert, naming the
/// break (lead -> sale) and the activity that grew.
fn folded_into_leads(finding: &Finding, analysis: &Analysis) -> bool {
    finding.kind() == FindingKind::ActivityWithoutMoney
        && analysis.findings.iter().any(|other| {
            other.kind() == FindingKind::LeadsWithoutMoney
                && other.channel == finding.channel
                && other.period_start == finding.period_start
        })
}

/// Groups the flagged periods of `analysis`, and its data gaps that more time alone will not
/// fill, into episodes. An `activity_without_money` period also flagged `leads_without_money`
/// joins only the latter's episode.
pub fn find_episodes(analysis: &Analysis) -> Vec<Episode> {
    let g = analysis.granularity;
    let mut flagged: Vec<&Finding> = analysis
        .findings
        .iter()
        .filter(|f| alertable(f) && !folded_into_leads(f, analysis))
        .collect();
    flagged.sort_by(|a, b| {
        (a.kind(), &a.channel, a.period_start).cmp(&(b.kind(), &b.channel, b.period_start))
    });
    let mut episodes: Vec<Episode> = Vec::new();
    for finding in flagged {
        let subject = subject(finding);
        match episodes.last_mut() {
            Some(e)
                if subject.is_empty()
                    && e.subject.is_empty()
                    && e.channel == finding.channel
                    && e.kind == finding.kind()
                    && g.next_start(e.last_start) == finding.period_start =>
            {
                e.last_start = finding.period_start;
                e.last_end = finding.period_end;
                e.findings.push(finding.clone());
            }
            _ => episodes.push(Episode {
                channel: finding.channel.clone(),
                kind: finding.kind(),
                subject,
                first_start: finding.period_start,
                last_start: finding.period_start,
                last_end: finding.period_end,
                findings: vec![finding.clone()],
                ended_by: None,
            }),
        }
    }
    // A claim is not a run of periods: it ends only when the analysis no longer finds it (the
    // report was corrected, the CRM caught up), which `plan` sees as cleared.
    for episode in episodes.iter_mut().filter(|e| !e.is_claim()) {
        let next = g.next_start(episode.last_start);
        // Flags: the next period is complete and, since episodes are maximal runs, not
        // flagged. Data gaps: the next period has a verdict.
        let over = |p: &&crate::analysis::PeriodMetrics| match episode.kind {
            FindingKind::DataGap => p.verdict != Verdict::NoVerdict,
            _ => p.complete,
        };
        let next_complete = analysis
            .periods
            .iter()
            .filter(|p| p.channel == episode.channel && p.period_start == next)
            .any(|p| over(&p));
        if next_complete {
            episode.ended_by = Some(next);
        }
    }
    episodes
}

/// Why an episode was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A new complete period was not flagged.
    Ended(NaiveDate),
    /// Restated data no longer flags its periods.
    Cleared,
}

/// One thing to tell people.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Opened(Episode),
    Updated(EpisodeState, Episode),
    Resolved(EpisodeState, Option<Episode>, Resolution),
}

/// What to alert, and the states to store afterwards.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Every state that is new or changed (including silent changes: an episode that grew
    /// without crossing the update threshold).
    pub states: Vec<EpisodeState>,
}

/// The first period start of the alert window: the last `window_periods` periods that have
/// ended before `today`.
pub fn window_start(g: Granularity, today: NaiveDate, window_periods: usize) -> NaiveDate {
    let mut start = g.period_start(today);
    for _ in 0..window_periods {
        start = g.period_start(start.pred_opt().unwrap_or(NaiveDate::MIN));
    }
    start
}

/// Compares the current episodes with the stored states.
///
/// - A new episode whose latest period starts on or after `recent_from` opens (older ones are
///   history and are never pushed). One that has already ended when first seen is announced
///   once and stored as resolved, so it gets no separate "resolved" note.
/// - An open episode that grew by at least `update_min_growth` over what was alerted gets one
///   update, never more.
/// - An open episode resolves when a complete period after it is not flagged, or when the
///   analysis no longer shows it at all (restated data).
pub fn plan(
    episodes: &[Episode],
    states: &[EpisodeState],
    recent_from: NaiveDate,
    update_min_growth: f64,
) -> Plan {
    let mut plan = Plan::default();
    let mut matched = vec![false; states.len()];
    for episode in episodes {
        let found = states.iter().position(|s| episode.overlaps(s));
        match found {
            None => {
                // A claim is recent while its dates reach into the window: a monthly report
                // arrives after its month has begun.
                let latest = if episode.is_claim() {
                    episode.last_end
                } else {
                    episode.last_start
                };
                if latest < recent_from {
                    continue;
                }
                plan.states.push(EpisodeState {
                    key: episode.key(),
                    channel: episode.channel.clone(),
                    kind: episode.kind.to_string(),
                    first_start: episode.first_start,
                    last_start: episode.last_start,
                    alerted_growth: episode.peak_growth(),
                    updates_sent: 0,
                    status: if episode.ended_by.is_some() {
                        Status::Resolved
                    } else {
                        Status::Open
                    },
                });
                plan.changes.push(Change::Opened(episode.clone()));
            }
            Some(i) => {
                matched[i] = true;
                let state = &states[i];
                if state.status == Status::Resolved {
                    continue;
                }
                let mut next = state.clone();
                next.first_start = next.first_start.min(episode.first_start);
                next.last_start = episode.last_start;
                if let Some(ended) = episode.ended_by {
                    next.status = Status::Resolved;
                    plan.changes.push(Change::Resolved(
                        state.clone(),
                        Some(episode.clone()),
                        Resolution::Ended(ended),
                    ));
                } else if state.updates_sent == 0
                    && episode.last_start > state.last_start
                    && episode.peak_growth() >= state.alerted_growth + update_min_growth
                {
                    next.updates_sent += 1;
                    next.alerted_growth = episode.peak_growth();
                    plan.changes
                        .push(Change::Updated(state.clone(), episode.clone()));
                }
                if next != *state {
                    plan.states.push(next);
                }
            }
        }
    }
    for (state, matched) in states.iter().zip(matched) {
        if !matched && state.status == Status::Open {
            let mut next = state.clone();
            next.status = Status::Resolved;
            plan.changes
                .push(Change::Resolved(state.clone(), None, Resolution::Cleared));
            plan.states.push(next);
        }
    }
    plan
}

/// Takes back the "resolved" notes of `plan` whose episode overlaps one of the `suspicious`
/// windows (a re-pull that answered with less than the store held), and the state changes
/// that went with them: such an episode stays open, as stored, until its windows are accepted
/// or re-pulled whole. What an episode covers is its periods and the period that ended it.
/// Returns the states held open.
pub fn hold_resolutions(
    plan: &mut Plan,
    suspicious: &[DateRange],
    g: Granularity,
) -> Vec<EpisodeState> {
    let mut held = Vec::new();
    plan.changes.retain(|change| {
        let Change::Resolved(state, episode, resolution) = change else {
            return true;
        };
        let mut last = state.last_start;
        if let Some(episode) = episode {
            last = last.max(episode.last_start);
        }
        if let Resolution::Ended(ended) = resolution {
            last = last.max(*ended);
        }
        let span = DateRange {
            start: state.first_start,
            end: g.period_end(last),
        };
        let hold = suspicious.iter().any(|w| w.intersect(&span).is_some());
        if hold {
            held.push(state.clone());
        }
        !hold
    });
    plan.states
        .retain(|state| !held.iter().any(|h| h.key == state.key));
    held
}

/// A change in a source's health worth telling people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChange {
    /// The source has failed `source_down_after_runs` runs in a row (its state as stored).
    Down(SourceHealth),
    /// A source that was reported down was pulled again (its state before this run).
    Recovered(SourceHealth),
}

/// Counts consecutive failed runs per source. `ran` lists each source this run pulled, with
/// its error when the pull failed; `previous` is what the ledger remembers. Returns the states
/// to store (only those that changed) and what to tell people: a source goes down when it
/// reaches `after_runs` failed runs (once per run of failures), and is back when a run pulls
/// it after that.
pub fn source_health(
    previous: &[SourceHealth],
    ran: &[(&str, Option<String>)],
    today: NaiveDate,
    after_runs: u32,
) -> (Vec<SourceHealth>, Vec<SourceChange>) {
    let mut states = Vec::new();
    let mut changes = Vec::new();
    for (source, error) in ran {
        let before = previous
            .iter()
            .find(|h| h.source == *source)
            .cloned()
            .unwrap_or_else(|| SourceHealth {
                source: source.to_string(),
                failed_runs: 0,
                since: None,
                last_error: None,
                alerted: false,
            });
        let next = match error {
            Some(error) => {
                let mut next = SourceHealth {
                    failed_runs: before.failed_runs.saturating_add(1),
                    since: before
                        .since
                        .filter(|_| before.failed_runs > 0)
                        .or(Some(today)),
                    last_error: Some(error.clone()),
                    ..before.clone()
                };
                if !before.alerted && next.failed_runs >= after_runs {
                    next.alerted = true;
                    changes.push(SourceChange::Down(next.clone()));
                }
                next
            }
            None => {
                if before.alerted {
                    changes.push(SourceChange::Recovered(before.clone()));
                }
                SourceHealth {
                    source: source.to_string(),
                    failed_runs: 0,
                    since: None,
                    last_error: None,
                    alerted: false,
                }
            }
        };
        if next != before {
            states.push(next);
        }
    }
    (states, changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    use crate::analysis::{ActivityWithoutMoney, Growth};
    use crate::domain::Money;

    fn flagged(channel: &str, start: &str, growth: f64) -> Finding {
        let start = d(start);
        Finding {
            channel: channel.to_string(),
            period_start: start,
            period_end: Granularity::Week.period_end(start),
            spend: Money::from_micros(1_000_000),
            currency: None,
            detail: FindingDetail::ActivityWithoutMoney(ActivityWithoutMoney {
                activity: Growth {
                    metric: "clicks".into(),
                    value: 1.0 + growth,
                    baseline: 1.0,
                    growth,
                },
                money: Growth {
                    metric: "revenue".into(),
                    value: 1.0,
                    baseline: 1.0,
                    growth: 0.0,
                },
                leads: None,
                deals_won: None,
                chain_break: None,
                timing: None,
            }),
            message: String::new(),
        }
    }

    fn episode(channel: &str, starts: &[(&str, f64)], ended_by: Option<&str>) -> Episode {
        let findings: Vec<Finding> = starts
            .iter()
            .map(|(s, g)| flagged(channel, s, *g))
            .collect();
        Episode {
            channel: channel.to_string(),
            kind: FindingKind::ActivityWithoutMoney,
            subject: String::new(),
            first_start: findings[0].period_start,
            last_start: findings.last().unwrap().period_start,
            last_end: findings.last().unwrap().period_end,
            findings,
            ended_by: ended_by.map(d),
        }
    }

    #[test]
    fn an_episode_opens_once_and_gets_at_most_one_update() {
        let recent = d("2025-03-10");
        let first = plan(
            &[episode("meta", &[("2025-03-10", 0.30)], None)],
            &[],
            recent,
            0.10,
        );
        assert!(matches!(first.changes[..], [Change::Opened(_)]));
        let states = first.states;
        assert_eq!(states[0].status, Status::Open);

        // Grown by 5 points: stored silently, no alert.
        let grown = episode("meta", &[("2025-03-10", 0.30), ("2025-03-17", 0.35)], None);
        let second = plan(std::slice::from_ref(&grown), &states, recent, 0.10);
        assert!(second.changes.is_empty());
        assert_eq!(second.states[0].last_start, d("2025-03-17"));

        // Grown by 20 points over what was alerted: one update.
        let much = episode(
            "meta",
            &[
                ("2025-03-10", 0.30),
                ("2025-03-17", 0.35),
                ("2025-03-24", 0.50),
            ],
            None,
        );
        let third = plan(std::slice::from_ref(&much), &second.states, recent, 0.10);
        assert!(matches!(third.changes[..], [Change::Updated(..)]));
        assert_eq!(third.states[0].updates_sent, 1);

        // Growing further never sends a second update.
        let more = episode(
            "meta",
            &[
                ("2025-03-10", 0.30),
                ("2025-03-17", 0.35),
                ("2025-03-24", 0.50),
                ("2025-03-31", 0.90),
            ],
            None,
        );
        assert!(
            plan(&[more], &third.states, recent, 0.10)
                .changes
                .is_empty()
        );
    }

    #[test]
    fn old_episodes_are_history_and_an_already_ended_one_is_announced_once() {
        let recent = d("2025-05-12");
        let old = episode("meta", &[("2025-03-10", 0.30)], Some("2025-03-17"));
        assert_eq!(plan(&[old], &[], recent, 0.10), Plan::default());

        let ended = episode("google", &[("2025-05-12", 0.40)], Some("2025-05-19"));
        let first = plan(std::slice::from_ref(&ended), &[], recent, 0.10);
        assert!(matches!(first.changes[..], [Change::Opened(_)]));
        assert_eq!(first.states[0].status, Status::Resolved);
        assert!(
            plan(&[ended], &first.states, recent, 0.10)
                .changes
                .is_empty()
        );
    }

    #[test]
    fn an_open_episode_resolves_when_it_ends_or_disappears() {
        let recent = d("2025-03-10");
        let opened = plan(
            &[episode("meta", &[("2025-03-10", 0.30)], None)],
            &[],
            recent,
            0.10,
        );
        let ended = episode("meta", &[("2025-03-10", 0.30)], Some("2025-03-17"));
        let resolved = plan(&[ended], &opened.states, recent, 0.10);
        assert!(matches!(
            resolved.changes[..],
            [Change::Resolved(_, Some(_), Resolution::Ended(_))]
        ));
        let cleared = plan(&[], &opened.states, recent, 0.10);
        assert!(matches!(
            cleared.changes[..],
            [Change::Resolved(_, None, Resolution::Cleared)]
        ));
        assert_eq!(cleared.states[0].status, Status::Resolved);
    }

    #[test]
    fn a_suspicious_window_holds_back_the_resolution_it_overlaps() {
        let recent = d("2025-03-10");
        let opened = plan(
            &[episode("meta", &[("2025-03-10", 0.30)], None)],
            &[],
            recent,
            0.10,
        );
        let ended = episode("meta", &[("2025-03-10", 0.30)], Some("2025-03-17"));
        let window = |a, b| DateRange::new(d(a), d(b)).unwrap();
        // The week that ended the episode was re-pulled suspiciously: the note waits.
        let mut resolved = plan(std::slice::from_ref(&ended), &opened.states, recent, 0.10);
        let held = hold_resolutions(
            &mut resolved,
            &[window("2025-03-20", "2025-03-21")],
            Granularity::Week,
        );
        assert_eq!(held.len(), 1);
        assert!(resolved.changes.is_empty() && resolved.states.is_empty());
        // A suspicious window elsewhere holds nothing back.
        let mut resolved = plan(&[ended], &opened.states, recent, 0.10);
        let held = hold_resolutions(
            &mut resolved,
            &[window("2025-02-01", "2025-03-09")],
            Granularity::Week,
        );
        assert!(held.is_empty());
        assert_eq!(resolved.changes.len(), 1);
        // Cleared by restated data inside a suspicious window: held too.
        let mut cleared = plan(&[], &opened.states, recent, 0.10);
        let held = hold_resolutions(
            &mut cleared,
            &[window("2025-03-12", "2025-03-12")],
            Granularity::Week,
        );
        assert_eq!((held.len(), cleared.changes.len()), (1, 0));
    }

    #[test]
    fn a_source_is_down_once_per_run_of_failures_and_back_once() {
        let failed = |name: &'static str| (name, Some("HTTP 503".to_string()));
        let (one, changes) =
            source_health(&[], &[failed("meta"), ("crm", None)], d("2025-05-26"), 2);
        assert!(changes.is_empty(), "one failed run is not down yet");
        assert_eq!(
            one.len(),
            1,
            "a healthy source with no history stores nothing"
        );
        assert_eq!(
            (one[0].failed_runs, one[0].since),
            (1, Some(d("2025-05-26")))
        );

        let (two, changes) = source_health(&one, &[failed("meta")], d("2025-05-27"), 2);
        assert!(
            matches!(&changes[..], [SourceChange::Down(h)] if h.failed_runs == 2 && h.since == Some(d("2025-05-26")))
        );
        let (three, changes) = source_health(&two, &[failed("meta")], d("2025-05-28"), 2);
        assert!(changes.is_empty(), "said once");

        let (back, changes) = source_health(&three, &[("meta", None)], d("2025-05-29"), 2);
        assert!(matches!(&changes[..], [SourceChange::Recovered(h)] if h.failed_runs == 3));
        assert_eq!((back[0].failed_runs, back[0].alerted), (0, false));
    }

    #[test]
    fn the_window_counts_whole_periods_before_today() {
        // Today is Wednesday 2025-03-26: the last two complete weeks start 03-10 and 03-17.
        assert_eq!(
            window_start(Granularity::Week, d("2025-03-26"), 2),
            d("2025-03-10")
        );
        assert_eq!(
            window_start(Granularity::Week, d("2025-03-24"), 1),
            d("2025-03-17")
        );
        assert_eq!(
            window_start(Granularity::Month, d("2025-03-01"), 1),
            d("2025-02-01")
        );
    }
}
