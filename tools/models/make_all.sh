#!/bin/sh
# Regenerates testsuite/models/ (about 10 minutes on 2 idle cores; ~25 under heavy load).
#   tools/models/make_all.sh                               # torch models + references
#   WITH_OTHER_CONVERTERS=1 tools/models/make_all.sh       # also Keras/tf2onnx, tflite2onnx,
#                                                          # paddle2onnx (venvs under /tmp)
#   SKIP_SETUP=1 tools/models/make_all.sh                  # do not run setup.sh
# Step 1 (Debian /usr/bin/python3, torch 1.13): train/build and export every torch model.
# Step 2 (optional, own virtualenvs): other converters.
# Step 3 (PYTHON_REF, default python3 with onnx + onnxruntime): converter variants, checks,
#         onnxruntime reference outputs (expected.npz), meta.json, index.json.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PYTHON_TORCH=${PYTHON_TORCH:-/usr/bin/python3}
PYTHON_REF=${PYTHON_REF:-python3}
export PYTHONHASHSEED=0 QCC_TORCH_THREADS=${QCC_TORCH_THREADS:-2}

if [ "${SKIP_SETUP:-0}" != 1 ]; then PYTHON_REF="$PYTHON_REF" sh "$HERE/setup.sh"; fi
cd "$HERE"
"$PYTHON_TORCH" -W ignore make_models.py

if [ "${WITH_OTHER_CONVERTERS:-0}" = 1 ]; then
    TFVENV=${TFVENV:-/tmp/qcc-tfvenv}
    PDVENV=${PDVENV:-/tmp/qcc-paddlevenv}
    [ -x "$TFVENV/bin/python" ] || "$PYTHON_REF" -m venv "$TFVENV"
    "$TFVENV/bin/pip" install -q tensorflow-cpu tf2onnx tflite2onnx scikit-learn
    "$TFVENV/bin/python" make_tf_models.py
    [ -x "$PDVENV/bin/python" ] || "$PYTHON_REF" -m venv "$PDVENV"
    "$PDVENV/bin/pip" install -q paddlepaddle paddle2onnx scikit-learn packaging
    "$PDVENV/bin/python" make_paddle_models.py
fi

"$PYTHON_REF" reference.py
"$PYTHON_REF" summarize.py
du -sh "$REPO/testsuite/models"
