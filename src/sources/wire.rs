//! Reading values out of platform JSON, where numbers arrive as strings (Meta, HubSpot,
//! Google's int64), as numbers (VK, amoCRM) or not at all. Every helper names the field it
//! failed on, so the error says what to look at.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::SourceError;
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

/// An instant given as RFC 3339 (`2024-05-01T10:15:00Z`) or Unix milliseconds.
pub fn optional_instant(object: &Value, field: &str) -> Result<Option<DateTime<Utc>>, SourceError> {
    let Some(raw) = text(object, field).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = raw.parse::<i64>() {
        return DateTime::from_timestamp_millis(ms)
            .map(Some)
            .ok_or_else(|| SourceError::invalid(field, format!("{raw:?} is out of range")));
    }
    DateTime::parse_from_rfc3339(&raw)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| SourceError::invalid(field, format!("{raw:?} is not an ISO 8601 date-time")))
}
