//! Depthwise convolution (one input channel per group), any kernel, stride, dilation and
//! padding, with the bias and an optional fused clamp (Relu / Clip) applied as each output
//! is produced (the pre-activation tensor never exists).
//!
//! Paths, per output plane:
//! - 3x3, stride 1, padding 1 ("same", most of MobileNet): the whole plane is one
//!   flattened loop over a copy of the input with a zero row above and below; the taps that
//!   wrap from one row into the next are fixed up (see [`same3`]).
//! - Otherwise, a channel whose outputs read padding is first copied into a zero-bordered
//!   plane of just the window its outputs read (an unpadded one is read in place), so every
//!   tap lies inside that plane and the loops have no bounds or padding tests. A 3x3 stride-2
//!   kernel gets that plane with its even and odd columns split apart, so its taps are
//!   unit-stride windows too; narrow stride-1 3x3 planes run as one flattened loop over all
//!   rows (junk columns between rows computed and dropped). The 3x3 kernels compute all
//!   nine taps of an output in one pass ([`taps9`]); other kernels accumulate tap by tap
//!   into the output row.
//!
//! The loops are plain safe Rust, instantiated three times by `simd.rs` (AVX-512, AVX2+FMA,
//! portable; tests select each one) where LLVM vectorizes them along the width. The fused
//! instances round each multiply-add once, the portable one twice.

use super::conv::Geom;
use super::convgemm::Clamp;
use super::simd::{self, Madd};

/// The depthwise convolution of NCHW `x` with `w [M, 1, kh, kw]` (`M` a multiple of `C`):
/// the whole output, bias and clamp included.
pub(super) fn conv(
    geo: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    clamp: Option<Clamp>,
) -> Vec<f32> {
    let Geom {
        n,
        m,
        oh,
        ow,
        h,
        w: iw,
        ..
    } = *geo;
    let mut y = super::buffers::take(n * m * oh * ow);
    if oh * ow == 0 {
        return y;
    }
    if h * iw == 0 {
        for (plane, mi) in y.chunks_mut(oh * ow).zip((0..m).cycle()) {
            let v = bias.map_or(0.0, |b| b[mi]);
            plane.fill(clamp.map_or(v, |cl| cl.apply(v)));
        }
        return y;
    }
    simd::depthwise_conv(geo, x, w, bias, clamp, &mut y);
    y
}

/// [`conv`] for a non-empty input and output into `y` (`n * m * oh * ow` elements).
#[inline(always)]
pub(super) fn conv_planes<F: Madd>(
    geo: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    clamp: Option<Clamp>,
    y: &mut [f32],
) {
    match clamp {
        Some(cl) => planes::<F>(geo, x, w, bias, cl, y),
        None => planes::<F>(geo, x, w, bias, Linear, y),
    }
}

/// Outputs per row below which a stride-1 3x3 plane is computed flattened (all rows in one
/// loop over the padded plane, dropping the padding columns afterwards), so that vectors
/// span rows instead of running mostly in their remainder loops.
const FLAT_BELOW: usize = 64;

/// [`conv_planes`] with the epilogue `act`.
#[inline(always)]
fn planes<F: Madd>(
    geo: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: impl Act,
    y: &mut [f32],
) {
    let Geom {
        c,
        h,
        w: iw,
        m,
        kh,
        kw,
        oh,
        ow,
        ..
    } = *geo;
    let (kk, mult, ohw) = (kh * kw, m / c, oh * ow);
    let mut padded = Vec::new();
    let mut flat = Vec::new();
    let undilated3 = kh == 3 && kw == 3 && geo.dh == 1 && geo.dw == 1;
    // Stride-2 3x3 kernels read column-split planes.
    let split = undilated3 && geo.sw == 2;
    // A "same" 3x3 (stride 1, padding 1) runs on the plane with a zero row above and below.
    let same =
        undilated3 && (geo.sh, geo.sw, geo.pt, geo.pl, oh, ow) == (1, 1, 1, 1, h, iw) && h >= 1;
    let mut halo: [Vec<f32>; 3] = std::array::from_fn(|_| {
        if same {
            vec![0.0f32; h * iw + 2 * (iw + 1)]
        } else {
            Vec::new()
        }
    });
    for (pi, yp) in y.chunks_exact_mut(ohw).enumerate() {
        // Output plane `pi` is batch `pi / m`, channel `mi`, reading input channel `mi / mult`.
        let (b, mi) = (pi / m, pi % m);
        let ci = b * c + mi / mult;
        let xp = &x[ci * h * iw..(ci + 1) * h * iw];
        let filt = &w[mi * kk..(mi + 1) * kk];
        let bv = bias.map_or(0.0, |b| b[mi]);
        match <&[f32; 9]>::try_from(filt) {
            Ok(f3) if same => same3::<F>(xp, iw, f3, bv, act, &mut halo, yp),
            _ => {
                let (src, ws) = source(geo, xp, split, &mut padded);
                plane::<F>(geo, src, ws, filt, bv, act, &mut flat, yp);
            }
        }
    }
}

/// Planes narrower than this fix the wrapped taps of [`same3`] with masked copies, wider
/// ones by recomputing their two edge columns (cheaper than two more copies of a big plane).
const MASK_BELOW: usize = 16;

/// A 3x3, stride-1, padding-1 plane `x` of width `w` into `y`. In the flattened output
/// `p = oy * w + ox`, tap `(ki, kj)` reads input `p + (ki - 1) * w + kj - 1`, so all rows
/// are one loop over copies of the plane with `w + 1` zeros before and after (`halo`, see
/// [`planes`]), except that at the first and last column the taps `kj = 0` and `kj = 2`
/// wrap into the neighbouring row. In a narrow plane those taps read copies whose last
/// (`kj = 0`) or first (`kj = 2`) column is zeroed, the one column each of them reaches
/// only by wrapping; in a wide plane the two edge columns are recomputed without them.
#[inline(always)]
fn same3<F: Madd>(
    x: &[f32],
    w: usize,
    f: &[f32; 9],
    bias: f32,
    act: impl Act,
    halo: &mut [Vec<f32>; 3],
    y: &mut [f32],
) {
    let len = x.len();
    let masked = w < MASK_BELOW;
    for (kj, buf) in halo.iter_mut().enumerate() {
        if !masked && kj != 1 {
            continue;
        }
        let body = &mut buf[w + 1..w + 1 + len];
        body.copy_from_slice(x);
        match kj {
            0 => body
                .iter_mut()
                .skip(w - 1)
                .step_by(w)
                .for_each(|v| *v = 0.0),
            2 => body.iter_mut().step_by(w).for_each(|v| *v = 0.0),
            _ => {}
        }
    }
    let taps = std::array::from_fn(|t| {
        let (ki, kj) = (t / 3, t % 3);
        &halo[if masked { kj } else { 1 }][ki * w + kj..]
    });
    taps9::<F>(y, taps, f, bias, act);
    if masked {
        return;
    }
    let halo = &halo[1];
    for (oy, yrow) in y.chunks_exact_mut(w).enumerate() {
        let p = oy * w;
        let (l, r) = (p, p + w - 1);
        let mut a = bias;
        let mut b = bias;
        for ki in 0..3 {
            a = F::madd(f[ki * 3 + 1], halo[l + ki * w + 1], a);
            a = F::madd(f[ki * 3 + 2], halo[l + ki * w + 2], a);
            b = F::madd(f[ki * 3], halo[r + ki * w], b);
            b = F::madd(f[ki * 3 + 1], halo[r + ki * w + 1], b);
        }
        yrow[0] = act.apply(a);
        yrow[w - 1] = act.apply(b);
    }
}

/// The input plane `x` as read by the kernels, with its row stride: `x` itself when every
/// tap of every output lies inside it, else the window the outputs read (rows `-pt ..`,
/// columns `-pl ..`) copied into `buf` with zeros in the padding. `buf` must be empty or
/// hold the window of an earlier channel of the same convolution.
#[inline(always)]
fn source<'a>(geo: &Geom, x: &'a [f32], split: bool, buf: &'a mut Vec<f32>) -> (&'a [f32], usize) {
    let Geom {
        h,
        w,
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
        ..
    } = *geo;
    let (hp, wp) = (
        (oh - 1) * sh + (kh - 1) * dh + 1,
        (ow - 1) * sw + (kw - 1) * dw + 1,
    );
    if !split && pt == 0 && pl == 0 && hp <= h && wp <= w {
        return (x, w);
    }
    // The padding is written once per convolution (`buf` starts empty and every channel
    // overwrites only the same interior).
    let fresh = buf.is_empty();
    buf.resize(hp * wp, 0.0);
    // Input columns `0..cols` land at `pl..pl + cols`.
    let cols = wp.saturating_sub(pl).min(w);
    // With `split`, padded column `j` is stored at `j / 2`, or `even + j / 2` when odd.
    let even = wp.div_ceil(2);
    for (i, row) in buf.chunks_exact_mut(wp).enumerate() {
        match i.checked_sub(pt).filter(|&r| r < h && cols > 0) {
            Some(r) if split => {
                let src = &x[r * w..r * w + cols];
                // Input pairs `(2a, 2a + 1)` land at padded `pl + 2a` and `pl + 2a + 1`:
                // one of them even, the other odd.
                let (first, second) = if pl % 2 == 0 {
                    (pl / 2, even + pl / 2)
                } else {
                    (even + pl / 2, pl.div_ceil(2))
                };
                let (pairs, last) = (cols / 2, cols % 2 == 1);
                let (lo, hi) = row.split_at_mut(even);
                let (d0, d1) = if pl % 2 == 0 {
                    (
                        &mut lo[first..first + pairs + usize::from(last)],
                        &mut hi[second - even..],
                    )
                } else {
                    (
                        &mut hi[first - even..first - even + pairs + usize::from(last)],
                        &mut lo[second..],
                    )
                };
                for ((p, a), b) in src.chunks_exact(2).zip(d0.iter_mut()).zip(d1.iter_mut()) {
                    *a = p[0];
                    *b = p[1];
                }
                if last {
                    d0[pairs] = src[cols - 1];
                }
            }
            Some(r) => row[pl..pl + cols].copy_from_slice(&x[r * w..r * w + cols]),
            None if fresh => row.fill(0.0),
            None => {}
        }
    }
    (buf, wp)
}

/// The activation applied to each finished output.
trait Act: Copy {
    fn apply(self, v: f32) -> f32;
}

/// No activation.
#[derive(Clone, Copy)]
struct Linear;

impl Act for Linear {
    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        v
    }
}

impl Act for Clamp {
    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        Clamp::apply(self, v)
    }
}

/// One output plane `y` (`oh x ow`) from the padded source plane `src` (row stride `ws`, see
/// [`source`]) and filter `f`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn plane<F: Madd>(
    geo: &Geom,
    src: &[f32],
    ws: usize,
    f: &[f32],
    bias: f32,
    act: impl Act,
    flat: &mut Vec<f32>,
    y: &mut [f32],
) {
    let Geom {
        kh,
        kw,
        oh,
        ow,
        sh,
        sw,
        dh,
        dw,
        ..
    } = *geo;
    let f3: Option<&[f32; 9]> = f
        .try_into()
        .ok()
        .filter(|_| kh == 3 && kw == 3 && dh == 1 && dw == 1);
    if let (Some(f3), 1, 1, true) = (f3, sh, sw, ow < FLAT_BELOW) {
        // Flattened outputs `p = oy * ws + ox`; the columns `ox >= ow` are dropped.
        let n = (oh - 1) * ws + ow;
        flat.resize(n, 0.0);
        let rows = [src, &src[ws..], &src[2 * ws..]];
        row3::<F>(flat, rows, [0, 1, 2], f3, bias, act);
        for (oy, yrow) in y.chunks_exact_mut(ow).enumerate() {
            yrow.copy_from_slice(&flat[oy * ws..oy * ws + ow]);
        }
        return;
    }
    for (oy, out) in y.chunks_exact_mut(ow).enumerate() {
        let r0 = oy * sh * ws;
        match (f3, sw) {
            (Some(f3), 1) => {
                let rows = [&src[r0..], &src[r0 + ws..], &src[r0 + 2 * ws..]];
                row3::<F>(out, rows, [0, 1, 2], f3, bias, act);
            }
            (Some(f3), 2) => {
                // Taps 0 and 2 read even columns `2i` and `2i + 2`, tap 1 the odd `2i + 1`.
                let rows = [&src[r0..], &src[r0 + ws..], &src[r0 + 2 * ws..]];
                row3::<F>(out, rows, [0, ws.div_ceil(2), 1], f3, bias, act);
            }
            _ => {
                out.fill(bias);
                for ki in 0..kh {
                    for kj in 0..kw {
                        let wt = f[ki * kw + kj];
                        let r = &src[r0 + ki * dh * ws + kj * dw..];
                        if sw == 1 {
                            for (o, &v) in out.iter_mut().zip(r) {
                                *o = F::madd(wt, v, *o);
                            }
                        } else {
                            for (o, &v) in out.iter_mut().zip(r.iter().step_by(sw)) {
                                *o = F::madd(wt, v, *o);
                            }
                        }
                    }
                }
                out.iter_mut().for_each(|v| *v = act.apply(*v));
            }
        }
    }
}

/// The interior of one output row of a 3x3 kernel: `out[i] = clamp(bias + sum_{ki, kj}
/// f[ki * 3 + kj] * rows[ki][offs[kj] + i])` (offsets `0, 1, 2` for stride 1; for stride 2
/// the rows are split into even and odd columns, see [`source`]).
#[inline(always)]
fn row3<F: Madd>(
    out: &mut [f32],
    rows: [&[f32]; 3],
    offs: [usize; 3],
    f: &[f32; 9],
    bias: f32,
    clamp: impl Act,
) {
    let n = out.len();
    taps9::<F>(
        out,
        std::array::from_fn(|t| &rows[t / 3][offs[t % 3]..offs[t % 3] + n]),
        f,
        bias,
        clamp,
    );
}

/// `out[i] = clamp(bias + sum_t f[t] * taps[t][i])` over nine windows of `out.len()`
/// elements (a shorter window panics before the loop, so the loop has no bounds checks).
#[inline(always)]
fn taps9<F: Madd>(out: &mut [f32], taps: [&[f32]; 9], f: &[f32; 9], bias: f32, clamp: impl Act) {
    let n = out.len();
    let t: [&[f32]; 9] = [
        &taps[0][..n],
        &taps[1][..n],
        &taps[2][..n],
        &taps[3][..n],
        &taps[4][..n],
        &taps[5][..n],
        &taps[6][..n],
        &taps[7][..n],
        &taps[8][..n],
    ];
    for i in 0..n {
        let mut a = F::madd(f[0], t[0][i], bias);
        let mut b = f[1] * t[1][i];
        let mut c = f[2] * t[2][i];
        a = F::madd(f[3], t[3][i], a);
        b = F::madd(f[4], t[4][i], b);
        c = F::madd(f[5], t[5][i], c);
        a = F::madd(f[6], t[6][i], a);
        b = F::madd(f[7], t[7][i], b);
        c = F::madd(f[8], t[8][i], c);
        out[i] = clamp.apply(a + b + c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Depthwise convolution by definition, clamp applied at the end.
    fn naive(geo: &Geom, x: &[f32], w: &[f32], bias: &[f32], clamp: Option<Clamp>) -> Vec<f32> {
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
            ..
        } = *geo;
        let mut y = Vec::new();
        for b in 0..n {
            for mi in 0..m {
                let ci = mi / (m / c);
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = bias[mi];
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let iy = (oy * sh + ki * dh) as isize - pt as isize;
                                let ix = (ox * sw + kj * dw) as isize - pl as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= iw as isize {
                                    continue;
                                }
                                let xv = x[((b * c + ci) * h + iy as usize) * iw + ix as usize];
                                acc += xv * w[(mi * kh + ki) * kw + kj];
                            }
                        }
                        y.push(clamp.map_or(acc, |cl| cl.apply(acc)));
                    }
                }
            }
        }
        y
    }

    fn data(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// Every geometry of the brief's list against [`naive`], on the current kernel path.
    fn check_all() {
        let clamps = [
            Clamp::RELU,
            Clamp { lo: 0.0, hi: 6.0 },
            Clamp { lo: -0.5, hi: 0.25 },
        ];
        let mut cases = 0;
        for (c, mult) in [(1, 1), (3, 1), (17, 1), (2, 3)] {
            for (h, w) in [(1, 1), (2, 3), (5, 7), (9, 17), (4, 33), (3, 40), (11, 70)] {
                for (k, s, d, p) in [
                    (3, 1, 1, 1),
                    (3, 1, 1, 0),
                    (3, 2, 1, 1),
                    (3, 2, 1, 0),
                    (3, 2, 1, 2),
                    (3, 1, 2, 2),
                    (5, 1, 1, 2),
                    (2, 3, 1, 1),
                    (1, 2, 1, 0),
                ] {
                    let ek = (k - 1) * d + 1;
                    if h + 2 * p < ek || w + 2 * p < ek {
                        continue;
                    }
                    let (oh, ow) = ((h + 2 * p - ek) / s + 1, (w + 2 * p - ek) / s + 1);
                    let m = c * mult;
                    let geo = Geom {
                        n: 2,
                        c,
                        h,
                        w,
                        m,
                        kh: k,
                        kw: k,
                        oh,
                        ow,
                        sh: s,
                        sw: s,
                        dh: d,
                        dw: d,
                        pt: p,
                        pl: p,
                        group: c,
                    };
                    let x = data(2 * c * h * w, 1 + h as u32 * 31 + w as u32);
                    let wt = data(m * k * k, 7 + c as u32);
                    let b = data(m, 3);
                    for cl in clamps {
                        let got = conv(&geo, &x, &wt, Some(&b), Some(cl));
                        let want = naive(&geo, &x, &wt, &b, Some(cl));
                        assert_eq!(got.len(), want.len(), "{geo:?}");
                        for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                            assert!((g - e).abs() <= 1e-5, "{geo:?} {cl:?} at {i}: {g} vs {e}");
                        }
                        cases += 1;
                    }
                    // No bias, no clamp.
                    let got = conv(&geo, &x, &wt, None, None);
                    let want = naive(&geo, &x, &wt, &vec![0.0; m], None);
                    for (g, e) in got.iter().zip(&want) {
                        assert!((g - e).abs() <= 1e-5, "{geo:?}: {g} vs {e}");
                    }
                }
            }
        }
        assert!(cases > 300);
    }

    #[test]
    fn matches_naive_on_the_default_path() {
        check_all();
    }

    #[test]
    fn matches_naive_on_the_avx2_path() {
        simd::with_avx2(check_all);
    }

    #[test]
    fn matches_naive_on_the_portable_path() {
        simd::with_portable(check_all);
    }

    #[test]
    fn nan_is_clamped_like_relu() {
        let geo = Geom {
            n: 1,
            c: 1,
            h: 1,
            w: 40,
            m: 1,
            kh: 1,
            kw: 3,
            oh: 1,
            ow: 40,
            sh: 1,
            sw: 1,
            dh: 1,
            dw: 1,
            pt: 0,
            pl: 1,
            group: 1,
        };
        let mut x = vec![1.0f32; 40];
        x[20] = f32::NAN;
        let y = conv(&geo, &x, &[1.0, 1.0, 1.0], None, Some(Clamp::RELU));
        assert_eq!(y[19..22], [0.0, 0.0, 0.0]);
        assert_eq!(y[0], 2.0);
        assert_eq!(y[10], 3.0);
    }
}
