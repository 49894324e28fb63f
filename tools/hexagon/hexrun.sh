#!/bin/sh
# hexrun.sh - build one emitted qcc model (net.c + net.h) for Hexagon/HVX and for the host,
# run both on a quantized input, compare, and count executed packets on qemu-hexagon.
#
#   hexrun.sh NET.c [INPUT.bin [HOT]]
#
# INPUT.bin holds one sample: every input's quantized bytes in input order (what
# `driver q 1` reads). Without INPUT.bin only the builds happen. HOT (default 12) hottest
# packets are counted per PC; the first HOTSHOW (default 12) are listed with their source
# line (llvm-addr2line-19) when available (tools/hexagon/profile.py aggregates all of them).
# Outputs go to DIR/hexbuild/ next to NET.c. Environment: CLANG (default clang-19),
# HOSTCC (default cc), QEMU (default qemu-hexagon), MODE (default q; f: INPUT.bin holds
# float32 inputs for qcc_<name>_run_f32).
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
NETC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
IN=$2
HOT=${3:-12}
CLANG=${CLANG:-clang-19}
HOSTCC=${HOSTCC:-cc}
QEMU=${QEMU:-qemu-hexagon}
MODE=${MODE:-q}
NETH=${NETC%.c}.h
NAME=$(sed -n 's/^int qcc_\([A-Za-z0-9_]*\)_run(.*/\1/p' "$NETH" | head -1)
[ -n "$NAME" ] || { echo "hexrun: no qcc_<name>_run in $NETH" >&2; exit 2; }
UNAME=$(echo "$NAME" | tr a-z A-Z)
B=$(dirname "$NETC")/hexbuild
mkdir -p "$B"
DEFS="-DQ_NAME=$NAME -DQ_UNAME=$UNAME -DQ_HEADER=\"$(basename "$NETH")\" -I$(dirname "$NETC") -I$HERE"
HEX="--target=hexagon-unknown-linux-musl -mv67 -mhvx=v66 -mhvx-length=128b -O2 -g -nostdlib -ffreestanding -static -fno-builtin"
# shellcheck disable=SC2086
$CLANG $HEX $DEFS -o "$B/net_hvx.elf" "$HERE/driver.c" "$NETC"
# shellcheck disable=SC2086
$HOSTCC -O2 -std=c99 -Wall -Wextra -Werror -pedantic -c -o "$B/net_host.o" "$NETC"
# shellcheck disable=SC2086
$HOSTCC -O2 -D_POSIX_C_SOURCE=200809L $DEFS -o "$B/net_host" "$HERE/driver.c" "$B/net_host.o"
make -s -C "$HERE" PLUGIN_DIR="$B" plugin
[ -n "$IN" ] || exit 0

"$B/net_host" "$MODE" 1 < "$IN" > "$B/out_host.bin"
$QEMU "$B/net_hvx.elf" "$MODE" 1 < "$IN" > "$B/out_hvx.bin"
echo "== outputs (host portable C vs Hexagon HVX on qemu)"
od -An -v -tx1 "$B/out_hvx.bin" | head -8
if cmp -s "$B/out_host.bin" "$B/out_hvx.bin"; then echo "identical"; else echo "MISMATCH"; exit 1; fi

echo "== executed packets for one inference (run twice minus run once)"
count() { qemu-hexagon -d plugin -D "$B/plugin_$1.log" -plugin "$B/libhexcount.so,hot=$2" \
            "$B/net_hvx.elf" "$MODE" 1 "$1" < "$IN" > /dev/null; }
count 1 0
count 2 "$HOT"
p1=$(sed -n 's/^hexcount: packets=\([0-9]*\).*/\1/p' "$B/plugin_1.log")
p2=$(sed -n 's/^hexcount: packets=\([0-9]*\).*/\1/p' "$B/plugin_2.log")
echo "packets_per_inference=$((p2 - p1))"
grep '^hexcount:' "$B/plugin_2.log"
echo "== hottest packets (count over two inferences, pc, insns, disassembly, source)"
A2L=$(command -v llvm-addr2line-19 || command -v addr2line || true)
grep '^hot:' "$B/plugin_2.log" | head -n "${HOTSHOW:-12}" | while read -r _ n pc ni rest; do
  src=""
  [ -n "$A2L" ] && src=$($A2L -f -s -e "$B/net_hvx.elf" "$pc" 2>/dev/null | paste -sd' ' -)
  printf '%10s %s [%s] %s  | %s\n' "$n" "$pc" "$ni" "$rest" "$src"
done
