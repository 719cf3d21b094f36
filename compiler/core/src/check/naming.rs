//! Names that must be unique, and names that would collide once turned into
//! Rust identifiers, file names or Worker bindings (`getOrder` and
//! `get_order` are both `get_order`; deployments `HTTPEdge` and `HttpEdge`
//! are both `wrangler/http-edge/`). Every name that becomes a file, a Rust
//! item or a binding goes through one [`Namespace`] here; names that no
//! spelling can make a file or a crate are in [`super::files`].

use crate::ast::{Origin, Service, TypeBody};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::names::{to_kebab, to_pascal, to_snake};
use crate::resolve::Model;
use crate::source::{Span, Spanned};
use std::collections::HashMap;

/// One namespace of generated names: what its names are, how a name is
/// converted, and how the converted name is shown in the message.
struct Namespace {
    /// What the names are (`type`, `deployment`).
    what: &'static str,
    /// The conversion the generators apply.
    convert: fn(&str) -> String,
    /// The generated name as shown (`wrangler/http-edge/`).
    shown: fn(&str) -> String,
    /// Where the generated name lives.
    place: &'static str,
}

impl Namespace {
    /// A namespace of Rust identifiers.
    const fn rust(what: &'static str, convert: fn(&str) -> String) -> Self {
        Namespace {
            what,
            convert,
            shown: str::to_string,
            place: "in generated Rust",
        }
    }
}

/// Runs the naming checks.
pub fn check(model: &Model, out: &mut Diagnostics) {
    let project_types: Vec<&Spanned<String>> = model
        .ast
        .types
        .iter()
        .filter(|t| t.origin != Origin::Library)
        .map(|t| &t.name)
        .collect();
    collisions(
        &Namespace::rust("type", to_pascal),
        spanned(project_types),
        out,
    );
    let services = model.ast.services.iter().map(|s| &s.name).collect();
    collisions(
        &Namespace::rust("service", to_snake),
        spanned(services),
        out,
    );
    for t in model
        .ast
        .types
        .iter()
        .filter(|t| t.origin != Origin::Library)
    {
        if let TypeBody::Object { fields, .. } = &t.body {
            let fields = fields.iter().map(|f| &f.name).collect();
            collisions(&Namespace::rust("field", to_snake), spanned(fields), out);
        }
    }
    for s in &model.ast.services {
        handler_methods(s, out);
        let errors = s.errors.iter().map(|e| &e.name).collect();
        collisions(&Namespace::rust("error", to_pascal), spanned(errors), out);
        builtin_error_variant(s, out);
    }
    generated_files_and_bindings(model, out);
}

/// Deployments (a Worker folder each), sagas (a function, a Durable Object
/// binding) and events (a queue and its binding).
fn generated_files_and_bindings(model: &Model, out: &mut Diagnostics) {
    let deployments = model.ast.deployments.iter().map(|d| &d.name).collect();
    let folders = Namespace {
        what: "deployment",
        convert: to_kebab,
        shown: |k| format!("wrangler/{k}/"),
        place: "in the generated output",
    };
    collisions(&folders, spanned(deployments), out);
    let sagas = model.ast.sagas.iter().map(|s| &s.name).collect();
    let saga_fns = Namespace {
        what: "saga",
        convert: to_snake,
        shown: |k| {
            format!(
                "fn {k}` and the binding `SVCC_SAGA_{}",
                k.to_ascii_uppercase()
            )
        },
        place: "in generated Rust and wrangler",
    };
    collisions(&saga_fns, spanned(sagas), out);
    let mut events: Vec<(&str, Span)> = Vec::new();
    for s in &model.ast.services {
        events.extend(
            s.publishes
                .iter()
                .map(|p| (p.event.value.0.as_str(), p.event.span)),
        );
    }
    let queues = Namespace {
        what: "event",
        convert: to_snake,
        shown: |k| format!("SVCC_QUEUE_{}", k.to_ascii_uppercase()),
        place: "as queue bindings",
    };
    collisions(&queues, events, out);
}

/// The generated `enum Error` of a service has a variant `Problem` of its
/// own, for every other problem: an error named `Problem` would be a
/// second variant of that name.
fn builtin_error_variant(s: &Service, out: &mut Diagnostics) {
    for e in s
        .errors
        .iter()
        .filter(|e| to_pascal(&e.name.value) == "Problem")
    {
        out.push(
            Diagnostic::error(
                Code::E0105,
                e.name.span,
                format!(
                    "error `{}` is `Error::Problem` in generated Rust, the variant that holds every other problem",
                    e.name.value
                ),
            )
            .label("collides with the built-in variant")
            .help(format!(
                "rename it for what went wrong (like `{}Failed` or `InvalidRequest`)",
                s.name.value.trim_end_matches("Service")
            )),
        );
    }
}

fn spanned(names: Vec<&Spanned<String>>) -> Vec<(&str, Span)> {
    names
        .into_iter()
        .map(|n| (n.value.as_str(), n.span))
        .collect()
}

/// Reports names that differ as written but become the same generated name.
fn collisions(space: &Namespace, names: Vec<(&str, Span)>, out: &mut Diagnostics) {
    let mut seen: HashMap<String, (&str, Span)> = HashMap::new();
    for (name, span) in names {
        let key = (space.convert)(name);
        match seen.get(&key) {
            Some((first, first_span)) if *first != name => out.push(
                Diagnostic::error(
                    Code::E0105,
                    span,
                    format!(
                        "{} `{name}` and `{first}` are both `{}` {}",
                        space.what,
                        (space.shown)(&key),
                        space.place
                    ),
                )
                .label("collides")
                .secondary(*first_span, "with this name")
                .help("rename one of them so they differ by more than case or underscores"),
            ),
            Some(_) => {}
            None => {
                seen.insert(key, (name, span));
            }
        }
    }
}

/// Operations, transitions, event handlers and jobs all become methods of
/// the service's handler trait: their names must be unique, and must not
/// collide once in snake_case.
fn handler_methods(s: &Service, out: &mut Diagnostics) {
    let mut methods: Vec<(&Spanned<String>, &str)> = Vec::new();
    methods.extend(
        s.routes
            .iter()
            .filter_map(|r| r.operation.as_ref())
            .map(|o| (o, "operation")),
    );
    if let Some(sm) = &s.state {
        methods.extend(sm.transitions.iter().map(|t| (&t.name, "state transition")));
    }
    methods.extend(
        s.subscribes
            .iter()
            .filter_map(|e| e.handler.as_ref())
            .map(|h| (h, "event handler")),
    );
    methods.extend(s.jobs.iter().map(|j| (&j.name, "job")));
    let mut exact: HashMap<&str, (&Spanned<String>, &str)> = HashMap::new();
    let mut snake: HashMap<String, &Spanned<String>> = HashMap::new();
    for (name, kind) in methods {
        if let Some((first, first_kind)) = exact.get(name.value.as_str()) {
            let code = if matches!(kind, "operation" | "state transition") {
                Code::E0301
            } else {
                Code::E0314
            };
            out.push(
                Diagnostic::error(code, name.span, format!("{kind} `{}` has the same name as {}", name.value, if *first_kind == kind { format!("another {kind}") } else { format!("{} {first_kind}", article(first_kind)) }))
                    .label("defined again here")
                    .secondary(first.span, format!("the {first_kind}"))
                    .help(format!("operations, transitions, event handlers and jobs of `{}` share one namespace: rename one", s.name.value)),
            );
            continue;
        }
        exact.insert(&name.value, (name, kind));
        let key = to_snake(&name.value);
        if let Some(first) = snake.get(&key) {
            out.push(
                Diagnostic::error(
                    Code::E0105,
                    name.span,
                    format!(
                        "`{}` and `{}` are both `{key}` in generated Rust",
                        name.value, first.value
                    ),
                )
                .label("collides")
                .secondary(first.span, "with this name")
                .help("rename one of them"),
            );
        } else {
            snake.insert(key, name);
        }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
