//! Conv, gemm and requant emission: the vrmpy paths with pre-packed weights, and scalar
//! fallbacks for the cases the vector kernels do not cover.

use std::fmt::Write;

use ir::{ConvAttrs, DType, NodeId, Op, QuantGranularity, RequantAttrs, ValueId};

use super::{Emitter, ints, mode, unsupported, zp_of};
use crate::hvx::{EmitError, ctype};

/// A requant that can be folded into the producing kernel: `(m0, shift, zp, lo, hi, mode)`
/// per output channel.
struct Fused {
    node: NodeId,
    out: ValueId,
    m0: Vec<i64>,
    shift: Vec<i64>,
    zp: i32,
    lo: i32,
    hi: i32,
    mode: &'static str,
}

/// Per-lane requantization constants of the channels-in-lanes conv.
struct LaneRq {
    m0: Vec<i64>,
    half: Vec<i64>,
    shift: Vec<i64>,
    lo: i64,
    hi: i64,
    zp: i32,
}

/// The fast per-lane requantization when every channel qualifies (the same condition as
/// `qv_rq_init` in runtime.c: half-up rounding, 0 <= shift <= 20, output range within
/// +-2^10 of the zero point), else None. Only for at least 32 output channels.
fn lane_requant(f: &Fused, m: usize) -> Option<LaneRq> {
    let lo = i64::from(f.lo) - i64::from(f.zp);
    let hi = i64::from(f.hi) - i64::from(f.zp);
    let ok = m >= 32
        && f.mode == "QCC_HALF_UP"
        && f.shift.iter().all(|&s| (0..=20).contains(&s))
        && lo >= -1024
        && hi <= 1024
        && lo <= hi;
    ok.then(|| LaneRq {
        m0: f.m0.clone(),
        half: f
            .shift
            .iter()
            .map(|&s| if s > 0 { 1i64 << (s - 1) } else { 0 })
            .collect(),
        shift: f.shift.clone(),
        lo,
        hi,
        zp: f.zp,
    })
}

/// What [`Emitter::conv_lanes`] needs from the conv emission.
struct ConvLanes<'a> {
    x: ValueId,
    out: ValueId,
    /// The `qk_pack_t` initializer (unphased, padded plane of `wp` words per row).
    pack: String,
    row_bytes: usize,
    m: usize,
    ho: usize,
    wo: usize,
    hp: usize,
    wp: usize,
    strides: (usize, usize),
    dil: (usize, usize),
    wat: &'a dyn Fn(usize, usize, usize, usize) -> i64,
    c: usize,
    kh: usize,
    kw: usize,
    bias: &'a [i64],
    rq: LaneRq,
}

impl Emitter<'_> {
    /// The requant consuming `acc` (channel axis `axis`, `channels` channels) when it is the
    /// only user and the accumulator is not a graph output.
    fn fusable(&self, acc: ValueId, axis: usize, channels: usize) -> Option<Fused> {
        let g = self.g;
        if self.outputs.contains(&acc) {
            return None;
        }
        let users = g.users(acc);
        if users.len() != 1 {
            return None;
        }
        let rq = users[0].0;
        let Op::Requant(a) = &g.node(rq).op else {
            return None;
        };
        let out = g.node(rq).outputs[0];
        if (0..channels).any(|c| zp_of(g, acc, c) != 0) {
            return None;
        }
        if a.multipliers.len() != 1 && (a.axis != axis || a.multipliers.len() != channels) {
            return None;
        }
        let zq = g.ty(out).quant.as_ref();
        if matches!(
            zq.map(|q| &q.granularity),
            Some(QuantGranularity::PerAxis { .. })
        ) {
            return None;
        }
        let pick = |c: usize| a.multipliers[if a.multipliers.len() == 1 { 0 } else { c }];
        Some(Fused {
            node: rq,
            out,
            m0: (0..channels).map(|c| i64::from(pick(c).m0)).collect(),
            shift: (0..channels).map(|c| i64::from(pick(c).shift)).collect(),
            zp: zp_of(g, out, 0),
            lo: a.lo,
            hi: a.hi,
            mode: mode(a.rounding),
        })
    }

    pub(super) fn conv(&mut self, n: NodeId, a: &ConvAttrs) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, wv, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let xt = g.ty(x);
        let w = g
            .const_value(wv)
            .ok_or_else(|| unsupported(g, n, "weights must be a constant"))?;
        let bias: Vec<i64> = match node.inputs.get(2) {
            Some(&b) => ints(
                &g.const_value(b)
                    .ok_or_else(|| unsupported(g, n, "bias must be a constant"))?
                    .data,
            ),
            None => Vec::new(),
        };
        let xd = xt.shape.dims();
        let wd = w.shape.dims();
        let yd = g.ty(y).shape.dims().to_vec();
        // Normalize 1-d to 2-d: (H, W) = (1, L).
        let (nb, c, h, wi, m, kh, kw, ho, wo, sh, sw, dh, dw, pt, pl, pb, pr) = match xd.len() {
            4 => (
                xd[0],
                xd[1],
                xd[2],
                xd[3],
                wd[0],
                wd[2],
                wd[3],
                yd[2],
                yd[3],
                a.strides[0],
                a.strides[1],
                a.dilations[0],
                a.dilations[1],
                a.pads[0],
                a.pads[1],
                a.pads[2],
                a.pads[3],
            ),
            3 => (
                xd[0],
                xd[1],
                1,
                xd[2],
                wd[0],
                1,
                wd[2],
                1,
                yd[2],
                1,
                a.strides[0],
                1,
                a.dilations[0],
                0,
                a.pads[0],
                0,
                a.pads[1],
            ),
            _ => return Err(unsupported(g, n, "only 1-d and 2-d convolutions")),
        };
        let group = a.group.max(1);
        let cg_in = c / group;
        let wvals = ints(&w.data);
        let zpx = zp_of(g, x, 0);
        let fused = self.fusable(y, 1, m);
        let vector = nb == 1
            && group == 1
            && matches!(xt.dtype, DType::U8 | DType::I8)
            && fused
                .as_ref()
                .is_some_and(|f| matches!(g.ty(f.out).dtype, DType::U8 | DType::I8));
        if !vector {
            return self.conv_scalar(
                n,
                (nb, c, h, wi, m, kh, kw, ho, wo, sh, sw, dh, dw, pt, pl),
                group,
                cg_in,
                &wvals,
                &bias,
                zpx,
            );
        }
        let f = fused.expect("checked");
        let flip = xt.dtype == DType::I8;
        let zp_eff = i64::from(zpx) + if flip { 128 } else { 0 };
        let zpb = (zp_eff & 0xff) as u32;
        let zpw = zpb * 0x0101_0101;
        let ng = c.div_ceil(4);
        let ntaps = kh * kw;
        let (hp, wp) = (h + pt + pb, wi + pl + pr);
        let (hq, wq) = (hp.div_ceil(sh), wp.div_ceil(sw));
        let nflat = ho * wq;
        // Block shape: 4 channels x 128 positions, or 16 channels x 32 positions when the
        // plane is small (fewer padding lanes).
        let used = |lanes: usize, chans: usize| {
            (nflat as f64 / nflat.next_multiple_of(lanes) as f64)
                * (m as f64 / m.next_multiple_of(chans) as f64)
        };
        let wide = m >= 16 && used(32, 16) > 1.1 * used(128, 4);
        let cb = if wide { 16 } else { 4 };
        let nmb = m.div_ceil(cb);
        // Weight words [mb][tap][g][j] and biases with the zero-point term folded in.
        let wat =
            |mm: usize, cc: usize, i: usize, j: usize| wvals[((mm * c + cc) * kh + i) * kw + j];
        let mut words = Vec::with_capacity(nmb * ntaps * ng * cb);
        for mb in 0..nmb {
            for i in 0..kh {
                for j in 0..kw {
                    for gg in 0..ng {
                        for jj in 0..cb {
                            let mm = cb * mb + jj;
                            let mut word = 0u32;
                            for k in 0..4 {
                                let cc = 4 * gg + k;
                                if mm < m && cc < c {
                                    word |= (wat(mm, cc, i, j) as i8 as u8 as u32) << (8 * k);
                                }
                            }
                            words.push(i64::from(word as i32));
                        }
                    }
                }
            }
            if (ntaps * ng) % 2 == 1 {
                // the kernel takes two steps at a time: a zero-weight step pads
                words.extend(std::iter::repeat_n(0, cb));
            }
        }
        let mut b2 = vec![0i64; nmb * cb];
        for (mm, bv) in b2.iter_mut().enumerate().take(m) {
            let mut s: i64 = 0;
            for cc in 0..c {
                for i in 0..kh {
                    for j in 0..kw {
                        s += wat(mm, cc, i, j);
                    }
                }
            }
            let b0 = bias.get(mm).copied().unwrap_or(0);
            *bv = i64::from((b0 as i32).wrapping_sub((zp_eff.wrapping_mul(s)) as i32));
        }
        let (hp, wp) = (h + pt + pb, wi + pl + pr);
        let ps = hq * wq;
        let cgs = sh * sw * ps;
        let mut taps = Vec::new();
        for i in 0..kh {
            for j in 0..kw {
                let (r, cc) = (i * dh, j * dw);
                taps.push(((((r % sh) * sw + cc % sw) * ps) + (r / sh) * wq + cc / sw) as i64);
            }
        }
        let max_tap = taps.iter().copied().max().unwrap_or(0) as usize;
        // one step per (tap, channel group), in the weight words' order
        let mut koff: Vec<i64> = taps
            .iter()
            .flat_map(|&t| (0..ng).map(move |gg| t + (gg * cgs) as i64))
            .collect();
        if koff.len() % 2 == 1 {
            koff.push(0);
        }
        if let Some(rq) = lane_requant(&f, m) {
            // Unphased layout (the pixels are addressed one word at a time): one plane of
            // hp x wp words per channel group, the stride-1 packing path.
            let cgs1 = hp * wp;
            self.conv_lanes(ConvLanes {
                x,
                out: f.out,
                // the packed words hold x - 128 as i8 (top bits flipped)
                pack: format!(
                    "{c}, {h}, {wi}, 1, 1, {pt}, {pl}, {hp}, {wp}, {hp}, {wp}, {cgs1}, {}u, {}u",
                    zpw ^ 0x8080_8080,
                    if flip { 0 } else { 0x8080_8080u32 }
                ),
                row_bytes: 4 * (h * wi).div_ceil(128) * 128 + 512,
                m,
                ho,
                wo,
                hp,
                wp,
                strides: (sh, sw),
                dil: (dh, dw),
                wat: &wat,
                c,
                kh,
                kw,
                bias: &b2,
                rq,
            });
            self.skip.insert(f.node);
            return Ok(());
        }
        // two more (unused) entries: qk_conv_vrmpy reads the next pair's offsets ahead
        koff.extend([0, 0]);
        let nflat_r = nflat.div_ceil(128) * 128;
        let pwords = ng * cgs + max_tap + nflat_r + 256;
        let tmp_stride = nflat_r + 128;
        let kw_ = self.konst_aligned("int32_t", &words);
        let kb = self.konst("int32_t", &b2);
        let kt = self.konst_aligned("int32_t", &koff);
        let km = self.konst("int32_t", &f.m0);
        let ks = self.konst("int32_t", &f.shift);
        let xs = self.buf(x);
        let ys = self.buf(f.out);
        let sp = self.scratch(pwords * 4);
        // one requantized plane per channel of a block: 4 or 16 of them
        let st = self.scratch(cb * tmp_stride);
        let srow = self.scratch(4 * (h * wi).div_ceil(128) * 128 + 512);
        let _ = writeln!(
            self.body,
            "  {{\n    static const qk_pack_t pk = {{{c}, {h}, {wi}, {sh}, {sw}, {pt}, {pl}, {hq}, {wq}, {hp}, {wp}, {cgs}, {zpw}u, {flipw}u}};\n    static const qk_conv_t k = {{{nk}, {nflat}, {wq}, {ho}, {wo}, {m}, {kt}, {kw_}, {kb}, {km}, {ks}, {{{lo}, {hi}, {zp}, {md}}}, {tmp_stride}}};\n    qk_pack_input(&pk, (const uint8_t *){xs}, (uint32_t *){sp}, (uint32_t *){srow});\n    qk_conv_vrmpy{kv}(&k, (const uint32_t *){sp}, (uint8_t *){ys}, {st});\n  }}",
            flipw = if flip { 0x8080_8080u32 } else { 0 },
            nk = (ntaps * ng).div_ceil(2) * 2,
            kv = if wide { "16" } else { "" },
            lo = f.lo,
            hi = f.hi,
            zp = f.zp,
            md = f.mode,
        );
        self.skip.insert(f.node);
        Ok(())
    }

    /// The channels-in-lanes conv (`qk_conv_cl1` / `cl2` / `cl4`: 1, 2 or 4 blocks of 32
    /// output channels per pass): weights `w + 128` as `[32 lanes][4]` bytes per step and
    /// block, per-lane requantization; see runtime.c for the algebra.
    fn conv_lanes(&mut self, p: ConvLanes<'_>) {
        let ng = p.c.div_ceil(4);
        let ntaps = p.kh * p.kw;
        let cgs = (p.hp * p.wp) as i64;
        // one step per (tap, channel group), taps outer; padded to an even count
        let mut koff: Vec<i64> = (0..ntaps)
            .flat_map(|t| {
                let tap = ((t / p.kw) * p.dil.0 * p.wp + (t % p.kw) * p.dil.1) as i64;
                (0..ng).map(move |gg| tap + gg as i64 * cgs)
            })
            .collect();
        if koff.len() % 2 == 1 {
            koff.push(0);
        }
        let nk = koff.len();
        // one more (unused) entry: the kernel loads the next step's words ahead
        koff.push(0);
        let nmbv = if p.m <= 32 {
            1
        } else if p.m <= 96 {
            2
        } else {
            4
        };
        let nmb = p.m.div_ceil(32).next_multiple_of(nmbv);
        let step = |s: usize| (s / ng, s % ng);
        let mut words = Vec::with_capacity(nmb * nk * 32);
        for mb in 0..nmb {
            for s in 0..nk {
                let (t, gg) = step(s);
                for lane in 0..32 {
                    let mm = 32 * mb + lane;
                    let mut word = 0u32;
                    if t < ntaps && mm < p.m {
                        let (i, j) = (t / p.kw, t % p.kw);
                        for k in 0..4 {
                            let cc = 4 * gg + k;
                            if cc < p.c {
                                let wu = ((p.wat)(mm, cc, i, j) + 128) as u8 as u32;
                                word |= wu << (8 * k);
                            }
                        }
                    }
                    words.push(i64::from(word as i32));
                }
            }
        }
        let ones: Vec<i64> = (0..nk)
            .map(|s| {
                let (t, gg) = step(s);
                let mut word = 0u32;
                for k in 0..4 {
                    if t < ntaps && 4 * gg + k < p.c {
                        word |= 1 << (8 * k);
                    }
                }
                i64::from(word as i32)
            })
            .collect();
        let lanes = |v: &[i64]| {
            let mut r = v.to_vec();
            r.resize(nmb * 32, 0);
            r
        };
        // bias + 128 * sum w + 16384 * K (wrapping, like the accumulator)
        let kreal = (p.c * ntaps) as i64;
        let bias: Vec<i64> = (0..p.m)
            .map(|mm| {
                let mut sw: i64 = 0;
                for cc in 0..p.c {
                    for t in 0..ntaps {
                        sw += (p.wat)(mm, cc, t / p.kw, t % p.kw);
                    }
                }
                let v = (p.bias[mm] as i32)
                    .wrapping_add((128 * sw) as i32)
                    .wrapping_add((16384 * kreal) as i32);
                i64::from(v)
            })
            .collect();
        let npix = p.ho * p.wo;
        let (sh, sw) = p.strides;
        let mut pix: Vec<i64> = (0..npix)
            .map(|n| ((n / p.wo) * sh * p.wp + (n % p.wo) * sw) as i64)
            .collect();
        let last = *pix.last().unwrap_or(&0);
        pix.resize(npix.next_multiple_of(16).max(16), last);
        let ntiles = npix.div_ceil(4).div_ceil(32).max(1);
        let tstride = ntiles * 128;
        let rows = 32 * nmbv;
        // flat positions up to the last pixel (the input sums cover all of them)
        let nflat = (last + 1) as usize;
        let max_koff = koff.iter().copied().max().unwrap_or(0) as usize;
        let pwords = max_koff + nflat.next_multiple_of(32) + 64;
        let kw_ = self.konst_aligned("int32_t", &words);
        let kt = self.konst_aligned("int32_t", &koff);
        let ko = self.konst("int32_t", &ones);
        let kp = self.konst("int32_t", &pix);
        let kb = self.konst("int32_t", &lanes(&bias));
        let km = self.konst("int32_t", &lanes(&p.rq.m0));
        let kh_ = self.konst("int32_t", &lanes(&p.rq.half));
        let ks = self.konst("int32_t", &lanes(&p.rq.shift));
        let xs = self.buf(p.x);
        let ys = self.buf(p.out);
        let sp = self.scratch(pwords.max(ng * cgs as usize + 64) * 4);
        let srow = self.scratch(p.row_bytes);
        let st = self.scratch(rows * tstride);
        let tb = self.scratch(rows * 128);
        let sums = self.scratch(4 * nflat.next_multiple_of(32));
        let _ = writeln!(
            self.body,
            "  {{\n    static const qk_pack_t pk = {{{pack}}};\n    static const qk_convc_t k = {{{nk}, {npix}, {m}, {npix}, {nflat}, {kt}, {ko}, {kp}, {kw_}, {kb}, {km}, {kh_}, {ks}, {lo}, {hi}, {zp}, {tstride}}};\n    qk_pack_input(&pk, (const uint8_t *){xs}, (uint32_t *){sp}, (uint32_t *){srow});\n    qk_conv_cl{nmbv}(&k, (const uint32_t *){sp}, (uint8_t *){ys}, {st}, (qv_t *)(void *){tb}, (int32_t *){sums});\n  }}",
            pack = p.pack,
            m = p.m,
            lo = p.rq.lo,
            hi = p.rq.hi,
            zp = p.rq.zp,
        );
    }

    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn conv_scalar(
        &mut self,
        n: NodeId,
        d: (
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
        ),
        group: usize,
        cg_in: usize,
        wvals: &[i64],
        bias: &[i64],
        zpx: i32,
    ) -> Result<(), EmitError> {
        let (nb, c, h, wi, m, kh, kw, ho, wo, sh, sw, dh, dw, pt, pl) = d;
        let g = self.g;
        let node = g.node(n);
        if g.ty(node.outputs[0]).dtype != DType::I32 {
            return Err(unsupported(g, n, "conv output must be i32"));
        }
        let mg = m / group;
        let kwt = self.konst("int8_t", wvals);
        let mut bv = bias.to_vec();
        bv.resize(m, 0);
        let kb = self.konst("int32_t", &bv);
        let xs = self.buf(node.inputs[0]);
        let ys = self.buf(node.outputs[0]);
        let _ = writeln!(
            self.body,
            "  {{ int b_, gi, mm, oh, ow, c_, i, j;
    for (b_ = 0; b_ < {nb}; b_++) for (gi = 0; gi < {group}; gi++) for (mm = 0; mm < {mg}; mm++) {{
      int m = gi * {mg} + mm;
      for (oh = 0; oh < {ho}; oh++) for (ow = 0; ow < {wo}; ow++) {{
        int32_t acc = {kb}[m];
        for (c_ = 0; c_ < {cg_in}; c_++) for (i = 0; i < {kh}; i++) {{
          int ih = oh * {sh} - {pt} + i * {dh};
          if (ih < 0 || ih >= {h}) continue;
          for (j = 0; j < {kw}; j++) {{
            int iw = ow * {sw} - {pl} + j * {dw};
            if (iw < 0 || iw >= {wi}) continue;
            acc = qs_wrap_add(acc, qs_wrap_mul((int32_t){xs}[(((size_t)b_ * {c} + gi * {cg_in} + c_) * {h} + ih) * {wi} + iw] - {zpx}, {kwt}[(((size_t)m * {cg_in} + c_) * {kh} + i) * {kw} + j]));
          }}
        }}
        {ys}[(((size_t)b_ * {m} + m) * {ho} + oh) * {wo} + ow] = acc;
      }}
    }}
  }}"
        );
        Ok(())
    }

    pub(super) fn gemm(&mut self, n: NodeId, trans_b: bool) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (a, bv, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let at = g.ty(a);
        if !matches!(at.dtype, DType::U8 | DType::I8) || at.shape.rank() != 2 {
            return Err(unsupported(g, n, "gemm input must be a 2-d u8/i8 tensor"));
        }
        let b = g
            .const_value(bv)
            .ok_or_else(|| unsupported(g, n, "weights must be a constant"))?;
        let (rows, k) = (at.shape.dims()[0], at.shape.dims()[1]);
        let nn = g.ty(y).shape.dims()[1];
        let bvals = ints(&b.data);
        let wat = |col: usize, kk: usize| {
            if trans_b {
                bvals[col * k + kk]
            } else {
                bvals[kk * nn + col]
            }
        };
        let bias: Vec<i64> = match node.inputs.get(2) {
            Some(&bb) => ints(
                &g.const_value(bb)
                    .ok_or_else(|| unsupported(g, n, "bias must be a constant"))?
                    .data,
            ),
            None => vec![0; nn],
        };
        let flip = at.dtype == DType::I8;
        let zp_eff = i64::from(zp_of(g, a, 0)) + if flip { 128 } else { 0 };
        let (nkg, nnb) = (k.div_ceil(4), nn.div_ceil(32));
        let mut wv = Vec::with_capacity(nnb * nkg * 128);
        for nbk in 0..nnb {
            for kg in 0..nkg {
                for lane in 0..32 {
                    for j in 0..4 {
                        let (col, kk) = (32 * nbk + lane, 4 * kg + j);
                        wv.push(if col < nn && kk < k { wat(col, kk) } else { 0 });
                    }
                }
            }
        }
        let mut b2 = vec![0i64; nnb * 32];
        for (col, bvv) in b2.iter_mut().enumerate().take(nn) {
            let s: i64 = (0..k).map(|kk| wat(col, kk)).sum();
            *bvv = i64::from((bias[col] as i32).wrapping_sub(zp_eff.wrapping_mul(s) as i32));
        }
        let kw_ = self.konst("int8_t", &wv);
        let kb = self.konst("int32_t", &b2);
        let fused = self.fusable(y, 1, nn);
        let xs = self.buf(a);
        let acc = self.scratch(4 * nn + 4);
        let tmp = self.scratch(128);
        let flipw = if flip { "0x80808080u" } else { "0u" };
        let store = match &fused {
            Some(f) => {
                let km = self.konst("int32_t", &f.m0);
                let ks = self.konst("int32_t", &f.shift);
                let ys = self.buf(f.out);
                let ct = ctype(g.ty(f.out).dtype);
                format!(
                    "for (c_ = 0; c_ < {nn}; c_++) {ys}[(size_t)r * {nn} + c_] = ({ct})qs_requant(acc[c_], {km}[c_], {ks}[c_], {}, {}, {}, {});",
                    f.zp, f.lo, f.hi, f.mode
                )
            }
            None => {
                if g.ty(y).dtype != DType::I32 {
                    return Err(unsupported(g, n, "gemm output must be i32"));
                }
                let ys = self.buf(y);
                format!("for (c_ = 0; c_ < {nn}; c_++) {ys}[(size_t)r * {nn} + c_] = acc[c_];")
            }
        };
        let _ = writeln!(
            self.body,
            "  {{ int r, c_; int32_t *acc = (int32_t *){acc};
    for (r = 0; r < {rows}; r++) {{
      qk_gemm_row((const uint8_t *){xs} + (size_t)r * {k}, {k}, {nn}, {flipw}, {kw_}, {kb}, acc, (int32_t *){tmp});
      {store}
    }}
  }}"
        );
        if let Some(f) = fused {
            self.skip.insert(f.node);
        }
        Ok(())
    }

    pub(super) fn requant(&mut self, n: NodeId, a: &RequantAttrs) -> Result<(), EmitError> {
        let g = self.g;
        let node = g.node(n);
        let (x, y) = (node.inputs[0], node.outputs[0]);
        let dims = g.ty(x).shape.dims().to_vec();
        let (outer, ch, inner) = if a.multipliers.len() == 1 {
            (g.ty(x).shape.numel(), 1, 1)
        } else {
            if a.axis >= dims.len() || dims[a.axis] != a.multipliers.len() {
                return Err(unsupported(
                    g,
                    n,
                    "multiplier count does not match the axis",
                ));
            }
            (
                dims[..a.axis].iter().product(),
                dims[a.axis],
                dims[a.axis + 1..].iter().product(),
            )
        };
        let zin: Vec<i64> = match g.ty(x).quant.as_ref().map(|q| &q.granularity) {
            Some(QuantGranularity::PerAxis {
                axis, zero_points, ..
            }) if *axis == a.axis && ch > 1 => zero_points.iter().map(|&z| i64::from(z)).collect(),
            _ => vec![i64::from(zp_of(g, x, 0)); ch],
        };
        let km = self.konst(
            "int32_t",
            &a.multipliers
                .iter()
                .map(|m| i64::from(m.m0))
                .collect::<Vec<_>>(),
        );
        let ks = self.konst(
            "int32_t",
            &a.multipliers
                .iter()
                .map(|m| i64::from(m.shift))
                .collect::<Vec<_>>(),
        );
        let kz = self.konst("int32_t", &zin);
        let zp = zp_of(g, y, 0);
        let ct = ctype(g.ty(y).dtype);
        let (xs, ys) = (self.buf(x), self.buf(y));
        let _ = writeln!(
            self.body,
            "  {{ size_t o, c_, i, p = 0;
    for (o = 0; o < {outer}; o++) for (c_ = 0; c_ < {ch}; c_++) for (i = 0; i < {inner}; i++, p++)
      {ys}[p] = ({ct})qs_requant((int32_t)((uint32_t){xs}[p] - (uint32_t){kz}[c_]), {km}[c_], {ks}[c_], {zp}, {}, {}, {});
  }}",
            a.lo,
            a.hi,
            mode(a.rounding)
        );
        Ok(())
    }
}
