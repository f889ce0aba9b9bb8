//! The CSV contract: bad files fail with the file, the line and the column, and a bad source
//! loses nothing of the good ones.

use crate::helpers::Workspace;

const ADS_HEADER: &str = "date,channel,campaign_id,impressions,reach,clicks,spend";
const CRM_HEADER: &str = "deal_id,created_date,closed_date,status,amount,channel";

fn workspace(ads: &str, crm: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write("ads.csv", ads);
    ws.write("crm.csv", crm);
    ws.config(
        "[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\n",
    );
    ws
}

fn good_ads() -> String {
    format!(
        "{ADS_HEADER}\n2025-01-06,meta,c1,1000,800,20,10.5\n2025-01-07,meta,c1,1000,800,21,11\n"
    )
}

fn good_crm() -> String {
    format!("{CRM_HEADER}\nd1,2025-01-06,2025-01-07,won,100,meta\nd2,2025-01-06,,open,,meta\n")
}

fn backfill(ws: &Workspace) -> crate::helpers::Run {
    ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-01-12"])
}

#[test]
fn a_non_numeric_clicks_value_names_file_line_and_column() {
    let ads = format!(
        "{ADS_HEADER}\n2025-01-06,meta,c1,1000,800,20,10\n2025-01-07,meta,c1,1000,800,lots,10\n"
    );
    let ws = workspace(&ads, &good_crm());
    let run = backfill(&ws);
    assert_eq!(run.code, 2, "a failed source is a partial failure: {run:?}");
    assert!(run.stderr.contains("ads.csv"), "{}", run.stderr);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert!(run.stderr.contains("column `clicks`"), "{}", run.stderr);
    assert!(run.stderr.contains("\"lots\""), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("source \"ads\", 2025-01-06..2025-01-12"),
        "{}",
        run.stderr
    );
    // The CRM source was still read and stored.
    assert!(run.stdout.contains("crm: 2 rows"), "{}", run.stdout);
}

#[test]
fn a_missing_column_is_named() {
    let ads = "date,channel,campaign_id,impressions,clicks,spend
2025-01-06,meta,c1,1000,20,10
";
    let run = backfill(&workspace(ads, &good_crm()));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("ads.csv, line 1: missing column `reach`"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_status_is_named() {
    let crm = format!(
        "{CRM_HEADER}\nd1,2025-01-06,2025-01-07,won,100,meta\nd2,2025-01-06,2025-01-08,maybe,100,meta\n"
    );
    let run = backfill(&workspace(&good_ads(), &crm));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("crm.csv"), "{}", run.stderr);
    assert!(
        run.stderr.contains("line 3, column `status`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("\"maybe\""), "{}", run.stderr);
    assert!(run.stdout.contains("ads: 2 rows"), "{}", run.stdout);
}

#[test]
fn every_bad_row_is_listed_at_once() {
    let ads = format!(
        "{ADS_HEADER}\n2025-01-06,meta,c1,1000,800,20,-5\n2025-01-07,meta,c1,1000,800,20,abc\n2025-01-08,meta,c1,x,800,20,1\n"
    );
    let run = backfill(&workspace(&ads, &good_crm()));
    assert_eq!(run.code, 2);
    for expected in [
        "3 bad rows",
        "line 2, column `spend`",
        "negative",
        "line 3, column `spend`",
        "line 4, column `impressions`",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from {}",
            run.stderr
        );
    }
}

#[test]
fn contract_violations_in_deals_are_caught() {
    let crm = format!(
        "{CRM_HEADER}\nd1,2025-01-06,,won,100,meta\nd2,2025-01-06,2025-01-07,open,,meta\nd3,2025-01-08,2025-01-07,lost,,meta\nd4,2025-01-06,,open,,meta\nd4,2025-01-07,,open,,meta\n"
    );
    let run = backfill(&workspace(&good_ads(), &crm));
    assert_eq!(run.code, 2);
    for expected in [
        "line 2, column `closed_date`: a won deal needs its closed date",
        "line 3, column `closed_date`: an open deal has a closed date",
        "line 4, column `closed_date`: 2025-01-07 is before the created date 2025-01-08",
        "line 6, column `deal_id`: deal \"d4\" appears twice (first on line 5)",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from {}",
            run.stderr
        );
    }
}

#[test]
fn a_missing_file_is_a_config_problem_reported_with_the_others() {
    let ws = Workspace::new();
    ws.config(
        "[analysis]\ngranularity = \"year\"\n\n[[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"nowhere.csv\"\n",
    );
    let run = ws.kassa(&["check", "--offline"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("the configuration has 2 problems"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("sources[0].path: nowhere.csv does not exist"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("analysis.granularity: \"year\" is not one of day, week, month"),
        "{}",
        run.stderr
    );
}
