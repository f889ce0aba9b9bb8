//! The meaning layer in words: the `returning_revenue_falling` sentence, its decision, its
//! alert facts and resolved note, and the labels of the meaning figures.

use chrono::NaiveDate;

use super::{channel_name, format_money, percent, period_countable};
use crate::analysis::{Finding, Granularity, ReturningFalling};
use crate::domain::Locale;

/// The finding in one sentence.
pub fn falling_sentence(
    f: &Finding,
    r: &ReturningFalling,
    g: Granularity,
    locale: Locale,
) -> String {
    let money = |v: f64| format_money(v, f.currency.as_deref(), locale);
    let periods = period_countable(g).count(r.periods as u64, locale);
    let channel = channel_name(&f.channel, locale);
    let share = r.returning_share.map(|s| percent(s, locale));
    match locale {
        Locale::En => format!(
            "{channel}: revenue from returning customers fell {periods} in a row, from {} to {} (the period ending {}), while spend rose from {} to {}{}. You are buying new customers and losing old ones.",
            money(r.returning_before),
            money(r.returning_now),
            f.period_end,
            money(r.spend_before),
            money(r.spend_now),
            share.map_or(String::new(), |s| format!(
                "; returning customers now bring {s} of revenue"
            )),
        ),
        Locale::Ru => format!(
            "{channel}: выручка от повторных клиентов падает {periods} подряд, с {} до {} (период по {}), а расход вырос с {} до {}{}. Вы покупаете новых клиентов и теряете старых.",
            money(r.returning_before),
            money(r.returning_now),
            f.period_end,
            money(r.spend_before),
            money(r.spend_now),
            share.map_or(String::new(), |s| format!(
                "; доля повторных клиентов в выручке — {s}"
            )),
        ),
    }
}

/// What to decide about it.
pub fn falling_decision(locale: Locale) -> String {
    match locale {
        Locale::En => "Find out why past customers stopped buying (service, product, follow-up) before raising acquisition spend further; keeping a customer is usually cheaper than buying a new one.".to_string(),
        Locale::Ru => "Прежде чем дальше наращивать расход на привлечение, выясните, почему прежние клиенты перестали покупать (сервис, продукт, работа с базой): удержать клиента обычно дешевле, чем купить нового.".to_string(),
    }
}

/// The alert's title prefix, when the episode opens and when it grows.
pub fn falling_title(updated: bool, locale: Locale) -> &'static str {
    match (updated, locale) {
        (false, Locale::En) => "Losing returning customers",
        (true, Locale::En) => "Still losing returning customers",
        (false, Locale::Ru) => "Уходят повторные клиенты",
        (true, Locale::Ru) => "Повторные клиенты продолжают уходить",
    }
}

/// The alert's facts besides spend and periods: returning revenue and spend, before and now.
pub fn falling_facts(
    r: &ReturningFalling,
    currency: Option<&str>,
    locale: Locale,
) -> [(&'static str, String); 2] {
    let money = |v: f64| format_money(v, currency, locale);
    let (returning, spend) = match locale {
        Locale::En => ("Returning-customer revenue", "Spend per period"),
        Locale::Ru => ("Выручка от повторных клиентов", "Расход за период"),
    };
    [
        (
            returning,
            format!("{} → {}", money(r.returning_before), money(r.returning_now)),
        ),
        (
            spend,
            format!("{} → {}", money(r.spend_before), money(r.spend_now)),
        ),
    ]
}

/// The resolved note.
pub fn falling_resolved(
    first_start: NaiveDate,
    last_end: NaiveDate,
    ended: Option<NaiveDate>,
    locale: Locale,
) -> String {
    match (ended, locale) {
        (Some(next), Locale::En) => format!(
            "Returning-customer revenue is no longer falling while spend rises (from {first_start} to {last_end}); the period of {next} is not flagged."
        ),
        (Some(next), Locale::Ru) => format!(
            "Выручка от повторных клиентов больше не падает на фоне роста расхода (с {first_start} по {last_end}); период с {next} без тревоги."
        ),
        (None, Locale::En) => format!(
            "Restated data no longer shows returning-customer revenue falling from {first_start} to {last_end}; the earlier alert no longer applies."
        ),
        (None, Locale::Ru) => format!(
            "Данные уточнились, и падения выручки от повторных клиентов с {first_start} по {last_end} больше не видно; прежнее оповещение можно не учитывать."
        ),
    }
}

/// The count in the report's summary line.
pub fn falling_count(periods: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!("{periods} of falling returning-customer revenue"),
        Locale::Ru => format!("падение выручки от повторных клиентов: {periods}"),
    }
}

/// The line above a replay's alerts.
pub fn replay_heading(from: NaiveDate, to: NaiveDate, alerts: usize, locale: Locale) -> String {
    match locale {
        Locale::En => format!(
            "Replay of the nightly runs from {from} to {to}: {alerts} alert(s) would have been sent."
        ),
        Locale::Ru => format!(
            "Повтор ночных запусков с {from} по {to}: было бы отправлено оповещений — {alerts}."
        ),
    }
}

/// A replay in which no night would have sent anything.
pub fn replay_none(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "No night would have sent an alert with these settings.",
        Locale::Ru => "С этими настройками ни одна ночь не отправила бы оповещений.",
    }
}
