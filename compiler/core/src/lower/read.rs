//! Readers for lowering: they return `None` for a value of the wrong kind
//! (the shape validator reported it) and parse the mini-language strings,
//! once each, reporting their syntax errors at the character inside the
//! string: the validator only checks that they are strings.

use crate::ast::{Retry, TypeExpr};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::load::{Node, NodeKind};
use crate::source::Spanned;
use crate::syntax::duration::Duration;
use crate::syntax::rate::Rate;
use crate::syntax::reference::{EventName, OperationRef};
use crate::syntax::{self, SyntaxError};

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

/// Reports a mini-language syntax error of `node` under `code`.
fn report(node: &Node, code: Code, err: SyntaxError, out: &mut Diagnostics) {
    out.push(
        Diagnostic::error(code, node.sub_span(err.range), err.message)
            .label(err.label)
            .maybe_help(err.help),
    );
}

/// Parses the string `node` with `parse`, reporting a syntax error under
/// `code`; `None` for a value that is not a string or does not parse.
fn parsed<T>(
    node: &Node,
    code: Code,
    parse: impl FnOnce(&str) -> Result<T, SyntaxError>,
    out: &mut Diagnostics,
) -> Option<T> {
    let text = node.as_str()?;
    match parse(text) {
        Ok(value) => Some(value),
        Err(err) => {
            report(node, code, err, out);
            None
        }
    }
}

/// A type expression (E0201).
pub fn type_expr(node: &Node, out: &mut Diagnostics) -> Option<TypeExpr> {
    let to_span = |r: std::ops::Range<usize>| node.sub_span(r);
    parsed(
        node,
        Code::E0201,
        |text| syntax::type_expr::parse(text, &to_span),
        out,
    )
}

/// A duration (E0107).
pub fn duration(node: Option<&Node>, out: &mut Diagnostics) -> Option<Spanned<Duration>> {
    let node = node?;
    let d = parsed(node, Code::E0107, syntax::duration::parse, out)?;
    Some(Spanned::new(d, node.span))
}

/// A rate (E0108).
pub fn rate(node: Option<&Node>, out: &mut Diagnostics) -> Option<Spanned<Rate>> {
    let node = node?;
    let r = parsed(node, Code::E0108, syntax::rate::parse, out)?;
    Some(Spanned::new(r, node.span))
}

/// An event name (E0109).
pub fn event(node: &Node, out: &mut Diagnostics) -> Option<Spanned<EventName>> {
    let e = parsed(node, Code::E0109, syntax::reference::parse_event, out)?;
    Some(Spanned::new(e, node.sub_span(0..node.as_str()?.len())))
}

/// A `Service.operation` reference (E0109).
pub fn operation(node: &Node, out: &mut Diagnostics) -> Option<Spanned<OperationRef>> {
    let r = parsed(node, Code::E0109, syntax::reference::parse_operation, out)?;
    Some(Spanned::new(r, node.sub_span(0..node.as_str()?.len())))
}

/// A route key (E0300).
pub fn route_key(node: &Node, out: &mut Diagnostics) -> Option<syntax::route::RouteKey> {
    parsed(node, Code::E0300, syntax::route::parse, out)
}

/// A retry policy block.
pub fn retry(n: &Node, out: &mut Diagnostics) -> Retry {
    Retry {
        attempts: int(n, "attempts"),
        backoff: text(n, "backoff"),
        delay: duration(n.get("delay"), out),
        max_delay: duration(n.get("maxDelay"), out),
    }
}
