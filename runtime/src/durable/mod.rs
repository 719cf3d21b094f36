//! Events, sagas and jobs: the work a service does without a request,
//! over its database.
//!
//! Why it exists: a core service's promise is that a state transition and
//! the events it emits commit together, and that every committed event
//! reaches every subscriber at least once, runs each subscriber's side
//! effects once, survives crashes, and ends in a dead-letter table rather
//! than vanishing when a handler keeps failing. What a request writes
//! (entities, the outbox, idempotency records, the unit of work) is the
//! pipeline's (`pipeline/`: [`entities`], [`outbox`], [`keys`], [`work`],
//! re-exported here); these modules deliver and schedule, and the native
//! host runs them on tokio beside its server:
//!
//! - [`dispatcher`]: the outbox to the handlers, with the inbox, retries
//!   and per-entity order;
//! - [`dlq`]: list, show, replay and drop dead letters;
//! - [`prune`]: deleting what retention no longer needs;
//! - [`saga`]: the saga coordinator (steps, `parallel`, `when`, retries,
//!   compensations, resume after a crash) and its history;
//! - [`binding`]: generated sagas' operations bound to calls and to the
//!   service's own transitions;
//! - [`jobs`] and [`cron`]: scheduled jobs, once per scheduled time across
//!   processes, on Cloudflare's cron dialect;
//! - [`clock`]: the time sagas and jobs read (injectable for tests).

pub mod binding;
pub mod clock;
pub mod cron;
pub mod dispatcher;
pub mod dlq;
pub mod jobs;
pub mod prune;
pub mod saga;

pub use crate::pipeline::{entities, keys, outbox, work};

pub use crate::native::sqlite::StoreOptions;
pub use crate::pipeline::store::{Durability, Store, Tx, now_ms};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cron::Schedule;
pub use dispatcher::{Backoff, Dispatcher, Pass, RetryPolicy};
pub use dlq::DeadLetter;
pub use entities::{Entity, Machine, entity_key};
pub use jobs::{JobRun, JobSpec, Scheduler};
pub use outbox::{NewEvent, StoredEvent, TxSink};
pub use saga::{Action, Coordinator, SagaSpec, StepCall, StepError, StepSpec};
pub use work::Work;
