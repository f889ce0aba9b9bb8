//! The store: idempotent upserts by natural key, windows replaced rather than appended; and
//! its schema versions: a store written by an older kassa opens, one from a newer kassa is
//! refused untouched, and snapshots are checked against the schema this kassa knows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kassa::domain::{CachedToken, TokenCache};
use kassa::domain::{Deal, Pulled};
use kassa::domain::{DealStatus, Money, Status};
use kassa::store::{NewOutboxItem, SCHEMA_VERSION, SchemaProblem, Store, StoreError};
use polars::prelude::*;
use secrecy::{ExposeSecret, SecretString};

use crate::helpers::{Workspace, ad_day, d, demo_sources, range, repo, won};

/// Every snapshot file of the store with its bytes, and a dump of the ledger (`ledger.sqlite`):
/// its schema version and every row of every table, in key order. SQLite files may differ
/// byte-wise without any difference in content (free pages, counters), so the ledger is
/// compared by content. Left out: the logs of what each command did, which grow by design
/// (`runs`, and every table keyed by a `run_id`), and the columns that say *when* something
/// happened (`*_at`).
fn snapshot(store: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for dir in ["ads", "deals"] {
        for entry in std::fs::read_dir(store.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            files.insert(path.display().to_string(), std::fs::read(&path).unwrap());
        }
    }
    files.insert(
        "ledger.sqlite".to_string(),
        ledger_dump(&store.join("ledger.sqlite")).into_bytes(),
    );
    files
}

/// One SQLite value, readable.
fn sql_text(value: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("blob{b:?}"),
    }
}

/// The ledger's content as text (see [`snapshot`]).
fn ledger_dump(ledger: &Path) -> String {
    let db =
        rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut dump = format!("user_version {}\n", user_version(ledger));
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'runs' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.iter().any(|t| t == "coverage"), "{tables:?}");
    for table in tables {
        let mut statement = db.prepare(&format!("SELECT * FROM {table}")).unwrap();
        if statement.column_names().contains(&"run_id") {
            continue;
        }
        let columns: Vec<(usize, String)> = statement
            .column_names()
            .into_iter()
            .enumerate()
            .filter(|(_, name)| !name.ends_with("_at"))
            .map(|(i, name)| (i, name.to_string()))
            .collect();
        let mut rows: Vec<String> = statement
            .query_map([], |row| {
                Ok(columns
                    .iter()
                    .map(|(i, name)| format!("{name}={}", sql_text(row.get_ref(*i).unwrap())))
                    .collect::<Vec<_>>()
                    .join(" "))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        dump.push_str(&format!("table {table}\n{}\n", rows.join("\n")));
    }
    dump
}

#[test]
fn re_running_a_backfill_leaves_the_store_identical() {
    let ws = Workspace::new();
    ws.config(&demo_sources());
    let args = ["backfill", "--from", "2025-01-06", "--to", "2025-06-29"];
    let first = ws.kassa(&args);
    assert_eq!(first.code, 0, "{first:?}");
    let before = snapshot(&ws.store_path());
    let ledger = String::from_utf8_lossy(&before["ledger.sqlite"]).into_owned();
    for covered in [
        "source=\"ads\" start_date=\"2025-01-06\" end_date=\"2025-06-29\"",
        "source=\"crm\" start_date=\"2025-01-06\" end_date=\"2025-06-29\"",
    ] {
        assert!(ledger.contains(covered), "{ledger}");
    }
    let analysis_before = ws.kassa(&["analyze", "--format", "json"]).stdout;

    let second = ws.kassa(&args);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(
        snapshot(&ws.store_path()),
        before,
        "the snapshots or the ledger changed"
    );
    assert_eq!(
        ws.kassa(&["analyze", "--format", "json"]).stdout,
        analysis_before
    );

    // An overlapping window re-pulled on its own changes nothing either.
    let overlap = ws.kassa(&["backfill", "--from", "2025-03-01", "--to", "2025-03-31"]);
    assert_eq!(overlap.code, 0, "{overlap:?}");
    assert_eq!(snapshot(&ws.store_path()), before);
}

#[test]
fn a_restated_window_replaces_its_rows() {
    let ws = Workspace::new();
    let mut store = Store::open(&ws.store_path()).unwrap();
    let january = range("2025-01-06", "2025-01-12");
    let first = Pulled::Ads(vec![
        ad_day("2025-01-06", "meta", 100, 10, 50, "5"),
        ad_day("2025-01-07", "meta", 100, 10, 50, "5"),
    ]);
    store
        .upsert("meta", january, &first, Some(january))
        .unwrap();
    // The platform restates the 7th and no longer reports the 6th.
    let restated = Pulled::Ads(vec![ad_day("2025-01-07", "meta", 120, 12, 60, "6")]);
    let stats = store
        .upsert("meta", january, &restated, Some(january))
        .unwrap();
    assert_eq!((stats.replaced, stats.written), (2, 1));

    let ads = store.ads(&["meta"]).unwrap();
    assert_eq!(ads.height(), 1);
    let clicks = ads.column("clicks").unwrap().u64().unwrap().get(0);
    assert_eq!(clicks, Some(12));
    assert_eq!(store.coverage(&["meta"]).unwrap()[0].ranges, vec![january]);
}

#[test]
fn deals_move_with_their_dates_and_never_duplicate() {
    let ws = Workspace::new();
    let mut store = Store::open(&ws.store_path()).unwrap();
    let may = range("2025-05-01", "2025-05-31");
    let june = range("2025-06-01", "2025-06-30");
    store
        .upsert(
            "crm",
            may,
            &Pulled::Deals(vec![won("a", "meta", "2025-05-02", "2025-05-20", "100")]),
            Some(may),
        )
        .unwrap();
    // In June the deal's close date is edited into June, and its amount restated: the June
    // pull returns it (closed in June); the May window must not keep the old version.
    let edited: Deal = won("a", "meta", "2025-05-02", "2025-06-03", "150");
    store
        .upsert(
            "crm",
            june,
            &Pulled::Deals(vec![edited.clone()]),
            Some(june),
        )
        .unwrap();
    let deals = store.deals(&["crm"]).unwrap();
    assert_eq!(deals.height(), 1);
    // Re-pulling May returns it again (created in May): still one row, the same version.
    store
        .upsert("crm", may, &Pulled::Deals(vec![edited]), Some(may))
        .unwrap();
    let deals = store.deals(&["crm"]).unwrap();
    assert_eq!(deals.height(), 1);
    let amount = deals.column("amount_micros").unwrap().i64().unwrap().get(0);
    assert_eq!(amount, Some(150_000_000));
    let coverage = store.coverage(&["crm"]).unwrap();
    assert_eq!(coverage[0].ranges, vec![range("2025-05-01", "2025-06-30")]);
    assert_eq!(d("2025-05-01"), coverage[0].ranges[0].start);
}

/// Copies `tests/data/<name>` (a store written by an older kassa) to `to`.
pub(crate) fn copy_old_store(name: &str, to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    copy(&repo().join("tests/data").join(name), to);
}

/// Every file under `dir` (recursively) with its bytes.
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

fn user_version(ledger: &Path) -> i64 {
    let connection = rusqlite::Connection::open(ledger).unwrap();
    connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

/// The demo CSV's rows (header included) whose `date_column` is on or before `last`.
fn demo_rows(file: &str, date_column: &str, last: &str) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(repo().join("fixtures/demo").join(file)).unwrap();
    let at = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == date_column)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| d(&r[at]) <= d(last))
        .collect()
}

fn demo_config(ws: &Workspace) {
    ws.config(&demo_sources());
}

#[test]
fn a_store_written_before_schema_versions_opens_and_reads_back_as_before() {
    let ws = Workspace::new();
    copy_old_store("store-v1", &ws.store_path());
    assert_eq!(user_version(&ws.store_path().join("ledger.sqlite")), 0);

    let mut store = Store::open(&ws.store_path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), i64::from(SCHEMA_VERSION));

    // Coverage, as `tests/data/README.md` describes it.
    let coverage = store.coverage(&["ads", "crm", "never"]).unwrap();
    assert_eq!(coverage[0].ranges, vec![range("2025-01-06", "2025-03-23")]);
    assert_eq!(coverage[1].ranges, vec![range("2025-01-06", "2025-03-23")]);
    assert!(coverage[2].ranges.is_empty());

    // Ad rows: exactly the demo CSV's rows up to 2025-03-23, value for value.
    let ads = store.ads(&["ads"]).unwrap();
    let expected: BTreeSet<(String, String, u64, u64, u64, i64)> =
        demo_rows("ads.csv", "date", "2025-03-23")
            .iter()
            .map(|r| {
                (
                    r[0].to_string(),
                    r[2].to_string(),
                    r[4].parse().unwrap(),
                    r[5].parse().unwrap(),
                    r[6].parse().unwrap(),
                    Money::parse_decimal(&r[7]).unwrap().micros(),
                )
            })
            .collect();
    assert_eq!(ads.height(), 385);
    let dates = ads.column("date").unwrap().date().unwrap().as_date_iter();
    let campaigns = ads.column("campaign_id").unwrap().str().unwrap().clone();
    let impressions = ads.column("impressions").unwrap().u64().unwrap().clone();
    let reach = ads.column("reach").unwrap().u64().unwrap().clone();
    let clicks = ads.column("clicks").unwrap().u64().unwrap().clone();
    let spend = ads.column("spend_micros").unwrap().i64().unwrap().clone();
    let stored: BTreeSet<_> = dates
        .zip(campaigns.iter())
        .zip(impressions.iter().zip(reach.iter()))
        .zip(clicks.iter().zip(spend.iter()))
        .map(|(((date, campaign), (i, r)), (c, s))| {
            (
                date.unwrap().to_string(),
                campaign.unwrap().to_string(),
                i.unwrap(),
                r.unwrap(),
                c.unwrap(),
                s.unwrap(),
            )
        })
        .collect();
    assert_eq!(stored, expected);

    // Deals: exactly the demo CSV's deals created up to 2025-03-23.
    let deals = store.deals(&["crm"]).unwrap();
    let expected_deals = demo_rows("crm.csv", "created_date", "2025-03-23");
    assert_eq!(deals.height(), 904);
    assert_eq!(deals.height(), expected_deals.len());
    let ids: BTreeSet<&str> = deals
        .column("deal_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|id| id.unwrap())
        .collect();
    assert_eq!(ids, expected_deals.iter().map(|r| &r[0]).collect());
    let amounts: i64 = deals
        .column("amount_micros")
        .unwrap()
        .i64()
        .unwrap()
        .sum()
        .unwrap();
    let expected_amounts: i64 = expected_deals
        .iter()
        .map(|r| Money::parse_decimal(&r[4]).unwrap().micros())
        .sum();
    assert_eq!(amounts, expected_amounts);
    let open = expected_deals
        .iter()
        .filter(|r| r[3].parse::<DealStatus>().unwrap() == DealStatus::Open)
        .count();
    assert_eq!(deals.column("closed_date").unwrap().null_count(), open);

    // Episodes and the outbox, as the old kassa left them.
    let episodes = store.episode_states().unwrap();
    let keys: Vec<(&str, Status, u32)> = episodes
        .iter()
        .map(|e| (e.key.as_str(), e.status, e.updates_sent))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("activity_without_money:all:2025-03-10", Status::Open, 0),
            ("activity_without_money:meta:2025-03-10", Status::Open, 0),
        ]
    );
    assert_eq!(episodes[1].last_start, d("2025-03-17"));
    let pending = store.pending_alerts().unwrap();
    let summary: Vec<(&str, &str, i64)> = pending
        .iter()
        .map(|p| (p.target.as_str(), p.message_id.as_str(), p.attempts))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("team", "activity_without_money:all:2025-03-10:opened", 1),
            ("team", "activity_without_money:meta:2025-03-10:opened", 0),
        ]
    );
    let message: serde_json::Value = serde_json::from_str(&pending[1].message).unwrap();
    assert_eq!(message["channel"], "meta");
    assert_eq!(store.outbox_counts().unwrap(), (0, 2));

    // And it keeps working: the same alert is not recorded twice, runs carry on numbering,
    // and a new upsert rewrites a snapshot that reads back.
    let again = NewOutboxItem {
        target: "team".to_string(),
        message_id: pending[0].message_id.clone(),
        message: pending[0].message.clone(),
    };
    assert_eq!(store.record_alerts(&[], &[], &[again]).unwrap(), 0);
    assert_eq!(store.start_run("test").unwrap(), 2);
    let week = range("2025-03-24", "2025-03-30");
    store
        .upsert(
            "ads",
            week,
            &Pulled::Ads(vec![ad_day("2025-03-24", "meta", 10, 1, 5, "1")]),
            Some(week),
        )
        .unwrap();
    assert_eq!(store.ads(&["ads"]).unwrap().height(), 386);
    assert_eq!(
        store.coverage(&["ads"]).unwrap()[0].ranges,
        vec![range("2025-01-06", "2025-03-30")]
    );
    // Migration 2 gave the old ledger its token table, and the ledger, which now holds
    // tokens, is readable by its owner only.
    let tokens = store.token_ledger().unwrap();
    let token = CachedToken {
        access_token: SecretString::from("access".to_string()),
        expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
        refresh_token: Some(SecretString::from("rotated".to_string())),
        seed: "seed".to_string(),
    };
    tokens.save("source:amocrm", &token).unwrap();
    let kept = tokens
        .load("source:amocrm")
        .unwrap()
        .expect("the token is kept");
    assert_eq!(kept.refresh_token.unwrap().expose_secret(), "rotated");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.store_path().join("ledger.sqlite"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    drop(tokens);
    drop(store);

    // Opening again is a no-op: the version stays, nothing is migrated twice.
    let ledger = ws.store_path().join("ledger.sqlite");
    let before = std::fs::read(&ledger).unwrap();
    let store = Store::open(&ws.store_path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), i64::from(SCHEMA_VERSION));
    drop(store);
    assert_eq!(std::fs::read(&ledger).unwrap(), before);
    assert_eq!(user_version(&ledger), i64::from(SCHEMA_VERSION));
}

#[test]
fn an_old_store_analyses_exactly_like_the_same_data_pulled_by_this_kassa() {
    let old = Workspace::new();
    copy_old_store("store-v1", &old.store_path());
    demo_config(&old);
    let fresh = Workspace::new();
    demo_config(&fresh);
    let pulled = fresh.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-03-23"]);
    assert_eq!(pulled.code, 0, "{pulled:?}");

    let from_old = old.kassa(&["analyze", "--format", "json"]);
    assert_eq!(from_old.code, 0, "{from_old:?}");
    let from_fresh = fresh.kassa(&["analyze", "--format", "json"]);
    assert_eq!(from_fresh.code, 0, "{from_fresh:?}");
    assert_eq!(from_old.json(), from_fresh.json());
    assert!(!from_old.json()["findings"].as_array().unwrap().is_empty());
}

/// A store written before ad rows carried claims opens with the claim columns all null: not
/// reported, never zero; and the store has no report claims.
#[test]
fn old_store_without_claim_columns_reads_not_reported() {
    let ws = Workspace::new();
    copy_old_store("store-v1", &ws.store_path());
    let store = Store::open(&ws.store_path()).unwrap();

    let ads = store.ads(&["ads"]).unwrap();
    assert_eq!(ads.height(), 385);
    for column in [
        "claimed_leads",
        "claimed_purchases",
        "claimed_revenue_micros",
    ] {
        let values = ads.column(column).unwrap();
        assert_eq!(values.null_count(), ads.height(), "{column} holds a value");
    }
    assert_eq!(store.claims(&["ads"]).unwrap().height(), 0);
}

#[test]
fn a_store_from_a_newer_kassa_is_refused_and_left_untouched() {
    let ws = Workspace::new();
    copy_old_store("store-v1", &ws.store_path());
    let ledger = ws.store_path().join("ledger.sqlite");
    let future = i64::from(SCHEMA_VERSION) + 1;
    {
        let connection = rusqlite::Connection::open(&ledger).unwrap();
        connection
            .execute_batch(&format!("PRAGMA user_version = {future}"))
            .unwrap();
    }
    let before = files(&ws.store_path());

    let error = Store::open(&ws.store_path()).unwrap_err();
    match &error {
        StoreError::NewerStore {
            path,
            found,
            newest,
        } => {
            assert_eq!(path, &ledger);
            assert_eq!((*found, *newest), (future, SCHEMA_VERSION));
        }
        other => panic!("expected NewerStore, got {other:?}"),
    }
    let message = error.to_string();
    for part in [
        ledger.display().to_string(),
        format!("schema version {future}"),
        format!("versions up to {SCHEMA_VERSION}"),
        "newer kassa".to_string(),
        "Upgrade kassa".to_string(),
        "`[store] path`".to_string(),
    ] {
        assert!(message.contains(&part), "{part:?} missing from: {message}");
    }
    assert_eq!(
        files(&ws.store_path()),
        before,
        "a refused store was changed"
    );

    // The command line says the same and exits 1.
    demo_config(&ws);
    let run = ws.kassa(&["analyze"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Upgrade kassa"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("schema version {future}")),
        "{}",
        run.stderr
    );
    assert_eq!(
        files(&ws.store_path()),
        before,
        "a refused store was changed"
    );
}

/// Writes `df` as the snapshot of ads source `source`, optionally stamped with a version.
fn write_ads_snapshot(
    store: &Path,
    source: &str,
    df: &mut DataFrame,
    stamp: Option<&str>,
) -> PathBuf {
    let path = store.join("ads").join(format!("{source}.parquet"));
    let file = std::fs::File::create(&path).unwrap();
    let metadata = stamp.map(|v| {
        KeyValueMetadata::from_static(vec![("kassa.store_schema".to_string(), v.to_string())])
    });
    ParquetWriter::new(file)
        .with_key_value_metadata(metadata)
        .finish(df)
        .unwrap();
    path
}

fn two_ad_days() -> DataFrame {
    kassa::store::ad_rows_to_frame(
        "meta",
        &[
            ad_day("2025-01-06", "meta", 100, 10, 50, "5"),
            ad_day("2025-01-07", "meta", 100, 10, 50, "5"),
        ],
    )
    .unwrap()
}

#[test]
fn a_snapshot_with_an_unknown_column_is_refused_naming_the_file_and_the_column() {
    let ws = Workspace::new();
    let mut store = Store::open(&ws.store_path()).unwrap();
    let mut df = two_ad_days();
    df.with_column(Column::new("claimed_refunds".into(), [Some(3u64), None]))
        .unwrap();
    let path = write_ads_snapshot(&ws.store_path(), "meta", &mut df, None);
    let before = std::fs::read(&path).unwrap();

    let error = store.ads(&["meta"]).unwrap_err();
    match &error {
        StoreError::SnapshotSchema {
            path: p,
            problem: SchemaProblem::UnknownColumn { column, .. },
        } => {
            assert_eq!(p, &path);
            assert_eq!(column, "claimed_refunds");
        }
        other => panic!("expected an unknown column, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("`claimed_refunds`"), "{message}");
    assert!(message.contains("newer kassa"), "{message}");

    // An upsert refuses it too, and leaves the file as it was.
    let january = range("2025-01-06", "2025-01-12");
    let rows = Pulled::Ads(vec![ad_day("2025-01-06", "meta", 1, 1, 1, "1")]);
    assert!(matches!(
        store.upsert("meta", january, &rows, Some(january)),
        Err(StoreError::SnapshotSchema { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(store.coverage(&["meta"]).unwrap()[0].ranges.is_empty());
}

#[test]
fn a_snapshot_column_of_the_wrong_type_is_refused_naming_the_column() {
    let ws = Workspace::new();
    let store = Store::open(&ws.store_path()).unwrap();
    let mut df = two_ad_days();
    let clicks = df
        .column("clicks")
        .unwrap()
        .cast(&DataType::String)
        .unwrap();
    df.with_column(clicks).unwrap();
    let path = write_ads_snapshot(&ws.store_path(), "meta", &mut df, None);

    let error = store.ads(&["meta"]).unwrap_err();
    assert!(
        matches!(
            &error,
            StoreError::SnapshotSchema { problem: SchemaProblem::WrongType { column, .. }, .. }
                if column == "clicks"
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("`clicks`"), "{message}");
}

#[test]
fn a_snapshot_missing_a_required_column_is_refused() {
    let ws = Workspace::new();
    let store = Store::open(&ws.store_path()).unwrap();
    let mut df = two_ad_days().drop("spend_micros").unwrap();
    write_ads_snapshot(&ws.store_path(), "meta", &mut df, None);
    let error = store.ads(&["meta"]).unwrap_err();
    assert!(
        matches!(
            &error,
            StoreError::SnapshotSchema { problem: SchemaProblem::MissingColumn { column, .. }, .. }
                if column == "spend_micros"
        ),
        "{error:?}"
    );
}

#[test]
fn a_snapshot_stamped_by_a_newer_kassa_is_refused() {
    let ws = Workspace::new();
    let store = Store::open(&ws.store_path()).unwrap();
    let future = (SCHEMA_VERSION + 1).to_string();
    let path = write_ads_snapshot(&ws.store_path(), "meta", &mut two_ad_days(), Some(&future));
    let error = store.ads(&["meta"]).unwrap_err();
    match &error {
        StoreError::NewerSnapshot {
            path: p,
            found,
            newest,
        } => {
            assert_eq!(p, &path);
            assert_eq!((found.to_string(), *newest), (future, SCHEMA_VERSION));
        }
        other => panic!("expected NewerSnapshot, got {other:?}"),
    }
    assert!(error.to_string().contains("Upgrade kassa"));
}

#[test]
fn a_snapshot_missing_a_nullable_column_reads_it_as_nulls_never_zeros() {
    let ws = Workspace::new();
    let mut store = Store::open(&ws.store_path()).unwrap();
    // As an older kassa would have written it, before `reach` and `currency` existed.
    let mut old = two_ad_days().drop_many(["reach", "currency"]);
    write_ads_snapshot(&ws.store_path(), "meta", &mut old, None);

    let ads = store.ads(&["meta"]).unwrap();
    let names: Vec<&str> = ads.columns().iter().map(|c| c.name().as_str()).collect();
    let expected = kassa::store::ad_rows_to_frame("x", &[]).unwrap();
    let expected: Vec<&str> = expected
        .columns()
        .iter()
        .map(|c| c.name().as_str())
        .collect();
    assert_eq!(names, expected, "columns in the schema's order");
    assert_eq!(ads.height(), 2);
    assert_eq!(ads.column("reach").unwrap().dtype(), &DataType::UInt64);
    assert_eq!(ads.column("reach").unwrap().null_count(), 2);
    assert_eq!(ads.column("currency").unwrap().null_count(), 2);
    assert_eq!(
        ads.column("clicks").unwrap().u64().unwrap().sum(),
        Some(20),
        "the columns it had read as written"
    );

    // The next upsert writes the file in full; the old rows keep "not reported".
    let week = range("2025-01-08", "2025-01-12");
    store
        .upsert(
            "meta",
            week,
            &Pulled::Ads(vec![ad_day("2025-01-08", "meta", 100, 10, 50, "5")]),
            Some(week),
        )
        .unwrap();
    let ads = store.ads(&["meta"]).unwrap();
    let reach: Vec<Option<u64>> = ads.column("reach").unwrap().u64().unwrap().iter().collect();
    assert_eq!(reach, vec![None, None, Some(50)]);
}

// Guards: store schema 3 (deals keep their instants, snapshots their time zone) opens a store
// written before it: its deals read with no instants and an unknown zone, so they keep their
// dates whatever `[analysis] timezone` says (nothing is dropped or moved), and the first
// upsert stamps the file with the configured zone; deals pulled since then carry instants and
// follow the next change of zone, while the old ones stay where they were.
#[test]
fn old_store_opens_after_timezone_migration() {
    let ws = Workspace::new();
    copy_old_store("store-v1", &ws.store_path());
    let mut store = Store::open(&ws.store_path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), i64::from(SCHEMA_VERSION));
    let moscow: chrono_tz::Tz = "Europe/Moscow".parse().unwrap();
    assert!(store.timezone_changes(&["crm"], moscow).unwrap().is_empty());
    let before = store.deals(&["crm"]).unwrap();
    let in_moscow = store.deals_in(&["crm"], moscow).unwrap();
    assert!(
        before.equals_missing(&in_moscow),
        "an unknown zone re-dates nothing"
    );
    assert_eq!(before.height(), 904);
    assert_eq!(before.column("created_at_ms").unwrap().null_count(), 904);

    // A deal pulled now, in UTC, late on a Sunday: Monday in Moscow.
    store.set_timezone(chrono_tz::Tz::UTC);
    // Far after the old store's deals, so the window replaces none of them.
    let week = range("2026-03-23", "2026-03-29");
    let mut late = won("late-sunday", "meta", "2026-03-29", "2026-03-29", "100");
    late.instants = Some(kassa::domain::DealInstants {
        created: "2026-03-29T20:30:00Z".parse().unwrap(),
        closed: Some("2026-03-29T22:00:00Z".parse().unwrap()),
    });
    store
        .upsert("crm", week, &Pulled::Deals(vec![late]), Some(week))
        .unwrap();
    let changes = store.timezone_changes(&["crm"], moscow).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (
            changes[0].stored.as_str(),
            changes[0].redated,
            changes[0].without_instants
        ),
        ("UTC", 1, 904)
    );
    let in_moscow = store.deals_in(&["crm"], moscow).unwrap();
    assert_eq!(in_moscow.height(), 905, "nothing dropped");
    let ids = in_moscow.column("deal_id").unwrap().str().unwrap().clone();
    let closed = in_moscow
        .column("closed_date")
        .unwrap()
        .date()
        .unwrap()
        .clone();
    let late_closed: Vec<_> = ids
        .iter()
        .zip(closed.as_date_iter())
        .filter(|(id, _)| *id == Some("late-sunday"))
        .map(|(_, date)| date)
        .collect();
    assert_eq!(late_closed, vec![Some(d("2026-03-30"))]);
    let dated = |frame: &DataFrame| -> BTreeSet<(String, Option<String>)> {
        let ids = frame.column("deal_id").unwrap().str().unwrap().clone();
        let closed = frame.column("closed_date").unwrap().date().unwrap().clone();
        ids.iter()
            .zip(closed.as_date_iter())
            .filter(|(id, _)| *id != Some("late-sunday"))
            .map(|(id, date)| (id.unwrap().to_string(), date.map(|d| d.to_string())))
            .collect()
    };
    assert_eq!(
        dated(&in_moscow),
        dated(&before),
        "old deals keep their dates"
    );
}

/// A write cut short (a full disk, a kill) leaves `*.parquet.tmp` beside the snapshot it was
/// to replace; opening the store for writing removes it and keeps the snapshot.
#[test]
fn leftover_temporaries_are_removed_on_open() {
    let ws = Workspace::new();
    let mut store = Store::open(&ws.store_path()).unwrap();
    store
        .upsert(
            "meta",
            range("2024-05-01", "2024-05-01"),
            &Pulled::Ads(vec![ad_day("2024-05-01", "meta", 100, 10, 50, "1.00")]),
            Some(range("2024-05-01", "2024-05-01")),
        )
        .unwrap();
    drop(store);
    let leftovers = [
        ws.store_path().join("ads/meta.parquet.tmp"),
        ws.store_path().join("deals/crm.parquet.tmp"),
    ];
    for leftover in &leftovers {
        std::fs::write(leftover, b"half a parquet file").unwrap();
    }

    let store = Store::open(&ws.store_path()).unwrap();

    for leftover in &leftovers {
        assert!(!leftover.exists(), "{} was left", leftover.display());
    }
    assert_eq!(store.ads(&["meta"]).unwrap().height(), 1);
}
