//! AvgPoolInt: `y = zp + average(sum (x - zp), fixed_reciprocal(count), rounding)` per
//! window, with the divisor rule of the float AveragePool (onnxruntime's): `count` is the
//! number of real elements, or with `count_include_pad` the window size clipped to the
//! padded extent (positions past `len + pad_end`, which ceil mode can create, never count).
//! Padded positions add 0 (the zero point is real zero).

use super::super::qdq::{int_tensor, int_values};
use super::super::{InterpResult, arity, ensure, invalid};
use super::{hw, window2, zero_point};
use crate::arith::{average, fixed_reciprocal};
use crate::ops::AvgPoolIntAttrs;
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// One output position's window along one axis: real taps (input positions) and the count
/// of taps inside the padded extent.
struct Win {
    taps: Vec<usize>,
    padded: usize,
}

fn windows(out: usize, len: usize, k: usize, s: usize, d: usize, pb: usize, pe: usize) -> Vec<Win> {
    (0..out)
        .map(|o| {
            let start = (o * s) as isize - pb as isize;
            let pos = (0..k).map(|j| start + (j * d) as isize);
            Win {
                taps: pos
                    .clone()
                    .filter(|&p| p >= 0 && (p as usize) < len)
                    .map(|p| p as usize)
                    .collect(),
                padded: pos.filter(|&p| p < (len + pe) as isize).count(),
            }
        })
        .collect()
}

pub(super) fn avg_pool_int(
    a: &AvgPoolIntAttrs,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "avg_pool_int";
    arity(op, args, 1, 1)?;
    let p = &a.pool.pool;
    let (xd, od) = (args[0].shape.dims(), out.shape.dims());
    ensure(
        matches!(xd.len(), 3 | 4) && od.len() == xd.len() && od[..2] == xd[..2],
        op,
        || format!("result {} does not fit x {}", out.shape, args[0].shape),
    )?;
    let spatial = xd.len() - 2;
    let ((sh, sw), (dh, dw), (pt, pl, pb, pr)) =
        window2(op, spatial, &p.strides, &p.dilations, &p.pads)?;
    ensure(
        p.kernel.len() == spatial && p.kernel.iter().all(|&k| k >= 1),
        op,
        || format!("kernel {:?} does not fit {spatial} spatial dims", p.kernel),
    )?;
    let (kh, kw) = if spatial == 1 {
        (1, p.kernel[0])
    } else {
        (p.kernel[0], p.kernel[1])
    };
    let ((h, w), (oh, ow)) = (hw(xd), hw(od));
    // Output sizes as the float pool accepts them (floor, or up to ceil in ceil mode).
    let ok = |len: usize, o: usize, k: usize, s: usize, d: usize, pad: usize| {
        let eff = (k - 1) * d + 1;
        (len + pad).checked_sub(eff).is_some_and(|r| {
            let lo = r / s + 1;
            o == lo || (p.ceil_mode && o > lo && o <= r.div_ceil(s) + 1)
        })
    };
    ensure(
        ok(h, oh, kh, sh, dh, pt + pb) && ok(w, ow, kw, sw, dw, pl + pr),
        op,
        || {
            format!(
                "result {} is not the pooled size of x {}",
                out.shape, args[0].shape
            )
        },
    )?;
    let zp = zero_point(op, "the operand", ins[0])?;
    let x = int_values(op, &args[0])?;
    let wh = windows(oh, h, kh, sh, dh, pt, pb);
    let ww = windows(ow, w, kw, sw, dw, pl, pr);
    let mut y = Vec::with_capacity(out.shape.numel());
    for plane in x.chunks(h * w).take(xd[0] * xd[1]) {
        for r in &wh {
            for c in &ww {
                let mut sum = 0i64;
                for &iy in &r.taps {
                    for &ix in &c.taps {
                        sum += i64::from(plane[iy * w + ix]) - i64::from(zp);
                    }
                }
                let count = if a.pool.count_include_pad {
                    r.padded * c.padded
                } else {
                    r.taps.len() * c.taps.len()
                };
                let recip = u32::try_from(count)
                    .ok()
                    .and_then(|c| fixed_reciprocal(c).ok())
                    .ok_or_else(|| invalid(op, format!("window of {count} elements")))?;
                let sum = i32::try_from(sum)
                    .map_err(|_| invalid(op, format!("window sum {sum} overflows i32")))?;
                let avg = average(sum, recip, a.rounding);
                y.push(zp.saturating_add(avg));
            }
        }
    }
    int_tensor(op, out, y)
}
