//! `kassa analyze --replay`: the alerts the nightly run would have recorded, night by night,
//! as a terminal table or JSON (README, "Replay").

use std::fmt::Write;

use chrono::NaiveDate;
use serde::Serialize;

use crate::alerts::AlertMessage;
use crate::domain::Locale;
use crate::text::{format_money, meaning::replay_heading, meaning::replay_none};

/// One alert a replayed night would have recorded for a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub night: NaiveDate,
    pub target: String,
    pub message: AlertMessage,
    /// The money at stake of the episode the alert is about (the order the run sends in, and
    /// what a target's `min_money_at_stake` compares); `None` for data gaps and sources down.
    pub money_at_stake: Option<f64>,
}

/// One line per alert: night, target, event, kind, channel, money at stake, title.
pub fn to_table(
    replayed: &[Replayed],
    from: NaiveDate,
    to: NaiveDate,
    currency: Option<&str>,
    locale: Locale,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", replay_heading(from, to, replayed.len(), locale));
    if replayed.is_empty() {
        let _ = writeln!(out, "{}", replay_none(locale));
    }
    for r in replayed {
        let money = r
            .money_at_stake
            .map_or_else(|| "-".to_string(), |s| format_money(s, currency, locale));
        let _ = writeln!(
            out,
            "{}  {:<12} {:<16} {:<26} {:<10} {:>14}  {}",
            r.night,
            r.target,
            r.message.event.as_str(),
            r.message.finding_kind,
            r.message.channel,
            money,
            r.message.title
        );
    }
    out
}

#[derive(Serialize)]
struct ReplayJson<'a> {
    from: NaiveDate,
    to: NaiveDate,
    currency: Option<&'a str>,
    alerts: Vec<AlertJson<'a>>,
}

#[derive(Serialize)]
struct AlertJson<'a> {
    night: NaiveDate,
    target: &'a str,
    id: &'a str,
    event: &'static str,
    kind: &'a str,
    channel: &'a str,
    title: &'a str,
    money_at_stake: Option<f64>,
    data: &'a serde_json::Value,
}

/// `{"from", "to", "currency", "alerts": [...]}`, pretty-printed.
#[allow(
    clippy::expect_used,
    reason = "plain structs of strings, numbers, dates and JSON values: serde_json cannot fail on them"
)]
pub fn to_json(
    replayed: &[Replayed],
    from: NaiveDate,
    to: NaiveDate,
    currency: Option<&str>,
) -> String {
    let json = ReplayJson {
        from,
        to,
        currency,
        alerts: replayed
            .iter()
            .map(|r| AlertJson {
                night: r.night,
                target: &r.target,
                id: &r.message.id,
                event: r.message.event.as_str(),
                kind: &r.message.finding_kind,
                channel: &r.message.channel,
                title: &r.message.title,
                money_at_stake: r.money_at_stake,
                data: &r.message.data,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&json).expect("a replay always serialises")
}
