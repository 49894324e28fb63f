/* vec_selftest.c - checks the emitted vector layer (backends/src/hvx/runtime.c) against its
 * scalar rules: requantization in both rounding modes and all shifts, packing, byte
 * interleaving and vrmpy. Prints one checksum line per kernel; the HVX build on qemu and the
 * portable host build must print the same lines (`make selftest`). */
#if defined(__hexagon__)
#include "hx_rt.h"
#else
#include "host_rt.h"
#endif
#include "../../backends/src/hvx/runtime.c"

static uint32_t st = 12345u;
static uint32_t rnd(void) { st = st * 1664525u + 1013904223u; return st; }
static uint32_t h = 2166136261u;
static void mix(uint32_t v) { int k; for (k = 0; k < 4; k++) { h ^= (v >> (8 * k)) & 255u; h *= 16777619u; } }
static int32_t buf[32] __attribute__((aligned(128)));
static uint8_t bytes[512] __attribute__((aligned(128)));
static void hex(uint32_t v) {
  char b[11]; int i; b[0] = '0'; b[1] = 'x'; b[10] = 0;
  for (i = 0; i < 8; i++) b[9 - i] = "0123456789abcdef"[(v >> (4 * i)) & 15];
  out_str(b);
}

int main(void) {
  int bad = 0, it, i;
  for (it = 0; it < 3000; it++) {
    qk_out_t o;
    int32_t m0 = (int32_t)(rnd() | 0x40000000u) & 0x7fffffff, shift = (int32_t)(rnd() % 40u) - 6;
    o.mode = (int)(rnd() & 1u); o.zp = (int32_t)(rnd() % 256u) - 128;
    o.lo = (int32_t)(rnd() % 200u) - 128; o.hi = o.lo + (int32_t)(rnd() % 300u) - 20;
    if (it % 7 == 0) { o.lo = INT32_MIN; o.hi = INT32_MAX; }
    if (it % 11 == 0) m0 = (int32_t)(rnd() & 0xffffu);
    for (i = 0; i < 32; i++) {
      uint32_t r = rnd();
      buf[i] = it % 3 == 0 ? (int32_t)r : (int32_t)(r % 4096u) - 2048;
      if (i < 6 && it % 5 == 0) buf[i] = (int32_t)((uint32_t)((int32_t)(i - 3)) << (shift > 0 ? shift - 1 : 0));
      if (i == 7) buf[i] = INT32_MIN;
      if (i == 8) buf[i] = INT32_MAX;
    }
    {
      qv_t r = qv_requant(qv_loadu(buf), m0, shift, &o);
      int32_t got[32];
      qv_storeu(got, r);
      for (i = 0; i < 32; i++) {
        int32_t want = qs_requant(buf[i], m0, shift, o.zp, o.lo, o.hi, o.mode);
        if (got[i] != want) bad++;
        mix((uint32_t)got[i]);
      }
    }
  }
  out_str("requant "); hex(h); out_str(bad ? " FAIL\n" : " ok\n");
  if (bad) return 1;
  for (i = 0; i < 512; i++) bytes[i] = (uint8_t)rnd();
  {
    qv_t v[4], o4[4], p;
    int32_t w4 = (int32_t)rnd();
    uint8_t tmp[128];
    for (i = 0; i < 4; i++) v[i] = qv_loadu(bytes + 128 * i);
    qv_interleave4_b(v[0], v[1], v[2], v[3], o4);
    h = 2166136261u;
    for (i = 0; i < 4; i++) {
      int j;
      qv_storeu(tmp, o4[i]);
      for (j = 0; j < 128; j++) {
        if (tmp[j] != bytes[128 * (j & 3) + 32 * i + (j >> 2)]) bad++;
        mix(tmp[j]);
      }
    }
    out_str("interleave4 "); hex(h); out_str(bad ? " FAIL\n" : " ok\n");
    p = qv_pack4_b(qv_loadu(bytes), qv_loadu(bytes + 128), qv_loadu(bytes + 256), qv_loadu(bytes + 384));
    qv_storeu(tmp, p);
    for (i = 0; i < 128; i++) if (tmp[i] != bytes[128 * (i >> 5) + 4 * (i & 31)]) bad++;
    out_str("pack4 "); out_str(bad ? "FAIL\n" : "ok\n");
    p = qv_vrmpy_ubrb(qv_loadu(bytes + 128), qv_loadu(bytes), w4);
    p = qv_vrmpy_ubvb(p, qv_loadu(bytes + 256), qv_loadu(bytes + 384));
    qv_storeu(buf, p);
    h = 2166136261u;
    for (i = 0; i < 32; i++) mix((uint32_t)buf[i]);
    out_str("vrmpy "); hex(h); out_str("\n");
  }
  return bad != 0;
}
