//! `fold-batch-norm`: folds inference batch normalization into the producing linear op.
//!
//! Phase: Float (run `const-fold` first so that BN parameters and weights are constants).
//!
//! Three rewrites, applied to a fixpoint:
//! 1. every `BatchNorm(x, gamma, beta, mean, var)` with constant parameters becomes a
//!    per-channel scale and shift: `Add(Mul(x, k), beta - mean * k)` with
//!    `k = gamma / sqrt(var + eps)` (so a BN with no producer to fold into still runs as
//!    one multiply-add per element, and converters' Mul+Add form is handled alike);
//! 2. `Mul(y, c)` where `y` is the only-used result of a Conv, ConvTranspose or Gemm with a
//!    constant weight, and `c` is a constant that varies along the channel axis only,
//!    scales that op's weight (and bias) per output channel;
//! 3. `Add(y, c)` of the same form adds `c` to the op's bias (creating the bias if absent).
//!
//! Establishes: no `BatchNorm` with constant parameters remains; a Conv/ConvTranspose/Gemm
//! followed by a per-channel constant Mul or Add with no other user of the op's result no
//! longer exists. Folded weights are new constants (the old may be shared).

use crate::{PassCtx, PassError, PassStats};
use ir::{ConstAttrs, Graph, NodeId, Op, Shape, Tensor, TensorType, ValueId};

/// Runs the pass.
pub fn run(g: &mut Graph, _ctx: &PassCtx) -> Result<PassStats, PassError> {
    let mut rewrites = 0;
    for n in g.topo_order() {
        if g.contains_node(n) && matches!(g.node(n).op, Op::BatchNorm(_)) && split_bn(g, n) {
            rewrites += 1;
        }
    }
    loop {
        let mut changed = false;
        for n in g.topo_order() {
            if g.contains_node(n) && fold_into_producer(g, n) {
                rewrites += 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    g.remove_dead_nodes();
    Ok(PassStats { rewrites })
}

fn add_const(g: &mut Graph, t: Tensor, name: &str) -> ValueId {
    let ty = TensorType::new(t.dtype, t.shape.clone());
    g.add_simple(Op::Const(ConstAttrs { value: t }), vec![], ty, name)
}

/// The per-channel shape `[C, 1, ..]` that broadcasts along axis 1 of a rank-`rank` tensor.
fn channel_shape(rank: usize, c: usize) -> Shape {
    let mut d = vec![1; rank.saturating_sub(1)];
    if let Some(first) = d.first_mut() {
        *first = c;
    }
    Shape(d)
}

/// Rewrite 1. Returns whether it changed the graph.
fn split_bn(g: &mut Graph, n: NodeId) -> bool {
    let node = g.node(n).clone();
    let Op::BatchNorm(attrs) = &node.op else {
        return false;
    };
    let params: Option<Vec<&[f32]>> = node.inputs[1..]
        .iter()
        .map(|&v| g.const_value(v).and_then(Tensor::as_f32))
        .collect();
    let Some(p) = params else { return false };
    let (gamma, beta, mean, var) = (p[0], p[1], p[2], p[3]);
    let x = node.inputs[0];
    let xty = g.ty(x).clone();
    let c = gamma.len();
    let k: Vec<f32> = (0..c)
        .map(|i| gamma[i] / (var[i] + attrs.epsilon).sqrt())
        .collect();
    let shift: Vec<f32> = (0..c).map(|i| beta[i] - mean[i] * k[i]).collect();
    let shape = channel_shape(xty.shape.rank(), c);
    let kv = add_const(g, Tensor::from_f32(shape.clone(), k), &node.name);
    let sv = add_const(g, Tensor::from_f32(shape, shift), &node.name);
    let m = g.add_simple(Op::Mul, vec![x, kv], xty.clone(), &node.name);
    let a = g.add_simple(Op::Add, vec![m, sv], xty, &node.name);
    let out = node.outputs[0];
    let out_name = g.value(out).name.clone();
    g.value_mut(a).name = out_name;
    g.replace_all_uses(out, a);
    // Training-mode extra outputs never have users in an inference graph; if they do,
    // leave the node (dead-code removes it once unused).
    if node.outputs[1..].iter().all(|&v| g.users(v).is_empty()) {
        g.remove_node(n);
    }
    true
}

/// If `c` (a constant) broadcasts along axis 1 of a rank-`rank` tensor with `ch` channels
/// only, returns its per-channel values (length `ch`).
fn per_channel(t: &Tensor, rank: usize, ch: usize) -> Option<Vec<f32>> {
    let data = t.as_f32()?;
    let dims = t.shape.dims();
    if dims.len() > rank {
        return None;
    }
    let pad = rank - dims.len();
    for (i, &d) in dims.iter().enumerate() {
        let axis = i + pad;
        if axis != 1 && d != 1 {
            return None;
        }
    }
    let cdim = if pad <= 1 { dims[1 - pad] } else { 1 };
    match cdim {
        1 => Some(vec![data[0]; ch]),
        d if d == ch => Some(data.to_vec()),
        _ => None,
    }
}

/// Rewrites 2 and 3 at the Mul/Add node `n`. Returns whether it changed the graph.
fn fold_into_producer(g: &mut Graph, n: NodeId) -> bool {
    let node = g.node(n);
    let is_mul = match node.op {
        Op::Mul => true,
        Op::Add => false,
        _ => return false,
    };
    let (a, b) = (node.inputs[0], node.inputs[1]);
    let (y, c) = if g.const_value(b).is_some() {
        (a, b)
    } else if g.const_value(a).is_some() {
        (b, a)
    } else {
        return false;
    };
    let out = node.outputs[0];
    if g.ty(out) != g.ty(y) || g.users(y).len() != 1 || g.outputs.contains(&y) {
        return false;
    }
    let prod_id = g.value(y).producer;
    let prod = g.node(prod_id).clone();
    let rank = g.ty(y).shape.rank();
    if rank < 2 {
        return false;
    }
    let ch = g.ty(y).shape.dims()[1];
    let Some(cv) = g.const_value(c).and_then(|t| per_channel(t, rank, ch)) else {
        return false;
    };
    let Some(w) = prod.inputs.get(1).and_then(|&w| g.const_value(w)).cloned() else {
        return false;
    };
    let bias = match prod.inputs.get(2) {
        Some(&b) => match g.const_value(b).and_then(Tensor::as_f32) {
            // Gemm's C must be a per-column vector for the bias to stay one.
            Some(v) if v.len() == ch => Some(v.to_vec()),
            _ => return false,
        },
        None => None,
    };
    let (new_w, new_bias) = match &prod.op {
        Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_) if !is_mul => {
            let mut bias = bias.unwrap_or_else(|| vec![0.0; ch]);
            if let Op::Gemm(ga) = &prod.op {
                if ga.beta == 0.0 {
                    return false;
                }
                for (bi, ci) in bias.iter_mut().zip(&cv) {
                    *bi += ci / ga.beta;
                }
            } else {
                for (bi, ci) in bias.iter_mut().zip(&cv) {
                    *bi += ci;
                }
            }
            (None, bias)
        }
        Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_) => {
            let Some(w2) = scale_weight(&prod.op, &w, &cv) else {
                return false;
            };
            let bias = bias
                .map(|b| b.iter().zip(&cv).map(|(b, k)| b * k).collect())
                .unwrap_or_else(|| vec![0.0; ch]);
            (Some(w2), bias)
        }
        _ => return false,
    };
    let mut inputs = prod.inputs.clone();
    if let Some(w2) = new_w {
        inputs[1] = add_const(g, w2, &prod.name);
    }
    let bshape = match &prod.op {
        Op::Gemm(_) if prod.inputs.len() > 2 => g.ty(prod.inputs[2]).shape.clone(),
        _ => Shape(vec![ch]),
    };
    let bv = add_const(g, Tensor::from_f32(bshape, new_bias), &prod.name);
    if inputs.len() > 2 {
        inputs[2] = bv;
    } else {
        inputs.push(bv);
    }
    if let Op::Gemm(ga) = g.op_mut(prod_id)
        && inputs.len() == 3
        && prod.inputs.len() == 2
    {
        ga.beta = 1.0;
    }
    g.set_inputs(prod_id, inputs);
    let out_name = g.value(out).name.clone();
    if out_name.is_some() {
        g.value_mut(y).name = out_name;
    }
    g.replace_all_uses(out, y);
    g.remove_node(n);
    true
}

/// Scales the weight of `op` by `k` per output channel; `None` if the layout is unexpected.
fn scale_weight(op: &Op, w: &Tensor, k: &[f32]) -> Option<Tensor> {
    let data = w.as_f32()?;
    let dims = w.shape.dims();
    let mut out = data.to_vec();
    match op {
        Op::Conv(_) => {
            if dims.first() != Some(&k.len()) {
                return None;
            }
            let per = data.len() / k.len();
            for (m, chunk) in out.chunks_mut(per).enumerate() {
                chunk.iter_mut().for_each(|x| *x *= k[m]);
            }
        }
        Op::ConvTranspose(a) => {
            // w: [C_in, M/group, k..]; output channel of w[ci, j] is (ci / (C_in/group)) * (M/group) + j.
            let (cin, mg) = (*dims.first()?, *dims.get(1)?);
            if a.group == 0 || cin % a.group != 0 || mg * a.group != k.len() {
                return None;
            }
            let per_in = cin / a.group;
            let spatial: usize = dims[2..].iter().product();
            for ci in 0..cin {
                for j in 0..mg {
                    let m = (ci / per_in) * mg + j;
                    let base = (ci * mg + j) * spatial;
                    out[base..base + spatial]
                        .iter_mut()
                        .for_each(|x| *x *= k[m]);
                }
            }
        }
        Op::Gemm(a) => {
            if dims.len() != 2 {
                return None;
            }
            let (r, c) = (dims[0], dims[1]);
            if a.trans_b {
                if r != k.len() {
                    return None;
                }
                for (n, row) in out.chunks_mut(c).enumerate() {
                    row.iter_mut().for_each(|x| *x *= k[n]);
                }
            } else {
                if c != k.len() {
                    return None;
                }
                for row in out.chunks_mut(c) {
                    row.iter_mut().zip(k).for_each(|(x, k)| *x *= k);
                }
            }
        }
        _ => return None,
    }
    Some(Tensor::from_f32(w.shape.clone(), out))
}
