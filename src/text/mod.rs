//! Words for people, in English and Russian: the one home of every sentence kassa says.
//! Analysis decides and returns typed findings; this module only says them.
//!
//! - this file: the shared vocabulary (money, percentages, Russian plural forms, metric and
//!   channel names, period nouns and labels);
//! - [`findings`]: a finding as a sentence, data-gap reasons, where the chain broke, the
//!   decision to consider;
//! - [`alerts`]: everything alert-shaped: titles per finding kind and event, fact labels,
//!   episode spans, the digest, resolved notes, the `alert-test` sample;
//! - [`report`]: the terminal table's headings and labels (English, as today).
//!
//! Money follows each language's habits: `$1,234,567` and `€1,234.50` in English,
//! `1 234 567 ₽` and `1 234,50 €` in Russian (the group separator is a no-break space, so an
//! amount never wraps across lines in a chat message).
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
use crate::domain::Locale;

pub mod alerts;
pub mod findings;
pub mod report;

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
    match g {
        Granularity::Day => "day",
        Granularity::Week => "week",
        Granularity::Month => "month",
    }
}

/// The Russian form for `n` among the three CLDR categories Russian needs: `one` (1, 21,
/// 101), `few` (2-4, 22-24) and `many` (0, 5-20, 25-30, 111-114).
fn plural_ru<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    match (n % 10, n % 100) {
        (1, m) if m != 11 => one,
        (2..=4, m) if !(12..=14).contains(&m) => few,
        _ => many,
    }
}

fn noun_ru(g: Granularity) -> &'static str {
    match g {
        Granularity::Day => "день",
        Granularity::Week => "неделя",
        Granularity::Month => "месяц",
    }
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
    // category takes the same noun as `few`.
    let (few, many) = match g {
        Granularity::Day => ("дня", "дней"),
        Granularity::Week => ("недели", "недель"),
        Granularity::Month => ("месяца", "месяцев"),
    };
    plural_ru(n as u64, few, few, many)
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
        "leads" => "лиды",
        "revenue" => "выручка",
        "deals_won" => "выигранные сделки",
        other => other,
    }
}

/// `46%`; growth from a zero baseline reads "from zero".
pub fn percent(fraction: f64, locale: Locale) -> String {
    if fraction.is_finite() {
        format!("{:.0}%", fraction * 100.0)
    } else if locale.ru() {
        "с нуля".to_string()
    } else {
        "from zero".to_string()
    }
}

fn metric_amount(metric: &str, value: f64, currency: Option<&str>, locale: Locale) -> String {
    match metric {
        "ctr" => {
            let text = format!("{:.2}%", value * 100.0);
            if locale.ru() {
                text.replace('.', ",")
            } else {
                text
            }
        }
        "revenue" | "spend" => format_money(value, currency, locale),
        _ => group_thousands(value.round() as i64, locale),
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
    fn russian_plurals() {
        assert_eq!(noun_genitive_plural_ru(Granularity::Week, 4), "недели");
        assert_eq!(noun_genitive_plural_ru(Granularity::Week, 5), "недель");
        assert_eq!(noun_genitive_plural_ru(Granularity::Week, 12), "недель");
        assert_eq!(noun_genitive_plural_ru(Granularity::Month, 22), "месяца");
    }

    #[test]
    fn russian_plural_categories() {
        let forms = |n| plural_ru(n, "день", "дня", "дней");
        assert_eq!(
            [0, 1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111, 112, 122].map(forms),
            [
                "дней", "день", "дня", "дня", "дней", "дней", "дней", "дней", "день", "дня",
                "дней", "день", "дней", "дней", "дня"
            ]
        );
    }
}
