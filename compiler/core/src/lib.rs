//! svcc-core: the pure core of svcc, from manifest text to output files.
//!
//! Manifest text goes in; a resolved model and diagnostics come out, and
//! from a model without errors the emitters build every output in memory.
//! The pipeline, one module per stage:
//!
//! ```text
//! load -> lower -> resolve -> check     (check_project)
//!                               model -> emit   (emit::build: Artifacts, paths and bytes)
//! ```
//!
//! The CLI crate writes the artifacts to disk and runs rustfmt over the
//! generated Rust; nothing here does either.
//!
//! Architecture invariant: nothing here touches the file system, the clock
//! or the environment (enforced by `clippy.toml`). The CLI crate reads files
//! and hands their bytes in, which lets the same core serve a language server
//! and a watch mode.

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod emit;
pub mod graph;
pub mod library;
pub mod load;
pub mod lower;
pub mod names;
pub mod number;
pub mod parallel;
pub mod project;
pub mod resolve;
pub mod schema;
pub mod source;
pub mod syntax;

use diagnostic::{Diagnostic, Diagnostics, Severity};
use project::{Config, LintLevel};
use resolve::Model;
use source::SourceMap;

/// One input file: its display name (relative path with `/`) and bytes.
#[derive(Clone, Debug)]
pub struct SourceInput {
    /// Path shown in diagnostics.
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
    /// Why the file could not be read, if it could not.
    pub read_error: Option<String>,
    /// The file's size on disk when `bytes` holds only its beginning (a
    /// file over the size limit is read no further than the limit); its
    /// diagnostic gives this size.
    pub size: Option<u64>,
    /// Why this entry, a symbolic link, was not followed: it is left out
    /// of the project, with a warning (W0011).
    pub not_followed: Option<String>,
}

impl SourceInput {
    /// A file that was read.
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        SourceInput {
            name: name.into(),
            bytes: bytes.into(),
            read_error: None,
            size: None,
            not_followed: None,
        }
    }
}

/// What checking a project produced.
#[derive(Debug)]
pub struct Analysis {
    /// Every file read, for rendering diagnostics.
    pub sources: SourceMap,
    /// The project's settings.
    pub config: Config,
    /// The resolved model.
    pub model: Model,
    /// Every problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    /// Whether any error was found.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Checks a project: `config` is `svcc.toml`, `manifests` every manifest
/// file in sorted order.
pub fn check_project(config: Option<&SourceInput>, manifests: &[SourceInput]) -> Analysis {
    check_project_staged(config, manifests, &mut |_| {})
}

/// [`check_project`], calling `stage(name)` as each stage ends (`load`,
/// `lower`, `resolve`, `check`), so a caller with a clock can time them
/// (`svcc build --timings`) while the core itself stays clock-free.
pub fn check_project_staged(
    config: Option<&SourceInput>,
    manifests: &[SourceInput],
    stage: &mut dyn FnMut(&'static str),
) -> Analysis {
    let mut sources = SourceMap::new();
    let mut out = Diagnostics::new();
    let config = match config {
        Some(c) => project::parse(&mut sources, &c.name, &c.bytes, &mut out),
        None => Config::default(),
    };
    let mut documents = Vec::new();
    let mut incomplete = false;
    let library = load::load_file(
        &mut sources,
        library::FILE_NAME,
        library::SOURCE.as_bytes(),
        load::Format::Yaml,
        &mut out,
    );
    documents.extend(library.documents.into_iter().map(|d| (d, true)));
    let mut decoded = Vec::new();
    for file in manifests {
        if let Some(reason) = &file.not_followed {
            let why = load::NotRead::LeftOut(reason);
            load::not_read(&mut sources, &file.name, why, &mut out);
            continue;
        }
        let Some(format) = load::Format::from_name(&file.name) else {
            continue;
        };
        if let Some(reason) = &file.read_error {
            let why = load::NotRead::Unreadable(reason);
            load::not_read(&mut sources, &file.name, why, &mut out);
            incomplete = true;
            continue;
        }
        match load::decode(&mut sources, &file.name, &file.bytes, file.size, &mut out) {
            Some(id) => decoded.push((id, format)),
            None => incomplete = true,
        }
    }
    let parsed = parallel::map_chunks(&decoded, |chunk| {
        let mut diagnostics = Diagnostics::new();
        let loaded: Vec<load::Loaded> = chunk
            .iter()
            .map(|(id, format)| {
                let text = sources.get(*id).map_or("", |f| f.text.as_str());
                load::parse(*id, text, *format, &mut diagnostics)
            })
            .collect();
        (loaded, diagnostics)
    });
    for (loaded, diagnostics) in parsed {
        out.extend(diagnostics);
        for l in loaded {
            incomplete |= l.incomplete;
            documents.extend(l.documents.into_iter().map(|d| (d, false)));
        }
    }
    stage("load");
    let ast = lower::lower(&documents, &mut out);
    stage("lower");
    let model = resolve::resolve(ast, incomplete, &mut out);
    stage("resolve");
    check::check(&model, &mut out);
    stage("check");
    apply_lint_levels(&sources, &config, &mut out);
    Analysis {
        sources,
        config,
        model,
        diagnostics: out.into_sorted(),
    }
}

/// Applies `[lints]` from svcc.toml and `# svcc: allow` comments.
fn apply_lint_levels(sources: &SourceMap, config: &Config, out: &mut Diagnostics) {
    let allows: Vec<Vec<diagnostic::Code>> = sources
        .iter()
        .map(|(_, f)| project::file_allows(&f.text))
        .collect();
    out.retain(|d| {
        let in_file = allows
            .get(d.primary.span.file.0 as usize)
            .is_some_and(|a| a.contains(&d.code));
        !in_file && config.lints.get(&d.code) != Some(&LintLevel::Allow)
    });
    for d in out.iter_mut() {
        if config.lints.get(&d.code) == Some(&LintLevel::Deny) {
            d.severity = Severity::Error;
        }
    }
}

/// Whether `v` is a semantic version (`1.2.3`, with optional pre-release).
pub fn check_semver(v: &str) -> bool {
    check::is_semver(v)
}
