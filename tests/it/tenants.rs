//! Many clients from one directory (`kassa run --tenants DIR`), through the real binary: each
//! tenant's file over the base file, one store per tenant through `{tenant}`, shards that
//! split the tenants without overlap (also from `JOB_COMPLETION_INDEX`), up to K tenants at
//! once, and each tenant's failure (a held store, a bad configuration) its own.
//!
//! The agency's tenants all read copies of the demo's CSV files, so no fake server is needed.
//! With the stable hash, shard 0/2 holds t1, t2, t3 and shard 1/2 holds t4, t5, t6.

use std::path::{Path, PathBuf};

use crate::helpers::{Run, Workspace, finish, kassa_in, repo, spawn_in};
use crate::run::NIGHT;

const SIX: [&str; 6] = ["t1", "t2", "t3", "t4", "t5", "t6"];

/// An agency: `base.toml` (stores under `stores/{tenant}`, relative to the base file) and
/// `conf.d/<name>.toml` for each name, reading `data/*.csv` relative to the tenant's file.
fn agency(names: &[&str]) -> Workspace {
    let ws = Workspace::new();
    for file in ["ads.csv", "crm.csv"] {
        let text = std::fs::read_to_string(repo().join("fixtures/demo").join(file)).unwrap();
        ws.write(&format!("data/{file}"), &text);
    }
    ws.write(
        "base.toml",
        "[store]\npath = \"stores/{tenant}\"\n\n[alerting]\nlocale = \"en\"\n",
    );
    for name in names {
        tenant(&ws, name, "");
    }
    // Not tenants: other files, and names starting with `.` or `_`.
    ws.write("conf.d/README.txt", "not a tenant");
    ws.write("conf.d/_disabled.toml", "this is [not valid toml");
    ws
}

/// Writes `conf.d/<name>.toml`: the two CSV sources, then `rest`.
fn tenant(ws: &Workspace, name: &str, rest: &str) -> PathBuf {
    ws.write(
        &format!("conf.d/{name}.toml"),
        &format!(
            "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"../data/ads.csv\"\n\n\
             [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"../data/crm.csv\"\n\n{rest}"
        ),
    )
}

fn kassa(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Run {
    kassa_in(ws.path(), &ws.path().join("base.toml"), args, env)
}

fn store(ws: &Workspace, name: &str) -> PathBuf {
    ws.path().join("stores").join(name)
}

/// The tenants a run's summary names, each with its outcome word (`t1: ok`).
/// Starts `kassa --config base.toml ARGS` without waiting for it.
fn spawn(ws: &Workspace, args: &[&str]) -> std::process::Child {
    spawn_in(ws.path(), &ws.path().join("base.toml"), args, &[])
}

fn summary(run: &Run) -> Vec<(String, String)> {
    run.stdout
        .lines()
        .filter(|line| !line.starts_with('[') && !line.starts_with("shard "))
        .filter_map(|line| {
            let (name, rest) = line.split_once(": ")?;
            let word = rest.split(": ").next()?;
            Some((name.to_string(), word.to_string()))
        })
        .collect()
}

#[test]
fn two_shards_in_parallel_over_six_tenants_each_run_their_tenants_exactly_once() {
    let ws = agency(&SIX);
    let run = |shard: &str| {
        spawn(
            &ws,
            &[
                "run",
                "--tenants",
                "conf.d",
                "--shard",
                shard,
                "--parallel",
                "3",
                "--today",
                NIGHT,
            ],
        )
    };
    let (first, second) = (run("0/2"), run("1/2"));
    let (first, second) = (finish(first), finish(second));
    for shard in [&first, &second] {
        assert_eq!(shard.code, 0, "{shard:?}");
    }
    let (a, b) = (summary(&first), summary(&second));
    assert_eq!(
        a,
        [("t1", "ok"), ("t2", "ok"), ("t3", "ok")].map(|(n, w)| (n.to_string(), w.to_string()))
    );
    assert_eq!(
        b,
        [("t4", "ok"), ("t5", "ok"), ("t6", "ok")].map(|(n, w)| (n.to_string(), w.to_string()))
    );
    assert!(
        first.stdout.contains("shard 0/2: 3 tenants: 3 ok"),
        "{}",
        first.stdout
    );
    let both = format!("{}{}", first.stdout, second.stdout);
    for name in SIX {
        // Each tenant's cycle said its lines once, together, in one shard only.
        let said = format!("[{name}] ads: ");
        assert_eq!(
            both.matches(&said).count(),
            1,
            "{name} ran more or less than once:\n{both}"
        );
        assert!(
            store(&ws, name).join("ads").is_dir(),
            "{name}'s store (from {{tenant}} in the base file) was not written"
        );
    }
    // The lines of one tenant are not interleaved with another's.
    let tenants_of_lines: Vec<&str> = first
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix('[')?.split(']').next())
        .collect();
    let mut runs = tenants_of_lines.clone();
    runs.dedup();
    assert_eq!(runs.len(), 3, "lines interleaved: {tenants_of_lines:?}");
    assert!(!ws.path().join("stores/_disabled").exists());
}

/// The same tenant started twice at once: the second run finds the store held, says so, and
/// that tenant is `busy` (exit 3) while the others run.
#[test]
fn a_tenant_whose_store_is_held_is_busy_while_the_others_run() {
    let ws = agency(&["t1", "t2", "t3"]);
    std::fs::create_dir_all(store(&ws, "t2")).unwrap();
    let held = kassa::store::StoreLock::acquire(&store(&ws, "t2")).unwrap();
    let run = kassa(
        &ws,
        &[
            "run",
            "--tenants",
            "conf.d",
            "--parallel",
            "2",
            "--today",
            NIGHT,
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{run:?}");
    let outcomes = summary(&run);
    assert_eq!(
        outcomes,
        [("t1", "ok"), ("t2", "busy"), ("t3", "ok")].map(|(n, w)| (n.to_string(), w.to_string()))
    );
    assert!(
        run.stderr
            .contains("kassa: error: [t2] another kassa process (pid"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("3 tenants: 2 ok, 1 busy"),
        "{}",
        run.stdout
    );
    assert!(
        !store(&ws, "t2").join("ads").exists(),
        "the held store was written"
    );
    drop(held);
}

/// A tenant whose configuration is wrong fails alone: the others run, the summary names the
/// problem, and the exit code is 1 (the worst).
#[test]
fn a_tenant_with_an_invalid_config_fails_alone_and_the_others_run() {
    let ws = agency(&["t1", "t3"]);
    tenant(&ws, "t2", "[analysis]\ngranularity = \"fortnight\"\n");
    let run = kassa(&ws, &["run", "--tenants", "conf.d", "--today", NIGHT], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("t2: "))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        line.starts_with("t2: invalid config: ") && line.contains("analysis.granularity"),
        "{line}"
    );
    assert!(
        run.stderr.contains("[t2]") && run.stderr.contains("t2.toml"),
        "{}",
        run.stderr
    );
    for name in ["t1", "t3"] {
        assert!(store(&ws, name).join("ads").is_dir(), "{name} did not run");
    }
    assert!(
        run.stdout.contains("3 tenants: 2 ok, 1 invalid config"),
        "{}",
        run.stdout
    );
}

/// Two tenants resolving to one store would corrupt each other: nothing runs.
#[test]
fn two_tenants_sharing_a_store_fail_before_anything_runs() {
    let ws = agency(&["t1", "t2", "t3"]);
    ws.write("base.toml", "[store]\npath = \"stores/shared\"\n");
    let run = kassa(&ws, &["run", "--tenants", "conf.d", "--today", NIGHT], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("no two tenants may share a store: t1 and t2 both use")
            && run.stderr.contains("stores/shared")
            && run.stderr.contains("{tenant}"),
        "{}",
        run.stderr
    );
    assert!(!ws.path().join("stores").exists(), "something ran");
    let check = kassa(&ws, &["check", "--tenants", "conf.d"], &[]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check.stderr.contains("no two tenants may share a store"),
        "{}",
        check.stderr
    );
}

/// Two tenants on one bucket and prefix would overwrite each other's pointers' months: refused
/// the same way, naming the address; `{tenant}` in `snapshots` tells them apart.
#[test]
fn two_tenants_sharing_a_snapshot_prefix_fail_before_anything_runs() {
    let ws = agency(&["t1", "t2"]);
    ws.write(
        "base.toml",
        "[store]\npath = \"stores/{tenant}\"\nsnapshots = \"s3://kassa-data/shared\"\n",
    );
    let check = kassa(&ws, &["check", "--tenants", "conf.d"], &[]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check.stderr.contains(
            "no two tenants may share a store: t1 and t2 both use s3://kassa-data/shared"
        ),
        "{}",
        check.stderr
    );
    assert!(!ws.path().join("stores").exists(), "something ran");
    ws.write(
        "base.toml",
        "[store]\npath = \"stores/{tenant}\"\nsnapshots = \"s3://kassa-data/agency/{tenant}\"\n",
    );
    let check = kassa(&ws, &["check", "--offline", "--tenants", "conf.d"], &[]);
    assert!(!check.stderr.contains("share a store"), "{check:?}");
}

/// `--shards N` takes the index from `JOB_COMPLETION_INDEX`, as in a Kubernetes Indexed Job.
#[test]
fn shards_from_job_completion_index_equal_the_explicit_shard() {
    let ws = agency(&SIX);
    let args = ["run", "--tenants", "conf.d", "--today", NIGHT];
    let indexed = kassa(
        &ws,
        &[&args[..], &["--shards", "2"]].concat(),
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert_eq!(indexed.code, 0, "{indexed:?}");
    let explicit = kassa(&ws, &[&args[..], &["--shard", "1/2"]].concat(), &[]);
    assert_eq!(summary(&indexed), summary(&explicit));
    assert_eq!(summary(&indexed).len(), 3);

    let missing = kassa(&ws, &[&args[..], &["--shards", "2"]].concat(), &[]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("--shards 2: JOB_COMPLETION_INDEX is not set"),
        "{}",
        missing.stderr
    );
    let beyond = kassa(
        &ws,
        &[&args[..], &["--shards", "2"]].concat(),
        &[("JOB_COMPLETION_INDEX", "2")],
    );
    assert_eq!(beyond.code, 1, "{beyond:?}");
    assert!(beyond.stderr.contains("0 to 1"), "{}", beyond.stderr);
    let bad = kassa(&ws, &[&args[..], &["--shard", "2/2"]].concat(), &[]);
    assert_eq!(bad.code, 1, "{bad:?}");
}

/// `run --tenants DIR --tenant NAME` runs that one tenant's night (re-running one client
/// without its shard); an unknown name is an error that lists the known ones, and runs nothing.
#[test]
fn run_with_a_tenant_runs_only_that_tenant() {
    let ws = agency(&SIX);
    let args = ["run", "--tenants", "conf.d", "--today", NIGHT];
    let one = kassa(&ws, &[&args[..], &["--tenant", "t5"]].concat(), &[]);
    assert_eq!(one.code, 0, "{one:?}");
    assert_eq!(summary(&one), [("t5".to_string(), "ok".to_string())]);
    assert!(store(&ws, "t5").join("ads").is_dir());
    assert!(!store(&ws, "t4").exists(), "only t5 ran");

    let unknown = kassa(&ws, &[&args[..], &["--tenant", "t9"]].concat(), &[]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("t9") && unknown.stderr.contains("t1"),
        "{}",
        unknown.stderr
    );
    assert!(!store(&ws, "t1").exists(), "nothing ran");
    let both = kassa(
        &ws,
        &[&args[..], &["--tenant", "t5", "--shard", "0/2"]].concat(),
        &[],
    );
    assert_eq!(both.code, 1, "{both:?}");
    assert!(
        both.stderr
            .contains("'--tenant <NAME>' cannot be used with '--shard <I/N>'"),
        "{}",
        both.stderr
    );
}

/// A small agency with many shards has empty ones: they succeed, saying so.
#[test]
fn an_empty_shard_exits_0_and_says_so() {
    let ws = agency(&["t1"]);
    // t1 is in shard 0 of 2 (pinned by the unit test of the hash).
    let run = kassa(
        &ws,
        &[
            "run",
            "--tenants",
            "conf.d",
            "--shard",
            "1/2",
            "--today",
            NIGHT,
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("shard 1/2: no tenant of conf.d falls in this shard (1 tenant in all)"),
        "{}",
        run.stdout
    );
}

/// `--tenants DIR --tenant NAME` points a one-store command at one tenant's store.
#[test]
fn analyze_with_a_tenant_reads_that_tenants_store() {
    let ws = agency(&["t1", "t2"]);
    let run = kassa(&ws, &["run", "--tenants", "conf.d", "--today", NIGHT], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    // t2 from now on reads only the ads: its analysis differs from t1's.
    std::fs::remove_dir_all(store(&ws, "t2")).unwrap();
    let one = kassa(
        &ws,
        &[
            "analyze",
            "--tenants",
            "conf.d",
            "--tenant",
            "t1",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(one.code, 0, "{one:?}");
    assert!(
        !one.json()["periods"].as_array().unwrap().is_empty(),
        "{}",
        one.stdout
    );
    let two = kassa(
        &ws,
        &[
            "analyze",
            "--tenants",
            "conf.d",
            "--tenant",
            "t2",
            "--format",
            "json",
        ],
        &[],
    );
    assert_ne!(
        two.code, 0,
        "t2's store is gone, yet analyze read one: {two:?}"
    );
    assert!(
        two.stderr.contains(&display(&store(&ws, "t2"))),
        "{}",
        two.stderr
    );

    let unknown = kassa(
        &ws,
        &["analyze", "--tenants", "conf.d", "--tenant", "t9"],
        &[],
    );
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no tenant is named \"t9\"")
            && unknown.stderr.contains("known: t1, t2"),
        "{}",
        unknown.stderr
    );
    let alone = kassa(&ws, &["analyze", "--tenant", "t1"], &[]);
    assert_eq!(alone.code, 1, "{alone:?}");
    assert!(alone.stderr.contains("--tenants"), "{}", alone.stderr);
    // The base file alone is half a configuration: its {tenant} says so.
    let base = kassa(&ws, &["analyze"], &[]);
    assert_eq!(base.code, 1, "{base:?}");
    assert!(
        base.stderr.contains("{tenant}") && base.stderr.contains("--tenants DIR"),
        "{}",
        base.stderr
    );
}

/// `check --tenants DIR` validates every tenant, each problem after its tenant.
#[test]
fn check_over_tenants_lists_every_tenants_problems() {
    let ws = agency(&["t1", "t3"]);
    tenant(&ws, "t2", "[analysis]\ngranularity = \"fortnight\"\n");
    let check = kassa(&ws, &["check", "--tenants", "conf.d"], &[]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check
            .stdout
            .contains("[t1] configuration: valid (2 sources, 0 alert targets)"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("[t3] configuration: valid"),
        "{}",
        check.stdout
    );
    assert!(
        check.stderr.contains("kassa: error: [t2] ")
            && check.stderr.contains("analysis.granularity"),
        "{}",
        check.stderr
    );
    ws.write("conf.d/Bad Name.toml", "");
    let named = kassa(&ws, &["check", "--tenants", "conf.d"], &[]);
    assert_eq!(named.code, 1, "{named:?}");
    assert!(named.stderr.contains("Bad Name.toml"), "{}", named.stderr);
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
