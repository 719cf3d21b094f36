//! The generic shape validator: one walk of a document against [`super::shape`].
//!
//! Reports unknown fields (E0100, with a did-you-mean over the keys of that
//! very block), missing required fields (E0101), wrong value types (E0102),
//! identifiers that break the naming rules (E0103) and values outside a
//! fixed set (E0106). Typed lowering runs after it and can then read values
//! quietly: anything malformed was already reported here, once. Strings in
//! a mini-language are only checked to be strings here: lowering parses
//! them, once, and reports their syntax errors.

use super::shape::{Block, Ident, Value};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::load::{Node, NodeKind};
use crate::names::{to_camel, to_kebab, to_pascal, words};
use crate::source::Span;

/// Validates `node` against `value`; `owner` is the key that holds it.
pub fn check(node: &Node, value: &Value, owner: Span, out: &mut Diagnostics) {
    match value {
        Value::Any => {}
        Value::String => {
            expect_string(node, value, out);
        }
        Value::Duration
        | Value::Rate
        | Value::Type
        | Value::Event
        | Value::Operation
        | Value::RouteKey => {
            expect_string(node, value, out);
        }
        Value::Version => match &node.kind {
            NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::Float(..) => {}
            _ => out.push(wrong_type(node, "a version like `1.2.0`")),
        },
        Value::Name(rule) => {
            if expect_string(node, value, out)
                && let Some(text) = node.as_str()
            {
                check_name(text, *rule, node.span, out);
            }
        }
        Value::Integer => {
            if !matches!(node.kind, NodeKind::Int(_)) {
                let d = wrong_type(node, "a whole number");
                let quoted = node.as_str().is_some_and(|s| s.parse::<i64>().is_ok());
                out.push(if quoted {
                    d.help("remove the quotes: this is a number, not a string")
                } else {
                    d
                });
            }
        }
        Value::Number => {
            if !matches!(node.kind, NodeKind::Int(_) | NodeKind::Float(..)) {
                out.push(wrong_type(node, "a number"));
            }
        }
        Value::Boolean => {
            if !matches!(node.kind, NodeKind::Bool(_)) {
                let d = wrong_type(node, "`true` or `false`");
                let d = match node.as_str() {
                    Some("yes" | "on" | "y") => {
                        d.help("YAML 1.2 reads `yes`/`on` as strings: write `true`")
                    }
                    Some("no" | "off" | "n") => {
                        d.help("YAML 1.2 reads `no`/`off` as strings: write `false`")
                    }
                    _ => d,
                };
                out.push(d);
            }
        }
        Value::OneOf(allowed) => check_one_of(node, allowed, out),
        Value::List(item) => match &node.kind {
            NodeKind::Seq(items) => items.iter().for_each(|i| check(i, item, i.span, out)),
            NodeKind::Null => {}
            _ => out.push(wrong_type(node, "a list")),
        },
        Value::Map { key, value } => match &node.kind {
            NodeKind::Map(entries) => {
                for e in entries {
                    if let Value::Name(rule) = key {
                        check_name(&e.key.value, *rule, e.key.span, out);
                    }
                    check(&e.value, value, e.key.span, out);
                }
            }
            NodeKind::Null => {}
            _ => out.push(wrong_type(node, "a mapping")),
        },
        Value::Block(block) => check_block(node, block, owner, out),
        Value::Either(short, long) => {
            if fits(node, short) {
                check(node, short, owner, out);
            } else if fits(node, long) {
                check(node, long, owner, out);
            } else {
                let expected = format!("{} or {}", describe(short), describe(long));
                out.push(wrong_type(node, &expected));
            }
        }
    }
}

/// Validates a block: unknown keys, missing keys, then each value.
pub fn check_block(node: &Node, block: &Block, owner: Span, out: &mut Diagnostics) {
    let Some(entries) = node.as_map() else {
        if !matches!(node.kind, NodeKind::Null) || block.fields.iter().any(|f| f.required) {
            out.push(wrong_type(node, "a mapping"));
        }
        return;
    };
    // a misspelt required key is one mistake: report the unknown key with
    // its did-you-mean, not also the missing field
    let mut misspelt: Vec<&str> = Vec::new();
    for e in entries {
        match block.field(&e.key.value) {
            Some(field) => {
                if !matches!(e.value.kind, NodeKind::Null) || field.required {
                    check(&e.value, &field.value, e.key.span, out);
                }
            }
            None => {
                if let Some(meant) = suggest::closest(&e.key.value, block.keys()) {
                    misspelt.push(meant);
                }
                out.push(unknown_field(&e.key.value, e.key.span, block));
            }
        }
    }
    for field in block.fields.iter().filter(|f| f.required) {
        let present = entries
            .iter()
            .any(|e| e.key.value == field.key && !matches!(e.value.kind, NodeKind::Null));
        if !present && !misspelt.contains(&field.key) {
            out.push(
                Diagnostic::error(
                    Code::E0101,
                    owner,
                    format!("missing field `{}` in {}", field.key, article(block.name)),
                )
                .label(format!("`{}` is required here", field.key))
                .help(format!(
                    "add `{}:` ({})",
                    field.key,
                    field.description.to_lowercase()
                )),
            );
        }
    }
}

/// "a `Types` document", "a route", "an error", "a project file".
fn article(name: &str) -> String {
    if super::shape::KINDS.contains(&name) {
        return format!("a `{name}` document");
    }
    let lower = words(name).join(" ");
    let vowel = lower.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {}", if vowel { "an" } else { "a" }, lower)
}

fn unknown_field(key: &str, span: Span, block: &Block) -> Diagnostic {
    let d = Diagnostic::error(
        Code::E0100,
        span,
        format!("unknown field `{key}` in {}", article(block.name)),
    )
    .label("unknown field");
    match suggest::did_you_mean(key, block.keys()) {
        Some(help) => d.help(help),
        None => d.help(format!(
            "expected one of: {}",
            block.keys().collect::<Vec<_>>().join(", ")
        )),
    }
}

fn check_one_of(node: &Node, allowed: &[&str], out: &mut Diagnostics) {
    let Some(text) = node.as_str() else {
        out.push(wrong_type(node, "a string"));
        return;
    };
    if allowed.contains(&text) {
        return;
    }
    let d = Diagnostic::error(
        Code::E0106,
        node.span,
        format!("`{text}` is not allowed here"),
    )
    .label(format!("expected one of {}", allowed.join(", ")));
    let help = suggest::did_you_mean(text, allowed.iter().copied())
        .unwrap_or_else(|| format!("write one of: {}", allowed.join(", ")));
    out.push(d.help(help));
}

fn expect_string(node: &Node, value: &Value, out: &mut Diagnostics) -> bool {
    if node.as_str().is_some() {
        return true;
    }
    let d = wrong_type(node, describe(value));
    let scalar = matches!(
        node.kind,
        NodeKind::Int(_) | NodeKind::Float(..) | NodeKind::Bool(_)
    );
    let d = match (value, &node.kind) {
        (Value::Duration, NodeKind::Int(n)) => {
            d.help(format!("add a unit: `{n}s`, `{n}m` or `{n}ms`"))
        }
        (Value::Rate, NodeKind::Int(n)) => {
            d.help(format!("add a period: `{n}/min`, `{n}/h` or `{n}/day`"))
        }
        (Value::Type, NodeKind::Seq(items)) => match items.first().and_then(Node::as_str) {
            Some(t) if items.len() == 1 => d.help(format!("a list type is written `list<{t}>`")),
            _ => d.help("write the type as a string, like `list<OrderItem>`"),
        },
        _ if scalar => d.help("quote the value to make it a string"),
        _ => d,
    };
    out.push(d);
    false
}

/// Whether a node's kind suits a value at all (used to pick short or long form).
fn fits(node: &Node, value: &Value) -> bool {
    match value {
        Value::Block(_) | Value::Map { .. } => matches!(node.kind, NodeKind::Map(_)),
        Value::List(_) => matches!(node.kind, NodeKind::Seq(_)),
        Value::Any => true,
        Value::Version => !matches!(node.kind, NodeKind::Map(_) | NodeKind::Seq(_)),
        Value::Integer | Value::Number => {
            matches!(node.kind, NodeKind::Int(_) | NodeKind::Float(..))
        }
        Value::Boolean => matches!(node.kind, NodeKind::Bool(_)),
        Value::Either(a, b) => fits(node, a) || fits(node, b),
        _ => matches!(node.kind, NodeKind::Str(_)),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::String | Value::OneOf(_) => "a string",
        Value::Name(_) => "a name",
        Value::Integer => "a whole number",
        Value::Number => "a number",
        Value::Boolean => "`true` or `false`",
        Value::Any => "a value",
        Value::Duration => "a duration like `30s`",
        Value::Version => "a version like `1.2.0`",
        Value::Rate => "a rate like `10/min`",
        Value::Type => "a type",
        Value::Event => "an event name like `Order.created`",
        Value::Operation => "`Service.operation`",
        Value::RouteKey => "a route key",
        Value::List(_) => "a list",
        Value::Map { .. } | Value::Block(_) => "a mapping",
        Value::Either(..) => "a value",
    }
}

fn wrong_type(node: &Node, expected: &str) -> Diagnostic {
    Diagnostic::error(
        Code::E0102,
        node.span,
        format!("expected {expected}, found {}", node.describe()),
    )
    .label(format!("expected {expected}"))
}

/// Rust's keywords, strict and reserved: generated identifiers that are
/// one are made raw (`r#type`), and no crate can be named like one.
pub const RUST_KEYWORDS: [&str; 51] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// The longest file name (one path component, in bytes) that Linux, macOS
/// and Windows file systems all hold.
pub const MAX_FILE_NAME: usize = 255;

/// Whether `stem` (the part before the first dot) is a device name that
/// Windows reserves in every folder, with any extension (`CON`, `nul.txt`,
/// `COM1`): such a file cannot be created there.
pub fn windows_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (upper.len() == 4
            && (upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.as_bytes()[3].is_ascii_digit())
}

/// Reports a name that breaks `rule`, suggesting a conforming spelling.
pub fn check_name(text: &str, rule: Ident, span: Span, out: &mut Diagnostics) {
    if name_ok(text, rule) {
        return;
    }
    let (what, fixed) = match rule {
        Ident::Pascal => (
            "PascalCase (like `Money` or `OrderService`)",
            to_pascal(text),
        ),
        Ident::CamelOrSnake => (
            "camelCase or snake_case (like `createOrder` or `customer_id`)",
            to_camel(text),
        ),
        Ident::Kebab => ("kebab-case (like `my-shop`)", to_kebab(text)),
        Ident::Wrangler => (
            "letters, digits, `_` and `-`, not starting with a digit",
            text.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        ),
    };
    let d = Diagnostic::error(Code::E0103, span, format!("`{text}` is not {what}"))
        .label("breaks the naming rule");
    out.push(if !fixed.is_empty() && name_ok(&fixed, rule) {
        d.help(format!("write `{fixed}`"))
    } else {
        d
    });
}

/// Whether `text` follows `rule`.
pub fn name_ok(text: &str, rule: Ident) -> bool {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    match rule {
        Ident::Pascal => first.is_ascii_uppercase() && chars.all(|c| c.is_ascii_alphanumeric()),
        Ident::CamelOrSnake => {
            let rest_ok = text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let mixed = text.contains('_') && text.chars().any(|c| c.is_ascii_uppercase());
            first.is_ascii_lowercase()
                && rest_ok
                && !mixed
                && !text.contains("__")
                && !text.ends_with('_')
        }
        Ident::Kebab => {
            first.is_ascii_lowercase()
                && text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !text.contains("--")
                && !text.ends_with('-')
        }
        Ident::Wrangler => {
            (first.is_ascii_alphabetic() || first == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_device_names_with_any_extension() {
        for n in [
            "con",
            "CON",
            "Nul",
            "nul.openapi.yaml",
            "com1",
            "LPT9",
            "aux ",
        ] {
            assert!(windows_reserved(n), "{n}");
        }
        for n in [
            "console",
            "con-service",
            "com",
            "com10",
            "lpt",
            "nuls",
            "null",
        ] {
            assert!(!windows_reserved(n), "{n}");
        }
    }

    #[test]
    fn naming_rules() {
        assert!(name_ok("OrderService", Ident::Pascal));
        assert!(!name_ok("orderService", Ident::Pascal));
        assert!(name_ok("createOrder", Ident::CamelOrSnake));
        assert!(name_ok("customer_id", Ident::CamelOrSnake));
        assert!(!name_ok("create_Order", Ident::CamelOrSnake));
        assert!(name_ok("my-shop", Ident::Kebab));
    }
}
