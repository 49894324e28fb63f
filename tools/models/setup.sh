#!/bin/sh
# Installs what tools/models/ and tools/bench/*.py need on a fresh Debian bookworm machine.
# Idempotent: apt-get and pip skip what is already installed.
#   - Debian's python3 (/usr/bin/python3): torch 1.13, torchvision 0.14, scikit-learn, numpy
#     for training and torch.onnx.export (which does not need the `onnx` module);
#   - the Fashion-MNIST data set from Debian (/usr/share/datasets/fashion-mnist);
#   - onnx, onnxruntime, numpy for the "reference" python (PYTHON_REF, default python3), used
#     for onnx.version_converter, onnx.checker and onnxruntime reference outputs.
set -eu
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

need_apt=0
for p in python3-torch python3-torchvision python3-sklearn python3-numpy dataset-fashion-mnist; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt=1
done
if [ "$need_apt" = 1 ]; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends python3-torch python3-torchvision \
        python3-sklearn python3-numpy dataset-fashion-mnist
fi

PYTHON_REF=${PYTHON_REF:-python3}
if ! "$PYTHON_REF" -c "import onnx, onnxruntime, numpy" 2>/dev/null; then
    # On a bare Debian python, pip needs --break-system-packages (PEP 668); a venv or pyenv
    # python does not.
    "$PYTHON_REF" -m pip install onnx onnxruntime numpy \
        || "$PYTHON_REF" -m pip install --break-system-packages onnx onnxruntime numpy
fi
echo "setup ok: $(/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)'), $("$PYTHON_REF" -c 'import onnx, onnxruntime; print("onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__)')"
