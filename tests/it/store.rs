//! The store: idempotent upserts by natural key, windows replaced rather than appended.

use std::collections::BTreeMap;
use std::path::Path;

use kassa::domain::{Deal, Pulled};
use kassa::store::Store;

use crate::helpers::{Workspace, ad_day, d, range, repo, won};

/// Every file of the store with its bytes, except SQLite's own journal files.
fn snapshot(store: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for dir in ["ads", "deals"] {
        for entry in std::fs::read_dir(store.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            files.insert(path.display().to_string(), std::fs::read(&path).unwrap());
        }
    }
    files
}

#[test]
fn re_running_a_backfill_leaves_the_store_identical() {
    let ws = Workspace::new();
    let fixtures = repo().join("fixtures/demo");
    ws.config(&format!(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n\n[[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n",
        fixtures.join("ads.csv").display().to_string(),
        fixtures.join("crm.csv").display().to_string(),
    ));
    let args = ["backfill", "--from", "2025-01-06", "--to", "2025-06-29"];
    let first = ws.kassa(&args);
    assert_eq!(first.code, 0, "{first:?}");
    let before = snapshot(&ws.store_path());
    let analysis_before = ws.kassa(&["analyze", "--format", "json"]).stdout;

    let second = ws.kassa(&args);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(
        snapshot(&ws.store_path()),
        before,
        "the Parquet snapshots changed"
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
