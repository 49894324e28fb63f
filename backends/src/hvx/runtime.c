/* ---- qcc hvx-like runtime: scalar arithmetic rules, vector layer, kernels ----
 * The scalar functions implement ir::arith exactly (sqrdmulh, rounding shifts per mode,
 * requantize, average). The vector layer (qv_*) works on 128-byte vectors: under __HVX__
 * it maps to Q6_* intrinsics, otherwise to portable C with identical results (both are
 * checked bit for bit against the reference interpreter on qemu-hexagon and the host).
 * Assumes a little-endian target (x86-64, Hexagon) and arithmetic >> on signed values. */
#define QCC_HALF_UP 0
#define QCC_HALF_AWAY 1

static inline int32_t qs_sqrdmulh(int32_t a, int32_t b) {
  int64_t p = (int64_t)a * (int64_t)b;
  int64_t r = (p + ((int64_t)1 << 30)) >> 31;
  return r > (int64_t)INT32_MAX ? INT32_MAX : (int32_t)r;
}
static inline int32_t qs_rshift(int32_t x, int32_t n, int mode) {
  int64_t v = x, half;
  if (n <= 0) return x;
  if (n > 40) return 0;
  half = (int64_t)1 << (n - 1);
  if (mode == QCC_HALF_UP || v >= 0) return (int32_t)((v + half) >> n);
  return (int32_t)(-((half - v) >> n));
}
static inline int32_t qs_shl_sat(int32_t x, int32_t l) {
  int64_t v = (int64_t)x;
  if (l > 32) l = 32;
  v = v * ((int64_t)1 << l);
  if (v > (int64_t)INT32_MAX) return INT32_MAX;
  if (v < (int64_t)INT32_MIN) return INT32_MIN;
  return (int32_t)v;
}
static inline int32_t qs_clamp64(int64_t y, int32_t lo, int32_t hi) {
  if (y < (int64_t)lo) y = lo;
  if (y > (int64_t)hi) y = hi;
  return (int32_t)y;
}
/* ir::arith::requantize without the final clamp/zero point. */
static inline int32_t qs_mulshift(int32_t acc, int32_t m0, int32_t shift, int mode) {
  int32_t x = shift < 0 ? qs_shl_sat(acc, -shift) : acc;
  x = qs_sqrdmulh(x, m0);
  return shift > 0 ? qs_rshift(x, shift, mode) : x;
}
static inline int32_t qs_requant(int32_t acc, int32_t m0, int32_t shift, int32_t zp, int32_t lo,
                          int32_t hi, int mode) {
  return qs_clamp64((int64_t)qs_mulshift(acc, m0, shift, mode) + zp, lo, hi);
}
/* ir::arith::average: sum/count rounded, with recip = fixed_reciprocal(count). */
static inline int32_t qs_average(int32_t sum, int32_t m0, int32_t shift, int mode) {
  int32_t x = qs_shl_sat(sum, 2), t = qs_sqrdmulh(x, m0);
  int32_t total = shift + 2;
  return total >= 0 ? qs_rshift(t, total, mode) : qs_shl_sat(t, -total);
}
/* ir::arith::quantize with a compile-time reciprocal; no libm. Each float operation is its
 * own statement so no compiler contracts them into an fma. */
typedef union { float f; uint32_t u; } qs_fbits;
static inline int32_t qs_quantize(float x, float inv, int32_t zp, int32_t qmin, int32_t qmax) {
  qs_fbits v, a, r;
  float lo, hi;
  v.f = x * inv;
  if (v.f != v.f) return qs_clamp64(zp, qmin, qmax);
  a.u = v.u & 0x7fffffffu;
  r.f = a.f;
  if (a.f < 8388608.0f) {
    float t = a.f + 8388608.0f;
    r.f = t - 8388608.0f;
  }
  r.u = (r.u & 0x7fffffffu) | (v.u & 0x80000000u);
  lo = (float)((int64_t)qmin - zp);
  hi = (float)((int64_t)qmax - zp);
  if (qmin > qmax) return qmax;
  if (r.f < lo) r.f = lo;
  if (r.f > hi) r.f = hi;
  return qs_clamp64((int64_t)r.f + zp, qmin, qmax);
}
static inline float qs_dequantize(int32_t q, float scale, int32_t zp) {
  float d = (float)((int64_t)q - zp);
  return d * scale;
}
static inline int32_t qs_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t qs_wrap_mul(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }

/* ---- the vector layer ---- */
#if defined(__HVX__)
#define QCC_ALIGN128 __attribute__((aligned(128)))
#define QCC_ASSUME128(p) __builtin_assume_aligned((p), 128)
#include <hexagon_types.h>
#include <hexagon_protos.h>
typedef HVX_Vector qv_t;
static inline qv_t qv_splat(int32_t x) { return Q6_V_vsplat_R(x); }
static inline qv_t qv_loadu(const void *p) { return *(const HVX_UVector *)p; }
static inline void qv_storeu(void *p, qv_t v) { *(HVX_UVector *)p = v; }
static inline qv_t qv_load(const void *p) { return *(const HVX_Vector *)p; }
static inline void qv_store(void *p, qv_t v) { *(HVX_Vector *)p = v; }
static inline qv_t qv_asrv(qv_t x, qv_t n) { return Q6_Vw_vasr_VwVw(x, n); }
/* word interleave: lo = a.w0, b.w0, a.w1, b.w1, ... a.w15, b.w15; hi the same from w16 */
static inline void qv_shuff_w(qv_t a, qv_t b, qv_t *lo, qv_t *hi) {
  HVX_VectorPair p = Q6_W_vshuff_VVR(b, a, -4);
  *lo = Q6_V_lo_W(p);
  *hi = Q6_V_hi_W(p);
}
static inline qv_t qv_vrmpy_ubrb(qv_t acc, qv_t a, int32_t w4) {
  return Q6_Vw_vrmpyacc_VwVubRb(acc, a, w4);
}
static inline qv_t qv_vrmpy_ubvb(qv_t acc, qv_t a, qv_t w) {
  return Q6_Vw_vrmpyacc_VwVubVb(acc, a, w);
}
static inline qv_t qv_sqrdmulh(qv_t x, qv_t m) {
  qv_t t = Q6_Vw_vmpye_VwVuh(x, m);
  return Q6_Vw_vmpyoacc_VwVwVh_s1_rnd_sat_shift(t, x, m);
}
static inline qv_t qv_asr(qv_t x, int n) { return Q6_Vw_vasr_VwR(x, n); }
static inline qv_t qv_shl(qv_t x, int n) { return Q6_Vw_vasl_VwR(x, n); }
static inline qv_t qv_and(qv_t a, qv_t b) { return Q6_V_vand_VV(a, b); }
static inline qv_t qv_xor(qv_t a, qv_t b) { return Q6_V_vxor_VV(a, b); }
static inline qv_t qv_or(qv_t a, qv_t b) { return Q6_V_vor_VV(a, b); }
static inline qv_t qv_lsr(qv_t x, int n) { return Q6_Vuw_vlsr_VuwR(x, n); }
static inline qv_t qv_add_sat(qv_t a, qv_t b) { return Q6_Vw_vadd_VwVw_sat(a, b); }
static inline qv_t qv_maxub(qv_t a, qv_t b) { return Q6_Vub_vmax_VubVub(a, b); }
/* even bytes of lo (64) then even bytes of hi (64) */
static inline qv_t qv_packe_b(qv_t hi, qv_t lo) { return Q6_Vb_vpacke_VhVh(hi, lo); }
static inline qv_t qv_add(qv_t a, qv_t b) { return Q6_Vw_vadd_VwVw(a, b); }
static inline qv_t qv_sub(qv_t a, qv_t b) { return Q6_Vw_vsub_VwVw(a, b); }
static inline qv_t qv_max(qv_t a, qv_t b) { return Q6_Vw_vmax_VwVw(a, b); }
static inline qv_t qv_min(qv_t a, qv_t b) { return Q6_Vw_vmin_VwVw(a, b); }
/* lanes where a > b take t, others f */
static inline qv_t qv_sel_gt(qv_t a, qv_t b, qv_t t, qv_t f) {
  return Q6_V_vmux_QVV(Q6_Q_vcmp_gt_VwVw(a, b), t, f);
}
static inline qv_t qv_sel_eq(qv_t a, qv_t b, qv_t t, qv_t f) {
  return Q6_V_vmux_QVV(Q6_Q_vcmp_eq_VwVw(a, b), t, f);
}
/* 4 x 32 int32 lanes (each in byte range) -> 128 bytes in lane order: a, b, c, d */
static inline qv_t qv_pack4_b(qv_t a, qv_t b, qv_t c, qv_t d) {
  qv_t ab = Q6_Vh_vpacke_VwVw(b, a), cd = Q6_Vh_vpacke_VwVw(d, c);
  return Q6_Vb_vpacke_VhVh(cd, ab);
}
/* byte-interleave 4 vectors: out[j].b[4i+k] = src_k.b[32j+i] */
static inline void qv_interleave4_b(qv_t a, qv_t b, qv_t c, qv_t d, qv_t *out) {
  HVX_VectorPair ab = Q6_W_vshuff_VVR(b, a, -1), cd = Q6_W_vshuff_VVR(d, c, -1);
  HVX_VectorPair lo = Q6_W_vshuff_VVR(Q6_V_lo_W(cd), Q6_V_lo_W(ab), -2);
  HVX_VectorPair hi = Q6_W_vshuff_VVR(Q6_V_hi_W(cd), Q6_V_hi_W(ab), -2);
  out[0] = Q6_V_lo_W(lo);
  out[1] = Q6_V_hi_W(lo);
  out[2] = Q6_V_lo_W(hi);
  out[3] = Q6_V_hi_W(hi);
}
#else
#define QCC_ALIGN128
#define QCC_ASSUME128(p) ((const void *)(p))
typedef union { int32_t w[32]; uint8_t ub[128]; int8_t b[128]; } qv_t;
static inline qv_t qv_splat(int32_t x) { qv_t v; int i; for (i = 0; i < 32; i++) v.w[i] = x; return v; }
static inline qv_t qv_loadu(const void *p) {
  qv_t v; const uint8_t *s = (const uint8_t *)p; int i;
  for (i = 0; i < 128; i++) v.ub[i] = s[i];
  return v;
}
static inline void qv_storeu(void *p, qv_t v) {
  uint8_t *d = (uint8_t *)p; int i;
  for (i = 0; i < 128; i++) d[i] = v.ub[i];
}
static inline qv_t qv_load(const void *p) { return qv_loadu(p); }
static inline void qv_store(void *p, qv_t v) { qv_storeu(p, v); }
static inline qv_t qv_asrv(qv_t x, qv_t n) { int i; for (i = 0; i < 32; i++) x.w[i] >>= n.w[i]; return x; }
static inline void qv_shuff_w(qv_t a, qv_t b, qv_t *lo, qv_t *hi) {
  int i;
  for (i = 0; i < 16; i++) {
    lo->w[2 * i] = a.w[i]; lo->w[2 * i + 1] = b.w[i];
    hi->w[2 * i] = a.w[16 + i]; hi->w[2 * i + 1] = b.w[16 + i];
  }
}
static inline qv_t qv_vrmpy_ubrb(qv_t acc, qv_t a, int32_t w4) {
  int i, k;
  for (i = 0; i < 32; i++) {
    int32_t s = 0;
    for (k = 0; k < 4; k++) s += (int32_t)a.ub[4 * i + k] * (int32_t)(int8_t)(uint8_t)((uint32_t)w4 >> (8 * k));
    acc.w[i] = qs_wrap_add(acc.w[i], s);
  }
  return acc;
}
static inline qv_t qv_vrmpy_ubvb(qv_t acc, qv_t a, qv_t w) {
  int i, k;
  for (i = 0; i < 32; i++) {
    int32_t s = 0;
    for (k = 0; k < 4; k++) s += (int32_t)a.ub[4 * i + k] * (int32_t)w.b[4 * i + k];
    acc.w[i] = qs_wrap_add(acc.w[i], s);
  }
  return acc;
}
static inline qv_t qv_sqrdmulh(qv_t x, qv_t m) {
  int i; for (i = 0; i < 32; i++) x.w[i] = qs_sqrdmulh(x.w[i], m.w[i]); return x;
}
static inline qv_t qv_asr(qv_t x, int n) { int i; for (i = 0; i < 32; i++) x.w[i] >>= n; return x; }
static inline qv_t qv_shl(qv_t x, int n) {
  int i; for (i = 0; i < 32; i++) x.w[i] = (int32_t)((uint32_t)x.w[i] << n); return x;
}
static inline qv_t qv_and(qv_t a, qv_t b) { int i; for (i = 0; i < 32; i++) a.w[i] &= b.w[i]; return a; }
static inline qv_t qv_xor(qv_t a, qv_t b) { int i; for (i = 0; i < 32; i++) a.w[i] ^= b.w[i]; return a; }
static inline qv_t qv_or(qv_t a, qv_t b) { int i; for (i = 0; i < 32; i++) a.w[i] |= b.w[i]; return a; }
static inline qv_t qv_lsr(qv_t x, int n) {
  int i; for (i = 0; i < 32; i++) x.w[i] = (int32_t)((uint32_t)x.w[i] >> n); return x;
}
static inline qv_t qv_add_sat(qv_t a, qv_t b) {
  int i;
  for (i = 0; i < 32; i++) a.w[i] = qs_clamp64((int64_t)a.w[i] + b.w[i], INT32_MIN, INT32_MAX);
  return a;
}
static inline qv_t qv_maxub(qv_t a, qv_t b) { int i; for (i = 0; i < 128; i++) if (b.ub[i] > a.ub[i]) a.ub[i] = b.ub[i]; return a; }
static inline qv_t qv_packe_b(qv_t hi, qv_t lo) {
  qv_t r; int i;
  for (i = 0; i < 64; i++) { r.ub[i] = lo.ub[2 * i]; r.ub[64 + i] = hi.ub[2 * i]; }
  return r;
}
static inline qv_t qv_add(qv_t a, qv_t b) {
  int i; for (i = 0; i < 32; i++) a.w[i] = qs_wrap_add(a.w[i], b.w[i]); return a;
}
static inline qv_t qv_sub(qv_t a, qv_t b) {
  int i; for (i = 0; i < 32; i++) a.w[i] = (int32_t)((uint32_t)a.w[i] - (uint32_t)b.w[i]); return a;
}
static inline qv_t qv_max(qv_t a, qv_t b) { int i; for (i = 0; i < 32; i++) if (b.w[i] > a.w[i]) a.w[i] = b.w[i]; return a; }
static inline qv_t qv_min(qv_t a, qv_t b) { int i; for (i = 0; i < 32; i++) if (b.w[i] < a.w[i]) a.w[i] = b.w[i]; return a; }
static inline qv_t qv_sel_gt(qv_t a, qv_t b, qv_t t, qv_t f) {
  int i; for (i = 0; i < 32; i++) if (a.w[i] > b.w[i]) f.w[i] = t.w[i]; return f;
}
static inline qv_t qv_sel_eq(qv_t a, qv_t b, qv_t t, qv_t f) {
  int i; for (i = 0; i < 32; i++) if (a.w[i] == b.w[i]) f.w[i] = t.w[i]; return f;
}
static inline qv_t qv_pack4_b(qv_t a, qv_t b, qv_t c, qv_t d) {
  qv_t r; int i;
  for (i = 0; i < 32; i++) {
    r.ub[i] = (uint8_t)a.w[i]; r.ub[32 + i] = (uint8_t)b.w[i];
    r.ub[64 + i] = (uint8_t)c.w[i]; r.ub[96 + i] = (uint8_t)d.w[i];
  }
  return r;
}
static inline void qv_interleave4_b(qv_t a, qv_t b, qv_t c, qv_t d, qv_t *out) {
  int j, i;
  for (j = 0; j < 4; j++)
    for (i = 0; i < 32; i++) {
      out[j].ub[4 * i + 0] = a.ub[32 * j + i]; out[j].ub[4 * i + 1] = b.ub[32 * j + i];
      out[j].ub[4 * i + 2] = c.ub[32 * j + i]; out[j].ub[4 * i + 3] = d.ub[32 * j + i];
    }
}
#endif

/* Byte copy (non-overlapping), whole vectors first. */
static inline void qs_copy(void *dst, const void *src, size_t n) {
  uint8_t *d = (uint8_t *)dst;
  const uint8_t *s = (const uint8_t *)src;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) qv_storeu(d + i, qv_loadu(s + i));
  for (; i < n; i++) d[i] = s[i];
}

/* Requantization of 32 int32 lanes (ir::arith::requantize): saturating left shift for
 * multipliers >= 1, SQRDMULH, rounding right shift per mode, clamp, zero point. */
typedef struct { int32_t lo, hi, zp; int mode; } qk_out_t;
static inline qv_t qv_requant(qv_t x, int32_t m0, int32_t shift, const qk_out_t *o) {
  int64_t lo = (int64_t)o->lo - o->zp, hi = (int64_t)o->hi - o->zp;
  if (lo > hi) lo = hi;
  if (lo < (int64_t)INT32_MIN) lo = INT32_MIN;
  if (lo > (int64_t)INT32_MAX) lo = INT32_MAX;
  if (hi < (int64_t)INT32_MIN) hi = INT32_MIN;
  if (hi > (int64_t)INT32_MAX) hi = INT32_MAX;
  if (shift < 0) {
    int l = -shift > 31 ? 31 : -shift;
    qv_t y = qv_shl(x, l);
    y = qv_sel_gt(x, qv_splat(INT32_MAX >> l), qv_splat(INT32_MAX), y);
    x = qv_sel_gt(qv_splat(INT32_MIN >> l), x, qv_splat(INT32_MIN), y);
    if (-shift > 31) x = qv_sel_gt(x, qv_splat(0), qv_splat(INT32_MAX),
                                   qv_sel_gt(qv_splat(0), x, qv_splat(INT32_MIN), x));
  }
  x = qv_sqrdmulh(x, qv_splat(m0));
  if (shift > 31) {
    x = qv_splat(0); /* |x| <= 2^31 < 2^shift / 2: rounds to 0 in both modes */
  } else if (shift > 0) {
    qv_t r = qv_add(qv_asr(x, shift), qv_and(qv_asr(x, shift - 1), qv_splat(1)));
    if (o->mode == QCC_HALF_AWAY) {
      /* negative exact ties round down once more */
      qv_t mask = qv_splat((int32_t)(((uint32_t)1 << shift) - 1u));
      qv_t tie = qv_sel_eq(qv_and(x, mask), qv_splat((int32_t)((uint32_t)1 << (shift - 1))),
                           qv_sub(r, qv_splat(1)), r);
      r = qv_sel_gt(qv_splat(0), x, tie, r);
    }
    x = r;
  }
  x = qv_max(x, qv_splat((int32_t)lo));
  x = qv_min(x, qv_splat((int32_t)hi));
  return qv_add(x, qv_splat(o->zp));
}

/* ir::arith::requantize without the final clamp and zero point (qs_mulshift) on 32 lanes. */
static inline qv_t qv_mulshift(qv_t x, int32_t m0, int32_t shift, int mode) {
  qk_out_t o;
  o.lo = INT32_MIN; o.hi = INT32_MAX; o.zp = 0; o.mode = mode;
  return qv_requant(x, m0, shift, &o);
}
/* One output channel's requantization, splats hoisted. The fast path (half-up rounding,
 * 0 <= shift <= 20, output range within +-2^10 of the zero point) rounds with a saturating
 * add and an arithmetic shift: where the add saturates, the exact result is above 2^10 and
 * both clamp to hi. */
typedef struct { qv_t m0, half, lo, hi, zp; int32_t m0s, shift; int fast; const qk_out_t *o; } qv_rq_t;
static inline void qv_rq_init(qv_rq_t *r, int32_t m0, int32_t shift, const qk_out_t *o) {
  int64_t lo = (int64_t)o->lo - o->zp, hi = (int64_t)o->hi - o->zp;
  r->fast = o->mode == QCC_HALF_UP && shift >= 0 && shift <= 20 && lo >= -1024 && hi <= 1024 &&
            lo <= hi;
  r->m0s = m0; r->shift = shift; r->o = o;
  r->m0 = qv_splat(m0);
  r->half = qv_splat(shift > 0 && shift <= 20 ? (int32_t)1 << (shift - 1) : 0);
  r->lo = qv_splat((int32_t)(r->fast ? lo : 0));
  r->hi = qv_splat((int32_t)(r->fast ? hi : 0));
  r->zp = qv_splat(o->zp);
}
static inline qv_t qv_rq(const qv_rq_t *r, qv_t x) {
  if (!r->fast) return qv_requant(x, r->m0s, r->shift, r->o);
  x = qv_sqrdmulh(x, r->m0);
  x = qv_asr(qv_add_sat(x, r->half), r->shift);
  x = qv_min(qv_max(x, r->lo), r->hi);
  return qv_add(x, r->zp);
}

static inline qv_t qv_rq1(qv_t x, int32_t m0, int32_t shift, const qk_out_t *o) {
  qv_rq_t r;
  qv_rq_init(&r, m0, shift, o);
  return qv_rq(&r, x);
}

/* ---- kernels ---- */
/* Packs an NCHW u8 input (one image) into 4-channel words laid out for qk_conv_vrmpy:
 * P[g][plane][Hq][Wq], plane = (row phase, column phase) of the stride, padding filled
 * with the zero point. flip = 0x80808080 turns i8 into u8 (zero point + 128). */
typedef struct {
  int c, h, w, sh, sw, pt, pl, hq, wq, hp, wp;
  int32_t cgs; /* words between channel groups */
  uint32_t zpw, flip;
} qk_pack_t;
static inline void qk_pack_input(const qk_pack_t *k, const uint8_t *src, uint32_t *P, uint32_t *row) {
  int g, pr, pc, i, j, ng = (k->c + 3) >> 2;
  int32_t ps = k->hq * k->wq;
  if (k->sh <= 2 && k->sw <= 2 && k->sh == k->sw) {
    /* vector path: byte-interleave each group of 4 channel planes (flip applied), then
     * place the rows (stride 1: vector copies; stride 2: dealt to the column phases) */
    qv_t z = qv_splat((int32_t)k->zpw), fl = qv_splat((int32_t)k->flip);
    int s2 = k->sh == 2;
    int hw = k->h * k->w;
    for (g = 0; g < ng; g++) {
      uint32_t *base = P + g * k->cgs;
      int x;
      for (i = 0; i < k->cgs; i += 32) qv_storeu(base + i, z);
      /* the 4 channel planes of the group as flat words (h * w of them) into row */
      for (x = 0; x < hw; x += 128) {
        qv_t v[4], o[4];
        int cc;
        for (cc = 0; cc < 4; cc++) {
          int ch = 4 * g + cc;
          v[cc] = ch < k->c ? qv_loadu(src + (size_t)ch * hw + x) : qv_splat(0);
        }
        qv_interleave4_b(v[0], v[1], v[2], v[3], o);
        for (cc = 0; cc < 4; cc++) qv_storeu(row + x + 32 * cc, qv_xor(o[cc], fl));
      }
      for (i = 0; i < k->h; i++) {
        int ph = i + k->pt;
        const uint32_t *r0 = row + i * k->w;
        if (s2) {
          /* column j goes to phase (j + pl) & 1, word (j + pl) >> 1 */
          uint32_t *pl0 = base + ((ph & 1) * 2) * ps + (ph >> 1) * k->wq;
          int w = k->w, pl = k->pl, j0;
          for (j0 = 0; j0 < 2; j0++) {
            uint32_t *d = pl0 + ((j0 + pl) & 1) * ps + ((j0 + pl) >> 1);
            const uint32_t *r = r0 + j0;
            int n = (w - j0 + 1) >> 1;
            for (j = 0; j < n; j++) d[j] = r[2 * j];
          }
        } else {
          /* whole vectors: the tail spills forward, pads are restored below */
          uint32_t *d = base + ph * k->wp + k->pl;
          for (x = 0; x < k->w; x += 32) qv_storeu(d + x, qv_loadu(r0 + x));
        }
      }
      if (!s2) {
        for (i = k->pt; i < k->pt + k->h; i++) {
          uint32_t *r = base + i * k->wp;
          for (j = 0; j < k->pl; j++) r[j] = k->zpw;
          for (j = k->pl + k->w; j < k->wp; j++) r[j] = k->zpw;
        }
        for (i = (k->pt + k->h) * k->wp; i < k->cgs; i += 32) qv_storeu(base + i, z);
      }
    }
    return;
  }
  for (g = 0; g < ng; g++)
    for (pr = 0; pr < k->sh; pr++)
      for (pc = 0; pc < k->sw; pc++) {
        uint32_t *pl = P + g * k->cgs + (pr * k->sw + pc) * ps;
        for (i = 0; i < k->hq; i++) {
          int ih = i * k->sh + pr - k->pt;
          for (j = 0; j < k->wq; j++) {
            int iw = j * k->sw + pc - k->pl, cc;
            uint32_t word = 0;
            if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w) {
              word = k->zpw;
            } else {
              for (cc = 0; cc < 4; cc++) {
                int ch = 4 * g + cc;
                uint32_t b = ch < k->c ? src[((size_t)ch * k->h + ih) * k->w + iw] : 0u;
                word |= b << (8 * cc);
              }
              word ^= k->flip;
            }
            pl[i * k->wq + j] = word;
          }
        }
      }
}

/* Convolution over 4-channel words with vrmpy (u8 activations x 4 i8 weights per lane):
 * lanes are 32 consecutive flat output positions q = oh * wq + ow (columns ow >= wo are
 * computed and dropped), 4 output channels x 128 positions per block (16 accumulators in
 * registers). The (tap, channel group) pairs are one flat loop over word offsets koff.
 * Requantizes per output channel and writes bytes (u8/i8) in NCHW. */
typedef struct {
  int nk, nflat, wq, ho, wo, m;
  const int32_t *koff;    /* word offset of each (tap, group) step; nk even, 2 more 0s */
  const int32_t *w;       /* [ceil(m/4)][nk][4] weight words (128-byte aligned) */
  const int32_t *bias;    /* [ceil(m/4)*4], zero-point term folded in */
  const int32_t *m0, *shift;
  qk_out_t out;
  int32_t tmp_stride;     /* bytes per channel plane in tmp */
} qk_conv_t;
static inline void qk_conv_vrmpy(const qk_conv_t *k, const uint32_t *P, uint8_t *out, uint8_t *tmp) {
  int mb, nmb = (k->m + 3) >> 2, nk = k->nk;
  const int32_t *koff = k->koff;
  for (mb = 0; mb < nmb; mb++) {
    int pb, j;
    const int32_t *w0p = (const int32_t *)QCC_ASSUME128(k->w) + (size_t)mb * nk * 4;
    qv_rq_t rq[4];
    for (j = 0; j < 4; j++) {
      int m = 4 * mb + j < k->m ? 4 * mb + j : 4 * mb;
      qv_rq_init(&rq[j], k->m0[m], k->shift[m], &k->out);
    }
    for (pb = 0; pb < k->nflat; pb += 128) {
      const uint32_t *base = P + pb;
      const int32_t *wp = w0p;
      int s;
      qv_t b0 = qv_splat(k->bias[4 * mb]), b1 = qv_splat(k->bias[4 * mb + 1]);
      qv_t b2 = qv_splat(k->bias[4 * mb + 2]), b3 = qv_splat(k->bias[4 * mb + 3]);
      qv_t a00 = b0, a01 = b0, a02 = b0, a03 = b0, a10 = b1, a11 = b1, a12 = b1, a13 = b1;
      qv_t a20 = b2, a21 = b2, a22 = b2, a23 = b2, a30 = b3, a31 = b3, a32 = b3, a33 = b3;
      /* two (tap, group) steps per iteration (nk is even: the emitter pads with a
       * zero-weight step), software pipelined: the next step pair's vectors load during this pair's vrmpy
       * run (koff has two extra entries, so the last loads stay inside P) */
      const uint32_t *src = base + koff[0], *src2 = base + koff[1];
      qv_t x0 = qv_loadu(src), x1 = qv_loadu(src + 32), x2 = qv_loadu(src + 64),
           x3 = qv_loadu(src + 96);
      qv_t y0 = qv_loadu(src2), y1 = qv_loadu(src2 + 32), y2 = qv_loadu(src2 + 64),
           y3 = qv_loadu(src2 + 96);
      for (s = 0; s < nk; s += 2, wp += 8) {
        int32_t w0 = wp[0], w1 = wp[1], w2 = wp[2], w3 = wp[3];
        int32_t v0 = wp[4], v1 = wp[5], v2 = wp[6], v3 = wp[7];
        a00 = qv_vrmpy_ubrb(a00, x0, w0); a01 = qv_vrmpy_ubrb(a01, x1, w0);
        a02 = qv_vrmpy_ubrb(a02, x2, w0); a03 = qv_vrmpy_ubrb(a03, x3, w0);
        a10 = qv_vrmpy_ubrb(a10, x0, w1); a11 = qv_vrmpy_ubrb(a11, x1, w1);
        a12 = qv_vrmpy_ubrb(a12, x2, w1); a13 = qv_vrmpy_ubrb(a13, x3, w1);
        a20 = qv_vrmpy_ubrb(a20, x0, w2); a21 = qv_vrmpy_ubrb(a21, x1, w2);
        a22 = qv_vrmpy_ubrb(a22, x2, w2); a23 = qv_vrmpy_ubrb(a23, x3, w2);
        a30 = qv_vrmpy_ubrb(a30, x0, w3); a31 = qv_vrmpy_ubrb(a31, x1, w3);
        a32 = qv_vrmpy_ubrb(a32, x2, w3); a33 = qv_vrmpy_ubrb(a33, x3, w3);
        src = base + koff[s + 2];
        x0 = qv_loadu(src); x1 = qv_loadu(src + 32); x2 = qv_loadu(src + 64); x3 = qv_loadu(src + 96);
        a00 = qv_vrmpy_ubrb(a00, y0, v0); a01 = qv_vrmpy_ubrb(a01, y1, v0);
        a02 = qv_vrmpy_ubrb(a02, y2, v0); a03 = qv_vrmpy_ubrb(a03, y3, v0);
        a10 = qv_vrmpy_ubrb(a10, y0, v1); a11 = qv_vrmpy_ubrb(a11, y1, v1);
        a12 = qv_vrmpy_ubrb(a12, y2, v1); a13 = qv_vrmpy_ubrb(a13, y3, v1);
        a20 = qv_vrmpy_ubrb(a20, y0, v2); a21 = qv_vrmpy_ubrb(a21, y1, v2);
        a22 = qv_vrmpy_ubrb(a22, y2, v2); a23 = qv_vrmpy_ubrb(a23, y3, v2);
        a30 = qv_vrmpy_ubrb(a30, y0, v3); a31 = qv_vrmpy_ubrb(a31, y1, v3);
        a32 = qv_vrmpy_ubrb(a32, y2, v3); a33 = qv_vrmpy_ubrb(a33, y3, v3);
        src2 = base + koff[s + 3];
        y0 = qv_loadu(src2); y1 = qv_loadu(src2 + 32); y2 = qv_loadu(src2 + 64); y3 = qv_loadu(src2 + 96);
      }
      {
        uint8_t *t = tmp + pb;
        int m = 4 * mb;
        qv_storeu(t, qv_pack4_b(qv_rq(&rq[0], a00), qv_rq(&rq[0], a01), qv_rq(&rq[0], a02), qv_rq(&rq[0], a03)));
        if (m + 1 < k->m)
          qv_storeu(t + k->tmp_stride, qv_pack4_b(qv_rq(&rq[1], a10), qv_rq(&rq[1], a11), qv_rq(&rq[1], a12), qv_rq(&rq[1], a13)));
        if (m + 2 < k->m)
          qv_storeu(t + 2 * k->tmp_stride, qv_pack4_b(qv_rq(&rq[2], a20), qv_rq(&rq[2], a21), qv_rq(&rq[2], a22), qv_rq(&rq[2], a23)));
        if (m + 3 < k->m)
          qv_storeu(t + 3 * k->tmp_stride, qv_pack4_b(qv_rq(&rq[3], a30), qv_rq(&rq[3], a31), qv_rq(&rq[3], a32), qv_rq(&rq[3], a33)));
      }
    }
    /* copy the valid columns of each row; a row's 128-byte store may spill into later rows
     * and channels (written afterwards) or the buffer's slack */
    for (j = 0; j < 4; j++) {
      int m = 4 * mb + j, oh, x;
      if (m >= k->m) break;
      if (k->wq == k->wo) {
        const uint8_t *s = tmp + (size_t)j * k->tmp_stride;
        uint8_t *d = out + (size_t)m * k->ho * k->wo;
        for (x = 0; x < k->ho * k->wo; x += 128) qv_storeu(d + x, qv_loadu(s + x));
        continue;
      }
      for (oh = 0; oh < k->ho; oh++) {
        const uint8_t *s = tmp + (size_t)j * k->tmp_stride + (size_t)oh * k->wq;
        uint8_t *d = out + ((size_t)m * k->ho + oh) * k->wo;
        for (x = 0; x < k->wo; x += 128) qv_storeu(d + x, qv_loadu(s + x));
      }
    }
  }
}

/* Convolution with output channels in lanes (output stationary): a vector holds 32 output
 * channels of one output pixel. vrmpy(Vu.ub, Rt.b) takes the weights as the vector operand
 * (w + 128 as u8, [32 out ch][4 in ch] per step and block of 32 channels, packed at compile
 * time, 0 for padded channels and steps) and the pixel's input word as the scalar (x - 128
 * as i8: the packing flips the top bits), so two vrmpy issue per packet without splats.
 * sum (w + 128)(x - 128) = sum w x - 128 sum w + 128 sum x - 16384 K: the weight terms are
 * in the bias, the per-pixel input sum (xs, from a vrmpy with 1-bytes over the same packed
 * input) is subtracted per pixel. Works on the packed input of qk_conv_vrmpy (pixel n's
 * word offset pix[n], step offsets koff). Requantization is per lane (the emitter picks
 * this kernel only when every channel takes the fast path); 4 pixels' bytes pack into one
 * word per channel, 32 such vectors (128 pixels) are transposed with 5 word-shuffle stages
 * into channel rows of tmp, which are copied out. */
typedef struct {
  int nk, npix, m, hw;   /* steps (even), output pixels, output channels, bytes per plane */
  int nflat;             /* flat positions (ho * wq) for the input sums */
  const int32_t *koff;   /* word offset per step (128-byte aligned under __HVX__) */
  const int32_t *ones;   /* per step: 1-bytes for real channels */
  const int32_t *pix;    /* word offset per output pixel, padded to a multiple of 16 */
  const int32_t *w;      /* [nmb][nk][32] weight words, 128-byte aligned */
  const int32_t *bias, *m0, *half, *shift; /* per lane, [nmb * 32] */
  int32_t lo, hi, zp;    /* clamp relative to the zero point */
  int32_t tstride;       /* bytes per channel row of tmp (a multiple of 128) */
} qk_convc_t;
static inline qv_t qk_convc_rq(const qk_convc_t *k, int mb, qv_t x) {
  x = qv_sqrdmulh(x, qv_loadu(k->m0 + 32 * mb));
  x = qv_asrv(qv_add_sat(x, qv_loadu(k->half + 32 * mb)), qv_loadu(k->shift + 32 * mb));
  x = qv_min(qv_max(x, qv_splat(k->lo)), qv_splat(k->hi));
  return qv_and(qv_add(x, qv_splat(k->zp)), qv_splat(255));
}
/* 4 pixels' requantized lanes -> one word per channel (pixel p in byte p) */
static inline qv_t qk_convc_pack(qv_t r0, qv_t r1, qv_t r2, qv_t r3) {
  return qv_or(qv_or(r0, qv_shl(r1, 8)), qv_or(qv_shl(r2, 16), qv_shl(r3, 24)));
}
/* 32 x 32 word transpose of tb (row r lane c -> row c lane r), in place */
static inline void qk_transpose32_w(qv_t *tb) {
  int d, r;
  for (d = 16; d >= 1; d >>= 1)
    for (r = 0; r < 32; r++)
      if (!(r & d)) {
        qv_t lo, hi;
        qv_shuff_w(qv_load(tb + r), qv_load(tb + r + d), &lo, &hi);
        qv_store(tb + r, lo);
        qv_store(tb + r + d, hi);
      }
}
/* tile t of one block of 32 channels: transpose, then channel rows into tmp */
static inline void qk_convc_flush(const qk_convc_t *k, qv_t *tb, int t, uint8_t *tmp) {
  int c;
  qk_transpose32_w(tb);
  for (c = 0; c < 32; c++) qv_store(tmp + (size_t)c * k->tstride + 128 * t, qv_load(tb + c));
}
static inline void qk_convc_out(const qk_convc_t *k, int c0, int rows, const uint8_t *tmp, uint8_t *out) {
  int c, x;
  for (c = 0; c < rows && c0 + c < k->m; c++) {
    const uint8_t *s = tmp + (size_t)c * k->tstride;
    uint8_t *d = out + (size_t)(c0 + c) * k->hw;
    for (x = 0; x < k->hw; x += 128) qv_storeu(d + x, qv_load(s + x));
  }
}
/* xs[q] = -128 * (sum of the real input bytes (x, u8) of flat position q's window) */
static inline void qk_convc_sums(const qk_convc_t *k, const uint32_t *P, int32_t *xs) {
  int q, s;
  qv_t fl = qv_splat((int32_t)0x80808080u);
  for (q = 0; q < k->nflat; q += 32) {
    qv_t a = qv_splat(0);
    for (s = 0; s < k->nk; s++)
      a = qv_vrmpy_ubrb(a, qv_xor(qv_loadu(P + k->koff[s] + q), fl), k->ones[s]);
    qv_storeu(xs + q, qv_sub(qv_splat(0), qv_shl(a, 7)));
  }
}
/* NP pixels x NMB blocks of 32 channels per iteration (NP a multiple of 4, NP * NMB <= 16
 * accumulators); the channel blocks are padded to a multiple of NMB. */
#define QK_CONV_CL(NAME, NP, NMB)                                                           \
static inline void NAME(const qk_convc_t *k, const uint32_t *P, uint8_t *out, uint8_t *tmp,  \
                        qv_t *tb, int32_t *xs) {                                            \
  int mb, q, i, j, s, nmb = (k->m + 31) >> 5, nk = k->nk, nq = (k->npix + NP - 1) / NP;     \
  const int32_t *koff = (const int32_t *)QCC_ASSUME128(k->koff);                           \
  qk_convc_sums(k, P, xs);                                                                  \
  for (mb = 0; mb < nmb; mb += NMB) {                                                       \
    const qv_t *w0 = (const qv_t *)(const void *)k->w + (size_t)mb * nk;                    \
    for (q = 0; q < nq; q++) {                                                              \
      const int32_t *pq = k->pix + NP * q;                                                  \
      const uint32_t *p[NP];                                                                \
      qv_t acc[NMB][NP];                                                                    \
      int32_t x[NP];                                                                        \
      for (i = 0; i < NP; i++) p[i] = P + pq[i];                                            \
      for (j = 0; j < NMB; j++) {                                                           \
        qv_t b = qv_loadu(k->bias + 32 * (mb + j));                                         \
        for (i = 0; i < NP; i++) acc[j][i] = qv_add(b, qv_splat(xs[pq[i]]));                \
      }                                                                                     \
      /* software pipelined: the next step's input words load during this step's vrmpy   \
       * (koff has one extra entry) */                                                      \
      for (i = 0; i < NP; i++) x[i] = (int32_t)p[i][koff[0]];                               \
      for (s = 0; s < nk; s++) {                                                            \
        int32_t o = koff[s + 1];                                                            \
        int32_t xn[NP];                                                                     \
        for (i = 0; i < NP; i++) xn[i] = (int32_t)p[i][o];                                  \
        for (j = 0; j < NMB; j++) {                                                         \
          qv_t wv = qv_load(w0 + (size_t)j * nk + s);                                       \
          for (i = 0; i < NP; i++) acc[j][i] = qv_vrmpy_ubrb(acc[j][i], wv, x[i]);          \
        }                                                                                   \
        for (i = 0; i < NP; i++) x[i] = xn[i];                                              \
      }                                                                                     \
      for (j = 0; j < NMB; j++)                                                             \
        for (i = 0; i < NP; i += 4)                                                         \
          qv_store(tb + 32 * j + (((NP / 4) * q + i / 4) & 31),                             \
                   qk_convc_pack(qk_convc_rq(k, mb + j, acc[j][i]),                         \
                                 qk_convc_rq(k, mb + j, acc[j][i + 1]),                     \
                                 qk_convc_rq(k, mb + j, acc[j][i + 2]),                     \
                                 qk_convc_rq(k, mb + j, acc[j][i + 3])));                   \
      if ((((NP / 4) * (q + 1)) & 31) == 0 || q == nq - 1)                                  \
        for (j = 0; j < NMB; j++)                                                           \
          qk_convc_flush(k, tb + 32 * j, ((NP / 4) * q) >> 5,                               \
                         tmp + (size_t)32 * j * k->tstride);                                \
    }                                                                                       \
    qk_convc_out(k, 32 * mb, 32 * NMB, tmp, out);                                           \
  }                                                                                         \
}
QK_CONV_CL(qk_conv_cl1, 8, 1)
QK_CONV_CL(qk_conv_cl2, 8, 2)
QK_CONV_CL(qk_conv_cl4, 4, 4)

/* The same convolution for small planes: one vector of 32 flat output positions x 16
 * output channels per block (weights [ceil(m/16)][nk][16] words, bias [ceil(m/16)*16]). */
static inline void qk_conv_vrmpy16(const qk_conv_t *k, const uint32_t *P, uint8_t *out, uint8_t *tmp) {
  int mb, nmb = (k->m + 15) >> 4, nk = k->nk;
  const int32_t *koff = k->koff;
  for (mb = 0; mb < nmb; mb++) {
    int pb, j;
    for (pb = 0; pb < k->nflat; pb += 32) {
      const int32_t *wp = k->w + (size_t)mb * nk * 16;
      int s, m = 16 * mb;
      qv_t r;
      qv_t a0 = qv_splat(k->bias[16 * mb + 0]), a1 = qv_splat(k->bias[16 * mb + 1]), a2 = qv_splat(k->bias[16 * mb + 2]), a3 = qv_splat(k->bias[16 * mb + 3]), a4 = qv_splat(k->bias[16 * mb + 4]), a5 = qv_splat(k->bias[16 * mb + 5]), a6 = qv_splat(k->bias[16 * mb + 6]), a7 = qv_splat(k->bias[16 * mb + 7]), a8 = qv_splat(k->bias[16 * mb + 8]), a9 = qv_splat(k->bias[16 * mb + 9]), a10 = qv_splat(k->bias[16 * mb + 10]), a11 = qv_splat(k->bias[16 * mb + 11]), a12 = qv_splat(k->bias[16 * mb + 12]), a13 = qv_splat(k->bias[16 * mb + 13]), a14 = qv_splat(k->bias[16 * mb + 14]), a15 = qv_splat(k->bias[16 * mb + 15]);
      for (s = 0; s < nk; s += 2, wp += 32) {
        qv_t x = qv_loadu(P + pb + koff[s]), y = qv_loadu(P + pb + koff[s + 1]);
        int32_t w0 = wp[0], w1 = wp[1], w2 = wp[2], w3 = wp[3], w4 = wp[4], w5 = wp[5], w6 = wp[6], w7 = wp[7], w8 = wp[8], w9 = wp[9], w10 = wp[10], w11 = wp[11], w12 = wp[12], w13 = wp[13], w14 = wp[14], w15 = wp[15];
        int32_t v0 = wp[16], v1 = wp[17], v2 = wp[18], v3 = wp[19], v4 = wp[20], v5 = wp[21], v6 = wp[22], v7 = wp[23], v8 = wp[24], v9 = wp[25], v10 = wp[26], v11 = wp[27], v12 = wp[28], v13 = wp[29], v14 = wp[30], v15 = wp[31];
        a0 = qv_vrmpy_ubrb(a0, x, w0);
        a1 = qv_vrmpy_ubrb(a1, x, w1);
        a2 = qv_vrmpy_ubrb(a2, x, w2);
        a3 = qv_vrmpy_ubrb(a3, x, w3);
        a4 = qv_vrmpy_ubrb(a4, x, w4);
        a5 = qv_vrmpy_ubrb(a5, x, w5);
        a6 = qv_vrmpy_ubrb(a6, x, w6);
        a7 = qv_vrmpy_ubrb(a7, x, w7);
        a8 = qv_vrmpy_ubrb(a8, x, w8);
        a9 = qv_vrmpy_ubrb(a9, x, w9);
        a10 = qv_vrmpy_ubrb(a10, x, w10);
        a11 = qv_vrmpy_ubrb(a11, x, w11);
        a12 = qv_vrmpy_ubrb(a12, x, w12);
        a13 = qv_vrmpy_ubrb(a13, x, w13);
        a14 = qv_vrmpy_ubrb(a14, x, w14);
        a15 = qv_vrmpy_ubrb(a15, x, w15);
        a0 = qv_vrmpy_ubrb(a0, y, v0);
        a1 = qv_vrmpy_ubrb(a1, y, v1);
        a2 = qv_vrmpy_ubrb(a2, y, v2);
        a3 = qv_vrmpy_ubrb(a3, y, v3);
        a4 = qv_vrmpy_ubrb(a4, y, v4);
        a5 = qv_vrmpy_ubrb(a5, y, v5);
        a6 = qv_vrmpy_ubrb(a6, y, v6);
        a7 = qv_vrmpy_ubrb(a7, y, v7);
        a8 = qv_vrmpy_ubrb(a8, y, v8);
        a9 = qv_vrmpy_ubrb(a9, y, v9);
        a10 = qv_vrmpy_ubrb(a10, y, v10);
        a11 = qv_vrmpy_ubrb(a11, y, v11);
        a12 = qv_vrmpy_ubrb(a12, y, v12);
        a13 = qv_vrmpy_ubrb(a13, y, v13);
        a14 = qv_vrmpy_ubrb(a14, y, v14);
        a15 = qv_vrmpy_ubrb(a15, y, v15);
      }
      if (m + 0 < k->m) { r = qv_rq1(a0, k->m0[m + 0], k->shift[m + 0], &k->out); qv_storeu(tmp + (size_t)0 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 1 < k->m) { r = qv_rq1(a1, k->m0[m + 1], k->shift[m + 1], &k->out); qv_storeu(tmp + (size_t)1 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 2 < k->m) { r = qv_rq1(a2, k->m0[m + 2], k->shift[m + 2], &k->out); qv_storeu(tmp + (size_t)2 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 3 < k->m) { r = qv_rq1(a3, k->m0[m + 3], k->shift[m + 3], &k->out); qv_storeu(tmp + (size_t)3 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 4 < k->m) { r = qv_rq1(a4, k->m0[m + 4], k->shift[m + 4], &k->out); qv_storeu(tmp + (size_t)4 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 5 < k->m) { r = qv_rq1(a5, k->m0[m + 5], k->shift[m + 5], &k->out); qv_storeu(tmp + (size_t)5 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 6 < k->m) { r = qv_rq1(a6, k->m0[m + 6], k->shift[m + 6], &k->out); qv_storeu(tmp + (size_t)6 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 7 < k->m) { r = qv_rq1(a7, k->m0[m + 7], k->shift[m + 7], &k->out); qv_storeu(tmp + (size_t)7 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 8 < k->m) { r = qv_rq1(a8, k->m0[m + 8], k->shift[m + 8], &k->out); qv_storeu(tmp + (size_t)8 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 9 < k->m) { r = qv_rq1(a9, k->m0[m + 9], k->shift[m + 9], &k->out); qv_storeu(tmp + (size_t)9 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 10 < k->m) { r = qv_rq1(a10, k->m0[m + 10], k->shift[m + 10], &k->out); qv_storeu(tmp + (size_t)10 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 11 < k->m) { r = qv_rq1(a11, k->m0[m + 11], k->shift[m + 11], &k->out); qv_storeu(tmp + (size_t)11 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 12 < k->m) { r = qv_rq1(a12, k->m0[m + 12], k->shift[m + 12], &k->out); qv_storeu(tmp + (size_t)12 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 13 < k->m) { r = qv_rq1(a13, k->m0[m + 13], k->shift[m + 13], &k->out); qv_storeu(tmp + (size_t)13 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 14 < k->m) { r = qv_rq1(a14, k->m0[m + 14], k->shift[m + 14], &k->out); qv_storeu(tmp + (size_t)14 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
      if (m + 15 < k->m) { r = qv_rq1(a15, k->m0[m + 15], k->shift[m + 15], &k->out); qv_storeu(tmp + (size_t)15 * k->tmp_stride + pb, qv_pack4_b(r, r, r, r)); }
    }
    for (j = 0; j < 16; j++) {
      int m = 16 * mb + j, oh, x;
      if (m >= k->m) break;
      for (oh = 0; oh < k->ho; oh++) {
        const uint8_t *s = tmp + (size_t)j * k->tmp_stride + (size_t)oh * k->wq;
        uint8_t *d = out + ((size_t)m * k->ho + oh) * k->wo;
        for (x = 0; x < k->wo; x += 128) qv_storeu(d + x, qv_loadu(s + x));
      }
    }
  }
}

/* GemmInt rows with vrmpy: each lane one output column, the 4 bytes of a lane 4 consecutive
 * k; activations are splat 4 at a time. wv is [ceil(n/32)][ceil(k/4)][32][4] bytes. The
 * int32 accumulators (bias with the zero-point term folded in) go to acc[n]. */
static inline void qk_gemm_row(const uint8_t *a, int K, int N, uint32_t flip, const int8_t *wv,
                        const int32_t *bias, int32_t *acc, int32_t *tmp) {
  int nb, kg, nkg = (K + 3) >> 2, nnb = (N + 31) >> 5;
  for (nb = 0; nb < nnb; nb++) {
    qv_t s = qv_loadu(bias + 32 * nb);
    const int8_t *w = wv + (size_t)nb * nkg * 128;
    int i;
    for (kg = 0; kg < nkg; kg++, w += 128) {
      const uint8_t *p = a + 4 * kg;
      uint32_t word = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                      ((uint32_t)p[3] << 24);
      s = qv_vrmpy_ubvb(s, qv_splat((int32_t)(word ^ flip)), qv_loadu(w));
    }
    qv_storeu(tmp, s);
    for (i = 0; i < 32 && 32 * nb + i < N; i++) acc[32 * nb + i] = tmp[i];
  }
}

/* Max pooling of u8/i8 NCHW planes (flip = 0x80 maps i8 order onto u8), strides 1 or 2, no
 * dilation: per output row the valid input rows' vertical max goes to rb (128 bytes of
 * left padding, then the row, then the right padding), then the horizontal max over kw
 * shifted loads; stride 2 keeps the even positions. rb holds 128 + w + pr + 256 bytes. */
typedef struct { int nc, h, w, ho, wo, kh, kw, sh, sw, pt, pl, pr; int32_t flip; } qk_maxpool_t;
static inline void qk_maxpool_b(const qk_maxpool_t *k, const uint8_t *x, uint8_t *y, uint8_t *rb) {
  qv_t fl = qv_splat(k->flip), zero = qv_splat(0);
  int p, oh, c, i, j;
  qv_storeu(rb, zero);
  for (p = 0; p < k->nc; p++)
    for (oh = 0; oh < k->ho; oh++) {
      int i0 = oh * k->sh - k->pt, i1 = i0 + k->kh;
      const uint8_t *plane = x + (size_t)p * k->h * k->w;
      uint8_t *out = y + ((size_t)p * k->ho + oh) * k->wo;
      if (i0 < 0) i0 = 0;
      if (i1 > k->h) i1 = k->h;
      for (c = 0; c < k->w; c += 128) {
        qv_t r = zero;
        for (i = i0; i < i1; i++) r = qv_maxub(r, qv_xor(qv_loadu(plane + (size_t)i * k->w + c), fl));
        qv_storeu(rb + 128 + c, r);
      }
      for (j = 0; j < k->pr; j++) rb[128 + k->w + j] = 0;
      if (k->sw == 1) {
        for (c = 0; c < k->wo; c += 128) {
          const uint8_t *s = rb + 128 - k->pl + c;
          qv_t m = qv_loadu(s);
          for (j = 1; j < k->kw; j++) m = qv_maxub(m, qv_loadu(s + j));
          qv_storeu(out + c, qv_xor(m, fl));
        }
      } else {
        for (c = 0; c < k->wo; c += 128) {
          const uint8_t *s = rb + 128 - k->pl + 2 * c;
          qv_t m0 = qv_loadu(s), m1 = qv_loadu(s + 128);
          for (j = 1; j < k->kw; j++) {
            m0 = qv_maxub(m0, qv_loadu(s + j));
            m1 = qv_maxub(m1, qv_loadu(s + 128 + j));
          }
          qv_storeu(out + c, qv_xor(qv_packe_b(m1, m0), fl));
        }
      }
    }
}

/* AddInt of two same-shape u8/i8 tensors (ir::arith: each side's zero point removed,
 * shifted left, rescaled, summed with wrap, requantized). 128 elements per step as four
 * vectors of every fourth byte. sa/sb: 1 for i8 inputs (sign extension). */
typedef struct {
  size_t n; int32_t za, zb, lsh, ma, sa_, mb, sb_; int sgn_a, sgn_b, sgn_y; qk_out_t o;
  int32_t mo, so;
} qk_add_t;
static inline qv_t qv_byte(qv_t v, int k, int sgn) {
  return sgn ? qv_asr(qv_shl(v, 24 - 8 * k), 24) : qv_and(qv_lsr(v, 8 * k), qv_splat(255));
}
static inline void qk_add_b(const qk_add_t *k, const uint8_t *a, const uint8_t *b, uint8_t *y) {
  size_t i;
  qv_t za = qv_splat(k->za), zb = qv_splat(k->zb), m255 = qv_splat(255);
  qv_rq_t rq;
  qv_rq_init(&rq, k->mo, k->so, &k->o);
  for (i = 0; i < k->n; i += 128) {
    qv_t va = qv_loadu(a + i), vb = qv_loadu(b + i), r = qv_splat(0);
    int q;
    for (q = 0; q < 4; q++) {
      qv_t xa = qv_shl(qv_sub(qv_byte(va, q, k->sgn_a), za), k->lsh);
      qv_t xb = qv_shl(qv_sub(qv_byte(vb, q, k->sgn_b), zb), k->lsh);
      qv_t s = qv_add(qv_mulshift(xa, k->ma, k->sa_, k->o.mode), qv_mulshift(xb, k->mb, k->sb_, k->o.mode));
      r = qv_or(r, qv_shl(qv_and(qv_rq(&rq, s), m255), 8 * q));
    }
    qv_storeu(y + i, r);
  }
}
