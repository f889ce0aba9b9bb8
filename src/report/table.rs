//! The terminal table of `kassa analyze`: findings first, in plain words, then each channel's
//! periods with their numbers and verdicts.

use std::collections::HashMap;
use std::fmt::Write;

use crate::analysis::{Analysis, FindingKind, Verdict, channel_order};
use crate::domain::Locale;
use crate::text::report::{
    channel_title, columns, heading, marker, summary, verdict, warning_line,
};
use crate::text::{ctr, format_money, integer, percent};

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

    let flagged: HashMap<(&str, chrono::NaiveDate), FindingKind> = analysis
        .flagged()
        .map(|f| ((f.channel.as_str(), f.period_start), f.kind()))
        .collect();
    let header = columns(g, locale);
    for channel in channel_order(analysis) {
        let _ = writeln!(out, "\n{}", channel_title(channel, locale));
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for p in analysis.periods.iter().filter(|p| p.channel == channel) {
            let verdict = match p.verdict {
                Verdict::NoVerdict => verdict(Some(FindingKind::DataGap), locale),
                Verdict::Flagged => {
                    verdict(flagged.get(&(channel, p.period_start)).copied(), locale)
                }
                Verdict::Clear => verdict(None, locale),
            };
            // Unknown revenue makes ROMI unknown too ("?"); "-" is a ratio over zero spend.
            let unknown_or = |known: String| p.revenue.map_or("?".to_string(), |_| known);
            rows.push(vec![
                p.period_start.to_string(),
                integer(p.impressions, locale),
                p.reach.map_or("?".into(), |r| integer(r, locale)),
                integer(p.clicks, locale),
                p.ctr.map_or("-".into(), |c| ctr(c, locale)),
                format_money(p.spend.as_f64(), None, locale),
                integer(p.leads, locale),
                integer(p.deals_won, locale),
                p.revenue
                    .map_or("?".into(), |r| format_money(r.as_f64(), None, locale)),
                unknown_or(p.romi.map_or("-".into(), |r| percent(r, locale))),
                verdict.to_string(),
            ]);
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        for row in rows {
            let mut line = String::from("  ");
            for (i, cell) in row.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                // Numbers align right, the period and the verdict left.
                if i == 0 || i == header.len() - 1 {
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
    out
}
