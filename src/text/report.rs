//! The terminal table's words: its heading, warnings, the summary line, the markers, the
//! verdicts, channel titles and column headers, in the configured language. The table's
//! numbers follow the locale too (see [`crate::report::table`]).

use std::collections::BTreeMap;

use super::{CLAIMS, DAYS, PERIODS, ROWS, date_range, format_money, period_countable, period_noun};
use super::{decimal, metric_name};
use crate::analysis::stats::{Correlation, NoCorrelation};
use crate::analysis::{ALL_CHANNELS, AnalysisWarning, ChannelLag, FindingKind, Granularity};
use crate::domain::{Locale, Suspicion, SuspiciousWindow};

/// `kassa: weeks from 2025-01-06 to 2025-06-29, amounts in USD`.
pub fn heading(
    g: Granularity,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    currency: Option<&str>,
    locale: Locale,
) -> String {
    match locale {
        Locale::En => format!(
            "kassa: {}s from {from} to {to}{}",
            period_noun(g),
            currency
                .map(|c| format!(", amounts in {c}"))
                .unwrap_or_default()
        ),
        Locale::Ru => format!(
            "kassa: {} с {from} по {to}{}",
            match g {
                Granularity::Day => "по дням",
                Granularity::Week => "по неделям",
                Granularity::Month => "по месяцам",
            },
            currency
                .map(|c| format!(", суммы в {c}"))
                .unwrap_or_default()
        ),
    }
}

/// A warning about the input as a whole. The English one is also the JSON contract's
/// `warnings` text.
pub fn warning(w: &AnalysisWarning, locale: Locale) -> String {
    match (w, locale) {
        (
            AnalysisWarning::Unconverted {
                currency,
                reporting: Some(reporting),
                first,
                last,
                days,
            },
            Locale::En,
        ) => format!(
            "no {currency} to {reporting} rate for {} from {first} to {last}: those amounts are unknown and their periods have no verdict (add the rates to [currency] rates or rates_file)",
            DAYS.count(*days as u64, locale)
        ),
        (
            AnalysisWarning::Unconverted {
                currency,
                reporting: Some(reporting),
                first,
                last,
                days,
            },
            Locale::Ru,
        ) => format!(
            "нет курса {currency} к {reporting} за {} с {first} по {last}: эти суммы неизвестны, у их периодов нет вывода (добавьте курсы в [currency] rates или rates_file)",
            DAYS.count(*days as u64, locale)
        ),
        (
            AnalysisWarning::Unconverted {
                currency,
                reporting: None,
                first,
                last,
                ..
            },
            Locale::En,
        ) => format!(
            "amounts come in several currencies, {currency} among them (from {first} to {last}), and no reporting currency is set: set [currency] reporting and the rates; until then those periods have no verdict"
        ),
        (
            AnalysisWarning::Unconverted {
                currency,
                reporting: None,
                first,
                last,
                ..
            },
            Locale::Ru,
        ) => format!(
            "суммы указаны в разных валютах, среди них {currency} (с {first} по {last}), а валюта отчёта не задана: укажите [currency] reporting и курсы; до тех пор у этих периодов нет вывода"
        ),
        (AnalysisWarning::RatesFile(error), Locale::En) => {
            format!("{error}; amounts that needed its rates are unknown")
        }
        (AnalysisWarning::RatesFile(error), Locale::Ru) => {
            format!("{error}; суммы, которым нужны его курсы, неизвестны")
        }
        (AnalysisWarning::Suspicious(window), Locale::En) => format!(
            "source {:?}: {} (a suspicious re-pull: no episode it overlaps is resolved until \
             `kassa backfill --from {} --to {} --source {} --accept-empty` accepts it)",
            window.source,
            suspicion(window, locale),
            window.range.start,
            window.range.end,
            window.source
        ),
        (AnalysisWarning::Suspicious(window), Locale::Ru) => format!(
            "источник {:?}: {} (подозрительная повторная загрузка: затронутые эпизоды не \
             закрываются, пока её не подтвердит `kassa backfill --from {} --to {} --source {} \
             --accept-empty`)",
            window.source,
            suspicion(window, locale),
            window.range.start,
            window.range.end,
            window.source
        ),
    }
}

/// What was wrong with a re-pull of a window: `2025-06-02..2025-06-29 answered no rows: the 28
/// stored rows were kept`.
pub fn suspicion(window: &SuspiciousWindow, locale: Locale) -> String {
    let range = date_range(&window.range, locale);
    match (&window.suspicion, locale) {
        (Suspicion::Kept { channel, rows }, Locale::En) => format!(
            "{range} answered no rows{}: the {} stored were kept",
            channel
                .as_ref()
                .map(|c| format!(" of channel {c:?}"))
                .unwrap_or_default(),
            ROWS.count(*rows as u64, locale)
        ),
        (Suspicion::Kept { channel, rows }, Locale::Ru) => format!(
            "{range}: источник не вернул ни одной строки{}, прежние данные сохранены ({})",
            channel
                .as_ref()
                .map(|c| format!(" канала {c:?}"))
                .unwrap_or_default(),
            ROWS.count(*rows as u64, locale)
        ),
        (
            Suspicion::Shrunk {
                metric,
                before,
                after,
            },
            _,
        ) => {
            let (before, after) = (
                format_money(before.as_f64(), None, locale),
                format_money(after.as_f64(), None, locale),
            );
            match locale {
                Locale::En => format!("{range}: {metric} shrank from {before} to {after}"),
                Locale::Ru if metric == "spend" => {
                    format!("{range}: расходы уменьшились с {before} до {after}")
                }
                Locale::Ru => format!("{range}: выручка уменьшилась с {before} до {after}"),
            }
        }
    }
}

/// A warning as a line of the table: `warning: …`.
pub fn warning_line(w: &AnalysisWarning, locale: Locale) -> String {
    match locale {
        Locale::En => format!("warning: {}", warning(w, locale)),
        Locale::Ru => format!("внимание: {}", warning(w, locale)),
    }
}

/// How many findings of each kind, in one sentence:
/// `2 periods of activity without money; 1 week without a verdict (data gaps).`
pub fn summary(counts: &BTreeMap<FindingKind, usize>, g: Granularity, locale: Locale) -> String {
    let parts: Vec<String> = FindingKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let n = counts.get(&kind).copied().unwrap_or(0) as u64;
            // The reconciliation's kinds are named only when there are some: most data has
            // no claims, and "0 claims" would be noise on every report.
            let reconciliation = matches!(
                kind,
                FindingKind::ClaimMismatch
                    | FindingKind::ClaimBelowObserved
                    | FindingKind::OverclaimedTotal
                    // The chain's kinds likewise: named when they happen.
                    | FindingKind::LeadsWithoutMoney
                    | FindingKind::SpendWithoutMoney
                    | FindingKind::Decoupling
            );
            if reconciliation && n == 0 {
                return None;
            }
            let periods = period_countable(g).count(n, locale);
            Some(match (kind, locale) {
                (FindingKind::ActivityWithoutMoney, Locale::En) => {
                    format!("{} of activity without money", PERIODS.count(n, locale))
                }
                (FindingKind::ActivityWithoutMoney, Locale::Ru) => {
                    format!("активность без денег: {}", PERIODS.count(n, locale))
                }
                (FindingKind::DataGap, Locale::En) => {
                    format!("{periods} without a verdict (data gaps)")
                }
                (FindingKind::DataGap, Locale::Ru) => {
                    format!("без оценки (пробелы в данных): {periods}")
                }
                (FindingKind::ClaimMismatch, Locale::En) => {
                    format!("{} the till does not confirm", CLAIMS.count(n, locale))
                }
                (FindingKind::ClaimMismatch, Locale::Ru) => {
                    format!("заявленное не подтверждено: {}", CLAIMS.count(n, locale))
                }
                (FindingKind::ClaimBelowObserved, Locale::En) => {
                    format!("{} below what kassa sees", CLAIMS.count(n, locale))
                }
                (FindingKind::ClaimBelowObserved, Locale::Ru) => {
                    format!("заявлено меньше факта: {}", CLAIMS.count(n, locale))
                }
                (FindingKind::OverclaimedTotal, Locale::En) => {
                    format!("{periods} in which platforms claim the same sales")
                }
                (FindingKind::OverclaimedTotal, Locale::Ru) => {
                    format!("площадки приписывают себе одни и те же продажи: {periods}")
                }
                (FindingKind::LeadsWithoutMoney, Locale::En) => {
                    format!("{} of leads without money", PERIODS.count(n, locale))
                }
                (FindingKind::LeadsWithoutMoney, Locale::Ru) => {
                    format!("заявки без денег: {}", PERIODS.count(n, locale))
                }
                (FindingKind::SpendWithoutMoney, Locale::En) => {
                    format!("{} of spend without a sale", PERIODS.count(n, locale))
                }
                (FindingKind::SpendWithoutMoney, Locale::Ru) => {
                    format!("расход без продаж: {}", PERIODS.count(n, locale))
                }
                (FindingKind::Decoupling, Locale::En) => {
                    format!(
                        "{} of activity decoupled from money",
                        PERIODS.count(n, locale)
                    )
                }
                (FindingKind::Decoupling, Locale::Ru) => {
                    format!(
                        "активность оторвалась от денег: {}",
                        PERIODS.count(n, locale)
                    )
                }
                (FindingKind::ReturningRevenueFalling, _) => {
                    super::meaning::falling_count(&periods, locale)
                }
            })
        })
        .collect();
    let sentence = parts.join("; ");
    match locale {
        Locale::En => format!("{sentence}."),
        // "Активность без денег: …" opens the sentence.
        Locale::Ru => format!("{}.", super::findings::capitalize(&sentence)),
    }
}

/// The marker in front of a finding's message, of one width per locale.
pub fn marker(kind: FindingKind, locale: Locale) -> &'static str {
    match (kind, locale) {
        (FindingKind::ActivityWithoutMoney, Locale::En) => "FLAG",
        (FindingKind::DataGap, Locale::En) => "gap ",
        (FindingKind::ActivityWithoutMoney, Locale::Ru) => "(!)",
        (FindingKind::DataGap, Locale::Ru) => "(?)",
        (FindingKind::ClaimMismatch | FindingKind::OverclaimedTotal, Locale::En) => "CLAIM",
        (FindingKind::ClaimBelowObserved, Locale::En) => "low ",
        (FindingKind::ClaimMismatch | FindingKind::OverclaimedTotal, Locale::Ru) => "(≠)",
        (FindingKind::ClaimBelowObserved, Locale::Ru) => "(<)",
        (FindingKind::LeadsWithoutMoney, Locale::En) => "LEAD",
        (FindingKind::SpendWithoutMoney, Locale::En) => "SPEND",
        (FindingKind::Decoupling, Locale::En) => "DECPL",
        (FindingKind::LeadsWithoutMoney, Locale::Ru) => "(з)",
        (FindingKind::SpendWithoutMoney, Locale::Ru) => "(р)",
        (FindingKind::Decoupling, Locale::Ru) => "(~)",
        (FindingKind::ReturningRevenueFalling, Locale::En) => "OLD ",
        (FindingKind::ReturningRevenueFalling, Locale::Ru) => "(↓)",
    }
}

/// The verdict column of a period with a finding of `kind`, or of a period judged and not
/// flagged (`None`).
pub fn verdict(kind: Option<FindingKind>, locale: Locale) -> &'static str {
    match (kind, locale) {
        (Some(FindingKind::ActivityWithoutMoney), Locale::En) => "ACTIVITY WITHOUT MONEY",
        (Some(FindingKind::DataGap), Locale::En) => "no verdict",
        (None, Locale::En) => "clear",
        (Some(FindingKind::ActivityWithoutMoney), Locale::Ru) => "АКТИВНОСТЬ БЕЗ ДЕНЕГ",
        (Some(FindingKind::DataGap), Locale::Ru) => "нет оценки",
        (Some(FindingKind::LeadsWithoutMoney), Locale::En) => "LEADS WITHOUT MONEY",
        (Some(FindingKind::LeadsWithoutMoney), Locale::Ru) => "ЗАЯВКИ БЕЗ ДЕНЕГ",
        (Some(FindingKind::SpendWithoutMoney), Locale::En) => "SPEND WITHOUT MONEY",
        (Some(FindingKind::SpendWithoutMoney), Locale::Ru) => "РАСХОД БЕЗ ПРОДАЖ",
        (Some(FindingKind::Decoupling), Locale::En) => "DECOUPLED",
        (Some(FindingKind::Decoupling), Locale::Ru) => "ОТРЫВ ОТ ДЕНЕГ",
        (Some(FindingKind::ReturningRevenueFalling), Locale::En) => "LOSING OLD CUSTOMERS",
        (Some(FindingKind::ReturningRevenueFalling), Locale::Ru) => "УХОДЯТ СТАРЫЕ КЛИЕНТЫ",
        // Claims have a table of their own; a period row never carries their verdicts.
        (
            Some(
                FindingKind::ClaimMismatch
                | FindingKind::ClaimBelowObserved
                | FindingKind::OverclaimedTotal,
            ),
            _,
        ) => "",
        (None, Locale::Ru) => "в норме",
    }
}

/// A flagged period whose rule has no word of its own in the table.
pub fn flagged(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "FLAGGED",
        Locale::Ru => "ТРЕВОГА",
    }
}

/// The title above one channel's rows.
pub fn channel_title(channel: &str, locale: Locale) -> String {
    match (channel == ALL_CHANNELS, locale) {
        (true, Locale::En) => "all channels".to_string(),
        (false, Locale::En) => format!("channel {channel}"),
        (true, Locale::Ru) => "все каналы".to_string(),
        (false, Locale::Ru) => format!("канал {channel}"),
    }
}

/// Column headers, the period column named after the granularity. CTR and ROMI keep the
/// names Russian marketers use for them.
pub fn columns(g: Granularity, locale: Locale) -> [&'static str; 11] {
    match locale {
        Locale::En => [
            period_noun(g),
            "impressions",
            "reach",
            "clicks",
            "ctr",
            "spend",
            "leads",
            "won",
            "revenue",
            "romi",
            "verdict",
        ],
        Locale::Ru => [
            period_countable(g).ru[0],
            "показы",
            "охват",
            "клики",
            "CTR",
            "расход",
            "заявки",
            "продажи",
            "выручка",
            "ROMI",
            "оценка",
        ],
    }
}

/// One line under a channel's periods: how many periods its money follows its activity (with
/// the correlation it was learned from), or why no lag was learned, and the lag the rule used.
pub fn lag_line(c: &ChannelLag, g: Granularity, locale: Locale) -> String {
    let periods = |n: usize| period_countable(g).count(n as u64, locale);
    let learned = c.learned.and_then(|(lag, metric)| {
        let m = c.metrics.iter().find(|m| m.metric == metric)?;
        Some((lag, metric, m.best.ok()?.1))
    });
    let stats = |r: &Correlation| {
        let d = |v: f64| decimal(v, 2, locale);
        match locale {
            Locale::En => format!(
                "r = {}, n = {}, 95% interval {} to {}",
                d(r.r),
                r.n,
                d(r.ci_low),
                d(r.ci_high)
            ),
            Locale::Ru => format!(
                "корреляция {}, пар {}, 95% интервал от {} до {}",
                d(r.r),
                r.n,
                d(r.ci_low),
                d(r.ci_high)
            ),
        }
    };
    let first_reason = c.metrics.iter().find_map(|m| m.best.err());
    let all_failed = c.metrics.iter().all(|m| m.best.is_err());
    let found = match (learned, locale) {
        (Some((0, metric, r)), Locale::En) => format!(
            "money moves with {} in the same {} ({})",
            metric_name(metric.name(), locale),
            period_noun(g),
            stats(&r)
        ),
        (Some((lag, metric, r)), Locale::En) => format!(
            "money follows {} by about {} ({})",
            metric_name(metric.name(), locale),
            periods(lag),
            stats(&r)
        ),
        (Some((0, metric, r)), Locale::Ru) => format!(
            "деньги движутся вместе с метрикой {} в том же периоде ({})",
            metric_name(metric.name(), locale),
            stats(&r)
        ),
        (Some((lag, metric, r)), Locale::Ru) => format!(
            "деньги идут за метрикой {} примерно через {} ({})",
            metric_name(metric.name(), locale),
            super::findings::periods_later_ru(g, lag),
            stats(&r)
        ),
        (None, locale) => match (all_failed.then_some(first_reason).flatten(), locale) {
            (Some(NoCorrelation::TooFewPeriods { n, needed }), Locale::En) => format!(
                "none learned (too few complete {}: {n} of the {needed} needed)",
                period_countable(g).en[1]
            ),
            (Some(NoCorrelation::TooFewPeriods { n, needed }), Locale::Ru) => {
                format!("не найдено (мало полных периодов: {n} из {needed} нужных)")
            }
            (Some(NoCorrelation::Constant), Locale::En) => {
                "none learned (activity or money does not vary)".to_string()
            }
            (Some(NoCorrelation::Constant), Locale::Ru) => {
                "не найдено (активность или деньги не меняются)".to_string()
            }
            (None, Locale::En) => {
                "none learned (no lag correlates activity with money beyond chance)".to_string()
            }
            (None, Locale::Ru) => {
                "не найдено (связь активности с деньгами не отличима от случайной)".to_string()
            }
        },
    };
    match (c.rule_lag, locale) {
        (0, Locale::En) => format!(
            "Lag: {found}; the rule holds activity against money of the same {}.",
            period_noun(g)
        ),
        (n, Locale::En) => format!(
            "Lag: {found}; the rule holds activity against money {} later.",
            periods(n)
        ),
        (0, Locale::Ru) => format!(
            "Запаздывание денег: {found}; правило сравнивает активность с деньгами того же периода."
        ),
        (n, Locale::Ru) => format!(
            "Запаздывание денег: {found}; правило сравнивает активность с деньгами через {}.",
            super::findings::periods_later_ru(g, n)
        ),
    }
}
