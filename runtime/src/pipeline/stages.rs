//! The stages one request of a route goes through, in this order:
//!
//! 0. [`Seen::identify`]: the request id (`X-Request-Id`, else a new one)
//!    and the W3C trace (`traceparent`, else a new one);
//! 1. [`authenticate`]: who is calling (401 with `WWW-Authenticate`);
//! 2. [`authorize`]: whether its roles grant the permission, fully or
//!    `:own` (403);
//! 3. [`meter_plan`]: its pricing plan's features and quota (403, 429);
//! 4. [`limit`]: the route's rate limit (429 with `Retry-After`);
//! 5. [`decode`]: path, query and body (413, 415; the route function
//!    then lists every violation in one 400);
//! 6. [`claim`]: `Idempotency-Key` (a stored answer replayed, a reused key
//!    refused with 422, a request with the key in flight waited for);
//! 7. [`call`]: the route function under the route's timeout (504), a
//!    panic answered as a 500;
//! 8. [`finish`]: ownership of what goes out (`:own`), then the
//!    operation's writes, its events and the answer to its key commit
//!    together, before the answer is sent;
//! 9. [`answer`] and [`record`]: the answer's headers, the metrics and
//!    one log line.
//!
//! Why it exists: this is the part of the runtime every request goes
//! through, on both hosts. Each stage is a function of its own so that a
//! reader finds each rule in one place, and so that the common path (no
//! key, no limit, a handler that answers at once) does nothing it does not
//! need: awaits off that path are boxed, so the request's future stays
//! small, and nothing is copied that can be moved.

use crate::Problem;
use crate::auth::{Access, Caller};
use crate::context::{Context, ContextParts};
use crate::idempotency::{Claim, Stored};
use crate::limits::Limiter;
use crate::logging::Trace;
use crate::metrics::RouteMetrics;
use crate::pipeline::app::{App, Body, Peer, Response};
use crate::pipeline::service::{Handler, Reply};
use crate::pipeline::work::Work;
use crate::request::Request;
use crate::spec::{RouteAuth, RouteSpec};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use web_time::Instant;

/// One route as the pipeline serves it: its spec and function, and what
/// is built for it once (its limiter, body validator and metrics).
pub(crate) struct Entry {
    pub spec: &'static RouteSpec,
    pub handler: Handler,
    pub limiter: Option<Limiter>,
    pub validator: Option<Arc<jsonschema::Validator>>,
    pub metrics: RouteMetrics,
}

/// `X-Request-Id`, parsed once (a `&str` name is parsed on every use).
pub(crate) const X_REQUEST_ID: http::header::HeaderName =
    http::header::HeaderName::from_static("x-request-id");

/// `traceparent` (W3C Trace Context), parsed once.
const TRACEPARENT: http::header::HeaderName = http::header::HeaderName::from_static("traceparent");

/// The request id: the client's `X-Request-Id` when it is sane, else a new UUID.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
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

/// What the pipeline produced before headers common to all answers.
pub(crate) struct Outcome {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    pub headers: Vec<(&'static str, String)>,
}

impl Outcome {
    pub(crate) fn problem(mut p: Problem) -> Self {
        Outcome {
            status: p.status,
            content_type: "application/problem+json",
            body: Bytes::from(p.body()),
            headers: std::mem::take(&mut p.headers),
        }
    }

    fn replay(stored: Stored) -> Self {
        Outcome {
            status: stored.status,
            content_type: stored.content_type,
            body: stored.body,
            headers: stored.headers,
        }
    }
}

/// A problem as a whole answer, with the request id.
pub(crate) fn problem_response(p: &Problem, request_id: &str) -> Response {
    let mut r = Response::new(Bytes::from(p.body()));
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

/// What the pipeline knows of a request that its answer and log line
/// need: the ids and the caller until the handler's context takes them,
/// then the context (so that none of them is copied).
pub(crate) struct Seen {
    ids: Option<(String, Trace)>,
    caller: Option<Caller>,
    ctx: Option<Context>,
}

impl Seen {
    /// Stage 0: the request id and the trace, from the two headers of ours
    /// in one pass (each `get` hashes the name; a request has a few
    /// headers): their first values, as `get` gives.
    pub(crate) fn identify(headers: &HeaderMap) -> Seen {
        let (mut client_id, mut traceparent) = (None, None);
        for (name, value) in headers {
            if *name == X_REQUEST_ID {
                client_id = client_id.or(Some(value));
            } else if *name == TRACEPARENT {
                traceparent = traceparent.or(Some(value));
            }
        }
        let rid = request_id_from(client_id);
        let trace = Trace::from_header(traceparent.and_then(|v| v.to_str().ok()));
        Seen {
            ids: Some((rid, trace)),
            caller: None,
            ctx: None,
        }
    }

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

/// A request of one route, through every stage to its answer.
pub(crate) async fn serve(
    app: Arc<App>,
    entry: Arc<Entry>,
    req: http::Request<Body>,
    path: Vec<(String, String)>,
) -> Response {
    let start = Instant::now();
    let (mut parts, body) = req.into_parts();
    let mut seen = Seen::identify(&parts.headers);
    let mut extra: Vec<(&'static str, String)> = Vec::new();
    let outcome = match run(&app, &entry, &mut parts, body, path, &mut seen, &mut extra).await {
        Ok(o) => o,
        Err(p) => Outcome::problem(p),
    };
    let status = outcome.status;
    let response = answer(entry.spec, outcome, &extra, seen.request_id());
    record(&app, &entry, &parts, &seen, status, start.elapsed());
    response
}

/// Stages 1 to 8 (see the module's documentation). The request's head
/// stays with the caller ([`record`] logs its method and path); its
/// headers move into the [`Request`] the route function gets.
async fn run(
    app: &Arc<App>,
    entry: &Arc<Entry>,
    parts: &mut http::request::Parts,
    body: Body,
    path: Vec<(String, String)>,
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
    seen.caller = authenticate(app, spec, &parts.headers)?;
    let caller = seen.caller.as_ref();
    let access = authorize(app, spec, caller)?;
    meter_plan(app, spec, caller)?;
    limit(entry, caller, &ip, extra)?;
    // (a reference-counted copy of the header, relayed to called services)
    let authorization = caller
        .filter(|_| app.spec.auth == crate::spec::AuthKind::Jwt)
        .and_then(|_| parts.headers.get(http::header::AUTHORIZATION))
        .cloned();
    let (request, bytes) = decode(app, entry, parts, body, path, seen).await?;
    let key = match claim(app, spec, parts, &request, &bytes, &ip, seen, extra).await? {
        Claimed::Answered(outcome) => return Ok(outcome),
        Claimed::Run(key) => key,
    };
    let ctx = context(app, spec, seen, access, authorization);
    // Whatever happens from here on (an error, a timeout, a panic, a
    // refused output), the operation's transaction is rolled back unless
    // it is committed in `finish`.
    let unit = Unit(ctx.work().cloned());
    let result = call(app, entry, &ctx, request).await;
    let outcome = finish(spec, access, &ctx, unit, key.remember.as_ref(), result).await?;
    key.keep(&outcome);
    Ok(outcome)
}

/// The client's address: the host's peer, or behind a trusted proxy the
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
            .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
    {
        return last.to_string();
    }
    req.extensions
        .get::<Peer>()
        .map_or_else(|| "unknown".to_string(), |p| p.0.to_string())
}

/// Stage 1: who is calling. A route without auth ignores credentials; one
/// that needs a caller answers 401 with the service's challenge when there
/// is none, and a credential that is there but not valid is a 401 anyway.
fn authenticate(
    app: &App,
    spec: &'static RouteSpec,
    headers: &HeaderMap,
) -> Result<Option<Caller>, Problem> {
    if spec.auth == RouteAuth::None {
        return Ok(None);
    }
    let caller = app.auth.authenticate(headers)?;
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
    Ok(caller)
}

/// Stage 2: how much of the route's permission the caller's roles grant.
/// An `:own` grant on a route whose output names no owner grants nothing.
fn authorize(
    app: &App,
    spec: &'static RouteSpec,
    caller: Option<&Caller>,
) -> Result<Access, Problem> {
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
    Ok(access)
}

/// Stage 3: the caller's pricing plan includes the operation and has
/// requests left. Another service of the project, calling with the role
/// `service` and no plan, is not metered.
fn meter_plan(app: &App, spec: &'static RouteSpec, caller: Option<&Caller>) -> Result<(), Problem> {
    let Some(c) = caller else {
        return Ok(());
    };
    if app.spec.plans.is_empty()
        || (c.plan.is_none() && c.roles.iter().any(|r| r == crate::spec::SERVICE_ROLE))
    {
        return Ok(());
    }
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
    Ok(())
}

/// Stage 4: the route's rate limit; its `RateLimit-*` headers go on the
/// answer.
fn limit(
    entry: &Entry,
    caller: Option<&Caller>,
    ip: &str,
    extra: &mut Vec<(&'static str, String)>,
) -> Result<(), Problem> {
    if let Some(l) = &entry.limiter {
        extra.extend(l.check(l.key(caller, ip))?);
    }
    Ok(())
}

/// Stage 5: the request as the route function reads it (path parameters
/// percent-decoded: a 400 when one is not UTF-8; the query, the headers, the body read up to the
/// largest size allowed), and the body's bytes.
async fn decode(
    app: &App,
    entry: &Entry,
    parts: &mut http::request::Parts,
    body: Body,
    path: Vec<(String, String)>,
    seen: &Seen,
) -> Result<(Request, Bytes), Problem> {
    let spec = entry.spec;
    let path = decode_params(path)?;
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let bytes = body.read(app.settings.max_body).await?;
    let mut request = Request {
        path,
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
    Ok((request, bytes))
}

/// Path parameters percent-decoded; a 400 when one is not UTF-8.
fn decode_params(raw: Vec<(String, String)>) -> Result<Vec<(String, String)>, Problem> {
    raw.into_iter()
        .map(|(k, v)| {
            if !v.contains('%') {
                return Ok((k, v));
            }
            match percent_encoding::percent_decode_str(&v).decode_utf8() {
                Ok(d) => Ok((k, d.into_owned())),
                Err(_) => Err(Problem::bad_request("a path parameter is not valid UTF-8")),
            }
        })
        .collect()
}

/// Checks that a body is there when required and is JSON by its
/// content type, and hands the bytes and the route's schema to the
/// [`Request`]: the route function decodes them (see [`Request::body_checked`]).
fn decode_body(
    request: &mut Request,
    bytes: &Bytes,
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

/// What [`claim`] decided.
enum Claimed {
    /// The answer is known already (a replay).
    Answered(Outcome),
    /// Run the request; its answer goes to the key.
    Run(Key),
}

/// A claimed `Idempotency-Key`: the in-memory slot the answer goes to, and
/// with a database, (scope, key, fingerprint) of an answer to commit with
/// the operation.
#[derive(Default)]
struct Key {
    slot: Option<futures_util::lock::OwnedMutexGuard<Option<Stored>>>,
    remember: Option<(String, String, [u8; 32])>,
}

impl Key {
    /// Keeps the answer for the next request with the key, unless it is
    /// worth retrying.
    fn keep(self, outcome: &Outcome) {
        if let Some(mut g) = self.slot
            && !crate::idempotency::worth_retrying(outcome.status)
        {
            *g = Some(Stored {
                status: outcome.status,
                content_type: outcome.content_type,
                body: outcome.body.clone(),
                headers: outcome.headers.clone(),
            });
        }
    }
}

/// Stage 6: `Idempotency-Key` on a route declared idempotent. Keys are
/// scoped by operation and caller (the client's address for anonymous
/// ones) and bound to the request's target and body.
#[allow(clippy::too_many_arguments)]
async fn claim(
    app: &App,
    spec: &'static RouteSpec,
    parts: &http::request::Parts,
    request: &Request,
    bytes: &Bytes,
    ip: &str,
    seen: &Seen,
    extra: &mut Vec<(&'static str, String)>,
) -> Result<Claimed, Problem> {
    let key = if spec.idempotent {
        request
            .headers
            .get("idempotency-key")
            .map(|v| v.to_str().map(str::to_string).unwrap_or_default())
    } else {
        None
    };
    let Some(key) = key else {
        return Ok(Claimed::Run(Key::default()));
    };
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
    let slot = match Box::pin(
        app.idempotency
            .claim(&scope, &key, &[target.as_bytes(), bytes]),
    )
    .await?
    {
        Claim::Replay(stored) => {
            extra.push(("idempotent-replayed", "true".into()));
            return Ok(Claimed::Answered(Outcome::replay(stored)));
        }
        Claim::Run(slot) => slot,
    };
    // Not in memory: an answer committed before a restart?
    let Some(store) = &app.store else {
        return Ok(Claimed::Run(Key {
            slot: Some(slot),
            remember: None,
        }));
    };
    let fp = crate::idempotency::fingerprint(&[target.as_bytes(), bytes]);
    match Box::pin(crate::pipeline::keys::answer(store, &scope, &key)).await? {
        Some(a) if a.fingerprint == fp => {
            let stored = Stored {
                status: a.status,
                content_type: "application/json",
                body: a.body.into(),
                headers: Vec::new(),
            };
            let mut slot = slot;
            *slot = Some(stored.clone());
            extra.push(("idempotent-replayed", "true".into()));
            Ok(Claimed::Answered(Outcome::replay(stored)))
        }
        Some(_) => {
            drop(slot);
            app.idempotency.forget(&scope, &key);
            Err(crate::idempotency::reused())
        }
        None => Ok(Claimed::Run(Key {
            slot: Some(slot),
            remember: Some((scope, key, fp)),
        })),
    }
}

/// The handler's context: it takes the ids and the caller (only this
/// takes them, so they are there), and the unit of work when the service
/// has a database. [`Seen`] keeps a handle for the answer and the log.
fn context(
    app: &App,
    spec: &'static RouteSpec,
    seen: &mut Seen,
    access: Access,
    authorization: Option<HeaderValue>,
) -> Context {
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
    seen.ctx = Some(ctx.clone());
    ctx
}

/// Stage 7: the route function under the route's timeout. A panicking
/// handler is a 500 answer, not a connection closed without one (and the
/// idempotency key it held is released): while its future is made, and
/// while it runs. (Made first, so that the request is moved into it
/// rather than kept beside it in this future.)
async fn call(app: &App, entry: &Entry, ctx: &Context, request: Request) -> Result<Reply, Problem> {
    let spec = entry.spec;
    let timeout = spec
        .timeout_ms
        .map_or(app.settings.request_timeout, Duration::from_millis);
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
    let run = match run {
        Err(panic) => return Err(panicked(panic)),
        Ok(run) => run,
    };
    match crate::pipeline::host::within(
        &*app.host.timer,
        timeout,
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run)),
    )
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => Err(panicked(panic)),
        Err(()) => Err(
            Problem::new(504, "timeout", "The operation timed out").with_detail(format!(
                "{} did not finish within {} ms",
                spec.operation,
                timeout.as_millis()
            )),
        ),
    }
}

/// The unit of work of a request, rolled back when dropped uncommitted.
pub(crate) struct Unit(pub Option<Arc<Work>>);

impl Drop for Unit {
    fn drop(&mut self) {
        if let Some(work) = self.0.take() {
            work.abort_now();
        }
    }
}

/// Stage 8: the route function's result as the outcome. A success must
/// pass the ownership check of `:own` callers (a list keeps what the
/// caller owns; a resource it does not own is a 403), then the
/// operation's writes, its events and the answer to its idempotency key
/// commit together, before the answer is sent.
async fn finish(
    spec: &'static RouteSpec,
    access: Access,
    ctx: &Context,
    mut unit: Unit,
    remember: Option<&(String, String, [u8; 32])>,
    result: Result<Reply, Problem>,
) -> Result<Outcome, Problem> {
    let mut reply = match result {
        Ok(reply) => reply,
        Err(p) => return Ok(Outcome::problem(p)),
    };
    if access == Access::Own
        && let (Some(field), Some(body)) = (spec.owner_field, reply.body.as_mut())
    {
        own(field, ctx.subject().unwrap_or_default(), body)?;
    }
    let body = reply.body.unwrap_or_default();
    if let Some(work) = unit.0.take() {
        if let Some((scope, key, fp)) = remember
            && (200..300).contains(&reply.status)
        {
            Box::pin(work.tx())
                .await?
                .remember_answer(scope, key, fp, reply.status, &body)?;
        }
        Box::pin(work.commit()).await?;
    }
    Ok(Outcome {
        status: reply.status,
        content_type: "application/json",
        body,
        headers: Vec::new(),
    })
}

/// Keeps what `me` owns of an answer by its owner `field`: the items of a
/// list it owns, or the whole answer when it owns it (else a 403).
/// Subjects are text; an owner field may be a number.
fn own(field: &str, me: &str, body: &mut Bytes) -> Result<(), Problem> {
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
        Value::Array(mut items) => {
            items.retain(owned);
            *body = serde_json::to_vec(&items)
                .map_err(|e| Problem::internal(e.to_string()))?
                .into();
            Ok(())
        }
        v if !owned(&v) => Err(Problem::forbidden("the caller does not own this resource")),
        _ => Ok(()),
    }
}

/// Stage 9a: the answer: its status, body and content type, the headers
/// the stages added, `X-Request-Id`, `Cache-Control` of a cached route's
/// success, `Deprecation` of a deprecated route.
fn answer(
    spec: &'static RouteSpec,
    outcome: Outcome,
    extra: &[(&'static str, String)],
    request_id: &str,
) -> Response {
    let has_body = !outcome.body.is_empty();
    let mut r = Response::new(outcome.body);
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
    if let Ok(v) = HeaderValue::from_str(request_id) {
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
    r
}

/// Stage 9b: the route's metrics and the request's log line.
fn record(
    app: &App,
    entry: &Entry,
    parts: &http::request::Parts,
    seen: &Seen,
    status: u16,
    elapsed: Duration,
) {
    let spec = entry.spec;
    app.metrics
        .record_route(&entry.metrics, status, elapsed.as_secs_f64());
    let trace = seen.trace();
    crate::logging::RequestLine {
        request_id: seen.request_id(),
        trace_id: trace.map_or("", |t| &t.trace_id),
        span_id: trace.map_or("", |t| &t.span_id),
        method: parts.method.as_str(),
        path: parts.uri.path(),
        route: spec.path,
        operation: spec.operation,
        status,
        caller: seen.subject().unwrap_or("-"),
        latency_ms: elapsed.as_secs_f64() * 1000.0,
    }
    .log();
}
