/* run_model SAMPLE: runs the qcc-compiled model `net` (one input) on one float32 sample
 * (raw little-endian values in the model's layout) through qcc_net_run_f32 and prints every
 * output value, one per line, as `<output> <index> <f32 bits in hex> <value>`. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

static unsigned char arena[QCC_NET_ARENA_BYTES] __attribute__((aligned(128)));
static float input0[QCC_NET_INPUT0_NUMEL];
static float output0[QCC_NET_OUTPUT0_NUMEL];

int main(int argc, char **argv)
{
    const float *ins[1];
    float *outs[1];
    FILE *f;
    int rc;
    long k;
    if (argc != 2) {
        fprintf(stderr, "usage: %s SAMPLE.f32\n", argv[0]);
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (!f || fread(input0, sizeof(float), QCC_NET_INPUT0_NUMEL, f) != QCC_NET_INPUT0_NUMEL) {
        fprintf(stderr, "cannot read %d floats from %s\n", (int)QCC_NET_INPUT0_NUMEL, argv[1]);
        return 2;
    }
    fclose(f);
    ins[0] = input0;
    outs[0] = output0;
    rc = qcc_net_run_f32(ins, outs, arena);
    if (rc != 0) {
        fprintf(stderr, "qcc_net_run_f32 returned %d\n", rc);
        return 1;
    }
    for (k = 0; k < (long)QCC_NET_OUTPUT0_NUMEL; k++) {
        uint32_t u;
        memcpy(&u, &output0[k], 4);
        printf("0 %ld %08x %.9g\n", k, (unsigned)u, (double)output0[k]);
    }
    return 0;
}
