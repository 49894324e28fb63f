#!/bin/sh
# Regenerates testsuite/models/ from scratch (about 10 minutes on 2 cores).
#   tools/models/make_all.sh            # everything
#   SKIP_SETUP=1 tools/models/make_all.sh
# Step 1 (Debian /usr/bin/python3, torch 1.13): train/build and export every model.
# Step 2 (PYTHON_REF, default python3 with onnx + onnxruntime): converter variants, checks,
#         onnxruntime reference outputs (expected.npz), meta.json, index.json.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PYTHON_TORCH=${PYTHON_TORCH:-/usr/bin/python3}
PYTHON_REF=${PYTHON_REF:-python3}
export PYTHONHASHSEED=0 QCC_TORCH_THREADS=${QCC_TORCH_THREADS:-2}

if [ "${SKIP_SETUP:-0}" != 1 ]; then PYTHON_REF="$PYTHON_REF" sh "$HERE/setup.sh"; fi
rm -rf "$REPO/testsuite/models"/*/
cd "$HERE"
"$PYTHON_TORCH" -W ignore make_models.py
"$PYTHON_REF" reference.py
du -sh "$REPO/testsuite/models"
