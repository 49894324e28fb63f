/* driver.c - runs one emitted qcc model on samples streamed through stdin/stdout.
 *
 * Builds for Hexagon (with hx_rt.h, freestanding) and for the host (host_rt.h).
 * Compile with -DQ_NAME=<name> -DQ_UNAME=<NAME> -DQ_HEADER='"net.h"'.
 *
 *   driver q S [R]   S samples of quantized inputs (each sample: every input's bytes, in
 *                    input order) -> qcc_<name>_run -> every output's bytes per sample.
 *                    R repeats each inference (for packet counting; output written once).
 *   driver f S [R]   the same with float32 tensors through qcc_<name>_run_f32.
 * Exit code: 0, 3 on short input, 4 when the model returns an error. */
#if defined(__hexagon__)
#include "hx_rt.h"
#else
#include "host_rt.h"
#endif
#include Q_HEADER

#define QC2(a, b) a##b
#define QC(a, b) QC2(a, b)
#define QFN(s) QC(QC(qcc_, Q_NAME), s)
#define QM(s) QC(QC(QCC_, Q_UNAME), s)

static unsigned char arena[QM(_ARENA_BYTES) + 1] __attribute__((aligned(128)));
static const size_t in_bytes[] = QM(_INPUT_BYTES_LIST);
static const size_t out_bytes[] = QM(_OUTPUT_BYTES_LIST);
static const size_t in_numel[] = QM(_INPUT_NUMEL_LIST);
static const size_t out_numel[] = QM(_OUTPUT_NUMEL_LIST);
#define NIN QM(_NUM_INPUTS)
#define NOUT QM(_NUM_OUTPUTS)

static size_t total(const size_t *a, int n, int f32, const size_t *numel) {
  size_t t = 0;
  for (int i = 0; i < n; i++) t += f32 ? numel[i] * 4 : a[i];
  return t;
}
/* Big enough for the test models; the arena holds all model state. */
static unsigned char inbuf[1 << 20] __attribute__((aligned(128)));
static unsigned char outbuf[1 << 20] __attribute__((aligned(128)));

int main(int argc, char **argv) {
  if (argc < 3) { err_str("usage: driver q|f SAMPLES [REPEATS]\n"); return 2; }
  int f32 = hx_streq(argv[1], "f");
  uint32_t samples = hx_atou(argv[2]);
  uint32_t reps = argc > 3 ? hx_atou(argv[3]) : 1;
  size_t tin = total(in_bytes, NIN, f32, in_numel), tout = total(out_bytes, NOUT, f32, out_numel);
  if (tin > sizeof inbuf || tout > sizeof outbuf) { err_str("driver buffers too small\n"); return 2; }
  for (uint32_t s = 0; s < samples; s++) {
    if (hx_read_all(0, inbuf, tin) != tin) { err_str("short input\n"); return 3; }
    const void *ins[NIN + 1];
    void *outs[NOUT + 1];
    size_t o = 0;
    for (int i = 0; i < NIN; i++) { ins[i] = inbuf + o; o += f32 ? in_numel[i] * 4 : in_bytes[i]; }
    o = 0;
    for (int i = 0; i < NOUT; i++) { outs[i] = outbuf + o; o += f32 ? out_numel[i] * 4 : out_bytes[i]; }
    for (uint32_t r = 0; r < reps; r++) {
      int rc = f32 ? QFN(_run_f32)((const float *const *)ins, (float *const *)outs, arena)
                   : QFN(_run)(ins, outs, arena);
      if (rc != 0) { err_str("model returned an error\n"); return 4; }
    }
    hx_write_all(1, outbuf, tout);
  }
  return 0;
}
