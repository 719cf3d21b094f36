//! Checks of type definitions and fields (MANIFESTS.md section 2).
//!
//! Enum values, `oneOf` variants, `extends` (target, cycles, narrowing),
//! constraints (fit, bounds, defaults and examples, regexes) and cycles of
//! required fields. Unknown names were reported by resolve; here they are
//! skipped silently.

use super::bounds::{Side, unholdable_bound};
use super::values;
use crate::ast::{Field, Number, Origin, Primitive, TypeBody, TypeDef, TypeExpr, TypeExprKind};
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
        TypeBody::Enum(values) => {
            repeated_values(values.iter().map(|v| (v.value.as_str(), v.span)), out)
        }
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

/// Reports values listed twice, in named and inline enums alike.
fn repeated_values<'a>(values: impl Iterator<Item = (&'a str, Span)>, out: &mut Diagnostics) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (v, span) in values {
        if let Some(first) = seen.get(v) {
            out.push(
                Diagnostic::error(
                    Code::E0210,
                    span,
                    format!("enum value `{v}` is listed twice"),
                )
                .label("listed again")
                .secondary(*first, "first listed here")
                .help("remove the repeated value"),
            );
        } else {
            seen.insert(v, span);
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
            .secondary(def.name.span, "defined here")
            .help("each variant of a `oneOf` is an object type; wrap the value in an object with a field"),
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
            .label("expected the name of an object type")
            .help("`extends` takes the plain name of an object type, like `extends: schema:Order`"),
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
            .secondary(pdef.name.span, "defined here")
            .help("only object types can be extended; name an object type, or copy the values"),
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
            repeated_values(values.iter().map(|(v, s)| (v.as_str(), *s)), out);
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
    .help(match counterpart(name, ty) {
        Some(other) => format!("for `{}`, use `{other}`", ty.display()),
        None => format!("remove `{name}`, or change the type"),
    })
}

/// The constraint that means the same for the field's kind of type.
fn counterpart(name: &str, ty: &TypeExpr) -> Option<&'static str> {
    let text = matches!(&ty.required().kind, TypeExprKind::Primitive(p) if p.is_stringy());
    let collection = matches!(
        &ty.required().kind,
        TypeExprKind::List(_) | TypeExprKind::Set(_)
    );
    match name {
        "min" | "exclusiveMin" | "minItems" if text => Some("minLength"),
        "max" | "exclusiveMax" | "maxItems" if text => Some("maxLength"),
        "min" | "exclusiveMin" | "minLength" if collection => Some("minItems"),
        "max" | "exclusiveMax" | "maxLength" if collection => Some("maxItems"),
        _ => None,
    }
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
                .secondary(f.name.span, "the field")
                .help(format!(
                    "change the `{what}` so it fits `{}` and its constraints",
                    ty.display()
                )),
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

type Bound = Option<(f64, Span)>;

/// A bound for the range checks, when it is a number at all (E0213 says
/// why the others are not).
fn bound(v: &Option<crate::source::Spanned<Number>>, valid: bool) -> Bound {
    v.as_ref()
        .filter(|_| valid)
        .map(|v| (v.value.as_f64(), v.span))
}

fn check_bounds(f: &Field, out: &mut Diagnostics) {
    let c = &f.constraints;
    let primitive = f.ty.as_ref().and_then(|t| match t.required().kind {
        TypeExprKind::Primitive(p) if p.is_numeric() => Some(p),
        _ => None,
    });
    let integral = matches!(primitive, Some(Primitive::Integer | Primitive::Int32));
    // (name, value, exclusive, upper)
    let numbers = [
        ("min", &c.min, false, false),
        ("max", &c.max, false, true),
        ("exclusiveMin", &c.exclusive_min, true, false),
        ("exclusiveMax", &c.exclusive_max, true, true),
    ];
    let mut valid = [true; 4];
    for (i, (name, v, exclusive, upper)) in numbers.into_iter().enumerate() {
        let (Some(v), Some(p)) = (v, primitive) else {
            continue;
        };
        let side = Side {
            name,
            exclusive,
            upper,
        };
        if let Some(d) = unholdable_bound(f, side, v, p) {
            out.push(d);
            valid[i] = false;
        }
    }
    let [min, max, emin, emax] = valid;
    let lengths =
        |v: &Option<crate::source::Spanned<u64>>| v.as_ref().map(|v| (v.value as f64, v.span));
    // (lower name, lower, exclusive?, upper name, upper, exclusive?, whole numbers?)
    let pairs: [(&str, Bound, bool, &str, Bound, bool, bool); 6] = [
        (
            "min",
            bound(&c.min, min),
            false,
            "max",
            bound(&c.max, max),
            false,
            integral,
        ),
        (
            "exclusiveMin",
            bound(&c.exclusive_min, emin),
            true,
            "exclusiveMax",
            bound(&c.exclusive_max, emax),
            true,
            integral,
        ),
        (
            "min",
            bound(&c.min, min),
            false,
            "exclusiveMax",
            bound(&c.exclusive_max, emax),
            true,
            integral,
        ),
        (
            "exclusiveMin",
            bound(&c.exclusive_min, emin),
            true,
            "max",
            bound(&c.max, max),
            false,
            integral,
        ),
        (
            "minLength",
            lengths(&c.min_length),
            false,
            "maxLength",
            lengths(&c.max_length),
            false,
            true,
        ),
        (
            "minItems",
            lengths(&c.min_items),
            false,
            "maxItems",
            lengths(&c.max_items),
            false,
            true,
        ),
    ];
    for (lo_name, lo, lo_excl, hi_name, hi, hi_excl, whole) in pairs {
        let (Some((lo, lo_span)), Some((hi, hi_span))) = (lo, hi) else {
            continue;
        };
        if !bounds_leave_room(lo, lo_excl, hi, hi_excl, whole) {
            let what = if whole { "no whole number" } else { "no value" };
            out.push(
                Diagnostic::error(
                    Code::E0203,
                    lo_span,
                    format!(
                        "`{lo_name}` ({lo}) and `{hi_name}` ({hi}) leave no room in field `{}`",
                        f.name.value
                    ),
                )
                .label(format!("`{lo_name}` is {lo}"))
                .secondary(hi_span, format!("`{hi_name}` is {hi}"))
                .help(format!(
                    "{what} satisfies both: swap them or widen the range"
                )),
            );
        }
    }
}

/// Whether any value (any whole number when `whole`) lies between the bounds.
fn bounds_leave_room(lo: f64, lo_excl: bool, hi: f64, hi_excl: bool, whole: bool) -> bool {
    if !whole {
        return if lo_excl || hi_excl {
            lo < hi
        } else {
            lo <= hi
        };
    }
    let lowest = if lo_excl { lo.floor() + 1.0 } else { lo.ceil() };
    let highest = if hi_excl { hi.ceil() - 1.0 } else { hi.floor() };
    lowest <= highest
}

fn check_pattern(pattern: &str, node: &crate::load::Node, out: &mut Diagnostics) {
    // the full parser (syntax tree, then translation) gives a span for both
    // kinds of error: bad syntax and things like an unknown Unicode class
    let (span, kind) = match regex_syntax::Parser::new().parse(pattern) {
        Ok(_) => return,
        Err(regex_syntax::Error::Parse(e)) => (*e.span(), e.kind().to_string()),
        Err(regex_syntax::Error::Translate(e)) => (*e.span(), e.kind().to_string()),
        Err(other) => (
            regex_syntax::ast::Span::splat(regex_syntax::ast::Position::new(0, 1, 1)),
            other.to_string(),
        ),
    };
    let range = span.start.offset..span.end.offset.max(span.start.offset + 1);
    out.push(
        Diagnostic::error(Code::E0205, node.sub_span(range), format!("`pattern` is not a valid regular expression: {kind}"))
            .label(kind)
            .help("svcc uses the Rust `regex` syntax (no look-around or back-references); in YAML, prefer single quotes so backslashes stay as written"),
    );
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
