//! Sagas (`kind: Saga`): a trigger event starts a sequence of steps across
//! services; a failed step undoes the completed ones with their
//! compensations, in reverse order; the saga ends by publishing its
//! `onSuccess` or `onFailure` event.
//!
//! Why it exists: a business process that spans services cannot be one
//! database transaction, and a process that crashes half-way must neither
//! forget what it did nor do it all again from the start. The coordinator
//! keeps the saga's progress in SQLite, step by step:
//!
//! - **Start.** The saga is a subscriber of its trigger (see
//!   [`Coordinator::subscribe`]): the delivery's transaction inserts the
//!   saga and its steps, with the saga id derived from the saga's name and
//!   the trigger event's id ([`saga_id`]). A redelivered trigger finds the
//!   inbox mark, and even without it the id already exists: one event, one
//!   saga.
//! - **Steps.** Before an action runs, its start (status `running`, the
//!   attempt number, its input) is committed; after it returns, its result
//!   (output or error) is committed before the next step starts. A
//!   `parallel` group's steps run concurrently and the group ends when all
//!   of them have. `when` is evaluated when a step is reached, over the
//!   saga's state `{"input": ..., "steps": {"<name>": {"output": ...}}}`;
//!   a step it turns off is recorded as `skipped`. Each attempt runs under
//!   the step's timeout; failures are retried by its [`RetryPolicy`]
//!   (errors marked permanent, [`StepError::permanent`], are not).
//! - **Compensation.** When a step fails for good, the saga turns
//!   `compensating` (in the same commit as the step's failure) and runs the
//!   compensations of the `succeeded` steps one at a time, the last
//!   completed first (a parallel group's steps in reverse declaration
//!   order). A compensation is never skipped: every error is retried by the
//!   step's compensation policy; when it runs out, the compensation is
//!   dead-lettered (status `dead`) and the saga is parked as `stuck`,
//!   visible in [`list`], until an operator calls [`retry_stuck`]. The
//!   step that failed is not compensated (its action did not complete); a
//!   compensation receives the step's output, or its input when the action
//!   returned none.
//! - **End.** The saga's final status (`completed` or `compensated`) and
//!   its `onSuccess`/`onFailure` event (payload: the saga's input) commit
//!   in one transaction, so the event exists if and only if the saga ended.
//!
//! **At-least-once steps.** A crash between an action's return and the
//! commit of its result loses the result, and the step runs again when the
//! saga resumes; so does a compensation. Every call therefore carries an
//! idempotency key, `<saga id>/<step>` (and `<saga id>/<step>/compensate`),
//! the same for every attempt, and actions must be idempotent by it (a
//! typed client sends it as `Idempotency-Key`).
//!
//! **Crash and resume.** Running and compensating sagas are driven by the
//! coordinator that holds their lease (`owner`, `lease_until`); every write
//! of a step checks the lease and extends it, in the same transaction, so a
//! coordinator that lost its lease stops at its next write. A coordinator
//! started after a crash ([`Coordinator::run`], [`Coordinator::run_pending`])
//! picks up every running saga whose lease has expired and continues from
//! the persisted state: completed steps are not run again, a step whose
//! start was recorded without its result runs again.
//!
//! Actions run outside any transaction (they are calls to other services),
//! so a saga never holds the store's write lock while it waits.
//!
//! How generated code wires a saga (the manifest's `OrderFulfillment`):
//!
//! ```no_run
//! use serde_json::Value;
//! use std::{sync::Arc, time::Duration};
//! use svcc_runtime::durable::{
//!     Action, Coordinator, Dispatcher, RetryPolicy, SagaSpec, StepError, StepSpec, Store,
//! };
//!
//! /// Stands for a typed client call; `key` goes out as `Idempotency-Key`.
//! async fn call(_operation: &str, input: Value, _key: &str) -> Result<Value, StepError> {
//!     Ok(input)
//! }
//! fn op(operation: &'static str) -> Action {
//!     Action::new(move |c| async move { call(operation, c.input, &c.idempotency_key).await })
//! }
//!
//! # async fn wire(store: Store) {
//! let saga = SagaSpec::new("OrderFulfillment", "Order.created")
//!     .step(
//!         StepSpec::new("reserve-inventory", op("InventoryService.reserve"))
//!             .compensate(op("InventoryService.release"))
//!             .timeout(Duration::from_secs(30)),
//!     )
//!     .parallel(vec![
//!         StepSpec::new("ship", op("ShipmentService.create"))
//!             .compensate(op("ShipmentService.cancel")),
//!         StepSpec::new("invoice", op("BillingService.issueInvoice"))
//!             .compensate(op("BillingService.voidInvoice"))
//!             // `when: input.total.amount >= 1000`, compiled to Rust.
//!             .when(|s| s["input"]["total"]["amount"].as_f64().is_some_and(|a| a >= 1000.0)),
//!     ])
//!     .step(StepSpec::new("confirm", op("EmailService.sendConfirmation")))
//!     .on_success("Order.completed")
//!     .on_failure("Order.failed");
//! let coordinator = Arc::new(Coordinator::new(store.clone()).with_saga(saga));
//! let mut dispatcher = Dispatcher::new(store.clone(), "OrderService");
//! coordinator.subscribe(&mut dispatcher, RetryPolicy::default());
//! // Beside the dispatcher's loop; at start-up it resumes unfinished sagas.
//! tokio::spawn(coordinator.run(Duration::from_secs(1), std::future::pending()));
//! # }
//! ```

use super::retry::{Backoff, RetryPolicy};
use crate::Problem;
use crate::pipeline::store::Store;
use crate::spec::SagaOperation;
use crate::sql::{self, OptionalExtension, params};
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use sha2::Digest;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Why a step's action (or compensation) failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepError {
    /// What went wrong (recorded in the saga's history).
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
}

impl StepError {
    /// A failure that another attempt may not have (a timeout, a 503).
    pub fn retryable(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that retrying cannot fix (a declared business error such
    /// as `OutOfStock`): the saga compensates at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            retryable: false,
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Problem> for StepError {
    /// A problem that says the request itself is wrong (400, 401, 403,
    /// 404, 405, 410, 413, 415, 422: sent again unchanged, it fails the
    /// same way) is permanent; every other one, a declared business error
    /// with another status included (`PaymentNotAuthorized`, 409: the
    /// customer may authorize in a minute), is retried by the step's
    /// `retry:` policy, which allows one attempt unless the manifest says
    /// more.
    fn from(p: Problem) -> Self {
        let message = match &p.detail {
            Some(d) => format!("{} {}: {d}", p.status, p.title),
            None => format!("{} {}", p.status, p.title),
        };
        StepError {
            message,
            retryable: !permanent_status(p.status),
        }
    }
}

/// Whether an answer with this status means that the same request can
/// never succeed (see `From<Problem> for StepError`).
pub fn permanent_status(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 405 | 410 | 413 | 415 | 422)
}

/// What an action (or a compensation) is called with.
#[derive(Clone, Debug, PartialEq)]
pub struct StepCall {
    /// The saga's id.
    pub saga_id: uuid::Uuid,
    /// The saga's name.
    pub saga: String,
    /// The step's name.
    pub step: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The saga's W3C trace (its trigger's), for the calls the step makes.
    pub trace_id: Option<String>,
    /// `<saga id>/<step>` for the action, `<saga id>/<step>/compensate` for
    /// the compensation: the same for every attempt and after a crash.
    pub idempotency_key: String,
    /// The action's input (the saga's input, or what the step's `input:`
    /// selects); for a compensation, the step's output (its input when the
    /// output is null).
    pub input: Value,
}

type ActionFn = Arc<dyn Fn(StepCall) -> BoxFuture<'static, Result<Value, StepError>> + Send + Sync>;

/// An async function `StepCall -> Result<output, StepError>`, or an
/// operation of the project that the server binds to one when the service
/// is built ([`SagaSpec::bind`]: an HTTP call, or one of the service's own
/// transitions). Generated code names operations; tests and hand-written
/// sagas may give closures.
#[derive(Clone)]
pub struct Action(ActionKind);

#[derive(Clone)]
enum ActionKind {
    Fn(ActionFn),
    Operation(&'static SagaOperation),
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            ActionKind::Fn(_) => f.write_str("Action"),
            ActionKind::Operation(op) => write!(f, "Action({}.{})", op.service, op.operation),
        }
    }
}

impl Action {
    /// An action from an async closure.
    pub fn new<F, Fut>(f: F) -> Action
    where
        F: Fn(StepCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, StepError>> + Send + 'static,
    {
        Action(ActionKind::Fn(Arc::new(move |call| Box::pin(f(call)))))
    }

    /// The operation `Service.operation`, bound when the service is built.
    pub fn operation(op: &'static SagaOperation) -> Action {
        Action(ActionKind::Operation(op))
    }

    /// The operation this action still has to be bound to, if any.
    pub fn unbound(&self) -> Option<&'static SagaOperation> {
        match &self.0 {
            ActionKind::Operation(op) => Some(op),
            ActionKind::Fn(_) => None,
        }
    }

    pub(crate) fn call(&self, call: StepCall) -> BoxFuture<'static, Result<Value, StepError>> {
        match &self.0 {
            ActionKind::Fn(f) => f(call),
            ActionKind::Operation(op) => {
                let message = format!(
                    "{}.{} is not bound to a service (the server binds operations when it builds the service)",
                    op.service, op.operation
                );
                Box::pin(async move { Err(StepError::permanent(message)) })
            }
        }
    }
}

/// A predicate over the saga's state (`when:`), compiled by generated code.
pub type Predicate = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// Selects a step's input from the saga's state (`input: steps.debit.output`).
pub type InputSelector = Arc<dyn Fn(&Value) -> Value + Send + Sync>;

/// One step of a saga.
#[derive(Clone)]
pub struct StepSpec {
    /// Unique in the saga.
    pub name: String,
    /// What the step does.
    pub action: Action,
    /// What undoes it (`None`: `compensate: none`, or the last step).
    pub compensate: Option<Action>,
    /// Whether the step runs, given the saga's state; `None`: always.
    pub when: Option<Predicate>,
    /// The step's input from the saga's state; `None`: the saga's input.
    pub input: Option<InputSelector>,
    /// The longest one attempt may run (30 s unless set).
    pub timeout: Duration,
    /// Attempts of the action (the manifest's `retry:`; one unless set).
    pub retry: RetryPolicy,
    /// Attempts of the compensation before it is dead-lettered (10,
    /// exponential from 1 s to 1 min unless set).
    pub compensation_retry: RetryPolicy,
}

impl std::fmt::Debug for StepSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepSpec")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl StepSpec {
    /// A step with no compensation, a 30 s timeout and one attempt.
    pub fn new(name: impl Into<String>, action: Action) -> Self {
        StepSpec {
            name: name.into(),
            action,
            compensate: None,
            when: None,
            input: None,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy {
                attempts: 1,
                ..RetryPolicy::default()
            },
            compensation_retry: RetryPolicy {
                attempts: 10,
                backoff: Backoff::Exponential,
                delay_ms: 1_000,
                max_delay_ms: Some(60_000),
                jitter: 0.2,
                dead_letter: true,
            },
        }
    }

    /// Sets the compensation.
    pub fn compensate(mut self, action: Action) -> Self {
        self.compensate = Some(action);
        self
    }

    /// Sets the `when` predicate.
    pub fn when(mut self, f: impl Fn(&Value) -> bool + Send + Sync + 'static) -> Self {
        self.when = Some(Arc::new(f));
        self
    }

    /// Sets the input selector.
    pub fn input(mut self, f: impl Fn(&Value) -> Value + Send + Sync + 'static) -> Self {
        self.input = Some(Arc::new(f));
        self
    }

    /// Sets the timeout of one attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the action's retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the compensation's retry policy.
    pub fn compensation_retry(mut self, retry: RetryPolicy) -> Self {
        self.compensation_retry = retry;
        self
    }
}

/// An entry of `steps:`.
#[derive(Clone, Debug)]
pub enum SagaItem {
    /// One step.
    Step(StepSpec),
    /// `parallel:` steps run concurrently.
    Parallel(Vec<StepSpec>),
}

/// A saga (`kind: Saga`).
#[derive(Clone, Debug)]
pub struct SagaSpec {
    /// Its name, unique in the project.
    pub name: String,
    /// The event that starts it (its payload is the saga's input).
    pub trigger: String,
    /// The steps, in order.
    pub items: Vec<SagaItem>,
    /// Published when every step succeeded or was skipped.
    pub on_success: Option<String>,
    /// Published when the saga failed and was compensated.
    pub on_failure: Option<String>,
    /// The longest the saga's steps may take from its start (`timeout:`
    /// of the saga): a step still running or retrying then fails, and the
    /// saga is compensated. Compensations are not bounded by it.
    pub timeout: Option<Duration>,
}

impl SagaSpec {
    /// A saga with no steps yet.
    pub fn new(name: impl Into<String>, trigger: impl Into<String>) -> Self {
        SagaSpec {
            name: name.into(),
            trigger: trigger.into(),
            items: Vec::new(),
            on_success: None,
            on_failure: None,
            timeout: None,
        }
    }

    /// Sets the saga's `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Appends a step.
    pub fn step(mut self, step: StepSpec) -> Self {
        self.items.push(SagaItem::Step(step));
        self
    }

    /// Appends a `parallel` group.
    pub fn parallel(mut self, steps: Vec<StepSpec>) -> Self {
        self.items.push(SagaItem::Parallel(steps));
        self
    }

    /// Sets `onSuccess`.
    pub fn on_success(mut self, event: impl Into<String>) -> Self {
        self.on_success = Some(event.into());
        self
    }

    /// Sets `onFailure`.
    pub fn on_failure(mut self, event: impl Into<String>) -> Self {
        self.on_failure = Some(event.into());
        self
    }

    pub(crate) fn steps(&self) -> impl Iterator<Item = (usize, &StepSpec)> {
        self.items.iter().enumerate().flat_map(|(i, item)| {
            let steps: &[StepSpec] = match item {
                SagaItem::Step(s) => std::slice::from_ref(s),
                SagaItem::Parallel(v) => v,
            };
            steps.iter().map(move |s| (i, s))
        })
    }

    pub(crate) fn find(&self, name: &str) -> Option<&StepSpec> {
        self.steps().map(|(_, s)| s).find(|s| s.name == name)
    }

    /// Every operation its actions and compensations name that is not
    /// bound yet, in step order (each once).
    pub fn operations(&self) -> Vec<&'static SagaOperation> {
        let mut out: Vec<&'static SagaOperation> = Vec::new();
        for (_, step) in self.steps() {
            for action in std::iter::once(&step.action).chain(step.compensate.as_ref()) {
                if let Some(op) = action.unbound()
                    && !out.iter().any(|o| std::ptr::eq(*o, op))
                {
                    out.push(op);
                }
            }
        }
        out
    }

    /// Replaces every operation an action or a compensation names with
    /// what `bind` makes of it (the server's HTTP call or in-process
    /// transition).
    pub fn bind(mut self, mut bind: impl FnMut(&'static SagaOperation) -> Action) -> Self {
        let mut rebind = |a: &mut Action| {
            if let Some(op) = a.unbound() {
                *a = bind(op);
            }
        };
        for item in &mut self.items {
            let steps: &mut [StepSpec] = match item {
                SagaItem::Step(s) => std::slice::from_mut(s),
                SagaItem::Parallel(v) => v,
            };
            for step in steps {
                rebind(&mut step.action);
                if let Some(c) = &mut step.compensate {
                    rebind(c);
                }
            }
        }
        self
    }
}

/// Why a step failed when its saga's `timeout` ran out.
pub(crate) fn timed_out(spec: &SagaSpec, after_ms: i64) -> String {
    format!(
        "the saga {} ran out of its timeout ({} s) before the step could finish",
        spec.name,
        after_ms / 1000
    )
}

/// The id of the saga `saga` started by the event `trigger_event`: the
/// same every time, so a redelivered trigger cannot start a second one.
pub fn saga_id(saga: &str, trigger_event: uuid::Uuid) -> uuid::Uuid {
    let digest = sha2::Sha256::new()
        .chain_update(saga.as_bytes())
        .chain_update([0u8])
        .chain_update(trigger_event.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// A saga as stored, with its steps: what `GET /sagas/{id}` shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SagaRecord {
    /// Its id.
    pub id: String,
    /// The saga's name.
    pub name: String,
    /// The event that started it.
    pub trigger_event: String,
    /// `running`, `compensating`, `completed`, `compensated` or `stuck`.
    pub status: String,
    /// Its input (the trigger's payload).
    pub input: Value,
    /// Why it failed (the step error that started compensation, or the
    /// compensation that was dead-lettered).
    pub error: Option<String>,
    /// When it started (ms since the epoch).
    pub created: i64,
    /// Its last write.
    pub updated: i64,
    /// When it ended.
    pub ended: Option<i64>,
    /// The W3C trace it belongs to: its trigger's, continued by its steps
    /// and the event it ends with.
    pub trace_id: Option<String>,
    /// Its steps in order.
    pub steps: Vec<StepRecord>,
}

/// One step's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// The step's name.
    pub name: String,
    /// The index of its entry in `steps:` (steps of one `parallel` group
    /// share it).
    pub item: u32,
    /// `pending`, `running`, `succeeded`, `failed` or `skipped`.
    pub status: String,
    /// Attempts started.
    pub attempts: u32,
    /// The input it was called with.
    pub input: Option<Value>,
    /// Its output.
    pub output: Option<Value>,
    /// The last attempt's error.
    pub error: Option<String>,
    /// When its first attempt started.
    pub started: Option<i64>,
    /// When it ended.
    pub ended: Option<i64>,
    /// `none` (nothing to undo), `pending`, `running`, `done` or `dead`;
    /// absent while no compensation was needed.
    pub compensation: Option<String>,
    /// Compensation attempts started.
    pub compensation_attempts: u32,
    /// The last compensation attempt's error.
    pub compensation_error: Option<String>,
    /// When the compensation started.
    pub compensation_started: Option<i64>,
    /// When it ended.
    pub compensation_ended: Option<i64>,
}

/// One line of [`list`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SagaSummary {
    /// Its id.
    pub id: String,
    /// The saga's name.
    pub name: String,
    /// Its status.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// When it started.
    pub created: i64,
    /// When it ended.
    pub ended: Option<i64>,
}

fn parse_json(text: Option<String>) -> Option<Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)))
}

const STEP_COLUMNS: &str = "step, item, status, attempts, input, output, error, started, ended,
    compensation, comp_attempts, comp_error, comp_started, comp_ended";

fn read_step(r: &sql::Row<'_>) -> sql::Result<StepRecord> {
    Ok(StepRecord {
        name: r.get(0)?,
        item: r.get(1)?,
        status: r.get(2)?,
        attempts: r.get(3)?,
        input: parse_json(r.get(4)?),
        output: parse_json(r.get(5)?),
        error: r.get(6)?,
        started: r.get(7)?,
        ended: r.get(8)?,
        compensation: r.get(9)?,
        compensation_attempts: r.get(10)?,
        compensation_error: r.get(11)?,
        compensation_started: r.get(12)?,
        compensation_ended: r.get(13)?,
    })
}

pub(crate) fn load(c: &sql::Connection<'_>, id: &str) -> sql::Result<Option<SagaRecord>> {
    let saga = c
        .prepare_cached(
            "SELECT id, name, trigger_event, status, input, error, created, updated, ended, trace_id
             FROM sagas WHERE id = ?1",
        )?
        .query_row(params![id], |r| {
            Ok(SagaRecord {
                id: r.get(0)?,
                name: r.get(1)?,
                trigger_event: r.get(2)?,
                status: r.get(3)?,
                input: parse_json(r.get(4)?).unwrap_or(Value::Null),
                error: r.get(5)?,
                created: r.get(6)?,
                updated: r.get(7)?,
                ended: r.get(8)?,
                trace_id: r.get(9)?,
                steps: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut saga) = saga else {
        return Ok(None);
    };
    saga.steps = c
        .prepare_cached(&format!(
            "SELECT {STEP_COLUMNS} FROM saga_steps WHERE saga_id = ?1 ORDER BY position"
        ))?
        .query_map(params![id], read_step)?
        .collect::<sql::Result<_>>()?;
    Ok(Some(saga))
}

/// A saga with its steps; 404 when there is none with that id.
pub async fn saga(store: &Store, id: uuid::Uuid) -> Result<SagaRecord, Problem> {
    let id = id.to_string();
    store
        .read(|c| load(c, &id))
        .await?
        .ok_or_else(|| Problem::not_found(format!("no saga {id}")))
}

/// The `limit` most recently started sagas, newest first.
pub async fn list(store: &Store, limit: usize) -> Result<Vec<SagaSummary>, Problem> {
    store
        .read(|c| {
            c.prepare_cached(
                "SELECT id, name, status, error, created, ended FROM sagas
                 ORDER BY created DESC, id LIMIT ?1",
            )?
            .query_map(params![limit as i64], |r| {
                Ok(SagaSummary {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    status: r.get(2)?,
                    error: r.get(3)?,
                    created: r.get(4)?,
                    ended: r.get(5)?,
                })
            })?
            .collect()
        })
        .await
}

/// Puts a `stuck` saga back to compensating: its dead compensation gets
/// fresh attempts, and the next coordinator pass takes it up. 404 when
/// there is no stuck saga with that id.
pub async fn retry_stuck(store: &Store, id: uuid::Uuid) -> Result<(), Problem> {
    let id = id.to_string();
    let n = store
        .write(|tx| {
            tx.with_conn(|c| {
                let n = c.execute(
                    "UPDATE sagas SET status = 'compensating', owner = NULL, lease_until = 0
                     WHERE id = ?1 AND status = 'stuck'",
                    params![id],
                )?;
                c.execute(
                    "UPDATE saga_steps SET compensation = 'pending', comp_attempts = 0
                     WHERE saga_id = ?1 AND compensation = 'dead'",
                    params![id],
                )?;
                Ok(n)
            })
        })
        .await?;
    if n == 0 {
        return Err(Problem::not_found(format!("no stuck saga {id}")));
    }
    Ok(())
}
