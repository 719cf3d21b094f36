//! The named types reachable from a type, found with a work list.
//!
//! Several emitter decisions depend on every type a type holds (sensitive
//! fields to redact, whether a decode is exact, whether a field needs a
//! `Box`, whether requests see a type differently). They used to recurse
//! once per type on the way, so a valid chain of some 20,000 types, each
//! holding the next, overflowed the stack in `svcc build --target rust`.
//! Walking a list instead keeps the stack flat however long the chain is.

use crate::ast::{TypeBody, TypeDef, TypeExpr, TypeExprKind};
use crate::resolve::Model;
use std::collections::BTreeSet;

/// Which references a walk follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Every named type in an expression, inside lists, sets, maps and options.
    Everywhere,
    /// Only a value held directly: `T` or `T?`, not `list<T>` (what a Rust
    /// struct holds by value, so a cycle of them needs a `Box`).
    ByValue,
}

/// The named types an expression refers to (type indexes).
pub fn named_in(model: &Model, expr: &TypeExpr, follow: Follow) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match &e.kind {
            TypeExprKind::Named { name, library } => {
                out.extend(model.type_index(name, *library));
            }
            TypeExprKind::Optional(t) => stack.push(t),
            TypeExprKind::List(t) | TypeExprKind::Set(t) | TypeExprKind::Map(t)
                if follow == Follow::Everywhere =>
            {
                stack.push(t)
            }
            _ => {}
        }
    }
    out
}

/// What a type refers to: the types of its fields (inherited ones too,
/// a redeclared one once) or its `oneOf` variants.
pub fn field_types<'m>(model: &'m Model, def: &'m TypeDef) -> Vec<&'m TypeExpr> {
    match &def.body {
        TypeBody::Object { .. } => model
            .all_fields(def)
            .into_iter()
            .filter_map(|(f, _)| f.ty.as_ref())
            .collect(),
        TypeBody::OneOf { variants, .. } => variants.iter().map(|(_, e)| e).collect(),
        TypeBody::Enum(_) | TypeBody::Invalid => Vec::new(),
    }
}

/// Every type reachable from `starts` (themselves included), each once,
/// following the expressions `refers` gives for a type.
pub fn reachable<'m>(
    model: &'m Model,
    starts: Vec<usize>,
    follow: Follow,
    refers: impl Fn(&'m TypeDef) -> Vec<&'m TypeExpr>,
) -> Vec<usize> {
    let mut seen: BTreeSet<usize> = BTreeSet::new();
    let mut order = Vec::new();
    let mut work = starts;
    while let Some(i) = work.pop() {
        if !seen.insert(i) {
            continue;
        }
        order.push(i);
        let Some(def) = model.ast.types.get(i) else {
            continue;
        };
        for e in refers(def) {
            work.extend(named_in(model, e, follow));
        }
    }
    order
}

/// For every type (by index), the types it refers to, as `follow` and
/// `refers` say: the whole graph at once, for the questions asked of
/// every type (answering each with a walk of its own would take time
/// quadratic in a long chain of types).
pub fn graph<'m>(
    model: &'m Model,
    follow: Follow,
    refers: impl Fn(&'m TypeDef) -> Vec<&'m TypeExpr>,
) -> Vec<Vec<usize>> {
    model
        .ast
        .types
        .iter()
        .map(|def| {
            refers(def)
                .into_iter()
                .flat_map(|e| named_in(model, e, follow))
                .collect()
        })
        .collect()
}

/// Each type's strongly connected component: two types reach each other
/// exactly when they share one (petgraph's Kosaraju, which walks with a
/// stack of its own; its Tarjan recurses).
pub fn components(edges: &[Vec<usize>]) -> Vec<usize> {
    use petgraph::graph::{DiGraph, NodeIndex};
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(edges.len(), 0);
    for _ in edges {
        g.add_node(());
    }
    for (from, to) in edges.iter().enumerate() {
        for &t in to.iter().filter(|&&t| t < edges.len()) {
            g.add_edge(NodeIndex::new(from), NodeIndex::new(t), ());
        }
    }
    let mut out = vec![0; edges.len()];
    for (i, c) in petgraph::algo::kosaraju_scc(&g).into_iter().enumerate() {
        for n in c {
            out[n.index()] = i;
        }
    }
    out
}

/// Whether each type reaches (or is) a type that `marked` says: one walk
/// backwards from the marked ones.
pub fn reaches_marked(edges: &[Vec<usize>], marked: &[bool]) -> Vec<bool> {
    let mut back: Vec<Vec<usize>> = vec![Vec::new(); edges.len()];
    for (from, to) in edges.iter().enumerate() {
        for &t in to {
            if let Some(b) = back.get_mut(t) {
                b.push(from);
            }
        }
    }
    let mut out: Vec<bool> = (0..edges.len())
        .map(|i| marked.get(i).copied().unwrap_or(false))
        .collect();
    let mut work: Vec<usize> = (0..edges.len()).filter(|&i| out[i]).collect();
    while let Some(i) = work.pop() {
        for &from in &back[i] {
            if !out[from] {
                out[from] = true;
                work.push(from);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_and_marks_of_a_long_chain() {
        // 0 -> 1 -> ... -> n-1 -> 0 is one component; a tail n -> 0 is not
        let n = 200_000;
        let mut edges: Vec<Vec<usize>> = (0..n).map(|i| vec![(i + 1) % n]).collect();
        edges.push(vec![0]);
        let c = components(&edges);
        assert!(c[..n].iter().all(|&x| x == c[0]));
        assert_ne!(c[n], c[0]);
        let mut marked = vec![false; n + 1];
        marked[n / 2] = true;
        assert!(reaches_marked(&edges, &marked).iter().all(|&r| r));
        let mut chain: Vec<Vec<usize>> = (0..n).map(|i| vec![i + 1]).collect();
        chain.push(Vec::new());
        let r = reaches_marked(&chain, &marked);
        assert!(r[0] && r[n / 2] && !r[n / 2 + 1]);
    }
}
