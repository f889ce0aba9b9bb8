//! The Russian locale, end to end through the binary: with `[alerting] locale = "ru"` every
//! line a person reads (the `analyze` table and its data-gap lines, what `backfill` and `run`
//! print, the alerts a target receives, the demo's story) is Russian, with numbers in Russian
//! form. Names that come from the data or the configuration (channels, sources, targets),
//! metric identifiers Russian marketers use as they are (CTR, ROMI), currency codes and the
//! product's name are the only Latin words allowed.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Workspace, demo_sources, repo};

/// Latin words that may stay in Russian text: names from the data and the configuration,
/// metric identifiers, currency codes, the product.
const ALLOWED: &[&str] = &[
    "meta", "google", "ads", "crm", "team", "slack", "CTR", "ROMI", "USD", "kassa", "CRM",
];

/// The Latin-alphabet words of `text` outside the allow-list.
fn english_words(text: &str, allowed: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty() && !allowed.contains(w))
        .map(str::to_string)
        .collect();
    words.dedup();
    words
}

fn assert_russian(what: &str, text: &str) {
    let english = english_words(text, ALLOWED);
    assert!(
        english.is_empty(),
        "{what} keeps English words {english:?}:\n{text}"
    );
}

/// The demo's data in a workspace speaking Russian, with two flaws that leave periods without
/// a verdict: the ads export stops on 2025-06-18 and one won deal of the first week has no
/// amount. `max_per_run` caps the alerts of a run; the rest arrive as one digest.
fn workspace(slack_url: &str) -> Workspace {
    let ws = Workspace::new();
    let ads = std::fs::read_to_string(repo().join("fixtures/demo/ads.csv")).unwrap();
    let ads: Vec<&str> = ads
        .lines()
        .filter(|line| line.starts_with("date") || line[..10] <= *"2025-06-18")
        .collect();
    ws.write("ads.csv", &format!("{}\n", ads.join("\n")));
    let crm = std::fs::read_to_string(repo().join("fixtures/demo/crm.csv")).unwrap();
    ws.write(
        "crm.csv",
        &crm.replace(
            "d-00001,2025-01-06,2025-01-08,won,555.00,",
            "d-00001,2025-01-06,2025-01-08,won,,",
        ),
    );
    ws.write("slack.url", slack_url);
    configure(&ws, 10);
    ws
}

fn configure(ws: &Workspace, max_per_run: usize) {
    let absolute = |name: &str| ws.path().join(name).display().to_string();
    ws.config(&format!(
        "[alerting]\nlocale = \"ru\"\nmax_per_run = {max_per_run}\n\n\
         [[sources]]\nname = \"ads\"\nkind = \"csv_ads\"\npath = {:?}\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"csv_crm\"\npath = {:?}\n\n\
         [[alerts]]\nname = \"team\"\nkind = \"slack\"\nurl_file = {:?}\n",
        absolute("ads.csv"),
        absolute("crm.csv"),
        absolute("slack.url"),
    ));
}

/// Every `text` a Slack message carries (its fallback, header, sections and facts), except the
/// context line, which names the event by its wire identifier.
fn slack_texts(body: &Value, out: &mut Vec<String>) {
    match body {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("context") {
                return;
            }
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("text", Value::String(text)) => out.push(text.clone()),
                    _ => slack_texts(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| slack_texts(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn ru_table_has_no_english() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/secret"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let ws = workspace(&format!("{}/services/T0/B0/secret", slack.uri()));

    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-03-09"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    assert!(
        backfill.stdout.contains("строк с 2025-01-06 по 2025-03-09"),
        "{}",
        backfill.stdout
    );
    assert_russian("backfill", &backfill.stdout);

    // The March episode opens on two channels, then ends; its two resolved notes and the
    // total's activity without money of the next week (already over) are capped into one
    // digest.
    let mut runs = String::new();
    for (night, cap) in [("2025-03-17", 10), ("2025-03-31", 1)] {
        configure(&ws, cap);
        let run = ws.kassa(&["run", "--today", night]);
        assert_eq!(run.code, 0, "{run:?}");
        runs.push_str(&run.stdout);
    }
    for expected in [
        "заново загружено",
        "анализ: с тревогой — 4 периода",
        "оповещение отправлено (team): Заявки без денег",
        "оповещение отправлено (team): Ещё 3 оповещения",
    ] {
        assert!(
            runs.contains(expected),
            "{expected:?} missing from:\n{runs}"
        );
    }
    assert_russian("run", &runs);

    let requests = slack.received_requests().await.unwrap();
    assert!(requests.len() >= 3, "{requests:?}");
    for request in &requests {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let mut texts = Vec::new();
        slack_texts(&body, &mut texts);
        assert_russian("an alert", &texts.join("\n"));
    }

    // The ads export ends before the range does: a data gap, said in Russian (exit 2).
    let full = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"]);
    assert_eq!(full.code, 2, "{full:?}");
    assert!(
        full.stdout
            .contains("; нет данных: с 2025-06-19 по 2025-06-29 (пробел в данных)"),
        "{}",
        full.stdout
    );
    assert_russian("backfill", &full.stdout);
    let table = ws.kassa(&["analyze"]);
    assert_eq!(table.code, 0, "{table:?}");
    for expected in [
        "kassa: по неделям с 2025-01-06 по 2025-06-29, суммы в USD",
        "неделя       показы",
        "АКТИВНОСТЬ БЕЗ ДЕНЕГ",
        "нет оценки",
        "Неделю с 2025-01-06 по 2025-01-12 оценить нельзя: у 1 успешной сделки не указана сумма",
        "у источника «ads» нет данных за 7 дней (с 2025-06-23 по 2025-06-29)",
        "мало истории для сравнения (полных недель раньше: 1 из 4 нужных)",
        "в норме",
        "без оценки (пробелы в данных): 7 недель",
    ] {
        assert!(
            table.stdout.contains(expected),
            "{expected:?} missing from:\n{}",
            table.stdout
        );
    }
    assert_russian("the analyze table", &table.stdout);
}

#[test]
fn ru_numbers_use_decimal_comma() {
    let ws = Workspace::new();
    ws.config(&format!(
        "[alerting]\nlocale = \"ru\"\n\n{}",
        demo_sources()
    ));
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-06-29"]);
    assert_eq!(backfill.code, 0, "{backfill:?}");
    assert!(
        backfill.stdout.contains("2\u{a0}069 строк"),
        "{}",
        backfill.stdout
    );
    let table = ws.kassa(&["analyze"]).stdout;
    // The first week of all channels: spend, CTR, revenue, ROMI, and counts grouped by a
    // no-break space.
    let first_week = table
        .lines()
        .find(|line| line.trim_start().starts_with("2025-01-06"))
        .unwrap();
    let cells: Vec<&str> = first_week.split("  ").map(str::trim).collect();
    for expected in [
        "385\u{a0}980",
        "1,71%",
        "4\u{a0}730,91",
        "20\u{a0}956,79",
        "343%",
    ] {
        assert!(
            cells.contains(&expected),
            "{expected:?} missing from {cells:?}"
        );
    }
    // No number anywhere in the table keeps a decimal point.
    let has_decimal_point = table
        .as_bytes()
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit());
    assert!(!has_decimal_point, "{table}");
    assert!(
        table.contains("(16\u{a0}288,16\u{a0}$ против 20\u{a0}853,82\u{a0}$)"),
        "{table}"
    );
}

/// `kassa demo --locale ru`'s output, run once for the tests that read it (the demo takes a few
/// seconds).
fn ru_demo() -> &'static str {
    static OUTPUT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OUTPUT.get_or_init(|| {
        let scratch = tempfile::tempdir().unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
            .args(["demo", "--locale", "ru"])
            // The report lands in the current directory: a scratch one, never the repository.
            .current_dir(scratch.path())
            .env_remove("KASSA_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    })
}

/// The Russian demo runs on the platforms a Russian business uses: Yandex Direct (through the
/// offline report queue), VK Ads (one token, then statistics) and amoCRM (its leads mapped by
/// `utm_source`), in roubles, and tells the English demo's story with their channels.
#[test]
fn demo_ru_pulls_yandex_direct_vk_ads_and_amocrm() {
    let stdout = ru_demo();
    for expected in [
        "имитации Яндекс Директа (API отчётов) и VK Рекламы",
        // The March week on the VK Ads channel, where leads grew and won revenue did not, is
        // alerted once to every target as leads without money, and resolved; activity without
        // money on Yandex Direct in May.
        "team (episode.opened): Заявки без денег: Канал vk_ads, неделя с 2025-03-10 по 2025-03-16",
        "owner (episode.opened): Заявки без денег: Канал vk_ads, неделя с 2025-03-10 по 2025-03-16",
        "bi (episode.opened): Заявки без денег: Канал vk_ads, неделя с 2025-03-10 по 2025-03-16",
        "owner (episode.resolved): Эпизод закрыт: Канал vk_ads, с 2025-03-10 по 2025-03-23",
        "bi (episode.opened): Активность без денег: Канал yandex_direct, неделя с 2025-05-19 по 2025-05-25",
        // The alert bodies in Russian, money in roubles after the amount.
        "Показы тоже выросли на 35%.",
        "Цепочка рвётся между заявкой и продажей",
        "Расход за неделю: 525\u{a0}368,70\u{a0}₽",
        "\"parse_mode\": \"HTML\"",
        // VK Ads' goals claim 2.5 times the leads amoCRM recorded one week.
        "team (episode.opened): Заявленное не подтверждает CRM: Канал vk_ads, неделя с 2025-04-21 по 2025-04-27",
        "Источник «vk», с 2025-04-21 по 2025-04-27, канал vk_ads: заявки — 106; в CRM — 44 (−58%)",
        "За 14 ночных запусков отправлено 27 оповещений (до получателей дошло 27 запросов)",
        // Every platform was asked: Yandex's first report waited in the offline queue, VK Ads
        // issued one token for the whole demo (kept in the store), amoCRM listed its leads.
        "на 2 из них ответила очередь офлайн-отчётов: 201, затем 202",
        "VK Реклама — 1 запрос токена и ",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
    }
    assert!(
        !stdout.contains("meta") && !stdout.contains("google") && !stdout.contains('$'),
        "the English demo's platforms or dollars leaked into the Russian one:\n{stdout}"
    );
    assert!(
        !stdout.contains("ночной запуск 2025-04-14"),
        "the growth with money must not alert"
    );
    // The requests each platform answered: Yandex Direct's reports, VK Ads' campaigns and
    // statistics and amoCRM's pages were all asked for more than once.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Имитации площадок получили:"))
        .unwrap();
    let counts: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [reports, queued, _, _, tokens, statistics, pages] = counts[..] else {
        panic!("unexpected counts {counts:?} in {line}");
    };
    assert_eq!((queued, tokens), (2, 1), "{line}");
    assert!(reports > queued && statistics > 1 && pages > 1, "{line}");
}

#[test]
fn demo_ru_has_no_english_framing() {
    let stdout = ru_demo();
    // The demo's own words: every line but the wire bodies it shows (indented six spaces),
    // and the commands and file names to repeat it by hand; the report's path is the scratch
    // directory's, its words are checked apart.
    let framing: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.starts_with("      ") && !line.contains("cargo run"))
        .map(|line| match line.split_once('/') {
            Some((words, _)) if line.contains("demo-report.html") => words,
            _ => line,
        })
        .collect();
    assert!(
        stdout.contains("Отчёт с графиками сохранён в /")
            && stdout.contains("/demo-report.html: откройте его в браузере."),
        "the demo names its report:\n{stdout}"
    );
    assert!(
        framing.iter().any(|l| l.contains("config/example-ru.toml")),
        "the demo points at the Russian example configuration"
    );
    let allowed = [
        // The fakes and receivers it names, its targets and their kinds, the event names.
        "kassa", "VK", "API", "amoCRM", "utm", "source", "yandex", "direct", "vk", "ads", "Slack",
        "Telegram", "webhook", "slack", "telegram", "team", "owner", "bi", "episode", "opened",
        "resolved", // Russian business owners say CRM as it is.
        "CRM",      // The example files and the command to check one.
        "config", "example", "ru", "toml", "bitrix", "check",
    ];
    let english = english_words(&framing.join("\n"), &allowed);
    assert!(
        english.is_empty(),
        "{english:?} in:\n{}",
        framing.join("\n")
    );
    for expected in [
        "Демо kassa",
        "── ночной запуск 2025-03-17",
        "Эпизод закрыт: Канал vk_ads",
        "За 14 ночных запусков отправлено 27 оповещений (до получателей дошло 27 запросов)",
        "Попробуйте сами:",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
    }
}
