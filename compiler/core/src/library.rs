//! The built-in schema.org type library, embedded at build time.
//!
//! Its source is `schemas/schema.org.yaml`, an ordinary `Types` document: it
//! goes through the same loader and lowering as a user's manifests, so the
//! library cannot drift from the language.

/// The name its diagnostics and spans use.
pub const FILE_NAME: &str = "<svcc>/schema.org.yaml";

/// The library's source.
pub const SOURCE: &str = include_str!("../../../schemas/schema.org.yaml");
