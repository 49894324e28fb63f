#!/bin/sh
# Installs what the Hexagon harness and the CMake example need (idempotent):
# clang-19 + lld-19 (Hexagon backend and linker), qemu-user (qemu-hexagon 7.2 with
# TCG plugins), llvm-19 (llvm-objdump-19 / llvm-addr2line-19 for hot-packet reports),
# cmake (examples/cmake), chromium (the headless-browser test of the HTML report).
# Runs apt-get only when something is missing.
set -e
need=""
command -v clang-19 >/dev/null 2>&1 || need="$need clang-19"
command -v ld.lld-19 >/dev/null 2>&1 || need="$need lld-19"
command -v qemu-hexagon >/dev/null 2>&1 || need="$need qemu-user"
command -v llvm-objdump-19 >/dev/null 2>&1 || need="$need llvm-19"
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
if [ -n "$need" ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends $need
fi
clang-19 --version | head -1
qemu-hexagon --version | head -1
cmake --version | head -1
