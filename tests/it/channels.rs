//! Channel rules (`src/sources/channels.rs`) over the deal fields every CRM carries, from the
//! fixtures in `fixtures/channels/`: the first matching rule names the channel (trimmed, case
//! ignored, any of a multi-valued field), unmatched deals go to `unattributed`, and without
//! rules each CRM's usual source field is lower-cased.

use std::collections::HashMap;

use kassa::sources::channels::{ChannelMapping, ChannelRules};
use serde::Deserialize;

use crate::helpers::repo;

#[derive(Deserialize)]
struct Table {
    channel_rules: ChannelRules,
}

#[derive(Deserialize)]
struct Case {
    crm: String,
    default_field: String,
    fields: HashMap<String, Vec<String>>,
    with_rules: String,
    without_rules: String,
}

#[derive(Deserialize)]
struct Cases {
    deals: Vec<Case>,
}

#[test]
fn the_fixture_deals_of_every_crm_land_in_their_channels() {
    let dir = repo().join("fixtures/channels");
    let toml = std::fs::read_to_string(dir.join("rules.toml")).unwrap();
    let rules: Table = config::Config::builder()
        .add_source(config::File::from_str(&toml, config::FileFormat::Toml))
        .build()
        .unwrap()
        .try_deserialize()
        .unwrap();
    let cases: Cases =
        serde_json::from_str(&std::fs::read_to_string(dir.join("deals.json")).unwrap()).unwrap();
    assert!(cases.deals.len() >= 5, "one case per CRM at least");
    for case in &cases.deals {
        let lookup = |field: &str| case.fields.get(field).cloned().unwrap_or_default();
        let mapped = ChannelMapping::new(&rules.channel_rules, &case.default_field);
        assert_eq!(
            mapped.channel_for(lookup),
            case.with_rules,
            "{} with rules",
            case.crm
        );
        let plain = ChannelMapping::new(&ChannelRules::default(), &case.default_field);
        assert_eq!(
            plain.channel_for(lookup),
            case.without_rules,
            "{} without rules",
            case.crm
        );
    }
}
