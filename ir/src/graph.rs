//! The dataflow graph: nodes (ops) in a petgraph `StableDiGraph`, values in a side table.
//!
//! Each node produces zero or more values; each value has exactly one producer. A node's
//! `inputs` list is the source of truth for its operands; the petgraph edges mirror it
//! (one edge producer -> consumer per operand slot) so that topological order and user
//! queries are cheap. All mutation goes through methods that keep the two in sync, and the
//! value table is pruned when nodes are removed (stale `ValueId`s are detected, never reused).

use crate::entities::{NodeId, ValueId};
use crate::ops::Op;
use crate::phase::Phase;
use crate::types::TensorType;
use petgraph::Direction;
use petgraph::stable_graph::StableDiGraph;
use petgraph::visit::{EdgeRef, NodeIndexable};

/// One operation with its operands and results.
#[derive(Clone, PartialEq, Debug)]
pub struct Node {
    /// The operation and its attributes.
    pub op: Op,
    /// Operands, in order.
    pub inputs: Vec<ValueId>,
    /// Results, in order.
    pub outputs: Vec<ValueId>,
    /// A name for diagnostics (the ONNX node name, possibly empty).
    pub name: String,
}

/// One tensor value.
#[derive(Clone, PartialEq, Debug)]
pub struct Value {
    /// Its type.
    pub ty: TensorType,
    /// The node producing it.
    pub producer: NodeId,
    /// Which output of the producer it is.
    pub output_index: usize,
    /// The external name (ONNX tensor name), when it has one.
    pub name: Option<String>,
    /// The calibrated real range `[lo, hi]` of an f32 activation (Calibrated phase onwards).
    pub range: Option<ValueRange>,
}

/// A calibrated real range of a value: the clipping range chosen from calibration statistics.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct ValueRange {
    /// Lower end.
    pub lo: f32,
    /// Upper end.
    pub hi: f32,
}

/// A dataflow graph in one [`Phase`].
#[derive(Clone, Debug)]
pub struct Graph {
    /// The model's name.
    pub name: String,
    /// The pipeline phase.
    pub phase: Phase,
    dag: StableDiGraph<Node, usize, u32>,
    values: Vec<Option<Value>>,
    /// Graph inputs (each produced by an [`Op::Input`] node), in order.
    pub inputs: Vec<ValueId>,
    /// Graph outputs, in order.
    pub outputs: Vec<ValueId>,
}

impl Graph {
    /// An empty float graph.
    pub fn new(name: impl Into<String>) -> Graph {
        Graph {
            name: name.into(),
            phase: Phase::Float,
            dag: StableDiGraph::default(),
            values: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// Adds a node with the given operands and result types; returns it and its results.
    ///
    /// Panics if an operand is not a live value (a programming error in a pass).
    pub fn add_node(
        &mut self,
        op: Op,
        inputs: Vec<ValueId>,
        output_types: Vec<TensorType>,
        name: impl Into<String>,
    ) -> (NodeId, Vec<ValueId>) {
        let id = NodeId(self.dag.add_node(Node {
            op,
            inputs: inputs.clone(),
            outputs: Vec::new(),
            name: name.into(),
        }));
        let mut outs = Vec::with_capacity(output_types.len());
        for (i, ty) in output_types.into_iter().enumerate() {
            let v = ValueId(self.values.len() as u32);
            self.values.push(Some(Value {
                ty,
                producer: id,
                output_index: i,
                name: None,
                range: None,
            }));
            outs.push(v);
        }
        self.dag[id.0].outputs = outs.clone();
        for (slot, v) in inputs.iter().enumerate() {
            let p = self.value(*v).producer;
            self.dag.add_edge(p.0, id.0, slot);
        }
        (id, outs)
    }

    /// Adds a graph input of the given type and name; returns its value.
    pub fn add_input(&mut self, name: impl Into<String>, ty: TensorType) -> ValueId {
        let name = name.into();
        let (_, outs) = self.add_node(Op::Input, vec![], vec![ty], name.clone());
        self.value_mut(outs[0]).name = Some(name);
        self.inputs.push(outs[0]);
        outs[0]
    }

    /// Convenience: adds a single-result node and returns the result.
    pub fn add_simple(
        &mut self,
        op: Op,
        inputs: Vec<ValueId>,
        ty: TensorType,
        name: impl Into<String>,
    ) -> ValueId {
        self.add_node(op, inputs, vec![ty], name).1[0]
    }

    /// The node `id`. Panics on a removed node.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.dag[id.0]
    }

    /// Mutable access to a node's op and name. Operands change via [`Graph::set_input`].
    pub fn op_mut(&mut self, id: NodeId) -> &mut Op {
        &mut self.dag[id.0].op
    }

    /// Renames a node.
    pub fn set_node_name(&mut self, id: NodeId, name: impl Into<String>) {
        self.dag[id.0].name = name.into();
    }

    /// Whether `id` names a live node.
    pub fn contains_node(&self, id: NodeId) -> bool {
        self.dag.contains_node(id.0)
    }

    /// The value `v`. Panics on a removed value.
    pub fn value(&self, v: ValueId) -> &Value {
        self.values[v.index()]
            .as_ref()
            .expect("use of a removed value")
    }

    /// Whether `v` names a live value.
    pub fn contains_value(&self, v: ValueId) -> bool {
        matches!(self.values.get(v.index()), Some(Some(_)))
    }

    /// Mutable access to a value (type and name).
    pub fn value_mut(&mut self, v: ValueId) -> &mut Value {
        self.values[v.index()]
            .as_mut()
            .expect("use of a removed value")
    }

    /// The type of `v`.
    pub fn ty(&self, v: ValueId) -> &TensorType {
        &self.value(v).ty
    }

    /// All live nodes, in index order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.dag.node_indices().map(NodeId)
    }

    /// All live values, in index order.
    pub fn value_ids(&self) -> impl Iterator<Item = ValueId> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .map(|(i, _)| ValueId(i as u32))
    }

    /// Number of live nodes.
    pub fn node_count(&self) -> usize {
        self.dag.node_count()
    }

    /// Upper bound of value indices (size side tables with this).
    pub fn value_bound(&self) -> usize {
        self.values.len()
    }

    /// Upper bound of node indices (size side tables with this).
    pub fn node_bound(&self) -> usize {
        self.dag.node_bound()
    }

    /// The consumers of `v` as `(node, operand slot)`, sorted.
    pub fn users(&self, v: ValueId) -> Vec<(NodeId, usize)> {
        let p = self.value(v).producer;
        let mut out: Vec<(NodeId, usize)> = self
            .dag
            .edges_directed(p.0, Direction::Outgoing)
            .filter(|e| self.dag[e.target()].inputs[*e.weight()] == v)
            .map(|e| (NodeId(e.target()), *e.weight()))
            .collect();
        out.sort();
        out
    }

    /// Replaces operand `slot` of `node` with `v`.
    pub fn set_input(&mut self, node: NodeId, slot: usize, v: ValueId) {
        let old = self.dag[node.0].inputs[slot];
        let old_p = self.value(old).producer;
        if let Some(e) = self
            .dag
            .edges_connecting(old_p.0, node.0)
            .find(|e| *e.weight() == slot)
            .map(|e| e.id())
        {
            self.dag.remove_edge(e);
        }
        let p = self.value(v).producer;
        self.dag.add_edge(p.0, node.0, slot);
        self.dag[node.0].inputs[slot] = v;
    }

    /// Replaces the whole operand list of `node`.
    pub fn set_inputs(&mut self, node: NodeId, inputs: Vec<ValueId>) {
        let old: Vec<_> = self
            .dag
            .edges_directed(node.0, Direction::Incoming)
            .map(|e| e.id())
            .collect();
        for e in old {
            self.dag.remove_edge(e);
        }
        for (slot, v) in inputs.iter().enumerate() {
            let p = self.value(*v).producer;
            self.dag.add_edge(p.0, node.0, slot);
        }
        self.dag[node.0].inputs = inputs;
    }

    /// Redirects every use of `old` (operands and graph outputs) to `new`.
    pub fn replace_all_uses(&mut self, old: ValueId, new: ValueId) {
        for (n, slot) in self.users(old) {
            self.set_input(n, slot, new);
        }
        for o in self.outputs.iter_mut() {
            if *o == old {
                *o = new;
            }
        }
    }

    /// Removes `node` and its result values. Its results must have no users left.
    pub fn remove_node(&mut self, node: NodeId) {
        let n = self
            .dag
            .remove_node(node.0)
            .expect("removing a removed node");
        for v in n.outputs {
            self.values[v.index()] = None;
        }
        self.inputs.retain(|v| self.values[v.index()].is_some());
    }

    /// Removes nodes whose results are unused and are not graph outputs (inputs stay).
    /// Returns how many were removed.
    pub fn remove_dead_nodes(&mut self) -> usize {
        let mut removed = 0;
        loop {
            let dead: Vec<NodeId> = self
                .node_ids()
                .filter(|&n| {
                    let node = self.node(n);
                    !matches!(node.op, Op::Input)
                        && node.outputs.iter().all(|&v| {
                            !self.outputs.contains(&v)
                                && self
                                    .dag
                                    .edges_directed(n.0, Direction::Outgoing)
                                    .next()
                                    .is_none()
                        })
                })
                .collect();
            if dead.is_empty() {
                return removed;
            }
            for n in dead {
                self.remove_node(n);
                removed += 1;
            }
        }
    }

    /// Nodes in a deterministic topological order, or the nodes on a cycle.
    pub fn try_topo_order(&self) -> Result<Vec<NodeId>, NodeId> {
        petgraph::algo::toposort(&self.dag, None)
            .map(|v| v.into_iter().map(NodeId).collect())
            .map_err(|c| NodeId(c.node_id()))
    }

    /// Nodes in a deterministic topological order. Panics on a cycle (the verifier rejects
    /// cyclic graphs, so this only fails on an unverified graph).
    pub fn topo_order(&self) -> Vec<NodeId> {
        self.try_topo_order().expect("graph has a cycle")
    }

    /// The node producing `v`.
    pub fn producer(&self, v: ValueId) -> &Node {
        self.node(self.value(v).producer)
    }

    /// The constant tensor behind `v`, if it is produced by [`Op::Const`].
    pub fn const_value(&self, v: ValueId) -> Option<&crate::tensor::Tensor> {
        match &self.producer(v).op {
            Op::Const(c) => Some(&c.value),
            _ => None,
        }
    }
}
