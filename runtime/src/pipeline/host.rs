//! What the pipeline needs from the host it runs on, besides the
//! database ([`crate::pipeline::store::Database`]) and the configuration
//! ([`crate::pipeline::settings::Settings`], read from name-value pairs
//! both hosts have): time to wait, and a way to call other services.
//!
//! Why it exists: the request pipeline is written once, but a timer is
//! tokio's on the native host and the isolate's `setTimeout` on Workers,
//! and a call goes out through reqwest on one and `fetch` (or a service
//! binding) on the other. Each is one small trait here; [`Host`] bundles
//! them for a service.

use crate::pipeline::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// Waiting.
pub trait Timer: Send + Sync + 'static {
    /// Resolves once `duration` has passed.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// A request to another service.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The called service's kebab-case name (its service binding, where
    /// the host has one), if the call is to a service of the project.
    pub service: Option<&'static str>,
    /// The method.
    pub method: http::Method,
    /// The whole URL, query included.
    pub url: String,
    /// Headers.
    pub headers: Vec<(&'static str, String)>,
    /// A JSON body.
    pub body: Option<Vec<u8>>,
    /// How long to wait for the answer (none: as long as the caller
    /// waits).
    pub timeout: Option<Duration>,
}

/// An answer of another service.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// `Retry-After`, when it came with one.
    pub retry_after: Option<String>,
    /// The body.
    pub body: bytes::Bytes,
}

/// Why a call has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// None within the timeout.
    Timeout,
    /// The service could not be reached (the host's message).
    Unreachable(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Timeout => f.write_str("timed out"),
            CallError::Unreachable(m) => f.write_str(m),
        }
    }
}

/// Calling other services over HTTP.
pub trait Http: Send + Sync + 'static {
    /// Sends the request and reads the whole answer.
    fn send(&self, request: Outbound) -> BoxFuture<'_, Result<Answer, CallError>>;
}

/// A host's timer and HTTP client, shared by a service's parts.
#[derive(Clone)]
pub struct Host {
    /// Waiting.
    pub timer: Arc<dyn Timer>,
    /// Calls.
    pub http: Arc<dyn Http>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Host")
    }
}

/// `fut` under a timeout of `limit` from now, except that the timer is
/// only set when a first poll does not finish it: most handlers answer
/// without waiting, and setting and dropping a timer is work they would
/// do for nothing. The deadline is the same either way. `Err(())` when
/// the time ran out.
pub async fn within<F: std::future::Future>(
    timer: &dyn Timer,
    limit: Duration,
    fut: F,
) -> Result<F::Output, ()> {
    use futures_util::future::{Either, select};
    let started = web_time::Instant::now();
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
    if let std::task::Poll::Ready(out) = first {
        return Ok(out);
    }
    let left = limit.saturating_sub(started.elapsed());
    match select(fut, timer.sleep(left)).await {
        Either::Left((out, _)) => Ok(out),
        Either::Right(((), _)) => Err(()),
    }
}
