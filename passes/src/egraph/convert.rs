//! Conversion between an [`ir::Graph`] and the e-graph language.
//!
//! Forward ([`graph_to_nodes`]): every node in topological order becomes one e-node (a
//! [`Op::Split`] becomes one `split` e-node per result), and the graph outputs become the
//! `outputs` root. The sink is either a [`RecExpr`] or an e-graph: both hand back an [`Id`]
//! per added node.
//!
//! Backward ([`nodes_to_graph`]): given a way to pick one e-node per id (the `RecExpr`
//! itself, or the extractor's best node per e-class), rebuild the program *inside* the
//! original graph: graph inputs and original constants are reused, every other node is
//! added anew, the graph outputs are redirected, and the nodes nothing uses any more are
//! removed. Shared e-classes become shared values (memoized per id).

use super::lang::{QLang, Tables, op_node};
use egg::{Id, RecExpr};
use ir::{Graph, Op, Shape, TensorType, ValueId};
use std::collections::HashMap;

/// A conversion failure (a malformed graph or expression).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    /// An op with an operand count the language has no form for.
    #[error(transparent)]
    Arity(#[from] super::lang::ArityError),
    /// An expression node that is not an op where an operand is expected.
    #[error("expression node {0} is not a tensor operation")]
    NotAnOp(usize),
    /// An `input` node that does not name a graph input.
    #[error("input node {0} does not name a graph input")]
    UnknownInput(usize),
    /// The graph has a cycle.
    #[error("graph has a cycle")]
    Cycle,
}

/// The result of a forward conversion.
#[derive(Debug)]
pub struct Forward {
    /// The `outputs` root.
    pub root: Id,
    /// The id of every converted value.
    pub class_of: HashMap<ValueId, Id>,
    /// `(id, node name)` for every converted node, in topological order.
    pub names: Vec<(Id, String)>,
}

/// Whether the op's third operand is optional (then absent operands become `none`).
fn has_optional_third(op: &Op) -> bool {
    matches!(
        op,
        Op::Conv(_)
            | Op::ConvTranspose(_)
            | Op::Gemm(_)
            | Op::ConvInt(_)
            | Op::ConvTransposeInt(_)
            | Op::GemmInt(_)
    )
}

/// Converts `g` into e-nodes through `add`, interning types and attributes in `tables`.
pub fn graph_to_nodes(
    g: &Graph,
    tables: &mut Tables,
    mut add: impl FnMut(QLang) -> Id,
) -> Result<Forward, ConvertError> {
    let order = g.try_topo_order().map_err(|_| ConvertError::Cycle)?;
    let mut class_of = HashMap::new();
    let mut names = Vec::new();
    let mut none = None;
    for n in order {
        let node = g.node(n);
        let mut operands: Vec<Id> = node.inputs.iter().map(|v| class_of[v]).collect();
        if has_optional_third(&node.op) && operands.len() == 2 {
            operands.push(*none.get_or_insert_with(|| add(QLang::NoneArg)));
        }
        let a = tables.attr(&node.op);
        if matches!(node.op, Op::Input | Op::Const(_)) {
            tables.origin.insert(a.0, node.outputs[0]);
        }
        let a_id = add(QLang::Attr(a));
        for (k, &out) in node.outputs.iter().enumerate() {
            let t = tables.ty(g.ty(out));
            let t_id = add(QLang::Ty(t));
            let mut ops = operands.clone();
            if matches!(node.op, Op::Split(_)) {
                ops.insert(0, add(QLang::Num(k as i64)));
            }
            let id = add(op_node(&node.op, t_id, a_id, &ops)?);
            class_of.insert(out, id);
            names.push((id, node.name.clone()));
        }
    }
    let outs: Vec<Id> = g.outputs.iter().map(|v| class_of[v]).collect();
    let root = add(QLang::Outputs(outs.into_boxed_slice()));
    Ok(Forward {
        root,
        class_of,
        names,
    })
}

/// Converts `g` into a [`RecExpr`] whose root is the `outputs` node.
pub fn graph_to_recexpr(
    g: &Graph,
    tables: &mut Tables,
) -> Result<(RecExpr<QLang>, Forward), ConvertError> {
    let mut rec = RecExpr::default();
    let fwd = graph_to_nodes(g, tables, |n| rec.add(n))?;
    Ok((rec, fwd))
}

/// Rebuilds the program rooted at the `outputs` node `root` inside `g` (see the module doc).
/// `node(id)` picks the e-node for an id; `name(id)` names the node built for it. Returns the
/// number of nodes added.
pub fn nodes_to_graph<'n>(
    g: &mut Graph,
    tables: &Tables,
    root: Id,
    node: impl Fn(Id) -> &'n QLang,
    name: impl Fn(Id) -> String,
) -> Result<usize, ConvertError> {
    let QLang::Outputs(outs) = node(root) else {
        return Err(ConvertError::NotAnOp(usize::from(root)));
    };
    let outs = outs.clone();
    let mut memo: HashMap<Id, ValueId> = HashMap::new();
    let mut splits: HashMap<(Id, Id), Vec<ValueId>> = HashMap::new();
    let mut added = 0;
    // Iterative post-order: (id, operands pushed?).
    let mut stack: Vec<(Id, bool)> = outs.iter().rev().map(|&o| (o, false)).collect();
    while let Some((id, ready)) = stack.pop() {
        if memo.contains_key(&id) {
            continue;
        }
        let n = node(id);
        let (t, a, operands) = n.parts().ok_or(ConvertError::NotAnOp(usize::from(id)))?;
        let operands: Vec<Id> = operands
            .iter()
            .copied()
            .filter(|&o| !matches!(node(o), QLang::NoneArg | QLang::Num(_)))
            .collect();
        if !ready {
            stack.push((id, true));
            for &o in operands.iter().rev() {
                if !memo.contains_key(&o) {
                    stack.push((o, false));
                }
            }
            continue;
        }
        let (QLang::Ty(t), QLang::Attr(a)) = (node(t), node(a)) else {
            return Err(ConvertError::NotAnOp(usize::from(id)));
        };
        let ty = tables.types[t.0 as usize].clone();
        let op = &tables.attrs[a.0 as usize];
        let inputs: Vec<ValueId> = operands.iter().map(|o| memo[o]).collect();
        let origin = tables
            .origin
            .get(&a.0)
            .copied()
            .filter(|&v| g.contains_value(v));
        let v = match (op, origin) {
            (Op::Input | Op::Const(_), Some(v)) => v,
            (Op::Input, None) => return Err(ConvertError::UnknownInput(usize::from(id))),
            (Op::Split(s), _) => {
                let k = match n.parts().map(|p| node(p.2[0])) {
                    Some(QLang::Num(k)) => *k as usize,
                    _ => return Err(ConvertError::NotAnOp(usize::from(id))),
                };
                let key = (n.parts().map_or(id, |p| p.1), operands[0]);
                if !splits.contains_key(&key) {
                    let types = s
                        .sizes
                        .iter()
                        .map(|&size| {
                            let mut dims = ty.shape.dims().to_vec();
                            dims[s.axis] = size;
                            TensorType {
                                dtype: ty.dtype,
                                shape: Shape(dims),
                                quant: ty.quant.clone(),
                            }
                        })
                        .collect();
                    let (_, outs) = g.add_node(op.clone(), inputs, types, name(id));
                    added += 1;
                    splits.insert(key, outs);
                }
                splits[&key][k]
            }
            _ => {
                added += 1;
                g.add_simple(op.clone(), inputs, ty, name(id))
            }
        };
        memo.insert(id, v);
    }
    let names: Vec<Option<String>> = g.outputs.iter().map(|&v| g.value(v).name.clone()).collect();
    g.outputs = outs.iter().map(|o| memo[o]).collect();
    g.remove_dead_nodes();
    for (i, name) in names.into_iter().enumerate() {
        let v = g.outputs[i];
        if g.value(v).name.is_none() {
            g.value_mut(v).name = name;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{DType, QuantParams};

    fn qty(dtype: DType, shape: &[usize], s: f32, zp: i32) -> TensorType {
        TensorType {
            dtype,
            shape: Shape(shape.to_vec()),
            quant: Some(QuantParams::per_tensor(dtype, s, zp)),
        }
    }

    fn sample() -> Graph {
        let mut g = Graph::new("rt");
        g.phase = ir::Phase::Qdq;
        let x = g.add_input("x", TensorType::f32(vec![1, 4]));
        let q = g.add_simple(Op::Quantize, vec![x], qty(DType::U8, &[1, 4], 0.5, 3), "q");
        let d = g.add_simple(Op::Dequantize, vec![q], TensorType::f32(vec![1, 4]), "dq");
        let r = g.add_simple(Op::Relu, vec![d], TensorType::f32(vec![1, 4]), "relu");
        let s = ir::SplitAttrs {
            axis: 1,
            sizes: vec![1, 3],
        };
        let (_, parts) = g.add_node(
            Op::Split(s),
            vec![r],
            vec![TensorType::f32(vec![1, 1]), TensorType::f32(vec![1, 3])],
            "split",
        );
        g.outputs = vec![parts[1], parts[0]];
        g.value_mut(parts[1]).name = Some("y".into());
        g
    }

    #[test]
    fn graph_recexpr_graph_round_trip() {
        let g = sample();
        let mut tables = Tables::default();
        let (rec, fwd) = graph_to_recexpr(&g, &mut tables).unwrap();
        let text = rec.to_string();
        assert!(text.starts_with("(outputs (split t"), "{text}");
        let parsed: RecExpr<QLang> = text.parse().unwrap();
        let mut back = g.clone();
        let names: HashMap<Id, String> = fwd.names.iter().cloned().collect();
        assert_eq!(parsed.to_string(), text);
        nodes_to_graph(
            &mut back,
            &tables,
            fwd.root,
            |i| &rec[i],
            |i| names.get(&i).cloned().unwrap_or_default(),
        )
        .unwrap();
        assert_eq!(ir::text::print(&back), ir::text::print(&g));
    }
}
