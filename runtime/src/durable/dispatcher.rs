//! Delivers outbox events to subscribed handlers: at least once, once per
//! handler by event id, with retries, dead letters and per-entity order.
//!
//! Why it exists: the outbox makes events durable; something must turn
//! them into handler calls that survive crashes. The dispatcher works in
//! two steps, each its own transaction:
//!
//! 1. **Fan-out**: outbox rows after this consumer's cursor become one
//!    `deliveries` row per subscribed handler, and the cursor moves, in
//!    one commit. A crash before it repeats the fan-out; a crash after it
//!    loses nothing (the rows are there).
//! 2. **Delivery**: for a due delivery, in one transaction: check the
//!    inbox (`handler`, `event id`) and skip when the handler already ran;
//!    call the handler with a [`Tx`] handle on this very transaction;
//!    on `Ok`, insert the inbox row and delete the delivery, then commit.
//!    The handler's writes through its `Tx`, its inbox mark and the end of
//!    the delivery commit together: a crash at any point before the commit
//!    undoes all three, and the event is delivered again. Up to 64
//!    deliveries share a transaction, each under a savepoint (a failed
//!    handler rolls back to its own), so there is one commit per batch. Side effects a
//!    handler makes outside its `Tx` (an email, an HTTP call) can happen
//!    twice: that is at-least-once, and why handlers are idempotent by the
//!    event id.
//!
//! On `Err` or a panic the delivery's savepoint rolls back (the handler's
//! writes vanish), and the same transaction counts the attempt and schedules the next one
//! by the [`RetryPolicy`]; after the last attempt the event moves to
//! `dead_letters` with its last error (`dlq.rs`). A delivery waits while
//! the same handler has an earlier delivery of the same entity key
//! pending, so each handler sees an entity's events in order (an event
//! that dead-letters stops blocking the ones after it): only the oldest
//! pending delivery of each (handler, entity) is `ready`, and ending it
//! readies the next.
//!
//! The handler runs while the transaction holds the store's write lock:
//! deliveries run one at a time, and a handler must not open another
//! transaction on the same store (use the one it is given).

use super::outbox::{EVENT_BY_ID, EventRow, read_event_row};
use crate::Problem;
use crate::events::Event;
use crate::pipeline::store::{Store, Tx, now_ms};
use crate::sql::{self, OptionalExtension, params};
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

pub use super::retry::{Backoff, RetryPolicy};

type HandlerFn =
    Arc<dyn Fn(Tx, Event<Value>) -> BoxFuture<'static, Result<(), Problem>> + Send + Sync>;

struct Subscription {
    handler: String,
    policy: RetryPolicy,
    run: HandlerFn,
}

/// What one pass of [`Dispatcher::run_once`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// New outbox events read (each became a delivery per subscribed handler).
    pub fanned_out: usize,
    /// Handler calls that succeeded.
    pub delivered: usize,
    /// Deliveries skipped because the inbox says the handler already ran.
    pub deduplicated: usize,
    /// Handler calls that failed and will be retried.
    pub retried: usize,
    /// Deliveries that exhausted their attempts.
    pub dead_lettered: usize,
}

impl Pass {
    /// Whether the pass did anything.
    pub fn is_idle(&self) -> bool {
        *self == Pass::default()
    }
}

/// Reads the outbox and calls the handlers subscribed to each event.
pub struct Dispatcher {
    store: Store,
    consumer: String,
    by_event: HashMap<String, Vec<Subscription>>,
    batch: usize,
    per_commit: usize,
    handler_timeout: std::time::Duration,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

struct Due {
    event_id: String,
    handler: String,
    entity_key: Option<String>,
    attempts: u32,
}

impl Dispatcher {
    /// A dispatcher over `store`. `consumer` names its place in the outbox
    /// (the service's name): each consumer sees every event once.
    pub fn new(store: Store, consumer: &str) -> Self {
        Dispatcher {
            store,
            consumer: consumer.to_string(),
            by_event: HashMap::new(),
            batch: 256,
            per_commit: 64,
            handler_timeout: std::time::Duration::from_secs(30),
        }
    }

    /// The longest a handler may run (30 s unless set). A handler holds the
    /// store's write lock while it runs, so one that hangs would stop every
    /// writer: past this it is cancelled, its writes roll back, and the
    /// attempt counts as failed.
    pub fn with_handler_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Deliveries attempted per transaction (64 unless set; 1 commits
    /// each delivery on its own). More per commit is faster, and a crash
    /// repeats up to that many handler calls (their transactional writes
    /// are undone with the batch, so none runs twice).
    pub fn with_deliveries_per_commit(mut self, n: usize) -> Self {
        self.per_commit = n.max(1);
        self
    }

    /// Subscribes `handler` to `event`. Register every handler before the
    /// first pass: an event fanned out before a handler was registered is
    /// not delivered to it. Handler names must be unique per dispatcher;
    /// the tables name a handler `consumer/handler` (the inbox's key), so
    /// two services may both have a `notify` handler.
    pub fn subscribe<F, Fut>(&mut self, event: &str, handler: &str, policy: RetryPolicy, f: F)
    where
        F: Fn(Tx, Event<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Problem>> + Send + 'static,
    {
        let run: HandlerFn = Arc::new(move |tx, event| Box::pin(f(tx, event)));
        self.by_event
            .entry(event.to_string())
            .or_default()
            .push(Subscription {
                handler: format!("{}/{handler}", self.consumer),
                policy,
                run,
            });
    }

    fn subscription(&self, event: &str, handler: &str) -> Option<&Subscription> {
        self.by_event
            .get(event)?
            .iter()
            .find(|s| s.handler == handler)
    }

    /// Runs until `shutdown` resolves: a pass, then a wait for a commit
    /// that appended events, the next retry, or `idle_ms` at most.
    pub async fn run(&self, idle_ms: u64, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wait_ms = match self.run_once(now_ms()).await {
                Ok(pass) if !pass.is_idle() => 0,
                Ok(_) => self.next_due().await.ok().flatten().map_or(idle_ms, |at| {
                    (at - now_ms()).clamp(0, idle_ms as i64) as u64
                }),
                Err(e) => {
                    tracing::error!(error = %e, "dispatcher pass failed");
                    idle_ms
                }
            };
            if wait_ms == 0 {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.store.committed() => {}
                () = tokio::time::sleep(std::time::Duration::from_millis(wait_ms)) => {}
            }
        }
    }

    /// One pass at time `now` (ms since the epoch): fan out new events,
    /// then attempt every delivery due by `now`.
    pub async fn run_once(&self, now: i64) -> Result<Pass, Problem> {
        let mut pass = Pass {
            fanned_out: self.fan_out(now).await?,
            ..Pass::default()
        };
        let due = self.due(now).await?;
        for batch in due.chunks(self.per_commit.max(1)) {
            self.deliver_batch(batch, &mut pass).await?;
        }
        Ok(pass)
    }

    /// Runs passes until one does nothing (tests, draining at shutdown).
    /// Deliveries waiting for a later retry are left waiting.
    pub async fn drain(&self) -> Result<Pass, Problem> {
        let mut total = Pass::default();
        loop {
            let pass = self.run_once(now_ms()).await?;
            if pass.is_idle() {
                return Ok(total);
            }
            total.fanned_out += pass.fanned_out;
            total.delivered += pass.delivered;
            total.deduplicated += pass.deduplicated;
            total.retried += pass.retried;
            total.dead_lettered += pass.dead_lettered;
        }
    }

    async fn fan_out(&self, now: i64) -> Result<usize, Problem> {
        let tx = self.store.begin().await?;
        let cursor: i64 = tx.with_conn(|c| {
            c.prepare_cached("SELECT seq FROM dispatch_cursors WHERE consumer = ?1")?
                .query_row(params![self.consumer], |r| r.get(0))
                .optional()
                .map(|s| s.unwrap_or(0))
        })?;
        let rows: Vec<(i64, String, String, Option<String>)> = tx.with_conn(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, event_id, name, entity_key FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![cursor, self.batch as i64 * 4], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect()
        })?;
        let Some(last) = rows.last().map(|r| r.0) else {
            tx.rollback()?;
            return Ok(0);
        };
        let mut created = 0;
        tx.with_conn(|c| {
            let mut insert = c.prepare_cached(
                "INSERT OR IGNORE INTO deliveries (event_id, handler, seq, entity_key, attempts, next_attempt, ready)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?4 IS NULL OR NOT EXISTS (
                    SELECT 1 FROM deliveries e WHERE e.handler = ?2 AND e.entity_key = ?4))",
            )?;
            for (seq, id, name, key) in &rows {
                for sub in self.by_event.get(name).into_iter().flatten() {
                    created += insert.execute(params![id, sub.handler, seq, key, now])?;
                }
            }
            c.prepare_cached("INSERT INTO dispatch_cursors (consumer, seq) VALUES (?1, ?2)
                 ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq")?.execute(params![self.consumer, last],
            )?;
            Ok(())
        })?;
        tx.commit()?;
        tracing::debug!(
            events = rows.len(),
            deliveries = created,
            "outbox fanned out"
        );
        Ok(rows.len())
    }

    /// Deliveries due by `now` whose handler has no earlier pending
    /// delivery of the same entity, oldest first.
    async fn due(&self, now: i64) -> Result<Vec<Due>, Problem> {
        self.store
            .read(|c| {
                let mut stmt = c.prepare_cached(
                    "SELECT d.event_id, d.handler, d.entity_key, d.attempts
                     FROM deliveries d INDEXED BY deliveries_ready
                     WHERE d.ready = 1 AND d.next_attempt <= ?1 AND d.handler >= ?3 AND d.handler < ?4
                     ORDER BY d.seq LIMIT ?2",
                )?;
                // `consumer/` up to `consumer0`: this consumer's handlers.
                let from = format!("{}/", self.consumer);
                let to = format!("{}0", self.consumer);
                let rows = stmt.query_map(params![now, self.batch as i64, from, to], |r| {
                    Ok(Due {
                        event_id: r.get(0)?,
                        handler: r.get(1)?,
                        entity_key: r.get(2)?,
                        attempts: r.get(3)?,
                    })
                })?;
                rows.collect()
            })
            .await
    }

    /// When the next waiting delivery is due.
    async fn next_due(&self) -> Result<Option<i64>, Problem> {
        self.store
            .read(|c| {
                c.prepare_cached(
                    "SELECT MIN(next_attempt) FROM deliveries WHERE handler >= ?1 AND handler < ?2",
                )?
                .query_row(
                    params![format!("{}/", self.consumer), format!("{}0", self.consumer)],
                    |r| r.get(0),
                )
            })
            .await
    }

    /// Attempts `batch` in one transaction, each delivery under a
    /// savepoint: a failed handler's writes roll back to its savepoint and
    /// its failure is recorded, the others' writes and inbox rows stay; one
    /// commit ends them all. A crash before that commit undoes the whole
    /// batch, and every delivery in it is attempted again.
    async fn deliver_batch(&self, batch: &[Due], pass: &mut Pass) -> Result<(), Problem> {
        let tx = self.store.begin().await?;
        let mut done = Pass::default();
        let mut logs = Vec::new();
        for due in batch {
            self.deliver_one(&tx, due, &mut done, &mut logs).await?;
        }
        tx.commit()?;
        for log in logs {
            log.emit();
        }
        pass.delivered += done.delivered;
        pass.deduplicated += done.deduplicated;
        pass.retried += done.retried;
        pass.dead_lettered += done.dead_lettered;
        Ok(())
    }

    async fn deliver_one(
        &self,
        tx: &Tx,
        due: &Due,
        done: &mut Pass,
        logs: &mut Vec<Failure>,
    ) -> Result<(), Problem> {
        // Another process may have finished it since `due` read it.
        let still: Option<u32> = tx.with_conn(|c| {
            c.prepare_cached(
                "SELECT attempts FROM deliveries WHERE event_id = ?1 AND handler = ?2",
            )?
            .query_row(params![due.event_id, due.handler], |r| r.get(0))
            .optional()
        })?;
        if still != Some(due.attempts) {
            return Ok(());
        }
        let ran: bool = tx.with_conn(|c| {
            c.prepare_cached("SELECT 1 FROM inbox WHERE handler = ?1 AND event_id = ?2")?
                .query_row(params![due.handler, due.event_id], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })?;
        if ran {
            tx.with_conn(|c| delete_delivery(c, due))?;
            done.deduplicated += 1;
            return Ok(());
        }
        let row: Option<EventRow> = tx.with_conn(|c| {
            c.prepare_cached(EVENT_BY_ID)?
                .query_row(params![due.event_id], read_event_row)
                .optional()
        })?;
        let Some(event) = row.map(EventRow::into_event).transpose()? else {
            // The outbox row is gone (pruned): nothing to deliver.
            return tx.with_conn(|c| delete_delivery(c, due));
        };
        let Some(sub) = self.subscription(&event.name, &due.handler) else {
            // Not a handler of this process.
            return Ok(());
        };
        tx.with_conn(|c| {
            c.prepare_cached("SAVEPOINT svcc_delivery")?
                .execute([])
                .map(|_| ())
        })?;
        let handle = tx.handle();
        let call = (sub.run)(
            handle.clone(),
            Event {
                id: event.id,
                name: event.name.clone(),
                payload: event.payload.clone(),
                trace_id: event.trace_id.clone(),
            },
        );
        // Polled here, not spawned on a task of its own: a task costs a
        // wake-up of another worker thread per delivery, which was a third
        // of the dispatcher's time. A panic is caught all the same, and the
        // future is dropped (cancelled) at the end of this block, so it
        // cannot outlive the delivery.
        let outcome = {
            use futures_util::FutureExt;
            use std::task::Poll;
            let mut call = std::pin::pin!(std::panic::AssertUnwindSafe(call).catch_unwind());
            // Most handlers finish at their first poll: no timer for them.
            let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
            let finished = match first {
                Poll::Ready(finished) => Ok(finished),
                Poll::Pending => tokio::time::timeout(self.handler_timeout, call.as_mut()).await,
            };
            match finished {
                Err(_) => Err(format!(
                    "the handler timed out after {} ms",
                    self.handler_timeout.as_millis()
                )),
                Ok(Ok(result)) => result.map_err(|p| describe(&p)),
                Ok(Err(panic)) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Err(format!("the handler panicked: {message}"))
                }
            }
        };
        // The handler's handle stops writing before anything else is done
        // in the transaction (a timed-out handler may still be running).
        handle.revoke();
        match outcome {
            Ok(()) => {
                tx.with_conn(|c| {
                    c.prepare_cached(
                        "INSERT INTO inbox (handler, event_id, done) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![due.handler, due.event_id, now_ms()])?;
                    delete_delivery(c, due)?;
                    c.prepare_cached("RELEASE svcc_delivery")?
                        .execute([])
                        .map(|_| ())
                })?;
                done.delivered += 1;
            }
            Err(error) => {
                // Undo the handler's writes, keep the batch's others.
                tx.with_conn(|c| {
                    c.execute_batch("ROLLBACK TO svcc_delivery; RELEASE svcc_delivery")
                })?;
                let failure = record_failure(tx, due, &event, sub.policy, error)?;
                if failure.dead {
                    done.dead_lettered += 1;
                } else {
                    done.retried += 1;
                }
                logs.push(failure);
            }
        }
        Ok(())
    }
}

/// A failed attempt, logged once its transaction committed.
struct Failure {
    event: String,
    event_id: uuid::Uuid,
    handler: String,
    attempts: u32,
    error: String,
    dead: bool,
    dead_letter: bool,
}

impl Failure {
    fn emit(&self) {
        if self.dead {
            tracing::error!(event = %self.event, event_id = %self.event_id, handler = %self.handler,
                attempts = self.attempts, error = %self.error, dead_letter = self.dead_letter,
                "event handler gave up");
        } else {
            tracing::warn!(event = %self.event, event_id = %self.event_id, handler = %self.handler,
                attempts = self.attempts, error = %self.error, "event handler failed; will retry");
        }
    }
}

/// Counts a failed attempt: schedules the next one by the policy, or after
/// the last one moves the event to the dead letters (or drops it when the
/// subscription has `deadLetter: false`).
fn record_failure(
    tx: &Tx,
    due: &Due,
    event: &super::outbox::StoredEvent,
    policy: RetryPolicy,
    error: String,
) -> Result<Failure, Problem> {
    let attempts = due.attempts + 1;
    let dead = attempts >= policy.attempts.max(1);
    tx.with_conn(|c| {
        if !dead {
            let next = now_ms() + policy.delay_after(attempts) as i64;
            c.prepare_cached("UPDATE deliveries SET attempts = ?3, next_attempt = ?4, last_error = ?5
                 WHERE event_id = ?1 AND handler = ?2")?.execute(params![due.event_id, due.handler, attempts, next, error],
            )?;
            return Ok(());
        }
        if policy.dead_letter {
            c.prepare_cached("INSERT INTO dead_letters (event_id, handler, name, seq, entity_key, payload, last_error, attempts, failed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?.execute(params![
                    due.event_id,
                    due.handler,
                    event.name,
                    event.seq,
                    event.entity_key,
                    event.payload.to_string(),
                    error,
                    attempts,
                    now_ms()
                ],
            )?;
        }
        delete_delivery(c, due)
    })?;
    Ok(Failure {
        event: event.name.clone(),
        event_id: event.id,
        handler: due.handler.clone(),
        attempts,
        error,
        dead,
        dead_letter: policy.dead_letter,
    })
}

/// A failed handler's problem as the dead letter's last error: status,
/// title, detail (for a `Problem::internal`, its real cause, which its
/// HTTP answers never show) and extension members.
fn describe(p: &Problem) -> String {
    let mut s = format!("{} {}", p.status, p.title);
    if let Some(d) = p.cause.as_ref().or(p.detail.as_ref()) {
        s.push_str(": ");
        s.push_str(d);
    }
    if !p.extensions.is_empty() {
        s.push(' ');
        s.push_str(&Value::Object(p.extensions.clone()).to_string());
    }
    s
}

/// Ends a delivery, and makes the next pending delivery of the same entity
/// to the same handler (the lowest `seq`) ready: this is what keeps each
/// handler's view of an entity in order, at the cost of one indexed
/// update instead of a check per candidate row at every pass.
fn delete_delivery(c: &sql::Connection<'_>, due: &Due) -> sql::Result<()> {
    c.prepare_cached("DELETE FROM deliveries WHERE event_id = ?1 AND handler = ?2")?
        .execute(params![due.event_id, due.handler])?;
    if let Some(key) = &due.entity_key {
        c.prepare_cached(
            "UPDATE deliveries SET ready = 1 WHERE rowid = (
                SELECT rowid FROM deliveries WHERE handler = ?1 AND entity_key = ?2
                ORDER BY seq LIMIT 1)",
        )?
        .execute(params![due.handler, key])?;
    }
    Ok(())
}

/// Deliveries not yet done (tools and tests).
pub async fn pending(store: &Store) -> Result<usize, Problem> {
    store
        .read(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM deliveries")?
                .query_row([], |r| r.get(0))
        })
        .await
}
