//! Compute ops to their integer forms: conv, conv-transpose, gemm and matmul into i32
//! accumulators (whose dequantization equals the float op, so the quantize above becomes a
//! requantization by the rules of `requant`), add and mul with rescaling, average pools,
//! elementwise functions as tables, softmax and linear resize.

use super::{
    Rewrite, acc_type, get, note, per_tensor, qrange, rule, scales, ty, with_shape, zero_zps,
};
use crate::egraph::analysis::{EG, add_op, attr, const_tensor, dequantized, is_none, none};
use egg::{Id, Subst};
use ir::arith::{bias_q, dequantize, quantize, quantize_multiplier, reciprocal};
use ir::{
    AddIntAttrs, AvgPoolAttrs, AvgPoolIntAttrs, ConstAttrs, ConvIntAttrs, ConvTransposeIntAttrs,
    DType, GemmIntAttrs, LutAttrs, MulIntAttrs, Op, PoolAttrs, QuantGranularity, QuantParams,
    ResizeIntAttrs, ResizeMode, Shape, SoftmaxIntAttrs, Tensor, TensorData, TensorType,
    TransposeAttrs,
};

/// The rules of this topic.
pub fn rules() -> Vec<Rewrite> {
    vec![
        // conv(dq(x), dq(w), dq(b)) == dq(conv_int(x, w, b)), accumulator scale s_x*s_w[m].
        rule(
            "conv-to-conv-int",
            "(conv ?t ?a (dequantize ?tx ?ax ?x) (dequantize ?tw ?aw ?w) ?b)",
            conv_to_conv_int,
        ),
        // conv_transpose(dq(x), dq(w), dq(b)) == dq(conv_transpose_int(x, w, b)).
        rule(
            "conv-transpose-to-conv-transpose-int",
            "(conv_transpose ?t ?a (dequantize ?tx ?ax ?x) (dequantize ?tw ?aw ?w) ?b)",
            conv_transpose_to_int,
        ),
        // gemm(dq(x), dq(w), dq(c)) == dq(gemm_int(x, w, c)) for alpha = beta = 1.
        rule(
            "gemm-to-gemm-int",
            "(gemm ?t ?a (dequantize ?tx ?ax ?x) (dequantize ?tw ?aw ?w) ?b)",
            gemm_to_gemm_int,
        ),
        // matmul(dq(x), dq(y)) == dq(matmul_int(x, y)), accumulator scale s_x*s_y.
        rule(
            "matmul-to-matmul-int",
            "(matmul ?t ?a (dequantize ?tx ?ax ?x) (dequantize ?ty ?ay ?y))",
            matmul_to_matmul_int,
        ),
        // q(add(dq(x), dq(y))) == add_int(x, y).
        rule(
            "add-to-add-int",
            "(quantize ?t ?a (add ?t1 ?a1 (dequantize ?tx ?ax ?x) (dequantize ?ty ?ay ?y)))",
            add_to_add_int,
        ),
        // q(mul(dq(x), dq(y))) == mul_int(x, y).
        rule(
            "mul-to-mul-int",
            "(quantize ?t ?a (mul ?t1 ?a1 (dequantize ?tx ?ax ?x) (dequantize ?ty ?ay ?y)))",
            mul_to_mul_int,
        ),
        // average_pool(dq(x)) == dq(avg_pool_int(x)) (same parameters in and out).
        rule(
            "average-pool-to-avg-pool-int",
            "(average_pool ?t ?a (dequantize ?tx ?ax ?x))",
            average_pool_to_int,
        ),
        // global_average_pool(dq(x)) == dq(avg_pool_int(x)) over the whole plane.
        rule(
            "global-average-pool-to-avg-pool-int",
            "(global_average_pool ?t ?a (dequantize ?tx ?ax ?x))",
            global_average_pool_to_int,
        ),
        // q(f(dq(x))) == lut_f(x) for 8-bit x, table built from the float function.
        lut_rule("sigmoid-to-lut", "sigmoid"),
        lut_rule("tanh-to-lut", "tanh"),
        lut_rule("hard-sigmoid-to-lut", "hard_sigmoid"),
        lut_rule("hard-swish-to-lut", "hard_swish"),
        lut_rule("leaky-relu-to-lut", "leaky_relu"),
        // q(prelu(dq(x), slope)) == lut(x), one table per channel for per-channel slopes.
        rule(
            "prelu-to-lut",
            "(quantize ?t ?a (prelu ?t1 ?a1 (dequantize ?tx ?ax ?x) ?slope))",
            prelu_to_lut,
        ),
        // q(softmax(dq(x))) == softmax_int(x) for 8-bit x (exp table from s_x).
        rule(
            "softmax-to-softmax-int",
            "(quantize ?t ?a (softmax ?t1 ?a1 (dequantize ?tx ?ax ?x)))",
            softmax_to_softmax_int,
        ),
        // resize_linear(dq(x)) == dq(resize_int(x)) (fixed-point weights).
        rule(
            "resize-linear-to-resize-int",
            "(resize ?t ?a (dequantize ?tx ?ax ?x))",
            resize_linear_to_int,
        ),
    ]
}

fn lut_rule(name: &str, op: &str) -> Rewrite {
    let lhs = format!("(quantize ?t ?a ({op} ?t1 ?a1 (dequantize ?tx ?ax ?x)))");
    rule(name, &lhs, elementwise_to_lut)
}

/// Relative closeness of two scales.
fn close(a: f32, b: f32) -> bool {
    (f64::from(a) - f64::from(b)).abs() <= 1e-6 * f64::from(a.abs().max(b.abs()))
}

/// The float values of e-class `id`: an f32 constant, or the dequantization of an integer
/// constant (per tensor, or per axis 0 for 1-d constants).
fn float_values(eg: &EG, id: Id) -> Option<Vec<f32>> {
    if let Some(t) = const_tensor(eg, id) {
        return t.as_f32().map(<[f32]>::to_vec);
    }
    let q = dequantized(eg, id)?;
    let t = const_tensor(eg, q)?;
    let tq = ty(eg, q)?;
    let quant = tq.quant.as_ref()?;
    let inner = if tq.shape.rank() == 0 {
        1
    } else {
        tq.shape.numel() / tq.shape.dims()[0].max(1)
    };
    Some(
        (0..t.numel())
            .map(|i| {
                let c = match quant.granularity {
                    QuantGranularity::PerTensor { .. } => 0,
                    QuantGranularity::PerAxis { axis: 0, .. } => i / inner.max(1),
                    QuantGranularity::PerAxis { .. } => return f32::NAN,
                };
                dequantize(
                    t.data.get_i64(i) as i32,
                    quant.scale(c),
                    quant.zero_point(c),
                )
            })
            .collect(),
    )
    .filter(|v: &Vec<f32>| v.iter().all(|x| !x.is_nan()))
}

/// The i32 bias operand in accumulator scale `acc` for the bias e-class `b` (`none`
/// stays `none`): the quantized bias when its scales already match, else requantized
/// at compile time from its float values with [`bias_q`].
fn lower_bias(eg: &mut EG, m: Id, b: Id, acc: &[f32]) -> Option<Id> {
    if is_none(eg, b) {
        return Some(none(eg));
    }
    if let Some(bq) = dequantized(eg, b) {
        let tb = ty(eg, bq)?;
        if let Some((_, s)) = scales(&tb) {
            let matches = tb.dtype == DType::I32
                && zero_zps(&tb)
                && tb.shape.numel() == acc.len()
                && (s.len() == acc.len() || s.len() == 1)
                && acc
                    .iter()
                    .enumerate()
                    .all(|(c, &a)| close(s[c.min(s.len() - 1)], a));
            if matches {
                return Some(bq);
            }
        }
    }
    let Some(vals) = float_values(eg, b) else {
        note(eg, m, "bias is not a constant");
        return None;
    };
    if vals.len() != acc.len() {
        note(
            eg,
            m,
            format!("bias has {} elements, expected {}", vals.len(), acc.len()),
        );
        return None;
    }
    let q: Vec<i32> = vals
        .iter()
        .zip(acc)
        .map(|(&v, &s)| bias_q(v, s, 1.0))
        .collect();
    let ty = acc_type(&Shape(vec![acc.len()]), 0, acc.to_vec());
    let value = Tensor {
        dtype: DType::I32,
        shape: ty.shape.clone(),
        data: TensorData::I32(q),
    };
    Some(add_op(eg, &Op::Const(ConstAttrs { value }), &ty, &[]))
}

/// Checks the activation operand: a per-tensor 4/8/16-bit quantized integer. Returns its scale.
fn activation_scale(eg: &mut EG, m: Id, x: Id) -> Option<f32> {
    let tx = ty(eg, x)?;
    match (per_tensor(&tx), tx.dtype) {
        (Some((s, _)), DType::U8 | DType::I8 | DType::I16 | DType::U4 | DType::I4) => Some(s),
        _ => {
            note(
                eg,
                m,
                format!(
                    "input is not a per-tensor 4/8/16-bit quantized value ({:?})",
                    tx.dtype
                ),
            );
            None
        }
    }
}

/// Checks the weight operand: a symmetric integer constant quantized per tensor or along
/// `axis`. Returns its scales (one, or one per index of `axis`).
fn weight_scales(eg: &mut EG, m: Id, w: Id, axis: usize) -> Option<Vec<f32>> {
    let tw = ty(eg, w)?;
    if const_tensor(eg, w).is_none() {
        note(eg, m, "weight is not a constant");
        return None;
    }
    if !zero_zps(&tw) {
        note(
            eg,
            m,
            "weight zero points are not 0 (weights must be symmetric)",
        );
        return None;
    }
    match scales(&tw)? {
        (None, s) => Some(s),
        (Some(a), s) if a == axis => Some(s),
        (Some(a), _) => {
            note(
                eg,
                m,
                format!("weight is quantized along axis {a}, expected {axis}"),
            );
            None
        }
    }
}

/// The accumulator type `ir::infer` gives `op` on `x` and `w` (so the verifier agrees), and
/// its scale per output channel (`m` of them).
fn accumulator(
    eg: &mut EG,
    m: Id,
    op: &Op,
    x: Id,
    w: Id,
    channels: usize,
) -> Option<(TensorType, Vec<f32>)> {
    let (tx, tw) = (ty(eg, x)?, ty(eg, w)?);
    let acc = ir::infer::infer_output_types(op, &[&tx, &tw])
        .ok()??
        .into_iter()
        .next()?;
    let Some((_, s)) = scales(&acc) else {
        note(
            eg,
            m,
            "the accumulator has no quantization (weights must be per tensor or per output channel)",
        );
        return None;
    };
    let per_channel = (0..channels).map(|c| s[c % s.len()]).collect();
    Some((acc, per_channel))
}

fn conv_to_conv_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let Some(Op::Conv(c)) = attr(eg, get(s, "?a")).cloned() else {
        return None;
    };
    let (x, w, b, t) = (get(s, "?x"), get(s, "?w"), get(s, "?b"), ty(eg, m)?);
    activation_scale(eg, m, x)?;
    weight_scales(eg, m, w, 0)?;
    let mch = *t.shape.dims().get(1)?;
    let op = Op::ConvInt(ConvIntAttrs { conv: c });
    let (acc_ty, acc) = accumulator(eg, m, &op, x, w, mch)?;
    let bias = lower_bias(eg, m, b, &acc)?;
    let ci = add_op(eg, &op, &acc_ty, &[x, w, bias]);
    Some(add_op(eg, &Op::Dequantize, &t, &[ci]))
}

fn conv_transpose_to_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let Some(Op::ConvTranspose(c)) = attr(eg, get(s, "?a")).cloned() else {
        return None;
    };
    let (x, w, b, t) = (get(s, "?x"), get(s, "?w"), get(s, "?b"), ty(eg, m)?);
    activation_scale(eg, m, x)?;
    weight_scales(eg, m, w, 1)?;
    let mch = *t.shape.dims().get(1)?;
    let op = Op::ConvTransposeInt(ConvTransposeIntAttrs { conv: c });
    let (acc_ty, acc) = accumulator(eg, m, &op, x, w, mch)?;
    let bias = lower_bias(eg, m, b, &acc)?;
    let ci = add_op(eg, &op, &acc_ty, &[x, w, bias]);
    Some(add_op(eg, &Op::Dequantize, &t, &[ci]))
}

fn gemm_to_gemm_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let Some(Op::Gemm(g)) = attr(eg, get(s, "?a")).cloned() else {
        return None;
    };
    let (mut x, mut w, b, t) = (get(s, "?x"), get(s, "?w"), get(s, "?b"), ty(eg, m)?);
    if !(g.alpha > 0.0 && g.alpha.is_finite()) {
        let msg = format!(
            "gemm alpha {} is not positive (fold it into the weights first)",
            g.alpha
        );
        note(eg, m, msg);
        return None;
    }
    if !g.beta.is_finite() {
        note(eg, m, format!("gemm beta {} is not finite", g.beta));
        return None;
    }
    activation_scale(eg, m, x)?;
    weight_scales(eg, m, w, if g.trans_b { 0 } else { 1 })?;
    if g.alpha != 1.0 {
        w = scale_weight(eg, w, g.alpha)?;
    }
    let n = *t.shape.dims().get(1)?;
    let op = Op::GemmInt(GemmIntAttrs { trans_b: g.trans_b });
    if g.trans_a {
        let tx = ty(eg, x)?;
        let d = tx.shape.dims();
        let tt = with_shape(&tx, &Shape(vec![d[1], d[0]]));
        let perm = Op::Transpose(TransposeAttrs { perm: vec![1, 0] });
        x = add_op(eg, &perm, &tt, &[x]);
    }
    let (acc_ty, acc) = accumulator(eg, m, &op, x, w, n)?;
    let bias = if g.beta == 1.0 || is_none(eg, b) {
        lower_bias(eg, m, b, &acc)?
    } else {
        scaled_bias(eg, m, b, g.beta, &acc)?
    };
    let gi = add_op(eg, &op, &acc_ty, &[x, w, bias]);
    Some(add_op(eg, &Op::Dequantize, &t, &[gi]))
}

/// The integer weight constant `w` with every scale multiplied by `alpha > 0`: the same
/// integers, dequantizing to `alpha * w` exactly (how Gemm's alpha folds at lowering time,
/// for QDQ models that were not produced by our `insert-qdq`, which folds it itself).
fn scale_weight(eg: &mut EG, w: Id, alpha: f32) -> Option<Id> {
    let value = const_tensor(eg, w)?.clone();
    let mut tw = ty(eg, w)?;
    let q = tw.quant.as_mut()?;
    q.granularity = match &q.granularity {
        QuantGranularity::PerTensor { scale, zero_point } => QuantGranularity::PerTensor {
            scale: scale * alpha,
            zero_point: *zero_point,
        },
        QuantGranularity::PerAxis {
            axis,
            scales,
            zero_points,
        } => QuantGranularity::PerAxis {
            axis: *axis,
            scales: scales.iter().map(|s| s * alpha).collect(),
            zero_points: zero_points.clone(),
        },
    };
    Some(add_op(eg, &Op::Const(ConstAttrs { value }), &tw, &[]))
}

/// The i32 bias `beta * b` in accumulator scale `acc`, quantized at compile time.
fn scaled_bias(eg: &mut EG, m: Id, b: Id, beta: f32, acc: &[f32]) -> Option<Id> {
    let Some(vals) = float_values(eg, b) else {
        note(eg, m, "bias is not a constant");
        return None;
    };
    let vals: Vec<f32> = vals.iter().map(|v| v * beta).collect();
    let value = Tensor::from_f32(vec![vals.len()], vals);
    let fty = TensorType::f32(vec![value.numel()]);
    let c = add_op(eg, &Op::Const(ConstAttrs { value }), &fty, &[]);
    lower_bias(eg, m, c, acc)
}

fn matmul_to_matmul_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let (x, y, t) = (get(s, "?x"), get(s, "?y"), ty(eg, m)?);
    activation_scale(eg, m, x)?;
    activation_scale(eg, m, y)?;
    let (acc_ty, _) = accumulator(eg, m, &Op::MatMulInt, x, y, 1)?;
    let mi = add_op(eg, &Op::MatMulInt, &acc_ty, &[x, y]);
    Some(add_op(eg, &Op::Dequantize, &t, &[mi]))
}

/// `(sa, sb, sy, max bits of the inputs)` of a binary op matched as `q(op(dq x, dq y))`.
fn binary_scales(eg: &mut EG, m: Id, s: &Subst) -> Option<(f32, f32, f32, u32)> {
    let (x, y) = (get(s, "?x"), get(s, "?y"));
    let sa = activation_scale(eg, m, x)?;
    let sb = activation_scale(eg, m, y)?;
    let (sy, _) = per_tensor(&ty(eg, m)?)?;
    let bits = ty(eg, x)?.dtype.bits().max(ty(eg, y)?.dtype.bits());
    Some((sa, sb, sy, bits))
}

fn qm(real: f64) -> Option<ir::arith::QuantizedMultiplier> {
    quantize_multiplier(real).ok()
}

fn add_to_add_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let (sa, sb, sy, bits) = binary_scales(eg, m, s)?;
    let t = ty(eg, m)?;
    let shift: u32 = if bits <= 8 { 20 } else { 15 };
    let (sa, sb, sy) = (f64::from(sa), f64::from(sb), f64::from(sy));
    let max2 = 2.0 * sa.max(sb);
    let (lo, hi) = qrange(&t);
    let attrs = AddIntAttrs {
        shift,
        ma: qm(sa / max2)?,
        mb: qm(sb / max2)?,
        mo: qm(max2 / (f64::from(1u32 << shift) * sy))?,
        rounding: eg.analysis.rounding,
        lo,
        hi,
    };
    Some(add_op(
        eg,
        &Op::AddInt(attrs),
        &t,
        &[get(s, "?x"), get(s, "?y")],
    ))
}

fn mul_to_mul_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let (sa, sb, sy, _) = binary_scales(eg, m, s)?;
    let t = ty(eg, m)?;
    let (lo, hi) = qrange(&t);
    let attrs = MulIntAttrs {
        m: qm(f64::from(sa) * f64::from(sb) / f64::from(sy))?,
        rounding: eg.analysis.rounding,
        lo,
        hi,
    };
    Some(add_op(
        eg,
        &Op::MulInt(attrs),
        &t,
        &[get(s, "?x"), get(s, "?y")],
    ))
}

/// `dq(avg_pool_int(x))` with the pool `pool` and the float result type of the match.
fn avg_pool(eg: &mut EG, m: Id, x: Id, pool: AvgPoolAttrs) -> Option<Id> {
    let t = ty(eg, m)?;
    activation_scale(eg, m, x)?;
    let ti = with_shape(&ty(eg, x)?, &t.shape);
    let op = Op::AvgPoolInt(AvgPoolIntAttrs {
        pool,
        rounding: eg.analysis.rounding,
    });
    let p = add_op(eg, &op, &ti, &[x]);
    Some(add_op(eg, &Op::Dequantize, &t, &[p]))
}

fn average_pool_to_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let Some(Op::AveragePool(p)) = attr(eg, get(s, "?a")).cloned() else {
        return None;
    };
    avg_pool(eg, m, get(s, "?x"), p)
}

fn global_average_pool_to_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let x = get(s, "?x");
    let spatial = ty(eg, x)?.shape.dims().get(2..)?.to_vec();
    let k = spatial.len();
    let pool = AvgPoolAttrs {
        pool: PoolAttrs {
            kernel: spatial,
            strides: vec![1; k],
            pads: vec![0; 2 * k],
            dilations: vec![1; k],
            ceil_mode: false,
        },
        count_include_pad: false,
    };
    avg_pool(eg, m, x, pool)
}

/// The 256 dequantized inputs of an 8-bit type, in table order (from the type's minimum).
fn table_inputs(eg: &mut EG, m: Id, x: Id) -> Option<Vec<f32>> {
    let tx = ty(eg, x)?;
    let (s, zp) = per_tensor(&tx)?;
    let bits = tx.quant.as_ref().map_or(8, |q| q.bits);
    let min = match (tx.dtype, bits) {
        (DType::U8, 8) => 0,
        (DType::I8, 8) => -128,
        _ => {
            note(
                eg,
                m,
                format!(
                    "table lookup needs an 8-bit input, found {} ({bits} bits)",
                    tx.dtype
                ),
            );
            return None;
        }
    };
    Some((0..256).map(|i| dequantize(min + i, s, zp)).collect())
}

/// Quantizes the float function values `ys` to the output type of the match.
fn quantize_table(t: &TensorType, ys: &[f32]) -> Option<Vec<i32>> {
    let (s, zp) = per_tensor(t)?;
    let (lo, hi) = qrange(t);
    Some(
        ys.iter()
            .map(|&y| quantize(y, reciprocal(s), zp, lo, hi))
            .collect(),
    )
}

/// Evaluates the float op on `xs` (and extra operands) with the float interpreter.
fn eval(op: &Op, xs: &[f32], extra: &[&Tensor]) -> Option<Vec<f32>> {
    let x = Tensor::from_f32(vec![xs.len()], xs.to_vec());
    let mut args = vec![&x];
    args.extend_from_slice(extra);
    let out = ir::interp::eval_node_float(op, &args, &[TensorType::f32(vec![xs.len()])]).ok()?;
    out.into_iter().next()?.as_f32().map(<[f32]>::to_vec)
}

fn elementwise_to_lut(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let op = attr(eg, get(s, "?a1"))?.clone();
    let x = get(s, "?x");
    let xs = table_inputs(eg, m, x)?;
    let t = ty(eg, m)?;
    let table = quantize_table(&t, &eval(&op, &xs, &[])?)?;
    Some(add_op(
        eg,
        &Op::Lut(LutAttrs { table, axis: None }),
        &t,
        &[x],
    ))
}

fn prelu_to_lut(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let (x, slope) = (get(s, "?x"), get(s, "?slope"));
    let xs = table_inputs(eg, m, x)?;
    let t = ty(eg, m)?;
    let Some(slopes) = float_values(eg, slope) else {
        note(eg, m, "prelu slope is not a constant");
        return None;
    };
    let channels = t.shape.dims().get(1).copied().unwrap_or(1);
    let axis = match slopes.len() {
        1 => None,
        n if n == channels && t.shape.rank() >= 2 => Some(1),
        n => {
            note(
                eg,
                m,
                format!("prelu slope with {n} elements is neither scalar nor per-channel"),
            );
            return None;
        }
    };
    let mut table = Vec::with_capacity(256 * slopes.len());
    for &sl in &slopes {
        let st = Tensor::from_f32(vec![1], vec![sl]);
        table.extend(quantize_table(&t, &eval(&Op::PRelu, &xs, &[&st])?)?);
    }
    Some(add_op(eg, &Op::Lut(LutAttrs { table, axis }), &t, &[x]))
}

/// Fractional bits of linear-resize weights: `2 * frac_bits` plus the input bits stays well
/// inside i32 for 8-bit inputs.
pub const RESIZE_FRAC_BITS_8: u32 = 10;
/// Fractional bits of linear-resize weights for 16-bit inputs.
pub const RESIZE_FRAC_BITS_16: u32 = 7;

fn resize_linear_to_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let Some(Op::Resize(r)) = attr(eg, get(s, "?a")).cloned() else {
        return None;
    };
    if r.mode != ResizeMode::Linear {
        return None;
    }
    let (x, t) = (get(s, "?x"), ty(eg, m)?);
    activation_scale(eg, m, x)?;
    let tx = ty(eg, x)?;
    let frac_bits = if tx.dtype.bits() <= 8 {
        RESIZE_FRAC_BITS_8
    } else {
        RESIZE_FRAC_BITS_16
    };
    let op = Op::ResizeInt(ResizeIntAttrs {
        resize: r,
        frac_bits,
        rounding: eg.analysis.rounding,
    });
    let ri = add_op(eg, &op, &with_shape(&tx, &t.shape), &[x]);
    Some(add_op(eg, &Op::Dequantize, &t, &[ri]))
}

/// Fractional bits of the softmax exp table for an axis of `len` elements: as many as keep
/// `len * 2^bits` (the largest possible sum) below `2^31`, at most 20.
pub fn softmax_exp_bits(len: usize) -> Option<u32> {
    (1..=20u32).rev().find(|&b| (len as u64) << b < 1u64 << 31)
}

/// `exp(-s_x * d)` for `d = 0..=255` in Q`bits` (round half to even, as `quantize`).
pub fn softmax_exp_table(s_x: f32, bits: u32) -> Vec<i32> {
    let one = f64::from(1u32 << bits);
    (0..256)
        .map(|d| ((-f64::from(s_x) * f64::from(d)).exp() * one).round_ties_even() as i32)
        .collect()
}

fn softmax_to_softmax_int(eg: &mut EG, m: Id, s: &Subst) -> Option<Id> {
    let Some(Op::Softmax(a)) = attr(eg, get(s, "?a1")).cloned() else {
        return None;
    };
    let (x, t) = (get(s, "?x"), ty(eg, m)?);
    let tx = ty(eg, x)?;
    let Some((s_x, _)) = per_tensor(&tx) else {
        note(eg, m, "softmax input is not quantized per tensor");
        return None;
    };
    let bits = tx.quant.as_ref().map_or(8, |q: &QuantParams| q.bits);
    if !matches!(tx.dtype, DType::U8 | DType::I8) || bits != 8 {
        note(
            eg,
            m,
            format!(
                "softmax_int needs an 8-bit input, found {} ({bits} bits)",
                tx.dtype
            ),
        );
        return None;
    }
    if per_tensor(&t).is_none() {
        note(eg, m, "softmax result is not quantized per tensor");
        return None;
    }
    let len = *tx.shape.dims().get(a.axis)?;
    let Some(exp_bits) = softmax_exp_bits(len) else {
        note(eg, m, format!("softmax axis of {len} elements is too long"));
        return None;
    };
    let attrs = SoftmaxIntAttrs {
        axis: a.axis,
        exp_table: softmax_exp_table(s_x, exp_bits),
        exp_bits,
        rounding: eg.analysis.rounding,
    };
    Some(add_op(eg, &Op::SoftmaxInt(attrs), &t, &[x]))
}
