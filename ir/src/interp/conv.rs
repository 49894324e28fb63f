//! Convolution and transposed convolution, 1-d and 2-d (1-d runs as 2-d with height 1).
//!
//! - Depthwise-style groups (one input channel per group) run in `depthwise.rs`.
//! - Every other group is one `convgemm.rs` GEMM (filters times the im2col matrix, packed
//!   block by block; a 1x1, stride-1, unpadded group reads the input planes directly), with
//!   bias and an optional fused clamp (Relu / Clip) in its epilogue.
//! - Transposed convolution is GEMM (`w^T @ x`) followed by col2im with cropping.

pub(super) use super::convgemm::Clamp;
use super::convgemm::{self, BSrc};
use super::sgemm::{MatRef, sgemm};
use super::{InterpResult, arity, ensure, f32s, tensor};
use crate::ops::{ConvAttrs, ConvTransposeAttrs};
use crate::tensor::Tensor;
use crate::types::TensorType;
use std::borrow::Cow;

/// Geometry of one convolution normalized to two spatial dims.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geom {
    pub n: usize,
    /// Input channels (all groups).
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// Output channels (all groups).
    pub m: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    /// Top and left padding (or cropping, for transposed convolution).
    pub pt: usize,
    pub pl: usize,
    pub group: usize,
}

/// The spatial attributes of a 1-d or 2-d op as `(h, w)` pairs: `(strides, dilations,
/// (pad_top, pad_bottom), (pad_left, pad_right))`.
#[allow(clippy::type_complexity)]
pub(super) fn spatial2(
    op: &'static str,
    spatial: usize,
    strides: &[usize],
    dilations: &[usize],
    pads: &[usize],
) -> InterpResult<(
    (usize, usize),
    (usize, usize),
    (usize, usize),
    (usize, usize),
)> {
    ensure(spatial == 1 || spatial == 2, op, || {
        format!("{spatial} spatial dims; only 1 and 2 are supported")
    })?;
    ensure(
        strides.len() == spatial && dilations.len() == spatial && pads.len() == 2 * spatial,
        op,
        || {
            format!(
                "attributes for {spatial} spatial dims need {spatial} strides and dilations and {} pads, got {}, {} and {}",
                2 * spatial,
                strides.len(),
                dilations.len(),
                pads.len()
            )
        },
    )?;
    ensure(strides.iter().chain(dilations).all(|&s| s >= 1), op, || {
        "strides and dilations must be at least 1".into()
    })?;
    Ok(if spatial == 1 {
        (
            (1, strides[0]),
            (1, dilations[0]),
            (0, 0),
            (pads[0], pads[1]),
        )
    } else {
        (
            (strides[0], strides[1]),
            (dilations[0], dilations[1]),
            (pads[0], pads[2]),
            (pads[1], pads[3]),
        )
    })
}

/// `(h, w)` of a rank-3 or rank-4 NC* shape's spatial part.
pub(super) fn hw(dims: &[usize]) -> (usize, usize) {
    if dims.len() == 3 {
        (1, dims[2])
    } else {
        (dims[2], dims[3])
    }
}

/// Output length of a window sweep, or `None` when the window does not fit.
fn sweep(len: usize, pad: usize, k: usize, d: usize, s: usize) -> Option<usize> {
    let eff = (k - 1) * d + 1;
    (len + pad).checked_sub(eff).map(|r| r / s + 1)
}

/// The range `lo..hi` of output positions `o < out_len` whose input position
/// `o * stride + offset - pad` lies in `0..in_len`.
pub(super) fn valid_range(
    out_len: usize,
    stride: usize,
    offset: usize,
    pad: usize,
    in_len: usize,
) -> (usize, usize) {
    let lo = if pad > offset {
        (pad - offset).div_ceil(stride)
    } else {
        0
    };
    let hi = if in_len + pad > offset {
        ((in_len - 1 + pad - offset) / stride + 1).min(out_len)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Convolution: `y[n,m] = b[m] + sum_{c in group, k} w[m,c,k] * x_padded[n,c, o*s + k*d]`.
pub(super) fn conv(
    a: &ConvAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
    clamp: Option<Clamp>,
) -> InterpResult<Tensor> {
    let op = "conv";
    arity(op, args, 2, 3)?;
    let (xd, wd) = (args[0].shape.dims(), args[1].shape.dims());
    ensure(
        matches!(xd.len(), 3 | 4) && wd.len() == xd.len(),
        op,
        || {
            format!(
                "x {} and w {} must both have rank 3 or 4",
                args[0].shape, args[1].shape
            )
        },
    )?;
    let ((sh, sw), (dh, dw), (pt, pb), (pl, pr)) =
        spatial2(op, xd.len() - 2, &a.strides, &a.dilations, &a.pads)?;
    let (n, c, m, g) = (xd[0], xd[1], wd[0], a.group);
    ensure(
        g >= 1 && c % g == 0 && m % g == 0 && wd[1] == c / g.max(1),
        op,
        || {
            format!(
                "group {g} does not fit x {} and w {}",
                args[0].shape, args[1].shape
            )
        },
    )?;
    let (h, w) = hw(xd);
    let (kh, kw) = hw(wd);
    ensure(kh >= 1 && kw >= 1, op, || "empty kernel".into())?;
    let oh = sweep(h, pt + pb, kh, dh, sh);
    let ow = sweep(w, pl + pr, kw, dw, sw);
    let mut expect = vec![n, m];
    if xd.len() == 4 {
        expect.push(oh.unwrap_or(0));
    }
    expect.push(ow.unwrap_or(0));
    ensure(
        oh.is_some() && ow.is_some() && out.shape.dims() == expect,
        op,
        || {
            format!(
                "result shape {} does not match the computed {:?}",
                out.shape, expect
            )
        },
    )?;
    if let Some(b) = args.get(2) {
        ensure(b.shape.dims() == [m], op, || {
            format!("bias shape {} is not [{m}]", b.shape)
        })?;
    }
    let geo = Geom {
        n,
        c,
        h,
        w,
        m,
        kh,
        kw,
        oh: oh.unwrap_or(0),
        ow: ow.unwrap_or(0),
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        group: g,
    };
    let y = conv_f32(
        &geo,
        f32s(&args[0]),
        f32s(&args[1]),
        args.get(2).map(|b| f32s(b)),
        clamp,
    );
    Ok(tensor(out, y))
}

/// The convolution kernel on raw buffers (NCHW `x`, MCKK `w`), with an optional clamp (a
/// fused Relu / Clip) applied to the result.
pub(super) fn conv_f32(
    geo: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    clamp: Option<Clamp>,
) -> Vec<f32> {
    let Geom {
        n,
        c,
        h,
        w: iw,
        m,
        kh,
        kw,
        oh,
        ow,
        group,
        ..
    } = *geo;
    let (cg, mg) = (c / group, m / group);
    let (k, ohw, hw_in) = (cg * kh * kw, oh * ow, h * iw);
    if cg == 1 && ohw > 0 {
        return super::depthwise::conv(geo, x, w, bias, clamp);
    }
    if ohw == 0 {
        return Vec::new();
    }
    let pointwise = kh == 1
        && kw == 1
        && geo.sh == 1
        && geo.sw == 1
        && geo.pt == 0
        && geo.pl == 0
        && oh == h
        && ow == iw;
    // The GEMM writes every element.
    let mut y = super::buffers::take(n * m * ohw);
    for b in 0..n {
        for gi in 0..group {
            let xg = &x[(b * c + gi * cg) * hw_in..(b * c + (gi + 1) * cg) * hw_in];
            let wg = &w[gi * mg * k..(gi + 1) * mg * k];
            let yg = &mut y[(b * m + gi * mg) * ohw..(b * m + (gi + 1) * mg) * ohw];
            let bg = bias.map(|bv| &bv[gi * mg..(gi + 1) * mg]);
            let src = if pointwise {
                BSrc::Dense(xg)
            } else {
                BSrc::Im2col { geo, x: xg }
            };
            convgemm::gemm(mg, k, ohw, wg, src, bg, clamp, yg);
        }
    }
    y
}

/// Transposed convolution: every input element scatters `x * w[c, m, k]` to output
/// position `i * s + k * d - pad_begin`; positions outside the output are cropped.
pub(super) fn conv_transpose(
    a: &ConvTransposeAttrs,
    args: &[Cow<'_, Tensor>],
    out: &TensorType,
) -> InterpResult<Tensor> {
    let op = "conv_transpose";
    arity(op, args, 2, 3)?;
    let (xd, wd) = (args[0].shape.dims(), args[1].shape.dims());
    ensure(
        matches!(xd.len(), 3 | 4) && wd.len() == xd.len(),
        op,
        || {
            format!(
                "x {} and w {} must both have rank 3 or 4",
                args[0].shape, args[1].shape
            )
        },
    )?;
    let spatial = xd.len() - 2;
    let ((sh, sw), (dh, dw), (pt, pb), (pl, pr)) =
        spatial2(op, spatial, &a.strides, &a.dilations, &a.pads)?;
    ensure(a.output_padding.len() == spatial, op, || {
        format!(
            "output_padding has {} entries for {spatial} spatial dims",
            a.output_padding.len()
        )
    })?;
    let (oph, opw) = if spatial == 1 {
        (0, a.output_padding[0])
    } else {
        (a.output_padding[0], a.output_padding[1])
    };
    let (n, c, g) = (xd[0], xd[1], a.group);
    ensure(g >= 1 && c % g == 0 && wd[0] == c, op, || {
        format!(
            "group {g} does not fit x {} and w {}",
            args[0].shape, args[1].shape
        )
    })?;
    let m = wd[1] * g;
    let (h, w) = hw(xd);
    let (kh, kw) = hw(wd);
    ensure(kh >= 1 && kw >= 1, op, || "empty kernel".into())?;
    let oh = ((h.max(1) - 1) * sh + (kh - 1) * dh + 1 + oph).checked_sub(pt + pb);
    let ow = ((w.max(1) - 1) * sw + (kw - 1) * dw + 1 + opw).checked_sub(pl + pr);
    let mut expect = vec![n, m];
    if spatial == 2 {
        expect.push(oh.unwrap_or(0));
    }
    expect.push(ow.unwrap_or(0));
    ensure(
        h >= 1 && w >= 1 && oh.is_some() && ow.is_some() && out.shape.dims() == expect,
        op,
        || {
            format!(
                "result shape {} does not match the computed {:?}",
                out.shape, expect
            )
        },
    )?;
    if let Some(b) = args.get(2) {
        ensure(b.shape.dims() == [m], op, || {
            format!("bias shape {} is not [{m}]", b.shape)
        })?;
    }
    let geo = Geom {
        n,
        c,
        h,
        w,
        m,
        kh,
        kw,
        oh: oh.unwrap_or(0),
        ow: ow.unwrap_or(0),
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        group: g,
    };
    if geo.oh == 0 || geo.ow == 0 {
        return Ok(tensor(out, Vec::new()));
    }
    let y = conv_transpose_f32(
        &geo,
        f32s(&args[0]),
        f32s(&args[1]),
        args.get(2).map(|b| f32s(b)),
    );
    Ok(tensor(out, y))
}

/// The transposed-convolution kernel on raw buffers (NCHW `x`, `w [C, M/group, kh, kw]`).
fn conv_transpose_f32(geo: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let Geom {
        n,
        c,
        h,
        w: iw,
        m,
        kh,
        kw,
        oh,
        ow,
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        group,
        ..
    } = *geo;
    let (cg, mg) = (c / group, m / group);
    let (hw_in, ohw, kk) = (h * iw, oh * ow, kh * kw);
    let rows = mg * kk;
    let mut y = vec![0.0f32; n * m * ohw];
    if let Some(b) = bias {
        for (plane, &bv) in y.chunks_mut(ohw).zip(b.iter().cycle()) {
            plane.fill(bv);
        }
    }
    let ranges: Vec<(usize, usize)> = (0..kw)
        .map(|kj| valid_range(iw, sw, kj * dw, pl, ow))
        .collect();
    let mut col = vec![0.0f32; rows * hw_in];
    for b in 0..n {
        for gi in 0..group {
            let xg = &x[(b * c + gi * cg) * hw_in..(b * c + (gi + 1) * cg) * hw_in];
            // w_g is [cg, mg*kk] row-major; col = w_g^T @ x_g is [mg*kk, h*w].
            let wg = &w[gi * cg * rows..(gi + 1) * cg * rows];
            sgemm(
                rows,
                cg,
                hw_in,
                1.0,
                MatRef::row_major(wg, rows).t(),
                MatRef::row_major(xg, hw_in),
                0.0,
                &mut col,
                hw_in,
            );
            let yg = &mut y[(b * m + gi * mg) * ohw..(b * m + (gi + 1) * mg) * ohw];
            for (r, crow) in col.chunks(hw_in).enumerate() {
                let (mi, ki, kj) = (r / kk, (r % kk) / kw, r % kw);
                let yp = &mut yg[mi * ohw..(mi + 1) * ohw];
                let (lo, hi) = ranges[kj];
                if lo >= hi {
                    continue;
                }
                for ih in 0..h {
                    let o = ih * sh + ki * dh;
                    if o < pt || o - pt >= oh {
                        continue;
                    }
                    let yrow = &mut yp[(o - pt) * ow..(o - pt + 1) * ow];
                    let src = &crow[ih * iw + lo..ih * iw + hi];
                    let start = lo * sw + kj * dw - pl;
                    if sw == 1 {
                        yrow[start..start + (hi - lo)]
                            .iter_mut()
                            .zip(src)
                            .for_each(|(d, &v)| *d += v);
                    } else {
                        yrow[start..]
                            .iter_mut()
                            .step_by(sw)
                            .zip(src)
                            .for_each(|(d, &v)| *d += v);
                    }
                }
            }
        }
    }
    y
}
