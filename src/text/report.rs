//! The terminal table's words: its heading, warnings, the summary line, the markers and the
//! column headers. The table is an operator's view and speaks English in every locale (only
//! its numbers follow the locale), as it always has; the findings it lists carry their
//! messages in the configured language.

use std::collections::BTreeMap;

use super::period_noun;
use crate::analysis::{ALL_CHANNELS, AnalysisWarning, FindingKind, Granularity};

/// `kassa: weeks from 2025-01-06 to 2025-06-29, amounts in USD`.
pub fn heading(
    g: Granularity,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    currency: Option<&str>,
) -> String {
    format!(
        "kassa: {}s from {from} to {to}{}",
        period_noun(g),
        currency
            .map(|c| format!(", amounts in {c}"))
            .unwrap_or_default()
    )
}

/// A warning about the input as a whole. Also the JSON contract's `warnings` text.
pub fn warning(w: &AnalysisWarning) -> String {
    match w {
        AnalysisWarning::MixedCurrencies(currencies) => format!(
            "amounts come in several currencies ({}); kassa sums them as they are and does not convert",
            currencies.join(", ")
        ),
    }
}

/// How many findings of each kind, in one sentence:
/// `2 periods of activity without money; 1 week without a verdict (data gaps).`
pub fn summary(counts: &BTreeMap<FindingKind, usize>, g: Granularity) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let parts: Vec<String> = FindingKind::ALL
        .into_iter()
        .map(|kind| {
            let n = counts.get(&kind).copied().unwrap_or(0);
            match kind {
                FindingKind::ActivityWithoutMoney => {
                    format!("{n} period{} of activity without money", s(n))
                }
                FindingKind::DataGap => format!(
                    "{n} {}{} without a verdict (data gaps)",
                    period_noun(g),
                    s(n)
                ),
            }
        })
        .collect();
    format!("{}.", parts.join("; "))
}

/// The four-character marker in front of a finding's message.
pub fn marker(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::ActivityWithoutMoney => "FLAG",
        FindingKind::DataGap => "gap ",
    }
}

/// The verdict column of a period with a finding of `kind`, or of a period judged and not
/// flagged (`None`).
pub fn verdict(kind: Option<FindingKind>) -> &'static str {
    match kind {
        Some(FindingKind::ActivityWithoutMoney) => "ACTIVITY WITHOUT MONEY",
        Some(FindingKind::DataGap) => "no verdict",
        None => "clear",
    }
}

/// The title above one channel's rows.
pub fn channel_title(channel: &str) -> String {
    if channel == ALL_CHANNELS {
        "all channels".to_string()
    } else {
        format!("channel {channel}")
    }
}

/// Column headers, the period column named after the granularity.
pub fn columns(g: Granularity) -> [&'static str; 11] {
    [
        period_noun(g),
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
    ]
}
