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
//! host runs them on tokio beside its server (the specs, which generated
//! crates build, compile on both hosts; the runners on the native one):
//!
//! - [`dispatcher`]: the outbox to the handlers, with the inbox, retries
//!   and per-entity order;
//! - [`dlq`]: list, show, replay and drop dead letters;
//! - [`prune`]: deleting what retention no longer needs;
//! - [`saga`]: what a saga is (steps, `parallel`, `when`, retries,
//!   compensations) and its history; [`coordinator`] runs them (resume
//!   after a crash included);
//! - [`retry`]: retry policies;
//! - [`binding`]: generated sagas' operations bound to calls and to the
//!   service's own transitions;
//! - [`jobs`] and [`cron`]: scheduled jobs, once per scheduled time across
//!   processes, on Cloudflare's cron dialect;
//! - [`clock`]: the time sagas and jobs read (injectable for tests).

pub mod binding;
pub mod clock;
#[cfg(not(target_arch = "wasm32"))]
pub mod coordinator;
pub mod cron;
#[cfg(not(target_arch = "wasm32"))]
pub mod dispatcher;
#[cfg(not(target_arch = "wasm32"))]
pub mod dlq;
#[cfg(not(target_arch = "wasm32"))]
pub mod jobs;
#[cfg(not(target_arch = "wasm32"))]
pub mod prune;
pub mod retry;
pub mod saga;

pub use crate::pipeline::{entities, keys, outbox, work};

#[cfg(not(target_arch = "wasm32"))]
pub use crate::native::sqlite::StoreOptions;
pub use crate::pipeline::store::{Durability, Store, Tx, now_ms};
pub use clock::{Clock, ManualClock, SystemClock};
#[cfg(not(target_arch = "wasm32"))]
pub use coordinator::Coordinator;
pub use cron::Schedule;
#[cfg(not(target_arch = "wasm32"))]
pub use dispatcher::{Dispatcher, Pass};
#[cfg(not(target_arch = "wasm32"))]
pub use dlq::DeadLetter;
pub use entities::{Entity, Machine, entity_key};
#[cfg(not(target_arch = "wasm32"))]
pub use jobs::{JobRun, JobSpec, Scheduler};
pub use outbox::{NewEvent, StoredEvent, TxSink};
pub use retry::{Backoff, RetryPolicy};
pub use saga::{Action, SagaSpec, StepCall, StepError, StepSpec};
pub use work::Work;
