//! Facts about the graph of types that emitters ask about for every field
//! and every route: whether a type holds another by value on a cycle (a
//! Rust field that needs a `Box`), and whether requests and responses see
//! a type differently (its `readOnly`/`writeOnly` fields, or those of a type
//! it holds). Asking walked the types reachable from the one asked about,
//! each time: quadratic in the types of a large API whose schemas refer to
//! each other. Here they are computed once per model, on first use, in time
//! linear in the graph (plus [`Model::all_fields`] of each type), and each
//! question is a lookup.

use super::{Model, visit_named};
use crate::ast::{TypeBody, TypeExprKind};
use petgraph::graph::{DiGraph, NodeIndex};

/// The strongly connected components of a directed graph over `0..n`.
#[derive(Debug, Default)]
pub struct Components {
    /// Each node's component.
    component: Vec<usize>,
    /// Whether each node is on a cycle (an edge to itself or to another
    /// node of its component).
    on_cycle: Vec<bool>,
}

impl Components {
    /// The components of the graph of `n` nodes and `edges` (ends outside
    /// `0..n` are ignored). Kosaraju's algorithm, whose depth-first
    /// searches keep their own stacks: a chain of 100,000 types does not
    /// overflow the thread's.
    pub fn new(n: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(n, 0);
        for _ in 0..n {
            graph.add_node(());
        }
        let edges: Vec<(usize, usize)> = edges
            .into_iter()
            .filter(|&(from, to)| from < n && to < n)
            .collect();
        for &(from, to) in &edges {
            graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
        }
        let mut component = vec![0; n];
        for (i, nodes) in petgraph::algo::kosaraju_scc(&graph).into_iter().enumerate() {
            for node in nodes {
                component[node.index()] = i;
            }
        }
        let mut on_cycle = vec![false; n];
        for (from, to) in edges {
            if component[from] == component[to] {
                on_cycle[from] = true;
            }
        }
        Components {
            component,
            on_cycle,
        }
    }

    /// Whether `a` and `b` are in one component: the same node, or each
    /// reachable from the other.
    pub fn same(&self, a: usize, b: usize) -> bool {
        match (self.component.get(a), self.component.get(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        }
    }

    /// Whether `node` is on a cycle.
    pub fn on_cycle(&self, node: usize) -> bool {
        self.on_cycle.get(node).copied().unwrap_or(false)
    }
}

/// What [`Model`] computes about its types on first use.
#[derive(Debug, Default)]
pub(super) struct TypeFacts {
    /// Components of the graph of types held by value: a field's type
    /// through `?` (not through lists, sets or maps), a `oneOf` variant.
    by_value: Components,
    /// Per type: requests and responses see it differently.
    directional: Vec<bool>,
}

impl TypeFacts {
    pub(super) fn new(model: &Model) -> Self {
        let types = &model.ast.types;
        let n = types.len();
        let held = |expr: &crate::ast::TypeExpr| match &expr.required().kind {
            TypeExprKind::Named { name, library } => model.type_index(name, *library),
            _ => None,
        };
        let mut by_value = Vec::new();
        // who refers to each type, anywhere in a field or variant type
        let mut referred_by: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut direct = vec![false; n];
        for (i, def) in types.iter().enumerate() {
            let mut refer = |expr: &crate::ast::TypeExpr| {
                visit_named(expr, &mut |name, library, _| {
                    if let Some(to) = model.type_index(name, library)
                        && let Some(list) = referred_by.get_mut(to)
                    {
                        list.push(i);
                    }
                });
            };
            match &def.body {
                TypeBody::Object { .. } => {
                    for (f, _) in model.all_fields(def) {
                        let c = &f.constraints;
                        direct[i] |= c.read_only || c.write_only;
                        if let Some(t) = &f.ty {
                            by_value.extend(held(t).map(|to| (i, to)));
                            refer(t);
                        }
                    }
                }
                TypeBody::OneOf { variants, .. } => {
                    for (_, t) in variants {
                        by_value.extend(held(t).map(|to| (i, to)));
                        refer(t);
                    }
                }
                TypeBody::Enum(_) | TypeBody::Invalid => {}
            }
        }
        // directional: the types from which a directly directional one is
        // reachable, found backwards from those
        let mut directional = direct;
        let mut stack: Vec<usize> = (0..n).filter(|&i| directional[i]).collect();
        while let Some(t) = stack.pop() {
            for &from in &referred_by[t] {
                if !directional[from] {
                    directional[from] = true;
                    stack.push(from);
                }
            }
        }
        TypeFacts {
            by_value: Components::new(n, by_value),
            directional,
        }
    }
}

impl Model {
    fn facts(&self) -> &TypeFacts {
        self.facts.get_or_init(|| TypeFacts::new(self))
    }

    /// Whether the types at `a` and `b` are one type, or each holds the
    /// other by value (directly, in fields through `?`, or as `oneOf`
    /// variants, not through lists, sets or maps). A field of `a` whose
    /// type is `b` needs a `Box` in Rust exactly when this holds.
    pub fn held_in_cycle(&self, a: usize, b: usize) -> bool {
        self.facts().by_value.same(a, b)
    }

    /// Whether requests and responses see the type at `index` differently:
    /// it has `readOnly` or `writeOnly` fields, itself or in a type it holds
    /// (anywhere: in fields, lists, maps or variants).
    pub fn directional(&self, index: usize) -> bool {
        self.facts()
            .directional
            .get(index)
            .copied()
            .unwrap_or(false)
    }
}
