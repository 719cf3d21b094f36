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
use crate::resolve::{Components, Model};
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
    redeclared_fields(model, out);
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
                check_extends(model, def, parent, out);
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

/// The parent of an `extends`, when it is the plain name of an object
/// type: the type whose redeclared fields must narrow.
fn object_parent<'m>(model: &'m Model, parent: &TypeExpr) -> Option<&'m TypeDef> {
    if parent.is_optional() || !matches!(parent.kind, TypeExprKind::Named { .. }) {
        return None;
    }
    model
        .named(parent)
        .filter(|p| matches!(p.body, TypeBody::Object { .. }))
}

fn check_extends(model: &Model, def: &TypeDef, parent: &TypeExpr, out: &mut Diagnostics) {
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
    }
}

/// Reports redeclared fields that do not narrow what they inherit (E0207).
///
/// One walk down the inheritance forest, from the types that extend
/// nothing: a map holds the fields every ancestor of the current type
/// declares (the nearest declaration of each name), its own are added on
/// the way down and taken back on the way up. So each field is looked at
/// once, however long the chains; computing every type's inherited fields
/// instead took time quadratic in a chain's length. Types the walk does not
/// reach (on or below an `extends` cycle, reported on its own) are checked
/// one by one.
fn redeclared_fields(model: &Model, out: &mut Diagnostics) {
    let types = &model.ast.types;
    // the object type each object type inherits its fields from
    let parent_of = |def: &TypeDef| match &def.body {
        TypeBody::Object {
            extends: Some(p), ..
        } => match &p.required().kind {
            TypeExprKind::Named { name, library } => {
                model.type_index(name, *library).filter(|&i| {
                    matches!(types.get(i).map(|t| &t.body), Some(TypeBody::Object { .. }))
                })
            }
            _ => None,
        },
        _ => None,
    };
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); types.len()];
    let mut roots = Vec::new();
    for (i, def) in types.iter().enumerate() {
        if !matches!(def.body, TypeBody::Object { .. }) {
            continue;
        }
        match parent_of(def) {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    enum Step {
        Enter(usize),
        /// Undo the map's changes back to this length of the log.
        Leave(usize),
    }
    let mut inherited: HashMap<&str, &Field> = HashMap::new();
    let mut undo: Vec<(&str, Option<&Field>)> = Vec::new();
    let mut reached = vec![false; types.len()];
    let mut stack: Vec<Step> = roots.into_iter().rev().map(Step::Enter).collect();
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(i) => {
                reached[i] = true;
                let def = &types[i];
                let TypeBody::Object { extends, fields } = &def.body else {
                    continue;
                };
                if def.origin != Origin::Library
                    && let Some(pdef) = extends.as_ref().and_then(|p| object_parent(model, p))
                {
                    narrowing(
                        model,
                        pdef,
                        fields,
                        |name| inherited.get(name).copied(),
                        out,
                    );
                }
                stack.push(Step::Leave(undo.len()));
                for f in fields {
                    let name = f.name.value.as_str();
                    undo.push((name, inherited.insert(name, f)));
                }
                stack.extend(children[i].iter().rev().map(|&c| Step::Enter(c)));
            }
            Step::Leave(mark) => {
                while undo.len() > mark {
                    let Some((name, previous)) = undo.pop() else {
                        break;
                    };
                    match previous {
                        Some(f) => inherited.insert(name, f),
                        None => inherited.remove(name),
                    };
                }
            }
        }
    }
    for (i, def) in types.iter().enumerate() {
        if reached[i] || def.origin == Origin::Library {
            continue;
        }
        let TypeBody::Object {
            extends: Some(parent),
            fields,
        } = &def.body
        else {
            continue;
        };
        let Some(pdef) = object_parent(model, parent) else {
            continue;
        };
        let all: HashMap<&str, &Field> = model
            .all_fields(pdef)
            .into_iter()
            .map(|(f, _)| (f.name.value.as_str(), f))
            .collect();
        narrowing(model, pdef, fields, |name| all.get(name).copied(), out);
    }
}

/// E0207 for each of `own` whose type does not narrow the field of the
/// same name that `inherited` finds (what `pdef` and its ancestors declare).
fn narrowing<'m>(
    model: &Model,
    pdef: &TypeDef,
    own: &'m [Field],
    inherited: impl Fn(&str) -> Option<&'m Field>,
    out: &mut Diagnostics,
) {
    for f in own {
        let Some(pf) = inherited(&f.name.value) else {
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

/// Reports each cycle of `extends` once, at the type where the walk from
/// the first project type that reaches it enters it.
///
/// Each type has at most one parent, so every walk ends at the end of a
/// chain or on one cycle. A walk stops at a type an earlier walk passed
/// (whose cycle, if any, is reported already), so each type is passed once
/// in all: linear in the number of types, where searching each chain for
/// the next type was cubic in a chain's length.
fn extends_cycles(model: &Model, out: &mut Diagnostics) {
    // the walk (by its starting type's position) that passed each type
    let mut walked: HashMap<*const TypeDef, usize> = HashMap::new();
    for (walk, def) in model
        .ast
        .types
        .iter()
        .enumerate()
        .filter(|(_, t)| t.origin != Origin::Library)
    {
        let mut chain: Vec<&TypeDef> = Vec::new();
        let mut current = def;
        loop {
            match walked.get(&(current as *const TypeDef)) {
                Some(&w) if w != walk => break,
                Some(_) => {
                    if let Some(pos) = chain.iter().position(|c| std::ptr::eq(*c, current)) {
                        out.push(extends_cycle(&chain[pos..]));
                    }
                    break;
                }
                None => {}
            }
            walked.insert(current, walk);
            chain.push(current);
            let TypeBody::Object {
                extends: Some(p), ..
            } = &current.body
            else {
                break;
            };
            let Some(next) = model.named(p) else { break };
            current = next;
        }
    }
}

/// E0206 for the cycle `cycle[0] -> cycle[1] -> ... -> cycle[0]`.
fn extends_cycle(cycle: &[&TypeDef]) -> Diagnostic {
    let mut names: Vec<&str> = cycle.iter().map(|t| t.name.value.as_str()).collect();
    names.extend(cycle.first().map(|t| t.name.value.as_str()));
    let head = cycle[0];
    let mut d = Diagnostic::error(
        Code::E0206,
        extends_span(head),
        format!("`extends` forms a cycle: {}", names.join(" -> ")),
    )
    .label("extends here")
    .help("a type cannot inherit from itself; remove one `extends`");
    for t in &cycle[1..] {
        d = d.secondary(extends_span(t), format!("`{}` extends here", t.name.value));
    }
    d
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
///
/// The search for cycles through each type is confined to the types that
/// can reach it and that it can reach (its strongly connected component in
/// a graph of required fields and `extends`, which holds every edge of the
/// real one): a type on no cycle costs nothing, and a valid project, which
/// has none, is checked in linear time. Searching from every type through
/// all it could reach was quadratic in the number of types.
fn required_cycles(model: &Model, out: &mut Diagnostics) {
    let graph = required_graph(model);
    let mut reported: HashSet<String> = HashSet::new();
    for (index, start) in model.ast.types.iter().enumerate() {
        if start.origin == Origin::Library || !graph.on_cycle(index) {
            continue;
        }
        let mut path: Vec<(&TypeDef, &Field)> = Vec::new();
        let mut search = Search {
            model,
            graph: &graph,
            start: (index, start),
            visited: HashSet::new(),
        };
        search.from(start, &mut path, &mut |cycle| {
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
        });
    }
}

/// The type a required field holds directly (a plain name, not `T?` or a
/// list), when it is an object type: its index and definition.
fn required_object<'m>(model: &'m Model, field: &Field) -> Option<(usize, &'m TypeDef)> {
    let ty = field.ty.as_ref()?;
    let TypeExprKind::Named { name, library } = &ty.kind else {
        return None;
    };
    if !field.is_required() {
        return None;
    }
    let index = model.type_index(name, *library)?;
    let def = model.ast.types.get(index)?;
    matches!(def.body, TypeBody::Object { .. }).then_some((index, def))
}

/// Types (by index) and an edge from each to the object types its own
/// required fields hold, and to its parent: every required field it has,
/// inherited or not, is reachable that way.
fn required_graph(model: &Model) -> Components {
    let mut edges = Vec::new();
    for (i, def) in model.ast.types.iter().enumerate() {
        let TypeBody::Object { extends, fields } = &def.body else {
            continue;
        };
        edges.extend(
            fields
                .iter()
                .filter_map(|f| required_object(model, f))
                .map(|(to, _)| (i, to)),
        );
        if let Some(TypeExprKind::Named { name, library }) =
            extends.as_ref().map(|p| &p.required().kind)
            && let Some(parent) = model.type_index(name, *library)
        {
            edges.push((i, parent));
        }
    }
    Components::new(model.ast.types.len(), edges)
}

/// A path of required fields, each with the type that holds it.
type FieldPath<'m> = [(&'m TypeDef, &'m Field)];

/// The depth-first search for cycles of required fields through `start`.
struct Search<'m, 'g> {
    model: &'m Model,
    graph: &'g Components,
    start: (usize, &'m TypeDef),
    visited: HashSet<*const TypeDef>,
}

impl<'m> Search<'m, '_> {
    fn from(
        &mut self,
        current: &'m TypeDef,
        path: &mut Vec<(&'m TypeDef, &'m Field)>,
        report: &mut dyn FnMut(&FieldPath<'m>),
    ) {
        if !self.visited.insert(current as *const TypeDef) || path.len() > 64 {
            return;
        }
        let (start_index, start) = self.start;
        for (field, _) in self.model.all_fields(current) {
            let Some((index, next)) = required_object(self.model, field) else {
                continue;
            };
            // outside the start's component: no way back to it
            if !self.graph.same(start_index, index) {
                continue;
            }
            path.push((current, field));
            if std::ptr::eq(next, start) {
                report(path);
            } else {
                self.from(next, path, report);
            }
            path.pop();
        }
    }
}
