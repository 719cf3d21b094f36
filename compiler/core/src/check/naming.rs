//! Names that must be unique, and names that would collide once turned into
//! Rust identifiers (`getOrder` and `get_order` are both `get_order`).

use crate::ast::{Origin, Service, TypeBody};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::names::{to_pascal, to_snake};
use crate::resolve::Model;
use crate::source::Spanned;
use std::collections::HashMap;

/// Runs the naming checks.
pub fn check(model: &Model, out: &mut Diagnostics) {
    let project_types: Vec<&Spanned<String>> = model
        .ast
        .types
        .iter()
        .filter(|t| t.origin != Origin::Library)
        .map(|t| &t.name)
        .collect();
    collisions("type", project_types, to_pascal, out);
    collisions(
        "service",
        model.ast.services.iter().map(|s| &s.name).collect(),
        to_snake,
        out,
    );
    for t in model
        .ast
        .types
        .iter()
        .filter(|t| t.origin != Origin::Library)
    {
        if let TypeBody::Object { fields, .. } = &t.body {
            collisions(
                "field",
                fields.iter().map(|f| &f.name).collect(),
                to_snake,
                out,
            );
        }
    }
    for s in &model.ast.services {
        handler_methods(s, out);
        collisions(
            "error",
            s.errors.iter().map(|e| &e.name).collect(),
            to_pascal,
            out,
        );
    }
}

/// Reports names that differ as written but become the same identifier.
fn collisions(
    what: &str,
    names: Vec<&Spanned<String>>,
    convert: fn(&str) -> String,
    out: &mut Diagnostics,
) {
    let mut seen: HashMap<String, &Spanned<String>> = HashMap::new();
    for name in names {
        let key = convert(&name.value);
        match seen.get(&key) {
            Some(first) if first.value != name.value => out.push(
                Diagnostic::error(
                    Code::E0105,
                    name.span,
                    format!(
                        "{what} `{}` and `{}` are both `{key}` in generated Rust",
                        name.value, first.value
                    ),
                )
                .label("collides")
                .secondary(first.span, "with this name")
                .help("rename one of them so they differ by more than case or underscores"),
            ),
            Some(_) => {}
            None => {
                seen.insert(key, name);
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
