//! Lowering of `kind: Pricing` documents (MANIFESTS.md section 5).

use super::read;
use crate::ast::{Plan, Pricing};
use crate::diagnostic::Diagnostics;
use crate::load::{Node, NodeKind};
use crate::source::Spanned;

/// Lowers one pricing document.
pub fn lower_pricing(root: &Node, name: Spanned<String>, out: &mut Diagnostics) -> Pricing {
    Pricing {
        name,
        service: read::text(root, "service"),
        currency: read::text(root, "currency"),
        plans: root
            .get("plans")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter(|n| matches!(n.kind, NodeKind::Map(_)))
            .map(|p| plan(p, out))
            .collect(),
        trial: read::duration(root.get("trial"), out),
        overage: root
            .get("overage")
            .map(|o| (read::text(o, "unit"), o.get("price").cloned())),
    }
}

fn plan(node: &Node, out: &mut Diagnostics) -> Plan {
    Plan {
        span: node.span,
        name: node
            .get("name")
            .and_then(|n| Some(Spanned::new(n.scalar_text()?, n.span))),
        price: node.get("price").cloned(),
        interval: read::text(node, "interval"),
        limits: node
            .get("limits")
            .and_then(Node::as_map)
            .unwrap_or(&[])
            .iter()
            .map(|e| (e.key.clone(), read::rate(Some(&e.value), out)))
            .collect(),
        features: read::strings(node.get("features")),
    }
}
