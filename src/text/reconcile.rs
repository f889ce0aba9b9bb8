//! The reconciliation in words: a claim that the till does not confirm, platforms that count
//! the same sale, why a claim has no verdict, what to ask, and the reconciliation table's
//! column names and verdicts.

use super::{date_range, decimal, format_money, gap_reason, integer, percent};
use crate::analysis::{
    ClaimCheck, ClaimGap, ClaimOrigin, ClaimVerdict, Finding, GapReason, Overclaim,
};
use crate::analysis::{FindingDetail, FindingKind};
use crate::domain::{ClaimMetric, DateRange, Locale};

/// A finding's dates.
fn period(f: &Finding) -> DateRange {
    DateRange {
        start: f.period_start,
        end: f.period_end,
    }
}

/// A claim metric's name for people.
pub fn claim_metric(metric: ClaimMetric, locale: Locale) -> &'static str {
    match (metric, locale) {
        (ClaimMetric::Impressions, Locale::En) => "impressions",
        (ClaimMetric::Reach, Locale::En) => "reach",
        (ClaimMetric::Clicks, Locale::En) => "clicks",
        (ClaimMetric::Spend, Locale::En) => "spend",
        (ClaimMetric::Leads, Locale::En) => "leads",
        (ClaimMetric::Purchases, Locale::En) => "purchases",
        (ClaimMetric::Revenue, Locale::En) => "revenue",
        (ClaimMetric::Impressions, Locale::Ru) => "показы",
        (ClaimMetric::Reach, Locale::Ru) => "охват",
        (ClaimMetric::Clicks, Locale::Ru) => "клики",
        (ClaimMetric::Spend, Locale::Ru) => "расход",
        (ClaimMetric::Leads, Locale::Ru) => "заявки",
        (ClaimMetric::Purchases, Locale::Ru) => "покупки",
        (ClaimMetric::Revenue, Locale::Ru) => "выручка",
        (ClaimMetric::Cpl, _) => "CPL",
        (ClaimMetric::Roas, _) => "ROAS",
    }
}

/// A claimed or observed value: money in its currency, ROAS with two decimals, counts whole.
pub fn claim_amount(
    metric: ClaimMetric,
    value: f64,
    currency: Option<&str>,
    locale: Locale,
) -> String {
    match metric {
        ClaimMetric::Spend | ClaimMetric::Revenue | ClaimMetric::Cpl => {
            format_money(value, currency, locale)
        }
        ClaimMetric::Roas => decimal(value, 2, locale),
        _ => integer(value.round().max(0.0) as u64, locale),
    }
}

/// Who observed the metric: the CRM, the ad platforms, or both (ratios).
fn observer(metric: ClaimMetric, locale: Locale) -> &'static str {
    match (metric, locale) {
        (ClaimMetric::Leads | ClaimMetric::Purchases | ClaimMetric::Revenue, Locale::En) => {
            "the CRM recorded"
        }
        (ClaimMetric::Leads | ClaimMetric::Purchases | ClaimMetric::Revenue, Locale::Ru) => "в CRM",
        (
            ClaimMetric::Impressions
            | ClaimMetric::Reach
            | ClaimMetric::Clicks
            | ClaimMetric::Spend,
            Locale::En,
        ) => "the ad platforms recorded",
        (
            ClaimMetric::Impressions
            | ClaimMetric::Reach
            | ClaimMetric::Clicks
            | ClaimMetric::Spend,
            Locale::Ru,
        ) => "в рекламных кабинетах",
        (ClaimMetric::Cpl | ClaimMetric::Roas, Locale::En) => {
            "the ad platforms' spend and the CRM give"
        }
        (ClaimMetric::Cpl | ClaimMetric::Roas, Locale::Ru) => "по расходу в кабинетах и CRM",
    }
}

/// The observation against the claim, signed: `−62%`; nothing when nothing was claimed.
fn against_claim(claimed: f64, observed: f64, locale: Locale) -> String {
    if claimed == 0.0 {
        return String::new();
    }
    let change = (observed - claimed) / claimed;
    let sign = if change < 0.0 { "−" } else { "+" };
    format!(" ({sign}{})", percent(change.abs(), locale))
}

/// `claim_mismatch` and `claim_below_observed` as a sentence, with what to ask.
pub fn claim_sentence(f: &Finding, c: &ClaimCheck, locale: Locale) -> String {
    let dates = date_range(&period(f), locale);
    let currency = f.currency.as_deref();
    let claimed = claim_amount(c.metric, c.claimed, currency, locale);
    let observed = claim_amount(c.metric, c.observed, currency, locale);
    let metric = claim_metric(c.metric, locale);
    let versus = against_claim(c.claimed, c.observed, locale);
    // "26 leads", but "revenue of $5,000" and "CPL of $300".
    let what = match c.metric {
        ClaimMetric::Spend | ClaimMetric::Revenue | ClaimMetric::Cpl | ClaimMetric::Roas => {
            format!("{metric} of {claimed}")
        }
        _ => format!("{claimed} {metric}"),
    };
    let who = &c.claimed_by;
    let channel = &f.channel;
    let head = match (&c.origin, locale) {
        (ClaimOrigin::Report { .. }, Locale::En) => format!(
            "The report {who:?} for {dates} claims {what} on channel {channel}; {} {observed}{versus}.",
            observer(c.metric, locale)
        ),
        (ClaimOrigin::Platform, Locale::En) => format!(
            "Source {who:?} claims {what} on channel {channel} for {dates}; {} {observed}{versus}.",
            observer(c.metric, locale)
        ),
        (ClaimOrigin::Report { .. }, Locale::Ru) => format!(
            "Отчёт «{who}», {dates}, канал {channel}: {metric} — {claimed}; {} — {observed}{versus}.",
            observer(c.metric, locale)
        ),
        (ClaimOrigin::Platform, Locale::Ru) => format!(
            "Источник «{who}», {dates}, канал {channel}: {metric} — {claimed}; {} — {observed}{versus}.",
            observer(c.metric, locale)
        ),
    };
    let below = f.kind() == FindingKind::ClaimBelowObserved;
    format!("{head} {}", claim_decision(c, below, locale))
}

/// What to do about a claim the till does not confirm.
pub fn claim_decision(c: &ClaimCheck, below: bool, locale: Locale) -> String {
    let report = matches!(c.origin, ClaimOrigin::Report { .. });
    match (below, locale) {
        (true, Locale::En) => "The claim is lower than what kassa sees: a data problem (a missed export, another channel name), not lost money; check the report's source.".to_string(),
        (true, Locale::Ru) => "Заявлено меньше, чем видит kassa: это ошибка в данных (пропущенная выгрузка, другое имя канала), а не потерянные деньги; проверьте источник отчёта.".to_string(),
        (false, Locale::En) => {
            let whom = if report { "the agency" } else { "the platform's attribution settings" };
            match c.metric {
                ClaimMetric::Leads => if report {
                    "Ask the agency which leads these are (names, phones, dates) and match them against the CRM.".to_string()
                } else {
                    "Match the platform's leads against the CRM: names, phones, dates.".to_string()
                },
                ClaimMetric::Purchases | ClaimMetric::Revenue => format!("Check {whom}: pay for the sales the CRM confirms, not for conversions it has never seen."),
                ClaimMetric::Cpl | ClaimMetric::Roas => format!("Ask {} how the figure was computed: kassa divides the platforms' spend by the CRM's leads, and the CRM's revenue by the spend.", if report { "the agency" } else { "the platform" }),
                _ => format!("Ask {} where these numbers come from: the ad platforms' own accounts show less.", if report { "the agency" } else { "the platform" }),
            }
        }
        (false, Locale::Ru) => {
            let whom = if report { "агентство" } else { "настройки атрибуции площадки" };
            match c.metric {
                ClaimMetric::Leads => if report {
                    "Спросите агентство, что это за заявки (имена, телефоны, даты), и сверьте их с CRM.".to_string()
                } else {
                    "Сверьте заявки площадки с CRM: имена, телефоны, даты.".to_string()
                },
                ClaimMetric::Purchases | ClaimMetric::Revenue => format!("Проверьте {whom}: платите за продажи, которые подтверждает CRM, а не за конверсии, которых CRM не видела."),
                ClaimMetric::Cpl | ClaimMetric::Roas => "Спросите, как посчитана цифра: kassa делит расход в кабинетах на заявки в CRM, а выручку в CRM на расход.".to_string(),
                _ => "Спросите, откуда эти цифры: в самих рекламных кабинетах меньше.".to_string(),
            }
        }
    }
}

/// `overclaimed_total` as a sentence, naming each source's share.
pub fn overclaim_sentence(f: &Finding, o: &Overclaim, locale: Locale) -> String {
    let dates = date_range(&period(f), locale);
    let currency = f.currency.as_deref();
    let amount = |v: f64| claim_amount(o.metric, v, currency, locale);
    let shares = o
        .shares
        .iter()
        .map(|s| format!("{} {}", s.source, amount(s.claimed)))
        .collect::<Vec<_>>()
        .join(", ");
    let metric = claim_metric(o.metric, locale);
    let (claimed, observed) = (amount(o.claimed), amount(o.observed));
    match locale {
        Locale::En => format!(
            "For {dates} the ad platforms together claim {metric} of {claimed} ({shares}); the CRM recorded {observed} over all channels. Each platform counts the same buyers: judge the channels by the CRM's won deals, not by the sum of their conversions."
        ),
        Locale::Ru => format!(
            "За {dates} рекламные площадки вместе заявляют: {metric} — {claimed} ({shares}); в CRM по всем каналам — {observed}. Каждая площадка считает одних и тех же покупателей: оценивайте каналы по успешным сделкам в CRM, а не по сумме их конверсий."
        ),
    }
}

/// The decision of a reconciliation finding, for alerts.
pub fn decision(f: &Finding, locale: Locale) -> Option<String> {
    match &f.detail {
        FindingDetail::ClaimMismatch(c) => {
            Some(claim_decision(c, false, locale))
        }
        FindingDetail::ClaimBelowObserved(c) => {
            Some(claim_decision(c, true, locale))
        }
        FindingDetail::OverclaimedTotal(_) => Some(match locale {
            Locale::En => "Judge the channels by the CRM's won deals, not by the sum of the platforms' conversions.".to_string(),
            Locale::Ru => "Оценивайте каналы по успешным сделкам в CRM, а не по сумме конверсий площадок.".to_string(),
        }),
        FindingDetail::ActivityWithoutMoney(_)
        | FindingDetail::DataGap(_)
        | FindingDetail::LeadsWithoutMoney(_)
        | FindingDetail::SpendWithoutMoney(_)
        | FindingDetail::Decoupling(_)
        | FindingDetail::ReturningRevenueFalling(_) => None,
    }
}

/// Why a claim has no verdict, as a clause. The English wording is also the JSON contract's
/// (`gaps` of reconciliation rows).
pub fn claim_gap(gap: &ClaimGap, locale: Locale) -> String {
    match (gap, locale) {
        (ClaimGap::NotEnded { ends }, Locale::En) => {
            format!("the claim's dates have not ended yet (they end {ends})")
        }
        (ClaimGap::NotEnded { ends }, Locale::Ru) => {
            format!("период ещё не закончился (последний день — {ends})")
        }
        (ClaimGap::SourceMissing { source, ranges }, _) => gap_reason(
            &GapReason::SourceMissing {
                source: source.clone(),
                ranges: ranges.clone(),
            },
            locale,
        ),
        (ClaimGap::WonWithoutAmount(n), _) => gap_reason(&GapReason::WonWithoutAmount(*n), locale),
        (ClaimGap::ReachUnknown, Locale::En) => {
            "an ad platform did not report reach for some of the days".to_string()
        }
        (ClaimGap::ReachUnknown, Locale::Ru) => {
            "рекламная площадка не сообщила охват за часть дней".to_string()
        }
        (ClaimGap::Undefined, Locale::En) => {
            "the observed ratio is undefined (no CRM leads, or no spend)".to_string()
        }
        (ClaimGap::Undefined, Locale::Ru) => {
            "наблюдаемое значение не определено (нет заявок в CRM или нет расхода)".to_string()
        }
        (ClaimGap::NoAdSource { channel }, Locale::En) => {
            format!("no ad source delivers channel {channel}, so its activity is not observed")
        }
        (ClaimGap::NoAdSource { channel }, Locale::Ru) => {
            format!(
                "ни один рекламный источник не отдаёт канал {channel}, активность по нему неизвестна"
            )
        }
        (ClaimGap::CurrencyMismatch { claimed, observed }, Locale::En) => {
            format!("the claim is in {claimed}, the data in {observed}: not comparable")
        }
        (ClaimGap::CurrencyMismatch { claimed, observed }, Locale::Ru) => {
            format!("заявлено в {claimed}, а данные в {observed}: сравнивать нельзя")
        }
        (
            ClaimGap::MissingRate {
                currency,
                reporting,
                ranges,
            },
            _,
        ) => gap_reason(
            &GapReason::MissingRate {
                currency: currency.clone(),
                reporting: reporting.clone(),
                ranges: ranges.clone(),
            },
            locale,
        ),
    }
}

/// The stable code of a claim's no-verdict reason (JSON `reasons`).
pub fn claim_gap_code(gap: &ClaimGap) -> &'static str {
    match gap {
        ClaimGap::NotEnded { .. } => "not_ended",
        ClaimGap::SourceMissing { .. } => "source_missing",
        ClaimGap::WonWithoutAmount(_) => "won_without_amount",
        ClaimGap::ReachUnknown => "reach_unknown",
        ClaimGap::Undefined => "undefined",
        ClaimGap::NoAdSource { .. } => "no_ad_source",
        ClaimGap::CurrencyMismatch { .. } => "currency_mismatch",
        ClaimGap::MissingRate { .. } => "missing_rate",
    }
}

/// The verdict column of a reconciliation row; the English word is the JSON `verdict`.
pub fn claim_verdict(verdict: &ClaimVerdict, locale: Locale) -> &'static str {
    match (verdict, locale) {
        (ClaimVerdict::Confirmed, Locale::En) => "confirmed",
        (ClaimVerdict::Mismatch, Locale::En) => "claim_mismatch",
        (ClaimVerdict::BelowObserved, Locale::En) => "claim_below_observed",
        (ClaimVerdict::NoVerdict(_), Locale::En) => "none",
        (ClaimVerdict::Confirmed, Locale::Ru) => "подтверждено",
        (ClaimVerdict::Mismatch, Locale::Ru) => "НЕ СХОДИТСЯ",
        (ClaimVerdict::BelowObserved, Locale::Ru) => "заявлено меньше",
        (ClaimVerdict::NoVerdict(_), Locale::Ru) => "нет оценки",
    }
}

/// The verdict column in the terminal table (English capitals a mismatch like a flag).
pub fn claim_verdict_cell(verdict: &ClaimVerdict, locale: Locale) -> &'static str {
    match (verdict, locale) {
        (ClaimVerdict::Mismatch, Locale::En) => "MISMATCH",
        (ClaimVerdict::BelowObserved, Locale::En) => "below observed",
        (ClaimVerdict::NoVerdict(_), Locale::En) => "no verdict",
        _ => claim_verdict(verdict, locale),
    }
}

/// The title of the reconciliation section.
pub fn section_title(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "reconciliation: what the reports claim against what kassa observed",
        Locale::Ru => "сверка: что заявляют отчёты и что видит kassa",
    }
}

/// Column headers of the reconciliation table.
pub fn columns(locale: Locale) -> [&'static str; 10] {
    match locale {
        Locale::En => [
            "dates",
            "channel",
            "metric",
            "claimed by",
            "claimed",
            "observed",
            "gap",
            "cpl claimed/crm",
            "roas claimed/crm",
            "verdict",
        ],
        Locale::Ru => [
            "даты",
            "канал",
            "метрика",
            "источник",
            "заявлено",
            "факт",
            "разница",
            "CPL заявл./CRM",
            "ROAS заявл./CRM",
            "оценка",
        ],
    }
}
