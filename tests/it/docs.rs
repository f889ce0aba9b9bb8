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

/// The README's demo-data commands, run as written (the store redirected into a scratch
/// directory through `KASSA__STORE__PATH`), produce the JSON the README shows: the same keys at
/// every level and, for the rows it shows, the same values to the precision it prints. An
/// example edited by hand, or a JSON field added without its documentation, fails here.
#[test]
fn readme_json_example_is_what_the_demo_commands_produce() {
    let readme = read("README.md");
    let commands = sh_block_after(&readme, "To look at the demo data");
    assert!(
        commands.len() >= 2,
        "expected the backfill and analyze commands after \"To look at the demo data\""
    );
    let scratch = tempfile::tempdir().unwrap();
    let store = scratch.path().join("store");
    let run = |args: &[String]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
            .current_dir(repo())
            .args(args)
            .env("KASSA__STORE__PATH", &store)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "`kassa {}` failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let mut analyze = None;
    for args in &commands {
        run(args);
        if args.iter().any(|a| a == "analyze") {
            analyze = Some(args.clone());
        }
    }
    let mut analyze = analyze.expect("an analyze command in the README's demo block");
    analyze.extend(["--format".to_string(), "json".to_string()]);
    let produced: serde_json::Value = serde_json::from_str(&run(&analyze)).unwrap();

    let shown = json_block_after(&readme, "## JSON output");
    let shown: serde_json::Value = serde_json::from_str(&shown)
        .unwrap_or_else(|e| panic!("the README's JSON example does not parse: {e}"));
    assert_shown_matches(&shown, &produced, "$");
}

/// The command lines of the first ```sh block after `marker`, without `cargo run --` and
/// trailing `# comments`.
fn sh_block_after(readme: &str, marker: &str) -> Vec<Vec<String>> {
    let block = fenced_block_after(readme, marker, "```sh");
    block
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            assert_eq!(
                words[..3],
                ["cargo", "run", "--"],
                "a README demo command that is not `cargo run -- ...`: {line}"
            );
            words[3..].to_vec()
        })
        .collect()
}

fn json_block_after(readme: &str, marker: &str) -> String {
    fenced_block_after(readme, marker, "```json")
}

fn fenced_block_after(readme: &str, marker: &str, fence: &str) -> String {
    let after = &readme[readme
        .find(marker)
        .unwrap_or_else(|| panic!("README.md has no {marker:?}"))..];
    let start = after
        .find(fence)
        .unwrap_or_else(|| panic!("no {fence} block after {marker:?}"))
        + fence.len();
    let end = after[start..].find("```").expect("a closing fence") + start;
    after[start..end].to_string()
}

/// Objects must have the same keys; an array in the README is an excerpt whose every element
/// is found in the produced array by its identity (`channel`, `period_start`, `kind`); numbers
/// agree to the decimals printed; a string ending in `...` is a prefix.
fn assert_shown_matches(shown: &serde_json::Value, produced: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (shown, produced) {
        (Value::Object(shown), Value::Object(produced)) => {
            let shown_keys: Vec<&String> = shown.keys().collect();
            let produced_keys: Vec<&String> = produced.keys().collect();
            assert_eq!(
                shown_keys, produced_keys,
                "{at}: the README shows other keys than kassa produces"
            );
            for (key, value) in shown {
                assert_shown_matches(value, &produced[key], &format!("{at}.{key}"));
            }
        }
        (Value::Array(shown), Value::Array(produced)) => {
            for (i, element) in shown.iter().enumerate() {
                let identity =
                    |v: &Value| ["channel", "period_start", "kind"].map(|k| v.get(k).cloned());
                let found = produced
                    .iter()
                    .find(|p| identity(p) == identity(element))
                    .unwrap_or_else(|| {
                        panic!("{at}[{i}]: kassa produces no element like {element}")
                    });
                assert_shown_matches(element, found, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(shown), Value::Number(produced)) => {
            let text = shown.to_string();
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            let tolerance = 0.5 * 10f64.powi(-(decimals as i32)) + 1e-9;
            let (a, b) = (shown.as_f64().unwrap(), produced.as_f64().unwrap());
            assert!(
                (a - b).abs() <= tolerance,
                "{at}: the README shows {text}, kassa produces {b}"
            );
        }
        (Value::String(shown), Value::String(produced)) if shown.ends_with("...") => {
            assert!(
                produced.starts_with(shown.trim_end_matches("...")),
                "{at}: the README shows {shown:?}, kassa produces {produced:?}"
            );
        }
        _ => assert_eq!(shown, produced, "{at}: the README differs from kassa"),
    }
}

/// Every key a source or alert target accepts is named in the README, so nothing the config
/// takes is undocumented. The keys are read from serde's own "unknown field, expected one of"
/// message, so a field added to a config struct is covered without listing it here.
#[test]
fn every_accepted_config_key_is_documented() {
    let readme = read("README.md");
    let mut undocumented = Vec::new();
    let mut check = |what: &str, kind: &str, keys: Vec<String>| {
        assert!(!keys.is_empty(), "no keys read for {what} `{kind}`");
        for key in keys {
            if !readme.contains(&format!("{key} =")) && !readme.contains(&format!("`{key}`")) {
                undocumented.push(format!("{what} `{kind}`: `{key}`"));
            }
        }
    };
    for kind in SourceConfig::KINDS {
        check("source", kind, accepted_keys::<SourceConfig>(kind));
    }
    for kind in AlertTargetConfig::KINDS {
        check(
            "alert target",
            kind,
            accepted_keys::<AlertTargetConfig>(kind),
        );
    }
    assert!(
        undocumented.is_empty(),
        "keys accepted but not in README.md (as `key =` or `key`):\n{}",
        undocumented.join("\n")
    );
}

fn accepted_keys<T: serde::de::DeserializeOwned + std::fmt::Debug>(kind: &str) -> Vec<String> {
    let toml = format!("[[t]]\nkind = \"{kind}\"\nnot_a_key_of_any_kind = 1\n");
    let error = config::Config::builder()
        .add_source(config::File::from_str(&toml, config::FileFormat::Toml))
        .build()
        .unwrap()
        .get::<Vec<T>>("t")
        .unwrap_err()
        .to_string();
    let expected = error
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("`{kind}` does not deny unknown fields: {error}"))
        .1;
    expected
        .split(", ")
        .filter_map(|key| key.split('`').nth(1))
        .map(str::to_string)
        .collect()
}
