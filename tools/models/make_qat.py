#!/usr/bin/python3
"""A PyTorch quantization-aware-training export: testsuite/models/qat_digits/.

A small CNN on scikit-learn's 8x8 digits, trained in float, then fine-tuned with fake
quantization (torch.ao.quantization eager-mode QAT: Conv+ReLU fused, u8 per-tensor
activations, i8 per-channel symmetric weights), and exported with torch.onnx.export at
opset 13 *before* conversion, so every FakeQuantize becomes a QuantizeLinear ->
DequantizeLinear pair in the file (weights: a float initializer through Q/DQ per axis 0;
biases stay float). qcc imports it as a Qdq-phase graph and needs no --calib.

Commands that made the committed files (about 20 s on two busy cores):

    /usr/bin/python3 -W ignore tools/models/make_qat.py      # Debian python: torch 1.13 + sklearn
    python3 tools/models/reference.py --only qat_digits      # pyenv python: onnxruntime 1.32
                                                             # (expected.npz, meta.json checks)

Seeds are fixed (torch, numpy, the data split of tools/models/common.py).
"""

import torch
import torch.ao.quantization as tq
import torch.nn as nn

import common as C

NAME = "qat_digits"
SRC = "tools/models/make_qat.py"
PRE = "sklearn digits /16 -> [0,1], shape (1,8,8); split train_test_split(test_size=0.2, " \
      "random_state=0, stratify=y)"


class QatDigits(nn.Module):
    """conv3x3(8)+relu, maxpool, conv3x3(16)+relu, maxpool, flatten, linear(10)."""

    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 2 * 2, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.fc(torch.flatten(x, 1))
        return self.dequant(x)


def qconfig():
    """u8 asymmetric per-tensor activations over 0..255 (no reduce_range), i8 symmetric
    per-output-channel weights: the ranges ONNX QuantizeLinear can express."""
    act = tq.FakeQuantize.with_args(
        observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
        dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    weight = tq.FakeQuantize.with_args(
        observer=tq.MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
        dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
    return tq.QConfig(activation=act, weight=weight)


def main():
    C.seed_all(0)
    xtr, xte, ytr, yte = C.digits_split()
    xtr, xte = xtr[:, None], xte[:, None]
    model = QatDigits()
    print(f"[{NAME}] float training on {len(xtr)} digits")
    C.train_classifier(model, xtr, ytr, epochs=30, lr=3e-3, batch=64)
    print(f"[{NAME}] float test accuracy {C.accuracy(model, xte, yte):.4f}")
    model.train()
    tq.fuse_modules_qat(model, [["conv1", "relu1"], ["conv2", "relu2"]], inplace=True)
    model.qconfig = qconfig()
    tq.prepare_qat(model, inplace=True)
    print(f"[{NAME}] quantization-aware fine-tuning")
    C.train_classifier(model, xtr, ytr, epochs=8, lr=5e-4, batch=64, seed=1)
    model.apply(tq.disable_observer)
    acc = C.accuracy(model, xte, yte)
    print(f"[{NAME}] fake-quantized test accuracy {acc:.4f}")
    rng = __import__("numpy").random.RandomState(0)
    calib_idx = rng.choice(len(xtr), C.N_CALIB, replace=False)
    C.export(model, NAME, xte[:1], opset=13, source=SRC, trained=True, accuracy=acc,
             dataset="sklearn-digits", preprocessing=PRE, x_input=xte[: C.N_INPUT],
             x_calib=xtr[calib_idx], test_x=xte, test_y=yte,
             notes="PyTorch eager-mode QAT (torch.ao.quantization, fbgemm-like qconfig "
                   "without reduce_range) exported unconverted: QuantizeLinear/"
                   "DequantizeLinear pairs from FakeQuantize; float accuracy is the "
                   "fake-quantized model's",
             extra_meta={"qat": True})


if __name__ == "__main__":
    main()
