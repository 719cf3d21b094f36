//! The Workers host: the pipeline in a Cloudflare Worker, state in the
//! service's Durable Object (wasm32 only).
//!
//! What runs where: the Worker's `fetch` ([`forward`]) sends every
//! request to the service's Durable Object (one per service, bound as
//! `SVCC_SERVICE`), and the object ([`Object`]) answers it with the
//! pipeline, exactly as the native host does: the same routing,
//! validation, auth, limits, idempotency, timeouts, CORS, problems,
//! health, metrics and logs. Its database is the object's SQLite
//! ([`sql`]), where a request's writes and its events commit together;
//! its calls go through `fetch` or a service binding ([`http`]); its
//! configuration is the Worker's `vars`, secrets and (under `wrangler
//! dev`) `.dev.vars`, read with the same variable names as the native
//! host's environment.
//!
//! Rate limits and idempotency keys in memory are the object's: one per
//! service, so they count every caller, as one native process does.
//! Without a JWT key, the development secret is accepted only when the
//! Worker answers on a loopback address (`wrangler dev`); deployed,
//! authenticated routes answer a problem that says which secret to set.
//! Events are written to the object's outbox with the request's writes;
//! delivering them, sagas and jobs are the native host's for now.

pub mod http;
pub mod sql;

use crate::pipeline::BoxFuture;
use crate::pipeline::app::{App, Body, BodyError, DevSecret, Peer};
use crate::pipeline::host::Host;
use crate::pipeline::service::Service;
use crate::pipeline::settings::Settings;
use crate::pipeline::store::Store;
use crate::problem::Problem;
use std::sync::{Arc, OnceLock};
use wasm_bindgen::JsCast;
use worker::send::{SendFuture, SendWrapper};

pub use worker;

/// The Durable Object binding of the service's own object.
pub const OBJECT_BINDING: &str = "SVCC_SERVICE";

/// The Worker's `fetch`: the request goes to the service's object, which
/// answers it.
pub async fn forward(req: worker::Request, env: &worker::Env) -> worker::Result<worker::Response> {
    let stub = env
        .durable_object(OBJECT_BINDING)?
        .id_from_name("service")?
        .get_stub()?;
    stub.fetch_with_request(req).await
}

/// The service's Durable Object: the service built on its first request,
/// then every request through the pipeline.
pub struct Object {
    state: SendWrapper<worker::State>,
    env: SendWrapper<worker::Env>,
    make: fn() -> Service,
    app: OnceLock<Result<Arc<App>, String>>,
}

impl Object {
    /// The object of a service that `make` builds.
    pub fn new(state: worker::State, env: worker::Env, make: fn() -> Service) -> Self {
        Object {
            state: SendWrapper::new(state),
            env: SendWrapper::new(env),
            make,
            app: OnceLock::new(),
        }
    }

    /// Answers a request.
    pub async fn fetch(&self, req: worker::Request) -> worker::Result<worker::Response> {
        let loopback = req
            .url()
            .ok()
            .and_then(|u| u.host_str().map(is_loopback))
            .unwrap_or(false);
        let app = self
            .app
            .get_or_init(|| {
                crate::workers::log::init();
                self.build(loopback)
            })
            .clone();
        let app = match app {
            Ok(app) => app,
            Err(e) => {
                let p = Problem::new(503, "misconfigured", "The service is not configured")
                    .with_detail(e);
                return answer(crate::pipeline::stages::problem_response(&p, ""));
            }
        };
        let request = incoming(req, app.max_body())?;
        answer(app.handle(request).await)
    }

    /// The service, its settings from the Worker's variables and secrets,
    /// its database the object's.
    fn build(&self, loopback: bool) -> Result<Arc<App>, String> {
        let mut service = (self.make)();
        let settings = settings(&self.env.0)?;
        let store = Store::new(Arc::new(
            sql::ObjectDatabase::open(self.state.0.storage(), service.spec.name.to_string())
                .map_err(|p| p.to_string())?,
        ));
        let dev = if loopback {
            DevSecret::Allowed
        } else {
            DevSecret::Answered
        };
        let credential = Arc::new(crate::pipeline::app::credential(
            service.spec.name,
            &settings,
            dev,
        ));
        let host = Host {
            timer: Arc::new(http::Delay),
            http: Arc::new(http::Client::new(self.env.0.clone())),
        };
        App::new(&mut service, &settings, host, Some(store), dev, credential)
    }
}

/// A host name that is this machine (`wrangler dev`).
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The service's settings from the Worker's bindings that are text:
/// `vars`, secrets, and under `wrangler dev` `.dev.vars`. A called
/// service with a service binding and no `SVCC_<SLUG>_URL` is reached
/// through the binding.
fn settings(env: &worker::Env) -> Result<Settings, String> {
    let object: &js_sys::Object = env.unchecked_ref();
    let mut vars: Vec<(String, String)> = js_sys::Object::entries(object)
        .iter()
        .filter_map(|pair| {
            let pair: js_sys::Array = pair.dyn_into().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect();
    let bound: Vec<String> = js_sys::Object::keys(object)
        .iter()
        .filter_map(|k| k.as_string())
        .filter_map(|k| k.strip_prefix("SVCC_SERVICE_").map(str::to_string))
        .collect();
    for slug in bound {
        let variable = format!("SVCC_{slug}_URL");
        if !vars.iter().any(|(k, _)| *k == variable) {
            let host = slug.to_ascii_lowercase().replace('_', "-");
            vars.push((variable, format!("https://{host}.svcc.internal")));
        }
    }
    Settings::from_vars(vars)
}

/// A Workers request as the pipeline takes it.
fn incoming(req: worker::Request, limit: usize) -> worker::Result<http::Request<Body>> {
    let mut builder = http::Request::builder()
        .method(req.method().as_ref())
        .uri(req.url()?.as_str());
    for (k, v) in req.headers().entries() {
        builder = builder.header(k, v);
    }
    let peer = req
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .and_then(|ip| ip.parse().ok());
    let mut request = builder
        .body(Body::Pending(read(SendWrapper::new(req), limit)))
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    if let Some(ip) = peer {
        request.extensions_mut().insert(Peer(ip));
    }
    Ok(request)
}

/// A request's body, read when the pipeline awaits it: at most `limit`
/// bytes (by its `Content-Length` first).
fn read(
    req: SendWrapper<worker::Request>,
    limit: usize,
) -> BoxFuture<'static, Result<bytes::Bytes, BodyError>> {
    Box::pin(SendFuture::new(async move {
        let mut req = req.0;
        let declared = req
            .headers()
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|n| n.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(BodyError::TooLarge);
        }
        let bytes = req
            .bytes()
            .await
            .map_err(|e| BodyError::Failed(e.to_string()))?;
        Ok(bytes.into())
    }))
}

/// The pipeline's answer as a Workers response.
fn answer(r: crate::pipeline::app::Response) -> worker::Result<worker::Response> {
    let (parts, body) = r.into_parts();
    let headers = worker::Headers::new();
    for (k, v) in &parts.headers {
        if let Ok(v) = v.to_str() {
            headers.append(k.as_str(), v)?;
        }
    }
    let response = if body.is_empty() {
        worker::Response::empty()?
    } else {
        worker::Response::from_bytes(body.to_vec())?
    };
    Ok(response
        .with_status(parts.status.as_u16())
        .with_headers(headers))
}

mod log;
