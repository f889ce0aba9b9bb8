//! The metric audit's words (`kassa audit`): its heading, the correction it made, the verdicts
//! and what each means for a decision, the table's columns, and the one-line story per
//! verdict, in English and Russian.

use super::{PERIODS, decimal, metric_name, noun_accusative_ru, period_countable, plural_ru};
use crate::analysis::{AuditVerdict, Granularity, MetricAudit};
use crate::domain::Locale;

/// `kassa metric audit: 25 weeks from 2025-01-06 to 2025-06-29, each activity metric against
/// revenue 0 to 6 weeks later`.
pub fn heading(audit: &MetricAudit, g: Granularity, locale: Locale) -> String {
    let money = metric_name(audit.money_metric.name(), locale);
    let lag = audit.settings.max_lag;
    let nouns = period_countable(g);
    let periods = audit.periods as u64;
    let window = match (audit.from, audit.to) {
        (Some(from), Some(to)) => match locale {
            Locale::En => format!("{} from {from} to {to}", nouns.count(periods, locale)),
            Locale::Ru => format!("{} с {from} по {to}", nouns.count(periods, locale)),
        },
        _ => match locale {
            Locale::En => "no complete period yet".to_string(),
            Locale::Ru => "ни одного полного периода".to_string(),
        },
    };
    match locale {
        Locale::En => format!(
            "kassa metric audit: {window}; each activity metric against {money} 0 to {} later",
            nouns.count(lag as u64, locale)
        ),
        Locale::Ru => format!(
            "kassa, аудит метрик: {window}; каждая метрика активности против показателя «{money}» через 0–{lag} {}",
            plural_ru(lag as u64, noun_accusative_ru(g), nouns.ru[1], nouns.ru[2])
        ),
    }
}

/// The correction, in one line.
pub fn correction(audit: &MetricAudit, locale: Locale) -> String {
    let confidence = decimal(audit.confidence * 100.0, 2, locale);
    match locale {
        Locale::En => format!(
            "{} correlations tried (metrics x channels x lags): each interval is Bonferroni-corrected to {confidence}% confidence, at least {} per correlation",
            audit.tests,
            PERIODS.count(audit.settings.min_periods as u64, locale)
        ),
        Locale::Ru => format!(
            "проверено корреляций (метрики × каналы × лаги): {}; каждый интервал с поправкой Бонферрони, доверие {confidence}%, не меньше {} на корреляцию",
            audit.tests,
            PERIODS.count(audit.settings.min_periods as u64, locale)
        ),
    }
}

/// A verdict in a table cell.
pub fn verdict(v: AuditVerdict, locale: Locale) -> &'static str {
    match (v, locale) {
        (AuditVerdict::DrivesMoney, Locale::En) => "drives money",
        (AuditVerdict::Weak, Locale::En) => "weak",
        (AuditVerdict::Ritual, Locale::En) => "ritual",
        (AuditVerdict::NotEnoughData, Locale::En) => "not enough data",
        (AuditVerdict::Constant, Locale::En) => "constant",
        (AuditVerdict::DrivesMoney, Locale::Ru) => "приносит деньги",
        (AuditVerdict::Weak, Locale::Ru) => "слабая связь",
        (AuditVerdict::Ritual, Locale::Ru) => "ритуал",
        (AuditVerdict::NotEnoughData, Locale::Ru) => "мало данных",
        (AuditVerdict::Constant, Locale::Ru) => "не меняется",
    }
}

/// What a verdict means for a decision, after the metrics that got it.
pub fn meaning(v: AuditVerdict, money: &str, locale: Locale) -> String {
    let money = metric_name(money, locale);
    match (v, locale) {
        (AuditVerdict::DrivesMoney, Locale::En) => {
            format!("{money} follows them beyond chance: steer by these, and pay for them")
        }
        (AuditVerdict::Weak, Locale::En) => format!(
            "some sign of a link with {money}, too little to rely on (or {money} moves the other way): watch, do not pay for them alone"
        ),
        (AuditVerdict::Ritual, Locale::En) => {
            format!("no sign they move {money}: rituals; no decision should hang on them")
        }
        (AuditVerdict::NotEnoughData, Locale::En) => {
            "too few complete periods to tell (or the metric is not reported)".to_string()
        }
        (AuditVerdict::Constant, Locale::En) => {
            "they (or the money) never changed over the window, so they cannot explain anything"
                .to_string()
        }
        (AuditVerdict::DrivesMoney, Locale::Ru) => format!(
            "показатель «{money}» следует за ними сильнее случайности: по ним стоит управлять и за них платить"
        ),
        (AuditVerdict::Weak, Locale::Ru) => format!(
            "есть признаки связи с показателем «{money}», но слишком слабые (или он движется в обратную сторону): следить, но не платить только за них"
        ),
        (AuditVerdict::Ritual, Locale::Ru) => format!(
            "никаких признаков, что они двигают показатель «{money}»: ритуал, решения на них не строить"
        ),
        (AuditVerdict::NotEnoughData, Locale::Ru) => {
            "слишком мало полных периодов, чтобы судить (или метрика не передаётся)".to_string()
        }
        (AuditVerdict::Constant, Locale::Ru) => {
            "они (или деньги) не менялись за окно, поэтому ничего не объясняют".to_string()
        }
    }
}

/// `ritual: clicks on meta, reach on all channels — meaning`.
pub fn story_line(v: AuditVerdict, items: &[(&str, &str)], money: &str, locale: Locale) -> String {
    let listed: Vec<String> = items
        .iter()
        .map(|(metric, channel)| {
            let metric = metric_name(metric, locale);
            match (*channel == crate::analysis::ALL_CHANNELS, locale) {
                (true, Locale::En) => format!("{metric} (all channels)"),
                (true, Locale::Ru) => format!("{metric} (все каналы)"),
                (false, _) => format!("{metric} ({channel})"),
            }
        })
        .collect();
    format!(
        "{}: {} — {}",
        verdict(v, locale),
        listed.join(", "),
        meaning(v, money, locale)
    )
}

/// The table's columns.
pub fn columns(locale: Locale) -> [&'static str; 8] {
    match locale {
        Locale::En => [
            "metric", "lag", "pearson", "spearman", "n", "ci_low", "ci_high", "verdict",
        ],
        Locale::Ru => [
            "метрика",
            "лаг",
            "Пирсон",
            "Спирмен",
            "n",
            "от",
            "до",
            "вывод",
        ],
    }
}

/// The heading of the story (the verdicts' lines).
pub fn story_title(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "What the numbers say:",
        Locale::Ru => "Что говорят цифры:",
    }
}
