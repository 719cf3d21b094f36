//! Stage 3, resolve: symbol tables that connect names to definitions.
//!
//! Builds the tables of types (project types shadow library ones; the
//! `schema:` prefix always means the library), services and operations,
//! reports duplicate names (E0104) and unknown types (E0200, once per name,
//! however often it is used: no cascades), and works out the facts that
//! checks and emitters share (`shared.rs`: event publishers, saga
//! coordinators, pricing, owner fields). The result, [`Model`], is what
//! every check and every emitter reads.

mod facts;
mod shared;
mod walk;

pub use facts::Components;
pub use shared::{OWNER_FIELDS, Publisher};
pub use walk::{Owner, TypeUse, type_uses};

use crate::ast::{Ast, Field, Origin, TypeBody, TypeDef, TypeExpr, TypeExprKind};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::source::Spanned;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The resolved project.
#[derive(Debug, Default)]
pub struct Model {
    /// The lowered documents.
    pub ast: Ast,
    /// Project types by name (first definition wins).
    project_types: HashMap<String, usize>,
    /// Library types by name.
    library_types: HashMap<String, usize>,
    /// Services by name (first definition wins).
    services: HashMap<String, usize>,
    /// Part of the project failed to load: names may be defined there.
    pub incomplete: bool,
    /// Type names used but never defined (reported once each as E0200).
    pub unknown_types: Vec<String>,
    /// Facts about the graph of types, computed on first use.
    facts: std::sync::OnceLock<facts::TypeFacts>,
    /// Publishers of events and coordinators of sagas ([`shared`]).
    shared: shared::Shared,
}

impl Model {
    /// The type a name refers to: a project type first, then the library.
    pub fn type_named(&self, name: &str, library_only: bool) -> Option<&TypeDef> {
        self.type_index(name, library_only)
            .and_then(|i| self.ast.types.get(i))
    }

    /// Index into `ast.types` of the type a name refers to.
    pub fn type_index(&self, name: &str, library_only: bool) -> Option<usize> {
        let index = if library_only {
            self.library_types.get(name)
        } else {
            self.project_types
                .get(name)
                .or_else(|| self.library_types.get(name))
        };
        index.copied()
    }

    /// The named type an expression refers to (through `?` only).
    pub fn named(&self, expr: &TypeExpr) -> Option<&TypeDef> {
        match &expr.required().kind {
            TypeExprKind::Named { name, library } => self.type_named(name, *library),
            _ => None,
        }
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&crate::ast::Service> {
        self.services
            .get(name)
            .and_then(|&i| self.ast.services.get(i))
    }

    /// Every service name, for did-you-mean.
    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.ast.services.iter().map(|s| s.name.value.as_str())
    }

    /// Every type name in scope (project and library), for did-you-mean.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.ast.types.iter().map(|t| t.name.value.as_str())
    }

    /// All fields of an object type, inherited ones first, each with the
    /// type that declares it. Stops at cycles (reported elsewhere).
    ///
    /// Linear in the length of the chain and the number of fields: a
    /// redeclared field replaces the inherited one through a map of names,
    /// not a search of the list.
    pub fn all_fields<'m>(&'m self, def: &'m TypeDef) -> Vec<(&'m Field, &'m TypeDef)> {
        let declared: Vec<(&Field, &TypeDef)> = self
            .extends_chain(def)
            .into_iter()
            .rev()
            .filter_map(|owner| match &owner.body {
                TypeBody::Object { fields: own, .. } => Some(own.iter().map(move |f| (f, owner))),
                _ => None,
            })
            .flatten()
            .collect();
        let name = |i: usize| declared[i].0.name.value.as_str();
        // each name at the position of its last declaration
        if declared.len() <= 8 {
            return (0..declared.len())
                .filter(|&i| (i + 1..declared.len()).all(|j| name(j) != name(i)))
                .map(|i| declared[i])
                .collect();
        }
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(declared.len());
        for i in 0..declared.len() {
            last.insert(name(i), i);
        }
        (0..declared.len())
            .filter(|&i| last.get(name(i)) == Some(&i))
            .map(|i| declared[i])
            .collect()
    }

    /// A type and its ancestors through `extends`, the type first. Stops
    /// before a type already in the chain (a cycle, reported elsewhere) and
    /// at a parent that is not a known type.
    pub fn extends_chain<'m>(&'m self, def: &'m TypeDef) -> Vec<&'m TypeDef> {
        let mut chain: Vec<&TypeDef> = vec![def];
        // empty (no allocation) for the many types without a parent
        let mut seen: HashSet<*const TypeDef> = HashSet::new();
        let mut current = def;
        while let TypeBody::Object {
            extends: Some(parent),
            ..
        } = &current.body
        {
            let Some(p) = self.named(parent) else { break };
            if seen.is_empty() {
                seen.insert(def);
            }
            if !seen.insert(p) {
                break;
            }
            chain.push(p);
            current = p;
        }
        chain
    }
}

/// Builds the [`Model`], reporting duplicates and unknown types.
pub fn resolve(ast: Ast, incomplete: bool, out: &mut Diagnostics) -> Model {
    let mut model = Model {
        incomplete,
        ..Model::default()
    };
    index_types(&ast, &mut model, out);
    index_services(&ast, &mut model, out);
    index_documents(&ast, out);
    model.shared = shared::Shared::of(&ast);
    model.ast = ast;
    if !model.incomplete {
        model.unknown_types = report_unknown_types(&model, out);
    }
    model
}

fn duplicate(what: &str, again: &Spanned<String>, first: &Spanned<String>) -> Diagnostic {
    Diagnostic::error(
        Code::E0104,
        again.span,
        format!("{what} `{}` is defined more than once", again.value),
    )
    .label("defined again here")
    .secondary(first.span, "first defined here")
    .help(format!(
        "rename one of them; {what} names are global to the project"
    ))
}

fn index_types(ast: &Ast, model: &mut Model, out: &mut Diagnostics) {
    for (i, t) in ast.types.iter().enumerate() {
        let table = if t.origin == Origin::Library {
            &mut model.library_types
        } else {
            &mut model.project_types
        };
        match table.get(&t.name.value) {
            Some(&first) => {
                if let Some(f) = ast.types.get(first) {
                    out.push(duplicate("type", &t.name, &f.name));
                }
            }
            None => {
                table.insert(t.name.value.clone(), i);
            }
        }
    }
}

fn index_services(ast: &Ast, model: &mut Model, out: &mut Diagnostics) {
    for (i, s) in ast.services.iter().enumerate() {
        match model.services.get(&s.name.value) {
            Some(&first) => {
                if let Some(f) = ast.services.get(first) {
                    out.push(duplicate("service", &s.name, &f.name));
                }
            }
            None => {
                model.services.insert(s.name.value.clone(), i);
            }
        }
    }
}

fn index_documents(ast: &Ast, out: &mut Diagnostics) {
    let mut seen: HashMap<&str, &Spanned<String>> = HashMap::new();
    for name in &ast.type_documents {
        match seen.get(name.value.as_str()) {
            Some(first) => out.push(duplicate("`Types` document", name, first)),
            None => {
                seen.insert(&name.value, name);
            }
        }
    }
    let names = ast
        .sagas
        .iter()
        .map(|d| ("Saga", &d.name))
        .chain(ast.pricing.iter().map(|d| ("Pricing", &d.name)))
        .chain(ast.deployments.iter().map(|d| ("Deployment", &d.name)));
    let mut by_kind: HashMap<(&str, &str), &Spanned<String>> = HashMap::new();
    for (kind, name) in names {
        let key = (kind, name.value.as_str());
        match by_kind.get(&key) {
            Some(first) => out.push(duplicate(&format!("`{kind}` document"), name, first)),
            None => {
                by_kind.insert(key, name);
            }
        }
    }
}

/// Reports each unknown type name once, at its first use, noting how many
/// other uses there are.
fn report_unknown_types(model: &Model, out: &mut Diagnostics) -> Vec<String> {
    let mut unknown: BTreeMap<(String, bool), Vec<crate::source::Span>> = BTreeMap::new();
    for TypeUse { expr, .. } in type_uses(&model.ast) {
        visit_named(expr, &mut |name, library, span| {
            if model.type_named(name, library).is_none() {
                unknown
                    .entry((name.to_string(), library))
                    .or_default()
                    .push(span);
            }
        });
    }
    let names = unknown.keys().map(|(n, _)| n.clone()).collect();
    for ((name, library), mut spans) in unknown {
        spans.sort();
        let Some(&first) = spans.first() else {
            continue;
        };
        let shown = if library {
            format!("schema:{name}")
        } else {
            name.clone()
        };
        let mut d = Diagnostic::error(Code::E0200, first, format!("unknown type `{shown}`"))
            .label("not a primitive, a project type or a library type");
        let candidates: Vec<&str> = if library {
            model.library_types.keys().map(String::as_str).collect()
        } else {
            model
                .type_names()
                .chain(
                    crate::syntax::type_expr::Primitive::ALL
                        .iter()
                        .map(|(n, _)| *n),
                )
                .collect()
        };
        let prefix = if library { "schema:" } else { "" };
        d = d.maybe_help(
            suggest::closest(&name, candidates).map(|c| format!("did you mean `{prefix}{c}`?")),
        );
        if spans.len() > 1 {
            d = d.note(format!(
                "`{shown}` is used {} more time(s); each use is covered by this error",
                spans.len() - 1
            ));
        }
        out.push(d);
    }
    names
}

/// Calls `f(name, library, span)` for every named type inside `expr`.
pub fn visit_named(expr: &TypeExpr, f: &mut dyn FnMut(&str, bool, crate::source::Span)) {
    match &expr.kind {
        TypeExprKind::Named { name, library } => f(name, *library, expr.span),
        TypeExprKind::List(t)
        | TypeExprKind::Set(t)
        | TypeExprKind::Map(t)
        | TypeExprKind::Optional(t) => {
            visit_named(t, f);
        }
        TypeExprKind::Primitive(_) | TypeExprKind::Enum(_) => {}
    }
}
