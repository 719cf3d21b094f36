//! The `rust` target: one crate per service under `rust/<service>/`, and a
//! workspace `rust/Cargo.toml` so all of them build with one target folder.
//!
//! Code is built as token trees with `quote` (never text templates),
//! parsed with `syn` and printed with `prettyplease`, so every generated
//! file is valid Rust. `generated.rs`, `lib.rs`, `schemas.json` and
//! `Cargo.toml` are svcc's and rewritten on every build; `handlers.rs`
//! and `main.rs` are seeds ([`crate::emit::Artifact::seed`]): written when
//! missing, the user's from then on.
//!
//! Stages: [`types`] (data types and validation), [`service`] (operations,
//! handler trait, clients, route table), [`sagas`] (the sagas the service
//! coordinates), [`files`] (the crate's files).

mod calls;
mod events;
pub mod files;
mod inputs;
mod lit;
pub mod names;
mod operations;
mod routes;
pub mod rt;
pub mod sagas;
pub mod service;
mod state;
pub mod types;

use crate::ast::Service;
use crate::emit::Artifact;
use crate::names::to_kebab;
use crate::project::Config;
use crate::resolve::Model;

/// Every file of the `rust` target. `handler_files` lists the services
/// (kebab-case) that have a hand-written file in the `[rust] handlers`
/// folder; their crates use it instead of a seeded stub.
pub fn crates(model: &Model, config: &Config, handler_files: &[String]) -> Vec<Artifact> {
    let mut out = Vec::new();
    let members: Vec<String> = model
        .ast
        .services
        .iter()
        .map(|s| to_kebab(&s.name.value))
        .collect();
    out.push(Artifact {
        target: "rust",
        path: "rust/Cargo.toml".into(),
        contents: files::workspace(&members).into_bytes(),
        seed: false,
        executable: false,
    });
    let per_service = crate::parallel::map_chunks(&model.ast.services, |chunk| {
        chunk
            .iter()
            .flat_map(|s| service_crate(model, config, s, handler_files))
            .collect::<Vec<_>>()
    });
    out.extend(per_service.into_iter().flatten());
    out
}

fn service_crate(
    model: &Model,
    config: &Config,
    service: &Service,
    handler_files: &[String],
) -> Vec<Artifact> {
    let slug = to_kebab(&service.name.value);
    let dir = format!("rust/{slug}");
    let depth = config.out.split('/').filter(|s| !s.is_empty()).count();
    let external = config
        .handlers
        .as_ref()
        .filter(|_| handler_files.contains(&slug))
        .map(|folder| format!("{}{folder}/{slug}.rs", "../".repeat(depth + 3)));
    let file = |name: &str, contents: String, seed: bool| Artifact {
        target: "rust",
        path: format!("{dir}/{name}"),
        contents: contents.into_bytes(),
        seed,
        executable: false,
    };
    let mut out = vec![
        file(
            "Cargo.toml",
            files::cargo_toml(service, config, depth),
            false,
        ),
        file(
            "src/lib.rs",
            files::lib_rs(service, external.as_deref()),
            false,
        ),
        file(
            "src/generated.rs",
            files::generated_rs(model, service, depth),
            false,
        ),
        file(
            "src/schemas.json",
            files::schemas_json(model, service),
            false,
        ),
        file("src/main.rs", files::main_rs(model, service), true),
    ];
    if external.is_none() {
        out.push(file(
            "src/handlers.rs",
            files::handlers_rs(model, service),
            true,
        ));
    }
    out
}
