//! Structural invariants: live operands and results, consistent producers, graph inputs and
//! outputs, acyclicity. Every failure here is fatal.

use super::{Loc, Sink};
use crate::entities::NodeId;
use crate::graph::Graph;
use crate::graph_eq::{canonical_order, definitions};
use crate::ops::Op;
use std::collections::{HashMap, HashSet};

pub(super) fn check(g: &Graph, sink: &mut Sink) {
    for n in g.node_ids() {
        let node = g.node(n);
        for (slot, &v) in node.inputs.iter().enumerate() {
            if !g.contains_value(v) {
                sink.fatal(Loc::Node(n), format!("operand {slot} is not a live value"));
            }
        }
        for (i, &v) in node.outputs.iter().enumerate() {
            if !g.contains_value(v) {
                sink.fatal(Loc::Node(n), format!("result {i} is not a live value"));
                continue;
            }
            let val = g.value(v);
            if val.producer != n {
                sink.fatal(
                    Loc::Node(n),
                    format!("result {i} names another node as its producer"),
                );
            } else if val.output_index != i {
                sink.fatal(
                    Loc::Node(n),
                    format!("result {i} has output_index {}", val.output_index),
                );
            }
        }
    }
    for v in g.value_ids() {
        let val = g.value(v);
        if !g.contains_node(val.producer) {
            sink.fatal(
                Loc::Header,
                format!("value {v} is produced by a removed node"),
            );
        } else if g.node(val.producer).outputs.get(val.output_index) != Some(&v) {
            sink.fatal(
                Loc::Node(val.producer),
                format!(
                    "value {v} is not listed as result {} of its producer",
                    val.output_index
                ),
            );
        }
    }

    let mut seen = HashSet::new();
    for (i, &v) in g.inputs.iter().enumerate() {
        if !g.contains_value(v) {
            sink.fatal(Loc::Inputs, format!("graph input {i} is not a live value"));
            continue;
        }
        if !seen.insert(v) {
            sink.error(Loc::Inputs, format!("graph input {i} is listed twice"));
        }
        let p = g.value(v).producer;
        if g.contains_node(p) && !matches!(g.node(p).op, Op::Input) {
            sink.error(
                Loc::Inputs,
                format!("graph input {i} is not produced by an `input` node"),
            );
        }
    }
    for n in g.node_ids() {
        let node = g.node(n);
        if matches!(node.op, Op::Input) && node.outputs.iter().any(|v| !seen.contains(v)) {
            sink.error(Loc::Node(n), "`input` node is not a graph input");
        }
    }
    for (i, &v) in g.outputs.iter().enumerate() {
        if !g.contains_value(v) {
            sink.fatal(
                Loc::Outputs,
                format!("graph output {i} is not a live value"),
            );
        }
    }

    for n in nodes_on_cycles(g) {
        sink.fatal(Loc::Node(n), "node is part of a cycle");
    }
}

/// Nodes that can reach themselves (only nodes left over by the canonical order can).
fn nodes_on_cycles(g: &Graph) -> Vec<NodeId> {
    let order = canonical_order(g);
    let rest = &order.nodes[order.acyclic..];
    if rest.is_empty() {
        return Vec::new();
    }
    let defs = definitions(g);
    // Successor lists restricted to the leftover nodes.
    let in_rest: HashSet<NodeId> = rest.iter().copied().collect();
    let mut succs: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
    for &n in rest {
        for v in &g.node(n).inputs {
            if let Some(&p) = defs.get(v)
                && in_rest.contains(&p)
            {
                succs.entry(p).or_default().push(n);
            }
        }
    }
    rest.iter()
        .copied()
        .filter(|&start| {
            let mut stack: Vec<NodeId> = succs.get(&start).cloned().unwrap_or_default();
            let mut visited = HashSet::new();
            while let Some(n) = stack.pop() {
                if n == start {
                    return true;
                }
                if visited.insert(n) {
                    stack.extend(succs.get(&n).into_iter().flatten().copied());
                }
            }
            false
        })
        .collect()
}
