//! A service built to answer requests: its routes found exactly as
//! declared, each request through [the stages](super::stages), and the
//! answers the runtime gives itself (404 and 405 problems, CORS
//! preflights, `/health`, `/metrics`).
//!
//! Why it exists: both hosts hand the pipeline an `http::Request` and send
//! back the `http::Response` it answers; everything between is here and in
//! the stages, written once. A known path with another method is a 405
//! problem with `Allow`; an unknown path is a 404 problem; every error
//! answer is `application/problem+json`, bad input is never a 500, and a
//! handler that panics is a 500 problem (the panic goes to the log, not the
//! client). A `HEAD` request to a path with a `GET` route runs that route
//! (the host sends no body).

use crate::Problem;
use crate::auth::{Access, Authenticator};
use crate::client::{Clients, Credential};
use crate::context::{Context, ContextParts};
use crate::events::EventSink;
use crate::idempotency::Store as Keys;
use crate::limits::Limiter;
use crate::logging::Trace;
use crate::metrics::{Metrics, RouteMetrics};
use crate::pipeline::BoxFuture;
use crate::pipeline::host::Host;
use crate::pipeline::service::{HealthCheck, Service};
use crate::pipeline::settings::Settings;
use crate::pipeline::stages::{self, Entry, problem_response, request_id};
use crate::pipeline::store::Store;
use crate::pipeline::work::Work;
use crate::spec::{RouteSpec, ServiceSpec};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// An answer, as the pipeline gives it to its host.
pub type Response = http::Response<Bytes>;

/// The client's address, put in a request's extensions by the host.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub IpAddr);

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// It is larger than allowed.
    TooLarge,
    /// The connection failed while it was read.
    Failed(String),
}

/// A request's body: bytes the host already has, or the reading of it,
/// which the pipeline awaits when it gets there (after authentication and
/// the limits; a future does nothing until awaited). The host reads at
/// most [`Settings::max_body`] bytes ([`App::max_body`]).
pub enum Body {
    /// Already read (or known to be empty).
    Bytes(Bytes),
    /// Read when awaited.
    Pending(BoxFuture<'static, Result<Bytes, BodyError>>),
}

impl Body {
    /// The whole body: a 413 problem past `limit` bytes.
    pub(crate) async fn read(self, limit: usize) -> Result<Bytes, Problem> {
        let too_large = || {
            Problem::new(413, "content-too-large", "Content too large")
                .with_detail(format!("the body is larger than {limit} bytes"))
        };
        match self {
            Body::Bytes(b) if b.len() > limit => Err(too_large()),
            Body::Bytes(b) => Ok(b),
            Body::Pending(reading) => match reading.await {
                Ok(b) if b.len() > limit => Err(too_large()),
                Ok(b) => Ok(b),
                Err(BodyError::TooLarge) => Err(too_large()),
                Err(BodyError::Failed(e)) => Err(Problem::bad_request(format!(
                    "the body could not be read: {e}"
                ))),
            },
        }
    }
}

/// The routes of one path: by method, and the `Allow` of a 405.
struct PathRoutes {
    path: &'static str,
    methods: Vec<(http::Method, Arc<Entry>)>,
    allow: String,
}

/// What a path and method lead to.
enum Target<'a> {
    Route(&'a Arc<Entry>, Vec<(String, String)>),
    MethodNotAllowed(&'a PathRoutes),
    Health,
    Metrics,
    NotFound,
}

/// A service's HTTP side, built once; every request goes through
/// [`App::handle`].
pub struct App {
    pub(crate) spec: &'static ServiceSpec,
    pub(crate) settings: Settings,
    pub(crate) auth: Authenticator,
    pub(crate) metrics: Metrics,
    pub(crate) idempotency: Keys,
    pub(crate) sink: Arc<dyn EventSink>,
    pub(crate) clients: Arc<Clients>,
    pub(crate) credential: Arc<Credential>,
    pub(crate) health: Option<HealthCheck>,
    pub(crate) plan_limits: HashMap<&'static str, Limiter>,
    pub(crate) store: Option<Store>,
    pub(crate) host: Host,
    router: matchit::Router<usize>,
    paths: Vec<PathRoutes>,
    builtin: (bool, bool),
    cors: Option<tower_http::cors::CorsLayer>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("service", &self.spec.name)
            .finish_non_exhaustive()
    }
}

/// How a service authenticates when no JWT key is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevSecret {
    /// Tokens signed with the development secret are accepted (the server
    /// listens on loopback only).
    Allowed,
    /// They are not: without a key, a JWT service cannot start.
    Refused,
    /// They are not, and a service that cannot verify credentials still
    /// starts: its authenticated routes answer a 503 problem naming what
    /// to configure (a deployed Worker, which has no start to refuse).
    Answered,
}

impl App {
    /// The HTTP side of `service` (its routes, and those of its
    /// transitions when it has a database), with settings and
    /// authentication resolved; its calls are made with `credential`
    /// (see [`credential`]).
    pub fn new(
        service: &mut Service,
        settings: &Settings,
        host: Host,
        store: Option<Store>,
        dev: DevSecret,
        credential: Arc<Credential>,
    ) -> Result<Arc<App>, String> {
        let spec = service.spec;
        let auth = match Authenticator::new(spec, &settings.auth, dev == DevSecret::Allowed) {
            Ok(auth) => auth,
            Err(reason) if dev == DevSecret::Answered => Authenticator::refusing(spec, reason),
            Err(reason) => return Err(reason),
        };
        if auth.dev {
            tracing::warn!(
                "no SVCC_JWT_SECRET or SVCC_JWT_PUBLIC_KEY: accepting tokens signed with the development secret (loopback only); mint one with the `token` subcommand"
            );
        }
        let clients = Arc::new(
            Clients::new(
                host.clone(),
                &service.calls,
                spec.resilience,
                &settings.service_urls,
            )
            .with_credential(credential.clone()),
        );
        let plan_limits = spec
            .plans
            .iter()
            .filter_map(|p| {
                let (n, per) = p.requests?;
                Some((
                    p.name,
                    Limiter::new(
                        n,
                        per,
                        crate::spec::Scope::User,
                        format!("the {} plan's request quota", p.name),
                    )?,
                ))
            })
            .collect();
        let routes = std::mem::take(&mut service.routes).into_iter().chain(
            crate::pipeline::service::transition_routes(
                spec,
                store.is_some(),
                &service.transitions,
            ),
        );
        let (router, paths) = route_table(spec, routes)?;
        let builtin = (
            !paths.iter().any(|p| p.path == "/health"),
            !paths.iter().any(|p| p.path == "/metrics"),
        );
        let mut router = router;
        for (on, path) in [(builtin.0, "/health"), (builtin.1, "/metrics")] {
            if on {
                router
                    .insert(path, usize::MAX)
                    .map_err(|e| format!("route {path}: {e}"))?;
            }
        }
        Ok(Arc::new(App {
            spec,
            settings: settings.clone(),
            auth,
            metrics: Metrics::new(spec.name),
            idempotency: Keys::default(),
            sink: service.sink.clone(),
            clients,
            credential,
            health: service.health.clone(),
            plan_limits,
            store,
            host,
            router,
            paths,
            builtin,
            cors: (!settings.cors_origins.is_empty()).then(|| cors(&settings.cors_origins)),
        }))
    }

    /// The service.
    pub fn spec(&self) -> &'static ServiceSpec {
        self.spec
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The credential its calls and sagas' steps are made with.
    pub fn credential(&self) -> Arc<Credential> {
        self.credential.clone()
    }

    /// The host's timer and HTTP client.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The largest request body the host reads.
    pub fn max_body(&self) -> usize {
        self.settings.max_body
    }

    /// Answers a request. With CORS origins configured, a real preflight
    /// (OPTIONS with `Origin` and `Access-Control-Request-Method`) is
    /// answered by CORS and every other answer gets its headers; any other
    /// OPTIONS request is routed like every request (a declared OPTIONS
    /// route, 405 or 404), not a blanket 200.
    ///
    /// The route is found before anything is awaited, and the answer is
    /// one boxed future: the request's state is allocated once, not
    /// copied from layer to layer.
    pub fn handle(self: &Arc<Self>, req: http::Request<Body>) -> BoxFuture<'static, Response> {
        let Some(cors) = &self.cors else {
            return self.route(req);
        };
        let h = req.headers();
        let preflight = h.contains_key(http::header::ORIGIN)
            && h.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD);
        if req.method() == http::Method::OPTIONS && !preflight {
            return self.route(req);
        }
        let app = self.clone();
        let service = tower::layer::Layer::layer(
            cors,
            tower::service_fn(move |req: http::Request<Body>| {
                futures_util::FutureExt::map(app.route(req), Ok::<_, std::convert::Infallible>)
            }),
        );
        Box::pin(futures_util::FutureExt::map(
            tower::ServiceExt::oneshot(service, req),
            |r| match r {
                Ok(r) => r,
                Err(never) => match never {},
            },
        ))
    }

    fn target(&self, method: &http::Method, path: &str) -> Target<'_> {
        let Ok(found) = self.router.at(path) else {
            return Target::NotFound;
        };
        let Some(routes) = self.paths.get(*found.value) else {
            return if path == "/health" {
                Target::Health
            } else {
                Target::Metrics
            };
        };
        let entry = routes
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .or_else(|| {
                (*method == http::Method::HEAD)
                    .then(|| routes.methods.iter().find(|(m, _)| m == http::Method::GET))
                    .flatten()
            });
        match entry {
            Some((_, e)) => Target::Route(
                e,
                found
                    .params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            None => Target::MethodNotAllowed(routes),
        }
    }

    fn route(self: &Arc<Self>, req: http::Request<Body>) -> BoxFuture<'static, Response> {
        let ready =
            |r: Response| -> BoxFuture<'static, Response> { Box::pin(std::future::ready(r)) };
        match self.target(req.method(), req.uri().path()) {
            Target::Route(entry, params) => {
                Box::pin(stages::serve(self.clone(), entry.clone(), req, params))
            }
            Target::MethodNotAllowed(routes) => {
                let p = Problem::new(405, "method-not-allowed", "Method not allowed")
                    .with_detail(format!(
                        "{} is not served on {}; allowed: {}",
                        req.method(),
                        req.uri().path(),
                        routes.allow
                    ))
                    .with_header("allow", routes.allow.clone());
                ready(self.refuse(&req, routes.path, p, 405))
            }
            Target::NotFound => {
                let p = Problem::not_found(format!("no route matches {}", req.uri().path()));
                ready(self.refuse(&req, "-", p, 404))
            }
            Target::Health | Target::Metrics
                if !matches!(*req.method(), http::Method::GET | http::Method::HEAD) =>
            {
                let p = Problem::new(405, "method-not-allowed", "Method not allowed")
                    .with_detail(format!(
                        "{} is not served on {}; allowed: GET, HEAD",
                        req.method(),
                        req.uri().path()
                    ))
                    .with_header("allow", "GET, HEAD");
                let path = if req.uri().path() == "/health" {
                    "/health"
                } else {
                    "/metrics"
                };
                ready(self.refuse(&req, path, p, 405))
            }
            Target::Health => {
                let app = self.clone();
                Box::pin(async move { crate::pipeline::builtins::health(&app).await })
            }
            Target::Metrics => ready(crate::pipeline::builtins::metrics(self)),
        }
    }

    /// An answer of the runtime's own (404, 405, a path parameter that is
    /// not UTF-8), counted in the metrics.
    fn refuse(
        &self,
        req: &http::Request<Body>,
        path: &'static str,
        p: Problem,
        status: u16,
    ) -> Response {
        self.metrics
            .record("-", method_label(req.method()), path, status, 0.0);
        problem_response(&p, &request_id(req.headers()))
    }

    /// The context of work no caller asked for (an event delivery, a job
    /// run, a saga's step): full access, a span in `trace` (the trace of
    /// the request that caused it, where there is one), and its unit of
    /// work.
    pub fn background_context(
        &self,
        operation: &'static str,
        request_id: String,
        trace: Trace,
        work: &Arc<Work>,
    ) -> Context {
        Context::new(ContextParts {
            operation,
            request_id,
            trace,
            caller: None,
            authorization: None,
            access: Access::Full,
            events: self.sink.clone(),
            clients: self.clients.clone(),
            sensitive: &[],
            work: Some(work.clone()),
        })
    }

    /// Whether `/health` and `/metrics` are the runtime's (the manifest
    /// declares no route of its own there).
    pub fn builtin_routes(&self) -> (bool, bool) {
        self.builtin
    }
}

/// The route table: one entry per declared route, grouped by path, each
/// path's methods and its `Allow` (`HEAD` where there is a `GET`).
fn route_table(
    spec: &'static ServiceSpec,
    routes: impl Iterator<Item = (&'static RouteSpec, crate::pipeline::service::Handler)>,
) -> Result<(matchit::Router<usize>, Vec<PathRoutes>), String> {
    let schemas: Value =
        serde_json::from_str(spec.schemas).map_err(|e| format!("embedded schemas: {e}"))?;
    let mut by_path: BTreeMap<&'static str, Vec<Arc<Entry>>> = BTreeMap::new();
    for (route, handler) in routes {
        let validator = match route.body {
            Some(b) => Some(Arc::new(compile(&schemas, b.schema)?)),
            None => None,
        };
        by_path.entry(route.path).or_default().push(Arc::new(Entry {
            spec: route,
            handler,
            limiter: route
                .rate_limit
                .as_ref()
                .and_then(|r| Limiter::for_route(r, route.operation)),
            validator,
            metrics: RouteMetrics::new(route.operation, route.method, route.path, route.status),
        }));
    }
    let mut router = matchit::Router::new();
    let mut paths = Vec::new();
    for (path, entries) in by_path {
        let mut allow: Vec<&str> = entries.iter().map(|e| e.spec.method).collect();
        if allow.contains(&"GET") && !allow.contains(&"HEAD") {
            allow.push("HEAD");
        }
        allow.sort_unstable();
        let methods = entries
            .into_iter()
            .map(|e| {
                http::Method::from_bytes(e.spec.method.as_bytes())
                    .ok()
                    .filter(|m| METHODS.contains(m))
                    .map(|m| (m, e.clone()))
                    .ok_or_else(|| format!("unsupported method {}", e.spec.method))
            })
            .collect::<Result<Vec<_>, String>>()?;
        router
            .insert(path, paths.len())
            .map_err(|e| format!("route {path}: {e}"))?;
        paths.push(PathRoutes {
            path,
            methods,
            allow: allow.join(", "),
        });
    }
    Ok((router, paths))
}

/// The methods a route may have.
const METHODS: [http::Method; 7] = [
    http::Method::GET,
    http::Method::POST,
    http::Method::PUT,
    http::Method::PATCH,
    http::Method::DELETE,
    http::Method::HEAD,
    http::Method::OPTIONS,
];

/// Who this service calls others as: `SVCC_SERVICE_TOKEN`, else a token
/// minted with its HS256 secret (the development secret where it is
/// allowed) and the issuer and audience it requires; none when it
/// verifies with a public key and no token is given.
pub fn credential(name: &str, settings: &Settings, dev: DevSecret) -> Credential {
    use crate::auth::{JwtKey, Registered};
    let registered = Registered::of(&settings.auth);
    match (&settings.service_token, &settings.auth.jwt_key) {
        (Some(token), _) => Credential::Fixed(token.clone()),
        (None, Some(JwtKey::Secret(secret))) => Credential::mint(secret.clone(), registered, name),
        (None, None) if dev == DevSecret::Allowed => {
            Credential::mint(crate::auth::DEV_SECRET.to_string(), registered, name)
        }
        _ => Credential::None,
    }
}

fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, Any, CorsLayer};
    let layer = CorsLayer::new()
        .allow_methods(Any)
        .allow_headers(Any)
        .expose_headers([
            http::header::HeaderName::from_static("x-request-id"),
            http::header::HeaderName::from_static("ratelimit-limit"),
            http::header::HeaderName::from_static("ratelimit-remaining"),
            http::header::HeaderName::from_static("ratelimit-reset"),
            http::header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

/// The validator of a request body: `schema` is the body's JSON Schema,
/// whose `$ref`s point into the service's schemas (`#/$defs/Order`), or
/// the name of one of those components.
fn compile(schemas: &Value, schema: &str) -> Result<jsonschema::Validator, String> {
    let body = if schema.trim_start().starts_with('{') {
        serde_json::from_str::<Value>(schema).map_err(|e| format!("body schema {schema}: {e}"))?
    } else {
        serde_json::json!({ "$ref": format!("#/$defs/{schema}") })
    };
    let Value::Object(body) = body else {
        return Err(format!("body schema {schema}: not a JSON object"));
    };
    let mut root = schemas.clone();
    if let Value::Object(m) = &mut root {
        m.extend(body);
        m.insert(
            "$schema".into(),
            Value::String("https://json-schema.org/draft/2020-12/schema".into()),
        );
    }
    crate::strict::validator(&root).map_err(|e| format!("body schema {schema}: {e}"))
}

/// The metrics label of a method nobody declared: standard methods by
/// name, anything a client made up as `OTHER`, so that clients cannot
/// create label values (and memory) at will.
fn method_label(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::TRACE => "TRACE",
        http::Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// A JSON answer of the runtime's own.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Bytes::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
