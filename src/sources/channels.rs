//! Channel rules: the one way every CRM connector turns a deal's fields into a kassa channel
//! name, configured as `[[sources.channel_rules]]` tables (`field`, `values`, `channel`).
//!
//! The first rule whose field holds one of its values (trimmed, case ignored) names the deal's
//! channel; a deal no rule matches goes to [`UNATTRIBUTED`], which still counts in `all`. A
//! source without rules uses the lower-cased value of its platform's usual source field
//! (HubSpot's `hs_analytics_source`, amoCRM's `utm_source`, Bitrix24's `UTM_SOURCE`), and
//! [`UNATTRIBUTED`] when that is empty: [`ChannelMapping::new`] is that one path for every
//! connector. HubSpot's older keys (`channel_property`, `channel_map`, `default_channel`) are
//! read as the rules they mean ([`LegacyChannels`]), so they take the same path too. A
//! connector knows how to read a field of its deals, so it passes a lookup and this module
//! knows nothing of any platform's wire format.

use std::collections::BTreeMap;

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

/// A source's rules, in the order they are tried. Empty: the connector's usual source field,
/// lower-cased ([`ChannelMapping::new`]).
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

    /// The channel of the first rule whose field, read through `lookup` (every value the deal
    /// holds in it: amoCRM's tags and multi-value fields hold several), holds one of its
    /// values; `None` when none does.
    fn matching(&self, lookup: &impl Fn(&str) -> Vec<String>) -> Option<&str> {
        self.0
            .iter()
            .find(|rule| {
                lookup(rule.field.trim()).iter().any(|found| {
                    let found = found.trim().to_lowercase();
                    rule.values
                        .iter()
                        .any(|value| value.trim().to_lowercase() == found)
                })
            })
            .map(|rule| rule.channel.as_str())
    }

    /// The rules as `[[sources.channel_rules]]` tables, ready to paste into a configuration.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for rule in &self.0 {
            let values: Vec<String> = rule.values.iter().map(|v| toml_string(v)).collect();
            out.push_str(&format!(
                "[[sources.channel_rules]]\nfield = {}\nvalues = [{}]\nchannel = {}\n",
                toml_string(&rule.field),
                values.join(", "),
                toml_string(&rule.channel),
            ));
        }
        out
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

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How one source names its deals' channels: its rules, then what a deal no rule matches
/// gets. Every CRM connector builds one and asks it for each deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMapping {
    rules: ChannelRules,
    unmatched: Unmatched,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Unmatched {
    /// With rules: [`UNATTRIBUTED`].
    Unattributed,
    /// Without rules: the field's lower-cased value, `empty` when it has none.
    LowerCased { field: String, empty: String },
}

impl ChannelMapping {
    /// The source's `channel_rules`; without any, the lower-cased value of `default_field`
    /// (the platform's usual source field), [`UNATTRIBUTED`] when it is empty.
    pub fn new(rules: &ChannelRules, default_field: &str) -> ChannelMapping {
        let unmatched = if rules.is_empty() {
            Unmatched::LowerCased {
                field: default_field.to_string(),
                empty: UNATTRIBUTED.to_string(),
            }
        } else {
            Unmatched::Unattributed
        };
        ChannelMapping {
            rules: rules.clone(),
            unmatched,
        }
    }

    /// The fields a deal's channel is read from, each once, so a connector can ask for them.
    pub fn fields(&self) -> Vec<&str> {
        let mut fields = self.rules.fields();
        if let Unmatched::LowerCased { field, .. } = &self.unmatched
            && !fields.contains(&field.as_str())
        {
            fields.push(field);
        }
        fields
    }

    /// The deal's channel; `lookup` returns every value the deal holds in a field (none when
    /// the field is missing or empty).
    pub fn channel_for(&self, lookup: impl Fn(&str) -> Vec<String>) -> String {
        if let Some(channel) = self.rules.matching(&lookup) {
            return channel.to_string();
        }
        match &self.unmatched {
            Unmatched::Unattributed => UNATTRIBUTED.to_string(),
            Unmatched::LowerCased { field, empty } => lookup(field)
                .iter()
                .map(|value| value.trim())
                .find(|value| !value.is_empty())
                .map_or_else(|| empty.clone(), str::to_lowercase),
        }
    }
}

/// A source's older mapping keys (HubSpot's `channel_property`, `channel_map` and
/// `default_channel`) read as the rules they mean. They keep working; `kassa check` and every
/// run print [`LegacyChannels::rules`] to paste in their place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyChannels {
    /// The older keys the configuration sets, e.g. `["channel_map"]`.
    pub keys: Vec<&'static str>,
    /// The field the older keys read.
    pub field: String,
    /// One rule per channel of the old map, its values in the map's order.
    pub rules: ChannelRules,
    /// The channel of a deal whose field is empty.
    pub empty: String,
}

impl LegacyChannels {
    /// `map` (field value -> channel) as rules on `field`; `None` when no older key is set.
    pub fn translate(
        keys: Vec<&'static str>,
        field: &str,
        map: &BTreeMap<String, String>,
        empty: Option<&str>,
    ) -> Option<LegacyChannels> {
        if keys.is_empty() {
            return None;
        }
        let mut by_channel: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (value, channel) in map {
            by_channel
                .entry(channel.as_str())
                .or_default()
                .push(value.clone());
        }
        let rules = by_channel
            .into_iter()
            .map(|(channel, values)| ChannelRule {
                field: field.to_string(),
                values,
                channel: channel.to_string(),
            })
            .collect();
        Some(LegacyChannels {
            keys,
            field: field.to_string(),
            rules: ChannelRules(rules),
            empty: empty.unwrap_or(UNATTRIBUTED).to_string(),
        })
    }

    /// The mapping the older keys meant: their rules, then (unlike pasted rules) the field's
    /// lower-cased value, `empty` when it has none.
    pub fn mapping(&self) -> ChannelMapping {
        ChannelMapping {
            rules: self.rules.clone(),
            unmatched: Unmatched::LowerCased {
                field: self.field.clone(),
                empty: self.empty.clone(),
            },
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
                "utm_source" => utm.clone().into_iter().collect(),
                "source" => vec!["yandex".to_string()],
                _ => Vec::new(),
            }
        };
        let mapping = ChannelMapping::new(&rules, "utm_source");
        assert_eq!(mapping.channel_for(deal(Some("  Ya "))), "yandex_direct");
        assert_eq!(mapping.channel_for(deal(Some("VK"))), "vk_ads");
        assert_eq!(mapping.channel_for(deal(Some("google"))), "never_reached");
        let none = ChannelMapping::new(
            &ChannelRules(vec![rule("utm_source", &["vk"], "vk_ads")]),
            "x",
        );
        assert_eq!(none.channel_for(deal(Some("google"))), UNATTRIBUTED);
        assert_eq!(none.channel_for(deal(None)), UNATTRIBUTED);
        assert_eq!(none.fields(), ["utm_source"]);
        assert_eq!(rules.fields(), ["utm_source", "source"]);
    }

    #[test]
    fn any_of_several_values_matches_a_rule() {
        let rules = ChannelRules(vec![rule("tags", &["vk"], "vk_ads")]);
        let mapping = ChannelMapping::new(&rules, "utm_source");
        let tags = |field: &str| match field {
            "tags" => vec!["new".to_string(), "VK".to_string()],
            _ => Vec::new(),
        };
        assert_eq!(mapping.channel_for(tags), "vk_ads");
    }

    #[test]
    fn without_rules_the_default_field_is_lower_cased_and_empty_is_unattributed() {
        let mapping = ChannelMapping::new(&ChannelRules::default(), "UTM_SOURCE");
        assert_eq!(mapping.fields(), ["UTM_SOURCE"]);
        let value = |v: &'static str| move |_: &str| vec![v.to_string()];
        assert_eq!(mapping.channel_for(value(" Yandex ")), "yandex");
        assert_eq!(mapping.channel_for(value("  ")), UNATTRIBUTED);
        assert_eq!(mapping.channel_for(|_: &str| Vec::new()), UNATTRIBUTED);
    }

    #[test]
    fn legacy_keys_become_one_rule_per_channel_and_print_as_toml() {
        let map: BTreeMap<String, String> = [
            ("PAID_SOCIAL", "meta"),
            ("PAID_SEARCH", "google"),
            ("ADWORDS", "google"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(LegacyChannels::translate(Vec::new(), "f", &map, None), None);
        let legacy = LegacyChannels::translate(
            vec!["channel_map", "default_channel"],
            "hs_analytics_source",
            &map,
            Some("unknown"),
        )
        .unwrap();
        assert_eq!(
            legacy.rules.to_toml(),
            "[[sources.channel_rules]]\nfield = \"hs_analytics_source\"\nvalues = [\"ADWORDS\", \"PAID_SEARCH\"]\nchannel = \"google\"\n\
             [[sources.channel_rules]]\nfield = \"hs_analytics_source\"\nvalues = [\"PAID_SOCIAL\"]\nchannel = \"meta\"\n"
        );
        let mapping = legacy.mapping();
        let value = |v: &'static str| move |_: &str| vec![v.to_string()];
        assert_eq!(mapping.channel_for(value("PAID_SEARCH")), "google");
        assert_eq!(mapping.channel_for(value("ORGANIC")), "organic");
        assert_eq!(mapping.channel_for(value("")), "unknown");
        assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
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
