//! A finding in plain words: the sentence of each kind, why a period has no verdict, where the
//! chain broke, and the decision to consider.

use std::fmt::Write;

use super::{
    DAYS, WON_DEALS, by_ru, channel_name, date_range, format_money, metric_amount, metric_name,
    noun_accusative_ru, noun_genitive_plural_ru, noun_ru, percent, period_countable, period_label,
    period_noun, ru_verb,
};
use crate::analysis::{
    ALL_CHANNELS, ActivityWithoutMoney, Analysis, ChainBreak, Finding, FindingDetail, GapReason,
    Granularity, MoneyDue, MoneyTiming, RuleSettings,
};
use crate::domain::{DateRange, Locale};

/// Fills every finding's `message` in `locale`.
pub fn describe_findings(analysis: &mut Analysis, settings: &RuleSettings, locale: Locale) {
    for finding in &mut analysis.findings {
        finding.message = describe(finding, settings, locale);
    }
}

/// One finding in plain words.
pub fn describe(f: &Finding, settings: &RuleSettings, locale: Locale) -> String {
    match &f.detail {
        FindingDetail::ActivityWithoutMoney(flag) => explain_flag(f, flag, settings, locale),
        FindingDetail::ClaimMismatch(check) | FindingDetail::ClaimBelowObserved(check) => {
            super::reconcile::claim_sentence(f, check, locale)
        }
        FindingDetail::OverclaimedTotal(o) => super::reconcile::overclaim_sentence(f, o, locale),
        FindingDetail::LeadsWithoutMoney(flag) => {
            super::chain::leads_sentence(f, flag, settings, locale)
        }
        FindingDetail::SpendWithoutMoney(s) => super::chain::spend_sentence(f, s, settings, locale),
        FindingDetail::Decoupling(d) => super::chain::decoupling_sentence(f, d, settings, locale),
        FindingDetail::ReturningRevenueFalling(r) => {
            super::meaning::falling_sentence(f, r, settings.granularity, locale)
        }
        FindingDetail::DataGap(gap) => {
            let g = settings.granularity;
            let reasons = gap
                .reasons
                .iter()
                .map(|r| gap_reason(r, locale))
                .collect::<Vec<_>>()
                .join("; ");
            match locale {
                // "Неделю с … по … оценить нельзя": "вывод" would read as a withdrawal of
                // money next to amounts, so the verdict is an "оценка" in Russian.
                Locale::Ru => format!(
                    "{} {} оценить нельзя: {reasons}.",
                    capitalize(noun_accusative_ru(g)),
                    period_label(g, f, locale),
                ),
                Locale::En => format!(
                    "No verdict for the {} {}: {reasons}.",
                    period_noun(g),
                    period_label(g, f, locale),
                ),
            }
        }
    }
}

/// Why a period has no verdict, as a clause. The English wording is also the JSON contract's
/// (`gaps` of periods and findings), so it must not change.
pub fn gap_reason(reason: &GapReason, locale: Locale) -> String {
    let ranges = |ranges: &[DateRange]| {
        ranges
            .iter()
            .map(|r| date_range(r, locale))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (reason, locale) {
        (GapReason::NotEnded { granularity, ends }, Locale::En) => format!(
            "the {} has not ended yet (it ends {ends})",
            period_noun(*granularity)
        ),
        (GapReason::NotEnded { granularity, ends }, Locale::Ru) => match granularity {
            Granularity::Day => format!("день ещё не закончился (последний день — {ends})"),
            Granularity::Week => {
                format!("неделя ещё не закончилась (последний день — {ends})")
            }
            Granularity::Month => {
                format!("месяц ещё не закончился (последний день — {ends})")
            }
        },
        (
            GapReason::SourceMissing {
                source,
                ranges: missing,
            },
            Locale::En,
        ) => {
            format!(
                "source {source:?} has no data for {} ({})",
                DAYS.count(reason.missing_days().unsigned_abs(), locale),
                ranges(missing)
            )
        }
        (
            GapReason::SourceMissing {
                source,
                ranges: missing,
            },
            Locale::Ru,
        ) => {
            format!(
                "у источника «{source}» нет данных за {} ({})",
                DAYS.count(reason.missing_days().unsigned_abs(), locale),
                ranges(missing)
            )
        }
        (
            GapReason::SourcePending {
                source,
                ranges: days,
            },
            Locale::En,
        ) => {
            if days.iter().map(DateRange::days).sum::<i64>() == 1 {
                format!(
                    "source {source:?} has not finished the day {} in its time zone yet; the next run pulls it",
                    days[0].start
                )
            } else {
                format!(
                    "source {source:?} has not finished the days {} in its time zone yet; the next run pulls them",
                    ranges(days)
                )
            }
        }
        (
            GapReason::SourcePending {
                source,
                ranges: days,
            },
            Locale::Ru,
        ) => {
            if days.iter().map(DateRange::days).sum::<i64>() == 1 {
                format!(
                    "у источника «{source}» ещё не закончился день {} по его часовому поясу; его заберёт следующий запуск",
                    days[0].start
                )
            } else {
                format!(
                    "у источника «{source}» ещё не закончились дни {} по его часовому поясу; их заберёт следующий запуск",
                    ranges(days)
                )
            }
        }
        (
            GapReason::MissingRate {
                currency,
                reporting,
                ranges: days,
            },
            Locale::En,
        ) => match reporting {
            Some(reporting) => format!(
                "no {currency} to {reporting} rate for {} ({}), so those amounts are unknown",
                DAYS.count(
                    days.iter().map(DateRange::days).sum::<i64>().unsigned_abs(),
                    locale
                ),
                ranges(days)
            ),
            None => format!(
                "amounts in {currency} ({}) beside other currencies, and no reporting currency to convert them into",
                ranges(days)
            ),
        },
        (
            GapReason::MissingRate {
                currency,
                reporting,
                ranges: days,
            },
            Locale::Ru,
        ) => match reporting {
            Some(reporting) => format!(
                "нет курса {currency} к {reporting} за {} ({}), поэтому эти суммы неизвестны",
                DAYS.count(
                    days.iter().map(DateRange::days).sum::<i64>().unsigned_abs(),
                    locale
                ),
                ranges(days)
            ),
            None => format!(
                "суммы в {currency} ({}) рядом с другими валютами, а валюта отчёта не задана",
                ranges(days)
            ),
        },
        (GapReason::WonWithoutAmount(n), Locale::En) => format!(
            "{} without an amount, so revenue is unknown",
            WON_DEALS.count(*n, locale)
        ),
        (
            GapReason::NoBaseline {
                granularity,
                have,
                needed,
            },
            Locale::En,
        ) => format!(
            "not enough history for a baseline ({have} of the {needed} complete {} it needs)",
            period_countable(*granularity).form(*needed as u64, locale)
        ),
        (
            GapReason::NoBaseline {
                granularity,
                have,
                needed,
            },
            Locale::Ru,
        ) => format!(
            // A label and its count ("полных недель раньше: 1 из 4") agrees for every number.
            "мало истории для сравнения (полных {} раньше: {have} из {needed} нужных)",
            period_countable(*granularity).ru[2]
        ),
        (GapReason::ActivityUnknown { metrics }, locale) => {
            let names = metrics
                .iter()
                .map(|m| metric_name(m.name(), locale))
                .collect::<Vec<_>>()
                .join(", ");
            if locale.ru() {
                format!(
                    "неизвестно, выросла ли активность: нет полных данных по метрикам {names} за этот период или базу сравнения"
                )
            } else {
                format!(
                    "activity is unknown: {names} not known for every day of the period or its baseline, so it may have grown"
                )
            }
        }
        (
            GapReason::MoneyNotDue {
                granularity,
                lag,
                due,
            },
            Locale::En,
        ) => format!(
            "its money is not due yet: activity is held against money {} later, known after {due}",
            period_countable(*granularity).count(*lag as u64, locale)
        ),
        (
            GapReason::MoneyNotDue {
                granularity,
                lag,
                due,
            },
            Locale::Ru,
        ) => format!(
            "деньги ещё не подошли по сроку: активность сравнивается с деньгами через {}, они станут известны после {due}",
            periods_later_ru(*granularity, *lag)
        ),
        (GapReason::WonWithoutAmount(n), Locale::Ru) => format!(
            "у {} {} не указана сумма, поэтому выручка неизвестна",
            super::integer(*n, locale),
            // "у 1 успешной сделки", "у 2 успешных сделок": the genitive after "у".
            super::plural_ru(*n, "успешной сделки", "успешных сделок", "успешных сделок")
        ),
    }
}

/// "через 1 неделю", "через 2 недели", "через 5 недель": the accusative after "через".
pub(super) fn periods_later_ru(g: Granularity, n: usize) -> String {
    let forms = period_countable(g).ru;
    format!(
        "{} {}",
        super::integer(n as u64, Locale::Ru),
        super::plural_ru(n as u64, noun_accusative_ru(g), forms[1], forms[2])
    )
}

/// The word with its first letter in upper case: "неделю" → "Неделю".
pub(super) fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn explain_flag(
    f: &Finding,
    flag: &ActivityWithoutMoney,
    settings: &RuleSettings,
    locale: Locale,
) -> String {
    let g = settings.granularity;
    let (activity, money) = (&flag.activity, &flag.money);
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
                "{} лишь {}",
                ru_verb(&money.metric, "вырос"),
                by_ru(money.growth)
            )
        };
        let _ = write!(
            text,
            "{}, {} {}: {} {} {} к среднему за {n} предыдущих {} ({} против {}), а {} {money_words} ({} против {}). Расход за {}: {}.",
            channel_name(&f.channel, locale),
            noun_ru(g),
            period_label(g, f, locale),
            metric_name(&activity.metric, locale),
            ru_verb(&activity.metric, "вырос"),
            by_ru(activity.growth),
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
            "{}, {} {}: {} grew {} against the average of the previous {} ({} vs {}), but {} {money_words} ({} vs {}). Spend in the {}: {}.",
            channel_name(&f.channel, locale),
            period_noun(g),
            period_label(g, f, locale),
            metric_name(&activity.metric, locale),
            percent(activity.growth, locale),
            period_countable(g).count(n as u64, locale),
            amount(&activity.metric, activity.value),
            amount(&activity.metric, activity.baseline),
            metric_name(&money.metric, locale),
            amount(&money.metric, money.value),
            amount(&money.metric, money.baseline),
            period_noun(g),
            format_money(f.spend.as_f64(), currency, locale),
        );
    }
    if let Some(chain) = chain_sentence(flag, locale) {
        text.push(' ');
        text.push_str(&chain);
    }
    if let Some(timing) = &flag.timing {
        text.push(' ');
        text.push_str(&timing_sentence(timing, g, locale));
    }
    text
}

/// When the money of a flagged period is expected, and whether it is not yet due or overdue.
pub fn timing_sentence(t: &MoneyTiming, g: Granularity, locale: Locale) -> String {
    let learned = t.learned_lag.filter(|&l| l >= t.rule_lag);
    let due = t.due;
    match (learned, t.status, locale) {
        (Some(l), MoneyDue::NotYetDue, Locale::En) => format!(
            "Money here follows activity by about {} (learned from this channel's history), so this money is not yet due (expected by {due}): watch, do not cut yet.",
            period_countable(g).count(l as u64, locale)
        ),
        (Some(l), MoneyDue::Overdue, Locale::En) => format!(
            "Money here follows activity by about {} (learned from this channel's history); it was due by {due} and has not come: it is overdue.",
            period_countable(g).count(l as u64, locale)
        ),
        (None, MoneyDue::NotYetDue, Locale::En) => format!(
            "Money is held against activity {} later (lag_periods), so this money is not yet due (expected by {due}): watch, do not cut yet.",
            period_countable(g).count(t.rule_lag as u64, locale)
        ),
        (None, MoneyDue::Overdue, Locale::En) => format!(
            "Money is held against activity {} later (lag_periods); it was due by {due} and has not come: it is overdue.",
            period_countable(g).count(t.rule_lag as u64, locale)
        ),
        (Some(l), MoneyDue::NotYetDue, Locale::Ru) => format!(
            "Деньги в этом канале приходят примерно через {} после активности (так говорит его история), поэтому срок ещё не наступил (ожидаются до {due}): наблюдайте и пока не сокращайте бюджет.",
            periods_later_ru(g, l)
        ),
        (Some(l), MoneyDue::Overdue, Locale::Ru) => format!(
            "Деньги в этом канале приходят примерно через {} после активности (так говорит его история); они ожидались до {due} и не пришли: срок прошёл.",
            periods_later_ru(g, l)
        ),
        (None, MoneyDue::NotYetDue, Locale::Ru) => format!(
            "Активность сравнивается с деньгами через {} (lag_periods), поэтому срок ещё не наступил (ожидаются до {due}): наблюдайте и пока не сокращайте бюджет.",
            periods_later_ru(g, t.rule_lag)
        ),
        (None, MoneyDue::Overdue, Locale::Ru) => format!(
            "Активность сравнивается с деньгами через {} (lag_periods); деньги ожидались до {due} и не пришли: срок прошёл.",
            periods_later_ru(g, t.rule_lag)
        ),
    }
}

/// Where the chain broke, as a sentence, when the finding says.
pub fn chain_sentence(flag: &ActivityWithoutMoney, locale: Locale) -> Option<String> {
    match (flag.chain_break?, &flag.leads, &flag.deals_won) {
        (ChainBreak::ClickToLead, Some(leads), _) => Some(if locale.ru() {
            format!(
                "{}: цепочка рвётся между кликом и заявкой.",
                if leads.growth < -0.005 {
                    format!("Заявок стало меньше на {}", percent(-leads.growth, locale))
                } else if leads.growth <= 0.005 {
                    "Заявок не прибавилось".to_string()
                } else {
                    format!("Заявок прибавилось лишь {}", by_ru(leads.growth))
                }
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
                "Заявок стало больше {}, а успешных сделок {}: цепочка рвётся между заявкой и продажей.",
                by_ru(leads.growth),
                if won.growth < -0.005 {
                    format!("— меньше на {}", percent(-won.growth, locale))
                } else if won.growth <= 0.005 {
                    "не прибавилось".to_string()
                } else {
                    format!("— лишь {}", by_ru(won.growth))
                }
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

/// The decision to consider, for alerts; a data gap asks for none (its reasons say what to fix).
pub fn decision(f: &Finding, locale: Locale) -> Option<String> {
    match &f.detail {
        FindingDetail::ActivityWithoutMoney(flag) => Some(match flag.timing {
            // Money that may still come asks for patience, not a cut.
            Some(MoneyTiming {
                status: MoneyDue::NotYetDue,
                due,
                ..
            }) => match locale {
                Locale::En => format!(
                    "Watch, do not cut yet: the money from this activity is not due until {due}; look again after that day."
                ),
                Locale::Ru => format!(
                    "Наблюдайте и пока не сокращайте бюджет: деньги от этой активности ожидаются до {due}; вернитесь к этому после этой даты."
                ),
            },
            _ => flag_decision(&f.channel, flag, locale),
        }),
        FindingDetail::DataGap(_) => None,
        FindingDetail::LeadsWithoutMoney(_) => {
            Some(super::chain::leads_decision(&f.channel, locale))
        }
        FindingDetail::SpendWithoutMoney(s) => Some(super::chain::spend_decision(f, s, locale)),
        FindingDetail::Decoupling(d) => Some(super::chain::decoupling_decision(f, d, locale)),
        FindingDetail::ClaimMismatch(_)
        | FindingDetail::ClaimBelowObserved(_)
        | FindingDetail::OverclaimedTotal(_) => super::reconcile::decision(f, locale),
        FindingDetail::ReturningRevenueFalling(_) => Some(super::meaning::falling_decision(locale)),
    }
}

fn flag_decision(channel: &str, flag: &ActivityWithoutMoney, locale: Locale) -> String {
    let all = channel == ALL_CHANNELS;
    let c = channel;
    match (flag.chain_break, locale) {
        (Some(ChainBreak::ClickToLead), Locale::En) => format!(
            "Check what the extra clicks {} land on (page, form, offer) before paying for more of them; consider pausing the campaigns that grew.",
            if all {
                "across all channels".to_string()
            } else {
                format!("in {c}")
            }
        ),
        (Some(ChainBreak::ClickToLead), Locale::Ru) => format!(
            "Прежде чем платить за новые клики {}, проверьте, куда они ведут (страница, форма, предложение); возможно, стоит приостановить кампании, которые выросли.",
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
            "Спросите отдел продаж, что стало с новыми заявками {}: целевые ли они и обработали ли их. Не увеличивайте бюджет, пока заявки не начнут превращаться в продажи.",
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
            "Решите, окупается ли рост активности {}; пока не пойдут продажи, лучше придержать или сократить бюджет.",
            if all {
                "по всем каналам".to_string()
            } else {
                format!("в канале {c}")
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> chrono::NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn gap_reasons_keep_their_english_and_speak_russian() {
        let not_ended = GapReason::NotEnded {
            granularity: Granularity::Week,
            ends: d("2025-03-16"),
        };
        let missing = |days: &[(&str, &str)]| GapReason::SourceMissing {
            source: "crm".into(),
            ranges: days
                .iter()
                .map(|(a, b)| DateRange::new(d(a), d(b)).unwrap())
                .collect(),
        };
        let one_day = missing(&[("2025-03-12", "2025-03-12")]);
        let three_days = missing(&[("2025-03-12", "2025-03-12"), ("2025-03-15", "2025-03-16")]);
        let en = |r: &GapReason| gap_reason(r, Locale::En);
        let ru = |r: &GapReason| gap_reason(r, Locale::Ru);

        assert_eq!(
            en(&not_ended),
            "the week has not ended yet (it ends 2025-03-16)"
        );
        assert_eq!(
            en(&one_day),
            "source \"crm\" has no data for 1 day (2025-03-12..2025-03-12)"
        );
        assert_eq!(
            en(&three_days),
            "source \"crm\" has no data for 3 days (2025-03-12..2025-03-12, 2025-03-15..2025-03-16)"
        );
        assert_eq!(
            en(&GapReason::WonWithoutAmount(1)),
            "1 won deal without an amount, so revenue is unknown"
        );
        assert_eq!(
            en(&GapReason::WonWithoutAmount(2)),
            "2 won deals without an amount, so revenue is unknown"
        );

        assert_eq!(
            ru(&not_ended),
            "неделя ещё не закончилась (последний день — 2025-03-16)"
        );
        assert_eq!(
            ru(&one_day),
            "у источника «crm» нет данных за 1 день (2025-03-12)"
        );
        assert_eq!(
            ru(&three_days),
            "у источника «crm» нет данных за 3 дня (2025-03-12, с 2025-03-15 по 2025-03-16)"
        );
        let won = |n| ru(&GapReason::WonWithoutAmount(n));
        assert_eq!(
            won(1),
            "у 1 успешной сделки не указана сумма, поэтому выручка неизвестна"
        );
        let no_baseline = |granularity, have, needed| GapReason::NoBaseline {
            granularity,
            have,
            needed,
        };
        assert_eq!(
            en(&no_baseline(Granularity::Week, 1, 4)),
            "not enough history for a baseline (1 of the 4 complete weeks it needs)"
        );
        assert_eq!(
            en(&no_baseline(Granularity::Month, 0, 1)),
            "not enough history for a baseline (0 of the 1 complete month it needs)"
        );
        assert_eq!(
            ru(&no_baseline(Granularity::Week, 1, 4)),
            "мало истории для сравнения (полных недель раньше: 1 из 4 нужных)"
        );
        assert!(won(3).starts_with("у 3 успешных сделок не"), "{}", won(3));
        assert!(won(21).starts_with("у 21 успешной сделки"), "{}", won(21));
        // Every reason, of every granularity, is Russian but for the source's own name.
        for granularity in [Granularity::Day, Granularity::Week, Granularity::Month] {
            let not_ended = GapReason::NotEnded {
                granularity,
                ends: d("2025-03-16"),
            };
            for reason in [
                not_ended,
                three_days.clone(),
                GapReason::WonWithoutAmount(2),
                no_baseline(granularity, 0, 1),
                GapReason::SourcePending {
                    source: "crm".into(),
                    ranges: vec![DateRange::new(d("2025-03-15"), d("2025-03-16")).unwrap()],
                },
            ] {
                let text = ru(&reason).replace("crm", "");
                assert!(!text.chars().any(|c| c.is_ascii_alphabetic()), "{text}");
            }
        }
    }
}
