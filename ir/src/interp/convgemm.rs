//! The convolution GEMM: `c[m x n] = clamp(bias[i] + a[m x k] @ b[k x n])`, with `a` the
//! row-major filters of one group, `b` either a row-major matrix (1x1 convolutions read the
//! input planes in place) or the im2col matrix of the group's input, which is never built
//! whole: it is written block by block straight into the micro-kernel's panel layout.
//!
//! Blocking (BLIS-style, sized for a 32 KiB L1 and a >= 512 KiB L2):
//! - columns in blocks of [`NC`], and within a column block the depth in blocks of [`KC`];
//!   each `KC x NC` block of `b` is packed once into [`NR`]-wide strips (`[strip][k][NR]`,
//!   zero-padded past `n`), which stay in L2;
//!   a dense `b` whose strip is full is read in place instead (row stride `n`);
//! - for every `mr`-row panel of `a` (read in place with its row stride, `mr` sequential
//!   streams; a last partial panel is copied zero-padded) the kernel sweeps all strips of
//!   the block, so the `mr x KC` slice of `a` stays in L1;
//! - the micro-kernel keeps an `mr x NR` tile of `c` in registers over the `KC` depth. The
//!   first depth block starts from the bias, later ones from `c`; the last one applies the
//!   clamp (the fused Relu / Clip) before storing.
//!
//! The micro-kernel exists three times, picked at run time (see `simd.rs`): AVX-512 (8 x 16,
//! one zmm accumulator per row), AVX2+FMA (6 x 16, two ymm per row), and a portable one in
//! plain Rust (6 x 16; it rounds the products separately, so results differ in the last
//! bits). The only `unsafe` code is the SIMD kernels' unchecked loads and stores, whose
//! bounds the safe wrapper asserts per tile.
#![allow(unsafe_code)]

use super::conv::{Geom, valid_range};
use std::cell::RefCell;

/// Rows of the largest register tile.
const MR: usize = 8;
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
    /// Written as comparisons rather than `max` / `min` so that a vectorized loop uses one
    /// `maxps` / `minps` each (which return their second operand for a NaN) instead of the
    /// NaN fix-ups `f32::max` needs; the results are the same, up to the sign of a zero.
    #[inline(always)]
    pub(crate) fn apply(self, v: f32) -> f32 {
        let v = if v > self.lo { v } else { self.lo };
        if v < self.hi { v } else { self.hi }
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
    assert!(
        bias.is_none_or(|b| b.len() >= m),
        "convgemm: bias too short"
    );
    match b {
        BSrc::Dense(b) => assert!(b.len() >= k * n, "convgemm: b too short"),
        BSrc::Im2col { geo, x } => {
            let kk = geo.kh * geo.kw;
            assert!(
                k.is_multiple_of(kk) && x.len() >= k / kk * geo.h * geo.w && geo.oh * geo.ow == n,
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
    let kern = Kernel::detect();
    let mr = kern.mr();
    let mut scratch = SCRATCH.with(|s| s.take());
    let s = &mut scratch;
    // The last partial panel of `a`, zero-padded to `mr` rows.
    let full = m / mr * mr;
    if full < m {
        s.apad.clear();
        s.apad.extend_from_slice(&a[full * k..m * k]);
        s.apad.resize(mr * k, 0.0);
    }
    let dense = match b {
        BSrc::Dense(b) => Some(b),
        BSrc::Im2col { .. } => None,
    };
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let strips = nc.div_ceil(NR);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            // A dense `b` is packed only for its last, partial strip.
            let packed_from = match dense {
                Some(_) if n.is_multiple_of(NR) => nc / NR * NR,
                _ => 0,
            };
            pack_b(b, n, pc, kc, jc + packed_from, nc - packed_from, s);
            let (first, last) = (pc == 0, pc + kc == k);
            for i0 in (0..m).step_by(mr) {
                let rows = mr.min(m - i0);
                let apanel: &[f32] = if rows == mr {
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
                    let (bstrip, ldb) = match dense {
                        Some(d) if st * NR < packed_from => (&d[pc * n + j0..], n),
                        _ => {
                            let ps = st - packed_from / NR;
                            (&s.bpack[ps * kc * NR..(ps + 1) * kc * NR], NR)
                        }
                    };
                    let tile = Tile {
                        mr,
                        kc,
                        a: apanel,
                        lda: k,
                        b: bstrip,
                        ldb,
                        load: !first,
                        bias: &bv,
                        clamp: if last { clamp } else { None },
                    };
                    if rows == mr && cols == NR {
                        let off = i0 * n + j0;
                        tile.run(kern, &mut c[off..], n);
                    } else {
                        let mut t = [0.0f32; MR * NR];
                        if !first {
                            for r in 0..rows {
                                let src = &c[(i0 + r) * n + j0..][..cols];
                                t[r * NR..r * NR + cols].copy_from_slice(src);
                            }
                        }
                        if cols <= NR / 2 && kern == Kernel::Avx512 {
                            tile.run_half(&mut t);
                        } else {
                            tile.run(kern, &mut t, NR);
                        }
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
    if nc == 0 {
        return;
    }
    let strips = nc.div_ceil(NR);
    let width = strips * NR;
    s.bpack.resize(strips * kc * NR, 0.0);
    s.seg.resize(width, 0.0);
    for p in 0..kc {
        let row = pc + p;
        let seg = &mut s.seg[..width];
        match b {
            BSrc::Dense(b) => {
                // Straight into the strips (the last one zero-padded).
                let src = &b[row * n + jc..row * n + jc + nc];
                for (st, chunk) in src.chunks(NR).enumerate() {
                    let dst = &mut s.bpack[(st * kc + p) * NR..(st * kc + p + 1) * NR];
                    dst[..chunk.len()].copy_from_slice(chunk);
                    dst[chunk.len()..].fill(0.0);
                }
                continue;
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
                } else if sw == 2 {
                    // Pairs vectorize (as a de-interleaving load); the last element may
                    // lack its partner.
                    let (last, body) = d.split_last_mut().expect("b > a");
                    body.iter_mut()
                        .zip(xrow[start..].chunks_exact(2))
                        .for_each(|(o, p)| *o = p[0]);
                    *last = xrow[start + 2 * body.len()];
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

/// Which micro-kernel runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kernel {
    /// 8 x 16, AVX-512F.
    Avx512,
    /// 6 x 16, AVX2 + FMA.
    Avx2,
    /// 6 x 16, plain Rust.
    Portable,
}

impl Kernel {
    fn detect() -> Kernel {
        if super::simd::avx512f() {
            Kernel::Avx512
        } else if super::simd::avx2_fma() {
            Kernel::Avx2
        } else {
            Kernel::Portable
        }
    }

    /// Rows of its register tile.
    fn mr(self) -> usize {
        match self {
            Kernel::Avx512 => 8,
            Kernel::Avx2 | Kernel::Portable => 6,
        }
    }
}

/// One register tile: `kc` steps of `a` (`mr` rows at stride `lda`, from its start) times
/// the strip `b` (`kc` rows of [`NR`] at stride `ldb`).
struct Tile<'a> {
    mr: usize,
    kc: usize,
    a: &'a [f32],
    lda: usize,
    b: &'a [f32],
    ldb: usize,
    /// Accumulate onto `c` (else start from `bias`).
    load: bool,
    bias: &'a [f32; MR],
    /// Applied before the store.
    clamp: Option<Clamp>,
}

impl Tile<'_> {
    /// Computes the tile into `c` (rows at stride `ldc`) with `kern`, whose tile height must
    /// be `self.mr`.
    #[inline(always)]
    fn run(&self, kern: Kernel, c: &mut [f32], ldc: usize) {
        let mr = self.mr;
        assert!(
            mr == kern.mr()
                && self.kc >= 1
                && self.a.len() >= (mr - 1) * self.lda + self.kc
                && self.ldb >= NR
                && self.b.len() >= (self.kc - 1) * self.ldb + NR
                && ldc >= NR
                && c.len() >= (mr - 1) * ldc + NR,
            "convgemm: tile out of bounds"
        );
        match kern {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::detect` picked this kernel because the CPU has its features;
            // the assert above proves the bounds it relies on.
            Kernel::Avx512 => unsafe { kernel_avx512(self, c, ldc) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Kernel::Avx2 => unsafe { kernel_avx2(self, c, ldc) },
            _ => kernel_portable(self, c, ldc),
        }
    }
}

impl Tile<'_> {
    /// Computes the left half (`NR / 2` columns) of an 8-row tile into `c` (row stride
    /// [`NR`]) with the 8 x 8 AVX2 kernel: a last strip of at most 8 columns at half the
    /// cost of a full AVX-512 tile (on CPUs that split 512-bit operations in two).
    fn run_half(&self, c: &mut [f32; MR * NR]) {
        assert!(
            self.mr == 8
                && self.kc >= 1
                && self.a.len() >= 7 * self.lda + self.kc
                && self.ldb >= NR
                && self.b.len() >= (self.kc - 1) * self.ldb + NR,
            "convgemm: tile out of bounds"
        );
        #[cfg(target_arch = "x86_64")]
        if super::simd::avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (just checked); the assert above and the
            // array type of `c` prove the bounds it relies on.
            unsafe { kernel_half(self, c) };
            return;
        }
        kernel_portable(self, c, NR);
    }
}

/// The 8 x 8 AVX2+FMA kernel of [`Tile::run_half`]: eight ymm accumulators, per depth step
/// one load of `b` and eight broadcasts of `a`.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `t.mr == 8`; `t.a` must hold `7 * t.lda + t.kc`
/// elements and `t.b` `(t.kc - 1) * t.ldb + NR` (asserted by [`Tile::run_half`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_half(t: &Tile<'_>, c: &mut [f32; MR * NR]) {
    use std::arch::x86_64::*;
    const R: usize = 8;
    let (ap, bp, cp) = (t.a.as_ptr(), t.b.as_ptr(), c.as_mut_ptr());
    let (lda, ldb) = (t.lda, t.ldb);
    let mut acc = [_mm256_setzero_ps(); R];
    // SAFETY (all pointer accesses below): row `i < 8` of `c` spans `i * NR .. i * NR + 8`
    // within its `MR * NR` elements; `a` is read at `i * lda + p` with `p < kc`, below
    // `7 * lda + kc`; `b` at `p * ldb .. p * ldb + 8 <= (kc - 1) * ldb + NR`.
    unsafe {
        for (i, r) in acc.iter_mut().enumerate() {
            *r = if t.load {
                _mm256_loadu_ps(cp.add(i * NR))
            } else {
                _mm256_set1_ps(t.bias[i])
            };
        }
        let rows: [*const f32; R] = std::array::from_fn(|i| ap.add(i * lda));
        for p in 0..t.kc {
            let b0 = _mm256_loadu_ps(bp.add(p * ldb));
            for (r, &ar) in acc.iter_mut().zip(&rows) {
                *r = _mm256_fmadd_ps(_mm256_broadcast_ss(&*ar.add(p)), b0, *r);
            }
        }
        if let Some(cl) = t.clamp {
            let (lo, hi) = (_mm256_set1_ps(cl.lo), _mm256_set1_ps(cl.hi));
            for v in acc.iter_mut() {
                // As in the AVX2 kernel: a NaN becomes `lo`.
                *v = _mm256_min_ps(_mm256_max_ps(*v, lo), hi);
            }
        }
        for (i, r) in acc.iter().enumerate() {
            _mm256_storeu_ps(cp.add(i * NR), *r);
        }
    }
}

/// The portable micro-kernel (any `mr <= MR`).
fn kernel_portable(t: &Tile<'_>, c: &mut [f32], ldc: usize) {
    let mut acc = [[0.0f32; NR]; MR];
    let acc = &mut acc[..t.mr];
    for (i, row) in acc.iter_mut().enumerate() {
        if t.load {
            row.copy_from_slice(&c[i * ldc..i * ldc + NR]);
        } else {
            row.fill(t.bias[i]);
        }
    }
    for p in 0..t.kc {
        let bp: &[f32; NR] = t.b[p * t.ldb..p * t.ldb + NR].try_into().expect("NR wide");
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

/// The AVX2+FMA micro-kernel (6 x 16): twelve accumulators, per depth step two loads of `b`
/// and six broadcasts of `a`.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `t.mr == 6`; `t.a` must hold `5 * t.lda + t.kc`
/// elements, `t.b` `(t.kc - 1) * t.ldb + NR`, and `c` `5 * ldc + NR` (asserted by
/// [`Tile::run`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_avx2(t: &Tile<'_>, c: &mut [f32], ldc: usize) {
    use std::arch::x86_64::*;
    const R: usize = 6;
    let (ap, bp, cp) = (t.a.as_ptr(), t.b.as_ptr(), c.as_mut_ptr());
    let (lda, ldb) = (t.lda, t.ldb);
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    // SAFETY (all pointer accesses below): row `i < 6` of `c` spans `i * ldc .. i * ldc +
    // NR <= c.len()`; `a` is read at `i * lda + p` with `p < kc`, below `5 * lda + kc`; `b`
    // at `p * ldb .. p * ldb + NR <= (kc - 1) * ldb + NR`.
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
        let rows: [*const f32; R] = std::array::from_fn(|i| ap.add(i * lda));
        for p in 0..t.kc {
            let b0 = _mm256_loadu_ps(bp.add(p * ldb));
            let b1 = _mm256_loadu_ps(bp.add(p * ldb + 8));
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

/// The AVX-512 micro-kernel (8 x 16): eight zmm accumulators, per depth step one load of
/// `b` and eight broadcasts of `a`, unrolled by two.
///
/// # Safety
/// The CPU must have AVX-512F; `t.mr == 8`; `t.a` must hold `7 * t.lda + t.kc` elements,
/// `t.b` `(t.kc - 1) * t.ldb + NR`, and `c` `7 * ldc + NR` (asserted by [`Tile::run`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn kernel_avx512(t: &Tile<'_>, c: &mut [f32], ldc: usize) {
    use std::arch::x86_64::*;
    const R: usize = 8;
    let (ap, bp, cp) = (t.a.as_ptr(), t.b.as_ptr(), c.as_mut_ptr());
    let (lda, ldb) = (t.lda, t.ldb);
    let mut acc = [_mm512_setzero_ps(); R];
    // SAFETY (all pointer accesses below): row `i < 8` of `c` spans `i * ldc .. i * ldc +
    // NR <= c.len()`; `a` is read at `i * lda + p` with `p < kc`, below `7 * lda + kc`; `b`
    // at `p * ldb .. p * ldb + NR <= (kc - 1) * ldb + NR`.
    unsafe {
        for (i, r) in acc.iter_mut().enumerate() {
            *r = if t.load {
                _mm512_loadu_ps(cp.add(i * ldc))
            } else {
                _mm512_set1_ps(t.bias[i])
            };
        }
        let rows: [*const f32; R] = std::array::from_fn(|i| ap.add(i * lda));
        let mut p = 0;
        while p + 2 <= t.kc {
            let b0 = _mm512_loadu_ps(bp.add(p * ldb));
            let b1 = _mm512_loadu_ps(bp.add((p + 1) * ldb));
            for (r, &ar) in acc.iter_mut().zip(&rows) {
                *r = _mm512_fmadd_ps(_mm512_set1_ps(*ar.add(p)), b0, *r);
                *r = _mm512_fmadd_ps(_mm512_set1_ps(*ar.add(p + 1)), b1, *r);
            }
            p += 2;
        }
        if p < t.kc {
            let b0 = _mm512_loadu_ps(bp.add(p * ldb));
            for (r, &ar) in acc.iter_mut().zip(&rows) {
                *r = _mm512_fmadd_ps(_mm512_set1_ps(*ar.add(p)), b0, *r);
            }
        }
        if let Some(cl) = t.clamp {
            let (lo, hi) = (_mm512_set1_ps(cl.lo), _mm512_set1_ps(cl.hi));
            for v in acc.iter_mut() {
                // As in the AVX2 kernel: a NaN becomes `lo`.
                *v = _mm512_min_ps(_mm512_max_ps(*v, lo), hi);
            }
        }
        for (i, r) in acc.iter().enumerate() {
            _mm512_storeu_ps(cp.add(i * ldc), *r);
        }
    }
}
