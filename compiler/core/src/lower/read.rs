//! Quiet readers for lowering: they return `None` for a value of the wrong
//! kind (the shape validator reported it), and report only mini-language
//! errors, which the shape validator cannot see.

use crate::ast::TypeExpr;
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
        Ok(u) => Some(Spanned::new(u, i.span)),
        Err(_) => {
            out.push(
                Diagnostic::error(Code::E0102, i.span, format!("`{key}` cannot be negative"))
                    .label("expected 0 or more"),
            );
            None
        }
    }
}

/// A number (integer or float).
pub fn number(node: &Node, key: &str) -> Option<Spanned<f64>> {
    let n = node.get(key)?;
    match n.kind {
        NodeKind::Int(i) => Some(Spanned::new(i as f64, n.span)),
        NodeKind::Float(f, _) => Some(Spanned::new(f, n.span)),
        _ => None,
    }
}

/// A list of strings (non-strings skipped).
pub fn strings(node: Option<&Node>) -> Vec<Spanned<String>> {
    node.and_then(Node::as_seq)
        .map(|items| items.iter().filter_map(Node::as_spanned_str).collect())
        .unwrap_or_default()
}

/// Turns a mini-language error into a diagnostic inside `node`.
pub fn syntax_error(code: Code, node: &Node, err: SyntaxError) -> Diagnostic {
    Diagnostic::error(code, node.sub_span(err.range), err.message)
        .label(err.label)
        .maybe_help(err.help)
}

/// A type expression; its errors are reported.
pub fn type_expr(node: &Node, out: &mut Diagnostics) -> Option<TypeExpr> {
    let text = node.as_str()?;
    let to_span = |r: std::ops::Range<usize>| node.sub_span(r);
    match syntax::type_expr::parse(text, &to_span) {
        Ok(t) => Some(t),
        Err(e) => {
            out.push(syntax_error(Code::E0201, node, e));
            None
        }
    }
}

/// A duration; its errors are reported.
pub fn duration(node: Option<&Node>, out: &mut Diagnostics) -> Option<Spanned<Duration>> {
    let node = node?;
    let text = node.as_str()?;
    match syntax::duration::parse(text) {
        Ok(d) => Some(Spanned::new(d, node.span)),
        Err(e) => {
            out.push(syntax_error(Code::E0107, node, e));
            None
        }
    }
}

/// A rate; its errors are reported.
pub fn rate(node: Option<&Node>, out: &mut Diagnostics) -> Option<Spanned<Rate>> {
    let node = node?;
    let text = node.as_str()?;
    match syntax::rate::parse(text) {
        Ok(r) => Some(Spanned::new(r, node.span)),
        Err(e) => {
            out.push(syntax_error(Code::E0108, node, e));
            None
        }
    }
}

/// An event name; its errors are reported.
pub fn event(node: &Node, out: &mut Diagnostics) -> Option<Spanned<EventName>> {
    let text = node.as_str()?;
    match syntax::reference::parse_event(text) {
        Ok(e) => Some(Spanned::new(e, node.span)),
        Err(e) => {
            out.push(syntax_error(Code::E0109, node, e));
            None
        }
    }
}

/// A `Service.operation` reference; its errors are reported.
pub fn operation(node: &Node, out: &mut Diagnostics) -> Option<Spanned<OperationRef>> {
    let text = node.as_str()?;
    match syntax::reference::parse_operation(text) {
        Ok(r) => Some(Spanned::new(r, node.span)),
        Err(e) => {
            out.push(syntax_error(Code::E0109, node, e));
            None
        }
    }
}
