//! `[currency]`: amounts in several currencies converted into the reporting one with fixed or
//! dated rates, through the binary (`backfill`, then `analyze --format json`); a row no rate
//! covers is a `missing_rate` gap, never summed as it is; bad rates files and keys are named.

use serde_json::Value;

use crate::helpers::Workspace;

const ADS_HEADER: &str = "date,channel,campaign_id,impressions,reach,clicks,spend,currency";
const CRM_HEADER: &str = "deal_id,created_date,closed_date,status,amount,channel,currency";

/// Ads of vk_ads in RUB every day from 2025-03-03 to 2025-03-30, 1000 roubles a day.
fn rub_ads() -> String {
    let mut csv = format!("{ADS_HEADER}\n");
    let mut day = chrono::NaiveDate::from_ymd_opt(2025, 3, 3).unwrap();
    while day <= chrono::NaiveDate::from_ymd_opt(2025, 3, 30).unwrap() {
        csv.push_str(&format!("{day},vk_ads,c1,1000,800,20,1000,RUB\n"));
        day = day.succ_opt().unwrap();
    }
    csv
}

/// A CRM selling in roubles and in dollars.
fn mixed_crm() -> String {
    format!(
        "{CRM_HEADER}\n\
         d1,2025-03-03,2025-03-04,won,9000,vk_ads,RUB\n\
         d2,2025-03-03,2025-03-05,won,100,vk_ads,USD\n\
         d3,2025-03-10,2025-03-12,won,50,vk_ads,USD\n\
         d4,2025-03-17,2025-03-18,won,1000,vk_ads,RUB\n\
         d5,2025-03-24,2025-03-25,won,10,vk_ads,USD\n\
         d6,2025-03-24,,open,70,vk_ads,USD\n"
    )
}

/// The dollar's rate from 1 March and from 10 March: in force a week each.
const RATES: &str = "date,currency,rate\n2025-03-01,USD,90\n2025-03-10,USD,95.5\n";

fn workspace(currency: &str, rates: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write("ads.csv", &rub_ads());
    ws.write("crm.csv", &mixed_crm());
    ws.write("rates.csv", rates);
    ws.config(&format!(
        "{currency}\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\n"
    ));
    ws
}

fn analyze(ws: &Workspace) -> Value {
    let backfill = ws.kassa(&["backfill", "--from", "2025-03-03", "--to", "2025-03-30"]);
    assert!(backfill.code == 0 || backfill.code == 2, "{backfill:?}");
    let run = ws.kassa(&["analyze", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    run.json()
}

fn period<'a>(json: &'a Value, channel: &str, start: &str) -> &'a Value {
    json["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["channel"] == channel && p["period_start"] == start)
        .unwrap_or_else(|| panic!("no {channel} period from {start} in {json}"))
}

#[test]
fn a_mixed_rub_usd_crm_is_converted_with_dated_rates() {
    let ws = workspace(
        "[currency]\nreporting = \"RUB\"\nrates_file = \"rates.csv\"\n",
        RATES,
    );
    let json = analyze(&ws);
    assert_eq!(json["currency"], "RUB");
    // 9000 roubles and 100 dollars at 90 on 5 March; 50 dollars at 95.5 on 12 March.
    let first = period(&json, "vk_ads", "2025-03-03");
    assert_eq!(first["revenue"], 18000.0, "{first}");
    assert_eq!(first["spend"], 7000.0, "{first}");
    let second = period(&json, "vk_ads", "2025-03-10");
    assert_eq!(second["revenue"], 4775.0, "{second}");
    assert_eq!(period(&json, "all", "2025-03-10")["revenue"], 4775.0);
    // The rouble week needs no rate at all.
    assert_eq!(period(&json, "vk_ads", "2025-03-17")["revenue"], 1000.0);
}

#[test]
fn a_missing_rate_is_reported_as_a_gap_never_a_mix() {
    // The file stops on 10 March; its rate holds seven days, so 25 March has none.
    let ws = workspace(
        "[currency]\nreporting = \"RUB\"\nrates_file = \"rates.csv\"\n",
        RATES,
    );
    let json = analyze(&ws);
    for channel in ["vk_ads", "all"] {
        let week = period(&json, channel, "2025-03-24");
        assert_eq!(week["verdict"], "none", "{week}");
        assert!(
            week["reasons"]
                .as_array()
                .unwrap()
                .contains(&"missing_rate".into()),
            "{week}"
        );
        assert_eq!(week["revenue"], Value::Null, "{week}");
        assert_eq!(week["revenue_known"], 0.0, "{week}");
        assert_eq!(week["romi"], Value::Null, "{week}");
        let gaps = week["gaps"].to_string();
        assert!(
            gaps.contains("no USD to RUB rate for 1 day (2025-03-25..2025-03-25)"),
            "{gaps}"
        );
    }
    // The open dollar deal has no amount that counts: it needs no rate and leaves no gap
    // elsewhere; the week before, with its rouble deal, is judged.
    let before = period(&json, "vk_ads", "2025-03-17");
    assert!(
        !before["reasons"].to_string().contains("missing_rate"),
        "{before}"
    );
    let warnings = json["warnings"].to_string();
    assert!(
        warnings.contains("no USD to RUB rate for 1 day from 2025-03-25 to 2025-03-25"),
        "{warnings}"
    );
}

#[test]
fn fixed_rates_convert_ad_spend_and_a_longer_validity_fills_the_gap() {
    let ws = workspace(
        "[currency]\nreporting = \"USD\"\nrates = { RUB = 0.01 }\n",
        RATES,
    );
    let json = analyze(&ws);
    assert_eq!(json["currency"], "USD");
    let first = period(&json, "vk_ads", "2025-03-03");
    assert_eq!(first["spend"], 70.0, "{first}");
    assert_eq!(first["revenue"], 190.0, "90 + 100 dollars: {first}");

    let ws = workspace(
        "[currency]\nreporting = \"RUB\"\nrates_file = \"rates.csv\"\nrate_valid_days = 31\n",
        RATES,
    );
    let json = analyze(&ws);
    assert_eq!(period(&json, "all", "2025-03-24")["revenue"], 955.0);
    assert!(json.get("warnings").is_none(), "{json}");
}

#[test]
fn without_a_reporting_currency_mixed_amounts_are_never_summed() {
    let ws = workspace("", RATES);
    let json = analyze(&ws);
    assert_eq!(json["currency"], Value::Null);
    let first = period(&json, "all", "2025-03-03");
    assert_eq!(first["verdict"], "none", "{first}");
    assert_eq!(first["revenue"], Value::Null, "{first}");
    assert_eq!(first["spend"], Value::Null, "{first}");
    let warnings = json["warnings"].to_string();
    assert!(
        warnings.contains("no reporting currency is set"),
        "{warnings}"
    );

    // `[alerting] currency` reports in roubles: only the dollar rows lack a rate.
    let ws = workspace("[alerting]\ncurrency = \"RUB\"\n", RATES);
    let json = analyze(&ws);
    assert_eq!(json["currency"], "RUB");
    assert_eq!(period(&json, "all", "2025-03-17")["revenue"], 1000.0);
    assert_eq!(period(&json, "all", "2025-03-03")["revenue"], Value::Null);
}

#[test]
fn a_bad_rates_file_fails_check_and_names_the_line_and_column() {
    let ws = workspace(
        "[currency]\nreporting = \"RUB\"\nrates_file = \"rates.csv\"\n",
        "date,currency,rate\n2025-03-01,USD,90\n2025-03-10,USD,ninety\n",
    );
    let check = ws.kassa(&["check", "--offline"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check.stderr.contains("rates.csv")
            && check
                .stderr
                .contains("line 3, column rate: \"ninety\" is not a positive decimal"),
        "{}",
        check.stderr
    );
    // At run time the good row still converts, and the warning names the bad one.
    let json = analyze(&ws);
    assert_eq!(period(&json, "vk_ads", "2025-03-03")["revenue"], 18000.0);
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("line 3, column rate"), "{warnings}");
}

#[test]
fn currency_keys_are_validated_with_examples() {
    let ws = workspace(
        "[alerting]\ncurrency = \"USD\"\n\n[currency]\nrates = { USD = -2, dollars = 1 }\nrate_valid_days = 0\n",
        RATES,
    );
    let check = ws.kassa(&["check", "--offline"]);
    assert_eq!(check.code, 1, "{check:?}");
    for expected in [
        "currency.reporting: is required",
        "currency.rates.USD: is not a positive number",
        "currency.rates.dollars: \"dollars\" is not a three-letter ISO 4217 code",
        "currency.rate_valid_days: 0 is not between 1 and 366",
    ] {
        assert!(
            check.stderr.contains(expected),
            "{expected}\n{}",
            check.stderr
        );
    }
    let ws = workspace(
        "[alerting]\ncurrency = \"USD\"\n\n[currency]\nreporting = \"RUB\"\n",
        RATES,
    );
    let check = ws.kassa(&["check", "--offline"]);
    assert!(
        check
            .stderr
            .contains("alerting.currency: is USD but [currency] reporting is RUB"),
        "{}",
        check.stderr
    );
}
