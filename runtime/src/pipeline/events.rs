//! Where published events go.
//!
//! The HTTP runtime logs each event (payload redacted) and hands it to an
//! [`EventSink`]; the durable runtime replaces the sink with a SQLite
//! outbox that commits with the handler's writes. Tests use
//! [`MemorySink`] to see what a request published.

use crate::Problem;
use serde_json::Value;
use std::sync::Mutex;

/// An event on its way out.
#[derive(Clone, Debug)]
pub struct OutgoingEvent {
    /// Unique id (subscribers deduplicate by it).
    pub id: uuid::Uuid,
    /// `Order.created`.
    pub event: &'static str,
    /// The operation that published it.
    pub source: &'static str,
    /// The request that caused it.
    pub request_id: String,
    /// Its trace.
    pub trace_id: String,
    /// The payload.
    pub payload: Value,
    /// Field names to redact when logging the payload.
    pub sensitive: &'static [&'static str],
}

/// Receives published events.
pub trait EventSink: Send + Sync {
    /// Accepts an event; an `Err` fails the request.
    fn publish(&self, event: OutgoingEvent) -> Result<(), Problem>;
}

/// Logs events (the default until the durable runtime is configured).
#[derive(Debug, Default)]
pub struct LogSink;

impl EventSink for LogSink {
    fn publish(&self, e: OutgoingEvent) -> Result<(), Problem> {
        let mut payload = e.payload;
        crate::logging::redact(&mut payload, e.sensitive);
        tracing::info!(
            event = e.event,
            event_id = %e.id,
            source = e.source,
            request_id = %e.request_id,
            trace_id = %e.trace_id,
            payload = %payload,
            "event published"
        );
        Ok(())
    }
}

/// Keeps events in memory (tests).
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Everything published so far.
    pub events: Mutex<Vec<OutgoingEvent>>,
}

impl EventSink for MemorySink {
    fn publish(&self, e: OutgoingEvent) -> Result<(), Problem> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(e);
        Ok(())
    }
}

/// An event as a subscriber's handler receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<T> {
    /// Unique id: the runtime runs a handler once per id.
    pub id: uuid::Uuid,
    /// `Order.created`.
    pub name: String,
    /// The publisher's payload.
    pub payload: T,
    /// The W3C trace of the request (or delivery) that published it: the
    /// handler's context continues it.
    pub trace_id: Option<String>,
}

impl Event<Value> {
    /// The event with its payload decoded as `T`. A payload that does not
    /// decode fails the delivery (it is retried, then dead-lettered, where
    /// it can be looked at).
    pub fn decode<T: serde::de::DeserializeOwned>(self) -> Result<Event<T>, Problem> {
        let payload = serde_json::from_value(self.payload).map_err(|e| {
            Problem::internal(format!(
                "event {} ({}): the payload does not match its type: {e}",
                self.name, self.id
            ))
        })?;
        Ok(Event {
            id: self.id,
            name: self.name,
            payload,
            trace_id: self.trace_id,
        })
    }
}
