//! The native host's timer (tokio's) and HTTP client (reqwest): the
//! [`Timer`] and [`Http`] the pipeline calls other services and waits
//! with.

use crate::pipeline::BoxFuture;
use crate::pipeline::host::{Answer, CallError, Host, Http, Outbound, Timer};
use std::sync::Arc;
use std::time::Duration;

/// tokio's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokio;

impl Timer for Tokio {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// reqwest, one connection pool for every call of a service.
#[derive(Clone, Debug, Default)]
pub struct Reqwest {
    client: reqwest::Client,
}

impl Http for Reqwest {
    fn send(&self, request: Outbound) -> BoxFuture<'_, Result<Answer, CallError>> {
        Box::pin(async move {
            let mut req = self.client.request(request.method, &request.url);
            for (k, v) in &request.headers {
                req = req.header(*k, v);
            }
            if let Some(t) = request.timeout {
                req = req.timeout(t);
            }
            if let Some(body) = request.body {
                req = req.body(body);
            }
            let failed = |e: reqwest::Error| {
                if e.is_timeout() {
                    CallError::Timeout
                } else {
                    CallError::Unreachable(e.to_string())
                }
            };
            let resp = req.send().await.map_err(failed)?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = resp.bytes().await.map_err(failed)?;
            Ok(Answer {
                status,
                retry_after,
                body,
            })
        })
    }
}

/// The native host's timer and client.
pub fn host() -> Host {
    Host {
        timer: Arc::new(Tokio),
        http: Arc::new(Reqwest::default()),
    }
}
