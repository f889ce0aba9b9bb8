//! Words for people, in English and Russian: the one home of every sentence kassa says.
//! Analysis decides and returns typed findings; this module only says them.
//!
//! - this file: the shared vocabulary (money, percentages and counts in each locale's form,
//!   the one Russian plural rule and the [`Countable`] nouns it serves, metric and channel
//!   names, period nouns and labels);
//! - [`findings`]: a finding as a sentence, data-gap reasons, where the chain broke, the
//!   decision to consider;
//! - [`alerts`]: everything alert-shaped: titles per finding kind and event, fact labels,
//!   episode spans, the digest, resolved notes, the `alert-test` sample;
//! - [`chain`]: leads without money, spend without money, decoupling, and money at stake;
//! - [`reconcile`]: claims the till does not confirm, platforms counting the same sale, why a
//!   claim has no verdict, the reconciliation table's words;
//! - [`audit`]: the metric audit's heading, verdicts, their meaning and table columns;
//! - [`report`]: the terminal table's heading, summary, verdicts and column names;
//! - [`html`]: the HTML report's own labels, chart titles, axes and descriptions;
//! - [`console`]: what `backfill`, `run`, `check`, `alert-test` and the demo print;
//! - [`web`]: what the worker's report endpoints answer when they show no report.
//!
//! Numbers follow each language's habits: `$1,234,567`, `€1,234.50` and `1.71%` in English,
//! `1 234 567 ₽`, `1 234,50 €` and `1,71%` in Russian (the group separator is a no-break
//! space, so an amount never wraps across lines in a chat message). English counts in
//! sentences stay bare (`1172 rows`), as the JSON contract's `gaps` have always said them.
//!
//! # Why match arms and not Fluent
//! Every sentence is a Rust function whose arguments are typed values (a [`Finding`], a
//! [`GapReason`](crate::analysis::GapReason), an [`Episode`](crate::episodes::Episode)) and
//! whose body matches on the locale and the kind, exhaustively and without `_` arms: a new
//! [`Locale`] or a new [`FindingKind`](crate::analysis::FindingKind) does not compile until it
//! has words everywhere. Fluent (`fluent-bundle` with `intl_pluralrules`) was measured and weighed:
//! - build cost is not the obstacle: it adds nine small crates, about 10 s of a cold build on
//!   one core, next to polars' ten minutes;
//! - but its arguments are a string-keyed map checked at run time: a misspelt variable or a
//!   message missing from one `.ftl` file shows up as `{$var}` in a customer's chat, not as a
//!   compile error, so it needs a test that renders every message in every locale;
//! - exact output needs `set_use_isolating(false)` (otherwise U+2068/U+2069 wrap every
//!   placeable), and `fluent-bundle` 0.16 prints a number as `1234567.5` in every locale and
//!   ships no `NUMBER()` function, so money and percentages would still be formatted here and
//!   passed in as strings;
//! - Russian agreement (a verb that follows the gender and number of the metric's name,
//!   "клики выросли", "охват вырос", "выручка выросла") becomes terms with attributes and
//!   selectors: possible, but a second language to review.
//!
//! With two languages and a few dozen sentences the compiler's checks win. The HTML report
//! will double the number of strings; when translators (not developers) start editing them,
//! the move is mechanical: each function here is one message, its parameters are the
//! message's variables, and the plural helpers map to CLDR categories (`one`, `few`, `many`).

use std::fmt::Write;

use crate::analysis::{ALL_CHANNELS, Finding, Granularity};
use crate::domain::{DateRange, Locale};

pub mod alerts;
pub mod audit;
pub mod chain;
pub mod console;
pub mod findings;
pub mod html;
pub mod meaning;
pub mod reconcile;
pub mod report;
pub mod web;

pub use findings::{chain_sentence, decision, describe, describe_findings, gap_reason};

const NBSP: char = '\u{a0}';

/// `Channel meta` / `All channels together`, in the locale.
pub fn channel_name(channel: &str, locale: Locale) -> String {
    match (channel == ALL_CHANNELS, locale) {
        (true, Locale::En) => "All channels together".to_string(),
        (true, Locale::Ru) => "Все каналы вместе".to_string(),
        (false, Locale::En) => format!("Channel {channel}"),
        (false, Locale::Ru) => format!("Канал {channel}"),
    }
}

/// The period's noun in English: `week`.
pub fn period_noun(g: Granularity) -> &'static str {
    period_countable(g).en[0]
}

/// A noun that can be counted, in both languages: the English singular and plural, and the
/// Russian forms for the three plural categories (`one`: 1, 21, 101; `few`: 2-4, 22-24;
/// `many`: 0, 5-20, 25-30, 111-114).
#[derive(Debug, Clone, Copy)]
pub struct Countable {
    pub en: [&'static str; 2],
    pub ru: [&'static str; 3],
}

impl Countable {
    /// The noun's form for `n` things: `weeks`, `недели`.
    pub fn form(&self, n: u64, locale: Locale) -> &'static str {
        match locale {
            Locale::En => self.en[usize::from(n != 1)],
            Locale::Ru => plural_ru(n, self.ru[0], self.ru[1], self.ru[2]),
        }
    }

    /// `2 weeks`, `2 недели`, `5 недель`, `21 неделя`, `1 172 строки` (a no-break space).
    /// English keeps the bare number, as the JSON contract's `gaps` have always said it.
    pub fn count(&self, n: u64, locale: Locale) -> String {
        let number = match locale {
            Locale::En => n.to_string(),
            Locale::Ru => integer(n, locale),
        };
        format!("{number} {}", self.form(n, locale))
    }
}

pub const DAYS: Countable = Countable {
    en: ["day", "days"],
    ru: ["день", "дня", "дней"],
};
pub const WEEKS: Countable = Countable {
    en: ["week", "weeks"],
    ru: ["неделя", "недели", "недель"],
};
pub const MONTHS: Countable = Countable {
    en: ["month", "months"],
    ru: ["месяц", "месяца", "месяцев"],
};
pub const PERIODS: Countable = Countable {
    en: ["period", "periods"],
    ru: ["период", "периода", "периодов"],
};
pub const ALERTS: Countable = Countable {
    en: ["alert", "alerts"],
    ru: ["оповещение", "оповещения", "оповещений"],
};
pub const ROWS: Countable = Countable {
    en: ["row", "rows"],
    ru: ["строка", "строки", "строк"],
};
pub const CHUNKS: Countable = Countable {
    en: ["chunk", "chunks"],
    ru: ["часть", "части", "частей"],
};
pub const SOURCES: Countable = Countable {
    en: ["source", "sources"],
    ru: ["источник", "источника", "источников"],
};
pub const TARGETS: Countable = Countable {
    en: ["alert target", "alert targets"],
    ru: [
        "получатель оповещений",
        "получателя оповещений",
        "получателей оповещений",
    ],
};
pub const TENANTS: Countable = Countable {
    en: ["tenant", "tenants"],
    ru: ["клиент", "клиента", "клиентов"],
};
pub const RUNS: Countable = Countable {
    en: ["nightly run", "nightly runs"],
    ru: ["ночной запуск", "ночных запуска", "ночных запусков"],
};
pub const REQUESTS: Countable = Countable {
    en: ["request", "requests"],
    ru: ["запрос", "запроса", "запросов"],
};
pub const CLAIMS: Countable = Countable {
    en: ["claim", "claims"],
    ru: ["утверждение", "утверждения", "утверждений"],
};
pub const WON_DEALS: Countable = Countable {
    en: ["won deal", "won deals"],
    ru: ["успешная сделка", "успешные сделки", "успешных сделок"],
};

/// The counted noun of a granularity's periods.
pub fn period_countable(g: Granularity) -> Countable {
    match g {
        Granularity::Day => DAYS,
        Granularity::Week => WEEKS,
        Granularity::Month => MONTHS,
    }
}

/// The Russian form for `n` among the three CLDR categories Russian needs: `one` (1, 21,
/// 101), `few` (2-4, 22-24) and `many` (0, 5-20, 25-30, 111-114). The one plural rule of
/// kassa's Russian: every count goes through it, mostly by way of [`Countable`].
pub fn plural_ru<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    match (n % 10, n % 100) {
        (1, m) if m != 11 => one,
        (2..=4, m) if !(12..=14).contains(&m) => few,
        _ => many,
    }
}

fn noun_ru(g: Granularity) -> &'static str {
    period_countable(g).ru[0]
}

fn noun_accusative_ru(g: Granularity) -> &'static str {
    match g {
        Granularity::Day => "день",
        Granularity::Week => "неделю",
        Granularity::Month => "месяц",
    }
}

fn noun_genitive_plural_ru(g: Granularity, n: usize) -> &'static str {
    // "за 4 предыдущих недели", "за 5 предыдущих недель": after "предыдущих" the `one`
    // category takes the same noun as `few` ("за 21 предыдущую неделю" would need the
    // adjective to change too, and 21 is no baseline anyone configures).
    let forms = period_countable(g).ru;
    plural_ru(n as u64, forms[1], forms[1], forms[2])
}

/// The period that starts on `start`, after a Russian preposition taking the accusative:
/// "за неделю с 2025-03-24", "за 2025-03-24", "за месяц 2025-03".
fn period_from_ru(g: Granularity, start: chrono::NaiveDate) -> String {
    match g {
        Granularity::Day => start.to_string(),
        Granularity::Week => format!("неделю с {start}"),
        Granularity::Month => format!("месяц {}", start.format("%Y-%m")),
    }
}

/// `week 2025-03-10 to 2025-03-16`, `2025-03`, or a day.
pub fn period_label(g: Granularity, f: &Finding, locale: Locale) -> String {
    match (g, locale) {
        (Granularity::Day, _) => f.period_start.to_string(),
        (Granularity::Week, Locale::En) => format!("{} to {}", f.period_start, f.period_end),
        (Granularity::Week, Locale::Ru) => format!("с {} по {}", f.period_start, f.period_end),
        (Granularity::Month, _) => f.period_start.format("%Y-%m").to_string(),
    }
}

/// A past-tense verb agreeing with the metric's Russian name: "клики выросли", "охват вырос",
/// "выручка выросла". `stem` is the masculine form ("вырос", "упал", "изменил").
fn ru_verb(metric: &str, stem: &str) -> String {
    let reflexive = stem == "изменил";
    let base = match metric {
        "clicks" | "impressions" | "leads" | "deals_won" => {
            if stem == "вырос" {
                "выросли".to_string()
            } else {
                format!("{stem}и")
            }
        }
        "revenue" => {
            if stem == "вырос" {
                "выросла".to_string()
            } else {
                format!("{stem}а")
            }
        }
        _ => stem.to_string(),
    };
    if !reflexive {
        base
    } else if base.ends_with('л') {
        format!("{base}ся")
    } else {
        format!("{base}сь")
    }
}

/// A metric's name for people.
pub fn metric_name(metric: &str, locale: Locale) -> &str {
    if !locale.ru() {
        return match metric {
            "deals_won" => "won deals",
            "ctr" => "CTR",
            other => other,
        };
    }
    match metric {
        "clicks" => "клики",
        "reach" => "охват",
        "impressions" => "показы",
        "ctr" => "CTR",
        "spend" => "расход",
        "leads" => "заявки",
        "revenue" => "выручка",
        "deals_won" => "успешные сделки",
        other => other,
    }
}

/// `46%`; growth from a zero baseline reads "from zero".
pub fn percent(fraction: f64, locale: Locale) -> String {
    if fraction.is_finite() {
        format!("{}%", decimal(fraction * 100.0, 0, locale))
    } else if locale.ru() {
        "с нуля".to_string()
    } else {
        "from zero".to_string()
    }
}

/// Growth after a Russian verb: "вырос на 36%", or "вырос с нуля" when the baseline was zero
/// ("на с нуля" is no Russian).
fn by_ru(fraction: f64) -> String {
    if fraction.is_finite() {
        format!("на {}", percent(fraction, Locale::Ru))
    } else {
        percent(fraction, Locale::Ru)
    }
}

/// A signed change for a fact: `+36%`, `−22%`, or `from zero`.
fn signed_percent(fraction: f64, locale: Locale) -> String {
    match fraction {
        f if !f.is_finite() => percent(f, locale),
        f if f < 0.0 => format!("−{}", percent(-f, locale)),
        f => format!("+{}", percent(f, locale)),
    }
}

fn metric_amount(metric: &str, value: f64, currency: Option<&str>, locale: Locale) -> String {
    match metric {
        "ctr" => ctr(value, locale),
        "revenue" | "spend" => format_money(value, currency, locale),
        _ => group_thousands(value.round() as i64, locale),
    }
}

/// A click-through rate with two decimals: `1.25%`, `1,25%`.
pub fn ctr(fraction: f64, locale: Locale) -> String {
    format!("{}%", decimal(fraction * 100.0, 2, locale))
}

/// A number with `places` decimals and the locale's decimal mark: `12.5`, `12,5`.
pub fn decimal(value: f64, places: usize, locale: Locale) -> String {
    let text = format!("{value:.places$}");
    match locale {
        Locale::En => text,
        Locale::Ru => text.replace('.', ","),
    }
}

/// A chart's tick label, short: `950`, `1.2k`, `3.4M`, `2B`; `1,2 тыс.`, `3,4 млн`, `2 млрд`.
/// Three significant digits at most (ticks are round numbers); beyond trillions, `1.2e18`.
pub fn compact(value: f64, locale: Locale) -> String {
    if !value.is_finite() {
        return String::new();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let magnitude = value.abs();
    let units: [(f64, &str, &str); 4] = [
        (1e12, "T", "трлн"),
        (1e9, "B", "млрд"),
        (1e6, "M", "млн"),
        (1e3, "k", "тыс."),
    ];
    if magnitude >= 1e15 {
        let text = format!("{sign}{magnitude:.1e}");
        return if locale.ru() {
            text.replace('.', ",")
        } else {
            text
        };
    }
    let (scaled, unit) = units
        .iter()
        .find(|(size, _, _)| magnitude >= *size)
        .map_or((magnitude, None), |&(size, en, ru)| {
            (magnitude / size, Some(if locale.ru() { ru } else { en }))
        });
    let number = significant(scaled, 3, locale);
    if number == "0" {
        return number;
    }
    match (unit, locale) {
        (None, _) => format!("{sign}{number}"),
        (Some(unit), Locale::En) => format!("{sign}{number}{unit}"),
        (Some(unit), Locale::Ru) => format!("{sign}{number}{NBSP}{unit}"),
    }
}

/// A conversion rate with the digits a small one needs: `46%`, `1.7%`, `0.25%` (`percent`
/// would round the last two to `2%` and `0%`).
pub fn rate(fraction: f64, locale: Locale) -> String {
    if !fraction.is_finite() {
        return percent(fraction, locale);
    }
    let number = significant(fraction * 100.0, 2, locale);
    format!("{number}%")
}

/// `value` (not negative) with about `digits` significant digits, trailing zeros dropped.
fn significant(value: f64, digits: i32, locale: Locale) -> String {
    let places = if value > 0.0 {
        (digits - 1 - value.log10().floor() as i32).clamp(0, 6) as usize
    } else {
        0
    };
    let mut text = decimal(value, places, locale);
    if text.contains(['.', ',']) {
        text = text
            .trim_end_matches('0')
            .trim_end_matches(['.', ','])
            .to_string();
    }
    if text.trim_start_matches('0').is_empty() {
        "0".to_string()
    } else {
        text
    }
}

/// What an empty chart says.
pub fn no_data(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "no data",
        Locale::Ru => "нет данных",
    }
}

/// A count grouped as the locale groups thousands: `1,172`, `1 172` (a no-break space).
pub fn integer(n: u64, locale: Locale) -> String {
    group_thousands(i64::try_from(n).unwrap_or(i64::MAX), locale)
}

/// Days in a sentence: `2025-03-12..2025-03-16` in English (also the JSON contract's form),
/// `с 2025-03-12 по 2025-03-16` or the lone day in Russian.
pub fn date_range(range: &DateRange, locale: Locale) -> String {
    match locale {
        Locale::En => range.to_string(),
        Locale::Ru if range.start == range.end => range.start.to_string(),
        Locale::Ru => format!("с {} по {}", range.start, range.end),
    }
}

/// Money for people: `$1,234,567`, `1 234 567 ₽`, `1,234.50 CHF`.
pub fn format_money(value: f64, currency: Option<&str>, locale: Locale) -> String {
    let cents = (value * 100.0).round() as i64;
    let mut number = group_thousands(cents / 100, locale);
    if cents % 100 != 0 {
        let separator = if locale.ru() { ',' } else { '.' };
        let _ = write!(number, "{separator}{:02}", (cents % 100).abs());
    }
    if cents < 0 && cents / 100 == 0 {
        number.insert(0, '-');
    }
    let symbol = currency.map(|c| match c {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "RUB" => "₽",
        other => other,
    });
    match (symbol, locale) {
        (None, _) => number,
        (Some(s), Locale::En) if s.chars().count() == 1 => match number.strip_prefix('-') {
            Some(positive) => format!("-{s}{positive}"),
            None => format!("{s}{number}"),
        },
        (Some(s), _) => format!("{number}{NBSP}{s}"),
    }
}

fn group_thousands(n: i64, locale: Locale) -> String {
    let separator = if locale.ru() { NBSP } else { ',' };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_follows_the_locale() {
        assert_eq!(
            format_money(1234567.0, Some("USD"), Locale::En),
            "$1,234,567"
        );
        assert_eq!(
            format_money(1234567.0, Some("RUB"), Locale::Ru),
            "1\u{a0}234\u{a0}567\u{a0}₽"
        );
        assert_eq!(
            format_money(1234.5, Some("EUR"), Locale::Ru),
            "1\u{a0}234,50\u{a0}€"
        );
        assert_eq!(
            format_money(1234.5, Some("CHF"), Locale::En),
            "1,234.50\u{a0}CHF"
        );
        assert_eq!(format_money(-12.0, Some("USD"), Locale::En), "-$12");
        assert_eq!(format_money(-0.5, None, Locale::En), "-0.50");
        assert_eq!(format_money(7.0, None, Locale::En), "7");
    }

    #[test]
    fn russian_verbs_agree_with_the_metric() {
        assert_eq!(ru_verb("clicks", "вырос"), "выросли");
        assert_eq!(ru_verb("reach", "вырос"), "вырос");
        assert_eq!(ru_verb("revenue", "упал"), "упала");
        assert_eq!(ru_verb("revenue", "изменил"), "изменилась");
        assert_eq!(ru_verb("deals_won", "изменил"), "изменились");
        assert_eq!(ru_verb("ctr", "изменил"), "изменился");
    }

    #[test]
    fn ru_plurals_agree() {
        let ns = [0, 1, 2, 5, 11, 12, 14, 21, 22, 25, 101, 111];
        let forms = |noun: Countable| ns.map(|n| noun.count(n, Locale::Ru));
        assert_eq!(
            forms(WEEKS),
            [
                "0 недель",
                "1 неделя",
                "2 недели",
                "5 недель",
                "11 недель",
                "12 недель",
                "14 недель",
                "21 неделя",
                "22 недели",
                "25 недель",
                "101 неделя",
                "111 недель"
            ]
        );
        assert_eq!(
            forms(DAYS),
            [
                "0 дней",
                "1 день",
                "2 дня",
                "5 дней",
                "11 дней",
                "12 дней",
                "14 дней",
                "21 день",
                "22 дня",
                "25 дней",
                "101 день",
                "111 дней"
            ]
        );
        assert_eq!(
            forms(MONTHS),
            [
                "0 месяцев",
                "1 месяц",
                "2 месяца",
                "5 месяцев",
                "11 месяцев",
                "12 месяцев",
                "14 месяцев",
                "21 месяц",
                "22 месяца",
                "25 месяцев",
                "101 месяц",
                "111 месяцев"
            ]
        );
        assert_eq!(
            forms(ALERTS),
            [
                "0 оповещений",
                "1 оповещение",
                "2 оповещения",
                "5 оповещений",
                "11 оповещений",
                "12 оповещений",
                "14 оповещений",
                "21 оповещение",
                "22 оповещения",
                "25 оповещений",
                "101 оповещение",
                "111 оповещений"
            ]
        );
        assert_eq!(
            forms(ROWS),
            [
                "0 строк",
                "1 строка",
                "2 строки",
                "5 строк",
                "11 строк",
                "12 строк",
                "14 строк",
                "21 строка",
                "22 строки",
                "25 строк",
                "101 строка",
                "111 строк"
            ]
        );
        assert_eq!(ROWS.count(1172, Locale::Ru), "1\u{a0}172 строки");
        assert_eq!(
            ns.map(|n| WEEKS.count(n, Locale::En))[..3],
            ["0 weeks", "1 week", "2 weeks"]
        );
        // The digest's title counts its alerts.
        assert_eq!(
            alerts::digest(&["a", "b"], Locale::Ru).title,
            "Ещё 2 оповещения"
        );
        assert_eq!(
            alerts::digest(&["a"; 5], Locale::Ru).title,
            "Ещё 5 оповещений"
        );
        // "за 4 предыдущих недели", "за 5 предыдущих недель", "за 21 предыдущих недели"
        assert_eq!(noun_genitive_plural_ru(Granularity::Week, 4), "недели");
        assert_eq!(noun_genitive_plural_ru(Granularity::Week, 5), "недель");
        assert_eq!(noun_genitive_plural_ru(Granularity::Week, 12), "недель");
        assert_eq!(noun_genitive_plural_ru(Granularity::Month, 22), "месяца");
    }

    #[test]
    fn chart_numbers_are_short_and_local() {
        let (en, ru) = (Locale::En, Locale::Ru);
        assert_eq!(compact(0.0, en), "0");
        assert_eq!(compact(950.0, en), "950");
        assert_eq!(compact(0.25, ru), "0,25");
        assert_eq!(compact(1200.0, en), "1.2k");
        assert_eq!(compact(1200.0, ru), "1,2\u{a0}тыс.");
        assert_eq!(compact(-2_500_000.0, en), "-2.5M");
        assert_eq!(compact(3e9, ru), "3\u{a0}млрд");
        assert_eq!(compact(125_000.0, en), "125k");
        assert_eq!(compact(2e18, en), "2.0e18");
        assert_eq!(rate(0.46, en), "46%");
        assert_eq!(rate(0.017, ru), "1,7%");
        assert_eq!(rate(0.0025, en), "0.25%");
        assert_eq!(rate(1.0, en), "100%");
        assert_eq!(no_data(ru), "нет данных");
    }

    #[test]
    fn ru_numbers_use_decimal_comma() {
        let ru = Locale::Ru;
        assert_eq!(format_money(4730.91, None, ru), "4\u{a0}730,91");
        assert_eq!(ctr(0.01714, ru), "1,71%");
        assert_eq!(ctr(0.01714, Locale::En), "1.71%");
        assert_eq!(decimal(12.5, 1, ru), "12,5");
        assert_eq!(percent(0.364, ru), "36%");
        assert_eq!(integer(385_980, ru), "385\u{a0}980");
        assert_eq!(integer(385_980, Locale::En), "385,980");
        assert_eq!(metric_amount("ctr", 0.0125, None, ru), "1,25%");
        assert_eq!(metric_amount("clicks", 3561.0, None, ru), "3\u{a0}561");
    }
}
