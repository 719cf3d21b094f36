//! Checks of type definitions and fields (MANIFESTS.md section 2).
//!
//! Enum values, `oneOf` variants, `extends` (target, cycles, narrowing),
//! constraints (fit, bounds, defaults and examples, regexes) and cycles of
//! required fields. Unknown names were reported by resolve; here they are
//! skipped silently.

use super::values;
use crate::ast::{Field, Origin, Primitive, TypeBody, TypeDef, TypeExpr, TypeExprKind};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::resolve::Model;
use crate::source::Span;
use std::collections::{HashMap, HashSet};

/// Runs every type check.
pub fn check(model: &Model, out: &mut Diagnostics) {
    for def in model
        .ast
        .types
        .iter()
        .filter(|t| t.origin != Origin::Library)
    {
        check_def(model, def, out);
    }
    for service in &model.ast.services {
        for e in &service.errors {
            check_fields(model, &e.fields, out);
        }
        for r in &service.routes {
            check_fields(model, &r.params, out);
            check_fields(model, &r.query, out);
            check_fields(model, &r.headers, out);
        }
    }
    extends_cycles(model, out);
    required_cycles(model, out);
}

fn check_def(model: &Model, def: &TypeDef, out: &mut Diagnostics) {
    match &def.body {
        TypeBody::Enum(values) => check_enum(def, values, out),
        TypeBody::OneOf {
            variants,
            discriminator,
        } => {
            for (tag, expr) in variants {
                check_variant(model, tag.span, expr, discriminator, out);
            }
        }
        TypeBody::Object { extends, fields } => {
            check_fields(model, fields, out);
            if let Some(parent) = extends {
                check_extends(model, def, parent, fields, out);
            }
        }
        TypeBody::Invalid => {}
    }
}

fn check_enum(def: &TypeDef, values: &[crate::source::Spanned<String>], out: &mut Diagnostics) {
    if values.is_empty() {
        out.push(
            Diagnostic::error(
                Code::E0210,
                def.name.span,
                format!("enum `{}` has no values", def.name.value),
            )
            .label("no values")
            .help("list the values: `enum: [a, b]`"),
        );
    }
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for v in values {
        if let Some(first) = seen.get(v.value.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::E0210,
                    v.span,
                    format!("enum value `{}` is listed twice", v.value),
                )
                .label("listed again")
                .secondary(*first, "first listed here")
                .help("remove the repeated value"),
            );
        } else {
            seen.insert(&v.value, v.span);
        }
    }
}

fn check_inline_enum(values: &[(String, Span)], out: &mut Diagnostics) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (v, span) in values {
        if let Some(first) = seen.get(v.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::E0210,
                    *span,
                    format!("enum value `{v}` is listed twice"),
                )
                .label("listed again")
                .secondary(*first, "first listed here"),
            );
        } else {
            seen.insert(v, *span);
        }
    }
}

fn check_variant(
    model: &Model,
    tag: Span,
    expr: &TypeExpr,
    discriminator: &crate::source::Spanned<String>,
    out: &mut Diagnostics,
) {
    let TypeExprKind::Named { .. } = &expr.kind else {
        out.push(
            Diagnostic::error(
                Code::E0209,
                expr.span,
                format!("`oneOf` variant `{}` is not an object type", expr.display()),
            )
            .label("expected the name of an object type")
            .secondary(tag, "variant")
            .help("define an object type with `fields:` and name it here"),
        );
        return;
    };
    let Some(def) = model.named(expr) else { return };
    if !matches!(def.body, TypeBody::Object { .. }) {
        out.push(
            Diagnostic::error(
                Code::E0209,
                expr.span,
                format!("`oneOf` variant `{}` is not an object type", def.name.value),
            )
            .label("an enum or union, not an object")
            .secondary(def.name.span, "defined here"),
        );
        return;
    }
    if let Some((field, _)) = model
        .all_fields(def)
        .into_iter()
        .find(|(f, _)| f.name.value == discriminator.value)
    {
        out.push(
            Diagnostic::error(
                Code::E0209,
                expr.span,
                format!(
                    "variant `{}` defines the discriminator `{}` itself",
                    def.name.value, discriminator.value
                ),
            )
            .label("this variant")
            .secondary(
                field.name.span,
                "the discriminator property is defined here",
            )
            .help(format!(
                "remove `{}` from `{}`: svcc adds the tag on its own",
                discriminator.value, def.name.value
            )),
        );
    }
}

fn check_extends(
    model: &Model,
    def: &TypeDef,
    parent: &TypeExpr,
    own: &[Field],
    out: &mut Diagnostics,
) {
    if parent.is_optional() || !matches!(parent.kind, TypeExprKind::Named { .. }) {
        out.push(
            Diagnostic::error(
                Code::E0211,
                parent.span,
                format!("`{}` cannot extend `{}`", def.name.value, parent.display()),
            )
            .label("expected the name of an object type"),
        );
        return;
    }
    let Some(pdef) = model.named(parent) else {
        return;
    };
    if !matches!(pdef.body, TypeBody::Object { .. }) {
        out.push(
            Diagnostic::error(
                Code::E0211,
                parent.span,
                format!(
                    "`{}` extends `{}`, which is not an object type",
                    def.name.value, pdef.name.value
                ),
            )
            .label("an enum or union")
            .secondary(pdef.name.span, "defined here"),
        );
        return;
    }
    let inherited = model.all_fields(pdef);
    for f in own {
        let Some((pf, _)) = inherited.iter().find(|(p, _)| p.name.value == f.name.value) else {
            continue;
        };
        let (Some(child), Some(base)) = (&f.ty, &pf.ty) else {
            continue;
        };
        if !narrows(model, child, base) {
            out.push(
                Diagnostic::error(Code::E0207, child.span, format!("field `{}` changes the type it inherits from `{}`", f.name.value, pdef.name.value))
                    .label(format!("`{}` here", child.display()))
                    .secondary(base.span, format!("inherited as `{}`", base.display()))
                    .help("a redeclared field may only narrow: the same type, required instead of optional, fewer enum values, or a more specific format of string"),
            );
        }
    }
}

/// Whether `child` is the same type as `base` or a narrower one.
pub fn narrows(model: &Model, child: &TypeExpr, base: &TypeExpr) -> bool {
    if child.is_optional() && !base.is_optional() {
        return false;
    }
    let (c, b) = (child.required(), base.required());
    match (&c.kind, &b.kind) {
        (TypeExprKind::Primitive(x), TypeExprKind::Primitive(y)) => {
            x == y || primitive_narrows(*x, *y)
        }
        (TypeExprKind::List(x), TypeExprKind::List(y))
        | (TypeExprKind::Set(x), TypeExprKind::Set(y))
        | (TypeExprKind::Map(x), TypeExprKind::Map(y)) => narrows(model, x, y),
        (TypeExprKind::Named { .. }, TypeExprKind::Named { .. }) => {
            match (model.named(c), model.named(b)) {
                (Some(x), Some(y)) => {
                    std::ptr::eq(x, y)
                        || extends_chain_contains(model, x, y)
                        || enum_subset(enum_values(model, c), enum_values(model, b))
                }
                _ => true,
            }
        }
        (TypeExprKind::Enum(_), _)
        | (_, TypeExprKind::Enum(_))
        | (TypeExprKind::Named { .. }, _) => {
            enum_subset(enum_values(model, c), enum_values(model, b))
        }
        (_, TypeExprKind::Primitive(Primitive::Json)) => true,
        _ => false,
    }
}

fn primitive_narrows(child: Primitive, base: Primitive) -> bool {
    use Primitive as P;
    matches!(
        (child, base),
        (
            P::Email | P::Uri | P::Uuid | P::Date | P::Datetime | P::Time | P::Duration | P::Bytes,
            P::String
        ) | (P::Int32, P::Integer | P::Number)
            | (P::Integer, P::Number)
            | (_, P::Json)
    )
}

fn extends_chain_contains(model: &Model, child: &TypeDef, ancestor: &TypeDef) -> bool {
    let mut seen = 0;
    let mut current = child;
    while let TypeBody::Object {
        extends: Some(p), ..
    } = &current.body
    {
        let Some(next) = model.named(p) else {
            return false;
        };
        if std::ptr::eq(next, ancestor) {
            return true;
        }
        seen += 1;
        if seen > 64 {
            return false;
        }
        current = next;
    }
    false
}

/// The values of an enum type expression (inline or named), if it is one.
pub fn enum_values<'m>(model: &'m Model, expr: &'m TypeExpr) -> Option<Vec<&'m str>> {
    match &expr.required().kind {
        TypeExprKind::Enum(values) => Some(values.iter().map(|(v, _)| v.as_str()).collect()),
        TypeExprKind::Named { .. } => match &model.named(expr)?.body {
            TypeBody::Enum(values) => Some(values.iter().map(|v| v.value.as_str()).collect()),
            _ => None,
        },
        _ => None,
    }
}

fn enum_subset(child: Option<Vec<&str>>, base: Option<Vec<&str>>) -> bool {
    match (child, base) {
        (Some(c), Some(b)) => c.iter().all(|v| b.contains(v)),
        _ => false,
    }
}

/// Checks the constraints of every field in a list.
pub fn check_fields(model: &Model, fields: &[Field], out: &mut Diagnostics) {
    for f in fields {
        let Some(ty) = &f.ty else { continue };
        if let TypeExprKind::Enum(values) = &ty.required().kind {
            check_inline_enum(values, out);
        }
        check_constraints(model, f, ty, out);
    }
}

/// What a type is, for deciding which constraints fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Number,
    Text,
    Collection,
    Other,
    Unknown,
}

fn shape(model: &Model, ty: &TypeExpr) -> Shape {
    match &ty.required().kind {
        TypeExprKind::Primitive(p) if p.is_numeric() => Shape::Number,
        TypeExprKind::Primitive(p) if p.is_stringy() => Shape::Text,
        TypeExprKind::Primitive(_) | TypeExprKind::Map(_) | TypeExprKind::Enum(_) => Shape::Other,
        TypeExprKind::List(_) | TypeExprKind::Set(_) => Shape::Collection,
        TypeExprKind::Optional(_) => Shape::Other,
        TypeExprKind::Named { .. } => match model.named(ty) {
            Some(_) => Shape::Other,
            None => Shape::Unknown,
        },
    }
}

fn misfit(name: &str, span: Span, ty: &TypeExpr, applies_to: &str) -> Diagnostic {
    Diagnostic::error(
        Code::E0202,
        span,
        format!("`{name}` does not apply to `{}`", ty.display()),
    )
    .label(format!("`{name}` applies to {applies_to}"))
    .secondary(ty.span, "the field's type")
    .help(format!("remove `{name}`, or change the type"))
}

fn check_constraints(model: &Model, f: &Field, ty: &TypeExpr, out: &mut Diagnostics) {
    let c = &f.constraints;
    let shape = shape(model, ty);
    if shape == Shape::Unknown {
        return;
    }
    let numeric = [
        ("min", &c.min),
        ("max", &c.max),
        ("exclusiveMin", &c.exclusive_min),
        ("exclusiveMax", &c.exclusive_max),
    ];
    for (name, v) in numeric {
        if let Some(v) = v
            && shape != Shape::Number
        {
            out.push(misfit(
                name,
                v.span,
                ty,
                "numbers (integer, int32, number, decimal)",
            ));
        }
    }
    for (name, v) in [("minLength", &c.min_length), ("maxLength", &c.max_length)] {
        if let Some(v) = v
            && shape != Shape::Text
        {
            out.push(misfit(name, v.span, ty, "strings"));
        }
    }
    if let Some((_, node)) = &c.pattern
        && shape != Shape::Text
    {
        out.push(misfit("pattern", node.span, ty, "strings"));
    }
    for (name, v) in [("minItems", &c.min_items), ("maxItems", &c.max_items)] {
        if let Some(v) = v
            && shape != Shape::Collection
        {
            out.push(misfit(name, v.span, ty, "lists and sets"));
        }
    }
    check_bounds(f, out);
    if let Some((pattern, node)) = &c.pattern {
        check_pattern(pattern, node, out);
    }
    for (what, node) in [("default", &c.default), ("example", &c.example)] {
        if let Some(node) = node
            && let Err(problem) = values::fits(model, ty, c, node)
        {
            out.push(
                Diagnostic::error(
                    Code::E0204,
                    problem.span,
                    format!(
                        "`{what}` of `{}` does not satisfy the field's own rules: {}",
                        f.name.value, problem.message
                    ),
                )
                .label(problem.message.clone())
                .secondary(f.name.span, "the field"),
            );
        }
    }
    if c.read_only && c.write_only {
        out.push(
            Diagnostic::error(
                Code::E0203,
                f.name.span,
                format!(
                    "field `{}` is both `readOnly` and `writeOnly`",
                    f.name.value
                ),
            )
            .label("it would never appear in a request or a response")
            .help("keep one of them"),
        );
    }
}

fn check_bounds(f: &Field, out: &mut Diagnostics) {
    let c = &f.constraints;
    let pairs = [
        (
            "min",
            c.min.as_ref().map(|v| (v.value, v.span)),
            "max",
            c.max.as_ref().map(|v| (v.value, v.span)),
            false,
        ),
        (
            "exclusiveMin",
            c.exclusive_min.as_ref().map(|v| (v.value, v.span)),
            "exclusiveMax",
            c.exclusive_max.as_ref().map(|v| (v.value, v.span)),
            true,
        ),
        (
            "min",
            c.min.as_ref().map(|v| (v.value, v.span)),
            "exclusiveMax",
            c.exclusive_max.as_ref().map(|v| (v.value, v.span)),
            true,
        ),
        (
            "exclusiveMin",
            c.exclusive_min.as_ref().map(|v| (v.value, v.span)),
            "max",
            c.max.as_ref().map(|v| (v.value, v.span)),
            true,
        ),
        (
            "minLength",
            c.min_length.as_ref().map(|v| (v.value as f64, v.span)),
            "maxLength",
            c.max_length.as_ref().map(|v| (v.value as f64, v.span)),
            false,
        ),
        (
            "minItems",
            c.min_items.as_ref().map(|v| (v.value as f64, v.span)),
            "maxItems",
            c.max_items.as_ref().map(|v| (v.value as f64, v.span)),
            false,
        ),
    ];
    for (lo_name, lo, hi_name, hi, strict) in pairs {
        let (Some((lo, lo_span)), Some((hi, hi_span))) = (lo, hi) else {
            continue;
        };
        let empty = if strict { lo >= hi } else { lo > hi };
        if empty {
            out.push(
                Diagnostic::error(
                    Code::E0203,
                    lo_span,
                    format!(
                        "`{lo_name}` ({lo}) leaves no room below `{hi_name}` ({hi}) in field `{}`",
                        f.name.value
                    ),
                )
                .label(format!("`{lo_name}` is {lo}"))
                .secondary(hi_span, format!("`{hi_name}` is {hi}"))
                .help("no value can satisfy both: swap them or fix one"),
            );
        }
    }
}

fn check_pattern(pattern: &str, node: &crate::load::Node, out: &mut Diagnostics) {
    let parsed = regex_syntax::ast::parse::Parser::new().parse(pattern);
    if let Err(err) = parsed {
        let span = err.span();
        out.push(
            Diagnostic::error(Code::E0205, node.sub_span(span.start.offset..span.end.offset.max(span.start.offset + 1)), format!("`pattern` is not a valid regular expression: {}", err.kind()))
                .label(err.kind().to_string())
                .help("svcc uses the Rust `regex` syntax (no look-around or back-references); in YAML, prefer single quotes so backslashes stay as written"),
        );
        return;
    }
    if let Err(err) = regex::Regex::new(pattern) {
        out.push(
            Diagnostic::error(
                Code::E0205,
                node.span,
                "`pattern` is not a valid regular expression",
            )
            .label(
                err.to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .to_string(),
            ),
        );
    }
}

/// Reports each cycle of `extends` once.
fn extends_cycles(model: &Model, out: &mut Diagnostics) {
    let mut reported: HashSet<String> = HashSet::new();
    for def in model
        .ast
        .types
        .iter()
        .filter(|t| t.origin != Origin::Library)
    {
        let mut chain: Vec<&TypeDef> = vec![def];
        let mut current = def;
        while let TypeBody::Object {
            extends: Some(p), ..
        } = &current.body
        {
            let Some(next) = model.named(p) else { break };
            if let Some(pos) = chain.iter().position(|c| std::ptr::eq(*c, next)) {
                let cycle = &chain[pos..];
                let mut names: Vec<&str> = cycle.iter().map(|t| t.name.value.as_str()).collect();
                let key = {
                    let mut k = names.clone();
                    k.sort_unstable();
                    k.join(",")
                };
                if reported.insert(key) {
                    names.push(cycle[0].name.value.as_str());
                    let head = cycle[0];
                    let mut d = Diagnostic::error(
                        Code::E0206,
                        extends_span(head),
                        format!("`extends` forms a cycle: {}", names.join(" -> ")),
                    )
                    .label("extends here")
                    .help("a type cannot inherit from itself; remove one `extends`");
                    for t in &cycle[1..] {
                        d = d
                            .secondary(extends_span(t), format!("`{}` extends here", t.name.value));
                    }
                    out.push(d);
                }
                break;
            }
            chain.push(next);
            current = next;
        }
    }
}

fn extends_span(t: &TypeDef) -> Span {
    match &t.body {
        TypeBody::Object {
            extends: Some(p), ..
        } => p.span,
        _ => t.name.span,
    }
}

/// Reports cycles of required fields (no value could ever be built).
fn required_cycles(model: &Model, out: &mut Diagnostics) {
    let project: Vec<&TypeDef> = model
        .ast
        .types
        .iter()
        .filter(|t| t.origin != Origin::Library)
        .collect();
    let mut reported: HashSet<String> = HashSet::new();
    for start in &project {
        let mut path: Vec<(&TypeDef, &Field)> = Vec::new();
        find_required_cycle(
            model,
            start,
            start,
            &mut path,
            &mut HashSet::new(),
            &mut |cycle| {
                let mut key: Vec<&str> = cycle.iter().map(|(t, _)| t.name.value.as_str()).collect();
                key.sort_unstable();
                if !reported.insert(key.join(",")) {
                    return;
                }
                let names: Vec<String> = cycle
                    .iter()
                    .map(|(t, f)| format!("{}.{}", t.name.value, f.name.value))
                    .collect();
                let (_, first) = cycle[0];
                let mut d = Diagnostic::error(Code::E0208, first.name.span, format!("required fields form a cycle: {}", names.join(" -> ")))
                .label("required field in the cycle")
                .help("no value of these types could ever be built: make one of the fields optional (`T?`) or a list");
                for (_, f) in &cycle[1..] {
                    d = d.secondary(f.name.span, "also in the cycle");
                }
                out.push(d);
            },
        );
    }
}

/// A path of required fields, each with the type that holds it.
type FieldPath<'m> = [(&'m TypeDef, &'m Field)];

fn find_required_cycle<'m>(
    model: &'m Model,
    start: &'m TypeDef,
    current: &'m TypeDef,
    path: &mut Vec<(&'m TypeDef, &'m Field)>,
    visited: &mut HashSet<*const TypeDef>,
    report: &mut dyn FnMut(&FieldPath<'m>),
) {
    if !visited.insert(current as *const TypeDef) || path.len() > 64 {
        return;
    }
    for (field, _) in model.all_fields(current) {
        let Some(ty) = &field.ty else { continue };
        if !field.is_required() || !matches!(ty.kind, TypeExprKind::Named { .. }) {
            continue;
        }
        let Some(next) = model.named(ty) else {
            continue;
        };
        if !matches!(next.body, TypeBody::Object { .. }) {
            continue;
        }
        path.push((current, field));
        if std::ptr::eq(next, start) {
            report(path);
        } else {
            find_required_cycle(model, start, next, path, visited, report);
        }
        path.pop();
    }
}
