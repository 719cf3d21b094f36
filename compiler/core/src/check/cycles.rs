//! Cycles and chains in the project's directed graphs (synchronous calls
//! between services, events through the handlers they run), in time linear
//! in the graph: its strongly connected components (petgraph's Kosaraju),
//! then one shortest cycle for each component that has one.
//!
//! The first version enumerated every simple cycle and every path, which
//! takes exponential time on a densely connected project: twelve services
//! that all call each other did not finish checking in 30 seconds. Now a
//! component is reported once, with a shortest cycle through its first
//! node and the list of its members; fixing that cycle shows the next.

use petgraph::graph::{DiGraph, NodeIndex};

/// A directed graph over the nodes `0..n`, numbered by the caller (sorted
/// names, so that every order below is stable), with its components.
pub struct Digraph {
    /// Each node's successors, ascending, without repeats.
    successors: Vec<Vec<usize>>,
    /// Each node's component (an index into `components`).
    component: Vec<usize>,
    /// The components, each ascending, successors' components first.
    components: Vec<Vec<usize>>,
}

/// A [`Digraph`] over names, its nodes numbered in name order.
pub struct Named<'a> {
    /// Every name, sorted: a node is its name's index here.
    pub names: Vec<&'a str>,
    /// The graph.
    pub graph: Digraph,
}

impl<'a> Named<'a> {
    /// The graph of `nodes` and `edges` (whose ends are nodes too).
    pub fn new(
        nodes: impl IntoIterator<Item = &'a str>,
        edges: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let edges: Vec<(&str, &str)> = edges.into_iter().collect();
        let mut names: Vec<&str> = nodes
            .into_iter()
            .chain(edges.iter().flat_map(|&(from, to)| [from, to]))
            .collect();
        names.sort_unstable();
        names.dedup();
        let index = |name: &str| names.binary_search(&name).ok();
        let numbered: Vec<(usize, usize)> = edges
            .iter()
            .filter_map(|&(from, to)| Some((index(from)?, index(to)?)))
            .collect();
        let graph = Digraph::new(names.len(), numbered);
        Named { names, graph }
    }

    /// The node of `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.binary_search(&name).ok()
    }

    /// The names of `nodes`.
    pub fn names_of(&self, nodes: &[usize]) -> Vec<&'a str> {
        nodes.iter().map(|&n| self.names[n]).collect()
    }
}

/// A component with a cycle: a shortest cycle through its first node and
/// all its members.
pub struct Cycle {
    /// `[a, b, c]` for `a -> b -> c -> a`; `[a]` for an edge `a -> a`.
    pub path: Vec<usize>,
    /// Every node of the component, ascending.
    pub members: Vec<usize>,
}

impl Digraph {
    /// The graph of `n` nodes with `edges` (repeats ignored).
    pub fn new(n: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut successors = vec![Vec::new(); n];
        for (from, to) in edges {
            if from < n && to < n {
                successors[from].push(to);
            }
        }
        for list in &mut successors {
            list.sort_unstable();
            list.dedup();
        }
        let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(n, 0);
        for _ in 0..n {
            graph.add_node(());
        }
        for (from, list) in successors.iter().enumerate() {
            for &to in list {
                graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
            }
        }
        // Kosaraju gives the components in reverse topological order, and
        // walks with a stack of its own: petgraph's Tarjan recurses once per
        // node of a path, and a chain of 30,000 services calling each other
        // overflowed the stack of `svcc check`.
        let components: Vec<Vec<usize>> = petgraph::algo::kosaraju_scc(&graph)
            .into_iter()
            .map(|c| {
                let mut nodes: Vec<usize> = c.into_iter().map(NodeIndex::index).collect();
                nodes.sort_unstable();
                nodes
            })
            .collect();
        let mut component = vec![0; n];
        for (i, nodes) in components.iter().enumerate() {
            for &node in nodes {
                component[node] = i;
            }
        }
        Digraph {
            successors,
            component,
            components,
        }
    }

    /// Whether `from -> to` stays inside a component with a cycle: an edge
    /// that chains skip, since the cycle is reported on its own.
    fn inside_cycle(&self, from: usize, to: usize) -> bool {
        self.component[from] == self.component[to]
    }

    /// One [`Cycle`] per component that has one, ordered by first node.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut found: Vec<Cycle> = self
            .components
            .iter()
            .filter_map(|members| {
                let first = *members.first()?;
                let path = self.shortest_cycle(first)?;
                Some(Cycle {
                    path,
                    members: members.clone(),
                })
            })
            .collect();
        found.sort_by_key(|c| c.path[0]);
        found
    }

    /// A shortest cycle through `start` (breadth first, successors in
    /// order), or `None` when it is on none.
    fn shortest_cycle(&self, start: usize) -> Option<Vec<usize>> {
        let mut parent: Vec<Option<usize>> = vec![None; self.successors.len()];
        let mut queue = std::collections::VecDeque::from([start]);
        let mut seen = vec![false; self.successors.len()];
        seen[start] = true;
        while let Some(node) = queue.pop_front() {
            for &next in &self.successors[node] {
                if next == start {
                    let mut path = vec![node];
                    while let Some(p) = parent[*path.last()?] {
                        path.push(p);
                    }
                    path.reverse();
                    return Some(path);
                }
                if !seen[next] && self.inside_cycle(start, next) {
                    seen[next] = true;
                    parent[next] = Some(node);
                    queue.push_back(next);
                }
            }
        }
        None
    }

    /// For each node, the next node of the longest chain of edges from it
    /// that leaves every component it enters (`None` at the chain's end),
    /// and the chain's length in nodes. Ties go to the smaller successor.
    pub fn longest_chains(&self) -> Vec<(usize, Option<usize>)> {
        let mut best = vec![(1, None); self.successors.len()];
        // successors' components come first, so theirs are final
        for nodes in &self.components {
            for &node in nodes {
                for &next in &self.successors[node] {
                    if !self.inside_cycle(node, next) && best[next].0 + 1 > best[node].0 {
                        best[node] = (best[next].0 + 1, Some(next));
                    }
                }
            }
        }
        best
    }

    /// The chain from `from` that [`Digraph::longest_chains`] found.
    pub fn chain(best: &[(usize, Option<usize>)], from: usize) -> Vec<usize> {
        let mut chain = vec![from];
        while let Some(next) = chain.last().and_then(|&n| best.get(n)).and_then(|b| b.1) {
            chain.push(next);
        }
        chain
    }

    /// The nodes reachable from `from`, itself first, each once, depth first
    /// with successors in order.
    pub fn reachable(&self, from: usize) -> Vec<usize> {
        let mut seen = vec![false; self.successors.len()];
        let mut order = Vec::new();
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            if std::mem::replace(&mut seen[node], true) {
                continue;
            }
            order.push(node);
            stack.extend(self.successors[node].iter().rev().filter(|&&n| !seen[n]));
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_component_is_one_cycle_through_its_first_node() {
        // 0 -> 1 -> 2 -> 0 and 1 -> 3 -> 1 share 1; 4 -> 4; 5 -> 6 is no cycle
        let g = Digraph::new(7, [(0, 1), (1, 2), (2, 0), (1, 3), (3, 1), (4, 4), (5, 6)]);
        let cycles = g.cycles();
        let found: Vec<(&[usize], &[usize])> = cycles
            .iter()
            .map(|c| (c.path.as_slice(), c.members.as_slice()))
            .collect();
        assert_eq!(
            found,
            [(&[0, 1, 2][..], &[0, 1, 2, 3][..]), (&[4][..], &[4][..])]
        );
    }

    #[test]
    fn the_cycle_found_is_a_shortest_one() {
        // 0 -> 1 -> 2 -> 3 -> 0, and a shortcut 1 -> 0
        let g = Digraph::new(4, [(0, 1), (1, 2), (2, 3), (3, 0), (1, 0)]);
        assert_eq!(g.cycles()[0].path, [0, 1]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        // 30,000 services calling each other in a line overflowed `svcc
        // check` (petgraph's Tarjan recurses once per node of a path); this
        // runs on a test thread's 2 MiB stack
        let n = 50_000;
        let g = Digraph::new(n, (0..n).map(|i| (i, (i + 1) % n)));
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].members.len(), n);
        let line = Digraph::new(n, (1..n).map(|i| (i - 1, i)));
        assert!(line.cycles().is_empty());
    }

    #[test]
    fn a_dense_graph_takes_no_time() {
        // every node calls every other: 40! simple cycles to enumerate
        let n = 40;
        let edges = (0..n).flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)));
        let g = Digraph::new(n, edges);
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].path, [0, 1]);
        assert_eq!(cycles[0].members.len(), n);
        let best = g.longest_chains();
        assert!(best.iter().all(|b| *b == (1, None)));
        assert_eq!(g.reachable(7).len(), n);
    }

    #[test]
    fn longest_chains_leave_cycles_and_prefer_the_smaller_successor() {
        // 0 -> 1 -> 2 -> 3; 0 -> 4 -> 5 -> 6 (as long: 1 wins); 2 <-> 7
        let g = Digraph::new(
            8,
            [
                (0, 1),
                (1, 2),
                (2, 3),
                (0, 4),
                (4, 5),
                (5, 6),
                (2, 7),
                (7, 2),
                (7, 3),
            ],
        );
        let best = g.longest_chains();
        assert_eq!(Digraph::chain(&best, 0), [0, 1, 2, 3]);
        assert_eq!(Digraph::chain(&best, 7), [7, 3]);
        assert_eq!(Digraph::chain(&best, 6), [6]);
    }

    #[test]
    fn reachable_is_depth_first_in_order_each_once() {
        let g = Digraph::new(5, [(0, 2), (0, 1), (1, 3), (2, 3), (3, 0), (4, 0)]);
        assert_eq!(g.reachable(0), [0, 1, 3, 2]);
        assert_eq!(g.reachable(4), [4, 0, 1, 3, 2]);
    }
}
