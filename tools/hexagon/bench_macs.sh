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
TOP=${TOP:-5}
mkdir -p "$OUT"
if [ $# -eq 0 ]; then
  set -- $(for d in "$ROOT"/testsuite/models/*/; do [ -f "$d/calib.npy" ] && echo "${d%/}"; done)
fi
printf '%-24s %12s %10s %9s %10s %9s %5s\n' model macs packets macs/pkt pkts_f32 macs/pkt peak
for dir in "$@"; do
  name=$(basename "$dir")
  o="$OUT/$name"
  mkdir -p "$o"
  if ! "$QCC" "$dir/model.onnx" --calib "$dir/calib.npy" --target hvx-like -o "$o/net.c" 2> "$o/qcc.err"; then
    printf '%-24s SKIPPED (%s)\n' "$name" "$(tail -1 "$o/qcc.err" | cut -c1-90)"
    continue
  fi
  # the first sample of input.npy as raw float32 (in.bin) and quantized with the header's
  # scale and zero point (inq.bin, for qcc_net_run)
  python3 - "$dir/input.npy" "$o/in.bin" "$o/net.h" "$o/inq.bin" <<'PY'
import re, struct, sys
b = open(sys.argv[1], "rb").read()
major = b[6]
hl = struct.unpack("<H", b[8:10])[0] if major == 1 else struct.unpack("<I", b[8:12])[0]
start = (10 if major == 1 else 12) + hl
header = b[start - hl:start].decode("latin1")
shape = eval(header.split("'shape':")[1].split(")")[0] + ")")
data = b[start:]
n = shape[0] if shape else 1
sample = data[: len(data) // max(n, 1)]
open(sys.argv[2], "wb").write(sample)
h = open(sys.argv[3]).read()
xs = struct.unpack("<%df" % (len(sample) // 4), sample)
out, at, i = bytearray(), 0, 0
while True:
    m = re.search(r"#define QCC_NET_INPUT_%d_NUMEL (\d+)" % i, h)
    if not m:
        break
    numel = int(m.group(1))
    s = float(re.search(r"#define QCC_NET_INPUT_%d_SCALE (\S+)f" % i, h).group(1))
    zp = int(re.search(r"#define QCC_NET_INPUT_%d_ZERO_POINT (-?\d+)" % i, h).group(1))
    ct = re.search(r"#define QCC_NET_INPUT_%d_CTYPE (\w+)" % i, h).group(1)
    lo, hi, fmt = {"uint8_t": (0, 255, "B"), "int8_t": (-128, 127, "b"), "int16_t": (-32768, 32767, "<h"),
                   "int32_t": (-2**31, 2**31 - 1, "<i")}[ct]
    for x in xs[at:at + numel]:
        out += struct.pack(fmt, max(lo, min(hi, int(round(x / s)) + zp)))
    at += numel
    i += 1
open(sys.argv[4], "wb").write(out)
PY
  MODE=q sh "$HERE/hexrun.sh" "$o/net.c" "$o/inq.bin" 1000000 > "$o/hexrun.log" 2>&1 || {
    printf '%-24s FAILED (see %s)\n' "$name" "$o/hexrun.log"; continue; }
  macs=$(sed -n 's/^#define QCC_NET_MACS \([0-9]*\)/\1/p' "$o/net.h")
  pk=$(sed -n 's/^packets_per_inference=\([0-9]*\)/\1/p' "$o/hexrun.log")
  # the same through qcc_net_run_f32 (float input quantization and output dequantization)
  B="$o/hexbuild"
  for r in 1 2; do
    qemu-hexagon -d plugin -D "$B/plugin_f$r.log" -plugin "$B/libhexcount.so" \
      "$B/net_hvx.elf" f 1 $r < "$o/in.bin" > /dev/null
  done
  f1=$(sed -n 's/^hexcount: packets=\([0-9]*\).*/\1/p' "$B/plugin_f1.log")
  f2=$(sed -n 's/^hexcount: packets=\([0-9]*\).*/\1/p' "$B/plugin_f2.log")
  pkf=$((f2 - f1))
  ratio=$(awk -v m="$macs" -v p="$pk" 'BEGIN { if (p > 0) printf "%.2f", m / p; else print "-" }')
  ratiof=$(awk -v m="$macs" -v p="$pkf" 'BEGIN { if (p > 0) printf "%.2f", m / p; else print "-" }')
  printf '%-24s %12s %10s %9s %10s %9s %5s\n' "$name" "$macs" "$pk" "$ratio" "$pkf" "$ratiof" 256
  python3 "$HERE/profile.py" "$B/plugin_2.log" "$B/net_hvx.elf" "$o/net.c" "$TOP" > "$o/profile.txt" || true
  sed -n '2,'"$((TOP + 1))"'p' "$o/profile.txt" | cut -c1-120 | sed 's/^/    node /'
  sed -n '/^== packets per innermost/,$p' "$o/profile.txt" | sed -n '2,'"$((TOP + 1))"'p' | cut -c1-120 | sed 's/^/    line /'
  sed -n '/^== hottest packets/,$p' "$o/hexrun.log" | sed -n '2,'"$((TOP + 1))"'p' | cut -c1-150 | sed 's/^/    pkt  /'
done
