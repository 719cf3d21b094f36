//! The saga coordinator on real files: success, compensation in reverse
//! order, `parallel`, `when`, retries, timeouts, redelivered triggers,
//! stuck compensations, and resuming after the coordinator is dropped in
//! the middle of a step.

use crate::{Running, count, retries, store};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use svcc_runtime::durable::coordinator::Driven;
use svcc_runtime::durable::outbox::list_events;
use svcc_runtime::durable::saga::{self, saga_id};
use svcc_runtime::durable::{
    Action, Coordinator, Dispatcher, ManualClock, SagaSpec, StepError, StepSpec, Store,
};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Appends `label` to the log and returns `{"step": label, "input": ...}`.
fn logged(log: &Log, label: &str) -> Action {
    let log = log.clone();
    let label = label.to_string();
    Action::new(move |call| {
        log.lock().unwrap().push(label.clone());
        let out = json!({"step": label, "input": call.input});
        async move { Ok(out) }
    })
}

/// Fails for good.
fn failing(log: &Log, label: &str) -> Action {
    let log = log.clone();
    let label = label.to_string();
    Action::new(move |_| {
        log.lock().unwrap().push(label.clone());
        async move { Err(StepError::permanent("out of stock")) }
    })
}

fn event() -> uuid::Uuid {
    uuid::Uuid::new_v4()
}

async fn run(c: &Coordinator) {
    tokio::time::timeout(Duration::from_secs(20), c.run_pending())
        .await
        .expect("the sagas ended")
        .unwrap();
}

fn statuses(record: &saga::SagaRecord) -> Vec<(String, String, Option<String>)> {
    record
        .steps
        .iter()
        .map(|s| (s.name.clone(), s.status.clone(), s.compensation.clone()))
        .collect()
}

fn st(name: &str, status: &str, comp: Option<&str>) -> (String, String, Option<String>) {
    (name.into(), status.into(), comp.map(str::to_string))
}

#[tokio::test]
async fn a_saga_that_succeeds_records_every_step_and_publishes_on_success() {
    let (_dir, s) = store();
    let log = log();
    let spec = SagaSpec::new("Fulfil", "Order.created")
        .step(StepSpec::new("reserve", logged(&log, "reserve")).compensate(logged(&log, "release")))
        .step(
            StepSpec::new("charge", logged(&log, "charge"))
                .compensate(logged(&log, "refund"))
                .input(|state| state["steps"]["reserve"]["output"].clone()),
        )
        .step(StepSpec::new("confirm", logged(&log, "confirm")))
        .on_success("Order.completed")
        .on_failure("Order.failed");
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let trigger = event();
    let input = json!({"id": "o-1", "total": 10});
    let id = c.start("Fulfil", trigger, &input).await.unwrap();
    assert_eq!(id, saga_id("Fulfil", trigger));
    run(&c).await;
    assert_eq!(entries(&log), ["reserve", "charge", "confirm"]);
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "completed");
    assert_eq!(
        statuses(&record),
        [
            st("reserve", "succeeded", None),
            st("charge", "succeeded", None),
            st("confirm", "succeeded", None)
        ]
    );
    // `input:` chose the previous step's output.
    assert_eq!(
        record.steps[1].input,
        Some(json!({"step": "reserve", "input": input}))
    );
    assert!(record.steps.iter().all(|s| s.attempts == 1
        && s.started.is_some()
        && s.ended.is_some()
        && s.output.is_some()));
    assert!(record.ended.is_some());
    // The history is JSON for `GET /sagas/{id}`.
    let j = serde_json::to_value(&record).unwrap();
    assert_eq!(j["status"], "completed");
    assert_eq!(j["triggerEvent"], trigger.to_string());
    assert_eq!(j["steps"][0]["name"], "reserve");
    assert_eq!(j["steps"][0]["output"]["step"], "reserve");
    // onSuccess, with the input as payload and the entity's key.
    let events = list_events(&s).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name, "Order.completed");
    assert_eq!(events[0].payload, input);
    assert_eq!(events[0].entity_key.as_deref(), Some("Order/o-1"));
    let listed = saga::list(&s, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, "completed");
    // Driving it again does nothing.
    assert_eq!(c.drive(&id.to_string()).await.unwrap(), Driven::NotMine);
    assert_eq!(entries(&log).len(), 3);
    s.integrity_check().await.unwrap();
}

#[tokio::test]
async fn a_failure_compensates_the_completed_steps_in_reverse_order_once_each() {
    let (_dir, s) = store();
    let log = log();
    let spec = SagaSpec::new("Fulfil", "Order.created")
        .step(StepSpec::new("reserve", logged(&log, "reserve")).compensate(logged(&log, "release")))
        .step(StepSpec::new("charge", logged(&log, "charge")).compensate(logged(&log, "refund")))
        .step(StepSpec::new("note", logged(&log, "note")))
        .step(StepSpec::new("ship", failing(&log, "ship")).compensate(logged(&log, "cancel")))
        .step(StepSpec::new("confirm", logged(&log, "confirm")))
        .on_success("Order.completed")
        .on_failure("Order.failed");
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c
        .start("Fulfil", event(), &json!({"id": "o-2"}))
        .await
        .unwrap();
    run(&c).await;
    // The failed step and the steps after it are not compensated; a step
    // without a compensation is recorded as `none`.
    assert_eq!(
        entries(&log),
        ["reserve", "charge", "note", "ship", "refund", "release"]
    );
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "compensated");
    assert!(record.error.as_deref().unwrap().contains("out of stock"));
    assert_eq!(
        statuses(&record),
        [
            st("reserve", "succeeded", Some("done")),
            st("charge", "succeeded", Some("done")),
            st("note", "succeeded", Some("none")),
            st("ship", "failed", None),
            st("confirm", "pending", None)
        ]
    );
    // A permanent error is not retried.
    assert_eq!(record.steps[3].attempts, 1);
    // Compensation gets the step's output.
    let charge = &record.steps[1];
    assert!(charge.compensation_started.unwrap() <= charge.compensation_ended.unwrap());
    assert!(record.steps[0].compensation_started >= charge.compensation_ended);
    let events = list_events(&s).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["Order.failed"]
    );
    // Driving again changes nothing.
    run(&c).await;
    assert_eq!(entries(&log).len(), 6);
    assert_eq!(list_events(&s).await.unwrap().len(), 1);
}

#[tokio::test]
async fn compensations_receive_the_output_or_else_the_input() {
    let (_dir, s) = store();
    let seen = log();
    let record = |log: &Log| {
        let log = log.clone();
        Action::new(move |call| {
            log.lock()
                .unwrap()
                .push(format!("{}:{}", call.idempotency_key, call.input));
            async move { Ok(Value::Null) }
        })
    };
    let spec = SagaSpec::new("S", "T")
        .step(
            StepSpec::new(
                "a",
                Action::new(|_| async { Ok(json!({"reservation": 7})) }),
            )
            .compensate(record(&seen)),
        )
        .step(
            StepSpec::new("b", Action::new(|_| async { Ok(Value::Null) }))
                .compensate(record(&seen)),
        )
        .step(StepSpec::new(
            "c",
            Action::new(|_| async { Err(StepError::permanent("no")) }),
        ));
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c.start("S", event(), &json!({"n": 1})).await.unwrap();
    run(&c).await;
    assert_eq!(
        entries(&seen),
        [
            format!("{id}/b/compensate:{{\"n\":1}}"),
            format!("{id}/a/compensate:{{\"reservation\":7}}")
        ]
    );
}

#[tokio::test]
async fn a_parallel_group_runs_its_steps_concurrently() {
    let (_dir, s) = store();
    let log = log();
    // Each step waits for the other at a barrier: run one after the other,
    // the first would wait forever (and the test time out).
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let meet = |label: &'static str| {
        let barrier = barrier.clone();
        let log = log.clone();
        Action::new(move |_| {
            let barrier = barrier.clone();
            let log = log.clone();
            async move {
                barrier.wait().await;
                log.lock().unwrap().push(label.to_string());
                Ok(json!(label))
            }
        })
    };
    let spec = SagaSpec::new("S", "T")
        .step(StepSpec::new("first", logged(&log, "first")).compensate(logged(&log, "undo-first")))
        .parallel(vec![
            StepSpec::new("ship", meet("ship")).compensate(logged(&log, "undo-ship")),
            StepSpec::new("invoice", meet("invoice")).compensate(logged(&log, "undo-invoice")),
        ])
        .step(StepSpec::new("last", logged(&log, "last")));
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c.start("S", event(), &json!({})).await.unwrap();
    run(&c).await;
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "completed");
    assert_eq!(record.steps[1].item, record.steps[2].item);
    let l = entries(&log);
    assert_eq!((l[0].as_str(), l[3].as_str()), ("first", "last"));
    assert_eq!(l.len(), 4);
}

#[tokio::test]
async fn a_failure_in_a_parallel_group_compensates_its_completed_siblings() {
    let (_dir, s) = store();
    let log = log();
    let spec = SagaSpec::new("S", "T")
        .step(StepSpec::new("first", logged(&log, "first")).compensate(logged(&log, "undo-first")))
        .parallel(vec![
            StepSpec::new("ship", logged(&log, "ship")).compensate(logged(&log, "undo-ship")),
            StepSpec::new("invoice", failing(&log, "invoice"))
                .compensate(logged(&log, "undo-invoice")),
        ])
        .step(StepSpec::new("last", logged(&log, "last")));
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c.start("S", event(), &json!({})).await.unwrap();
    run(&c).await;
    let l = entries(&log);
    assert_eq!(&l[l.len() - 2..], ["undo-ship", "undo-first"]);
    assert!(!l.contains(&"undo-invoice".to_string()));
    assert_eq!(saga::saga(&s, id).await.unwrap().status, "compensated");
}

#[tokio::test]
async fn when_skips_a_step_and_records_it() {
    let (_dir, s) = store();
    let log = log();
    let spec = SagaSpec::new("S", "T")
        .step(StepSpec::new(
            "charge",
            Action::new(|_| async { Ok(json!({"id": "ch-1", "big": false})) }),
        ))
        .parallel(vec![
            StepSpec::new("ship", logged(&log, "ship")),
            StepSpec::new("invoice", logged(&log, "invoice"))
                .when(|state| state["input"]["total"]["amount"].as_i64().unwrap_or(0) >= 1000),
        ])
        .step(
            StepSpec::new("audit", logged(&log, "audit"))
                .when(|state| state["steps"]["charge"]["output"]["id"] == "ch-1"),
        )
        .step(
            StepSpec::new("alarm", logged(&log, "alarm"))
                .when(|state| state["steps"]["charge"]["output"]["big"] == true),
        );
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c
        .start("S", event(), &json!({"total": {"amount": 10}}))
        .await
        .unwrap();
    run(&c).await;
    assert_eq!(entries(&log), ["ship", "audit"]);
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "completed");
    assert_eq!(
        statuses(&record),
        [
            st("charge", "succeeded", None),
            st("ship", "succeeded", None),
            st("invoice", "skipped", None),
            st("audit", "succeeded", None),
            st("alarm", "skipped", None)
        ]
    );
    assert_eq!(record.steps[2].attempts, 0);
}

#[tokio::test]
async fn a_step_is_retried_until_it_succeeds() {
    let (_dir, s) = store();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let flaky = {
        let calls = calls.clone();
        Action::new(move |call| {
            calls
                .lock()
                .unwrap()
                .push((call.attempt, call.idempotency_key.clone()));
            async move {
                if call.attempt < 3 {
                    Err(StepError::retryable("503 busy"))
                } else {
                    Ok(json!("charged"))
                }
            }
        })
    };
    let spec = SagaSpec::new("S", "T").step(StepSpec::new("charge", flaky).retry(retries(3)));
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c.start("S", event(), &json!({})).await.unwrap();
    run(&c).await;
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "completed");
    assert_eq!(record.steps[0].attempts, 3);
    assert_eq!(record.steps[0].error, None);
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    // One idempotency key for every attempt: saga id + step name.
    assert!(calls.iter().all(|(_, k)| *k == format!("{id}/charge")));
}

#[tokio::test]
async fn a_step_that_times_out_is_retried_then_fails_the_saga() {
    let (_dir, s) = store();
    let log = log();
    let hang = Action::new(|_| async {
        std::future::pending::<()>().await;
        Ok(Value::Null)
    });
    let spec = SagaSpec::new("S", "T")
        .step(StepSpec::new("reserve", logged(&log, "reserve")).compensate(logged(&log, "release")))
        .step(
            StepSpec::new("charge", hang)
                .timeout(Duration::from_millis(50))
                .retry(retries(2)),
        )
        .on_failure("Order.failed");
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c.start("S", event(), &json!({})).await.unwrap();
    run(&c).await;
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "compensated");
    assert_eq!(record.steps[1].status, "failed");
    assert_eq!(record.steps[1].attempts, 2);
    assert!(
        record.steps[1]
            .error
            .as_deref()
            .unwrap()
            .contains("timed out")
    );
    assert_eq!(entries(&log), ["reserve", "release"]);
}

#[tokio::test]
async fn a_saga_that_outlives_its_timeout_fails_its_step_and_is_compensated() {
    let (_dir, s) = store();
    let log = log();
    // Never ready: retried (every 10 ms, up to 1,000 times) until the
    // saga's timeout ends it.
    let waiting = Action::new(|_| async { Err(StepError::retryable("409 not authorized yet")) });
    let spec = SagaSpec::new("S", "T")
        .step(StepSpec::new("reserve", logged(&log, "reserve")).compensate(logged(&log, "release")))
        .step(
            StepSpec::new("charge", waiting).retry(svcc_runtime::durable::RetryPolicy {
                delay_ms: 10,
                ..retries(1_000)
            }),
        )
        .timeout(Duration::from_millis(300))
        .on_failure("Order.failed");
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c.start("S", event(), &json!({})).await.unwrap();
    let started = std::time::Instant::now();
    run(&c).await;
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "compensated");
    let charge = &record.steps[1];
    assert_eq!(charge.status, "failed");
    assert!(
        charge
            .error
            .as_deref()
            .unwrap()
            .contains("ran out of its timeout"),
        "{charge:?}"
    );
    assert!(charge.attempts > 1 && charge.attempts < 1_000, "{charge:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(entries(&log), ["reserve", "release"]);
}

/// `reserve`, then `charge` whose compensation `refund` fails while
/// `fails(attempt)` says so (and logs `refund` when it succeeds), then
/// `ship`, which fails for good.
fn refund_spec(
    log: &Log,
    fails: impl Fn(u32) -> bool + Send + Sync + 'static,
    attempts: u32,
) -> SagaSpec {
    let fails = Arc::new(fails);
    let refund = {
        let log = log.clone();
        Action::new(move |call| {
            let failing = fails(call.attempt);
            let log = log.clone();
            async move {
                if failing {
                    return Err(StepError::permanent("payment provider down"));
                }
                log.lock().unwrap().push("refund".to_string());
                Ok(Value::Null)
            }
        })
    };
    SagaSpec::new("S", "T")
        .step(StepSpec::new("reserve", logged(log, "reserve")).compensate(logged(log, "release")))
        .step(
            StepSpec::new("charge", logged(log, "charge"))
                .compensate(refund)
                .compensation_retry(retries(attempts)),
        )
        .step(StepSpec::new("ship", failing(log, "ship")))
        .on_failure("Order.failed")
}

#[tokio::test]
async fn a_compensation_that_fails_twice_is_retried_until_it_succeeds() {
    let (_dir, s) = store();
    let log = log();
    // Every error is retried, permanent or not.
    let spec = refund_spec(&log, |attempt| attempt <= 2, 5);
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c.start("S", event(), &json!({})).await.unwrap();
    run(&c).await;
    assert_eq!(
        entries(&log),
        ["reserve", "charge", "ship", "refund", "release"]
    );
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "compensated");
    assert_eq!(record.steps[1].compensation.as_deref(), Some("done"));
    assert_eq!(record.steps[1].compensation_attempts, 3);
    assert_eq!(record.steps[1].compensation_error, None);
}

#[tokio::test]
async fn a_compensation_that_never_succeeds_parks_the_saga_until_retried() {
    let (_dir, s) = store();
    let log = log();
    let broken = Arc::new(Mutex::new(true));
    let spec = {
        let broken = broken.clone();
        refund_spec(&log, move |_| *broken.lock().unwrap(), 2)
    };
    let c = Coordinator::new(s.clone()).with_saga(spec);
    let id = c.start("S", event(), &json!({})).await.unwrap();
    run(&c).await;
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "stuck");
    assert_eq!(record.steps[1].compensation.as_deref(), Some("dead"));
    assert_eq!(record.steps[1].compensation_attempts, 2);
    assert!(record.error.as_deref().unwrap().contains("dead-lettered"));
    // Never skipped: the earlier step's compensation waits, no event yet.
    assert_eq!(entries(&log), ["reserve", "charge", "ship"]);
    assert!(list_events(&s).await.unwrap().is_empty());
    // The operator fixes the provider and retries.
    *broken.lock().unwrap() = false;
    saga::retry_stuck(&s, id).await.unwrap();
    run(&c).await;
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "compensated");
    assert_eq!(
        entries(&log),
        ["reserve", "charge", "ship", "refund", "release"]
    );
    assert_eq!(list_events(&s).await.unwrap().len(), 1);
    assert_eq!(saga::retry_stuck(&s, id).await.unwrap_err().status, 404);
}

#[tokio::test]
async fn a_redelivered_trigger_starts_no_second_saga() {
    let (_dir, s) = store();
    let log = log();
    let spec = SagaSpec::new("Fulfil", "Order.created")
        .step(StepSpec::new("reserve", logged(&log, "reserve")))
        .on_success("Order.completed");
    let c = Arc::new(Coordinator::new(s.clone()).with_saga(spec));
    let mut d = Dispatcher::new(s.clone(), "OrderService");
    c.subscribe(&mut d, retries(3));
    let trigger = s
        .write(|tx| tx.publish("Order.created", Some("Order/1"), &json!({"id": "1"})))
        .await
        .unwrap();
    d.drain().await.unwrap();
    run(&c).await;
    assert_eq!(count(&s, "SELECT COUNT(*) FROM sagas").await, 1);
    // Redeliver: the inbox skips it.
    s.write(|tx| tx.with_conn(|c| c.execute("DELETE FROM dispatch_cursors", [])))
        .await
        .unwrap();
    let pass = d.drain().await.unwrap();
    assert_eq!(pass.deduplicated, 1);
    // Redeliver without the inbox mark (a lost inbox, another consumer):
    // the saga id is derived from the event id, so nothing new starts.
    s.write(|tx| {
        tx.with_conn(|c| c.execute_batch("DELETE FROM dispatch_cursors; DELETE FROM inbox;"))
    })
    .await
    .unwrap();
    let pass = d.drain().await.unwrap();
    assert_eq!(pass.delivered, 1);
    assert_eq!(
        c.start("Fulfil", trigger, &json!({"id": "1"}))
            .await
            .unwrap(),
        saga_id("Fulfil", trigger)
    );
    run(&c).await;
    assert_eq!(count(&s, "SELECT COUNT(*) FROM sagas").await, 1);
    assert_eq!(entries(&log), ["reserve"]);
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM outbox WHERE name = 'Order.completed'"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_loop_starts_sagas_from_their_trigger() {
    let (_dir, s) = store();
    let log = log();
    let spec = SagaSpec::new("Fulfil", "Order.created")
        .step(StepSpec::new("reserve", logged(&log, "reserve")))
        .on_success("Order.completed");
    let c = Arc::new(Coordinator::new(s.clone()).with_saga(spec));
    let mut d = Dispatcher::new(s.clone(), "OrderService");
    c.subscribe(&mut d, retries(3));
    let running = Running::start(Arc::new(d), c.clone(), 20);
    for i in 0..5 {
        s.write(|tx| tx.publish("Order.created", None, &json!({"id": i})))
            .await
            .unwrap();
    }
    // Wait for the outcome (a condition, polled; not a correctness argument).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while count(&s, "SELECT COUNT(*) FROM sagas WHERE status = 'completed'").await < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "sagas did not complete"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.stop().await;
    assert_eq!(entries(&log).len(), 5);
}

/// Waits until `sql` counts at least one row.
async fn until(s: &Store, sql: &'static str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while count(s, sql).await == 0 {
        assert!(std::time::Instant::now() < deadline, "timed out on {sql}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Drives `c`'s sagas on a task until `sql` counts a row; the task goes on.
async fn drive_until(
    c: &Arc<Coordinator>,
    s: &Store,
    sql: &'static str,
) -> tokio::task::JoinHandle<Result<usize, svcc_runtime::Problem>> {
    let task = {
        let c = c.clone();
        tokio::spawn(async move { c.run_pending().await })
    };
    until(s, sql).await;
    task
}

/// The process dies: the task and everything it holds are dropped.
async fn die<T>(task: tokio::task::JoinHandle<T>) {
    task.abort();
    let _ = task.await;
}

/// Labels whose first call already hung, shared by every "process".
type Hung = Arc<Mutex<std::collections::HashSet<&'static str>>>;

/// A spec whose `charge` hangs on its first call (the process "dies"
/// there) and whose `ship` fails when `fail` is set; `refund` hangs on its
/// first call too.
fn crashing_spec(log: &Log, fail: bool, hung: &Hung) -> SagaSpec {
    let hang_once = |label: &'static str| {
        let log = log.clone();
        let hung = hung.clone();
        Action::new(move |call| {
            let log = log.clone();
            let hung = hung.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("{label}:{}", call.idempotency_key));
                let first = hung.lock().unwrap().insert(label);
                if first {
                    std::future::pending::<()>().await;
                }
                Ok(json!(label))
            }
        })
    };
    let ship = if fail {
        failing(log, "ship")
    } else {
        logged(log, "ship")
    };
    SagaSpec::new("S", "T")
        .step(StepSpec::new("reserve", logged(log, "reserve")).compensate(logged(log, "release")))
        .step(StepSpec::new("charge", hang_once("charge")).compensate(hang_once("refund")))
        .step(StepSpec::new("ship", ship))
        .on_success("Order.completed")
        .on_failure("Order.failed")
}

#[tokio::test]
async fn a_saga_interrupted_mid_step_resumes_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svcc.db");
    let log = log();
    let hung = Hung::default();
    let clock = ManualClock::new(1_000_000);
    let id;
    {
        let s = Store::open(&path).unwrap();
        let c = Arc::new(
            Coordinator::new(s.clone())
                .with_clock(clock.clone())
                .with_saga(crashing_spec(&log, false, &hung)),
        );
        id = c.start("S", event(), &json!({"id": "o"})).await.unwrap();
        let task = drive_until(
            &c,
            &s,
            "SELECT COUNT(*) FROM saga_steps WHERE step = 'charge' AND status = 'running'",
        )
        .await;
        die(task).await;
    }
    // A new process on the same file; the old coordinator's lease has
    // expired by the new one's clock.
    clock.advance(120_000);
    let s = Store::open(&path).unwrap();
    let c = Coordinator::new(s.clone())
        .with_clock(clock.clone())
        .with_saga(crashing_spec(&log, false, &hung));
    run(&c).await;
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "completed");
    // `reserve` ran once; `charge` ran again (at-least-once) with the same
    // idempotency key; `ship` once.
    assert_eq!(
        entries(&log),
        [
            "reserve".to_string(),
            format!("charge:{id}/charge"),
            format!("charge:{id}/charge"),
            "ship".to_string()
        ]
    );
    assert_eq!(record.steps[1].attempts, 2);
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM outbox WHERE name = 'Order.completed'"
        )
        .await,
        1
    );
    s.integrity_check().await.unwrap();
}

#[tokio::test]
async fn a_saga_interrupted_during_compensation_resumes_and_is_fully_compensated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svcc.db");
    let log = log();
    let hung = Hung::default();
    let clock = ManualClock::new(1_000_000);
    let id;
    {
        let s = Store::open(&path).unwrap();
        // `charge` hangs once: let the first coordinator get past it.
        let spec = crashing_spec(&log, true, &hung);
        let c = Arc::new(
            Coordinator::new(s.clone())
                .with_clock(clock.clone())
                .with_saga(spec),
        );
        id = c.start("S", event(), &json!({"id": "o"})).await.unwrap();
        let task = drive_until(
            &c,
            &s,
            "SELECT COUNT(*) FROM saga_steps WHERE step = 'charge' AND status = 'running'",
        )
        .await;
        die(task).await;
        // Second "process": charge succeeds, ship fails, refund hangs.
        clock.advance(120_000);
        let task = drive_until(
            &c,
            &s,
            "SELECT COUNT(*) FROM saga_steps WHERE step = 'charge' AND compensation = 'running'",
        )
        .await;
        die(task).await;
        assert_eq!(saga::saga(&s, id).await.unwrap().status, "compensating");
    }
    clock.advance(120_000);
    let s = Store::open(&path).unwrap();
    let c = Coordinator::new(s.clone())
        .with_clock(clock.clone())
        .with_saga(crashing_spec(&log, true, &hung));
    run(&c).await;
    let record = saga::saga(&s, id).await.unwrap();
    assert_eq!(record.status, "compensated");
    assert_eq!(
        statuses(&record),
        [
            st("reserve", "succeeded", Some("done")),
            st("charge", "succeeded", Some("done")),
            st("ship", "failed", None)
        ]
    );
    let l = entries(&log);
    assert_eq!(l.iter().filter(|e| e.as_str() == "reserve").count(), 1);
    assert_eq!(l.iter().filter(|e| e.as_str() == "release").count(), 1);
    assert_eq!(l.last().map(String::as_str), Some("release"));
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM outbox WHERE name = 'Order.failed'"
        )
        .await,
        1
    );
    s.integrity_check().await.unwrap();
}

#[tokio::test]
async fn a_live_lease_keeps_a_second_coordinator_away() {
    let (_dir, s) = store();
    let log = log();
    let hung = Hung::default();
    let clock = ManualClock::new(1_000_000);
    let a = Arc::new(
        Coordinator::new(s.clone())
            .with_clock(clock.clone())
            .with_saga(crashing_spec(&log, false, &hung)),
    );
    let id = a.start("S", event(), &json!({})).await.unwrap();
    let task = drive_until(
        &a,
        &s,
        "SELECT COUNT(*) FROM saga_steps WHERE step = 'charge' AND status = 'running'",
    )
    .await;
    // A second coordinator (another process) sees the lease and stays away.
    let b = Coordinator::new(s.clone())
        .with_clock(clock.clone())
        .with_saga(crashing_spec(&log, false, &hung));
    assert_eq!(b.run_pending().await.unwrap(), 0);
    assert_eq!(b.drive(&id.to_string()).await.unwrap(), Driven::NotMine);
    die(task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_coordinators_on_one_file_drive_each_saga_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svcc.db");
    // Two stores: two connections, as two processes would have.
    let (a, b) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
    let log = log();
    let spec = || {
        SagaSpec::new("S", "T")
            .step(StepSpec::new("one", logged(&log, "one")))
            .parallel(vec![
                StepSpec::new("two", logged(&log, "two")),
                StepSpec::new("three", logged(&log, "three")),
            ])
            .on_success("Done")
    };
    let x = Coordinator::new(a.clone()).with_saga(spec());
    let y = Coordinator::new(b.clone()).with_saga(spec());
    for _ in 0..40 {
        x.start("S", event(), &json!({})).await.unwrap();
    }
    let (p, q) = tokio::join!(x.run_pending(), y.run_pending());
    let (p, q) = (p.unwrap(), q.unwrap());
    // Both took part (27 + 13 in a run), and no saga was driven twice.
    assert_eq!(p + q, 40, "{p} + {q} drives ended");
    assert_eq!(entries(&log).len(), 120, "each step ran once");
    assert_eq!(
        count(&a, "SELECT COUNT(*) FROM sagas WHERE status = 'completed'").await,
        40
    );
    assert_eq!(
        count(&a, "SELECT COUNT(*) FROM outbox WHERE name = 'Done'").await,
        40
    );
}
