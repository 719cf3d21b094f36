//! What generated sagas need from the server: the steps' operations bound
//! to something that runs them, a caller identity for the calls, and the
//! `when` and `input:` helpers their closures use.
//!
//! Why it exists: a saga's steps are operations of other services (and
//! sometimes of the coordinating service itself), but the coordinator in
//! [`crate::durable::saga`] knows only async closures. Generated code
//! names each operation as static data ([`SagaOperation`]); when the
//! service is built, [`Binder`] turns every one into an [`Action`]:
//!
//! - a route is called over HTTP at the service's base URL
//!   (`SVCC_<SLUG>_URL`; the coordinating service's own routes at its own
//!   address), path parameters filled from the step input's fields of the
//!   same names, the input as the JSON body, and the step's idempotency
//!   key (`<saga id>/<step>`) as `Idempotency-Key`, so a step run again
//!   after a crash gets the first answer instead of acting twice;
//! - a state transition of the coordinating service runs in-process, in a
//!   unit of work of its own that also records the step's answer under
//!   its idempotency key ([`crate::durable::keys`]): run again, it returns
//!   what it returned the first time;
//! - a transition of another service is called at that service's
//!   `POST /_svcc/transitions/{name}` (served by the runtime for every
//!   registered transition), with the same key.
//!
//! Calls carry the service's own credential, for the role
//! [`SERVICE_ROLE`] ([`Credential`]: `SVCC_SERVICE_TOKEN`, or a token
//! minted with the HS256 secret). A saga whose operations cannot all be reached (a URL or
//! the credential missing) is not coordinated by the process, which says
//! so in its log at start: it is never started only to fail every time.
//!
//! Answers are classified as [`StepError`]s are: a request the callee
//! refuses as wrong (400, 401, 403, 404, 405, 410, 413, 415, 422) fails
//! the step at once; anything else (a declared business error such as a
//! 409, a 5xx, a timeout, a refused connection) is retried by the step's
//! `retry:` policy.

use crate::client::Credential;
use crate::context::Context;
use crate::durable::saga::permanent_status;
use crate::durable::{Action, SagaSpec, StepCall, StepError, Store, Work};
use crate::logging::Trace;
use crate::pipeline::host::{Http, Outbound};
pub use crate::pipeline::service::TransitionFn;
pub use crate::spec::{SERVICE_ROLE, TRANSITION_PERMISSION};
use crate::spec::{SagaOperation, SagaTarget, transition_path};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Builds the context of an in-process step: the operation's name, the
/// request id (the step's idempotency key), its trace (the saga's) and the
/// unit of work; an error (retried) while the service is not built yet.
pub type ContextFn = Arc<
    dyn Fn(&'static str, String, Trace, &Arc<Work>) -> Result<Context, StepError> + Send + Sync,
>;

/// The value at `path` in a saga's state (`["input", "total", "amount"]`),
/// or `null` where a segment is missing.
pub fn at<'a>(state: &'a Value, path: &[&str]) -> &'a Value {
    static NULL: Value = Value::Null;
    path.iter()
        .try_fold(state, |v, segment| v.get(segment))
        .unwrap_or(&NULL)
}

/// A number literal of a `when` expression, as written (`1000`, `0.5`).
pub fn num(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Whether a value used as a condition holds: `true` only.
pub fn truthy(v: &Value) -> bool {
    v == &Value::Bool(true)
}

/// A comparison of a `when` expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Compares two values as `svcc check` typed them: numbers and decimals
/// (which JSON carries as strings, `"1000.00"`) exactly, as decimals;
/// strings (dates and times among them) by their text; booleans and
/// `null` only for (in)equality. An ordering between values that have
/// none (a missing optional field, `null`) is false.
pub fn compare(a: &Value, op: Cmp, b: &Value) -> bool {
    let ordering = order(a, b);
    match op {
        Cmp::Eq => ordering == Some(Ordering::Equal),
        Cmp::Ne => ordering != Some(Ordering::Equal),
        Cmp::Lt => ordering == Some(Ordering::Less),
        Cmp::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        Cmp::Gt => ordering == Some(Ordering::Greater),
        Cmp::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
}

fn decimal(v: &Value) -> Option<rust_decimal::Decimal> {
    match v {
        Value::Number(n) => {
            let text = n.to_string();
            text.parse()
                .ok()
                .or_else(|| rust_decimal::Decimal::from_scientific(&text).ok())
        }
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => (x == y).then_some(Ordering::Equal),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Number(_), _) | (_, Value::Number(_)) => {
            if let (Some(x), Some(y)) = (decimal(a), decimal(b)) {
                return Some(x.cmp(&y));
            }
            let (x, y) = (a.as_f64()?, b.as_f64()?);
            x.partial_cmp(&y)
        }
        _ => None,
    }
}

/// Binds the operations of the coordinating service's sagas.
pub struct Binder {
    /// The coordinating service.
    pub service: &'static str,
    /// Its own base URL (`http://127.0.0.1:8080`).
    pub own_base: String,
    /// Base URLs by service slug.
    pub urls: BTreeMap<String, String>,
    /// Who calls are made as.
    pub credential: Arc<Credential>,
    /// The service's own transitions, by name.
    pub transitions: HashMap<&'static str, TransitionFn>,
    /// The service's database.
    pub store: Store,
    /// Contexts of in-process steps.
    pub context: ContextFn,
    /// The host's timer and HTTP client.
    pub host: crate::pipeline::host::Host,
}

impl Binder {
    /// What keeps `saga` from running here (empty when nothing does).
    pub fn missing(&self, saga: &SagaSpec) -> Vec<String> {
        let mut missing = Vec::new();
        for op in saga.operations() {
            let what = if op.service == self.service {
                match op.target {
                    SagaTarget::Transition if !self.transitions.contains_key(op.operation) => {
                        format!("the transition {} is not registered", op.operation)
                    }
                    _ => continue,
                }
            } else if self.base(op).is_none() {
                crate::client::url_variable(op.slug)
            } else if !self.credential.can_reach(op.auth) {
                format!(
                    "SVCC_SERVICE_TOKEN (to call {}.{})",
                    op.service, op.operation
                )
            } else {
                continue;
            };
            if !missing.contains(&what) {
                missing.push(what);
            }
        }
        missing
    }

    fn base(&self, op: &SagaOperation) -> Option<String> {
        if op.service == self.service {
            return Some(self.own_base.clone());
        }
        self.urls
            .get(op.slug)
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty())
    }

    /// `saga` with every operation bound.
    pub fn bind(&self, saga: SagaSpec) -> SagaSpec {
        saga.bind(|op| self.action(op))
    }

    fn action(&self, op: &'static SagaOperation) -> Action {
        if op.service == self.service
            && op.target == SagaTarget::Transition
            && let Some(f) = self.transitions.get(op.operation)
        {
            let (f, store, context) = (f.clone(), self.store.clone(), self.context.clone());
            return Action::new(move |call| {
                local_transition(f.clone(), store.clone(), context.clone(), op, call)
            });
        }
        let (http, credential) = (self.host.http.clone(), self.credential.clone());
        let base = self.base(op).unwrap_or_default();
        Action::new(move |call| remote(http.clone(), base.clone(), credential.clone(), op, call))
    }
}

fn id_of(input: &Value, op: &SagaOperation) -> Result<String, StepError> {
    match input.get("id") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(StepError::permanent(format!(
            "{}.{}: the step's input has no `id` naming the entity",
            op.service, op.operation
        ))),
    }
}

/// One of the coordinating service's transitions, in a unit of work that
/// records the answer under the step's idempotency key.
async fn local_transition(
    f: TransitionFn,
    store: Store,
    context: ContextFn,
    op: &'static SagaOperation,
    call: StepCall,
) -> Result<Value, StepError> {
    let scope = format!("{}:saga", op.operation);
    let input = serde_json::to_vec(&call.input).unwrap_or_default();
    let fingerprint = crate::idempotency::fingerprint(&[op.operation.as_bytes(), &input]);
    if let Some(stored) =
        crate::durable::keys::answer(&store, &scope, &call.idempotency_key).await?
    {
        return serde_json::from_slice(&stored.body).map_err(|e| {
            StepError::permanent(format!(
                "the stored answer of {} is not JSON: {e}",
                op.operation
            ))
        });
    }
    let id = id_of(&call.input, op)?;
    let work = Arc::new(Work::new(store));
    let mut guard = Abort(Some(work.clone()));
    let trace = Trace::continuing(call.trace_id.as_deref());
    let ctx = context(op.operation, call.idempotency_key.clone(), trace, &work)?;
    let out = f(ctx, id).await?;
    let body = serde_json::to_vec(&out)
        .map_err(|e| StepError::permanent(format!("cannot encode the answer: {e}")))?;
    let tx = work.tx().await?;
    tx.remember_answer(&scope, &call.idempotency_key, &fingerprint, 200, &body)?;
    drop(tx);
    work.commit().await?;
    guard.0 = None;
    Ok(out)
}

/// Rolls a unit of work back when dropped (an error or a cancelled step).
struct Abort(Option<Arc<Work>>);

impl Drop for Abort {
    fn drop(&mut self) {
        if let Some(work) = self.0.take() {
            work.abort_now();
        }
    }
}

/// The URL of `template` under `base`, its `{param}`s taken from
/// `input` (each percent-encoded as one path segment).
fn url(
    base: &str,
    template: &str,
    input: &Value,
    op: &SagaOperation,
) -> Result<url::Url, StepError> {
    let mut url = url::Url::parse(base).map_err(|e| {
        StepError::permanent(format!(
            "the URL of {} ({base}) is not valid: {e}",
            op.service
        ))
    })?;
    {
        let mut segments = url.path_segments_mut().map_err(|()| {
            StepError::permanent(format!(
                "the URL of {} ({base}) cannot have a path",
                op.service
            ))
        })?;
        segments.pop_if_empty();
        for segment in template.split('/').filter(|s| !s.is_empty()) {
            let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                segments.push(segment);
                continue;
            };
            let value = match input.get(name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => {
                    return Err(StepError::permanent(format!(
                        "{}.{}: the step's input has no `{name}` for the path parameter",
                        op.service, op.operation
                    )));
                }
            };
            segments.push(&value);
        }
    }
    Ok(url)
}

/// An operation called over HTTP.
async fn remote(
    http: Arc<dyn Http>,
    base: String,
    credential: Arc<Credential>,
    op: &'static SagaOperation,
    call: StepCall,
) -> Result<Value, StepError> {
    let (method, url) = match op.target {
        SagaTarget::Route { method, path } => (method, url(&base, path, &call.input, op)?),
        SagaTarget::Transition => (
            "POST",
            url(&base, &transition_path(op.operation), &call.input, op)?,
        ),
    };
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|e| StepError::permanent(format!("method {method}: {e}")))?;
    let name = format!("{}.{}", op.service, op.operation);
    let with_body = !matches!(
        method,
        http::Method::GET | http::Method::HEAD | http::Method::DELETE
    );
    let mut headers = vec![
        ("idempotency-key", call.idempotency_key.clone()),
        ("x-request-id", call.idempotency_key.clone()),
        (
            "traceparent",
            Trace::continuing(call.trace_id.as_deref()).header(),
        ),
    ];
    if let Some(h) = credential
        .header(op.auth)
        .map_err(|e| StepError::permanent(format!("{name}: {e}")))?
    {
        headers.push(h);
    }
    let body =
        if with_body {
            headers.push(("content-type", "application/json".into()));
            Some(serde_json::to_vec(&call.input).map_err(|e| {
                StepError::permanent(format!("{name}: cannot encode the input: {e}"))
            })?)
        } else {
            None
        };
    let answer = http
        .send(Outbound {
            service: Some(op.slug),
            method,
            url: url.into(),
            headers,
            body,
            timeout: None,
        })
        .await
        .map_err(|e| StepError::retryable(format!("{name}: {e}")))?;
    let status = answer.status;
    let bytes = answer.body;
    if (200..300).contains(&status) {
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        return serde_json::from_slice(&bytes).map_err(|e| {
            StepError::permanent(format!(
                "{name} answered {status} with a body that is not JSON: {e}"
            ))
        });
    }
    let problem: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let title = problem["title"].as_str().unwrap_or("");
    let message = match problem["detail"].as_str() {
        Some(detail) => format!("{name} answered {status} {title}: {detail}"),
        None => format!("{name} answered {status} {title}"),
    };
    Err(StepError {
        message: message.trim_end().to_string(),
        retryable: !permanent_status(status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::AuthKind;
    use serde_json::json;

    #[test]
    fn decimals_compare_exactly_with_number_literals() {
        let state = json!({ "input": { "total": { "amount": "1000.00", "currency": "EUR" } } });
        let amount = at(&state, &["input", "total", "amount"]);
        assert!(compare(amount, Cmp::Ge, &num("1000")));
        assert!(compare(amount, Cmp::Eq, &num("1000")));
        assert!(!compare(amount, Cmp::Gt, &num("1000")));
        assert!(compare(amount, Cmp::Lt, &num("1000.01")));
        assert!(compare(
            at(&state, &["input", "total", "currency"]),
            Cmp::Eq,
            &json!("EUR")
        ));
        // 0.1 + 0.2 would fail as floats; as decimals it holds.
        assert!(compare(&json!("0.3"), Cmp::Eq, &num("0.3")));
    }

    #[test]
    fn missing_and_null_values_have_no_order() {
        let state = json!({ "input": { "note": null } });
        let note = at(&state, &["input", "note"]);
        assert!(compare(note, Cmp::Eq, &Value::Null));
        assert!(!compare(note, Cmp::Ne, &Value::Null));
        let missing = at(&state, &["steps", "charge", "output", "id"]);
        assert!(missing.is_null());
        assert!(!compare(missing, Cmp::Lt, &num("1")));
        assert!(!compare(missing, Cmp::Ge, &num("1")));
        assert!(compare(missing, Cmp::Ne, &num("1")));
        assert!(truthy(&json!(true)));
        assert!(!truthy(&json!("true")));
        assert!(!truthy(missing));
    }

    #[test]
    fn path_parameters_come_from_the_input() {
        static OP: SagaOperation = SagaOperation {
            service: "ShipmentService",
            slug: "shipment-service",
            operation: "dispatch",
            auth: AuthKind::Jwt,
            target: SagaTarget::Route {
                method: "POST",
                path: "/shipments/{id}/dispatch",
            },
        };
        let path = "/shipments/{id}/dispatch";
        let base = "http://127.0.0.1:8081/";
        assert_eq!(
            url(base, path, &json!({ "id": "a b/c" }), &OP)
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8081/shipments/a%20b%2Fc/dispatch"
        );
        assert_eq!(
            url("http://h/v1", path, &json!({ "id": 7 }), &OP)
                .unwrap()
                .as_str(),
            "http://h/v1/shipments/7/dispatch"
        );
        let e = url(base, path, &json!({}), &OP).unwrap_err();
        assert!(!e.retryable && e.message.contains("`id`"), "{e}");
    }
}
