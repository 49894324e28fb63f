//! Requant, AddInt, MulInt and Lut: elementwise integer ops built on
//! [`crate::arith::requantize`].

use super::super::qdq::{Channels, int_tensor, int_values};
use super::super::{InterpResult, arity, ensure, invalid};
use super::{broadcast_offsets, sat_i32, zero_point};
use crate::arith::{QuantizedMultiplier, RoundingMode, requantize};
use crate::ops::{AddIntAttrs, LutAttrs, MulIntAttrs, RequantAttrs};
use crate::tensor::Tensor;
use crate::types::{DType, TensorType};
use std::borrow::Cow;

/// Per element, the zero point of a (possibly per-axis) quantized type, 0 when unquantized.
fn zero_points(op: &'static str, t: &TensorType, n: usize) -> InterpResult<Vec<i32>> {
    match &t.quant {
        None => Ok(vec![0; n]),
        Some(q) => {
            let ch = Channels::new(op, q, t.shape.dims())?;
            Ok((0..n).map(|i| ch.at(i).1).collect())
        }
    }
}

/// Step 2 of the requantization (no zero point, no clamp): `R(v, m)` of AddInt and MulInt.
fn rescale(v: i32, m: QuantizedMultiplier, mode: RoundingMode) -> i32 {
    requantize(v, m, 0, i32::MIN, i32::MAX, mode)
}

/// `y = clamp(zp_out + R(x - zp_in, m[c]), lo, hi)`, `c` the index along `axis` (or the
/// single multiplier). `x - zp_in` saturates to i32 (it only can for i32 operands with a
/// non-zero zero point).
pub(super) fn requant(
    a: &RequantAttrs,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "requant";
    arity(op, args, 1, 1)?;
    let dims = args[0].shape.dims();
    ensure(args[0].shape == out.shape, op, || {
        format!(
            "operand {} and result {} differ in shape",
            args[0].shape, out.shape
        )
    })?;
    let (len, inner) = match a.multipliers.len() {
        0 => return Err(invalid(op, "needs at least one multiplier")),
        1 => (1, 1),
        k => {
            ensure(a.axis < dims.len() && dims[a.axis] == k, op, || {
                format!("{k} multipliers for axis {} of {}", a.axis, args[0].shape)
            })?;
            (k, dims[a.axis + 1..].iter().product())
        }
    };
    let x = int_values(op, &args[0])?;
    let zin = zero_points(op, ins[0], x.len())?;
    let zout = zero_points(op, out, x.len())?;
    let y = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let m = a.multipliers[if len == 1 { 0 } else { (i / inner) % len }];
            let centered = sat_i32(i64::from(v) - i64::from(zin[i]));
            requantize(centered, m, zout[i], a.lo, a.hi, a.rounding)
        })
        .collect();
    int_tensor(op, out, y)
}

/// Broadcast operands as centered values `x - zp` (i64) with the result's element order.
fn broadcast_centered(
    op: &'static str,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<(Vec<i64>, Vec<i64>)> {
    arity(op, args, 2, 2)?;
    let od = out.shape.dims();
    let mut res = Vec::with_capacity(2);
    for (i, t) in args.iter().enumerate() {
        let zp = i64::from(zero_point(op, &format!("operand {i}"), ins[i])?);
        let v = int_values(op, t)?;
        let offs = broadcast_offsets(op, t.shape.dims(), od)?;
        res.push(
            offs.iter()
                .map(|&o| i64::from(v[o]) - zp)
                .collect::<Vec<i64>>(),
        );
    }
    let b = res.pop().unwrap_or_default();
    let a = res.pop().unwrap_or_default();
    Ok((a, b))
}

/// TFLite's quantized addition: `y = clamp(zp_y + R(R(a' << shift, ma) + R(b' << shift, mb),
/// mo), lo, hi)` with `a' = a - zp_a`, `b' = b - zp_b`; the shifts and the sum saturate to
/// i32.
pub(super) fn add_int(
    a: &AddIntAttrs,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "add_int";
    ensure(a.shift <= 31, op, || {
        format!("shift {} exceeds 31", a.shift)
    })?;
    let (xa, xb) = broadcast_centered(op, args, ins, out)?;
    let zp = zero_point(op, "the result", out)?;
    let y = xa
        .iter()
        .zip(&xb)
        .map(|(&va, &vb)| {
            let sa = rescale(sat_i32(va << a.shift), a.ma, a.rounding);
            let sb = rescale(sat_i32(vb << a.shift), a.mb, a.rounding);
            let sum = sat_i32(i64::from(sa) + i64::from(sb));
            requantize(sum, a.mo, zp, a.lo, a.hi, a.rounding)
        })
        .collect();
    int_tensor(op, out, y)
}

/// `y = clamp(zp_y + R((a - zp_a) * (b - zp_b), m), lo, hi)`; the product saturates to i32
/// (it only can for 16-bit operands).
pub(super) fn mul_int(
    a: &MulIntAttrs,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "mul_int";
    let (xa, xb) = broadcast_centered(op, args, ins, out)?;
    let zp = zero_point(op, "the result", out)?;
    let y = xa
        .iter()
        .zip(&xb)
        .map(|(&va, &vb)| requantize(sat_i32(va * vb), a.m, zp, a.lo, a.hi, a.rounding))
        .collect();
    int_tensor(op, out, y)
}

/// `y = table[c * 256 + (x - x_min)]` for 8-bit `x` (`x_min` 0 for u8, -128 for i8).
pub(super) fn lut(
    a: &LutAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "lut";
    arity(op, args, 1, 1)?;
    let x = &args[0];
    let x_min = match x.dtype {
        DType::U8 => 0,
        DType::I8 => -128,
        d => return Err(invalid(op, format!("operand must be u8 or i8, got {d}"))),
    };
    ensure(x.shape == out.shape, op, || {
        format!(
            "operand {} and result {} differ in shape",
            x.shape, out.shape
        )
    })?;
    let dims = x.shape.dims();
    let (len, inner) = match a.axis {
        None => (1, 1),
        Some(ax) => {
            ensure(ax < dims.len(), op, || {
                format!("axis {ax} out of range for {}", x.shape)
            })?;
            (dims[ax], dims[ax + 1..].iter().product())
        }
    };
    ensure(a.table.len() == 256 * len, op, || {
        format!("table has {} entries, expected 256 x {len}", a.table.len())
    })?;
    let y = int_values(op, x)?
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = if len == 1 { 0 } else { (i / inner) % len };
            a.table[c * 256 + (v - x_min) as usize]
        })
        .collect();
    int_tensor(op, out, y)
}
