//! Pooling and reductions: MaxPool, AveragePool, GlobalAveragePool, ReduceMean.
//!
//! Pool windows follow onnxruntime: padding never wins a max; an average divides by the
//! number of real elements (`count_include_pad = false`) or by the window size clipped to
//! the padded input (`true`: positions past `len + pad_end`, which ceil mode can create,
//! do not count).

use super::conv::{hw, spatial2};
use super::{InterpResult, arity, ensure, f32s, tensor};
use crate::ops::{AvgPoolAttrs, PoolAttrs, ReduceAttrs};
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// One output position's window along one axis: the first input position (which may lie in
/// the begin padding, hence signed), and the taps `lo..hi` that land on real elements.
#[derive(Clone, Copy)]
struct Win {
    start: isize,
    lo: usize,
    hi: usize,
    /// Taps inside the padded extent `len + pad_begin + pad_end`.
    padded: usize,
}

/// The windows of every output position along one axis.
fn windows(out: usize, len: usize, k: usize, s: usize, d: usize, pb: usize, pe: usize) -> Vec<Win> {
    (0..out)
        .map(|o| {
            let start = (o * s) as isize - pb as isize;
            let tap_ok = |j: usize| {
                let p = start + (j * d) as isize;
                p >= 0 && (p as usize) < len
            };
            let lo = (0..k).find(|&j| tap_ok(j)).unwrap_or(k);
            let hi = (lo..k)
                .take_while(|&j| tap_ok(j))
                .last()
                .map_or(lo, |j| j + 1);
            let padded = (0..k)
                .filter(|&j| start + ((j * d) as isize) < (len + pe) as isize)
                .count();
            Win {
                start,
                lo,
                hi,
                padded,
            }
        })
        .collect()
}

/// The validated geometry of a pool: `(n*c planes, (h, w), (oh, ow), windows along h, along w)`.
type PoolGeom = (
    usize,
    (usize, usize),
    (usize, usize),
    Vec<Win>,
    Vec<Win>,
    (usize, usize),
);

fn pool_geom(
    op: &'static str,
    a: &PoolAttrs,
    x: &Tensor,
    out: &TensorType,
) -> InterpResult<PoolGeom> {
    let xd = x.shape.dims();
    ensure(matches!(xd.len(), 3 | 4), op, || {
        format!("x {} must have rank 3 or 4", x.shape)
    })?;
    let spatial = xd.len() - 2;
    let ((sh, sw), (dh, dw), (pt, pb), (pl, pr)) =
        spatial2(op, spatial, &a.strides, &a.dilations, &a.pads)?;
    ensure(
        a.kernel.len() == spatial && a.kernel.iter().all(|&k| k >= 1),
        op,
        || format!("kernel {:?} does not fit {spatial} spatial dims", a.kernel),
    )?;
    let (kh, kw) = if spatial == 1 {
        (1, a.kernel[0])
    } else {
        (a.kernel[0], a.kernel[1])
    };
    let (h, w) = hw(xd);
    let od = out.shape.dims();
    ensure(od.len() == xd.len() && od[..2] == xd[..2], op, || {
        format!("result shape {} does not fit x {}", out.shape, x.shape)
    })?;
    let (oh, ow) = hw(od);
    // Output lengths: floor, or in ceil mode anything from floor to ceil (importers may drop
    // a last window that would start in the end padding).
    let ok = |len: usize, o: usize, k: usize, s: usize, d: usize, p: usize| {
        let eff = (k - 1) * d + 1;
        match (len + p).checked_sub(eff) {
            Some(r) => {
                let lo = r / s + 1;
                let hi = r.div_ceil(s) + 1;
                o == lo || (a.ceil_mode && o > lo && o <= hi)
            }
            None => false,
        }
    };
    ensure(
        ok(h, oh, kh, sh, dh, pt + pb) && ok(w, ow, kw, sw, dw, pl + pr),
        op,
        || {
            format!(
                "result shape {} does not match the pooled size of x {}",
                out.shape, x.shape
            )
        },
    )?;
    let wh = windows(oh, h, kh, sh, dh, pt, pb);
    let ww = windows(ow, w, kw, sw, dw, pl, pr);
    Ok((xd[0] * xd[1], (h, w), (oh, ow), wh, ww, (dh, dw)))
}

/// Max pooling over real elements only (an all-padding window gives `f32::MIN`).
pub(super) fn max_pool(
    a: &PoolAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "max_pool";
    arity(op, args, 1, 1)?;
    let (planes, (h, w), (oh, ow), wh, ww, (dh, dw)) = pool_geom(op, a, &args[0], out)?;
    let x = f32s(&args[0]);
    let mut y = vec![f32::MIN; planes * oh * ow];
    if oh * ow == 0 {
        return Ok(tensor(out, y));
    }
    for (xp, yp) in x.chunks(h * w).zip(y.chunks_mut(oh * ow)) {
        for (yrow, r) in yp.chunks_mut(ow).zip(&wh) {
            for i in r.lo..r.hi {
                let row = &xp[(r.start + (i * dh) as isize) as usize * w..][..w];
                for (o, c) in yrow.iter_mut().zip(&ww) {
                    let mut m = *o;
                    for j in c.lo..c.hi {
                        let v = row[(c.start + (j * dw) as isize) as usize];
                        if v > m {
                            m = v;
                        }
                    }
                    *o = m;
                }
            }
        }
    }
    Ok(tensor(out, y))
}

/// Average pooling (see the module doc for the divisor).
pub(super) fn average_pool(
    a: &AvgPoolAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "average_pool";
    arity(op, args, 1, 1)?;
    let (planes, (h, w), (oh, ow), wh, ww, (dh, dw)) = pool_geom(op, &a.pool, &args[0], out)?;
    let x = f32s(&args[0]);
    let mut y = vec![0.0f32; planes * oh * ow];
    if oh * ow == 0 {
        return Ok(tensor(out, y));
    }
    for (xp, yp) in x.chunks(h * w).zip(y.chunks_mut(oh * ow)) {
        for (yrow, r) in yp.chunks_mut(ow).zip(&wh) {
            for i in r.lo..r.hi {
                let row = &xp[(r.start + (i * dh) as isize) as usize * w..][..w];
                for (o, c) in yrow.iter_mut().zip(&ww) {
                    let mut s = 0.0f32;
                    for j in c.lo..c.hi {
                        s += row[(c.start + (j * dw) as isize) as usize];
                    }
                    *o += s;
                }
            }
            for (o, c) in yrow.iter_mut().zip(&ww) {
                let div = if a.count_include_pad {
                    r.padded * c.padded
                } else {
                    (r.hi - r.lo) * (c.hi - c.lo)
                };
                *o /= div as f32;
            }
        }
    }
    Ok(tensor(out, y))
}

/// Mean over every spatial dim, kept as size 1.
pub(super) fn global_average_pool(
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "global_average_pool";
    arity(op, args, 1, 1)?;
    let xd = args[0].shape.dims();
    let mut expect = xd.to_vec();
    expect.iter_mut().skip(2).for_each(|d| *d = 1);
    ensure(xd.len() >= 3 && out.shape.dims() == expect, op, || {
        format!(
            "result shape {} does not fit x {}",
            out.shape, args[0].shape
        )
    })?;
    let inner: usize = xd[2..].iter().product();
    let planes = xd[0] * xd[1];
    let x = f32s(&args[0]);
    let y: Vec<f32> = if inner == 0 {
        vec![f32::NAN; planes]
    } else {
        x.chunks(inner)
            .map(|p| p.iter().sum::<f32>() / inner as f32)
            .collect()
    };
    Ok(tensor(out, y))
}

/// Mean over `axes` (all axes when empty, as in ONNX), keeping them as size 1 or not.
pub(super) fn reduce_mean(
    a: &ReduceAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "reduce_mean";
    arity(op, args, 1, 1)?;
    let xd = args[0].shape.dims();
    let reduced: Vec<bool> = (0..xd.len())
        .map(|i| a.axes.is_empty() || a.axes.contains(&i))
        .collect();
    ensure(a.axes.iter().all(|&ax| ax < xd.len()), op, || {
        format!("axes {:?} out of range for x {}", a.axes, args[0].shape)
    })?;
    let kept: Vec<usize> = xd
        .iter()
        .zip(&reduced)
        .filter_map(|(&d, &r)| match (r, a.keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    ensure(out.shape.dims() == kept, op, || {
        format!(
            "result shape {} does not match the reduced {:?}",
            out.shape, kept
        )
    })?;
    // Output stride of every input dim (0 along reduced dims).
    let full: Vec<usize> = xd
        .iter()
        .zip(&reduced)
        .map(|(&d, &r)| if r { 1 } else { d })
        .collect();
    let ostr = crate::types::Shape(full).strides();
    let ostr: Vec<usize> = ostr
        .iter()
        .zip(&reduced)
        .map(|(&s, &r)| if r { 0 } else { s })
        .collect();
    let count: usize = xd
        .iter()
        .zip(&reduced)
        .filter(|(_, r)| **r)
        .map(|(d, _)| *d)
        .product();
    let mut acc = vec![0.0f64; out.shape.numel()];
    let x = f32s(&args[0]);
    if xd.is_empty() {
        return Ok(tensor(out, x.to_vec()));
    }
    if !x.is_empty() {
        let last = xd.len() - 1;
        let inner = xd[last];
        let mut idx = vec![0usize; xd.len()];
        let mut base = 0usize;
        for row in x.chunks(inner) {
            if ostr[last] == 0 {
                acc[base] += row.iter().map(|&v| v as f64).sum::<f64>();
            } else {
                for (a, &v) in acc[base..base + inner].iter_mut().zip(row) {
                    *a += v as f64;
                }
            }
            for d in (0..last).rev() {
                idx[d] += 1;
                base += ostr[d];
                if idx[d] < xd[d] {
                    break;
                }
                base -= ostr[d] * xd[d];
                idx[d] = 0;
            }
        }
    }
    let y = acc.into_iter().map(|s| (s / count as f64) as f32).collect();
    Ok(tensor(out, y))
}
