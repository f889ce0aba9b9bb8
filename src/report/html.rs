//! The HTML report of `kassa report`, of the worker's `/` and `/report`, and of the demo: one
//! self-contained page (inline styles, charts as inline SVG from [`super::charts`], no script,
//! no external reference), readable offline, as an email attachment and on paper.
//!
//! The page, top to bottom: the range and currency; a summary over the `all` channel (spend,
//! revenue and ROMI over the periods whose money is whole, the others named; flagged periods
//! and their spend, data gaps, warnings); per channel (the total first) activity and money
//! indexed on one axis, spend and revenue in the currency, and the funnel with where the chain
//! breaks, each with the table behind it (collapsed); the reconciliation (what the till does
//! not confirm first), the metric audit, the meaning layer and the lags; every finding with its
//! sentence, decision and money at stake. Nothing on it depends on when it was rendered: the
//! same analysis gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::analysis::{
    ALL_CHANNELS, Analysis, ChainBreak, ClaimVerdict, Finding, FindingDetail, MeaningMetric,
    MeaningRow, PeriodMetrics, ReconciliationRow, RuleSettings, Verdict, channel_order,
};
use crate::domain::{DateRange, Locale};
use crate::text::html::{self as words, Label, label};
use crate::text::{
    channel_name, ctr, date_range, decimal, format_money, gap_reason, integer, metric_name, percent,
};

use super::charts::{
    FLAGGED_SHADE, FunnelChart, FunnelStep, GAP_SHADE, PALETTE, PeriodMark, Series, TimeChart,
    escape, funnel_svg, time_chart_svg,
};

/// The whole page for `analysis`, its words in `locale` (findings are described afresh in
/// it, whatever language the analysis was described in).
pub fn render(analysis: &Analysis, settings: &RuleSettings, locale: Locale) -> String {
    let lang = match locale {
        Locale::En => "en",
        Locale::Ru => "ru",
    };
    let subtitle = words::subtitle(
        analysis.granularity,
        analysis.from,
        analysis.to,
        analysis.currency.as_deref(),
        locale,
    );
    let channels = channel_ids(analysis);
    let mut page = String::with_capacity(64 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>kassa – {}</title><style>{}</style></head><body>\
         <header><h1>kassa</h1><p class=\"range\">{}</p></header>",
        escape(&subtitle),
        style(),
        escape(&subtitle)
    );
    toc(&mut page, &channels, locale);
    page.push_str("<main>");
    summary(&mut page, analysis, locale);
    for (channel, id) in &channels {
        channel_section(&mut page, analysis, settings, channel, id, locale);
    }
    reconciliation(&mut page, analysis, locale);
    audit(&mut page, analysis, locale);
    meaning(&mut page, analysis, &channels, locale);
    lags(&mut page, analysis, locale);
    findings(&mut page, analysis, settings, locale);
    page.push_str("</main></body></html>\n");
    page
}

/// Each channel (the total first) with the id of its section: `channel-` and its name, made
/// safe for an id and unique.
fn channel_ids(analysis: &Analysis) -> Vec<(&str, String)> {
    let mut used = BTreeSet::new();
    channel_order(analysis)
        .into_iter()
        .enumerate()
        .map(|(i, channel)| {
            let safe: String = channel
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let mut id = format!("channel-{safe}");
            if !used.insert(id.clone()) {
                id = format!("{id}-{i}");
                used.insert(id.clone());
            }
            (channel, id)
        })
        .collect()
}

/// The table of contents: in-page anchors only.
fn toc(page: &mut String, channels: &[(&str, String)], locale: Locale) {
    let _ = write!(
        page,
        "<nav class=\"toc\" aria-label=\"{0}\"><h2>{0}</h2><ol>",
        escape(label(Label::Contents, locale))
    );
    let item = |page: &mut String, id: &str, text: &str| {
        let _ = write!(page, "<li><a href=\"#{id}\">{}</a></li>", escape(text));
    };
    item(page, "summary", label(Label::Summary, locale));
    for (channel, id) in channels {
        item(page, id, &channel_name(channel, locale));
    }
    item(page, "reconciliation", label(Label::Reconciliation, locale));
    item(page, "audit", label(Label::Audit, locale));
    item(page, "meaning", label(Label::Meaning, locale));
    item(page, "lags", label(Label::Lags, locale));
    item(page, "findings", label(Label::Findings, locale));
    page.push_str("</ol></nav>");
}

/// Spend or revenue summed over periods: the known part and how many periods lack theirs or
/// are incomplete (not ended, or some source did not cover them: their sums are partial).
fn known_sum<'a>(
    periods: impl Iterator<Item = &'a PeriodMetrics>,
    value: impl Fn(&PeriodMetrics) -> (Option<f64>, f64),
) -> (f64, usize) {
    periods.fold((0.0, 0), |(sum, unknown), p| {
        let (whole, known) = value(p);
        (
            sum + known,
            unknown + usize::from(whole.is_none() || !p.complete),
        )
    })
}

fn spend_of(p: &PeriodMetrics) -> (Option<f64>, f64) {
    (p.spend.map(|s| s.as_f64()), p.spend_known.as_f64())
}

fn revenue_of(p: &PeriodMetrics) -> (Option<f64>, f64) {
    (p.revenue.map(|r| r.as_f64()), p.revenue_known.as_f64())
}

fn summary(page: &mut String, analysis: &Analysis, locale: Locale) {
    let g = analysis.granularity;
    let currency = analysis.currency.as_deref();
    let total: Vec<&PeriodMetrics> = analysis
        .periods
        .iter()
        .filter(|p| p.channel == ALL_CHANNELS)
        .collect();
    // The totals are over the periods whose money is whole (ended, covered by every source,
    // every amount known): ROMI of spend and revenue over the same weeks, and never the known
    // part of an incomplete week passed off as its total. The rest are named, not hidden.
    let counted: Vec<&PeriodMetrics> = total
        .iter()
        .copied()
        .filter(|p| p.complete && p.spend.is_some() && p.revenue.is_some())
        .collect();
    let spend: f64 = counted.iter().filter_map(|p| spend_of(p).0).sum();
    let revenue: f64 = counted.iter().filter_map(|p| revenue_of(p).0).sum();
    let romi = if spend > 0.0 {
        percent((revenue - spend) / spend, locale)
    } else {
        words::romi_without_spend(locale).to_string()
    };
    let scope = words::summary_scope(
        g,
        counted.len(),
        counted.first().map(|p| p.period_start),
        counted.last().map(|p| p.period_end),
        total.len() - counted.len(),
        locale,
    );
    // A period is flagged when any channel's is; its spend is the total's, counted once.
    let flagged: BTreeSet<chrono::NaiveDate> = analysis
        .periods
        .iter()
        .filter(|p| p.verdict == Verdict::Flagged)
        .map(|p| p.period_start)
        .collect();
    let (flagged_spend, flagged_unknown) = known_sum(
        total
            .iter()
            .copied()
            .filter(|p| flagged.contains(&p.period_start)),
        spend_of,
    );
    let gaps = total
        .iter()
        .filter(|p| p.verdict == Verdict::NoVerdict)
        .count();

    let _ = write!(
        page,
        "<section id=\"summary\"><h2>{}</h2><p>{}</p><dl class=\"summary\">",
        escape(label(Label::Summary, locale)),
        escape(&scope)
    );
    let mut item = |term: Label, value: String, class: &str| {
        let _ = write!(
            page,
            "<div class=\"{class}\"><dt>{}</dt><dd>{}</dd></div>",
            escape(label(term, locale)),
            escape(&value)
        );
    };
    item(Label::TotalSpend, format_money(spend, currency, locale), "");
    item(Label::Revenue, format_money(revenue, currency, locale), "");
    item(Label::Romi, romi, "");
    item(
        Label::FlaggedPeriods,
        words::periods_count(g, flagged.len(), locale),
        if flagged.is_empty() { "" } else { "flagged" },
    );
    item(
        Label::SpendInFlagged,
        words::spend_cell(flagged_spend, flagged_unknown, g, currency, locale),
        "",
    );
    item(
        Label::GapPeriods,
        words::periods_count(g, gaps, locale),
        if gaps == 0 { "" } else { "gap" },
    );
    page.push_str("</dl>");
    let _ = write!(
        page,
        "<p><strong>{}:</strong> {}</p>",
        escape(label(Label::FindingCounts, locale)),
        escape(&crate::text::report::summary(&analysis.counts(), g, locale))
    );
    if !analysis.warnings.is_empty() {
        let _ = write!(
            page,
            "<h3>{}</h3><ul class=\"warnings\">",
            escape(label(Label::Warnings, locale))
        );
        for w in &analysis.warnings {
            let _ = write!(
                page,
                "<li>{}</li>",
                escape(&crate::text::report::warning(w, locale))
            );
        }
        page.push_str("</ul>");
    }
    page.push_str("</section>");
}

/// A period's verdict in words, as the terminal table says it. A flagged period names the
/// first rule that flagged it (claims have a table of their own and no word for a period row).
fn mark(p: &PeriodMetrics) -> PeriodMark {
    match p.verdict {
        Verdict::Flagged => PeriodMark::Flagged,
        Verdict::NoVerdict => PeriodMark::Gap,
        Verdict::Clear => PeriodMark::Plain,
    }
}

/// Each value over the mean of the known ones, times 100; no index (all unknown) when the
/// mean is zero or nothing is known.
fn indexed(values: &[Option<f64>]) -> Vec<Option<f64>> {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let mean = known.iter().sum::<f64>() / known.len().max(1) as f64;
    if known.is_empty() || mean == 0.0 || !mean.is_finite() {
        return vec![None; values.len()];
    }
    values.iter().map(|v| v.map(|v| v / mean * 100.0)).collect()
}

/// A metric's value as the table shows it: counts whole, CTR in percent, money in the
/// currency; unknown says so.
fn metric_cell(metric: &str, value: Option<f64>, currency: Option<&str>, locale: Locale) -> String {
    match value {
        None => label(Label::Unknown, locale).to_string(),
        Some(v) => match metric {
            "ctr" => ctr(v, locale),
            "spend" | "revenue" => format_money(v, currency, locale),
            _ => integer(v.round().max(0.0) as u64, locale),
        },
    }
}

fn channel_section(
    page: &mut String,
    analysis: &Analysis,
    settings: &RuleSettings,
    channel: &str,
    id: &str,
    locale: Locale,
) {
    let currency = analysis.currency.as_deref();
    let periods: Vec<&PeriodMetrics> = analysis
        .periods
        .iter()
        .filter(|p| p.channel == channel)
        .collect();
    let x_labels: Vec<String> = periods.iter().map(|p| p.period_start.to_string()).collect();
    // A period with incomplete data (not ended, or a source did not cover it) holds partial
    // sums: plotted, they would read as a collapse. Its line breaks; its table row says why.
    let plotted = |values: &[Option<f64>]| -> Vec<Option<f64>> {
        values
            .iter()
            .zip(&periods)
            .map(|(v, p)| v.filter(|_| p.complete))
            .collect()
    };
    let marks: Vec<PeriodMark> = periods.iter().map(|p| mark(p)).collect();
    let _ = write!(
        page,
        "<section id=\"{id}\" class=\"channel\"><h2>{}</h2>",
        escape(&channel_name(channel, locale))
    );

    // Activity and money, each indexed to its own mean: one axis, no second scale to misread.
    let money = settings.money_metric;
    let mut columns: Vec<(&str, Vec<Option<f64>>)> = settings
        .activity_metrics
        .iter()
        .map(|m| (m.name(), periods.iter().map(|p| m.value(p)).collect()))
        .collect();
    columns.push((
        money.name(),
        periods.iter().map(|p| money.value(p)).collect(),
    ));
    let activity = TimeChart {
        id: format!("{id}-activity"),
        title: words::activity_title(channel, locale),
        description: words::activity_description(
            &columns[..columns.len() - 1]
                .iter()
                .map(|(m, _)| *m)
                .collect::<Vec<_>>(),
            money.name(),
            locale,
        ),
        x_labels: x_labels.clone(),
        marks: marks.clone(),
        left_axis: words::index_axis(locale).to_string(),
        left: columns
            .iter()
            .map(|(m, values)| Series {
                label: metric_name(m, locale).to_string(),
                values: indexed(&plotted(values)),
            })
            .collect(),
        right_axis: None,
        right: Vec::new(),
        flagged_label: label(Label::Flagged, locale).to_string(),
        gap_label: label(Label::DataGap, locale).to_string(),
        locale,
    };
    let mut head: Vec<String> = vec![
        label(Label::Period, locale).to_string(),
        label(Label::Verdict, locale).to_string(),
    ];
    head.extend(
        columns
            .iter()
            .map(|(m, _)| metric_name(m, locale).to_string()),
    );
    head.push(label(Label::Gaps, locale).to_string());
    let rows: Vec<Vec<String>> = periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut row = vec![
                x_labels[i].clone(),
                super::table::verdict_word(analysis, p, locale).to_string(),
            ];
            row.extend(
                columns
                    .iter()
                    .map(|(m, values)| metric_cell(m, values[i], currency, locale)),
            );
            row.push(gaps_cell(p, locale));
            row
        })
        .collect();
    chart(
        page,
        &activity.title,
        &time_chart_svg(&activity),
        &activity.description,
        &head,
        &rows,
        locale,
    );

    // Spend and revenue in the currency; an unknown amount is a break in its line.
    let spend: Vec<Option<f64>> = periods.iter().map(|p| spend_of(p).0).collect();
    let revenue: Vec<Option<f64>> = periods.iter().map(|p| revenue_of(p).0).collect();
    let money_chart = TimeChart {
        id: format!("{id}-money"),
        title: words::money_title(channel, locale),
        description: words::money_description(locale).to_string(),
        x_labels: x_labels.clone(),
        marks,
        left_axis: words::money_axis(currency, locale),
        left: vec![
            Series {
                label: metric_name("spend", locale).to_string(),
                values: plotted(&spend),
            },
            Series {
                label: metric_name("revenue", locale).to_string(),
                values: plotted(&revenue),
            },
        ],
        right_axis: None,
        right: Vec::new(),
        flagged_label: label(Label::Flagged, locale).to_string(),
        gap_label: label(Label::DataGap, locale).to_string(),
        locale,
    };
    let head = vec![
        label(Label::Period, locale).to_string(),
        label(Label::Verdict, locale).to_string(),
        metric_name("spend", locale).to_string(),
        metric_name("revenue", locale).to_string(),
        "ROMI".to_string(),
        label(Label::Gaps, locale).to_string(),
    ];
    let rows: Vec<Vec<String>> = periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            vec![
                x_labels[i].clone(),
                super::table::verdict_word(analysis, p, locale).to_string(),
                metric_cell("spend", spend[i], currency, locale),
                metric_cell("revenue", revenue[i], currency, locale),
                match (p.revenue, p.romi) {
                    (None, _) => label(Label::Unknown, locale).to_string(),
                    (Some(_), Some(r)) => percent(r, locale),
                    (Some(_), None) => "–".to_string(),
                },
                gaps_cell(p, locale),
            ]
        })
        .collect();
    chart(
        page,
        &money_chart.title,
        &time_chart_svg(&money_chart),
        &money_chart.description,
        &head,
        &rows,
        locale,
    );

    funnel(page, analysis, &periods, channel, id, locale);
    page.push_str("</section>");
}

fn gaps_cell(p: &PeriodMetrics, locale: Locale) -> String {
    p.gaps
        .iter()
        .map(|g| gap_reason(g, locale))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A chart, the sentence saying what it shows, and the table behind it, collapsed.
fn chart(
    page: &mut String,
    title: &str,
    svg: &str,
    description: &str,
    head: &[String],
    rows: &[Vec<String>],
    locale: Locale,
) {
    let _ = write!(
        page,
        "<figure class=\"chart\"><h3>{}</h3>{svg}<figcaption>{}</figcaption></figure><details><summary>{}</summary>{}</details>",
        escape(title),
        escape(description),
        escape(label(Label::TableBehind, locale)),
        table(head, rows)
    );
}

/// A table inside its own horizontally scrolling box, so a wide one never widens the page.
fn table(head: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<div class=\"scroll\"><table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// The channel's funnel over the range, and where its chain breaks most often.
fn funnel(
    page: &mut String,
    analysis: &Analysis,
    periods: &[&PeriodMetrics],
    channel: &str,
    id: &str,
    locale: Locale,
) {
    let g = analysis.granularity;
    let currency = analysis.currency.as_deref();
    let sum = |f: fn(&PeriodMetrics) -> u64| periods.iter().map(|p| f(p)).sum::<u64>();
    let (revenue, revenue_unknown) = known_sum(periods.iter().copied(), revenue_of);
    let count = |name: &str, n: u64| FunnelStep {
        label: metric_name(name, locale).to_string(),
        value: Some(n as f64),
        display: integer(n, locale),
        share_of_previous: true,
    };
    let steps = vec![
        count("impressions", sum(|p| p.impressions)),
        count("clicks", sum(|p| p.clicks)),
        count("leads", sum(|p| p.leads)),
        count("deals_won", sum(|p| p.deals_won)),
        FunnelStep {
            label: metric_name("revenue", locale).to_string(),
            value: (revenue_unknown == 0).then_some(revenue),
            display: words::revenue_cell(revenue, revenue_unknown, g, currency, locale),
            share_of_previous: false,
        },
    ];

    // Where the chain broke in the channel's flagged periods: the most frequent break, the
    // most recent on a tie.
    let flags: Vec<(&Finding, Option<ChainBreak>)> = analysis
        .findings
        .iter()
        .filter(|f| f.channel == channel)
        .filter_map(|f| match &f.detail {
            FindingDetail::ActivityWithoutMoney(a) => Some((f, a.chain_break)),
            _ => None,
        })
        .collect();
    let mut breaks: BTreeMap<u8, (ChainBreak, usize, &Finding)> = BTreeMap::new();
    for (f, b) in &flags {
        if let Some(b) = b {
            let key = match b {
                ChainBreak::ClickToLead => 0,
                ChainBreak::LeadToSale => 1,
            };
            let entry = breaks.entry(key).or_insert((*b, 0, f));
            entry.1 += 1;
            if f.period_start >= entry.2.period_start {
                entry.2 = f;
            }
        }
    }
    let main = breaks
        .into_values()
        .max_by_key(|(_, n, latest)| (*n, latest.period_start));
    let chart = FunnelChart {
        id: format!("{id}-funnel"),
        title: words::funnel_title(channel, locale),
        description: words::funnel_description(locale).to_string(),
        steps,
        broken_after: main.map(|(b, _, _)| match b {
            ChainBreak::ClickToLead => 1,
            ChainBreak::LeadToSale => 2,
        }),
        broken_label: label(Label::ChainBreaksHere, locale).to_string(),
        locale,
    };
    let mut sentence = words::chain_summary(
        main.map(|(b, n, latest)| (b, n, latest.period_start)),
        flags.len(),
        g,
        locale,
    );
    if let Some((_, _, latest)) = main
        && let FindingDetail::ActivityWithoutMoney(a) = &latest.detail
        && let Some(text) = crate::text::chain_sentence(a, locale)
    {
        sentence.push(' ');
        sentence.push_str(&text);
    }
    // The table behind the funnel: each step's figure and the share of the step before that
    // reached it (counts only: a share of deals in money means nothing).
    let head = [
        label(Label::Step, locale).to_string(),
        label(Label::Figure, locale).to_string(),
        label(Label::ShareOfPrevious, locale).to_string(),
    ];
    let rows: Vec<Vec<String>> = chart
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let previous = i.checked_sub(1).and_then(|j| chart.steps[j].value);
            let share = match (previous, step.value, step.share_of_previous) {
                (Some(from), Some(to), true) if from > 0.0 => crate::text::rate(to / from, locale),
                _ => "–".to_string(),
            };
            vec![step.label.clone(), step.display.clone(), share]
        })
        .collect();
    let _ = write!(
        page,
        "<figure class=\"chart funnel\"><h3>{}</h3>{}<figcaption>{}</figcaption></figure><details><summary>{}</summary>{}</details><p class=\"chain\">{}</p>",
        escape(&chart.title),
        funnel_svg(&chart),
        escape(&chart.description),
        escape(label(Label::TableBehind, locale)),
        table(&head, &rows),
        escape(&sentence)
    );
}

fn reconciliation(page: &mut String, analysis: &Analysis, locale: Locale) {
    let _ = write!(
        page,
        "<section id=\"reconciliation\"><h2>{}</h2>",
        escape(label(Label::Reconciliation, locale))
    );
    let claims = &analysis.reconciliation;
    if claims.is_empty() {
        let _ = write!(page, "<p>{}</p>", escape(label(Label::NoClaims, locale)));
    } else {
        // A claim per source, metric and period adds up to hundreds of rows over months: the
        // ones the till does not confirm come first, every claim stays one click away.
        let head: Vec<String> = crate::text::reconcile::columns(locale)
            .iter()
            .map(|c| c.to_string())
            .collect();
        let unconfirmed: Vec<&ReconciliationRow> = claims
            .iter()
            .filter(|r| r.verdict != ClaimVerdict::Confirmed)
            .collect();
        let _ = write!(
            page,
            "<p>{}</p>",
            escape(&words::claims_summary(
                claims.len(),
                unconfirmed.len(),
                locale
            ))
        );
        if !unconfirmed.is_empty() {
            page.push_str(&table(
                &head,
                &super::table::reconciliation_rows(unconfirmed, locale),
            ));
        }
        let _ = write!(
            page,
            "<details><summary>{}</summary>{}</details>",
            escape(&words::all_claims(claims.len(), locale)),
            table(&head, &super::table::reconciliation_rows(claims, locale))
        );
    }
    page.push_str("</section>");
}

fn audit(page: &mut String, analysis: &Analysis, locale: Locale) {
    use crate::text::audit::{columns, correction, heading, story_title};
    let audit = &analysis.metric_audit;
    let _ = write!(
        page,
        "<section id=\"audit\"><h2>{}</h2><p>{}</p><p>{}</p>",
        escape(label(Label::Audit, locale)),
        escape(&heading(audit, analysis.granularity, locale)),
        escape(&correction(audit, locale))
    );
    let channels = super::audit::audit_channels(audit);
    if channels.is_empty() {
        let _ = write!(page, "<p>{}</p>", escape(label(Label::NoAuditRows, locale)));
    }
    let head: Vec<String> = columns(locale).iter().map(|c| c.to_string()).collect();
    for channel in channels {
        let _ = write!(page, "<h3>{}</h3>", escape(&channel_name(channel, locale)));
        page.push_str(&table(
            &head,
            &super::audit::audit_rows(audit, channel, locale),
        ));
    }
    let story = super::audit::story_lines(audit, locale);
    if !story.is_empty() {
        let _ = write!(page, "<h3>{}</h3><ul>", escape(story_title(locale)));
        for line in story {
            let _ = write!(page, "<li>{}</li>", escape(&line));
        }
        page.push_str("</ul>");
    }
    page.push_str("</section>");
}

/// A meaning figure's value: money in the currency, shares and rates in percent, days with a
/// decimal.
fn meaning_value(m: MeaningMetric, v: f64, currency: Option<&str>, locale: Locale) -> String {
    match m {
        MeaningMetric::RevenueReturning
        | MeaningMetric::AvgDealSize
        | MeaningMetric::CostPerWonDeal => format_money(v, currency, locale),
        MeaningMetric::ReturningShare | MeaningMetric::LeadToWon | MeaningMetric::Romi => {
            percent(v, locale)
        }
        MeaningMetric::MedianDaysToWon => decimal(v, 1, locale),
    }
}

/// A trend, signed, in the figure's units (shares and rates in percentage points).
fn meaning_trend(m: MeaningMetric, change: f64, currency: Option<&str>, locale: Locale) -> String {
    let sign = if change < 0.0 { "−" } else { "+" };
    match m {
        MeaningMetric::ReturningShare | MeaningMetric::LeadToWon | MeaningMetric::Romi => {
            words::points(change, locale)
        }
        MeaningMetric::RevenueReturning
        | MeaningMetric::AvgDealSize
        | MeaningMetric::CostPerWonDeal
        | MeaningMetric::MedianDaysToWon => {
            format!("{sign}{}", meaning_value(m, change.abs(), currency, locale))
        }
    }
}

fn meaning(page: &mut String, analysis: &Analysis, channels: &[(&str, String)], locale: Locale) {
    let currency = analysis.currency.as_deref();
    let _ = write!(
        page,
        "<section id=\"meaning\"><h2>{}</h2>",
        escape(label(Label::Meaning, locale))
    );
    let head = [Label::Figure, Label::Latest, Label::Trend].map(|l| label(l, locale).to_string());
    for (channel, _) in channels {
        let rows: Vec<&MeaningRow> = analysis
            .meaning
            .iter()
            .filter(|m| m.channel == *channel)
            .collect();
        // The latest complete period: an unfinished one has no trend to show.
        let Some(latest) = rows
            .iter()
            .rev()
            .find(|m| m.complete)
            .or_else(|| rows.last())
        else {
            continue;
        };
        let cells: Vec<Vec<String>> = MeaningMetric::ALL
            .into_iter()
            .map(|m| {
                let trend = latest
                    .trends
                    .iter()
                    .find(|(metric, _)| *metric == m)
                    .and_then(|(_, t)| *t);
                vec![
                    words::meaning_name(m, locale).to_string(),
                    m.value(latest).map_or_else(
                        || label(Label::Unknown, locale).to_string(),
                        |v| meaning_value(m, v, currency, locale),
                    ),
                    trend.map_or("–".to_string(), |t| {
                        meaning_trend(m, t.change, currency, locale)
                    }),
                ]
            })
            .collect();
        let _ = write!(
            page,
            "<h3>{}</h3><p class=\"note\">{}</p>{}",
            escape(&channel_name(channel, locale)),
            escape(&words::meaning_caption(
                latest.period_start,
                latest.period_end,
                locale
            )),
            table(&head, &cells)
        );
    }
    page.push_str("</section>");
}

fn lags(page: &mut String, analysis: &Analysis, locale: Locale) {
    let _ = write!(
        page,
        "<section id=\"lags\"><h2>{}</h2>",
        escape(label(Label::Lags, locale))
    );
    if analysis.lags.is_empty() {
        let _ = write!(page, "<p>{}</p>", escape(label(Label::NoLags, locale)));
    } else {
        page.push_str("<dl class=\"lags\">");
        for lag in &analysis.lags {
            let _ = write!(
                page,
                "<dt>{}</dt><dd>{}</dd>",
                escape(&channel_name(&lag.channel, locale)),
                escape(&crate::text::report::lag_line(
                    lag,
                    analysis.granularity,
                    locale
                ))
            );
        }
        page.push_str("</dl>");
    }
    page.push_str("</section>");
}

fn findings(page: &mut String, analysis: &Analysis, settings: &RuleSettings, locale: Locale) {
    let _ = write!(
        page,
        "<section id=\"findings\"><h2>{}</h2>",
        escape(label(Label::Findings, locale))
    );
    if analysis.findings.is_empty() {
        let _ = write!(page, "<p>{}</p>", escape(label(Label::NoFindings, locale)));
    }
    let flags: Vec<&Finding> = analysis.flagged().collect();
    let gaps: Vec<&Finding> = analysis
        .findings
        .iter()
        .filter(|f| !f.kind().is_flag())
        .collect();
    for (title, id, group) in [
        (Label::Flags, "flags", flags),
        (Label::DataGaps, "gaps", gaps),
    ] {
        if group.is_empty() {
            continue;
        }
        let _ = write!(
            page,
            "<h3 id=\"{id}\">{} ({})</h3>",
            escape(label(title, locale)),
            group.len()
        );
        for f in group {
            finding(page, f, settings, locale);
        }
    }
    page.push_str("</section>");
}

fn finding(page: &mut String, f: &Finding, settings: &RuleSettings, locale: Locale) {
    let kind = f.kind();
    let class = if kind.is_flag() { "flag" } else { "gap" };
    let dates = date_range(
        &DateRange {
            start: f.period_start,
            end: f.period_end,
        },
        locale,
    );
    let _ = write!(
        page,
        "<article class=\"finding {class}\"><p class=\"where\"><span class=\"badge {class}\">{}</span> {} · {}</p><p class=\"sentence\">{}</p>",
        escape(words::badge(kind, locale)),
        escape(&channel_name(&f.channel, locale)),
        escape(&dates),
        escape(&crate::text::describe(f, settings, locale))
    );
    if let Some(decision) = crate::text::decision(f, locale) {
        let _ = write!(
            page,
            "<p><strong>{}:</strong> {}</p>",
            escape(label(Label::Decision, locale)),
            escape(&decision)
        );
    }
    if let Some(money) = f.money_at_stake() {
        let _ = write!(
            page,
            "<p><strong>{}:</strong> {}</p>",
            escape(label(Label::MoneyAtStake, locale)),
            escape(&format_money(money, f.currency.as_deref(), locale))
        );
    }
    page.push_str("</article>");
}

/// The inline stylesheet: system fonts, a readable column, tables that scroll in their own
/// box (never the page, down to a 390 px phone), and print on A4 with a page per section.
/// The badges take the charts' colour-blind-safe colours, and always carry their words.
fn style() -> String {
    let rgb = |(r, g, b): (u8, u8, u8)| format!("rgb({r},{g},{b})");
    let (flag, gap, ink) = (rgb(FLAGGED_SHADE), rgb(GAP_SHADE), rgb(PALETTE[3]));
    let link = rgb(PALETTE[0]);
    format!(
        "*,*::before,*::after{{box-sizing:border-box}}\
         html{{-webkit-text-size-adjust:100%}}\
         body{{margin:0;font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;\
         line-height:1.5;color:#1a1a1a;background:#fff;overflow-wrap:break-word}}\
         header,nav.toc,main{{max-width:60rem;margin:0 auto;padding:0 1rem}}\
         header{{padding-top:1.5rem}}h1{{margin:0;font-size:1.8rem}}\
         .range{{margin:.25rem 0 1rem;color:#444}}\
         h2{{font-size:1.4rem;margin:2rem 0 .75rem;border-bottom:1px solid #ccc}}\
         h3{{font-size:1.1rem;margin:1.25rem 0 .5rem}}\
         a{{color:{link}}}\
         nav.toc ol{{margin:0;padding-left:1.5rem;columns:2 14rem}}\
         nav.toc h2{{font-size:1rem;border:0;margin:0 0 .25rem}}\
         dl.summary{{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.75rem;margin:0 0 1rem}}\
         dl.summary div{{border:1px solid #ddd;border-radius:6px;padding:.5rem .75rem}}\
         dl.summary dt{{font-size:.85rem;color:#444}}dl.summary dd{{margin:0;font-size:1.15rem;font-weight:600}}\
         dl.summary .flagged{{background:{flag};border-color:{ink}}}\
         dl.summary .gap,dl.summary .unknown{{background:{gap}}}\
         figure{{margin:1rem 0}}figcaption,.note{{font-size:.9rem;color:#444}}\
         svg{{width:100%;height:auto;display:block}}\
         details{{margin:.25rem 0 1.5rem}}summary{{cursor:pointer;color:{link}}}\
         .scroll{{overflow-x:auto;max-width:100%;margin:.5rem 0}}\
         table{{border-collapse:collapse;font-size:.85rem;font-variant-numeric:tabular-nums}}\
         th,td{{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}}\
         td{{white-space:nowrap}}td:last-child{{white-space:normal;min-width:12rem}}\
         th{{background:#f4f4f4}}\
         .chain{{font-weight:500}}dl.lags dt{{font-weight:600}}dl.lags dd{{margin:0 0 .5rem}}\
         article.finding{{border-left:4px solid #999;padding:.25rem .75rem;margin:.75rem 0}}\
         article.finding.flag{{border-left-color:{ink}}}\
         article.finding p{{margin:.25rem 0}}\
         .badge{{display:inline-block;font-size:.8rem;font-weight:700;padding:0 .4rem;border-radius:4px;border:1px solid}}\
         .badge.flag{{background:{flag};border-color:{ink};color:#5a2000}}\
         .badge.gap{{background:{gap};border-style:dashed;color:#333}}\
         @media print{{\
         @page{{size:A4;margin:15mm}}\
         body{{font-size:10pt}}nav.toc{{display:none}}\
         header,main{{max-width:none;padding:0}}\
         main>section+section{{break-before:page}}\
         figure,.chart,article.finding{{break-inside:avoid}}\
         .scroll{{overflow:visible}}td{{white-space:normal}}a{{color:inherit;text-decoration:none}}\
         }}"
    )
}

#[cfg(test)]
mod tests {
    use super::indexed;

    #[test]
    fn an_index_keeps_unknowns_unknown_and_centres_on_the_known_mean() {
        assert_eq!(
            indexed(&[Some(50.0), None, Some(150.0)]),
            [Some(50.0), None, Some(150.0)]
        );
        // A series that is all zero, or all unknown, has no index rather than a line of zeros.
        assert_eq!(indexed(&[Some(0.0), Some(0.0)]), [None, None]);
        assert_eq!(indexed(&[None, None]), [None, None]);
    }
}
