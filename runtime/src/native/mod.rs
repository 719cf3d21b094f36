//! The native host: the pipeline served by axum on tokio, state in a
//! SQLite file through rusqlite, calls through reqwest, and the events,
//! sagas and jobs of [`crate::durable`] run beside the server.
//!
//! - [`server`]: building a service, serving it, stopping it;
//! - [`sqlite`]: the database file and the SQL API over rusqlite;
//! - [`http`]: tokio's timer and reqwest, the pipeline's
//!   [`Timer`](crate::pipeline::host::Timer) and
//!   [`Http`](crate::pipeline::host::Http);
//! - [`cli`]: the generated binary's command line.

pub mod cli;
pub mod http;
pub mod server;
pub mod sqlite;
