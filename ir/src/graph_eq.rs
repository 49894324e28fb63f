//! Structural equality of graphs and the canonical node order it relies on.
//!
//! Two graphs are equal when their names, phases, node lists in canonical order, graph input
//! lists and graph output lists agree, with values identified by position (the `k`-th result
//! of the `n`-th node in canonical order). `ValueId`s and `NodeId`s themselves are not
//! compared, so a graph equals its `.qir` round trip (`parse(print(g)) == g`).
//!
//! Every f32 (constant data, attributes, quantization scales) is compared bitwise, so NaN
//! payloads and `-0.0` must survive a round trip exactly.
//!
//! The canonical order is Kahn's topological sort that always takes the ready node with the
//! smallest index. Re-indexing the nodes in that order (which is what printing and parsing
//! do) reproduces the same order, which is what makes printing deterministic and equality
//! hold across a round trip. Nodes on or behind a cycle follow, in index order.

use crate::entities::{NodeId, ValueId};
use crate::graph::Graph;
use crate::ops::*;
use crate::types::{QuantGranularity, QuantParams, TensorType};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// The canonical node order of a graph.
#[derive(Clone, Debug)]
pub(crate) struct CanonicalOrder {
    /// All live nodes: first the acyclic part in topological order, then the rest.
    pub nodes: Vec<NodeId>,
    /// How many leading entries of `nodes` are topologically ordered; the others are on or
    /// behind a cycle.
    pub acyclic: usize,
}

/// For each live value listed in some node's outputs, the first node (by index) listing it.
pub(crate) fn definitions(g: &Graph) -> HashMap<ValueId, NodeId> {
    let mut defs = HashMap::new();
    for n in g.node_ids() {
        for &v in &g.node(n).outputs {
            defs.entry(v).or_insert(n);
        }
    }
    defs
}

/// Computes the canonical order. Never panics, even on malformed graphs: operands that are
/// not defined by any node are ignored for ordering.
pub(crate) fn canonical_order(g: &Graph) -> CanonicalOrder {
    let defs = definitions(g);
    let bound = g.node_bound();
    let mut indegree = vec![0usize; bound];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); bound];
    for n in g.node_ids() {
        for v in &g.node(n).inputs {
            if let Some(p) = defs.get(v) {
                indegree[n.index()] += 1;
                succs[p.index()].push(n.index());
            }
        }
    }
    let ids: Vec<NodeId> = g.node_ids().collect();
    let mut by_index: Vec<Option<NodeId>> = vec![None; bound];
    for &n in &ids {
        by_index[n.index()] = Some(n);
    }
    let mut ready: BinaryHeap<Reverse<usize>> = ids
        .iter()
        .filter(|n| indegree[n.index()] == 0)
        .map(|n| Reverse(n.index()))
        .collect();
    let mut done = vec![false; bound];
    let mut nodes = Vec::with_capacity(ids.len());
    while let Some(Reverse(i)) = ready.pop() {
        done[i] = true;
        if let Some(n) = by_index[i] {
            nodes.push(n);
        }
        for &s in &succs[i] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                ready.push(Reverse(s));
            }
        }
    }
    let acyclic = nodes.len();
    nodes.extend(ids.iter().copied().filter(|n| !done[n.index()]));
    CanonicalOrder { nodes, acyclic }
}

impl PartialEq for Graph {
    fn eq(&self, other: &Graph) -> bool {
        if self.name != other.name || self.phase != other.phase {
            return false;
        }
        let a = canonical_order(self);
        let b = canonical_order(other);
        if a.nodes.len() != b.nodes.len() || a.acyclic != b.acyclic {
            return false;
        }
        // Map values positionally through the node outputs.
        let mut map: HashMap<ValueId, ValueId> = HashMap::new();
        for (&na, &nb) in a.nodes.iter().zip(&b.nodes) {
            let (xa, xb) = (self.node(na), other.node(nb));
            if xa.outputs.len() != xb.outputs.len() {
                return false;
            }
            for (&va, &vb) in xa.outputs.iter().zip(&xb.outputs) {
                map.entry(va).or_insert(vb);
            }
        }
        let same_value = |va: ValueId, vb: ValueId| match map.get(&va) {
            Some(&m) => m == vb,
            None => !other.contains_value(vb) && !self.contains_value(va),
        };
        let same_list = |la: &[ValueId], lb: &[ValueId]| {
            la.len() == lb.len() && la.iter().zip(lb).all(|(&x, &y)| same_value(x, y))
        };
        for (&na, &nb) in a.nodes.iter().zip(&b.nodes) {
            let (xa, xb) = (self.node(na), other.node(nb));
            if xa.name != xb.name
                || !op_eq(&xa.op, &xb.op)
                || !same_list(&xa.inputs, &xb.inputs)
                || !same_list(&xa.outputs, &xb.outputs)
            {
                return false;
            }
            for (&va, &vb) in xa.outputs.iter().zip(&xb.outputs) {
                match (self.contains_value(va), other.contains_value(vb)) {
                    (true, true) => {
                        let (ua, ub) = (self.value(va), other.value(vb));
                        if ua.name != ub.name
                            || ua.output_index != ub.output_index
                            || !type_eq(&ua.ty, &ub.ty)
                        {
                            return false;
                        }
                    }
                    (false, false) => {}
                    _ => return false,
                }
            }
        }
        same_list(&self.inputs, &other.inputs) && same_list(&self.outputs, &other.outputs)
    }
}

fn f32_eq(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits()
}

fn f32s_eq(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| f32_eq(x, y))
}

/// Type equality with bitwise scale comparison.
pub(crate) fn type_eq(a: &TensorType, b: &TensorType) -> bool {
    a.dtype == b.dtype
        && a.shape == b.shape
        && match (&a.quant, &b.quant) {
            (None, None) => true,
            (Some(x), Some(y)) => quant_eq(x, y),
            _ => false,
        }
}

pub(crate) fn quant_eq(a: &QuantParams, b: &QuantParams) -> bool {
    a.bits == b.bits
        && a.pow2 == b.pow2
        && match (&a.granularity, &b.granularity) {
            (
                QuantGranularity::PerTensor {
                    scale: sa,
                    zero_point: za,
                },
                QuantGranularity::PerTensor {
                    scale: sb,
                    zero_point: zb,
                },
            ) => f32_eq(*sa, *sb) && za == zb,
            (
                QuantGranularity::PerAxis {
                    axis: aa,
                    scales: sa,
                    zero_points: za,
                },
                QuantGranularity::PerAxis {
                    axis: ab,
                    scales: sb,
                    zero_points: zb,
                },
            ) => aa == ab && f32s_eq(sa, sb) && za == zb,
            _ => false,
        }
}

/// Op equality with bitwise f32 attributes.
pub(crate) fn op_eq(a: &Op, b: &Op) -> bool {
    match a {
        Op::Input => matches!(b, Op::Input),
        Op::Const(x) => matches!(b, Op::Const(y) if x.value == y.value),
        Op::Conv(x) => matches!(b, Op::Conv(y) if x == y),
        Op::ConvTranspose(x) => matches!(b, Op::ConvTranspose(y) if x == y),
        Op::Gemm(x) => matches!(b, Op::Gemm(y) if f32_eq(x.alpha, y.alpha)
            && f32_eq(x.beta, y.beta) && x.trans_a == y.trans_a && x.trans_b == y.trans_b),
        Op::MatMul => matches!(b, Op::MatMul),
        Op::BatchNorm(x) => matches!(b, Op::BatchNorm(y) if f32_eq(x.epsilon, y.epsilon)),
        Op::Relu => matches!(b, Op::Relu),
        Op::PRelu => matches!(b, Op::PRelu),
        Op::LeakyRelu(x) => matches!(b, Op::LeakyRelu(y) if f32_eq(x.alpha, y.alpha)),
        Op::Clip(x) => matches!(b, Op::Clip(y) if f32_eq(x.min, y.min) && f32_eq(x.max, y.max)),
        Op::Sigmoid => matches!(b, Op::Sigmoid),
        Op::HardSigmoid(x) => matches!(b, Op::HardSigmoid(y)
            if f32_eq(x.alpha, y.alpha) && f32_eq(x.beta, y.beta)),
        Op::HardSwish => matches!(b, Op::HardSwish),
        Op::Tanh => matches!(b, Op::Tanh),
        Op::Softmax(x) => matches!(b, Op::Softmax(y) if x == y),
        Op::Add => matches!(b, Op::Add),
        Op::Sub => matches!(b, Op::Sub),
        Op::Mul => matches!(b, Op::Mul),
        Op::Div => matches!(b, Op::Div),
        Op::MaxPool(x) => matches!(b, Op::MaxPool(y) if x == y),
        Op::AveragePool(x) => matches!(b, Op::AveragePool(y) if x == y),
        Op::GlobalAveragePool => matches!(b, Op::GlobalAveragePool),
        Op::ReduceMean(x) => matches!(b, Op::ReduceMean(y) if x == y),
        Op::Concat(x) => matches!(b, Op::Concat(y) if x == y),
        Op::Split(x) => matches!(b, Op::Split(y) if x == y),
        Op::Slice(x) => matches!(b, Op::Slice(y) if x == y),
        Op::Reshape => matches!(b, Op::Reshape),
        Op::Transpose(x) => matches!(b, Op::Transpose(y) if x == y),
        Op::Pad(x) => matches!(b, Op::Pad(y)
            if x.pads == y.pads && x.mode == y.mode && f32_eq(x.value, y.value)),
        Op::Resize(x) => matches!(b, Op::Resize(y) if resize_eq(x, y)),
        Op::Quantize => matches!(b, Op::Quantize),
        Op::Dequantize => matches!(b, Op::Dequantize),
        Op::ConvInt(x) => matches!(b, Op::ConvInt(y) if x == y),
        Op::ConvTransposeInt(x) => matches!(b, Op::ConvTransposeInt(y) if x == y),
        Op::GemmInt(x) => matches!(b, Op::GemmInt(y) if x == y),
        Op::MatMulInt => matches!(b, Op::MatMulInt),
        Op::Requant(x) => matches!(b, Op::Requant(y) if x == y),
        Op::AddInt(x) => matches!(b, Op::AddInt(y) if x == y),
        Op::MulInt(x) => matches!(b, Op::MulInt(y) if x == y),
        Op::AvgPoolInt(x) => matches!(b, Op::AvgPoolInt(y) if x == y),
        Op::Lut(x) => matches!(b, Op::Lut(y) if x == y),
        Op::SoftmaxInt(x) => matches!(b, Op::SoftmaxInt(y) if x == y),
        Op::ResizeInt(x) => matches!(b, Op::ResizeInt(y) if resize_eq(&x.resize, &y.resize)
            && x.frac_bits == y.frac_bits && x.rounding == y.rounding),
    }
}

/// Resize attribute equality with bitwise scales.
fn resize_eq(x: &ResizeAttrs, y: &ResizeAttrs) -> bool {
    x.mode == y.mode
        && x.coord == y.coord
        && x.nearest == y.nearest
        && f32s_eq(&x.scales, &y.scales)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    fn tiny(order_consts_first: bool) -> Graph {
        let mut g = Graph::new("t");
        let x = g.add_input("x", TensorType::f32(vec![2]));
        let mk = |g: &mut Graph, v: f32| {
            g.add_simple(
                Op::Const(ConstAttrs {
                    value: Tensor::from_f32(vec![2], vec![v, v]),
                }),
                vec![],
                TensorType::f32(vec![2]),
                "",
            )
        };
        let (c1, c2) = if order_consts_first {
            (mk(&mut g, 1.0), mk(&mut g, 2.0))
        } else {
            let c2 = mk(&mut g, 2.0);
            (mk(&mut g, 1.0), c2)
        };
        let a = g.add_simple(Op::Add, vec![x, c1], TensorType::f32(vec![2]), "a");
        let m = g.add_simple(Op::Mul, vec![a, c2], TensorType::f32(vec![2]), "m");
        g.outputs.push(m);
        g
    }

    #[test]
    fn equal_to_itself_and_clone() {
        let g = tiny(true);
        assert!(g == g.clone());
    }

    #[test]
    fn differs_on_constant_bits() {
        let g = tiny(true);
        let mut h = g.clone();
        let c = h.node_ids().nth(1).unwrap();
        *h.op_mut(c) = Op::Const(ConstAttrs {
            value: Tensor::from_f32(vec![2], vec![-0.0, 1.0]),
        });
        let mut k = g.clone();
        *k.op_mut(c) = Op::Const(ConstAttrs {
            value: Tensor::from_f32(vec![2], vec![0.0, 1.0]),
        });
        assert!(h != k);
        assert!(g != h);
    }

    #[test]
    fn differs_on_names_and_outputs() {
        let g = tiny(true);
        let mut h = g.clone();
        let n = h.node_ids().last().unwrap();
        h.set_node_name(n, "other");
        assert!(g != h);
        let mut k = g.clone();
        k.outputs.clear();
        assert!(g != k);
        let mut p = g.clone();
        p.phase = crate::Phase::Integer;
        assert!(g != p);
    }

    #[test]
    fn construction_order_of_independent_nodes_matters_only_through_index_order() {
        // Constants created in another order sit at other indices: the canonical order
        // differs, and so the graphs compare unequal (equality is positional, not an
        // isomorphism test).
        assert!(tiny(true) != tiny(false));
    }

    #[test]
    fn canonical_order_puts_cycles_last() {
        let mut g = Graph::new("c");
        let x = g.add_input("x", TensorType::f32(vec![1]));
        let a = g.add_simple(Op::Relu, vec![x], TensorType::f32(vec![1]), "a");
        let b = g.add_simple(Op::Relu, vec![a], TensorType::f32(vec![1]), "b");
        let na = g.value(a).producer;
        g.set_input(na, 0, b);
        let order = canonical_order(&g);
        assert_eq!(order.acyclic, 1);
        assert_eq!(order.nodes.len(), 3);
    }
}
