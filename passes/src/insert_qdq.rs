//! `insert-qdq`: applies the choices of [`crate::quant_params`] to a calibrated graph.
//!
//! Phase: Calibrated -> Qdq. The result is the fake-quantized float program described in
//! docs/quantization.md; the float interpreter runs it exactly.
//!
//! 1. Activation parameters, in topological order: data-movement ops (MaxPool, Reshape,
//!    Transpose, Slice, Split, Pad, Resize) and average pools take their input's parameters;
//!    Softmax outputs are fixed to scale 1/256; every other f32 result uses its calibrated
//!    range. Fusing a Relu/Clip into its producer is the job of the next pass,
//!    `fuse-activations`, which removes the producer's pair again.
//! 2. Constant operands: weights of Conv/ConvTranspose/Gemm/MatMul become symmetric integer
//!    constants (per output channel when `QuantConfig::per_channel`) followed by `dequantize`
//!    (under `WeightRounding::Optimized`, Conv and Gemm weights stay float constants followed
//!    by `quantize -> dequantize`, with the same parameters, for `optimize-weights`);
//!    biases become i32 constants in the accumulator scale; Gemm's `alpha` and `beta` are
//!    folded into them first. Constant operands of Add/Mul are quantized like activations.
//! 3. Every value with parameters gets `quantize -> dequantize`, and all its uses (graph
//!    outputs included, which take over its name) read the dequantized value.
//!
//! Establishes: phase Qdq; every f32 operand of a compute op is the result of a `dequantize`
//! (or a constant the lowering reads directly, such as a PRelu slope).

use crate::quant_params::{
    activation_params, activation_params_in, quantize_bias, quantize_weights_in, scales,
};
use crate::{PassCtx, PassError, PassStats, WeightRounding};
use ir::{
    ConstAttrs, DType, Graph, NodeId, Op, Phase, QuantParams, Tensor, TensorType, ValueId,
    ValueRange,
};
use std::collections::HashMap;

/// Runs the pass.
pub fn run(g: &mut Graph, ctx: &PassCtx) -> Result<PassStats, PassError> {
    let order = g.topo_order();
    check_layer_names(g, ctx)?;
    let params = choose_activation_params(g, &order, ctx)?;
    let mut rewrites = 0;
    for &n in &order {
        rewrites += quantize_constants(g, n, &params, ctx)?;
    }
    let mut values: Vec<ValueId> = params.keys().copied().collect();
    values.sort();
    for v in values {
        let dtype = activation_container(&params[&v], ctx.quant.activation);
        insert_pair(g, v, &params[&v], dtype);
        rewrites += 1;
    }
    // The float weights and biases that were replaced.
    g.remove_dead_nodes();
    g.phase = Phase::Qdq;
    Ok(PassStats { rewrites })
}

/// Every name in `QuantConfig::layers` must name a node.
fn check_layer_names(g: &Graph, ctx: &PassCtx) -> Result<(), PassError> {
    for name in ctx.quant.layers.keys() {
        if !g.node_ids().any(|n| &g.node(n).name == name) {
            return Err(PassError::Failed {
                node: None,
                message: format!(
                    "the precision override names `{name}`, which is no node of the graph"
                ),
            });
        }
    }
    Ok(())
}

/// The storage type of an activation quantized with `p` (see [`crate::activation_dtype`]).
fn activation_container(p: &QuantParams, base: DType) -> DType {
    crate::activation_dtype(base, p.bits)
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

fn choose_activation_params(
    g: &Graph,
    order: &[NodeId],
    ctx: &PassCtx,
) -> Result<HashMap<ValueId, QuantParams>, PassError> {
    let base = ctx.quant.activation;
    let mut params: HashMap<ValueId, QuantParams> = HashMap::new();
    for &n in order {
        let node = g.node(n);
        if matches!(node.op, Op::Const(_)) {
            continue;
        }
        for &v in &node.outputs {
            let bits = ctx.quant.activation_bits_of(&node.name);
            let act = crate::activation_dtype(base, bits);
            let used = !g.users(v).is_empty() || g.outputs.contains(&v);
            if g.ty(v).dtype != DType::F32 || !used {
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
                    let (qmin, qmax) = act.quant_range(bits).unwrap_or((0, 255));
                    let scale = 1.0 / (qmax - qmin + 1) as f32;
                    let mut p = QuantParams::per_tensor(act, scale, qmin as i32);
                    p.bits = bits.min(act.bits());
                    p
                }
                _ => {
                    let range = g.value(v).range.ok_or_else(|| {
                        fail(
                            n,
                            format!("the result of `{}` has no calibrated range", node.name),
                        )
                    })?;
                    activation_params_in(range, act, bits, ctx.quant.scales)
                        .map_err(|e| fail(n, e))?
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

/// `const(f32) -> quantize -> dequantize`, returning the dequantized value.
fn quantized_float_const(
    g: &mut Graph,
    t: Tensor,
    dtype: DType,
    p: QuantParams,
    name: &str,
) -> ValueId {
    let shape = t.shape.clone();
    let c = add_const(g, t, None, name);
    let q = g.add_simple(
        Op::Quantize,
        vec![c],
        TensorType {
            dtype,
            shape: shape.clone(),
            quant: Some(p),
        },
        name,
    );
    g.add_simple(Op::Dequantize, vec![q], TensorType::f32(shape), name)
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
    let bits = ctx.quant.weight_bits_of(&node.name);
    let mut rewrites = 0;
    match &node.op {
        Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_) | Op::MatMul => {
            let Some(mut w) = f32_const(g, 1) else {
                return Ok(0);
            };
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
                // MatMul lowers to `matmul_int`, whose operands are per tensor.
                _ => None,
            }
            .filter(|_| ctx.quant.per_channel);
            let (wq, wp) =
                quantize_weights_in(&w, axis, bits, ctx.quant.scales).map_err(|e| fail(n, e))?;
            let s_w = scales(&wp);
            let w_pow2 = wp.pow2;
            let optimized = ctx.quant.weight_rounding == WeightRounding::Optimized
                && matches!(node.op, Op::Conv(_) | Op::Gemm(_));
            let wv = if optimized {
                // `optimize-weights` chooses the integers: keep the float weights in front of
                // their `quantize` (the form an ONNX QDQ file has).
                quantized_float_const(g, w, wq.dtype, wp, &node.name)
            } else {
                dequantized_const(g, wq, wp, &node.name)
            };
            g.set_input(n, 1, wv);
            rewrites += 1;
            if let Some(b) = bias {
                let x = node.inputs[0];
                let s_x = params.get(&x).map(|p| p.scale(0)).ok_or_else(|| {
                    fail(n, format!("the input of `{}` is not quantized", node.name))
                })?;
                if b.numel() == b.shape.dims().last().copied().unwrap_or(0) {
                    let (bq, mut bp) = quantize_bias(b.as_f32().unwrap_or(&[]), s_x, &s_w);
                    bp.pow2 = w_pow2;
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
                let p = activation_params(ValueRange { lo, hi }, ctx.quant.activation, 8)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LayerPrecision, PassCtx};

    const CNN: &str = r#"graph "cnn" phase=calibrated
inputs(%x)
%x "x" = input : f32[1,1,4,4] range[0.0, 1.0]
%w = const dense<[0.5, -0.25, 0.125, 1.0, -1.0, 0.5, 0.25, 0.75]> : f32[2,1,2,2]
%c = conv(%x, %w) {strides=[1,1], pads=[0,0,0,0], dilations=[1,1], group=1} : f32[1,2,3,3] range[-1.0, 2.0] @"conv"
%y "y" = sigmoid(%c) : f32[1,2,3,3] range[0.0, 1.0] @"act"
outputs(%y)
"#;

    fn run_with(layers: &[(&str, LayerPrecision)]) -> Result<Graph, PassError> {
        let mut g = ir::text::parse(CNN).expect("parses");
        let mut ctx = PassCtx::default();
        for (name, p) in layers {
            ctx.quant.layers.insert(name.to_string(), *p);
        }
        run(&mut g, &ctx)?;
        Ok(g)
    }

    fn quantized_types(g: &Graph) -> Vec<(String, DType, u32)> {
        let mut out: Vec<(String, DType, u32)> = g
            .node_ids()
            .filter(|&n| matches!(g.node(n).op, Op::Quantize | Op::Const(_)))
            .flat_map(|n| g.node(n).outputs.clone())
            .filter_map(|v| {
                let t = g.ty(v);
                let bits = t.quant.as_ref()?.bits;
                Some((g.producer(v).name.clone(), t.dtype, bits))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
        out
    }

    #[test]
    fn per_layer_overrides_set_weight_and_activation_bits() {
        let g = run_with(&[(
            "conv",
            LayerPrecision {
                weight_bits: Some(4),
                activation_bits: Some(16),
            },
        )])
        .expect("runs");
        let types = quantized_types(&g);
        assert!(types.contains(&("conv".into(), DType::I4, 4)), "{types:?}");
        assert!(
            types.contains(&("conv".into(), DType::I16, 16)),
            "{types:?}"
        );
        assert!(types.contains(&("act".into(), DType::U8, 8)), "{types:?}");
    }

    #[test]
    fn four_bit_activations_use_the_packed_container() {
        let g = run_with(&[(
            "act",
            LayerPrecision {
                weight_bits: None,
                activation_bits: Some(4),
            },
        )])
        .expect("runs");
        let types = quantized_types(&g);
        assert!(types.contains(&("act".into(), DType::U4, 4)), "{types:?}");
        assert!(types.contains(&("conv".into(), DType::I8, 8)), "{types:?}");
    }

    #[test]
    fn an_override_naming_no_node_is_an_error() {
        let err = run_with(&[("nope", LayerPrecision::default())]).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
    }
}
