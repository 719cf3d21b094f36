//! Lowering of `kind: Saga` documents (MANIFESTS.md section 4).

use super::read;
use crate::ast::{Compensation, Publish, Saga, SagaItem, Step, StepInput};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::load::{Node, NodeKind};
use crate::source::Spanned;
use crate::syntax;

/// Lowers one saga document.
pub fn lower_saga(root: &Node, name: Spanned<String>, out: &mut Diagnostics) -> Saga {
    Saga {
        name,
        trigger: root.get("trigger").and_then(|t| read::event(t, out)),
        steps: maps(root.get("steps")).map(|n| item(n, out)).collect(),
        publishes: root
            .get("publishes")
            .and_then(Node::as_map)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| {
                let payload = read::type_expr(&e.value, out);
                Some(Publish {
                    event: read::event(&e.key_node(), out)?,
                    payload,
                    description: None,
                })
            })
            .collect(),
        on_success: root.get("onSuccess").and_then(|e| read::event(e, out)),
        on_failure: root.get("onFailure").and_then(|e| read::event(e, out)),
        timeout: read::duration(root.get("timeout"), out),
    }
}

/// The mappings of a list (other items were reported by the validator).
fn maps(list: Option<&Node>) -> impl Iterator<Item = &Node> {
    list.and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Map(_)))
}

fn malformed(span: crate::source::Span, message: &str, help: &str) -> Diagnostic {
    Diagnostic::error(Code::E0412, span, message.to_string())
        .label("malformed step")
        .help(help.to_string())
}

fn item(node: &Node, out: &mut Diagnostics) -> SagaItem {
    let parallel = node.entry("parallel");
    let action = node.entry("action");
    match (parallel, action) {
        (Some(p), Some(_)) => out.push(malformed(
            p.key.span,
            "a step has either `action` or `parallel`, not both",
            "move the action into the `parallel` group, or make the group its own item",
        )),
        (None, None) => out.push(malformed(
            node.span,
            "a step needs an `action` (or a `parallel` group of steps)",
            "add `action: Service.operation`",
        )),
        _ => {}
    }
    match parallel {
        Some(group) if action.is_none() => group_item(group, out),
        _ => {
            maps(parallel.map(|p| &p.value)).for_each(|n| nested(n, out));
            SagaItem::Step(step(node, out))
        }
    }
}

/// A `parallel` group and its steps.
fn group_item(group: &crate::load::Entry, out: &mut Diagnostics) -> SagaItem {
    let steps: Vec<Step> = maps(Some(&group.value))
        .map(|n| {
            if let Some(inner) = n.entry("parallel") {
                out.push(malformed(
                    inner.key.span,
                    "`parallel` groups cannot be nested",
                    "list the steps in one group",
                ));
                maps(Some(&inner.value)).for_each(|m| nested(m, out));
            } else if n.get("action").is_none() {
                out.push(malformed(
                    n.span,
                    "a step needs an `action`",
                    "add `action: Service.operation`",
                ));
            }
            step(n, out)
        })
        .collect();
    if steps.is_empty() {
        out.push(malformed(
            group.key.span,
            "a `parallel` group needs at least one step",
            "add steps, or remove the group",
        ));
    }
    SagaItem::Parallel {
        span: group.key.span,
        steps,
    }
}

fn step(node: &Node, out: &mut Diagnostics) -> Step {
    Step {
        span: node.span,
        name: read::text(node, "name"),
        action: node.get("action").and_then(|a| read::operation(a, out)),
        compensate: node.get("compensate").and_then(compensation),
        input: node.get("input").map(|n| input(n, out)),
        when: node.get("when").and_then(|n| when(n, out)),
        timeout: read::duration(node.get("timeout"), out),
        retry: node.get("retry").map(|r| read::retry(r, out)),
    }
}

/// `compensate: none` or an operation. Its syntax is not checked (the
/// shape takes any string): a malformed one reads as no compensation.
fn compensation(c: &Node) -> Option<Compensation> {
    let text = c.as_str()?;
    if text == "none" {
        return Some(Compensation::Nothing(c.span));
    }
    let op = syntax::reference::parse_operation(text).ok()?;
    Some(Compensation::Operation(Spanned::new(
        op,
        c.sub_span(0..text.len()),
    )))
}

/// A step's `input:`: a path into the saga's data (E0411 when it is not one).
fn input(node: &Node, out: &mut Diagnostics) -> StepInput {
    let Some(text) = node.as_str() else {
        return StepInput::Invalid;
    };
    match syntax::path::parse(text, &|r| node.sub_span(r)) {
        Some(path) => StepInput::Path(Spanned::new(path, node.sub_span(0..text.len()))),
        None => {
            out.push(
                Diagnostic::error(
                    Code::E0411,
                    node.span,
                    format!("`{text}` is not a reference to saga data"),
                )
                .label("expected `input...` or `steps.<name>.output...`")
                .help("write for example `input.amount` or `steps.debit.output`"),
            );
            StepInput::Invalid
        }
    }
}

/// A step's `when:` condition (E0405 when it does not parse).
fn when(node: &Node, out: &mut Diagnostics) -> Option<Spanned<syntax::when::Expr>> {
    let text = node.as_str()?;
    match syntax::when::parse(text, &|r| node.sub_span(r)) {
        Ok(expr) => Some(Spanned::new(expr, node.span)),
        Err(err) => {
            out.push(
                Diagnostic::error(Code::E0405, node.sub_span(err.range), err.message)
                    .label(err.label)
                    .maybe_help(err.help),
            );
            None
        }
    }
}

/// The mini-language values of a step in a nested `parallel` group (an
/// error, E0412): the step is not part of the saga, but a malformed
/// duration or operation in it is still reported, like anywhere else.
fn nested(node: &Node, out: &mut Diagnostics) {
    if let Some(a) = node.get("action") {
        read::operation(a, out);
    }
    read::duration(node.get("timeout"), out);
    if let Some(r) = node.get("retry") {
        read::retry(r, out);
    }
    for n in node.get("parallel").and_then(Node::as_seq).unwrap_or(&[]) {
        nested(n, out);
    }
}
