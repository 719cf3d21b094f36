//! SIGKILL with sagas in flight, in the style of `crash.rs`: the test runs
//! its own binary as a child process (`saga_crash_child_process_entry`,
//! switched on by an environment variable) that publishes trigger events
//! while a dispatcher starts sagas from them and a coordinator drives them
//! (steps, a `parallel` group, a step that fails for every third order,
//! compensations that fail now and then). Actions write their side effect
//! keyed by the idempotency key they are given (`INSERT OR IGNORE`), as the
//! docs ask of actions, and count every call. The parent kills the child at
//! random moments again and again, lets a last child finish every saga, and
//! checks: every trigger in the outbox started exactly one saga, every saga
//! ended completed or fully compensated with exactly one
//! `onSuccess`/`onFailure` event, compensations ran exactly for the steps
//! that had completed, and the file passes `PRAGMA integrity_check`.

use crate::kill::{ChildTest, kills, random_below};
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use svcc_runtime::durable::dispatcher::{self, Backoff};
use svcc_runtime::durable::{
    Action, Coordinator, Dispatcher, RetryPolicy, SagaSpec, StepError, StepSpec, Store, now_ms,
};

const CHILD: &str = "SVCC_SAGA_CRASH_CHILD";
const MODE: &str = "SVCC_SAGA_CRASH_MODE";

/// The child's body; a no-op when run as an ordinary test.
#[test]
fn saga_crash_child_process_entry() {
    let Ok(dir) = std::env::var(CHILD) else {
        return;
    };
    let drain = std::env::var(MODE).as_deref() == Ok("drain");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(child(std::path::PathBuf::from(dir), drain));
}

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        backoff: Backoff::Fixed,
        delay_ms: 1,
        max_delay_ms: None,
        jitter: 0.0,
        dead_letter: true,
    }
}

/// An action whose side effect is a row keyed by its idempotency key.
fn effect(store: &Store, kind: &'static str, fails_for_every_third: bool, flaky: bool) -> Action {
    let store = store.clone();
    Action::new(move |call| {
        let store = store.clone();
        async move {
            if random_below(3) == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if fails_for_every_third && call.input["n"].as_i64().unwrap_or(0) % 3 == 0 {
                return Err(StepError::permanent("out of stock"));
            }
            store
                .write(|tx| {
                    tx.with_conn(|c| {
                        c.execute(
                            "INSERT INTO calls (key, saga, pid) VALUES (?1, ?2, ?3)",
                            svcc_runtime::params![
                                call.idempotency_key,
                                call.saga_id.to_string(),
                                std::process::id()
                            ],
                        )?;
                        c.execute(
                            "INSERT OR IGNORE INTO effects (key, saga, kind) VALUES (?1, ?2, ?3)",
                            [&call.idempotency_key, &call.saga_id.to_string(), kind],
                        )
                    })
                })
                .await
                .map_err(StepError::from)?;
            if flaky && random_below(4) == 0 {
                return Err(StepError::retryable("flaky"));
            }
            Ok(json!({"kind": kind, "n": call.input["n"]}))
        }
    })
}

fn spec(store: &Store) -> SagaSpec {
    let step = |name: &str, action: Action| {
        StepSpec::new(name, action)
            .timeout(Duration::from_secs(2))
            .retry(policy(1_000))
            .compensation_retry(policy(1_000))
    };
    SagaSpec::new("Fulfil", "Order.created")
        .step(
            step("reserve", effect(store, "reserve", false, true))
                .compensate(effect(store, "release", false, true)),
        )
        .parallel(vec![
            step("charge", effect(store, "charge", false, true))
                .compensate(effect(store, "refund", false, true)),
            step("ship", effect(store, "ship", true, false))
                .compensate(effect(store, "cancel", false, true)),
        ])
        .step(step("confirm", effect(store, "confirm", false, false)))
        .on_success("Order.completed")
        .on_failure("Order.failed")
}

async fn child(dir: std::path::PathBuf, drain: bool) {
    let store = Store::open(dir.join("svcc.db")).unwrap();
    store
        .write(|tx| {
            tx.with_conn(|c| {
                c.execute_batch(
                    "CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, saga TEXT NOT NULL, kind TEXT NOT NULL);
                     CREATE TABLE IF NOT EXISTS calls (key TEXT NOT NULL, saga TEXT NOT NULL, pid INTEGER NOT NULL);",
                )
            })
        })
        .await
        .unwrap();
    // A short lease, so the next child resumes what this one held soon
    // after it is killed.
    let coordinator = Arc::new(
        Coordinator::new(store.clone())
            .with_lease(Duration::from_millis(300))
            .with_saga(spec(&store)),
    );
    let mut d = Dispatcher::new(store.clone(), "OrderService");
    coordinator.subscribe(&mut d, policy(1_000));
    if drain {
        let started = now_ms();
        loop {
            d.drain().await.unwrap();
            coordinator.run_pending().await.unwrap();
            let active: i64 = store
                .read(|c| {
                    c.query_row(
                        "SELECT COUNT(*) FROM sagas WHERE status IN ('running', 'compensating')",
                        [],
                        |r| r.get(0),
                    )
                })
                .await
                .unwrap();
            if active == 0 && dispatcher::pending(&store).await.unwrap() == 0 {
                break;
            }
            assert!(now_ms() - started < 60_000, "sagas still active");
            // Waiting for the killed children's leases to expire.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        store.integrity_check().await.unwrap();
        println!("drained");
        return;
    }
    let d = Arc::new(d);
    {
        let d = d.clone();
        tokio::spawn(async move { d.run(20, std::future::pending()).await });
    }
    {
        let c = coordinator.clone();
        tokio::spawn(c.run(Duration::from_millis(20), std::future::pending()));
    }
    let mut stdout = std::io::stdout();
    for n in 0i64.. {
        let id = uuid::Uuid::new_v4().to_string();
        let event = store
            .write(|tx| {
                tx.publish(
                    "Order.created",
                    Some(&format!("Order/{id}")),
                    &json!({"id": id, "n": n}),
                )
            })
            .await
            .unwrap();
        writeln!(stdout, "committed {event}").unwrap();
        stdout.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(1 + random_below(3))).await;
    }
}

const CHILD_TEST: ChildTest = ChildTest {
    entry: "saga_crash::saga_crash_child_process_entry",
    dir_var: CHILD,
    mode_var: MODE,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_sagas_in_flight_leaves_every_saga_completed_or_compensated() {
    let kills = kills();
    let dir = tempfile::tempdir().unwrap();
    let acknowledged = CHILD_TEST.kill_repeatedly(dir.path(), kills).await;
    let drained_ms = CHILD_TEST.drain(dir.path()).await;

    let store = Store::open(dir.path().join("svcc.db")).unwrap();
    store.integrity_check().await.unwrap();
    let one = |sql: &'static str| {
        let store = store.clone();
        async move {
            store
                .read(|c| c.query_row(sql, [], |r| r.get::<_, i64>(0)))
                .await
                .unwrap()
        }
    };
    let triggers = one("SELECT COUNT(*) FROM outbox WHERE name = 'Order.created'").await;
    let sagas = one("SELECT COUNT(*) FROM sagas").await;
    let completed = one("SELECT COUNT(*) FROM sagas WHERE status = 'completed'").await;
    let compensated = one("SELECT COUNT(*) FROM sagas WHERE status = 'compensated'").await;
    let reruns = one("SELECT COUNT(*) - COUNT(DISTINCT key) FROM calls").await;
    // Sagas whose actions ran in more than one process: resumed after a kill.
    let resumed =
        one("SELECT COUNT(*) FROM (SELECT saga FROM calls GROUP BY saga HAVING COUNT(DISTINCT pid) > 1)")
            .await;
    eprintln!(
        "{kills} kills, {} triggers acknowledged, {triggers} committed: {completed} sagas completed, \
         {compensated} compensated, {resumed} resumed by another process, {reruns} action calls repeated \
         after a kill or a retry; drained in {drained_ms} ms",
        acknowledged.len(),
    );
    assert!(acknowledged.len() > kills, "the children made progress");
    assert_eq!(sagas, triggers, "one saga per committed trigger");
    assert_eq!(completed + compensated, sagas, "every saga ended");
    assert!(completed > 0 && compensated > 0);
    assert!(resumed > 0, "no kill landed in the middle of a saga");
    // Every acknowledged trigger started its saga.
    let missing: i64 = store
        .read(|c| {
            let mut stmt = c.prepare("SELECT COUNT(*) FROM sagas WHERE trigger_event = ?1")?;
            let mut missing = 0;
            for id in &acknowledged {
                if stmt.query_row([id], |r| r.get::<_, i64>(0))? != 1 {
                    missing += 1;
                }
            }
            Ok(missing)
        })
        .await
        .unwrap();
    assert_eq!(missing, 0, "acknowledged triggers without a saga");
    // One onSuccess per completed saga, one onFailure per compensated one.
    assert_eq!(
        one("SELECT COUNT(*) FROM outbox WHERE name = 'Order.completed'").await,
        completed
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM outbox WHERE name = 'Order.failed'").await,
        compensated
    );
    assert_eq!(
        one("SELECT COUNT(DISTINCT entity_key) FROM outbox WHERE name IN ('Order.completed', 'Order.failed')").await,
        sagas
    );
    // Completed sagas: every step succeeded with its effect; nothing undone.
    assert_eq!(
        one("SELECT COUNT(*) FROM saga_steps s JOIN sagas g ON g.id = s.saga_id
             WHERE g.status = 'completed' AND (s.status != 'succeeded' OR s.compensation IS NOT NULL)")
        .await,
        0
    );
    assert_eq!(
        one(
            "SELECT COUNT(*) FROM effects e JOIN sagas g ON g.id = e.saga
             WHERE g.status = 'completed' AND e.kind IN ('release', 'refund', 'cancel')"
        )
        .await,
        0
    );
    // Compensated sagas: exactly the succeeded steps were undone, once.
    assert_eq!(
        one(
            "SELECT COUNT(*) FROM saga_steps s JOIN sagas g ON g.id = s.saga_id
             WHERE g.status = 'compensated' AND s.status = 'succeeded'
             AND s.compensation NOT IN ('done', 'none')"
        )
        .await,
        0
    );
    assert_eq!(
        one(
            "SELECT COUNT(*) FROM saga_steps s JOIN sagas g ON g.id = s.saga_id
             WHERE g.status = 'compensated' AND (s.step = 'ship') != (s.status = 'failed')"
        )
        .await,
        0
    );
    // An undo effect exists if and only if its step's action effect does.
    let undone: Vec<(String, String, i64, i64)> = store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT s.saga_id, s.step,
                   (SELECT COUNT(*) FROM effects e WHERE e.key = s.saga_id || '/' || s.step),
                   (SELECT COUNT(*) FROM effects e WHERE e.key = s.saga_id || '/' || s.step || '/compensate')
                 FROM saga_steps s JOIN sagas g ON g.id = s.saga_id WHERE g.status = 'compensated'",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect()
        })
        .await
        .unwrap();
    for (saga, step, done, undone) in undone {
        assert_eq!(undone, done, "saga {saga} step {step}");
    }
}
