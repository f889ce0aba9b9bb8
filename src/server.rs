//! kassa's HTTP server, on axum: the worker's `/healthz` and Prometheus `/metrics` (the HTML
//! report will join the same [`Router`]), and the serving loop the demo's fake platforms use
//! too. A hand-written parser on a port that may face a network is an attack surface; hyper
//! is already in the tree through reqwest, so axum costs little.

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// The media type of the exposition [`metrics_text`] writes. prometheus-client writes
/// OpenMetrics (counter families without `_total`, samples with it, a closing `# EOF`), and
/// Prometheus (since 2.5), VictoriaMetrics, Grafana Alloy and the OpenTelemetry collector read
/// it when it is labelled so. Labelled as the classic `text/plain; version=0.0.4`, a classic
/// parser would see `# TYPE kassa_runs counter` above `kassa_runs_total` samples and store the
/// counters untyped.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The worker's endpoints: `GET /healthz` answers `ok`, `GET /metrics` the registry's current
/// values; anything else is a 404.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move { metrics(&registry) }
            }),
        )
        .fallback(not_found)
}

fn metrics(registry: &Registry) -> Response {
    match metrics_text(registry) {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!("cannot encode the metrics: {error}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics\n",
            )
                .into_response()
        }
    }
}

/// The registry in the OpenMetrics text format.
pub fn metrics_text(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    Ok(text)
}

/// The 404 every router here answers for paths it does not serve.
pub async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets the
/// requests in flight finish, and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let address = listener.local_addr().ok();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .with_context(|| match address {
            Some(address) => format!("the HTTP server on {address} failed"),
            None => "the HTTP server failed".to_string(),
        })
}
