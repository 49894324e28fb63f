//! SoftmaxInt: integer softmax along one axis, 8-bit in, without division.
//!
//! For each slice along `axis` (the one definition; emitters must do exactly this):
//!
//! 1. `x_max = max x[j]`; `d[j] = x_max - x[j]` in `0..=255`;
//! 2. `e[j] = exp_table[d[j]]`, the Q`exp_bits` value of `exp(-s_x * d)` built at compile
//!    time; `sum = sum_j e[j]`, which must fit i32 (it does when the axis length times
//!    `2^exp_bits` is below `2^31`; otherwise the interpreter reports an error) and be
//!    positive;
//! 3. `(r, n) = arith::reciprocal_q31(sum)`: `1/sum ~ r * 2^-31 * 2^(1-n)` without division
//!    (leading-zero normalization and three Newton-Raphson steps in fixed point);
//! 4. `t[j] = sqrdmulh(e[j] << (30 - exp_bits), r)`: `p[j] = e[j]/sum = t[j] * 2^(exp_bits - 29 - n)`;
//! 5. with `m_y = quantize_multiplier(1 / s_y)` (a compile-time constant from the result
//!    type's scale), `y[j] = requantize(t[j], (m_y.m0, 29 + n + m_y.shift - exp_bits), zp_y,
//!    qmin, qmax, rounding)`: `zp_y + round(p[j] / s_y)`, clamped to the result type's range.
//!
//! The result is within one unit of `zp_y + round(softmax / s_y)` computed from the table
//! values, plus the table's own rounding.

use super::super::qdq::{int_tensor, int_values, qrange, quant_of};
use super::super::{InterpResult, arity, ensure, invalid};
use crate::arith::{
    QuantizedMultiplier, quantize_multiplier, reciprocal_q31, requantize, sqrdmulh,
};
use crate::ops::SoftmaxIntAttrs;
use crate::tensor::Tensor;
use crate::types::{DType, QuantGranularity, TensorType};
use std::borrow::Cow;

pub(super) fn softmax_int(
    a: &SoftmaxIntAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "softmax_int";
    arity(op, args, 1, 1)?;
    let x = &args[0];
    ensure(matches!(x.dtype, DType::U8 | DType::I8), op, || {
        format!("operand must be u8 or i8, got {}", x.dtype)
    })?;
    ensure(x.shape == out.shape, op, || {
        format!(
            "operand {} and result {} differ in shape",
            x.shape, out.shape
        )
    })?;
    let dims = x.shape.dims();
    ensure(a.axis < dims.len(), op, || {
        format!("axis {} out of range for {}", a.axis, x.shape)
    })?;
    ensure(
        a.exp_table.len() == 256 && (1..=30).contains(&a.exp_bits),
        op,
        || {
            format!(
                "needs 256 exp_table entries and exp_bits in 1..=30, got {} and {}",
                a.exp_table.len(),
                a.exp_bits
            )
        },
    )?;
    let q = quant_of(op, "the result type", out)?;
    let QuantGranularity::PerTensor { scale, zero_point } = q.granularity else {
        return Err(invalid(op, "the result must be quantized per tensor"));
    };
    let (qmin, qmax) = qrange(op, out, q)?;
    let m_y = quantize_multiplier(1.0 / f64::from(scale))
        .map_err(|e| invalid(op, format!("result scale {scale}: {e}")))?;
    let len = dims[a.axis];
    let inner: usize = dims[a.axis + 1..].iter().product();
    let outer: usize = dims[..a.axis].iter().product();
    let xv = int_values(op, x)?;
    let mut y = vec![0i32; xv.len()];
    let pre = 30 - a.exp_bits;
    for o in 0..outer {
        for i in 0..inner {
            let idx = |j: usize| (o * len + j) * inner + i;
            // Step 1.
            let x_max = (0..len).map(|j| xv[idx(j)]).max().unwrap_or(0);
            // Step 2.
            let e = |j: usize| a.exp_table[(x_max - xv[idx(j)]) as usize];
            let sum: i64 = (0..len).map(|j| i64::from(e(j))).sum();
            let sum = i32::try_from(sum)
                .map_err(|_| invalid(op, format!("exp sum {sum} overflows i32")))?;
            // Step 3.
            let (r, n) = reciprocal_q31(sum)
                .ok_or_else(|| invalid(op, format!("exp sum {sum} is not positive")))?;
            let m = QuantizedMultiplier {
                m0: m_y.m0,
                shift: 29 + n as i32 + m_y.shift - a.exp_bits as i32,
            };
            for j in 0..len {
                // Steps 4 and 5.
                let t = sqrdmulh(e(j) << pre, r);
                y[idx(j)] = requantize(t, m, zero_point, qmin, qmax, a.rounding);
            }
        }
    }
    int_tensor(op, out, y)
}
