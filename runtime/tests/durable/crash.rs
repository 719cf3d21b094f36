//! SIGKILL at random points: the test runs its own binary as a child
//! process (the `crash_child_process_entry` test, switched on by an
//! environment variable) that commits entities with their events and
//! dispatches them to a handler whose side effect is a row written in the
//! delivery's transaction; the child prints each event id after its commit
//! returned. The parent kills it with SIGKILL at a random moment, again and
//! again, then lets a last child drain the outbox and checks: every
//! acknowledged event is in the outbox, every outbox event ran its side
//! effect exactly once, nothing is pending or dead, and the file passes
//! `PRAGMA integrity_check`.

use crate::kill::{ChildTest, kills, random_below};
use serde_json::json;
use std::io::Write;
use std::time::Duration;
use svcc_runtime::Problem;
use svcc_runtime::durable::{Backoff, Dispatcher, RetryPolicy, Store, dispatcher};

const CHILD: &str = "SVCC_DURABLE_CRASH_CHILD";
const MODE: &str = "SVCC_DURABLE_CRASH_MODE";

/// The child's body; a no-op when run as an ordinary test.
#[test]
fn crash_child_process_entry() {
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

async fn child(dir: std::path::PathBuf, drain: bool) {
    let store = Store::open(dir.join("svcc.db")).unwrap();
    store
        .write(|tx| {
            tx.with_conn(|c| {
                c.execute_batch(
                    "CREATE TABLE IF NOT EXISTS effects (event_id TEXT NOT NULL, n INTEGER)",
                )
            })
        })
        .await
        .unwrap();
    let mut d = Dispatcher::new(store.clone(), "Crash");
    let policy = RetryPolicy {
        attempts: 1_000,
        backoff: Backoff::Fixed,
        delay_ms: 1,
        max_delay_ms: None,
        jitter: 0.0,
        dead_letter: true,
    };
    d.subscribe("Order.created", "effect", policy, |tx, ev| async move {
        tx.with_conn(|c| {
            c.execute(
                "INSERT INTO effects (event_id, n) VALUES (?1, ?2)",
                svcc_runtime::params![ev.id.to_string(), ev.payload["n"].as_i64()],
            )
        })?;
        // Widen the window in which a kill lands inside a handler.
        if random_below(4) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Some attempts fail after their write: the write must vanish.
        if random_below(10) == 0 {
            return Err(Problem::new(503, "flaky", "Flaky").with_detail("try again"));
        }
        Ok(())
    });
    if drain {
        loop {
            d.drain().await.unwrap();
            if dispatcher::pending(&store).await.unwrap() == 0 {
                break;
            }
            // Retries wait for their (1 ms) backoff.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        store.integrity_check().await.unwrap();
        println!("drained");
        return;
    }
    let d = std::sync::Arc::new(d);
    {
        let d = d.clone();
        tokio::spawn(async move { d.run(20, std::future::pending()).await });
    }
    let mut stdout = std::io::stdout();
    for n in 0i64.. {
        let id = uuid::Uuid::new_v4().to_string();
        let key = format!("Order/{id}");
        let event = store
            .write(|tx| {
                tx.put_entity("Order", &id, Some("pending"), &json!({"id": id, "n": n}))?;
                tx.publish("Order.created", Some(&key), &json!({"id": id, "n": n}))
            })
            .await
            .unwrap();
        // Acknowledged: the commit returned.
        writeln!(stdout, "committed {event}").unwrap();
        stdout.flush().unwrap();
        if random_below(3) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

const CHILD_TEST: ChildTest = ChildTest {
    entry: "crash::crash_child_process_entry",
    dir_var: CHILD,
    mode_var: MODE,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_no_event_and_runs_no_effect_twice() {
    let kills = kills();
    let dir = tempfile::tempdir().unwrap();
    let acknowledged = CHILD_TEST.kill_repeatedly(dir.path(), kills).await;
    let drained_ms = CHILD_TEST.drain(dir.path()).await;
    eprintln!(
        "{kills} kills, {} events acknowledged, drained in {drained_ms} ms",
        acknowledged.len(),
    );
    assert!(acknowledged.len() > kills, "the children made progress");

    let store = Store::open(dir.path().join("svcc.db")).unwrap();
    store.integrity_check().await.unwrap();
    let (outbox, missing, effects, distinct, twice, inbox, pending, dead) = store
        .read(|c| {
            let one = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
            let mut missing = 0;
            let mut stmt = c.prepare("SELECT COUNT(*) FROM outbox WHERE event_id = ?1")?;
            for id in &acknowledged {
                if stmt.query_row([id], |r| r.get::<_, i64>(0))? != 1 {
                    missing += 1;
                }
            }
            Ok((
                one("SELECT COUNT(*) FROM outbox")?,
                missing,
                one("SELECT COUNT(*) FROM effects")?,
                one("SELECT COUNT(DISTINCT event_id) FROM effects")?,
                one("SELECT COUNT(*) FROM (SELECT event_id FROM effects GROUP BY event_id HAVING COUNT(*) > 1)")?,
                one("SELECT COUNT(*) FROM inbox")?,
                one("SELECT COUNT(*) FROM deliveries")?,
                one("SELECT COUNT(*) FROM dead_letters")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(missing, 0, "acknowledged events lost");
    assert_eq!(twice, 0, "side effects run twice");
    assert_eq!((effects, distinct, inbox), (outbox, outbox, outbox));
    assert_eq!((pending, dead), (0, 0));
    // Every outbox event has its effect (not only the acknowledged ones:
    // a commit can land just before the kill, unacknowledged).
    let orphans: i64 = store
        .read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM effects e WHERE e.event_id = o.event_id)",
                [],
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(orphans, 0);
}
