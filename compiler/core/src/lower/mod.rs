//! Stage 2, lower: document trees to the typed [`crate::ast`].
//!
//! Each document is first validated against its block in [`shape`] (unknown
//! and missing fields, value types, identifiers), then lowered. Lowering
//! parses the mini-language strings (types, routes, rates, durations,
//! references, schedules, `when` conditions, saga paths), once each, into
//! the typed values of the AST, and reports their errors at the character
//! inside the string; everything else it reads quietly, since the shape
//! check already spoke. Nothing after this stage parses a string again.

mod deployment;
mod pricing;
mod read;
mod saga;
mod service;
pub mod shape;
mod types;
pub mod validate;

use crate::ast::{Ast, Origin};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::load::{Document, NodeKind};
use crate::source::Spanned;

/// Lowers every document into one [`Ast`]. `library` marks documents of the
/// built-in schema library.
pub fn lower(documents: &[(Document, bool)], out: &mut Diagnostics) -> Ast {
    // documents lower independently: split them over the cores, then join
    // the pieces in document order
    let parts = crate::parallel::map_chunks(documents, |chunk| {
        let mut ast = Ast::default();
        let mut diagnostics = Diagnostics::new();
        let mut schedules = service::Schedules::new();
        for (doc, library) in chunk {
            lower_document(doc, *library, &mut ast, &mut schedules, &mut diagnostics);
        }
        (ast, diagnostics)
    });
    let mut ast = Ast::default();
    for (part, diagnostics) in parts {
        ast.types.extend(part.types);
        ast.services.extend(part.services);
        ast.sagas.extend(part.sagas);
        ast.pricing.extend(part.pricing);
        ast.deployments.extend(part.deployments);
        ast.type_documents.extend(part.type_documents);
        out.extend(diagnostics);
    }
    ast
}

fn lower_document(
    doc: &Document,
    library: bool,
    ast: &mut Ast,
    schedules: &mut service::Schedules,
    out: &mut Diagnostics,
) {
    let root = &doc.root;
    let Some(kind_node) = root.get("kind") else {
        if matches!(root.kind, NodeKind::Map(_)) {
            let d = Diagnostic::error(Code::E0101, first_key_span(doc), "document has no `kind`")
                .label("expected `kind:` in this document")
                .help(format!(
                    "start the document with `kind:` (one of {})",
                    shape::KINDS.join(", ")
                ));
            out.push(d);
        } else if !matches!(root.kind, NodeKind::Null) {
            out.push(
                Diagnostic::error(
                    Code::E0102,
                    root.span,
                    format!("expected a document (a mapping), found {}", root.describe()),
                )
                .label("not a mapping")
                .help("a document is a mapping that starts with `kind:` and `name:`"),
            );
        }
        return;
    };
    let Some(kind) = kind_node.as_str() else {
        validate::check(
            kind_node,
            &shape::Value::OneOf(&shape::KINDS),
            kind_node.span,
            out,
        );
        return;
    };
    let Some(block) = shape::document(kind) else {
        let d = Diagnostic::error(
            Code::E0006,
            kind_node.span,
            format!("unknown kind `{kind}`"),
        )
        .label(format!("expected one of {}", shape::KINDS.join(", ")));
        out.push(d.maybe_help(suggest::did_you_mean(kind, shape::KINDS)));
        return;
    };
    let owner = root.entry("kind").map_or(root.span, |e| e.key.span);
    validate::check_block(root, block, owner, out);
    // A document without a name (reported) is not part of the project, but
    // it is lowered all the same, so that the errors in its strings are too.
    let mut unnamed = Ast::default();
    let (name, ast) = match read::text(root, "name") {
        Some(name) => (name, ast),
        None => (Spanned::new(String::new(), owner), &mut unnamed),
    };
    match kind {
        "Types" => {
            ast.type_documents.push(name);
            let origin = if library {
                Origin::Library
            } else {
                Origin::Types
            };
            types::lower_types(root.get("types"), origin, &mut ast.types, out);
        }
        "Service" => {
            types::lower_types(
                root.get("types"),
                Origin::Service(name.value.clone()),
                &mut ast.types,
                out,
            );
            let service = service::lower_service(root, name, schedules, out);
            ast.services.push(service);
        }
        "Saga" => ast.sagas.push(saga::lower_saga(root, name, out)),
        "Pricing" => ast.pricing.push(pricing::lower_pricing(root, name, out)),
        _ => ast
            .deployments
            .push(deployment::lower_deployment(root, name, out)),
    }
}

fn first_key_span(doc: &Document) -> crate::source::Span {
    doc.root
        .as_map()
        .and_then(|e| e.first())
        .map_or(doc.root.span, |e| e.key.span)
}
