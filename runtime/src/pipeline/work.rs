//! A unit of work: the transaction and the events of one request, one
//! event delivery or one job run.
//!
//! Why it exists: an operation's writes and the events it publishes must
//! commit together (the transactional outbox), yet most requests write
//! nothing and should not queue behind the store's one write lock. So the
//! transaction is begun lazily, the first time a handler asks for it
//! ([`Work::tx`]), and published events are kept here until the end:
//!
//! - for a request, the server calls [`Work::commit`] once the handler has
//!   answered `Ok`: the events go into the transaction (begun then if the
//!   handler wrote nothing else) and everything commits before the answer
//!   is sent, so a 2xx means committed; on an error, a timeout or a panic
//!   [`Work::abort`] rolls everything back and no event leaves;
//! - for a delivery, the dispatcher owns the transaction (it also writes
//!   the inbox mark), so the unit is built [`Work::within`] it and
//!   [`Work::flush`] appends the events to it without committing.
//!
//! Reads ([`Work::read`]) go through the transaction when there is one
//! (a handler sees its own writes) and straight to the store otherwise.

use super::outbox::TxSink;
use crate::Problem;
use crate::events::{EventSink, LogSink, OutgoingEvent};
use crate::pipeline::store::{Store, Tx};
use crate::sql::{self, Connection};
use std::sync::Mutex;

/// The transaction and pending events of one request, delivery or job run.
pub struct Work {
    store: Store,
    /// The transaction, once begun (or given).
    tx: futures_util::lock::Mutex<Option<Tx>>,
    /// Whether the transaction belongs to someone else (the dispatcher),
    /// who commits it.
    given: bool,
    /// Events published and not yet written.
    pending: Mutex<Vec<OutgoingEvent>>,
}

impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Work")
            .field("store", &self.store)
            .field("given", &self.given)
            .finish_non_exhaustive()
    }
}

impl Work {
    /// A unit over `store` that begins its transaction when first asked.
    pub fn new(store: Store) -> Self {
        Work {
            store,
            tx: futures_util::lock::Mutex::new(None),
            given: false,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// A unit inside a transaction someone else commits (a delivery's).
    pub fn within(store: Store, tx: Tx) -> Self {
        Work {
            store,
            tx: futures_util::lock::Mutex::new(Some(tx)),
            given: true,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The unit's transaction, begun now if it was not yet. It holds the
    /// store's write lock until the unit ends, so do not wait on another
    /// service while holding it.
    pub async fn tx(&self) -> Result<Tx, Problem> {
        let mut slot = self.tx.lock().await;
        if let Some(tx) = slot.as_ref() {
            return Ok(tx.clone());
        }
        let tx = self.store.begin().await?;
        *slot = Some(tx.clone());
        Ok(tx)
    }

    /// Runs a read: through the transaction when one is open (it sees the
    /// unit's own writes), else on the store's connection.
    pub async fn read<T: Send>(
        &self,
        f: impl FnOnce(&Connection<'_>) -> sql::Result<T> + Send,
    ) -> Result<T, Problem> {
        let slot = self.tx.lock().await;
        match slot.as_ref() {
            Some(tx) => tx.with_conn(f),
            None => self.store.read(f).await,
        }
    }

    /// Keeps an event until the unit commits.
    pub fn publish(&self, event: OutgoingEvent) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
    }

    fn take_pending(&self) -> Vec<OutgoingEvent> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Appends the pending events to the (given) transaction without
    /// committing: the dispatcher commits them with the inbox mark.
    pub async fn flush(&self) -> Result<(), Problem> {
        let pending = self.take_pending();
        if pending.is_empty() {
            return Ok(());
        }
        let tx = self.tx().await?;
        let sink = TxSink::new(tx);
        pending.into_iter().try_for_each(|e| sink.publish(e))
    }

    /// Writes the pending events into the transaction and commits it. A
    /// unit that wrote nothing and published nothing touches no lock.
    pub async fn commit(&self) -> Result<(), Problem> {
        if self.given {
            return self.flush().await;
        }
        let pending = self.take_pending();
        let mut slot = self.tx.lock().await;
        let tx = match slot.take() {
            Some(tx) => tx,
            None if pending.is_empty() => return Ok(()),
            None => self.store.begin().await?,
        };
        let sink = TxSink::new(tx.clone());
        let appended = pending.iter().try_for_each(|e| sink.publish(e.clone()));
        drop(sink);
        match appended {
            // A failed commit rolls back on its own.
            Ok(()) => tx.commit()?,
            Err(e) => {
                rollback(Some(tx));
                return Err(e);
            }
        }
        // One log line per event, once it is committed (payload redacted),
        // as a service without a database writes.
        for e in pending {
            let _ = LogSink.publish(e);
        }
        Ok(())
    }

    /// Rolls the transaction back (when the unit owns it) and forgets the
    /// pending events. Handles on it held elsewhere can no longer write.
    pub async fn abort(&self) {
        self.take_pending();
        if self.given {
            return;
        }
        let tx = self.tx.lock().await.take();
        rollback(tx);
    }

    /// [`Work::abort`] without waiting: when a task the handler left
    /// behind is beginning the transaction at this very moment, the
    /// transaction rolls back when its last handle is dropped instead.
    pub fn abort_now(&self) {
        self.take_pending();
        if self.given {
            return;
        }
        if let Some(mut slot) = self.tx.try_lock() {
            rollback(slot.take());
        }
    }
}

fn rollback(tx: Option<Tx>) {
    if let Some(tx) = tx
        && let Err(e) = tx.rollback()
    {
        tracing::warn!(error = %e, "rollback failed");
    }
}
