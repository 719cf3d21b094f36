//! What a handler knows about the request it serves: the caller, the
//! request id and trace, and the ways out (events, calls).
//!
//! Generated code wraps a [`Context`] in a per-operation type that only
//! offers the events the route `emits` and the clients of `calls`, so a
//! handler cannot publish an event its route did not declare.

use crate::Problem;
use crate::auth::{Access, Caller};
use crate::client::Clients;
use crate::events::{EventSink, OutgoingEvent};
use crate::logging::Trace;
use crate::pipeline::store::{Store, Tx};
use crate::pipeline::work::Work;
use crate::sql;
use serde::Serialize;
use std::sync::Arc;

/// A request's context.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    operation: &'static str,
    request_id: String,
    trace: Trace,
    caller: Option<Caller>,
    authorization: Option<http::HeaderValue>,
    access: Access,
    events: Arc<dyn EventSink>,
    clients: Arc<Clients>,
    sensitive: &'static [&'static str],
    work: Option<Arc<Work>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("operation", &self.inner.operation)
            .field("request_id", &self.inner.request_id)
            .field("caller", &self.inner.caller)
            .finish()
    }
}

/// The parts a context is made of (built by the server; public for tests
/// and for the durable runtime).
pub struct ContextParts {
    /// The operation.
    pub operation: &'static str,
    /// The request id.
    pub request_id: String,
    /// The trace.
    pub trace: Trace,
    /// The caller.
    pub caller: Option<Caller>,
    /// The caller's verified `Authorization` header (a JWT), relayed to
    /// called services.
    pub authorization: Option<http::HeaderValue>,
    /// How much of the route's permission the caller holds.
    pub access: Access,
    /// Where published events go.
    pub events: Arc<dyn EventSink>,
    /// Clients of `calls`.
    pub clients: Arc<Clients>,
    /// Sensitive field names (for logging payloads).
    pub sensitive: &'static [&'static str],
    /// The unit of work, when the service has a database: published
    /// events wait there and commit with the handler's writes.
    pub work: Option<Arc<Work>>,
}

impl Context {
    /// Assembles a context.
    pub fn new(p: ContextParts) -> Self {
        Context {
            inner: Arc::new(Inner {
                operation: p.operation,
                request_id: p.request_id,
                trace: p.trace,
                caller: p.caller,
                authorization: p.authorization,
                access: p.access,
                events: p.events,
                clients: p.clients,
                sensitive: p.sensitive,
                work: p.work,
            }),
        }
    }

    /// The operation being served.
    pub fn operation(&self) -> &'static str {
        self.inner.operation
    }

    /// The request id (`X-Request-Id`, echoed in the answer and the logs).
    pub fn request_id(&self) -> &str {
        &self.inner.request_id
    }

    /// The W3C trace id.
    pub fn trace_id(&self) -> &str {
        &self.inner.trace.trace_id
    }

    /// The trace: its id, our span and the caller's.
    pub(crate) fn trace(&self) -> &Trace {
        &self.inner.trace
    }

    /// The authenticated caller, if any.
    pub fn caller(&self) -> Option<&Caller> {
        self.inner.caller.as_ref()
    }

    /// The caller's subject, if authenticated.
    pub fn subject(&self) -> Option<&str> {
        self.inner.caller.as_ref().map(|c| c.subject.as_str())
    }

    /// Whether the caller has a role.
    pub fn has_role(&self, role: &str) -> bool {
        self.inner
            .caller
            .as_ref()
            .is_some_and(|c| c.roles.iter().any(|r| r == role))
    }

    /// Whether the caller may only touch what it owns (an `:own` grant).
    pub fn owns_only(&self) -> bool {
        self.inner.access == Access::Own
    }

    /// For `:own` permissions: `Ok` when the caller holds the full
    /// permission or is the owner, else 403. Handlers that change a
    /// resource call this after loading it; the runtime checks the output
    /// of every `:own` route again before answering.
    pub fn require_owner(&self, owner: &str) -> Result<(), Problem> {
        if self.inner.access == Access::Full || self.subject() == Some(owner) {
            Ok(())
        } else {
            Err(Problem::forbidden("the caller does not own this resource"))
        }
    }

    /// Publishes an event. Generated code calls this only for events the
    /// route declares in `emits`. With a database, the event is written to
    /// the outbox in the same transaction as the handler's writes, when the
    /// handler succeeds; without one, it goes to the service's sink (a log).
    pub fn publish<T: Serialize>(&self, event: &'static str, payload: &T) -> Result<(), Problem> {
        let payload =
            serde_json::to_value(payload).map_err(|e| Problem::internal(e.to_string()))?;
        let e = OutgoingEvent {
            id: uuid::Uuid::now_v7(),
            event,
            source: self.inner.operation,
            request_id: self.inner.request_id.clone(),
            trace_id: self.inner.trace.trace_id.clone(),
            payload,
            sensitive: self.inner.sensitive,
        };
        match &self.inner.work {
            Some(work) => {
                work.publish(e);
                Ok(())
            }
            None => self.inner.events.publish(e),
        }
    }

    /// The unit of work (the server and the dispatcher end it).
    pub fn work(&self) -> Option<&Arc<Work>> {
        self.inner.work.as_ref()
    }

    fn require_work(&self) -> Result<&Work, Problem> {
        self.inner.work.as_deref().ok_or_else(|| {
            Problem::internal(
                "this service has no database: set SVCC_DATABASE to a file path to keep state",
            )
        })
    }

    /// The database, when the service has one.
    pub fn store(&self) -> Option<&Store> {
        self.inner.work.as_deref().map(Work::store)
    }

    /// The operation's transaction, begun on first use: what a handler
    /// writes through it (its own tables with `with_conn`, entities)
    /// commits together with the events it publishes, when it returns
    /// `Ok`, and is rolled back otherwise. It holds the database's write
    /// lock until the handler returns: do not call other services while
    /// holding it.
    pub async fn tx(&self) -> Result<Tx, Problem> {
        self.require_work()?.tx().await
    }

    /// Runs a read on the database (inside the operation's transaction
    /// when one is open, so it sees the handler's own writes).
    pub async fn read<T: Send>(
        &self,
        f: impl FnOnce(&sql::Connection<'_>) -> sql::Result<T> + Send,
    ) -> Result<T, Problem> {
        self.require_work()?.read(f).await
    }

    /// The clients of `calls` (generated code wraps them in typed ones).
    pub fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    /// Headers that carry this request's identity to a called service:
    /// `traceparent` (our span as the parent), `x-request-id`, and the
    /// caller's bearer token when it came with one (API keys belong to one
    /// service and are not relayed).
    pub fn outbound_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("traceparent", self.inner.trace.header()),
            ("x-request-id", self.inner.request_id.clone()),
        ];
        if let Some(a) = self
            .inner
            .authorization
            .as_ref()
            .and_then(|a| a.to_str().ok())
        {
            h.push(("authorization", a.to_string()));
        }
        h
    }
}
