//! Resize, nearest and (multi)linear, following the ONNX formulas with onnxruntime's
//! clamping.
//!
//! Per dim, an output index maps to a source coordinate through the [`CoordMode`].
//! Nearest rounds it by the [`NearestMode`] and clamps into the input. Linear clamps the
//! coordinate into `[0, len - 1]` and blends its floor and the next index; it runs one dim
//! at a time (separable), skipping dims that map every index onto itself.

use super::shape::gather;
use super::{InterpResult, ensure, f32s, tensor};
use crate::ops::{CoordMode, NearestMode, ResizeAttrs, ResizeMode};
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// The source coordinate of output index `o` along a dim of lengths `len_in -> len_out`.
pub(super) fn source_coord(
    coord: CoordMode,
    o: usize,
    scale: f32,
    len_in: usize,
    len_out: usize,
) -> f32 {
    let x = o as f32;
    match coord {
        CoordMode::HalfPixel => (x + 0.5) / scale - 0.5,
        CoordMode::PytorchHalfPixel => {
            if len_out > 1 {
                (x + 0.5) / scale - 0.5
            } else {
                0.0
            }
        }
        CoordMode::AlignCorners => {
            if len_out == 1 {
                0.0
            } else {
                x * (len_in as f32 - 1.0) / (len_out as f32 - 1.0)
            }
        }
        CoordMode::Asymmetric => x / scale,
        // ONNX: `x_original = (x_resized + 0.5) / scale`.
        CoordMode::TfHalfPixelForNn => (x + 0.5) / scale,
    }
}

/// Rounds a source coordinate to an index by the nearest mode (as onnxruntime does: only an
/// exact `.5` fraction is treated specially, everything else rounds half away from zero).
fn nearest_index(mode: NearestMode, x: f32) -> i64 {
    let half = x == (x as i64) as f32 + 0.5;
    match mode {
        NearestMode::RoundPreferFloor => {
            if half {
                x.floor() as i64
            } else {
                x.round() as i64
            }
        }
        NearestMode::RoundPreferCeil => {
            if half {
                x.ceil() as i64
            } else {
                x.round() as i64
            }
        }
        NearestMode::Floor => x.floor() as i64,
        NearestMode::Ceil => x.ceil() as i64,
    }
}

/// Resize to the result type's shape.
pub(super) fn resize(
    a: &ResizeAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "resize";
    // Extra ONNX operands (roi, scales, sizes) may remain; attributes and type hold them.
    ensure(!args.is_empty(), op, || "needs the data operand".into())?;
    let (xd, od) = (args[0].shape.dims(), out.shape.dims());
    let r = xd.len();
    ensure(od.len() == r && a.scales.len() == r, op, || {
        format!(
            "x {}, result {} and {} scales must agree in rank",
            args[0].shape,
            out.shape,
            a.scales.len()
        )
    })?;
    for d in 0..r {
        ensure(a.scales[d] > 0.0 && a.scales[d].is_finite(), op, || {
            format!("scale {} of dim {d} must be positive", a.scales[d])
        })?;
        ensure(xd[d] > 0 || od[d] == 0, op, || {
            format!("dim {d}: cannot resize an empty dim")
        })?;
    }
    let x = f32s(&args[0]);
    match a.mode {
        ResizeMode::Nearest => {
            let strides = args[0].shape.strides();
            let maps: Vec<Vec<usize>> = (0..r)
                .map(|d| {
                    (0..od[d])
                        .map(|o| {
                            let c = source_coord(a.coord, o, a.scales[d], xd[d], od[d]);
                            let i = nearest_index(a.nearest, c).clamp(0, xd[d] as i64 - 1);
                            i as usize * strides[d]
                        })
                        .collect()
                })
                .collect();
            Ok(tensor(out, gather(x, &maps, out.shape.numel())))
        }
        ResizeMode::Linear => {
            let mut cur = x.to_vec();
            let mut dims = xd.to_vec();
            for d in 0..r {
                let taps: Vec<(usize, usize, f32, f32)> = (0..od[d])
                    .map(|o| {
                        let c = source_coord(a.coord, o, a.scales[d], xd[d], od[d]);
                        let c = c.max(0.0).min(xd[d] as f32 - 1.0);
                        let i0 = (c as usize).min(xd[d] - 1);
                        let i1 = (i0 + 1).min(xd[d] - 1);
                        if i0 == i1 {
                            (i0, i1, 0.5, 0.5)
                        } else {
                            (i0, i1, (c - i1 as f32).abs(), (c - i0 as f32).abs())
                        }
                    })
                    .collect();
                let identity = od[d] == xd[d]
                    && taps.iter().enumerate().all(|(o, t)| {
                        (t.0 == o && t.2 == 1.0)
                            || (t.1 == o && t.3 == 1.0)
                            || (t.0 == o && t.1 == o)
                    });
                if identity {
                    continue;
                }
                cur = lerp_dim(&cur, &dims, d, &taps);
                dims[d] = od[d];
            }
            Ok(tensor(out, cur))
        }
    }
}

/// Linear interpolation along dim `d`: output index `j` blends input indices `taps[j].0`
/// and `taps[j].1` with weights `taps[j].2` and `taps[j].3`.
fn lerp_dim(x: &[f32], dims: &[usize], d: usize, taps: &[(usize, usize, f32, f32)]) -> Vec<f32> {
    let outer: usize = dims[..d].iter().product();
    let inner: usize = dims[d + 1..].iter().product();
    let (n_in, n_out) = (dims[d], taps.len());
    let mut y = vec![0.0f32; outer * n_out * inner];
    if inner == 0 || n_out == 0 {
        return y;
    }
    for (xo, yo) in x.chunks(n_in * inner).zip(y.chunks_mut(n_out * inner)) {
        for (yrow, &(i0, i1, w0, w1)) in yo.chunks_mut(inner).zip(taps) {
            let r0 = &xo[i0 * inner..(i0 + 1) * inner];
            let r1 = &xo[i1 * inner..(i1 + 1) * inner];
            for (v, (&p, &q)) in yrow.iter_mut().zip(r0.iter().zip(r1)) {
                *v = w0 * p + w1 * q;
            }
        }
    }
    y
}
