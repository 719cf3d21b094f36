//! The durable runtime on real SQLite files: transactions and the outbox,
//! state transitions, the dispatcher (inbox, retries, dead letters,
//! order), sagas, jobs and cron schedules, and processes killed with
//! SIGKILL again and again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod crash;
mod dispatch;
mod jobs;
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
