//! kassa's HTTP server, on axum: the worker's `/healthz` and Prometheus `/metrics` (the worker
//! merges its report routes into the same [`Router`]), the answers those share (HTML and plain
//! text that no cache keeps, the bearer token check), and the serving loop the demo's fake
//! platforms use too. A hand-written parser on a port that may face a network is an attack surface; hyper
//! is already in the tree through reqwest, so axum costs little.

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

/// The media type of the exposition [`metrics_text`] writes. prometheus-client writes
/// OpenMetrics (counter families without `_total`, samples with it, a closing `# EOF`), and
/// Prometheus (since 2.5), VictoriaMetrics, Grafana Alloy and the OpenTelemetry collector read
/// it when it is labelled so. Labelled as the classic `text/plain; version=0.0.4`, a classic
/// parser would see `# TYPE kassa_runs counter` above `kassa_runs_total` samples and store the
/// counters untyped.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The worker's open endpoints: `GET /healthz` answers `ok`, `GET /metrics` the registry's
/// current values; anything else is a 404 (the worker merges its report routes in).
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

/// The challenge a 401 carries (RFC 6750).
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"kassa\"";

/// Whether `headers` carry `Authorization: Bearer <expected>`. The scheme is matched without
/// regard to case (RFC 9110); the token is compared in time that depends only on its length,
/// so a caller cannot find it byte by byte from how fast it is refused.
pub fn bearer_matches(headers: &HeaderMap, expected: &SecretString) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, given)) = value.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && constant_time_eq(given.trim().as_bytes(), expected.expose_secret().as_bytes())
}

/// Equal-length byte strings compared without an early exit; lengths are not secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

/// A page of HTML that no cache keeps (a report is rendered from the store as it is now).
pub fn html(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A plain-text sentence with `status`, which no cache keeps either.
pub fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!("{text}\n"),
    )
        .into_response()
}

/// The 401 of a request without the right bearer token: the challenge and `text`, nothing else.
pub fn unauthorized(text: &str) -> Response {
    let mut response = plain(StatusCode::UNAUTHORIZED, text);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static(BEARER_CHALLENGE),
    );
    response
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let token = SecretString::from("s3cret-token");
        assert!(bearer_matches(
            &with_authorization("Bearer s3cret-token"),
            &token
        ));
        assert!(bearer_matches(
            &with_authorization("bearer s3cret-token"),
            &token
        ));
        for wrong in [
            "Bearer s3cret-toke",
            "Bearer s3cret-token2",
            "Bearer S3cret-token",
            "Basic s3cret-token",
            "s3cret-token",
            "Bearer ",
        ] {
            assert!(
                !bearer_matches(&with_authorization(wrong), &token),
                "{wrong}"
            );
        }
        assert!(!bearer_matches(&HeaderMap::new(), &token));
    }
}
