//! Snapshots on S3-compatible object storage (`[store] snapshots = "s3://…"`), against moto's
//! S3 server on 127.0.0.1: the demo through the bucket analyses byte for byte like the
//! embedded store; another working directory on the same ledger reads the same rows; a stale
//! local month is replaced from the ledger's pointer; objects are never overwritten and a lost
//! compare-and-set is refused; an embedded store opened with a bucket is uploaded; the secret
//! key shows nowhere; bad `snapshots` values are refused by `kassa check`.
//!
//! These tests need `KASSA_SERVICES=1` and run against the moto server `services.rs` starts
//! (one per test binary, a bucket per test).

use std::path::{Path, PathBuf};

use kassa::domain::Pulled;
use kassa::store::{SnapshotLocation, Store, StoreError, StoreLocation};

use crate::helpers::{Workspace, ad_day, demo_sources, kassa_in, range};
use crate::services::{SECRET_KEY, moto};

fn location(path: &Path, bucket: &str, prefix: &str) -> StoreLocation {
    StoreLocation {
        snapshots: SnapshotLocation::ObjectStore {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        },
        ..StoreLocation::embedded(path)
    }
}

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut found = std::collections::BTreeMap::new();
    for entry in walk(dir) {
        let name = entry.strip_prefix(dir).unwrap().display().to_string();
        found.insert(name, std::fs::read(&entry).unwrap());
    }
    found
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(walk(&path));
        } else {
            all.push(path);
        }
    }
    all
}

/// The object keys the working copy at `store` says it holds (`snapshots.index`).
fn indexed(store: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(store.join("snapshots.index"))
        .unwrap()
        .lines()
        .map(|l| {
            let (name, key) = l.split_once('\t').unwrap();
            (name.to_string(), key.to_string())
        })
        .collect()
}

#[test]
fn backfill_and_analyze_through_s3_snapshots_equal_the_embedded_store() {
    let Some(moto) = moto("backfill_and_analyze_through_s3_snapshots_equal_the_embedded_store")
    else {
        return;
    };
    let bucket = moto.bucket("backfill-analyze");
    let env: Vec<(String, String)> = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let backfill = ["backfill", "--from", "2025-01-06", "--to", "2025-06-29"];
    let analyze = ["analyze", "--format", "json"];

    let embedded = Workspace::new();
    embedded.config(&demo_sources());
    let run = embedded.kassa(&backfill);
    assert_eq!(run.code, 0, "{run:?}");
    let expected = embedded.kassa(&analyze);
    assert_eq!(expected.code, 0, "{expected:?}");

    let remote = Workspace::new();
    let config = remote.write(
        "kassa.toml",
        &format!(
            "[store]\npath = \"pod-a\"\nsnapshots = \"s3://{bucket}/agency/acme\"\n\n{}",
            demo_sources()
        ),
    );
    let run = kassa_in(remote.path(), &config, &backfill, &env);
    assert_eq!(run.code, 0, "{run:?}");
    let got = kassa_in(remote.path(), &config, &analyze, &env);
    assert_eq!(got.code, 0, "{got:?}");
    assert_eq!(got.stdout, expected.stdout);

    // Every month file of the working copy is an object under the prefix, with a version.
    let pod_a = remote.path().join("pod-a");
    let keys = indexed(&pod_a);
    assert!(!keys.is_empty());
    let objects = moto.objects(&bucket, "");
    for (name, key) in &keys {
        let stem = name.strip_suffix(".parquet").unwrap();
        assert!(
            key.starts_with(&format!("agency/acme/{stem}.")),
            "{name} -> {key}"
        );
        assert_eq!(
            objects.get(key).unwrap(),
            std::fs::read(pod_a.join(name)).unwrap()
        );
    }

    // Another pod: its own empty working directory on the same ledger (copied here, as a
    // shared ledger would be) reads the same data from the bucket.
    let pod_b = remote.path().join("pod-b");
    std::fs::create_dir_all(&pod_b).unwrap();
    std::fs::copy(pod_a.join("ledger.sqlite"), pod_b.join("ledger.sqlite")).unwrap();
    let config_b = remote.write(
        "pod-b.toml",
        &format!(
            "[store]\npath = \"pod-b\"\nsnapshots = \"s3://{bucket}/agency/acme\"\n\n{}",
            demo_sources()
        ),
    );
    let got_b = kassa_in(remote.path(), &config_b, &analyze, &env);
    assert_eq!(got_b.code, 0, "{got_b:?}");
    assert_eq!(got_b.stdout, expected.stdout);
    let snapshots_only = |dir: &Path| {
        let mut all = files(dir);
        all.retain(|name, _| name.starts_with("ads/") || name.starts_with("deals/"));
        all
    };
    assert_eq!(snapshots_only(&pod_b), snapshots_only(&pod_a));
}

#[test]
fn a_stale_local_month_is_replaced_from_the_ledgers_pointer() {
    let Some(moto) = moto("a_stale_local_month_is_replaced_from_the_ledgers_pointer") else {
        return;
    };
    let bucket = moto.bucket("stale-month");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let march = range("2025-03-01", "2025-03-31");
    let rows = |spend: &str| Pulled::Ads(vec![ad_day("2025-03-10", "meta", 100, 10, 90, spend)]);

    let mut store = Store::open_at_with_env(&location(&a, &bucket, "p"), moto.env()).unwrap();
    store
        .upsert("meta", march, &rows("10"), Some(march))
        .unwrap();
    drop(store);
    // Pod b starts from a's ledger, and gets a's March.
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(a.join("ledger.sqlite"), b.join("ledger.sqlite")).unwrap();
    let store_b = Store::open_at_with_env(&location(&b, &bucket, "p"), moto.env()).unwrap();
    let spend = |store: &Store| {
        store
            .ads(&["meta"])
            .unwrap()
            .column("spend_micros")
            .unwrap()
            .i64()
            .unwrap()
            .get(0)
    };
    assert_eq!(spend(&store_b), Some(10_000_000));
    drop(store_b);

    // Pod b writes March again; pod a's local March is now stale. Sharing the ledger is
    // simulated by copying it back.
    let mut store_b = Store::open_at_with_env(&location(&b, &bucket, "p"), moto.env()).unwrap();
    store_b
        .upsert("meta", march, &rows("25"), Some(march))
        .unwrap();
    drop(store_b);
    std::fs::copy(b.join("ledger.sqlite"), a.join("ledger.sqlite")).unwrap();
    let month = "ads/meta.month=2025-03.parquet";
    assert_ne!(
        std::fs::read(a.join(month)).unwrap(),
        std::fs::read(b.join(month)).unwrap()
    );
    let store_a = Store::open_at_with_env(&location(&a, &bucket, "p"), moto.env()).unwrap();
    assert_eq!(spend(&store_a), Some(25_000_000));
    assert_eq!(
        std::fs::read(a.join(month)).unwrap(),
        std::fs::read(b.join(month)).unwrap()
    );
    assert_eq!(indexed(&a), indexed(&b));

    // A month the ledger no longer points at goes from the working copy.
    std::fs::copy(a.join(month), a.join("ads/meta.month=2024-12.parquet")).unwrap();
    drop(store_a);
    let store_a = Store::open_at_with_env(&location(&a, &bucket, "p"), moto.env()).unwrap();
    assert!(!a.join("ads/meta.month=2024-12.parquet").exists());
    assert_eq!(spend(&store_a), Some(25_000_000));
}

#[test]
fn objects_are_never_overwritten_and_a_lost_pointer_switch_is_refused() {
    let Some(moto) = moto("objects_are_never_overwritten_and_a_lost_pointer_switch_is_refused")
    else {
        return;
    };
    let bucket = moto.bucket("never-overwritten");
    let objects = moto.objects(&bucket, "");
    objects.put_new("x/first.parquet", b"one".to_vec()).unwrap();
    let again = objects
        .put_new("x/first.parquet", b"two".to_vec())
        .unwrap_err();
    assert!(
        matches!(&again, StoreError::Object { operation: "put", key, .. } if key == "x/first.parquet"),
        "{again:?}"
    );
    assert_eq!(objects.get("x/first.parquet").unwrap(), b"one");

    // Two working copies on one ledger (b's ledger is a's, through a symbolic link): both
    // start from the same March; a switches it first, so b's switch finds it moved.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let march = range("2025-03-01", "2025-03-31");
    let rows = |spend: &str| Pulled::Ads(vec![ad_day("2025-03-10", "meta", 100, 10, 90, spend)]);
    let mut store_a = Store::open_at_with_env(&location(&a, &bucket, ""), moto.env()).unwrap();
    store_a
        .upsert("meta", march, &rows("10"), Some(march))
        .unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::os::unix::fs::symlink(a.join("ledger.sqlite"), b.join("ledger.sqlite")).unwrap();
    let mut store_b = Store::open_at_with_env(&location(&b, &bucket, ""), moto.env()).unwrap();
    store_a
        .upsert("meta", march, &rows("20"), Some(march))
        .unwrap();
    let pointed = indexed(&a);
    let lost = store_b
        .upsert("meta", march, &rows("30"), Some(march))
        .unwrap_err();
    let text = lost.to_string();
    assert!(
        matches!(&lost, StoreError::PointerMoved { month, .. } if month == "2025-03"),
        "{lost:?}"
    );
    assert!(text.contains("ads/meta month 2025-03"), "{text}");
    // The ledger still points at a's object, which is whole.
    drop(store_b);
    let store_b = Store::open_at_with_env(&location(&b, &bucket, ""), moto.env()).unwrap();
    assert_eq!(indexed(&b), pointed);
    let spend = store_b.ads(&["meta"]).unwrap();
    assert_eq!(
        spend.column("spend_micros").unwrap().i64().unwrap().get(0),
        Some(20_000_000)
    );
}

#[test]
fn the_aws_secret_never_appears_in_errors_or_debug() {
    let Some(moto) = moto("the_aws_secret_never_appears_in_errors_or_debug") else {
        return;
    };
    // A bucket that does not exist: every call fails, and the errors say so.
    let objects = moto.objects("no-such-bucket-here", "p");
    let error = objects.get("p/ads/x.parquet").unwrap_err();
    let keys = ["p/ads/a.parquet", "p/ads/b.parquet"].map(String::from);
    let many = objects.get_all(&keys).unwrap_err();
    let put = objects.put_new("p/ads/x.parquet", vec![1]).unwrap_err();
    let dir = tempfile::tempdir().unwrap();
    let location = location(dir.path(), "no-such-bucket-here", "p");
    let mut store = Store::open_at_with_env(&location, moto.env()).unwrap();
    let march = range("2025-03-01", "2025-03-31");
    let rows = Pulled::Ads(vec![ad_day("2025-03-10", "meta", 100, 10, 90, "5")]);
    let upsert = store.upsert("meta", march, &rows, Some(march)).unwrap_err();
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        many.to_string(),
        format!("{many:?}"),
        put.to_string(),
        format!("{put:?}"),
        upsert.to_string(),
        format!("{upsert:?}"),
        format!("{objects:?}"),
        format!("{store:?}"),
        format!("{location:?}"),
    ] {
        assert!(!shown.contains(SECRET_KEY), "{shown}");
    }
    assert!(
        error
            .to_string()
            .contains("s3://no-such-bucket-here/p/ads/x.parquet"),
        "{error}"
    );
    assert!(
        many.to_string().contains("s3://no-such-bucket-here/p/ads/"),
        "the failed download names its object: {many}"
    );
    assert!(upsert.to_string().contains("put failed"), "{upsert}");
}

#[test]
fn bad_snapshots_values_are_refused_by_check_naming_the_key() {
    // No service needed: the value is refused before anything is reached.
    for (value, why) in [
        ("/var/lib/kassa", "not an s3:// address"),
        ("s3://", "is missing"),
        ("s3://Kassa_Data/x", "lowercase"),
        ("s3://kassa-data/{tenant}", "{tenant}"),
    ] {
        let ws = Workspace::new();
        ws.config(&demo_sources());
        let config = ws.write(
            "kassa.toml",
            &format!(
                "[store]\npath = \"store\"\nsnapshots = {value:?}\n\n{}",
                demo_sources()
            ),
        );
        let run = kassa_in(ws.path(), &config, &["check", "--offline"], &[]);
        assert_ne!(run.code, 0, "{value}: {run:?}");
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(said.contains("store.snapshots"), "{value}: {said}");
        assert!(said.contains(why), "{value}: {said}");
    }
}

#[test]
fn an_embedded_store_opened_with_a_bucket_is_uploaded() {
    let Some(moto) = moto("an_embedded_store_opened_with_a_bucket_is_uploaded") else {
        return;
    };
    let bucket = moto.bucket("adopted");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let quarter = range("2025-01-01", "2025-03-31");
    let rows = Pulled::Ads(vec![
        ad_day("2025-01-10", "meta", 100, 10, 90, "5"),
        ad_day("2025-03-10", "meta", 100, 10, 90, "7"),
    ]);
    let mut embedded = Store::open(&a).unwrap();
    embedded
        .upsert("meta", quarter, &rows, Some(quarter))
        .unwrap();
    let before = embedded.ads(&["meta"]).unwrap();
    drop(embedded);

    let store = Store::open_at_with_env(&location(&a, &bucket, "moved"), moto.env()).unwrap();
    assert!(store.ads(&["meta"]).unwrap().equals_missing(&before));
    let keys = indexed(&a);
    assert_eq!(keys.len(), 2, "{keys:?}");
    drop(store);
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(a.join("ledger.sqlite"), b.join("ledger.sqlite")).unwrap();
    let other = Store::open_at_with_env(&location(&b, &bucket, "moved"), moto.env()).unwrap();
    assert!(other.ads(&["meta"]).unwrap().equals_missing(&before));
    assert_eq!(indexed(&b), keys);
}

/// `analyze` (a read-only open, which migrates nothing) of a ledger from before the snapshot
/// pointers, with `snapshots` set, says what to do instead of failing on a missing table. No
/// service needed: nothing is contacted.
#[test]
fn a_ledger_too_old_for_pointers_is_named_on_a_read_only_open() {
    let dir = tempfile::tempdir().unwrap();
    crate::store::copy_old_store("store-v1", dir.path());
    let location = location(dir.path(), "kassa-data", "acme");
    let error = Store::open_read_only_at_with_env(&location, Vec::new()).unwrap_err();
    let said = error.to_string();
    assert!(
        said.contains("older than 9")
            && said.contains("kassa backfill")
            && said.contains("[store] snapshots"),
        "{said}"
    );
    assert!(matches!(error, StoreError::TooOldForObjectStorage { .. }));
}
