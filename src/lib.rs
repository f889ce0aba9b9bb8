//! kassa holds the marketing report against the till: it pulls activity from ad platforms and
//! money from CRMs, lines them up by period and channel, and flags "activity without money".
//!
//! Layout, in the order data flows (dependencies point one way, down this list):
//! - [`domain`]: the two normalised row types ([`domain::AdDay`], [`domain::Deal`]), money, and
//!   the episode states the store keeps between runs;
//! - [`http`]: the HTTP behaviour every connector and alert target shares (retries, backoff,
//!   `Retry-After`, classification by status and body);
//! - [`secrets`]: where secrets come from (an environment variable or a file) and where they
//!   may travel (https, or plain http to loopback only), shared by sources and alert targets;
//! - [`sources`]: one module per platform, each turning a wire format into those rows;
//! - [`store`]: the embedded store, Parquet snapshots of rows and a SQLite ledger (coverage,
//!   runs, episode states, the alert outbox), with schema versions and migrations;
//! - [`analysis`]: pure functions over polars frames, free of wording: periods and why one has
//!   no verdict ([`analysis::periods`]), the default rule ([`analysis::rules`]), findings typed
//!   per kind ([`analysis::FindingDetail`]);
//! - [`episodes`]: consecutive flagged periods, and what changed about them since last run;
//! - [`alerts`]: renders alert messages for Slack (and Slack-compatible chats), Telegram and
//!   signed generic webhooks, and delivers them through the shared HTTP client;
//! - [`text`]: every word for people, in English or Russian: finding messages and data-gap
//!   reasons ([`text::findings`]), alert titles, facts and notes ([`text::alerts`]), the table's
//!   labels ([`text::report`]), money and percentages;
//! - [`report`]: renders an analysis as a terminal table ([`report::table`]) or the JSON
//!   contract ([`report::json`]);
//! - [`config`]: layered configuration, validated all at once before anything runs;
//! - [`pipeline`]: the only modules that wire sources, store and analysis together: backfill,
//!   analyze and check here, the nightly [`cycle`] (pull, analyse, alert through the outbox), the
//!   scheduled [`worker`] and the self-contained [`demo`];
//! - [`httpd`]: a minimal HTTP server for the worker's health endpoints and the demo's fakes;
//! - [`cli`]: the command line, exit codes and error printing.

pub mod alerts;
pub mod analysis;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cycle;
pub mod demo;
pub mod domain;
pub mod episodes;
pub mod http;
pub mod httpd;
pub mod pipeline;
pub mod report;
pub mod secrets;
pub mod sources;
pub mod store;
pub mod text;
pub mod validation;
pub mod worker;
