//! The durable runtime on real SQLite files: transactions and the outbox,
//! state transitions, the dispatcher (inbox, retries, dead letters,
//! order), sagas, jobs and cron schedules, and processes killed with
//! SIGKILL again and again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod crash;
mod dispatch;
mod jobs;
mod kill;
mod saga;
mod saga_crash;
mod state;

use svcc_runtime::durable::Store;

/// A store on a new file in a temporary directory (kept alive by the
/// returned guard).
pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("svcc.db")).unwrap();
    (dir, store)
}

/// `SELECT COUNT(*)` of a query.
pub async fn count(store: &Store, sql: &'static str) -> i64 {
    store
        .read(|c| c.query_row(sql, [], |r| r.get(0)))
        .await
        .unwrap()
}

/// A retry policy with no delay between attempts.
pub fn retries(attempts: u32) -> svcc_runtime::durable::RetryPolicy {
    svcc_runtime::durable::RetryPolicy {
        attempts,
        backoff: svcc_runtime::durable::Backoff::Fixed,
        delay_ms: 0,
        max_delay_ms: None,
        jitter: 0.0,
        dead_letter: true,
    }
}

/// A dispatcher and a saga coordinator running on their own tasks (their
/// `run` loops, polling every `poll_ms`) until [`Running::stop`].
pub struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Starts both loops.
    pub fn start(
        d: std::sync::Arc<svcc_runtime::durable::Dispatcher>,
        c: std::sync::Arc<svcc_runtime::durable::Coordinator>,
        poll_ms: u64,
    ) -> Running {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (mut s1, mut s2) = (stopped.clone(), stopped);
        let tasks = vec![
            tokio::spawn(async move {
                d.run(poll_ms, async move {
                    let _ = s1.changed().await;
                })
                .await
            }),
            tokio::spawn(
                c.run(std::time::Duration::from_millis(poll_ms), async move {
                    let _ = s2.changed().await;
                }),
            ),
        ];
        Running { stop, tasks }
    }

    /// Stops both loops and waits for them.
    pub async fn stop(self) {
        self.stop.send(true).unwrap();
        for task in self.tasks {
            task.await.unwrap();
        }
    }
}
