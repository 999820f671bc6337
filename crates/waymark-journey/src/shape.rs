//! Checks on the shape of a journey's graph, run with petgraph: every node
//! reachable from the first, and no cycle an instance could spin in without
//! ever waiting.

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use petgraph::visit::Dfs;

use crate::model::NodeIndex;
use crate::problem::Problem;

/// `nodes` are (id, is_wait) in file order; `edges[i]` the resolved edges of
/// node `i`, each with the field it came from.
pub(crate) fn check(nodes: &[(&str, bool)], edges: &[Vec<(String, NodeIndex)>]) -> Vec<Problem> {
    let mut problems = Vec::new();
    if nodes.is_empty() {
        return problems;
    }
    let mut graph = DiGraph::<usize, ()>::with_capacity(nodes.len(), nodes.len());
    let ids: Vec<_> = (0..nodes.len()).map(|i| graph.add_node(i)).collect();
    for (from, out) in edges.iter().enumerate() {
        for (_, to) in out {
            graph.add_edge(ids[from], ids[to.0], ());
        }
    }

    let mut seen = vec![false; nodes.len()];
    let mut dfs = Dfs::new(&graph, ids[0]);
    while let Some(n) = dfs.next(&graph) {
        seen[graph[n]] = true;
    }
    for (i, reached) in seen.iter().enumerate() {
        if !reached {
            problems.push(Problem::node(
                nodes[i].0,
                "",
                format!(
                    "unreachable: no path leads here from the first node `{}`",
                    nodes[0].0
                ),
            ));
        }
    }

    // A cycle is only safe if it passes through a wait; drop the edges out of
    // waits and any cycle left would spin without time passing.
    graph.retain_edges(|g, e| {
        let (from, _) = g.edge_endpoints(e).expect("edge exists");
        !nodes[g[from]].1
    });
    for component in tarjan_scc(&graph) {
        let looping = component.len() > 1 || graph.contains_edge(component[0], component[0]);
        if looping {
            let mut members: Vec<usize> = component.iter().map(|n| graph[*n]).collect();
            members.sort_unstable();
            let names: Vec<_> = members
                .iter()
                .map(|i| format!("`{}`", nodes[*i].0))
                .collect();
            problems.push(Problem::node(
                nodes[members[0]].0,
                "next",
                format!(
                    "cycle without a wait: {} would loop forever at one instant",
                    names.join(" -> ")
                ),
            ));
        }
    }
    problems
}
