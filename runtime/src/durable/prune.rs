//! Retention: deleting what the runtime no longer needs, so the database
//! of a long-running service stays the size of its live data.
//!
//! Why it exists: every event stays in `outbox`, every handled delivery
//! leaves an `inbox` row, and every saga and job run keeps its history;
//! nothing else ever deletes them. [`prune`] removes, once they are older
//! than the retention period:
//!
//! - outbox events every consumer's cursor has passed, that no delivery is
//!   still waiting for and no dead letter points at (a replay reads the
//!   event from the outbox);
//! - inbox marks: an event is redelivered only while its delivery row
//!   exists, so a mark older than the retention period guards nothing
//!   (a dead letter's handler never completed, so it has no mark);
//! - sagas that ended (completed or compensated) with their steps, job
//!   runs that ended, and stored answers of idempotent requests (a retry
//!   later than that runs again).
//!
//! A consumer that first starts after pruning sees only the events still
//! kept. Everything runs in one transaction.

use crate::Problem;
use crate::pipeline::store::Store;
use crate::sql::params;

/// What one [`prune`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Outbox events.
    pub events: usize,
    /// Inbox marks.
    pub inbox: usize,
    /// Ended sagas (their steps went with them).
    pub sagas: usize,
    /// Ended job runs.
    pub job_runs: usize,
}

/// Deletes what ended before `before` (ms since the epoch) and is no longer
/// needed (see the module docs).
pub async fn prune(store: &Store, before: i64) -> Result<Pruned, Problem> {
    store
        .write(|tx| {
            tx.with_conn(|c| {
                let events = c.execute(
                    "DELETE FROM outbox
                     WHERE created < ?1
                       AND seq <= (SELECT COALESCE(MIN(seq), 0) FROM dispatch_cursors)
                       AND event_id NOT IN (SELECT event_id FROM deliveries)
                       AND event_id NOT IN (SELECT event_id FROM dead_letters)",
                    params![before],
                )?;
                let inbox = c.execute("DELETE FROM inbox WHERE done < ?1", params![before])?;
                c.execute(
                    "DELETE FROM saga_steps WHERE saga_id IN (
                        SELECT id FROM sagas
                        WHERE status IN ('completed', 'compensated') AND ended < ?1)",
                    params![before],
                )?;
                let sagas = c.execute(
                    "DELETE FROM sagas WHERE status IN ('completed', 'compensated') AND ended < ?1",
                    params![before],
                )?;
                let job_runs = c.execute(
                    "DELETE FROM job_runs WHERE status != 'running' AND ended < ?1",
                    params![before],
                )?;
                c.execute(
                    "DELETE FROM idempotency WHERE created < ?1",
                    params![before],
                )?;
                Ok(Pruned {
                    events,
                    inbox,
                    sagas,
                    job_runs,
                })
            })
        })
        .await
}
