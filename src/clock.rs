//! The business's clock: which days have ended. Kept in one place because "yesterday" means
//! something subtle here (the business's time zone *and* UTC), and every command that pulls
//! or judges days must agree on it.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The first day that has not ended yet in `timezone`, nor in UTC.
///
/// Yesterday by this reckoning is complete for the business and for platforms that judge
/// "the future" in UTC: Meta rejects a day that is still today in UTC, which is what a plain
/// local "yesterday" would ask for shortly after midnight in a time zone ahead of UTC.
pub fn today_at(now: DateTime<Utc>, timezone: Tz) -> NaiveDate {
    now.with_timezone(&timezone)
        .date_naive()
        .min(now.date_naive())
}

/// [`today_at`] now.
pub fn today_in(timezone: Tz) -> NaiveDate {
    today_at(Utc::now(), timezone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_never_ahead_of_utc() {
        let moscow: Tz = "Europe/Moscow".parse().unwrap();
        // 02:00 in Moscow on the 24th is still the 23rd in UTC: yesterday is the 22nd.
        let now: DateTime<Utc> = "2025-11-23T23:00:00Z".parse().unwrap();
        assert_eq!(
            today_at(now, moscow),
            "2025-11-23".parse::<NaiveDate>().unwrap()
        );
        // West of UTC the local date is the earlier one.
        let los_angeles: Tz = "America/Los_Angeles".parse().unwrap();
        let now: DateTime<Utc> = "2025-11-24T03:00:00Z".parse().unwrap();
        assert_eq!(
            today_at(now, los_angeles),
            "2025-11-23".parse::<NaiveDate>().unwrap()
        );
    }
}
