//! svcc-runtime: runs the crates `svcc build` generates.
//!
//! A placeholder for now: the HTTP runtime, durable events, sagas and jobs
//! arrive with their issues. It exists so that the workspace layout is the
//! final one from the start.

/// The runtime's version, which generated crates check against.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
