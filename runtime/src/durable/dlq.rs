//! Dead letters: events a handler failed on after its last attempt.
//!
//! Why it exists: a failing handler must neither block its queue forever
//! nor lose the event. The dispatcher moves such an event to
//! `dead_letters` with its last error; these functions are what an
//! operator (through the generated binary's `dlq` subcommand) does with
//! it: list, show, replay (a fresh delivery with its attempts reset, under
//! the inbox's dedupe like any other) and drop.

use crate::Problem;
use crate::pipeline::store::{Store, now_ms};
use crate::sql::{self, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

/// One dead letter.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// Its id in the dead-letter table.
    pub id: i64,
    /// The event's id.
    pub event_id: String,
    /// The handler that gave up (`OrderService/confirmOrder`).
    pub handler: String,
    /// The event's name.
    pub name: String,
    /// The event's outbox position.
    pub seq: i64,
    /// The entity it is about.
    pub entity_key: Option<String>,
    /// The payload.
    pub payload: Value,
    /// The last attempt's error.
    pub last_error: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it was dead-lettered (ms since the epoch).
    pub failed_at: i64,
}

const COLUMNS: &str =
    "id, event_id, handler, name, seq, entity_key, payload, last_error, attempts, failed_at";

fn read_row(r: &sql::Row<'_>) -> sql::Result<(DeadLetter, String)> {
    Ok((
        DeadLetter {
            id: r.get(0)?,
            event_id: r.get(1)?,
            handler: r.get(2)?,
            name: r.get(3)?,
            seq: r.get(4)?,
            entity_key: r.get(5)?,
            payload: Value::Null,
            last_error: r.get(7)?,
            attempts: r.get(8)?,
            failed_at: r.get(9)?,
        },
        r.get(6)?,
    ))
}

fn with_payload((mut d, text): (DeadLetter, String)) -> DeadLetter {
    // A payload that no longer parses is shown as the raw text.
    d.payload = serde_json::from_str(&text).unwrap_or(Value::String(text));
    d
}

/// Every dead letter, oldest first.
pub async fn list(store: &Store) -> Result<Vec<DeadLetter>, Problem> {
    let rows = store
        .read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM dead_letters ORDER BY id"))?;
            let rows = stmt.query_map([], read_row)?;
            rows.collect::<sql::Result<Vec<_>>>()
        })
        .await?;
    Ok(rows.into_iter().map(with_payload).collect())
}

/// One dead letter; 404 when there is none with that id.
pub async fn show(store: &Store, id: i64) -> Result<DeadLetter, Problem> {
    let row = store
        .read(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM dead_letters WHERE id = ?1"),
                params![id],
                read_row,
            )
            .optional()
        })
        .await?;
    row.map(with_payload)
        .ok_or_else(|| Problem::not_found(format!("no dead letter {id}")))
}

/// Puts a dead letter back into delivery: a new delivery of the same event
/// to the same handler, due now with its attempts reset, and the dead
/// letter removed, in one transaction. It is ready at once, beside the
/// entity's pending events: the order was already broken when it
/// dead-lettered and the later events went on. 404 when there is no such
/// dead letter.
pub async fn replay(store: &Store, id: i64) -> Result<DeadLetter, Problem> {
    let letter = show(store, id).await?;
    let tx = store.begin().await?;
    let moved = tx.with_conn(|c| {
        let n = c.execute("DELETE FROM dead_letters WHERE id = ?1", params![id])?;
        if n == 1 {
            c.execute(
                "INSERT OR REPLACE INTO deliveries (event_id, handler, seq, entity_key, attempts, next_attempt, ready)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, 1)",
                params![letter.event_id, letter.handler, letter.seq, letter.entity_key, now_ms()],
            )?;
        }
        Ok(n)
    })?;
    if moved == 0 {
        tx.rollback()?;
        return Err(Problem::not_found(format!("no dead letter {id}")));
    }
    tx.commit()?;
    // Wake a waiting dispatcher.
    store.notify_committed();
    Ok(letter)
}

/// Deletes a dead letter for good. 404 when there is none with that id.
pub async fn drop(store: &Store, id: i64) -> Result<(), Problem> {
    let n = store
        .write(|tx| {
            tx.with_conn(|c| c.execute("DELETE FROM dead_letters WHERE id = ?1", params![id]))
        })
        .await?;
    if n == 0 {
        return Err(Problem::not_found(format!("no dead letter {id}")));
    }
    Ok(())
}
