//! Sources: one module per platform, each turning its wire format into [`AdDay`] or [`Deal`]
//! rows (or, for a report, [`ReportClaim`]s) and nothing else. This file is the registry: the
//! one place that knows every connector.
//!
//! - [`source`]: the toolbox connectors import (the [`ConnectorConfig`] and [`Connector`]
//!   traits, errors, secrets, the HTTP client kit);
//! - [`wire`]: reading values out of platform JSON;
//! - [`channels`]: the `channel_rules` every CRM connector maps its deals' channels with;
//! - [`csv`], [`meta`], [`hubspot`], [`yandex_direct`], [`vk_ads`], [`bitrix24`], [`amocrm`],
//!   [`pipedrive`], [`salesforce`], [`google_ads`]: the connectors.
//!
//! Adding a platform: write its module (a config struct implementing [`ConnectorConfig`] and a
//! source implementing [`Connector`]), then add one line to the `connectors!` list below: that
//! line is the `[[sources]]` `kind`, the enum variant and its dispatch arm at once, and the
//! list of kinds in error messages and the README check derive from it. Sources know nothing of
//! the store or the analysis.
//!
//! [`AdDay`]: crate::domain::AdDay
//! [`Deal`]: crate::domain::Deal
//! [`ReportClaim`]: crate::domain::ReportClaim

pub mod amocrm;
pub mod bitrix24;
pub mod channels;
pub mod csv;
pub mod google_ads;
pub mod hubspot;
pub mod meta;
pub mod pipedrive;
pub mod salesforce;
pub mod source;
pub mod vk_ads;
pub mod wire;
pub mod yandex_direct;

use serde::Deserialize;

use crate::domain::{DateRange, RowKind};
use crate::validation::{Problems, validate_name};

pub use crate::http::RetryPolicy;
pub use source::{
    BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SecretRef, SourceError,
};

/// Declares the registry: `kind => Variant(ConfigType)` per connector. Generates the
/// `SourceConfig` enum that serde picks by the table's `kind` key, [`SourceConfig::KINDS`], and
/// the one match that turns a variant into its [`ConnectorConfig`].
macro_rules! connectors {
    ($($(#[$doc:meta])* $kind:literal => $variant:ident($config:ty),)+) => {
        /// One `[[sources]]` table. The `kind` key picks the variant.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "kind")]
        pub enum SourceConfig {
            $($(#[$doc])* #[serde(rename = $kind)] $variant($config),)+
        }

        impl SourceConfig {
            /// Every `kind` a `[[sources]]` table may have, in registry order.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The connector behind this table.
            pub fn spec(&self) -> &dyn ConnectorConfig {
                match self {
                    $(SourceConfig::$variant(config) => config,)+
                }
            }

            /// The table's `kind`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(SourceConfig::$variant(_) => $kind,)+
                }
            }

            fn spec_mut(&mut self) -> &mut dyn ConnectorConfig {
                match self {
                    $(SourceConfig::$variant(config) => config,)+
                }
            }
        }
    };
}

connectors! {
    /// Daily campaign rows exported from any ad platform.
    "csv_ads" => CsvAds(csv::ads::CsvAdsConfig),
    /// Deals exported from any CRM.
    "csv_crm" => CsvCrm(csv::crm::CsvCrmConfig),
    /// An agency's or marketer's report: the figures it claims.
    "csv_report" => CsvReport(csv::report::CsvReportConfig),
    /// Meta Marketing API ads insights.
    "meta" => Meta(meta::MetaConfig),
    /// HubSpot CRM deal search.
    "hubspot" => Hubspot(hubspot::HubSpotConfig),
    /// Yandex Direct Reports API (TSV, offline queue).
    "yandex_direct" => YandexDirect(yandex_direct::YandexDirectConfig),
    /// Bitrix24 deals (`crm.deal.list`) over an inbound webhook.
    "bitrix24" => Bitrix24(bitrix24::Bitrix24Config),
    /// amoCRM (and Kommo) leads.
    "amocrm" => AmoCrm(amocrm::AmoCrmConfig),
    /// VK Ads daily statistics per ad plan.
    "vk_ads" => VkAds(vk_ads::VkAdsConfig),
    /// Pipedrive deals (API v2).
    "pipedrive" => Pipedrive(pipedrive::PipedriveConfig),
    /// Salesforce opportunities through the REST `query` resource (SOQL).
    "salesforce" => Salesforce(salesforce::SalesforceConfig),
    /// Google Ads API campaign days (`googleAds:searchStream`, GAQL).
    "google_ads" => GoogleAds(google_ads::GoogleAdsConfig),
}

/// The kinds `SourceConfig` accepts, for error messages: `csv_ads, csv_crm, …`.
pub fn kinds_list() -> String {
    SourceConfig::KINDS.join(", ")
}

impl SourceConfig {
    pub fn name(&self) -> &str {
        self.spec().name()
    }

    /// How many trailing days the nightly run re-pulls: as far back as the platform restates
    /// its numbers (Meta's attribution reaches 28 days; CRM deals change at any time; a report
    /// arrives for last month).
    pub fn lookback_days(&self) -> u32 {
        let spec = self.spec();
        spec.configured_lookback_days()
            .unwrap_or_else(|| spec.default_lookback_days())
    }

    pub fn row_kind(&self) -> RowKind {
        self.spec().row_kind()
    }

    /// Checks the table without I/O beyond looking at environment variables and whether
    /// named files exist: first the keys every kind shares, then the kind's own. `key` is
    /// where this table sits, e.g. `sources[2]`.
    pub fn validate(&self, key: &str, problems: &mut Problems) {
        // The store names a source's files after it, one a month
        // (`ads/<name>.month=2025-03.parquet`): the letters a name may use keep it from
        // passing for another source's month, and a name that looks like one is told so.
        if self.name().contains(".month=") {
            problems.push_with_example(
                format!("{key}.name"),
                format!(
                    "{:?} is not a usable source name: it looks like a month file of the store \
                     (`<source>.month=YYYY-MM`); use letters, digits, '-' and '_'",
                    self.name()
                ),
                "name = \"meta-main\"",
            );
        } else {
            validate_name(
                self.name(),
                &format!("{key}.name"),
                "source",
                "meta-main",
                problems,
            );
        }
        if !(1..=366).contains(&self.lookback_days()) {
            problems.push_with_example(
                format!("{key}.lookback_days"),
                format!(
                    "{} is out of range; use 1 to 366 days",
                    self.lookback_days()
                ),
                "lookback_days = 28",
            );
        }
        self.spec().validate(key, problems);
    }

    /// Makes relative file paths relative to `base`, the configuration file's directory.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        self.spec_mut().resolve_paths(base);
    }

    /// The zone the source's days are in when the configuration settles it (see
    /// [`ConnectorConfig::timezone`]).
    pub fn timezone(&self, business: chrono_tz::Tz) -> Option<chrono_tz::Tz> {
        self.spec().timezone(business)
    }

    /// The older channel-mapping keys the table sets, read as rules (see
    /// [`ConnectorConfig::legacy_channels`]).
    pub fn legacy_channels(&self) -> Option<channels::LegacyChannels> {
        self.spec().legacy_channels()
    }

    /// Resolves secrets and returns the running source. Errors carry the source's name.
    pub fn build(&self, context: &BuildContext) -> Result<Source, SourceError> {
        let connector = self
            .spec()
            .build(context)
            .map_err(|e| e.in_source(self.name(), None))?;
        Ok(Source {
            name: self.name().to_string(),
            kind: self.kind(),
            connector,
        })
    }
}

/// A running source, ready to pull date ranges; every error it returns names it.
#[derive(Debug)]
pub struct Source {
    name: String,
    kind: &'static str,
    connector: Box<dyn Connector>,
}

impl Source {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Pulls every row of `range`. Errors carry the source name and the range.
    pub async fn pull(&self, range: DateRange) -> Result<Pull, SourceError> {
        self.connector
            .pull(range)
            .await
            .map_err(|e| e.in_source(&self.name, Some(range)))
    }

    /// Reaches the source once and says what it found (`kassa check`).
    pub async fn probe(&self) -> Result<String, SourceError> {
        self.connector
            .probe()
            .await
            .map_err(|e| e.in_source(&self.name, None))
    }

    /// The zone the platform reports days in, when it tells (asked over the network once).
    pub async fn timezone(&self) -> Result<Option<chrono_tz::Tz>, SourceError> {
        self.connector
            .timezone()
            .await
            .map_err(|e| e.in_source(&self.name, None))
    }

    /// The longest range one request should ask for; files are read whole.
    pub fn chunk_days(&self) -> Option<u32> {
        self.connector.chunk_days()
    }
}
