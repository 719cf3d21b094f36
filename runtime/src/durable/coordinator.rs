//! The saga coordinator: starts sagas from their trigger events, drives
//! their steps and compensations, and resumes those whose process died
//! (see [`super::saga`] for what a saga is and what it promises).
//!
//! Why it exists apart from `saga.rs`: the specs and the history are
//! plain data and SQL, which generated crates build on both hosts; the
//! coordinator waits, retries and runs steps on tokio, on the native host.

use super::clock::{self, Clock};
use super::dispatcher::Dispatcher;
use super::jobs::timed;
use super::outbox::{NewEvent, entity_key_of};
use super::retry::RetryPolicy;
use super::saga::*;
use crate::Problem;
use crate::pipeline::store::{Store, Tx};
use crate::sql::{self, params};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Runs sagas: starts them from their trigger, drives their steps and
/// compensations, resumes them after a crash.
pub struct Coordinator {
    store: Store,
    clock: Arc<dyn Clock>,
    owner: String,
    sagas: HashMap<String, Arc<SagaSpec>>,
    lease_ms: i64,
    driving: Mutex<HashSet<String>>,
    wake: Notify,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// How a saga's drive ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driven {
    /// It completed (`onSuccess` published).
    Completed,
    /// It failed and every completed step was compensated (`onFailure`
    /// published).
    Compensated,
    /// A compensation was dead-lettered.
    Stuck,
    /// Another coordinator holds it, or it had already ended.
    NotMine,
}

enum StepOutcome {
    Done(Value),
    Skipped,
    Failed(String),
    Lost,
}

/// Removes a saga from the set being driven when its drive ends.
struct Driving<'a> {
    set: &'a Mutex<HashSet<String>>,
    id: String,
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl Coordinator {
    /// A coordinator on `store` with no sagas yet, the system clock, and a
    /// 30 s lease.
    pub fn new(store: Store) -> Self {
        Coordinator {
            store,
            clock: clock::system(),
            owner: uuid::Uuid::new_v4().to_string(),
            sagas: HashMap::new(),
            lease_ms: 30_000,
            driving: Mutex::new(HashSet::new()),
            wake: Notify::new(),
        }
    }

    /// Reads time from `clock` (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a saga stays this coordinator's past its last write (plus
    /// the running step's timeout or retry delay). After a crash, another
    /// coordinator resumes the saga once this has passed.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease_ms = lease.as_millis() as i64;
        self
    }

    /// Registers a saga.
    pub fn with_saga(mut self, spec: SagaSpec) -> Self {
        self.sagas.insert(spec.name.clone(), Arc::new(spec));
        self
    }

    /// Whether no saga is registered.
    pub fn is_empty(&self) -> bool {
        self.sagas.is_empty()
    }

    /// Subscribes every saga to its trigger on `dispatcher` (handler
    /// `saga:<name>`): the delivery's transaction starts the saga, so the
    /// inbox mark and the saga commit together. `policy` retries a start
    /// that could not be written.
    pub fn subscribe(self: &Arc<Self>, dispatcher: &mut Dispatcher, policy: RetryPolicy) {
        for spec in self.sagas.values() {
            let me = self.clone();
            let name = spec.name.clone();
            dispatcher.subscribe(
                &spec.trigger,
                &format!("saga:{name}"),
                policy,
                move |tx, event| {
                    let started = me.start_in(&tx, &name, event.id, &event.payload);
                    async move { started.map(|_| ()) }
                },
            );
        }
    }

    /// Starts saga `saga` for the trigger event `trigger_event` inside
    /// `tx` (nothing happens if it was already started). The coordinator's
    /// [`Coordinator::run`] loop is woken and picks it up once `tx`
    /// commits. Returns the saga's id.
    pub fn start_in(
        &self,
        tx: &Tx,
        saga: &str,
        trigger_event: uuid::Uuid,
        input: &Value,
    ) -> Result<uuid::Uuid, Problem> {
        let spec = self.spec(saga)?;
        let id = saga_id(saga, trigger_event);
        let now = self.clock.now_ms();
        let input_text =
            serde_json::to_string(input).map_err(|e| Problem::internal(e.to_string()))?;
        tx.with_conn(|c| {
            let n = c
                .prepare_cached(
                    "INSERT OR IGNORE INTO sagas (id, name, trigger_event, input, status, created, updated, trace_id)
                     VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?5,
                             (SELECT trace_id FROM outbox WHERE event_id = ?3))",
                )?
                .execute(params![id.to_string(), saga, trigger_event.to_string(), input_text, now])?;
            if n == 1 {
                let mut insert = c.prepare_cached(
                    "INSERT INTO saga_steps (saga_id, step, position, item) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (position, (item, step)) in spec.steps().enumerate() {
                    insert.execute(params![id.to_string(), step.name, position as i64, item as i64])?;
                }
            }
            Ok(())
        })?;
        self.wake.notify_one();
        Ok(id)
    }

    /// [`Coordinator::start_in`] in a transaction of its own.
    pub async fn start(
        &self,
        saga: &str,
        trigger_event: uuid::Uuid,
        input: &Value,
    ) -> Result<uuid::Uuid, Problem> {
        self.store
            .write(|tx| self.start_in(tx, saga, trigger_event, input))
            .await
    }

    fn spec(&self, saga: &str) -> Result<Arc<SagaSpec>, Problem> {
        self.sagas
            .get(saga)
            .cloned()
            .ok_or_else(|| Problem::internal(format!("unknown saga `{saga}`")))
    }

    /// Runs until `shutdown` resolves: drives every saga that needs a
    /// coordinator (new, or resumed after a crash once its lease expired),
    /// each on its own task; looks again when a saga starts, or every
    /// `poll`.
    pub async fn run(self: Arc<Self>, poll: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.claimable().await {
                Ok(ids) => {
                    for id in ids {
                        let me = self.clone();
                        tokio::spawn(async move {
                            if let Err(e) = me.drive(&id).await {
                                tracing::error!(saga_id = %id, error = %e, "saga drive failed");
                            }
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "saga coordinator pass failed"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Drives every saga that needs a coordinator to its end, concurrently,
    /// until none is left (tests, start-up, draining). Sagas another live
    /// coordinator holds are left to it. Returns how many drives ended.
    pub async fn run_pending(&self) -> Result<usize, Problem> {
        let mut driven = 0;
        loop {
            let ids = self.claimable().await?;
            if ids.is_empty() {
                return Ok(driven);
            }
            let drives = ids.iter().map(|id| self.drive(id));
            for result in futures_util::future::join_all(drives).await {
                if result? != Driven::NotMine {
                    driven += 1;
                }
            }
        }
    }

    /// Sagas that are running or compensating, not driven by this
    /// coordinator now, and free (new, or their lease expired).
    async fn claimable(&self) -> Result<Vec<String>, Problem> {
        let now = self.clock.now_ms();
        let ids: Vec<String> = self
            .store
            .read(|c| {
                c.prepare_cached(
                    "SELECT id FROM sagas WHERE status IN ('running', 'compensating')
                     AND (owner IS NULL OR owner = ?1 OR lease_until < ?2)
                     ORDER BY created LIMIT 256",
                )?
                .query_map(params![self.owner, now], |r| r.get(0))?
                .collect()
            })
            .await?;
        let driving = self.driving.lock().unwrap_or_else(|p| p.into_inner());
        Ok(ids.into_iter().filter(|id| !driving.contains(id)).collect())
    }

    /// Claims saga `id` and drives it to its end (or until its lease is
    /// lost).
    pub async fn drive(&self, id: &str) -> Result<Driven, Problem> {
        {
            let mut driving = self.driving.lock().unwrap_or_else(|p| p.into_inner());
            if !driving.insert(id.to_string()) {
                return Ok(Driven::NotMine);
            }
        }
        let _guard = Driving {
            set: &self.driving,
            id: id.to_string(),
        };
        let now = self.clock.now_ms();
        let claimed = self
            .store
            .write(|tx| {
                tx.with_conn(|c| {
                    c.prepare_cached(
                        "UPDATE sagas SET owner = ?2, lease_until = ?3
                         WHERE id = ?1 AND status IN ('running', 'compensating')
                         AND (owner IS NULL OR owner = ?2 OR lease_until < ?4)",
                    )?
                    .execute(params![
                        id,
                        self.owner,
                        now + self.lease_ms,
                        now
                    ])
                })
            })
            .await?;
        if claimed == 0 {
            return Ok(Driven::NotMine);
        }
        let Some(record) = self.store.read(|c| load(c, id)).await? else {
            return Ok(Driven::NotMine);
        };
        let spec = self.spec(&record.name)?;
        let mut state = State::new(&record);
        if record.status == "running" {
            match self.forward(&spec, id, &record, &mut state).await? {
                Forward::Completed => {
                    return Ok(
                        if self
                            .finish(id, "completed", spec.on_success.as_deref(), &record)
                            .await?
                        {
                            Driven::Completed
                        } else {
                            Driven::NotMine
                        },
                    );
                }
                Forward::Lost => return Ok(Driven::NotMine),
                Forward::Failed => {}
            }
        }
        // Compensate: reload, since the forward pass changed the steps.
        let Some(record) = self.store.read(|c| load(c, id)).await? else {
            return Ok(Driven::NotMine);
        };
        match self.compensate(&spec, id, &record).await? {
            Compensation::Done => Ok(
                if self
                    .finish(id, "compensated", spec.on_failure.as_deref(), &record)
                    .await?
                {
                    Driven::Compensated
                } else {
                    Driven::NotMine
                },
            ),
            Compensation::Stuck => Ok(Driven::Stuck),
            Compensation::Lost => Ok(Driven::NotMine),
        }
    }

    /// Runs the steps not yet ended, item by item.
    async fn forward(
        &self,
        spec: &SagaSpec,
        id: &str,
        record: &SagaRecord,
        state: &mut State,
    ) -> Result<Forward, Problem> {
        for item in &spec.items {
            let steps: &[StepSpec] = match item {
                SagaItem::Step(s) => std::slice::from_ref(s),
                SagaItem::Parallel(v) => v,
            };
            let snapshot = state.json();
            let runs = steps.iter().map(|step| {
                let row = record.steps.iter().find(|r| r.name == step.name);
                self.run_step(spec, id, step, row, record, &snapshot)
            });
            let outcomes = futures_util::future::join_all(runs).await;
            let mut failure = None;
            for (step, outcome) in steps.iter().zip(outcomes) {
                match outcome? {
                    StepOutcome::Done(output) => state.set_output(&step.name, output),
                    StepOutcome::Skipped => {}
                    StepOutcome::Failed(error) => {
                        failure.get_or_insert(format!("step `{}` failed: {error}", step.name));
                    }
                    StepOutcome::Lost => return Ok(Forward::Lost),
                }
            }
            if let Some(error) = failure {
                let ok = self
                    .persist(id, 0, |c| {
                        c.prepare_cached(
                            "UPDATE sagas SET status = 'compensating', error = ?2 WHERE id = ?1",
                        )?
                        .execute(params![id, error])?;
                        Ok(())
                    })
                    .await?;
                tracing::warn!(saga = %spec.name, saga_id = id, error = %error, "saga step failed; compensating");
                return Ok(if ok { Forward::Failed } else { Forward::Lost });
            }
        }
        Ok(Forward::Completed)
    }

    /// Runs one step's remaining attempts.
    async fn run_step(
        &self,
        spec: &SagaSpec,
        id: &str,
        step: &StepSpec,
        row: Option<&StepRecord>,
        record: &SagaRecord,
        state: &Value,
    ) -> Result<StepOutcome, Problem> {
        let saga_input = &record.input;
        // When the saga's own timeout runs out (ms, the coordinator's clock).
        let deadline = spec
            .timeout
            .map(|t| record.created.saturating_add(t.as_millis() as i64));
        let Some(row) = row else {
            return Err(Problem::internal(format!(
                "saga {id} has no row for step `{}`",
                step.name
            )));
        };
        match row.status.as_str() {
            "succeeded" => return Ok(StepOutcome::Done(row.output.clone().unwrap_or_default())),
            "skipped" => return Ok(StepOutcome::Skipped),
            "failed" => {
                return Ok(StepOutcome::Failed(row.error.clone().unwrap_or_default()));
            }
            _ => {}
        }
        let name = step.name.as_str();
        if row.attempts == 0 && step.when.as_ref().is_some_and(|when| !when(state)) {
            let now = self.clock.now_ms();
            let ok = self
                .persist(id, 0, |c| {
                    c.prepare_cached(
                        "UPDATE saga_steps SET status = 'skipped', ended = ?3 WHERE saga_id = ?1 AND step = ?2",
                    )?
                    .execute(params![id, name, now])?;
                    Ok(())
                })
                .await?;
            return Ok(if ok {
                StepOutcome::Skipped
            } else {
                StepOutcome::Lost
            });
        }
        let input = match (&row.input, &step.input) {
            (Some(input), _) => input.clone(),
            (None, Some(select)) => select(state),
            (None, None) => saga_input.clone(),
        };
        let input_text = input.to_string();
        let timeout_ms = step.timeout.as_millis() as i64;
        let mut attempts = row.attempts;
        let saga_id = uuid::Uuid::parse_str(id).map_err(|e| Problem::internal(e.to_string()))?;
        loop {
            let now = self.clock.now_ms();
            if let Some(deadline) = deadline.filter(|d| now >= *d) {
                let error = timed_out(spec, deadline - record.created);
                let ok = self
                    .persist(id, 0, |c| {
                        c.prepare_cached(
                            "UPDATE saga_steps SET status = 'failed', error = ?3, ended = ?4
                             WHERE saga_id = ?1 AND step = ?2",
                        )?
                        .execute(params![id, name, error, now])?;
                        Ok(())
                    })
                    .await?;
                return Ok(if ok {
                    StepOutcome::Failed(error)
                } else {
                    StepOutcome::Lost
                });
            }
            // An attempt never outlives the saga's timeout.
            let attempt_timeout = match deadline {
                Some(d) => step
                    .timeout
                    .min(Duration::from_millis((d - now).max(1) as u64)),
                None => step.timeout,
            };
            attempts += 1;
            let ok = self
                .persist(id, timeout_ms, |c| {
                    c.prepare_cached(
                        "UPDATE saga_steps SET status = 'running', attempts = ?3, input = ?4,
                         started = COALESCE(started, ?5) WHERE saga_id = ?1 AND step = ?2",
                    )?
                    .execute(params![id, name, attempts, input_text, now])?;
                    Ok(())
                })
                .await?;
            if !ok {
                return Ok(StepOutcome::Lost);
            }
            let call = step.action.call(StepCall {
                saga_id,
                saga: spec.name.clone(),
                step: name.to_string(),
                attempt: attempts,
                trace_id: record.trace_id.clone(),
                idempotency_key: format!("{id}/{name}"),
                input: input.clone(),
            });
            let result = match timed(call, attempt_timeout).await {
                Ok(result) => result,
                Err(e) => Err(StepError::retryable(e)),
            };
            let now = self.clock.now_ms();
            match result {
                Ok(output) => {
                    let output_text = output.to_string();
                    let ok = self
                        .persist(id, 0, |c| {
                            c.prepare_cached(
                                "UPDATE saga_steps SET status = 'succeeded', output = ?3, error = NULL, ended = ?4
                                 WHERE saga_id = ?1 AND step = ?2",
                            )?
                            .execute(params![id, name, output_text, now])?;
                            Ok(())
                        })
                        .await?;
                    return Ok(if ok {
                        StepOutcome::Done(output)
                    } else {
                        StepOutcome::Lost
                    });
                }
                Err(mut error) => {
                    let mut last = !error.retryable || attempts >= step.retry.attempts.max(1);
                    if !last
                        && let Some(d) = deadline
                        && now + step.retry.delay_after(attempts) as i64 >= d
                    {
                        last = true;
                        error.message =
                            format!("{}; {}", error.message, timed_out(spec, d - record.created));
                    }
                    let delay = if last {
                        0
                    } else {
                        step.retry.delay_after(attempts)
                    };
                    let status = if last { "failed" } else { "running" };
                    let ended = last.then_some(now);
                    let ok = self
                        .persist(id, delay as i64 + timeout_ms, |c| {
                            c.prepare_cached(
                                "UPDATE saga_steps SET status = ?3, error = ?4, ended = ?5
                                 WHERE saga_id = ?1 AND step = ?2",
                            )?
                            .execute(params![
                                id,
                                name,
                                status,
                                error.message,
                                ended
                            ])?;
                            Ok(())
                        })
                        .await?;
                    if !ok {
                        return Ok(StepOutcome::Lost);
                    }
                    if last {
                        return Ok(StepOutcome::Failed(error.message));
                    }
                    tracing::warn!(saga = %spec.name, saga_id = id, step = name, attempt = attempts, error = %error, "saga step failed; will retry");
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
            }
        }
    }

    /// Runs the compensations of the succeeded steps, last first.
    async fn compensate(
        &self,
        spec: &SagaSpec,
        id: &str,
        record: &SagaRecord,
    ) -> Result<Compensation, Problem> {
        let saga_id = uuid::Uuid::parse_str(id).map_err(|e| Problem::internal(e.to_string()))?;
        for row in record.steps.iter().rev() {
            if row.status != "succeeded" {
                continue;
            }
            let name = row.name.as_str();
            let compensate = spec
                .find(name)
                .and_then(|s| s.compensate.clone().map(|c| (s, c)));
            let Some((step, action)) = compensate else {
                if row.compensation.is_none() {
                    let ok = self
                        .persist(id, 0, |c| {
                            c.prepare_cached(
                                "UPDATE saga_steps SET compensation = 'none' WHERE saga_id = ?1 AND step = ?2",
                            )?
                            .execute(params![id, name])?;
                            Ok(())
                        })
                        .await?;
                    if !ok {
                        return Ok(Compensation::Lost);
                    }
                }
                continue;
            };
            if row.compensation.as_deref() == Some("done") {
                continue;
            }
            let input = match &row.output {
                Some(Value::Null) | None => row.input.clone().unwrap_or_default(),
                Some(output) => output.clone(),
            };
            let policy = step.compensation_retry;
            let timeout_ms = step.timeout.as_millis() as i64;
            let mut attempts = row.compensation_attempts;
            loop {
                attempts += 1;
                let now = self.clock.now_ms();
                let ok = self
                    .persist(id, timeout_ms, |c| {
                        c.prepare_cached(
                            "UPDATE saga_steps SET compensation = 'running', comp_attempts = ?3,
                             comp_started = COALESCE(comp_started, ?4) WHERE saga_id = ?1 AND step = ?2",
                        )?
                        .execute(params![id, name, attempts, now])?;
                        Ok(())
                    })
                    .await?;
                if !ok {
                    return Ok(Compensation::Lost);
                }
                let call = action.call(StepCall {
                    saga_id,
                    saga: spec.name.clone(),
                    step: name.to_string(),
                    attempt: attempts,
                    trace_id: record.trace_id.clone(),
                    idempotency_key: format!("{id}/{name}/compensate"),
                    input: input.clone(),
                });
                let error = match timed(call, step.timeout).await {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(e.message),
                    Err(e) => Some(e),
                };
                let now = self.clock.now_ms();
                let Some(error) = error else {
                    let ok = self
                        .persist(id, 0, |c| {
                            c.prepare_cached(
                                "UPDATE saga_steps SET compensation = 'done', comp_error = NULL, comp_ended = ?3
                                 WHERE saga_id = ?1 AND step = ?2",
                            )?
                            .execute(params![id, name, now])?;
                            Ok(())
                        })
                        .await?;
                    if !ok {
                        return Ok(Compensation::Lost);
                    }
                    break;
                };
                // Every error is retried: giving up on an undo costs more
                // than asking again.
                if attempts >= policy.attempts.max(1) {
                    let why = format!("compensation of step `{name}` dead-lettered: {error}");
                    let ok = self
                        .persist(id, 0, |c| {
                            c.prepare_cached(
                                "UPDATE saga_steps SET compensation = 'dead', comp_error = ?3, comp_ended = ?4
                                 WHERE saga_id = ?1 AND step = ?2",
                            )?
                            .execute(params![id, name, error, now])?;
                            c.prepare_cached(
                                "UPDATE sagas SET status = 'stuck', error = ?2, owner = NULL WHERE id = ?1",
                            )?
                            .execute(params![id, why])?;
                            Ok(())
                        })
                        .await?;
                    if !ok {
                        return Ok(Compensation::Lost);
                    }
                    tracing::error!(saga = %spec.name, saga_id = id, step = name, attempts, error = %error,
                        "saga compensation dead-lettered; the saga is stuck until retried");
                    return Ok(Compensation::Stuck);
                }
                let delay = policy.delay_after(attempts);
                let ok = self
                    .persist(id, delay as i64 + timeout_ms, |c| {
                        c.prepare_cached(
                            "UPDATE saga_steps SET comp_error = ?3 WHERE saga_id = ?1 AND step = ?2",
                        )?
                        .execute(params![id, name, error])?;
                        Ok(())
                    })
                    .await?;
                if !ok {
                    return Ok(Compensation::Lost);
                }
                tracing::warn!(saga = %spec.name, saga_id = id, step = name, attempt = attempts, error = %error, "saga compensation failed; will retry");
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
        }
        Ok(Compensation::Done)
    }

    /// Writes the saga's final status and its event in one transaction.
    /// `false` when this coordinator no longer holds the saga.
    async fn finish(
        &self,
        id: &str,
        status: &str,
        event: Option<&str>,
        record: &SagaRecord,
    ) -> Result<bool, Problem> {
        let now = self.clock.now_ms();
        let key = event.and_then(|e| entity_key_of(e, &record.input));
        let ended = self
            .store
            .write(|tx| {
                let n = tx.with_conn(|c| {
                    c.prepare_cached(
                        "UPDATE sagas SET status = ?3, ended = ?4, updated = ?4,
                         owner = NULL WHERE id = ?1 AND owner = ?2 AND status IN ('running', 'compensating')",
                    )?
                    .execute(params![id, self.owner, status, now])
                })?;
                if n == 0 {
                    return Ok(false);
                }
                if let Some(event) = event {
                    tx.append(NewEvent {
                        name: event,
                        entity_key: key.as_deref(),
                        payload: &record.input,
                        source: Some(&record.name),
                        request_id: None,
                        trace_id: record.trace_id.as_deref(),
                    })?;
                }
                Ok(true)
            })
            .await?;
        if ended {
            tracing::info!(saga = %record.name, saga_id = id, status, "saga ended");
        }
        Ok(ended)
    }

    /// Runs `f` in a transaction if this coordinator still holds saga
    /// `id`, extending its lease to `extra_ms` past the usual (never
    /// shortening it: a parallel sibling may still be running under an
    /// earlier, longer extension); `false` (nothing written) when it lost
    /// the saga.
    async fn persist(
        &self,
        id: &str,
        extra_ms: i64,
        f: impl FnOnce(&sql::Connection<'_>) -> sql::Result<()>,
    ) -> Result<bool, Problem> {
        let now = self.clock.now_ms();
        self.store
            .write(|tx| {
                tx.with_conn(|c| {
                    let held = c
                        .prepare_cached(
                            "UPDATE sagas SET lease_until = MAX(lease_until, ?3), updated = ?4
                             WHERE id = ?1 AND owner = ?2 AND status IN ('running', 'compensating')",
                        )?
                        .execute(params![id, self.owner, now + self.lease_ms + extra_ms, now])?;
                    if held == 0 {
                        return Ok(false);
                    }
                    f(c)?;
                    Ok(true)
                })
            })
            .await
    }
}

enum Forward {
    Completed,
    Failed,
    Lost,
}

enum Compensation {
    Done,
    Stuck,
    Lost,
}

/// The saga's state as `when` and `input:` see it.
struct State {
    input: Value,
    steps: Map<String, Value>,
}

impl State {
    fn new(record: &SagaRecord) -> Self {
        let mut state = State {
            input: record.input.clone(),
            steps: Map::new(),
        };
        for step in &record.steps {
            if step.status == "succeeded" {
                state.set_output(&step.name, step.output.clone().unwrap_or_default());
            }
        }
        state
    }

    fn set_output(&mut self, step: &str, output: Value) {
        self.steps
            .insert(step.to_string(), json!({ "output": output }));
    }

    fn json(&self) -> Value {
        json!({ "input": self.input, "steps": self.steps })
    }
}
