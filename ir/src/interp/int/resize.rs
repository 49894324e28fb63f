//! ResizeInt: linear resize in fixed point.
//!
//! Per dim, output index `o` maps to the source coordinate of the float Resize
//! (`coord` mode), clamped to `[0, len_in - 1]`; with `i0 = floor(c)`, `i1 = min(i0 + 1,
//! len_in - 1)` and `frac = c - i0` (all f32, at compile time), the weights are
//! `w1 = round_half_even(frac * 2^frac_bits)` (0 when `i1 == i0`) and `w0 = 2^frac_bits - w1`
//! ([`resize_int_taps`]). Then, over all `r` dims,
//!
//! ```text
//! y = zp + round_shift(sum over corners (x - zp) * prod_d w_d, frac_bits * r, rounding)
//! ```
//!
//! summed exactly in i64, one rounding shift ([`crate::arith::rounding_shift_right_i64`]),
//! clamped to the type's range. Dims whose weights are all `(2^frac_bits, 0)` (index copies,
//! e.g. N and C) multiply the sum by exactly `2^frac_bits` and are skipped together with
//! their `frac_bits` of shift, which changes nothing; the interpreter requires
//! `frac_bits * (other dims) <= 46` so the i64 sum of 16-bit values cannot overflow.

use super::super::qdq::{int_tensor, int_values, qrange};
use super::super::resize::source_coord;
use super::super::{InterpResult, arity, ensure, invalid};
use super::zero_point;
use crate::arith::{round_half_even_f32, rounding_shift_right_i64};
use crate::ops::{ResizeIntAttrs, ResizeMode};
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// Reading of one output index along one dim: input indices and weights `w0 + w1 =
/// 2^frac_bits`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ResizeTap {
    /// Lower input index.
    pub i0: usize,
    /// Upper input index (`i0` at the last position).
    pub i1: usize,
    /// Weight of `i0`.
    pub w0: i32,
    /// Weight of `i1`.
    pub w1: i32,
}

/// The compile-time taps of dim `dim` (lengths `len_in -> len_out`) of a [`ResizeIntAttrs`]
/// (see the module docs); shared with the emitters so they build the same tables.
pub fn resize_int_taps(
    a: &ResizeIntAttrs,
    dim: usize,
    len_in: usize,
    len_out: usize,
) -> Vec<ResizeTap> {
    let one = 1i32 << a.frac_bits.min(30);
    let scale = a.resize.scales.get(dim).copied().unwrap_or(1.0);
    (0..len_out)
        .map(|o| {
            if len_in == 0 {
                return ResizeTap {
                    i0: 0,
                    i1: 0,
                    w0: one,
                    w1: 0,
                };
            }
            let c = source_coord(a.resize.coord, o, scale, len_in, len_out);
            let c = c.max(0.0).min(len_in as f32 - 1.0);
            let i0 = (c as usize).min(len_in - 1);
            let i1 = (i0 + 1).min(len_in - 1);
            let w1 = if i1 == i0 {
                0
            } else {
                round_half_even_f32((c - i0 as f32) * one as f32) as i32
            };
            ResizeTap {
                i0,
                i1,
                w0: one - w1,
                w1,
            }
        })
        .collect()
}

pub(super) fn resize_int(
    a: &ResizeIntAttrs,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "resize_int";
    arity(op, args, 1, 1)?;
    ensure(a.resize.mode == ResizeMode::Linear, op, || {
        "mode must be linear".into()
    })?;
    ensure((1..=15).contains(&a.frac_bits), op, || {
        format!("frac_bits {} must be in 1..=15", a.frac_bits)
    })?;
    let (xd, od) = (args[0].shape.dims(), out.shape.dims());
    let r = xd.len();
    ensure(od.len() == r && a.resize.scales.len() == r, op, || {
        format!(
            "x {}, result {} and scales must share the rank",
            args[0].shape, out.shape
        )
    })?;
    for d in 0..r {
        ensure(xd[d] > 0 || od[d] == 0, op, || {
            format!("dim {d}: cannot resize an empty dim")
        })?;
    }
    let zp = zero_point(op, "the operand", ins[0])?;
    ensure(zero_point(op, "the result", out)? == zp, op, || {
        "operand and result zero points differ".into()
    })?;
    let q = out
        .quant
        .clone()
        .unwrap_or_else(|| crate::types::QuantParams::per_tensor(out.dtype, 1.0, 0));
    let (qmin, qmax) = qrange(op, out, &q)?;
    let taps: Vec<Vec<ResizeTap>> = (0..r)
        .map(|d| resize_int_taps(a, d, xd[d], od[d]))
        .collect();
    let interp: Vec<usize> = (0..r)
        .filter(|&d| taps[d].iter().any(|t| t.w1 != 0))
        .collect();
    let shift = a.frac_bits * interp.len() as u32;
    if shift > 46 {
        return Err(invalid(
            op,
            format!(
                "{} interpolated dims need a shift of {shift} > 46",
                interp.len()
            ),
        ));
    }
    let x = int_values(op, &args[0])?;
    let strides = args[0].shape.strides();
    let n = out.shape.numel();
    let mut y = Vec::with_capacity(n);
    let mut idx = vec![0usize; r];
    for _ in 0..n {
        // Base offset from the copied dims.
        let base: usize = (0..r)
            .filter(|d| !interp.contains(d))
            .map(|d| taps[d][idx[d]].i0 * strides[d])
            .sum();
        let mut sum = 0i64;
        for mask in 0..(1usize << interp.len()) {
            let mut off = base;
            let mut w = 1i64;
            for (b, &d) in interp.iter().enumerate() {
                let t = taps[d][idx[d]];
                let (i, wt) = if mask >> b & 1 == 1 {
                    (t.i1, t.w1)
                } else {
                    (t.i0, t.w0)
                };
                off += i * strides[d];
                w *= i64::from(wt);
            }
            if w != 0 {
                sum += (i64::from(x[off]) - i64::from(zp)) * w;
            }
        }
        let v = i64::from(zp) + rounding_shift_right_i64(sum, shift, a.rounding);
        y.push(v.clamp(i64::from(qmin), i64::from(qmax)) as i32);
        for d in (0..r).rev() {
            idx[d] += 1;
            if idx[d] < od[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    int_tensor(op, out, y)
}
