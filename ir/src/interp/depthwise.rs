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
const CH: usize = 32;

/// Where the taps of a depthwise convolution read, shared by all its channels.
pub(super) struct Layout {
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
    #[inline(always)]
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
                let dst = &mut dst[lo..hi];
                if sw == 1 {
                    dst.copy_from_slice(&xrow[start..start + dst.len()]);
                } else if sw == 2 {
                    // Pairs vectorize (as an interleaved load); the last element may lack
                    // its partner.
                    let (last, body) = dst.split_last_mut().expect("lo < hi");
                    body.iter_mut()
                        .zip(xrow[start..].chunks_exact(2))
                        .for_each(|(d, p)| *d = p[0]);
                    *last = xrow[start + 2 * body.len()];
                } else {
                    dst.iter_mut()
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
        m,
        oh,
        ow,
        h,
        w: iw,
        ..
    } = *geo;
    if oh * ow == 0 || h * iw == 0 {
        let mut y = vec![0.0f32; n * m * oh * ow];
        if let Some(b) = bias {
            for (plane, &bv) in y.chunks_mut((oh * ow).max(1)).zip(b.iter().cycle()) {
                plane.fill(bv);
            }
        }
        return y;
    }
    let layout = Layout::new(geo);
    simd::depthwise_conv(geo, &layout, x, w, bias)
}

/// [`conv`] for a non-empty input and output.
#[inline(always)]
pub(super) fn conv_planes<F: Madd>(
    geo: &Geom,
    layout: &Layout,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
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
        ..
    } = *geo;
    let (kk, mult, ohw) = (kh * kw, m / c, oh * ow);
    // Outputs are produced in memory order and appended (no zeroing pass over `y`).
    let mut y = Vec::with_capacity(n * m * ohw);
    let mut src = vec![0.0f32; layout.src_len()];
    let mut acc = vec![0.0f32; if ow < CH { layout.len } else { ow }];
    for (ci, xp) in x.chunks_exact(h * iw).enumerate().take(n * c) {
        layout.fill(geo, xp, &mut src);
        // Output channel `ch * mult + j` reads input channel `ch`.
        let ch = ci % c;
        for mi in ch * mult..(ch + 1) * mult {
            let filt = &w[mi * kk..(mi + 1) * kk];
            let bv = bias.map_or(0.0, |b| b[mi]);
            match (
                <&[usize; 9]>::try_from(&layout.offsets[..]),
                <&[f32; 9]>::try_from(filt),
            ) {
                (Ok(o), Ok(f)) => {
                    plane::<F>(layout, oh, ow, &src, &o[..], &f[..], bv, &mut y, &mut acc);
                }
                _ => plane::<F>(
                    layout,
                    oh,
                    ow,
                    &src,
                    &layout.offsets,
                    filt,
                    bv,
                    &mut y,
                    &mut acc,
                ),
            }
        }
    }
    y
}

/// Appends one output plane (`oh x ow`) to `y`. Rows of at least [`CH`] outputs are
/// computed into `acc` (one row) in chunks, the last one overlapping its predecessor;
/// narrower planes are computed in the flattened space into `acc` (all rows).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn plane<F: Madd>(
    layout: &Layout,
    oh: usize,
    ow: usize,
    src: &[f32],
    offsets: &[usize],
    weights: &[f32],
    bias: f32,
    y: &mut Vec<f32>,
    acc: &mut [f32],
) {
    if ow >= CH {
        let row = &mut acc[..ow];
        for oy in 0..oh {
            let p0 = oy * layout.w2;
            let mut q = 0;
            loop {
                let q0 = q.min(ow - CH);
                let v = chunk::<F>(src, p0 + q0, offsets, weights, bias);
                row[q0..q0 + CH].copy_from_slice(&v);
                q += CH;
                if q >= ow {
                    break;
                }
            }
            y.extend_from_slice(row);
        }
    } else {
        for (ci, out) in acc.chunks_exact_mut(CH).enumerate() {
            out.copy_from_slice(&chunk::<F>(src, ci * CH, offsets, weights, bias));
        }
        for row in acc.chunks(layout.w2).take(oh) {
            y.extend_from_slice(&row[..ow]);
        }
    }
}

/// The [`CH`] outputs at flattened position `p`: `bias + sum_t weights[t] * src[p +
/// offsets[t] + l]`, summed in three interleaved partial sums so that the multiply-adds of
/// one chunk do not form a single long dependency chain.
#[inline(always)]
fn chunk<F: Madd>(
    src: &[f32],
    p: usize,
    offsets: &[usize],
    weights: &[f32],
    bias: f32,
) -> [f32; CH] {
    let mut a = [[bias; CH], [0.0; CH], [0.0; CH]];
    for (t, (&o, &wt)) in offsets.iter().zip(weights).enumerate() {
        let s = &src[p + o..p + o + CH];
        let part = &mut a[t % 3];
        for l in 0..CH {
            part[l] = F::madd(wt, s[l], part[l]);
        }
    }
    let mut out = [0.0; CH];
    for l in 0..CH {
        out[l] = a[0][l] + a[1][l] + a[2][l];
    }
    out
}
