//! `yandex_direct`: Yandex Direct Reports API v5, daily rows per campaign from a TSV report.
//!
//! `POST {base_url}/json/v5/reports` with a `CUSTOM_REPORT` of `Date, CampaignId,
//! CampaignName, Impressions, Clicks, Cost` (and, when claims are configured, `Conversions`
//! and `Revenue` for the configured Metrica goals). The answer is not paged: one TSV holds the
//! whole range. Reports are built in Yandex's offline queue when they are not ready at once:
//! 201 (accepted) and 202 (still building) carry a `retryIn` header, and the *identical*
//! request is sent again after that many seconds until a 200 brings the TSV. Waiting in that
//! queue is not a retry (nothing failed, and it may take many more polls than the retry policy
//! allows attempts), so this connector polls on its own, on tokio's clock, up to
//! `max_wait_minutes` per report.
//!
//! Money comes as integer micros unless `returnMoneyInMicros: false` asks for decimals; both
//! are read exactly. Days are the account's days (the campaigns' time zone, Moscow for most
//! accounts). Errors come as `{"error": {"error_code", "error_string", "error_detail"}}` with
//! HTTP 400 or 500; throttling is a code in that body (56, 506, 9000, 152), not a status.

use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::source::{
    BoxFuture, BuildContext, Connector, ConnectorConfig, ErrorKind, Pull, SecretRef, SourceError,
    http_client, parse_base_url, validate_base_url, validate_timezone,
};
use super::wire;
use crate::domain::{AdDay, Claims, DateRange, Money, Pulled, RowKind};
use crate::http::auth::SecretHeaders;
use crate::http::{
    Answer, Failure, FailureKind, HttpClient, Request, retry_after, summarize_body, wait_of_seconds,
};
use crate::validation::Problems;

/// What an empty cell looks like in a Yandex report (a metric that cannot be computed, such as
/// conversions of a goal that was not reached).
const EMPTY: &str = "--";

/// Yandex's attribution models (`AttributionModels`): first click, last click, last
/// significant click, last click from Yandex Direct, their cross-device variants, automatic.
const ATTRIBUTION_MODELS: &[&str] = &["FC", "LC", "LSC", "LYDC", "FCCD", "LSCCD", "LYDCCD", "AUTO"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YandexDirectConfig {
    pub name: String,
    /// Days `kassa run` re-pulls every night (the platform restates this far back).
    pub lookback_days: Option<u32>,
    pub token_env: Option<String>,
    pub token_file: Option<std::path::PathBuf>,
    /// The advertiser's login, sent as `Client-Login`: required when the token belongs to an
    /// agency (one source per advertiser), left out for an advertiser's own token.
    pub client_login: Option<String>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The channel every row of this account is reported under.
    #[serde(default = "default_channel")]
    pub channel: String,
    /// The account's currency: the report does not say it.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// The account's time zone (IANA name); Moscow unless set.
    pub timezone: Option<String>,
    /// `Accept-Language`: the language of Yandex's error texts, `en` or `ru`.
    #[serde(default = "default_language")]
    pub language: String,
    /// Money as integer micros (`true`, Yandex's default) or as decimals
    /// (`returnMoneyInMicros: false`); kassa reads both exactly.
    #[serde(default = "default_true")]
    pub money_in_micros: bool,
    /// `IncludeVAT`: whether `Cost` includes VAT.
    #[serde(default)]
    pub include_vat: bool,
    /// Days per report; smaller when Yandex answers 502 (processing time exceeded).
    #[serde(default = "default_chunk_days")]
    pub chunk_days: u32,
    /// How long kassa waits for one report in the offline queue before giving up the pull.
    #[serde(default = "default_max_wait_minutes")]
    pub max_wait_minutes: u32,
    /// Which Metrica goals are which claim; no claims are read without it.
    pub claims: Option<YandexClaims>,
}

/// The Metrica goals whose conversions the account claims: the goals' ids as Yandex Metrica
/// shows them. Leads are the conversions of `lead_goals`; purchases the conversions of
/// `purchase_goals` and revenue their `Revenue`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YandexClaims {
    #[serde(default)]
    pub lead_goals: Vec<u64>,
    #[serde(default)]
    pub purchase_goals: Vec<u64>,
    /// One of Yandex's attribution models (`LSC`, `LC`, `FC`, `LYDC`, `AUTO`, ...); the
    /// account's default when not set.
    pub attribution_model: Option<String>,
}

impl YandexClaims {
    /// Every goal, each once, in the order the config names them.
    fn goals(&self) -> Vec<u64> {
        let mut goals = Vec::new();
        for goal in self.lead_goals.iter().chain(&self.purchase_goals) {
            if !goals.contains(goal) {
                goals.push(*goal);
            }
        }
        goals
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        if self.lead_goals.is_empty() && self.purchase_goals.is_empty() {
            problems.push_with_example(
                format!("{key}.claims"),
                "names no goal; list the Metrica goal ids whose conversions are leads or purchases",
                "claims = { lead_goals = [12345678], purchase_goals = [87654321] }",
            );
        }
        if let Some(model) = &self.attribution_model
            && !ATTRIBUTION_MODELS.contains(&model.as_str())
        {
            problems.push_with_example(
                format!("{key}.claims.attribution_model"),
                format!(
                    "{model:?} is not a Yandex attribution model ({})",
                    ATTRIBUTION_MODELS.join(", ")
                ),
                "attribution_model = \"LSC\"",
            );
        }
    }
}

fn default_base_url() -> String {
    "https://api.direct.yandex.com".to_string()
}
fn default_channel() -> String {
    "yandex_direct".to_string()
}
fn default_currency() -> String {
    "RUB".to_string()
}
fn default_language() -> String {
    "en".to_string()
}
fn default_true() -> bool {
    true
}
fn default_chunk_days() -> u32 {
    30
}
fn default_max_wait_minutes() -> u32 {
    15
}

impl YandexDirectConfig {
    fn secret(&self) -> SecretRef {
        SecretRef::token(
            &self.token_env,
            &self.token_file,
            "KASSA_YANDEX_DIRECT_TOKEN",
        )
    }
}

impl ConnectorConfig for YandexDirectConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn configured_lookback_days(&self) -> Option<u32> {
        self.lookback_days
    }

    /// Yandex says statistics settle within three days; conversions are attributed to the
    /// click's day for weeks after it, so with claims the window is 28 days.
    fn default_lookback_days(&self) -> u32 {
        if self.claims.is_some() { 28 } else { 3 }
    }

    fn row_kind(&self) -> RowKind {
        RowKind::Ads
    }

    fn resolve_paths(&mut self, base: &std::path::Path) {
        if let Some(path) = &mut self.token_file {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, key: &str, problems: &mut Problems) {
        self.secret().validate(key, problems);
        validate_base_url(&self.base_url, &format!("{key}.base_url"), problems);
        if let Some(login) = &self.client_login
            && (login.trim().is_empty() || login.chars().any(char::is_whitespace))
        {
            problems.push_with_example(
                format!("{key}.client_login"),
                format!("{login:?} is not a Yandex login"),
                "client_login = \"advertiser-login\"",
            );
        }
        if self.channel.trim().is_empty() {
            problems.push_with_example(
                format!("{key}.channel"),
                "is empty",
                "channel = \"yandex_direct\"",
            );
        }
        let currency_ok =
            self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase());
        if !currency_ok {
            problems.push_with_example(
                format!("{key}.currency"),
                format!("{:?} is not a currency code", self.currency),
                "currency = \"RUB\"",
            );
        }
        if !matches!(self.language.as_str(), "en" | "ru") {
            problems.push_with_example(
                format!("{key}.language"),
                format!("{:?} is not a language Yandex answers in", self.language),
                "language = \"ru\"",
            );
        }
        if !(1..=366).contains(&self.chunk_days) {
            problems.push(format!("{key}.chunk_days"), "must be between 1 and 366");
        }
        if !(1..=300).contains(&self.max_wait_minutes) {
            problems.push(
                format!("{key}.max_wait_minutes"),
                "must be between 1 and 300",
            );
        }
        validate_timezone(self.timezone.as_deref(), key, problems);
        if let Some(claims) = &self.claims {
            claims.validate(key, problems);
        }
    }

    fn timezone(&self, _business: Tz) -> Option<Tz> {
        Some(
            self.timezone
                .as_deref()
                .and_then(|t| t.parse().ok())
                .unwrap_or(chrono_tz::Europe::Moscow),
        )
    }

    fn build(&self, context: &BuildContext) -> Result<Box<dyn Connector>, SourceError> {
        let token = self.secret().resolve()?;
        let client = http_client(
            context,
            Some(Box::new(SecretHeaders::bearer(token))),
            classify,
        )?;
        let base = parse_base_url(&self.base_url)?;
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| SourceError::new(ErrorKind::Config, format!("bad base_url: {e}")))
        };
        Ok(Box::new(YandexDirectSource {
            client,
            reports_url: join("json/v5/reports")?,
            clients_url: join("json/v5/clients")?,
            client_login: self.client_login.clone(),
            channel: self.channel.clone(),
            currency: self.currency.clone(),
            language: self.language.clone(),
            money_in_micros: self.money_in_micros,
            include_vat: self.include_vat,
            chunk_days: self.chunk_days,
            max_wait: Duration::from_secs(u64::from(self.max_wait_minutes) * 60),
            claims: self.claims.clone(),
        }))
    }
}

#[derive(Debug)]
pub struct YandexDirectSource {
    client: HttpClient,
    reports_url: Url,
    clients_url: Url,
    client_login: Option<String>,
    channel: String,
    currency: String,
    language: String,
    money_in_micros: bool,
    include_vat: bool,
    chunk_days: u32,
    max_wait: Duration,
    claims: Option<YandexClaims>,
}

impl Connector for YandexDirectSource {
    fn pull(&self, range: DateRange) -> BoxFuture<'_, Result<Pull, SourceError>> {
        Box::pin(self.report(range))
    }

    fn probe(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(self.client_info())
    }

    fn chunk_days(&self) -> Option<u32> {
        Some(self.chunk_days)
    }
}

/// What one answer of the reports service says.
enum Report {
    /// The TSV, whole.
    Ready(String),
    /// In the offline queue: ask again after this long (`retryIn`).
    Queued {
        status: StatusCode,
        wait: Option<Duration>,
        in_queue: Option<String>,
    },
}

/// How long to wait when a 201/202 carries no `retryIn`.
const QUEUE_WAIT_WITHOUT_HINT: Duration = Duration::from_secs(10);

impl YandexDirectSource {
    /// A request with the headers every call carries: the advertiser (for agencies) and the
    /// language of error texts.
    fn request(&self, url: Url, body: Value) -> Request {
        let mut request = Request::post_json(url, body).header("Accept-Language", &*self.language);
        if let Some(login) = &self.client_login {
            request = request.header("Client-Login", login.as_str());
        }
        request
    }

    fn field_names(&self) -> Vec<&'static str> {
        let mut fields = vec![
            "Date",
            "CampaignId",
            "CampaignName",
            "Impressions",
            "Clicks",
            "Cost",
        ];
        if self.claims.is_some() {
            fields.extend(["Conversions", "Revenue"]);
        }
        fields
    }

    /// The report definition for `range`. Its name is derived from everything else in it, so
    /// each distinct request has its own name (Yandex refuses a queued name reused with other
    /// parameters) while the polls of one report repeat it, as the queue requires.
    fn definition(&self, range: DateRange) -> Value {
        let mut params = json!({
            "SelectionCriteria": {
                "DateFrom": range.start.to_string(),
                "DateTo": range.end.to_string(),
            },
            "FieldNames": self.field_names(),
            "OrderBy": [{"Field": "Date"}],
            "ReportType": "CUSTOM_REPORT",
            "DateRangeType": "CUSTOM_DATE",
            "Format": "TSV",
            "IncludeVAT": if self.include_vat { "YES" } else { "NO" },
            "IncludeDiscount": "NO",
        });
        if let Some(claims) = &self.claims {
            params["Goals"] = json!(claims.goals());
            if let Some(model) = &claims.attribution_model {
                params["AttributionModels"] = json!([model]);
            }
        }
        let fingerprint = format!(
            "{params}|{}|{}",
            self.client_login.as_deref().unwrap_or(""),
            self.money_in_micros
        );
        params["ReportName"] = json!(format!(
            "kassa {} {} {:016x}",
            range.start,
            range.end,
            fnv1a(fingerprint.as_bytes())
        ));
        json!({ "params": params })
    }

    async fn report(&self, range: DateRange) -> Result<Pull, SourceError> {
        let mut request = self
            .request(self.reports_url.clone(), self.definition(range))
            .header("processingMode", "auto")
            .header("skipReportHeader", "true")
            .header("skipReportSummary", "true");
        if !self.money_in_micros {
            request = request.header("returnMoneyInMicros", "false");
        }
        let started = tokio::time::Instant::now();
        let tsv = loop {
            match self
                .client
                .send_with(&request, read_report)
                .await
                .map_err(SourceError::from)?
            {
                Report::Ready(tsv) => break tsv,
                Report::Queued {
                    status,
                    wait,
                    in_queue,
                } => {
                    let wait = wait.unwrap_or(QUEUE_WAIT_WITHOUT_HINT);
                    if started.elapsed().saturating_add(wait) > self.max_wait {
                        return Err(SourceError::new(
                            ErrorKind::Server,
                            format!(
                                "the report was still in Yandex's offline queue after {}s \
                                 (HTTP {status}); kassa waits at most max_wait_minutes = {} \
                                 per report: raise it, or lower chunk_days",
                                started.elapsed().as_secs(),
                                self.max_wait.as_secs() / 60
                            ),
                        ));
                    }
                    tracing::info!(
                        status = status.as_u16(),
                        wait_s = wait.as_secs_f64(),
                        reports_in_queue = in_queue.as_deref().unwrap_or("?"),
                        "the report is being built offline; asking again"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        };
        let rows = self.parse_report(&tsv, range)?;
        tracing::debug!(rows = rows.len(), "read a Yandex Direct report");
        Ok(Pull {
            rows: Pulled::Ads(rows),
            covered: Some(range),
            warnings: Vec::new(),
        })
    }

    /// The rows of a TSV report: a column header, data lines, and (if Yandex sends it despite
    /// `skipReportSummary`) a `Total rows: N` line, which must then agree with the rows read.
    /// Columns are found by name, so their order does not matter.
    fn parse_report(&self, tsv: &str, range: DateRange) -> Result<Vec<AdDay>, SourceError> {
        let mut lines = tsv
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        // A report-name line (when `skipReportHeader` was not honoured) is quoted.
        let (header_at, header) = loop {
            match lines.next() {
                Some((_, line)) if line.starts_with('"') => continue,
                Some(found) => break found,
                None => {
                    return Err(SourceError::new(
                        ErrorKind::Decode,
                        "the report has no column header line",
                    ));
                }
            }
        };
        let columns = Columns::new(header, header_at + 1, self.claims.as_ref())?;
        let mut rows = Vec::new();
        for (index, line) in lines {
            let number = index + 1;
            if let Some(total) = line.strip_prefix("Total rows:") {
                let total = total.trim();
                if total.parse::<usize>().ok() != Some(rows.len()) {
                    return Err(SourceError::new(
                        ErrorKind::Decode,
                        format!(
                            "line {number}: the report says it has {total:?} rows, kassa read {}",
                            rows.len()
                        ),
                    ));
                }
                continue;
            }
            let cells: Vec<&str> = line.split('\t').collect();
            let row = self
                .parse_row(&columns, &cells, range)
                .map_err(|e| SourceError {
                    message: format!("line {number}: {}", e.message),
                    ..e
                })?;
            rows.push(row);
        }
        Ok(rows)
    }

    fn parse_row(
        &self,
        columns: &Columns,
        cells: &[&str],
        range: DateRange,
    ) -> Result<AdDay, SourceError> {
        if cells.len() != columns.width {
            return Err(SourceError::new(
                ErrorKind::Decode,
                format!(
                    "{} fields where the header has {}",
                    cells.len(),
                    columns.width
                ),
            ));
        }
        let cell = |at: usize| cells[at].trim();
        let raw_date = cell(columns.date);
        let date = NaiveDate::parse_from_str(raw_date, "%Y-%m-%d").map_err(|_| {
            SourceError::invalid("Date", format!("{raw_date:?} is not a date (YYYY-MM-DD)"))
        })?;
        if !range.contains(date) {
            return Err(SourceError::invalid(
                "Date",
                format!("{date} is outside the requested range {range}"),
            ));
        }
        let campaign_id = cell(columns.campaign_id);
        if campaign_id.is_empty() || campaign_id == EMPTY {
            return Err(SourceError::invalid("CampaignId", "is missing"));
        }
        let name = cell(columns.campaign_name);
        let spend = self
            .money("Cost", cell(columns.cost))?
            .ok_or_else(|| SourceError::invalid("Cost", "is missing (\"--\")"))?;
        Ok(AdDay {
            date,
            channel: self.channel.clone(),
            account: self.client_login.clone().unwrap_or_default(),
            campaign_id: campaign_id.to_string(),
            campaign_name: (!name.is_empty() && name != EMPTY).then(|| name.to_string()),
            impressions: count("Impressions", cell(columns.impressions))?
                .ok_or_else(|| SourceError::invalid("Impressions", "is missing (\"--\")"))?,
            // The Reports API's daily campaign rows carry no reach.
            reach: None,
            clicks: count("Clicks", cell(columns.clicks))?
                .ok_or_else(|| SourceError::invalid("Clicks", "is missing (\"--\")"))?,
            spend,
            currency: Some(self.currency.clone()),
            claims: self.claims_of(columns, cells)?,
        })
    }

    /// Leads are the conversions of the lead goals, purchases those of the purchase goals,
    /// revenue the purchase goals' `Revenue`; each a sum over its goals. A claim is not
    /// reported (`None`) when any of its goals shows `--` for the row, never counted as zero.
    fn claims_of(&self, columns: &Columns, cells: &[&str]) -> Result<Claims, SourceError> {
        let Some(claims) = &self.claims else {
            return Ok(Claims::default());
        };
        let sum_counts = |goals: &[u64]| -> Result<Option<u64>, SourceError> {
            let mut total = Some(0u64);
            for goal in goals {
                let (name, at) = columns.goal_column("Conversions", *goal)?;
                let value = count(name, cells[at].trim())?;
                total = total.zip(value).map(|(a, b)| a.saturating_add(b));
            }
            Ok((!goals.is_empty()).then_some(total).flatten())
        };
        let mut revenue = Some(Money::ZERO);
        for goal in &claims.purchase_goals {
            let (name, at) = columns.goal_column("Revenue", *goal)?;
            let value = self.money(name, cells[at].trim())?;
            revenue = revenue
                .zip(value)
                .map(|(a, b)| Money::from_micros(a.micros().saturating_add(b.micros())));
        }
        Ok(Claims {
            leads: sum_counts(&claims.lead_goals)?,
            purchases: sum_counts(&claims.purchase_goals)?,
            revenue: (!claims.purchase_goals.is_empty())
                .then_some(revenue)
                .flatten(),
        })
    }

    /// A money cell: integer micros, or a decimal when `returnMoneyInMicros: false`; `None`
    /// for `--`. Negative amounts are refused.
    fn money(&self, field: &str, raw: &str) -> Result<Option<Money>, SourceError> {
        if raw == EMPTY {
            return Ok(None);
        }
        let amount = if self.money_in_micros {
            raw.parse::<i64>().map(Money::from_micros).map_err(|_| {
                SourceError::invalid(field, format!("{raw:?} is not a whole number of micros"))
            })?
        } else {
            Money::parse_decimal(raw).map_err(|m| SourceError::invalid(field, m))?
        };
        if amount.is_negative() {
            return Err(SourceError::invalid(field, format!("{raw:?} is negative")));
        }
        Ok(Some(amount))
    }

    /// Reads the advertiser's login and currency (`Clients.get`): one cheap call that proves
    /// the token and, for agencies, the `Client-Login`.
    async fn client_info(&self) -> Result<String, SourceError> {
        let body = json!({
            "method": "get",
            "params": {"FieldNames": ["Login", "Currency"]},
        });
        let answer = self
            .client
            .send_json(&self.request(self.clients_url.clone(), body))
            .await
            .map_err(SourceError::from)?;
        let client = answer.pointer("/result/Clients/0").ok_or_else(|| {
            SourceError::new(
                ErrorKind::Decode,
                format!(
                    "Clients.get answered without a client: {}",
                    summarize_body(&answer.to_string())
                ),
            )
        })?;
        let currency = wire::text(client, "Currency").unwrap_or_else(|| "?".into());
        let mut found = format!(
            "Yandex Direct client {:?}, currency {currency}",
            wire::text(client, "Login").unwrap_or_default()
        );
        if currency != self.currency {
            found.push_str(&format!(
                " (the source says currency = {:?}: set it to {currency:?})",
                self.currency
            ));
        }
        Ok(found)
    }
}

/// Where each column of a report is.
struct Columns {
    width: usize,
    date: usize,
    campaign_id: usize,
    campaign_name: usize,
    impressions: usize,
    clicks: usize,
    cost: usize,
    /// `Conversions_<goal>_<model>` and `Revenue_<goal>_<model>` columns, as named.
    goals: Vec<(String, usize)>,
}

impl Columns {
    fn new(
        header: &str,
        line: usize,
        claims: Option<&YandexClaims>,
    ) -> Result<Columns, SourceError> {
        let names: Vec<&str> = header.split('\t').map(str::trim).collect();
        let find = |name: &str| {
            names.iter().position(|n| *n == name).ok_or_else(|| {
                SourceError::new(
                    ErrorKind::Decode,
                    format!(
                        "line {line}: the report has no {name} column (its header is {:?})",
                        summarize_body(header)
                    ),
                )
            })
        };
        let columns = Columns {
            width: names.len(),
            date: find("Date")?,
            campaign_id: find("CampaignId")?,
            campaign_name: find("CampaignName")?,
            impressions: find("Impressions")?,
            clicks: find("Clicks")?,
            cost: find("Cost")?,
            goals: names
                .iter()
                .enumerate()
                .filter(|(_, n)| n.starts_with("Conversions_") || n.starts_with("Revenue_"))
                .map(|(i, n)| (n.to_string(), i))
                .collect(),
        };
        if let Some(claims) = claims {
            for goal in claims.goals() {
                columns.goal_column("Conversions", goal)?;
            }
            for goal in &claims.purchase_goals {
                columns.goal_column("Revenue", *goal)?;
            }
        }
        Ok(columns)
    }

    /// The one `<metric>_<goal>_<model>` column of `goal` (one attribution model is asked for).
    fn goal_column(&self, metric: &str, goal: u64) -> Result<(&str, usize), SourceError> {
        let prefix = format!("{metric}_{goal}_");
        let mut found = self.goals.iter().filter(|(n, _)| n.starts_with(&prefix));
        match (found.next(), found.next()) {
            (Some((name, at)), None) => Ok((name.as_str(), *at)),
            (None, _) => Err(SourceError::new(
                ErrorKind::Decode,
                format!("the report has no {prefix}<model> column for goal {goal}"),
            )),
            (Some(_), Some(_)) => Err(SourceError::new(
                ErrorKind::Decode,
                format!("the report has several {prefix}<model> columns for goal {goal}"),
            )),
        }
    }
}

/// A count cell; `None` for `--`.
fn count(field: &str, raw: &str) -> Result<Option<u64>, SourceError> {
    if raw == EMPTY {
        return Ok(None);
    }
    raw.parse::<u64>()
        .map(Some)
        .map_err(|_| SourceError::invalid(field, format!("{raw:?} is not a whole number ≥ 0")))
}

/// Sorts a successful answer: 201/202 are the offline queue, anything else is the report. A
/// report that ends inside a line (its last line shorter than the header, with no line end)
/// was cut short on the way and is asked for again; an HTML or JSON page is not a report.
fn read_report(answer: Answer) -> Result<Report, Failure> {
    if matches!(answer.status, StatusCode::CREATED | StatusCode::ACCEPTED) {
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        return Ok(Report::Queued {
            status: answer.status,
            wait: header("retryIn")
                .and_then(|s| s.trim().parse::<f64>().ok())
                .and_then(wait_of_seconds),
            in_queue: header("reportsInQueue"),
        });
    }
    let body = answer.body;
    if body.trim_start().starts_with(['<', '{', '[']) {
        return Err(Failure::fatal(
            FailureKind::Decode,
            format!("the answer is not a TSV report: {}", summarize_body(&body)),
        ));
    }
    if cut_short(&body) {
        return Err(Failure::retry(
            FailureKind::Decode,
            None,
            "the TSV report ends in the middle of a line (cut short)",
        ));
    }
    Ok(Report::Ready(body))
}

/// Whether a TSV ends inside a line: no line end after the last line, and that line has fewer
/// fields than the column header (or is the header itself).
fn cut_short(body: &str) -> bool {
    if body.is_empty() || body.ends_with('\n') {
        return false;
    }
    let mut lines = body.lines().filter(|l| !l.starts_with('"'));
    let header = lines.next().map_or(0, |l| l.split('\t').count());
    match body.lines().last() {
        Some(last) if !last.starts_with("Total rows:") => {
            let fields = last.split('\t').count();
            lines.next().is_none() || fields < header
        }
        _ => false,
    }
}

/// FNV-1a, 64 bits: a stable fingerprint of a report's parameters for its name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// How long to wait on a throttling code, which Yandex sends without a wait: the limit is 20
/// requests per 10 seconds, and a full offline queue frees a place when a report is built.
fn throttle_wait(code: i64) -> Duration {
    match code {
        9000 => Duration::from_secs(60),
        _ => Duration::from_secs(10),
    }
}

/// Reads Yandex's error envelope `{"error": {"error_code", "error_string", "error_detail",
/// "request_id"}}` (`error_code` an integer or a string of digits).
fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> Option<Failure> {
    let parsed: Value = serde_json::from_str(body).ok()?;
    let error = parsed.get("error")?;
    let code = match error.get("error_code") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(0);
    let text = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or("");
    let mut message = format!("Yandex Direct error {code}: {}", text("error_string"));
    if !text("error_detail").is_empty() {
        message.push_str(&format!(" ({})", text("error_detail")));
    }
    if !text("request_id").is_empty() {
        message.push_str(&format!(" [request_id {}]", text("request_id")));
    }
    Some(match code {
        53 => Failure::fatal(
            FailureKind::Auth,
            format!(
                "{message}: the OAuth token is invalid or expired; get a new token for the \
                 Direct user (https://oauth.yandex.ru) and put it where token_env or token_file \
                 says"
            ),
        ),
        54 | 58 | 513 | 3000 | 3001 => Failure::fatal(
            FailureKind::Auth,
            format!(
                "{message}: the token's user has no access to this advertiser's statistics \
                 through the API; check client_login (required for agency tokens) and the \
                 application's API access"
            ),
        ),
        8800 => Failure::fatal(
            FailureKind::Rejected,
            format!("{message}: check client_login, the advertiser's Yandex login"),
        ),
        56 | 152 | 506 | 9000 => Failure::retry(
            FailureKind::Throttled,
            Some(retry_after(headers).unwrap_or_else(|| throttle_wait(code))),
            message,
        ),
        52 | 1000 | 1001 | 1002 => {
            Failure::retry(FailureKind::Server, retry_after(headers), message)
        }
        _ if status == StatusCode::TOO_MANY_REQUESTS => Failure::retry(
            FailureKind::Throttled,
            Some(retry_after(headers).unwrap_or_else(|| throttle_wait(code))),
            message,
        ),
        _ if status == StatusCode::BAD_GATEWAY => Failure::fatal(
            FailureKind::Rejected,
            format!("{message}: the report took too long to build; lower chunk_days"),
        ),
        _ if status.is_server_error() => {
            Failure::retry(FailureKind::Server, retry_after(headers), message)
        }
        _ => Failure::fatal(FailureKind::Rejected, message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_report_is_told_from_a_whole_one() {
        let whole = "Date\tCampaignId\tCost\n2024-05-01\t1\t125500000\n";
        assert!(!cut_short(whole));
        assert!(
            !cut_short(whole.trim_end()),
            "a whole last line, no line end"
        );
        assert!(cut_short("Date\tCampaignId\tCost\n2024-05-01\t1"));
        assert!(cut_short("Date\tCampai"));
        assert!(!cut_short(""));
    }

    #[test]
    fn error_codes_are_read_as_numbers_or_strings() {
        let body = r#"{"error":{"request_id":"1","error_code":"9000","error_string":"Limit of offline reports reached"}}"#;
        let failure = classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), body).unwrap();
        assert_eq!(failure.kind, FailureKind::Throttled);
        assert_eq!(failure.wait, Some(Duration::from_secs(60)));
        let body =
            r#"{"error":{"request_id":"1","error_code":53,"error_string":"Authorization error"}}"#;
        let failure = classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), body).unwrap();
        assert_eq!(failure.kind, FailureKind::Auth);
        assert!(!failure.retryable);
    }

    fn source(money_in_micros: bool) -> YandexDirectSource {
        let url = Url::parse("https://api.direct.yandex.com/json/v5/reports").unwrap();
        YandexDirectSource {
            client: HttpClient::new(None, crate::http::RetryPolicy::default(), classify).unwrap(),
            reports_url: url.clone(),
            clients_url: url,
            client_login: None,
            channel: "yandex_direct".into(),
            currency: "RUB".into(),
            language: "en".into(),
            money_in_micros,
            include_vat: false,
            chunk_days: 30,
            max_wait: Duration::from_secs(60),
            claims: Some(YandexClaims {
                lead_goals: vec![1],
                purchase_goals: vec![2],
                attribution_model: None,
            }),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Any text in any cell of a report (tabs and line ends aside) is read or refused with
        /// an error naming the report line and, for a value, its column; never a panic.
        #[test]
        fn any_report_cell_is_read_or_names_the_field_and_line(
            column in 0usize..10,
            value in "[^\t\r\n]{0,20}",
            micros in proptest::prelude::any::<bool>(),
        ) {
            let header = "Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost\tConversions_1_LC\tRevenue_1_LC\tConversions_2_LC\tRevenue_2_LC";
            let mut cells = vec!["2024-05-01", "7", "Brand", "10", "3", "1500000", "1", "--", "2", "3000000"];
            if !micros {
                cells[5] = "1.50";
                cells[9] = "3.00";
            }
            cells[column] = &value;
            let tsv = format!("{header}\n{}\n", cells.join("\t"));
            let range = DateRange::new(
                NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
                NaiveDate::from_ymd_opt(2024, 5, 7).unwrap(),
            )
            .unwrap();
            match source(micros).parse_report(&tsv, range) {
                Ok(rows) => proptest::prop_assert_eq!(rows.len(), 1),
                Err(error) => {
                    proptest::prop_assert!(error.message.contains("line 2"), "{}", error.message);
                    let names: Vec<&str> = header.split('\t').collect();
                    proptest::prop_assert!(
                        error.message.contains(names[column]) || error.kind == ErrorKind::Decode,
                        "{}",
                        error.message
                    );
                }
            }
        }
    }

    #[test]
    fn the_report_name_follows_its_parameters() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
