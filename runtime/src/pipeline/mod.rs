//! The request pipeline: everything a request goes through, written once
//! for both hosts.
//!
//! A host hands [`app::App::handle`] an `http::Request` and sends back the
//! `http::Response` it answers. In between: routing exactly as declared
//! ([`app`]), then [the stages](stages) (ids and trace, authentication
//! ([`auth`]), permission and `:own`, pricing plan and rate limits
//! ([`limits`]), decoding and validation ([`request`], [`validate`],
//! [`strict`]) with every violation listed, `Idempotency-Key`
//! ([`idempotency`], [`keys`]), the handler under its timeout in its unit
//! of work ([`context`], [`work`], [`entities`], [`outbox`]), ownership of
//! the output, the commit, the answer's headers, [`metrics`] and one
//! [`logging`] line), CORS, problem+json ([`problem`]), `/health` and
//! `/metrics` ([`builtins`]).
//!
//! Invariant: nothing here imports tokio, hyper, axum, rusqlite, reqwest
//! or the `worker` crate (`tests/tidy.rs` reads the imports). What differs
//! between the hosts is behind small traits a host implements: the
//! database ([`store::Database`], speaking [`sql`]), time and calls
//! ([`host::Timer`], [`host::Http`]); configuration is name-value pairs
//! both hosts have ([`settings::Settings::from_vars`]).

pub mod app;
pub mod auth;
pub mod builtins;
pub mod client;
pub mod context;
pub mod entities;
pub mod events;
pub mod host;
pub mod idempotency;
pub mod keys;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod problem;
pub mod request;
pub mod service;
pub mod settings;
pub mod spec;
pub mod sql;
pub mod stages;
pub mod store;
pub mod strict;
pub mod validate;
pub mod values;
pub mod work;

/// A boxed future, `Send` on both hosts (the Workers host wraps the
/// JavaScript futures it awaits, which are not, in `SendWrapper`: its
/// isolate runs one thread).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

#[cfg(test)]
mod invariant {
    /// Crates only a host may use: the pipeline runs on both.
    const HOST_CRATES: [&str; 6] = ["tokio", "hyper", "axum", "rusqlite", "reqwest", "worker"];

    /// Paths into the hosts.
    const HOST_MODULES: [&str; 2] = ["crate::native", "crate::workers"];

    /// The code of a file before its tests (`#[cfg(test)]` at the start
    /// of a line: test modules may use tokio's test runtime).
    fn code(text: &str) -> &str {
        match text.find("\n#[cfg(test)]") {
            Some(i) => &text[..i],
            None => text,
        }
    }

    /// The places in `code` that name a host's crate or module: a path
    /// (`tokio::sync`), a `use` of it, or an `extern crate`.
    fn host_imports(code: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            let named = |name: &str| {
                line.match_indices(name).any(|(i, _)| {
                    let before = line[..i].chars().next_back();
                    let after = &line[i + name.len()..];
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                        && (after.starts_with("::")
                            || after.starts_with(';')
                            || after.starts_with(" as"))
                })
            };
            for c in HOST_CRATES {
                if named(c) {
                    found.push(format!("line {}: {c}: {line}", n + 1));
                }
            }
            for m in HOST_MODULES {
                if line.contains(m) {
                    found.push(format!("line {}: {m}: {line}", n + 1));
                }
            }
        }
        found
    }

    #[test]
    fn the_pipeline_imports_no_host() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pipeline");
        let mut offences = Vec::new();
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.map(|e| e.path()).unwrap_or_default();
            if path.extension().is_some_and(|e| e == "rs") {
                files += 1;
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for o in host_imports(code(&text)) {
                    offences.push(format!("{}: {o}", path.display()));
                }
            }
        }
        assert!(files > 20, "only {files} files in {}", dir.display());
        assert!(offences.is_empty(), "{}", offences.join("\n"));
    }

    #[test]
    fn the_check_sees_each_way_of_naming_a_crate() {
        for line in [
            "use tokio::sync::Mutex;",
            "    let r = reqwest::Client::new();",
            "fn f(c: &rusqlite::Connection) {}",
            "extern crate worker;",
            "use axum as web;",
            "use crate::native::sqlite;",
        ] {
            assert_eq!(host_imports(line).len(), 1, "{line}");
        }
        for line in [
            "// tokio::spawn in a comment",
            "let my_tokio::x = 1;",
            "use crate::pipeline::worker_pool;",
            "fn f() {}\n#[cfg(test)]\nmod t { use tokio::test; }",
        ] {
            assert!(host_imports(code(line)).is_empty(), "{line}");
        }
    }
}
