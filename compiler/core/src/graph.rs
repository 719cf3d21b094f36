//! `svcc graph`: the system as a picture, in Mermaid or Graphviz DOT.
//!
//! Services are boxes (with their route count), events are solid edges
//! from publisher to subscriber, synchronous calls are dashed edges, and
//! each saga is a node started by its trigger event, with a dotted edge to
//! the service of each step (numbered; a parallel group shares a number). Output is deterministic: the
//! model's order, which is the manifests' sorted order.

use crate::resolve::Model;
use std::fmt::Write;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Mermaid `flowchart` (renders on GitHub and in many editors).
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// An edge of the picture.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    label: String,
    kind: EdgeKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EdgeKind {
    Event,
    Call,
    Step,
}

/// Everything to draw, format-independent: nodes (id, label lines) and edges.
struct Picture {
    nodes: Vec<(String, Vec<String>)>,
    edges: Vec<Edge>,
}

fn id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn saga_id(name: &str) -> String {
    format!("saga_{}", id(name))
}

fn picture(model: &Model) -> Picture {
    let mut nodes: Vec<(String, Vec<String>)> = Vec::new();
    let mut edges: Vec<Edge> = Vec::new();
    let mut external = false;
    let sagas: Vec<&str> = model
        .ast
        .sagas
        .iter()
        .map(|s| s.name.value.as_str())
        .collect();
    let node_of = |owner: &str| {
        if sagas.contains(&owner) {
            saga_id(owner)
        } else {
            id(owner)
        }
    };
    for s in &model.ast.services {
        let routes = s.routes.len();
        let plural = if routes == 1 { "route" } else { "routes" };
        nodes.push((
            id(&s.name.value),
            vec![s.name.value.clone(), format!("{routes} {plural}")],
        ));
        for call in &s.calls {
            edges.push(Edge {
                from: id(&s.name.value),
                to: id(&call.value.service),
                label: call.value.operation.clone(),
                kind: EdgeKind::Call,
            });
        }
        for sub in &s.subscribes {
            let from = match model.publisher(&sub.event.value.0) {
                Some(owner) => node_of(owner),
                None => {
                    external = true;
                    "external".to_string()
                }
            };
            edges.push(Edge {
                from,
                to: id(&s.name.value),
                label: sub.event.value.0.clone(),
                kind: EdgeKind::Event,
            });
        }
    }
    for saga in &model.ast.sagas {
        let this = saga_id(&saga.name.value);
        nodes.push((
            this.clone(),
            vec![
                format!("saga {}", saga.name.value),
                format!("{} steps", saga.all_steps().count()),
            ],
        ));
        for (number, item) in saga.steps.iter().enumerate() {
            let steps: &[crate::ast::Step] = match item {
                crate::ast::SagaItem::Step(s) => std::slice::from_ref(s),
                crate::ast::SagaItem::Parallel { steps, .. } => steps,
            };
            for step in steps {
                let Some(a) = &step.action else { continue };
                let name = step.name.as_ref().map_or("step", |n| n.value.as_str());
                edges.push(Edge {
                    from: this.clone(),
                    to: id(&a.value.service),
                    label: format!("{}. {name}", number + 1),
                    kind: EdgeKind::Step,
                });
            }
        }
        if let Some(trigger) = &saga.trigger {
            let from = model
                .publisher(&trigger.value.0)
                .map_or_else(|| "external".to_string(), node_of);
            external |= from == "external";
            edges.push(Edge {
                from,
                to: this,
                label: trigger.value.0.clone(),
                kind: EdgeKind::Event,
            });
        }
    }
    if external {
        nodes.push(("external".to_string(), vec!["external".to_string()]));
    }
    Picture { nodes, edges }
}

/// The system in the chosen format.
pub fn render(model: &Model, format: Format) -> String {
    let p = picture(model);
    match format {
        Format::Mermaid => mermaid(&p),
        Format::Dot => dot(&p),
    }
}

fn mermaid(p: &Picture) -> String {
    let mut out = String::from("flowchart LR\n");
    for (id, lines) in &p.nodes {
        let shape = if id.starts_with("saga_") {
            ("([\"", "\"])")
        } else {
            ("[\"", "\"]")
        };
        let _ = writeln!(out, "  {id}{}{}{}", shape.0, lines.join("<br/>"), shape.1);
    }
    for e in &p.edges {
        let arrow = match e.kind {
            EdgeKind::Event => format!("-- \"{}\" -->", e.label),
            EdgeKind::Call | EdgeKind::Step => format!("-. \"{}\" .->", e.label),
        };
        let _ = writeln!(out, "  {} {arrow} {}", e.from, e.to);
    }
    out
}

fn dot(p: &Picture) -> String {
    let mut out = String::from(
        "digraph system {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (id, lines) in &p.nodes {
        let shape = if id.starts_with("saga_") {
            ", shape=ellipse"
        } else {
            ""
        };
        let _ = writeln!(out, "  {id} [label=\"{}\"{shape}];", lines.join("\\n"));
    }
    for e in &p.edges {
        let style = match e.kind {
            EdgeKind::Event => "solid",
            EdgeKind::Call => "dashed",
            EdgeKind::Step => "dotted",
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label=\"{}\", style={style}];",
            e.from, e.to, e.label
        );
    }
    out.push_str("}\n");
    out
}
