//! Throughput and latency through outbox -> dispatcher -> handler with
//! the inbox (a measurement, not a timed test: `#[ignore]`d).
//!
//! `cargo test -p svcc-runtime --test durable bench -- --ignored --nocapture`
//! (`--release` for figures worth recording).

use crate::store;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use svcc_runtime::durable::{Dispatcher, RetryPolicy, now_ms};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it by name with --ignored"]
async fn bench_events_per_second() {
    let n: usize = std::env::var("SVCC_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (_dir, s) = store();
    s.write(|tx| {
        tx.with_conn(|c| c.execute_batch("CREATE TABLE effects (event_id TEXT, n INTEGER)"))
    })
    .await
    .unwrap();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let mut d = Dispatcher::new(s.clone(), "Bench");
    {
        let latencies = latencies.clone();
        d.subscribe("E.x", "h", RetryPolicy::default(), move |tx, ev| {
            let sent = ev.payload["at"].as_i64().unwrap_or(0);
            latencies.lock().unwrap().push(now_ms() - sent);
            let r = tx.with_conn(|c| {
                c.execute(
                    "INSERT INTO effects (event_id, n) VALUES (?1, ?2)",
                    svcc_runtime::params![ev.id.to_string(), ev.payload["n"].as_i64()],
                )
            });
            async move { r.map(|_| ()) }
        });
    }
    let d = Arc::new(d);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let d = d.clone();
        tokio::spawn(async move {
            d.run(5, async {
                let _ = stopped.await;
            })
            .await
        })
    };
    // Events per second offered (0: as fast as possible, which measures
    // throughput; below capacity, the latencies mean something).
    let rate: u64 = std::env::var("SVCC_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let started = Instant::now();
    // Producers commit 10 events per transaction.
    for batch in 0..n / 10 {
        if let Some(us) = (batch as u64 * 10 * 1_000_000).checked_div(rate) {
            let due = std::time::Duration::from_micros(us);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        s.write(|tx| {
            for i in 0..10 {
                let k = batch * 10 + i;
                tx.publish(
                    "E.x",
                    Some(&format!("Order/{}", k % 100)),
                    &json!({"n": k, "at": now_ms()}),
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    }
    let published = started.elapsed();
    while latencies.lock().unwrap().len() < n {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let total = started.elapsed();
    stop.send(()).unwrap();
    runner.await.unwrap();
    let mut l = latencies.lock().unwrap().clone();
    l.sort_unstable();
    let pct = |p: f64| l[((l.len() - 1) as f64 * p) as usize];
    eprintln!(
        "{n} events offered at {rate}/s (0: unpaced): published (10 per commit) in {published:?}, all handled in {total:?} = {:.0} events/s end to end; latency commit->handler p50 {} ms, p99 {} ms",
        n as f64 / total.as_secs_f64(),
        pct(0.5),
        pct(0.99)
    );
    s.integrity_check().await.unwrap();
}

/// The two halves apart: publishing only, then draining the backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it by name with --ignored"]
async fn bench_publish_then_dispatch() {
    let n: usize = std::env::var("SVCC_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    // Events per entity key matter: only the oldest pending event of an
    // entity is deliverable, so few entities with long backlogs cost more.
    let entities: usize = std::env::var("SVCC_BENCH_ENTITIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    let (_dir, s) = store();
    s.write(|tx| {
        tx.with_conn(|c| c.execute_batch("CREATE TABLE effects (event_id TEXT, n INTEGER)"))
    })
    .await
    .unwrap();
    let mut d = Dispatcher::new(s.clone(), "Bench");
    d.subscribe("E.x", "h", RetryPolicy::default(), |tx, ev| {
        let r = tx.with_conn(|c| {
            c.execute(
                "INSERT INTO effects (event_id, n) VALUES (?1, ?2)",
                svcc_runtime::params![ev.id.to_string(), ev.payload["n"].as_i64()],
            )
        });
        async move { r.map(|_| ()) }
    });
    let started = Instant::now();
    for batch in 0..n / 10 {
        s.write(|tx| {
            for i in 0..10 {
                let k = batch * 10 + i;
                tx.publish(
                    "E.x",
                    Some(&format!("Order/{}", k % entities)),
                    &json!({"n": k}),
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    }
    let published = started.elapsed();
    let started = Instant::now();
    let pass = d.drain().await.unwrap();
    let drained = started.elapsed();
    assert_eq!(pass.delivered, n);
    eprintln!(
        "{n} events on {entities} entities: publish {:.0}/s (10 per commit), dispatch with inbox {:.0}/s (64 per commit)",
        n as f64 / published.as_secs_f64(),
        n as f64 / drained.as_secs_f64()
    );
}

/// Sagas per second, end to end: trigger events committed 10 per
/// transaction, the dispatcher starts a saga per trigger, the coordinator
/// drives each through `reserve`, a `parallel` group (`charge`, `ship`)
/// and `confirm` (in-process actions that return at once, so this measures
/// the coordinator and its commits: about 10 transactions per saga) and
/// publishes `onSuccess`; every fourth saga fails at `ship` and is
/// compensated (`release`, `refund`) and publishes `onFailure`.
///
/// `cargo test -p svcc-runtime --release --test durable bench_sagas -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it by name with --ignored"]
async fn bench_sagas_per_second() {
    use svcc_runtime::durable::{Action, Coordinator, SagaSpec, StepError, StepSpec};
    let n: usize = std::env::var("SVCC_BENCH_SAGAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let (_dir, s) = store();
    let ok = || Action::new(|call| async move { Ok(json!({"n": call.input["n"]})) });
    let ship = Action::new(|call| async move {
        if call.input["n"].as_u64().unwrap_or(0) % 4 == 3 {
            Err(StepError::permanent("out of stock"))
        } else {
            Ok(json!("shipped"))
        }
    });
    let spec = SagaSpec::new("Fulfil", "Order.created")
        .step(StepSpec::new("reserve", ok()).compensate(ok()))
        .parallel(vec![
            StepSpec::new("charge", ok()).compensate(ok()),
            StepSpec::new("ship", ship).compensate(ok()),
        ])
        .step(StepSpec::new("confirm", ok()))
        .on_success("Order.completed")
        .on_failure("Order.failed");
    let c = Arc::new(Coordinator::new(s.clone()).with_saga(spec));
    let mut d = Dispatcher::new(s.clone(), "OrderService");
    c.subscribe(&mut d, RetryPolicy::default());
    let running = crate::Running::start(Arc::new(d), c.clone(), 5);
    let started = Instant::now();
    for batch in 0..n / 10 {
        s.write(|tx| {
            for i in 0..10 {
                tx.publish("Order.created", None, &json!({"n": batch * 10 + i}))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    }
    let published = started.elapsed();
    let ended = || async {
        crate::count(
            &s,
            "SELECT COUNT(*) FROM sagas WHERE status IN ('completed', 'compensated')",
        )
        .await as usize
    };
    while ended().await < n {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let total = started.elapsed();
    running.stop().await;
    // Latency: the trigger's commit to the saga's final commit.
    let mut l: Vec<i64> = s
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT g.ended - o.created FROM sagas g JOIN outbox o ON o.event_id = g.trigger_event",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .await
        .unwrap();
    l.sort_unstable();
    let pct = |p: f64| l[((l.len() - 1) as f64 * p) as usize];
    let compensated = crate::count(
        &s,
        "SELECT COUNT(*) FROM sagas WHERE status = 'compensated'",
    )
    .await;
    eprintln!(
        "{n} sagas ({compensated} compensated): triggers published in {published:?}, all ended in {total:?} = {:.0} sagas/s end to end; trigger commit -> saga end p50 {} ms, p99 {} ms",
        n as f64 / total.as_secs_f64(),
        pct(0.5),
        pct(0.99)
    );
    s.integrity_check().await.unwrap();
}
