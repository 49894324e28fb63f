//@ base
/* ---- Kernel library (qcc backends/src/c/prelude.c) ----
 * Arithmetic transliterated from qcc's ir::arith (each function names its original);
 * kernels follow backends::program::Kernel. No division, no libc, no allocation.
 * The arena is accessed byte-wise in little-endian order (always well-defined C, whatever
 * the tensors that shared a region before); constants and user buffers are typed. */

typedef struct {
    const void *p;
    int t;
} qcc_in;

/* Operand element codes: typed arrays (constants, user buffers) and arena bytes. */
enum {
    QCC_I32 = 0,
    QCC_I16 = 1,
    QCC_I8 = 2,
    QCC_U8 = 3,
    QCC_A_I32 = 4,
    QCC_A_I16 = 5,
    QCC_A_I8 = 6,
    QCC_A_U8 = 7,
    /* 4-bit arena values, two per byte: element i in byte i/2, low nibble first. */
    QCC_A_I4 = 8,
    QCC_A_U4 = 9,
    /* Bit-packed signed constants of b bits (2..7) have code QCC_P0 + b: element i occupies
     * bits [i*b, (i+1)*b) of a little-endian bit stream (one padding byte at the end). */
    QCC_P0 = 16
};

static int32_t qcc_ld(const void *p, int t, int32_t i)
{
    const unsigned char *b = (const unsigned char *)p;
    uint32_t u;
    switch (t) {
    case QCC_I32:
        return ((const int32_t *)p)[i];
    case QCC_I16:
        return ((const int16_t *)p)[i];
    case QCC_I8:
        return ((const int8_t *)p)[i];
    case QCC_U8:
        return ((const uint8_t *)p)[i];
    case QCC_A_I32:
        b += 4 * i;
        u = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
        return u <= 0x7fffffffu ? (int32_t)u : -(int32_t)(~u) - 1;
    case QCC_A_I16:
        b += 2 * i;
        u = (uint32_t)b[0] | ((uint32_t)b[1] << 8);
        return u < 0x8000u ? (int32_t)u : (int32_t)u - 65536;
    case QCC_A_I8:
        return b[i] < 128 ? (int32_t)b[i] : (int32_t)b[i] - 256;
    case QCC_A_U8:
        return (int32_t)b[i];
    case QCC_A_I4:
        u = ((uint32_t)b[i >> 1] >> (4 * (i & 1))) & 15u;
        return u < 8u ? (int32_t)u : (int32_t)u - 16;
    case QCC_A_U4:
        return (int32_t)(((uint32_t)b[i >> 1] >> (4 * (i & 1))) & 15u);
    default: {
        const int32_t nb = t - QCC_P0, bit = i * nb;
        u = ((uint32_t)b[bit >> 3] | ((uint32_t)b[(bit >> 3) + 1] << 8)) >> (bit & 7);
        u &= (1u << nb) - 1u;
        return u < (1u << (nb - 1)) ? (int32_t)u : (int32_t)u - (1 << nb);
    }
    }
}

/* Stores element i (values always fit the element type). */
static void qcc_st(void *p, int t, int32_t i, int32_t v)
{
    unsigned char *b = (unsigned char *)p;
    uint32_t u = (uint32_t)v;
    switch (t) {
    case QCC_I32:
        ((int32_t *)p)[i] = v;
        break;
    case QCC_I16:
        ((int16_t *)p)[i] = (int16_t)v;
        break;
    case QCC_I8:
        ((int8_t *)p)[i] = (int8_t)v;
        break;
    case QCC_U8:
        ((uint8_t *)p)[i] = (uint8_t)v;
        break;
    case QCC_A_I32:
        b += 4 * i;
        b[0] = (unsigned char)(u & 0xffu);
        b[1] = (unsigned char)((u >> 8) & 0xffu);
        b[2] = (unsigned char)((u >> 16) & 0xffu);
        b[3] = (unsigned char)((u >> 24) & 0xffu);
        break;
    case QCC_A_I16:
        b += 2 * i;
        b[0] = (unsigned char)(u & 0xffu);
        b[1] = (unsigned char)((u >> 8) & 0xffu);
        break;
    case QCC_A_I4:
    case QCC_A_U4:
        b += i >> 1;
        if (i & 1) {
            *b = (unsigned char)((*b & 0x0fu) | ((u & 15u) << 4));
        } else {
            *b = (unsigned char)((*b & 0xf0u) | (u & 15u));
        }
        break;
    default:
        b[i] = (unsigned char)(u & 0xffu);
        break;
    }
}

/* ---- boundary helpers (the hvx-like emitter has its own; it cuts the base section here) ---- */

/* ir::arith::quantize (with ir::arith::round_half_even_f32): no libm, no fast-math. The
 * rounded value is clamped in float to [qmin - zp, qmax - zp] before converting (exact for
 * 4- to 16-bit types), as ir::arith::quantize documents. */
static inline int32_t qcc_quantize(float x, float inv, int32_t zp, int32_t qmin, int32_t qmax)
{
    const float two23 = 8388608.0f;
    float v = x * inv, a, r;
    float lo = (float)(qmin - zp), hi = (float)(qmax - zp);
    if (v != v) {
        return zp < qmin ? qmin : zp > qmax ? qmax : zp;
    }
    a = v < 0.0f ? -v : v;
    if (a >= two23) {
        r = v;
    } else {
        r = (a + two23) - two23;
        if (v < 0.0f) {
            r = -r;
        }
    }
    if (r <= lo) {
        return qmin;
    }
    if (r >= hi) {
        return qmax;
    }
    return (int32_t)r + zp;
}

/* ir::arith::dequantize */
static float qcc_dequantize(int32_t q, float scale, int32_t zp)
{
    float d = (float)((int64_t)q - zp);
    return d * scale;
}

static void qcc_quantize_in(void *y, int t, const float *x, int32_t outer, int32_t ch,
                            int32_t inner, const float *inv, const int32_t *zp, int32_t qmin,
                            int32_t qmax)
{
    int32_t o, c, i, k = 0;
    if (t == QCC_A_U8 || t == QCC_A_I8) {
        unsigned char *yb = (unsigned char *)y;
        for (o = 0; o < outer; o++) {
            for (c = 0; c < ch; c++) {
                for (i = 0; i < inner; i++, k++) {
                    yb[k] = (unsigned char)((uint32_t)qcc_quantize(x[k], inv[c], zp[c], qmin, qmax) & 0xffu);
                }
            }
        }
        return;
    }
    for (o = 0; o < outer; o++) {
        for (c = 0; c < ch; c++) {
            for (i = 0; i < inner; i++, k++) {
                qcc_st(y, t, k, qcc_quantize(x[k], inv[c], zp[c], qmin, qmax));
            }
        }
    }
}

static void qcc_dequantize_out(float *y, const void *x, int t, int32_t outer, int32_t ch,
                               int32_t inner, const float *scale, const int32_t *zp)
{
    int32_t o, c, i, k = 0;
    for (o = 0; o < outer; o++) {
        for (c = 0; c < ch; c++) {
            for (i = 0; i < inner; i++, k++) {
                y[k] = qcc_dequantize(qcc_ld(x, t, k), scale[c], zp[c]);
            }
        }
    }
}

static void qcc_move(void *y, int ty, const void *x, int tx, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        qcc_st(y, ty, i, qcc_ld(x, tx, i));
    }
}

//@ arith
/* The helpers below are `static inline` so a program that uses only some of them compiles
   warning-free (-Wall -Werror): unused inline functions are not diagnosed. */
/* floor(x / 2^n) for 0 <= n <= 62 without shifting a negative number. */
static inline int64_t qcc_asr64(int64_t x, int n)
{
    if (x >= 0) {
        return x >> n;
    }
    return -(((-x) - 1) >> n) - 1;
}

static inline int32_t qcc_sat32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

/* ir::arith::sqrdmulh */
static inline int32_t qcc_sqrdmulh(int32_t a, int32_t b)
{
    int64_t p = (int64_t)a * (int64_t)b;
    int64_t r = qcc_asr64(p + ((int64_t)1 << 30), 31);
    return r > INT32_MAX ? INT32_MAX : (int32_t)r;
}

/* ir::arith::rounding_shift_right; mode 0 = half-up, 1 = half-away-from-zero. For an i32
 * x every n >= 33 gives 0 in both modes, so 64-bit arithmetic is exact. */
static inline int32_t qcc_rshift(int32_t x, int32_t n, int32_t mode)
{
    int64_t v = x, half;
    if (n <= 0) {
        return x;
    }
    if (n > 62) {
        return 0;
    }
    half = (int64_t)1 << (n - 1);
    if (mode == 0) {
        return (int32_t)qcc_asr64(v + half, (int)n);
    }
    if (v >= 0) {
        return (int32_t)((v + half) >> n);
    }
    return (int32_t)(-((half - v) >> n));
}

/* Saturating left shift by 0..32 (a multiply: shifting a negative value is undefined in C). */
static inline int32_t qcc_shl_sat(int32_t x, int32_t left)
{
    if (left > 32) {
        left = 32;
    }
    return qcc_sat32((int64_t)x * ((int64_t)1 << left));
}

/* ir::arith::requantize with m = (m0, shift). */
static inline int32_t qcc_requantize(int32_t acc, int32_t m0, int32_t shift, int32_t zp, int32_t lo,
                              int32_t hi, int32_t mode)
{
    int32_t x = shift < 0 ? qcc_shl_sat(acc, -shift) : acc;
    int64_t y;
    /* m0 = 2^30 (every multiplier of a --scales pow2 program): sqrdmulh is a rounding
     * halving, so no multiply (ir::arith::requantize_pow2). */
    x = m0 == 0x40000000 ? (int32_t)qcc_asr64((int64_t)x + 1, 1) : qcc_sqrdmulh(x, m0);
    if (shift > 0) {
        x = qcc_rshift(x, shift, mode);
    }
    y = (int64_t)x + zp;
    if (y < lo) {
        y = lo;
    }
    if (y > hi) {
        y = hi;
    }
    return (int32_t)y;
}

//@ conv
static void k_conv(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t N = p[0], C = p[1], H = p[2], W = p[3], M = p[4], KH = p[5], KW = p[6];
    const int32_t OH = p[7], OW = p[8], SH = p[9], SW = p[10], DH = p[11], DW = p[12];
    const int32_t PT = p[13], PL = p[14], G = p[15], ZPX = p[16], HAS_BIAS = p[17];
    const int32_t CG = p[18], MG = p[19];
    /* REQ: the fused requantize epilogue (k_requant's arithmetic, tables in[3..6]). */
    const int32_t REQ = p[20], RQC = p[21], ZPO = p[22], LO = p[23], HI = p[24], MODE = p[25];
    int32_t b, gi, mi, oy, ox, ci, ky, kx;
    for (b = 0; b < N; b++) {
        for (gi = 0; gi < G; gi++) {
            for (mi = 0; mi < MG; mi++) {
                const int32_t oc = gi * MG + mi;
                const int32_t rc = RQC ? oc : 0;
                const int32_t m0 = REQ ? qcc_ld(in[3].p, in[3].t, rc) : 0;
                const int32_t sh = REQ ? qcc_ld(in[4].p, in[4].t, rc) : 0;
                const int32_t zpi = REQ ? qcc_ld(in[5].p, in[5].t, rc) : 0;
                for (oy = 0; oy < OH; oy++) {
                    for (ox = 0; ox < OW; ox++) {
                        int32_t acc = HAS_BIAS ? qcc_ld(in[2].p, in[2].t, oc) : 0;
                        for (ci = 0; ci < CG; ci++) {
                            const int32_t ic = gi * CG + ci;
                            for (ky = 0; ky < KH; ky++) {
                                const int32_t iy = oy * SH + ky * DH - PT;
                                if (iy < 0 || iy >= H) {
                                    continue;
                                }
                                for (kx = 0; kx < KW; kx++) {
                                    const int32_t ix = ox * SW + kx * DW - PL;
                                    int32_t xv, wv;
                                    if (ix < 0 || ix >= W) {
                                        continue;
                                    }
                                    xv = qcc_ld(in[0].p, in[0].t, ((b * C + ic) * H + iy) * W + ix) - ZPX;
                                    wv = qcc_ld(in[1].p, in[1].t, ((oc * CG + ci) * KH + ky) * KW + kx);
                                    acc += xv * wv;
                                }
                            }
                        }
                        if (REQ) {
                            acc = qcc_requantize((int32_t)((uint32_t)acc - (uint32_t)zpi), m0, sh, ZPO,
                                                 LO, HI, MODE);
                        }
                        qcc_st(y, ty, ((b * M + oc) * OH + oy) * OW + ox, acc);
                    }
                }
            }
        }
    }
}

//@ conv_transpose
static void k_conv_transpose(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t N = p[0], C = p[1], H = p[2], W = p[3], M = p[4], KH = p[5], KW = p[6];
    const int32_t OH = p[7], OW = p[8], SH = p[9], SW = p[10], DH = p[11], DW = p[12];
    const int32_t PT = p[13], PL = p[14], G = p[15], ZPX = p[16], HAS_BIAS = p[17];
    const int32_t CG = p[18], MG = p[19];
    int32_t b, gi, mi, oc, iy, ix, ci, ky, kx, k;
    for (b = 0; b < N; b++) {
        for (oc = 0; oc < M; oc++) {
            const int32_t bias = HAS_BIAS ? qcc_ld(in[2].p, in[2].t, oc) : 0;
            for (k = 0; k < OH * OW; k++) {
                qcc_st(y, ty, (b * M + oc) * OH * OW + k, bias);
            }
        }
        for (gi = 0; gi < G; gi++) {
            for (ci = 0; ci < CG; ci++) {
                const int32_t ic = gi * CG + ci;
                for (iy = 0; iy < H; iy++) {
                    for (ix = 0; ix < W; ix++) {
                        const int32_t xv = qcc_ld(in[0].p, in[0].t, ((b * C + ic) * H + iy) * W + ix) - ZPX;
                        for (mi = 0; mi < MG; mi++) {
                            oc = gi * MG + mi;
                            for (ky = 0; ky < KH; ky++) {
                                const int32_t oy = iy * SH + ky * DH - PT;
                                if (oy < 0 || oy >= OH) {
                                    continue;
                                }
                                for (kx = 0; kx < KW; kx++) {
                                    const int32_t ox = ix * SW + kx * DW - PL;
                                    int32_t wv;
                                    if (ox < 0 || ox >= OW) {
                                        continue;
                                    }
                                    wv = qcc_ld(in[1].p, in[1].t, ((ic * MG + mi) * KH + ky) * KW + kx);
                                    k = ((b * M + oc) * OH + oy) * OW + ox;
                                    qcc_st(y, ty, k, qcc_ld(y, ty, k) + xv * wv);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

//@ matmul
/* The fused requantize epilogue of k_matmul for channel rc (k_requant's arithmetic, tables
   in[4..7]). */
static int32_t qcc_matmul_req(const qcc_in *in, int32_t acc, int32_t rc, int32_t zpo, int32_t lo,
                              int32_t hi, int32_t mode)
{
    const int32_t zpi = qcc_ld(in[6].p, in[6].t, rc);
    return qcc_requantize((int32_t)((uint32_t)acc - (uint32_t)zpi), qcc_ld(in[4].p, in[4].t, rc),
                          qcc_ld(in[5].p, in[5].t, rc), zpo, lo, hi, mode);
}

static void k_matmul(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t M = p[0], K = p[1], N = p[2], TRANS_B = p[3], ZPA = p[4], ZPB = p[5];
    const int32_t HAS_BIAS = p[6], NB = p[7];
    /* REQ: the fused requantize epilogue (k_requant's arithmetic, tables in[4..7]). */
    const int32_t REQ = p[8], RQC = p[9], ZPO = p[10], LO = p[11], HI = p[12], MODE = p[13];
    int32_t bi, i, j, kk;
    if ((in[0].t == QCC_A_U8 || in[0].t == QCC_A_I8) && in[1].t == QCC_I8 && TRANS_B) {
        /* 8-bit activations by i8 constant rows: the same sums without the typed accessors. */
        const unsigned char *a8 = (const unsigned char *)in[0].p;
        const int8_t *b8 = (const int8_t *)in[1].p;
        const int32_t sx = in[0].t == QCC_A_I8 ? 128 : 0;
        for (bi = 0; bi < NB; bi++) {
            const int32_t ao = qcc_ld(in[3].p, in[3].t, 2 * bi);
            const int32_t bo = qcc_ld(in[3].p, in[3].t, 2 * bi + 1);
            for (i = 0; i < M; i++) {
                for (j = 0; j < N; j++) {
                    int32_t acc = HAS_BIAS ? qcc_ld(in[2].p, in[2].t, j) : 0;
                    for (kk = 0; kk < K; kk++) {
                        const int32_t x = (int32_t)(a8[ao + i * K + kk] ^ sx) - sx - ZPA;
                        acc += x * ((int32_t)b8[bo + j * K + kk] - ZPB);
                    }
                    if (REQ) {
                        acc = qcc_matmul_req(in, acc, RQC ? j : 0, ZPO, LO, HI, MODE);
                    }
                    qcc_st(y, ty, (bi * M + i) * N + j, acc);
                }
            }
        }
        return;
    }
    for (bi = 0; bi < NB; bi++) {
        const int32_t ao = qcc_ld(in[3].p, in[3].t, 2 * bi);
        const int32_t bo = qcc_ld(in[3].p, in[3].t, 2 * bi + 1);
        for (i = 0; i < M; i++) {
            for (j = 0; j < N; j++) {
                int32_t acc = HAS_BIAS ? qcc_ld(in[2].p, in[2].t, j) : 0;
                for (kk = 0; kk < K; kk++) {
                    const int32_t x = qcc_ld(in[0].p, in[0].t, ao + i * K + kk) - ZPA;
                    const int32_t bidx = TRANS_B ? bo + j * K + kk : bo + kk * N + j;
                    acc += x * (qcc_ld(in[1].p, in[1].t, bidx) - ZPB);
                }
                if (REQ) {
                    acc = qcc_matmul_req(in, acc, RQC ? j : 0, ZPO, LO, HI, MODE);
                }
                qcc_st(y, ty, (bi * M + i) * N + j, acc);
            }
        }
    }
}

//@ requant
static void k_requant(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t OUTER = p[0], CH = p[1], INNER = p[2], ZP = p[3], LO = p[4], HI = p[5];
    const int32_t MODE = p[6];
    int32_t o, c, i, k = 0;
    for (o = 0; o < OUTER; o++) {
        for (c = 0; c < CH; c++) {
            const int32_t m0 = qcc_ld(in[1].p, in[1].t, c);
            const int32_t sh = qcc_ld(in[2].p, in[2].t, c);
            const int32_t zpi = qcc_ld(in[3].p, in[3].t, c);
            for (i = 0; i < INNER; i++, k++) {
                const int32_t v = (int32_t)((uint32_t)qcc_ld(in[0].p, in[0].t, k) - (uint32_t)zpi);
                qcc_st(y, ty, k, qcc_requantize(v, m0, sh, ZP, LO, HI, MODE));
            }
        }
    }
}

//@ add
static void k_add(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t RANK = p[0], NUMEL = p[1], ZPA = p[2], ZPB = p[3], ZPY = p[4], SHIFT = p[5];
    const int32_t MA0 = p[6], MAS = p[7], MB0 = p[8], MBS = p[9], MO0 = p[10], MOS = p[11];
    const int32_t MODE = p[12], LO = p[13], HI = p[14];
    const int32_t *dims = (const int32_t *)in[2].p;
    const int32_t *sa = (const int32_t *)in[3].p;
    const int32_t *sb = (const int32_t *)in[4].p;
    int32_t idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t i, d, oa = 0, ob = 0;
    for (i = 0; i < NUMEL; i++) {
        const int32_t xa = qcc_shl_sat(qcc_ld(in[0].p, in[0].t, oa) - ZPA, SHIFT);
        const int32_t xb = qcc_shl_sat(qcc_ld(in[1].p, in[1].t, ob) - ZPB, SHIFT);
        const int32_t ra = qcc_requantize(xa, MA0, MAS, 0, INT32_MIN, INT32_MAX, MODE);
        const int32_t rb = qcc_requantize(xb, MB0, MBS, 0, INT32_MIN, INT32_MAX, MODE);
        const int32_t s = qcc_sat32((int64_t)ra + rb);
        qcc_st(y, ty, i, qcc_requantize(s, MO0, MOS, ZPY, LO, HI, MODE));
        for (d = RANK - 1; d >= 0; d--) {
            idx[d]++;
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < dims[d]) {
                break;
            }
            oa -= sa[d] * dims[d];
            ob -= sb[d] * dims[d];
            idx[d] = 0;
        }
    }
}

//@ mul
static void k_mul(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t RANK = p[0], NUMEL = p[1], ZPA = p[2], ZPB = p[3], ZPY = p[4];
    const int32_t M0 = p[5], MS = p[6], MODE = p[7], LO = p[8], HI = p[9];
    const int32_t *dims = (const int32_t *)in[2].p;
    const int32_t *sa = (const int32_t *)in[3].p;
    const int32_t *sb = (const int32_t *)in[4].p;
    int32_t idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t i, d, oa = 0, ob = 0;
    for (i = 0; i < NUMEL; i++) {
        const int32_t prod = (qcc_ld(in[0].p, in[0].t, oa) - ZPA) * (qcc_ld(in[1].p, in[1].t, ob) - ZPB);
        qcc_st(y, ty, i, qcc_requantize(prod, M0, MS, ZPY, LO, HI, MODE));
        for (d = RANK - 1; d >= 0; d--) {
            idx[d]++;
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < dims[d]) {
                break;
            }
            oa -= sa[d] * dims[d];
            ob -= sb[d] * dims[d];
            idx[d] = 0;
        }
    }
}

//@ max_pool
static void k_max_pool(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t PLANES = p[0], H = p[1], W = p[2], OH = p[3], OW = p[4], DH = p[5], DW = p[6];
    const int32_t EMPTY = p[7];
    const int32_t *hs = (const int32_t *)in[1].p, *hn = (const int32_t *)in[2].p;
    const int32_t *ws = (const int32_t *)in[3].p, *wn = (const int32_t *)in[4].p;
    int32_t pl, oy, ox, a, b;
    if (in[0].t == QCC_A_U8 && ty == QCC_A_U8) {
        /* Bytes in and out: the same maximum without the typed accessors, accumulated in
         * the output row one input row at a time (0 is below or equal to every byte; an
         * empty window keeps EMPTY). */
        const unsigned char *x = (const unsigned char *)in[0].p;
        unsigned char *yb = (unsigned char *)y;
        const unsigned char empty = (unsigned char)((uint32_t)EMPTY & 0xffu);
        for (pl = 0; pl < PLANES; pl++) {
            for (oy = 0; oy < OH; oy++) {
                const int32_t h0 = hs[oy], nh = hn[oy];
                unsigned char *dst = yb + (pl * OH + oy) * OW;
                int32_t ox0, i;
                /* Chunks of 64 outputs accumulated in a local row (no aliasing with x). */
                for (ox0 = 0; ox0 < OW; ox0 += 64) {
                    const int32_t n = OW - ox0 < 64 ? OW - ox0 : 64;
                    unsigned char best[64];
                    for (i = 0; i < n; i++) {
                        best[i] = nh > 0 && wn[ox0 + i] > 0 ? 0 : empty;
                    }
                    /* The run [rs, re) of 3-wide windows at stride 2 (DW 1): a loop with
                     * fixed strides that compilers vectorize. */
                    int32_t rs = 0, re = 0;
                    while (rs < n && wn[ox0 + rs] != 3) {
                        rs++;
                    }
                    re = rs;
                    if (DW == 1) {
                        while (re < n && wn[ox0 + re] == 3 && ws[ox0 + re] == ws[ox0 + rs] + 2 * (re - rs)) {
                            re++;
                        }
                    }
                    for (a = 0; a < nh; a++) {
                        const unsigned char *row = x + (pl * H + h0 + a * DH) * W;
                        if (re > rs) {
                            const unsigned char *r0 = row + ws[ox0 + rs];
                            for (i = rs; i < re; i++) {
                                const unsigned char *r = r0 + 2 * (i - rs);
                                const unsigned char u = r[0] > r[1] ? r[0] : r[1];
                                const unsigned char v = u > r[2] ? u : r[2];
                                best[i] = v > best[i] ? v : best[i];
                            }
                        }
                        for (i = 0; i < n; i++) {
                            const unsigned char *r = row + ws[ox0 + i];
                            const int32_t nw = wn[ox0 + i];
                            unsigned char m = best[i];
                            if (i == rs && re > rs) {
                                i = re - 1;
                                continue;
                            }
                            if (nw == 3) {
                                const unsigned char u = r[0] > r[DW] ? r[0] : r[DW];
                                const unsigned char v = u > r[2 * DW] ? u : r[2 * DW];
                                m = v > m ? v : m;
                            } else {
                                for (b = 0; b < nw; b++) {
                                    m = r[b * DW] > m ? r[b * DW] : m;
                                }
                            }
                            best[i] = m;
                        }
                    }
                    for (i = 0; i < n; i++) {
                        dst[ox0 + i] = best[i];
                    }
                }
            }
        }
        return;
    }
    for (pl = 0; pl < PLANES; pl++) {
        for (oy = 0; oy < OH; oy++) {
            for (ox = 0; ox < OW; ox++) {
                int32_t best = EMPTY, any = 0;
                for (a = 0; a < hn[oy]; a++) {
                    const int32_t iy = hs[oy] + a * DH;
                    for (b = 0; b < wn[ox]; b++) {
                        const int32_t ix = ws[ox] + b * DW;
                        const int32_t v = qcc_ld(in[0].p, in[0].t, (pl * H + iy) * W + ix);
                        if (!any || v > best) {
                            best = v;
                            any = 1;
                        }
                    }
                }
                qcc_st(y, ty, (pl * OH + oy) * OW + ox, best);
            }
        }
    }
}

//@ avg_pool
/* ir::arith::average with recip = (m0, shift). */
static int32_t qcc_average(int32_t sum, int32_t m0, int32_t shift, int32_t mode)
{
    int32_t t = qcc_sqrdmulh(qcc_shl_sat(sum, 2), m0);
    int32_t total = shift + 2;
    if (total >= 0) {
        return qcc_rshift(t, total, mode);
    }
    return qcc_shl_sat(t, -total);
}

static void k_avg_pool(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t PLANES = p[0], H = p[1], W = p[2], OH = p[3], OW = p[4], DH = p[5], DW = p[6];
    const int32_t ZP = p[7], INCLUDE_PAD = p[8], MODE = p[9];
    const int32_t *hs = (const int32_t *)in[1].p, *hn = (const int32_t *)in[2].p;
    const int32_t *hp = (const int32_t *)in[3].p, *ws = (const int32_t *)in[4].p;
    const int32_t *wn = (const int32_t *)in[5].p, *wp = (const int32_t *)in[6].p;
    const int32_t *rm0 = (const int32_t *)in[7].p, *rsh = (const int32_t *)in[8].p;
    int32_t pl, oy, ox, a, b;
    for (pl = 0; pl < PLANES; pl++) {
        for (oy = 0; oy < OH; oy++) {
            for (ox = 0; ox < OW; ox++) {
                int32_t sum = 0, count;
                for (a = 0; a < hn[oy]; a++) {
                    const int32_t iy = hs[oy] + a * DH;
                    for (b = 0; b < wn[ox]; b++) {
                        const int32_t ix = ws[ox] + b * DW;
                        sum += qcc_ld(in[0].p, in[0].t, (pl * H + iy) * W + ix) - ZP;
                    }
                }
                count = INCLUDE_PAD ? hp[oy] * wp[ox] : hn[oy] * wn[ox];
                qcc_st(y, ty, (pl * OH + oy) * OW + ox,
                       ZP + qcc_average(sum, rm0[count], rsh[count], MODE));
            }
        }
    }
}

//@ lut
static void k_lut(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t OUTER = p[0], CH = p[1], INNER = p[2], XMIN = p[3];
    const int32_t *table = (const int32_t *)in[1].p;
    int32_t o, c, i, k = 0;
    for (o = 0; o < OUTER; o++) {
        for (c = 0; c < CH; c++) {
            for (i = 0; i < INNER; i++, k++) {
                qcc_st(y, ty, k, table[c * 256 + qcc_ld(in[0].p, in[0].t, k) - XMIN]);
            }
        }
    }
}

//@ gather
static void k_gather(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t RANK = p[0], NUMEL = p[1], FILL = p[2];
    const int32_t *dims = (const int32_t *)in[1].p;
    const int32_t *tabs = (const int32_t *)in[2].p;
    int32_t start[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t i, d;
    for (d = 1; d < RANK; d++) {
        start[d] = start[d - 1] + dims[d - 1];
    }
    for (i = 0; i < NUMEL; i++) {
        int32_t off = 0, hole = 0;
        for (d = 0; d < RANK; d++) {
            const int32_t t = tabs[start[d] + idx[d]];
            hole |= t < 0;
            off += t;
        }
        qcc_st(y, ty, i, hole ? FILL : qcc_ld(in[0].p, in[0].t, off));
        for (d = RANK - 1; d >= 0; d--) {
            idx[d]++;
            if (idx[d] < dims[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
}

//@ copy
static void k_copy(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t OUTER = p[0], LEN = p[1], SS = p[2], SO = p[3], DS = p[4], DO = p[5];
    int32_t o, j;
    for (o = 0; o < OUTER; o++) {
        for (j = 0; j < LEN; j++) {
            qcc_st(y, ty, o * DS + DO + j, qcc_ld(in[0].p, in[0].t, o * SS + SO + j));
        }
    }
}

//@ softmax
/* ir::arith::one_over_one_plus_x (gemmlowp's Newton-Raphson in Q2.29). */
static int32_t qcc_one_over_one_plus_x(int32_t x0)
{
    const int32_t c48_17 = 1515870810, cm32_17 = -1010580540, one = 1 << 29;
    int64_t x = x0 < 0 ? 0 : x0;
    int32_t d = (int32_t)((x + (int64_t)INT32_MAX + 1) >> 1);
    int32_t r = qcc_sat32((int64_t)c48_17 + qcc_sqrdmulh(d, cm32_17));
    int k;
    for (k = 0; k < 3; k++) {
        int32_t e = qcc_sat32((int64_t)one - qcc_sqrdmulh(d, r));
        r = qcc_sat32((int64_t)r + qcc_shl_sat(qcc_sqrdmulh(r, e), 2));
    }
    return qcc_shl_sat((int32_t)qcc_asr64((int64_t)r + 1, 1), 2);
}

/* ir::arith::reciprocal_q31 for sum > 0: returns r, stores the bit length of sum in *n. */
static int32_t qcc_reciprocal_q31(int32_t sum, int32_t *n)
{
    int32_t bits = 0;
    int64_t f;
    while (bits < 31 && ((int64_t)1 << bits) <= sum) {
        bits++;
    }
    *n = bits;
    f = (int64_t)sum << (31 - bits);
    return qcc_one_over_one_plus_x((int32_t)(2 * f - ((int64_t)1 << 31)));
}

/* ir::ops::SoftmaxIntAttrs, slice by slice. */
static void k_softmax(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t OUTER = p[0], LEN = p[1], INNER = p[2], EB = p[3], M0 = p[4], MS = p[5];
    const int32_t ZP = p[6], LO = p[7], HI = p[8], MODE = p[9];
    const int32_t *table = (const int32_t *)in[1].p;
    int32_t o, i, j;
    for (o = 0; o < OUTER; o++) {
        for (i = 0; i < INNER; i++) {
            const int32_t base = o * LEN * INNER + i;
            int32_t xmax = qcc_ld(in[0].p, in[0].t, base), sum = 0, n = 0, r;
            for (j = 1; j < LEN; j++) {
                int32_t v = qcc_ld(in[0].p, in[0].t, base + j * INNER);
                xmax = v > xmax ? v : xmax;
            }
            for (j = 0; j < LEN; j++) {
                sum += table[xmax - qcc_ld(in[0].p, in[0].t, base + j * INNER)];
            }
            r = qcc_reciprocal_q31(sum, &n);
            for (j = 0; j < LEN; j++) {
                int32_t e = table[xmax - qcc_ld(in[0].p, in[0].t, base + j * INNER)];
                int32_t t = qcc_sqrdmulh((int32_t)((uint32_t)e << (30 - EB)), r);
                qcc_st(y, ty, base + j * INNER,
                       qcc_requantize(t, M0, 29 + n + MS - EB, ZP, LO, HI, MODE));
            }
        }
    }
}

//@ resize
/* ir::arith::rounding_shift_right_i64 for |x| < 2^62 and 0 <= n <= 46. */
static int64_t qcc_rshift64(int64_t x, int32_t n, int32_t mode)
{
    int64_t half;
    if (n <= 0) {
        return x;
    }
    half = (int64_t)1 << (n - 1);
    if (mode == 0 || x >= 0) {
        return qcc_asr64(x + half, (int)n);
    }
    return -((half - x) >> n);
}

/* ir::ops::ResizeIntAttrs with the taps of ir::interp::int::resize_int_taps. */
static void k_resize(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t RANK = p[0], NUMEL = p[1], NI = p[2], SHIFT = p[3], ZP = p[4], LO = p[5];
    const int32_t HI = p[6], MODE = p[7];
    const int32_t *dims = (const int32_t *)in[1].p, *idims = (const int32_t *)in[2].p;
    const int32_t *i0 = (const int32_t *)in[3].p, *i1 = (const int32_t *)in[4].p;
    const int32_t *w0 = (const int32_t *)in[5].p, *w1 = (const int32_t *)in[6].p;
    int32_t start[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t interp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t k, d, b, mask;
    for (d = 1; d < RANK; d++) {
        start[d] = start[d - 1] + dims[d - 1];
    }
    for (b = 0; b < NI; b++) {
        interp[idims[b]] = 1;
    }
    for (k = 0; k < NUMEL; k++) {
        int32_t base = 0;
        int64_t sum = 0, v;
        for (d = 0; d < RANK; d++) {
            if (!interp[d]) {
                base += i0[start[d] + idx[d]];
            }
        }
        for (mask = 0; mask < (1 << NI); mask++) {
            int32_t off = base;
            int64_t w = 1;
            for (b = 0; b < NI; b++) {
                const int32_t t = start[idims[b]] + idx[idims[b]];
                if ((mask >> b) & 1) {
                    off += i1[t];
                    w *= w1[t];
                } else {
                    off += i0[t];
                    w *= w0[t];
                }
            }
            if (w != 0) {
                sum += ((int64_t)qcc_ld(in[0].p, in[0].t, off) - ZP) * w;
            }
        }
        v = ZP + qcc_rshift64(sum, SHIFT, MODE);
        v = v < LO ? LO : v > HI ? HI : v;
        qcc_st(y, ty, k, (int32_t)v);
        for (d = RANK - 1; d >= 0; d--) {
            idx[d]++;
            if (idx[d] < dims[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
}

//@ fast
/* Helpers of the fast kernels (backends::program::fast): branch-free forms of
 * qcc_requantize that compilers vectorize. */
/* floor(x / 2^n) for 0 <= n <= 62 and |x| < 2^62 (no shift of a negative number). */
static inline int64_t qcc_floor_shift(int64_t x, int32_t n)
{
    const uint64_t u = (uint64_t)x + ((uint64_t)1 << 62);
    return (int64_t)(u >> n) - (int64_t)(((uint64_t)1 << 62) >> n);
}

/* A multiplier (m0, shift) prepared for qcc_rq. */
typedef struct {
    int64_t lmul, m0, half;
    int32_t rs;
} qcc_mult;

static inline qcc_mult qcc_mult_of(int32_t m0, int32_t shift)
{
    qcc_mult m;
    const int32_t left = shift < 0 ? (-shift > 32 ? 32 : -shift) : 0;
    m.rs = shift > 0 ? (shift > 62 ? 62 : shift) : 0;
    m.lmul = (int64_t)1 << left;
    m.m0 = m0;
    m.half = m.rs > 0 ? (int64_t)1 << (m.rs - 1) : 0;
    return m;
}

/* qcc_requantize(v, m0, shift, 0, INT32_MIN, INT32_MAX, mode) without branches. */
static inline int64_t qcc_rq(int32_t v, qcc_mult m, int32_t mode)
{
    int64_t t = (int64_t)v * m.lmul, r;
    t = t > INT32_MAX ? INT32_MAX : t < INT32_MIN ? INT32_MIN : t;
    r = qcc_floor_shift(t * m.m0 + ((int64_t)1 << 30), 31);
    r = r > INT32_MAX ? INT32_MAX : r;
    if (mode == 0) {
        return qcc_floor_shift(r + m.half, m.rs);
    } else {
        const int64_t pos = (int64_t)((uint64_t)(r + m.half) >> m.rs);
        const int64_t neg = -(int64_t)((uint64_t)(m.half - r) >> m.rs);
        return r >= 0 ? pos : neg;
    }
}

/* The low byte of min(max(v, lo), hi) (hi if lo > hi, as ir::arith::requantize). Clamps
 * to i32 first and then to [lo, hi] in i32: gcc 12 at -O3 with AVX2 (-march=native) miscompiles the vectorized form of an i64 clamp whose
 * result is narrowed to a byte (k_add_u8 stored 255 for results below lo), and the i32 form
 * avoids that. */
static inline unsigned char qcc_clamp_byte(int64_t v, int32_t lo, int32_t hi)
{
    int32_t w = (int32_t)(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
    w = w < lo ? lo : w;
    w = w > hi ? hi : w;
    return (unsigned char)((uint32_t)w & 0xffu);
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
/* AVX-512 forms of the helpers above (16 i32 lanes), used by the fast kernels when the
 * compiler targets AVX-512 VNNI; they compute the same integers. */
#include <immintrin.h>
#define QCC_AVX512 1

/* qcc_rq in 16 i32 lanes (no 64-bit lanes but the high products). A multiplier per lane:
 * left = min(max(-shift, 0), 32), rs = max(shift, 0), rs1 = rs - 1 and one = min(rs, 1)
 * (shift counts above 31 fill with the sign in srav and with zeros in srlv). */
typedef struct {
    __m512i left, m0, rs, rs1, one;
} qcc_mult16;

static inline qcc_mult16 qcc_mult16_of(__m512i m0, __m512i shift)
{
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
    qcc_mult16 m;
    m.left = _mm512_max_epi32(_mm512_sub_epi32(zero, _mm512_max_epi32(shift, _mm512_set1_epi32(-32))), zero);
    m.rs = _mm512_max_epi32(shift, zero);
    m.rs1 = _mm512_sub_epi32(m.rs, one);
    m.one = _mm512_min_epi32(m.rs, one);
    m.m0 = m0;
    return m;
}

/* x << left saturated to i32 (left in 0..32): the shift overflowed iff shifting back
 * arithmetically does not give x (a count of 32 gives 0, which is x only for x = 0). */
static inline __m512i qcc_shl_sat16(__m512i x, __m512i left)
{
    const __m512i t = _mm512_sllv_epi32(x, left);
    const __mmask16 ov = _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(t, left), x);
    return _mm512_mask_blend_epi32(ov, t, _mm512_xor_si512(_mm512_srai_epi32(x, 31), _mm512_set1_epi32(INT32_MAX)));
}

/* a + b saturated to i32: it overflowed iff the sum's sign differs from both operands'. */
static inline __m512i qcc_adds16(__m512i a, __m512i b)
{
    const __m512i s = _mm512_add_epi32(a, b);
    const __mmask16 ov = _mm512_cmplt_epi32_mask(_mm512_and_si512(_mm512_xor_si512(s, a), _mm512_xor_si512(s, b)), _mm512_setzero_si512());
    return _mm512_mask_blend_epi32(ov, s, _mm512_xor_si512(_mm512_srai_epi32(a, 31), _mm512_set1_epi32(INT32_MAX)));
}

/* qcc_sqrdmulh per lane: exact i64 products of the even and the odd lanes, rounded, shifted
 * by 31 and saturated (only x = m0 = INT32_MIN reaches 2^31), then interleaved back. */
static inline __m512i qcc_sqrdmulh16(__m512i x, __m512i m0)
{
    const __m512i r = _mm512_set1_epi64((int64_t)1 << 30), mx = _mm512_set1_epi64(INT32_MAX);
    __m512i e = _mm512_mul_epi32(x, m0);
    __m512i o = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m0, 32));
    e = _mm512_min_epi64(_mm512_srai_epi64(_mm512_add_epi64(e, r), 31), mx);
    o = _mm512_min_epi64(_mm512_srai_epi64(_mm512_add_epi64(o, r), 31), mx);
    return _mm512_mask_blend_epi32(0xAAAA, e, _mm512_slli_epi64(o, 32));
}

/* qcc_rq on 16 i32 lanes. The rounding right shift without a wider sum:
 * floor((x + 2^(n-1)) / 2^n) = (x >> n) + ((x >> (n - 1)) & 1) for n >= 1; half away from
 * zero rounds |x| (as u32, so INT32_MIN is 2^31) that way with logical shifts and negates. */
static inline __m512i qcc_rq16(__m512i v, qcc_mult16 m, int32_t mode)
{
    const __m512i x = qcc_sqrdmulh16(qcc_shl_sat16(v, m.left), m.m0);
    if (mode == 0) {
        return _mm512_add_epi32(_mm512_srav_epi32(x, m.rs), _mm512_and_si512(_mm512_srav_epi32(x, m.rs1), m.one));
    } else {
        const __m512i zero = _mm512_setzero_si512(), u = _mm512_abs_epi32(x);
        const __m512i r = _mm512_add_epi32(_mm512_srlv_epi32(u, m.rs), _mm512_and_si512(_mm512_srlv_epi32(u, m.rs1), m.one));
        return _mm512_mask_sub_epi32(r, _mm512_cmplt_epi32_mask(x, zero), zero, r);
    }
}

/* The bytes of clamp(x + zp, lo, hi) for x from qcc_rq16, given loz = lo - zp and
 * hiz = hi - zp (exact when both fit i32: max, then min, as qcc_clamp_byte). */
static inline __m128i qcc_out16(__m512i x, __m512i loz, __m512i hiz, __m512i zp)
{
    return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(x, loz), hiz), zp));
}
#endif

//@ conv_u8s8
/* Fast conv/gemm for 8-bit activations and 8-bit i8 weights (backends::program::Kernel::
 * ConvU8S8). Per group the input is copied once into the scratch region as a padded NHWC
 * image with PS bytes per pixel (u8; i8 inputs are flipped to u8 by xor 128; padding
 * pixels hold the zero point). A tap is CP bytes (a multiple of 4) from a pixel: PS = CP
 * with padding channels that meet zero weights, or with dense rows (PS = CG, KW = 1) a whole
 * kernel row whose bytes past KW * CG meet zero weights. Weights are packed
 * [G][MB][KT][16][4]: one 64-byte row per k4 step (tap-major, then 4 bytes) holds
 * 16 output channels x 4 input channels, so that one u8 x s8 4-way dot product per lane
 * (vpdpbusd) accumulates 16 channels from one broadcast 4-byte activation word. A tile is 6
 * output pixels x 64 channels (4 blocks) of i32 accumulators; no im2col, no horizontal sums.
 * The zero-point and requant-input terms are folded into the bias at compile time, so every
 * sum equals the reference's mod 2^32. With AVX-512 VNNI the tile uses intrinsics; the
 * portable tile computes the same integers. */
#ifdef QCC_AVX512
#define QCC_DP(r, t, x)                                                        \
    b = _mm512_set1_epi32(_mm_cvtsi128_si32(_mm_loadu_si32((x) + c)));         \
    r##t##0 = _mm512_dpbusd_epi32(r##t##0, b, w0);                             \
    r##t##1 = _mm512_dpbusd_epi32(r##t##1, b, w1);                             \
    r##t##2 = _mm512_dpbusd_epi32(r##t##2, b, w2);                             \
    r##t##3 = _mm512_dpbusd_epi32(r##t##3, b, w3)
#define QCC_ST(r, t)                                                           \
    _mm512_storeu_si512((void *)(acc + t * 64), r##t##0);                      \
    _mm512_storeu_si512((void *)(acc + t * 64 + 16), r##t##1);                 \
    _mm512_storeu_si512((void *)(acc + t * 64 + 32), r##t##2);                 \
    _mm512_storeu_si512((void *)(acc + t * 64 + 48), r##t##3)
static void qcc_conv_tile(const unsigned char *xp, const int32_t *off, const int8_t *w,
                          int32_t bs, int32_t nb, int32_t KH, int32_t KW, int32_t DY,
                          int32_t DX, int32_t CP, int32_t *acc)
{
    const __m512i z = _mm512_setzero_si512();
    __m512i r00 = z, r01 = z, r02 = z, r03 = z, r10 = z, r11 = z, r12 = z, r13 = z;
    __m512i r20 = z, r21 = z, r22 = z, r23 = z, r30 = z, r31 = z, r32 = z, r33 = z;
    __m512i r40 = z, r41 = z, r42 = z, r43 = z, r50 = z, r51 = z, r52 = z, r53 = z;
    const int32_t s1 = nb > 1 ? bs : 0, s2 = nb > 2 ? 2 * bs : 0, s3 = nb > 3 ? 3 * bs : 0;
    int32_t ky, kx, c;
    for (ky = 0; ky < KH; ky++) {
        for (kx = 0; kx < KW; kx++) {
            const unsigned char *x = xp + ky * DY + kx * DX;
            const unsigned char *x0 = x + off[0], *x1 = x + off[1], *x2 = x + off[2];
            const unsigned char *x3 = x + off[3], *x4 = x + off[4], *x5 = x + off[5];
            for (c = 0; c < CP; c += 4, w += 64) {
                const __m512i w0 = _mm512_loadu_si512((const void *)w);
                const __m512i w1 = _mm512_loadu_si512((const void *)(w + s1));
                const __m512i w2 = _mm512_loadu_si512((const void *)(w + s2));
                const __m512i w3 = _mm512_loadu_si512((const void *)(w + s3));
                __m512i b;
                QCC_DP(r, 0, x0);
                QCC_DP(r, 1, x1);
                QCC_DP(r, 2, x2);
                QCC_DP(r, 3, x3);
                QCC_DP(r, 4, x4);
                QCC_DP(r, 5, x5);
            }
        }
    }
    QCC_ST(r, 0);
    QCC_ST(r, 1);
    QCC_ST(r, 2);
    QCC_ST(r, 3);
    QCC_ST(r, 4);
    QCC_ST(r, 5);
}
/* Requantizes the tile's first np pixels x nch channels (acc[t * 64 + j] + bias[j]) into
 * the bytes q[t * 64 + j]. */
static void qcc_conv_rq_tile(const int32_t *acc, int32_t np, int32_t nch, const int32_t *bias,
                             const int32_t *m0, const int32_t *sh, int32_t ZPY, int32_t LO,
                             int32_t HI, int32_t MODE, unsigned char *q)
{
    int32_t j = 0, t;
    /* 16 channels in i32 lanes when lo - zp and hi - zp fit i32 (8-bit outputs). */
    if (ZPY >= -0x40000000 && ZPY <= 0x40000000 && LO >= -0x40000000 && LO <= 0x40000000 &&
        HI >= -0x40000000 && HI <= 0x40000000) {
        const __m512i zp = _mm512_set1_epi32(ZPY);
        const __m512i loz = _mm512_set1_epi32(LO - ZPY), hiz = _mm512_set1_epi32(HI - ZPY);
        for (; j + 16 <= nch; j += 16) {
            const __m512i b = _mm512_loadu_si512((const void *)(bias + j));
            const qcc_mult16 m = qcc_mult16_of(_mm512_loadu_si512((const void *)(m0 + j)),
                                               _mm512_loadu_si512((const void *)(sh + j)));
            for (t = 0; t < np; t++) {
                const __m512i v = _mm512_add_epi32(_mm512_loadu_si512((const void *)(acc + t * 64 + j)), b);
                _mm_storeu_si128((__m128i *)(void *)(q + t * 64 + j), qcc_out16(qcc_rq16(v, m, MODE), loz, hiz, zp));
            }
        }
    }
    /* The channels past the last full vector: the portable form. */
    for (; j < nch; j++) {
        const qcc_mult mj = qcc_mult_of(m0[j], sh[j]);
        for (t = 0; t < np; t++) {
            const int32_t v = (int32_t)((uint32_t)acc[t * 64 + j] + (uint32_t)bias[j]);
            q[t * 64 + j] = qcc_clamp_byte(qcc_rq(v, mj, MODE) + ZPY, LO, HI);
        }
    }
}
#undef QCC_DP
#undef QCC_ST
#else
static void qcc_conv_tile(const unsigned char *xp, const int32_t *off, const int8_t *w,
                          int32_t bs, int32_t nb, int32_t KH, int32_t KW, int32_t DY,
                          int32_t DX, int32_t CP, int32_t *acc)
{
    int32_t ky, kx, c, t, blk, j;
    for (j = 0; j < 6 * 64; j++) {
        acc[j] = 0;
    }
    for (ky = 0; ky < KH; ky++) {
        for (kx = 0; kx < KW; kx++) {
            const unsigned char *x = xp + ky * DY + kx * DX;
            for (c = 0; c < CP; c += 4, w += 64) {
                for (blk = 0; blk < nb; blk++) {
                    const int8_t *restrict wk = w + blk * bs;
                    for (t = 0; t < 6; t++) {
                        const unsigned char *a = x + off[t] + c;
                        const int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
                        int32_t *restrict r = acc + t * 64 + blk * 16;
                        for (j = 0; j < 16; j++) {
                            r[j] += a0 * wk[4 * j] + a1 * wk[4 * j + 1] + a2 * wk[4 * j + 2] + a3 * wk[4 * j + 3];
                        }
                    }
                }
            }
        }
    }
}
static void qcc_conv_rq_tile(const int32_t *acc, int32_t np, int32_t nch, const int32_t *bias,
                             const int32_t *m0, const int32_t *sh, int32_t ZPY, int32_t LO,
                             int32_t HI, int32_t MODE, unsigned char *q)
{
    int32_t j, t;
    for (t = 0; t < np; t++) {
        for (j = 0; j < nch; j++) {
            const int32_t v = (int32_t)((uint32_t)acc[t * 64 + j] + (uint32_t)bias[j]);
            q[t * 64 + j] = qcc_clamp_byte(qcc_rq(v, qcc_mult_of(m0[j], sh[j]), MODE) + ZPY, LO, HI);
        }
    }
}
#endif

#ifdef QCC_AVX512
/* Stores the bytes q[t * 64 + j] (t < 8: 6 pixels and 2 of no use, j < 16) as 8 bytes
 * d[j * P + t] per channel: a transpose of 8 x 16 bytes by three unpack rounds. */
static inline void qcc_scatter16x6(const unsigned char *q, unsigned char *d, int32_t P)
{
    __m128i a[8], b[8], c[8];
    int32_t t;
    for (t = 0; t < 8; t++) {
        a[t] = _mm_loadu_si128((const __m128i *)(const void *)(q + t * 64));
    }
    for (t = 0; t < 4; t++) {
        b[t] = _mm_unpacklo_epi8(a[2 * t], a[2 * t + 1]);
        b[t + 4] = _mm_unpackhi_epi8(a[2 * t], a[2 * t + 1]);
    }
    /* b[0..3]: channels 0..7 as pixel pairs (0,1), (2,3), (4,5), (6,7); b[4..7]: 8..15. */
    for (t = 0; t < 2; t++) {
        c[4 * t] = _mm_unpacklo_epi16(b[4 * t], b[4 * t + 1]);
        c[4 * t + 1] = _mm_unpackhi_epi16(b[4 * t], b[4 * t + 1]);
        c[4 * t + 2] = _mm_unpacklo_epi16(b[4 * t + 2], b[4 * t + 3]);
        c[4 * t + 3] = _mm_unpackhi_epi16(b[4 * t + 2], b[4 * t + 3]);
    }
    /* c[4h + i] (i = 0, 1): channels 8h + 4i .. + 3, pixels 0..3; c[4h + 2 + i]: 4..7. */
    for (t = 0; t < 4; t++) {
        const int32_t h = t >> 1, i = t & 1, ch = 8 * h + 4 * i;
        const __m128i lo = _mm_unpacklo_epi32(c[4 * h + i], c[4 * h + 2 + i]);
        const __m128i hi = _mm_unpackhi_epi32(c[4 * h + i], c[4 * h + 2 + i]);
        _mm_storel_epi64((__m128i *)(void *)(d + ch * P), lo);
        _mm_storel_epi64((__m128i *)(void *)(d + (ch + 1) * P), _mm_unpackhi_epi64(lo, lo));
        _mm_storel_epi64((__m128i *)(void *)(d + (ch + 2) * P), hi);
        _mm_storel_epi64((__m128i *)(void *)(d + (ch + 3) * P), _mm_unpackhi_epi64(hi, hi));
    }
}
#endif

#ifdef QCC_AVX512
/* r[t] = bytes s[k * HW + t] ^ flip for k < 16 (16 channel planes of 16 pixels as 16
 * pixels of 16 channels): a 16 x 16 byte transpose by four unpack rounds. */
static inline void qcc_transpose16(const unsigned char *s, int32_t HW, int32_t flip, __m128i *r)
{
    const __m128i f = _mm_set1_epi8((char)flip);
    __m128i a[16], b[16];
    int32_t k, h;
    for (k = 0; k < 16; k++) {
        a[k] = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(s + k * HW)), f);
    }
    /* b[8h + k]: pixels 8h..8h+7, channel pairs (2k, 2k + 1). */
    for (k = 0; k < 8; k++) {
        b[k] = _mm_unpacklo_epi8(a[2 * k], a[2 * k + 1]);
        b[k + 8] = _mm_unpackhi_epi8(a[2 * k], a[2 * k + 1]);
    }
    /* a[8h + k]: pixels 8h..8h+3, channels 4k..4k+3; a[8h + 4 + k]: pixels 8h+4..8h+7. */
    for (h = 0; h < 2; h++) {
        for (k = 0; k < 4; k++) {
            a[8 * h + k] = _mm_unpacklo_epi16(b[8 * h + 2 * k], b[8 * h + 2 * k + 1]);
            a[8 * h + 4 + k] = _mm_unpackhi_epi16(b[8 * h + 2 * k], b[8 * h + 2 * k + 1]);
        }
    }
    /* Per group g of 4 pixels (a[g..g+3]): b[g] pixels 0, 1 x channels 0..7, b[g + 1]
     * pixels 2, 3; b[g + 2], b[g + 3] the same pixels x channels 8..15. */
    for (h = 0; h < 16; h += 4) {
        b[h] = _mm_unpacklo_epi32(a[h], a[h + 1]);
        b[h + 1] = _mm_unpackhi_epi32(a[h], a[h + 1]);
        b[h + 2] = _mm_unpacklo_epi32(a[h + 2], a[h + 3]);
        b[h + 3] = _mm_unpackhi_epi32(a[h + 2], a[h + 3]);
        r[h] = _mm_unpacklo_epi64(b[h], b[h + 2]);
        r[h + 1] = _mm_unpackhi_epi64(b[h], b[h + 2]);
        r[h + 2] = _mm_unpacklo_epi64(b[h + 1], b[h + 3]);
        r[h + 3] = _mm_unpackhi_epi64(b[h + 1], b[h + 3]);
    }
}
#endif

static void k_conv_u8s8(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t N = p[0], C = p[1], H = p[2], W = p[3], M = p[4], KH = p[5], KW = p[6];
    const int32_t OH = p[7], OW = p[8], SH = p[9], SW = p[10], DH = p[11], DW = p[12];
    const int32_t PT = p[13], PL = p[14], G = p[15], CG = p[16], MG = p[17];
    const int32_t KT = p[18], ZPX = p[19], FLIP = p[20], REQ = p[21];
    const int32_t ZPY = p[22], LO = p[23], HI = p[24], MODE = p[25], HP = p[26], WP = p[27];
    const int32_t CP = p[28], MB = p[29], PS = p[30];
    const unsigned char *x = (const unsigned char *)in[0].p;
    const int8_t *wt = (const int8_t *)in[1].p;
    const int32_t *bias = (const int32_t *)in[2].p;
    const int32_t *m0 = (const int32_t *)in[3].p;
    const int32_t *sh = (const int32_t *)in[4].p;
    unsigned char *xp = (unsigned char *)in[5].p;
    unsigned char *yb = (unsigned char *)y;
    const int32_t P = OH * OW, BS = KT * 64;
    int32_t b, gi, ob, p0, t, j, k;
    int32_t acc[6 * 64];
    unsigned char q[8 * 64];
    int32_t off[6];
    (void)ty;
    for (j = 0; j < 8 * 64; j++) {
        q[j] = 0;
    }
    for (b = 0; b < N; b++) {
        for (gi = 0; gi < G; gi++) {
            int32_t c, iy, ix;
            /* Padded NHWC copy of this group's channels. The zero point goes to the border
             * pixels only when the copy writes every byte of the interior (PS = CG), and
             * everywhere otherwise (and once to the bytes past the image). */
            if (PS == CG) {
                const int32_t row = WP * PS;
                for (k = 0; k < PT * row; k++) {
                    xp[k] = (unsigned char)ZPX;
                }
                for (iy = PT; iy < PT + H; iy++) {
                    unsigned char *r = xp + iy * row;
                    for (k = 0; k < PL * PS; k++) {
                        r[k] = (unsigned char)ZPX;
                    }
                    for (k = (PL + W) * PS; k < row; k++) {
                        r[k] = (unsigned char)ZPX;
                    }
                }
                for (k = (PT + H) * row; k < HP * row + CP; k++) {
                    xp[k] = (unsigned char)ZPX;
                }
            } else {
                for (k = 0; k < HP * WP * PS + CP; k++) {
                    xp[k] = (unsigned char)ZPX;
                }
            }
            c = 0;
#ifdef QCC_AVX512
            /* Sixteen channels x 16 pixels at a time (in row-major pixel order). */
            for (; c + 16 <= CG; c += 16) {
                const unsigned char *s0 = x + (b * C + gi * CG + c) * H * W;
                int32_t i = 0, py = 0, px = 0;
                __m128i r[16];
                for (; i + 16 <= H * W; i += 16) {
                    qcc_transpose16(s0 + i, H * W, FLIP, r);
                    for (t = 0; t < 16; t++) {
                        _mm_storeu_si128((__m128i *)(void *)(xp + ((py + PT) * WP + PL + px) * PS + c), r[t]);
                        if (++px == W) {
                            px = 0;
                            py++;
                        }
                    }
                }
                for (; i < H * W; i++) {
                    for (k = 0; k < 16; k++) {
                        xp[((py + PT) * WP + PL + px) * PS + c + k] = (unsigned char)(s0[k * H * W + i] ^ FLIP);
                    }
                    if (++px == W) {
                        px = 0;
                        py++;
                    }
                }
            }
#endif
            /* Four channels at a time (adjacent byte stores that compilers merge). */
            for (; c + 4 <= CG; c += 4) {
                const unsigned char *s0 = x + (b * C + gi * CG + c) * H * W;
                const unsigned char *s1 = s0 + H * W, *s2 = s1 + H * W, *s3 = s2 + H * W;
                for (iy = 0; iy < H; iy++) {
                    unsigned char *dst = xp + ((iy + PT) * WP + PL) * PS + c;
                    for (ix = 0; ix < W; ix++) {
                        dst[ix * PS] = (unsigned char)(s0[iy * W + ix] ^ FLIP);
                        dst[ix * PS + 1] = (unsigned char)(s1[iy * W + ix] ^ FLIP);
                        dst[ix * PS + 2] = (unsigned char)(s2[iy * W + ix] ^ FLIP);
                        dst[ix * PS + 3] = (unsigned char)(s3[iy * W + ix] ^ FLIP);
                    }
                }
            }
            for (; c < CG; c++) {
                const unsigned char *src = x + (b * C + gi * CG + c) * H * W;
                for (iy = 0; iy < H; iy++) {
                    unsigned char *dst = xp + ((iy + PT) * WP + PL) * PS + c;
                    for (ix = 0; ix < W; ix++) {
                        dst[ix * PS] = (unsigned char)(src[iy * W + ix] ^ FLIP);
                    }
                }
            }
            for (ob = 0; ob < MB; ob += 4) {
                const int32_t nb = MB - ob < 4 ? MB - ob : 4;
                const int32_t nch = MG - ob * 16 < 64 ? MG - ob * 16 : 64;
                const int8_t *w = wt + (gi * MB + ob) * BS;
                int32_t oy = 0, ox = 0;
                for (p0 = 0; p0 < P; p0 += 6) {
                    const int32_t np = P - p0 < 6 ? P - p0 : 6;
                    for (t = 0; t < 6; t++) {
                        if (t < np) {
                            off[t] = (oy * SH * WP + ox * SW) * PS;
                            if (++ox == OW) {
                                ox = 0;
                                oy++;
                            }
                        } else {
                            off[t] = off[np - 1];
                        }
                    }
                    qcc_conv_tile(xp, off, w, BS, nb, KH, KW, DH * WP * PS, DW * PS, CP, acc);
                    {
                        const int32_t ch = gi * MG + ob * 16, o = (b * M + ch) * P + p0;
                        if (REQ) {
                            qcc_conv_rq_tile(acc, np, nch, bias + ch, m0 + ch, sh + ch, ZPY, LO, HI, MODE, q);
                            j = 0;
#ifdef QCC_AVX512
                            /* Full tiles with 2 bytes of the plane left after them: 16
                             * channels x 8 pixels transposed in registers, 8-byte stores
                             * whose last 2 bytes the next tile rewrites. */
                            if (np == 6 && p0 + 8 <= P) {
                                for (; j + 16 <= nch; j += 16) {
                                    qcc_scatter16x6(q + j, yb + o + j * P, P);
                                }
                            }
#endif
                            if (np == 6) {
                                for (; j < nch; j++) {
                                    unsigned char *d = yb + o + j * P;
                                    d[0] = q[j];
                                    d[1] = q[64 + j];
                                    d[2] = q[128 + j];
                                    d[3] = q[192 + j];
                                    d[4] = q[256 + j];
                                    d[5] = q[320 + j];
                                }
                            } else {
                                for (j = 0; j < nch; j++) {
                                    for (t = 0; t < np; t++) {
                                        yb[o + j * P + t] = q[t * 64 + j];
                                    }
                                }
                            }
                        } else {
                            for (t = 0; t < np; t++) {
                                for (j = 0; j < nch; j++) {
                                    const uint32_t v = (uint32_t)acc[t * 64 + j] + (uint32_t)bias[ch + j];
                                    qcc_st(y, QCC_A_I32, o + j * P + t, (int32_t)v);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

//@ add_u8

/* k_add for 8-bit operands of one shape (backends::program::Kernel::AddU8), vectorizable. */
static void k_add_u8(const qcc_in *in, void *y, int ty, const int32_t *p)
{
    const int32_t NUMEL = p[0], ZPA = p[1], ZPB = p[2], ZPY = p[3], SHIFT = p[4];
    const int32_t MODE = p[11], LO = p[12], HI = p[13], FA = p[14], FB = p[15];
    const qcc_mult ma = qcc_mult_of(p[5], p[6]), mb = qcc_mult_of(p[7], p[8]);
    const qcc_mult mo = qcc_mult_of(p[9], p[10]);
    const unsigned char *a = (const unsigned char *)in[0].p;
    const unsigned char *b = (const unsigned char *)in[1].p;
    unsigned char *yb = (unsigned char *)y;
    const int64_t smul = (int64_t)1 << (SHIFT > 32 ? 32 : SHIFT);
    int32_t i = 0;
    (void)ty;
#ifdef QCC_AVX512
    /* 16 bytes in i32 lanes when lo - zp and hi - zp fit i32 (always for 8-bit outputs). */
    if (ZPY >= -0x40000000 && ZPY <= 0x40000000 && LO >= -0x40000000 && LO <= 0x40000000 &&
        HI >= -0x40000000 && HI <= 0x40000000) {
        const qcc_mult16 va = qcc_mult16_of(_mm512_set1_epi32(p[5]), _mm512_set1_epi32(p[6]));
        const qcc_mult16 vb = qcc_mult16_of(_mm512_set1_epi32(p[7]), _mm512_set1_epi32(p[8]));
        const qcc_mult16 vo = qcc_mult16_of(_mm512_set1_epi32(p[9]), _mm512_set1_epi32(p[10]));
        const __m512i sl = _mm512_set1_epi32(SHIFT > 32 ? 32 : SHIFT);
        const __m512i fa = _mm512_set1_epi32(FA), fb = _mm512_set1_epi32(FB);
        const __m512i za = _mm512_set1_epi32(ZPA), zb = _mm512_set1_epi32(ZPB), zy = _mm512_set1_epi32(ZPY);
        const __m512i loz = _mm512_set1_epi32(LO - ZPY), hiz = _mm512_set1_epi32(HI - ZPY);
        for (; i + 16 <= NUMEL; i += 16) {
            __m512i xa = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
            __m512i xb = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
            xa = qcc_shl_sat16(_mm512_sub_epi32(_mm512_xor_si512(xa, fa), za), sl);
            xb = qcc_shl_sat16(_mm512_sub_epi32(_mm512_xor_si512(xb, fb), zb), sl);
            xa = qcc_adds16(qcc_rq16(xa, va, MODE), qcc_rq16(xb, vb, MODE));
            _mm_storeu_si128((__m128i *)(void *)(yb + i), qcc_out16(qcc_rq16(xa, vo, MODE), loz, hiz, zy));
        }
    }
#endif
    for (; i < NUMEL; i++) {
        int64_t xa = (int64_t)((a[i] ^ FA) - ZPA) * smul, xb = (int64_t)((b[i] ^ FB) - ZPB) * smul;
        int64_t s;
        xa = xa > INT32_MAX ? INT32_MAX : xa < INT32_MIN ? INT32_MIN : xa;
        xb = xb > INT32_MAX ? INT32_MAX : xb < INT32_MIN ? INT32_MIN : xb;
        s = qcc_rq((int32_t)xa, ma, MODE) + qcc_rq((int32_t)xb, mb, MODE);
        s = s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s;
        yb[i] = qcc_clamp_byte(qcc_rq((int32_t)s, mo, MODE) + ZPY, LO, HI);
    }
}
