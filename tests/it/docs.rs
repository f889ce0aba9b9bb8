//! The documentation keeps up with the registries: every source kind and alert target kind
//! that `kassa` accepts is documented in the README and shown in `config/example.toml`, and
//! the README's list of kinds is the registry's. A connector added without its docs fails here.

use kassa::alerts::AlertTargetConfig;
use kassa::sources::SourceConfig;

use crate::helpers::repo;

fn read(name: &str) -> String {
    let path = repo().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_source_kind_is_documented_and_shown_in_the_example() {
    let readme = read("README.md");
    let example = read("config/example.toml");
    for kind in SourceConfig::KINDS {
        assert!(
            readme.contains(&format!("| `{kind}` |")),
            "README.md has no row for source kind `{kind}` in its Sources table"
        );
        assert!(
            example.contains(&format!("kind = \"{kind}\"")),
            "config/example.toml shows no `kind = \"{kind}\"` source"
        );
    }
    let listed = format!("# {}", SourceConfig::KINDS.join(" | "));
    assert!(
        readme.contains(&listed),
        "README.md's config example should list the source kinds as `{listed}`"
    );
}

#[test]
fn every_alert_target_kind_is_documented_and_shown_in_the_example() {
    let readme = read("README.md");
    let example = read("config/example.toml");
    for kind in AlertTargetConfig::KINDS {
        assert!(
            readme.contains(&format!("kind = \"{kind}\"")),
            "README.md's Alerts section shows no `kind = \"{kind}\"` target"
        );
        assert!(
            example.contains(&format!("kind = \"{kind}\"")),
            "config/example.toml shows no `kind = \"{kind}\"` alert target"
        );
    }
}
