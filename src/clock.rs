//! The business's clock: which days have ended, and for whom. Kept in one place because every
//! command that pulls or judges days must agree on it.
//!
//! "Today" is the business's date (`[analysis] timezone`): a period ends at local midnight.
//! Each source's days end in the source's own zone (an ad account in UTC finishes Sunday three
//! hours after Moscow does), so whether a source's last day is complete is asked per source
//! with [`Clock::today_in`]; a day that has not ended there yet is *pending* for that source
//! only.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// When a command runs: a real instant (the worker's tick, a test's fixed clock), or a
/// business date to replay (`kassa run --today`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Instant(DateTime<Utc>),
    Date(NaiveDate),
}

impl From<DateTime<Utc>> for At {
    fn from(instant: DateTime<Utc>) -> At {
        At::Instant(instant)
    }
}

impl From<NaiveDate> for At {
    fn from(date: NaiveDate) -> At {
        At::Date(date)
    }
}

/// A date to replay that has not come yet in the business's time zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "today is given as {given}, but in {timezone} it is {today}: kassa replays past nights only; leave `--today` out to run as of now"
)]
pub struct FutureDate {
    pub given: NaiveDate,
    pub today: NaiveDate,
    pub timezone: Tz,
}

/// The instant a command runs as of, and the business's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    now: DateTime<Utc>,
    business: Tz,
}

impl Clock {
    /// The clock at a real instant.
    pub fn at(now: DateTime<Utc>, business: Tz) -> Clock {
        Clock { now, business }
    }

    /// The clock now.
    pub fn now(business: Tz) -> Clock {
        Clock::at(Utc::now(), business)
    }

    /// Resolves `at` against the real clock. A replayed date runs as of the last instant of
    /// that business day (every source has finished the days before it by then, unless its
    /// zone is more than a day behind), or as of now when that instant has not come yet; a
    /// date after the business's real today is refused.
    pub fn resolve(at: At, business: Tz) -> Result<Clock, FutureDate> {
        Clock::resolve_against(at, business, Utc::now())
    }

    fn resolve_against(at: At, business: Tz, real: DateTime<Utc>) -> Result<Clock, FutureDate> {
        match at {
            At::Instant(now) => Ok(Clock::at(now, business)),
            At::Date(given) => {
                let today = real.with_timezone(&business).date_naive();
                if given > today {
                    return Err(FutureDate {
                        given,
                        today,
                        timezone: business,
                    });
                }
                let last_instant = given.succ_opt().map_or(real, |next| {
                    start_of_day(business, next) - Duration::milliseconds(1)
                });
                Ok(Clock::at(last_instant.min(real), business))
            }
        }
    }

    /// The business's date: the first day that has not ended in `[analysis] timezone`.
    pub fn today(&self) -> NaiveDate {
        self.today_in(self.business)
    }

    /// The first day that has not ended in `zone` (a source's own time zone).
    pub fn today_in(&self, zone: Tz) -> NaiveDate {
        self.now.with_timezone(&zone).date_naive()
    }

    /// The business's last complete day.
    pub fn yesterday(&self) -> Option<NaiveDate> {
        self.today().pred_opt()
    }

    pub fn instant(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn business(&self) -> Tz {
        self.business
    }
}

/// The first instant of `day` in `zone`. A day that starts in a daylight-saving gap (Cairo,
/// Santiago, ...) starts at the first instant that exists, one hour after the previous 23:00.
pub fn start_of_day(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    zone.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(midnight - Duration::hours(1)))
                .earliest()
                .map(|t| t + Duration::hours(1))
        })
        .map_or_else(
            || zone.from_utc_datetime(&midnight).with_timezone(&Utc),
            |t| t.with_timezone(&Utc),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn today_is_the_business_date_and_each_zone_has_its_own() {
        let moscow: Tz = "Europe/Moscow".parse().unwrap();
        // Monday 01:00 in Moscow is still Sunday 22:00 in UTC.
        let clock = Clock::at("2025-11-23T22:00:00Z".parse().unwrap(), moscow);
        assert_eq!(clock.today(), d("2025-11-24"));
        assert_eq!(clock.today_in(Tz::UTC), d("2025-11-23"));
        // West of UTC the local date is the earlier one.
        let los_angeles: Tz = "America/Los_Angeles".parse().unwrap();
        let clock = Clock::at("2025-11-24T03:00:00Z".parse().unwrap(), los_angeles);
        assert_eq!(clock.today(), d("2025-11-23"));
    }

    #[test]
    fn a_replayed_date_runs_at_the_end_of_that_day_and_never_in_the_future() {
        let moscow: Tz = "Europe/Moscow".parse().unwrap();
        let real: DateTime<Utc> = "2025-11-24T05:00:00Z".parse().unwrap();
        let past = Clock::resolve_against(At::Date(d("2025-11-20")), moscow, real).unwrap();
        assert_eq!(
            past.instant(),
            "2025-11-20T20:59:59.999Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            (past.today(), past.today_in(Tz::UTC)),
            (d("2025-11-20"), d("2025-11-20"))
        );
        let today = Clock::resolve_against(At::Date(d("2025-11-24")), moscow, real).unwrap();
        assert_eq!(today.instant(), real);
        let future = Clock::resolve_against(At::Date(d("2025-11-25")), moscow, real).unwrap_err();
        assert_eq!(future.today, d("2025-11-24"));
    }

    #[test]
    fn a_day_starting_in_a_dst_gap_starts_an_hour_late() {
        // Santiago skipped 2024-09-08 00:00..01:00 (clocks went from UTC-4 to UTC-3).
        let santiago: Tz = "America/Santiago".parse().unwrap();
        assert_eq!(
            start_of_day(santiago, d("2024-09-08")),
            "2024-09-08T04:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
