//! Channel rules: the one way every CRM connector turns a deal's field into a kassa channel
//! name, configured as `[[sources.channel_rules]]` tables (`field`, `values`, `channel`).
//!
//! The first rule whose field holds one of its values (trimmed, case ignored) names the deal's
//! channel; a deal no rule matches goes to [`UNATTRIBUTED`], which still counts in `all`. A
//! connector knows how to read a field of its deals, so it passes a lookup and this module
//! knows nothing of any platform's wire format.

use serde::Deserialize;

use crate::validation::Problems;

/// The channel of a deal no rule matches.
pub const UNATTRIBUTED: &str = "unattributed";

/// One `[[sources.channel_rules]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChannelRule {
    /// The deal's field to read (a HubSpot property, an amoCRM field, a Bitrix24 deal field).
    pub field: String,
    /// The field's values that mean this channel, compared trimmed and ignoring case.
    pub values: Vec<String>,
    /// The kassa channel, e.g. "yandex_direct".
    pub channel: String,
}

/// A source's rules, in the order they are tried. Empty: the connector maps channels its own
/// way (`channel_map` and `default_channel`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct ChannelRules(pub Vec<ChannelRule>);

impl ChannelRules {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields the rules read, each once, so a connector can ask the platform for them.
    pub fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = Vec::new();
        for rule in &self.0 {
            let field = rule.field.trim();
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        fields
    }

    /// The channel of the first rule whose field, read through `lookup`, holds one of its
    /// values; [`UNATTRIBUTED`] when none does.
    pub fn channel_for(&self, lookup: impl Fn(&str) -> Option<String>) -> String {
        self.0
            .iter()
            .find(|rule| {
                lookup(rule.field.trim()).is_some_and(|found| {
                    let found = found.trim();
                    rule.values
                        .iter()
                        .any(|value| value.trim().to_lowercase() == found.to_lowercase())
                })
            })
            .map_or_else(|| UNATTRIBUTED.to_string(), |rule| rule.channel.clone())
    }

    /// Reports every unusable rule under `{key}.channel_rules[j]`; `legacy` names the source's
    /// older mapping keys that are set, which the rules would silently override.
    pub fn validate(&self, key: &str, legacy: &[(&str, bool)], problems: &mut Problems) {
        const EXAMPLE: &str = "[[sources.channel_rules]]\nfield = \"utm_source\"\nvalues = [\"yandex\", \"ya\"]\nchannel = \"yandex_direct\"";
        for (j, rule) in self.0.iter().enumerate() {
            let at = format!("{key}.channel_rules[{j}]");
            if rule.field.trim().is_empty() {
                problems.push_with_example(format!("{at}.field"), "is empty", EXAMPLE);
            }
            if rule.values.is_empty() {
                problems.push_with_example(format!("{at}.values"), "is empty", EXAMPLE);
            } else if let Some(blank) = rule.values.iter().position(|v| v.trim().is_empty()) {
                problems.push_with_example(
                    format!("{at}.values"),
                    format!("value {} is blank", blank + 1),
                    EXAMPLE,
                );
            }
            let channel = rule.channel.trim();
            if channel.is_empty() || channel != rule.channel || channel == "all" {
                problems.push_with_example(
                    format!("{at}.channel"),
                    format!(
                        "{:?} is not a usable channel name (empty, padded or \"all\")",
                        rule.channel
                    ),
                    EXAMPLE,
                );
            }
        }
        if !self.is_empty() {
            for (name, _) in legacy.iter().filter(|(_, set)| *set) {
                problems.push(
                    format!("{key}.{name}"),
                    "cannot be used with channel_rules: move its values into rules \
                     (a deal no rule matches goes to \"unattributed\")",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(field: &str, values: &[&str], channel: &str) -> ChannelRule {
        ChannelRule {
            field: field.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
            channel: channel.to_string(),
        }
    }

    #[test]
    fn channel_rules_match_first_rule_trimmed_ignoring_case() {
        let rules = ChannelRules(vec![
            rule("utm_source", &["yandex", "ya", "direct"], "yandex_direct"),
            rule("utm_source", &["vk"], "vk_ads"),
            rule("source", &["YANDEX"], "never_reached"),
        ]);
        let deal = |utm: Option<&str>| {
            let utm = utm.map(str::to_string);
            move |field: &str| match field {
                "utm_source" => utm.clone(),
                "source" => Some("yandex".to_string()),
                _ => None,
            }
        };
        assert_eq!(rules.channel_for(deal(Some("  Ya "))), "yandex_direct");
        assert_eq!(rules.channel_for(deal(Some("VK"))), "vk_ads");
        assert_eq!(rules.channel_for(deal(Some("google"))), "never_reached");
        let none = ChannelRules(vec![rule("utm_source", &["vk"], "vk_ads")]);
        assert_eq!(none.channel_for(deal(Some("google"))), UNATTRIBUTED);
        assert_eq!(none.channel_for(deal(None)), UNATTRIBUTED);
        assert_eq!(rules.fields(), ["utm_source", "source"]);
    }

    #[test]
    fn channel_rules_report_every_problem() {
        let rules = ChannelRules(vec![
            rule("", &[], ""),
            rule("utm_source", &["ya", " "], "all"),
        ]);
        let mut problems = Problems::default();
        rules.validate("sources[1]", &[("channel_map", true)], &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sources[1].channel_rules[0].field",
                "sources[1].channel_rules[0].values",
                "sources[1].channel_rules[0].channel",
                "sources[1].channel_rules[1].values",
                "sources[1].channel_rules[1].channel",
                "sources[1].channel_map",
            ]
        );
        assert!(problems.iter().all(|p| {
            p.key.ends_with("channel_map")
                || p.example
                    .as_deref()
                    .is_some_and(|e| e.contains("channel_rules"))
        }));
    }
}
