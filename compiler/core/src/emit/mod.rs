//! Stage 5, emit: the files `svcc build` writes, as bytes in memory.
//!
//! Pure like the rest of the core: emitters return [`Artifact`]s (a
//! relative path and its contents); the CLI decides what to write. Paths are
//! derived from validated names only (service names are PascalCase, the
//! project name kebab-case), so no manifest content can reach outside the
//! output folder; [`safe_path`] checks that again before anything is
//! returned. Output is deterministic: sorted maps, no timestamps, no
//! absolute paths.

pub mod asyncapi;
pub mod deploy_script;
mod json;
pub mod openapi;
pub mod rust;
pub mod schemas;
pub mod wrangler;
pub mod yaml;

use crate::names::to_kebab;
use crate::project::Config;
use crate::resolve::Model;

/// A generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// The target that produced it (`openapi`, `asyncapi`, ...).
    pub target: &'static str,
    /// Path relative to the output folder, `/`-separated.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
    /// A starting point for the user (`handlers.rs`, `main.rs`): written
    /// only when the file is missing, never replaced or removed.
    pub seed: bool,
    /// A program to run (`deploy.sh`): written with its execute bits set,
    /// and set again on an unchanged file that lost them.
    pub executable: bool,
}

/// How OpenAPI documents are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocFormat {
    /// YAML (the default).
    Yaml,
    /// JSON.
    Json,
}

/// What to build.
#[derive(Clone, Debug)]
pub struct Options {
    /// Targets by name (`openapi`, `asyncapi`, ...).
    pub targets: Vec<String>,
    /// OpenAPI as YAML or JSON.
    pub openapi_format: DocFormat,
    /// wrangler configs as `wrangler.jsonc` (default) or `wrangler.toml`.
    pub wrangler_toml: bool,
    /// Services (kebab-case) with a hand-written handlers file in the
    /// `[rust] handlers` folder (the CLI looks; the core does no IO).
    pub handler_files: Vec<String>,
}

/// Targets this version can emit.
pub const IMPLEMENTED: [&str; 4] = ["openapi", "asyncapi", "rust", "wrangler"];

fn text(value: &serde_json::Value, format: DocFormat) -> Vec<u8> {
    match format {
        DocFormat::Yaml => yaml::to_yaml(value).into_bytes(),
        DocFormat::Json => {
            let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
            s.push('\n');
            s.into_bytes()
        }
    }
}

/// Every artifact of the chosen targets, sorted by path.
pub fn build(model: &Model, config: &Config, options: &Options) -> Vec<Artifact> {
    let mut out = Vec::new();
    let wants = |t: &str| options.targets.iter().any(|x| x == t);
    if wants("openapi") {
        let ext = match options.openapi_format {
            DocFormat::Yaml => "yaml",
            DocFormat::Json => "json",
        };
        // one document per service, independent of the others: in parallel
        let docs = crate::parallel::map_chunks(&model.ast.services, |chunk| {
            chunk
                .iter()
                .map(|service| Artifact {
                    target: "openapi",
                    path: format!("openapi/{}.openapi.{ext}", to_kebab(&service.name.value)),
                    contents: text(&openapi::document(model, service), options.openapi_format),
                    seed: false,
                    executable: false,
                })
                .collect::<Vec<_>>()
        });
        out.extend(docs.into_iter().flatten());
    }
    if wants("asyncapi") {
        let doc = asyncapi::document(model, &config.name, &config.version);
        out.push(Artifact {
            target: "asyncapi",
            path: format!("asyncapi/{}.asyncapi.yaml", config.name),
            contents: text(&doc, DocFormat::Yaml),
            seed: false,
            executable: false,
        });
    }
    if wants("rust") {
        out.extend(rust::crates(model, config, &options.handler_files));
    }
    if wants("wrangler") {
        let depth = config.out.split('/').filter(|s| !s.is_empty()).count();
        for d in &model.ast.deployments {
            let Some(c) = wrangler::config(model, d, depth) else {
                continue;
            };
            let dir = format!("wrangler/{}", wrangler::worker_name(d));
            let (file, text) = if options.wrangler_toml {
                ("wrangler.toml", wrangler::toml(d, &c))
            } else {
                ("wrangler.jsonc", wrangler::jsonc(d, &c))
            };
            out.push(Artifact {
                target: "wrangler",
                path: format!("{dir}/{file}"),
                contents: text.into_bytes(),
                seed: false,
                executable: false,
            });
            out.push(Artifact {
                target: "wrangler",
                path: format!("{dir}/deploy.sh"),
                contents: deploy_script::script(d).into_bytes(),
                seed: false,
                executable: true,
            });
        }
    }
    out.retain(|a| safe_path(&a.path));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// A relative path of plain segments: no `..`, no absolute path, no
/// separators or control characters inside a segment.
pub fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
}
