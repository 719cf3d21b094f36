//! A service as generated code describes it to the runtime: its static
//! spec and the functions it registers (routes, event handlers, jobs,
//! sagas, transitions, health checks), before any host builds it.
//!
//! Why it exists: generated crates build one [`Service`] whatever they
//! run on; the pipeline turns its routes into an [`App`](super::app::App)
//! that answers requests, and the native host also runs what it registered
//! for events, sagas and jobs.

use crate::Problem;
use crate::context::Context;
use crate::events::{Event, EventSink, LogSink};
use crate::pipeline::BoxFuture;
use crate::pipeline::settings::Settings;
use crate::request::Request;
use crate::spec::{RouteAuth, RouteSpec, ServiceSpec, SubscriptionSpec};
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

/// A route function: typed decoding, the user's handler, typed encoding.
pub type Handler =
    Arc<dyn Fn(Context, Request) -> BoxFuture<'static, Result<Reply, Problem>> + Send + Sync>;
/// An event handler: typed decoding and the user's handler.
pub type EventHandler =
    Arc<dyn Fn(Context, Event<Value>) -> BoxFuture<'static, Result<(), Problem>> + Send + Sync>;
/// A job's handler.
pub type JobHandler = Arc<dyn Fn(Context) -> BoxFuture<'static, Result<(), Problem>> + Send + Sync>;
/// A transition as generated code registers it: the entity's id to the
/// entity after the transition, as JSON, run in the context's unit of work.
pub type TransitionFn =
    Arc<dyn Fn(Context, String) -> BoxFuture<'static, Result<Value, Problem>> + Send + Sync>;
/// A service's own health checks (`health.checks` that are not services).
pub type HealthCheck =
    Arc<dyn Fn(&'static str) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

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

/// A service ready to be built: its spec and the functions generated code
/// registered.
pub struct Service {
    /// The manifest's description.
    pub spec: &'static ServiceSpec,
    pub(crate) routes: Vec<(&'static RouteSpec, Handler)>,
    pub(crate) health: Option<HealthCheck>,
    pub(crate) calls: Vec<(&'static str, &'static str)>,
    pub(crate) sink: Arc<dyn EventSink>,
    pub(crate) database: Option<PathBuf>,
    pub(crate) subscriptions: Vec<(&'static SubscriptionSpec, EventHandler)>,
    pub(crate) jobs: Vec<(&'static crate::spec::JobSpec, JobHandler)>,
    pub(crate) sagas: Vec<crate::durable::SagaSpec>,
    pub(crate) transitions: Vec<(&'static crate::spec::TransitionSpec, TransitionFn)>,
}

/// `f` with the rule that makes transitions safe to repeat for sagas: an
/// entity already in the transition's target state (which the transition
/// does not leave from) is answered as it is, without a second write or
/// event. A step run again after a crash, or a compensation whose effect
/// someone else already had (a parcel withdrawn when its order was
/// cancelled), then succeeds instead of failing on a 409.
fn settled_transition(
    machine: &'static crate::pipeline::entities::Machine,
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
                    match crate::pipeline::entities::access::get(&ctx, machine.entity, &id).await? {
                        Some(e) => Ok(e.json),
                        None => Err(p),
                    }
                }
                other => other,
            }
        })
    })
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
        machine: &'static crate::pipeline::entities::Machine,
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
}

/// The body of `POST /_svcc/transitions/{name}`: an object with the
/// entity's `id` (the entity itself will do).
const TRANSITION_BODY: &str =
    r#"{"type":"object","required":["id"],"properties":{"id":{"type":["string","integer"]}}}"#;

/// The routes that serve the service's transitions to the project's
/// sagas (only with a database: a transition writes the entity).
pub(crate) fn transition_routes(
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
            let path = Box::leak(crate::spec::transition_path(t.name).into_boxed_str());
            let spec: &'static RouteSpec = Box::leak(Box::new(RouteSpec {
                auth: if service.auth == crate::spec::AuthKind::None {
                    RouteAuth::None
                } else {
                    RouteAuth::Required
                },
                permission: Some(crate::spec::TRANSITION_PERMISSION),
                idempotent: true,
                body: Some(crate::spec::BodySpec {
                    schema: TRANSITION_BODY,
                    required: true,
                }),
                ..RouteSpec::builtin("POST", path, t.name)
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
