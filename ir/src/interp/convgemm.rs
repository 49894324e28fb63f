//! The convolution GEMM: `c[m x n] = clamp(bias[i] + a[m x k] @ b[k x n])`, with `a` the
//! row-major filters of one group, `b` either a row-major matrix (1x1 convolutions read the
//! input planes in place) or the im2col matrix of the group's input, which is never built
//! whole: it is written block by block straight into the micro-kernel's panel layout.
//!
//! Blocking (BLIS-style, sized for a 32 KiB L1 and a >= 512 KiB L2):
//! - columns in blocks of [`NC`], and within a column block the depth in blocks of [`KC`];
//!   each `KC x NC` block of `b` is packed once into [`NR`]-wide strips (`[strip][k][NR]`,
//!   zero-padded past `n`), which stay in L2;
//! - for every [`MR`]-row panel of `a` (read in place with its row stride, six sequential
//!   streams; a last partial panel is copied zero-padded) the kernel sweeps all strips of
//!   the block, so the `MR x KC` slice of `a` stays in L1;
//! - the micro-kernel keeps an `MR x NR` tile of `c` in registers over the `KC` depth. The
//!   first depth block starts from the bias, later ones from `c`; the last one applies the
//!   clamp (the fused Relu / Clip) before storing.
//!
//! The kernel exists twice: AVX2+FMA intrinsics (picked at run time, see `simd.rs`) and a
//! portable one in plain Rust with the same blocking (it rounds the products separately, so
//! results differ in the last bits). The only `unsafe` code is the AVX2 kernel's unchecked
//! loads and stores, whose bounds the safe wrapper asserts per tile.
#![allow(unsafe_code)]

use super::conv::{Geom, valid_range};
use std::cell::RefCell;

/// Rows of the register tile.
pub(super) const MR: usize = 6;
/// Columns of the register tile (two AVX vectors).
pub(super) const NR: usize = 16;
/// Depth of a block.
const KC: usize = 256;
/// Columns of a block (a multiple of [`NR`]).
const NC: usize = 384;

/// An elementwise clamp applied to the finished result: `min(max(y, lo), hi)` with the
/// semantics of `f32::max` / `f32::min` (as the Relu and Clip kernels). Relu is `[0, inf]`,
/// Clip its bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Clamp {
    /// Lower bound.
    pub lo: f32,
    /// Upper bound.
    pub hi: f32,
}

impl Clamp {
    /// Relu.
    pub(crate) const RELU: Clamp = Clamp {
        lo: 0.0,
        hi: f32::INFINITY,
    };

    /// Clamps one value like the Relu and Clip kernels (`f32::max`: a NaN becomes `lo`).
    #[inline(always)]
    pub(crate) fn apply(self, v: f32) -> f32 {
        v.max(self.lo).min(self.hi)
    }
}

/// The `b` operand of [`gemm`].
#[derive(Clone, Copy)]
pub(super) enum BSrc<'a> {
    /// A row-major `k x n` matrix.
    Dense(&'a [f32]),
    /// The im2col matrix of `geo` over the `k / (kh * kw)` input planes in `x`: element
    /// `[(c * kh + ki) * kw + kj][oy * ow + ox]` is the padded input under tap `(ki, kj)` of
    /// output `(oy, ox)`.
    Im2col {
        /// The convolution.
        geo: &'a Geom,
        /// The group's input planes.
        x: &'a [f32],
    },
}

/// Reused buffers: the packed `b` block, one im2col row segment, the padded last panel of
/// `a`.
#[derive(Default)]
struct Scratch {
    bpack: Vec<f32>,
    seg: Vec<f32>,
    apad: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// `c[m x n] (row-major, row stride n) = clamp(bias[i] + sum_p a[i, p] * b[p, j])`; `a` is
/// row-major `m x k`; no bias means zero.
///
/// Panics if an operand is shorter than its shape says: callers derive the shapes from
/// validated tensors, so that is an interpreter bug, not bad input.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: BSrc<'_>,
    bias: Option<&[f32]>,
    clamp: Option<Clamp>,
    c: &mut [f32],
) {
    assert!(a.len() >= m * k, "convgemm: a too short");
    assert!(c.len() >= m * n, "convgemm: c too short");
    assert!(bias.is_none_or(|b| b.len() >= m), "convgemm: bias too short");
    match b {
        BSrc::Dense(b) => assert!(b.len() >= k * n, "convgemm: b too short"),
        BSrc::Im2col { geo, x } => {
            let kk = geo.kh * geo.kw;
            assert!(
                k % kk == 0 && x.len() >= k / kk * geo.h * geo.w && geo.oh * geo.ow == n,
                "convgemm: im2col geometry does not fit"
            );
        }
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for (i, row) in c.chunks_mut(n).take(m).enumerate() {
            let v = bias.map_or(0.0, |b| b[i]);
            row.fill(clamp.map_or(v, |cl| cl.apply(v)));
        }
        return;
    }
    let fast = super::simd::avx2_fma();
    let mut scratch = SCRATCH.with(|s| s.take());
    let s = &mut scratch;
    // The last partial panel of `a`, zero-padded to MR rows.
    let full = m / MR * MR;
    if full < m {
        s.apad.clear();
        s.apad.extend_from_slice(&a[full * k..m * k]);
        s.apad.resize(MR * k, 0.0);
    }
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let strips = nc.div_ceil(NR);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            pack_b(b, n, pc, kc, jc, nc, s);
            let (first, last) = (pc == 0, pc + kc == k);
            for i0 in (0..m).step_by(MR) {
                let rows = MR.min(m - i0);
                let apanel: &[f32] = if rows == MR {
                    &a[i0 * k + pc..]
                } else {
                    &s.apad[pc..]
                };
                let mut bv = [0.0f32; MR];
                if let Some(b) = bias {
                    bv[..rows].copy_from_slice(&b[i0..i0 + rows]);
                }
                for st in 0..strips {
                    let j0 = jc + st * NR;
                    let cols = NR.min(n - j0);
                    let bstrip = &s.bpack[st * kc * NR..(st + 1) * kc * NR];
                    let tile = Tile {
                        kc,
                        a: apanel,
                        lda: k,
                        b: bstrip,
                        load: !first,
                        bias: &bv,
                        clamp: if last { clamp } else { None },
                    };
                    if rows == MR && cols == NR {
                        let off = i0 * n + j0;
                        tile.run(fast, &mut c[off..], n);
                    } else {
                        let mut t = [0.0f32; MR * NR];
                        if !first {
                            for r in 0..rows {
                                let src = &c[(i0 + r) * n + j0..][..cols];
                                t[r * NR..r * NR + cols].copy_from_slice(src);
                            }
                        }
                        tile.run(fast, &mut t, NR);
                        for r in 0..rows {
                            c[(i0 + r) * n + j0..][..cols]
                                .copy_from_slice(&t[r * NR..r * NR + cols]);
                        }
                    }
                }
            }
        }
    }
    SCRATCH.with(|cell| cell.replace(scratch));
}

/// Packs rows `pc..pc + kc` and columns `jc..jc + nc` of `b` into `s.bpack` as
/// `[strip][kc][NR]`, zero-padded past `n`.
#[allow(clippy::too_many_arguments)]
fn pack_b(b: BSrc<'_>, n: usize, pc: usize, kc: usize, jc: usize, nc: usize, s: &mut Scratch) {
    let strips = nc.div_ceil(NR);
    let width = strips * NR;
    s.bpack.resize(strips * kc * NR, 0.0);
    s.seg.resize(width, 0.0);
    for p in 0..kc {
        let row = pc + p;
        let seg = &mut s.seg[..width];
        match b {
            BSrc::Dense(b) => {
                seg[..nc].copy_from_slice(&b[row * n + jc..row * n + jc + nc]);
            }
            BSrc::Im2col { geo, x } => {
                let kk = geo.kh * geo.kw;
                let (ci, t) = (row / kk, row % kk);
                let plane = &x[ci * geo.h * geo.w..(ci + 1) * geo.h * geo.w];
                im2col_segment(geo, plane, t / geo.kw, t % geo.kw, jc, &mut seg[..nc]);
            }
        }
        seg[nc..].fill(0.0);
        for (st, chunk) in seg.chunks_exact(NR).enumerate() {
            s.bpack[(st * kc + p) * NR..(st * kc + p + 1) * NR].copy_from_slice(chunk);
        }
    }
}

/// Writes `out[t]` = the padded input of `plane` under tap `(ki, kj)` at output position
/// `j0 + t` (flattened `oy * ow + ox`).
fn im2col_segment(geo: &Geom, plane: &[f32], ki: usize, kj: usize, j0: usize, out: &mut [f32]) {
    let Geom {
        h,
        w,
        ow,
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        ..
    } = *geo;
    let (lo, hi) = valid_range(ow, sw, kj * dw, pl, w);
    let (mut oy, mut ox) = (j0 / ow, j0 % ow);
    let mut done = 0;
    while done < out.len() {
        let run = (ow - ox).min(out.len() - done);
        let dst = &mut out[done..done + run];
        let ih = oy * sh + ki * dh;
        if ih < pt || ih - pt >= h {
            dst.fill(0.0);
        } else {
            let xrow = &plane[(ih - pt) * w..(ih - pt + 1) * w];
            // Valid outputs of this run: [a, b) in run coordinates.
            let va = lo.clamp(ox, ox + run);
            let (a, b) = (va - ox, hi.clamp(va, ox + run) - ox);
            dst[..a].fill(0.0);
            dst[b..].fill(0.0);
            if b > a {
                let start = (ox + a) * sw + kj * dw - pl;
                let d = &mut dst[a..b];
                if sw == 1 {
                    d.copy_from_slice(&xrow[start..start + d.len()]);
                } else {
                    d.iter_mut()
                        .zip(xrow[start..].iter().step_by(sw))
                        .for_each(|(o, &v)| *o = v);
                }
            }
        }
        done += run;
        ox = 0;
        oy += 1;
    }
}

/// One register tile: `kc` steps of `a` (rows at stride `lda`, from its start) times the
/// packed strip `b` (`[kc][NR]`).
struct Tile<'a> {
    kc: usize,
    a: &'a [f32],
    lda: usize,
    b: &'a [f32],
    /// Accumulate onto `c` (else start from `bias`).
    load: bool,
    bias: &'a [f32; MR],
    /// Applied before the store.
    clamp: Option<Clamp>,
}

impl Tile<'_> {
    /// Computes the tile into `c` (rows at stride `ldc`).
    fn run(&self, fast: bool, c: &mut [f32], ldc: usize) {
        assert!(
            self.kc >= 1
                && self.a.len() >= (MR - 1) * self.lda + self.kc
                && self.b.len() >= self.kc * NR
                && ldc >= NR
                && c.len() >= (MR - 1) * ldc + NR,
            "convgemm: tile out of bounds"
        );
        #[cfg(target_arch = "x86_64")]
        if fast {
            // SAFETY: `fast` comes from `avx2_fma()`, so the CPU has the features the
            // kernel is compiled for; the assert above proves the bounds it relies on.
            unsafe { kernel_avx2(self, c, ldc) };
            return;
        }
        let _ = fast;
        kernel_portable(self, c, ldc);
    }
}

/// The portable micro-kernel.
fn kernel_portable(t: &Tile<'_>, c: &mut [f32], ldc: usize) {
    let mut acc = [[0.0f32; NR]; MR];
    for (i, row) in acc.iter_mut().enumerate() {
        if t.load {
            row.copy_from_slice(&c[i * ldc..i * ldc + NR]);
        } else {
            row.fill(t.bias[i]);
        }
    }
    for p in 0..t.kc {
        let bp: &[f32; NR] = t.b[p * NR..(p + 1) * NR].try_into().expect("NR wide");
        for (i, row) in acc.iter_mut().enumerate() {
            let av = t.a[i * t.lda + p];
            for (r, &bv) in row.iter_mut().zip(bp) {
                *r += av * bv;
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (d, &v) in c[i * ldc..i * ldc + NR].iter_mut().zip(row) {
            *d = t.clamp.map_or(v, |cl| cl.apply(v));
        }
    }
}

/// The AVX2+FMA micro-kernel: twelve accumulators, per depth step two loads of `b` and six
/// broadcasts of `a`.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `t.a` must hold `(MR - 1) * t.lda + t.kc` elements,
/// `t.b` `t.kc * NR`, and `c` `(MR - 1) * ldc + NR` (asserted by [`Tile::run`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_avx2(t: &Tile<'_>, c: &mut [f32], ldc: usize) {
    use std::arch::x86_64::*;
    let (ap, bp, cp) = (t.a.as_ptr(), t.b.as_ptr(), c.as_mut_ptr());
    let lda = t.lda;
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    // SAFETY (all pointer accesses below): row `i < MR` of `c` spans `i * ldc .. i * ldc +
    // NR <= c.len()`; `a` is read at `i * lda + p` with `p < kc`, below `(MR - 1) * lda +
    // kc`; `b` at `p * NR .. p * NR + NR <= kc * NR`.
    unsafe {
        for (i, r) in acc.iter_mut().enumerate() {
            if t.load {
                r[0] = _mm256_loadu_ps(cp.add(i * ldc));
                r[1] = _mm256_loadu_ps(cp.add(i * ldc + 8));
            } else {
                let v = _mm256_set1_ps(t.bias[i]);
                *r = [v, v];
            }
        }
        let (a0, a1, a2, a3, a4, a5) = (
            ap,
            ap.add(lda),
            ap.add(2 * lda),
            ap.add(3 * lda),
            ap.add(4 * lda),
            ap.add(5 * lda),
        );
        for p in 0..t.kc {
            let b0 = _mm256_loadu_ps(bp.add(p * NR));
            let b1 = _mm256_loadu_ps(bp.add(p * NR + 8));
            let rows = [a0, a1, a2, a3, a4, a5];
            for (r, &ar) in acc.iter_mut().zip(&rows) {
                let av = _mm256_broadcast_ss(&*ar.add(p));
                r[0] = _mm256_fmadd_ps(av, b0, r[0]);
                r[1] = _mm256_fmadd_ps(av, b1, r[1]);
            }
        }
        if let Some(cl) = t.clamp {
            let (lo, hi) = (_mm256_set1_ps(cl.lo), _mm256_set1_ps(cl.hi));
            for r in acc.iter_mut() {
                for v in r.iter_mut() {
                    // `max_ps` / `min_ps` return their second operand when one is NaN: a
                    // NaN becomes `lo`, as with `f32::max`.
                    *v = _mm256_min_ps(_mm256_max_ps(*v, lo), hi);
                }
            }
        }
        for (i, r) in acc.iter().enumerate() {
            _mm256_storeu_ps(cp.add(i * ldc), r[0]);
            _mm256_storeu_ps(cp.add(i * ldc + 8), r[1]);
        }
    }
}
