//! The terminal table of `kassa analyze`: findings first, in plain words, then each channel's
//! periods with their numbers and verdicts, then (when there are claims) the reconciliation:
//! each claim beside what kassa observed.

use std::fmt::Write;

use crate::analysis::{
    Analysis, FindingKind, PeriodMetrics, ReconciliationRow, Verdict, channel_order,
};
use crate::domain::Locale;
use crate::text::report::{
    channel_title, columns, flagged, heading, lag_line, marker, summary, verdict, warning_line,
};
use crate::text::{ctr, date_range, decimal, format_money, integer, percent, reconcile};

/// A readable report: findings first, in plain words, then each channel's periods.
pub fn to_table(analysis: &Analysis, locale: Locale) -> String {
    let mut out = String::new();
    let g = analysis.granularity;
    let _ = writeln!(
        out,
        "{}",
        heading(
            g,
            analysis.from,
            analysis.to,
            analysis.currency.as_deref(),
            locale
        )
    );
    for w in &analysis.warnings {
        let _ = writeln!(out, "{}", warning_line(w, locale));
    }

    let _ = writeln!(out, "\n{}", summary(&analysis.counts(), g, locale));
    for finding in &analysis.findings {
        let _ = writeln!(
            out,
            "  {} {}",
            marker(finding.kind(), locale),
            finding.message
        );
    }

    let header = columns(g, locale);
    for channel in channel_order(analysis) {
        let _ = writeln!(out, "\n{}", channel_title(channel, locale));
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for p in analysis.periods.iter().filter(|p| p.channel == channel) {
            let verdict = verdict_word(analysis, p, locale);
            // Unknown revenue makes ROMI unknown too ("?"); "-" is a ratio over zero spend.
            let unknown_or = |known: String| p.revenue.map_or("?".to_string(), |_| known);
            rows.push(vec![
                p.period_start.to_string(),
                integer(p.impressions, locale),
                p.reach.map_or("?".into(), |r| integer(r, locale)),
                integer(p.clicks, locale),
                p.ctr.map_or("-".into(), |c| ctr(c, locale)),
                p.spend
                    .map_or("?".into(), |s| format_money(s.as_f64(), None, locale)),
                integer(p.leads, locale),
                integer(p.deals_won, locale),
                p.revenue
                    .map_or("?".into(), |r| format_money(r.as_f64(), None, locale)),
                unknown_or(p.romi.map_or("-".into(), |r| percent(r, locale))),
                verdict.to_string(),
            ]);
        }
        write_rows(&mut out, &rows, 1);
        if let Some(lag) = analysis.lags.iter().find(|l| l.channel == channel) {
            let _ = writeln!(out, "  {}", lag_line(lag, g, locale));
        }
    }
    if !analysis.reconciliation.is_empty() {
        let _ = writeln!(out, "\n{}", reconcile::section_title(locale));
        let mut rows: Vec<Vec<String>> = vec![
            reconcile::columns(locale)
                .iter()
                .map(|h| h.to_string())
                .collect(),
        ];
        rows.extend(reconciliation_rows(&analysis.reconciliation, locale));
        // The dates, channel, metric and source align left like the verdict.
        write_rows(&mut out, &rows, 4);
    }
    out
}

/// The word for a period's verdict: the rule that flagged it (the default rule first when
/// several did), `no verdict` or `clear`. Claims have their own section, so a period row never
/// carries their verdicts. The terminal table and the HTML report say the same.
pub(super) fn verdict_word(analysis: &Analysis, p: &PeriodMetrics, locale: Locale) -> &'static str {
    match p.verdict {
        Verdict::NoVerdict => verdict(Some(FindingKind::DataGap), locale),
        Verdict::Clear => verdict(None, locale),
        Verdict::Flagged => analysis
            .flagged()
            .filter(|f| f.channel == p.channel && f.period_start == p.period_start)
            .map(|f| f.kind())
            .filter(|kind| !verdict(Some(*kind), locale).is_empty())
            .min_by_key(|kind| *kind != FindingKind::ActivityWithoutMoney)
            .map_or_else(|| flagged(locale), |kind| verdict(Some(kind), locale)),
    }
}

/// The reconciliation's rows, one per claim, in the columns of [`reconcile::columns`] (the
/// terminal table and the HTML report show the same cells).
pub(super) fn reconciliation_rows<'a>(
    claims: impl IntoIterator<Item = &'a ReconciliationRow>,
    locale: Locale,
) -> Vec<Vec<String>> {
    claims
        .into_iter()
        .map(|r| {
            let amount =
                |v: f64| reconcile::claim_amount(r.metric, v, r.currency.as_deref(), locale);
            let pair =
                |claimed: Option<f64>, observed: Option<f64>, cell: &dyn Fn(f64) -> String| match (
                    claimed, observed,
                ) {
                    (None, None) => String::new(),
                    (c, o) => format!(
                        "{} / {}",
                        c.map_or("?".into(), cell),
                        o.map_or("?".into(), cell)
                    ),
                };
            let money = |v: f64| format_money(v, r.currency.as_deref(), locale);
            let ratio = |v: f64| decimal(v, 2, locale);
            vec![
                date_range(&r.period, locale),
                r.channel.clone(),
                reconcile::claim_metric(r.metric, locale).to_string(),
                r.claimed_by.clone(),
                amount(r.claimed),
                r.observed.map_or("?".into(), amount),
                match (r.gap, r.gap_ratio) {
                    (Some(gap), Some(ratio)) => {
                        let sign = if gap < 0.0 { "−" } else { "+" };
                        format!(
                            "{sign}{} ({sign}{})",
                            amount(gap.abs()),
                            percent(ratio.abs(), locale)
                        )
                    }
                    _ => "?".into(),
                },
                pair(r.cpl_claimed, r.cpl_observed, &money),
                pair(r.roas_claimed, r.roas_observed, &ratio),
                reconcile::claim_verdict_cell(&r.verdict, locale).to_string(),
            ]
        })
        .collect()
}

/// Writes `rows` (the header first) as aligned columns: the first `left` columns and the last
/// align left, the numbers between them right.
pub(super) fn write_rows(out: &mut String, rows: &[Vec<String>], left: usize) {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i < left || i == columns - 1 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
            line.push_str("  ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}
