//! Depthwise convolution (one input channel per group), any kernel, stride, dilation and
//! padding.
//!
//! Each input channel is first rearranged into zero-padded *phase planes*: for strides
//! `(sh, sw)` plane `(ph, pw)` holds `padded[i * sh + ph][j * sw + pw]`, so every tap
//! `(ki, kj)` of every output `(oy, ox)` reads plane `(ki*dh % sh, kj*dw % sw)` at row
//! `oy + ki*dh / sh` and column `ox + kj*dw / sw`. All planes share the row length `w2`, so
//! with the output flattened as `p = oy * w2 + ox` a tap is one constant offset, and the
//! whole channel is a single long loop `acc[p] = bias + sum_t w[t] * src[p + off[t]]` with
//! no bounds or padding tests (columns `ox >= ow` are computed and dropped). The loop runs in
//! chunks of [`CH`] outputs held in registers across all taps (AVX2+FMA when available, see
//! `simd.rs`), then the valid columns are copied to the output.

use super::conv::{Geom, valid_range};
use super::simd::{self, Madd};

/// Outputs computed per register block.
const CH: usize = 16;

/// Where the taps of a depthwise convolution read, shared by all its channels.
struct Layout {
    /// Row length of every phase plane (and of the flattened output).
    w2: usize,
    /// Rows per phase plane.
    h2: usize,
    /// The `(row phase, column phase)` of each stored plane.
    phases: Vec<(usize, usize)>,
    /// Per tap (`ki * kw + kj` order): offset of its first element in the planes buffer.
    offsets: Vec<usize>,
    /// Flattened outputs rounded up to a multiple of [`CH`].
    len: usize,
}

impl Layout {
    fn new(geo: &Geom) -> Layout {
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
        let h2 = oh + (kh - 1) * dh / sh;
        let w2 = ow + (kw - 1) * dw / sw;
        let mut phases: Vec<(usize, usize)> = Vec::new();
        let mut offsets = Vec::with_capacity(kh * kw);
        for ki in 0..kh {
            for kj in 0..kw {
                let phase = (ki * dh % sh, kj * dw % sw);
                let slot = match phases.iter().position(|&p| p == phase) {
                    Some(s) => s,
                    None => {
                        phases.push(phase);
                        phases.len() - 1
                    }
                };
                offsets.push(slot * h2 * w2 + (ki * dh / sh) * w2 + kj * dw / sw);
            }
        }
        let flat = (oh - 1) * w2 + ow;
        Layout {
            w2,
            h2,
            phases,
            offsets,
            len: flat.div_ceil(CH) * CH,
        }
    }

    /// Length of the planes buffer: the planes, then one zero block that the rounded-up last
    /// chunk may read.
    fn src_len(&self) -> usize {
        self.phases.len() * self.h2 * self.w2 + CH
    }

    /// Writes the phase planes of input channel `x` (`h x w`) into `src`.
    fn fill(&self, geo: &Geom, x: &[f32], src: &mut [f32]) {
        let (h, w, sh, sw, pt, pl) = (geo.h, geo.w, geo.sh, geo.sw, geo.pt, geo.pl);
        let plane_len = self.h2 * self.w2;
        for (&(ph, pw), plane) in self.phases.iter().zip(src.chunks_exact_mut(plane_len)) {
            let (lo, hi) = valid_range(self.w2, sw, pw, pl, w);
            for (i, dst) in plane.chunks_exact_mut(self.w2).enumerate() {
                let r = i * sh + ph;
                if r < pt || r - pt >= h || lo >= hi {
                    dst.fill(0.0);
                    continue;
                }
                let xrow = &x[(r - pt) * w..(r - pt + 1) * w];
                dst[..lo].fill(0.0);
                dst[hi..].fill(0.0);
                let start = lo * sw + pw - pl;
                if sw == 1 {
                    dst[lo..hi].copy_from_slice(&xrow[start..start + (hi - lo)]);
                } else {
                    dst[lo..hi]
                        .iter_mut()
                        .zip(xrow[start..].iter().step_by(sw))
                        .for_each(|(d, &v)| *d = v);
                }
            }
        }
    }
}

/// The depthwise convolution of NCHW `x` with `w [M, 1, kh, kw]` (`M` a multiple of `C`):
/// the whole output, bias included.
pub(super) fn conv(geo: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
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
        ..
    } = *geo;
    let (ohw, kk, mult) = (oh * ow, kh * kw, m / c);
    let mut y = vec![0.0f32; n * m * ohw];
    if ohw == 0 || h * iw == 0 {
        if let Some(b) = bias {
            for (plane, &bv) in y.chunks_mut(ohw.max(1)).zip(b.iter().cycle()) {
                plane.fill(bv);
            }
        }
        return y;
    }
    let layout = Layout::new(geo);
    let mut src = vec![0.0f32; layout.src_len()];
    let mut acc = vec![0.0f32; layout.len];
    for (ci, xp) in x.chunks_exact(h * iw).enumerate().take(n * c) {
        layout.fill(geo, xp, &mut src);
        for j in 0..mult {
            // Output channel `mi` of batch `b` reads input channel `mi / mult`.
            let (b, ch) = (ci / c, ci % c);
            let mi = ch * mult + j;
            let filt = &w[mi * kk..(mi + 1) * kk];
            let bv = bias.map_or(0.0, |b| b[mi]);
            simd::depthwise_taps(&mut acc, &src, &layout.offsets, filt, bv);
            let yp = &mut y[(b * m + mi) * ohw..(b * m + mi + 1) * ohw];
            for (dst, row) in yp.chunks_exact_mut(ow).zip(acc.chunks(layout.w2)) {
                dst.copy_from_slice(&row[..ow]);
            }
        }
    }
    y
}

/// `acc[p] = bias + sum_t weights[t] * src[p + offsets[t]]` for every `p < acc.len()` (a
/// multiple of [`CH`]); `src` must hold every element read.
#[inline(always)]
pub(super) fn taps<F: Madd>(
    acc: &mut [f32],
    src: &[f32],
    offsets: &[usize],
    weights: &[f32],
    bias: f32,
) {
    match (
        <&[usize; 9]>::try_from(offsets),
        <&[f32; 9]>::try_from(weights),
    ) {
        (Ok(o), Ok(w)) => taps_fixed::<F, 9>(acc, src, o, w, bias),
        _ => {
            for (ci, out) in acc.chunks_exact_mut(CH).enumerate() {
                let p = ci * CH;
                let mut a = [bias; CH];
                for (&o, &wt) in offsets.iter().zip(weights) {
                    let s = &src[p + o..p + o + CH];
                    for l in 0..CH {
                        a[l] = F::madd(wt, s[l], a[l]);
                    }
                }
                out.copy_from_slice(&a);
            }
        }
    }
}

/// [`taps`] with the tap count known at compile time (fully unrolled).
#[inline(always)]
fn taps_fixed<F: Madd, const T: usize>(
    acc: &mut [f32],
    src: &[f32],
    offsets: &[usize; T],
    weights: &[f32; T],
    bias: f32,
) {
    for (ci, out) in acc.chunks_exact_mut(CH).enumerate() {
        let p = ci * CH;
        let mut a = [bias; CH];
        for t in 0..T {
            let s = &src[p + offsets[t]..p + offsets[t] + CH];
            for l in 0..CH {
                a[l] = F::madd(weights[t], s[l], a[l]);
            }
        }
        out.copy_from_slice(&a);
    }
}
