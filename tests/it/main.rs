//! kassa's integration tests: one binary, readable helpers in `helpers`, one module per area.
//! HTTP connectors are tested against fake platform servers on 127.0.0.1 speaking the
//! documented wire formats (`fakes`, one module per platform); nothing here reaches any other
//! address. `connector` is the contract every HTTP connector passes, one macro line per
//! platform.

// Helpers outside `#[test]` functions may unwrap too: a test that cannot set up should panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agency;
mod alerts;
mod amocrm;
mod analysis;
mod audit;
mod auth;
mod bitrix24;
mod browser;
mod chain;
mod channels;
mod cli;
mod command_line;
mod config;
mod connector;
mod csv;
mod currency;
mod docs;
mod fakes;
mod faults;
mod google_ads;
mod helpers;
mod html_report;
mod hubspot;
mod lag;
mod layers;
mod meaning;
mod meta;
mod network;
mod object_storage;
mod outbox;
mod partitions;
mod pipedrive;
mod postgres;
mod progress;
mod promises;
mod properties;
mod reconcile;
mod replay;
mod report;
mod restatement;
mod resume;
mod ru;
mod run;
mod salesforce;
mod services;
mod silence;
mod store;
mod telemetry;
mod tenants;
mod timezone;
mod vk_ads;
mod worker;
mod yandex_direct;
