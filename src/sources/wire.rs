//! Reading values out of platform JSON, where numbers arrive as strings (Meta, HubSpot,
//! Google's int64), as numbers (VK, amoCRM) or not at all. Every helper names the field it
//! failed on, so the error says what to look at.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::source::SourceError;
use crate::domain::Money;

/// The text of a string field, or a number rendered as text; `None` when absent or null.
pub fn text(object: &Value, field: &str) -> Option<String> {
    match object.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn required_text(object: &Value, field: &str) -> Result<String, SourceError> {
    text(object, field)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SourceError::invalid(field, "is missing"))
}

/// A non-negative whole number sent as a JSON string or number.
pub fn optional_count(object: &Value, field: &str) -> Result<Option<u64>, SourceError> {
    let Some(raw) = text(object, field) else {
        return Ok(None);
    };
    raw.trim()
        .parse::<u64>()
        .map(Some)
        .map_err(|_| SourceError::invalid(field, format!("{raw:?} is not a whole number ≥ 0")))
}

pub fn count(object: &Value, field: &str) -> Result<u64, SourceError> {
    optional_count(object, field)?.ok_or_else(|| SourceError::invalid(field, "is missing"))
}

/// A decimal amount sent as a string or number; `None` when absent, null or empty.
pub fn optional_money(object: &Value, field: &str) -> Result<Option<Money>, SourceError> {
    match text(object, field) {
        None => Ok(None),
        Some(raw) if raw.trim().is_empty() => Ok(None),
        Some(raw) => Money::parse_decimal(&raw)
            .map(Some)
            .map_err(|m| SourceError::invalid(field, m)),
    }
}

pub fn date(object: &Value, field: &str) -> Result<NaiveDate, SourceError> {
    let raw = required_text(object, field)?;
    NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
        .map_err(|_| SourceError::invalid(field, format!("{raw:?} is not a date (YYYY-MM-DD)")))
}

/// The unit of a platform's all-digit timestamps: HubSpot and Salesforce count milliseconds,
/// amoCRM, Bitrix24 and VK count seconds. Reading one as the other lands in 1970 or in the
/// year 50000, so every helper takes the unit explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epoch {
    Seconds,
    Millis,
}

/// Timestamps beyond this many units since 1970 are not in the stated unit: 10^11 seconds is
/// the year 5138, and 10^11 milliseconds is March 1973, before any CRM we read existed.
const EPOCH_PLAUSIBLE_LIMIT: i64 = 100_000_000_000;

/// An instant given as RFC 3339 (`2024-05-01T10:15:00Z`) or as all digits in `unit` since
/// 1970. A number that cannot be in that unit (milliseconds sent where seconds were
/// documented, or the reverse) is an error naming the field, never a date in 1970.
pub fn optional_timestamp(
    object: &Value,
    field: &str,
    unit: Epoch,
) -> Result<Option<DateTime<Utc>>, SourceError> {
    let Some(raw) = text(object, field).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(n) = raw.parse::<i64>() {
        let (instant, plausible) = match unit {
            Epoch::Seconds => (DateTime::from_timestamp(n, 0), n < EPOCH_PLAUSIBLE_LIMIT),
            Epoch::Millis => (
                DateTime::from_timestamp_millis(n),
                n >= EPOCH_PLAUSIBLE_LIMIT,
            ),
        };
        if !plausible {
            let (said, looks) = match unit {
                Epoch::Seconds => ("seconds", "milliseconds"),
                Epoch::Millis => ("milliseconds", "seconds"),
            };
            return Err(SourceError::invalid(
                field,
                format!("{raw} is not a plausible Unix time in {said} (it looks like {looks})"),
            ));
        }
        return instant
            .map(Some)
            .ok_or_else(|| SourceError::invalid(field, format!("{raw:?} is out of range")));
    }
    DateTime::parse_from_rfc3339(&raw)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| SourceError::invalid(field, format!("{raw:?} is not an ISO 8601 date-time")))
}

/// [`optional_timestamp`] in milliseconds (HubSpot, Salesforce).
pub fn optional_instant(object: &Value, field: &str) -> Result<Option<DateTime<Utc>>, SourceError> {
    optional_timestamp(object, field, Epoch::Millis)
}

/// [`optional_timestamp`] in seconds (amoCRM, Bitrix24, VK).
pub fn optional_unix_seconds(
    object: &Value,
    field: &str,
) -> Result<Option<DateTime<Utc>>, SourceError> {
    optional_timestamp(object, field, Epoch::Seconds)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_are_read_in_their_documented_unit() {
        let row = json!({"s": 1714558500, "ms": "1714558500000", "iso": "2024-05-01T10:15:00Z"});
        let expected: DateTime<Utc> = "2024-05-01T10:15:00Z".parse().unwrap();
        assert_eq!(optional_unix_seconds(&row, "s").unwrap(), Some(expected));
        assert_eq!(optional_instant(&row, "ms").unwrap(), Some(expected));
        assert_eq!(optional_unix_seconds(&row, "iso").unwrap(), Some(expected));
        assert_eq!(optional_instant(&row, "absent").unwrap(), None);
    }

    #[test]
    fn a_timestamp_in_the_wrong_unit_is_an_error_not_1970() {
        let row = json!({"s": 1714558500, "ms": 1714558500000_i64});
        let error = optional_instant(&row, "s").unwrap_err();
        assert!(error.message.contains("field `s`"), "{}", error.message);
        assert!(
            error.message.contains("looks like seconds"),
            "{}",
            error.message
        );
        let error = optional_unix_seconds(&row, "ms").unwrap_err();
        assert!(
            error.message.contains("looks like milliseconds"),
            "{}",
            error.message
        );
    }
}
