//! Converters for already-quantized ONNX models (opsets 10 to 21): QDQ and QOperator forms.
//!
//! Everything imports into qcc's Qdq phase form (docs/quantization.md): float ops between
//! [`Op::Dequantize`] and [`Op::Quantize`], with the quantization parameters in the integer
//! values' types. The graph's phase becomes [`Phase::Qdq`] as soon as one of these ops
//! appears, so that the same `lower-integer` pass lowers imported and self-quantized models.
//!
//! | ONNX | IR |
//! |---|---|
//! | `QuantizeLinear(x, s, zp)` | `quantize` to the zero point's dtype (u8 when absent) |
//! | `QuantizeLinear` of a float initializer | an integer `const` (quantized at import) |
//! | `DequantizeLinear(q, s, zp)` | `dequantize`; `s`/`zp` must equal `q`'s type parameters |
//! | `DequantizeLinear` of an integer initializer | integer `const` with the parameters, `dequantize` |
//! | `QLinearConv` | `dequantize` x, w, i32 bias (scale `s_x*s_w[m]`) -> `conv` -> `quantize` |
//! | `QLinearMatMul` | `dequantize` a, b -> `gemm` (2-d) or `matmul` -> `quantize` |
//! | `ConvInteger(x, w, zx, zw)` | `dequantize` x; w as a const of scale `1/s_x` and zero point `zw`; `conv`; `quantize` to `i32<1:0>` |
//! | `MatMulInteger(a, b, za, zb)` | the same with `matmul` (`b` must be an initializer) |
//! | `Cast(to=FLOAT)` of an `i32<1:0>` | `dequantize` (exactly the cast) |
//! | MaxPool, Reshape, Flatten, Transpose, Concat, ... on an integer tensor | `dequantize` -> float op -> `quantize` with the same parameters |
//!
//! `ConvInteger`/`MatMulInteger` produce the raw int32 accumulator `sum (x-zx)(w-zw)`. qcc
//! gives the weight the scale `1/s_x` (the f32 reciprocal) so that the float op computes
//! `s_x (x-zx) * (w-zw)/s_x`, the accumulator in real units, and quantizing it to an i32
//! of scale 1 recovers the integer; a following `Cast` to float is then a `dequantize` of
//! scale 1. The float result equals the integer accumulator as long as the rounding of
//! `s_x * (1/s_x)` and of the f32 sum stays below half a unit, i.e. for accumulators below
//! about 2^22 in magnitude (a 3x3x64 u8xi8 conv reaches at most 2^22.1 in the worst case).
//!
//! Data-movement ops on integer tensors (QOperator models run MaxPool and Flatten on u8)
//! are wrapped as `dequantize -> op -> quantize` with unchanged parameters, which is exact
//! and is the form qcc's own quantizer produces.

use super::ctx::{Cx, R, Val};
use super::proto::NodeProto;
use super::proto::tensor_proto::DataType;
use super::tensor::{CVal, to_ir_tensor};
use ir::arith::{quantize, reciprocal};
use ir::{
    DType, Op, Phase, QuantGranularity, QuantParams, Tensor, TensorData, TensorType, ValueId,
};

/// The float-op dispatcher, used for the float op inside an expanded quantized op.
pub(crate) type FloatConvert = fn(&mut Cx) -> R<Vec<Val>>;

/// Single-output or multi-output ops that only move or select elements: on an integer
/// input they run as `dequantize -> op -> quantize` with the input's parameters.
const DATA_MOVEMENT: &[&str] = &[
    "MaxPool",
    "GlobalMaxPool",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Slice",
    "Split",
    "Concat",
];

/// Converts `cx`'s node if it is a quantization op (or a data-movement op on an integer
/// tensor, or a cast of an integer accumulator); `None` leaves it to the float converters.
pub(crate) fn convert(cx: &mut Cx, float: FloatConvert) -> Option<R<Vec<Val>>> {
    let r = match cx.op_type() {
        "QuantizeLinear" => quantize_linear(cx),
        "DequantizeLinear" => dequantize_linear(cx),
        "QLinearConv" => qlinear_conv(cx, float),
        "QLinearMatMul" => qlinear_matmul(cx, float),
        "ConvInteger" => conv_integer(cx, float),
        "MatMulInteger" => matmul_integer(cx, float),
        "Cast" if runtime_input(cx, 0) => return cast(cx),
        t if DATA_MOVEMENT.contains(&t) && has_integer_input(cx) => via_float(cx, float),
        _ => return None,
    };
    Some(r)
}

// ---- parameters ---------------------------------------------------------------------------

/// The IR element type of an ONNX integer type code usable for quantized tensors.
fn quant_dtype(elem: i32) -> Option<DType> {
    match DataType::try_from(elem).ok()? {
        DataType::Uint8 => Some(DType::U8),
        DataType::Int8 => Some(DType::I8),
        DataType::Int16 => Some(DType::I16),
        DataType::Int32 => Some(DType::I32),
        _ => None,
    }
}

fn elem_name(elem: i32) -> &'static str {
    super::listing::elem_name(elem)
}

/// Where a node's scale and zero point are and how to read its axis.
struct ParamSlots {
    /// Input index of the scale.
    scale: usize,
    /// Input index of the (optional) zero point.
    zp: usize,
    /// The axis for per-axis parameters: `None` reads the node's `axis` attribute (default
    /// 1), `Some(a)` fixes it (QLinearConv weights: 0).
    axis: Option<usize>,
    /// The element type when the zero point is absent (`None`: the `output_dtype` attribute,
    /// else u8, as for QuantizeLinear).
    default_dtype: Option<DType>,
}

/// Reads scale and zero point of a tensor of shape `dims` from the node's inputs.
fn read_params(cx: &Cx, slots: &ParamSlots, dims: &[usize]) -> R<(DType, QuantParams)> {
    if cx.int_or("block_size", 0)? != 0 {
        return Err(cx.unsupported("blocked quantization (block_size) is not supported"));
    }
    let scale = cx.konst(slots.scale, "scale")?;
    if !scale.is_float() {
        return Err(cx.invalid(format!(
            "the scale must be a float tensor, got {}",
            elem_name(scale.elem)
        )));
    }
    let scales = scale.to_f32();
    if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(cx.invalid(format!("scale {s} is not a positive finite number")));
    }
    let zp = cx.opt_konst(slots.zp, "zero point")?;
    let dtype = match &zp {
        Some(z) => {
            let d = quant_dtype(z.elem).ok_or_else(|| {
                cx.unsupported(format!(
                    "zero point of type {} is not supported (qcc quantizes to uint8, int8, int16 and int32)",
                    elem_name(z.elem)
                ))
            })?;
            if let Some(code) = cx.int("output_dtype")?
                && code != 0
                && code != i64::from(z.elem)
            {
                return Err(cx.attr_err(
                    "output_dtype",
                    format!(
                        "says {} but the zero point is {}",
                        elem_name(code as i32),
                        elem_name(z.elem)
                    ),
                ));
            }
            d
        }
        None => match slots.default_dtype {
            Some(d) => d,
            None => match cx.int("output_dtype")? {
                Some(code) if code != 0 => quant_dtype(code as i32).ok_or_else(|| {
                    cx.attr_err(
                        "output_dtype",
                        format!("type {} is not supported", elem_name(code as i32)),
                    )
                })?,
                _ => DType::U8,
            },
        },
    };
    let zps: Vec<i64> = match &zp {
        Some(z) => z.to_i64(),
        None => vec![0; scales.len()],
    };
    if let Some(z) = &zp
        && z.shape != scale.shape
        && !(z.len() == 1 && scales.len() == 1)
    {
        return Err(cx.invalid(format!(
            "the zero point has shape {:?} but the scale has shape {:?}",
            z.shape, scale.shape
        )));
    }
    let (lo, hi) = dtype.int_range().unwrap_or((0, 0));
    if let Some(z) = zps.iter().find(|&&z| z < lo || z > hi) {
        return Err(cx.invalid(format!("zero point {z} does not fit {dtype}")));
    }
    let zps: Vec<i32> = zps.into_iter().map(|z| z as i32).collect();
    let axis_attr = cx.int("axis")?;
    let rank = dims.len();
    let axis = match slots.axis {
        Some(a) => a,
        None => {
            if axis_attr.is_some() && cx.opset < 13 {
                return Err(cx.attr_err(
                    "axis",
                    format!(
                        "is not defined before opset 13 (the model has opset {})",
                        cx.opset
                    ),
                ));
            }
            match axis_attr {
                Some(a) => cx.axis("axis", a, rank)?,
                // The default axis 1 only matters for per-axis parameters.
                None if scale.shape.len() == 1 && scales.len() > 1 => cx.axis("axis", 1, rank)?,
                None => 1,
            }
        }
    };
    let granularity = if scale.shape.is_empty() || (scale.shape == [1] && scales.len() == 1) {
        QuantGranularity::PerTensor {
            scale: scales[0],
            zero_point: zps[0],
        }
    } else if scale.shape.len() == 1 {
        // QuantizeLinear/DequantizeLinear gained per-axis scales at opset 13; the QLinear
        // ops (fixed axis) had per-channel weights from opset 10 on.
        if slots.axis.is_none() && cx.opset < 13 {
            return Err(cx.unsupported(format!(
                "per-axis scales need opset 13 or later (the model has opset {})",
                cx.opset
            )));
        }
        if dims.get(axis) != Some(&scales.len()) {
            return Err(cx.invalid(format!(
                "{} per-axis scales for axis {axis} of a tensor of shape {dims:?}",
                scales.len()
            )));
        }
        QuantGranularity::PerAxis {
            axis,
            scales,
            zero_points: zps,
        }
    } else {
        return Err(cx.invalid(format!(
            "the scale must be a scalar or 1-d, got shape {:?}",
            scale.shape
        )));
    };
    Ok((
        dtype,
        QuantParams {
            granularity,
            bits: dtype.bits(),
            pow2: false,
        },
    ))
}

/// A type in `.qir`-like spelling for messages, e.g. `u8[1,8]<0.02:128>`.
fn describe(t: &TensorType) -> String {
    let q = match t.quant.as_ref().map(|q| &q.granularity) {
        None => String::new(),
        Some(QuantGranularity::PerTensor { scale, zero_point }) => {
            format!("<{scale}:{zero_point}>")
        }
        Some(QuantGranularity::PerAxis { axis, scales, .. }) => {
            format!("<axis={axis}, {} scales>", scales.len())
        }
    };
    format!("{}{}{q}", t.dtype, t.shape)
}

fn quant_type(dtype: DType, dims: &[usize], qp: QuantParams) -> TensorType {
    TensorType {
        dtype,
        shape: ir::Shape(dims.to_vec()),
        quant: Some(qp),
    }
}

// ---- node creation ------------------------------------------------------------------------

fn mark_qdq(cx: &mut Cx) {
    if cx.imp.g.phase < Phase::Qdq {
        cx.imp.g.phase = Phase::Qdq;
    }
}

fn ir_of(cx: &Cx, v: Val) -> R<ValueId> {
    match v {
        Val::Ir(v) => Ok(v),
        _ => Err(cx.invalid("expected a computed value")),
    }
}

/// Names the node producing `v` `<onnx node>/<part>` (nodes an ONNX node expands into get
/// distinct names; an empty `part` keeps the ONNX node's name).
fn name_part(cx: &mut Cx, v: ValueId, part: &str) {
    if !part.is_empty() {
        let n = cx.imp.g.value(v).producer;
        let name = format!("{}/{part}", cx.name);
        cx.imp.g.set_node_name(n, name);
    }
}

/// `quantize` of the f32 value `x` to `ty`, named after `part`.
fn add_quantize(cx: &mut Cx, x: ValueId, ty: TensorType, part: &str) -> R<ValueId> {
    mark_qdq(cx);
    let v = cx.add_stated(Op::Quantize, vec![x], ty)?;
    let v = ir_of(cx, v)?;
    name_part(cx, v, part);
    Ok(v)
}

/// `dequantize` of the quantized integer value `q`, named after `part`.
fn add_dequantize(cx: &mut Cx, q: ValueId, part: &str) -> R<ValueId> {
    mark_qdq(cx);
    let ty = TensorType::f32(cx.imp.g.ty(q).shape.clone());
    let v = cx.add_stated(Op::Dequantize, vec![q], ty)?;
    let v = ir_of(cx, v)?;
    name_part(cx, v, part);
    Ok(v)
}

/// An integer `const` of type `ty` holding `c`'s integers (cached per name and type).
fn quant_const(cx: &mut Cx, key: &str, c: &CVal, ty: TensorType) -> R<ValueId> {
    let cache_key = format!("{key}\u{0}{ty:?}");
    if let Some(&v) = cx.imp.materialized.get(&cache_key) {
        return Ok(v);
    }
    let t = to_ir_tensor(c).map_err(|m| cx.invalid(format!("tensor `{key}`: {m}")))?;
    if t.dtype != ty.dtype {
        return Err(cx.invalid(format!(
            "tensor `{key}` is {} but its zero point is {}",
            t.dtype, ty.dtype
        )));
    }
    mark_qdq(cx);
    let v = cx.add_stated(Op::Const(ir::ConstAttrs { value: t }), vec![], ty)?;
    let v = ir_of(cx, v)?;
    cx.imp.g.set_node_name(cx.imp.g.value(v).producer, key);
    cx.imp.materialized.insert(cache_key, v);
    Ok(v)
}

/// Quantizes a float constant at import (float weights in front of a QuantizeLinear).
fn quantize_const(cx: &mut Cx, key: &str, c: &CVal, ty: TensorType) -> R<ValueId> {
    let x = c.to_f32();
    let qp = ty
        .quant
        .clone()
        .unwrap_or_else(|| QuantParams::per_tensor(ty.dtype, 1.0, 0));
    let (lo, hi) = ty.dtype.int_range().unwrap_or((0, 0));
    let (axis, inner) = match &qp.granularity {
        QuantGranularity::PerTensor { .. } => (None, 1),
        QuantGranularity::PerAxis { axis, .. } => {
            (Some(*axis), c.shape[axis + 1..].iter().product::<usize>())
        }
    };
    let q: Vec<i32> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = match axis {
                Some(a) => (i / inner) % c.shape[a],
                None => 0,
            };
            quantize(
                v,
                reciprocal(qp.scale(ch)),
                qp.zero_point(ch),
                lo as i32,
                hi as i32,
            )
        })
        .collect();
    let data = match ty.dtype {
        DType::U8 | DType::U4 => TensorData::U8(q.iter().map(|&v| v as u8).collect()),
        DType::I8 | DType::I4 => TensorData::I8(q.iter().map(|&v| v as i8).collect()),
        DType::I16 => TensorData::I16(q.iter().map(|&v| v as i16).collect()),
        DType::I32 | DType::F32 => TensorData::I32(q),
    };
    let t = Tensor {
        dtype: ty.dtype,
        shape: ty.shape.clone(),
        data,
    };
    mark_qdq(cx);
    let v = cx.add_stated(Op::Const(ir::ConstAttrs { value: t }), vec![], ty)?;
    let v = ir_of(cx, v)?;
    cx.imp.g.set_node_name(cx.imp.g.value(v).producer, key);
    Ok(v)
}

/// Input `i` dequantized with the parameters in slots: an integer initializer becomes a
/// quantized `const`; a computed integer value must already carry exactly these parameters.
fn dequantized_input(cx: &mut Cx, i: usize, slots: &ParamSlots) -> R<ValueId> {
    let dims = cx.dims(i)?;
    match cx.val(i)? {
        Val::Const(c) => {
            let Some(dtype) = quant_dtype(c.elem) else {
                return Err(cx.unsupported(format!(
                    "input {i} has type {}; qcc dequantizes uint8, int8, int16 and int32",
                    elem_name(c.elem)
                )));
            };
            let slots = ParamSlots {
                default_dtype: Some(dtype),
                ..*slots
            };
            let (pdtype, qp) = read_params(cx, &slots, &dims)?;
            if pdtype != dtype {
                return Err(cx.invalid(format!(
                    "input {i} is {dtype} but its zero point is {pdtype}"
                )));
            }
            let key = cx.node.input[i].clone();
            let q = quant_const(cx, &key, &c, quant_type(dtype, &dims, qp))?;
            let part = input_part(cx, i);
            add_dequantize(cx, q, &part)
        }
        Val::Ir(v) => {
            let ty = cx.imp.g.ty(v).clone();
            let Some(have) = ty.quant.clone() else {
                return Err(cx.unsupported(format!(
                    "input {i} is a {} tensor without quantization parameters (qcc takes float model inputs and dequantizes only what a QuantizeLinear produced)",
                    ty.dtype
                )));
            };
            let slots = ParamSlots {
                default_dtype: Some(ty.dtype),
                ..*slots
            };
            let (pdtype, qp) = read_params(cx, &slots, &dims)?;
            if pdtype != ty.dtype || qp.granularity != have.granularity {
                return Err(cx.unsupported(format!(
                    "input {i} was quantized as {} but this node reads it as {} (qcc needs a tensor's quantization parameters to agree everywhere)",
                    describe(&ty),
                    describe(&quant_type(pdtype, &dims, qp))
                )));
            }
            let part = input_part(cx, i);
            add_dequantize(cx, v, &part)
        }
        Val::Absent(_) => Err(cx.invalid("absent input")),
    }
}

/// The name part of the dequantize of input `i`: none for DequantizeLinear itself.
fn input_part(cx: &Cx, i: usize) -> String {
    if cx.op_type() == "DequantizeLinear" {
        String::new()
    } else {
        format!("dequantize{i}")
    }
}

/// Runs the float converter on a copy of the node whose inputs are `inputs` (IR values
/// bound to fresh names) and whose op type is `op_type`.
fn run_float(
    cx: &mut Cx,
    float: FloatConvert,
    op_type: &str,
    inputs: Vec<Option<ValueId>>,
) -> R<Vec<Val>> {
    let mut node: NodeProto = cx.node.clone();
    node.op_type = op_type.to_string();
    node.input = inputs
        .iter()
        .enumerate()
        .map(|(k, v)| match v {
            Some(v) => {
                let name = format!("\u{1}qcc:{}:{k}", cx.idx);
                cx.imp.env.insert(name.clone(), Val::Ir(*v));
                name
            }
            None => String::new(),
        })
        .collect();
    let mut inner = Cx {
        imp: &mut *cx.imp,
        idx: cx.idx,
        node: &node,
        name: cx.name.clone(),
        opset: cx.opset,
    };
    float(&mut inner)
}

fn runtime_input(cx: &Cx, i: usize) -> bool {
    matches!(cx.val(i), Ok(Val::Ir(_)))
}

fn has_integer_input(cx: &Cx) -> bool {
    (0..cx.node.input.len()).any(|i| match cx.val(i) {
        Ok(Val::Ir(v)) => cx.imp.g.ty(v).dtype.is_int(),
        _ => false,
    })
}

// ---- converters ---------------------------------------------------------------------------

fn quantize_linear(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 3)?;
    let dims = cx.dims(0)?;
    let slots = ParamSlots {
        scale: 1,
        zp: 2,
        axis: None,
        default_dtype: None,
    };
    let (dtype, qp) = read_params(cx, &slots, &dims)?;
    let ty = quant_type(dtype, &dims, qp);
    match cx.val(0)? {
        Val::Const(c) => {
            let key = cx.node.output.first().cloned().unwrap_or_default();
            Ok(vec![Val::Ir(quantize_const(cx, &key, &c, ty)?)])
        }
        Val::Ir(x) => {
            if cx.imp.g.ty(x).dtype != DType::F32 {
                return Err(cx.unsupported(format!(
                    "QuantizeLinear of a {} tensor is not supported (qcc quantizes float tensors)",
                    cx.imp.g.ty(x).dtype
                )));
            }
            Ok(vec![Val::Ir(add_quantize(cx, x, ty, "")?)])
        }
        Val::Absent(_) => Err(cx.invalid("absent input")),
    }
}

fn dequantize_linear(cx: &mut Cx) -> R<Vec<Val>> {
    cx.expect_inputs(2, 3)?;
    let slots = ParamSlots {
        scale: 1,
        zp: 2,
        axis: None,
        default_dtype: None,
    };
    Ok(vec![Val::Ir(dequantized_input(cx, 0, &slots)?)])
}

/// The output quantization of a QLinear op: scale and zero point at `slot`, `slot + 1`.
fn output_type(cx: &Cx, slot: usize, y: ValueId) -> R<TensorType> {
    let dims = cx.imp.g.ty(y).shape.0.clone();
    let slots = ParamSlots {
        scale: slot,
        zp: slot + 1,
        axis: Some(1),
        default_dtype: Some(DType::U8),
    };
    let (dtype, qp) = read_params(cx, &slots, &dims)?;
    if !matches!(qp.granularity, QuantGranularity::PerTensor { .. }) {
        return Err(cx.unsupported("per-channel output quantization is not supported"));
    }
    Ok(quant_type(dtype, &dims, qp))
}

fn qlinear_conv(cx: &mut Cx, float: FloatConvert) -> R<Vec<Val>> {
    cx.expect_inputs(8, 9)?;
    let x = dequantized_input(
        cx,
        0,
        &ParamSlots {
            scale: 1,
            zp: 2,
            axis: Some(1),
            default_dtype: None,
        },
    )?;
    let w = dequantized_input(
        cx,
        3,
        &ParamSlots {
            scale: 4,
            zp: 5,
            axis: Some(0),
            default_dtype: None,
        },
    )?;
    let mut ins = vec![Some(x), Some(w)];
    if cx.has_input(8) {
        ins.push(Some(bias(cx, 8, x, w)?));
    }
    let y = run_float(cx, float, "Conv", ins)?;
    let y = ir_of(
        cx,
        y.into_iter().next().unwrap_or(Val::Absent(String::new())),
    )?;
    let ty = output_type(cx, 6, y)?;
    Ok(vec![Val::Ir(add_quantize(cx, y, ty, "quantize")?)])
}

/// The i32 bias of QLinearConv (input `i`): scale `s_x * s_w[m]`, zero point 0.
fn bias(cx: &mut Cx, i: usize, x: ValueId, w: ValueId) -> R<ValueId> {
    let c = cx.konst(i, "bias")?;
    if DataType::try_from(c.elem) != Ok(DataType::Int32) || c.shape.len() != 1 {
        return Err(cx.invalid(format!(
            "the bias must be a 1-d int32 tensor, got {}{:?}",
            elem_name(c.elem),
            c.shape
        )));
    }
    let scale_of = |v: ValueId| {
        let q = &cx.imp.g.producer(v).inputs[0];
        cx.imp.g.ty(*q).quant.clone()
    };
    let (Some(qx), Some(qw)) = (scale_of(x), scale_of(w)) else {
        return Err(cx.invalid("operands without quantization parameters"));
    };
    let m = c.shape[0];
    let granularity = match &qw.granularity {
        QuantGranularity::PerTensor { scale, .. } => QuantGranularity::PerTensor {
            scale: qx.scale(0) * scale,
            zero_point: 0,
        },
        QuantGranularity::PerAxis { scales, .. } => {
            if scales.len() != m {
                return Err(cx.invalid(format!(
                    "the bias has {m} entries but the weight {} output channels",
                    scales.len()
                )));
            }
            QuantGranularity::PerAxis {
                axis: 0,
                scales: scales.iter().map(|s| qx.scale(0) * s).collect(),
                zero_points: vec![0; m],
            }
        }
    };
    let qp = QuantParams {
        granularity,
        bits: 32,
        pow2: false,
    };
    let key = cx.node.input[i].clone();
    let q = quant_const(cx, &key, &c, quant_type(DType::I32, &[m], qp))?;
    add_dequantize(cx, q, &format!("dequantize{i}"))
}

fn qlinear_matmul(cx: &mut Cx, float: FloatConvert) -> R<Vec<Val>> {
    cx.expect_inputs(8, 8)?;
    let a = dequantized_input(
        cx,
        0,
        &ParamSlots {
            scale: 1,
            zp: 2,
            axis: Some(0),
            default_dtype: None,
        },
    )?;
    let b_rank = cx.dims(3)?.len();
    let b = dequantized_input(
        cx,
        3,
        &ParamSlots {
            scale: 4,
            zp: 5,
            axis: Some(b_rank.saturating_sub(1)),
            default_dtype: None,
        },
    )?;
    // A 2-d product is a Gemm (alpha = beta = 1, no transposes): the form whose weight may be
    // quantized per output column, as QLinearMatMul's `b` usually is.
    let a_rank = cx.dims(0)?.len();
    let op = if a_rank == 2 && b_rank == 2 {
        "Gemm"
    } else {
        "MatMul"
    };
    let y = run_float(cx, float, op, vec![Some(a), Some(b)])?;
    let y = ir_of(
        cx,
        y.into_iter().next().unwrap_or(Val::Absent(String::new())),
    )?;
    let ty = output_type(cx, 6, y)?;
    Ok(vec![Val::Ir(add_quantize(cx, y, ty, "quantize")?)])
}

/// Shared part of ConvInteger and MatMulInteger: `x` (input 0, zero point input `2`) is a
/// quantized value, `w` (input 1, zero point input 3) an integer initializer given the scale
/// `1/s_x` on axis `w_axis`; the float op's result is quantized to `i32<1:0>`.
fn integer_op(cx: &mut Cx, float: FloatConvert, op_type: &str, w_axis: usize) -> R<Vec<Val>> {
    cx.expect_inputs(2, 4)?;
    let x = match cx.val(0)? {
        Val::Ir(x) => x,
        _ => {
            return Err(cx.unsupported(format!(
                "{} of a constant input is not supported",
                cx.op_type()
            )));
        }
    };
    let xt = cx.imp.g.ty(x).clone();
    let Some(xq) = xt.quant.clone() else {
        return Err(cx.unsupported(
            "input 0 has no quantization parameters (it must come from a QuantizeLinear)",
        ));
    };
    let QuantGranularity::PerTensor {
        scale: s_x,
        zero_point: zp_x,
    } = xq.granularity
    else {
        return Err(cx.unsupported("input 0 must be quantized per tensor"));
    };
    let zx = match cx.opt_konst(2, "input zero point")? {
        None => 0,
        Some(z) if z.len() == 1 => z.to_i64()[0],
        Some(_) => return Err(cx.unsupported("per-row input zero points are not supported")),
    };
    if zx != i64::from(zp_x) {
        return Err(cx.unsupported(format!(
            "the input zero point {zx} differs from {zp_x}, the one the input was quantized with"
        )));
    }
    let xf = add_dequantize(cx, x, "dequantize0")?;

    let w = match cx.val(1)? {
        Val::Const(w) => w,
        _ => {
            return Err(cx.unsupported(format!(
                "{} with a weight computed at run time is not supported (it must be an initializer)",
                cx.op_type()
            )));
        }
    };
    let Some(wdtype) = quant_dtype(w.elem).filter(|d| matches!(d, DType::U8 | DType::I8)) else {
        return Err(cx.unsupported(format!("a weight of type {}", elem_name(w.elem))));
    };
    let m = w.shape.get(w_axis).copied().unwrap_or(1);
    let zw: Vec<i64> = match cx.opt_konst(3, "weight zero point")? {
        None => vec![0],
        Some(z) => {
            if quant_dtype(z.elem) != Some(wdtype) {
                return Err(cx.invalid("the weight zero point's type differs from the weight's"));
            }
            if z.len() != 1 && (z.shape.len() != 1 || z.len() != m) {
                return Err(cx.invalid(format!(
                    "the weight zero point has shape {:?}; expected a scalar or {m} entries",
                    z.shape
                )));
            }
            z.to_i64()
        }
    };
    let inv = reciprocal(s_x);
    let granularity = if zw.len() == 1 {
        QuantGranularity::PerTensor {
            scale: inv,
            zero_point: zw[0] as i32,
        }
    } else {
        QuantGranularity::PerAxis {
            axis: w_axis,
            scales: vec![inv; m],
            zero_points: zw.iter().map(|&z| z as i32).collect(),
        }
    };
    let qp = QuantParams {
        granularity,
        bits: wdtype.bits(),
        pow2: false,
    };
    let key = cx.node.input[1].clone();
    let wq = quant_const(cx, &key, &w, quant_type(wdtype, &w.shape, qp))?;
    let wf = add_dequantize(cx, wq, "dequantize1")?;
    let y = run_float(cx, float, op_type, vec![Some(xf), Some(wf)])?;
    let y = ir_of(
        cx,
        y.into_iter().next().unwrap_or(Val::Absent(String::new())),
    )?;
    let dims = cx.imp.g.ty(y).shape.0.clone();
    let ty = quant_type(
        DType::I32,
        &dims,
        QuantParams::per_tensor(DType::I32, 1.0, 0),
    );
    Ok(vec![Val::Ir(add_quantize(cx, y, ty, "quantize")?)])
}

fn conv_integer(cx: &mut Cx, float: FloatConvert) -> R<Vec<Val>> {
    integer_op(cx, float, "Conv", 0)
}

fn matmul_integer(cx: &mut Cx, float: FloatConvert) -> R<Vec<Val>> {
    let rank = cx.dims(1)?.len();
    integer_op(cx, float, "MatMul", rank.saturating_sub(1))
}

/// Cast of a computed value: to float only, from f32 (nothing to do) or from an integer of
/// scale 1 and zero point 0 (a `dequantize`). Other casts stay with the constant folder's
/// error.
fn cast(cx: &mut Cx) -> Option<R<Vec<Val>>> {
    let to = cx.int("to").ok().flatten()?;
    if to != DataType::Float as i64 {
        return None;
    }
    let Ok(Val::Ir(x)) = cx.val(0) else {
        return None;
    };
    let ty = cx.imp.g.ty(x).clone();
    if ty.dtype == DType::F32 {
        return Some(Ok(vec![Val::Ir(x)]));
    }
    let unit = matches!(
        ty.quant.as_ref().map(|q| &q.granularity),
        Some(QuantGranularity::PerTensor { scale, zero_point: 0 }) if *scale == 1.0
    );
    if !unit {
        return Some(Err(cx.unsupported(format!(
            "Cast to float of a {} tensor is not supported (only integer accumulators of ConvInteger/MatMulInteger; use DequantizeLinear)",
            describe(&ty)
        ))));
    }
    Some(add_dequantize(cx, x, "").map(|v| vec![Val::Ir(v)]))
}

/// A data-movement op on integer tensors as `dequantize -> op -> quantize`; every integer
/// input must have the same type parameters, which the outputs keep.
fn via_float(cx: &mut Cx, float: FloatConvert) -> R<Vec<Val>> {
    let mut qtype: Option<(DType, QuantParams)> = None;
    let mut node = cx.node.clone();
    for i in 0..node.input.len() {
        if !cx.has_input(i) {
            continue;
        }
        let Val::Ir(v) = cx.val(i)? else { continue };
        let ty = cx.imp.g.ty(v).clone();
        if !ty.dtype.is_int() {
            continue;
        }
        let Some(q) = ty.quant.clone() else {
            return Err(cx.unsupported(format!(
                "input {i} is a {} tensor without quantization parameters",
                ty.dtype
            )));
        };
        if let QuantGranularity::PerAxis { .. } = q.granularity {
            return Err(cx.unsupported(format!(
                "{} of a per-axis quantized tensor is not supported",
                cx.op_type()
            )));
        }
        match &qtype {
            Some((d, p)) if *d != ty.dtype || *p != q => {
                return Err(cx.unsupported(format!(
                    "{} of integer tensors with different quantization parameters is not supported",
                    cx.op_type()
                )));
            }
            _ => qtype = Some((ty.dtype, q)),
        }
        let f = add_dequantize(cx, v, &format!("dequantize{i}"))?;
        let name = format!("\u{1}qcc:{}:{i}", cx.idx);
        cx.imp.env.insert(name.clone(), Val::Ir(f));
        node.input[i] = name;
    }
    let Some((dtype, qp)) = qtype else {
        return Err(cx.invalid("no integer input"));
    };
    let outs = {
        let mut inner = Cx {
            imp: &mut *cx.imp,
            idx: cx.idx,
            node: &node,
            name: cx.name.clone(),
            opset: cx.opset,
        };
        float(&mut inner)?
    };
    let many = outs.len() > 1;
    outs.into_iter()
        .enumerate()
        .map(|(j, o)| match o {
            Val::Ir(v) if cx.imp.g.ty(v).dtype == DType::F32 => {
                let dims = cx.imp.g.ty(v).shape.0.clone();
                let part = if many {
                    format!("quantize{j}")
                } else {
                    "quantize".into()
                };
                add_quantize(cx, v, quant_type(dtype, &dims, qp.clone()), &part).map(Val::Ir)
            }
            other => Ok(other),
        })
        .collect()
}
