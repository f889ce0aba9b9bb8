//! What the worker's report endpoints (`GET /`, `GET /report`) answer when they cannot show a
//! report: a wrong parameter, no token, no data yet, a failure. Plain sentences; the page
//! itself has its own words.

use chrono::NaiveDate;

use crate::domain::Locale;

/// A `from` or `to` that is not a date.
pub fn not_a_date(parameter: &str, value: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!(
            "{parameter}: {value:?} is not a date; use YYYY-MM-DD, for example {parameter}=2025-03-01"
        ),
        Locale::Ru => format!(
            "{parameter}: {value:?} не дата; нужна дата вида ГГГГ-ММ-ДД, например {parameter}=2025-03-01"
        ),
    }
}

/// A range that runs backwards.
pub fn range_backwards(from: NaiveDate, to: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::En => format!("from: {from} is after to ({to}); the range must not run backwards"),
        Locale::Ru => format!(
            "from: {from} позже, чем to ({to}); начало диапазона должно быть не позже конца"
        ),
    }
}

/// A `locale` that is neither `en` nor `ru`.
pub fn unknown_locale(value: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!("locale: {value:?} is not en or ru"),
        Locale::Ru => format!("locale: {value:?} — не en и не ru"),
    }
}

/// A request without the right bearer token.
pub fn token_required(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "The report needs a token: send the header Authorization: Bearer <token>.",
        Locale::Ru => "Для отчёта нужен токен: передайте заголовок Authorization: Bearer <токен>.",
    }
}

/// The store holds nothing to report yet (or does not exist yet).
pub fn no_data_yet(locale: Locale) -> &'static str {
    match locale {
        Locale::En => {
            "kassa has no data to report yet: the report appears once a backfill or the first nightly run has stored some."
        }
        Locale::Ru => {
            "Данных для отчёта пока нет: отчёт появится, когда backfill или первый ночной запуск что-нибудь сохранит."
        }
    }
}

/// The report could not be made; the details are in the worker's log only.
pub fn report_failed(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "The report could not be made; the worker's log says why.",
        Locale::Ru => "Отчёт не удалось построить; причина записана в журнале worker.",
    }
}
