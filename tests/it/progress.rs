//! A backfill's progress through the real pipeline and the real binary: every source reports
//! its chunks to the observer it is given (here indicatif bars that draw nothing), and `kassa
//! backfill` with stderr piped (not a terminal, as under cron or Docker) logs progress lines
//! with their fields, never a bar, never the token, and none with `-q`. The throttle (a line at
//! most every 10 s per source) is tested on tokio's paused clock in `src/progress.rs`.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use crate::fakes::{TokenFrom, meta, ok, query};
use crate::helpers::{Run, Workspace, d, kassa_bare, range};
use kassa::domain::Locale;
use kassa::pipeline::{self, BackfillOptions};
use kassa::progress::Bars;

const FROM: &str = "2024-05-01";
const TO: &str = "2024-05-07";

/// One insights row for the day a 1-day chunk asks for.
struct OneRowADay;

impl Respond for OneRowADay {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let range: Value =
            serde_json::from_str(&query(request, "time_range").expect("a time_range")).unwrap();
        let day = range["since"].as_str().expect("since");
        ok(meta::page(vec![meta::row(day, "12", "3.50")], None))
    }
}

/// Meta in 1-day chunks (seven over [`FROM`]..[`TO`]) at `server`, its token in a file, and a
/// CRM export read whole (one chunk).
async fn workspace(server: &MockServer) -> Workspace {
    Mock::given(method("GET"))
        .and(path(meta::INSIGHTS_PATH))
        .respond_with(OneRowADay)
        .mount(server)
        .await;
    let ws = Workspace::new();
    let token = ws.write("secrets/meta.token", meta::TOKEN);
    ws.write(
        "crm.csv",
        "deal_id,created_date,closed_date,status,amount,channel\n\
         d1,2024-05-01,2024-05-07,won,120.50,meta\n",
    );
    ws.config(&format!(
        "{}\n[[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = \"crm.csv\"\n",
        meta::table(
            "meta",
            &server.uri(),
            TokenFrom::File(&token),
            "channel = \"meta\"\nchunk_days = 1\ntimezone = \"UTC\"",
        )
    ));
    ws
}

/// `kassa backfill` as cron runs it: stderr a pipe, the default log level.
fn backfill(ws: &Workspace, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let config = ws.path().join("kassa.toml");
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "backfill",
        "--from",
        FROM,
        "--to",
        TO,
    ];
    args.extend(extra);
    let run = kassa_bare(ws.path(), &args, env);
    assert_eq!(run.code, 0, "{run:?}");
    run
}

fn progress_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(" chunks · "))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_reports_each_chunk_to_its_observer() {
    let server = MockServer::start().await;
    let ws = workspace(&server).await;
    let settings = kassa::config::Settings::load(Some(&ws.path().join("kassa.toml"))).unwrap();
    let mut store = kassa::store::Store::open(&settings.store_path).unwrap();
    let bars = Bars::hidden(Locale::En);

    let outcome = pipeline::backfill_watched(
        &settings,
        &mut store,
        range(FROM, TO),
        &[],
        BackfillOptions::default(),
        &bars,
        d("2024-06-01"),
    )
    .await
    .unwrap();

    assert!(!outcome.partial(), "{outcome:?}");
    let meta = bars.bar("meta").expect("meta started");
    assert_eq!((meta.position(), meta.length()), (7, Some(7)));
    assert!(meta.is_finished());
    assert!(
        meta.message().starts_with("done: 7 rows in "),
        "{}",
        meta.message()
    );
    let crm = bars.bar("crm").expect("crm started");
    assert_eq!((crm.position(), crm.length()), (1, Some(1)));
    assert!(
        crm.message().starts_with("done: 1 row in "),
        "{}",
        crm.message()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_logs_progress_lines_when_stderr_is_not_a_terminal() {
    let server = MockServer::start().await;
    let ws = workspace(&server).await;

    let run = backfill(&ws, &[], &[]);

    // A quick backfill ends before a periodic line is due: each source's last line.
    let lines = progress_lines(&run.stderr);
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert!(
        lines[0].contains("meta: 7 of 7 chunks · done: 7 rows in "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(" INFO "), "{}", lines[0]);
    assert!(
        lines[1].contains("crm: 1 of 1 chunks · done: 1 row in "),
        "{}",
        lines[1]
    );
    // No bar is drawn to a pipe, and the lines after the backfill are as they were.
    assert!(!run.stderr.contains('\r'), "{:?}", run.stderr);
    assert!(!run.stderr.contains("\u{1b}["), "{:?}", run.stderr);
    assert!(!run.stderr.contains(meta::TOKEN));
    assert!(
        run.stdout
            .contains("meta: 7 rows over 2024-05-01..2024-05-07 (7 chunks)"),
        "{}",
        run.stdout
    );

    // In JSON logs, the counts are fields a log search can read.
    let json = backfill(&ws, &[], &[("KASSA__LOG__FORMAT", "json")]);
    let last = json
        .stderr
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|line| line["fields"]["source"] == "meta" && line["fields"]["chunks_done"] == 7)
        .unwrap_or_else(|| panic!("no progress line for meta:\n{}", json.stderr));
    let fields = &last["fields"];
    assert_eq!(last["level"], "INFO");
    assert_eq!(fields["chunks_total"], 7);
    assert_eq!(fields["rows"], 7);
    assert_eq!(fields["range"], "2024-05-07..2024-05-07");
    assert!(
        fields["message"]
            .as_str()
            .unwrap()
            .starts_with("meta: 7 of 7 chunks · done: 7 rows in "),
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_backfill_shows_no_progress() {
    let server = MockServer::start().await;
    let ws = workspace(&server).await;

    let run = backfill(&ws, &["-q"], &[]);

    assert_eq!(run.stderr, "", "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
}

/// The progress words follow `[alerting] locale`.
#[tokio::test(flavor = "multi_thread")]
async fn progress_lines_speak_the_configured_language() {
    let server = MockServer::start().await;
    let ws = workspace(&server).await;
    let config = ws.path().join("kassa.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("[alerting]\nlocale = \"ru\"\n\n{text}")).unwrap();

    let run = backfill(&ws, &[], &[]);

    let meta = run
        .stderr
        .lines()
        .find(|l| l.contains("meta: частей 7 из 7 · готово: 7 строк за "))
        .unwrap_or_else(|| panic!("no Russian progress line:\n{}", run.stderr));
    let message = meta.split(" source=").next().unwrap();
    for english in ["chunks", "rows", "done"] {
        assert!(!message.contains(english), "{message}");
    }
}
