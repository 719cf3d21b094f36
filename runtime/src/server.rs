//! The HTTP server: routing exactly as declared, then one pipeline per
//! request, in this order: request id and trace, authentication,
//! permission, plan, rate limit, body size and JSON Schema, idempotency,
//! the handler under its timeout, ownership of the output, answer headers,
//! metrics and one log line.
//!
//! A known path with another method is a 405 problem with `Allow`; an
//! unknown path is a 404 problem. Every error answer is
//! `application/problem+json`; bad input is never a 500, and a handler
//! that panics is a 500 problem (the panic goes to the log, not the client).

use crate::Problem;
use crate::auth::{Access, AuthConfig, Authenticator, Caller};
use crate::client::Clients;
use crate::context::{Context, ContextParts};
use crate::durable::{Dispatcher, Durability, RetryPolicy, StoreOptions, Work};
use crate::events::{Event, EventSink, LogSink};
use crate::idempotency::{Claim, Store, Stored};
use crate::limits::Limiter;
use crate::logging::Trace;
use crate::metrics::{Metrics, RouteMetrics};
use crate::request::Request;
use crate::sagas::TransitionFn;
use crate::spec::{RouteAuth, RouteSpec, ServiceSpec, SubscriptionSpec};
use axum::body::Body;
use axum::extract::{ConnectInfo, RawPathParams};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A boxed future, as route functions return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// A route function: typed decoding, the user's handler, typed encoding.
pub type Handler = Arc<dyn Fn(Context, Request) -> BoxFuture<Result<Reply, Problem>> + Send + Sync>;
/// An event handler: typed decoding and the user's handler.
pub type EventHandler =
    Arc<dyn Fn(Context, Event<Value>) -> BoxFuture<Result<(), Problem>> + Send + Sync>;
/// A job's handler.
pub type JobHandler = Arc<dyn Fn(Context) -> BoxFuture<Result<(), Problem>> + Send + Sync>;
/// A service's own health checks (`health.checks` that are not services).
pub type HealthCheck = Arc<dyn Fn(&'static str) -> BoxFuture<Result<(), String>> + Send + Sync>;

/// A success answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The body, JSON already encoded, if any.
    pub body: Option<bytes::Bytes>,
}

impl Reply {
    /// A JSON answer. The value is encoded here, straight to bytes: no
    /// `serde_json::Value` in between (only routes that must check who
    /// owns what goes out parse it back).
    ///
    /// The buffer starts at about the size of the last answer this thread
    /// encoded, so an answer of a usual size is written without growing it
    /// (`serde_json::to_vec` starts at 128 bytes and doubles).
    pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Self, Problem> {
        thread_local! {
            static LAST: std::cell::Cell<usize> = const { std::cell::Cell::new(128) };
        }
        let mut body = Vec::with_capacity(LAST.get());
        serde_json::to_writer(&mut body, value)
            .map_err(|e| Problem::internal(format!("cannot encode the answer: {e}")))?;
        // some room for answers a little larger; a huge one is not a habit
        LAST.set((body.len() + body.len() / 4 + 16).clamp(128, 64 << 10));
        Ok(Reply {
            status,
            body: Some(body.into()),
        })
    }

    /// An answer without a body.
    pub fn empty(status: u16) -> Self {
        Reply { status, body: None }
    }
}

/// Server settings: plain data, so tests build them directly;
/// [`Settings::from_env`] fills them from the environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address to listen on (`SVCC_HOST`, default 127.0.0.1).
    pub host: IpAddr,
    /// Port (`PORT`, default 8080; 0 picks a free one).
    pub port: u16,
    /// Timeout of routes without `timeout:` (`SVCC_REQUEST_TIMEOUT_MS`, default 30 s).
    pub request_timeout: Duration,
    /// Largest request body (`SVCC_MAX_BODY_BYTES`, default 1 MiB).
    pub max_body: usize,
    /// Allowed CORS origins (`SVCC_CORS_ORIGINS`, comma-separated or `*`); none
    /// by default, and then no CORS headers and no preflight answers at all.
    pub cors_origins: Vec<String>,
    /// The server is behind one reverse proxy: the client address is the
    /// last `X-Forwarded-For` entry, which that proxy appends (`SVCC_TRUST_PROXY=1`).
    pub trust_proxy: bool,
    /// Log request bodies, redacted (`SVCC_LOG_BODIES=1`).
    pub log_bodies: bool,
    /// Keys that authenticate callers (`SVCC_JWT_*`, `SVCC_API_KEYS*`; see [`crate::auth`]).
    pub auth: AuthConfig,
    /// Base URLs of called services by kebab-case slug (`SVCC_<SLUG>_URL`,
    /// `SVCC_INVENTORY_SERVICE_URL` -> `inventory-service`).
    pub service_urls: BTreeMap<String, String>,
    /// The SQLite file holding state, the outbox and the inbox
    /// (`SVCC_DATABASE`); unset, the service's default (generated crates of
    /// services with state or events: `.svcc/state.db` in the project, shared
    /// by its services so that events cross between their processes).
    pub database: Option<PathBuf>,
    /// The fsync policy (`SVCC_DURABILITY=normal|full`, default normal: see
    /// [`Durability`]).
    pub durability: Durability,
    /// The credential this service calls other services with, its sagas'
    /// steps and its `calls` (`SVCC_SERVICE_TOKEN`: a JWT for the role
    /// `service`, or an API key); unset, one is minted with the HS256
    /// secret (see [`crate::client::Credential`]).
    pub service_token: Option<String>,
    /// How long delivered events, inbox marks, ended sagas and job runs are
    /// kept (`SVCC_RETENTION_DAYS`, default 7; 0 keeps everything): see
    /// [`crate::durable::prune`].
    pub retention: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            request_timeout: Duration::from_secs(30),
            max_body: 1 << 20,
            cors_origins: Vec::new(),
            trust_proxy: false,
            log_bodies: false,
            auth: AuthConfig::default(),
            service_urls: BTreeMap::new(),
            service_token: None,
            database: None,
            durability: Durability::Normal,
            retention: Some(Duration::from_secs(7 * 86_400)),
        }
    }
}

fn flag(v: &str) -> bool {
    matches!(v.trim(), "1" | "true" | "yes" | "on")
}

impl Settings {
    /// Defaults overridden by the process environment.
    pub fn from_env() -> Result<Self, String> {
        // `vars_os`: one variable that is not UTF-8 must not abort the server
        // (`std::env::vars` panics on it); such variables are none of ours.
        Settings::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Defaults overridden by the given variables (what [`Settings::from_env`]
    /// reads, as name-value pairs). Files named by `*_FILE` variables are
    /// read; a value that does not parse is an error, not a silent default.
    pub fn from_vars<I: IntoIterator<Item = (String, String)>>(vars: I) -> Result<Self, String> {
        let vars: HashMap<String, String> = vars.into_iter().collect();
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        fn parse<T: std::str::FromStr>(
            name: &str,
            v: Option<String>,
            what: &str,
        ) -> Result<Option<T>, String> {
            v.map(|v| v.parse().map_err(|_| format!("{name}={v} is not {what}")))
                .transpose()
        }
        let d = Settings::default();
        let service_urls = vars
            .iter()
            .filter_map(|(k, v)| {
                let mid = k.strip_prefix("SVCC_")?.strip_suffix("_URL")?;
                let v = v.trim();
                (!mid.is_empty() && !v.is_empty())
                    .then(|| (mid.to_ascii_lowercase().replace('_', "-"), v.to_string()))
            })
            .collect();
        Ok(Settings {
            host: parse("SVCC_HOST", get("SVCC_HOST"), "an IP address")?.unwrap_or(d.host),
            port: parse("PORT", get("PORT"), "a port number")?.unwrap_or(d.port),
            request_timeout: parse(
                "SVCC_REQUEST_TIMEOUT_MS",
                get("SVCC_REQUEST_TIMEOUT_MS"),
                "a number of milliseconds",
            )?
            .map_or(d.request_timeout, Duration::from_millis),
            max_body: parse(
                "SVCC_MAX_BODY_BYTES",
                get("SVCC_MAX_BODY_BYTES"),
                "a number of bytes",
            )?
            .unwrap_or(d.max_body),
            cors_origins: get("SVCC_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            trust_proxy: get("SVCC_TRUST_PROXY").is_some_and(|v| flag(&v)),
            log_bodies: get("SVCC_LOG_BODIES").is_some_and(|v| flag(&v)),
            auth: AuthConfig::from_vars(|name| vars.get(name).cloned())?,
            service_urls,
            service_token: get("SVCC_SERVICE_TOKEN"),
            database: get("SVCC_DATABASE").map(PathBuf::from),
            retention: match parse::<u64>(
                "SVCC_RETENTION_DAYS",
                get("SVCC_RETENTION_DAYS"),
                "a number of days",
            )? {
                None => d.retention,
                Some(0) => None,
                Some(days) => Some(Duration::from_secs(days.saturating_mul(86_400))),
            },
            durability: match get("SVCC_DURABILITY").as_deref() {
                None | Some("normal") => Durability::Normal,
                Some("full") => Durability::Full,
                Some(other) => {
                    return Err(format!("SVCC_DURABILITY={other} is not `normal` or `full`"));
                }
            },
        })
    }
}

/// A service ready to serve: its spec and route functions.
pub struct Service {
    /// The manifest's description.
    pub spec: &'static ServiceSpec,
    routes: Vec<(&'static RouteSpec, Handler)>,
    health: Option<HealthCheck>,
    calls: Vec<(&'static str, &'static str)>,
    sink: Arc<dyn EventSink>,
    database: Option<PathBuf>,
    subscriptions: Vec<(&'static SubscriptionSpec, EventHandler)>,
    jobs: Vec<(&'static crate::spec::JobSpec, JobHandler)>,
    sagas: Vec<crate::durable::SagaSpec>,
    transitions: Vec<(&'static crate::spec::TransitionSpec, TransitionFn)>,
}

/// `f` with the rule that makes transitions safe to repeat for sagas: an
/// entity already in the transition's target state (which the transition
/// does not leave from) is answered as it is, without a second write or
/// event. A step run again after a crash, or a compensation whose effect
/// someone else already had (a parcel withdrawn when its order was
/// cancelled), then succeeds instead of failing on a 409.
fn settled_transition(
    machine: &'static crate::durable::Machine,
    spec: &'static crate::spec::TransitionSpec,
    f: TransitionFn,
) -> TransitionFn {
    Arc::new(move |ctx: Context, id: String| {
        let f = f.clone();
        Box::pin(async move {
            match f(ctx.clone(), id.clone()).await {
                Err(p)
                    if p.status == 409
                        && p.extensions.get("transition") == Some(&Value::from(spec.name))
                        && p.extensions.get("currentState") == Some(&Value::from(spec.to))
                        && !spec.from.contains(&spec.to) =>
                {
                    match crate::durable::entities::access::get(&ctx, machine.entity, &id).await? {
                        Some(e) => Ok(e.json),
                        None => Err(p),
                    }
                }
                other => other,
            }
        })
    })
}

/// A service's router and, when it has a database, the dispatcher that
/// delivers events to its handlers (what [`Service::build`] returns).
pub struct Built {
    /// The HTTP side.
    pub router: axum::Router,
    /// The database, when the service has one.
    pub store: Option<crate::durable::Store>,
    /// The event side, when the service has a database.
    pub dispatcher: Option<Dispatcher>,
    /// The jobs, when the service has a database and jobs.
    pub scheduler: Option<crate::durable::Scheduler>,
    /// The saga coordinator, when the service has a database and
    /// coordinates sagas.
    pub coordinator: Option<Arc<crate::durable::Coordinator>>,
}

impl Service {
    /// A service with no routes yet.
    pub fn new(spec: &'static ServiceSpec) -> Self {
        Service {
            spec,
            routes: Vec::new(),
            health: None,
            calls: Vec::new(),
            sink: Arc::new(LogSink),
            database: None,
            subscriptions: Vec::new(),
            jobs: Vec::new(),
            sagas: Vec::new(),
            transitions: Vec::new(),
        }
    }

    /// Registers the transition `name` of `machine`: `f` applies it to
    /// the entity with the given id in the context's unit of work and
    /// returns the entity after it. The server serves it to the project's
    /// sagas at `POST /_svcc/transitions/{name}` (body: the entity, or
    /// `{"id": ...}`; callers need the role `service` or a `*` grant;
    /// `Idempotency-Key` honoured), and this service's own sagas run it
    /// in-process; for both, an entity already in the target state is
    /// answered as it is (see `settled_transition`). A name the machine
    /// does not have is ignored.
    pub fn transition<F, Fut>(
        mut self,
        machine: &'static crate::durable::Machine,
        name: &str,
        f: F,
    ) -> Self
    where
        F: Fn(Context, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, Problem>> + Send + 'static,
    {
        if let Some(spec) = machine.transitions.iter().find(|t| t.name == name) {
            let f: TransitionFn = Arc::new(move |c, id| Box::pin(f(c, id)));
            self.transitions
                .push((spec, settled_transition(machine, spec, f)));
        }
        self
    }

    /// Coordinates a saga: it starts from its trigger event (delivered by
    /// this service's dispatcher), and its history is served at
    /// `GET /sagas/{id}`.
    pub fn saga(mut self, spec: crate::durable::SagaSpec) -> Self {
        self.sagas.push(spec);
        self
    }

    /// Registers a job's handler (fired on its schedule by the scheduler,
    /// once the service has a database). The context's request id is the
    /// run's idempotency key (`Service/job@<scheduled ms>`), the same for
    /// every attempt of one scheduled time.
    pub fn job<F, Fut>(mut self, spec: &'static crate::spec::JobSpec, f: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Problem>> + Send + 'static,
    {
        self.jobs.push((spec, Arc::new(move |c| Box::pin(f(c)))));
        self
    }

    /// The database file used when `SVCC_DATABASE` is not set (generated
    /// crates of services with state or events set the project's).
    pub fn database(mut self, path: impl Into<PathBuf>) -> Self {
        self.database = Some(path.into());
        self
    }

    /// Subscribes an event handler (delivered by the dispatcher, with the
    /// subscription's retry policy, once the service has a database).
    pub fn subscribe<F, Fut>(mut self, spec: &'static SubscriptionSpec, f: F) -> Self
    where
        F: Fn(Context, Event<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Problem>> + Send + 'static,
    {
        self.subscriptions
            .push((spec, Arc::new(move |c, e| Box::pin(f(c, e)))));
        self
    }

    /// Adds a route.
    pub fn route<F, Fut>(mut self, spec: &'static RouteSpec, f: F) -> Self
    where
        F: Fn(Context, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Reply, Problem>> + Send + 'static,
    {
        self.routes
            .push((spec, Arc::new(move |c, r| Box::pin(f(c, r)))));
        self
    }

    /// Sets the function answering the service's own health checks.
    pub fn health<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(&'static str) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.health = Some(Arc::new(move |c| Box::pin(f(c))));
        self
    }

    /// Declares a called service (name, kebab-case slug).
    pub fn calls(mut self, service: &'static str, slug: &'static str) -> Self {
        if !self.calls.iter().any(|(s, _)| *s == service) {
            self.calls.push((service, slug));
        }
        self
    }

    /// Replaces where events go.
    pub fn events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sink = sink;
        self
    }

    /// The database file this service uses under `settings`, if any.
    pub fn database_path(&self, settings: &Settings) -> Option<PathBuf> {
        settings.database.clone().or_else(|| self.database.clone())
    }

    /// The route table (for `routes` and tests).
    pub fn route_specs(&self) -> impl Iterator<Item = &'static RouteSpec> + '_ {
        self.routes.iter().map(|(s, _)| *s)
    }

    /// The axum router, with settings and authentication resolved (events
    /// are not delivered: [`serve_on`] runs the dispatcher of [`Service::build`]).
    pub fn router(self, settings: &Settings) -> Result<axum::Router, String> {
        self.build(settings).map(|b| b.router)
    }

    /// The router, the database (opened and migrated) and the dispatcher.
    pub fn build(self, settings: &Settings) -> Result<Built, String> {
        let store = match settings.database.as_ref().or(self.database.as_ref()) {
            Some(path) => Some(open_store(path, settings.durability)?),
            None => None,
        };
        let loopback = settings.host.is_loopback();
        let auth = Authenticator::new(self.spec, &settings.auth, loopback)?;
        if auth.dev {
            tracing::warn!(
                "no SVCC_JWT_SECRET or SVCC_JWT_PUBLIC_KEY: accepting tokens signed with the development secret (loopback only); mint one with the `token` subcommand"
            );
        }
        let credential = Arc::new(credential(self.spec.name, settings));
        let clients = Arc::new(
            Clients::new(&self.calls, self.spec.resilience, &settings.service_urls)
                .with_credential(credential.clone()),
        );
        let schemas: Value = serde_json::from_str(self.spec.schemas)
            .map_err(|e| format!("embedded schemas: {e}"))?;
        let plans = self
            .spec
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
        let app = Arc::new(App {
            spec: self.spec,
            settings: settings.clone(),
            auth,
            metrics: Metrics::new(self.spec.name),
            idempotency: Store::default(),
            sink: self.sink,
            clients,
            health: self.health,
            plan_limits: plans,
            store: store.clone(),
        });
        let mut dispatcher = store
            .as_ref()
            .map(|store| dispatcher(&app, store, self.subscriptions));
        let transitions: HashMap<&'static str, TransitionFn> = self
            .transitions
            .iter()
            .map(|(spec, f)| (spec.name, f.clone()))
            .collect();
        let coordinator = match (&store, &mut dispatcher) {
            (Some(store), Some(d)) if !self.sagas.is_empty() => {
                let binder = saga_binder(
                    &app,
                    store,
                    settings,
                    credential.clone(),
                    transitions.clone(),
                );
                let mut c = crate::durable::Coordinator::new(store.clone());
                for saga in self.sagas {
                    let missing = binder.missing(&saga);
                    if missing.is_empty() {
                        c = c.with_saga(binder.bind(saga));
                    } else {
                        tracing::warn!(
                            saga = %saga.name,
                            missing = %missing.join(", "),
                            "saga not coordinated by this process: its steps call services it cannot reach; set what is missing to run it"
                        );
                    }
                }
                if c.is_empty() {
                    None
                } else {
                    let c = Arc::new(c);
                    c.subscribe(d, RetryPolicy::default());
                    Some(c)
                }
            }
            _ => None,
        };
        let scheduler = match &store {
            Some(store) if !self.jobs.is_empty() => Some(scheduler(&app, store, self.jobs)?),
            _ => None,
        };
        let mut by_path: BTreeMap<&'static str, Vec<(&'static RouteSpec, Handler)>> =
            BTreeMap::new();
        for (spec, handler) in self.routes.into_iter().chain(transition_routes(
            self.spec,
            store.is_some(),
            &self.transitions,
        )) {
            by_path.entry(spec.path).or_default().push((spec, handler));
        }
        let declared_sagas = by_path.contains_key("/sagas/{id}");
        let mut router = axum::Router::new();
        let mut declared_builtin = (false, false);
        for (path, routes) in by_path {
            declared_builtin.0 |= path == "/health";
            declared_builtin.1 |= path == "/metrics";
            let mut allow: Vec<&str> = routes.iter().map(|(s, _)| s.method).collect();
            if allow.contains(&"GET") && !allow.contains(&"HEAD") {
                allow.push("HEAD");
            }
            allow.sort_unstable();
            let allow = allow.join(", ");
            let mut mr: MethodRouter = MethodRouter::new();
            for (spec, handler) in routes {
                let validator = match spec.body {
                    Some(b) => Some(Arc::new(compile(&schemas, b.schema)?)),
                    None => None,
                };
                let entry = Arc::new(Entry {
                    spec,
                    handler,
                    limiter: spec
                        .rate_limit
                        .as_ref()
                        .and_then(|r| Limiter::for_route(r, spec.operation)),
                    validator,
                    metrics: RouteMetrics::new(spec.operation, spec.method, spec.path, spec.status),
                });
                let filter = method_filter(spec.method)
                    .ok_or_else(|| format!("unsupported method {}", spec.method))?;
                let app = app.clone();
                mr = mr.on(filter, move |req: axum::extract::Request| {
                    dispatch(app.clone(), entry.clone(), req)
                });
            }
            let app405 = app.clone();
            mr = mr.fallback(move |req: axum::extract::Request| {
                let allow = allow.clone();
                let app = app405.clone();
                async move {
                    let p = Problem::new(405, "method-not-allowed", "Method not allowed")
                        .with_detail(format!(
                            "{} is not served on {}; allowed: {allow}",
                            req.method(),
                            req.uri().path()
                        ))
                        .with_header("allow", allow);
                    app.metrics
                        .record("-", method_label(req.method()), path, 405, 0.0);
                    problem_response(&p, &request_id(req.headers()))
                }
            });
            router = router.route(path, mr);
        }
        if let Some(store) = store
            .clone()
            .filter(|_| coordinator.is_some() && !declared_sagas)
        {
            let app = app.clone();
            router = router.route(
                "/sagas/{id}",
                axum::routing::get(move |req: axum::extract::Request| {
                    saga_history(app.clone(), store.clone(), req)
                }),
            );
        }
        if !declared_builtin.0 {
            let app = app.clone();
            router = router.route("/health", axum::routing::get(move || health(app.clone())));
        }
        if !declared_builtin.1 {
            let app = app.clone();
            router = router.route(
                "/metrics",
                axum::routing::get(move || {
                    let app = app.clone();
                    async move {
                        let mut r = Response::new(Body::from(app.metrics.render()));
                        r.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            HeaderValue::from_static(
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            ),
                        );
                        r
                    }
                }),
            );
        }
        let app404 = app.clone();
        router = router.fallback(move |req: axum::extract::Request| {
            let app = app404.clone();
            async move {
                app.metrics
                    .record("-", method_label(req.method()), "-", 404, 0.0);
                let p = Problem::not_found(format!("no route matches {}", req.uri().path()));
                problem_response(&p, &request_id(req.headers()))
            }
        });
        if !settings.cors_origins.is_empty() {
            // Only a real preflight (OPTIONS with `Origin` and
            // `Access-Control-Request-Method`) is answered by CORS; any
            // other OPTIONS request is routed like every request (a
            // declared OPTIONS route, 405 or 404), not a blanket 200.
            let plain = router.clone();
            let with_cors = router.layer(cors(&settings.cors_origins));
            router = axum::Router::new().fallback_service(tower::service_fn(
                move |req: axum::extract::Request| {
                    let h = req.headers();
                    let preflight = h.contains_key(http::header::ORIGIN)
                        && h.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD);
                    let service = if req.method() == http::Method::OPTIONS && !preflight {
                        plain.clone()
                    } else {
                        with_cors.clone()
                    };
                    tower::ServiceExt::oneshot(service, req)
                },
            ));
        }
        Ok(Built {
            router,
            store,
            dispatcher,
            scheduler,
            coordinator,
        })
    }
}

/// Who this service calls others as: `SVCC_SERVICE_TOKEN`, else a token
/// minted with its HS256 secret (the development secret on loopback) and
/// the issuer and audience it requires; none when it verifies with a
/// public key and no token is given.
fn credential(name: &str, settings: &Settings) -> crate::client::Credential {
    use crate::auth::{JwtKey, Registered};
    use crate::client::Credential;
    let registered = Registered::of(&settings.auth);
    match (&settings.service_token, &settings.auth.jwt_key) {
        (Some(token), _) => Credential::Fixed(token.clone()),
        (None, Some(JwtKey::Secret(secret))) => Credential::mint(secret.clone(), registered, name),
        (None, None) if settings.host.is_loopback() => {
            Credential::mint(crate::auth::DEV_SECRET.to_string(), registered, name)
        }
        _ => Credential::None,
    }
}

/// What binds this service's sagas: its address, the other services'
/// URLs, the credential of its calls, its own transitions.
fn saga_binder(
    app: &Arc<App>,
    store: &crate::durable::Store,
    settings: &Settings,
    credential: Arc<crate::client::Credential>,
    transitions: HashMap<&'static str, TransitionFn>,
) -> crate::sagas::Binder {
    let name = app.spec.name;
    let host = match settings.host {
        h if h.is_unspecified() && h.is_ipv4() => IpAddr::from([127, 0, 0, 1]),
        h if h.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        h => h,
    };
    let ctx_app = app.clone();
    crate::sagas::Binder {
        service: name,
        own_base: format!("http://{}", SocketAddr::new(host, settings.port)),
        urls: settings.service_urls.clone(),
        credential,
        transitions,
        store: store.clone(),
        context: Arc::new(move |operation, key, trace, work| {
            background_context(&ctx_app, operation, key, trace, work)
        }),
        http: reqwest::Client::new(),
    }
}

/// The body of `POST /_svcc/transitions/{name}`: an object with the
/// entity's `id` (the entity itself will do).
const TRANSITION_BODY: &str =
    r#"{"type":"object","required":["id"],"properties":{"id":{"type":["string","integer"]}}}"#;

/// The routes that serve the service's transitions to the project's
/// sagas (only with a database: a transition writes the entity).
fn transition_routes(
    service: &'static ServiceSpec,
    durable: bool,
    transitions: &[(&'static crate::spec::TransitionSpec, TransitionFn)],
) -> Vec<(&'static RouteSpec, Handler)> {
    if !durable {
        return Vec::new();
    }
    transitions
        .iter()
        .map(|(t, f)| {
            // Built once per transition when the service starts.
            let spec: &'static RouteSpec = Box::leak(Box::new(RouteSpec {
                method: "POST",
                path: Box::leak(crate::sagas::transition_path(t.name).into_boxed_str()),
                operation: t.name,
                auth: if service.auth == crate::spec::AuthKind::None {
                    RouteAuth::None
                } else {
                    RouteAuth::Required
                },
                permission: Some(crate::sagas::TRANSITION_PERMISSION),
                owner_field: None,
                rate_limit: None,
                idempotent: true,
                timeout_ms: None,
                cache_seconds: None,
                status: 200,
                body: Some(crate::spec::BodySpec {
                    schema: TRANSITION_BODY,
                    required: true,
                }),
                sensitive: &[],
                deprecated: false,
            }));
            let f = f.clone();
            let handler: Handler = Arc::new(move |ctx, mut req| {
                let f = f.clone();
                Box::pin(async move {
                    let mut v = crate::validate::Violations::new();
                    let body: Option<Value> = req.body(&mut v);
                    v.finish()?;
                    let id = match body.as_ref().and_then(|b| b.get("id")) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Number(n)) => n.to_string(),
                        _ => return Err(Problem::bad_request("the body has no `id`")),
                    };
                    let entity = f(ctx, id).await?;
                    Reply::json(200, &entity)
                })
            });
            (spec, handler)
        })
        .collect()
}

fn open_store(
    path: &std::path::Path,
    durability: Durability,
) -> Result<crate::durable::Store, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    crate::durable::Store::open_with(
        path,
        StoreOptions {
            durability,
            ..StoreOptions::default()
        },
    )
    .map_err(|p| format!("database {}: {p}", path.display()))
}

/// The permission that reads saga histories (`GET /sagas/{id}`): granted
/// by `*` (an admin) or `sagas:read`.
static SAGA_HISTORY: RouteSpec = RouteSpec {
    method: "GET",
    path: "/sagas/{id}",
    operation: "getSaga",
    auth: RouteAuth::Required,
    permission: Some("sagas:read"),
    owner_field: None,
    rate_limit: None,
    idempotent: false,
    timeout_ms: None,
    cache_seconds: None,
    status: 200,
    body: None,
    sensitive: &[],
    deprecated: false,
};

/// `GET /sagas/{id}`: a saga's history (each step's status, attempts,
/// input, output, error and compensation) as JSON. Callers need the
/// `sagas:read` permission when the service authenticates.
async fn saga_history(
    app: Arc<App>,
    store: crate::durable::Store,
    req: axum::extract::Request,
) -> Response {
    let rid = request_id(req.headers());
    // Read before the first await: a request body is not `Sync`.
    let (parts, _) = req.into_parts();
    let answer = async {
        if app.spec.auth != crate::spec::AuthKind::None {
            let caller = app.auth.authenticate(&parts.headers)?.ok_or_else(|| {
                Problem::unauthorized("reading a saga's history needs credentials")
            })?;
            if crate::auth::access(app.spec, &SAGA_HISTORY, &caller) != Some(Access::Full) {
                return Err(Problem::forbidden(
                    "reading a saga's history needs the sagas:read permission",
                ));
            }
        }
        let id = parts
            .uri
            .path()
            .rsplit('/')
            .next()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .ok_or_else(|| Problem::bad_request("a saga id is a UUID"))?;
        let record = crate::durable::saga::saga(&store, id).await?;
        Reply::json(200, &record)
    }
    .await;
    match answer {
        Ok(reply) => {
            let mut r = Response::new(Body::from(reply.body.unwrap_or_default()));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(p) => problem_response(&p, &rid),
    }
}

/// The service's scheduler: each job runs as a unit of work of its own
/// (its writes and events commit when it returns `Ok`), under its
/// `timeout:` (5 minutes when the manifest sets none), once per scheduled
/// time across the processes that share the database.
fn scheduler(
    app: &Arc<App>,
    store: &crate::durable::Store,
    jobs: Vec<(&'static crate::spec::JobSpec, JobHandler)>,
) -> Result<crate::durable::Scheduler, String> {
    let mut scheduler = crate::durable::Scheduler::new(store.clone());
    for (spec, handler) in jobs {
        let name = format!("{}/{}", app.spec.name, spec.name);
        let mut job = crate::durable::JobSpec::new(name, spec.cron)
            .map_err(|e| format!("job {}: schedule `{}`: {e}", spec.name, spec.schedule))?;
        if let Some(ms) = spec.timeout_ms {
            job = job.timeout(Duration::from_millis(ms));
        }
        let (app, store) = (app.clone(), store.clone());
        scheduler.add(job, move |run| {
            let work = Arc::new(Work::new(store.clone()));
            let trace = Trace::from_header(None);
            let ctx =
                background_context(&app, spec.name, run.idempotency_key.clone(), trace, &work);
            let handler = handler.clone();
            async move {
                let mut unit = Unit(Some(work));
                handler(ctx).await?;
                match unit.0.take() {
                    Some(work) => work.commit().await,
                    None => Ok(()),
                }
            }
        });
    }
    Ok(scheduler)
}

/// The context of work no caller asked for (an event delivery, a job run,
/// a saga's step): full access, a span in `trace` (the trace of the request
/// that caused it, where there is one), and its unit of work.
fn background_context(
    app: &App,
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
        events: app.sink.clone(),
        clients: app.clients.clone(),
        sensitive: &[],
        work: Some(work.clone()),
    })
}

/// The service's dispatcher: each subscription's handler runs inside the
/// delivery's transaction (its writes, the events it publishes and the
/// inbox mark commit together) under a context of its own.
fn dispatcher(
    app: &Arc<App>,
    store: &crate::durable::Store,
    subscriptions: Vec<(&'static SubscriptionSpec, EventHandler)>,
) -> Dispatcher {
    let mut d = Dispatcher::new(store.clone(), app.spec.name)
        .with_handler_timeout(app.settings.request_timeout);
    for (spec, handler) in subscriptions {
        let (app, store) = (app.clone(), store.clone());
        d.subscribe(
            spec.event,
            spec.handler,
            RetryPolicy::from_spec(spec.retry, spec.dead_letter),
            move |tx, event| {
                let work = Arc::new(Work::within(store.clone(), tx));
                let trace = Trace::continuing(event.trace_id.as_deref());
                let ctx =
                    background_context(&app, spec.handler, event.id.to_string(), trace, &work);
                let handler = handler.clone();
                async move {
                    handler(ctx, event).await?;
                    work.flush().await
                }
            },
        );
    }
    d
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

fn method_filter(m: &str) -> Option<MethodFilter> {
    Some(match m {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        "HEAD" => MethodFilter::HEAD,
        "OPTIONS" => MethodFilter::OPTIONS,
        _ => return None,
    })
}

struct App {
    spec: &'static ServiceSpec,
    settings: Settings,
    auth: Authenticator,
    metrics: Metrics,
    idempotency: Store,
    sink: Arc<dyn EventSink>,
    clients: Arc<Clients>,
    health: Option<HealthCheck>,
    plan_limits: HashMap<&'static str, Limiter>,
    store: Option<crate::durable::Store>,
}

struct Entry {
    spec: &'static RouteSpec,
    handler: Handler,
    limiter: Option<Limiter>,
    validator: Option<Arc<jsonschema::Validator>>,
    metrics: RouteMetrics,
}

/// `X-Request-Id`, parsed once (a `&str` name is parsed on every use).
const X_REQUEST_ID: http::header::HeaderName =
    http::header::HeaderName::from_static("x-request-id");

/// `traceparent` (W3C Trace Context), parsed once.
const TRACEPARENT: http::header::HeaderName = http::header::HeaderName::from_static("traceparent");

/// The request id: the client's `X-Request-Id` when it is sane, else a new UUID.
fn request_id(headers: &HeaderMap) -> String {
    request_id_from(headers.get(X_REQUEST_ID))
}

/// [`request_id`] from the header's first value, if any.
fn request_id_from(header: Option<&HeaderValue>) -> String {
    header
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(
            || {
                let mut buf = uuid::Uuid::encode_buffer();
                // (`String::from`: `to_string` would go through `Display`)
                String::from(
                    &*crate::logging::new_uuid()
                        .hyphenated()
                        .encode_lower(&mut buf),
                )
            },
            str::to_string,
        )
}

/// The client's address: the socket's peer, or behind a trusted proxy the
/// last `X-Forwarded-For` entry, the one that proxy appended. Entries
/// before it are whatever the client wrote and prove nothing.
fn client_ip(app: &App, req: &http::request::Parts) -> String {
    if app.settings.trust_proxy
        && let Some(last) = req
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return last.to_string();
    }
    req.extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

fn problem_response(p: &Problem, request_id: &str) -> Response {
    let mut r = Response::new(Body::from(p.body()));
    *r.status_mut() = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    for (k, v) in &p.headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.append(*k, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(X_REQUEST_ID, v);
    }
    r
}

/// What the pipeline produced before headers common to all answers.
struct Outcome {
    status: u16,
    content_type: &'static str,
    body: bytes::Bytes,
    headers: Vec<(&'static str, String)>,
}

impl Outcome {
    fn problem(mut p: Problem) -> Self {
        Outcome {
            status: p.status,
            content_type: "application/problem+json",
            body: bytes::Bytes::from(p.body()),
            headers: std::mem::take(&mut p.headers),
        }
    }
}

/// What the pipeline knows of a request that its answer and log line
/// need: the ids and the caller until the handler's context takes them,
/// then the context (so that none of them is copied).
struct Seen {
    ids: Option<(String, Trace)>,
    caller: Option<Caller>,
    ctx: Option<Context>,
}

impl Seen {
    fn request_id(&self) -> &str {
        match (&self.ctx, &self.ids) {
            (Some(c), _) => c.request_id(),
            (None, Some((rid, _))) => rid,
            (None, None) => "",
        }
    }

    fn trace(&self) -> Option<&Trace> {
        match (&self.ctx, &self.ids) {
            (Some(c), _) => Some(c.trace()),
            (None, ids) => ids.as_ref().map(|(_, t)| t),
        }
    }

    fn subject(&self) -> Option<&str> {
        match &self.ctx {
            Some(c) => c.subject(),
            None => self.caller.as_ref().map(|c| c.subject.as_str()),
        }
    }
}

async fn dispatch(app: Arc<App>, entry: Arc<Entry>, req: axum::extract::Request) -> Response {
    let start = Instant::now();
    let (mut parts, body) = req.into_parts();
    // The two headers of ours in one pass (each `get` hashes the name;
    // a request has a few headers): their first values, as `get` gives.
    let (mut client_id, mut traceparent) = (None, None);
    for (name, value) in &parts.headers {
        if *name == X_REQUEST_ID {
            client_id = client_id.or(Some(value));
        } else if *name == TRACEPARENT {
            traceparent = traceparent.or(Some(value));
        }
    }
    let rid = request_id_from(client_id);
    let trace = Trace::from_header(traceparent.and_then(|v| v.to_str().ok()));
    let mut seen = Seen {
        ids: Some((rid, trace)),
        caller: None,
        ctx: None,
    };
    let mut extra: Vec<(&'static str, String)> = Vec::new();
    let outcome = match pipeline(&app, &entry, &mut parts, body, &mut seen, &mut extra).await {
        Ok(o) => o,
        Err(p) => Outcome::problem(p),
    };
    let spec = entry.spec;
    let has_body = !outcome.body.is_empty();
    let mut r = Response::new(Body::from(outcome.body));
    *r.status_mut() =
        StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    if has_body {
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(outcome.content_type),
        );
    }
    for (k, v) in extra.iter().chain(outcome.headers.iter()) {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(*k, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(seen.request_id()) {
        h.insert(X_REQUEST_ID, v);
    }
    if let Some(secs) = spec.cache_seconds
        && (200..300).contains(&outcome.status)
    {
        let scope = if spec.auth == RouteAuth::None {
            "public"
        } else {
            "private"
        };
        if let Ok(v) = HeaderValue::from_str(&format!("{scope}, max-age={secs}")) {
            h.insert(http::header::CACHE_CONTROL, v);
        }
    }
    if spec.deprecated {
        h.insert("deprecation", HeaderValue::from_static("true"));
    }
    let elapsed = start.elapsed();
    app.metrics
        .record_route(&entry.metrics, outcome.status, elapsed.as_secs_f64());
    let trace = seen.trace();
    crate::logging::RequestLine {
        request_id: seen.request_id(),
        trace_id: trace.map_or("", |t| &t.trace_id),
        span_id: trace.map_or("", |t| &t.span_id),
        method: parts.method.as_str(),
        path: parts.uri.path(),
        route: spec.path,
        operation: spec.operation,
        status: outcome.status,
        caller: seen.subject().unwrap_or("-"),
        latency_ms: elapsed.as_secs_f64() * 1000.0,
    }
    .log();
    r
}

/// Everything between the request's ids and its answer's headers, metrics
/// and log line (see the module's documentation for the order). The
/// request's head stays with the caller ([`dispatch`] logs its method and
/// path); its headers move into the [`Request`] the handler gets.
async fn pipeline(
    app: &Arc<App>,
    entry: &Arc<Entry>,
    parts: &mut http::request::Parts,
    body: Body,
    seen: &mut Seen,
    extra: &mut Vec<(&'static str, String)>,
) -> Result<Outcome, Problem> {
    let spec = entry.spec;
    // Only rate limits and idempotency keys need the client's address.
    let ip = if entry.limiter.is_some() || spec.idempotent {
        client_ip(app, parts)
    } else {
        String::new()
    };
    // 1. who is calling
    seen.caller = if spec.auth == RouteAuth::None {
        None
    } else {
        app.auth.authenticate(&parts.headers)?
    };
    let caller = seen.caller.as_ref();
    if caller.is_none()
        && (spec.auth == RouteAuth::Required
            || (spec.auth == RouteAuth::Optional && spec.permission.is_some()))
    {
        let scheme = match app.spec.auth {
            crate::spec::AuthKind::ApiKey => "send an `X-API-Key` header",
            _ => "send `Authorization: Bearer <token>`",
        };
        return Err(Problem::unauthorized(format!(
            "{} needs credentials: {scheme}",
            spec.operation
        ))
        .with_header("www-authenticate", crate::auth::challenge(app.spec.auth)));
    }
    // (a reference-counted copy of the header)
    let authorization = caller
        .filter(|_| app.spec.auth == crate::spec::AuthKind::Jwt)
        .and_then(|_| parts.headers.get(http::header::AUTHORIZATION))
        .cloned();
    // 2. may it
    let access = match caller {
        Some(c) => crate::auth::access(app.spec, spec, c).ok_or_else(|| {
            Problem::forbidden(format!(
                "no role of the caller grants `{}`",
                spec.permission.unwrap_or(spec.operation)
            ))
        })?,
        None => Access::Full,
    };
    if access == Access::Own && spec.owner_field.is_none() {
        return Err(Problem::forbidden(format!(
            "the caller may only act on what it owns, and {} has no owner field",
            spec.operation
        )));
    }
    // 3. pricing plan (for customers: another service of the project,
    // calling with the role `service` and no plan, is not metered)
    if !app.spec.plans.is_empty()
        && let Some(c) = caller
        && !(c.plan.is_none() && c.roles.iter().any(|r| r == crate::sagas::SERVICE_ROLE))
    {
        let plan = c
            .plan
            .as_deref()
            .and_then(|name| app.spec.plans.iter().find(|p| p.name == name))
            .ok_or_else(|| {
                Problem::forbidden("the caller's credential names no plan of this service")
            })?;
        if !plan
            .features
            .iter()
            .any(|f| *f == "*" || *f == spec.operation)
        {
            return Err(Problem::forbidden(format!(
                "the {} plan does not include {}",
                plan.name, spec.operation
            )));
        }
        if let Some(l) = app.plan_limits.get(plan.name) {
            l.check(format!("{}:{}", plan.name, c.subject))?;
        }
    }
    // 4. rate limit
    if let Some(l) = &entry.limiter {
        extra.extend(l.check(l.key(caller, &ip))?);
    }
    // 5. decode
    let path_params = match axum::RequestPartsExt::extract::<RawPathParams>(parts).await {
        Ok(p) => p
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Err(_) => return Err(Problem::bad_request("a path parameter is not valid UTF-8")),
    };
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(body, app.settings.max_body)
        .await
        .map_err(|_| {
            Problem::new(413, "content-too-large", "Content too large").with_detail(format!(
                "the body is larger than {} bytes",
                app.settings.max_body
            ))
        })?;
    let mut request = Request {
        path: path_params,
        query,
        headers: std::mem::take(&mut parts.headers),
        body: None,
        body_violations: Vec::new(),
        raw: None,
        schema: None,
    };
    if let Some(b) = spec.body {
        decode_body(&mut request, &bytes, b.required, entry.validator.as_ref())?;
    }
    if app.settings.log_bodies
        && request.raw.is_some()
        && let Ok(mut v) = serde_json::from_slice::<Value>(&bytes)
    {
        crate::logging::redact(&mut v, spec.sensitive);
        tracing::info!(request_id = %seen.request_id(), body = %v, "request body");
    }
    // 6. idempotency
    let idem_key = if spec.idempotent {
        request
            .headers
            .get("idempotency-key")
            .map(|v| v.to_str().map(str::to_string).unwrap_or_default())
    } else {
        None
    };
    let mut guard = None;
    // With a database: (scope, key, fingerprint) of an answer to commit
    // with the operation.
    let mut remember = None;
    if let Some(key) = &idem_key {
        let scope = format!(
            "{}:{}",
            spec.operation,
            seen.caller
                .as_ref()
                .map_or_else(|| format!("ip:{ip}"), |c| format!("user:{}", c.subject))
        );
        let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
        // (boxed, as every await off the common path: the request's future
        // would otherwise be as large as the largest of them)
        match Box::pin(
            app.idempotency
                .claim(&scope, key, &[target.as_bytes(), &bytes]),
        )
        .await?
        {
            Claim::Replay(stored) => {
                extra.push(("idempotent-replayed", "true".into()));
                return Ok(Outcome {
                    status: stored.status,
                    content_type: stored.content_type,
                    body: stored.body,
                    headers: stored.headers,
                });
            }
            Claim::Run(mut g) => {
                // Not in memory: an answer committed before a restart?
                if let Some(store) = &app.store {
                    let fp = crate::idempotency::fingerprint(&[target.as_bytes(), &bytes]);
                    match Box::pin(crate::durable::keys::answer(store, &scope, key)).await? {
                        Some(a) if a.fingerprint == fp => {
                            let stored = Stored {
                                status: a.status,
                                content_type: "application/json",
                                body: a.body.into(),
                                headers: Vec::new(),
                            };
                            *g = Some(stored.clone());
                            extra.push(("idempotent-replayed", "true".into()));
                            return Ok(Outcome {
                                status: stored.status,
                                content_type: stored.content_type,
                                body: stored.body,
                                headers: stored.headers,
                            });
                        }
                        Some(_) => {
                            drop(g);
                            app.idempotency.forget(&scope, key);
                            return Err(crate::idempotency::reused());
                        }
                        None => remember = Some((scope, key.clone(), fp)),
                    }
                }
                guard = Some(g);
            }
        }
    }
    // 7. the handler, under its timeout; the context takes the ids and the
    // caller (only this takes them, so they are there)
    let (request_id, trace) = seen
        .ids
        .take()
        .unwrap_or_else(|| (String::new(), Trace::from_header(None)));
    let ctx = Context::new(ContextParts {
        operation: spec.operation,
        request_id,
        trace,
        caller: seen.caller.take(),
        authorization,
        access,
        events: app.sink.clone(),
        clients: app.clients.clone(),
        sensitive: spec.sensitive,
        work: app.store.clone().map(|s| Arc::new(Work::new(s))),
    });
    // Whatever happens from here on (an error, a timeout, a panic, a
    // refused output), the operation's transaction is rolled back unless
    // it is committed below.
    seen.ctx = Some(ctx.clone());
    let mut unit = Unit(ctx.work().cloned());
    let timeout = spec
        .timeout_ms
        .map_or(app.settings.request_timeout, Duration::from_millis);
    // A panicking handler is a 500 answer, not a connection closed without
    // one (and the idempotency key it held is released): while its future
    // is made, and while it runs. (Made first, so that the request is
    // moved into it rather than kept beside it in this future.)
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (entry.handler)(ctx.clone(), request)
    }));
    let panicked = |panic: Box<dyn std::any::Any + Send>| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Problem::internal(format!("{} panicked: {message}", spec.operation))
    };
    let result = match run {
        Err(panic) => Err(panicked(panic)),
        Ok(run) => match within(
            timeout,
            futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run)),
        )
        .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(panic)) => Err(panicked(panic)),
            Err(_) => Err(
                Problem::new(504, "timeout", "The operation timed out").with_detail(format!(
                    "{} did not finish within {} ms",
                    spec.operation,
                    timeout.as_millis()
                )),
            ),
        },
    };
    let outcome = match result {
        Ok(mut reply) => {
            // 8. ownership of what goes out
            if access == Access::Own
                && let (Some(field), Some(body)) = (spec.owner_field, reply.body.as_mut())
            {
                let me = ctx.subject().unwrap_or_default();
                // Subjects are text; an owner field may be a number.
                let owned = |v: &Value| match v.get(field) {
                    Some(Value::String(s)) => s == me,
                    Some(Value::Number(n)) => n.to_string() == me,
                    _ => false,
                };
                let value: Value = serde_json::from_slice(body).map_err(|e| {
                    Problem::internal(format!(
                        "the answer is not JSON, so its owner is unknown: {e}"
                    ))
                })?;
                match value {
                    // a list keeps what the caller owns
                    Value::Array(mut items) => {
                        items.retain(owned);
                        *body = serde_json::to_vec(&items)
                            .map_err(|e| Problem::internal(e.to_string()))?
                            .into();
                    }
                    v if !owned(&v) => {
                        return Err(Problem::forbidden("the caller does not own this resource"));
                    }
                    _ => {}
                }
            }
            let body = reply.body.unwrap_or_default();
            // 9. the operation's writes, its events and the answer to its
            // idempotency key commit together, before the answer is sent
            if let Some(work) = unit.0.take() {
                if let Some((scope, key, fp)) = &remember
                    && (200..300).contains(&reply.status)
                {
                    Box::pin(work.tx()).await?.remember_answer(
                        scope,
                        key,
                        fp,
                        reply.status,
                        &body,
                    )?;
                }
                Box::pin(work.commit()).await?;
            }
            Outcome {
                status: reply.status,
                content_type: "application/json",
                body,
                headers: Vec::new(),
            }
        }
        Err(p) => Outcome::problem(p),
    };
    if let Some(mut g) = guard
        && !crate::idempotency::worth_retrying(outcome.status)
    {
        *g = Some(Stored {
            status: outcome.status,
            content_type: outcome.content_type,
            body: outcome.body.clone(),
            headers: outcome.headers.clone(),
        });
    }
    Ok(outcome)
}

/// `fut` under a timeout of `limit` from now, as `tokio::time::timeout`
/// (which also polls the future before its timer), except that the timer
/// is only set when that first poll does not finish it: most handlers
/// answer without waiting, and registering and dropping a timer entry is
/// work they would do for nothing. The deadline is the same either way.
async fn within<F: Future>(
    limit: Duration,
    fut: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let deadline = tokio::time::Instant::now().checked_add(limit);
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
    if let std::task::Poll::Ready(out) = first {
        return Ok(out);
    }
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, fut).await,
        // too far to count: never
        None => Ok(fut.await),
    }
}

#[cfg(test)]
mod within_tests {
    use super::within;
    use std::time::Duration;

    #[tokio::test]
    async fn a_timeout_as_tokio_counts_it() {
        // done at once: no timer, even with no time at all
        assert_eq!(within(Duration::ZERO, async { 1 }).await.ok(), Some(1));
        // waits, and finishes in time
        let late = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            2
        };
        assert_eq!(within(Duration::from_secs(5), late).await.ok(), Some(2));
        // waits too long
        let never = std::future::pending::<()>();
        let started = std::time::Instant::now();
        assert!(within(Duration::from_millis(50), never).await.is_err());
        assert!(started.elapsed() >= Duration::from_millis(50));
        // a limit past the clock's range never elapses
        let soon = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            3
        };
        assert_eq!(within(Duration::MAX, soon).await.ok(), Some(3));
    }
}

/// The unit of work of a request, rolled back when dropped uncommitted.
struct Unit(Option<Arc<Work>>);

impl Drop for Unit {
    fn drop(&mut self) {
        if let Some(work) = self.0.take() {
            work.abort_now();
        }
    }
}

/// Checks that a body is there when required and is JSON by its
/// content type, and hands the bytes and the route's schema to the
/// [`Request`]: the route function decodes them (see [`Request::body_checked`]).
fn decode_body(
    request: &mut Request,
    bytes: &bytes::Bytes,
    required: bool,
    validator: Option<&Arc<jsonschema::Validator>>,
) -> Result<(), Problem> {
    let content_type = request
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // (the usual spelling first, without taking the value apart)
    let json = content_type == "application/json" || {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        essence.is_empty()
            || essence.eq_ignore_ascii_case("application/json")
            || essence
                .len()
                .checked_sub(5)
                .and_then(|i| essence.get(i..))
                .is_some_and(|end| end.eq_ignore_ascii_case("+json"))
    };
    if bytes.is_empty() {
        if required {
            request.body_violations.push(crate::validate::Violation {
                location: "body",
                pointer: String::new(),
                detail: "a JSON body is required".into(),
            });
        }
        return Ok(());
    }
    if !json {
        return Err(
            Problem::new(415, "unsupported-media-type", "Unsupported media type").with_detail(
                format!("the body must be application/json, not {content_type}"),
            ),
        );
    }
    request.raw = Some(bytes.clone());
    request.schema = validator.cloned();
    Ok(())
}

/// How long one health check may take before it counts as failing.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

async fn health(app: Arc<App>) -> Response {
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    // All at once, each bounded: a hanging dependency makes /health say
    // so instead of hanging the probe.
    let results = futures_util::future::join_all(app.spec.health_checks.iter().map(|name| {
        let app = app.clone();
        async move {
            let check = async {
                if app.clients.knows(name) {
                    app.clients.ping(name).await
                } else if let Some(f) = &app.health {
                    f(name).await
                } else {
                    Ok(())
                }
            };
            tokio::time::timeout(HEALTH_CHECK_TIMEOUT, check)
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "no answer within {} s",
                        HEALTH_CHECK_TIMEOUT.as_secs()
                    ))
                })
        }
    }))
    .await;
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
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    r
}

/// How often an idle dispatcher looks at the outbox for events that
/// another process committed (its own commits wake it at once).
const DISPATCH_IDLE_MS: u64 = 200;

/// How often the job scheduler looks for runs that another process
/// abandoned (it wakes for each scheduled time on its own).
const JOBS_POLL: Duration = Duration::from_secs(5);

/// How often what the retention period no longer needs is deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How often the saga coordinator looks for sagas to resume (a saga that
/// starts wakes it at once).
const SAGAS_POLL: Duration = Duration::from_secs(1);

/// Serves until SIGTERM or ctrl-c, then finishes the requests in flight.
pub async fn serve(service: Service, settings: Settings) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind((settings.host, settings.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", settings.host, settings.port))?;
    serve_on(service, settings, listener, shutdown_signal()).await
}

/// Serves on a listener already bound (tests bind `127.0.0.1:0`) until
/// `shutdown` completes, then stops accepting connections and returns once
/// every request in flight has been answered. `settings.host` and
/// `settings.port` are replaced by the listener's address (the development
/// JWT secret is allowed when it is a loopback address).
pub async fn serve_on<F>(
    service: Service,
    mut settings: Settings,
    listener: tokio::net::TcpListener,
    shutdown: F,
) -> Result<(), String>
where
    F: Future<Output = ()> + Send + 'static,
{
    let name = service.spec.name;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    settings.host = address.ip();
    settings.port = address.port();
    let built = service.build(&settings)?;
    if let Some(store) = &built.store {
        tracing::info!(service = name, database = %store.path().display(), "database open");
    }
    // The dispatcher runs beside the server and stops after it: requests
    // in flight finish (and commit their events) first, then the pass in
    // progress ends.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let events = built.dispatcher.map(|d| {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            d.run(DISPATCH_IDLE_MS, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
        })
    });
    let pruning = match (&built.store, settings.retention) {
        (Some(store), Some(keep)) => {
            let (store, mut stopped) = (store.clone(), stopped.clone());
            Some(tokio::spawn(async move {
                loop {
                    let before = crate::durable::now_ms()
                        - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
                    match crate::durable::prune::prune(&store, before).await {
                        Ok(p) if p != Default::default() => tracing::info!(
                            events = p.events,
                            inbox = p.inbox,
                            sagas = p.sagas,
                            job_runs = p.job_runs,
                            "pruned what is older than the retention period"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "pruning failed"),
                    }
                    tokio::select! {
                        _ = stopped.wait_for(|s| *s) => return,
                        () = tokio::time::sleep(PRUNE_EVERY) => {}
                    }
                }
            }))
        }
        _ => None,
    };
    let sagas = built.coordinator.map(|c| {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            c.run(SAGAS_POLL, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
        })
    });
    let jobs = built.scheduler.map(|s| {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            std::sync::Arc::new(s)
                .run(JOBS_POLL, async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        })
    });
    tracing::info!(service = name, address = %address, "listening");
    let served = axum::serve(
        listener,
        built
            .router
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| e.to_string());
    let _ = stop.send(true);
    for task in [events, jobs, sagas, pruning].into_iter().flatten() {
        let _ = task.await;
    }
    served?;
    tracing::info!(
        service = name,
        "stopped: every request in flight was answered"
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::JwtKey;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn settings_from_variables() {
        let s = Settings::from_vars(vars(&[
            ("PORT", "9000"),
            ("SVCC_JWT_SECRET", "s3cret"),
            ("SVCC_JWT_ISSUER", "https://id.example"),
            ("SVCC_API_KEYS", "k1=alice:admin+ops:pro;k2=bob"),
            ("SVCC_INVENTORY_SERVICE_URL", "http://127.0.0.1:8081/"),
            ("SVCC_CORS_ORIGINS", "https://a.example, https://b.example"),
            ("SVCC_TRUST_PROXY", "1"),
        ]));
        let Ok(s) = s else { panic!("{s:?}") };
        assert_eq!(s.port, 9000);
        assert_eq!(s.auth.jwt_key, Some(JwtKey::Secret("s3cret".into())));
        assert_eq!(s.auth.jwt_issuer.as_deref(), Some("https://id.example"));
        assert_eq!(s.auth.api_keys.len(), 2);
        assert_eq!(s.auth.api_keys[0].roles, ["admin", "ops"]);
        assert_eq!(s.auth.api_keys[0].plan.as_deref(), Some("pro"));
        assert_eq!(
            s.service_urls.get("inventory-service").map(String::as_str),
            Some("http://127.0.0.1:8081/")
        );
        assert_eq!(s.cors_origins.len(), 2);
        assert!(s.trust_proxy);
        // secrets stay out of debug output
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(!format!("{s:?}").contains("k1"));
    }

    #[test]
    fn bad_values_and_missing_files_are_errors() {
        assert!(Settings::from_vars(vars(&[("PORT", "eighty")])).is_err());
        assert!(
            Settings::from_vars(vars(&[(
                "SVCC_JWT_PUBLIC_KEY_FILE",
                "/nonexistent/svcc/key.pem"
            )]))
            .is_err()
        );
        assert!(Settings::from_vars(vars(&[("SVCC_API_KEYS", "=alice")])).is_err());
        let Ok(d) = Settings::from_vars(Vec::new()) else {
            panic!("defaults")
        };
        assert_eq!(d.port, 8080);
        assert_eq!(d.auth, AuthConfig::default());
    }

    #[test]
    fn key_files_are_read() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        let file = dir.path().join("keys.json");
        let _ = std::fs::write(
            &file,
            r#"[{"key": "abc", "subject": "svc", "roles": ["reader"]}]"#,
        );
        let s = Settings::from_vars(vars(&[(
            "SVCC_API_KEYS_FILE",
            file.to_str().unwrap_or_default(),
        )]));
        let Ok(s) = s else { panic!("{s:?}") };
        assert_eq!(s.auth.api_keys[0].subject, "svc");
        let _ = std::fs::write(&file, r#"[{"key": "", "subject": "svc"}]"#);
        let s = Settings::from_vars(vars(&[(
            "SVCC_API_KEYS_FILE",
            file.to_str().unwrap_or_default(),
        )]));
        assert!(s.is_err(), "an empty key must be refused");
    }
}
