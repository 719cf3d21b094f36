//! The native host's server: the pipeline's [`App`] behind axum on tokio,
//! the service's SQLite file opened and migrated, and beside the server
//! what runs without a request (the event dispatcher, the saga
//! coordinator, the job scheduler, retention).
//!
//! Why it exists: everything a request goes through is the pipeline's
//! (`pipeline/`); this is what only a process on one machine does: listen
//! on a socket, stop on SIGTERM after answering the requests in flight,
//! and run the background work on tokio.

use crate::Problem;
use crate::durable::{Dispatcher, RetryPolicy, StoreOptions, Work};
use crate::logging::Trace;
use crate::pipeline::BoxFuture;
use crate::pipeline::app::{App, Body, BodyError, DevSecret, Peer};
use crate::pipeline::service::{EventHandler, JobHandler, Reply, Service};
use crate::pipeline::settings::Settings;
use crate::pipeline::store::{Durability, Store};
use crate::sagas::TransitionFn;
use crate::spec::{RouteAuth, RouteSpec, SubscriptionSpec};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A service's router and, when it has a database, what delivers its
/// events, runs its sagas and fires its jobs (what [`Service::build`]
/// returns).
pub struct Built {
    /// The HTTP side, as axum serves it.
    pub router: axum::Router,
    /// The HTTP side, as the pipeline answers it.
    pub app: Arc<App>,
    /// The database, when the service has one.
    pub store: Option<Store>,
    /// The event side, when the service has a database.
    pub dispatcher: Option<Dispatcher>,
    /// The jobs, when the service has a database and jobs.
    pub scheduler: Option<crate::durable::Scheduler>,
    /// The saga coordinator, when the service has a database and
    /// coordinates sagas.
    pub coordinator: Option<Arc<crate::durable::Coordinator>>,
}

impl Service {
    /// The axum router, with settings and authentication resolved (events
    /// are not delivered: [`serve_on`] runs the dispatcher of [`Service::build`]).
    pub fn router(self, settings: &Settings) -> Result<axum::Router, String> {
        self.build(settings).map(|b| b.router)
    }

    /// The router, the database (opened and migrated), the dispatcher,
    /// the saga coordinator and the job scheduler.
    pub fn build(mut self, settings: &Settings) -> Result<Built, String> {
        let store = match settings.database.as_ref().or(self.database.as_ref()) {
            Some(path) => Some(open_store(path, settings.durability)?),
            None => None,
        };
        // The development secret is allowed on a loopback address only.
        let dev = if settings.host.is_loopback() {
            DevSecret::Allowed
        } else {
            DevSecret::Refused
        };
        let credential = Arc::new(crate::pipeline::app::credential(
            self.spec.name,
            settings,
            dev,
        ));
        let host = crate::native::http::host();
        // Sagas are bound before the app exists (whether any can run here
        // decides whether it serves their history); their in-process
        // steps take their contexts from it once it does.
        let app_slot: Arc<OnceLock<Arc<App>>> = Arc::new(OnceLock::new());
        let sagas = match &store {
            Some(store) if !self.sagas.is_empty() => {
                let transitions: HashMap<&'static str, TransitionFn> = self
                    .transitions
                    .iter()
                    .map(|(spec, f)| (spec.name, f.clone()))
                    .collect();
                let binder = saga_binder(
                    self.spec.name,
                    &app_slot,
                    store,
                    settings,
                    credential.clone(),
                    transitions,
                    host.clone(),
                );
                bind_sagas(&binder, std::mem::take(&mut self.sagas))
            }
            _ => Vec::new(),
        };
        // The history of the sagas it coordinates.
        if let Some(store) = store.clone().filter(|_| !sagas.is_empty())
            && !self.routes.iter().any(|(r, _)| r.path == "/sagas/{id}")
        {
            let route = if self.spec.auth == crate::spec::AuthKind::None {
                &SAGA_HISTORY_OPEN
            } else {
                &SAGA_HISTORY
            };
            self = self.route(route, move |_ctx, req| saga_history(store.clone(), req));
        }
        let app = App::new(&mut self, settings, host, store.clone(), dev, credential)?;
        let _ = app_slot.set(app.clone());
        let mut dispatcher = store
            .as_ref()
            .map(|store| dispatcher(&app, store, std::mem::take(&mut self.subscriptions)));
        let coordinator = match (&store, &mut dispatcher) {
            (Some(store), Some(d)) if !sagas.is_empty() => {
                let mut c = crate::durable::Coordinator::new(store.clone());
                for saga in sagas {
                    c = c.with_saga(saga);
                }
                let c = Arc::new(c);
                c.subscribe(d, RetryPolicy::default());
                Some(c)
            }
            _ => None,
        };
        let scheduler = match &store {
            Some(store) if !self.jobs.is_empty() => {
                Some(scheduler(&app, store, std::mem::take(&mut self.jobs))?)
            }
            _ => None,
        };
        Ok(Built {
            router: router(app.clone()),
            app,
            store,
            dispatcher,
            scheduler,
            coordinator,
        })
    }
}

/// The sagas that can run here, bound; the log says why each other one
/// cannot.
fn bind_sagas(
    binder: &crate::sagas::Binder,
    sagas: Vec<crate::durable::SagaSpec>,
) -> Vec<crate::durable::SagaSpec> {
    let mut bound = Vec::new();
    for saga in sagas {
        let missing = binder.missing(&saga);
        if missing.is_empty() {
            bound.push(binder.bind(saga));
        } else {
            tracing::warn!(
                saga = %saga.name,
                missing = %missing.join(", "),
                "saga not coordinated by this process: its steps call services it cannot reach; set what is missing to run it"
            );
        }
    }
    bound
}

/// axum with one handler: every request goes to the pipeline, with the
/// client's address ([`Service::router`]; [`serve_on`] serves the
/// pipeline without axum's router).
fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(
        move |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
              req: axum::extract::Request| {
            Connection {
                app: app.clone(),
                peer: peer.ip(),
            }
            .answer(req)
        },
    )
}

/// One connection's requests, to the pipeline (hyper serves each
/// connection with a clone of this).
#[derive(Clone)]
struct Connection {
    app: Arc<App>,
    peer: IpAddr,
}

type Answered = futures_util::future::Map<
    BoxFuture<'static, crate::pipeline::app::Response>,
    fn(crate::pipeline::app::Response) -> Result<axum::response::Response, Infallible>,
>;

impl Connection {
    /// A request in axum's types through the pipeline: the head as it
    /// is, the body read when the pipeline asks (a body known to be empty,
    /// most GETs', is not read at all).
    fn answer(&self, req: axum::extract::Request) -> Answered {
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(Peer(self.peer));
        let body = if axum::body::HttpBody::is_end_stream(&body) {
            Body::Bytes(bytes::Bytes::new())
        } else {
            let limit = self.app.max_body();
            Body::Pending(Box::pin(async move {
                axum::body::to_bytes(body, limit).await.map_err(|e| {
                    // `to_bytes` fails for a body over the limit and for a
                    // connection that broke: only the first is the client's
                    // size.
                    let text = e.to_string();
                    if text.contains("length limit") {
                        BodyError::TooLarge
                    } else {
                        BodyError::Failed(text)
                    }
                })
            }))
        };
        futures_util::FutureExt::map(
            self.app.handle(http::Request::from_parts(parts, body)),
            |r| Ok(r.map(axum::body::Body::from)),
        )
    }
}

impl tower::Service<axum::extract::Request> for Connection {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Answered;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::extract::Request) -> Answered {
        self.answer(req)
    }
}

fn open_store(path: &std::path::Path, durability: Durability) -> Result<Store, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    Store::open_with(
        path,
        StoreOptions {
            durability,
            ..StoreOptions::default()
        },
    )
    .map_err(|p| format!("database {}: {p}", path.display()))
}

/// What binds this service's sagas: its address, the other services'
/// URLs, the credential of its calls, its own transitions, and the app
/// its in-process steps take their contexts from (set once built).
fn saga_binder(
    service: &'static str,
    app: &Arc<OnceLock<Arc<App>>>,
    store: &Store,
    settings: &Settings,
    credential: Arc<crate::client::Credential>,
    transitions: HashMap<&'static str, TransitionFn>,
    host: crate::pipeline::host::Host,
) -> crate::sagas::Binder {
    let address = match settings.host {
        h if h.is_unspecified() && h.is_ipv4() => IpAddr::from([127, 0, 0, 1]),
        h if h.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        h => h,
    };
    let app = app.clone();
    crate::sagas::Binder {
        service,
        own_base: format!("http://{}", SocketAddr::new(address, settings.port)),
        urls: settings.service_urls.clone(),
        credential,
        transitions,
        store: store.clone(),
        context: Arc::new(move |operation, key, trace, work| {
            app.get()
                .map(|app| app.background_context(operation, key, trace, work))
                .ok_or_else(|| crate::durable::StepError::retryable("the service is starting"))
        }),
        host,
    }
}

/// `GET /sagas/{id}` of a service that authenticates: callers need the
/// `sagas:read` permission (granted by `*`, an admin's).
static SAGA_HISTORY: RouteSpec = RouteSpec {
    auth: RouteAuth::Required,
    permission: Some("sagas:read"),
    ..RouteSpec::builtin("GET", "/sagas/{id}", "getSaga")
};

/// `GET /sagas/{id}` of a service that does not authenticate.
static SAGA_HISTORY_OPEN: RouteSpec = RouteSpec::builtin("GET", "/sagas/{id}", "getSaga");

/// `GET /sagas/{id}`: a saga's history (each step's status, attempts,
/// input, output, error and compensation) as JSON.
async fn saga_history(store: Store, req: crate::request::Request) -> Result<Reply, Problem> {
    let id = req
        .path
        .iter()
        .find(|(k, _)| k == "id")
        .and_then(|(_, v)| uuid::Uuid::parse_str(v).ok())
        .ok_or_else(|| Problem::bad_request("a saga id is a UUID"))?;
    let record = crate::durable::saga::saga(&store, id).await?;
    Reply::json(200, &record)
}

/// The service's scheduler: each job runs as a unit of work of its own
/// (its writes and events commit when it returns `Ok`), under its
/// `timeout:` (5 minutes when the manifest sets none), once per scheduled
/// time across the processes that share the database.
fn scheduler(
    app: &Arc<App>,
    store: &Store,
    jobs: Vec<(&'static crate::spec::JobSpec, JobHandler)>,
) -> Result<crate::durable::Scheduler, String> {
    let mut scheduler = crate::durable::Scheduler::new(store.clone());
    for (spec, handler) in jobs {
        let name = format!("{}/{}", app.spec().name, spec.name);
        let mut job = crate::durable::JobSpec::new(name, spec.cron)
            .map_err(|e| format!("job {}: schedule `{}`: {e}", spec.name, spec.schedule))?;
        if let Some(ms) = spec.timeout_ms {
            job = job.timeout(Duration::from_millis(ms));
        }
        let (app, store) = (app.clone(), store.clone());
        scheduler.add(job, move |run| {
            let work = Arc::new(Work::new(store.clone()));
            let trace = Trace::from_header(None);
            let ctx = app.background_context(spec.name, run.idempotency_key.clone(), trace, &work);
            let handler = handler.clone();
            async move {
                let mut unit = crate::pipeline::stages::Unit(Some(work));
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

/// The service's dispatcher: each subscription's handler runs inside the
/// delivery's transaction (its writes, the events it publishes and the
/// inbox mark commit together) under a context of its own.
fn dispatcher(
    app: &Arc<App>,
    store: &Store,
    subscriptions: Vec<(&'static SubscriptionSpec, EventHandler)>,
) -> Dispatcher {
    let mut d = Dispatcher::new(store.clone(), app.spec().name)
        .with_handler_timeout(app.settings().request_timeout);
    for (spec, handler) in subscriptions {
        let (app, store) = (app.clone(), store.clone());
        d.subscribe(
            spec.event,
            spec.handler,
            RetryPolicy::from_spec(spec.retry, spec.dead_letter),
            move |tx, event| {
                let work = Arc::new(Work::within(store.clone(), tx));
                let trace = Trace::continuing(event.trace_id.as_deref());
                let ctx = app.background_context(spec.handler, event.id.to_string(), trace, &work);
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
    let app = built.app.clone();
    let connections = tower::service_fn(
        move |s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>| {
            std::future::ready(Ok::<_, Infallible>(Connection {
                app: app.clone(),
                peer: s.remote_addr().ip(),
            }))
        },
    );
    let served = axum::serve(listener, connections)
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
