//! The project file, `svcc.toml`: name, build settings and lint levels.
//!
//! Parsed from text like manifests are (same loader, same spans, same shape
//! validator), so its errors look like every other diagnostic.

use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::load::{self, Format, Node, NodeKind};
use crate::lower::shape::{Block, Field, Ident, Value};
use crate::lower::validate;
use crate::source::{SourceMap, Span};
use std::collections::BTreeMap;

/// What a lint does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintLevel {
    /// Silenced.
    Allow,
    /// A warning (the default).
    Warn,
    /// An error.
    Deny,
}

/// The build targets `svcc build` knows.
pub const TARGETS: [&str; 4] = ["openapi", "asyncapi", "rust", "wrangler"];

/// Settings from `svcc.toml`, with defaults filled in.
#[derive(Clone, Debug)]
pub struct Config {
    /// `[project] name`.
    pub name: String,
    /// `[project] version`.
    pub version: String,
    /// Folder of manifests, relative to the project root.
    pub manifests: String,
    /// Output folder, relative to the project root.
    pub out: String,
    /// Default build targets.
    pub targets: Vec<String>,
    /// Lint levels by code.
    pub lints: BTreeMap<Code, LintLevel>,
    /// How generated crates depend on svcc-runtime.
    pub runtime: RuntimeDep,
    /// Folder (relative to the project root) of hand-written handler files,
    /// `<service-kebab>.rs`, that generated crates use instead of a stub.
    pub handlers: Option<String>,
    /// `[rust.dependencies]`: crates every generated crate depends on
    /// (what hand-written handlers use), sorted by name.
    pub dependencies: Vec<(String, Dependency)>,
}

/// One entry of `[rust.dependencies]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// A crates.io version requirement.
    pub version: Option<String>,
    /// A path relative to the project root (or absolute).
    pub path: Option<String>,
    /// Features to enable.
    pub features: Vec<String>,
    /// `default-features = false`.
    pub no_default_features: bool,
}

/// `[rust] runtime = { path = ... }` or `{ version = ... }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeDep {
    /// A path relative to the project root.
    Path(String),
    /// A crates.io version requirement.
    Version(String),
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: "project".to_string(),
            version: "0.1.0".to_string(),
            manifests: "manifests".to_string(),
            out: "gen".to_string(),
            targets: TARGETS.iter().map(|t| (*t).to_string()).collect(),
            lints: BTreeMap::new(),
            runtime: RuntimeDep::Version(env!("CARGO_PKG_VERSION").to_string()),
            handlers: None,
            dependencies: Vec::new(),
        }
    }
}

const fn field(
    key: &'static str,
    value: Value,
    required: bool,
    description: &'static str,
) -> Field {
    Field {
        key,
        value,
        required,
        description,
    }
}

static PROJECT: Block = Block {
    name: "Project",
    description: "The project",
    fields: &[
        field(
            "name",
            Value::Name(Ident::Kebab),
            true,
            "Project name, kebab-case",
        ),
        field("version", Value::String, true, "Semantic version"),
        field("description", Value::String, false, "What the project is"),
    ],
};

static BUILD: Block = Block {
    name: "Build",
    description: "Build settings",
    fields: &[
        field(
            "manifests",
            Value::String,
            false,
            "Folder of manifests (default `manifests`)",
        ),
        field("out", Value::String, false, "Output folder (default `gen`)"),
        field(
            "targets",
            Value::List(&Value::OneOf(&TARGETS)),
            false,
            "Default targets",
        ),
    ],
};

static RUST: Block = Block {
    name: "Rust",
    description: "Generated Rust crates",
    fields: &[
        field(
            "runtime",
            Value::Any,
            false,
            "How generated crates depend on the runtime: `{ path = ... }` or `{ version = ... }`",
        ),
        field(
            "handlers",
            Value::String,
            false,
            "Folder of hand-written handler files (`<service>.rs`) used instead of generated stubs",
        ),
        field(
            "dependencies",
            Value::Map {
                key: &Value::String,
                value: &Value::Any,
            },
            false,
            "Crates the generated crates depend on, for hand-written handlers: `name = \"1\"` or `name = { version = \"1\", features = [...], default-features = false, path = \"...\" }`",
        ),
    ],
};

/// The shape of `svcc.toml`.
pub static PROJECT_FILE: Block = Block {
    name: "ProjectFile",
    description: "svcc.toml",
    fields: &[
        field("project", Value::Block(&PROJECT), true, "The project"),
        field("build", Value::Block(&BUILD), false, "Build settings"),
        field("rust", Value::Block(&RUST), false, "Generated Rust crates"),
        field(
            "lints",
            Value::Map {
                key: &Value::String,
                value: &Value::OneOf(&["allow", "warn", "deny"]),
            },
            false,
            "Lint levels: `W0003 = \"allow\"`",
        ),
    ],
};

/// Parses `svcc.toml`; problems are reported and defaults used instead.
pub fn parse(sources: &mut SourceMap, name: &str, bytes: &[u8], out: &mut Diagnostics) -> Config {
    let loaded = load::load_file(sources, name, bytes, Format::Toml, out);
    let mut config = Config::default();
    let Some(doc) = loaded.documents.first() else {
        return config;
    };
    let root = &doc.root;
    // shape problems of the project file all carry the project-file code
    let mut shape = Diagnostics::new();
    validate::check_block(root, &PROJECT_FILE, root.span, &mut shape);
    for mut d in shape.into_sorted() {
        d.code = Code::E0009;
        d.message = format!("svcc.toml: {}", d.message);
        out.push(d);
    }
    let get = |a: &str, b: &str| root.get(a).and_then(|n| n.get(b));
    if let Some(node) = get("project", "name")
        && let Some(n) = node.as_str()
    {
        config.name = n.to_string();
        project_name_is_a_file_name(n, node.span, out);
    }
    if let Some(v) = get("project", "version") {
        if let Some(text) = v.as_str().filter(|t| crate::check_semver(t)) {
            config.version = text.to_string();
        } else if v.as_str().is_some() {
            out.push(project_error(
                v.span,
                "`version` is not a semantic version",
                "expected MAJOR.MINOR.PATCH, like `0.1.0`",
            ));
        }
    }
    for (key, slot) in [
        ("manifests", &mut config.manifests),
        ("out", &mut config.out),
    ] {
        if let Some(v) = get("build", key)
            && let Some(text) = v.as_str()
            && let Some(clean) = folder_inside(key, text, v.span, out)
        {
            *slot = clean;
        }
    }
    if let Some(d) = out_overlaps_manifests(&config, get("build", "out"), get("build", "manifests"))
    {
        out.push(d);
    }
    if let Some(targets) = get("build", "targets").and_then(Node::as_seq) {
        config.targets = targets
            .iter()
            .filter_map(Node::as_str)
            .filter(|t| TARGETS.contains(t))
            .map(str::to_string)
            .collect();
    }
    config.lints = lint_levels(root.get("lints"), out);
    if let Some(rt) = get("rust", "runtime") {
        let path = rt.get("path").and_then(Node::as_str);
        let version = rt.get("version").and_then(Node::as_str);
        match (path, version) {
            (Some(text), None) | (None, Some(text)) if control_char(text).is_some() => {
                let c = control_char(text).map_or(0, u32::from);
                out.push(control_error("`runtime`", c, rt.span));
            }
            (Some(p), None) if !p.is_empty() && !p.contains('"') && !p.contains('\\') => {
                config.runtime = RuntimeDep::Path(tidy_path(p));
            }
            (None, Some(v)) if !v.is_empty() && !v.contains(['"', '\\']) => {
                config.runtime = RuntimeDep::Version(v.to_string());
            }
            _ => out.push(project_error(
                rt.span,
                "`runtime` must be `{ path = \"...\" }` or `{ version = \"...\" }`",
                "for example `runtime = { path = \"../svcc/runtime\" }`",
            )),
        }
    }
    if let Some(h) = get("rust", "handlers") {
        match h.as_str() {
            Some(text) => config.handlers = folder_inside("handlers", text, h.span, out),
            None => out.push(project_error(
                h.span,
                "`handlers` must be a relative path inside the project",
                "remove `..` and leading `/`",
            )),
        }
    }
    config.dependencies = dependencies(get("rust", "dependencies"), out);
    config
}

/// `[rust.dependencies]`: each a version string or a table of `version`,
/// `path`, `features` and `default-features`. The generated Cargo.toml
/// is written from these values, so only plain names and quote-free text
/// are accepted.
fn dependencies(node: Option<&Node>, out: &mut Diagnostics) -> Vec<(String, Dependency)> {
    let plain = |t: &str| !t.is_empty() && !t.contains(['"', '\\']) && control_char(t).is_none();
    let mut deps = Vec::new();
    for e in node.and_then(Node::as_map).unwrap_or(&[]) {
        let name = &e.key.value;
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name || name == "svcc-runtime" {
            out.push(project_error(
                e.key.span,
                &format!("`{name}` cannot be a dependency here"),
                "a crate name (letters, digits, `-`, `_`); svcc-runtime is set by `runtime`",
            ));
            continue;
        }
        let mut dep = Dependency {
            version: None,
            path: None,
            features: Vec::new(),
            no_default_features: false,
        };
        if let Some(c) = strings(&e.value).find_map(control_char) {
            out.push(control_error(
                &format!("dependency `{name}`"),
                u32::from(c),
                e.value.span,
            ));
            continue;
        }
        let ok = match &e.value.kind {
            NodeKind::Str(v) if plain(v) => {
                dep.version = Some(v.clone());
                true
            }
            NodeKind::Map(entries) => {
                entries
                    .iter()
                    .all(|f| match (f.key.value.as_str(), &f.value.kind) {
                        ("version", NodeKind::Str(v)) if plain(v) => {
                            dep.version = Some(v.clone());
                            true
                        }
                        ("path", NodeKind::Str(p)) if plain(p) => {
                            dep.path = Some(tidy_path(p));
                            true
                        }
                        ("features", NodeKind::Seq(items)) => {
                            items.iter().all(|i| match i.as_str() {
                                Some(f) if plain(f) => {
                                    dep.features.push(f.to_string());
                                    true
                                }
                                _ => false,
                            })
                        }
                        ("default-features", NodeKind::Bool(b)) => {
                            dep.no_default_features = !b;
                            true
                        }
                        _ => false,
                    })
            }
            _ => false,
        };
        if !ok || (dep.version.is_none() && dep.path.is_none()) {
            out.push(project_error(
                e.value.span,
                &format!("dependency `{name}` must be a version or a table of `version`, `path`, `features` and `default-features`"),
                "for example `serde_yaml = \"0.9\"` or `uuid = { version = \"1\", features = [\"v7\"] }`",
            ));
            continue;
        }
        deps.push((name.clone(), dep));
    }
    // One order whatever the file's: the TOML reader's.
    deps.sort_by(|a, b| a.0.cmp(&b.0));
    deps
}

/// The strings of a value and of the values inside it (one level of
/// table and list, as a dependency has).
fn strings(node: &Node) -> impl Iterator<Item = &str> {
    let inner: Vec<&Node> = match &node.kind {
        NodeKind::Map(entries) => entries.iter().map(|e| &e.value).collect(),
        _ => vec![node],
    };
    inner
        .into_iter()
        .flat_map(|n| match &n.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![n],
        })
        .filter_map(Node::as_str)
}

/// The project's name names the AsyncAPI document
/// (`asyncapi/<name>.asyncapi.yaml`): a name no file can have is refused
/// before a build starts writing.
fn project_name_is_a_file_name(name: &str, span: Span, out: &mut Diagnostics) {
    const SUFFIX: &str = ".asyncapi.yaml";
    if validate::windows_reserved(name) {
        out.push(project_error(
            span,
            &format!(
                "svcc.toml: `name = \"{name}\"` names files with a device name Windows reserves"
            ),
            "choose another name, like `my-shop`",
        ));
    } else if name.len() + SUFFIX.len() > validate::MAX_FILE_NAME {
        out.push(project_error(
            span,
            &format!(
                "svcc.toml: the project's name makes `asyncapi/<name>{SUFFIX}` a file name of {} bytes, more than {}",
                name.len() + SUFFIX.len(),
                validate::MAX_FILE_NAME
            ),
            &format!("shorten it to at most {} characters", validate::MAX_FILE_NAME - SUFFIX.len()),
        ));
    }
}

fn project_error(span: Span, message: &str, help: &str) -> Diagnostic {
    Diagnostic::error(Code::E0009, span, format!("svcc.toml: {message}"))
        .label("invalid")
        .help(help)
}

/// No `..`, not absolute, not empty.
pub fn relative_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains(':')
        && path.split('/').all(|part| part != "..")
}

/// The first control character of `text` (NUL, DEL, an escape, a line
/// break...): none of them belongs in a path, a name or a version that is
/// copied into a generated file.
pub fn control_char(text: &str) -> Option<char> {
    text.chars().find(|c| c.is_control())
}

/// A path without its `.` and empty segments: `./gen/` and `gen/.` are
/// `gen`, `a/./b` is `a/b`, `/abs//x` is `/abs/x`; `.` for nothing left.
/// Every relative path derived from it (`../` once per segment) is then
/// right.
pub fn tidy_path(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    match (path.starts_with('/'), parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_string(),
        (false, false) => parts.join("/"),
    }
}

/// A folder of the project (`manifests`, `out`, `handlers`), tidied;
/// `None` when it cannot be one (the reason is reported).
fn folder_inside(key: &str, text: &str, span: Span, out: &mut Diagnostics) -> Option<String> {
    let clean = tidy_path(text);
    let problem = if let Some(c) = control_char(text) {
        control_error(&format!("`{key}`"), u32::from(c), span)
    } else if !relative_inside(text) {
        project_error(
            span,
            &format!("`{key}` must be a relative path inside the project"),
            "remove `..` and leading `/`",
        )
    } else if clean == "." {
        project_error(
            span,
            &format!("`{key}` is the project folder itself"),
            "name a folder inside the project, like `gen` or `manifests`",
        )
    } else if let Some(part) = clean
        .split('/')
        .find(|p| p.len() > validate::MAX_FILE_NAME || validate::windows_reserved(p))
    {
        let why = if part.len() > validate::MAX_FILE_NAME {
            format!(
                "a folder name of {} bytes, more than the {} a file system holds",
                part.len(),
                validate::MAX_FILE_NAME
            )
        } else {
            format!("`{part}`, a device name Windows reserves")
        };
        project_error(
            span,
            &format!("`{key}` goes through {why}"),
            "name another folder, like `gen` or `manifests`",
        )
    } else {
        return Some(clean);
    };
    out.push(problem);
    None
}

/// `what` (`` `out` ``, `` dependency `x` ``) holds the control character `c`.
fn control_error(what: &str, c: u32, span: Span) -> Diagnostic {
    project_error(
        span,
        &format!("{what} contains the control character U+{c:04X}"),
        "remove it: control characters cannot be copied into generated files",
    )
}

/// `out` equal to the manifests folder, inside it or holding it: the
/// next check would read the generated YAML as manifests (or a build
/// would write among them). Reported at whichever of the two is set.
fn out_overlaps_manifests(
    config: &Config,
    out: Option<&Node>,
    manifests: Option<&Node>,
) -> Option<Diagnostic> {
    let (o, m) = (
        config.out.to_ascii_lowercase(),
        config.manifests.to_ascii_lowercase(),
    );
    let inside = |a: &str, b: &str| a.strip_prefix(b).is_some_and(|rest| rest.starts_with('/'));
    let relation = if o == m {
        "is"
    } else if inside(&o, &m) {
        "is inside"
    } else if inside(&m, &o) {
        "holds"
    } else {
        return None;
    };
    let span = out.or(manifests)?.span;
    Some(project_error(
        span,
        &format!(
            "the output folder `{}` {relation} the manifests folder `{}`",
            config.out, config.manifests
        ),
        "keep them apart (the default is `out = \"gen\"` beside `manifests = \"manifests\"`): \
         generated YAML among the manifests would be read as manifests",
    ))
}

fn lint_levels(node: Option<&Node>, out: &mut Diagnostics) -> BTreeMap<Code, LintLevel> {
    let mut levels = BTreeMap::new();
    for e in node.and_then(Node::as_map).unwrap_or(&[]) {
        let Some(code) = Code::parse(&e.key.value).filter(|c| c.is_lint()) else {
            let lints: Vec<&str> = Code::ALL
                .iter()
                .filter(|c| c.is_lint())
                .map(|c| c.as_str())
                .collect();
            let d = project_error(
                e.key.span,
                &format!("`{}` is not a lint", e.key.value),
                "only warnings (W codes) can be configured; errors cannot be silenced",
            );
            let is_error_code = Code::parse(&e.key.value).is_some();
            let d = match suggest::did_you_mean(&e.key.value, lints) {
                Some(h) if !is_error_code => d.help(h),
                _ => d,
            };
            out.push(d);
            continue;
        };
        let level = match e.value.as_str() {
            Some("allow") => LintLevel::Allow,
            Some("deny") => LintLevel::Deny,
            _ => LintLevel::Warn,
        };
        levels.insert(code, level);
    }
    levels
}

/// Codes silenced in a file by a comment line `# svcc: allow W0002, W0003`.
pub fn file_allows(text: &str) -> Vec<Code> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix('#'))
        .filter_map(|c| c.trim_start().strip_prefix("svcc:"))
        .filter_map(|c| c.trim_start().strip_prefix("allow"))
        .flat_map(|codes| {
            codes
                .split([',', ' '])
                .filter_map(Code::parse)
                .collect::<Vec<_>>()
        })
        .filter(|c| c.is_lint())
        .collect()
}
