//! The lines the command line prints about what a command did: `backfill` and `run` per
//! source, `run`'s analysis and alert tallies, the summary of a run over many tenants,
//! `check`, `alert-test` and `report` outcomes, and the demo's story around the alerts it shows. Names (sources, targets, their kinds, alert
//! events) come from the configuration or the wire and are printed as they are. Errors keep
//! kassa's one language for errors, English, with their `kassa: error:` prefix.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;

use super::{
    ALERTS, CHUNKS, PERIODS, REQUESTS, ROWS, RUNS, SOURCES, TARGETS, TENANTS, date_range, plural_ru,
};
use crate::domain::{DateRange, Locale, SuspiciousWindow, TenantStatus};
use crate::sources::ErrorKind;
use crate::sources::channels::{LegacyChannels, UNATTRIBUTED};

/// `meta-ads: 1172 rows over 2025-01-06..2025-03-09 (3 chunks)`.
pub fn backfill_source(
    name: &str,
    rows: usize,
    range: &DateRange,
    chunks: usize,
    locale: Locale,
) -> String {
    let (rows, chunks) = (
        ROWS.count(rows as u64, locale),
        CHUNKS.count(chunks as u64, locale),
    );
    match locale {
        Locale::En => format!("{name}: {rows} over {range} ({chunks})"),
        Locale::Ru => format!("{name}: {rows} {} ({chunks})", date_range(range, locale)),
    }
}

/// `; 3 chunks stored by the interrupted backfill skipped (--refresh pulls them again)`, or
/// nothing when none was skipped.
pub fn chunks_skipped(skipped: usize, locale: Locale) -> String {
    if skipped == 0 {
        return String::new();
    }
    let chunks = CHUNKS.count(skipped as u64, locale);
    match locale {
        Locale::En => format!(
            "; {chunks} stored by the interrupted backfill skipped (--refresh pulls them again)"
        ),
        Locale::Ru => format!(
            "; пропущено частей, уже сохранённых прерванной загрузкой: {} (--refresh загрузит их заново)",
            crate::text::integer(skipped as u64, locale)
        ),
    }
}

/// A source whose backfill failed part way; `fix` is what a person must do first, `None`
/// when waiting helps (see [`fix_for`]).
pub fn backfill_source_failed(
    name: &str,
    done: usize,
    total: usize,
    fix: Option<&str>,
    locale: Locale,
) -> String {
    match (fix, locale) {
        (None, Locale::En) => format!(
            "{name}: FAILED, {done} of {total} chunks stored; the rest stays uncovered: run the same backfill again later (it resumes)"
        ),
        (Some(fix), Locale::En) => format!(
            "{name}: FAILED, {done} of {total} chunks stored; the rest stays uncovered: {fix}, then run the same backfill again"
        ),
        (None, Locale::Ru) => format!(
            "{name}: ОШИБКА, сохранено частей: {done} из {total}; остальные дни без данных: запустите ту же загрузку позже (она продолжит с места остановки)"
        ),
        (Some(fix), Locale::Ru) => format!(
            "{name}: ОШИБКА, сохранено частей: {done} из {total}; остальные дни без данных: {fix}, затем запустите ту же загрузку снова"
        ),
    }
}

/// How long, as a clock shows it, in both languages: `0:07`, `12:30`, `1:02:03`.
pub fn clock_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// The layout of a source's backfill progress bar (an indicatif template): its name, the bar,
/// chunks done of all, the time so far, then [`progress_message`] as `{msg}`.
pub fn progress_bar_template(locale: Locale) -> &'static str {
    match locale {
        Locale::En => {
            "{spinner} {prefix:.bold} [{bar:24}] {pos}/{len} chunks · {elapsed_precise} · {msg}"
        }
        Locale::Ru => {
            "{spinner} {prefix:.bold} [{bar:24}] частей: {pos} из {len} · {elapsed_precise} · {msg}"
        }
    }
}

/// A backfill under way, for one source: `1172 rows · 2025-01-06..2025-01-12 · 35 rows/s ·
/// about 1:05 left` (the range being pulled or just pulled); what is not known yet is left out.
pub fn progress_message(
    rows: usize,
    range: Option<&DateRange>,
    rows_per_s: Option<u64>,
    eta: Option<Duration>,
    locale: Locale,
) -> String {
    let mut parts = vec![ROWS.count(rows as u64, locale)];
    parts.extend(range.map(|range| date_range(range, locale)));
    parts.extend(rows_per_s.map(|rate| per_second(rate, locale)));
    parts.extend(eta.map(|eta| match locale {
        Locale::En => format!("about {} left", clock_duration(eta)),
        Locale::Ru => format!("осталось около {}", clock_duration(eta)),
    }));
    parts.join(" · ")
}

/// `35 rows/s`, `35 строк/с`.
fn per_second(rate: u64, locale: Locale) -> String {
    let rows = ROWS.count(rate, locale);
    match locale {
        Locale::En => format!("{rows}/s"),
        Locale::Ru => format!("{rows}/с"),
    }
}

/// A backfilled source's last words, for its bar: `done: 1172 rows in 0:42, 27 rows/s`, or
/// `stopped` when it failed part way (the lines after the backfill say why).
pub fn progress_done(
    rows: usize,
    elapsed: Duration,
    rows_per_s: Option<u64>,
    failed: bool,
    locale: Locale,
) -> String {
    let rows = ROWS.count(rows as u64, locale);
    let elapsed = clock_duration(elapsed);
    let rate = rows_per_s.map_or(String::new(), |rate| {
        format!(", {}", per_second(rate, locale))
    });
    match (locale, failed) {
        (Locale::En, false) => format!("done: {rows} in {elapsed}{rate}"),
        (Locale::En, true) => format!("stopped: {rows} in {elapsed}{rate}"),
        (Locale::Ru, false) => format!("готово: {rows} за {elapsed}{rate}"),
        (Locale::Ru, true) => format!("остановлено: {rows} за {elapsed}{rate}"),
    }
}

/// A backfill's progress log line for one source (when stderr is not a terminal): `meta: 3 of
/// 10 chunks · ` and a [`progress_message`] or [`progress_done`].
pub fn progress_line(name: &str, done: usize, total: usize, said: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!("{name}: {done} of {total} chunks · {said}"),
        Locale::Ru => format!("{name}: частей {done} из {total} · {said}"),
    }
}

/// What a person must do before a source that failed this way can work, as an imperative
/// clause; `None` when the next attempt may simply succeed (throttling, a server or network
/// error).
pub fn fix_for(kind: ErrorKind, locale: Locale) -> Option<&'static str> {
    let ru = locale.ru();
    let pick = |en: &'static str, ru_text: &'static str| Some(if ru { ru_text } else { en });
    match kind {
        ErrorKind::Throttled | ErrorKind::QuotaSpent | ErrorKind::Server | ErrorKind::Network => {
            None
        }
        ErrorKind::Auth => pick(
            "renew or fix its credentials (`kassa check` tests them)",
            "обновите или исправьте учётные данные (`kassa check` их проверит)",
        ),
        ErrorKind::Tls => pick(
            "fix the TLS problem named below (`kassa check` tests the connection)",
            "устраните проблему с TLS, названную ниже (`kassa check` проверит соединение)",
        ),
        ErrorKind::Rejected => pick(
            "correct its settings (the platform refused the request as made)",
            "исправьте настройки источника (платформа отклонила запрос в таком виде)",
        ),
        ErrorKind::Decode => pick(
            "look into the unexpected answer below (the URL, the API version)",
            "разберитесь с неожиданным ответом ниже (адрес, версия API)",
        ),
        ErrorKind::InvalidData => pick(
            "fix the data named below",
            "исправьте данные, указанные ниже",
        ),
        ErrorKind::Io => pick(
            "make the file readable",
            "сделайте файл доступным для чтения",
        ),
        ErrorKind::Config => pick(
            "fix its configuration (`kassa check` validates it)",
            "исправьте настройки источника (`kassa check` их проверит)",
        ),
        ErrorKind::Store => pick(
            "free disk space or fix the store path named below",
            "освободите место на диске или исправьте путь хранилища, указанный ниже",
        ),
    }
}

/// `meta-ads: 196 rows re-pulled`.
pub fn run_source(name: &str, rows: usize, locale: Locale) -> String {
    let n = rows as u64;
    match locale {
        Locale::En => format!("{name}: {} re-pulled", ROWS.count(n, locale)),
        Locale::Ru => format!(
            "{name}: заново {} {}",
            plural_ru(n, "загружена", "загружено", "загружено"),
            ROWS.count(n, locale)
        ),
    }
}

/// A source that failed in a nightly run; `fix` as for [`backfill_source_failed`].
pub fn run_source_failed(name: &str, fix: Option<&str>, locale: Locale) -> String {
    match (fix, locale) {
        (None, Locale::En) => {
            format!("{name}: FAILED; its window stays uncovered and is retried by the next run")
        }
        (Some(fix), Locale::En) => {
            format!("{name}: FAILED; its window stays uncovered until you {fix}")
        }
        (None, Locale::Ru) => format!(
            "{name}: ОШИБКА; эти дни остаются без данных, следующий запуск загрузит их снова"
        ),
        (Some(fix), Locale::Ru) => format!(
            "{name}: ОШИБКА; эти дни останутся без данных, пока не исправлена причина: {fix}"
        ),
    }
}

/// `analysis: 2 flagged periods, 3 without a verdict`.
pub fn run_analysis(flagged: usize, gaps: usize, locale: Locale) -> String {
    let (n, periods) = (flagged as u64, PERIODS.form(flagged as u64, locale));
    match locale {
        Locale::En => format!("analysis: {n} flagged {periods}, {gaps} without a verdict"),
        Locale::Ru => format!(
            // Every rule's flags, not only the default rule's: "с тревогой", not a kind's name.
            "анализ: с тревогой — {}, без оценки — {}",
            PERIODS.count(n, locale),
            PERIODS.count(gaps as u64, locale)
        ),
    }
}

/// One alert this run delivered.
pub fn alert_delivered(target: &str, title: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!("alert delivered to {target}: {title}"),
        Locale::Ru => format!("оповещение отправлено ({target}): {title}"),
    }
}

/// `alerts: 3 new, 3 delivered this run, 0 pending`.
pub fn alerts_tally(new: usize, delivered: usize, pending: u64, locale: Locale) -> String {
    match locale {
        Locale::En => {
            format!("alerts: {new} new, {delivered} delivered this run, {pending} pending")
        }
        Locale::Ru => format!(
            "оповещения: новых — {new}, отправлено сейчас — {delivered}, ждут отправки — {pending}"
        ),
    }
}

/// `alert-test` delivered its sample.
pub fn sample_delivered(target: &str, kind: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!("{target} ({kind}): sample alert delivered"),
        Locale::Ru => format!("{target} ({kind}): тестовое оповещение отправлено"),
    }
}

/// `configuration: valid (2 sources, 1 alert target)`.
pub fn config_valid(sources: usize, targets: usize, locale: Locale) -> String {
    let (sources, targets) = (
        SOURCES.count(sources as u64, locale),
        TARGETS.count(targets as u64, locale),
    );
    match locale {
        Locale::En => format!("configuration: valid ({sources}, {targets})"),
        Locale::Ru => format!("конфигурация в порядке ({sources}, {targets})"),
    }
}

/// The store `check` can write (`exists`) or create.
pub fn store_ok(path: &dyn std::fmt::Display, exists: bool, locale: Locale) -> String {
    match (exists, locale) {
        (true, Locale::En) => format!("store ({path}): ok: writable"),
        (false, Locale::En) => format!("store ({path}): ok: does not exist yet, can be created"),
        (true, Locale::Ru) => format!("хранилище ({path}): в порядке: запись возможна"),
        (false, Locale::Ru) => {
            format!("хранилище ({path}): в порядке: ещё не создано, но создать его можно")
        }
    }
}

/// The store `check` cannot write (its error follows on stderr).
pub fn store_failed(path: &dyn std::fmt::Display, locale: Locale) -> String {
    match locale {
        Locale::En => format!("store ({path}): FAILED"),
        Locale::Ru => format!("хранилище ({path}): ОШИБКА"),
    }
}

/// The services `check` reached for a store kept in them: `ledger` (a Postgres schema) and/or
/// `snapshots` (an `s3://` address), whichever the store uses.
pub fn store_services_ok(services: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!("store services ({services}): ok: reached"),
        Locale::Ru => format!("сервисы хранилища ({services}): в порядке: доступны"),
    }
}

/// The services of a store `check` could not reach (its error follows on stderr).
pub fn store_services_failed(services: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!("store services ({services}): FAILED"),
        Locale::Ru => format!("сервисы хранилища ({services}): ОШИБКА"),
    }
}

/// A source `check` reached; `found` is what the probe says it saw.
pub fn check_ok(name: &str, kind: &str, found: Option<&str>, locale: Locale) -> String {
    match (found, locale) {
        (Some(found), Locale::En) => format!("{name} ({kind}): ok: {found}"),
        (Some(found), Locale::Ru) => format!("{name} ({kind}): в порядке: {found}"),
        (None, Locale::En) => {
            format!("{name} ({kind}): ok: configuration is valid (not contacted: --offline)")
        }
        (None, Locale::Ru) => format!(
            "{name} ({kind}): в порядке: настройки верны (без обращения к площадке: --offline)"
        ),
    }
}

/// A source or alert target `check` found broken (its error follows on stderr).
pub fn check_failed(name: &str, kind: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!("{name} ({kind}): FAILED"),
        Locale::Ru => format!("{name} ({kind}): ОШИБКА"),
    }
}

/// An alert target whose secrets `check` found; it is never contacted.
pub fn check_target_ok(name: &str, kind: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!(
            "{name} ({kind}): ok: secrets found (not contacted; `kassa alert-test --target {name}` sends a sample)"
        ),
        Locale::Ru => format!(
            "{name} ({kind}): секреты на месте (связь не проверялась; `kassa alert-test --target {name}` отправит тестовое оповещение)"
        ),
    }
}

/// A source configured with older channel-mapping keys (HubSpot's `channel_property`,
/// `channel_map`, `default_channel`): they still work, read as `legacy.rules`; this says what
/// to paste in their place and how the result differs. `check` prints it, every run logs it.
pub fn legacy_channels(name: &str, legacy: &LegacyChannels, locale: Locale) -> String {
    let keys = legacy.keys.join(", ");
    let field = &legacy.field;
    let empty = &legacy.empty;
    let rules = legacy.rules.to_toml();
    match (rules.is_empty(), locale) {
        (false, Locale::En) => format!(
            "{name}: {keys} are older keys; kassa reads them as the channel rules below. \
             Replace them with these rules in the [[sources]] table of {name}:\n{rules}\
             With rules, a deal no rule matches goes to \"{UNATTRIBUTED}\"; the older keys gave \
             it the lower-cased value of {field} (\"{empty}\" when empty): add rules for the \
             values you want as channels."
        ),
        (false, Locale::Ru) => format!(
            "{name}: {keys} — устаревшие ключи; kassa читает их как правила каналов ниже. \
             Замените их этими правилами в таблице [[sources]] источника {name}:\n{rules}\
             С правилами сделка, не подошедшая ни под одно правило, попадает в \"{UNATTRIBUTED}\"; \
             по старым ключам её каналом было значение {field} строчными буквами (\"{empty}\", \
             если оно пусто): добавьте правила для значений, которые нужны как каналы."
        ),
        (true, Locale::En) => format!(
            "{name}: {keys} are older keys; kassa reads them as: a deal's channel is the \
             lower-cased value of {field} (\"{empty}\" when empty). Replace them with \
             [[sources.channel_rules]] (README: Channel mapping); a deal no rule matches then \
             goes to \"{UNATTRIBUTED}\"."
        ),
        (true, Locale::Ru) => format!(
            "{name}: {keys} — устаревшие ключи; kassa читает их так: канал сделки — значение \
             {field} строчными буквами (\"{empty}\", если оно пусто). Замените их правилами \
             [[sources.channel_rules]] (README: Channel mapping); сделка, не подошедшая ни под \
             одно правило, тогда попадает в \"{UNATTRIBUTED}\"."
        ),
    }
}

/// The demo's opening paragraph.
pub fn demo_intro(locale: Locale) -> &'static str {
    match locale {
        Locale::En => {
            "kassa demo: two ad accounts (meta, google) served by a fake Meta Insights API, deals by a fake\n\
             HubSpot search API, alerts to fake Slack, Telegram and webhook receivers, all on 127.0.0.1.\n"
        }
        Locale::Ru => {
            "Демо kassa: имитации Яндекс Директа (API отчётов) и VK Рекламы отдают статистику кабинетов\n\
             (каналы yandex_direct и vk_ads, рубли, дни по Москве), имитация amoCRM — сделки с меткой\n\
             utm_source, оповещения принимают имитации Slack, Telegram и webhook; всё работает на 127.0.0.1.\n"
        }
    }
}

/// The history the demo loads before its first night.
pub fn demo_backfill(range: &DateRange, rows: usize, locale: Locale) -> String {
    let rows = ROWS.count(rows as u64, locale);
    match locale {
        Locale::En => format!("backfill {range}: {rows} of history (a backfill never alerts)\n"),
        Locale::Ru => format!(
            "история {}: {rows} (при загрузке истории оповещения не отправляются)\n",
            date_range(range, locale)
        ),
    }
}

/// The rule above one night's alerts.
pub fn demo_night(night: NaiveDate, locale: Locale) -> String {
    let rule = "─".repeat(45);
    match locale {
        Locale::En => format!("── night of {night} {rule}"),
        Locale::Ru => format!("── ночной запуск {night} {rule}"),
    }
}

/// Introduces the first body of a target kind the demo shows in full.
pub fn demo_body(kind: &str, locale: Locale) -> String {
    match locale {
        Locale::En => format!("the {kind} target received this body:"),
        Locale::Ru => format!("в {kind} ушёл такой запрос:"),
    }
}

/// The demo's last word; `unflagged` is the growth that brought money and stayed quiet.
pub fn demo_summary(
    delivered: usize,
    requests: usize,
    nights: usize,
    unflagged: NaiveDate,
    locale: Locale,
) -> String {
    let (alerts, sent, nights) = (
        ALERTS.count(delivered as u64, locale),
        REQUESTS.count(requests as u64, locale),
        RUNS.count(nights as u64, locale),
    );
    match locale {
        Locale::En => format!(
            "{alerts} delivered ({sent} reached the receivers) over {nights}; \
             the {unflagged} growth brought money and was not flagged."
        ),
        Locale::Ru => format!(
            "За {nights} отправлено {alerts} (до получателей {} {sent}); \
             рост с {unflagged} принёс деньги, и тревоги не было.",
            plural_ru(requests as u64, "дошёл", "дошло", "дошло")
        ),
    }
}

/// Where the demo wrote its HTML report (an absolute path).
pub fn demo_report(path: &Path, locale: Locale) -> String {
    let path = path.display();
    match locale {
        Locale::En => format!("The report with charts is in {path}: open it in a browser."),
        Locale::Ru => format!("Отчёт с графиками сохранён в {path}: откройте его в браузере."),
    }
}

/// What the Russian demo's fake platforms were asked: `yandex` the report requests and how many
/// of them the offline queue answered, `vk` the token and the campaign and statistics requests,
/// `amocrm` the pages of leads.
pub fn demo_platform_requests(
    [reports, queued]: [usize; 2],
    [tokens, statistics]: [usize; 2],
    pages: usize,
    locale: Locale,
) -> String {
    let n = |count: usize| REQUESTS.count(count as u64, locale);
    match locale {
        Locale::En => format!(
            "The fake platforms received: Yandex Direct {} for reports ({queued} answered by the \
             offline queue: 201, then 202), VK Ads {} for a token and {} for campaigns and \
             statistics, amoCRM {} for pages of leads.",
            n(reports),
            n(tokens),
            n(statistics),
            n(pages)
        ),
        Locale::Ru => format!(
            "Имитации площадок получили: Яндекс Директ — {} отчётов (на {queued} из них ответила \
             очередь офлайн-отчётов: 201, затем 202), VK Реклама — {} токена и {} кампаний и \
             статистики, amoCRM — {} страниц сделок.",
            n(reports),
            n(tokens),
            n(statistics),
            n(pages)
        ),
    }
}

/// The label before the commands that repeat the demo by hand.
pub fn demo_try(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "Run it for yourself:",
        Locale::Ru => "Попробуйте сами:",
    }
}

/// Where to go from the demo to one's own accounts.
pub fn demo_own_accounts(locale: Locale) -> &'static str {
    match locale {
        Locale::En => {
            "With your own accounts: copy config/example.toml, keep the sources you have, set their tokens, then `kassa check`."
        }
        Locale::Ru => {
            "Со своими кабинетами: скопируйте config/example-ru.toml (Яндекс Директ, VK Реклама, amoCRM; с Битрикс24 — config/example-ru-bitrix24.toml), укажите токены и запустите `kassa check`."
        }
    }
}

/// What a source left uncovered, appended to its line: `; not covered: … (a data gap)`.
/// The windows a pull answered with less than the store held, for its status line:
/// `; suspicious: 2025-06-02..2025-06-29 answered no rows: the 28 stored were kept`.
pub fn suspicious(windows: &[SuspiciousWindow], locale: Locale) -> String {
    if windows.is_empty() {
        return String::new();
    }
    let each: Vec<String> = windows
        .iter()
        .map(|w| super::report::suspicion(w, locale))
        .collect();
    match locale {
        Locale::En => format!("; suspicious: {}", each.join("; ")),
        Locale::Ru => format!("; подозрительно: {}", each.join("; ")),
    }
}

pub fn not_covered(uncovered: &[DateRange], locale: Locale) -> String {
    if uncovered.is_empty() {
        return String::new();
    }
    let ranges: Vec<String> = uncovered.iter().map(|r| date_range(r, locale)).collect();
    match locale {
        Locale::En => format!("; not covered: {} (a data gap)", ranges.join(", ")),
        Locale::Ru => format!("; нет данных: {} (пробел в данных)", ranges.join(", ")),
    }
}

/// A target whose messages became dead letters in this run: an error line (English, like
/// every error), printed after `kassa: error: `.
pub fn target_broken(target: &str, dead: usize, error: &str) -> String {
    format!(
        "target {target}: {} undeliverable ({error}); see `kassa outbox list`",
        ALERTS.count(dead as u64, Locale::En)
    )
}

/// One message of `kassa outbox list`: its id, state, target, kind and counts, then the
/// alert's id (its episode or source and period) and title, then the last error.
pub struct OutboxLine<'a> {
    pub id: i64,
    pub dead: bool,
    pub target: &'a str,
    pub kind: &'a str,
    pub attempts: i64,
    pub failed_runs: i64,
    pub alert: &'a str,
    pub title: &'a str,
    pub last_error: Option<&'a str>,
}

/// `#3 dead team activity_without_money: 1 attempt, failed in 1 run` and its details.
pub fn outbox_line(line: &OutboxLine<'_>, locale: Locale) -> String {
    let OutboxLine {
        id,
        dead,
        target,
        kind,
        attempts,
        failed_runs,
        alert,
        title,
        last_error,
    } = line;
    let (attempts, runs) = (
        ATTEMPTS.count(*attempts as u64, locale),
        FAILED_RUNS.count(*failed_runs as u64, locale),
    );
    let mut text = match (dead, locale) {
        (true, Locale::En) => format!("#{id} dead     {target} {kind}: {attempts}, {runs}"),
        (false, Locale::En) => format!("#{id} pending  {target} {kind}: {attempts}, {runs}"),
        (true, Locale::Ru) => format!("#{id} не доставить {target} {kind}: {attempts}, {runs}"),
        (false, Locale::Ru) => format!("#{id} ждёт     {target} {kind}: {attempts}, {runs}"),
    };
    text.push_str(&format!("\n    {alert}: {title}"));
    if let Some(error) = last_error {
        text.push_str(&match locale {
            Locale::En => format!("\n    last error: {error}"),
            Locale::Ru => format!("\n    последняя ошибка: {error}"),
        });
    }
    text
}

/// The last line of `kassa outbox list`.
pub fn outbox_tally(pending: usize, dead: usize, locale: Locale) -> String {
    match locale {
        Locale::En => format!(
            "outbox: {pending} pending, {dead} dead{}",
            if dead > 0 {
                " (`kassa outbox retry ID|--target NAME|--all` sends dead ones again, `kassa outbox drop ...` deletes them)"
            } else {
                ""
            }
        ),
        Locale::Ru => format!(
            "очередь оповещений: ждут отправки — {pending}, не доставить — {dead}{}",
            if dead > 0 {
                " (`kassa outbox retry ID|--target NAME|--all` отправит их снова, `kassa outbox drop ...` удалит)"
            } else {
                ""
            }
        ),
    }
}

/// What `kassa outbox retry` did.
pub fn outbox_retried(ids: &[i64], locale: Locale) -> String {
    let alerts = ALERTS.count(ids.len() as u64, locale);
    match locale {
        Locale::En => format!("{alerts} pending again; the next run sends them"),
        Locale::Ru => format!("снова в очереди: {alerts}; их отправит следующий запуск"),
    }
}

/// What `kassa outbox drop` did.
pub fn outbox_dropped(ids: &[i64], locale: Locale) -> String {
    let alerts = ALERTS.count(ids.len() as u64, locale);
    match locale {
        Locale::En => format!("{alerts} deleted from the outbox"),
        Locale::Ru => format!("удалено из очереди: {alerts}"),
    }
}

const ATTEMPTS: super::Countable = super::Countable {
    en: ["attempt", "attempts"],
    ru: ["попытка", "попытки", "попыток"],
};
const FAILED_RUNS: super::Countable = super::Countable {
    en: ["failed run", "failed runs"],
    ru: [
        "неудачный запуск",
        "неудачных запуска",
        "неудачных запусков",
    ],
};

/// What `kassa report` wrote: `report written to report.html (48,213 bytes)`.
pub fn report_written(path: &str, bytes: usize, locale: Locale) -> String {
    let size = crate::text::integer(bytes as u64, locale);
    match locale {
        Locale::En => format!("report written to {path} ({size} bytes)"),
        Locale::Ru => format!(
            "отчёт записан в {path} ({size} {})",
            plural_ru(bytes as u64, "байт", "байта", "байт")
        ),
    }
}

/// A tenant's outcome in a run over many: `ok`, `partial`, `failed`, `busy`, `invalid config`.
pub fn tenant_status(status: TenantStatus, locale: Locale) -> &'static str {
    match (status, locale) {
        (TenantStatus::Ok, Locale::En) => "ok",
        (TenantStatus::Partial, Locale::En) => "partial",
        (TenantStatus::Busy, Locale::En) => "busy",
        (TenantStatus::Failed, Locale::En) => "failed",
        (TenantStatus::Invalid, Locale::En) => "invalid config",
        (TenantStatus::Ok, Locale::Ru) => "успешно",
        (TenantStatus::Partial, Locale::Ru) => "частично",
        (TenantStatus::Busy, Locale::Ru) => "занят",
        (TenantStatus::Failed, Locale::Ru) => "сбой",
        (TenantStatus::Invalid, Locale::Ru) => "ошибка в настройках",
    }
}

/// One line of the summary of a run over many tenants: `acme: ok`, or `globex: failed: why`.
pub fn tenant_outcome(
    name: &str,
    status: TenantStatus,
    problem: Option<&str>,
    locale: Locale,
) -> String {
    let word = tenant_status(status, locale);
    match problem {
        Some(problem) => format!("{name}: {word}: {problem}"),
        None => format!("{name}: {word}"),
    }
}

/// The summary's last line: `shard 0/2: 3 tenants: 2 ok, 1 failed` (statuses with none left
/// out).
pub fn tenants_tally(shard: &str, counts: &[(TenantStatus, usize)], locale: Locale) -> String {
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(status, n)| format!("{n} {}", tenant_status(*status, locale)))
        .collect();
    let tenants = TENANTS.count(total as u64, locale);
    match locale {
        Locale::En => format!("shard {shard}: {tenants}: {}", parts.join(", ")),
        Locale::Ru => format!("шард {shard}: {tenants}: {}", parts.join(", ")),
    }
}

/// A shard that holds none of the directory's tenants (a small agency with many shards).
pub fn no_tenants(shard: &str, dir: &Path, all: usize, locale: Locale) -> String {
    let dir = dir.display();
    match locale {
        Locale::En => format!(
            "shard {shard}: no tenant of {dir} falls in this shard ({} in all): nothing to do",
            TENANTS.count(all as u64, locale)
        ),
        Locale::Ru => format!(
            "шард {shard}: ни один клиент из {dir} не попал в этот шард (всего клиентов: {}): делать нечего",
            crate::text::integer(all as u64, locale)
        ),
    }
}
