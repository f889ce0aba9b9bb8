//! The normalised row types every source produces and every other layer consumes.
//!
//! Each platform speaks its own wire format; a source's only job is to turn that format into
//! [`AdDay`] rows (activity) or [`Deal`] rows (money). Everything downstream (store, analysis,
//! alerts) sees nothing else, which is what lets nine platforms share one pipeline.
//!
//! Money is kept as an exact integer count of millionths ([`Money`]), never as `f64`: platforms
//! send amounts as decimal strings (Meta, HubSpot), micros (Google, Yandex) or integers (amoCRM),
//! and sums of floats drift.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// One day of one campaign's delivery on an ad platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdDay {
    pub date: NaiveDate,
    pub channel: String,
    pub account: String,
    pub campaign_id: String,
    pub campaign_name: Option<String>,
    pub impressions: u64,
    /// `None` when the platform did not report reach for that day (Meta drops it for old
    /// breakdowns); summed over days where present.
    pub reach: Option<u64>,
    pub clicks: u64,
    pub spend: Money,
    pub currency: Option<String>,
    /// What the platform claims the row's ads brought, to be held against the CRM.
    pub claims: Claims,
}

/// What an ad platform claims a row's ads brought: conversions as the platform counts them
/// (its attribution window, its own de-duplication), which the reconciliation holds against
/// what the CRM recorded. Each is `None` when the platform did not report it: not reported,
/// never zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub leads: Option<u64>,
    pub purchases: Option<u64>,
    /// In the row's currency.
    pub revenue: Option<Money>,
}

/// A metric a report can claim (`csv_report`'s `metric` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClaimMetric {
    Impressions,
    Reach,
    Clicks,
    Spend,
    Leads,
    Purchases,
    Revenue,
    /// Cost per lead: spend over leads.
    Cpl,
    /// Return on ad spend: revenue over spend (kassa's ROMI is ROAS - 1).
    Roas,
}

impl ClaimMetric {
    /// Every metric, in the order reports list them.
    pub const ALL: [ClaimMetric; 9] = [
        ClaimMetric::Impressions,
        ClaimMetric::Reach,
        ClaimMetric::Clicks,
        ClaimMetric::Spend,
        ClaimMetric::Leads,
        ClaimMetric::Purchases,
        ClaimMetric::Revenue,
        ClaimMetric::Cpl,
        ClaimMetric::Roas,
    ];

    /// The metric's name in files, configuration and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimMetric::Impressions => "impressions",
            ClaimMetric::Reach => "reach",
            ClaimMetric::Clicks => "clicks",
            ClaimMetric::Spend => "spend",
            ClaimMetric::Leads => "leads",
            ClaimMetric::Purchases => "purchases",
            ClaimMetric::Revenue => "revenue",
            ClaimMetric::Cpl => "cpl",
            ClaimMetric::Roas => "roas",
        }
    }

    /// The metric named `name`.
    pub fn parse(name: &str) -> Option<ClaimMetric> {
        ClaimMetric::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether its values are amounts of money (in the claim's currency).
    pub fn is_money(self) -> bool {
        matches!(
            self,
            ClaimMetric::Spend | ClaimMetric::Revenue | ClaimMetric::Cpl
        )
    }
}

/// One figure an agency's or marketer's report claims for a channel over its own dates
/// (`csv_report`): the dates need not match kassa's periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportClaim {
    pub period: DateRange,
    pub channel: String,
    pub metric: ClaimMetric,
    /// The figure as an exact decimal: a count, an amount in `currency`, or a ratio (ROAS).
    pub value: Money,
    pub currency: Option<String>,
    /// Where the figure comes from, as the report says (`source_note`).
    pub note: Option<String>,
}

/// One deal (lead, opportunity) as the CRM records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deal {
    pub id: String,
    pub created_date: NaiveDate,
    /// `None` while the deal is open.
    pub closed_date: Option<NaiveDate>,
    pub status: DealStatus,
    /// `None` when the CRM has no amount: unknown, which is not the same as zero.
    pub amount: Option<Money>,
    pub currency: Option<String>,
    pub channel: String,
    pub customer_id: Option<String>,
    /// The instants the CRM recorded, when it records instants (HubSpot) rather than dates
    /// (a CSV export). The dates above are these instants in the business's time zone; the
    /// store keeps the instants so that a change of `[analysis] timezone` re-dates the deal
    /// instead of leaving it in the old zone's days.
    pub instants: Option<DealInstants>,
}

/// When a deal was created and closed, as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DealInstants {
    pub created: DateTime<Utc>,
    pub closed: Option<DateTime<Utc>>,
}

impl Deal {
    /// Whether a pull of `range` is responsible for this deal: it was created or closed in it.
    ///
    /// Sources return exactly the deals that touch the requested range, and the store replaces
    /// exactly those, so a deal whose close date was edited out of a window disappears from it.
    pub fn touches(&self, range: &DateRange) -> bool {
        range.contains(self.created_date) || self.closed_date.is_some_and(|d| range.contains(d))
    }
}

/// Where a deal stands. Revenue counts `Won` deals only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DealStatus {
    Won,
    Lost,
    Open,
}

impl DealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DealStatus::Won => "won",
            DealStatus::Lost => "lost",
            DealStatus::Open => "open",
        }
    }
}

impl FromStr for DealStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "won" => Ok(DealStatus::Won),
            "lost" => Ok(DealStatus::Lost),
            "open" => Ok(DealStatus::Open),
            other => Err(format!(
                "unknown status {other:?}; expected one of won, lost, open"
            )),
        }
    }
}

/// An exact amount of money in millionths of the currency unit.
///
/// Six decimal places cover every platform we read (Google and Yandex send micros) and an
/// `i64` of micros holds over nine trillion currency units, so sums stay exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);
    const SCALE: i64 = 1_000_000;

    pub fn from_micros(micros: i64) -> Self {
        Money(micros)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// As a float, for ratios and display only.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / Self::SCALE as f64
    }

    /// Parses a plain decimal such as `"125.5"`, `"-3"` or `"1500.00"`.
    ///
    /// Exponents, thousands separators and more than six decimal places are rejected rather
    /// than guessed at: a number we misread is worse than a clear error.
    pub fn parse_decimal(text: &str) -> Result<Money, String> {
        let s = text.trim();
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction)
        {
            return Err(format!("{text:?} is not a decimal number"));
        }
        if fraction.len() > 6 {
            return Err(format!(
                "{text:?} has more than 6 decimal places, more precision than kassa keeps"
            ));
        }
        let whole_value: i64 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| format!("{text:?} is too large"))?
        };
        let fraction_value: i64 = if fraction.is_empty() {
            0
        } else {
            #[allow(
                clippy::expect_used,
                reason = "checked above: at most six ascii digits"
            )]
            let value = format!("{fraction:0<6}").parse().expect("six ascii digits");
            value
        };
        // In i128 and signed before the range check, so the most negative amount an i64 of
        // micros holds reads back too.
        let micros = i128::from(whole_value) * i128::from(Self::SCALE) + i128::from(fraction_value);
        i64::try_from(if negative { -micros } else { micros })
            .map(Money)
            .map_err(|_| format!("{text:?} is too large"))
    }
}

impl fmt::Display for Money {
    /// Plain decimal with the trailing zeros of the fraction dropped: `125.5`, `3`, `-0.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / Self::SCALE as u64;
        let fraction = abs % Self::SCALE as u64;
        if fraction == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{fraction:06}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// An inclusive range of calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateRange {
    /// A range from `start` to `end` inclusive; `None` when `end` is before `start`.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Option<DateRange> {
        (start <= end).then_some(DateRange { start, end })
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }

    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    pub fn intersect(&self, other: &DateRange) -> Option<DateRange> {
        DateRange::new(self.start.max(other.start), self.end.min(other.end))
    }

    /// Splits the range into consecutive chunks of at most `days` days, in order.
    pub fn chunks(&self, days: u32) -> Vec<DateRange> {
        let step = Duration::days(i64::from(days.max(1)));
        let mut chunks = Vec::new();
        let mut start = self.start;
        while start <= self.end {
            let end = (start + step - Duration::days(1)).min(self.end);
            chunks.push(DateRange { start, end });
            start = end + Duration::days(1);
        }
        chunks
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// The days one source has delivered, as merged, sorted ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub source: String,
    pub ranges: Vec<DateRange>,
    /// The first day the source has not finished in its own time zone, when the caller knows
    /// it: uncovered days from it on are *pending* (the next run fills them), not missing.
    pub pending_from: Option<NaiveDate>,
}

impl Coverage {
    /// The days of `range` this source has not delivered, as ranges.
    pub fn missing_in(&self, range: DateRange) -> Vec<DateRange> {
        let mut missing = Vec::new();
        let mut cursor = Some(range.start);
        for covered in &self.ranges {
            let Some(from) = cursor else { break };
            if covered.end < from {
                continue;
            }
            if covered.start > range.end {
                break;
            }
            if covered.start > from {
                #[allow(
                    clippy::expect_used,
                    reason = "covered.start > from, so it has a predecessor"
                )]
                let end = covered.start.pred_opt().expect("after from");
                missing.push(DateRange { start: from, end });
            }
            cursor = covered.end.succ_opt().filter(|d| *d <= range.end);
        }
        if let Some(from) = cursor {
            missing.push(DateRange {
                start: from,
                end: range.end,
            });
        }
        missing
    }
}

/// What one successful pull of one source returned: rows, or (from sources that parse
/// straight into columns, the CSV files) one frame of the [`crate::frames`] columns without
/// `source`, which the store writes as it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Pulled {
    Ads(Vec<AdDay>),
    Deals(Vec<Deal>),
    Claims(Vec<ReportClaim>),
    AdFrame(polars::prelude::DataFrame),
    DealFrame(polars::prelude::DataFrame),
    ClaimFrame(polars::prelude::DataFrame),
}

impl Pulled {
    pub fn len(&self) -> usize {
        match self {
            Pulled::Ads(rows) => rows.len(),
            Pulled::Deals(rows) => rows.len(),
            Pulled::Claims(rows) => rows.len(),
            Pulled::AdFrame(df) | Pulled::DealFrame(df) | Pulled::ClaimFrame(df) => df.height(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which row type a source produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKind {
    Ads,
    Deals,
    /// A report's claimed figures (`csv_report`).
    Claims,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Ads => "ads",
            RowKind::Deals => "deals",
            RowKind::Claims => "claims",
        }
    }
}

/// The language of alert and report text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Ru,
}

impl Locale {
    pub fn ru(self) -> bool {
        self == Locale::Ru
    }
}

/// Whether a stored episode is still open.
///
/// Episodes are found by [`crate::episodes`]; their states live here, with the row types, so
/// that the store (which keeps them between runs) depends on the domain alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Resolved => "resolved",
        }
    }
}

/// What the store remembers of an episode between runs.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeState {
    /// Stable identity: `kind:channel:first_start` as first seen.
    pub key: String,
    pub channel: String,
    pub kind: String,
    pub first_start: NaiveDate,
    pub last_start: NaiveDate,
    /// The peak activity growth the last alert reported.
    pub alerted_growth: f64,
    pub updates_sent: u32,
    pub status: Status,
}

/// A window of one source whose re-pull answered with less than the store held: marked in
/// the store's ledger, shown by `analyze`, and holding back "resolved" notes of the episodes
/// it overlaps, until a person accepts it (`kassa backfill --accept-empty`) or, for kept rows,
/// a later re-pull brings them back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspiciousWindow {
    pub source: String,
    /// The chunk of the re-pull that answered so.
    pub range: DateRange,
    pub suspicion: Suspicion,
}

/// What was wrong with a re-pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suspicion {
    /// It had no rows of `channel` (`None`: no rows at all) where the store held `rows` of
    /// them, so those stored rows were kept instead of erased.
    Kept {
        channel: Option<String>,
        rows: usize,
    },
    /// It shrank the window's `metric` (`spend` of ad rows, `revenue` of won deals) from
    /// `before` to `after` by more than `[store] max_shrink`: stored, but not trusted to
    /// resolve an episode.
    Shrunk {
        metric: String,
        before: Money,
        after: Money,
    },
}

/// What the store remembers of a source's health between runs: how many runs in a row have
/// failed to pull it, since when, and whether a `source_down` alert has been recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceHealth {
    pub source: String,
    /// Consecutive runs whose pull of this source failed; 0 once one succeeds.
    pub failed_runs: u32,
    /// The business date of the first of those failed runs.
    pub since: Option<NaiveDate>,
    /// The last failure, as its error reads (it names the source and range, never a secret).
    pub last_error: Option<String>,
    /// A `source_down` alert was recorded for this run of failures (a resolved note follows
    /// when the source recovers).
    pub alerted: bool,
}

/// An access token kept between runs, with the refresh token the platform last issued.
#[derive(Clone)]
pub struct CachedToken {
    pub access_token: SecretString,
    pub expires_at: DateTime<Utc>,
    /// The refresh token to use next, when the platform rotated it.
    pub refresh_token: Option<SecretString>,
    /// A fingerprint of the configured credentials this token came from: when a person puts a
    /// new refresh token or client secret in the configuration, the cached one is stale.
    pub seed: String,
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Where access tokens live between runs: the store implements it, and it is handed to
/// connectors at build time, so sources never import the store. Errors are plain messages (they name the store,
/// never a token); an authenticator whose cache fails still works, it only logs in more often.
pub trait TokenCache: Send + Sync {
    fn load(&self, key: &str) -> Result<Option<CachedToken>, String>;
    fn save(&self, key: &str, token: &CachedToken) -> Result<(), String>;
}

/// What kind of finding (analysis decides them; alerts filter on them, so the word lives
/// here). [`FindingKind::ALL`] is the one list every consumer derives from
/// (alert filters, episodes, outcome counts, worker metrics), so a new kind is counted,
/// filtered and exported everywhere as soon as it is added here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    ActivityWithoutMoney,
    DataGap,
    /// A report or platform claims more than kassa observed, beyond the tolerance.
    ClaimMismatch,
    /// A claim falls short of the observation (a data problem); targets get it only when they
    /// list it.
    ClaimBelowObserved,
    /// Platforms together claim more purchases or revenue in a period than the CRM recorded.
    OverclaimedTotal,
    /// Leads grew, won money did not: lead quality or sales (the chain breaks lead -> sale).
    LeadsWithoutMoney,
    /// Spend above a floor for several periods in a row with no won revenue at all.
    SpendWithoutMoney,
    /// Activity and money stopped moving together while activity rises.
    Decoupling,
    /// Returning-customer revenue fell for several periods in a row while spend rose.
    ReturningRevenueFalling,
}

impl FindingKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [FindingKind; 9] = [
        FindingKind::ActivityWithoutMoney,
        FindingKind::DataGap,
        FindingKind::ClaimMismatch,
        FindingKind::ClaimBelowObserved,
        FindingKind::OverclaimedTotal,
        FindingKind::LeadsWithoutMoney,
        FindingKind::SpendWithoutMoney,
        FindingKind::Decoupling,
        FindingKind::ReturningRevenueFalling,
    ];

    /// The kind's name on the wire (JSON `kind`, alert filters, metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ActivityWithoutMoney => "activity_without_money",
            FindingKind::DataGap => "data_gap",
            FindingKind::ClaimMismatch => "claim_mismatch",
            FindingKind::ClaimBelowObserved => "claim_below_observed",
            FindingKind::OverclaimedTotal => "overclaimed_total",
            FindingKind::LeadsWithoutMoney => "leads_without_money",
            FindingKind::SpendWithoutMoney => "spend_without_money",
            FindingKind::Decoupling => "decoupling",
            FindingKind::ReturningRevenueFalling => "returning_revenue_falling",
        }
    }

    /// The kind named `name` on the wire.
    pub fn parse(name: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether this kind is a verdict about money (as opposed to the absence of one).
    pub fn is_flag(self) -> bool {
        !matches!(self, FindingKind::DataGap)
    }
}

/// What an alert is about, as the `findings` key of an `[[alerts]]` table names it: a kind of
/// finding of the analysis, or `source_down`, which the nightly cycle raises from the ledger's
/// run history (a source that failed several runs in a row), not from the analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Finding(FindingKind),
    SourceDown,
}

impl AlertKind {
    /// Every alert kind: the finding kinds of [`FindingKind::ALL`], then `source_down`.
    pub fn all() -> impl Iterator<Item = AlertKind> {
        FindingKind::ALL
            .into_iter()
            .map(AlertKind::Finding)
            .chain([AlertKind::SourceDown])
    }

    /// The kind's name on the wire (alert filters, the message's `finding_kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Finding(kind) => kind.as_str(),
            AlertKind::SourceDown => "source_down",
        }
    }

    pub fn parse(name: &str) -> Option<AlertKind> {
        AlertKind::all().find(|k| k.as_str() == name)
    }

    /// Whether a target without a `findings` key gets this kind: every kind but `data_gap`
    /// and `claim_below_observed`, which a target receives only when it lists it (gaps are
    /// reported by `run` itself, and a data gap every night would drown the alerts that
    /// matter; an under-claim is a data problem, not money going missing).
    ///
    /// `decoupling` too: it is a diagnosis for whoever reviews the metrics (the metric a
    /// marketer reports stopped predicting money), usually beside an `activity_without_money`
    /// alert for the same week, not a second page about the same money.
    pub fn sent_by_default(self) -> bool {
        !matches!(
            self,
            AlertKind::Finding(
                FindingKind::DataGap | FindingKind::ClaimBelowObserved | FindingKind::Decoupling
            )
        )
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn money_parses_exact_decimals() {
        assert_eq!(Money::parse_decimal("125.5").unwrap().micros(), 125_500_000);
        assert_eq!(
            Money::parse_decimal("1500.00").unwrap().micros(),
            1_500_000_000
        );
        assert_eq!(Money::parse_decimal("-0.25").unwrap().micros(), -250_000);
        assert_eq!(Money::parse_decimal(".5").unwrap().micros(), 500_000);
        assert_eq!(Money::parse_decimal("7").unwrap().to_string(), "7");
        assert_eq!(
            Money::parse_decimal("0.000001").unwrap().to_string(),
            "0.000001"
        );
        assert_eq!(
            Money::parse_decimal("-12.340").unwrap().to_string(),
            "-12.34"
        );
    }

    #[test]
    fn money_rejects_what_it_cannot_read_exactly() {
        for bad in ["", "abc", "1e3", "1,5", "1.2.3", "0.0000001", "-", "."] {
            assert!(Money::parse_decimal(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Money::parse_decimal("99999999999999999999").is_err());
    }

    #[test]
    fn ranges_chunk_without_holes_or_overlap() {
        let range = DateRange::new(d("2024-01-01"), d("2024-03-01")).unwrap();
        let chunks = range.chunks(30);
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            chunks[0],
            DateRange::new(d("2024-01-01"), d("2024-01-30")).unwrap()
        );
        assert_eq!(chunks[2].end, d("2024-03-01"));
        let total: i64 = chunks.iter().map(DateRange::days).sum();
        assert_eq!(total, range.days());
    }

    #[test]
    fn coverage_reports_the_holes_of_a_range() {
        let r = |a: &str, b: &str| DateRange::new(d(a), d(b)).unwrap();
        let coverage = Coverage {
            source: "crm".into(),
            ranges: vec![r("2024-01-01", "2024-01-03"), r("2024-01-06", "2024-01-20")],
            pending_from: None,
        };
        assert_eq!(
            coverage.missing_in(r("2024-01-01", "2024-01-07")),
            vec![r("2024-01-04", "2024-01-05")]
        );
        assert_eq!(coverage.missing_in(r("2024-01-08", "2024-01-14")), vec![]);
        assert_eq!(
            coverage.missing_in(r("2024-01-15", "2024-01-25")),
            vec![r("2024-01-21", "2024-01-25")]
        );
        let empty = Coverage {
            source: "crm".into(),
            ranges: vec![],
            pending_from: None,
        };
        assert_eq!(
            empty.missing_in(r("2024-01-01", "2024-01-02")),
            vec![r("2024-01-01", "2024-01-02")]
        );
    }

    #[test]
    fn deal_touches_by_created_or_closed_date() {
        let may = DateRange::new(d("2024-05-01"), d("2024-05-31")).unwrap();
        let mut deal = Deal {
            id: "1".into(),
            created_date: d("2024-04-10"),
            closed_date: Some(d("2024-05-02")),
            status: DealStatus::Won,
            amount: None,
            currency: None,
            channel: "meta".into(),
            customer_id: None,
            instants: None,
        };
        assert!(deal.touches(&may));
        deal.closed_date = Some(d("2024-06-02"));
        assert!(!deal.touches(&may));
        deal.created_date = d("2024-05-20");
        assert!(deal.touches(&may));
    }
}

/// How one tenant's nightly run ended, in a run over many (`kassa run --tenants DIR`): the
/// command line prints it and the worst of them is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TenantStatus {
    /// Everything worked.
    Ok,
    /// It finished, but a source or an alert delivery failed.
    Partial,
    /// Another kassa process holds the tenant's store: nothing was done.
    Busy,
    /// Every source failed, or the run stopped with an error.
    Failed,
    /// The tenant's configuration (base file and tenant file) is not valid: nothing ran.
    Invalid,
}
