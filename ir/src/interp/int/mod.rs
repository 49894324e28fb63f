//! The integer reference interpreter: runs an Integer-phase [`Graph`] exactly as
//! `ir::ops` and DESIGN.md "Arithmetic" define it. It is the specification every integer
//! executor (Rust and C emitters, the Hexagon build) must match bit for bit.
//!
//! f32 graph inputs go through [`Op::Quantize`] nodes and results come out of
//! [`Op::Dequantize`] nodes (both as in the float interpreter); in between every op runs on
//! integers with the `ir::arith` functions, each rounding taken from the op's
//! [`crate::arith::RoundingMode`] attribute. Data-movement ops (Reshape, Transpose, Concat,
//! Split, Slice, Pad, MaxPool, Resize nearest) reuse the generic implementations. Float
//! compute ops are rejected.
//!
//! Families: `conv.rs` (ConvInt, ConvTransposeInt), `gemm.rs` (GemmInt, MatMulInt),
//! `requant.rs` (Requant, AddInt, MulInt, Lut), `pool.rs` (AvgPoolInt), `softmax.rs`
//! (SoftmaxInt), `resize.rs` (ResizeInt).

mod conv;
mod gemm;
mod pool;
mod requant;
mod resize;
mod softmax;
#[cfg(test)]
mod tests;

pub use resize::{ResizeTap, resize_int_taps};

use super::{InterpError, InterpResult, Mode, ensure, invalid, run_impl};
use crate::entities::ValueId;
use crate::graph::Graph;
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::types::{QuantGranularity, TensorType};
use rayon::prelude::*;
use std::borrow::Cow;

/// Runs the Integer-phase graph `g` on `inputs` (in `g.inputs` order); returns the values
/// of `g.outputs` in order.
pub fn run_int(g: &Graph, inputs: &[Tensor]) -> Result<Vec<Tensor>, InterpError> {
    run_impl(g, inputs, None, Mode::Int)
}

/// Like [`run_int`], and calls `observe` on every computed value (graph inputs and
/// constants included) as soon as it exists.
pub fn run_int_observed(
    g: &Graph,
    inputs: &[Tensor],
    observe: &mut dyn FnMut(ValueId, &Tensor),
) -> Result<Vec<Tensor>, InterpError> {
    run_impl(g, inputs, Some(observe), Mode::Int)
}

/// Runs every sample (one input list each) through `g`, samples in parallel.
pub fn run_int_batch(g: &Graph, samples: &[Vec<Tensor>]) -> InterpResult<Vec<Vec<Tensor>>> {
    samples.par_iter().map(|s| run_int(g, s)).collect()
}

/// Evaluates one integer compute op; `ins` are the operand types (their quantization
/// parameters give the zero points).
pub(super) fn eval(
    op: &Op,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &[TensorType],
) -> InterpResult<Vec<Tensor>> {
    let name = op.mnemonic();
    ensure(ins.len() == args.len(), name, || {
        format!("{} operand types for {} operands", ins.len(), args.len())
    })?;
    let out = super::one(name, out)?;
    let y = match op {
        Op::ConvInt(a) => conv::conv_int(a, args, ins, out)?,
        Op::ConvTransposeInt(a) => conv::conv_transpose_int(a, args, ins, out)?,
        Op::GemmInt(a) => gemm::gemm_int(a, args, ins, out)?,
        Op::MatMulInt => gemm::matmul_int(args, ins, out)?,
        Op::Requant(a) => requant::requant(a, args, ins, out)?,
        Op::AddInt(a) => requant::add_int(a, args, ins, out)?,
        Op::MulInt(a) => requant::mul_int(a, args, ins, out)?,
        Op::Lut(a) => requant::lut(a, args, out)?,
        Op::AvgPoolInt(a) => pool::avg_pool_int(a, args, ins, out)?,
        Op::SoftmaxInt(a) => softmax::softmax_int(a, args, out)?,
        Op::ResizeInt(a) => resize::resize_int(a, args, ins, out)?,
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
        | Op::MaxPool(_)
        | Op::AveragePool(_)
        | Op::GlobalAveragePool
        | Op::ReduceMean(_)
        | Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Reshape
        | Op::Transpose(_)
        | Op::Pad(_)
        | Op::Resize(_)
        | Op::Quantize
        | Op::Dequantize => return Err(invalid(name, "not an integer compute op")),
    };
    Ok(vec![y])
}

/// The single zero point of an activation type (0 when unquantized).
fn zero_point(op: &'static str, what: &str, t: &TensorType) -> InterpResult<i32> {
    match t.quant.as_ref().map(|q| &q.granularity) {
        None => Ok(0),
        Some(QuantGranularity::PerTensor { zero_point, .. }) => Ok(*zero_point),
        Some(QuantGranularity::PerAxis { .. }) => Err(invalid(
            op,
            format!("{what} must be quantized per tensor (one zero point)"),
        )),
    }
}

/// A symmetric weight: every zero point is 0.
fn symmetric(op: &'static str, t: &TensorType) -> InterpResult<()> {
    let ok = match t.quant.as_ref().map(|q| &q.granularity) {
        None => true,
        Some(QuantGranularity::PerTensor { zero_point, .. }) => *zero_point == 0,
        Some(QuantGranularity::PerAxis { zero_points, .. }) => zero_points.iter().all(|&z| z == 0),
    };
    ensure(ok, op, || "weight zero points must be 0 (symmetric)".into())
}

/// An i64 accumulator as i32, or an error: qcc proves per layer that accumulators fit.
fn fit_i32(op: &'static str, acc: i64) -> InterpResult<i32> {
    i32::try_from(acc).map_err(|_| {
        invalid(
            op,
            format!("accumulator {acc} overflows i32 (the layer needs splitting)"),
        )
    })
}

/// Saturates an i64 to i32.
fn sat_i32(x: i64) -> i32 {
    x.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// `(h, w)` of an `[N, C, spatial..]` shape with 1 or 2 spatial dims (1-d has `h = 1`).
fn hw(dims: &[usize]) -> (usize, usize) {
    match dims.len() {
        3 => (1, dims[2]),
        4 => (dims[2], dims[3]),
        _ => (0, 0),
    }
}

/// Window attributes normalized to two spatial dims: `((sh, sw), (dh, dw), (pt, pl, pb, pr))`.
type Window2 = ((usize, usize), (usize, usize), (usize, usize, usize, usize));

fn window2(
    op: &'static str,
    spatial: usize,
    strides: &[usize],
    dilations: &[usize],
    pads: &[usize],
) -> InterpResult<Window2> {
    ensure(
        matches!(spatial, 1 | 2)
            && strides.len() == spatial
            && dilations.len() == spatial
            && pads.len() == 2 * spatial
            && strides.iter().chain(dilations).all(|&v| v >= 1),
        op,
        || {
            format!(
                "strides {strides:?}, dilations {dilations:?}, pads {pads:?} do not fit {spatial} spatial dims"
            )
        },
    )?;
    Ok(if spatial == 1 {
        ((1, strides[0]), (1, dilations[0]), (0, pads[0], 0, pads[1]))
    } else {
        (
            (strides[0], strides[1]),
            (dilations[0], dilations[1]),
            (pads[0], pads[1], pads[2], pads[3]),
        )
    })
}

/// For every element of `to`, the offset of the element of `from` it reads under numpy
/// broadcasting (`from` must broadcast to `to`).
fn broadcast_offsets(op: &'static str, from: &[usize], to: &[usize]) -> InterpResult<Vec<usize>> {
    ensure(from.len() <= to.len(), op, || {
        format!("{from:?} does not broadcast to {to:?}")
    })?;
    let pad = to.len() - from.len();
    let mut strides = vec![0usize; to.len()];
    let mut s = 1usize;
    for i in (0..from.len()).rev() {
        let (f, t) = (from[i], to[pad + i]);
        ensure(f == t || f == 1, op, || {
            format!("{from:?} does not broadcast to {to:?}")
        })?;
        strides[pad + i] = if f == 1 { 0 } else { s };
        s *= f;
    }
    let n: usize = to.iter().product();
    let mut offs = Vec::with_capacity(n);
    let mut idx = vec![0usize; to.len()];
    let mut off = 0usize;
    for _ in 0..n {
        offs.push(off);
        for d in (0..to.len()).rev() {
            idx[d] += 1;
            off += strides[d];
            if idx[d] < to[d] {
                break;
            }
            off -= strides[d] * to[d];
            idx[d] = 0;
        }
    }
    Ok(offs)
}
