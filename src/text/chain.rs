//! Words of the chain findings: leads without money (who to talk to: the marketer about lead
//! quality, sales about how the leads were worked), spend without money, decoupling; their
//! decisions, and the money at stake.

use super::{
    by_ru, channel_name, decimal, format_money, metric_amount, metric_name, noun_accusative_ru,
    noun_genitive_plural_ru, noun_ru, percent, period_countable, period_from_ru, period_label,
    period_noun, ru_verb,
};
use crate::analysis::{
    ALL_CHANNELS, Decoupling, Finding, Growth, LeadsWithoutMoney, RuleSettings, SpendWithoutMoney,
};
use crate::domain::Locale;

/// "stayed flat", "fell 20%", "grew only 5%" (en); "не изменилась", "упала на 20%" (ru).
fn money_words(money: &Growth, locale: Locale) -> String {
    match locale {
        Locale::En if money.growth < -0.005 => format!("fell {}", percent(-money.growth, locale)),
        Locale::En if money.growth <= 0.005 => "stayed flat".to_string(),
        Locale::En => format!("grew only {}", percent(money.growth, locale)),
        Locale::Ru if money.growth < -0.005 => format!(
            "{} на {}",
            ru_verb(&money.metric, "упал"),
            percent(-money.growth, locale)
        ),
        Locale::Ru if money.growth <= 0.005 => format!("не {}", ru_verb(&money.metric, "изменил")),
        Locale::Ru => format!(
            "{} лишь {}",
            ru_verb(&money.metric, "вырос"),
            by_ru(money.growth)
        ),
    }
}

/// A `leads_without_money` finding: leads grew, money did not, and whom to ask.
pub fn leads_sentence(
    f: &Finding,
    flag: &LeadsWithoutMoney,
    settings: &RuleSettings,
    locale: Locale,
) -> String {
    let g = settings.granularity;
    let n = settings.baseline_periods;
    let currency = f.currency.as_deref();
    let (leads, money) = (&flag.leads, &flag.money);
    let amount = |metric: &str, value: f64| metric_amount(metric, value, currency, locale);
    let spend = format_money(f.spend.as_f64(), currency, locale);
    match locale {
        Locale::En => {
            let also = flag.activity.as_ref().map_or(String::new(), |a| {
                format!(
                    " {} grew {} too.",
                    capital(metric_name(&a.metric, locale)),
                    percent(a.growth, locale)
                )
            });
            format!(
                "{}, {} {}: leads grew {} against the average of the previous {} ({} vs {}), but {} {} ({} vs {}).{also} The chain breaks between lead and sale: either the new leads are not the right people (a question for the marketer) or sales did not turn them into deals (a question for sales). Spend in the {}: {spend}.",
                channel_name(&f.channel, locale),
                period_noun(g),
                period_label(g, f, locale),
                percent(leads.growth, locale),
                period_countable(g).count(n as u64, locale),
                amount("leads", leads.value),
                amount("leads", leads.baseline),
                metric_name(&money.metric, locale),
                money_words(money, locale),
                amount(&money.metric, money.value),
                amount(&money.metric, money.baseline),
                period_noun(g),
            )
        }
        Locale::Ru => {
            let also = flag.activity.as_ref().map_or(String::new(), |a| {
                format!(
                    " {} тоже {} {}.",
                    capital(metric_name(&a.metric, locale)),
                    ru_verb(&a.metric, "вырос"),
                    by_ru(a.growth)
                )
            });
            format!(
                "{}, {} {}: заявки выросли {} к среднему за {n} предыдущих {} ({} против {}), а {} {} ({} против {}).{also} Цепочка рвётся между заявкой и продажей: либо новые заявки нецелевые (вопрос к маркетологу), либо продажи не довели их до сделки (вопрос к отделу продаж). Расход за {}: {spend}.",
                channel_name(&f.channel, locale),
                noun_ru(g),
                period_label(g, f, locale),
                by_ru(leads.growth),
                noun_genitive_plural_ru(g, n),
                amount("leads", leads.value),
                amount("leads", leads.baseline),
                metric_name(&money.metric, locale),
                money_words(money, locale),
                amount(&money.metric, money.value),
                amount(&money.metric, money.baseline),
                noun_accusative_ru(g),
            )
        }
    }
}

/// A `spend_without_money` finding: the streak, its spend, and that nothing was won.
pub fn spend_sentence(
    f: &Finding,
    s: &SpendWithoutMoney,
    settings: &RuleSettings,
    locale: Locale,
) -> String {
    let g = settings.granularity;
    let currency = f.currency.as_deref();
    let periods = period_countable(g).count(s.periods as u64, locale);
    let total = format_money(s.streak_spend.as_f64(), currency, locale);
    let floor = format_money(s.floor.as_f64(), currency, locale);
    match locale {
        Locale::En => format!(
            "{}, {periods} in a row from {} to {}: spend above {floor} every {} ({total} in all) and not one won deal.",
            channel_name(&f.channel, locale),
            s.streak_start,
            f.period_end,
            period_noun(g),
        ),
        Locale::Ru => format!(
            "{}, {periods} подряд с {} по {}: расход выше {floor} в каждом периоде ({total} всего) и ни одной успешной сделки.",
            channel_name(&f.channel, locale),
            s.streak_start,
            f.period_end,
        ),
    }
}

/// A `decoupling` finding: the activity rose without the money, with the correlation's n and
/// interval.
pub fn decoupling_sentence(
    f: &Finding,
    d: &Decoupling,
    settings: &RuleSettings,
    locale: Locale,
) -> String {
    let g = settings.granularity;
    let c = &d.correlation;
    let currency = f.currency.as_deref();
    let r = |v: f64| decimal(v, 2, locale);
    let periods = period_countable(g).count(c.n as u64, locale);
    let trend = metric_amount(&d.metric, d.activity_trend, currency, locale);
    let spend = format_money(f.spend.as_f64(), currency, locale);
    match locale {
        Locale::En => format!(
            "{}, {periods} from {} to {}: {} rose (about {trend} per {}) but no longer move with {}: correlation r = {} over {} periods (95% interval {} to {}), below the threshold of {}. Spend in the {} of {}: {spend}.",
            channel_name(&f.channel, locale),
            d.window_start,
            f.period_end,
            metric_name(&d.metric, locale),
            period_noun(g),
            metric_name(&d.money_metric, locale),
            r(c.r),
            c.n,
            r(c.ci_low),
            r(c.ci_high),
            r(d.threshold),
            period_noun(g),
            f.period_start,
        ),
        Locale::Ru => format!(
            "{}, {periods} с {} по {}: {} растут (примерно на {trend} за {}), но больше не идут вместе с метрикой «{}»: коэффициент корреляции {} по {} периодам (95% интервал от {} до {}), ниже порога {}. Расход за {}: {spend}.",
            channel_name(&f.channel, locale),
            d.window_start,
            f.period_end,
            metric_name(&d.metric, locale),
            noun_accusative_ru(g),
            metric_name(&d.money_metric, locale),
            r(c.r),
            c.n,
            r(c.ci_low),
            r(c.ci_high),
            r(d.threshold),
            period_from_ru(g, f.period_start),
        ),
    }
}

fn capital(word: &str) -> String {
    super::findings::capitalize(word)
}

fn in_channel(channel: &str, locale: Locale) -> String {
    match (channel == ALL_CHANNELS, locale) {
        (true, Locale::En) => "all channels".to_string(),
        (false, Locale::En) => channel.to_string(),
        (true, Locale::Ru) => "всех каналов".to_string(),
        (false, Locale::Ru) => format!("канала {channel}"),
    }
}

/// The decision of a `leads_without_money` finding: sales first, then the marketer.
pub fn leads_decision(channel: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!(
            "Ask sales what happened to the new leads from {}: were they worked, and were they qualified? Worked but unqualified: talk to the marketer about whom the campaigns bring. Qualified but lost: talk to sales. Hold the budget until the leads convert.",
            in_channel(channel, locale)
        ),
        Locale::Ru => format!(
            "Спросите отдел продаж, что стало с новыми заявками {}: обработали ли их и целевые ли они. Обработали, но нецелевые — разговор с маркетологом о том, кого приводят кампании. Целевые, но не купили — разговор с отделом продаж. Не увеличивайте бюджет, пока заявки не начнут превращаться в продажи.",
            in_channel(channel, locale)
        ),
    }
}

/// The decision of a `spend_without_money` finding.
pub fn spend_decision(f: &Finding, s: &SpendWithoutMoney, locale: Locale) -> String {
    let total = format_money(s.streak_spend.as_f64(), f.currency.as_deref(), locale);
    match locale {
        Locale::En => format!(
            "Pause or cut the budget of {} unless someone can name a sale it brought: {total} spent, nothing won.",
            in_channel(&f.channel, locale)
        ),
        Locale::Ru => format!(
            "Остановите или урежьте бюджет {}, если никто не может назвать продажу, которую он принёс: потрачено {total}, продаж нет.",
            in_channel(&f.channel, locale)
        ),
    }
}

/// The decision of a `decoupling` finding.
pub fn decoupling_decision(f: &Finding, d: &Decoupling, locale: Locale) -> String {
    match locale {
        Locale::En => format!(
            "Stop judging {} by {}: it rises without the money. Agree with the marketer on the figure the money follows.",
            in_channel(&f.channel, locale),
            metric_name(&d.metric, locale)
        ),
        Locale::Ru => format!(
            "Перестаньте оценивать работу {} по метрике «{}»: она растёт без денег. Договоритесь с маркетологом о метрике, за которой идут деньги.",
            in_channel(&f.channel, locale),
            metric_name(&d.metric, locale)
        ),
    }
}

/// The label of the money-at-stake fact.
pub fn money_at_stake_label(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "Money at stake",
        Locale::Ru => "Деньги под вопросом",
    }
}
