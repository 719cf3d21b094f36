//! Lowering of `kind: Saga` documents (MANIFESTS.md section 4).

use super::read;
use crate::ast::{Compensation, Publish, Saga, SagaItem, Step};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::load::{Node, NodeKind};
use crate::source::Spanned;

/// Lowers one saga document.
pub fn lower_saga(root: &Node, name: Spanned<String>, out: &mut Diagnostics) -> Saga {
    Saga {
        name,
        trigger: root.get("trigger").and_then(read::event),
        steps: root
            .get("steps")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter(|n| matches!(n.kind, NodeKind::Map(_)))
            .map(|n| item(n, out))
            .collect(),
        publishes: root
            .get("publishes")
            .and_then(Node::as_map)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| {
                Some(Publish {
                    event: read::event(&e.key_node())?,
                    payload: read::type_expr(&e.value),
                    description: None,
                })
            })
            .collect(),
        on_success: root.get("onSuccess").and_then(read::event),
        on_failure: root.get("onFailure").and_then(read::event),
        timeout: read::duration(root.get("timeout")),
    }
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
        Some(group) if action.is_none() => {
            let steps: Vec<Step> = group
                .value
                .as_seq()
                .unwrap_or(&[])
                .iter()
                .filter(|n| matches!(n.kind, NodeKind::Map(_)))
                .map(|n| {
                    if let Some(nested) = n.entry("parallel") {
                        out.push(malformed(
                            nested.key.span,
                            "`parallel` groups cannot be nested",
                            "list the steps in one group",
                        ));
                    } else if n.get("action").is_none() {
                        out.push(malformed(
                            n.span,
                            "a step needs an `action`",
                            "add `action: Service.operation`",
                        ));
                    }
                    step(n)
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
        _ => SagaItem::Step(step(node)),
    }
}

fn step(node: &Node) -> Step {
    Step {
        span: node.span,
        name: read::text(node, "name"),
        action: node.get("action").and_then(read::operation),
        compensate: node.get("compensate").and_then(|c| match c.as_str() {
            Some("none") => Some(Compensation::Nothing(c.span)),
            _ => read::operation(c).map(Compensation::Operation),
        }),
        input: node.get("input").cloned(),
        when: node.get("when").cloned(),
        timeout: read::duration(node.get("timeout")),
        retry: node.get("retry").map(read::retry),
    }
}
