#!/bin/sh
# bench_macs.sh - MACs per executed packet of one whole inference of each test model on
# qemu-hexagon (HVX build of the hvx-like C), next to the peak of 256 (one 128-byte
# vrmpy = 128 byte products, two per packet), and the 5 hottest packets.
#
#   bench_macs.sh [MODEL_DIR...]     default: every testsuite/models/* with calib.npy
#
# Per model: qcc MODEL --calib calib.npy --target hvx-like -o OUT/net.c; the first sample
# of input.npy (float32) through qcc_net_run_f32; packets = (2 inferences) - (1 inference),
# so start-up is excluded (the float input quantization loop is included). MACs come from
# QCC_NET_MACS in net.h (conv, conv-transpose, gemm, matmul products).
# Environment: QCC (default target/release/qcc, else target/debug/qcc), OUT (default
# target/bench_macs).
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tools/hexagon"
QCC=${QCC:-}
if [ -z "$QCC" ]; then
  if [ -x "$ROOT/target/release/qcc" ]; then QCC="$ROOT/target/release/qcc"; else QCC="$ROOT/target/debug/qcc"; fi
fi
[ -x "$QCC" ] || { echo "bench_macs: no qcc binary (cargo build -p compiler)" >&2; exit 2; }
OUT=${OUT:-$ROOT/target/bench_macs}
mkdir -p "$OUT"
if [ $# -eq 0 ]; then
  set -- $(for d in "$ROOT"/testsuite/models/*/; do [ -f "$d/calib.npy" ] && echo "${d%/}"; done)
fi
printf '%-24s %14s %12s %10s %6s\n' model macs packets macs/pkt peak
for dir in "$@"; do
  name=$(basename "$dir")
  o="$OUT/$name"
  mkdir -p "$o"
  if ! "$QCC" "$dir/model.onnx" --calib "$dir/calib.npy" --target hvx-like -o "$o/net.c" 2> "$o/qcc.err"; then
    printf '%-24s SKIPPED (%s)\n' "$name" "$(tail -1 "$o/qcc.err" | cut -c1-90)"
    continue
  fi
  # the first sample of input.npy as raw float32 (npy v1/v2 header skipped)
  python3 - "$dir/input.npy" "$o/in.bin" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
major = b[6]
hl = struct.unpack("<H", b[8:10])[0] if major == 1 else struct.unpack("<I", b[8:12])[0]
start = (10 if major == 1 else 12) + hl
header = b[start - hl:start].decode("latin1")
shape = eval(header.split("'shape':")[1].split(")")[0] + ")")
data = b[start:]
n = shape[0] if shape else 1
open(sys.argv[2], "wb").write(data[: len(data) // max(n, 1)])
PY
  MODE=f sh "$HERE/hexrun.sh" "$o/net.c" "$o/in.bin" 5 > "$o/hexrun.log" 2>&1 || {
    printf '%-24s FAILED (see %s)\n' "$name" "$o/hexrun.log"; continue; }
  macs=$(sed -n 's/^#define QCC_NET_MACS \([0-9]*\)/\1/p' "$o/net.h")
  pk=$(sed -n 's/^packets_per_inference=\([0-9]*\)/\1/p' "$o/hexrun.log")
  ratio=$(awk -v m="$macs" -v p="$pk" 'BEGIN { if (p > 0) printf "%.2f", m / p; else print "-" }')
  printf '%-24s %14s %12s %10s %6s\n' "$name" "$macs" "$pk" "$ratio" 256
  sed -n '/^== hottest packets/,$p' "$o/hexrun.log" | sed -n '2,6p' | cut -c1-150 | sed 's/^/    /'
done
