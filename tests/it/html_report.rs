//! `kassa report`, the HTML page, checked as a browser parses it (html5ever through
//! `scraper`): one self-contained document with the expected sections, a chart and its table
//! per chart, every finding's sentence, nothing fetched from anywhere, a Russian page without
//! English words, and the command's errors for a backwards range and a missing directory.

use std::collections::BTreeSet;

use scraper::{ElementRef, Html, Node, Selector};
use serde_json::Value;

use crate::helpers::{Workspace, demo_sources};

/// The demo's data backfilled two weeks past its end, so the report has flagged periods,
/// findings, and data gaps both for want of a baseline and for want of data.
fn demo_with_gaps(locale: &str) -> Workspace {
    let ws = Workspace::new();
    ws.config(&format!(
        "[analysis]\ntimezone = \"Europe/Moscow\"\n\n[alerting]\nlocale = \"{locale}\"\n\n{}",
        demo_sources()
    ));
    let backfill = ws.kassa(&["backfill", "--from", "2025-01-06", "--to", "2025-07-13"]);
    assert_eq!(
        backfill.code, 2,
        "the two weeks past the files are gaps: {backfill:?}"
    );
    ws
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<ElementRef<'a>> {
    let selector = Selector::parse(css).unwrap();
    doc.select(&selector).collect()
}

fn within<'a>(element: ElementRef<'a>, css: &str) -> Vec<ElementRef<'a>> {
    let selector = Selector::parse(css).unwrap();
    element.select(&selector).collect()
}

/// Every text node a reader sees (the stylesheet is not text), whitespace collapsed.
fn visible_text(doc: &Html) -> String {
    let mut parts = Vec::new();
    for node in doc.tree.nodes() {
        if let Node::Text(text) = node.value() {
            let in_style = node
                .ancestors()
                .any(|a| a.value().as_element().is_some_and(|e| e.name() == "style"));
            if !in_style {
                parts.push(text.to_string());
            }
        }
    }
    parts
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn report(ws: &Workspace, args: &[&str]) -> (String, crate::helpers::Run) {
    let mut all = vec!["report", "--to", "2025-07-13", "--out", "out/report.html"];
    all.extend_from_slice(args);
    std::fs::create_dir_all(ws.path().join("out")).unwrap();
    let run = ws.kassa(&all);
    assert_eq!(run.code, 0, "{run:?}");
    let page = std::fs::read_to_string(ws.path().join("out/report.html")).unwrap();
    (page, run)
}

#[test]
fn the_html_report_is_one_self_contained_page_with_every_section_chart_and_finding() {
    let ws = demo_with_gaps("en");
    let (page, run) = report(&ws, &[]);
    assert!(
        run.stdout.contains("report written to out/report.html (")
            && run.stdout.contains(" bytes)"),
        "{}",
        run.stdout
    );
    let doc = Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "parse errors: {:?}", doc.errors);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(select(&doc, "html")[0].value().attr("lang"), Some("en"));
    assert_eq!(select(&doc, "meta[charset]").len(), 1);
    assert_eq!(
        select(&doc, "meta[name=viewport]")[0]
            .value()
            .attr("content"),
        Some("width=device-width,initial-scale=1")
    );

    // Self-contained: one inline stylesheet, no script, nothing linked or embedded, and every
    // reference an anchor on the page itself.
    let styles = select(&doc, "style");
    assert_eq!(styles.len(), 1);
    let css = styles[0].text().collect::<String>();
    assert!(!css.contains("url("), "{css}");
    assert!(!css.contains("@import"), "{css}");
    for tag in ["script", "link", "img", "iframe", "object", "embed", "base"] {
        assert!(select(&doc, tag).is_empty(), "a <{tag}> on the page");
    }
    let ids: BTreeSet<&str> = select(&doc, "[id]")
        .iter()
        .filter_map(|e| e.value().attr("id"))
        .collect();
    for element in select(&doc, "*") {
        for (name, value) in element.value().attrs() {
            assert!(
                !name.starts_with("on"),
                "an event handler {name}={value:?} on <{}>",
                element.value().name()
            );
            if matches!(
                name,
                "src" | "href" | "xlink:href" | "action" | "srcset" | "poster"
            ) {
                let anchor = value.strip_prefix('#');
                assert!(
                    anchor.is_some_and(|a| ids.contains(a)),
                    "<{} {name}={value:?}> points off the page",
                    element.value().name()
                );
            }
        }
    }
    // Print: A4, a page per section, charts kept whole.
    for rule in [
        "@media print",
        "@page{size:A4;margin:15mm}",
        "break-before:page",
        "break-inside:avoid",
        "overflow-x:auto",
        "svg{width:100%;height:auto",
    ] {
        assert!(css.contains(rule), "the stylesheet lacks {rule:?}");
    }

    // The sections, and per channel (the total first) two charts with their tables behind
    // them and a funnel.
    let sections: Vec<&str> = select(&doc, "main > section")
        .iter()
        .filter_map(|s| s.value().attr("id"))
        .collect();
    assert_eq!(
        sections,
        [
            "summary",
            "channel-all",
            "channel-google",
            "channel-meta",
            "reconciliation",
            "audit",
            "meaning",
            "lags",
            "findings"
        ]
    );
    for section in select(&doc, "section.channel") {
        let id = section.value().attr("id").unwrap();
        let svgs = within(section, "svg");
        assert_eq!(svgs.len(), 3, "{id}: activity, money and funnel charts");
        for svg in &svgs {
            assert_eq!(svg.value().attr("role"), Some("img"), "{id}");
            assert!(
                !within(*svg, "title").is_empty(),
                "{id}: a chart without a title"
            );
        }
        let details = within(section, "details");
        assert_eq!(details.len(), 3, "{id}: a table behind each chart");
        for (i, d) in details.into_iter().enumerate() {
            assert_eq!(within(d, "summary").len(), 1);
            let rows = within(d, "tbody tr");
            // 27 weeks from 2025-01-06 to 2025-07-13 behind the time charts; the funnel's
            // five steps behind it.
            assert_eq!(rows.len(), if i < 2 { 27 } else { 5 }, "{id}");
            assert!(d.value().attr("open").is_none(), "{id}: collapsed");
        }
        assert_eq!(
            within(section, "p.chain").len(),
            1,
            "{id}: where the chain breaks"
        );
    }
    // Tables scroll in their own box.
    for table in select(&doc, "table") {
        let parent = ElementRef::wrap(table.parent().unwrap()).unwrap();
        assert_eq!(parent.value().attr("class"), Some("scroll"));
    }

    // The summary never passes the known part of revenue off as the total: its totals are
    // over the weeks whose money is whole, and it names the two uncovered weeks it leaves out.
    let summary = visible_text(&Html::parse_fragment(&select(&doc, "#summary")[0].html()));
    assert!(
        summary.contains(
            "Totals over the 25 weeks whose data is complete, between 2025-01-06 and 2025-06-29."
        ) && summary.contains("Left out: 2 weeks not ended yet or with incomplete data")
            && summary.contains("Revenue $520,590.36 ROMI 313%"),
        "{summary}"
    );
    assert!(
        summary.contains("Flagged periods (any channel)"),
        "{summary}"
    );

    // Every finding with its sentence; flags first, each with a text badge, not colour alone.
    let analysis = ws
        .kassa(&["analyze", "--to", "2025-07-13", "--format", "json"])
        .json();
    let findings = analysis["findings"].as_array().unwrap();
    let articles = select(&doc, "#findings article.finding");
    assert_eq!(articles.len(), findings.len());
    let text = visible_text(&doc);
    for f in findings {
        let message = collapse(f["message"].as_str().unwrap());
        assert!(text.contains(&message), "missing from the page: {message}");
    }
    let kinds: Vec<bool> = articles
        .iter()
        .map(|a| a.value().attr("class") == Some("finding flag"))
        .collect();
    assert!(kinds.contains(&true) && kinds.contains(&false));
    assert!(
        kinds.windows(2).all(|w| w[0] || !w[1]),
        "flags come before data gaps"
    );
    for a in &articles {
        let badge = within(*a, ".badge");
        assert_eq!(badge.len(), 1);
        assert!(!badge[0].text().collect::<String>().trim().is_empty());
    }
    let gaps = findings.iter().filter(|f| f["kind"] == "data_gap").count();
    assert_eq!(select(&doc, "#findings article.gap").len(), gaps);
    assert!(
        text.contains("Money at stake: $"),
        "money at stake is shown"
    );

    // The same store gives the same bytes; `-q` prints nothing.
    let (again, quiet) = report(&ws, &["-q"]);
    assert_eq!(again, page, "the page is deterministic");
    assert_eq!(quiet.stdout, "");
}

/// Latin words a Russian page may hold besides channel and source names: the brand, currency
/// codes, and the acronyms Russian marketers use as they are.
const RU_ALLOWED: [&str; 9] = [
    "kassa", "CTR", "ROMI", "ROAS", "CPL", "CRM", "USD", "RUB", "n",
];

#[test]
fn the_russian_report_has_no_english_words() {
    // `[alerting] locale` is the default language; `--locale` overrides it.
    let ws = demo_with_gaps("ru");
    let (english, _) = report(&ws, &["--locale", "en"]);
    assert!(english.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    let (page, run) = report(&ws, &[]);
    assert!(
        run.stdout.contains("отчёт записан в out/report.html"),
        "{}",
        run.stdout
    );
    let doc = Html::parse_document(&page);
    assert_eq!(select(&doc, "html")[0].value().attr("lang"), Some("ru"));
    // Channel names come from the data, source names from the configuration.
    let mut allowed: BTreeSet<String> = RU_ALLOWED.iter().map(|w| w.to_string()).collect();
    allowed.extend(["all", "google", "meta", "ads", "crm"].map(String::from));
    let mut text = visible_text(&doc);
    for element in select(&doc, "[aria-label]") {
        text.push(' ');
        text.push_str(element.value().attr("aria-label").unwrap());
    }
    let english: BTreeSet<&str> = text
        .split(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
        .filter(|w| !allowed.contains(*w))
        .collect();
    assert!(
        english.is_empty(),
        "English on the Russian page: {english:?}"
    );
    // The same findings, in Russian.
    let analysis: Value = ws
        .kassa(&["analyze", "--to", "2025-07-13", "--format", "json"])
        .json();
    assert_eq!(
        select(&doc, "#findings article.finding").len(),
        analysis["findings"].as_array().unwrap().len()
    );
    assert!(
        text.contains("Деньги под вопросом"),
        "money at stake in Russian"
    );
}

#[test]
fn report_refuses_a_backwards_range() {
    let ws = demo_with_gaps("en");
    let run = ws.kassa(&["report", "--from", "2025-03-01", "--to", "2025-01-01"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("--from 2025-03-01 is after --to 2025-01-01"),
        "{}",
        run.stderr
    );
    assert!(!ws.path().join("report.html").exists());
}

#[test]
fn report_into_a_missing_directory_names_it() {
    let ws = demo_with_gaps("en");
    let run = ws.kassa(&["report", "--out", "no/such/dir/report.html"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "cannot write no/such/dir/report.html: the directory no/such/dir does not exist"
        ),
        "{}",
        run.stderr
    );
    // The default file lands in the working directory.
    let run = ws.kassa(&["report"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(ws.path().join("report.html").is_file());
}
