//! A finding in plain words: the sentence of each kind, why a period has no verdict, where the
//! chain broke, and the decision to consider.

use std::fmt::Write;

use super::{
    channel_name, format_money, metric_amount, metric_name, noun_accusative_ru,
    noun_genitive_plural_ru, noun_ru, percent, period_label, period_noun, plural_ru, ru_verb,
};
use crate::analysis::{
    ALL_CHANNELS, ActivityWithoutMoney, Analysis, ChainBreak, Finding, FindingDetail, GapReason,
    Granularity, RuleSettings,
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
        FindingDetail::DataGap(gap) => {
            let g = settings.granularity;
            let reasons = gap
                .reasons
                .iter()
                .map(|r| gap_reason(r, locale))
                .collect::<Vec<_>>()
                .join("; ");
            match locale {
                Locale::Ru => format!(
                    "Нет вывода за {} {}: {reasons}.",
                    noun_accusative_ru(g),
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
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (reason, locale) {
        (GapReason::NotEnded { granularity, ends }, Locale::En) => format!(
            "the {} has not ended yet (it ends {ends})",
            period_noun(*granularity)
        ),
        (GapReason::NotEnded { granularity, ends }, Locale::Ru) => match granularity {
            Granularity::Day => format!("день ещё не закончился (он закончится {ends})"),
            Granularity::Week => format!("неделя ещё не закончилась (она закончится {ends})"),
            Granularity::Month => format!("месяц ещё не закончился (он закончится {ends})"),
        },
        (
            GapReason::SourceMissing {
                source,
                ranges: missing,
            },
            Locale::En,
        ) => {
            let days = reason.missing_days();
            format!(
                "source {source:?} has no data for {days} day{} ({})",
                if days == 1 { "" } else { "s" },
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
            let days = reason.missing_days();
            format!(
                "у источника «{source}» нет данных за {days} {} ({})",
                plural_ru(days.unsigned_abs(), "день", "дня", "дней"),
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
        (GapReason::WonWithoutAmount(n), Locale::En) => format!(
            "{n} won deal{} without an amount, so revenue is unknown",
            if *n == 1 { "" } else { "s" }
        ),
        (
            GapReason::NoBaseline {
                granularity,
                have,
                needed,
            },
            Locale::En,
        ) => format!(
            "not enough history for a baseline ({have} of the {needed} complete {}{} it needs)",
            period_noun(*granularity),
            if *needed == 1 { "" } else { "s" }
        ),
        (
            GapReason::NoBaseline {
                granularity,
                have,
                needed,
            },
            Locale::Ru,
        ) => format!(
            "мало истории для базы сравнения (полных {} раньше: {have}, нужно {needed})",
            noun_genitive_plural_ru(*granularity, 5)
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
        (GapReason::WonWithoutAmount(n), Locale::Ru) => format!(
            "{n} {} без суммы, поэтому выручка неизвестна",
            plural_ru(
                *n,
                "выигранная сделка",
                "выигранные сделки",
                "выигранных сделок"
            )
        ),
    }
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
            period_noun(g),
            period_label(g, f, locale),
            metric_name(&activity.metric, locale),
            percent(activity.growth, locale),
            period_noun(g),
            if n == 1 { "" } else { "s" },
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
    text
}

/// Where the chain broke, as a sentence, when the finding says.
pub fn chain_sentence(flag: &ActivityWithoutMoney, locale: Locale) -> Option<String> {
    match (flag.chain_break?, &flag.leads, &flag.deals_won) {
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

/// The decision to consider, for alerts; a data gap asks for none (its reasons say what to fix).
pub fn decision(f: &Finding, locale: Locale) -> Option<String> {
    match &f.detail {
        FindingDetail::ActivityWithoutMoney(flag) => Some(flag_decision(&f.channel, flag, locale)),
        FindingDetail::DataGap(_) => None,
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
            "неделя ещё не закончилась (она закончится 2025-03-16)"
        );
        assert_eq!(
            ru(&one_day),
            "у источника «crm» нет данных за 1 день (2025-03-12..2025-03-12)"
        );
        assert!(
            ru(&three_days).contains("за 3 дня ("),
            "{}",
            ru(&three_days)
        );
        let won = |n| ru(&GapReason::WonWithoutAmount(n));
        assert_eq!(
            won(1),
            "1 выигранная сделка без суммы, поэтому выручка неизвестна"
        );
        assert!(
            won(3).starts_with("3 выигранные сделки без суммы"),
            "{}",
            won(3)
        );
        assert!(
            won(5).starts_with("5 выигранных сделок без суммы"),
            "{}",
            won(5)
        );
        assert!(won(21).starts_with("21 выигранная сделка"), "{}", won(21));

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
            "мало истории для базы сравнения (полных недель раньше: 1, нужно 4)"
        );
    }
}
