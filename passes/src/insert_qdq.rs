//! `insert-qdq`: applies the choices of [`crate::quant_params`] to a calibrated graph.
//!
//! Phase: Calibrated -> Qdq. The result is the fake-quantized float program described in
//! docs/quantization.md; the float interpreter runs it exactly.
//!
//! 1. Activation parameters, in topological order: data-movement ops (MaxPool, Reshape,
//!    Transpose, Slice, Split, Pad, Resize) and average pools take their input's parameters;
//!    Softmax outputs are fixed to scale 1/256; every other f32 result uses its calibrated
//!    range. A Relu/Clip directly after a Conv/ConvTranspose/Gemm/MatMul/Add/Mul whose result
//!    has no other use is fused: the producer's result gets no parameters of its own.
//! 2. Constant operands: weights of Conv/ConvTranspose/Gemm/MatMul become symmetric integer
//!    constants (per output channel when `QuantConfig::per_channel`) followed by `dequantize`;
//!    biases become i32 constants in the accumulator scale; Gemm's `alpha` and `beta` are
//!    folded into them first. Constant operands of Add/Mul are quantized like activations.
//! 3. Every value with parameters gets `quantize -> dequantize`, and all its uses (graph
//!    outputs included, which take over its name) read the dequantized value.
//!
//! Establishes: phase Qdq; every f32 operand of a compute op is the result of a `dequantize`
//! (or a constant the lowering reads directly, such as a PRelu slope).

use crate::quant_params::{activation_params, quantize_bias, quantize_weights, scales};
use crate::{PassCtx, PassError, PassStats};
use ir::{
    ConstAttrs, DType, Graph, NodeId, Op, Phase, QuantParams, Tensor, TensorType, ValueId,
    ValueRange,
};
use std::collections::HashMap;

/// Runs the pass.
pub fn run(g: &mut Graph, ctx: &PassCtx) -> Result<PassStats, PassError> {
    let order = g.topo_order();
    let params = choose_activation_params(g, &order, ctx)?;
    let mut rewrites = 0;
    for &n in &order {
        rewrites += quantize_constants(g, n, &params, ctx)?;
    }
    let mut values: Vec<ValueId> = params.keys().copied().collect();
    values.sort();
    for v in values {
        insert_pair(g, v, &params[&v], ctx.quant.activation);
        rewrites += 1;
    }
    g.phase = Phase::Qdq;
    Ok(PassStats { rewrites })
}

fn fail(n: NodeId, message: String) -> PassError {
    PassError::Failed {
        node: Some(n),
        message,
    }
}

/// Ops whose output is a rearrangement (or average) of input elements.
fn keeps_input_params(op: &Op) -> bool {
    match op {
        Op::MaxPool(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Slice(_)
        | Op::Split(_)
        | Op::Pad(_)
        | Op::Resize(_)
        | Op::AveragePool(_)
        | Op::GlobalAveragePool => true,
        Op::Input
        | Op::Const(_)
        | Op::Conv(_)
        | Op::ConvTranspose(_)
        | Op::Gemm(_)
        | Op::MatMul
        | Op::BatchNorm(_)
        | Op::Relu
        | Op::PRelu
        | Op::LeakyRelu(_)
        | Op::Clip(_)
        | Op::Sigmoid
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Tanh
        | Op::Softmax(_)
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::ReduceMean(_)
        | Op::Concat(_)
        | Op::Quantize
        | Op::Dequantize
        | Op::ConvInt(_)
        | Op::ConvTransposeInt(_)
        | Op::GemmInt(_)
        | Op::MatMulInt
        | Op::Requant(_)
        | Op::AddInt(_)
        | Op::MulInt(_)
        | Op::AvgPoolInt(_)
        | Op::Lut(_)
        | Op::SoftmaxInt(_)
        | Op::ResizeInt(_) => false,
    }
}

/// Whether `v` is the inner value of a fused op -> activation pair.
fn is_fused_inner(g: &Graph, v: ValueId) -> bool {
    let fusable = matches!(
        g.producer(v).op,
        Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_) | Op::MatMul | Op::Add | Op::Mul
    );
    let users = g.users(v);
    fusable
        && !g.outputs.contains(&v)
        && users.len() == 1
        && matches!(g.node(users[0].0).op, Op::Relu | Op::Clip(_))
}

fn choose_activation_params(
    g: &Graph,
    order: &[NodeId],
    ctx: &PassCtx,
) -> Result<HashMap<ValueId, QuantParams>, PassError> {
    let act = ctx.quant.activation;
    let mut params: HashMap<ValueId, QuantParams> = HashMap::new();
    for &n in order {
        let node = g.node(n);
        if matches!(node.op, Op::Const(_)) {
            continue;
        }
        for &v in &node.outputs {
            let used = !g.users(v).is_empty() || g.outputs.contains(&v);
            if g.ty(v).dtype != DType::F32 || !used || is_fused_inner(g, v) {
                continue;
            }
            let inherited = if keeps_input_params(&node.op) {
                node.inputs.first().and_then(|u| params.get(u)).cloned()
            } else {
                None
            };
            let p = match (&node.op, inherited) {
                (_, Some(p)) => p,
                (Op::Softmax(_), None) => {
                    let zp = if act == DType::I8 { -128 } else { 0 };
                    QuantParams::per_tensor(act, 1.0 / 256.0, zp)
                }
                _ => {
                    let range = g.value(v).range.ok_or_else(|| {
                        fail(
                            n,
                            format!("the result of `{}` has no calibrated range", node.name),
                        )
                    })?;
                    activation_params(range, act).map_err(|e| fail(n, e))?
                }
            };
            params.insert(v, p);
        }
    }
    Ok(params)
}

fn add_const(g: &mut Graph, t: Tensor, quant: Option<QuantParams>, name: &str) -> ValueId {
    let ty = TensorType {
        dtype: t.dtype,
        shape: t.shape.clone(),
        quant,
    };
    g.add_simple(Op::Const(ConstAttrs { value: t }), vec![], ty, name)
}

/// `const(int) -> dequantize`, returning the dequantized value.
fn dequantized_const(g: &mut Graph, t: Tensor, p: QuantParams, name: &str) -> ValueId {
    let shape = t.shape.clone();
    let c = add_const(g, t, Some(p), name);
    g.add_simple(Op::Dequantize, vec![c], TensorType::f32(shape), name)
}

fn scaled(t: &Tensor, k: f32) -> Tensor {
    let data = t.as_f32().unwrap_or(&[]).iter().map(|x| x * k).collect();
    Tensor::from_f32(t.shape.clone(), data)
}

/// Step 2 at node `n`. Returns the number of operands rewritten.
fn quantize_constants(
    g: &mut Graph,
    n: NodeId,
    params: &HashMap<ValueId, QuantParams>,
    ctx: &PassCtx,
) -> Result<usize, PassError> {
    let node = g.node(n).clone();
    let f32_const = |g: &Graph, slot: usize| -> Option<Tensor> {
        let v = *node.inputs.get(slot)?;
        g.const_value(v).filter(|t| t.dtype == DType::F32).cloned()
    };
    let bits = ctx.quant.weight_bits;
    let mut rewrites = 0;
    match &node.op {
        Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_) | Op::MatMul => {
            let Some(mut w) = f32_const(g, 1) else {
                return Ok(0);
            };
            let rank = w.shape.rank();
            let mut bias = f32_const(g, 2);
            if let Op::Gemm(a) = &node.op {
                let (alpha, beta) = (a.alpha, a.beta);
                w = scaled(&w, alpha);
                bias = bias.map(|b| scaled(&b, beta));
                if let Op::Gemm(a) = g.op_mut(n) {
                    a.alpha = 1.0;
                    a.beta = 1.0;
                }
            }
            let axis = match &node.op {
                Op::Conv(_) => Some(0),
                Op::ConvTranspose(_) => Some(1),
                Op::Gemm(a) if a.trans_b => Some(0),
                Op::Gemm(_) => Some(1),
                _ if rank == 2 => Some(1),
                _ => None,
            }
            .filter(|_| ctx.quant.per_channel);
            let (wq, wp) = quantize_weights(&w, axis, bits).map_err(|e| fail(n, e))?;
            let s_w = scales(&wp);
            let wv = dequantized_const(g, wq, wp, &node.name);
            g.set_input(n, 1, wv);
            rewrites += 1;
            if let Some(b) = bias {
                let x = node.inputs[0];
                let s_x = params.get(&x).map(|p| p.scale(0)).ok_or_else(|| {
                    fail(n, format!("the input of `{}` is not quantized", node.name))
                })?;
                if b.numel() == b.shape.dims().last().copied().unwrap_or(0) {
                    let (bq, bp) = quantize_bias(b.as_f32().unwrap_or(&[]), s_x, &s_w);
                    let bv = dequantized_const(g, bq, bp, &node.name);
                    // Keep the model's bias shape (Gemm's C may be [1, N]).
                    let bv = if g.ty(bv).shape != b.shape {
                        g.add_simple(
                            Op::Reshape,
                            vec![bv],
                            TensorType::f32(b.shape.clone()),
                            &node.name,
                        )
                    } else {
                        bv
                    };
                    g.set_input(n, 2, bv);
                    rewrites += 1;
                }
            }
        }
        Op::Add | Op::Mul => {
            for slot in 0..node.inputs.len() {
                let Some(c) = f32_const(g, slot) else {
                    continue;
                };
                let data = c.as_f32().unwrap_or(&[]);
                let lo = data.iter().copied().fold(0f32, f32::min);
                let hi = data.iter().copied().fold(0f32, f32::max);
                let hi = if hi <= lo { lo + 1e-6 } else { hi };
                let p = activation_params(ValueRange { lo, hi }, ctx.quant.activation)
                    .map_err(|e| fail(n, e))?;
                let recip = ir::arith::reciprocal(p.scale(0));
                let (qmin, qmax) = ctx.quant.activation.int_range().unwrap_or((0, 255));
                let q: Vec<i32> = data
                    .iter()
                    .map(|&x| {
                        ir::arith::quantize(x, recip, p.zero_point(0), qmin as i32, qmax as i32)
                    })
                    .collect();
                let t = int_tensor(ctx.quant.activation, c.shape.clone(), q);
                let v = dequantized_const(g, t, p, &node.name);
                g.set_input(n, slot, v);
                rewrites += 1;
            }
        }
        _ => {}
    }
    Ok(rewrites)
}

fn int_tensor(dtype: DType, shape: ir::Shape, q: Vec<i32>) -> Tensor {
    let data = match dtype {
        DType::I8 => ir::TensorData::I8(q.iter().map(|&x| x as i8).collect()),
        _ => ir::TensorData::U8(q.iter().map(|&x| x as u8).collect()),
    };
    Tensor { dtype, shape, data }
}

/// Step 3 for one value.
fn insert_pair(g: &mut Graph, v: ValueId, p: &QuantParams, act: DType) {
    let shape = g.ty(v).shape.clone();
    let name = g.producer(v).name.clone();
    let users = g.users(v);
    let q = g.add_simple(
        Op::Quantize,
        vec![v],
        TensorType {
            dtype: act,
            shape: shape.clone(),
            quant: Some(p.clone()),
        },
        &name,
    );
    let d = g.add_simple(Op::Dequantize, vec![q], TensorType::f32(shape), &name);
    for (user, slot) in users {
        g.set_input(user, slot, d);
    }
    if g.outputs.contains(&v) {
        for o in g.outputs.iter_mut() {
            if *o == v {
                *o = d;
            }
        }
        let out_name = g.value_mut(v).name.take();
        g.value_mut(d).name = out_name;
    }
}
