//! Words for people, in English or Russian: finding messages, alert texts, money and percent
//! formatting. Analysis decides; this module only says it.
//!
//! Money follows each language's habits: `$1,234,567` and `€1,234.50` in English,
//! `1 234 567 ₽` and `1 234,50 €` in Russian (the group separator is a no-break space, so an
//! amount never wraps across lines in a chat message).

use std::fmt::Write;

use crate::analysis::{
    ALL_CHANNELS, Analysis, ChainBreak, Finding, FindingKind, Granularity, RuleSettings,
};
use crate::domain::Locale;

const NBSP: char = '\u{a0}';

/// Fills every finding's `message` in `locale`.
pub fn describe_findings(analysis: &mut Analysis, settings: &RuleSettings, locale: Locale) {
    for finding in &mut analysis.findings {
        finding.message = describe(finding, settings, locale);
    }
}

/// One finding in plain words.
pub fn describe(f: &Finding, settings: &RuleSettings, locale: Locale) -> String {
    match f.kind {
        FindingKind::ActivityWithoutMoney => explain_flag(f, settings, locale),
        FindingKind::DataGap => {
            let g = settings.granularity;
            if locale.ru() {
                format!(
                    "Нет вывода за {} {}: {}.",
                    noun_accusative_ru(g),
                    period_label(g, f, locale),
                    f.gaps.join("; ")
                )
            } else {
                format!(
                    "No verdict for the {} {}: {}.",
                    g.noun(),
                    period_label(g, f, locale),
                    f.gaps.join("; ")
                )
            }
        }
    }
}

/// `Channel meta` / `All channels together`, in the locale.
pub fn channel_name(channel: &str, locale: Locale) -> String {
    match (channel == ALL_CHANNELS, locale) {
        (true, Locale::En) => "All channels together".to_string(),
        (true, Locale::Ru) => "Все каналы вместе".to_string(),
        (false, Locale::En) => format!("Channel {channel}"),
        (false, Locale::Ru) => format!("Канал {channel}"),
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
    let few = (2..=4).contains(&(n % 10)) && !(12..=14).contains(&(n % 100));
    let one = n % 10 == 1 && n % 100 != 11;
    // "за 4 предыдущих недели", "за 5 предыдущих недель".
    match (g, one || few) {
        (Granularity::Day, true) => "дня",
        (Granularity::Day, false) => "дней",
        (Granularity::Week, true) => "недели",
        (Granularity::Week, false) => "недель",
        (Granularity::Month, true) => "месяца",
        (Granularity::Month, false) => "месяцев",
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
        "leads" => "лиды",
        "revenue" => "выручка",
        "deals_won" => "выигранные сделки",
        other => other,
    }
}

fn explain_flag(f: &Finding, settings: &RuleSettings, locale: Locale) -> String {
    let g = settings.granularity;
    let (Some(activity), Some(money)) = (&f.activity, &f.money) else {
        return String::new();
    };
    let currency = f.currency.as_deref();
    let n = settings.baseline_periods;
    let amount = |metric: &str, value: f64| metric_amount(metric, value, currency, locale);
    let mut text = String::new();
    if locale.ru() {
        let money_words = if money.growth < -0.005 {
            format!(
                "{} на {}",
                ru_verb(&money.metric, "упал"),
                percent(-money.growth, locale)
            )
        } else if money.growth <= 0.005 {
            format!("не {}", ru_verb(&money.metric, "изменил"))
        } else {
            format!(
                "{} лишь на {}",
                ru_verb(&money.metric, "вырос"),
                percent(money.growth, locale)
            )
        };
        let _ = write!(
            text,
            "{}, {} {}: {} {} на {} к среднему за {n} предыдущих {} ({} против {}), а {} {money_words} ({} против {}). Расход за {}: {}.",
            channel_name(&f.channel, locale),
            noun_ru(g),
            period_label(g, f, locale),
            metric_name(&activity.metric, locale),
            ru_verb(&activity.metric, "вырос"),
            percent(activity.growth, locale),
            noun_genitive_plural_ru(g, n),
            amount(&activity.metric, activity.value),
            amount(&activity.metric, activity.baseline),
            metric_name(&money.metric, locale),
            amount(&money.metric, money.value),
            amount(&money.metric, money.baseline),
            noun_accusative_ru(g),
            format_money(f.spend.as_f64(), currency, locale),
        );
    } else {
        let money_words = if money.growth < -0.005 {
            format!("fell {}", percent(-money.growth, locale))
        } else if money.growth <= 0.005 {
            "stayed flat".to_string()
        } else {
            format!("grew only {}", percent(money.growth, locale))
        };
        let _ = write!(
            text,
            "{}, {} {}: {} grew {} against the average of the previous {n} {}{} ({} vs {}), but {} {money_words} ({} vs {}). Spend in the {}: {}.",
            channel_name(&f.channel, locale),
            g.noun(),
            period_label(g, f, locale),
            metric_name(&activity.metric, locale),
            percent(activity.growth, locale),
            g.noun(),
            if n == 1 { "" } else { "s" },
            amount(&activity.metric, activity.value),
            amount(&activity.metric, activity.baseline),
            metric_name(&money.metric, locale),
            amount(&money.metric, money.value),
            amount(&money.metric, money.baseline),
            g.noun(),
            format_money(f.spend.as_f64(), currency, locale),
        );
    }
    if let Some(chain) = chain_sentence(f, locale) {
        text.push(' ');
        text.push_str(&chain);
    }
    text
}

/// Where the chain broke, as a sentence, when the finding says.
pub fn chain_sentence(f: &Finding, locale: Locale) -> Option<String> {
    match (f.chain_break?, &f.leads, &f.deals_won) {
        (ChainBreak::ClickToLead, Some(leads), _) => Some(if locale.ru() {
            format!(
                "Лиды не последовали ({} {}): цепочка рвётся между кликом и заявкой.",
                if leads.growth < 0.0 {
                    "минус"
                } else {
                    "плюс"
                },
                percent(leads.growth.abs(), locale)
            )
        } else {
            format!(
                "Leads did not follow ({} {}): the chain breaks between click and lead.",
                if leads.growth < 0.0 { "down" } else { "up" },
                percent(leads.growth.abs(), locale)
            )
        }),
        (ChainBreak::LeadToSale, Some(leads), Some(won)) => Some(if locale.ru() {
            format!(
                "Лиды выросли на {}, а выигранные сделки {} {}: цепочка рвётся между заявкой и продажей.",
                percent(leads.growth, locale),
                if won.growth < 0.0 {
                    "упали на"
                } else {
                    "не выросли:"
                },
                percent(won.growth.abs(), locale)
            )
        } else {
            format!(
                "Leads grew {} but won deals {} {}: the chain breaks between lead and sale.",
                percent(leads.growth, locale),
                if won.growth < 0.0 {
                    "fell"
                } else {
                    "did not grow,"
                },
                percent(won.growth.abs(), locale)
            )
        }),
        _ => None,
    }
}

/// The decision to consider, for alerts.
pub fn decision(f: &Finding, locale: Locale) -> String {
    let all = f.channel == ALL_CHANNELS;
    let c = f.channel.as_str();
    match (f.chain_break, locale) {
        (Some(ChainBreak::ClickToLead), Locale::En) => format!(
            "Check what the extra clicks {} land on (page, form, offer) before paying for more of them; consider pausing the campaigns that grew.",
            if all {
                "across all channels".to_string()
            } else {
                format!("in {c}")
            }
        ),
        (Some(ChainBreak::ClickToLead), Locale::Ru) => format!(
            "Проверьте, куда ведут дополнительные клики {} (страница, форма, оффер), прежде чем платить за новые; рассмотрите паузу выросших кампаний.",
            if all {
                "по всем каналам".to_string()
            } else {
                format!("в канале {c}")
            }
        ),
        (Some(ChainBreak::LeadToSale), Locale::En) => format!(
            "Ask sales what happened to the new leads from {}: are they qualified, and were they worked? Hold the budget until the leads convert.",
            if all { "all channels" } else { c }
        ),
        (Some(ChainBreak::LeadToSale), Locale::Ru) => format!(
            "Спросите отдел продаж, что стало с новыми лидами {}: они целевые и их обработали? Не наращивайте бюджет, пока лиды не конвертируются.",
            if all {
                "из всех каналов".to_string()
            } else {
                format!("из канала {c}")
            }
        ),
        (None, Locale::En) => format!(
            "Decide whether the extra activity {} is worth its spend: hold or cut the budget until money follows.",
            if all {
                "across all channels".to_string()
            } else {
                format!("in {c}")
            }
        ),
        (None, Locale::Ru) => format!(
            "Решите, стоит ли дополнительная активность {} своих денег: придержите или сократите бюджет, пока не пойдут продажи.",
            if all {
                "по всем каналам".to_string()
            } else {
                format!("в канале {c}")
            }
        ),
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
}
