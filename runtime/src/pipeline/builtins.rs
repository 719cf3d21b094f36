//! The answers every service gives without a route of its own:
//! `GET /health` (the manifest's `health.checks`, each bounded in time)
//! and `GET /metrics` (OpenMetrics text).
//!
//! Why it exists: probes and scrapers expect them on every service, on
//! both hosts, and a manifest that declares its own route at either path
//! replaces them.

use crate::pipeline::app::{App, Response, json_response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use std::time::Duration;

/// How long one health check may take before it counts as failing.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health`: every check at once, each bounded, so that a hanging
/// dependency makes `/health` say so instead of hanging the probe; 503
/// when one fails.
pub(crate) async fn health(app: &App) -> Response {
    let results = futures_util::future::join_all(app.spec.health_checks.iter().map(|name| {
        let check = async move {
            if app.clients.knows(name) {
                app.clients.ping(name).await
            } else if let Some(f) = &app.health {
                f(name).await
            } else {
                Ok(())
            }
        };
        async move {
            crate::pipeline::host::within(&*app.host.timer, HEALTH_CHECK_TIMEOUT, check)
                .await
                .unwrap_or_else(|()| {
                    Err(format!(
                        "no answer within {} s",
                        HEALTH_CHECK_TIMEOUT.as_secs()
                    ))
                })
        }
    }))
    .await;
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    for (name, result) in app.spec.health_checks.iter().zip(results) {
        let v = match result {
            Ok(()) => serde_json::json!({ "status": "ok" }),
            Err(detail) => {
                ok = false;
                serde_json::json!({ "status": "failing", "detail": detail })
            }
        };
        checks.insert((*name).to_string(), v);
    }
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "failing" },
        "service": app.spec.name,
        "version": app.spec.version,
        "checks": checks,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut r = json_response(status, body.to_string());
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    r
}

/// `GET /metrics`: the service's metrics as OpenMetrics text.
pub(crate) fn metrics(app: &App) -> Response {
    let mut r = Response::new(Bytes::from(app.metrics.render()));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
