//! Configuration mistakes are loud: unknown sections and keys, values of the wrong type and
//! values from environment variables are named, all at once; relative paths follow the config
//! file, not the working directory; `check` and `analyze` treat the store as they promise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::helpers::{Run, Workspace, demo_sources, kassa_in, repo};

/// `check --offline` on a workspace whose config is `rest` plus the demo sources.
fn check_with(rest: &str) -> (Workspace, Run) {
    let ws = Workspace::new();
    ws.config(&format!("{rest}\n\n{}", demo_sources()));
    let run = ws.kassa(&["check", "--offline"]);
    (ws, run)
}

fn assert_refused(run: &Run, expected: &[&str]) {
    assert_eq!(run.code, 1, "{run:?}");
    for part in expected {
        assert!(
            run.stderr.contains(part),
            "{part:?} missing from:\n{}",
            run.stderr
        );
    }
}

#[test]
fn unknown_section_is_an_error() {
    let (_ws, run) = check_with("[analysys]\ngranularity = \"month\"");
    assert_refused(
        &run,
        &["analysys: [analysys] is not a section kassa knows; did you mean [analysis]?"],
    );
}

#[test]
fn unknown_key_suggests_closest() {
    let (_ws, run) = check_with("[worker]\nshedule = \"0 6 * * *\"");
    assert_refused(
        &run,
        &["worker.shedule: unknown key `shedule` in [worker]; did you mean `schedule`?"],
    );
    // `[store]` read its keys with serde before, without denying unknown ones.
    let ws = Workspace::new();
    ws.write(
        "kassa.toml",
        &format!("[store]\npth = \"elsewhere\"\n\n{}", demo_sources()),
    );
    let run = ws.kassa(&["check", "--offline"]);
    assert_refused(
        &run,
        &["store.pth: unknown key `pth` in [store]; did you mean `path`?"],
    );
    // Source and alert tables suggest too, for keys and for kinds.
    let ws = Workspace::new();
    ws.config(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npth = \"ads.csv\"\n\n\
         [[alerts]]\nname = \"team\"\nkind = \"slak\"\nurl_env = \"X\"\n",
    );
    let run = ws.kassa(&["check", "--offline"]);
    assert_refused(
        &run,
        &[
            "sources[0].pth: unknown key `pth`; did you mean `path`?",
            "alerts[0]: unknown variant `slak`",
            "did you mean `slack`?",
        ],
    );
}

#[test]
fn alert_instead_of_alerts_is_an_error() {
    let (_ws, run) = check_with(
        "[[alert]]\nname = \"team\"\nkind = \"slack\"\nurl_env = \"KASSA_TEAM_WEBHOOK\"",
    );
    assert_refused(
        &run,
        &["alert: [[alert]] is not a section kassa knows; did you mean [[alerts]]?"],
    );
}

#[test]
fn type_error_names_full_key() {
    let (_ws, run) = check_with("[analysis]\nbaseline_periods = \"four\"");
    assert_refused(
        &run,
        &["analysis.baseline_periods: expected an integer, got \"four\""],
    );
}

/// Inside one `[[sources]]` table too: serde stops at the first problem and, through the
/// `kind`-tagged enum, names no key for a value of the wrong type; kassa names each.
#[test]
fn every_problem_of_a_source_table_names_its_key() {
    let ws = Workspace::new();
    ws.config(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npth = \"ads.csv\"\n\
         lookback_days = \"ten\"\nacount = \"x\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\nlookback_days = true\n",
    );
    let run = ws.kassa(&["check", "--offline"]);
    assert_refused(
        &run,
        &[
            "the configuration has 6 problems",
            "sources[0].path: is required",
            "sources[0].pth: unknown key `pth`; did you mean `path`?",
            "sources[0].acount: unknown key `acount`; did you mean `account`?",
            "sources[0].lookback_days: expected an integer, got \"ten\"",
            "sources[1].lookback_days: expected an integer, got true",
            "sources[1].path:",
        ],
    );
    // The same file, the same order.
    assert_eq!(ws.kassa(&["check", "--offline"]).stderr, run.stderr);
}

#[test]
fn all_problems_reported_at_once() {
    let (_ws, run) = check_with(
        "[analysis]\nbaseline_periods = \"four\"\nactivity_growth_min = \"lots\"\n\
         granularity = \"fortnight\"\ntimezon = \"UTC\"\n\n\
         [alerting]\nmax_per_run = 2.5\nlocale = \"de\"\n\n\
         [worker]\nlisten = \"everywhere\"\n\n[analysys]\nx = 1\n\n[[alert]]\nname = \"x\"",
    );
    assert_refused(
        &run,
        &[
            "the configuration has 9 problems",
            "analysis.baseline_periods: expected an integer, got \"four\"",
            "analysis.activity_growth_min: expected a number, got \"lots\"",
            "analysis.granularity: \"fortnight\" is not one of day, week, month",
            "analysis.timezon: unknown key `timezon` in [analysis]; did you mean `timezone`?",
            "alerting.max_per_run: expected an integer, got 2.5",
            "alerting.locale: \"de\" is not en or ru",
            "worker.listen: \"everywhere\" is not an address and port",
            "did you mean [analysis]?",
            "did you mean [[alerts]]?",
        ],
    );
}

#[test]
fn env_var_error_names_variable() {
    let ws = Workspace::new();
    let config = ws.config(&demo_sources());
    let run = ws.kassa_with_env(
        &["check", "--offline"],
        &[
            ("KASSA__ANALYSIS__BASELINE_PERIODS", "four"),
            ("KASSA__ANALYSIS__GRANULARITY", "fortnight"),
            ("KASSA__STORAGE__PATH", "/tmp/x"),
        ],
    );
    assert_refused(
        &run,
        &[
            "analysis.baseline_periods (from the environment variable \
             KASSA__ANALYSIS__BASELINE_PERIODS): expected an integer, got \"four\"",
            "analysis.granularity (from the environment variable KASSA__ANALYSIS__GRANULARITY): \
             \"fortnight\" is not one of day, week, month",
            "storage (from the environment variable KASSA__STORAGE__PATH): [storage] is not a \
             section kassa knows; did you mean [store]?",
        ],
    );
    assert!(
        !run.stderr.contains(&config.display().to_string()),
        "the problems are not in the file, so the file is not blamed:\n{}",
        run.stderr
    );
}

#[test]
fn relative_paths_resolve_against_config_dir() {
    let ws = Workspace::new();
    let fixtures = repo().join("fixtures/demo");
    let conf = ws.path().join("conf");
    for name in ["ads.csv", "crm.csv"] {
        ws.write(
            &format!("conf/data/{name}"),
            &std::fs::read_to_string(fixtures.join(name)).unwrap(),
        );
    }
    let config = ws.write(
        "conf/kassa.toml",
        "[store]\npath = \"state\"\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"data/ads.csv\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"data/crm.csv\"\n",
    );
    // Cron starts jobs elsewhere (in $HOME): a directory with neither the data nor the config.
    let elsewhere = tempfile::tempdir().unwrap();
    let backfill = kassa_in(
        elsewhere.path(),
        &config,
        &["backfill", "--from", "2025-01-06", "--to", "2025-03-02"],
        &[],
    );
    assert_eq!(backfill.code, 0, "{backfill:?}");
    assert!(conf.join("state/ledger.sqlite").is_file());
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    let analyze = kassa_in(
        elsewhere.path(),
        &config,
        &["analyze", "--format", "json"],
        &[],
    );
    assert_eq!(analyze.code, 0, "{analyze:?}");

    // A missing file is reported with the path kassa looked at.
    std::fs::remove_file(conf.join("data/crm.csv")).unwrap();
    let check = kassa_in(elsewhere.path(), &config, &["check", "--offline"], &[]);
    assert_refused(
        &check,
        &[&format!(
            "sources[1].path: {} does not exist",
            conf.join("data/crm.csv").display()
        )],
    );
}

/// Whether this process ignores file permissions (root does), so a `chmod -w` proves nothing.
fn permissions_are_ignored(dir: &Path) -> bool {
    let probe = dir.join("probe");
    std::fs::create_dir(&probe).unwrap();
    set_mode(&probe, 0o555);
    let ignored = std::fs::write(probe.join("x"), "").is_ok();
    set_mode(&probe, 0o755);
    std::fs::remove_dir_all(&probe).unwrap();
    ignored
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Sets `mode` on `dir` and every directory below it, and `file_mode` on every file.
fn set_modes(dir: &Path, mode: u32, file_mode: u32) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            set_modes(&path, mode, file_mode);
        } else {
            set_mode(&path, file_mode);
        }
    }
    set_mode(dir, mode);
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    found
}

#[test]
fn check_reports_unwritable_store() {
    // A store below a regular file can never be created, whoever runs kassa.
    let ws = Workspace::new();
    let blocker = ws.write("not-a-directory", "");
    ws.write(
        "kassa.toml",
        &format!(
            "[store]\npath = {:?}\n\n{}",
            blocker.join("store").display().to_string(),
            demo_sources()
        ),
    );
    let run = ws.kassa(&["check", "--offline"]);
    assert_eq!(run.code, 1, "nothing can run on that store: {run:?}");
    assert!(
        run.stdout.contains("configuration: valid"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "store ({}): FAILED",
            blocker.join("store").display()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(&blocker.display().to_string()),
        "{}",
        run.stderr
    );

    // A writable place: the store is reported creatable, and not created.
    let ws = Workspace::new();
    ws.config(&demo_sources());
    let run = ws.kassa(&["check", "--offline"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("can be created"), "{}", run.stdout);
    assert!(!ws.store_path().exists());

    // A read-only store directory.
    std::fs::create_dir(ws.store_path()).unwrap();
    if permissions_are_ignored(ws.path()) {
        // Running as root: `chmod -w` does not stop writes, so there is nothing to report.
        return;
    }
    set_mode(&ws.store_path(), 0o555);
    let run = ws.kassa(&["check", "--offline"]);
    set_mode(&ws.store_path(), 0o755);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
    assert!(run.stderr.contains("ermission denied"), "{}", run.stderr);
}

#[test]
fn analyze_on_read_only_store() {
    let ws = Workspace::new();
    ws.config(&demo_sources());
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    let before = files(&ws.store_path());
    let writable = ws.kassa(&["analyze", "--format", "json"]);
    assert_eq!(writable.code, 0, "{writable:?}");
    assert!(
        files(&ws.store_path()) == before,
        "analyze changed a writable store"
    );

    set_modes(&ws.store_path(), 0o555, 0o444);
    let read_only = ws.kassa(&["analyze", "--format", "json"]);
    let after = files(&ws.store_path());
    set_modes(&ws.store_path(), 0o755, 0o644);

    assert_eq!(read_only.code, 0, "{read_only:?}");
    assert_eq!(read_only.json(), writable.json());
    assert!(!read_only.json()["findings"].as_array().unwrap().is_empty());
    // Not a byte written, not a file added (no lock file, no SQLite journal), even where the
    // permissions would not have stopped it (root).
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert!(after == before, "analyze changed the store");
}

#[test]
fn analyze_does_not_create_store() {
    let ws = Workspace::new();
    ws.config(&demo_sources());
    let run = ws.kassa(&["analyze"]);
    assert_refused(
        &run,
        &[
            &format!("there is no store at {}", ws.store_path().display()),
            "run `kassa backfill",
        ],
    );
    assert!(
        !ws.store_path().exists(),
        "analyze created {:?}",
        ws.store_path()
    );
}

/// A token pasted into `token_env` (or a webhook URL into `url_env`, a signing secret into
/// `secret_env`) by mistake is never echoed as "the variable name": the message says what the
/// key must hold and that the value is not shown, and names no value anywhere.
#[test]
fn pasted_token_is_not_echoed() {
    let token = "EAAGpastedTOKEN0123456789abcdef";
    let url = "https://hooks.slack.com/services/T0/B0/pastedSECRETpath";
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (_ws, run) = check_with(&format!(
        "[[sources]]\nname = \"meta\"\nkind = \"meta\"\naccount_id = \"act_1\"\ntoken_env = {token:?}\n\n\
         [[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_env = {url:?}\n\n\
         [[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_env = \"KASSA_TEST_BI_URL\"\nsecret_env = {secret:?}\n"
    ));
    assert_refused(
        &run,
        &[
            "sources[0].token_env: must name an environment variable (upper-case letters, digits and _, like KASSA_META_TOKEN); the value given does not look like one (not shown)",
            "alerts[0].url_env: must name an environment variable",
            "alerts[1].secret_env: must name an environment variable",
        ],
    );
    for value in [token, url, secret, "pastedTOKEN", "pastedSECRET", "whsec_"] {
        assert!(
            !run.stderr.contains(value),
            "{value} echoed: {}",
            run.stderr
        );
        assert!(
            !run.stdout.contains(value),
            "{value} echoed: {}",
            run.stdout
        );
    }
}

/// `analyze` reads the store only: it runs where no token variable is set, while `check`
/// (which builds every source and target) still says which variable is missing.
#[test]
fn analyze_needs_no_secrets() {
    let ws = Workspace::new();
    ws.config(&demo_sources());
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-05-25"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    ws.config(&format!(
        "{}\n\
         [[sources]]\nname = \"meta\"\nkind = \"meta\"\naccount_id = \"act_1\"\ntoken_env = \"KASSA_TEST_UNSET_META_TOKEN\"\n\n\
         [[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_env = \"KASSA_TEST_UNSET_SLACK_URL\"\n\n\
         [[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_file = \"missing/bi.url\"\n\
         secret_env = \"KASSA_TEST_UNSET_BI_SECRET\"\n",
        demo_sources()
    ));

    let analyze = ws.kassa(&["analyze", "--format", "json"]);
    assert_eq!(analyze.code, 0, "{analyze:?}");
    assert!(analyze.json()["findings"].is_array(), "{}", analyze.stdout);
    // Managing the outbox contacts nothing either.
    let outbox = ws.kassa(&["outbox", "list"]);
    assert_eq!(outbox.code, 0, "{outbox:?}");

    let check = ws.kassa(&["check", "--offline"]);
    assert_eq!(check.code, 1, "{check:?}");
    for missing in [
        "KASSA_TEST_UNSET_META_TOKEN is not set",
        "KASSA_TEST_UNSET_SLACK_URL is not set",
        "bi.url is not a readable file",
        "KASSA_TEST_UNSET_BI_SECRET is not set",
    ] {
        assert!(
            check.stderr.contains(missing),
            "{missing}: {}",
            check.stderr
        );
    }
}

#[test]
fn dead_letter_and_source_down_counts_are_validated() {
    let (_ws, run) =
        check_with("[alerting]\ndead_after_runs = 0\nsource_down_after_runs = \"two\"\n");
    assert_refused(
        &run,
        &[
            "alerting.dead_after_runs: 0 is out of range; use 1 to 1000",
            "alerting.source_down_after_runs: expected an integer, got \"two\"",
        ],
    );
}

/// Every unusable channel rule is reported at once, under its own key with an example, and a
/// rule list next to HubSpot's older `channel_map` and `default_channel` is refused with what to
/// do.
#[test]
fn channel_rules_problems_are_reported_at_once() {
    let ws = Workspace::new();
    ws.config(
        "[[sources]]\nname = \"b24\"\nkind = \"bitrix24\"\nurl_env = \"KASSA_TEST_B24_URL\"\n\
         [[sources.channel_rules]]\nfield = \"UTM SOURCE\"\nvalues = []\nchannel = \"\"\n\
         [[sources.channel_rules]]\nfield = \"\"\nvalues = [\"vk\"]\nchannel = \"vk_ads\"\n\
         [[sources]]\nname = \"hs\"\nkind = \"hubspot\"\ntoken_env = \"KASSA_TEST_HS_TOKEN\"\n\
         channel_map = { PAID_SOCIAL = \"meta\" }\ndefault_channel = \"direct\"\n\
         [[sources.channel_rules]]\nfield = \"utm_source\"\nvalues = [\"fb\"]\nchannel = \"meta\"\n",
    );
    let run = ws.kassa_with_env(
        &["check", "--offline"],
        &[
            (
                "KASSA_TEST_B24_URL",
                "https://example.bitrix24.ru/rest/1/key/",
            ),
            ("KASSA_TEST_HS_TOKEN", "pat-na1-test"),
        ],
    );
    assert_refused(
        &run,
        &[
            "sources[0].channel_rules[0].values: is empty",
            "sources[0].channel_rules[0].channel:",
            "sources[0].channel_rules[0].field: \"UTM SOURCE\" is not a deal field name",
            "sources[0].channel_rules[1].field: is empty",
            "sources[1].channel_map: cannot be used with channel_rules",
            "sources[1].default_channel: cannot be used with channel_rules",
            "[[sources.channel_rules]]",
        ],
    );
}

/// The metric audit's keys: a minimum below the 4 pairs Fisher's interval needs, a negative
/// lag, and a window too short for the minimum are each refused with an example.
#[test]
fn metric_audit_keys_are_validated() {
    let (_ws, run) = check_with("[analysis]\nmin_periods = 3\nmax_lag_periods = -1\n");
    assert_refused(
        &run,
        &[
            "analysis.min_periods: 3 is out of range; use 4 to 1000 periods",
            "analysis.max_lag_periods: -1 is out of range; use 1 to 104 periods",
        ],
    );
    let (_ws, run) = check_with("[analysis]\naudit_periods = 6\n");
    assert_refused(
        &run,
        &["analysis.audit_periods: 6 periods can never hold min_periods = 8 pairs; use at least 8"],
    );
}

/// `[alerting] report_url` must be an absolute http(s) URL, and a `[worker] report_token_env`
/// that names an unset variable stops the commands that serve or send, naming the key; one
/// that reads only (`analyze`) never needs the token.
#[test]
fn report_url_and_report_token_are_validated() {
    let (_ws, run) = check_with(
        "[alerting]\nreport_url = \"kassa.example.com/report\"\n\n\
         [worker]\nreport_token_env = \"KASSA_TEST_UNSET_REPORT_TOKEN\"",
    );
    assert_refused(
        &run,
        &[
            "alerting.report_url: \"kassa.example.com/report\" is not an absolute URL (for example: report_url = \"https://kassa.example.com/report\")",
            "worker.report_token_env: the environment variable KASSA_TEST_UNSET_REPORT_TOKEN is not set",
        ],
    );
    let (_ws, run) = check_with("[alerting]\nreport_url = \"ftp://kassa.example.com/report\"");
    assert_refused(
        &run,
        &[
            "alerting.report_url: \"ftp://kassa.example.com/report\" is not an http:// or https:// URL",
        ],
    );
    let (_ws, run) = check_with("[worker]\nreport_token_env = \"s3cret-pasted-token\"");
    assert_refused(
        &run,
        &["worker.report_token_env: must name an environment variable"],
    );
    assert!(
        !run.stderr.contains("s3cret-pasted-token"),
        "{}",
        run.stderr
    );

    let ws = Workspace::new();
    ws.config(&format!(
        "[alerting]\nreport_url = \"https://kassa.example.com/report?team=ads\"\n\n\
         [worker]\nreport_token_env = \"KASSA_TEST_REPORT_TOKEN\"\n\n{}",
        demo_sources()
    ));
    let run = ws.kassa_with_env(
        &["check", "--offline"],
        &[("KASSA_TEST_REPORT_TOKEN", "a-token")],
    );
    assert_eq!(run.code, 0, "{run:?}");
    // `analyze` serves no report: the unset variable is not its problem.
    let run = ws.kassa(&["analyze"]);
    assert!(!run.stderr.contains("report_token"), "{run:?}");
}
