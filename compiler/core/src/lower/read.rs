//! Quiet readers for lowering: they return `None` for a value of the wrong
//! kind (the shape validator reported it), and report only mini-language
//! errors, which the shape validator cannot see.

use crate::ast::{Retry, TypeExpr};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::load::{Node, NodeKind};
use crate::source::Spanned;
use crate::syntax;
use crate::syntax::duration::Duration;
use crate::syntax::rate::Rate;
use crate::syntax::reference::{EventName, OperationRef};

/// A string value.
pub fn text(node: &Node, key: &str) -> Option<Spanned<String>> {
    node.get(key)?.as_spanned_str()
}

/// A string value without its span.
pub fn plain(node: &Node, key: &str) -> Option<String> {
    node.get(key)?.as_str().map(str::to_string)
}

/// A boolean, `false` when absent.
pub fn flag(node: &Node, key: &str) -> bool {
    boolean(node, key).is_some_and(|b| b.value)
}

/// A boolean with its span.
pub fn boolean(node: &Node, key: &str) -> Option<Spanned<bool>> {
    let n = node.get(key)?;
    match n.kind {
        NodeKind::Bool(b) => Some(Spanned::new(b, n.span)),
        _ => None,
    }
}

/// A whole number.
pub fn int(node: &Node, key: &str) -> Option<Spanned<i64>> {
    let n = node.get(key)?;
    match n.kind {
        NodeKind::Int(i) => Some(Spanned::new(i, n.span)),
        _ => None,
    }
}

/// A non-negative whole number; a negative one is reported.
pub fn count(node: &Node, key: &str, out: &mut Diagnostics) -> Option<Spanned<u64>> {
    let i = int(node, key)?;
    match u64::try_from(i.value) {
        Ok(u) => Some(Spanned::new(u, key_and_value(node, key).unwrap_or(i.span))),
        Err(_) => {
            out.push(
                Diagnostic::error(Code::E0102, i.span, format!("`{key}` cannot be negative"))
                    .label("expected 0 or more"),
            );
            None
        }
    }
}

/// A number (integer or float), as written.
pub fn number(node: &Node, key: &str) -> Option<Spanned<crate::number::Number>> {
    let n = node.get(key)?;
    let span = key_and_value(node, key).unwrap_or(n.span);
    crate::number::Number::from_node(n).map(|v| Spanned::new(v, span))
}

/// The span of `key: value` together (for constraints, whose key matters
/// as much as their value).
fn key_and_value(node: &Node, key: &str) -> Option<crate::source::Span> {
    let e = node.entry(key)?;
    Some(e.key.span.to(e.value.span))
}

/// A list of strings (non-strings skipped).
pub fn strings(node: Option<&Node>) -> Vec<Spanned<String>> {
    node.and_then(Node::as_seq)
        .map(|items| items.iter().filter_map(Node::as_spanned_str).collect())
        .unwrap_or_default()
}

/// A type expression (its syntax errors were reported by the validator).
pub fn type_expr(node: &Node) -> Option<TypeExpr> {
    let text = node.as_str()?;
    let to_span = |r: std::ops::Range<usize>| node.sub_span(r);
    syntax::type_expr::parse(text, &to_span).ok()
}

/// A duration (its syntax errors were reported by the validator).
pub fn duration(node: Option<&Node>) -> Option<Spanned<Duration>> {
    let node = node?;
    let d = syntax::duration::parse(node.as_str()?).ok()?;
    Some(Spanned::new(d, node.span))
}

/// A rate (its syntax errors were reported by the validator).
pub fn rate(node: Option<&Node>) -> Option<Spanned<Rate>> {
    let node = node?;
    let r = syntax::rate::parse(node.as_str()?).ok()?;
    Some(Spanned::new(r, node.span))
}

/// An event name (its syntax errors were reported by the validator).
pub fn event(node: &Node) -> Option<Spanned<EventName>> {
    let text = node.as_str()?;
    let e = syntax::reference::parse_event(text).ok()?;
    Some(Spanned::new(e, node.sub_span(0..text.len())))
}

/// A `Service.operation` reference (syntax errors were reported by the validator).
pub fn operation(node: &Node) -> Option<Spanned<OperationRef>> {
    let text = node.as_str()?;
    let r = syntax::reference::parse_operation(text).ok()?;
    Some(Spanned::new(r, node.sub_span(0..text.len())))
}

/// A retry policy block.
pub fn retry(n: &Node) -> Retry {
    Retry {
        attempts: int(n, "attempts"),
        backoff: text(n, "backoff"),
        delay: duration(n.get("delay")),
        max_delay: duration(n.get("maxDelay")),
    }
}
