//! The dispatcher: at-least-once with the inbox, retries and dead letters,
//! replay, per-entity order.

use crate::{count, store};
use serde_json::json;
use std::sync::{Arc, Mutex};
use svcc_runtime::Problem;
use svcc_runtime::durable::{Backoff, Dispatcher, RetryPolicy, Store, Tx, dlq, now_ms};

/// A failure with a reason (a 503 keeps its detail; 500s hide theirs).
fn unavailable(why: impl Into<String>) -> Problem {
    Problem::new(503, "unavailable", "Unavailable").with_detail(why)
}

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        backoff: Backoff::Fixed,
        delay_ms: 0,
        max_delay_ms: None,
        jitter: 0.0,
        dead_letter: true,
    }
}

async fn effects_table(s: &Store) {
    s.write(|tx| {
        tx.with_conn(|c| {
            c.execute_batch("CREATE TABLE effects (event_id TEXT NOT NULL, n INTEGER)")
        })
    })
    .await
    .unwrap();
}

/// The handler's side effect, in the delivery's transaction.
fn effect(tx: &Tx, id: uuid::Uuid, n: i64) -> Result<(), Problem> {
    tx.with_conn(|c| {
        c.execute(
            "INSERT INTO effects (event_id, n) VALUES (?1, ?2)",
            svcc_runtime::params![id.to_string(), n],
        )
    })
    .map(|_| ())
}

async fn publish(s: &Store, name: &str, key: Option<&str>, n: i64) -> uuid::Uuid {
    s.write(|tx| tx.publish(name, key, &json!({"n": n})))
        .await
        .unwrap()
}

#[tokio::test]
async fn every_subscriber_gets_each_event_once_and_the_inbox_skips_redeliveries() {
    let (_dir, s) = store();
    effects_table(&s).await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut d = Dispatcher::new(s.clone(), "OrderService");
    for handler in ["a", "b"] {
        let calls = calls.clone();
        d.subscribe("Order.created", handler, policy(3), move |tx, ev| {
            calls
                .lock()
                .unwrap()
                .push((handler, ev.payload["n"].as_i64().unwrap()));
            let r = effect(&tx, ev.id, ev.payload["n"].as_i64().unwrap());
            async move { r }
        });
    }
    publish(&s, "Order.created", None, 1).await;
    publish(&s, "Order.created", None, 2).await;
    publish(&s, "Other.event", None, 3).await;
    let pass = d.drain().await.unwrap();
    assert_eq!(pass.delivered, 4);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM effects").await, 4);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM inbox").await, 4);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM deliveries").await, 0);
    // Redeliver everything (as after a lost cursor, or a second process
    // fanning out the same events): the inbox skips each one.
    s.write(|tx| tx.with_conn(|c| c.execute("DELETE FROM dispatch_cursors", [])))
        .await
        .unwrap();
    let pass = d.drain().await.unwrap();
    assert_eq!((pass.delivered, pass.deduplicated), (0, 4));
    assert_eq!(calls.lock().unwrap().len(), 4);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM effects").await, 4);
    s.integrity_check().await.unwrap();
}

#[tokio::test]
async fn a_crash_before_marking_done_rolls_back_the_side_effect_and_redelivers_once() {
    let (_dir, s) = store();
    effects_table(&s).await;
    let runs = Arc::new(Mutex::new(0));
    let mut d = Dispatcher::new(s.clone(), "Svc");
    {
        let runs = runs.clone();
        d.subscribe("E.happened", "h", policy(3), move |tx, ev| {
            let first = {
                let mut r = runs.lock().unwrap();
                *r += 1;
                *r == 1
            };
            async move {
                // The handler keeps its `Tx` across the await.
                effect(&tx, ev.id, 1)?;
                if first {
                    // The side effect is written; the process "dies" here,
                    // before the delivery is marked done.
                    std::future::pending::<()>().await;
                }
                Ok(())
            }
        });
    }
    publish(&s, "E.happened", None, 1).await;
    // The first run hangs after its write; abort the whole dispatcher task
    // (everything it holds is dropped, as in a crash).
    let d = Arc::new(d);
    let task = {
        let d = d.clone();
        tokio::spawn(async move { d.run_once(now_ms()).await })
    };
    while *runs.lock().unwrap() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // The handler's task held a `Tx` handle; it was aborted with the
    // delivery, so the transaction rolled back and the lock is free.
    let d = Arc::try_unwrap(d).unwrap();
    // Nothing was committed: no effect, no inbox row, still pending.
    assert_eq!(count(&s, "SELECT COUNT(*) FROM effects").await, 0);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM inbox").await, 0);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM deliveries").await, 1);
    let pass = d.drain().await.unwrap();
    assert_eq!(pass.delivered, 1);
    assert_eq!(*runs.lock().unwrap(), 2);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM effects").await, 1);
    // And once more, a redelivery changes nothing.
    s.write(|tx| tx.with_conn(|c| c.execute("DELETE FROM dispatch_cursors", [])))
        .await
        .unwrap();
    assert_eq!(d.drain().await.unwrap().deduplicated, 1);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM effects").await, 1);
}

#[tokio::test]
async fn retries_then_dead_letter_with_the_last_error_then_replay_and_drop() {
    let (_dir, s) = store();
    effects_table(&s).await;
    let fail = Arc::new(Mutex::new(true));
    let attempts = Arc::new(Mutex::new(0u32));
    let mut d = Dispatcher::new(s.clone(), "Svc");
    {
        let (fail, attempts) = (fail.clone(), attempts.clone());
        d.subscribe("Payment.failed", "notify", policy(3), move |tx, ev| {
            let n = {
                let mut a = attempts.lock().unwrap();
                *a += 1;
                *a
            };
            let failing = *fail.lock().unwrap();
            // Writes of a failed attempt must vanish.
            let r = effect(&tx, ev.id, n.into());
            async move {
                r?;
                if failing {
                    if n == 6 {
                        panic!("attempt {n} panicked");
                    }
                    return Err(unavailable(format!("attempt {n} failed")));
                }
                Ok(())
            }
        });
    }
    let id = publish(&s, "Payment.failed", Some("Payment/1"), 1).await;
    publish(&s, "Payment.failed", Some("Payment/2"), 2).await;
    let pass = d.drain().await.unwrap();
    assert_eq!((pass.retried, pass.dead_lettered), (4, 2));
    assert_eq!(count(&s, "SELECT COUNT(*) FROM effects").await, 0);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM deliveries").await, 0);
    let letters = dlq::list(&s).await.unwrap();
    assert_eq!(letters.len(), 2);
    let first = &letters[0];
    assert_eq!(first.event_id, id.to_string());
    assert_eq!(first.handler, "Svc/notify");
    assert_eq!(first.attempts, 3);
    assert_eq!(first.payload, json!({"n": 1}));
    assert_eq!(first.entity_key.as_deref(), Some("Payment/1"));
    // Attempts interleave: the first event's were 1, 3 and 5; the
    // second's 2, 4 and 6 (a panic).
    assert_eq!(first.last_error, "503 Unavailable: attempt 5 failed");
    assert_eq!(
        letters[1].last_error,
        "the handler panicked: attempt 6 panicked"
    );
    assert_eq!(dlq::show(&s, first.id).await.unwrap(), *first);

    // Replay the first once the handler is fixed.
    *fail.lock().unwrap() = false;
    dlq::replay(&s, first.id).await.unwrap();
    assert_eq!(dlq::list(&s).await.unwrap().len(), 1);
    let pass = d.drain().await.unwrap();
    assert_eq!(pass.delivered, 1);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM effects").await, 1);
    // Replaying something that is gone is 404; drop removes the other.
    assert_eq!(dlq::replay(&s, first.id).await.unwrap_err().status, 404);
    let second = dlq::list(&s).await.unwrap()[0].id;
    dlq::drop(&s, second).await.unwrap();
    assert!(dlq::list(&s).await.unwrap().is_empty());
    assert_eq!(dlq::drop(&s, second).await.unwrap_err().status, 404);
    assert_eq!(dlq::show(&s, second).await.unwrap_err().status, 404);
    s.integrity_check().await.unwrap();
}

#[tokio::test]
async fn a_retry_waits_for_its_backoff() {
    let (_dir, s) = store();
    let mut d = Dispatcher::new(s.clone(), "Svc");
    d.subscribe(
        "E.x",
        "h",
        RetryPolicy {
            delay_ms: 60_000,
            ..policy(2)
        },
        |_tx, _ev| async { Err(unavailable("down")) },
    );
    publish(&s, "E.x", None, 1).await;
    let now = now_ms();
    let pass = d.run_once(now).await.unwrap();
    assert_eq!(pass.retried, 1);
    // Not due yet, even by a later pass...
    assert!(d.run_once(now + 59_000).await.unwrap().is_idle());
    // ...but due a minute later.
    let pass = d.run_once(now + 61_000).await.unwrap();
    assert_eq!(pass.dead_lettered, 1);
    let letters = dlq::list(&s).await.unwrap();
    assert_eq!(letters[0].last_error, "503 Unavailable: down");
    assert_eq!(letters[0].attempts, 2);
}

#[test]
fn backoff_fixed_exponential_capped_and_jittered() {
    let p = RetryPolicy {
        attempts: 10,
        backoff: Backoff::Exponential,
        delay_ms: 1_000,
        max_delay_ms: Some(60_000),
        jitter: 0.0,
        dead_letter: true,
    };
    let delays: Vec<u64> = (1..=8).map(|n| p.delay_after(n)).collect();
    assert_eq!(
        delays,
        [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
    );
    let fixed = RetryPolicy {
        backoff: Backoff::Fixed,
        ..p
    };
    assert_eq!(fixed.delay_after(5), 1_000);
    let jittered = RetryPolicy { jitter: 0.5, ..p };
    let many: Vec<u64> = (0..200).map(|_| jittered.delay_after(3)).collect();
    assert!(many.iter().all(|d| (2_000..=4_000).contains(d)), "{many:?}");
    assert!(many.iter().any(|d| *d != many[0]), "jitter varies");
    // Huge attempt counts do not overflow.
    assert_eq!(p.delay_after(u32::MAX), 60_000);
}

#[tokio::test]
async fn events_of_one_entity_reach_a_handler_in_order_even_across_retries() {
    let (_dir, s) = store();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut d = Dispatcher::new(s.clone(), "Svc");
    {
        let seen = seen.clone();
        let failures = Arc::new(Mutex::new(0));
        d.subscribe("Order.changed", "h", policy(3), move |_tx, ev| {
            let n = ev.payload["n"].as_i64().unwrap();
            // The first event of Order/A fails twice before it succeeds.
            let fail = n == 1 && {
                let mut f = failures.lock().unwrap();
                *f += 1;
                *f <= 2
            };
            seen.lock().unwrap().push((n, fail));
            async move {
                if fail {
                    Err(Problem::internal("not yet"))
                } else {
                    Ok(())
                }
            }
        });
    }
    publish(&s, "Order.changed", Some("Order/A"), 1).await;
    publish(&s, "Order.changed", Some("Order/B"), 10).await;
    publish(&s, "Order.changed", Some("Order/A"), 2).await;
    publish(&s, "Order.changed", Some("Order/A"), 3).await;
    publish(&s, "Order.changed", Some("Order/B"), 11).await;
    d.drain().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let a: Vec<_> = seen.iter().filter(|(n, _)| *n < 10).copied().collect();
    assert_eq!(
        a,
        [(1, true), (1, true), (1, false), (2, false), (3, false)]
    );
    // Order/B was not held up by Order/A's retries.
    let first_b = seen.iter().position(|(n, _)| *n == 10).unwrap();
    let a_done = seen.iter().position(|e| *e == (1, false)).unwrap();
    assert!(first_b < a_done, "{seen:?}");
    let b: Vec<_> = seen.iter().filter(|(n, _)| *n >= 10).map(|e| e.0).collect();
    assert_eq!(b, [10, 11]);
}

#[tokio::test]
async fn a_dead_lettered_event_stops_blocking_the_entity() {
    let (_dir, s) = store();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut d = Dispatcher::new(s.clone(), "Svc");
    {
        let seen = seen.clone();
        d.subscribe("Order.changed", "h", policy(2), move |_tx, ev| {
            let n = ev.payload["n"].as_i64().unwrap();
            seen.lock().unwrap().push(n);
            async move {
                if n == 1 {
                    Err(Problem::internal("poison"))
                } else {
                    Ok(())
                }
            }
        });
    }
    publish(&s, "Order.changed", Some("Order/A"), 1).await;
    publish(&s, "Order.changed", Some("Order/A"), 2).await;
    d.drain().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [1, 1, 2]);
    assert_eq!(dlq::list(&s).await.unwrap().len(), 1);
}

#[tokio::test]
async fn two_consumers_on_one_file_each_see_every_event() {
    let (_dir, s) = store();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut a = Dispatcher::new(s.clone(), "EmailService");
    let mut b = Dispatcher::new(s.clone(), "ShipmentService");
    for d in [&mut a, &mut b] {
        let seen = seen.clone();
        // The same handler name in two services.
        d.subscribe("Order.created", "onOrder", policy(1), move |_tx, ev| {
            seen.lock().unwrap().push(ev.id);
            async { Ok(()) }
        });
    }
    publish(&s, "Order.created", None, 1).await;
    assert_eq!(a.drain().await.unwrap().delivered, 1);
    assert_eq!(b.drain().await.unwrap().delivered, 1);
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM inbox").await, 2);
}

#[tokio::test]
async fn run_wakes_on_commit_and_stops_on_shutdown() {
    let (_dir, s) = store();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut d = Dispatcher::new(s.clone(), "Svc");
    d.subscribe("E.x", "h", policy(1), move |_t, ev| {
        let _ = tx.send(ev.payload["n"].as_i64().unwrap());
        async { Ok(()) }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        d.run(10_000, async {
            let _ = stopped.await;
        })
        .await
    });
    let started = std::time::Instant::now();
    for n in 0..3 {
        publish(&s, "E.x", None, n).await;
        assert_eq!(rx.recv().await, Some(n));
    }
    // Woken by the commits, not by the 10 s idle poll.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn in_one_commit_a_failed_handler_loses_only_its_own_writes() {
    let (_dir, s) = store();
    effects_table(&s).await;
    let mut d = Dispatcher::new(s.clone(), "Svc");
    d.subscribe("E.x", "h", policy(5), |tx, ev| async move {
        let n = ev.payload["n"].as_i64().unwrap();
        effect(&tx, ev.id, n)?;
        if n == 1 {
            return Err(unavailable("odd one out"));
        }
        Ok(())
    });
    for n in 0..3 {
        publish(&s, "E.x", None, n).await;
    }
    let pass = d.run_once(now_ms()).await.unwrap();
    assert_eq!((pass.delivered, pass.retried), (2, 1));
    let kept: Vec<i64> = s
        .read(|c| {
            let mut st = c.prepare("SELECT n FROM effects ORDER BY n")?;
            st.query_map([], |r| r.get(0))?.collect()
        })
        .await
        .unwrap();
    assert_eq!(kept, [0, 2]);
    let (attempts, error): (u32, String) = s
        .read(|c| {
            c.query_row("SELECT attempts, last_error FROM deliveries", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
        .await
        .unwrap();
    assert_eq!(
        (attempts, error.as_str()),
        (1, "503 Unavailable: odd one out")
    );
}

#[tokio::test]
async fn a_hung_handler_times_out_and_its_writes_roll_back() {
    let (_dir, s) = store();
    effects_table(&s).await;
    let mut d = Dispatcher::new(s.clone(), "Svc")
        .with_handler_timeout(std::time::Duration::from_millis(50));
    let late = Arc::new(Mutex::new(None));
    {
        let late = late.clone();
        d.subscribe("E.x", "h", policy(1), move |tx, ev| {
            // A task the handler leaves behind tries to write later.
            let (late, tx2) = (late.clone(), tx.clone());
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                *late.lock().unwrap() = Some(effect(&tx2, ev.id, 2).is_ok());
            });
            async move {
                effect(&tx, ev.id, 1)?;
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }
    publish(&s, "E.x", None, 1).await;
    let pass = d.run_once(now_ms()).await.unwrap();
    assert_eq!(pass.dead_lettered, 1);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(
        *late.lock().unwrap(),
        Some(false),
        "the late write was refused"
    );
    assert_eq!(count(&s, "SELECT COUNT(*) FROM effects").await, 0);
    let letters = dlq::list(&s).await.unwrap();
    assert_eq!(letters[0].last_error, "the handler timed out after 50 ms");
}

#[tokio::test]
async fn pruning_keeps_what_a_consumer_or_a_dead_letter_still_needs() {
    use svcc_runtime::durable::prune::prune;
    let (_dir, s) = store();
    let mut d = Dispatcher::new(s.clone(), "OrderService");
    d.subscribe("Order.created", "ok", policy(1), |_, _| async { Ok(()) });
    d.subscribe("Order.failed", "broken", policy(1), |_, _| async {
        Err(unavailable("always"))
    });
    publish(&s, "Order.created", None, 1).await;
    publish(&s, "Order.failed", None, 2).await;
    d.drain().await.unwrap();
    assert_eq!(count(&s, "SELECT COUNT(*) FROM dead_letters").await, 1);
    // Published after the dispatcher's last pass: its cursor has not
    // passed it yet.
    publish(&s, "Order.created", None, 3).await;
    // Nothing is older than an hour ago.
    let none = prune(&s, now_ms() - 3_600_000).await.unwrap();
    assert_eq!(none, Default::default());
    let pruned = prune(&s, now_ms() + 1).await.unwrap();
    assert_eq!(pruned.events, 1, "only the delivered Order.created goes");
    assert_eq!(pruned.inbox, 1);
    let kept: Vec<i64> = s
        .read(|c| {
            c.prepare("SELECT json_extract(payload, '$.n') FROM outbox ORDER BY seq")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
        .await
        .unwrap();
    assert_eq!(
        kept,
        [2, 3],
        "the dead letter's event and the unread one stay"
    );
    // Both are still usable: the replay and the late event are delivered.
    let letter = dlq::list(&s).await.unwrap().remove(0);
    dlq::replay(&s, letter.id).await.unwrap();
    let pass = d.drain().await.unwrap();
    assert_eq!(pass.fanned_out, 1);
    assert_eq!(pass.delivered, 1);
    assert_eq!(
        pass.dead_lettered, 1,
        "the broken handler fails the replay again"
    );
}
