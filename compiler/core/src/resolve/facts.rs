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
use crate::ast::{Primitive, TypeBody, TypeExprKind};
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

/// For each node of a graph over `0..n`, `own` of every node it reaches
/// (itself included) joined: one pass over the strongly connected
/// components, successors' first (Kosaraju gives them in that order), so
/// each node and edge is looked at once.
fn reach_join<V: Clone>(
    successors: &[Vec<usize>],
    mut own: Vec<V>,
    join: impl Fn(&mut V, &V),
) -> Vec<V> {
    let n = successors.len().min(own.len());
    let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(n, 0);
    for _ in 0..n {
        graph.add_node(());
    }
    for (from, list) in successors.iter().enumerate().take(n) {
        for &to in list.iter().filter(|&&to| to < n) {
            graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
        }
    }
    let components: Vec<Vec<usize>> = petgraph::algo::kosaraju_scc(&graph)
        .into_iter()
        .map(|c| c.into_iter().map(NodeIndex::index).collect())
        .collect();
    let mut component_of = vec![0; n];
    for (c, members) in components.iter().enumerate() {
        for &m in members {
            component_of[m] = c;
        }
    }
    for (c, members) in components.iter().enumerate() {
        let Some((&first, rest)) = members.split_first() else {
            continue;
        };
        let mut value = own[first].clone();
        for &m in rest {
            join(&mut value, &own[m]);
        }
        // successors outside the component are final already
        for &m in members {
            for &to in successors[m].iter().filter(|&&to| to < n) {
                if component_of[to] != c {
                    join(&mut value, &own[to]);
                }
            }
        }
        for &m in members {
            own[m] = value.clone();
        }
    }
    own
}

/// What [`Model`] computes about its types on first use.
#[derive(Debug, Default)]
pub(super) struct TypeFacts {
    /// Components of the graph of types held by value: a field's type
    /// through `?` (not through lists, sets or maps), a `oneOf` variant.
    by_value: Components,
    /// Per type: requests and responses see it differently.
    directional: Vec<bool>,
    /// Per type: the names of the sensitive fields it holds, anywhere.
    sensitive: Vec<std::collections::BTreeSet<String>>,
    /// Per type: a `pattern` or length applies, in it or in a type it
    /// holds, to a value that is parsed from its text.
    parsed_text_checks: Vec<bool>,
}

/// Whether a field has text checks (`pattern`, `minLength`, `maxLength`)
/// on a value parsed from its text (a decimal, a date, a UUID...), whose
/// canonical text is not the text as sent.
fn checks_parsed_text(f: &crate::ast::Field) -> bool {
    let c = &f.constraints;
    let text_checks = c.pattern.is_some() || c.min_length.is_some() || c.max_length.is_some();
    let parsed = f.ty.as_ref().is_some_and(|t| {
        matches!(
            innermost(t),
            TypeExprKind::Primitive(p) if p.is_stringy()
                && !matches!(p, Primitive::String | Primitive::Email | Primitive::Uri | Primitive::Time | Primitive::Duration)
        )
    });
    text_checks && parsed
}

/// The type inside lists, sets, maps and options.
fn innermost(expr: &crate::ast::TypeExpr) -> &TypeExprKind {
    match &expr.kind {
        TypeExprKind::List(t)
        | TypeExprKind::Set(t)
        | TypeExprKind::Map(t)
        | TypeExprKind::Optional(t) => innermost(t),
        k => k,
    }
}

impl TypeFacts {
    pub(super) fn new(model: &Model) -> Self {
        let types = &model.ast.types;
        let n = types.len();
        let held = |expr: &crate::ast::TypeExpr| match &expr.required().kind {
            TypeExprKind::Named { name, library } => model.type_index(name, *library),
            _ => None,
        };
        let named_in = |expr: &crate::ast::TypeExpr, out: &mut Vec<usize>| {
            visit_named(expr, &mut |name, library, _| {
                out.extend(model.type_index(name, library));
            });
        };
        let mut by_value = Vec::new();
        // the types each type refers to, anywhere in a field or a variant:
        // through its fields (inherited ones included, redeclared ones as
        // redeclared), and through every declaration of its chain
        let mut refers: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut declares: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut direct = vec![false; n];
        let mut sensitive = vec![std::collections::BTreeSet::new(); n];
        let mut parsed = vec![false; n];
        for (i, def) in types.iter().enumerate() {
            match &def.body {
                TypeBody::Object { .. } => {
                    for (f, _) in model.all_fields(def) {
                        let c = &f.constraints;
                        direct[i] |= c.read_only || c.write_only;
                        if c.sensitive {
                            sensitive[i].insert(f.name.value.clone());
                        }
                        if let Some(t) = &f.ty {
                            by_value.extend(held(t).map(|to| (i, to)));
                            named_in(t, &mut refers[i]);
                        }
                    }
                    for d in model.extends_chain(def) {
                        let TypeBody::Object { fields, .. } = &d.body else {
                            continue;
                        };
                        for f in fields {
                            parsed[i] |= checks_parsed_text(f);
                            if let Some(t) = &f.ty {
                                named_in(t, &mut declares[i]);
                            }
                        }
                    }
                }
                TypeBody::OneOf { variants, .. } => {
                    for (_, t) in variants {
                        by_value.extend(held(t).map(|to| (i, to)));
                        named_in(t, &mut refers[i]);
                        named_in(t, &mut declares[i]);
                    }
                }
                TypeBody::Enum(_) | TypeBody::Invalid => {}
            }
        }
        TypeFacts {
            by_value: Components::new(n, by_value),
            directional: reach_join(&refers, direct, |a, b| *a |= *b),
            sensitive: reach_join(&refers, sensitive, |a, b| a.extend(b.iter().cloned())),
            parsed_text_checks: reach_join(&declares, parsed, |a, b| *a |= *b),
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

    /// The names of the `sensitive` fields of the type at `index` and of
    /// every type it holds (anywhere: in fields, lists, maps or variants).
    pub fn sensitive_fields(&self, index: usize) -> &std::collections::BTreeSet<String> {
        static NONE: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        self.facts().sensitive.get(index).unwrap_or(&NONE)
    }

    /// Whether a `pattern`, `minLength` or `maxLength` applies, in the type
    /// at `index` or in a type it holds (through every declaration of a
    /// field, redeclared ones included), to a value parsed from its text
    /// (a decimal, a date, a UUID...): checks of the parsed value see its
    /// canonical text, a JSON Schema validator the text as sent.
    pub fn checks_parsed_text(&self, index: usize) -> bool {
        self.facts()
            .parsed_text_checks
            .get(index)
            .copied()
            .unwrap_or(false)
    }
}
