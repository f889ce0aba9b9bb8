//! kassa holds the marketing report against the till: it pulls activity from ad platforms and
//! money from CRMs, lines them up by period and channel, and flags "activity without money".
//!
//! Layout, in the order data flows (dependencies point one way, down this list):
//! - [`domain`]: the two normalised row types ([`domain::AdDay`], [`domain::Deal`]), money, and
//!   the episode states the store keeps between runs;
//! - [`frames`]: the columns of ad, deal and claim frames, one definition shared by the CSV
//!   sources that parse straight into columns and the store's snapshot schemas;
//! - [`clock`]: which days have ended, in the business's time zone and in UTC;
//! - [`validation`]: config problems, collected and reported all at once;
//! - [`http`]: the HTTP behaviour every connector and alert target shares (retries, backoff,
//!   `Retry-After`, classification by status and body) and its auth hook ([`http::auth`]:
//!   secret headers, OAuth2 with refreshed and rotated tokens);
//! - [`secrets`]: where secrets come from (an environment variable or a file) and where they
//!   may travel (https, or plain http to loopback only), shared by sources and alert targets;
//! - [`sources`]: one module per platform, each turning a wire format into those rows; the
//!   registry in `sources/mod.rs`, the connector traits and kit in [`sources::source`];
//! - [`store`]: the embedded store, Parquet snapshots of rows and a SQLite ledger (coverage,
//!   runs, episode states, the alert outbox, OAuth2 tokens), with schema versions and
//!   migrations;
//! - [`analysis`]: pure functions over polars frames, free of wording: periods and why one has
//!   no verdict ([`analysis::periods`]), the default rule ([`analysis::rules`]), findings typed
//!   per kind ([`analysis::FindingDetail`]);
//! - [`episodes`]: consecutive flagged periods, and what changed about them since last run;
//! - [`alerts`]: renders alert messages for Slack (and Slack-compatible chats), Telegram and
//!   signed generic webhooks, and delivers them through the shared HTTP client; a registry of
//!   target kinds over the traits in [`alerts::target`];
//! - [`text`]: every word for people, in English or Russian: finding messages and data-gap
//!   reasons ([`text::findings`]), alert titles, facts and notes ([`text::alerts`]), the table's
//!   labels ([`text::report`]), the HTML page's labels ([`text::html`]), money and percentages;
//! - [`report`]: renders an analysis as a terminal table ([`report::table`]), the JSON
//!   contract ([`report::json`]) or the self-contained HTML page ([`report::html`]);
//! - [`config`]: layered configuration, validated all at once before anything runs;
//! - [`tenants`]: many clients from one directory (`DIR/<tenant>.toml` over a base file):
//!   discovery, stable shards, no shared stores, and one isolated job per tenant;
//! - [`server`]: the HTTP server (axum): the worker's `/healthz` and Prometheus `/metrics`
//!   router, and the serving loop the demo's fakes use;
//! - [`telemetry`]: logs on stderr as text or JSON (`[log] format`), and the `cycle` span with
//!   its run id that ties one night's log lines together;
//! - [`pipeline`]: the only modules that wire sources, store and analysis together: backfill,
//!   analyze and check here, the nightly [`cycle`] (pull, analyse, alert through the outbox), the
//!   scheduled [`worker`] (its metrics through prometheus-client) and the self-contained
//!   [`demo`] (the story in `demo/mod.rs`, the fake platforms and receivers in `demo/fakes.rs`);
//! - [`output`]: results on stdout, shared by the command line and the demo;
//! - [`progress`]: a backfill's progress as bars on a terminal or as log lines elsewhere;
//! - [`cli`]: the command line, exit codes and error printing; it maps the demo's summary to
//!   an exit code, so the demo does not import it.

pub mod alerts;
pub mod analysis;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cycle;
pub mod demo;
pub mod domain;
pub mod episodes;
pub mod frames;
pub mod http;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod secrets;
pub mod server;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod text;
pub mod validation;
pub mod worker;
