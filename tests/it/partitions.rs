//! The store by months (schema 8): a re-pull rewrites only the month files its window touches;
//! an older single-file store analyses the same before and after it is split on open, and a
//! split cut short leaves a store that opens and reads the same; the lazy scans return what
//! the eager readers return; and no source name can pass for a month file.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::Days;
use kassa::domain::{AdDay, ClaimMetric, Deal, DealInstants, Pulled, ReportClaim};
use kassa::store::{SCHEMA_VERSION, Store};
use polars::prelude::*;

use crate::helpers::{Workspace, ad_day, d, demo_sources, lead, money, range, repo, won};

/// Copies `tests/data/<name>` (a store written by an older kassa) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn copy_old_store(to: &Path) {
    copy_dir(&repo().join("tests/data/store-v1"), to);
}

/// The names of the files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file under `dir` (recursively) with its inode and modification time: a file
/// rewritten through tmp + rename gets a new inode even within the clock's granularity.
fn identities(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64)> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(identities(&path));
        } else {
            let meta = std::fs::metadata(&path).unwrap();
            found.insert(path, (meta.ino(), meta.mtime(), meta.mtime_nsec()));
        }
    }
    found
}

/// One row a day from `from` for `days` days on `channel`, spending `spend` a day.
fn daily(channel: &str, from: &str, days: u64, spend: &str) -> Vec<AdDay> {
    (0..days)
        .map(|i| {
            let date = d(from).checked_add_days(Days::new(i)).unwrap();
            ad_day(&date.to_string(), channel, 100, 10, 50, spend)
        })
        .collect()
}

fn spend_in(store: &Store, source: &str, from: &str, to: &str) -> i64 {
    let ads = store.ads(&[source]).unwrap();
    let dates = ads.column("date").unwrap().date().unwrap().clone();
    let spend = ads.column("spend_micros").unwrap().i64().unwrap().clone();
    dates
        .as_date_iter()
        .zip(spend.iter())
        .filter(|(date, _)| date.is_some_and(|t| d(from) <= t && t <= d(to)))
        .map(|(_, s)| s.unwrap())
        .sum()
}

// Guards: a nightly re-pull costs what its window touches, not what the store holds. Six
// months of two sources; a 28-day window across the end of March rewrites March's and April's
// files of that source (and its manifest), and no other file is replaced.
#[test]
fn a_repull_across_a_month_boundary_rewrites_only_the_two_touched_months() {
    let ws = Workspace::new();
    let mut store = Store::open(&ws.store_path()).unwrap();
    let half_year = range("2025-01-01", "2025-06-30");
    for source in ["meta", "google"] {
        let mut rows = daily(source, "2025-01-01", 181, "10");
        rows.extend(daily("other", "2025-01-01", 181, "1"));
        store
            .upsert(source, half_year, &Pulled::Ads(rows), Some(half_year))
            .unwrap();
    }
    assert_eq!(store.partitions_written(), 12, "six months of two sources");
    let months: Vec<String> = (1..=6)
        .map(|m| format!("meta.month=2025-{m:02}.parquet"))
        .collect();
    for month in &months {
        assert!(ws.store_path().join("ads").join(month).is_file(), "{month}");
    }
    let before = identities(&ws.store_path());

    let window = range("2025-03-20", "2025-04-16");
    let mut rows = daily("meta", "2025-03-20", 28, "20");
    rows.extend(daily("other", "2025-03-20", 28, "1"));
    let stats = store
        .upsert("meta", window, &Pulled::Ads(rows), Some(window))
        .unwrap();
    assert_eq!((stats.replaced, stats.written), (56, 56));

    assert_eq!(store.partitions_written(), 14, "exactly two month files");
    let after = identities(&ws.store_path());
    let ads = ws.store_path().join("ads");
    let rewritten = [
        ads.join("meta.month=2025-03.parquet"),
        ads.join("meta.month=2025-04.parquet"),
        ads.join("meta.parquet"),
    ];
    for (path, identity) in &before {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("ledger.sqlite") || name == "kassa.lock" {
            continue;
        }
        if rewritten.contains(path) {
            assert_ne!(after.get(path), Some(identity), "{} kept", path.display());
        } else {
            assert_eq!(
                after.get(path),
                Some(identity),
                "{} rewritten",
                path.display()
            );
        }
    }
    let new_files: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert!(new_files.is_empty(), "{new_files:?}");

    // And the window holds the new rows, the months around it the old ones.
    assert_eq!(
        spend_in(&store, "meta", "2025-03-20", "2025-04-16"),
        money("20").micros() * 28 + money("1").micros() * 28
    );
    assert_eq!(
        spend_in(&store, "meta", "2025-01-01", "2025-03-19"),
        money("11").micros() * 78
    );
    assert_eq!(
        spend_in(&store, "google", "2025-03-20", "2025-04-16"),
        money("11").micros() * 28
    );
}

fn demo_workspace_with_old_store() -> Workspace {
    let ws = Workspace::new();
    copy_old_store(&ws.store_path());
    ws.config(&demo_sources());
    ws
}

fn analyze_json(ws: &Workspace) -> String {
    let run = ws.kassa(&["analyze", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.json()["findings"].as_array().unwrap().is_empty());
    run.stdout
}

// Guards: migration 8. `analyze` reads an older store as it is and migrates nothing; the first
// writer's open splits every single-file snapshot into month files, and `analyze` then prints
// the same bytes.
#[test]
fn an_old_single_file_store_is_split_on_open_and_analyses_byte_identically() {
    let ws = demo_workspace_with_old_store();
    let untouched = identities(&ws.store_path());
    let before = analyze_json(&ws);
    assert_eq!(
        identities(&ws.store_path()),
        untouched,
        "a read-only analyze changed the store"
    );
    let (ads_before, deals_before) = {
        let store = Store::open_read_only(&ws.store_path()).unwrap();
        (store.ads(&["ads"]).unwrap(), store.deals(&["crm"]).unwrap())
    };

    let store = Store::open(&ws.store_path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), i64::from(SCHEMA_VERSION));
    let months = |source: &str| {
        ["01", "02", "03"]
            .map(|m| format!("{source}.month=2025-{m}.parquet"))
            .to_vec()
    };
    let mut ads = months("ads");
    ads.push("ads.parquet".into());
    let mut deals = months("crm");
    deals.push("crm.parquet".into());
    assert_eq!(names(&ws.store_path().join("ads")), ads);
    assert_eq!(names(&ws.store_path().join("deals")), deals);
    assert!(store.ads(&["ads"]).unwrap().equals_missing(&ads_before));
    assert!(store.deals(&["crm"]).unwrap().equals_missing(&deals_before));
    drop(store);

    assert_eq!(analyze_json(&ws), before);
}

/// The ads rows sorted by their natural key, and deals by theirs: frames stacked from files in
/// another order compare equal when they hold the same rows.
fn sorted(frame: DataFrame, by: &[&str]) -> DataFrame {
    frame
        .sort(by.to_vec(), SortMultipleOptions::default())
        .unwrap()
}

fn assert_same(lazy: LazyFrame, eager: DataFrame, by: &[&str], what: &str) {
    let lazy = sorted(lazy.collect().unwrap(), by);
    let eager = sorted(eager, by);
    assert_eq!(lazy.schema(), eager.schema(), "{what}: schemas");
    assert!(
        lazy.equals_missing(&eager),
        "{what}: lazy\n{lazy}\neager\n{eager}"
    );
}

const AD_KEY: &[&str] = &["source", "account", "campaign_id", "date"];
const DEAL_KEY: &[&str] = &["source", "deal_id"];
const CLAIM_KEY: &[&str] = &["source", "period_start", "channel", "metric"];

fn claim(from: &str, to: &str, channel: &str, metric: ClaimMetric, value: &str) -> ReportClaim {
    ReportClaim {
        period: range(from, to),
        channel: channel.into(),
        metric,
        value: money(value),
        currency: None,
        note: Some("platform".into()),
    }
}

/// A deal with the CRM's instants, closed in UTC late on `created`'s evening.
fn won_at(id: &str, channel: &str, created: &str, amount: &str) -> Deal {
    let mut deal = won(id, channel, created, created, amount);
    deal.instants = Some(DealInstants {
        created: format!("{created}T20:30:00Z").parse().unwrap(),
        closed: Some(format!("{created}T22:00:00Z").parse().unwrap()),
    });
    deal
}

// Guards: `scan_ads`, `scan_claims` and `scan_deals_in` (what the lazy analysis reads) return
// the rows, columns and types of `ads`, `claims` and `deals_in`: over several months and
// sources, over an older single-file snapshot lacking nullable columns (`store-v1`, read as it
// is, and again once split), and with deals dated in another zone than the one asked for.
#[test]
fn lazy_scans_return_what_the_eager_readers_return() {
    let ws = Workspace::new();
    copy_old_store(&ws.store_path());
    let utc = chrono_tz::Tz::UTC;
    let moscow: chrono_tz::Tz = "Europe/Moscow".parse().unwrap();
    let check = |store: &Store, what: &str| {
        let ads = ["ads", "meta", "google", "missing"];
        assert_same(
            store.scan_ads(&ads).unwrap(),
            store.ads(&ads).unwrap(),
            AD_KEY,
            &format!("{what}: ads"),
        );
        let claims = ["report", "ads"];
        assert_same(
            store.scan_claims(&claims).unwrap(),
            store.claims(&claims).unwrap(),
            CLAIM_KEY,
            &format!("{what}: claims"),
        );
        for zone in [utc, moscow] {
            let deals = ["crm", "hub", "missing"];
            assert_same(
                store.scan_deals_in(&deals, zone).unwrap(),
                store.deals_in(&deals, zone).unwrap(),
                DEAL_KEY,
                &format!("{what}: deals in {zone}"),
            );
        }
        // With a projection and a predicate, as the analysis asks.
        let from = d("2025-02-10");
        let pick = |frame: LazyFrame| {
            let from = lit(from.to_epoch_days()).cast(DataType::Date);
            frame.filter(col("date").gt_eq(from)).select([
                col("source"),
                col("date"),
                col("spend_micros"),
                col("reach"),
            ])
        };
        assert_same(
            pick(store.scan_ads(&ads).unwrap()),
            pick(store.ads(&ads).unwrap().lazy()).collect().unwrap(),
            &["source", "date", "spend_micros"],
            &format!("{what}: ads from {from}"),
        );
    };

    // The old store as `analyze` reads it: single files, without claim columns or instants.
    check(
        &Store::open_read_only(&ws.store_path()).unwrap(),
        "old layout",
    );

    let mut store = Store::open(&ws.store_path()).unwrap();
    store.set_timezone(utc);
    check(&store, "split");
    let quarter = range("2025-04-01", "2025-06-30");
    for source in ["meta", "google"] {
        let mut rows = daily(source, "2025-04-01", 91, "3");
        rows[0].claims.leads = Some(4);
        rows[1].campaign_name = Some("spring".into());
        store
            .upsert(source, quarter, &Pulled::Ads(rows), Some(quarter))
            .unwrap();
    }
    let claims = vec![
        claim("2025-04-01", "2025-04-30", "meta", ClaimMetric::Leads, "12"),
        claim("2025-05-01", "2025-05-31", "meta", ClaimMetric::Roas, "2.5"),
        claim(
            "2025-06-01",
            "2025-06-30",
            "google",
            ClaimMetric::Spend,
            "9",
        ),
    ];
    store
        .upsert("report", quarter, &Pulled::Claims(claims), Some(quarter))
        .unwrap();
    for source in ["crm", "hub"] {
        let deals = vec![
            won_at(&format!("{source}-1"), "meta", "2025-04-30", "100"),
            won_at(&format!("{source}-2"), "google", "2025-05-31", "50"),
            lead(&format!("{source}-3"), "meta", "2025-06-15"),
        ];
        store
            .upsert(source, quarter, &Pulled::Deals(deals), Some(quarter))
            .unwrap();
    }
    check(&store, "several months and sources");
    assert!(
        names(&ws.store_path().join("deals")).contains(&"hub.month=2025-05.parquet".to_string())
    );

    // A file lacking nullable columns that is read as it is: an older kassa's single file.
    let mut old = kassa::store::ad_rows_to_frame("google", &daily("google", "2024-12-30", 3, "7"))
        .unwrap()
        .drop_many(["reach", "currency", "claimed_leads"]);
    let file = std::fs::File::create(ws.store_path().join("ads/older.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut old).unwrap();
    let ads = ["older", "meta"];
    assert_same(
        store.scan_ads(&ads).unwrap(),
        store.ads(&ads).unwrap(),
        AD_KEY,
        "a file without nullable columns",
    );
    let scanned = store.scan_ads(&["older"]).unwrap().collect().unwrap();
    assert_eq!(scanned.column("reach").unwrap().null_count(), 3);
    assert_eq!(scanned.column("reach").unwrap().dtype(), &DataType::UInt64);
}

/// Every row the store holds for the demo sources, and what `analyze` prints.
fn contents(ws: &Workspace) -> (DataFrame, DataFrame, String) {
    let store = Store::open_read_only(&ws.store_path()).unwrap();
    let ads = sorted(store.ads(&["ads"]).unwrap(), AD_KEY);
    let deals = sorted(store.deals(&["crm"]).unwrap(), DEAL_KEY);
    drop(store);
    (ads, deals, analyze_json(ws))
}

// Guards: the split's order. Month files are written first (each through
// `<source>.parquet.tmp`), the manifest last, replacing the single file in one rename, and
// the ledger says 8 only after every source is split. A crash after the ads were split and
// while the deals were half done leaves: the ledger at 7, `ads/` split, `deals/crm.parquet`
// whole beside one month file and a half-written temporary. That store reads the same (the
// stray month file is ignored while the file is unmarked), and the next open finishes the
// split and reads the same again.
#[test]
fn a_split_cut_short_leaves_a_store_that_opens_and_reads_the_same() {
    let intact = demo_workspace_with_old_store();
    let expected = contents(&intact);

    // What a finished split looks like, to take the crash's files from.
    let split = demo_workspace_with_old_store();
    drop(Store::open(&split.store_path()).unwrap());

    let crashed = demo_workspace_with_old_store();
    let store = crashed.store_path();
    std::fs::copy(
        split.store_path().join("ledger.sqlite"),
        store.join("ledger.sqlite"),
    )
    .unwrap();
    rusqlite::Connection::open(store.join("ledger.sqlite"))
        .unwrap()
        .execute_batch("PRAGMA user_version = 7")
        .unwrap();
    std::fs::remove_dir_all(store.join("ads")).unwrap();
    copy_dir(&split.store_path().join("ads"), &store.join("ads"));
    std::fs::copy(
        split.store_path().join("deals/crm.month=2025-01.parquet"),
        store.join("deals/crm.month=2025-01.parquet"),
    )
    .unwrap();
    std::fs::write(store.join("deals/crm.parquet.tmp"), b"PAR1 half a month").unwrap();

    assert_eq!(contents(&crashed), expected, "read as the crash left it");

    let opened = Store::open(&store).unwrap();
    assert_eq!(opened.schema_version().unwrap(), i64::from(SCHEMA_VERSION));
    drop(opened);
    assert_eq!(
        names(&store.join("deals")),
        [
            "crm.month=2025-01.parquet",
            "crm.month=2025-02.parquet",
            "crm.month=2025-03.parquet",
            "crm.parquet"
        ]
    );
    assert_eq!(
        contents(&crashed),
        expected,
        "read after the split was finished"
    );
    assert_eq!(
        contents(&split),
        expected,
        "read after an uninterrupted split"
    );
}

// Guards: a source's files are named after it (`ads/<name>.month=2025-03.parquet`), so a
// source named like a month file would read as another source's month. Config validation
// refuses such a name, saying why.
#[test]
fn a_source_named_like_a_month_file_is_refused() {
    let ws = Workspace::new();
    ws.config(&format!(
        "[[sources]]\nname = \"ads.month=2025-03\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n\n{}",
        demo_sources()
    ));
    let run = ws.kassa(&["check", "--offline"]);
    assert_eq!(run.code, 1, "{run:?}");
    for part in [
        "sources[0].name",
        "\"ads.month=2025-03\"",
        "month file",
        "name = \"meta-main\"",
    ] {
        assert!(
            run.stderr.contains(part),
            "{part:?} missing:\n{}",
            run.stderr
        );
    }
}
