//! Lowering of type definitions and fields (MANIFESTS.md section 2).

use super::read;
use crate::ast::{Constraints, Field, Origin, TypeBody, TypeDef};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::load::{Node, NodeKind};
use crate::source::Spanned;

/// Lowers a `types:` mapping into `into`.
pub fn lower_types(
    types: Option<&Node>,
    origin: Origin,
    into: &mut Vec<TypeDef>,
    out: &mut Diagnostics,
) {
    let Some(entries) = types.and_then(Node::as_map) else {
        return;
    };
    for e in entries {
        if !matches!(e.value.kind, NodeKind::Map(_)) {
            continue;
        }
        let def = &e.value;
        into.push(TypeDef {
            name: e.key.clone(),
            description: read::plain(def, "description"),
            body: lower_body(def, out),
            origin: origin.clone(),
            deprecated: read::flag(def, "deprecated"),
        });
    }
}

fn lower_body(def: &Node, out: &mut Diagnostics) -> TypeBody {
    let mut forms: Vec<&crate::load::Entry> = ["fields", "enum", "oneOf"]
        .iter()
        .filter_map(|k| def.entry(k))
        .collect();
    forms.sort_by_key(|e| e.key.span);
    if let [first, second, ..] = forms.as_slice() {
        out.push(
            Diagnostic::error(
                Code::E0212,
                second.key.span,
                format!(
                    "a type has one of `fields`, `enum` or `oneOf`, not both `{}` and `{}`",
                    first.key.value, second.key.value
                ),
            )
            .label("second form")
            .secondary(first.key.span, "first form")
            .help("split it into two types"),
        );
        type_exprs(def, out);
        return TypeBody::Invalid;
    }
    if let Some(ext) = def.entry("extends")
        && (def.get("enum").is_some() || def.get("oneOf").is_some())
    {
        let kind = if def.get("enum").is_some() {
            "an enum"
        } else {
            "a `oneOf` union"
        };
        out.push(
            Diagnostic::error(
                Code::E0211,
                ext.key.span,
                format!("{kind} cannot use `extends`: only object types inherit fields"),
            )
            .label("`extends` on a type that is not an object")
            .secondary(ext.value.span, "the parent type")
            .help("remove `extends`; to share enum values, list them in this type"),
        );
        type_exprs(def, out);
        return TypeBody::Invalid;
    }
    if let Some(values) = def.get("enum") {
        let values = read::strings(Some(values));
        if values.is_empty()
            && let Some(node) = def.get("enum")
        {
            out.push(
                Diagnostic::error(Code::E0210, node.span, "an enum needs at least one value")
                    .label("no values")
                    .help("list the values: `enum: [pending, confirmed]`"),
            );
        }
        return TypeBody::Enum(values);
    }
    if let Some(variants) = def.entry("oneOf") {
        return lower_one_of(def, variants, out);
    }
    TypeBody::Object {
        extends: def.get("extends").and_then(|t| read::type_expr(t, out)),
        fields: lower_fields(def.get("fields"), out),
    }
}

/// Reads the type expressions of a definition whose forms conflict
/// (already reported), for the errors in them: it is not lowered.
fn type_exprs(def: &Node, out: &mut Diagnostics) {
    let fields = def.get("fields").and_then(Node::as_map).unwrap_or(&[]);
    let variants = def.get("oneOf").and_then(Node::as_map).unwrap_or(&[]);
    let nodes = fields
        .iter()
        .filter_map(|e| match &e.value.kind {
            NodeKind::Map(_) => e.value.get("type"),
            _ => Some(&e.value),
        })
        .chain(variants.iter().map(|v| &v.value))
        .chain(def.get("extends"));
    for node in nodes {
        read::type_expr(node, out);
    }
}

fn lower_one_of(def: &Node, variants: &crate::load::Entry, out: &mut Diagnostics) -> TypeBody {
    let discriminator = read::text(def, "discriminator")
        .unwrap_or_else(|| Spanned::new("type".to_string(), variants.key.span));
    let variants = variants
        .value
        .as_map()
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| Some((v.key.clone(), read::type_expr(&v.value, out)?)))
        .collect();
    TypeBody::OneOf {
        variants,
        discriminator,
    }
}

/// Lowers a mapping of fields (`name: TYPE` or `name: { type: TYPE, ... }`).
pub fn lower_fields(fields: Option<&Node>, out: &mut Diagnostics) -> Vec<Field> {
    let Some(entries) = fields.and_then(Node::as_map) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| match &e.value.kind {
            NodeKind::Str(_) => Some(Field {
                name: e.key.clone(),
                ty: read::type_expr(&e.value, out),
                constraints: Constraints::default(),
            }),
            NodeKind::Map(_) => Some(Field {
                name: e.key.clone(),
                ty: e.value.get("type").and_then(|t| read::type_expr(t, out)),
                constraints: lower_constraints(&e.value, out),
            }),
            _ => None,
        })
        .collect()
}

fn lower_constraints(n: &Node, out: &mut Diagnostics) -> Constraints {
    Constraints {
        description: read::plain(n, "description"),
        default: n.get("default").cloned(),
        example: n.get("example").cloned(),
        min: read::number(n, "min"),
        max: read::number(n, "max"),
        exclusive_min: read::number(n, "exclusiveMin"),
        exclusive_max: read::number(n, "exclusiveMax"),
        min_length: read::count(n, "minLength", out),
        max_length: read::count(n, "maxLength", out),
        pattern: n
            .get("pattern")
            .and_then(|p| Some((p.as_str()?.to_string(), p.clone()))),
        min_items: read::count(n, "minItems", out),
        max_items: read::count(n, "maxItems", out),
        read_only: read::flag(n, "readOnly"),
        write_only: read::flag(n, "writeOnly"),
        deprecated: read::flag(n, "deprecated"),
        sensitive: read::flag(n, "sensitive"),
    }
}
