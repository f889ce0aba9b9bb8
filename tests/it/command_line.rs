//! What the command line promises about itself: bad arguments are failures (exit 1) printed
//! like every error, each source error is said once, `-q` keeps errors only, a retry is
//! promised only where waiting helps, and a command whose every source failed has failed.

use crate::helpers::{Run, Workspace, kassa_bare};

const ADS_HEADER: &str = "date,channel,campaign_id,impressions,reach,clicks,spend";
const CRM_HEADER: &str = "deal_id,created_date,closed_date,status,amount,channel";
const BAD_CLICKS: &str = "line 3, column `clicks`: \"lots\" is not a whole number";

fn kassa(dir: &std::path::Path, args: &[&str]) -> Run {
    kassa_bare(dir, args, &[])
}

/// Two CSV sources: `ads` with a bad value on line 3 (when `bad_ads`), `crm` good or bad.
fn workspace(bad_ads: bool, bad_crm: bool) -> Workspace {
    let ws = Workspace::new();
    let clicks = if bad_ads { "lots" } else { "21" };
    ws.write(
        "ads.csv",
        &format!(
            "{ADS_HEADER}\n2025-01-06,meta,c1,1000,800,20,10\n2025-01-07,meta,c1,1000,800,{clicks},10\n"
        ),
    );
    let status = if bad_crm { "maybe" } else { "won" };
    ws.write(
        "crm.csv",
        &format!("{CRM_HEADER}\nd1,2025-01-06,2025-01-07,{status},100,meta\n"),
    );
    ws.config(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\n",
    );
    ws
}

fn config(ws: &Workspace) -> String {
    ws.path().join("kassa.toml").display().to_string()
}

#[test]
fn bad_argument_exits_1() {
    let ws = workspace(false, false);
    let config = config(&ws);
    for (args, clap_says) in [
        (
            vec!["analyze", "--from", "2025-13-01"],
            "invalid value '2025-13-01' for '--from <DATE>'",
        ),
        (
            vec!["backfill", "--from", "2025-01-06"],
            "the following required arguments were not provided",
        ),
        (
            vec!["analyze", "--format", "xml"],
            "[possible values: table, json]",
        ),
        (vec!["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (vec![], "requires a subcommand"),
    ] {
        let mut full = vec!["--config", config.as_str()];
        full.extend(&args);
        let run = kassa(ws.path(), &full);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(
            run.stderr.starts_with("kassa: error: "),
            "{args:?}: {run:?}"
        );
        assert!(run.stderr.contains(clap_says), "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
    }
    for asked in ["--help", "--version"] {
        let run = kassa(ws.path(), &[asked]);
        assert_eq!(run.code, 0, "{asked}: {run:?}");
        assert!(run.stdout.contains("kassa"), "{asked}: {run:?}");
    }
}

/// The demo brings its own configuration: its help does not offer `--config`, and giving one
/// is refused rather than ignored.
#[test]
fn demo_does_not_take_a_config() {
    let ws = Workspace::new();
    let help = kassa(ws.path(), &["demo", "--help"]);
    assert_eq!(help.code, 0, "{help:?}");
    assert!(help.stdout.contains("--locale"), "{}", help.stdout);
    assert!(!help.stdout.contains("--config"), "{}", help.stdout);
    for args in [
        ["demo", "--config", "kassa.toml"],
        ["--config", "kassa.toml", "demo"],
    ] {
        let run = kassa(ws.path(), &args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(
            run.stderr
                .starts_with("kassa: error: the demo brings its own configuration"),
            "{args:?}: {run:?}"
        );
    }
    // Other commands still take it after their name.
    let check = kassa(
        ws.path(),
        &["check", "--offline", "--config", "missing.toml"],
    );
    assert!(check.stderr.contains("missing.toml"), "{check:?}");
}

#[test]
fn source_error_printed_once() {
    let ws = workspace(true, false);
    let config = config(&ws);
    let run = kassa(
        ws.path(),
        &[
            "--config",
            &config,
            "backfill",
            "--from",
            "2025-01-06",
            "--to",
            "2025-01-12",
        ],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stderr.matches(BAD_CLICKS).count(), 1, "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("kassa: error:").count(),
        1,
        "{}",
        run.stderr
    );
}

/// `-q`: nothing on stdout, no warnings, and every error still there. Without it the same
/// command prints its status lines and a warning (the range reaches days not yet ended).
#[test]
fn quiet_keeps_errors_only() {
    let ws = workspace(true, false);
    let config = config(&ws);
    let args = |quiet: bool| {
        let mut args = vec!["--config", config.as_str()];
        if quiet {
            args.push("-q");
        }
        args.extend(["backfill", "--from", "2025-01-06", "--to", "2999-01-01"]);
        args
    };
    let loud = kassa(ws.path(), &args(false));
    assert!(loud.stdout.contains("crm: 1 row over"), "{loud:?}");
    assert!(loud.stderr.contains("WARN"), "{loud:?}");

    let quiet = kassa(ws.path(), &args(true));
    assert_eq!(quiet.code, 2, "{quiet:?}");
    assert_eq!(quiet.stdout, "", "{quiet:?}");
    assert!(quiet.stderr.starts_with("kassa: error: "), "{quiet:?}");
    assert!(quiet.stderr.contains(BAD_CLICKS), "{quiet:?}");
    assert!(!quiet.stderr.contains("WARN"), "{quiet:?}");
}

/// A bad file will not fix itself: the nightly run says what to do instead of promising that
/// the next run retries it.
#[test]
fn bad_file_is_not_promised_a_retry() {
    let ws = workspace(true, false);
    let config = config(&ws);
    let run = kassa(
        ws.path(),
        &["--config", &config, "run", "--today", "2025-01-13"],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout
            .contains("ads: FAILED; its window stays uncovered until you fix the data named below"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("retried"), "{}", run.stdout);
    assert!(run.stderr.contains(BAD_CLICKS), "{}", run.stderr);
}

#[test]
fn all_sources_failed_exits_1() {
    let ws = workspace(true, true);
    let config = config(&ws);
    for args in [
        vec!["backfill", "--from", "2025-01-06", "--to", "2025-01-12"],
        vec!["run", "--today", "2025-01-13"],
    ] {
        let mut full = vec!["--config", config.as_str()];
        full.extend(&args);
        let run = kassa(ws.path(), &full);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.contains(BAD_CLICKS), "{args:?}: {run:?}");
        assert!(run.stderr.contains("\"maybe\""), "{args:?}: {run:?}");
    }
}
