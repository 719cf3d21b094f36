//! The Workers host's timer (the isolate's `setTimeout`, through
//! `worker::Delay`) and HTTP client (`fetch`, or a service binding when
//! the called service is bound: `SVCC_SERVICE_<SLUG>`, which the wrangler
//! config of a deployment adds for every service it calls that is deployed
//! too).

use crate::pipeline::BoxFuture;
use crate::pipeline::host::{Answer, CallError, Http, Outbound, Timer};
use futures_util::future::{Either, select};
use std::time::Duration;
use worker::send::{SendFuture, SendWrapper};
use worker::{Env, Fetch, Fetcher, Headers, Method, Request, RequestInit};

/// `setTimeout`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Delay;

impl Timer for Delay {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(SendFuture::new(worker::Delay::from(duration)))
    }
}

/// `fetch` and service bindings.
pub struct Client {
    env: SendWrapper<Env>,
}

impl Client {
    /// Calls from the Worker with these bindings.
    pub fn new(env: Env) -> Self {
        Client {
            env: SendWrapper::new(env),
        }
    }

    /// The service binding of a called service, if the Worker has one.
    fn binding(&self, slug: &str) -> Option<Fetcher> {
        self.env.0.service(&binding_name(slug)).ok()
    }
}

/// The binding name of a called service: `inventory-service` ->
/// `SVCC_SERVICE_INVENTORY_SERVICE`.
pub fn binding_name(slug: &str) -> String {
    format!(
        "SVCC_SERVICE_{}",
        slug.replace('-', "_").to_ascii_uppercase()
    )
}

fn method(m: &http::Method) -> Method {
    Method::from(m.as_str().to_string())
}

fn request(call: &Outbound) -> worker::Result<Request> {
    let headers = Headers::new();
    for (k, v) in &call.headers {
        headers.append(k, v)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method(&call.method)).with_headers(headers);
    if let Some(body) = &call.body {
        init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    }
    Request::new_with_init(&call.url, &init)
}

impl Http for Client {
    fn send(&self, call: Outbound) -> BoxFuture<'_, Result<Answer, CallError>> {
        Box::pin(SendFuture::new(async move {
            let failed = |e: worker::Error| CallError::Unreachable(e.to_string());
            let req = request(&call).map_err(failed)?;
            let sent = async {
                let mut resp = match call.service.and_then(|s| self.binding(s)) {
                    Some(bound) => bound.fetch_request(req).await?,
                    None => Fetch::Request(req).send().await?,
                };
                let body = resp.bytes().await?;
                Ok::<_, worker::Error>((resp, body))
            };
            let (resp, body) = match call.timeout {
                None => sent.await.map_err(failed)?,
                Some(limit) => {
                    let sent = std::pin::pin!(sent);
                    match select(sent, worker::Delay::from(limit)).await {
                        Either::Left((r, _)) => r.map_err(failed)?,
                        Either::Right(_) => return Err(CallError::Timeout),
                    }
                }
            };
            Ok(Answer {
                status: resp.status_code(),
                retry_after: resp.headers().get("retry-after").ok().flatten(),
                body: body.into(),
            })
        }))
    }
}
