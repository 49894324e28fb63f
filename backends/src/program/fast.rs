//! Fast kernels for the portable emitters: convolutions (and gemms) over 8-bit activations
//! and 8-bit i8 weights become [`Kernel::ConvU8S8`] calls.
//!
//! What: a `conv_int` whose input is `u8`/`i8`, whose weight is a constant `i8` tensor with
//! zero zero points and whose bias (if any) is constant is lowered to one `conv_u8s8` call;
//! when the only user of its i32 accumulator is a `requant` that follows it directly in the
//! schedule and writes an 8-bit result, that requantize is fused into the same call.
//!
//! Why: the generic kernels load and store through typed accessors one element at a time.
//! The fast kernel copies the input once into a padded NHWC image (channels padded to a
//! multiple of 4) in a scratch region after the planned arena and computes tiles of 6 output
//! pixels x 64 channels: per k4 step one broadcast 4-byte activation word meets 16 channels
//! x 4 bytes of packed weights (`[G][MB][KT][16][4]`), which is one `vpdpbusd` per 16
//! channels in the C library's AVX-512 VNNI path (intrinsics under `__AVX512VNNI__`; the
//! portable C computes the same integers). No im2col, no horizontal sums. The Rust library
//! gets the weights as rows ([`weight_rows`]) and takes dot products along im2col rows,
//! the form rustc vectorizes without `unsafe`.
//!
//! Invariants (what keeps the result bit-exact with `ir::interp::int`):
//! - an i8 input is flipped to u8 by `x ^ 128` and its zero point moved by 128, so
//!   `x - zp` is unchanged; padding taps hold the moved zero point and so contribute 0;
//! - `bias' = bias - zp * sum(w) - zp_in` (wrapping, like the reference's i32 arithmetic), so
//!   `bias' + sum(x * w)` equals `bias + sum((x - zp) * w) - zp_in` mod 2^32;
//! - `sum(x * w)` over `4 * KT` bytes cannot overflow i32 (`4 * KT * 255 * 128 < 2^31` is
//!   checked);
//! - a fused requantize writes its result while the convolution runs: only accumulators of
//!   `plan_memory::fused_accumulators` are fused, whose requant result the plan keeps live
//!   from the convolution on (so its bytes overlap nothing the convolution reads) and which
//!   have no slot (a fused accumulator with a non-8-bit result goes to the generic kernel's
//!   requantize epilogue instead).

use super::{Builder, Kernel, Loc, Operand, tensor_i32, to_i32};
use crate::EmitError;
use ir::{DType, NodeId, QuantGranularity, ValueId};
use passes::plan_memory::ARENA_ALIGN;

/// Output channels per packed weight block (one 512-bit vector of i32 accumulators).
pub const OC_BLOCK: usize = 16;

/// The arena size with `scratch` bytes after the planned `arena_bytes`.
pub fn arena_with_scratch(arena_bytes: usize, scratch: usize) -> usize {
    if scratch == 0 {
        arena_bytes
    } else {
        round_up(arena_bytes, ARENA_ALIGN) + round_up(scratch, ARENA_ALIGN)
    }
}

fn round_up(x: usize, a: usize) -> usize {
    x.div_ceil(a) * a
}

/// The weights of a [`Kernel::ConvU8S8`] call (`packed`, `[G][MB][KT][16][4]`) as rows
/// `[M][KT * 4]` in the same k order (tap-major, channels padded to `CP`), from the call's
/// params: the layout of the Rust library's kernel, whose dot products run along a row.
pub fn weight_rows(packed: &[i32], params: &[i32]) -> Vec<i32> {
    let at = |i: usize| usize::try_from(params[i]).unwrap_or(0);
    let (m, g, mg, kt, mb) = (at(4), at(15), at(17), at(18), at(29));
    let kp = kt * 4;
    let mut rows = vec![0i32; m * kp];
    for gi in 0..g {
        for mi in 0..mg {
            let (blk, lane) = (gi * mb + mi / OC_BLOCK, mi % OC_BLOCK);
            let row = &mut rows[(gi * mg + mi) * kp..][..kp];
            for k4 in 0..kt {
                for i in 0..4 {
                    row[k4 * 4 + i] = packed[((blk * kt + k4) * OC_BLOCK + lane) * 4 + i];
                }
            }
        }
    }
    rows
}

/// A requantize fused into the convolution.
struct Fused {
    node: NodeId,
    out: Operand,
    m0: Vec<i32>,
    shift: Vec<i32>,
    zp_in: Vec<i32>,
    zp_out: i32,
    lo: i32,
    hi: i32,
    mode: i32,
}

impl Builder<'_> {
    /// Emits `n` (a `conv_int`) as a [`Kernel::ConvU8S8`] call when its types allow it;
    /// `Ok(false)` leaves it to the generic kernel.
    pub(super) fn conv_fast(&mut self, n: NodeId, a: &ir::ConvAttrs) -> Result<bool, EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, w, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let (xt, wt) = (g.ty(x), g.ty(w));
        let flip = match xt.dtype {
            DType::U8 => 0,
            DType::I8 => 128,
            _ => return Ok(false),
        };
        // Weights bit-packed below 8 bits keep their packed storage (generic kernel).
        if wt.dtype != DType::I8
            || super::const_bits(wt) != 8
            || self.plan.offset(x).is_none()
            || !zero_zp(wt)
        {
            return Ok(false);
        }
        let Some(wv) = g.const_value(w).and_then(tensor_i32) else {
            return Ok(false);
        };
        let bias = match node.inputs.get(2) {
            None => None,
            Some(&b) => match g.const_value(b).and_then(tensor_i32) {
                Some(v) => Some(v),
                None => return Ok(false),
            },
        };
        let (xd, wd, yd) = (xt.shape.dims(), wt.shape.dims(), g.ty(y).shape.dims());
        let spatial = xd.len().saturating_sub(2);
        if !(1..=2).contains(&spatial) || wd.len() != xd.len() || yd.len() != xd.len() {
            return Ok(false);
        }
        let two = |v: &[usize], i: usize, one: usize| {
            if spatial == 1 {
                if i == 0 { one } else { v[0] }
            } else {
                v[i]
            }
        };
        let (h, wdt) = (two(&xd[2..], 0, 1), two(&xd[2..], 1, 1));
        let (kh, kw) = (two(&wd[2..], 0, 1), two(&wd[2..], 1, 1));
        let (oh, ow) = (two(&yd[2..], 0, 1), two(&yd[2..], 1, 1));
        let (sh, sw) = (two(&a.strides, 0, 1), two(&a.strides, 1, 1));
        let (dh, dw) = (two(&a.dilations, 0, 1), two(&a.dilations, 1, 1));
        let (pt, pl) = (two(&a.pads, 0, 0), two(&a.pads, 1, 0));
        let (nb, c, m, group) = (xd[0], xd[1], yd[1], a.group.max(1));
        let (cg, mg) = (c / group, m / group);
        // Channel-padded taps: `cp` bytes per tap and per pixel of the padded image. Dense
        // rows (channel counts that are not multiples of 4 with unit dilation along x, as
        // conv1's 3 channels): the image keeps `cg` bytes per pixel and one tap is a whole
        // kernel row of `kw * cg` bytes padded to `cp`, so the padding costs 3 bytes per row
        // instead of per tap.
        let dense = cg % 4 != 0 && dw == 1 && kw > 1 && (kw * cg).div_ceil(4) < kw * cg.div_ceil(4);
        let (cp, ps, taps_x) = if dense {
            (4 * (kw * cg).div_ceil(4), cg, 1)
        } else {
            let cp = 4 * cg.div_ceil(4).max(1);
            (cp, cp, kw)
        };
        let c4 = cp / 4;
        let kt = kh * taps_x * c4;
        let mb = mg.div_ceil(OC_BLOCK).max(1);
        let zpx = self.zp(n, x)? + flip;
        if !(0..=255).contains(&zpx)
            || 4 * kt * 255 * 128 >= 1 << 31
            || wv.len() != m * cg * kh * kw
        {
            return Ok(false);
        }
        // The padded NHWC image holds every tap of every output.
        let hp = (h + pt).max((oh - 1) * sh + (kh - 1) * dh + 1);
        let wp = (wdt + pl).max((ow - 1) * sw + (kw - 1) * dw + 1);
        // Weights [G][MB][KT][16][4]: k4 step `k / 4` of byte `k = (ky * KW + kx) * CP + c`
        // (dense rows: `ky * CP + kx * CG + c`), lane `oc % 16`, byte `k % 4`; zeros past
        // `MG` and `CG`. The folded bias.
        let mut packed = vec![0i32; group * mb * kt * OC_BLOCK * 4];
        let mut sums = vec![0i64; m];
        for oc in 0..m {
            let (gi, mi) = (oc / mg, oc % mg);
            let (blk, lane) = (gi * mb + mi / OC_BLOCK, mi % OC_BLOCK);
            for ci in 0..cg {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let v = wv[((oc * cg + ci) * kh + ky) * kw + kx];
                        // Byte `k` of the taps' k order (tap-major, then bytes of a tap).
                        let k = if dense {
                            ky * cp + kx * cg + ci
                        } else {
                            (ky * kw + kx) * cp + ci
                        };
                        packed[((blk * kt + k / 4) * OC_BLOCK + lane) * 4 + k % 4] = v;
                        sums[oc] += i64::from(v);
                    }
                }
            }
        }
        let fused = self.fusable_requant(n, y, m)?;
        // A fused accumulator the kernel cannot requantize goes to the generic epilogue.
        if fused.is_none() && self.plan.is_fused(y) {
            return Ok(false);
        }
        let folded: Vec<i32> = (0..m)
            .map(|oc| {
                let b = bias.as_ref().map_or(0, |b| i64::from(b[oc]));
                let zp_in = fused.as_ref().map_or(0, |f| i64::from(f.zp_in[oc]));
                (b - i64::from(zpx) * sums[oc] - zp_in) as i32
            })
            .collect();
        let xo = self.operand(n, x)?;
        self.consts.push(super::ConstData {
            dtype: DType::I8,
            values: packed,
            bits: 8,
        });
        let wo = Operand {
            loc: Loc::Const(self.consts.len() - 1),
            dtype: DType::I8,
            numel: group * mb * kt * OC_BLOCK * 4,
        };
        // A dense row may read up to 3 bytes past the image (they meet zero weights).
        let scratch_bytes = round_up(hp * wp * ps + cp, 64);
        self.scratch = self.scratch.max(scratch_bytes);
        let scratch = Operand {
            loc: Loc::Arena(round_up(self.plan.arena_bytes, ARENA_ALIGN)),
            dtype: DType::U8,
            numel: scratch_bytes,
        };
        let bias_o = self.table(folded);
        let (out, req) = match &fused {
            Some(f) => (f.out, [1, f.zp_out, f.lo, f.hi, f.mode]),
            None => (self.out_operand(n, y)?, [0, 0, 0, 0, 0]),
        };
        let (m0, shift) = match fused {
            Some(f) => {
                self.fused[f.node.index()] = true;
                (f.m0, f.shift)
            }
            None => (vec![0], vec![0]),
        };
        let ins = vec![xo, wo, bias_o, self.table(m0), self.table(shift), scratch];
        let p = [
            nb, c, h, wdt, m, kh, taps_x, oh, ow, sh, sw, dh, dw, pt, pl, group, cg, mg, kt,
        ]
        .into_iter()
        .map(to_i32)
        .chain([zpx, flip])
        .chain(req)
        .chain([hp, wp, cp, mb, ps].into_iter().map(to_i32))
        .collect();
        self.call(n, Kernel::ConvU8S8, ins, out, p);
        Ok(true)
    }

    /// The requantize that can be fused after a conv with i32 result `y` of `m` channels:
    /// `y` is one of the plan's fused accumulators (so the result is live from the conv on
    /// and overlaps nothing the conv reads; its tables come from [`Builder::epilogue`]) and
    /// the result is 8-bit. The tables are widened to one entry per output channel.
    fn fusable_requant(&self, n: NodeId, y: ValueId, m: usize) -> Result<Option<Fused>, EmitError> {
        let Some(e) = self.epilogue(n, y)? else {
            return Ok(None);
        };
        if !matches!(self.g.ty(e.out_v).dtype, DType::U8 | DType::I8) {
            return Ok(None);
        }
        let widen = |v: &[i32]| -> Vec<i32> {
            (0..m)
                .map(|c| v[if e.per_channel { c } else { 0 }])
                .collect()
        };
        Ok(Some(Fused {
            node: e.node,
            out: self.out_operand(e.node, e.out_v)?,
            m0: widen(&e.m0),
            shift: widen(&e.shift),
            zp_in: widen(&e.zp_in),
            zp_out: e.zp_out,
            lo: e.lo,
            hi: e.hi,
            mode: e.mode,
        }))
    }
}

impl Builder<'_> {
    /// Emits `n` (an `add_int`) as a [`Kernel::AddU8`] call when both operands and the result
    /// are 8-bit arena tensors of one shape (no broadcasting); `Ok(false)` otherwise.
    pub(super) fn add_fast(&mut self, n: NodeId, a: &ir::AddIntAttrs) -> Result<bool, EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (xa, xb, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let flip = |v: ValueId| match g.ty(v).dtype {
            DType::U8 => Some(0),
            DType::I8 => Some(128),
            _ => None,
        };
        let (Some(fa), Some(fb), Some(_)) = (flip(xa), flip(xb), flip(y)) else {
            return Ok(false);
        };
        let dims = g.ty(y).shape.dims();
        if g.ty(xa).shape.dims() != dims
            || g.ty(xb).shape.dims() != dims
            || self.plan.offset(xa).is_none()
            || self.plan.offset(xb).is_none()
        {
            return Ok(false);
        }
        let (zpa, zpb, zpy) = (self.zp(n, xa)?, self.zp(n, xb)?, self.zp(n, y)?);
        let ins = vec![self.operand(n, xa)?, self.operand(n, xb)?];
        let out = self.out_operand(n, y)?;
        let p = vec![
            to_i32(g.ty(y).shape.numel()),
            zpa + fa,
            zpb + fb,
            zpy,
            a.shift as i32,
            a.ma.m0,
            a.ma.shift,
            a.mb.m0,
            a.mb.shift,
            a.mo.m0,
            a.mo.shift,
            super::mode_code(a.rounding),
            a.lo,
            a.hi,
            fa,
            fb,
        ];
        self.call(n, Kernel::AddU8, ins, out, p);
        Ok(true)
    }
}

/// Whether every zero point of a (weight) type is 0.
fn zero_zp(t: &ir::TensorType) -> bool {
    match t.quant.as_ref().map(|q| &q.granularity) {
        None => true,
        Some(QuantGranularity::PerTensor { zero_point, .. }) => *zero_point == 0,
        Some(QuantGranularity::PerAxis { zero_points, .. }) => zero_points.iter().all(|&z| z == 0),
    }
}

#[cfg(test)]
mod tests;
