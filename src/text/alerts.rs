//! Alert wording: titles per finding kind and event, fact labels, episode spans, the digest,
//! resolved notes, a source that is down and back, the `alert-test` sample, and the words of the
//! link to the report. The cycle decides which alerts to send and adds
//! their identity and data; the words come from here.

use chrono::NaiveDate;

use super::reconcile::{claim_amount, claim_metric};
use super::{
    ALERTS, RUNS, channel_name, decision, format_money, metric_name, noun_ru, period_countable,
    period_from_ru, period_noun, signed_percent,
};
use crate::alerts::Fact;
use crate::analysis::{ChainBreak, Finding, FindingDetail, FindingKind, Granularity};
use crate::domain::{Locale, SourceHealth};
use crate::episodes::{Episode, Resolution};

/// The words of one alert; the cycle adds its id, event, filters and data.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWords {
    pub title: String,
    pub summary: String,
    pub facts: Vec<Fact>,
    pub decision: Option<String>,
}

/// The headline of an episode of `kind`, when it opens and when it grows.
fn kind_title(kind: FindingKind, updated: bool, locale: Locale) -> &'static str {
    match (kind, updated, locale) {
        (FindingKind::ReturningRevenueFalling, updated, _) => {
            super::meaning::falling_title(updated, locale)
        }
        (FindingKind::ActivityWithoutMoney, false, Locale::En) => "Activity without money",
        (FindingKind::ActivityWithoutMoney, true, Locale::En) => "Activity without money continues",
        (FindingKind::ActivityWithoutMoney, false, Locale::Ru) => "Активность без денег",
        (FindingKind::ActivityWithoutMoney, true, Locale::Ru) => {
            "Активность без денег продолжается"
        }
        (FindingKind::DataGap, false, Locale::En) => "No verdict",
        (FindingKind::DataGap, true, Locale::En) => "Still no verdict",
        (FindingKind::DataGap, false, Locale::Ru) => "Нет оценки",
        (FindingKind::DataGap, true, Locale::Ru) => "Оценки всё ещё нет",
        (FindingKind::ClaimMismatch, false, Locale::En) => "A claim the till does not confirm",
        (FindingKind::ClaimMismatch, true, Locale::En) => "Claims the till does not confirm",
        (FindingKind::ClaimMismatch, false, Locale::Ru) => "Заявленное не подтверждает CRM",
        (FindingKind::ClaimMismatch, true, Locale::Ru) => {
            "Заявленное по-прежнему не подтверждает CRM"
        }
        (FindingKind::ClaimBelowObserved, false, Locale::En) => "A claim below what kassa sees",
        (FindingKind::ClaimBelowObserved, true, Locale::En) => "Claims below what kassa sees",
        (FindingKind::ClaimBelowObserved, false, Locale::Ru) => "Заявлено меньше, чем видит kassa",
        (FindingKind::ClaimBelowObserved, true, Locale::Ru) => {
            "Заявлено по-прежнему меньше, чем видит kassa"
        }
        (FindingKind::OverclaimedTotal, false, Locale::En) => "Platforms claim the same sales",
        (FindingKind::OverclaimedTotal, true, Locale::En) => "Platforms still claim the same sales",
        (FindingKind::OverclaimedTotal, false, Locale::Ru) => {
            "Площадки приписывают себе одни и те же продажи"
        }
        (FindingKind::OverclaimedTotal, true, Locale::Ru) => {
            "Площадки по-прежнему приписывают себе одни и те же продажи"
        }
        (FindingKind::LeadsWithoutMoney, false, Locale::En) => "Leads without money",
        (FindingKind::LeadsWithoutMoney, true, Locale::En) => "Leads without money continue",
        (FindingKind::LeadsWithoutMoney, false, Locale::Ru) => "Заявки без денег",
        (FindingKind::LeadsWithoutMoney, true, Locale::Ru) => "Заявки без денег продолжаются",
        (FindingKind::SpendWithoutMoney, false, Locale::En) => "Spend without a sale",
        (FindingKind::SpendWithoutMoney, true, Locale::En) => "Still spend without a sale",
        (FindingKind::SpendWithoutMoney, false, Locale::Ru) => "Расход без продаж",
        (FindingKind::SpendWithoutMoney, true, Locale::Ru) => "Расход без продаж продолжается",
        (FindingKind::Decoupling, false, Locale::En) => "Activity decoupled from money",
        (FindingKind::Decoupling, true, Locale::En) => "Activity still decoupled from money",
        (FindingKind::Decoupling, false, Locale::Ru) => "Активность оторвалась от денег",
        (FindingKind::Decoupling, true, Locale::Ru) => "Активность по-прежнему оторвана от денег",
    }
}

/// `2 weeks, 2025-03-10 to 2025-03-23`, `week 2025-03-10 to 2025-03-16`, `2 недели, с … по …`.
pub fn episode_span(g: Granularity, e: &Episode, locale: Locale) -> String {
    let (first, last) = (e.first_start, e.last_end);
    match (locale, e.findings.len()) {
        (Locale::En, 1) => format!("{} {first} to {last}", period_noun(g)),
        (Locale::Ru, 1) => format!("{} с {first} по {last}", noun_ru(g)),
        (Locale::En, n) => format!(
            "{}, {first} to {last}",
            period_countable(g).count(n as u64, locale)
        ),
        (Locale::Ru, n) => format!(
            "{}, с {first} по {last}",
            period_countable(g).count(n as u64, locale)
        ),
    }
}

/// An episode that opened (`updated` false) or grew materially (`updated` true).
pub fn episode(e: &Episode, updated: bool, g: Granularity, locale: Locale) -> AlertWords {
    let latest = e.latest();
    let title = format!(
        "{}: {}, {}",
        kind_title(e.kind, updated, locale),
        channel_name(&e.channel, locale),
        episode_span(g, e, locale)
    );
    let mut summary = latest.message.clone();
    if let Some(ended) = e.ended_by {
        summary.push_str(&match locale {
            Locale::En => format!(
                " The episode has already ended: the {} of {ended} was not flagged.",
                period_noun(g)
            ),
            Locale::Ru => format!(
                " Эпизод уже закончился: за {} тревоги нет.",
                period_from_ru(g, ended)
            ),
        });
    }
    let mut facts = facts(latest, e, g, locale);
    if let Some(money) = e.money_at_stake() {
        facts.push(Fact {
            label: super::chain::money_at_stake_label(locale).to_string(),
            value: format_money(money, latest.currency.as_deref(), locale),
        });
    }
    AlertWords {
        title,
        summary,
        facts,
        decision: decision(latest, locale).map(|d| match locale {
            Locale::En => format!("What to decide: {d}"),
            Locale::Ru => format!("Что сделать: {d}"),
        }),
    }
}

struct FactLabels {
    activity: &'static str,
    money: &'static str,
    spend: &'static str,
    periods: &'static str,
    chain: &'static str,
    gaps: &'static str,
    claimed: &'static str,
    observed: &'static str,
}

fn fact_labels(locale: Locale) -> FactLabels {
    match locale {
        Locale::En => FactLabels {
            activity: "Activity",
            money: "Money",
            spend: "Spend in the episode",
            periods: "Periods",
            chain: "Chain breaks",
            gaps: "Why no verdict",
            claimed: "Claimed",
            observed: "Observed",
        },
        Locale::Ru => FactLabels {
            activity: "Активность",
            money: "Деньги",
            spend: "Расход за весь эпизод",
            periods: "Периоды",
            chain: "Где рвётся цепочка",
            gaps: "Почему нет оценки",
            claimed: "Заявлено",
            observed: "Факт",
        },
    }
}

fn chain_break_label(chain: ChainBreak, locale: Locale) -> &'static str {
    match (chain, locale) {
        (ChainBreak::ClickToLead, Locale::En) => "click → lead",
        (ChainBreak::LeadToSale, Locale::En) => "lead → sale",
        (ChainBreak::ClickToLead, Locale::Ru) => "клик → заявка",
        (ChainBreak::LeadToSale, Locale::Ru) => "заявка → продажа",
    }
}

/// The label/value pairs of an episode alert: what its kind measured, then the spend and span
/// of the whole episode.
fn facts(f: &Finding, e: &Episode, g: Granularity, locale: Locale) -> Vec<Fact> {
    let labels = fact_labels(locale);
    let fact = |label: &str, value: String| Fact {
        label: label.to_string(),
        value,
    };
    let spend = fact(
        labels.spend,
        format_money(e.spend().as_f64(), f.currency.as_deref(), locale),
    );
    let periods = fact(labels.periods, episode_span(g, e, locale));
    match &f.detail {
        FindingDetail::ActivityWithoutMoney(flag) => {
            let (a, m) = (&flag.activity, &flag.money);
            let mut facts = vec![
                fact(
                    labels.activity,
                    format!(
                        "{} {}",
                        metric_name(&a.metric, locale),
                        signed_percent(a.growth, locale)
                    ),
                ),
                fact(
                    labels.money,
                    format!(
                        "{} {}",
                        metric_name(&m.metric, locale),
                        signed_percent(m.growth, locale)
                    ),
                ),
                spend,
                periods,
            ];
            if let Some(chain) = flag.chain_break {
                facts.push(fact(
                    labels.chain,
                    chain_break_label(chain, locale).to_string(),
                ));
            }
            facts
        }
        FindingDetail::LeadsWithoutMoney(flag) => {
            let growth = |g: &crate::analysis::Growth| {
                format!(
                    "{} {}",
                    metric_name(&g.metric, locale),
                    signed_percent(g.growth, locale)
                )
            };
            let mut facts = vec![fact(labels.activity, growth(&flag.leads))];
            if let Some(a) = &flag.activity {
                facts.push(fact(labels.activity, growth(a)));
            }
            facts.extend([
                fact(labels.money, growth(&flag.money)),
                spend,
                periods,
                fact(
                    labels.chain,
                    chain_break_label(ChainBreak::LeadToSale, locale).to_string(),
                ),
            ]);
            facts
        }
        FindingDetail::SpendWithoutMoney(_) => vec![spend, periods],
        FindingDetail::Decoupling(d) => vec![
            fact(
                labels.activity,
                match locale {
                    Locale::En => format!(
                        "{} ~ {}: r = {} (n = {})",
                        metric_name(&d.metric, locale),
                        metric_name(&d.money_metric, locale),
                        super::decimal(d.correlation.r, 2, locale),
                        d.correlation.n
                    ),
                    Locale::Ru => format!(
                        "{} ~ {}: корреляция {} (периодов: {})",
                        metric_name(&d.metric, locale),
                        metric_name(&d.money_metric, locale),
                        super::decimal(d.correlation.r, 2, locale),
                        d.correlation.n
                    ),
                },
            ),
            spend,
            periods,
        ],
        FindingDetail::DataGap(gap) => {
            let reasons = gap
                .reasons
                .iter()
                .map(|r| super::gap_reason(r, locale))
                .collect::<Vec<_>>()
                .join("; ");
            vec![spend, periods, fact(labels.gaps, reasons)]
        }
        FindingDetail::ClaimMismatch(c) | FindingDetail::ClaimBelowObserved(c) => {
            let amount = |v| claim_amount(c.metric, v, f.currency.as_deref(), locale);
            vec![
                fact(
                    labels.claimed,
                    format!(
                        "{} {} ({})",
                        claim_metric(c.metric, locale),
                        amount(c.claimed),
                        c.claimed_by
                    ),
                ),
                fact(labels.observed, amount(c.observed)),
                periods,
            ]
        }
        FindingDetail::ReturningRevenueFalling(r) => {
            let mut facts: Vec<Fact> =
                super::meaning::falling_facts(r, f.currency.as_deref(), locale)
                    .into_iter()
                    .map(|(label, value)| fact(label, value))
                    .collect();
            facts.extend([spend, periods]);
            facts
        }
        FindingDetail::OverclaimedTotal(o) => {
            let amount = |v| claim_amount(o.metric, v, f.currency.as_deref(), locale);
            let shares = o
                .shares
                .iter()
                .map(|s| format!("{} {}", s.source, amount(s.claimed)))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                fact(
                    labels.claimed,
                    format!(
                        "{} {} ({shares})",
                        claim_metric(o.metric, locale),
                        amount(o.claimed)
                    ),
                ),
                fact(labels.observed, amount(o.observed)),
                periods,
            ]
        }
    }
}

/// An episode that is over: a later complete period was not flagged, or restated data no
/// longer shows it. `kind` is the stored kind's wire name; one this kassa does not know (a
/// store written by a newer one) gets a sentence that names no kind.
pub fn resolved(
    kind: &str,
    channel: &str,
    first_start: NaiveDate,
    last_end: NaiveDate,
    resolution: Resolution,
    g: Granularity,
    locale: Locale,
) -> AlertWords {
    let title = match locale {
        Locale::En => format!(
            "Resolved: {}, {first_start} to {last_end}",
            channel_name(channel, locale)
        ),
        Locale::Ru => format!(
            "Эпизод закрыт: {}, с {first_start} по {last_end}",
            channel_name(channel, locale)
        ),
    };
    let noun = period_noun(g);
    let next_ru = |next| period_from_ru(g, next);
    let summary = match (FindingKind::parse(kind), resolution, locale) {
        (Some(FindingKind::ReturningRevenueFalling), resolution, _) => {
            let ended = match resolution {
                Resolution::Ended(next) => Some(next),
                Resolution::Cleared => None,
            };
            super::meaning::falling_resolved(first_start, last_end, ended, locale)
        }
        (Some(FindingKind::ActivityWithoutMoney), Resolution::Ended(next), Locale::En) => format!(
            "The activity-without-money episode from {first_start} to {last_end} is over: the {noun} of {next} is no longer flagged."
        ),
        (Some(FindingKind::ActivityWithoutMoney), Resolution::Ended(next), Locale::Ru) => format!(
            "Активность без денег с {first_start} по {last_end} закончилась: за {} тревоги уже нет.",
            next_ru(next)
        ),
        (Some(FindingKind::ActivityWithoutMoney), Resolution::Cleared, Locale::En) => format!(
            "Restated data no longer shows activity without money from {first_start} to {last_end}; the earlier alert no longer applies."
        ),
        (Some(FindingKind::ActivityWithoutMoney), Resolution::Cleared, Locale::Ru) => format!(
            "Данные уточнились, и активности без денег с {first_start} по {last_end} больше не видно; прежнее оповещение можно не учитывать."
        ),
        (Some(FindingKind::DataGap), Resolution::Ended(next), Locale::En) => format!(
            "The data gap from {first_start} to {last_end} is over: the {noun} of {next} has a verdict."
        ),
        (Some(FindingKind::DataGap), Resolution::Ended(next), Locale::Ru) => format!(
            "Пробел в данных с {first_start} по {last_end} закрыт: {} уже можно оценить.",
            next_ru(next)
        ),
        (Some(FindingKind::DataGap), Resolution::Cleared, Locale::En) => format!(
            "Restated data fills the gap from {first_start} to {last_end}; the earlier alert no longer applies."
        ),
        (Some(FindingKind::DataGap), Resolution::Cleared, Locale::Ru) => format!(
            "Данные уточнились, и пробела с {first_start} по {last_end} больше нет; прежнее оповещение можно не учитывать."
        ),
        (
            Some(
                kind @ (FindingKind::LeadsWithoutMoney
                | FindingKind::SpendWithoutMoney
                | FindingKind::Decoupling),
            ),
            Resolution::Ended(next),
            Locale::En,
        ) => format!(
            "The episode of {} from {first_start} to {last_end} is over: the {noun} of {next} no longer shows it.",
            kind_title(kind, false, locale).to_lowercase()
        ),
        (
            Some(
                kind @ (FindingKind::LeadsWithoutMoney
                | FindingKind::SpendWithoutMoney
                | FindingKind::Decoupling),
            ),
            Resolution::Ended(next),
            Locale::Ru,
        ) => format!(
            "Эпизод «{}» с {first_start} по {last_end} закончился: за {} его уже не видно.",
            kind_title(kind, false, locale),
            next_ru(next)
        ),
        (
            Some(
                kind @ (FindingKind::LeadsWithoutMoney
                | FindingKind::SpendWithoutMoney
                | FindingKind::Decoupling),
            ),
            Resolution::Cleared,
            Locale::En,
        ) => format!(
            "Restated data no longer shows {} from {first_start} to {last_end}; the earlier alert no longer applies.",
            kind_title(kind, false, locale).to_lowercase()
        ),
        (
            Some(
                kind @ (FindingKind::LeadsWithoutMoney
                | FindingKind::SpendWithoutMoney
                | FindingKind::Decoupling),
            ),
            Resolution::Cleared,
            Locale::Ru,
        ) => format!(
            "Данные уточнились, и эпизода «{}» с {first_start} по {last_end} больше не видно; прежнее оповещение можно не учитывать.",
            kind_title(kind, false, locale)
        ),
        (
            Some(
                FindingKind::ClaimMismatch
                | FindingKind::ClaimBelowObserved
                | FindingKind::OverclaimedTotal,
            ),
            Resolution::Ended(_) | Resolution::Cleared,
            Locale::En,
        ) => format!(
            "The claims from {first_start} to {last_end} no longer disagree with what kassa observes; the earlier alert no longer applies."
        ),
        (
            Some(
                FindingKind::ClaimMismatch
                | FindingKind::ClaimBelowObserved
                | FindingKind::OverclaimedTotal,
            ),
            Resolution::Ended(_) | Resolution::Cleared,
            Locale::Ru,
        ) => format!(
            "Заявленное с {first_start} по {last_end} больше не расходится с тем, что видит kassa; прежнее оповещение можно не учитывать."
        ),
        (None, Resolution::Ended(next), Locale::En) => format!(
            "The episode from {first_start} to {last_end} is over: the {noun} of {next} is no longer flagged."
        ),
        (None, Resolution::Ended(next), Locale::Ru) => format!(
            "Эпизод с {first_start} по {last_end} закончился: за {} тревоги уже нет.",
            next_ru(next)
        ),
        (None, Resolution::Cleared, Locale::En) => format!(
            "Restated data no longer shows the episode from {first_start} to {last_end}; the earlier alert no longer applies."
        ),
        (None, Resolution::Cleared, Locale::Ru) => format!(
            "Данные уточнились, и эпизода с {first_start} по {last_end} больше не видно; прежнее оповещение можно не учитывать."
        ),
    };
    AlertWords {
        title,
        summary,
        facts: Vec::new(),
        decision: None,
    }
}

/// A source that failed `health.failed_runs` runs in a row (`source_down`): silence from a
/// monitor must never look like "nothing happened".
pub fn source_down(health: &SourceHealth, locale: Locale) -> AlertWords {
    let source = &health.source;
    let runs = RUNS.count(u64::from(health.failed_runs), locale);
    let since = health.since.map(|d| d.to_string()).unwrap_or_default();
    let error = health.last_error.clone().unwrap_or_default();
    let (title, summary, decision, labels) = match locale {
        Locale::En => (
            format!("Source down: {source}"),
            format!(
                "The last {runs} could not pull {source}. Its days stay uncovered, so the periods that need them get no verdict until it works again."
            ),
            "What to decide: check the error below (a token, an export, the platform's status); kassa retries every run and says when it is back.",
            [
                "Source",
                "Failed runs in a row",
                "Failing since",
                "Last error",
            ],
        ),
        Locale::Ru => (
            format!("Источник не работает: {source}"),
            format!(
                "Не удалось получить данные {source}: {runs} подряд. Его дни остаются без данных, и периоды, которым они нужны, не получат оценки, пока источник не заработает."
            ),
            "Что сделать: посмотрите ошибку ниже (токен, выгрузка, состояние площадки); kassa пробует в каждый запуск и сообщит, когда источник вернётся.",
            [
                "Источник",
                "Неудачных запусков подряд",
                "Ошибки с",
                "Последняя ошибка",
            ],
        ),
    };
    let values = [source.clone(), health.failed_runs.to_string(), since, error];
    AlertWords {
        title,
        summary,
        facts: labels
            .into_iter()
            .zip(values)
            .map(|(label, value)| Fact {
                label: label.to_string(),
                value,
            })
            .collect(),
        decision: Some(decision.to_string()),
    }
}

/// The resolved note of a `source_down` alert: `before` is the source's state before the run
/// that pulled it again.
pub fn source_recovered(before: &SourceHealth, locale: Locale) -> AlertWords {
    let source = &before.source;
    let runs = RUNS.count(u64::from(before.failed_runs), locale);
    let since = before.since.map(|d| d.to_string()).unwrap_or_default();
    let (title, summary) = match locale {
        Locale::En => (
            format!("Resolved: source {source} is back"),
            format!(
                "{source} was pulled again after {runs} that failed (since {since}); the days it missed are pulled by this and the next runs."
            ),
        ),
        Locale::Ru => (
            format!("Источник снова работает: {source}"),
            format!(
                "Данные {source} снова получены после неудачных запусков ({runs}, с {since}); пропущенные дни догружаются в этот и следующие запуски."
            ),
        ),
    };
    AlertWords {
        title,
        summary,
        facts: Vec::new(),
        decision: None,
    }
}

/// The one message that stands for the alerts over a run's cap, listing their titles.
pub fn digest(titles: &[&str], locale: Locale) -> AlertWords {
    let lines: Vec<String> = titles.iter().map(|t| format!("• {t}")).collect();
    let (title, summary) = match locale {
        Locale::En => (
            format!("{} more alerts", titles.len()),
            format!("Also found in this run:\n{}", lines.join("\n")),
        ),
        Locale::Ru => (
            format!("Ещё {}", ALERTS.count(titles.len() as u64, locale)),
            format!("Что ещё нашлось в этот раз:\n{}", lines.join("\n")),
        ),
    };
    AlertWords {
        title,
        summary,
        facts: Vec::new(),
        decision: None,
    }
}

/// The words of the link to the HTML report that ends an alert (`[alerting] report_url`).
pub fn open_report(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "Open the report",
        Locale::Ru => "Открыть отчёт",
    }
}

/// The sample alert of `kassa alert-test`.
pub fn sample(locale: Locale) -> AlertWords {
    let (title, summary, decision, spend_label, currency) = match locale {
        Locale::En => (
            "kassa test alert",
            "This is a test from kassa: if you can read it, this target will receive the morning alerts about activity without money.",
            "Nothing to decide: this is only a test.",
            "Sample spend",
            "USD",
        ),
        Locale::Ru => (
            "Тестовое оповещение kassa",
            "Это проверка от kassa: раз вы читаете это сообщение, сюда будут приходить утренние оповещения об активности без денег.",
            "Делать ничего не нужно: это только проверка.",
            "Пример расхода",
            "RUB",
        ),
    };
    AlertWords {
        title: title.to_string(),
        summary: summary.to_string(),
        facts: vec![Fact {
            label: spend_label.to_string(),
            value: format_money(1_234_567.0, Some(currency), locale),
        }],
        decision: Some(decision.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{DataGap, GapReason};
    use crate::domain::Money;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn gap_episode() -> Episode {
        let finding = Finding {
            channel: "all".into(),
            period_start: d("2025-03-10"),
            period_end: d("2025-03-16"),
            spend: Money::from_micros(12_000_000),
            currency: Some("USD".into()),
            detail: FindingDetail::DataGap(DataGap {
                reasons: vec![GapReason::WonWithoutAmount(2)],
            }),
            message: "No verdict.".into(),
        };
        Episode {
            channel: "all".into(),
            kind: FindingKind::DataGap,
            subject: String::new(),
            first_start: finding.period_start,
            last_start: finding.period_start,
            last_end: finding.period_end,
            findings: vec![finding],
            ended_by: None,
        }
    }

    #[test]
    fn an_episode_is_titled_by_its_kind_and_its_facts_follow_its_detail() {
        let words = episode(&gap_episode(), false, Granularity::Week, Locale::En);
        assert_eq!(
            words.title,
            "No verdict: All channels together, week 2025-03-10 to 2025-03-16"
        );
        assert_eq!(words.decision, None);
        let facts: Vec<(&str, &str)> = words
            .facts
            .iter()
            .map(|f| (f.label.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            facts,
            [
                ("Spend in the episode", "$12"),
                ("Periods", "week 2025-03-10 to 2025-03-16"),
                (
                    "Why no verdict",
                    "2 won deals without an amount, so revenue is unknown"
                ),
            ]
        );
        let ru = episode(&gap_episode(), true, Granularity::Week, Locale::Ru);
        assert_eq!(
            ru.title,
            "Оценки всё ещё нет: Все каналы вместе, неделя с 2025-03-10 по 2025-03-16"
        );
        assert_eq!(
            ru.facts[2].value,
            "у 2 успешных сделок не указана сумма, поэтому выручка неизвестна"
        );
    }

    #[test]
    fn a_resolved_note_names_the_kind_it_knows_and_no_kind_otherwise() {
        let note = |kind: &str, locale| {
            resolved(
                kind,
                "meta",
                d("2025-03-10"),
                d("2025-03-23"),
                Resolution::Ended(d("2025-03-24")),
                Granularity::Week,
                locale,
            )
        };
        assert_eq!(
            note("activity_without_money", Locale::En).summary,
            "The activity-without-money episode from 2025-03-10 to 2025-03-23 is over: the week of 2025-03-24 is no longer flagged."
        );
        assert!(
            note("data_gap", Locale::En)
                .summary
                .starts_with("The data gap from")
        );
        let unknown = note("from_a_newer_kassa", Locale::Ru);
        assert_eq!(
            unknown.title,
            "Эпизод закрыт: Канал meta, с 2025-03-10 по 2025-03-23"
        );
        assert_eq!(
            unknown.summary,
            "Эпизод с 2025-03-10 по 2025-03-23 закончился: за неделю с 2025-03-24 тревоги уже нет."
        );
    }
}
