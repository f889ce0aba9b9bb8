//! kassa-bench: agency-sized data in kassa's CSV contract, and where kassa spends its time and
//! memory on it. A benchmark to run by hand or from `bench/run.sh`, never a timed test.
//!
//! - `gen --rows N --out DIR`: `ads.csv` (`csv_ads`: campaigns x days over four channels),
//!   `crm.csv` (`csv_crm`: deals to match), `planted.csv` (the channel-weeks where activity was
//!   made to grow while money fell) and `kassa.toml` (both files as sources, the store in
//!   `DIR/store`). Written as bytes, not formatted structs: 11M rows take seconds.
//! - `stages --dir DIR`: backfill and analyze stage by stage through the library's public
//!   functions (the ones the pipeline calls), each with its wall time and the process's peak
//!   resident memory during it (VmHWM, reset between stages through `/proc/self/clear_refs`).
//! - `nightly --dir DIR`: a store holding the whole generated history under two Meta sources,
//!   then one nightly cycle: re-pull the last 28 days of one of them through a loopback fake
//!   speaking Meta's Insights format, analyse, decide alerts. The fake's own time is measured
//!   and subtracted, so what is left is kassa's.
//!
//! Every mode prints one JSON object per line on stdout, for `bench/run.py` to tabulate.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Datelike, Duration, NaiveDate};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use kassa::analysis;
use kassa::clock::{At, Clock};
use kassa::config::Settings;
use kassa::domain::{AdDay, DateRange, Pulled};
use kassa::episodes;
use kassa::pipeline;
use kassa::sources::{BuildContext, RetryPolicy};
use kassa::store::Store;

#[derive(Parser)]
#[command(about = "kassa's benchmark: generate agency-sized CSVs, time the stages")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes ads.csv, crm.csv, planted.csv and kassa.toml into --out.
    Gen {
        /// About this many ad rows (campaigns are rounded up to fill whole days).
        #[arg(long)]
        rows: u64,
        #[arg(long)]
        out: PathBuf,
        /// Days of history, ending on Sunday 2025-12-28 (156 weeks: three years).
        #[arg(long, default_value_t = 1092)]
        days: u32,
        #[arg(long, default_value_t = 15)]
        seed: u64,
    },
    /// Times backfill and analyze stage by stage over the files `gen` wrote.
    Stages {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Times one nightly cycle on a store holding the whole generated history.
    Nightly {
        #[arg(long)]
        dir: PathBuf,
        /// Days the nightly run re-pulls.
        #[arg(long, default_value_t = 28)]
        lookback: u32,
    },
}

/// The last day of generated data: a Sunday, so every week is whole.
const LAST_DAY: (i32, u32, u32) = (2025, 12, 28);
const CHANNELS: [&str; 4] = ["meta", "google", "tiktok", "linkedin"];

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Gen {
            rows,
            out,
            days,
            seed,
        } => generate(rows, &out, days, seed),
        Command::Stages { dir } => stages(&dir),
        Command::Nightly { dir, lookback } => nightly(&dir, lookback),
    }
}

fn last_day() -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(LAST_DAY.0, LAST_DAY.1, LAST_DAY.2).context("a valid date")
}

// ---------------------------------------------------------------------------------------
// gen

/// splitmix64: fast, deterministic, good enough for noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What happens to a channel in a week.
#[derive(Clone, Copy, PartialEq)]
enum Week {
    Usual,
    /// Clicks and reach grow, deals are won less often: activity without money.
    ActivityWithoutMoney,
    /// Clicks grow and so do wins: growth that paid.
    GrowthThatPaid,
}

fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Cents as a decimal with two places: `12345` -> `123.45`.
fn push_cents(buf: &mut Vec<u8>, cents: u64) {
    push_u64(buf, cents / 100);
    buf.push(b'.');
    buf.push(b'0' + (cents % 100 / 10) as u8);
    buf.push(b'0' + (cents % 10) as u8);
}

fn generate(rows: u64, out: &Path, days: u32, seed: u64) -> Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let last = last_day()?;
    let first = last - Duration::days(i64::from(days) - 1);
    let days = days as usize;
    let weeks = days.div_ceil(7);
    let campaigns = rows.div_ceil(days as u64).max(CHANNELS.len() as u64) as usize;
    let mut rng = Rng(seed);

    // The story of each channel's weeks: after five quiet weeks (a baseline needs four), about
    // one week in ten is an episode, never two in a row so the next baseline is usual again.
    let mut plan = vec![[Week::Usual; CHANNELS.len()]; weeks];
    for (c, _) in CHANNELS.iter().enumerate() {
        let mut w = 5;
        while w < weeks {
            let roll = rng.below(100);
            if roll < 9 {
                plan[w][c] = Week::ActivityWithoutMoney;
                w += 6;
            } else if roll < 12 {
                plan[w][c] = Week::GrowthThatPaid;
                w += 6;
            } else {
                w += 1;
            }
        }
    }

    let dates: Vec<Vec<u8>> = (0..days)
        .map(|d| (first + Duration::days(d as i64)).to_string().into_bytes())
        .collect();
    // A week's index from the first Monday on or before the first day.
    let monday0 = first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
    let week_of = |d: usize| ((first + Duration::days(d as i64)) - monday0).num_days() as usize / 7;

    // Campaigns: channel, base impressions, CTR and cost per click.
    let profile: Vec<(usize, u64, f64, u64)> = (0..campaigns)
        .map(|i| {
            (
                i % CHANNELS.len(),
                500 + rng.below(20_000),
                0.005 + rng.unit() * 0.03,
                20 + rng.below(180),
            )
        })
        .collect();

    let mut ads = BufWriter::with_capacity(1 << 20, file(&out.join("ads.csv"))?);
    ads.write_all(b"date,channel,campaign_id,impressions,reach,clicks,spend\n")?;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut written = 0u64;
    for (d, date) in dates.iter().enumerate() {
        let week = week_of(d);
        for (i, &(c, base, ctr, cpc)) in profile.iter().enumerate() {
            let boost = match plan[week][c] {
                Week::Usual => 1.0,
                Week::ActivityWithoutMoney | Week::GrowthThatPaid => 1.6,
            };
            let impressions = base * (90 + rng.below(21)) / 100;
            let reach = ((impressions as f64 * 0.7 * boost) as u64).min(impressions);
            let clicks = ((impressions as f64 * ctr * boost) as u64).min(impressions);
            buf.extend_from_slice(date);
            buf.push(b',');
            buf.extend_from_slice(CHANNELS[c].as_bytes());
            buf.extend_from_slice(b",c");
            push_u64(&mut buf, i as u64);
            buf.push(b',');
            push_u64(&mut buf, impressions);
            buf.push(b',');
            push_u64(&mut buf, reach);
            buf.push(b',');
            push_u64(&mut buf, clicks);
            buf.push(b',');
            push_cents(&mut buf, clicks * cpc);
            buf.push(b'\n');
            written += 1;
        }
        if buf.len() > 1 << 20 {
            ads.write_all(&buf)?;
            buf.clear();
        }
    }
    ads.write_all(&buf)?;
    ads.flush()?;
    buf.clear();

    // Deals: about one per twenty ad rows, created every day on every channel; won or lost
    // within ten days (never after the last day), some still open. A week whose plan says
    // activity without money wins far less of what closes in it.
    let per_channel_day = (written / 20 / days as u64 / CHANNELS.len() as u64).max(2);
    let mut crm = BufWriter::with_capacity(1 << 20, file(&out.join("crm.csv"))?);
    crm.write_all(b"deal_id,created_date,closed_date,status,amount,channel\n")?;
    let mut deals = 0u64;
    for d in 0..days {
        for (c, channel) in CHANNELS.iter().enumerate() {
            for _ in 0..per_channel_day {
                let closed = (d + rng.below(10) as usize).min(days - 1);
                let p_won = match plan[week_of(closed)][c] {
                    Week::Usual => 40,
                    Week::ActivityWithoutMoney => 8,
                    Week::GrowthThatPaid => 75,
                };
                let roll = rng.below(100);
                buf.extend_from_slice(b"d");
                push_u64(&mut buf, deals);
                buf.push(b',');
                buf.extend_from_slice(&dates[d]);
                buf.push(b',');
                if roll < 85 {
                    buf.extend_from_slice(&dates[closed]);
                    buf.extend_from_slice(if roll < p_won { b",won," } else { b",lost," });
                } else {
                    buf.extend_from_slice(b",open,");
                }
                push_cents(&mut buf, 10_000 + rng.below(90_000));
                buf.push(b',');
                buf.extend_from_slice(channel.as_bytes());
                buf.push(b'\n');
                deals += 1;
            }
        }
        if buf.len() > 1 << 20 {
            crm.write_all(&buf)?;
            buf.clear();
        }
    }
    crm.write_all(&buf)?;
    crm.flush()?;

    let mut planted = String::from("channel,period_start,kind\n");
    for (w, week) in plan.iter().enumerate() {
        for (c, kind) in week.iter().enumerate() {
            let name = match kind {
                Week::Usual => continue,
                Week::ActivityWithoutMoney => "activity_without_money",
                Week::GrowthThatPaid => "growth_that_paid",
            };
            let start = monday0 + Duration::days(7 * w as i64);
            planted.push_str(&format!("{},{start},{name}\n", CHANNELS[c]));
        }
    }
    std::fs::write(out.join("planted.csv"), planted)?;
    std::fs::write(
        out.join("kassa.toml"),
        "# Written by kassa-bench gen: the generated files as kassa's sources.\n\
         [store]\npath = \"store\"\n\n[analysis]\ntimezone = \"UTC\"\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = \"ads.csv\"\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\n",
    )?;
    println!(
        "{}",
        json!({
            "mode": "gen", "ad_rows": written, "deals": deals, "campaigns": campaigns,
            "from": first.to_string(), "to": last.to_string(),
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}

fn file(path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

// ---------------------------------------------------------------------------------------
// memory and timing

/// A field of `/proc/self/status` in MiB (`VmHWM`: the peak resident set; `VmRSS`: now).
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Times one stage and reports the peak resident memory during it: the peak is reset to the
/// current resident set first (writing 5 to `/proc/self/clear_refs`), so it is this stage's.
fn stage<T>(name: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    // Without the reset (not Linux, no permission) the peak is the process's so far.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_mib("VmRSS:");
    let started = Instant::now();
    let value = work()?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "mode": "stage", "stage": name, "seconds": seconds,
            "rss_before_mib": before, "peak_mib": status_mib("VmHWM:"), "peak_reset": reset,
        })
    );
    Ok(value)
}

// ---------------------------------------------------------------------------------------
// stages

fn stages(dir: &Path) -> Result<()> {
    let config = dir.join("kassa.toml");
    let settings = Settings::load(Some(&config))
        .with_context(|| format!("cannot load {}", config.display()))?;
    let store_path = dir.join("stages-store");
    if store_path.exists() {
        std::fs::remove_dir_all(&store_path)
            .with_context(|| format!("cannot clear {}", store_path.display()))?;
    }
    let mut store = Store::open(&store_path)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let everything = DateRange::new(
        NaiveDate::from_ymd_opt(2000, 1, 1).context("a date")?,
        last_day()?,
    )
    .context("a range")?;
    let context = BuildContext::new(settings.timezone, RetryPolicy::default());
    let names: Vec<&str> = settings.sources.iter().map(|s| s.name()).collect();

    // Backfill: what `pull_chunks` does for a CSV source (one chunk: the file).
    for config in &settings.sources {
        let name = config.name();
        let source = config.build(&context)?;
        // A CSV source parses into columns and validates them in one pass, so the two are
        // one stage; it hands the store one frame.
        let pull = stage(&format!("backfill {name}: parse + validate"), || {
            Ok(runtime.block_on(source.pull(everything))?)
        })?;
        let rows = pull.rows.len();
        stage(&format!("backfill {name}: write ({rows} rows)"), || {
            Ok(store.upsert(name, everything, &pull.rows, pull.covered)?)
        })?;
    }
    drop(store);

    // Analyze: what `pipeline::analyze_as_of` does, in its order.
    let store = Store::open(&store_path)?;
    // Scans are lazy: opening them reads only the files' footers; the aggregation reads the
    // columns it needs, one month file of ad rows at a time.
    let (scans, coverage) = stage("analyze: scan (footers)", || {
        Ok((
            analysis::Scans {
                ads: store.scan_ad_parts(&names)?,
                deals: store.scan_deals_in(&names, settings.timezone)?,
                claims: store.scan_claims(&names)?,
            },
            store.coverage(&names)?,
        ))
    })?;
    let first = coverage
        .iter()
        .flat_map(|c| c.ranges.iter().map(|r| r.start))
        .min()
        .context("the store covers no day")?;
    let range = DateRange::new(first, last_day()?).context("a range")?;
    let today = last_day()? + Duration::days(1);
    let result = stage("analyze: read + aggregate + rule", || {
        Ok(analysis::analyze_scans(
            scans,
            &coverage,
            &settings.rule,
            range,
            today,
        )?)
    })?;
    let whole = stage("analyze: whole (pipeline::analyze)", || {
        pipeline::analyze(&settings, &store, None, None, today)
    })?;
    println!(
        "{}",
        json!({
            "mode": "stages-result",
            "flagged": result.flagged().count(),
            "flagged_pipeline": whole.flagged().count(),
            "periods": result.periods.len(),
        })
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// nightly

/// The two Meta ad accounts of the nightly store and the channel each carries: the generated
/// channels fold into these two.
const ACCOUNTS: [(&str, &str); 2] = [("1001", "meta"), ("1002", "google")];
const META_TOKEN: &str = "bench-meta-token";

fn folded(channel: &str) -> &'static str {
    match channel {
        "meta" | "tiktok" => "meta",
        _ => "google",
    }
}

/// The fake's rows of one account, in date order, and the nanoseconds it spent answering.
struct Fake {
    rows: Vec<AdDay>,
    busy_nanos: AtomicU64,
}

fn nightly(dir: &Path, lookback: u32) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(nightly_in(dir, lookback))
}

async fn nightly_in(dir: &Path, lookback: u32) -> Result<()> {
    let last = last_day()?;
    let today = last + Duration::days(1);
    let everything = DateRange::new(NaiveDate::from_ymd_opt(2000, 1, 1).context("a date")?, last)
        .context("a range")?;
    let csv = Settings::load(Some(&dir.join("kassa.toml")))?;
    let context = BuildContext::new(csv.timezone, RetryPolicy::default());
    let mut ads = Vec::new();
    let mut deals = Vec::new();
    for config in &csv.sources {
        match config.build(&context)?.pull(everything).await?.rows {
            Pulled::Ads(rows) => ads = rows,
            Pulled::Deals(rows) => deals = rows,
            Pulled::AdFrame(df) => ads = kassa::frames::ad_days(&df)?,
            Pulled::DealFrame(df) => deals = kassa::frames::deals(&df)?,
            Pulled::Claims(_) | Pulled::ClaimFrame(_) => {}
        }
    }
    for row in &mut ads {
        row.channel = folded(&row.channel).to_string();
        row.account = ACCOUNTS
            .iter()
            .find(|(_, c)| *c == row.channel)
            .map_or("", |(a, _)| a)
            .to_string();
        row.currency = Some("USD".into());
    }
    for deal in &mut deals {
        deal.channel = folded(&deal.channel).to_string();
    }
    let window = DateRange::new(last - Duration::days(i64::from(lookback) - 1), last)
        .context("a lookback of at least one day")?;
    let fake = Arc::new(Fake {
        rows: ads
            .iter()
            .filter(|r| r.channel == "meta" && window.contains(r.date))
            .cloned()
            .collect(),
        busy_nanos: AtomicU64::new(0),
    });
    let router = Router::new()
        .route("/{version}/{account}", get(meta_account))
        .route("/{version}/{account}/insights", get(meta_insights))
        .with_state(fake.clone());
    let address = kassa::demo::fakes::start(router).await?;

    let nightly = dir.join("nightly");
    if nightly.exists() {
        std::fs::remove_dir_all(&nightly)?;
    }
    std::fs::create_dir_all(&nightly)?;
    std::fs::write(nightly.join("meta.token"), META_TOKEN)?;
    let mut toml = String::from("[store]\npath = \"store\"\n\n[analysis]\ntimezone = \"UTC\"\n\n");
    for (account, channel) in ACCOUNTS {
        toml.push_str(&format!(
            "[[sources]]\nname = \"{channel}-ads\"\nkind = \"meta\"\naccount_id = \"act_{account}\"\n\
             channel = \"{channel}\"\ntoken_file = \"meta.token\"\nbase_url = \"http://{address}\"\n\
             timezone = \"UTC\"\npage_size = 5000\nlookback_days = {lookback}\n\n"
        ));
    }
    toml.push_str(&format!(
        "[[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n",
        dir.join("crm.csv").canonicalize()?.display().to_string()
    ));
    std::fs::write(nightly.join("kassa.toml"), toml)?;
    let settings = Settings::load(Some(&nightly.join("kassa.toml")))?;

    // The three-year store, written directly: how it got there is not what is measured.
    let mut store = Store::open(&settings.store_path)?;
    let span = DateRange::new(
        ads.iter().map(|r| r.date).min().context("no ad rows")?,
        last,
    )
    .context("a range")?;
    let stored = ads.len();
    for (_, channel) in ACCOUNTS {
        let rows: Vec<AdDay> = ads
            .iter()
            .filter(|r| r.channel == channel)
            .cloned()
            .collect();
        store.upsert(
            &format!("{channel}-ads"),
            span,
            &Pulled::Ads(rows),
            Some(span),
        )?;
    }
    store.upsert("crm", span, &Pulled::Deals(deals), Some(span))?;
    drop(ads);

    // The nightly cycle's steps (`cycle::run_cycle`), the one API source re-pulled.
    let clock = Clock::resolve(At::Date(today), settings.timezone)?;
    let config = settings
        .sources
        .iter()
        .find(|s| s.name() == "meta-ads")
        .context("the meta source")?;
    let started = Instant::now();
    let pulled =
        pipeline::pull_source(&settings, &mut store, config, window, &clock, false).await?;
    let pull_seconds = started.elapsed().as_secs_f64();
    if let Some(error) = pulled.errors.first() {
        bail!("the re-pull failed: {error}");
    }
    let fake_seconds = fake.busy_nanos.load(Ordering::Relaxed) as f64 / 1e9;
    let started = Instant::now();
    let analysis = pipeline::analyze_as_of(
        &settings,
        &store,
        None,
        Some(last),
        &clock,
        std::slice::from_ref(&pulled),
    )?;
    let analyze_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let found = episodes::find_episodes(&analysis);
    let states = store.episode_states()?;
    let recent_from = episodes::window_start(
        settings.rule.granularity,
        today,
        settings.alerting.window_periods,
    );
    let plan = episodes::plan(
        &found,
        &states,
        recent_from,
        settings.alerting.update_min_growth,
    );
    let alerts_seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "mode": "nightly", "store_rows": stored, "repulled_rows": pulled.rows,
            "lookback_days": lookback,
            "pull_seconds": pull_seconds, "fake_seconds": fake_seconds,
            "analyze_seconds": analyze_seconds, "alerts_seconds": alerts_seconds,
            "kassa_seconds": pull_seconds - fake_seconds + analyze_seconds + alerts_seconds,
            "episodes": found.len(), "alerts": plan.changes.len(),
            "peak_mib": status_mib("VmHWM:"),
        })
    );
    Ok(())
}

fn account_of(uri: &Uri) -> Option<&'static str> {
    let id = uri
        .path()
        .split('/')
        .find_map(|part| part.strip_prefix("act_"))?;
    ACCOUNTS.iter().find(|(a, _)| *a == id).map(|(_, c)| *c)
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": {"message": message, "type": "OAuthException", "code": 100}}).to_string(),
    )
        .into_response()
}

async fn meta_account(uri: Uri) -> Response {
    let id = account_of(&uri).unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({"id": id, "name": id, "currency": "USD", "timezone_name": "UTC"}).to_string(),
    )
        .into_response()
}

/// Meta's Insights edge for one account: daily campaign rows of `time_range`, `limit` per page,
/// `paging.next` to the following page.
async fn meta_insights(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let started = Instant::now();
    let response = insights_page(&fake, &headers, &uri, &query);
    fake.busy_nanos
        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    response
}

fn insights_page(
    fake: &Fake,
    headers: &HeaderMap,
    uri: &Uri,
    query: &std::collections::HashMap<String, String>,
) -> Response {
    let Some(channel) = account_of(uri) else {
        return bad_request("Unsupported get request.");
    };
    let range: Value = query
        .get("time_range")
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    let day = |key: &str| {
        range[key]
            .as_str()
            .and_then(|s| s.parse::<NaiveDate>().ok())
    };
    let (Some(since), Some(until)) = (day("since"), day("until")) else {
        return bad_request("time_range must be {'since':'YYYY-MM-DD','until':'YYYY-MM-DD'}");
    };
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25);
    let offset: usize = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let rows: Vec<&AdDay> = fake
        .rows
        .iter()
        .filter(|r| r.channel == channel && since <= r.date && r.date <= until)
        .collect();
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| {
            json!({
                "campaign_id": r.campaign_id,
                "impressions": r.impressions.to_string(),
                "reach": r.reach.map(|x| x.to_string()),
                "clicks": r.clicks.to_string(),
                "spend": r.spend.to_string(),
                "account_currency": "USD",
                "date_start": r.date.to_string(),
                "date_stop": r.date.to_string(),
            })
        })
        .collect();
    let mut body = json!({"data": page});
    if offset + limit < rows.len() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let Ok(mut next) = url::Url::parse(&format!("http://{host}{}", uri.path())) else {
            return bad_request("Invalid Host header.");
        };
        next.query_pairs_mut()
            .append_pair("time_range", &range.to_string())
            .append_pair("limit", &limit.to_string())
            .append_pair("after", &(offset + limit).to_string());
        body["paging"] = json!({"next": next.to_string()});
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
