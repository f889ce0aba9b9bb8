//! Renders an [`Analysis`] for people (a terminal table) or for other tools (the JSON
//! contract of `kassa analyze --format json`). Rendering only: nothing here decides anything.

use std::collections::HashSet;
use std::fmt::Write;

use crate::analysis::{ALL_CHANNELS, Analysis, FindingKind, channel_order};
use crate::domain::Locale;
use crate::text::{format_money, percent};

/// The JSON contract: `periods` and `findings` (README, "JSON output").
pub fn to_json(analysis: &Analysis) -> String {
    serde_json::to_string_pretty(analysis).expect("an analysis always serialises")
}

/// A readable report: findings first, in plain words, then each channel's periods.
pub fn to_table(analysis: &Analysis, locale: Locale) -> String {
    let mut out = String::new();
    let g = analysis.granularity.noun();
    let _ = writeln!(
        out,
        "kassa: {g}s from {} to {}{}",
        analysis.from,
        analysis.to,
        analysis
            .currency
            .as_deref()
            .map(|c| format!(", amounts in {c}"))
            .unwrap_or_default()
    );
    for warning in &analysis.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }

    let flagged: Vec<_> = analysis.flagged().collect();
    let gaps = analysis
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DataGap)
        .count();
    let _ = writeln!(
        out,
        "\n{} period{} of activity without money; {gaps} {g}{} without a verdict (data gaps).",
        flagged.len(),
        if flagged.len() == 1 { "" } else { "s" },
        if gaps == 1 { "" } else { "s" },
    );
    for finding in &analysis.findings {
        let marker = match finding.kind {
            FindingKind::ActivityWithoutMoney => "FLAG",
            FindingKind::DataGap => "gap ",
        };
        let _ = writeln!(out, "  {marker} {}", finding.message);
    }

    let flagged_keys: HashSet<(&str, chrono::NaiveDate)> = flagged
        .iter()
        .map(|f| (f.channel.as_str(), f.period_start))
        .collect();
    for channel in channel_order(analysis) {
        let title = if channel == ALL_CHANNELS {
            "all channels".to_string()
        } else {
            format!("channel {channel}")
        };
        let _ = writeln!(out, "\n{title}");
        let header = [
            g,
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
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for p in analysis.periods.iter().filter(|p| p.channel == channel) {
            let verdict = if !p.complete {
                "no verdict"
            } else if flagged_keys.contains(&(channel, p.period_start)) {
                "ACTIVITY WITHOUT MONEY"
            } else {
                ""
            };
            rows.push(vec![
                p.period_start.to_string(),
                p.impressions.to_string(),
                p.reach.map_or("?".into(), |r| r.to_string()),
                p.clicks.to_string(),
                p.ctr.map_or("-".into(), |c| format!("{:.2}%", c * 100.0)),
                format_money(p.spend.as_f64(), None, locale),
                p.leads.to_string(),
                p.deals_won.to_string(),
                if p.won_without_amount > 0 {
                    "?".into()
                } else {
                    format_money(p.revenue.as_f64(), None, locale)
                },
                p.romi.map_or("-".into(), |r| percent(r, locale)),
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
