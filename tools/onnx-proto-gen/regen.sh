#!/usr/bin/env bash
# Regenerates the vendored ONNX schema and the prost code the importer uses.
#
# Step 1: onnx.proto3 from the pip `onnx` package's onnx.in.proto (gen_proto.py writes both
#         the proto2 and the proto3 flavour; we keep the proto3 one, package `onnx`, no ML).
# Step 2: compiler/src/import/onnx/proto.rs from onnx.proto3 with protox + prost-build
#         (pure Rust, no protoc).
#
# Usage: tools/onnx-proto-gen/regen.sh   (PYTHON=... to pick the interpreter)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m onnx.gen_proto -p onnx -o "$tmp" onnx
version="$("$python" -c 'import onnx; print(onnx.__version__)')"
{
  cat "$here/LICENSE-NOTICE"
  echo "// Generated from onnx.in.proto of the onnx $version pip package by"
  echo "// \`python3 -m onnx.gen_proto -p onnx -o DIR onnx\` (see regen.sh)."
  echo
  cat "$tmp/onnx.proto3"
} > "$here/onnx.proto3"

cargo run --quiet --manifest-path "$here/Cargo.toml" -- \
  "$here/onnx.proto3" "$root/compiler/src/import/onnx/proto.rs"
# The workspace's `cargo fmt --all` formats the checked-in file, so format it here too.
rustfmt --edition 2024 "$root/compiler/src/import/onnx/proto.rs"
