//! Shape inference: the output types of an op from its input types and attributes.
//!
//! [`infer_output_types`] is the one definition of every op's typing rule. The importer calls
//! it to type each node it creates and the verifier calls it to check each node's recorded
//! output types. Ops whose result shape is stated rather than derived ([`Op::Input`],
//! [`Op::Const`], [`Op::Reshape`], [`Op::Resize`], and [`Op::Slice`], whose attributes carry
//! no end indices) return `Ok(None)` after checking what can be checked from the inputs;
//! [`check_given_output_types`] checks their stated output types against the inputs.
//!
//! Typing rules common to all ops:
//! - arithmetic ops produce their first input's element type without quantization;
//! - data-movement ops (Concat, Split, Slice, Reshape, Transpose, Pad, MaxPool, Resize) keep
//!   their input's full type, quantization included, with the new shape (all Concat inputs
//!   share it; a per-axis quantization must keep its axis's size; Transpose moves the axis);
//! - the data inputs of an op must share one element type.
//!
//! Quantization and integer ops: Quantize (f32 in) states its quantized integer output type;
//! Dequantize gives f32 of the same shape; ConvInt, ConvTransposeInt, GemmInt and MatMulInt
//! give the i32 accumulator with the product's shape, quantized with scales `s_x * s_w[c]`
//! and zero point 0 when both operands carry parameters (see `accumulator`); Requant,
//! AddInt, MulInt, Lut and SoftmaxInt state their integer output type, whose shape must be
//! the inferred one; AvgPoolInt keeps its input's type with the pooled shape; ResizeInt
//! states its shape and keeps the input's type.

use crate::ops::{ConvAttrs, ConvTransposeAttrs, Op, PadMode, PoolAttrs, ResizeAttrs, ResizeMode};
use crate::types::{DType, QuantGranularity, QuantParams, Shape, TensorType};
use thiserror::Error;

/// Why an op's inputs and attributes don't type-check.
#[derive(Clone, PartialEq, Debug, Error)]
pub enum InferError {
    /// Wrong number of inputs.
    #[error("{op} takes {expected} inputs, got {got}")]
    Arity {
        /// The op mnemonic.
        op: &'static str,
        /// The accepted counts, e.g. `"2 or 3"`.
        expected: &'static str,
        /// The count given.
        got: usize,
    },
    /// An input has the wrong rank.
    #[error("{op} input {index} has rank {got}, expected {expected}")]
    Rank {
        /// The op mnemonic.
        op: &'static str,
        /// Which input.
        index: usize,
        /// Its rank.
        got: usize,
        /// What the op accepts.
        expected: String,
    },
    /// Two shapes don't broadcast (numpy rules).
    #[error("shapes {a} and {b} do not broadcast")]
    Broadcast {
        /// Left shape.
        a: Shape,
        /// Right shape.
        b: Shape,
    },
    /// Input shapes disagree with each other or with the attributes.
    #[error("{op}: {message}")]
    Mismatch {
        /// The op mnemonic.
        op: &'static str,
        /// What disagrees, lowercase.
        message: String,
    },
    /// An attribute is out of range or has the wrong length.
    #[error("{op}: bad attribute `{attr}`: {message}")]
    Attr {
        /// The op mnemonic.
        op: &'static str,
        /// The attribute's name.
        attr: &'static str,
        /// What is wrong, lowercase.
        message: String,
    },
    /// Inputs have different element types.
    #[error("{op} input {index} has element type {got}, expected {expected}")]
    DType {
        /// The op mnemonic.
        op: &'static str,
        /// Which input.
        index: usize,
        /// Its element type.
        got: crate::types::DType,
        /// The first input's element type.
        expected: crate::types::DType,
    },
}

/// The output types of `op` applied to inputs of the given types, or `Ok(None)` when the op's
/// output shape is stated (in the node's output types) rather than derived.
pub fn infer_output_types(
    op: &Op,
    inputs: &[&TensorType],
) -> Result<Option<Vec<TensorType>>, InferError> {
    let name = op.mnemonic();
    let one = |t: Shape| Ok(Some(vec![arith(inputs[0], t)]));
    match op {
        Op::Input | Op::Const(_) => {
            arity(name, inputs, 0, 0, "0")?;
            Ok(None)
        }
        Op::Reshape => {
            arity(name, inputs, 1, 1, "1")?;
            Ok(None)
        }
        Op::Resize(a) => {
            arity(name, inputs, 1, 1, "1")?;
            check_scales(name, a, inputs[0])?;
            Ok(None)
        }
        Op::Slice(a) => {
            arity(name, inputs, 1, 1, "1")?;
            let dims = inputs[0].shape.dims();
            if a.starts.len() != dims.len() || a.steps.len() != dims.len() {
                return Err(attr_err(
                    name,
                    "starts",
                    format!(
                        "starts/steps have {}/{} entries for rank {}",
                        a.starts.len(),
                        a.steps.len(),
                        dims.len()
                    ),
                ));
            }
            // Starts are checked against the stated output size in
            // `check_given_output_types` (a start is unused when nothing is taken).
            for (d, &st) in a.steps.iter().enumerate() {
                if st == 0 {
                    return Err(attr_err(name, "steps", format!("step of dim {d} is 0")));
                }
            }
            Ok(None)
        }
        Op::Conv(a) => {
            arity(name, inputs, 2, 3, "2 or 3")?;
            same_dtype(name, inputs)?;
            one(conv_shape(name, a, inputs)?)
        }
        Op::ConvTranspose(a) => {
            arity(name, inputs, 2, 3, "2 or 3")?;
            same_dtype(name, inputs)?;
            one(conv_transpose_shape(name, a, inputs)?)
        }
        Op::Gemm(a) => {
            arity(name, inputs, 2, 3, "2 or 3")?;
            same_dtype(name, inputs)?;
            let (m, n) = gemm_dims(name, a.trans_a, a.trans_b, inputs)?;
            if let Some(c) = inputs.get(2) {
                unidirectional(c.shape.dims(), &[m, n])?;
            }
            one(Shape(vec![m, n]))
        }
        Op::MatMul => {
            arity(name, inputs, 2, 2, "2")?;
            same_dtype(name, inputs)?;
            one(matmul_shape(
                inputs[0].shape.dims(),
                inputs[1].shape.dims(),
            )?)
        }
        Op::BatchNorm(a) => {
            arity(name, inputs, 5, 5, "5")?;
            same_dtype(name, inputs)?;
            let x = inputs[0].shape.dims();
            if x.len() < 2 {
                return Err(rank_err(name, 0, x.len(), "at least 2"));
            }
            for (i, t) in inputs.iter().enumerate().skip(1) {
                if t.shape.dims() != [x[1]] {
                    return Err(mismatch(
                        name,
                        format!(
                            "parameter input {i} has shape {} but the input has {} channels",
                            t.shape, x[1]
                        ),
                    ));
                }
            }
            if !(a.epsilon.is_finite() && a.epsilon >= 0.0) {
                return Err(attr_err(name, "epsilon", "must be finite and >= 0".into()));
            }
            one(inputs[0].shape.clone())
        }
        Op::Relu
        | Op::LeakyRelu(_)
        | Op::Sigmoid
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Tanh => {
            arity(name, inputs, 1, 1, "1")?;
            one(inputs[0].shape.clone())
        }
        Op::Clip(a) => {
            arity(name, inputs, 1, 1, "1")?;
            if a.min.is_nan() || a.max.is_nan() || a.min > a.max {
                return Err(attr_err(
                    name,
                    "min",
                    format!("bounds [{}, {}] are not an interval", a.min, a.max),
                ));
            }
            one(inputs[0].shape.clone())
        }
        Op::PRelu => {
            arity(name, inputs, 2, 2, "2")?;
            same_dtype(name, inputs)?;
            unidirectional(inputs[1].shape.dims(), inputs[0].shape.dims())?;
            one(inputs[0].shape.clone())
        }
        Op::Softmax(a) => {
            arity(name, inputs, 1, 1, "1")?;
            check_axis(name, "axis", a.axis, inputs[0].shape.rank())?;
            one(inputs[0].shape.clone())
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            arity(name, inputs, 2, 2, "2")?;
            same_dtype(name, inputs)?;
            one(broadcast_shapes(&inputs[0].shape, &inputs[1].shape)?)
        }
        Op::MaxPool(p) => {
            arity(name, inputs, 1, 1, "1")?;
            let shape = pool_shape(name, inputs[0], p)?;
            Ok(Some(vec![moved(name, inputs[0], shape)?]))
        }
        Op::AveragePool(a) => {
            arity(name, inputs, 1, 1, "1")?;
            one(pool_shape(name, inputs[0], &a.pool)?)
        }
        Op::GlobalAveragePool => {
            arity(name, inputs, 1, 1, "1")?;
            let x = inputs[0].shape.dims();
            if x.len() < 3 {
                return Err(rank_err(name, 0, x.len(), "at least 3 (N, C, spatial..)"));
            }
            let mut out = x.to_vec();
            out[2..].iter_mut().for_each(|d| *d = 1);
            one(Shape(out))
        }
        Op::ReduceMean(a) => {
            arity(name, inputs, 1, 1, "1")?;
            let x = inputs[0].shape.dims();
            if a.axes.is_empty() {
                return Err(attr_err(name, "axes", "must name at least one axis".into()));
            }
            for w in a.axes.windows(2) {
                if w[0] >= w[1] {
                    return Err(attr_err(name, "axes", "must be sorted and unique".into()));
                }
            }
            for &ax in &a.axes {
                check_axis(name, "axes", ax, x.len())?;
            }
            let out = x
                .iter()
                .enumerate()
                .filter_map(|(i, &d)| match (a.axes.contains(&i), a.keepdims) {
                    (false, _) => Some(d),
                    (true, true) => Some(1),
                    (true, false) => None,
                })
                .collect();
            one(Shape(out))
        }
        Op::Concat(a) => {
            if inputs.is_empty() {
                return Err(InferError::Arity {
                    op: name,
                    expected: "at least 1",
                    got: 0,
                });
            }
            same_dtype(name, inputs)?;
            let first = inputs[0].shape.dims();
            check_axis(name, "axis", a.axis, first.len())?;
            let mut total = 0usize;
            for (i, t) in inputs.iter().enumerate() {
                let d = t.shape.dims();
                let compatible = d.len() == first.len()
                    && d.iter()
                        .zip(first)
                        .enumerate()
                        .all(|(j, (x, y))| j == a.axis || x == y);
                if !compatible {
                    return Err(mismatch(
                        name,
                        format!(
                            "input {i} has shape {} incompatible with {} along axis {}",
                            t.shape, inputs[0].shape, a.axis
                        ),
                    ));
                }
                total = total
                    .checked_add(d[a.axis])
                    .ok_or_else(|| mismatch(name, "size overflows".into()))?;
            }
            let mut out = first.to_vec();
            out[a.axis] = total;
            same_quant(name, inputs)?;
            Ok(Some(vec![moved(name, inputs[0], Shape(out))?]))
        }
        Op::Split(a) => {
            arity(name, inputs, 1, 1, "1")?;
            let x = inputs[0].shape.dims();
            check_axis(name, "axis", a.axis, x.len())?;
            if a.sizes.is_empty() {
                return Err(attr_err(
                    name,
                    "sizes",
                    "must have at least one entry".into(),
                ));
            }
            let sum = a.sizes.iter().try_fold(0usize, |s, &v| s.checked_add(v));
            if sum != Some(x[a.axis]) {
                return Err(attr_err(
                    name,
                    "sizes",
                    format!(
                        "sizes {:?} do not sum to the axis size {}",
                        a.sizes, x[a.axis]
                    ),
                ));
            }
            let outs = a
                .sizes
                .iter()
                .map(|&s| {
                    let mut d = x.to_vec();
                    d[a.axis] = s;
                    moved(name, inputs[0], Shape(d))
                })
                .collect::<Result<_, _>>()?;
            Ok(Some(outs))
        }
        Op::Transpose(a) => {
            arity(name, inputs, 1, 1, "1")?;
            let x = inputs[0].shape.dims();
            let mut seen = vec![false; x.len()];
            if a.perm.len() != x.len() {
                return Err(attr_err(
                    name,
                    "perm",
                    format!("has {} entries for rank {}", a.perm.len(), x.len()),
                ));
            }
            for &p in &a.perm {
                if p >= x.len() || std::mem::replace(&mut seen[p], true) {
                    return Err(attr_err(
                        name,
                        "perm",
                        format!("{:?} is not a permutation", a.perm),
                    ));
                }
            }
            let out = a.perm.iter().map(|&p| x[p]).collect();
            let mut t = moved(name, &unquantized(inputs[0]), Shape(out))?;
            // A per-axis quantization follows its axis to the new position.
            t.quant = inputs[0].quant.clone().map(|mut q| {
                if let QuantGranularity::PerAxis { axis, .. } = &mut q.granularity
                    && let Some(p) = a.perm.iter().position(|p| p == axis)
                {
                    *axis = p;
                }
                q
            });
            Ok(Some(vec![t]))
        }
        Op::Pad(a) => {
            arity(name, inputs, 1, 1, "1")?;
            let x = inputs[0].shape.dims();
            let r = x.len();
            if a.pads.len() != 2 * r {
                return Err(attr_err(
                    name,
                    "pads",
                    format!("has {} entries for rank {r}", a.pads.len()),
                ));
            }
            let mut out = Vec::with_capacity(r);
            for (i, &d) in x.iter().enumerate() {
                let (b, e) = (a.pads[i], a.pads[r + i]);
                let size = (d as i64)
                    .checked_add(b)
                    .and_then(|s| s.checked_add(e))
                    .filter(|&s| s >= 0)
                    .ok_or_else(|| {
                        attr_err(
                            name,
                            "pads",
                            format!("crop more than the size {d} of dim {i}"),
                        )
                    })?;
                let most = b.max(e);
                let allowed = match a.mode {
                    PadMode::Constant => true,
                    PadMode::Reflect => most <= 0 || most < d as i64,
                    PadMode::Edge => most <= 0 || d > 0,
                };
                if !allowed {
                    return Err(attr_err(
                        name,
                        "pads",
                        format!(
                            "{:?} padding of {most} exceeds what dim {i} of size {d} allows",
                            a.mode
                        ),
                    ));
                }
                out.push(size as usize);
            }
            Ok(Some(vec![moved(name, inputs[0], Shape(out))?]))
        }
        Op::Quantize => {
            arity(name, inputs, 1, 1, "1")?;
            expect_dtype(name, inputs, 0, DType::F32)?;
            Ok(None)
        }
        Op::Dequantize => {
            arity(name, inputs, 1, 1, "1")?;
            quantized_int(name, inputs, 0)?;
            Ok(Some(vec![TensorType::f32(inputs[0].shape.clone())]))
        }
        Op::ConvInt(a) => {
            arity(name, inputs, 2, 3, "2 or 3")?;
            int_operands(name, inputs)?;
            let shape = conv_shape(name, &a.conv, inputs)?;
            let m = shape.dims()[1];
            Ok(Some(vec![accumulator(shape, inputs, 0, m)]))
        }
        Op::ConvTransposeInt(a) => {
            arity(name, inputs, 2, 3, "2 or 3")?;
            int_operands(name, inputs)?;
            let shape = conv_transpose_shape(name, &a.conv, inputs)?;
            let m = shape.dims()[1];
            Ok(Some(vec![accumulator(shape, inputs, 1, m)]))
        }
        Op::GemmInt(a) => {
            arity(name, inputs, 2, 3, "2 or 3")?;
            int_operands(name, inputs)?;
            let (m, n) = gemm_dims(name, false, a.trans_b, inputs)?;
            check_bias(name, inputs, n)?;
            let w_axis = if a.trans_b { 0 } else { 1 };
            Ok(Some(vec![accumulator(
                Shape(vec![m, n]),
                inputs,
                w_axis,
                n,
            )]))
        }
        Op::MatMulInt => {
            arity(name, inputs, 2, 2, "2")?;
            int_operands(name, inputs)?;
            let shape = matmul_shape(inputs[0].shape.dims(), inputs[1].shape.dims())?;
            Ok(Some(vec![accumulator(shape, inputs, usize::MAX, 1)]))
        }
        Op::Requant(_) | Op::Lut(_) => {
            arity(name, inputs, 1, 1, "1")?;
            int_operands(name, inputs)?;
            Ok(None)
        }
        Op::SoftmaxInt(a) => {
            arity(name, inputs, 1, 1, "1")?;
            int_operands(name, inputs)?;
            check_axis(name, "axis", a.axis, inputs[0].shape.rank())?;
            Ok(None)
        }
        Op::AddInt(_) | Op::MulInt(_) => {
            arity(name, inputs, 2, 2, "2")?;
            int_operands(name, inputs)?;
            broadcast_shapes(&inputs[0].shape, &inputs[1].shape)?;
            Ok(None)
        }
        Op::AvgPoolInt(a) => {
            arity(name, inputs, 1, 1, "1")?;
            int_operands(name, inputs)?;
            let shape = pool_shape(name, inputs[0], &a.pool.pool)?;
            Ok(Some(vec![moved(name, inputs[0], shape)?]))
        }
        Op::ResizeInt(a) => {
            arity(name, inputs, 1, 1, "1")?;
            int_operands(name, inputs)?;
            check_scales(name, &a.resize, inputs[0])?;
            Ok(None)
        }
    }
}

/// Checks the stated output types of ops that [`infer_output_types`] does not derive
/// (Reshape keeps the element count, Slice stays in range, Resize keeps the rank, Const
/// matches its value). For other ops it compares against the inferred types.
pub fn check_given_output_types(
    op: &Op,
    inputs: &[&TensorType],
    outputs: &[&TensorType],
) -> Result<(), InferError> {
    let name = op.mnemonic();
    if let Some(expected) = infer_output_types(op, inputs)? {
        if expected.len() != outputs.len() || expected.iter().zip(outputs).any(|(e, o)| e != *o) {
            let shapes: Vec<String> = expected.iter().map(|t| t.shape.to_string()).collect();
            return Err(mismatch(
                name,
                format!(
                    "output types differ from the inferred shapes {}",
                    shapes.join(", ")
                ),
            ));
        }
        return Ok(());
    }
    if outputs.len() != 1 {
        return Err(mismatch(
            name,
            format!("has {} outputs, expected 1", outputs.len()),
        ));
    }
    let out = outputs[0];
    match op {
        Op::Const(c) => {
            if c.value.dtype != out.dtype || c.value.shape != out.shape {
                return Err(mismatch(
                    name,
                    format!(
                        "value is {}{} but the output type is {}{}",
                        c.value.dtype, c.value.shape, out.dtype, out.shape
                    ),
                ));
            }
        }
        Op::Reshape => {
            if inputs[0].shape.checked_numel() != out.shape.checked_numel() {
                return Err(mismatch(
                    name,
                    format!("cannot reshape {} into {}", inputs[0].shape, out.shape),
                ));
            }
            keeps_type(name, inputs[0], out)?;
        }
        Op::Resize(a) => {
            same_rank(name, inputs[0], out)?;
            keeps_type(name, inputs[0], out)?;
            if inputs[0].dtype.is_int() && a.mode == ResizeMode::Linear {
                return Err(mismatch(
                    name,
                    "linear resize of an integer tensor is `resize_int`".into(),
                ));
            }
        }
        Op::ResizeInt(_) => {
            same_rank(name, inputs[0], out)?;
            keeps_type(name, inputs[0], out)?;
        }
        Op::Quantize => {
            same_shape(name, &inputs[0].shape, out)?;
            if !out.dtype.is_int() || out.quant.is_none() {
                return Err(mismatch(
                    name,
                    format!(
                        "output must be a quantized integer type, got {}{}",
                        out.dtype,
                        if out.quant.is_none() {
                            " without quantization"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        Op::Requant(_) | Op::Lut(_) | Op::SoftmaxInt(_) => {
            same_shape(name, &inputs[0].shape, out)?;
            int_output(name, out)?;
        }
        Op::AddInt(_) | Op::MulInt(_) => {
            let shape = broadcast_shapes(&inputs[0].shape, &inputs[1].shape)?;
            same_shape(name, &shape, out)?;
            int_output(name, out)?;
        }
        Op::Slice(a) => {
            keeps_type(name, inputs[0], out)?;
            let x = inputs[0].shape.dims();
            if out.shape.rank() != x.len() {
                return Err(mismatch(name, "output rank differs from input rank".into()));
            }
            for (d, &n) in out.shape.dims().iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let last = a.starts[d] as i64 + (n as i64 - 1) * a.steps[d];
                if last < 0 || last >= x[d] as i64 {
                    return Err(mismatch(
                        name,
                        format!(
                            "output size {n} of dim {d} reads outside the input size {}",
                            x[d]
                        ),
                    ));
                }
            }
        }
        // These ops' output types were checked against the inferred ones above.
        Op::Input
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
        | Op::MaxPool(_)
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::ReduceMean(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Dequantize
        | Op::ConvInt(_)
        | Op::ConvTransposeInt(_)
        | Op::GemmInt(_)
        | Op::MatMulInt
        | Op::AvgPoolInt(_) => {}
    }
    Ok(())
}

fn same_rank(name: &'static str, x: &TensorType, out: &TensorType) -> Result<(), InferError> {
    if out.shape.rank() != x.shape.rank() {
        return Err(mismatch(
            name,
            format!(
                "output rank {} differs from input rank {}",
                out.shape.rank(),
                x.shape.rank()
            ),
        ));
    }
    Ok(())
}

fn same_shape(name: &'static str, shape: &Shape, out: &TensorType) -> Result<(), InferError> {
    if &out.shape != shape {
        return Err(mismatch(
            name,
            format!(
                "output shape {} differs from the inferred {shape}",
                out.shape
            ),
        ));
    }
    Ok(())
}

fn int_output(name: &'static str, out: &TensorType) -> Result<(), InferError> {
    if !out.dtype.is_int() {
        return Err(mismatch(
            name,
            format!("output must be an integer type, got {}", out.dtype),
        ));
    }
    Ok(())
}

/// A data-movement op's stated output keeps the input's element type and quantization.
fn keeps_type(name: &'static str, x: &TensorType, out: &TensorType) -> Result<(), InferError> {
    if out.dtype != x.dtype {
        return Err(mismatch(
            name,
            format!(
                "output element type {} differs from the input's {}",
                out.dtype, x.dtype
            ),
        ));
    }
    let same = match (&x.quant, &out.quant) {
        (None, None) => true,
        (Some(a), Some(b)) => crate::graph_eq::quant_eq(a, b),
        _ => false,
    };
    if !same {
        return Err(mismatch(
            name,
            "output quantization differs from the input's".into(),
        ));
    }
    moved(name, x, out.shape.clone()).map(|_| ())
}

/// Numpy (multidirectional) broadcasting of two shapes.
pub fn broadcast_shapes(a: &Shape, b: &Shape) -> Result<Shape, InferError> {
    let (da, db) = (a.dims(), b.dims());
    let r = da.len().max(db.len());
    let mut out = vec![0; r];
    for (i, o) in out.iter_mut().enumerate() {
        let x = dim_from_right(da, r - 1 - i);
        let y = dim_from_right(db, r - 1 - i);
        *o = match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(InferError::Broadcast {
                    a: a.clone(),
                    b: b.clone(),
                });
            }
        };
    }
    Ok(Shape(out))
}

/// Checks that `from` broadcasts to exactly `to` (ONNX unidirectional broadcasting).
pub fn unidirectional(from: &[usize], to: &[usize]) -> Result<(), InferError> {
    let err = || InferError::Broadcast {
        a: Shape(from.to_vec()),
        b: Shape(to.to_vec()),
    };
    if from.len() > to.len() {
        return Err(err());
    }
    for i in 0..from.len() {
        let x = dim_from_right(from, i);
        if x != 1 && x != dim_from_right(to, i) {
            return Err(err());
        }
    }
    Ok(())
}

/// The result shape of numpy `matmul` (1-d operands are promoted and the added dim dropped).
pub fn matmul_shape(a: &[usize], b: &[usize]) -> Result<Shape, InferError> {
    if a.is_empty() {
        return Err(rank_err("matmul", 0, 0, "at least 1"));
    }
    if b.is_empty() {
        return Err(rank_err("matmul", 1, 0, "at least 1"));
    }
    let a2: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, ka) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (kb, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if ka != kb {
        return Err(mismatch(
            "matmul",
            format!(
                "inner dims differ: {ka} vs {kb} (shapes {} and {})",
                Shape(a.to_vec()),
                Shape(b.to_vec())
            ),
        ));
    }
    let batch = broadcast_shapes(
        &Shape(a2[..a2.len() - 2].to_vec()),
        &Shape(b2[..b2.len() - 2].to_vec()),
    )?;
    let mut out = batch.0;
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    Ok(Shape(out))
}

/// The output size of a pooling or convolution window along one dim (`None` when the
/// window does not fit), with ONNX/PyTorch `ceil_mode` semantics: the last window must start
/// inside the input or its begin padding.
pub fn window_output_size(
    input: usize,
    pad_begin: usize,
    pad_end: usize,
    extent: usize,
    stride: usize,
    ceil_mode: bool,
) -> Option<usize> {
    let padded = input.checked_add(pad_begin)?.checked_add(pad_end)?;
    if padded < extent || stride == 0 {
        return None;
    }
    let span = padded - extent;
    let mut out = if ceil_mode {
        span.div_ceil(stride)
    } else {
        span / stride
    } + 1;
    if ceil_mode && (out - 1) * stride >= input + pad_begin {
        out -= 1;
    }
    Some(out)
}

fn conv_shape(
    name: &'static str,
    a: &ConvAttrs,
    inputs: &[&TensorType],
) -> Result<Shape, InferError> {
    let x = inputs[0].shape.dims();
    let w = inputs[1].shape.dims();
    if x.len() < 3 {
        return Err(rank_err(name, 0, x.len(), "at least 3 (N, C, spatial..)"));
    }
    let k = x.len() - 2;
    if w.len() != x.len() {
        return Err(rank_err(
            name,
            1,
            w.len(),
            format!("{} like the input", x.len()),
        ));
    }
    check_spatial(name, k, &a.strides, &a.pads, &a.dilations)?;
    if a.group == 0 {
        return Err(attr_err(name, "group", "must be at least 1".into()));
    }
    let (c, m) = (x[1], w[0]);
    if w[1].checked_mul(a.group) != Some(c) {
        return Err(mismatch(
            name,
            format!(
                "input has {c} channels but weight expects {} x group {}",
                w[1], a.group
            ),
        ));
    }
    if !m.is_multiple_of(a.group) {
        return Err(mismatch(
            name,
            format!("{m} output channels do not divide into {} groups", a.group),
        ));
    }
    check_bias(name, inputs, m)?;
    let mut out = vec![x[0], m];
    for i in 0..k {
        let eff = dilated(name, w[2 + i], a.dilations[i])?;
        let padded = sum(name, "pads", &[x[2 + i], a.pads[i], a.pads[k + i]])?;
        if padded < eff {
            return Err(mismatch(
                name,
                format!(
                    "kernel extent {eff} exceeds padded input size {padded} in spatial dim {i}"
                ),
            ));
        }
        out.push((padded - eff) / a.strides[i] + 1);
    }
    Ok(Shape(out))
}

fn conv_transpose_shape(
    name: &'static str,
    a: &ConvTransposeAttrs,
    inputs: &[&TensorType],
) -> Result<Shape, InferError> {
    let x = inputs[0].shape.dims();
    let w = inputs[1].shape.dims();
    if x.len() < 3 {
        return Err(rank_err(name, 0, x.len(), "at least 3 (N, C, spatial..)"));
    }
    let k = x.len() - 2;
    if w.len() != x.len() {
        return Err(rank_err(
            name,
            1,
            w.len(),
            format!("{} like the input", x.len()),
        ));
    }
    check_spatial(name, k, &a.strides, &a.pads, &a.dilations)?;
    if a.output_padding.len() != k {
        return Err(attr_err(
            name,
            "output_padding",
            format!(
                "has {} entries for {k} spatial dims",
                a.output_padding.len()
            ),
        ));
    }
    if a.group == 0 {
        return Err(attr_err(name, "group", "must be at least 1".into()));
    }
    if w[0] != x[1] || !x[1].is_multiple_of(a.group) {
        return Err(mismatch(
            name,
            format!(
                "input has {} channels but weight has {} input channels (group {})",
                x[1], w[0], a.group
            ),
        ));
    }
    let m = w[1]
        .checked_mul(a.group)
        .ok_or_else(|| attr_err(name, "group", "too large".into()))?;
    check_bias(name, inputs, m)?;
    let mut out = vec![x[0], m];
    for i in 0..k {
        let eff = dilated(name, w[2 + i], a.dilations[i])?;
        if x[2 + i] == 0 {
            return Err(mismatch(name, format!("spatial dim {i} is empty")));
        }
        let stretched = a.strides[i]
            .checked_mul(x[2 + i] - 1)
            .ok_or_else(|| attr_err(name, "strides", "too large".into()))?;
        let full = sum(
            name,
            "output_padding",
            &[stretched, a.output_padding[i], eff],
        )?;
        let crop = sum(name, "pads", &[a.pads[i], a.pads[k + i]])?;
        if full <= crop {
            return Err(mismatch(
                name,
                format!("pads {crop} crop the whole output of size {full} in spatial dim {i}"),
            ));
        }
        out.push(full - crop);
    }
    Ok(Shape(out))
}

fn check_scales(name: &'static str, a: &ResizeAttrs, x: &TensorType) -> Result<(), InferError> {
    let r = x.shape.rank();
    if a.scales.len() != r {
        return Err(attr_err(
            name,
            "scales",
            format!("has {} entries for rank {r}", a.scales.len()),
        ));
    }
    if a.scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(attr_err(
            name,
            "scales",
            "must be positive and finite".into(),
        ));
    }
    Ok(())
}

/// `(m, n)` of a 2-d product `op(a) @ op(b)`.
fn gemm_dims(
    name: &'static str,
    trans_a: bool,
    trans_b: bool,
    inputs: &[&TensorType],
) -> Result<(usize, usize), InferError> {
    let (sa, sb) = (inputs[0].shape.dims(), inputs[1].shape.dims());
    if sa.len() != 2 {
        return Err(rank_err(name, 0, sa.len(), "2"));
    }
    if sb.len() != 2 {
        return Err(rank_err(name, 1, sb.len(), "2"));
    }
    let (m, ka) = if trans_a {
        (sa[1], sa[0])
    } else {
        (sa[0], sa[1])
    };
    let (kb, n) = if trans_b {
        (sb[1], sb[0])
    } else {
        (sb[0], sb[1])
    };
    if ka != kb {
        return Err(mismatch(
            name,
            format!("inner dims differ: a gives {ka}, b gives {kb}"),
        ));
    }
    Ok((m, n))
}

fn pool_shape(name: &'static str, x: &TensorType, p: &PoolAttrs) -> Result<Shape, InferError> {
    let d = x.shape.dims();
    if d.len() < 3 {
        return Err(rank_err(name, 0, d.len(), "at least 3 (N, C, spatial..)"));
    }
    let k = d.len() - 2;
    if p.kernel.len() != k {
        return Err(attr_err(
            name,
            "kernel_shape",
            format!("has {} entries for {k} spatial dims", p.kernel.len()),
        ));
    }
    check_spatial(name, k, &p.strides, &p.pads, &p.dilations)?;
    let mut out = d[..2].to_vec();
    for i in 0..k {
        if p.kernel[i] == 0 {
            return Err(attr_err(name, "kernel_shape", "has a zero entry".into()));
        }
        if p.pads[i] >= p.kernel[i] || p.pads[k + i] >= p.kernel[i] {
            return Err(attr_err(
                name,
                "pads",
                format!("padding of spatial dim {i} must be smaller than the kernel"),
            ));
        }
        let eff = dilated(name, p.kernel[i], p.dilations[i])?;
        let o = window_output_size(
            d[2 + i],
            p.pads[i],
            p.pads[k + i],
            eff,
            p.strides[i],
            p.ceil_mode,
        )
        .ok_or_else(|| {
            mismatch(
                name,
                format!("window extent {eff} exceeds the padded size of spatial dim {i}"),
            )
        })?;
        out.push(o);
    }
    Ok(Shape(out))
}

fn check_spatial(
    name: &'static str,
    k: usize,
    strides: &[usize],
    pads: &[usize],
    dilations: &[usize],
) -> Result<(), InferError> {
    for (attr, v, n) in [
        ("strides", strides, k),
        ("pads", pads, 2 * k),
        ("dilations", dilations, k),
    ] {
        if v.len() != n {
            return Err(attr_err(
                name,
                attr,
                format!("has {} entries, expected {n}", v.len()),
            ));
        }
    }
    if strides.contains(&0) {
        return Err(attr_err(name, "strides", "has a zero entry".into()));
    }
    if dilations.contains(&0) {
        return Err(attr_err(name, "dilations", "has a zero entry".into()));
    }
    Ok(())
}

fn dilated(name: &'static str, k: usize, d: usize) -> Result<usize, InferError> {
    if k == 0 {
        return Err(mismatch(name, "kernel has an empty spatial dim".into()));
    }
    (k - 1)
        .checked_mul(d)
        .and_then(|v| v.checked_add(1))
        .ok_or_else(|| attr_err(name, "dilations", "too large".into()))
}

fn check_bias(name: &'static str, inputs: &[&TensorType], m: usize) -> Result<(), InferError> {
    if let Some(b) = inputs.get(2)
        && b.shape.dims() != [m]
    {
        return Err(mismatch(
            name,
            format!(
                "bias has shape {} but there are {m} output channels",
                b.shape
            ),
        ));
    }
    Ok(())
}

fn check_axis(
    name: &'static str,
    attr: &'static str,
    axis: usize,
    rank: usize,
) -> Result<(), InferError> {
    if axis >= rank {
        return Err(attr_err(
            name,
            attr,
            format!("axis {axis} is out of range for rank {rank}"),
        ));
    }
    Ok(())
}

fn sum(name: &'static str, attr: &'static str, terms: &[usize]) -> Result<usize, InferError> {
    terms
        .iter()
        .try_fold(0usize, |a, &t| a.checked_add(t))
        .ok_or_else(|| attr_err(name, attr, "too large".into()))
}

fn dim_from_right(d: &[usize], i: usize) -> usize {
    if i < d.len() { d[d.len() - 1 - i] } else { 1 }
}

fn arity(
    op: &'static str,
    inputs: &[&TensorType],
    min: usize,
    max: usize,
    expected: &'static str,
) -> Result<(), InferError> {
    if inputs.len() < min || inputs.len() > max {
        return Err(InferError::Arity {
            op,
            expected,
            got: inputs.len(),
        });
    }
    Ok(())
}

fn same_dtype(op: &'static str, inputs: &[&TensorType]) -> Result<(), InferError> {
    let expected = inputs[0].dtype;
    for (index, t) in inputs.iter().enumerate() {
        if t.dtype != expected {
            return Err(InferError::DType {
                op,
                index,
                got: t.dtype,
                expected,
            });
        }
    }
    Ok(())
}

fn arith(first: &TensorType, shape: Shape) -> TensorType {
    TensorType {
        dtype: first.dtype,
        shape,
        quant: None,
    }
}

/// `first`'s type with a new shape (data movement). A per-axis quantization must keep its
/// axis and that axis's size.
fn moved(name: &'static str, first: &TensorType, shape: Shape) -> Result<TensorType, InferError> {
    if let Some(QuantParams {
        granularity: QuantGranularity::PerAxis { axis, .. },
        ..
    }) = &first.quant
        && (shape.rank() != first.shape.rank()
            || shape.dims().get(*axis) != first.shape.dims().get(*axis))
    {
        return Err(mismatch(
            name,
            format!("changes the size of axis {axis}, along which the input is quantized"),
        ));
    }
    Ok(TensorType {
        dtype: first.dtype,
        shape,
        quant: first.quant.clone(),
    })
}

fn unquantized(t: &TensorType) -> TensorType {
    TensorType {
        quant: None,
        ..t.clone()
    }
}

/// All inputs carry the quantization of input 0 (Concat).
fn same_quant(name: &'static str, inputs: &[&TensorType]) -> Result<(), InferError> {
    for (i, t) in inputs.iter().enumerate().skip(1) {
        let same = match (&inputs[0].quant, &t.quant) {
            (None, None) => true,
            (Some(a), Some(b)) => crate::graph_eq::quant_eq(a, b),
            _ => false,
        };
        if !same {
            return Err(mismatch(
                name,
                format!("input {i} has a quantization different from input 0's"),
            ));
        }
    }
    Ok(())
}

fn expect_dtype(
    op: &'static str,
    inputs: &[&TensorType],
    index: usize,
    expected: DType,
) -> Result<(), InferError> {
    if inputs[index].dtype != expected {
        return Err(InferError::DType {
            op,
            index,
            got: inputs[index].dtype,
            expected,
        });
    }
    Ok(())
}

/// Every input has an integer element type.
fn int_operands(op: &'static str, inputs: &[&TensorType]) -> Result<(), InferError> {
    for (i, t) in inputs.iter().enumerate() {
        if !t.dtype.is_int() {
            return Err(mismatch(
                op,
                format!(
                    "input {i} has element type {}, expected an integer type",
                    t.dtype
                ),
            ));
        }
    }
    Ok(())
}

/// Input `index` is an integer type with quantization parameters.
fn quantized_int(op: &'static str, inputs: &[&TensorType], index: usize) -> Result<(), InferError> {
    int_operands(op, &inputs[index..=index])?;
    if inputs[index].quant.is_none() {
        return Err(mismatch(
            op,
            format!("input {index} has no quantization parameters"),
        ));
    }
    Ok(())
}

/// The i32 accumulator type of an integer product `x * w` with `m` output channels along
/// axis 1 of the result (axis 0 of a 0/1-d result): scales `s_x * s_w[c]` and zero point 0,
/// per tensor when `w` is, per axis when `w` is quantized along `w_axis` (its output-channel
/// axis; `m` must be a multiple of the scale count, channel `c` using scale `c % count`).
/// Without parameters on both operands, or with other layouts, the accumulator is
/// unquantized.
fn accumulator(shape: Shape, inputs: &[&TensorType], w_axis: usize, m: usize) -> TensorType {
    let quant = (|| {
        let (qx, qw) = (inputs[0].quant.as_ref()?, inputs[1].quant.as_ref()?);
        let QuantGranularity::PerTensor { scale: sx, .. } = qx.granularity else {
            return None;
        };
        let granularity = match &qw.granularity {
            QuantGranularity::PerTensor { scale, .. } => QuantGranularity::PerTensor {
                scale: sx * scale,
                zero_point: 0,
            },
            QuantGranularity::PerAxis { axis, scales, .. }
                if *axis == w_axis && !scales.is_empty() && m.is_multiple_of(scales.len()) =>
            {
                QuantGranularity::PerAxis {
                    axis: usize::from(shape.rank() > 1),
                    scales: (0..m).map(|c| sx * scales[c % scales.len()]).collect(),
                    zero_points: vec![0; m],
                }
            }
            QuantGranularity::PerAxis { .. } => return None,
        };
        Some(QuantParams {
            granularity,
            bits: 32,
            pow2: qx.pow2 && qw.pow2,
        })
    })();
    TensorType {
        dtype: DType::I32,
        shape,
        quant,
    }
}

fn rank_err(op: &'static str, index: usize, got: usize, expected: impl Into<String>) -> InferError {
    InferError::Rank {
        op,
        index,
        got,
        expected: expected.into(),
    }
}

fn mismatch(op: &'static str, message: String) -> InferError {
    InferError::Mismatch { op, message }
}

fn attr_err(op: &'static str, attr: &'static str, message: String) -> InferError {
    InferError::Attr { op, attr, message }
}

#[cfg(test)]
#[path = "infer_tests.rs"]
mod tests;
