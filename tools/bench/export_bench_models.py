#!/usr/bin/python3
"""Export full-size benchmark models (not committed): torchvision resnet18 and mobilenet_v2,
untrained (seed 0, BN statistics measured on real images), eval mode, 1x3x224x224, opset 13.

    /usr/bin/python3 tools/bench/export_bench_models.py OUT_DIR

Writes OUT_DIR/<name>/model.onnx, input.npy (1 sample) and calib.npy (16 samples): Fashion-MNIST
images resized to 224x224, replicated to 3 channels, ImageNet-normalized (float32, NCHW, first
axis = samples). Uses Debian's python (torch 1.13, torchvision 0.14); no onnx module needed.
"""

import argparse
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import common as C  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    C.set_threads()
    xtr, _ = C.fashion_raw("train")
    xte, _ = C.fashion_raw("t10k")
    bn_data = C.imagenet_style(xtr[1000:1064], args.size)
    x_in = C.imagenet_style(xte[:1], args.size)
    x_cal = C.imagenet_style(xtr[:16], args.size)
    for name, ctor in (("resnet18", torchvision.models.resnet18),
                       ("mobilenet_v2", torchvision.models.mobilenet_v2)):
        C.seed_all(0)
        model = C.recalibrate_bn(ctor(), bn_data)
        d = os.path.join(args.out_dir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(model, (torch.from_numpy(x_in),), path, opset_version=13,
                              input_names=["input"], output_names=["logits"],
                              training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True)
        np.save(os.path.join(d, "input.npy"), x_in)
        np.save(os.path.join(d, "calib.npy"), x_cal)
        print(f"{path} {os.path.getsize(path) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
