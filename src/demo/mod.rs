//! `kassa demo`: the nightly cycle end to end with no account anywhere.
//!
//! In-process fakes on 127.0.0.1 ([`fakes`]) serve the demo data (`fixtures/demo/`, compiled
//! in) in the platforms' wire formats: two ad accounts through a Meta Insights fake and the
//! deals through a HubSpot search fake. An in-process receiver plays Slack, Telegram and a
//! signed webhook endpoint. kassa talks to all of them over real HTTP with the real
//! connectors, store, analysis, episodes and outbox: no shortcut.
//!
//! `kassa demo --locale ru` tells the same story through the platforms a Russian business uses
//! ([`fakes_ru`]): Yandex Direct and VK Ads for the ads, amoCRM for the deals, in roubles and
//! Moscow days.
//!
//! The demo backfills the first two months as history (a backfill never alerts), then replays
//! one nightly run per Monday from March to June and prints what each target received. It ends
//! by writing the HTML report of the whole range as of the last night (`--report`, by default
//! `demo-report.html` in the current directory), the page where the story shows in charts.

pub mod fakes;
pub mod fakes_ru;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use tracing::Instrument;

use crate::config::Settings;
use crate::cycle;
use crate::domain::Locale;
use crate::domain::{AdDay, DateRange, Deal, Pulled};
use crate::pipeline;
use crate::sources::csv::ads::CsvAdsConfig;
use crate::sources::csv::crm::CsvCrmConfig;
use crate::sources::{BuildContext, RetryPolicy, SourceConfig};
use crate::store::Store;
use crate::telemetry;
use crate::text::console;

use fakes::{ACCOUNTS, HUBSPOT_TOKEN, META_TOKEN};
use fakes_ru::{
    AMOCRM_TOKEN, LEAD_GOAL, PURCHASE_GOAL, VK_CLIENT_ID, VK_CLIENT_SECRET, VK_SOURCES,
    YANDEX_SOURCES, YANDEX_TOKEN,
};

const ADS_CSV: &str = include_str!("../../fixtures/demo/ads.csv");
const CRM_CSV: &str = include_str!("../../fixtures/demo/crm.csv");
const TELEGRAM_TOKEN: &str = "123456:demo-telegram-token";
const WEBHOOK_SECRET: &str = "whsec_ZGVtby1zZWNyZXQtZm9yLWthc3NhLXdlYmhvb2tz";

/// A date literal of the demo's own script.
#[allow(clippy::expect_used, reason = "only called with literal dates")]
fn d(text: &str) -> NaiveDate {
    text.parse().expect("a literal date")
}

/// A range between two date literals of the demo's own script.
#[allow(clippy::expect_used, reason = "only called with ordered literal dates")]
fn span(from: &str, to: &str) -> DateRange {
    DateRange::new(d(from), d(to)).expect("ordered")
}

/// What the demo did, once it has printed its story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    /// Nightly runs replayed.
    pub nights: usize,
    /// Alerts delivered over all nights.
    pub delivered: usize,
    /// Requests that reached the fake receivers.
    pub requests: usize,
}

/// Runs the demo in a fresh temporary store, prints what every target received and writes the
/// HTML report of the whole range to `report`. Its own fakes failing is an error: the demo has
/// nothing partial to report.
pub async fn run(locale: Locale, report: &Path) -> Result<DemoSummary> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory for the demo")?;
    let (ads, deals) = demo_rows(dir.path()).await?;

    let asked = Arc::new(fakes_ru::Requests::default());
    let router = match locale {
        Locale::En => fakes::platforms(ads, deals),
        Locale::Ru => {
            let (ads, deals) = fakes_ru::retell(ads, deals);
            fakes_ru::platforms(ads, deals, asked.clone())
        }
    };
    let platforms = fakes::start(router).await?;
    let received: fakes::Received = Arc::new(Mutex::new(Vec::new()));
    let receiver = fakes::start(fakes::receiver(received.clone())).await?;

    let settings = demo_settings(dir.path(), platforms, receiver, locale)?;
    let targets: Vec<_> = settings
        .alerts
        .iter()
        .map(|config| config.build(&crate::http::RetryPolicy::default()))
        .collect::<Result<_, _>>()?;
    let mut store = Store::open_at(&settings.store_location())?;

    crate::outln!("{}", console::demo_intro(locale));
    let history = span("2025-01-06", "2025-03-09");
    let backfill = pipeline::backfill(&settings, &mut store, history, &[], d("2025-03-10")).await?;
    if let Some(error) = backfill.failed_sources().flat_map(|s| &s.errors).next() {
        anyhow::bail!("the demo's own fakes failed: {error}");
    }
    let rows: usize = backfill.sources.iter().map(|s| s.rows).sum();
    crate::outln!("{}", console::demo_backfill(&backfill.range, rows, locale));

    let mut night = d("2025-03-10");
    let mut delivered = 0;
    let mut nights = 0;
    let mut shown_kinds = Vec::new();
    let mut shown_findings = Vec::new();
    while night <= d("2025-06-09") {
        let outcome = cycle::run_cycle(&settings, &mut store, &targets, night)
            .instrument(telemetry::cycle_span(&telemetry::new_run_id(), night))
            .await?;
        if outcome.partial() {
            let errors = outcome.sources.iter().flat_map(|s| &s.errors);
            let failed: Vec<String> = errors.map(ToString::to_string).collect();
            anyhow::bail!(
                "the demo's own fakes failed: {}",
                [failed, outcome.undelivered].concat().join("; ")
            );
        }
        if !outcome.delivered.is_empty() {
            crate::outln!("{}", console::demo_night(night, locale));
            for message in &outcome.delivered {
                crate::outln!(
                    "  {} ({}): {}",
                    message.target,
                    message.message.event.as_str(),
                    message.message.title
                );
                let kind = targets
                    .iter()
                    .find(|t| t.name() == message.target)
                    .map(|t| t.kind())
                    .unwrap_or_default();
                // Each target's format once, and each kind of finding once (in whichever
                // target's format delivers it first).
                let finding = message.message.finding_kind.clone();
                if !shown_kinds.contains(&kind) || !shown_findings.contains(&finding) {
                    shown_kinds.push(kind);
                    shown_findings.push(finding);
                    crate::outln!("    {}", console::demo_body(kind, locale));
                    for line in message.body.lines() {
                        crate::outln!("      {line}");
                    }
                }
            }
            delivered += outcome.delivered.len();
            crate::outln!();
        }
        night += Duration::days(7);
        nights += 1;
    }
    let requests = received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .len();
    crate::outln!(
        "{}",
        console::demo_summary(delivered, requests, nights, d("2025-04-07"), locale)
    );
    if locale == Locale::Ru {
        let count =
            |n: &std::sync::atomic::AtomicUsize| n.load(std::sync::atomic::Ordering::Relaxed);
        crate::outln!(
            "{}",
            console::demo_platform_requests(
                [count(&asked.yandex), count(&asked.yandex_queued)],
                [count(&asked.vk_tokens), count(&asked.vk)],
                count(&asked.amocrm),
                locale
            )
        );
    }
    // The whole range as the last night replayed saw it: the flagged weeks of March and May,
    // the recovery after them and the growth that brought money, on one page.
    let last_night = night - Duration::days(7);
    let analysis = pipeline::analyze(&settings, &store, None, None, last_night)?;
    let page = crate::report::html::render(&analysis, &settings.rule, locale);
    let written = crate::output::write_file(report, page.as_bytes())
        .with_context(|| format!("cannot write the demo's report to {}", report.display()))?;
    crate::outln!("{}", console::demo_report(&written, locale));
    // The commands line up under each other after the label, in either language.
    let label = console::demo_try(locale);
    let indent = " ".repeat(label.chars().count());
    crate::outln!(
        "{label} cargo run -- --config config/demo.toml backfill --from 2025-01-06 --to 2025-06-29"
    );
    crate::outln!("{indent} cargo run -- --config config/demo.toml analyze");
    crate::outln!("{}", console::demo_own_accounts(locale));
    Ok(DemoSummary {
        nights,
        delivered,
        requests,
    })
}

/// Reads the compiled-in CSVs with the CSV sources themselves.
async fn demo_rows(dir: &Path) -> Result<(Vec<AdDay>, Vec<Deal>)> {
    let everything = span("2000-01-01", "2100-01-01");
    std::fs::write(dir.join("ads.csv"), ADS_CSV)?;
    std::fs::write(dir.join("crm.csv"), CRM_CSV)?;
    let context = BuildContext::new(chrono_tz::UTC, RetryPolicy::default());
    let ads = SourceConfig::CsvAds(CsvAdsConfig {
        name: "demo".into(),
        lookback_days: None,
        path: dir.join("ads.csv"),
        account: "demo".into(),
        delimiter: None,
        decimal: None,
        date_format: None,
        timezone: None,
    })
    .build(&context)?
    .pull(everything)
    .await?;
    let deals = SourceConfig::CsvCrm(CsvCrmConfig {
        name: "demo".into(),
        lookback_days: None,
        path: dir.join("crm.csv"),
        delimiter: None,
        decimal: None,
        date_format: None,
    })
    .build(&context)?
    .pull(everything)
    .await?;
    match (ads.rows, deals.rows) {
        (Pulled::AdFrame(ads), Pulled::DealFrame(deals)) => {
            Ok((crate::frames::ad_days(&ads)?, crate::frames::deals(&deals)?))
        }
        _ => anyhow::bail!("the demo CSVs did not parse as ads and deals"),
    }
}

fn demo_settings(
    dir: &Path,
    platforms: SocketAddr,
    receiver: SocketAddr,
    locale: Locale,
) -> Result<Settings> {
    let secret = |name: &str, value: &str| -> Result<String> {
        let path = dir.join(name);
        std::fs::write(&path, value)?;
        Ok(format!("{:?}", path.display().to_string()))
    };
    let mut toml = format!(
        "[store]\npath = {store:?}\n\n",
        store = dir.join("store").display().to_string(),
    );
    match locale {
        Locale::En => {
            toml.push_str("[analysis]\ntimezone = \"UTC\"\n\n[alerting]\nlocale = \"en\"\n\n");
            for (account, channel) in ACCOUNTS {
                toml.push_str(&format!(
                    "[[sources]]\nname = \"{channel}-ads\"\nkind = \"meta\"\naccount_id = \"act_{account}\"\nchannel = \"{channel}\"\n\
                     token_file = {}\nbase_url = \"http://{platforms}\"\npage_size = 50\n\n",
                    secret(&format!("meta-{account}.token"), META_TOKEN)?
                ));
            }
            toml.push_str(&format!(
                "[[sources]]\nname = \"crm\"\nkind = \"hubspot\"\ntoken_file = {}\nbase_url = \"http://{platforms}\"\n\
                 currency = \"USD\"\n\n\
                 [[sources.channel_rules]]\nfield = \"hs_analytics_source\"\nvalues = [\"PAID_SOCIAL\"]\nchannel = \"meta\"\n\n\
                 [[sources.channel_rules]]\nfield = \"hs_analytics_source\"\nvalues = [\"PAID_SEARCH\"]\nchannel = \"google\"\n\n\
                 [[sources.channel_rules]]\nfield = \"hs_analytics_source\"\nvalues = [\"OFFLINE\"]\nchannel = \"offline\"\n\n",
                secret("hubspot.token", HUBSPOT_TOKEN)?
            ));
        }
        Locale::Ru => {
            let quoted = |values: &[&str]| format!("{values:?}");
            // Neither Yandex Direct nor VK Ads reports reach: the rule watches what they do
            // report. VK Ads keeps a year of statistics, and the demo's days are in 2025.
            toml.push_str(&format!(
                "[analysis]\ntimezone = \"Europe/Moscow\"\nactivity_metrics = [\"impressions\", \"clicks\", \"ctr\"]\n\n\
                 [alerting]\nlocale = \"ru\"\ncurrency = \"RUB\"\n\n\
                 [[sources]]\nname = \"yandex\"\nkind = \"yandex_direct\"\ntoken_file = {}\nbase_url = \"http://{platforms}\"\n\
                 currency = \"RUB\"\ntimezone = \"Europe/Moscow\"\n\
                 claims = {{ lead_goals = [{lead}], purchase_goals = [{purchase}], attribution_model = \"LSC\" }}\n\n\
                 [[sources]]\nname = \"vk\"\nkind = \"vk_ads\"\nclient_id_file = {}\nclient_secret_file = {}\n\
                 base_url = \"http://{platforms}\"\nstatistics_days = 100000\n\n\
                 [[sources]]\nname = \"amocrm\"\nkind = \"amocrm\"\nbase_url = \"http://{platforms}\"\ntoken_file = {}\n\
                 currency = \"RUB\"\n\n\
                 [[sources.channel_rules]]\nfield = \"utm_source\"\nvalues = {}\nchannel = \"yandex_direct\"\n\n\
                 [[sources.channel_rules]]\nfield = \"utm_source\"\nvalues = {}\nchannel = \"vk_ads\"\n\n",
                secret("yandex.token", YANDEX_TOKEN)?,
                secret("vk.client_id", VK_CLIENT_ID)?,
                secret("vk.client_secret", VK_CLIENT_SECRET)?,
                secret("amocrm.token", AMOCRM_TOKEN)?,
                quoted(&YANDEX_SOURCES),
                quoted(&VK_SOURCES),
                lead = LEAD_GOAL,
                purchase = PURCHASE_GOAL,
            ));
        }
    }
    toml.push_str(&format!(
        "[[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {}\n\n\
         [[alerts]]\nname = \"owner\"\nkind = \"telegram\"\ntoken_file = {}\nchat_id = -1001234567890\napi_base = \"http://{receiver}\"\n\n\
         [[alerts]]\nname = \"bi\"\nkind = \"webhook\"\nurl_file = {}\nsecret_file = {}\n",
        secret("slack.url", &format!("http://{receiver}/services/T000/B000/demo"))?,
        secret("telegram.token", TELEGRAM_TOKEN)?,
        secret("webhook.url", &format!("http://{receiver}/kassa-events"))?,
        secret("webhook.secret", WEBHOOK_SECRET)?,
    ));
    let path = dir.join("demo.toml");
    std::fs::write(&path, toml)?;
    Settings::load(Some(&path))
        .map_err(|e| anyhow::anyhow!("the demo's own configuration is invalid: {e}"))
}
