//! `svcc graph`: the system as a picture, in Mermaid or Graphviz DOT.
//!
//! Services are boxes (with their route count), events are solid edges
//! from publisher to subscriber, synchronous calls are dashed edges, and
//! each saga is a cluster of its steps, started by its trigger event and
//! pointing at the services its steps call. Output is deterministic: the
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

/// A saga drawn as a cluster of steps.
struct Cluster {
    id: String,
    title: String,
    steps: Vec<(String, String)>,
}

/// Everything to draw, format-independent.
struct Picture {
    nodes: Vec<(String, String)>,
    edges: Vec<Edge>,
    clusters: Vec<Cluster>,
}

fn id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn picture(model: &Model) -> Picture {
    let mut nodes: Vec<(String, String)> = Vec::new();
    let mut edges: Vec<Edge> = Vec::new();
    let mut external = false;
    for s in &model.ast.services {
        let routes = s.routes.len();
        let plural = if routes == 1 { "route" } else { "routes" };
        nodes.push((
            id(&s.name.value),
            format!("{}\\n{routes} {plural}", s.name.value),
        ));
        for call in &s.calls {
            edges.push(Edge {
                from: id(&s.name.value),
                to: id(&call.value.service),
                label: call.value.operation.clone(),
                kind: EdgeKind::Call,
            });
        }
    }
    let publishers = crate::check::publishers_of(model);
    for s in &model.ast.services {
        for sub in &s.subscribes {
            let from = match publishers.get(&sub.event.value.0) {
                Some(owner) => id(owner),
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
    let mut clusters = Vec::new();
    for saga in &model.ast.sagas {
        let cluster_id = format!("saga_{}", id(&saga.name.value));
        let mut steps = Vec::new();
        for (i, step) in saga.all_steps().enumerate() {
            let step_id = format!("{cluster_id}_{}", i + 1);
            let name = step.name.as_ref().map_or("step", |n| n.value.as_str());
            steps.push((step_id.clone(), format!("{}. {name}", i + 1)));
            if let Some(a) = &step.action {
                edges.push(Edge {
                    from: step_id,
                    to: id(&a.value.service),
                    label: a.value.operation.clone(),
                    kind: EdgeKind::Step,
                });
            }
        }
        if let (Some(trigger), Some((first, _))) = (&saga.trigger, steps.first()) {
            let from = publishers
                .get(&trigger.value.0)
                .map_or_else(|| "external".to_string(), |o| id(o));
            external |= from == "external";
            edges.push(Edge {
                from,
                to: first.clone(),
                label: trigger.value.0.clone(),
                kind: EdgeKind::Event,
            });
        }
        clusters.push(Cluster {
            id: cluster_id,
            title: format!("saga {}", saga.name.value),
            steps,
        });
    }
    if external {
        nodes.push(("external".to_string(), "external".to_string()));
    }
    Picture {
        nodes,
        edges,
        clusters,
    }
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
    for (id, label) in &p.nodes {
        let _ = writeln!(out, "  {id}[\"{}\"]", label.replace("\\n", "<br/>"));
    }
    for c in &p.clusters {
        let _ = writeln!(out, "  subgraph {}[\"{}\"]", c.id, c.title);
        let _ = writeln!(out, "    direction TB");
        for (id, label) in &c.steps {
            let _ = writeln!(out, "    {id}([\"{label}\"])");
        }
        for pair in c.steps.windows(2) {
            let _ = writeln!(out, "    {} --> {}", pair[0].0, pair[1].0);
        }
        let _ = writeln!(out, "  end");
    }
    for e in &p.edges {
        let arrow = match e.kind {
            EdgeKind::Event => format!("-- \"{}\" -->", e.label),
            EdgeKind::Call => format!("-. \"{}\" .->", e.label),
            EdgeKind::Step => format!("-. \"{}\" .->", e.label),
        };
        let _ = writeln!(out, "  {} {arrow} {}", e.from, e.to);
    }
    out
}

fn dot(p: &Picture) -> String {
    let mut out = String::from(
        "digraph system {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (id, label) in &p.nodes {
        let _ = writeln!(out, "  {id} [label=\"{label}\"];");
    }
    for c in &p.clusters {
        let _ = writeln!(
            out,
            "  subgraph cluster_{} {{\n    label=\"{}\";\n    style=dashed;",
            c.id, c.title
        );
        for (id, label) in &c.steps {
            let _ = writeln!(out, "    {id} [label=\"{label}\", shape=ellipse];");
        }
        for pair in c.steps.windows(2) {
            let _ = writeln!(out, "    {} -> {};", pair[0].0, pair[1].0);
        }
        let _ = writeln!(out, "  }}");
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
