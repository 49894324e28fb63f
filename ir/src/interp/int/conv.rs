//! ConvInt and ConvTransposeInt: `acc = bias + sum (x - zp_x) * w` in exact integer
//! arithmetic (i64), checked to fit the i32 accumulator. Padded positions contribute 0.

use super::super::qdq::{int_tensor, int_values};
use super::super::{InterpResult, arity, ensure};
use super::{fit_i32, hw, symmetric, window2, zero_point};
use crate::ops::{ConvIntAttrs, ConvTransposeIntAttrs};
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// The operands of an integer conv: centered input, weight, bias.
struct Operands {
    xc: Vec<i64>,
    w: Vec<i64>,
    bias: Option<Vec<i64>>,
}

fn operands(
    op: &'static str,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Operands> {
    arity(op, args, 2, 3)?;
    let zp = i64::from(zero_point(op, "the input", ins[0])?);
    symmetric(op, ins[1])?;
    let (xd, wd, od) = (args[0].shape.dims(), args[1].shape.dims(), out.shape.dims());
    ensure(
        matches!(xd.len(), 3 | 4) && wd.len() == xd.len() && od.len() == xd.len(),
        op,
        || {
            format!(
                "x {}, w {} and result {} must share rank 3 or 4",
                args[0].shape, args[1].shape, out.shape
            )
        },
    )?;
    let widen = |v: Vec<i32>| v.into_iter().map(i64::from).collect::<Vec<i64>>();
    let xc = int_values(op, &args[0])?
        .into_iter()
        .map(|v| i64::from(v) - zp)
        .collect();
    let w = widen(int_values(op, &args[1])?);
    let bias = args
        .get(2)
        .map(|b| int_values(op, b))
        .transpose()?
        .map(widen);
    Ok(Operands { xc, w, bias })
}

/// Integer convolution (grouped and depthwise included).
pub(super) fn conv_int(
    a: &ConvIntAttrs,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "conv_int";
    let o = operands(op, args, ins, out)?;
    let a = &a.conv;
    let (xd, wd, od) = (args[0].shape.dims(), args[1].shape.dims(), out.shape.dims());
    let ((sh, sw), (dh, dw), (pt, pl, pb, pr)) =
        window2(op, xd.len() - 2, &a.strides, &a.dilations, &a.pads)?;
    let (n, c, m) = (xd[0], xd[1], wd[0]);
    let g = a.group;
    ensure(
        g >= 1 && c.is_multiple_of(g) && m.is_multiple_of(g) && wd[1] * g == c,
        op,
        || {
            format!(
                "group {g} does not fit x {} and w {}",
                args[0].shape, args[1].shape
            )
        },
    )?;
    let (cg, mg) = (c / g, m / g);
    let ((h, w), (kh, kw), (oh, ow)) = (hw(xd), hw(wd), hw(od));
    let size = |len: usize, p: usize, k: usize, d: usize, s: usize| {
        let eff = (k - 1) * d + 1;
        (len + p).checked_sub(eff).map(|r| r / s + 1)
    };
    ensure(
        od[0] == n
            && od[1] == m
            && kh >= 1
            && kw >= 1
            && size(h, pt + pb, kh, dh, sh) == Some(oh)
            && size(w, pl + pr, kw, dw, sw) == Some(ow),
        op,
        || {
            format!(
                "result {} does not fit x {} and w {}",
                out.shape, args[0].shape, args[1].shape
            )
        },
    )?;
    if let Some(b) = &o.bias {
        ensure(b.len() == m, op, || {
            format!("bias has {} entries for {m} channels", b.len())
        })?;
    }
    let mut y = Vec::with_capacity(n * m * oh * ow);
    for b in 0..n {
        for mm in 0..m {
            let grp = mm / mg;
            let b0 = o.bias.as_ref().map_or(0, |v| v[mm]);
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b0;
                    for ci in 0..cg {
                        let xp = &o.xc[((b * c) + grp * cg + ci) * h * w..][..h * w];
                        let wp = &o.w[(mm * cg + ci) * kh * kw..][..kh * kw];
                        for ky in 0..kh {
                            let iy = (oy * sh + ky * dh) as isize - pt as isize;
                            if iy < 0 || iy as usize >= h {
                                continue;
                            }
                            let row = &xp[iy as usize * w..][..w];
                            for kx in 0..kw {
                                let ix = (ox * sw + kx * dw) as isize - pl as isize;
                                if ix < 0 || ix as usize >= w {
                                    continue;
                                }
                                acc += row[ix as usize] * wp[ky * kw + kx];
                            }
                        }
                    }
                    y.push(fit_i32(op, acc)?);
                }
            }
        }
    }
    int_tensor(op, out, y)
}

/// Integer transposed convolution: input position `i` scatters into output position
/// `i * stride + k * dilation - pad_begin`; weights `[C, M/group, k..]`.
pub(super) fn conv_transpose_int(
    a: &ConvTransposeIntAttrs,
    args: &[Cow<'_, Tensor>],
    ins: &[&TensorType],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "conv_transpose_int";
    let o = operands(op, args, ins, out)?;
    let a = &a.conv;
    let (xd, wd, od) = (args[0].shape.dims(), args[1].shape.dims(), out.shape.dims());
    let ((sh, sw), (dh, dw), (pt, pl, pb, pr)) =
        window2(op, xd.len() - 2, &a.strides, &a.dilations, &a.pads)?;
    let (n, c, mg) = (xd[0], xd[1], wd[1]);
    let g = a.group;
    ensure(g >= 1 && c.is_multiple_of(g) && wd[0] == c, op, || {
        format!(
            "group {g} does not fit x {} and w {}",
            args[0].shape, args[1].shape
        )
    })?;
    let (cg, m) = (c / g, mg * g);
    let ((h, w), (kh, kw), (oh, ow)) = (hw(xd), hw(wd), hw(od));
    let (oph, opw) = match a.output_padding.as_slice() {
        [p] => (0, *p),
        [p, q] => (*p, *q),
        _ => (usize::MAX, usize::MAX),
    };
    let size = |len: usize, k: usize, d: usize, s: usize, op_: usize, p: usize| {
        let full =
            s.checked_mul(len.checked_sub(1)?)? + op_.checked_add((k.checked_sub(1)?) * d + 1)?;
        full.checked_sub(p)
    };
    ensure(
        od[0] == n
            && od[1] == m
            && size(h, kh, dh, sh, oph, pt + pb) == Some(oh)
            && size(w, kw, dw, sw, opw, pl + pr) == Some(ow),
        op,
        || {
            format!(
                "result {} does not fit x {} and w {}",
                out.shape, args[0].shape, args[1].shape
            )
        },
    )?;
    if let Some(b) = &o.bias {
        ensure(b.len() == m, op, || {
            format!("bias has {} entries for {m} channels", b.len())
        })?;
    }
    let plane = oh * ow;
    let mut acc = vec![0i64; n * m * plane];
    for b in 0..n {
        for mm in 0..m {
            let b0 = o.bias.as_ref().map_or(0, |v| v[mm]);
            acc[(b * m + mm) * plane..][..plane]
                .iter_mut()
                .for_each(|v| *v = b0);
        }
        for ci in 0..c {
            let grp = ci / cg;
            let xp = &o.xc[(b * c + ci) * h * w..][..h * w];
            for j in 0..mg {
                let mm = grp * mg + j;
                let wp = &o.w[(ci * mg + j) * kh * kw..][..kh * kw];
                let yp = &mut acc[(b * m + mm) * plane..][..plane];
                for iy in 0..h {
                    for ix in 0..w {
                        let xv = xp[iy * w + ix];
                        if xv == 0 {
                            continue;
                        }
                        for ky in 0..kh {
                            let oy = (iy * sh + ky * dh) as isize - pt as isize;
                            if oy < 0 || oy as usize >= oh {
                                continue;
                            }
                            for kx in 0..kw {
                                let ox = (ix * sw + kx * dw) as isize - pl as isize;
                                if ox < 0 || ox as usize >= ow {
                                    continue;
                                }
                                yp[oy as usize * ow + ox as usize] += xv * wp[ky * kw + kx];
                            }
                        }
                    }
                }
            }
        }
    }
    let y = acc
        .into_iter()
        .map(|v| fit_i32(op, v))
        .collect::<InterpResult<Vec<i32>>>()?;
    int_tensor(op, out, y)
}
