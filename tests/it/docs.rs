//! The documentation keeps up with the registries: every source kind and alert target kind
//! that `kassa` accepts is documented in the README and shown in `config/example.toml`, and
//! the README's list of kinds is the registry's. A connector added without its docs fails here.
//! The fault matrix (`docs/reliability.md`) names a test for every fault, and every test it
//! names exists. The Kubernetes manifests run only commands and options kassa has, their
//! configuration passes `kassa check --offline` (the agency's, every tenant over its base
//! file), the Secrets show every file it reads, and the agency's Job has one pod per shard.

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

/// `config/example.toml` configures (not only shows in comments) one source of every kind that
/// reaches a platform's API; the CSV kinds are files and stay commented.
#[test]
fn the_example_configures_one_source_of_every_api_kind() {
    let settings = kassa::config::Settings::load_for(
        Some(&repo().join("config/example.toml")),
        kassa::config::Secrets::Unused,
    )
    .unwrap();
    let mut configured: Vec<&str> = settings.sources.iter().map(|s| s.kind()).collect();
    configured.sort_unstable();
    let mut api: Vec<&str> = SourceConfig::KINDS
        .iter()
        .copied()
        .filter(|kind| !kind.starts_with("csv_"))
        .collect();
    api.sort_unstable();
    assert_eq!(configured, api);
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

pub(crate) fn accepted_keys<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    kind: &str,
) -> Vec<String> {
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

/// One row of a table in `docs/reliability.md`: its line, its fault (first cell) and the
/// test names of its last cell (every `backticked` word there).
struct FaultRow {
    line: usize,
    fault: String,
    tests: Vec<String>,
    todo: bool,
}

/// Every data row of every table in `docs/reliability.md` (headers and separators left out).
fn fault_rows() -> Vec<FaultRow> {
    let doc = read("docs/reliability.md");
    let lines: Vec<&str> = doc.lines().collect();
    let mut rows = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let is_row = |l: &str| l.trim_start().starts_with('|');
        let is_separator = |l: &str| l.trim().trim_matches('|').starts_with("---");
        let is_header = lines.get(i + 1).is_some_and(|next| is_separator(next));
        if !is_row(line) || is_separator(line) || is_header {
            continue;
        }
        let cells = table_cells(line);
        let last = cells.last().cloned().unwrap_or_default();
        rows.push(FaultRow {
            line: i + 1,
            fault: cells.first().cloned().unwrap_or_default(),
            tests: last
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect(),
            todo: last.contains("TODO(merge)"),
        });
    }
    rows
}

/// The cells of a Markdown table row; `\|` inside a cell is not a boundary.
fn table_cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = line.trim().trim_start_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().unwrap().push('|');
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// Where the test `name` (as `cargo test -- --list` prints it) is defined, if it is. A name
/// with a `tests` segment is a unit test in `src/` (`http::auth::tests::x` in
/// `src/http/auth.rs` or `src/http/auth/mod.rs`); any other is in the integration tests,
/// `tests/it/<first segment>.rs`. `<module>::contract::<check>` is generated by
/// `connector_contract!` in that module from the check list in `tests/it/connector/mod.rs`.
fn find_test(name: &str) -> Result<String, String> {
    let segments: Vec<&str> = name.split("::").collect();
    let function = *segments.last().unwrap();
    let candidates = |base: &str, modules: &[&str]| {
        let joined = modules.join("/");
        [
            format!("{base}/{joined}.rs"),
            format!("{base}/{joined}/mod.rs"),
        ]
    };
    let (files, macro_check) = match segments.iter().position(|s| *s == "tests") {
        Some(at) if at > 0 => (candidates("src", &segments[..at]), false),
        _ if segments.len() < 2 => return Err("not a module path".into()),
        _ => (
            candidates("tests/it", &segments[..1]),
            segments.len() == 3 && segments[1] == "contract",
        ),
    };
    let Some(file) = files.iter().find(|f| repo().join(f).is_file()) else {
        return Err(format!("no file {}", files.join(" or ")));
    };
    let source = read(file);
    if macro_check {
        let module = segments[0];
        if !source.contains("connector_contract!(contract,") {
            return Err(format!(
                "{file} has no `connector_contract!(contract, ...)` line"
            ));
        }
        let kit = read("tests/it/connector/mod.rs");
        let listed = kit
            .split_once("@checks $module, $platform;")
            .and_then(|(_, rest)| rest.split_once(");"))
            .map(|(list, _)| list.split(',').any(|c| c.trim() == function))
            .unwrap_or(false);
        return if listed {
            Ok(format!("{file} (contract check for {module})"))
        } else {
            Err(format!(
                "`{function}` is not a check of connector_contract!"
            ))
        };
    }
    let lines: Vec<&str> = source.lines().collect();
    let defined = lines.iter().enumerate().any(|(i, line)| {
        let trimmed = line.trim_start();
        let declares = ["fn ", "async fn "]
            .iter()
            .any(|p| trimmed.starts_with(&format!("{p}{function}(")));
        // Attributes and comments may stand between the test attribute and the function.
        declares
            && lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim())
                .take_while(|l| l.starts_with("#[") || l.starts_with("//"))
                .any(|l| l.starts_with("#[test]") || l.starts_with("#[tokio::test"))
    });
    if defined {
        Ok(file.clone())
    } else {
        Err(format!("no test function `{function}` in {file}"))
    }
}

/// Every test that `docs/reliability.md` names exists, where its name says (including the
/// contract checks that `connector_contract!` generates), so the fault matrix cannot claim a
/// test that was renamed or removed.
#[test]
fn every_test_named_in_reliability_md_exists() {
    let rows = fault_rows();
    assert!(rows.len() >= 40, "only {} rows read", rows.len());
    let missing: Vec<String> = rows
        .iter()
        .flat_map(|row| row.tests.iter().map(move |name| (row, name)))
        .filter_map(|(row, name)| {
            find_test(name)
                .err()
                .map(|why| format!("line {}: `{name}`: {why}", row.line))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/reliability.md names tests that do not exist:\n{}",
        missing.join("\n")
    );
}

/// Every fault in `docs/reliability.md` names at least one test, and none is left as
/// `TODO(merge)`: nothing lands untested.
#[test]
fn every_fault_in_reliability_md_names_a_test() {
    let untested: Vec<String> = fault_rows()
        .iter()
        .filter(|row| row.todo || row.tests.is_empty())
        .map(|row| format!("line {}: {}", row.line, row.fault))
        .collect();
    assert!(
        untested.is_empty(),
        "faults in docs/reliability.md without a test:\n{}",
        untested.join("\n")
    );
}

/// The checker itself: it finds a plain test, a unit test, a generated contract check, and
/// refuses names that exist nowhere or are not tests.
#[test]
fn the_reliability_checker_finds_real_tests_and_only_those() {
    for name in [
        "docs::every_test_named_in_reliability_md_exists",
        "http::tests::dns_failure_is_named",
        "http::auth::tests::debug_output_never_shows_secrets",
        "hubspot::contract::a_redirect_is_never_followed",
        "properties::money_round_trips_exactly_through_its_decimal_text",
    ] {
        assert!(find_test(name).is_ok(), "{name}: {:?}", find_test(name));
    }
    for name in [
        "docs::no_such_test",
        "docs::fault_rows",
        "http::tests::no_such_test",
        "hubspot::contract::no_such_check",
        "nowhere::a_test",
        "a_bare_name",
    ] {
        assert!(find_test(name).is_err(), "{name} was found");
    }
    let cells = table_cells("| a | list\\|retry | `x`, `y` |");
    assert_eq!(cells, ["a", "list|retry", "`x`, `y`"]);
}

/// The example configurations are ones kassa accepts: with the variables each names set (and
/// the store redirected into a scratch directory), `check --offline` passes; the Russian ones
/// answer in Russian.
#[test]
fn the_example_configurations_pass_check_offline() {
    let variables = [
        ("KASSA_META_TOKEN", "meta-token-for-the-example"),
        ("KASSA_HUBSPOT_TOKEN", "hubspot-token-for-the-example"),
        (
            "KASSA_TEAM_WEBHOOK",
            "https://hooks.slack.com/services/T0/B0/example",
        ),
        (
            "KASSA_TELEGRAM_TOKEN",
            "123456:telegram-token-for-the-example",
        ),
        ("KASSA_YANDEX_DIRECT_TOKEN", "yandex-token-for-the-example"),
        ("KASSA_VK_CLIENT_ID", "vk-client-for-the-example"),
        ("KASSA_VK_CLIENT_SECRET", "vk-secret-for-the-example"),
        ("KASSA_AMOCRM_TOKEN", "amocrm-token-for-the-example"),
        (
            "KASSA_BITRIX24_URL",
            "https://example.bitrix24.ru/rest/1/key-for-the-example/",
        ),
        (
            "KASSA_GOOGLE_ADS_CLIENT_ID",
            "google-client-for-the-example",
        ),
        (
            "KASSA_GOOGLE_ADS_CLIENT_SECRET",
            "google-secret-for-the-example",
        ),
        (
            "KASSA_GOOGLE_ADS_REFRESH_TOKEN",
            "google-refresh-for-the-example",
        ),
        ("KASSA_PIPEDRIVE_TOKEN", "pipedrive-token-for-the-example"),
        (
            "KASSA_SALESFORCE_CLIENT_SECRET",
            "salesforce-secret-for-the-example",
        ),
    ];
    for (file, russian) in [
        ("config/example.toml", false),
        ("config/example-ru.toml", true),
        ("config/example-ru-bitrix24.toml", true),
    ] {
        let scratch = tempfile::tempdir().unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
            .current_dir(scratch.path())
            .arg("--config")
            .arg(repo().join(file))
            .args(["check", "--offline"])
            .env("KASSA__STORE__PATH", scratch.path().join("store"))
            .envs(variables)
            .env_remove("KASSA_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{file}:\nstdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if russian {
            assert!(stdout.contains("настройки верны"), "{file}:\n{stdout}");
            assert!(!stdout.contains("configuration"), "{file}:\n{stdout}");
        }
    }
}

/// Every YAML file under `deploy/kubernetes/`, sorted.
fn kubernetes_manifests() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo().join("deploy/kubernetes"), &mut found);
    found.sort();
    found
}

/// The `args:` lists of a manifest, read as text: flow style (`args: ["run"]`) or a block of
/// `- item` lines under `args:`.
fn container_args(yaml: &str) -> Vec<Vec<String>> {
    let unquote = |item: &str| item.trim().trim_matches('"').trim_matches('\'').to_string();
    let lines: Vec<&str> = yaml.lines().collect();
    let mut lists = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some((indent, rest)) = line.split_once("args:") else {
            continue;
        };
        // A key of its own (`args:` or `- args:`), not a word in a comment or a value.
        if !matches!(indent.trim(), "" | "-") {
            continue;
        }
        let rest = rest.trim();
        if let Some(flow) = rest.strip_prefix('[') {
            let flow = flow.split(']').next().unwrap_or_default();
            lists.push(
                flow.split(',')
                    .map(unquote)
                    .filter(|a| !a.is_empty())
                    .collect(),
            );
        } else {
            let items = lines[at + 1..]
                .iter()
                .map(|l| l.trim())
                .take_while(|l| l.starts_with("- "))
                .map(|l| unquote(&l[2..]))
                .collect();
            lists.push(items);
        }
    }
    lists
}

/// The words of a `--help` text that name a long option (`--from`, `--verbose...`).
fn help_flags(help: &str) -> Vec<String> {
    help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|word| word.starts_with("--"))
        .map(|word| {
            word.trim_end_matches('.')
                .split('=')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn kassa_help(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
        .args(args)
        .arg("--help")
        .env_remove("KASSA_CONFIG")
        .output()
        .unwrap();
    assert!(output.status.success(), "kassa {args:?} --help failed");
    String::from_utf8(output.stdout).unwrap()
}

/// The Kubernetes manifests run only what kassa has: each container's `args` start with a
/// subcommand `kassa --help` lists, and every option after it is one that subcommand's help
/// names (the image's entrypoint is `kassa`; global options go in the environment, as
/// `KASSA_CONFIG`).
#[test]
fn the_kubernetes_manifests_run_only_commands_and_flags_kassa_has() {
    let top = kassa_help(&[]);
    let commands: Vec<&str> = top
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        commands.contains(&"run"),
        "no commands in kassa --help:\n{top}"
    );
    let mut used = Vec::new();
    for path in kubernetes_manifests() {
        let name = path.strip_prefix(repo()).unwrap().display().to_string();
        for args in container_args(&std::fs::read_to_string(&path).unwrap()) {
            let Some((command, options)) = args.split_first() else {
                panic!("{name}: an empty args list");
            };
            assert!(
                commands.contains(&command.as_str()),
                "{name}: args {args:?} start with `{command}`, which is not a command of kassa --help ({commands:?})"
            );
            let known = help_flags(&kassa_help(&[command]));
            for option in options.iter().filter(|a| a.starts_with("--")) {
                let flag = option.split('=').next().unwrap_or_default();
                assert!(
                    known.iter().any(|k| k == flag),
                    "{name}: `kassa {command}` has no option `{flag}` (it has {known:?})"
                );
            }
            used.push(command.clone());
        }
    }
    for mode in ["run", "worker", "backfill"] {
        assert!(
            used.iter().any(|c| c == mode),
            "no manifest runs `kassa {mode}` (found {used:?})"
        );
    }
}

/// Where the manifests mount the Secrets: every `*_file` a configuration names lies under it.
const SECRETS_MOUNT: &str = "/run/secrets/kassa/";

/// The files a ConfigMap carries as block scalars (`  name.toml: |`, its lines indented four
/// spaces), in order: each key and its text.
fn configmap_files(yaml: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut files = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(key) = line
            .strip_prefix("  ")
            .and_then(|l| l.strip_suffix(": |"))
            .filter(|k| !k.starts_with(' ') && !k.starts_with('#'))
        else {
            continue;
        };
        let text = lines[at + 1..]
            .iter()
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .map(|l| format!("{}\n", l.get(4..).unwrap_or_default()))
            .collect();
        files.push((key.to_string(), text));
    }
    files
}

/// Writes every secret file the configurations name into `dir` (in place of the Secrets'
/// mount), with a value of the right shape, after checking that `secret_yaml` shows the key in
/// its `stringData` and in its `kubectl create secret` command; returns the keys, and the
/// configurations with their paths pointed at `dir`.
fn secret_files_for(
    what: &str,
    configs: &[(String, String)],
    secret_yaml: &str,
    dir: &std::path::Path,
) -> (Vec<String>, Vec<(String, String)>) {
    let mut named = Vec::new();
    for (file, toml) in configs {
        for line in toml.lines().filter(|l| l.contains("_file = ")) {
            let value = line.split('"').nth(1).unwrap();
            let key = value.strip_prefix(SECRETS_MOUNT).unwrap_or_else(|| {
                panic!("{what}: {file}: `{line}` is not a file under {SECRETS_MOUNT}")
            });
            assert!(
                secret_yaml.contains(&format!("\n  {key}: "))
                    && secret_yaml.contains(&format!("--from-file={key}=")),
                "{what}: secret.yaml does not show the key `{key}` that {file} reads (in stringData and in its kubectl command)"
            );
            let contents = if key.ends_with("ledger-url") {
                "postgres://kassa:password-for-the-test@127.0.0.1:5432/kassa\n"
            } else if key.ends_with("bitrix24-url") {
                "https://example.bitrix24.ru/rest/1/key-for-the-test/\n"
            } else if key.contains("webhook-secret") {
                "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS1kb2NzLXRlc3Q=\n"
            } else if key.contains("webhook") {
                "https://hooks.slack.com/services/T0/B0/example\n"
            } else {
                "token-for-the-test\n"
            };
            std::fs::write(dir.join(key), contents).unwrap();
            named.push(key.to_string());
        }
    }
    assert!(
        !named.is_empty(),
        "{what}: the configuration reads no secret file"
    );
    named.sort();
    named.dedup();
    let local = format!("{}/", dir.display());
    let configs = configs
        .iter()
        .map(|(file, toml)| (file.clone(), toml.replace(SECRETS_MOUNT, &local)))
        .collect();
    (named, configs)
}

fn assert_succeeded(what: &str, output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{what}:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `kassa.toml` the ConfigMap carries passes `kassa check --offline`, with every secret file
/// it names present (written into a scratch directory in place of the Secret's mount) and the
/// worker's report token set as worker.yaml sets it; and the Secret's manifest shows every key
/// the configuration reads.
#[test]
fn the_kubernetes_config_passes_check_offline_with_its_secrets() {
    let dir = repo().join("deploy/kubernetes/one-business");
    let configs = configmap_files(&std::fs::read_to_string(dir.join("configmap.yaml")).unwrap());
    assert!(
        configs.len() == 1 && configs[0].0 == "kassa.toml" && configs[0].1.contains("[[sources]]"),
        "one-business/configmap.yaml: no kassa.toml found"
    );
    assert!(
        configs[0].1.contains("path = \"/var/lib/kassa/store\""),
        "configmap.yaml: the store is not on the volume the manifests mount at /var/lib/kassa"
    );
    let secret = std::fs::read_to_string(dir.join("secret.yaml")).unwrap();

    let scratch = tempfile::tempdir().unwrap();
    let secrets = scratch.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let (named, configs) = secret_files_for("one-business", &configs, &secret, &secrets);
    let config = scratch.path().join("kassa.toml");
    std::fs::write(&config, &configs[0].1).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
        .current_dir(scratch.path())
        .arg("--config")
        .arg(&config)
        .args(["check", "--offline"])
        .env("KASSA__STORE__PATH", scratch.path().join("store"))
        .env("KASSA__WORKER__REPORT_TOKEN_ENV", "KASSA_REPORT_TOKEN")
        .env("KASSA_REPORT_TOKEN", "report-token-for-the-test")
        .env_remove("KASSA_CONFIG")
        .output()
        .unwrap();
    assert_succeeded(
        &format!("configmap.yaml's kassa.toml (secrets {named:?})"),
        &output,
    );
}

/// The agency's base file and tenants, as the ConfigMaps carry them.
fn agency_configs() -> Vec<(String, String)> {
    let dir = repo().join("deploy/kubernetes/agency");
    let base = configmap_files(&std::fs::read_to_string(dir.join("configmap.yaml")).unwrap());
    assert!(
        base.len() == 1 && base[0].0 == "kassa.toml",
        "agency/configmap.yaml: no kassa.toml found"
    );
    let tenants = configmap_files(&std::fs::read_to_string(dir.join("tenants.yaml")).unwrap());
    assert!(
        tenants.len() >= 2
            && tenants
                .iter()
                .all(|(name, toml)| name.ends_with(".toml") && toml.contains("[[sources]]")),
        "agency/tenants.yaml: expected tenants' <name>.toml files with sources, found {:?}",
        tenants.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
    base.into_iter().chain(tenants).collect()
}

/// Every secret file the agency's base file and tenants read is a key that secret.yaml shows
/// (in a Secret's `stringData` and in its `kubectl create secret` command), under the one
/// directory both Secrets are mounted at.
#[test]
fn the_agency_secrets_show_every_file_its_configuration_reads() {
    let dir = repo().join("deploy/kubernetes/agency");
    let secret = std::fs::read_to_string(dir.join("secret.yaml")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (named, _) = secret_files_for("agency", &agency_configs(), &secret, scratch.path());
    for shared in ["ledger-url", "acme.meta-token"] {
        assert!(
            named.iter().any(|k| k == shared),
            "no {shared} in {named:?}"
        );
    }
}

/// The agency's pods run one shard each: the CronJob's Job is Indexed with `completions` and
/// `parallelism` equal to the `--shards` its pods pass (a mismatch would leave shards unrun or
/// pods failing on JOB_COMPLETION_INDEX), a shard's failure fails only its index, and the
/// one-shard rerun names a shard of the same count. Every agency pod gives each tenant its own
/// store: the image's KASSA__STORE__PATH (one store) would override the base file's `{tenant}`.
#[test]
fn the_agency_job_runs_one_pod_per_shard_and_a_store_per_tenant() {
    let dir = repo().join("deploy/kubernetes/agency");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let field = |yaml: &str, key: &str| -> Option<String> {
        yaml.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
            .map(|v| v.split('#').next().unwrap_or_default().trim().to_string())
    };
    let flag = |args: &[String], name: &str| -> Option<String> {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1).cloned()
    };

    let cronjob = read("cronjob.yaml");
    let args = container_args(&cronjob);
    assert_eq!(args.len(), 1, "cronjob.yaml: one container expected");
    let shards = flag(&args[0], "--shards").expect("cronjob.yaml runs without --shards");
    assert_eq!(
        field(&cronjob, "completionMode").as_deref(),
        Some("Indexed")
    );
    assert_eq!(field(&cronjob, "completions"), Some(shards.clone()));
    assert_eq!(field(&cronjob, "parallelism"), Some(shards.clone()));
    assert!(field(&cronjob, "backoffLimitPerIndex").is_some());
    assert!(cronjob.contains("- action: FailIndex") && !cronjob.contains("action: FailJob"));
    assert_eq!(
        field(&cronjob, "concurrencyPolicy").as_deref(),
        Some("Forbid")
    );

    let rerun = container_args(&read("rerun-shard-job.yaml"));
    let shard = flag(&rerun[0], "--shard").expect("rerun-shard-job.yaml runs without --shard");
    assert_eq!(
        shard.split_once('/').map(|(_, n)| n),
        Some(shards.as_str()),
        "rerun-shard-job.yaml's --shard {shard} is not out of cronjob.yaml's --shards {shards}"
    );

    for name in ["cronjob.yaml", "backfill-job.yaml", "rerun-shard-job.yaml"] {
        let yaml = read(name);
        let store = yaml
            .lines()
            .skip_while(|l| l.trim() != "- name: KASSA__STORE__PATH")
            .nth(1)
            .and_then(|l| l.trim().strip_prefix("value: "))
            .unwrap_or_else(|| panic!("{name}: does not set KASSA__STORE__PATH"));
        assert!(
            store.contains("{tenant}"),
            "{name}: KASSA__STORE__PATH {store} names one store for every tenant"
        );
        for arg in container_args(&yaml).concat() {
            assert!(
                !arg.starts_with("/etc/kassa/") || arg == "/etc/kassa/conf.d",
                "{name}: {arg} is not where the tenants are mounted"
            );
        }
    }
}

/// The agency's configuration (the base file and every tenant, as the pods mount them) passes
/// `kassa check --offline --tenants`, with every secret file present, the store on the pods'
/// working directory as the manifests set it, and the bucket's variables as cronjob.yaml sets
/// them.
#[test]
fn the_agency_config_passes_check_offline_with_its_secrets() {
    let dir = repo().join("deploy/kubernetes/agency");
    let secret = std::fs::read_to_string(dir.join("secret.yaml")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let secrets = scratch.path().join("secrets");
    let tenants = scratch.path().join("conf.d");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::create_dir(&tenants).unwrap();
    let (named, configs) = secret_files_for("agency", &agency_configs(), &secret, &secrets);
    let (base, tenant_files) = configs.split_first().unwrap();
    let config = scratch.path().join("kassa.toml");
    std::fs::write(&config, &base.1).unwrap();
    for (name, toml) in tenant_files {
        std::fs::write(tenants.join(name), toml).unwrap();
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
        .current_dir(scratch.path())
        .arg("--config")
        .arg(&config)
        .args(["check", "--offline", "--tenants"])
        .arg(&tenants)
        .env(
            "KASSA__STORE__PATH",
            scratch.path().join("work").join("{tenant}"),
        )
        .env("AWS_REGION", "ru-central1")
        .env("AWS_ENDPOINT_URL", "https://storage.yandexcloud.net")
        .env("AWS_ACCESS_KEY_ID", "key-id-for-the-test")
        .env("AWS_SECRET_ACCESS_KEY", "secret-key-for-the-test")
        .env_remove("KASSA_CONFIG")
        .output()
        .unwrap();
    assert_succeeded(
        &format!("agency's kassa.toml and tenants (secrets {named:?})"),
        &output,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for (name, _) in tenant_files {
        let tenant = name.trim_end_matches(".toml");
        assert!(
            stdout.contains(&format!("[{tenant}] ")),
            "no line for {tenant}:\n{stdout}"
        );
    }
}
