//! The transactional outbox: events are rows written by the same
//! transaction as the state change that caused them.
//!
//! Why it exists: publishing to a queue after a commit can lose the event
//! (crash between the two) and publishing before can send an event for a
//! transaction that then rolls back. Appending to the `outbox` table inside
//! the transaction makes the event exist exactly when the transaction
//! committed; the dispatcher (`dispatcher.rs`) then reads the table in
//! `seq` order. [`TxSink`] lets `Context::publish` write into a
//! transaction, so generated code that publishes through its context gets
//! the same promise.

use crate::Problem;
use crate::events::{EventSink, OutgoingEvent};
use crate::pipeline::store::{Tx, now_ms};
use crate::sql::{self, params};
use serde::Serialize;
use serde_json::Value;

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    /// `Order.created`.
    pub name: &'a str,
    /// The entity it is about (`Order/42`): events with the same key are
    /// delivered to each handler in the order they were appended.
    pub entity_key: Option<&'a str>,
    /// The payload.
    pub payload: &'a Value,
    /// The operation that published it.
    pub source: Option<&'a str>,
    /// The request that caused it.
    pub request_id: Option<&'a str>,
    /// Its trace.
    pub trace_id: Option<&'a str>,
}

/// An event as stored in the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// Position in the outbox (strictly increasing).
    pub seq: i64,
    /// Unique id.
    pub id: uuid::Uuid,
    /// `Order.created`.
    pub name: String,
    /// The entity it is about.
    pub entity_key: Option<String>,
    /// The payload.
    pub payload: Value,
    /// When it was appended (ms since the epoch).
    pub created: i64,
    /// The trace of the request that published it.
    pub trace_id: Option<String>,
}

impl Tx {
    /// Appends an event; it becomes visible to the dispatcher when (and
    /// only if) the transaction commits. Returns its id.
    pub fn append(&self, event: NewEvent<'_>) -> Result<uuid::Uuid, Problem> {
        self.append_with_id(uuid::Uuid::now_v7(), event)
    }

    /// [`Tx::append`] with a chosen id (an `OutgoingEvent`'s).
    pub fn append_with_id(&self, id: uuid::Uuid, e: NewEvent<'_>) -> Result<uuid::Uuid, Problem> {
        let payload =
            serde_json::to_string(e.payload).map_err(|err| Problem::internal(err.to_string()))?;
        self.with_conn(|c| {
            c.prepare_cached("INSERT INTO outbox (event_id, name, entity_key, payload, source, request_id, trace_id, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?.execute(params![
                    id.to_string(),
                    e.name,
                    e.entity_key,
                    payload,
                    e.source,
                    e.request_id,
                    e.trace_id,
                    now_ms()
                ],
            )
        })?;
        self.note_append();
        Ok(id)
    }

    /// Appends an event with a serializable payload.
    pub fn publish<T: Serialize>(
        &self,
        name: &str,
        entity_key: Option<&str>,
        payload: &T,
    ) -> Result<uuid::Uuid, Problem> {
        let payload =
            serde_json::to_value(payload).map_err(|e| Problem::internal(e.to_string()))?;
        self.append(NewEvent {
            name,
            entity_key,
            payload: &payload,
            source: None,
            request_id: None,
            trace_id: None,
        })
    }

    /// Reads an outbox event by id.
    pub fn event(&self, id: uuid::Uuid) -> Result<Option<StoredEvent>, Problem> {
        let row = self.with_conn(|c| {
            use crate::sql::OptionalExtension;
            c.prepare_cached(EVENT_BY_ID)?
                .query_row(params![id.to_string()], read_event_row)
                .optional()
        })?;
        row.map(|r| r.into_event()).transpose()
    }
}

/// An outbox row by its event id, as [`read_event_row`] reads it.
pub(crate) const EVENT_BY_ID: &str = "SELECT seq, event_id, name, entity_key, payload, created, trace_id FROM outbox WHERE event_id = ?1";

/// A raw outbox row.
pub(crate) struct EventRow {
    seq: i64,
    id: String,
    name: String,
    entity_key: Option<String>,
    payload: String,
    created: i64,
    trace_id: Option<String>,
}

pub(crate) fn read_event_row(r: &sql::Row<'_>) -> sql::Result<EventRow> {
    Ok(EventRow {
        seq: r.get(0)?,
        id: r.get(1)?,
        name: r.get(2)?,
        entity_key: r.get(3)?,
        payload: r.get(4)?,
        created: r.get(5)?,
        trace_id: r.get(6)?,
    })
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<StoredEvent, Problem> {
        Ok(StoredEvent {
            seq: self.seq,
            id: uuid::Uuid::parse_str(&self.id).map_err(|e| Problem::internal(e.to_string()))?,
            name: self.name,
            entity_key: self.entity_key,
            payload: serde_json::from_str(&self.payload)
                .map_err(|e| Problem::internal(format!("outbox payload: {e}")))?,
            created: self.created,
            trace_id: self.trace_id,
        })
    }
}

/// Every outbox event in order (tools and tests; the dispatcher pages).
pub async fn list_events(
    store: &crate::pipeline::store::Store,
) -> Result<Vec<StoredEvent>, Problem> {
    let rows = store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT seq, event_id, name, entity_key, payload, created, trace_id FROM outbox ORDER BY seq",
            )?;
            let rows = stmt.query_map([], read_event_row)?;
            rows.collect::<sql::Result<Vec<_>>>()
        })
        .await?;
    rows.into_iter().map(EventRow::into_event).collect()
}

/// An [`EventSink`] that appends each published event to a transaction's
/// outbox, so `Context::publish` commits (or vanishes) with the
/// operation's writes. The entity key is the payload's `id` member when
/// it has one (the entity's own events), else none.
#[derive(Clone, Debug)]
pub struct TxSink {
    tx: Tx,
}

impl TxSink {
    /// A sink writing into `tx`.
    pub fn new(tx: Tx) -> Self {
        TxSink { tx }
    }
}

impl EventSink for TxSink {
    fn publish(&self, e: OutgoingEvent) -> Result<(), Problem> {
        let key = entity_key_of(e.event, &e.payload);
        self.tx
            .append_with_id(
                e.id,
                NewEvent {
                    name: e.event,
                    entity_key: key.as_deref(),
                    payload: &e.payload,
                    source: Some(e.source),
                    request_id: Some(&e.request_id),
                    trace_id: Some(&e.trace_id),
                },
            )
            .map(|_| ())
    }
}

/// `Order/42` for an event `Order.created` whose payload has `"id": 42`.
pub(crate) fn entity_key_of(event: &str, payload: &Value) -> Option<String> {
    let id = match payload.get("id")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let entity = event.split('.').next().unwrap_or(event);
    Some(format!("{entity}/{id}"))
}
