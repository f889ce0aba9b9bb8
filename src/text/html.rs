//! The HTML report's words (`kassa report`, the worker's page, the demo's file): section
//! titles, summary labels, chart titles, axes and descriptions, table headers, badges and the
//! chain-break sentence under a funnel. Sentences the page shares with the terminal (findings,
//! decisions, gap reasons, the reconciliation's and the audit's words, lag lines) come from
//! their own modules; only what is the page's alone lives here. Fixed labels are one
//! [`Label`] matched exhaustively against the locale, so a label without Russian does not
//! compile.

use chrono::NaiveDate;

use super::{CLAIMS, decimal, format_money, metric_name, period_countable, period_noun};
use crate::analysis::{ChainBreak, FindingKind, Granularity, MeaningMetric};
use crate::domain::Locale;

/// A fixed label of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Contents,
    Summary,
    Channels,
    Reconciliation,
    Audit,
    Meaning,
    Lags,
    Findings,
    Flags,
    DataGaps,
    TotalSpend,
    Revenue,
    Romi,
    FlaggedPeriods,
    SpendInFlagged,
    GapPeriods,
    Warnings,
    FindingCounts,
    ActivityAndMoney,
    SpendAndRevenue,
    Funnel,
    TableBehind,
    Step,
    ShareOfPrevious,
    Period,
    Verdict,
    Gaps,
    Spend,
    Channel,
    Figure,
    Latest,
    Trend,
    Unknown,
    NoneYet,
    Flagged,
    DataGap,
    ChainBreaksHere,
    NoClaims,
    NoAuditRows,
    NoLags,
    NoFindings,
    Decision,
    MoneyAtStake,
}

/// A fixed label in `locale`.
pub fn label(l: Label, locale: Locale) -> &'static str {
    use Label as L;
    match (l, locale) {
        (L::Contents, Locale::En) => "Contents",
        (L::Contents, Locale::Ru) => "Содержание",
        (L::Summary, Locale::En) => "Summary",
        (L::Summary, Locale::Ru) => "Итоги",
        (L::Channels, Locale::En) => "Channels",
        (L::Channels, Locale::Ru) => "Каналы",
        (L::Reconciliation, Locale::En) => {
            "Reconciliation: what the reports claim against what kassa observed"
        }
        (L::Reconciliation, Locale::Ru) => "Сверка: что заявляют отчёты и что видит kassa",
        (L::Audit, Locale::En) => "Metric audit: which activity moves money",
        (L::Audit, Locale::Ru) => "Аудит метрик: какая активность приносит деньги",
        (L::Meaning, Locale::En) => "What kind of money it is",
        (L::Meaning, Locale::Ru) => "Какие это деньги",
        (L::Lags, Locale::En) => "How late money follows activity",
        (L::Lags, Locale::Ru) => "Запаздывание денег",
        (L::Findings, Locale::En) => "Findings",
        (L::Findings, Locale::Ru) => "Находки",
        (L::Flags, Locale::En) => "Flags",
        (L::Flags, Locale::Ru) => "Тревоги",
        (L::DataGaps, Locale::En) => "Data gaps",
        (L::DataGaps, Locale::Ru) => "Пробелы в данных",
        (L::TotalSpend, Locale::En) => "Total spend",
        (L::TotalSpend, Locale::Ru) => "Расход всего",
        (L::Revenue, Locale::En) => "Revenue",
        (L::Revenue, Locale::Ru) => "Выручка",
        (L::Romi, _) => "ROMI",
        (L::FlaggedPeriods, Locale::En) => "Flagged periods (any channel)",
        (L::FlaggedPeriods, Locale::Ru) => "Периоды с тревогой (любой канал)",
        (L::SpendInFlagged, Locale::En) => "Spend in flagged periods (all channels)",
        (L::SpendInFlagged, Locale::Ru) => "Расход в периодах с тревогой (все каналы)",
        (L::GapPeriods, Locale::En) => "Periods with data gaps (no verdict)",
        (L::GapPeriods, Locale::Ru) => "Периоды с пробелами в данных (без оценки)",
        (L::Warnings, Locale::En) => "Warnings",
        (L::Warnings, Locale::Ru) => "Предупреждения",
        (L::FindingCounts, Locale::En) => "Findings by kind",
        (L::FindingCounts, Locale::Ru) => "Находки по видам",
        (L::ActivityAndMoney, Locale::En) => "Activity and money",
        (L::ActivityAndMoney, Locale::Ru) => "Активность и деньги",
        (L::SpendAndRevenue, Locale::En) => "Spend and revenue",
        (L::SpendAndRevenue, Locale::Ru) => "Расход и выручка",
        (L::Funnel, Locale::En) => "Funnel over the whole range",
        (L::Funnel, Locale::Ru) => "Воронка за весь период",
        (L::TableBehind, Locale::En) => "The numbers behind the chart",
        (L::TableBehind, Locale::Ru) => "Цифры за графиком",
        (L::Step, Locale::En) => "step",
        (L::Step, Locale::Ru) => "шаг",
        (L::ShareOfPrevious, Locale::En) => "share of the step before",
        (L::ShareOfPrevious, Locale::Ru) => "доля от предыдущего шага",
        (L::Period, Locale::En) => "period",
        (L::Period, Locale::Ru) => "период",
        (L::Verdict, Locale::En) => "verdict",
        (L::Verdict, Locale::Ru) => "оценка",
        (L::Gaps, Locale::En) => "why no verdict",
        (L::Gaps, Locale::Ru) => "почему нет оценки",
        (L::Spend, Locale::En) => "spend",
        (L::Spend, Locale::Ru) => "расход",
        (L::Channel, Locale::En) => "channel",
        (L::Channel, Locale::Ru) => "канал",
        (L::Figure, Locale::En) => "figure",
        (L::Figure, Locale::Ru) => "показатель",
        (L::Latest, Locale::En) => "latest period",
        (L::Latest, Locale::Ru) => "последний период",
        (L::Trend, Locale::En) => "against its baseline",
        (L::Trend, Locale::Ru) => "к базовому уровню",
        (L::Unknown, Locale::En) => "unknown",
        (L::Unknown, Locale::Ru) => "неизвестно",
        (L::NoneYet, Locale::En) => "none",
        (L::NoneYet, Locale::Ru) => "нет",
        (L::Flagged, Locale::En) => "flagged",
        (L::Flagged, Locale::Ru) => "тревога",
        (L::DataGap, Locale::En) => "data gap",
        (L::DataGap, Locale::Ru) => "пробел в данных",
        (L::ChainBreaksHere, Locale::En) => "the chain breaks here",
        (L::ChainBreaksHere, Locale::Ru) => "здесь цепочка рвётся",
        (L::NoClaims, Locale::En) => "No report or platform claims meet this range.",
        (L::NoClaims, Locale::Ru) => "За этот период нет заявленных цифр отчётов или площадок.",
        (L::NoAuditRows, Locale::En) => "No metric to audit in this range.",
        (L::NoAuditRows, Locale::Ru) => "В этом периоде нечего проверять.",
        (L::NoLags, Locale::En) => "No lag was examined in this range.",
        (L::NoLags, Locale::Ru) => "Запаздывание в этом периоде не оценивалось.",
        (L::NoFindings, Locale::En) => "Nothing to report: no flags and no data gaps.",
        (L::NoFindings, Locale::Ru) => "Сообщать не о чем: ни тревог, ни пробелов в данных.",
        (L::Decision, Locale::En) => "What to do",
        (L::Decision, Locale::Ru) => "Что делать",
        (L::MoneyAtStake, _) => super::chain::money_at_stake_label(locale),
    }
}

/// The `<title>` and the line under the heading: `Weeks from 2025-01-06 to 2025-06-29,
/// amounts in USD`.
pub fn subtitle(
    g: Granularity,
    from: NaiveDate,
    to: NaiveDate,
    currency: Option<&str>,
    locale: Locale,
) -> String {
    match locale {
        Locale::En => format!(
            "{}s from {from} to {to}{}",
            super::findings::capitalize(period_noun(g)),
            currency
                .map(|c| format!(", amounts in {c}"))
                .unwrap_or_default()
        ),
        Locale::Ru => format!(
            "{} с {from} по {to}{}",
            match g {
                Granularity::Day => "По дням",
                Granularity::Week => "По неделям",
                Granularity::Month => "По месяцам",
            },
            currency
                .map(|c| format!(", суммы в {c}"))
                .unwrap_or_default()
        ),
    }
}

/// Revenue in the summary: the total when every period's is known; otherwise the known part
/// named as such, with how many periods lack theirs or are incomplete (never the known part
/// as the total).
pub fn revenue_cell(
    known: f64,
    unknown: usize,
    g: Granularity,
    currency: Option<&str>,
    locale: Locale,
) -> String {
    let money = format_money(known, currency, locale);
    if unknown == 0 {
        return money;
    }
    let periods = periods_count(g, unknown, locale);
    match locale {
        Locale::En => {
            format!("unknown: {money} known, revenue unknown or incomplete in {periods}")
        }
        Locale::Ru => {
            format!("неизвестна: известно {money}, выручка неизвестна или неполна за {periods}")
        }
    }
}

/// Spend in the summary, as honest as revenue: `at least` when some of it is unknown.
pub fn spend_cell(
    known: f64,
    unknown: usize,
    g: Granularity,
    currency: Option<&str>,
    locale: Locale,
) -> String {
    let money = format_money(known, currency, locale);
    if unknown == 0 {
        return money;
    }
    let periods = periods_count(g, unknown, locale);
    match locale {
        Locale::En => format!("at least {money} (spend unknown or incomplete in {periods})"),
        Locale::Ru => format!("не меньше {money} (расход неизвестен или неполон за {periods})"),
    }
}

/// The summary's ROMI when nothing was spent.
pub fn romi_without_spend(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "undefined (nothing was spent)",
        Locale::Ru => "не определён (расхода не было)",
    }
}

/// What the summary's totals cover: the periods whose money is whole, and how many are left
/// out (not ended, not covered by every source, or with an unknown amount).
pub fn summary_scope(
    g: Granularity,
    counted: usize,
    first: Option<NaiveDate>,
    last: Option<NaiveDate>,
    left_out: usize,
    locale: Locale,
) -> String {
    let mut text = match (first, last, locale) {
        (Some(first), Some(last), Locale::En) => format!(
            "Totals over the {} whose data is complete, between {first} and {last}.",
            periods_count(g, counted, locale)
        ),
        (Some(first), Some(last), Locale::Ru) => format!(
            "Итоги за {} с полными данными в промежутке с {first} по {last}.",
            periods_count(g, counted, locale)
        ),
        (_, _, Locale::En) => format!("No {} has complete data yet.", period_noun(g)),
        (_, _, Locale::Ru) => "Ни один период ещё не имеет полных данных.".to_string(),
    };
    if left_out > 0 && counted > 0 {
        text.push(' ');
        text.push_str(&match locale {
            Locale::En => format!(
                "Left out: {} not ended yet or with incomplete data (see the data gaps).",
                periods_count(g, left_out, locale)
            ),
            Locale::Ru => format!(
                "В итоги не вошли периоды без полных данных ({}): они ещё не закончились или неполны (см. пробелы в данных).",
                periods_count(g, left_out, locale)
            ),
        });
    }
    text
}

/// `3 weeks`, `3 недели`.
pub fn periods_count(g: Granularity, n: usize, locale: Locale) -> String {
    period_countable(g).count(n as u64, locale)
}

/// The activity chart's title.
pub fn activity_title(channel: &str, locale: Locale) -> String {
    format!(
        "{}: {}",
        super::channel_name(channel, locale),
        label(Label::ActivityAndMoney, locale).to_lowercase()
    )
}

/// The activity chart's one axis: every series indexed to its own mean.
pub fn index_axis(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "index (100 = the series' mean)",
        Locale::Ru => "индекс (100 = среднее ряда)",
    }
}

/// What the activity chart shows, for screen readers and under the chart.
pub fn activity_description(metrics: &[&str], money: &str, locale: Locale) -> String {
    let names: Vec<&str> = metrics.iter().map(|m| metric_name(m, locale)).collect();
    let money = metric_name(money, locale);
    match locale {
        Locale::En => format!(
            "{} and {money} per period, each as an index where 100 is its mean over the periods shown that have a value. Shaded periods are flagged; hatched ones have data gaps; an unknown value, or one of a period with incomplete data, breaks its line.",
            names.join(", ")
        ),
        Locale::Ru => format!(
            "{} и {money} по периодам, каждый ряд — индекс, где 100 — его среднее за показанные периоды, в которых значение известно. Закрашенные периоды — с тревогой, заштрихованные — с пробелами в данных; неизвестное значение или значение периода с неполными данными прерывает линию.",
            super::findings::capitalize(&names.join(", "))
        ),
    }
}

/// The money chart's title.
pub fn money_title(channel: &str, locale: Locale) -> String {
    format!(
        "{}: {}",
        super::channel_name(channel, locale),
        label(Label::SpendAndRevenue, locale).to_lowercase()
    )
}

/// The money chart's axis: the amount, in the reporting currency when there is one.
pub fn money_axis(currency: Option<&str>, locale: Locale) -> String {
    let amount = match locale {
        Locale::En => "amount",
        Locale::Ru => "сумма",
    };
    match currency {
        Some(c) => format!("{amount}, {c}"),
        None => amount.to_string(),
    }
}

/// What the money chart shows.
pub fn money_description(locale: Locale) -> &'static str {
    match locale {
        Locale::En => {
            "Spend and revenue per period in the reporting currency. Shaded periods are flagged; hatched ones have data gaps; an unknown amount, or one of a period with incomplete data, breaks its line: it is never drawn as zero."
        }
        Locale::Ru => {
            "Расход и выручка по периодам в валюте отчёта. Закрашенные периоды — с тревогой, заштрихованные — с пробелами в данных; неизвестная сумма или сумма периода с неполными данными прерывает линию и никогда не рисуется нулём."
        }
    }
}

/// The funnel's title.
pub fn funnel_title(channel: &str, locale: Locale) -> String {
    format!(
        "{}: {}",
        super::channel_name(channel, locale),
        label(Label::Funnel, locale).to_lowercase()
    )
}

/// What the funnel shows.
pub fn funnel_description(locale: Locale) -> &'static str {
    match locale {
        Locale::En => {
            "Impressions, clicks, leads, won deals and revenue summed over the range, widest first, on a logarithmic scale."
        }
        Locale::Ru => {
            "Показы, клики, заявки, успешные сделки и выручка за весь период, от широкого к узкому, в логарифмическом масштабе."
        }
    }
}

/// The sentence under a funnel: where the chain breaks, in how many of the channel's flagged
/// periods, and the latest of them.
pub fn chain_summary(
    chain_break: Option<(ChainBreak, usize, NaiveDate)>,
    flagged: usize,
    g: Granularity,
    locale: Locale,
) -> String {
    let periods = |n: usize| periods_count(g, n, locale);
    match (chain_break, locale) {
        (None, Locale::En) if flagged == 0 => {
            format!(
                "No {} of activity without money on this channel.",
                period_noun(g)
            )
        }
        (None, Locale::Ru) if flagged == 0 => {
            "В этом канале нет периодов активности без денег.".to_string()
        }
        (None, Locale::En) => format!(
            "Activity without money in {}, but leads and won deals do not say where the chain breaks.",
            periods(flagged)
        ),
        (None, Locale::Ru) => format!(
            "Активность без денег: {}, но по заявкам и сделкам не видно, где рвётся цепочка.",
            periods(flagged)
        ),
        (Some((b, n, latest)), Locale::En) => format!(
            "{} of activity without money: {}; the chain breaks {} in {n} of them (latest: the {} from {latest}).",
            super::findings::capitalize(period_countable(g).en[1]),
            flagged,
            match b {
                ChainBreak::ClickToLead => "between click and lead",
                ChainBreak::LeadToSale => "between lead and sale",
            },
            period_noun(g)
        ),
        (Some((b, n, latest)), Locale::Ru) => format!(
            "Периодов активности без денег: {flagged}; в {n} из них цепочка рвётся {} (последний — с {latest}).",
            match b {
                ChainBreak::ClickToLead => "между кликом и заявкой",
                ChainBreak::LeadToSale => "между заявкой и продажей",
            },
        ),
    }
}

/// A finding's badge: its kind in words, so a flag never relies on colour.
pub fn badge(kind: FindingKind, locale: Locale) -> &'static str {
    match (kind, locale) {
        (FindingKind::ActivityWithoutMoney, Locale::En) => "Activity without money",
        (FindingKind::ActivityWithoutMoney, Locale::Ru) => "Активность без денег",
        (FindingKind::DataGap, Locale::En) => "Data gap",
        (FindingKind::DataGap, Locale::Ru) => "Пробел в данных",
        (FindingKind::ClaimMismatch, Locale::En) => "Claim not confirmed",
        (FindingKind::ClaimMismatch, Locale::Ru) => "Заявленное не подтверждено",
        (FindingKind::ClaimBelowObserved, Locale::En) => "Claim below what kassa sees",
        (FindingKind::ClaimBelowObserved, Locale::Ru) => "Заявлено меньше факта",
        (FindingKind::OverclaimedTotal, Locale::En) => "Platforms claim the same sales",
        (FindingKind::OverclaimedTotal, Locale::Ru) => "Площадки делят одни продажи",
        (FindingKind::LeadsWithoutMoney, Locale::En) => "Leads without money",
        (FindingKind::LeadsWithoutMoney, Locale::Ru) => "Заявки без денег",
        (FindingKind::SpendWithoutMoney, Locale::En) => "Spend without a sale",
        (FindingKind::SpendWithoutMoney, Locale::Ru) => "Расход без продаж",
        (FindingKind::Decoupling, Locale::En) => "Activity decoupled from money",
        (FindingKind::Decoupling, Locale::Ru) => "Активность оторвалась от денег",
        (FindingKind::ReturningRevenueFalling, Locale::En) => "Losing returning customers",
        (FindingKind::ReturningRevenueFalling, Locale::Ru) => "Уходят повторные клиенты",
    }
}

/// A meaning figure's name.
pub fn meaning_name(m: MeaningMetric, locale: Locale) -> &'static str {
    match (m, locale) {
        (MeaningMetric::RevenueReturning, Locale::En) => "revenue from returning customers",
        (MeaningMetric::RevenueReturning, Locale::Ru) => "выручка от повторных клиентов",
        (MeaningMetric::ReturningShare, Locale::En) => "returning customers' share of revenue",
        (MeaningMetric::ReturningShare, Locale::Ru) => "доля повторных клиентов в выручке",
        (MeaningMetric::AvgDealSize, Locale::En) => "average deal size",
        (MeaningMetric::AvgDealSize, Locale::Ru) => "средний чек",
        (MeaningMetric::LeadToWon, Locale::En) => "lead-to-won conversion",
        (MeaningMetric::LeadToWon, Locale::Ru) => "конверсия заявки в продажу",
        (MeaningMetric::MedianDaysToWon, Locale::En) => "median days from lead to won",
        (MeaningMetric::MedianDaysToWon, Locale::Ru) => "медиана дней от заявки до продажи",
        (MeaningMetric::CostPerWonDeal, Locale::En) => "cost per won deal",
        (MeaningMetric::CostPerWonDeal, Locale::Ru) => "стоимость успешной сделки",
        (MeaningMetric::Romi, _) => "ROMI",
    }
}

/// A change of a share or a rate against its baseline, in percentage points: `+3.5 pp`.
pub fn points(change: f64, locale: Locale) -> String {
    let sign = if change < 0.0 { "−" } else { "+" };
    let value = decimal(change.abs() * 100.0, 1, locale);
    match locale {
        Locale::En => format!("{sign}{value} pp"),
        Locale::Ru => format!("{sign}{value}\u{a0}п.\u{a0}п."),
    }
}

/// The meaning table's caption: which period "latest" is.
pub fn meaning_caption(start: NaiveDate, end: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::En => format!(
            "Latest period: {start} to {end}; its change against the mean of the previous complete periods."
        ),
        Locale::Ru => format!(
            "Последний период: с {start} по {end}; изменение к среднему за предыдущие полные периоды."
        ),
    }
}

/// Above the reconciliation: how many claims there are and how many the till does not confirm.
pub fn claims_summary(total: usize, unconfirmed: usize, locale: Locale) -> String {
    let n = |k: usize| k as u64;
    match (unconfirmed, locale) {
        (0, Locale::En) => format!(
            "The till confirms all {} within the tolerance.",
            CLAIMS.count(n(total), locale)
        ),
        (0, Locale::Ru) => format!(
            "Касса подтверждает все {} в пределах допуска.",
            CLAIMS.count(n(total), locale)
        ),
        (_, Locale::En) => format!(
            "{unconfirmed} of {} {} not confirmed by the till (too high, too low, or without a verdict):",
            CLAIMS.count(n(total), locale),
            if unconfirmed == 1 { "is" } else { "are" }
        ),
        (_, Locale::Ru) => format!(
            "Касса не подтверждает {unconfirmed} из {} (завышены, занижены или без вердикта):",
            CLAIMS.count(n(total), locale)
        ),
    }
}

/// The summary of the collapsed table of every claim.
pub fn all_claims(total: usize, locale: Locale) -> String {
    match locale {
        Locale::En => format!("All {}", CLAIMS.count(total as u64, locale)),
        Locale::Ru => format!("Все {}", CLAIMS.count(total as u64, locale)),
    }
}
