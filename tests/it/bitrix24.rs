//! The Bitrix24 deals connector against a fake portal on 127.0.0.1 (`fakes::bitrix24`) that
//! answers in Bitrix24's documented wire format: an inbound webhook whose key is in the path,
//! `crm.deal.list` inside `batch`, string values, `next`/`total` over pages of 50, and
//! `{"error", "error_description"}` bodies. The checks every HTTP connector passes come from
//! the contract kit (`connector`); this file holds what is Bitrix24's own.

use std::time::Duration;

use kassa::domain::DealStatus::{Lost, Open, Won};
use kassa::domain::{Deal, Pulled};
use kassa::sources::{BuildContext, ErrorKind};
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::connector::{Platform, always, assert_names_source_and_range, connector_contract};
use crate::fakes::bitrix24::{self, Bitrix24, Portal, batch, deal, list, with};
use crate::fakes::{TokenFrom, answer, build_source, json_bodies, ok, requests};
use crate::helpers::{Workspace, assert_waited, d, money, paused_clock_context, range, script};

connector_contract!(contract, Bitrix24);

fn deals(pulled: Pulled) -> Vec<Deal> {
    match pulled {
        Pulled::Deals(rows) => rows,
        other => panic!("expected deals, got {other:?}"),
    }
}

fn by_id<'a>(deals: &'a [Deal], id: &str) -> &'a Deal {
    deals
        .iter()
        .find(|deal| deal.id == id)
        .unwrap_or_else(|| panic!("no deal {id} in {deals:?}"))
}

/// A context on the paused clock whose business time zone is `zone`.
fn context_in(zone: chrono_tz::Tz) -> BuildContext {
    BuildContext {
        timezone: zone,
        ..paused_clock_context()
    }
}

/// A portal holding `rows`, and the source pointing at it.
async fn portal(rows: Vec<Value>) -> (MockServer, Workspace, kassa::sources::Source) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(bitrix24::BATCH_PATH))
        .respond_with(Portal(rows))
        .mount(&server)
        .await;
    let (workspace, source) = bitrix24::source(&server, &paused_clock_context());
    (server, workspace, source)
}

/// The `start` of every `created` command sent, in order.
async fn created_starts(server: &MockServer) -> Vec<String> {
    json_bodies(server)
        .await
        .iter()
        .flat_map(bitrix24::commands)
        .filter(|(name, _)| name == "created")
        .map(|(_, params)| {
            params
                .into_iter()
                .find(|(k, _)| k == "start")
                .expect("a start")
                .1
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn more_than_fifty_deals_page_through_next() {
    let rows: Vec<Value> = (1..=137)
        .map(|i| {
            let day = 1 + i % 7;
            deal(
                5000 + i,
                "P",
                &format!("2024-05-0{day}T10:00:00+03:00"),
                "",
                "1000",
            )
        })
        .collect();
    let (server, _workspace, source) = portal(rows).await;

    let pulled = deals(
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap()
            .rows,
    );

    assert_eq!(pulled.len(), 137);
    let mut ids: Vec<&str> = pulled.iter().map(|deal| deal.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 137, "every deal once");
    assert_eq!(created_starts(&server).await, ["0", "50", "100"]);
    // One batch per round: the closed listing (empty) rode along in the first only.
    assert_eq!(requests(&server).await.len(), 3);
}

/// With `id_cursor = true`, every page asks `start=-1` (no row count) and the next page starts
/// after the last ID read; a short page ends the listing.
#[tokio::test(start_paused = true)]
async fn bitrix24_id_cursor_pages_by_id_with_start_minus_one() {
    let rows: Vec<Value> = (1..=137)
        .map(|i| deal(5000 + i, "P", "2024-05-03T10:00:00+03:00", "", "1000"))
        .collect();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(bitrix24::BATCH_PATH))
        .respond_with(Portal(rows))
        .mount(&server)
        .await;
    let (_workspace, source) = build_source(
        &bitrix24::webhook(&server),
        |url| bitrix24::table(bitrix24::SOURCE, url, "id_cursor = true"),
        &paused_clock_context(),
    );

    let pulled = deals(
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap()
            .rows,
    );

    let ids: Vec<u32> = pulled.iter().map(|d| d.id.parse().unwrap()).collect();
    assert_eq!(ids, (5001..=5137).collect::<Vec<_>>(), "every deal once");
    assert_eq!(created_starts(&server).await, ["-1", "-1", "-1"]);
    let after: Vec<Option<String>> = json_bodies(&server)
        .await
        .iter()
        .flat_map(bitrix24::commands)
        .filter(|(name, _)| name == "created")
        .map(|(_, params)| {
            params
                .into_iter()
                .find(|(key, _)| key == "filter[>ID]")
                .map(|(_, value)| value)
        })
        .collect();
    assert_eq!(
        after,
        [None, Some("5050".to_string()), Some("5100".to_string())]
    );
}

/// A portal that ignores `filter[>ID]` answers the same full page again: the pull fails
/// naming the listing instead of looping or counting deals twice.
#[tokio::test(start_paused = true)]
async fn bitrix24_id_cursor_fails_when_the_portal_ignores_the_id_filter() {
    let page: Vec<Value> = (1..=50)
        .map(|i| deal(7000 + i, "P", "2024-05-03T10:00:00+03:00", "", "1000"))
        .collect();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(bitrix24::BATCH_PATH))
        .respond_with(ok(bitrix24::batch(&[
            ("created", bitrix24::list(page, None, 0)),
            ("closed", bitrix24::list(Vec::new(), None, 0)),
        ])))
        .mount(&server)
        .await;
    let (_workspace, source) = build_source(
        &bitrix24::webhook(&server),
        |url| bitrix24::table(bitrix24::SOURCE, url, "id_cursor = true"),
        &paused_clock_context(),
    );

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap_err();

    assert_eq!(error.kind, ErrorKind::Decode, "{error}");
    assert!(
        error
            .message
            .contains("`created` page's last ID is not a number above 7050"),
        "{error}"
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_window_holds_deals_created_or_closed_in_it() {
    let (_server, _workspace, source) = portal(vec![
        // Created before the window, won inside it.
        deal(
            1,
            "S",
            "2024-04-20T10:00:00+03:00",
            "2024-05-03T00:00:00+03:00",
            "500",
        ),
        // Created inside, still open.
        deal(2, "P", "2024-05-02T10:00:00+03:00", "", "700"),
        // Created and closed before the window.
        deal(
            3,
            "F",
            "2024-04-01T10:00:00+03:00",
            "2024-04-10T00:00:00+03:00",
            "1",
        ),
        // Open, created before: its expected close date inside the window does not count.
        deal(
            4,
            "P",
            "2024-04-01T10:00:00+03:00",
            "2024-05-04T00:00:00+03:00",
            "1",
        ),
        // Created the day after the window (inside the filter's margin): not returned.
        deal(5, "P", "2024-05-08T10:00:00+03:00", "", "1"),
    ])
    .await;

    let pulled = deals(
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap()
            .rows,
    );

    let ids: Vec<&str> = pulled.iter().map(|deal| deal.id.as_str()).collect();
    assert_eq!(ids, ["1", "2"]);
}

#[tokio::test(start_paused = true)]
async fn opportunity_strings_are_exact_and_empty_is_unknown() {
    let server = MockServer::start().await;
    let page1 = bitrix24::fixture("deal_list_page1.json", &server);
    let page2 = bitrix24::fixture("deal_list_page2.json", &server);
    script(
        &server,
        "POST",
        bitrix24::BATCH_PATH,
        ok(batch(&[
            ("created", list(vec![], None, 0)),
            ("closed", page1),
        ])),
        ok(batch(&[("closed", page2)])),
    )
    .await;
    let (_workspace, source) = bitrix24::source(&server, &paused_clock_context());

    let pull = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap();
    let pulled = deals(pull.rows);

    assert_eq!(pulled.len(), 4);
    assert_eq!(by_id(&pulled, "4101").amount, Some(money("150000")));
    assert_eq!(by_id(&pulled, "4107").amount, Some(money("48500.50")));
    assert_eq!(by_id(&pulled, "4140").amount, Some(money("19999.99")));
    let unknown = by_id(&pulled, "4133");
    assert_eq!((unknown.status, unknown.amount), (Won, None), "never zero");
    assert_eq!(unknown.currency.as_deref(), Some("KZT"));
    assert_eq!(by_id(&pulled, "4140").currency.as_deref(), Some("USD"));
    // The second round asked for the closed listing's next page only.
    let bodies = json_bodies(&server).await;
    let second = bitrix24::commands(&bodies[1]);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].0, "closed");
    assert!(
        second[0]
            .1
            .contains(&("start".to_string(), "50".to_string()))
    );
}

#[tokio::test(start_paused = true)]
async fn won_lost_and_open_come_from_the_semantic_id() {
    let (_server, _workspace, source) = portal(vec![
        with(
            deal(
                1,
                "S",
                "2024-05-01T10:00:00+03:00",
                "2024-05-02T00:00:00+03:00",
                "10",
            ),
            json!({"STAGE_ID": "C5:WON", "CATEGORY_ID": "5"}),
        ),
        deal(
            2,
            "F",
            "2024-05-01T10:00:00+03:00",
            "2024-05-03T00:00:00+03:00",
            "20",
        ),
        deal(3, "P", "2024-05-01T10:00:00+03:00", "", "30"),
    ])
    .await;

    let pulled = deals(
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap()
            .rows,
    );

    let statuses: Vec<_> = pulled.iter().map(|deal| deal.status).collect();
    assert_eq!(statuses, [Won, Lost, Open]);
    assert_eq!(by_id(&pulled, "2").closed_date, Some(d("2024-05-03")));
    assert_eq!(by_id(&pulled, "3").closed_date, None);
}

#[tokio::test(start_paused = true)]
async fn a_stage_outside_s_f_p_is_an_error_naming_the_deal() {
    let (_server, _workspace, source) = portal(vec![with(
        deal(77, "P", "2024-05-01T10:00:00+03:00", "", "10"),
        json!({"STAGE_SEMANTIC_ID": "X"}),
    )])
    .await;
    let week = range("2024-05-01", "2024-05-07");

    let error = source.pull(week).await.unwrap_err();

    assert_eq!(error.kind, ErrorKind::InvalidData, "{error}");
    assert!(
        error.message.contains("deal 77") && error.message.contains("STAGE_SEMANTIC_ID"),
        "{error}"
    );
    assert_names_source_and_range::<Bitrix24>(&error, &week.to_string());
}

/// `DATE_CREATE` is an instant: 01:30 Moscow on 2 May is still 1 May in UTC. `CLOSEDATE` is a
/// date written as midnight at the portal's offset: 3 May stays 3 May in UTC.
#[tokio::test(start_paused = true)]
async fn dates_keep_the_portals_offset() {
    let rows = vec![deal(
        9,
        "S",
        "2024-05-02T01:30:00+03:00",
        "2024-05-03T00:00:00+03:00",
        "10",
    )];
    for (zone, created) in [
        (chrono_tz::Tz::UTC, "2024-05-01"),
        (chrono_tz::Europe::Moscow, "2024-05-02"),
    ] {
        let server = MockServer::start().await;
        always::<Bitrix24>(
            &server,
            ok(batch(&[
                ("created", list(rows.clone(), None, 1)),
                ("closed", list(rows.clone(), None, 1)),
            ])),
        )
        .await;
        let (_workspace, source) = bitrix24::source(&server, &context_in(zone));

        let pulled = deals(
            source
                .pull(range("2024-04-25", "2024-05-07"))
                .await
                .unwrap()
                .rows,
        );

        assert_eq!(pulled.len(), 1, "found twice, kept once");
        let deal = &pulled[0];
        assert_eq!(deal.created_date, d(created), "{zone}");
        assert_eq!(deal.closed_date, Some(d("2024-05-03")), "{zone}");
        let instants = deal.instants.expect("instants");
        assert_eq!(instants.created.to_rfc3339(), "2024-05-01T22:30:00+00:00");
        assert_eq!(
            instants.closed.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-05-03T09:00:00+00:00"),
            "noon of the written day at the portal's offset"
        );
    }
}

/// Without rules, a deal's channel is its `UTM_SOURCE` lower-cased; an empty one is
/// "unattributed".
#[tokio::test(start_paused = true)]
async fn bitrix24_without_rules_uses_the_lower_cased_utm_source() {
    let created = "2024-05-02T10:00:00+03:00";
    let (_server, _workspace, source) = portal(vec![
        deal(1, "P", created, "", "1"),
        with(deal(2, "P", created, "", "1"), json!({"UTM_SOURCE": "vk"})),
        with(
            deal(3, "P", created, "", "1"),
            json!({"UTM_SOURCE": "Telegram"}),
        ),
        with(deal(4, "P", created, "", "1"), json!({"UTM_SOURCE": ""})),
    ])
    .await;

    let pulled = deals(
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap()
            .rows,
    );

    let channels: Vec<&str> = pulled.iter().map(|deal| deal.channel.as_str()).collect();
    assert_eq!(channels, ["yandex", "vk", "telegram", "unattributed"]);
}

/// `QUERY_LIMIT_EXCEEDED` (503, the request-rate bucket) is waited out for a second,
/// `OPERATION_TIME_LIMIT` (429, the method's server-time budget) for a minute; then the rows
/// arrive.
#[tokio::test(start_paused = true)]
async fn throttling_answers_are_waited_out_then_succeed() {
    let operation_limit = answer(429).set_body_json(bitrix24::error(
        "OPERATION_TIME_LIMIT",
        "Method is blocked due to operation time limit.",
    ));
    for (throttled, wait) in [
        (bitrix24::query_limit(), Duration::from_secs(1)),
        (operation_limit, Duration::from_secs(60)),
    ] {
        let server = MockServer::start().await;
        script(
            &server,
            "POST",
            bitrix24::BATCH_PATH,
            throttled,
            ok(Bitrix24::page(d("2024-05-02"), None)),
        )
        .await;
        let (_workspace, source) = bitrix24::source(&server, &paused_clock_context());
        let started = Instant::now();

        let pull = source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap();

        assert_eq!(pull.rows.len(), 1);
        assert_eq!(requests(&server).await.len(), 2);
        assert_waited(started, wait..wait + Duration::from_secs(1));
    }
}

/// `kassa check` proves the webhook with one `crm.deal.list` call.
#[tokio::test(start_paused = true)]
async fn the_probe_reads_the_deal_list() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(bitrix24::LIST_PATH))
        .respond_with(ok(list(vec![], None, 137)))
        .mount(&server)
        .await;
    let (_workspace, source) = bitrix24::source(&server, &paused_clock_context());

    let found = source.probe().await.unwrap();

    assert!(found.contains("137 deals"), "{found}");
}

#[tokio::test(start_paused = true)]
async fn an_auth_failure_names_what_to_fix_and_never_the_key() {
    for (code, fix) in [
        ("INVALID_CREDENTIALS", "url_env or url_file"),
        ("insufficient_scope", "`crm` scope"),
    ] {
        let server = MockServer::start().await;
        always::<Bitrix24>(
            &server,
            answer(401).set_body_json(bitrix24::error(code, "Invalid request credentials")),
        )
        .await;
        let (_workspace, source) = bitrix24::source(&server, &paused_clock_context());
        let week = range("2024-05-01", "2024-05-07");

        let error = source.pull(week).await.unwrap_err();

        assert_eq!(error.kind, ErrorKind::Auth, "{error}");
        assert!(error.message.contains(fix), "{error}");
        assert_names_source_and_range::<Bitrix24>(&error, &week.to_string());
        assert_eq!(requests(&server).await.len(), 1, "not retried");
        let probed = source.probe().await.unwrap_err();
        assert!(!format!("{probed} {probed:?}").contains(bitrix24::TOKEN));
    }
}

#[tokio::test(start_paused = true)]
async fn a_command_error_inside_the_batch_is_reported() {
    let server = MockServer::start().await;
    let mut body = Bitrix24::empty_page();
    body["result"]["result_error"] =
        json!({"closed": bitrix24::error("", "Parameter 'filter' must be array.")});
    always::<Bitrix24>(&server, ok(body)).await;
    let (_workspace, source) = bitrix24::source(&server, &paused_clock_context());

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap_err();

    assert_eq!(error.kind, ErrorKind::Rejected, "{error}");
    assert!(
        error.message.contains("Parameter 'filter' must be array."),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_answer_without_the_batch_envelope_is_a_decode_error() {
    let server = MockServer::start().await;
    let page = bitrix24::fixture("deal_list_page1.json", &server);
    always::<Bitrix24>(&server, ok(page)).await;
    let (_workspace, source) = bitrix24::source(&server, &paused_clock_context());

    let error = source
        .pull(range("2024-05-01", "2024-05-07"))
        .await
        .unwrap_err();

    assert_eq!(error.kind, ErrorKind::Decode, "{error}");
    assert!(error.message.contains("result.result"), "{error}");
}

/// The webhook URL given through the environment, over plain http to a non-loopback host: the
/// configuration is refused, and neither the problem nor a built source shows the key.
#[tokio::test(start_paused = true)]
async fn the_webhook_key_never_reaches_errors_or_debug() {
    let workspace = Workspace::new();
    let file = workspace.write(
        "webhook",
        &format!("http://portal.example.com/rest/1/{}/", bitrix24::TOKEN),
    );
    let config = crate::helpers::source_config(&bitrix24::table("b24", TokenFrom::File(&file), ""));
    let error = config.build(&paused_clock_context()).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Config);
    assert!(error.message.contains("https://"), "{error}");
    assert!(!format!("{error} {error:?}").contains(bitrix24::TOKEN));

    let server = MockServer::start().await;
    let (_workspace, source) = build_source(
        &bitrix24::webhook(&server),
        |url| bitrix24::table("b24", url, ""),
        &paused_clock_context(),
    );
    let shown = format!("{source:?}");
    assert!(
        shown.contains("127.0.0.1") && !shown.contains(bitrix24::TOKEN),
        "{shown}"
    );
}

/// With `channel_rules`, the first rule whose field holds one of its values names the channel
/// (either of two fields, asked for in `select[]`); a deal no rule matches is "unattributed".
#[tokio::test(start_paused = true)]
async fn channel_rules_map_deals_and_unmatched_are_unattributed() {
    let created = "2024-05-02T10:00:00+03:00";
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(bitrix24::BATCH_PATH))
        .respond_with(Portal(vec![
            with(
                deal(1, "P", created, "", "1"),
                json!({"UTM_SOURCE": " YA "}),
            ),
            with(
                deal(2, "P", created, "", "1"),
                json!({"UTM_SOURCE": "", "SOURCE_ID": "CALL"}),
            ),
            with(
                deal(3, "P", created, "", "1"),
                json!({"UTM_SOURCE": "google"}),
            ),
            with(deal(4, "P", created, "", "1"), json!({"UTM_SOURCE": null})),
        ]))
        .mount(&server)
        .await;
    let (_workspace, source) = build_source(
        &bitrix24::webhook(&server),
        |url| {
            bitrix24::table(
                bitrix24::SOURCE,
                url,
                "[[sources.channel_rules]]\nfield = \"UTM_SOURCE\"\n\
                 values = [\"yandex\", \"ya\"]\nchannel = \"yandex_direct\"\n\
                 [[sources.channel_rules]]\nfield = \"SOURCE_ID\"\n\
                 values = [\"call\"]\nchannel = \"phone\"",
            )
        },
        &paused_clock_context(),
    );

    let pulled = deals(
        source
            .pull(range("2024-05-01", "2024-05-07"))
            .await
            .unwrap()
            .rows,
    );

    let channels: Vec<&str> = pulled.iter().map(|deal| deal.channel.as_str()).collect();
    assert_eq!(
        channels,
        ["yandex_direct", "phone", "unattributed", "unattributed"]
    );
    let selected: Vec<String> = json_bodies(&server)
        .await
        .iter()
        .flat_map(bitrix24::commands)
        .flat_map(|(_, params)| params)
        .filter(|(key, _)| key == "select[]")
        .map(|(_, value)| value)
        .collect();
    assert!(selected.contains(&"UTM_SOURCE".to_string()), "{selected:?}");
    assert!(selected.contains(&"SOURCE_ID".to_string()), "{selected:?}");
}
