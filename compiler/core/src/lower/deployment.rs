//! Lowering of `kind: Deployment` documents (MANIFESTS.md section 6).

use super::read;
use crate::ast::{Binding, Deployment, Environment, Limit, Strategy, Threshold};
use crate::diagnostic::Diagnostics;
use crate::load::{Entry, Node};
use crate::source::Spanned;

/// Lowers one deployment document.
pub fn lower_deployment(root: &Node, name: Spanned<String>, out: &mut Diagnostics) -> Deployment {
    Deployment {
        name,
        service: read::text(root, "service"),
        compatibility_date: root
            .get("compatibilityDate")
            .and_then(|n| Some(Spanned::new(n.scalar_text()?, n.span))),
        vars: vars(root.get("vars")),
        secrets: read::strings(root.get("secrets")),
        bindings: entries(root.get("bindings"))
            .flat_map(|kind| {
                entries(Some(&kind.value)).map(move |b| Binding {
                    kind: kind.key.clone(),
                    name: b.key.clone(),
                    settings: b.value.clone(),
                })
            })
            .collect(),
        resources: root.get("resources").cloned(),
        observability: root.get("observability").cloned(),
        environments: entries(root.get("environments"))
            .map(|e| Environment {
                name: e.key.clone(),
                routes: read::strings(e.value.get("routes")),
                vars: vars(e.value.get("vars")),
                strategy: e.value.entry("strategy").map(|s| strategy(s, out)),
            })
            .collect(),
    }
}

fn entries(node: Option<&Node>) -> impl Iterator<Item = &Entry> {
    node.and_then(Node::as_map).unwrap_or(&[]).iter()
}

fn vars(node: Option<&Node>) -> Vec<(Spanned<String>, Node)> {
    entries(node)
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect()
}

fn strategy(e: &Entry, out: &mut Diagnostics) -> Strategy {
    let v = &e.value;
    Strategy {
        span: e.key.span,
        kind: read::text(v, "type"),
        steps: v
            .get("steps")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(|n| match n.kind {
                crate::load::NodeKind::Int(i) => Some(Spanned::new(i, n.span)),
                _ => None,
            })
            .collect(),
        steps_span: v.entry("steps").map(|s| s.key.span),
        interval: read::duration(v.get("interval"), out),
        has_interval: v.get("interval").is_some(),
        rollback: entries(v.get("rollback"))
            .map(|r| Threshold {
                key: r.key.clone(),
                value: r.value.clone(),
                limit: limit(&r.key.value, &r.value),
            })
            .collect(),
    }
}

/// What a rollback threshold's value means for its key, if it suits it.
fn limit(key: &str, value: &Node) -> Option<Limit> {
    let text = value.scalar_text()?;
    match key {
        "errorRate" => {
            let number = text.strip_suffix('%')?;
            let n = number.parse::<f64>().ok()?;
            ((0.0..=100.0).contains(&n) && n > 0.0).then(|| Limit::ErrorRate(number.to_string()))
        }
        k if Threshold::LATENCIES.contains(&k) => crate::syntax::duration::parse(&text)
            .ok()
            .map(Limit::Latency),
        _ => None,
    }
}
