//! Durable state, events, sagas and jobs on embedded SQLite.
//!
//! Why it exists: a core service's promise is that a state transition and
//! the events it emits commit together, and that every committed event
//! reaches every subscriber at least once, runs each subscriber's side
//! effects once, survives crashes, and ends in a dead-letter table rather
//! than vanishing when a handler keeps failing. These modules keep that
//! promise on one machine with no server to install:
//!
//! - [`db`]: the database file (WAL, fsync policy, migrations) and the
//!   transaction type [`Tx`];
//! - [`entities`]: entities and state-machine transitions;
//! - [`outbox`]: events appended inside a transaction, and the
//!   `EventSink` that writes them ([`TxSink`]);
//! - [`dispatcher`]: the outbox to the handlers, with the inbox, retries
//!   and per-entity order;
//! - [`dlq`]: list, show, replay and drop dead letters;
//! - [`keys`]: answers of idempotent requests, committed with them;
//! - [`prune`]: deleting what retention no longer needs;
//! - [`work`]: the lazily begun transaction and pending events of one
//!   request or delivery;
//! - [`saga`]: the saga coordinator (steps, `parallel`, `when`, retries,
//!   compensations, resume after a crash) and its history;
//! - [`jobs`] and [`cron`]: scheduled jobs, once per scheduled time across
//!   processes, on Cloudflare's cron dialect;
//! - [`clock`]: the time sagas and jobs read (injectable for tests).

pub mod clock;
pub mod cron;
pub mod db;
pub mod dispatcher;
pub mod dlq;
pub mod entities;
pub mod jobs;
pub mod keys;
pub mod outbox;
pub mod prune;
pub mod saga;
pub mod work;

pub use clock::{Clock, ManualClock, SystemClock};
pub use cron::Schedule;
pub use db::{Durability, Store, StoreOptions, Tx, now_ms};
pub use dispatcher::{Backoff, Dispatcher, Pass, RetryPolicy};
pub use dlq::DeadLetter;
pub use entities::{Entity, Machine, entity_key};
pub use jobs::{JobRun, JobSpec, Scheduler};
pub use outbox::{NewEvent, StoredEvent, TxSink};
pub use saga::{Action, Coordinator, SagaSpec, StepCall, StepError, StepSpec};
pub use work::Work;
