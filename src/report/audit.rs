//! The terminal table of `kassa audit`: the window and the correction, each channel's metrics
//! with their best lag, correlations, n, corrected interval and verdict, then the story in
//! one line per verdict (which metrics get it and what that means for a decision).

use std::fmt::Write;

use super::table::write_rows;
use crate::analysis::{Analysis, AuditVerdict, MetricAudit};
use crate::domain::Locale;
use crate::text::audit::{columns, correction, heading, story_line, story_title, verdict};
use crate::text::decimal;
use crate::text::report::channel_title;

/// The audit for people.
pub fn to_audit_table(analysis: &Analysis, locale: Locale) -> String {
    let audit = &analysis.metric_audit;
    let mut out = String::new();
    let _ = writeln!(out, "{}", heading(audit, analysis.granularity, locale));
    let _ = writeln!(out, "{}", correction(audit, locale));

    for channel in audit_channels(audit) {
        let _ = writeln!(out, "\n{}", channel_title(channel, locale));
        let mut rows: Vec<Vec<String>> =
            vec![columns(locale).iter().map(|c| c.to_string()).collect()];
        rows.extend(audit_rows(audit, channel, locale));
        write_rows(&mut out, &rows, 1);
    }

    let _ = writeln!(out, "\n{}", story_title(locale));
    for line in story_lines(audit, locale) {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// The audited channels, in the audit's order (the total first).
pub(super) fn audit_channels(audit: &MetricAudit) -> Vec<&str> {
    let mut channels: Vec<&str> = Vec::new();
    for row in &audit.rows {
        if !channels.contains(&row.channel.as_str()) {
            channels.push(&row.channel);
        }
    }
    channels
}

/// One channel's audit rows in the columns of [`columns`] (the terminal table and the HTML
/// report show the same cells).
pub(super) fn audit_rows(audit: &MetricAudit, channel: &str, locale: Locale) -> Vec<Vec<String>> {
    let r = |v: f64| decimal(v, 2, locale);
    audit
        .rows
        .iter()
        .filter(|row| row.channel == channel)
        .map(|row| {
            let (lag, pearson, spearman, low, high) = match row.best {
                Some(b) => (
                    b.lag.to_string(),
                    r(b.pearson.r),
                    b.spearman.map_or("-".into(), |s| r(s.r)),
                    r(b.ci_low),
                    r(b.ci_high),
                ),
                None => Default::default(),
            };
            vec![
                crate::text::metric_name(row.metric.name(), locale).to_string(),
                lag,
                pearson,
                spearman,
                row.n.to_string(),
                low,
                high,
                verdict(row.verdict, locale).to_string(),
            ]
        })
        .collect()
}

/// The story: one line per verdict some metric got.
pub(super) fn story_lines(audit: &MetricAudit, locale: Locale) -> Vec<String> {
    AuditVerdict::EVERY
        .into_iter()
        .filter_map(|v| {
            let items: Vec<(&str, &str)> = audit
                .rows
                .iter()
                .filter(|row| row.verdict == v)
                .map(|row| (row.metric.name(), row.channel.as_str()))
                .collect();
            (!items.is_empty()).then(|| story_line(v, &items, audit.money_metric.name(), locale))
        })
        .collect()
}
