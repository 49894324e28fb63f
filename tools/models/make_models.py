#!/usr/bin/python3
"""Train/build and export the qcc test-model zoo into testsuite/models/<name>/.

Run with Debian's system python (torch 1.13):
    /usr/bin/python3 tools/models/make_models.py            # every family
    /usr/bin/python3 tools/models/make_models.py --only fashion_cnn --only tiny_detector

Each family writes model.onnx, input.npy, calib.npy, meta.json (partial), torch_ref.npz (not
committed) and, for trained models, test_x.npy / test_y.npy. tools/models/reference.py
(onnx + onnxruntime, pyenv python) then derives the converter variants, checks every model
and writes expected.npz and the rest of meta.json.
"""

import argparse
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

import common as C
import nets

SRC = "tools/models/make_models.py"
FASHION_PRE = (
    "Fashion-MNIST idx (dataset-fashion-mnist), x/255, (x-0.2860)/0.3530, shape (1,28,28)"
)
IMAGENET_PRE = (
    "Fashion-MNIST x/255 resized bilinear (align_corners=False) to {s}x{s}, replicated to "
    "3 channels, ImageNet mean/std normalized"
)


class Data:
    """Lazily loaded, cached datasets."""

    def __init__(self):
        self._f = None
        self._d = None

    def fashion(self):
        if self._f is None:
            xtr, ytr = C.fashion_raw("train")
            xte, yte = C.fashion_raw("t10k")
            rng = np.random.RandomState(0)
            calib_idx = rng.choice(len(xtr), C.N_CALIB, replace=False)
            self._f = dict(xtr_u8=xtr, ytr=ytr, xte_u8=xte, yte=yte, calib_idx=calib_idx)
        return self._f

    def digits(self):
        if self._d is None:
            xtr, xte, ytr, yte = C.digits_split()
            rng = np.random.RandomState(0)
            calib_idx = rng.choice(len(xtr), C.N_CALIB, replace=False)
            self._d = dict(xtr=xtr, xte=xte, ytr=ytr, yte=yte, calib_idx=calib_idx)
        return self._d


DATA = Data()
N_FASHION_TRAIN = 30000  # training subset (first N of the 60k), keeps training short


def fashion_trained(name, model, epochs, lr=3e-3, opsets=(), **export_kw):
    """Train `model` on Fashion-MNIST and export it (and torch-opset variants)."""
    d = DATA.fashion()
    C.seed_all(0)
    x_all = C.fashion_norm(d["xtr_u8"][:N_FASHION_TRAIN])
    y_all = d["ytr"][:N_FASHION_TRAIN]
    print(f"[{name}] training on {len(x_all)} Fashion-MNIST images, {epochs} epochs")
    C.train_classifier(model, x_all, y_all, epochs, lr=lr)
    test_x = C.fashion_norm(d["xte_u8"][: C.N_FASHION_TEST])
    test_y = d["yte"][: C.N_FASHION_TEST]
    acc = C.accuracy(model, test_x, test_y)
    acc_full = C.accuracy(model, C.fashion_norm(d["xte_u8"]), d["yte"])
    print(f"[{name}] float test accuracy {acc:.4f} (1000), {acc_full:.4f} (10000)")
    calib = C.fashion_norm(d["xtr_u8"][d["calib_idx"]])
    common = dict(
        source=SRC,
        trained=True,
        accuracy=acc,
        dataset="fashion-mnist",
        preprocessing=FASHION_PRE,
        x_input=test_x[: C.N_INPUT],
        x_calib=calib,
    )
    extra = dict(export_kw.pop("extra_meta", {}))
    extra["float_test_accuracy_torch_10000"] = acc_full
    extra["train_samples"] = N_FASHION_TRAIN
    extra["epochs"] = epochs
    C.export(model, name, test_x[:1], test_x=test_x, test_y=test_y, extra_meta=extra,
             **common, **export_kw)
    for op in opsets:
        v = f"{name}_op{op}"
        kw = dict(export_kw)
        kw["opset"] = op
        C.export(model, v, test_x[:1], notes=f"{name} (same weights) exported at opset {op}; "
                 f"labelled test set: ../{name}/test_x.npy", extra_meta=extra, **common, **kw)
    return model


def build_lenet_digits():
    d = DATA.digits()
    C.seed_all(0)

    def up(x):  # (N,8,8) in [0,1] -> (N,1,16,16)
        t = torch.from_numpy(x)[:, None]
        return F.interpolate(t, size=(16, 16), mode="bilinear", align_corners=False).numpy()

    xtr, xte = up(d["xtr"]), up(d["xte"])
    model = nets.LeNetDigits()
    print(f"[lenet_digits] training on {len(xtr)} digits")
    C.train_classifier(model, xtr, d["ytr"], epochs=40, lr=3e-3, batch=64)
    acc = C.accuracy(model, xte, d["yte"])
    print(f"[lenet_digits] float test accuracy {acc:.4f}")
    pre = ("sklearn digits /16 -> [0,1], resized 8x8 -> 16x16 bilinear (align_corners=False); "
           "split train_test_split(test_size=0.2, random_state=0, stratify=y)")
    kw = dict(source=SRC, trained=True, accuracy=acc, dataset="sklearn-digits",
              preprocessing=pre, x_input=xte[: C.N_INPUT], x_calib=xtr[d["calib_idx"]])
    C.export(model, "lenet_digits", xte[:1], keep_bn=True, test_x=xte, test_y=d["yte"], **kw)
    C.export(model, "lenet_digits_op9", xte[:1], opset=9, keep_bn=True,
             notes="lenet_digits at opset 9; labelled test set: ../lenet_digits", **kw)
    C.export(model, "lenet_digits_dynbatch", xte[:1], opset=13,
             dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
             notes="lenet_digits with a dynamic batch dim (pin with --input-shape "
                   "input=1,1,16,16); the view(x.size(0), -1) flatten becomes a "
                   "Shape/Gather/Unsqueeze/Concat/Reshape subgraph; labelled test set: "
                   "../lenet_digits", **kw)


def build_fashion_cnn():
    fashion_trained("fashion_cnn", nets.FashionCNN(), epochs=3, opsets=(9, 11, 17))


def build_fashion_mobilenet():
    fashion_trained("fashion_mobilenet", nets.FashionMobileNet(), epochs=3, keep_bn=True)


def build_fashion_resnet():
    fashion_trained("fashion_resnet", nets.FashionResNet(), epochs=2)


def build_fashion_se_hswish():
    fashion_trained("fashion_se_hswish", nets.FashionSEHSwish(), epochs=3, opset=17,
                    opsets=(13,),
                    extra_meta={"note_opset": "opset 17 exports HardSwish; the _op13 variant "
                                "decomposes hard-swish into HardSigmoid + Mul"})


def build_digits_speech_dw():
    d = DATA.digits()
    C.seed_all(0)
    # (N, 8 rows = frames, 8 cols = features) -> (N, 8 features, 8 frames)
    xtr = np.ascontiguousarray(d["xtr"].transpose(0, 2, 1))
    xte = np.ascontiguousarray(d["xte"].transpose(0, 2, 1))
    model = nets.DigitsSpeechDW()
    print(f"[digits_speech_dw] training on {len(xtr)} digits")
    C.train_classifier(model, xtr, d["ytr"], epochs=60, lr=3e-3, batch=64)
    acc = C.accuracy(model, xte, d["yte"])
    print(f"[digits_speech_dw] float test accuracy {acc:.4f}")
    pre = ("sklearn digits /16 -> [0,1]; each 8x8 image is 8 frames (rows) of 8 features "
           "(columns), laid out (features=channels, frames=length) = (8, 8)")
    C.export(model, "digits_speech_dw", xte[:1], keep_bn=True, source=SRC, trained=True,
             accuracy=acc, dataset="sklearn-digits", preprocessing=pre,
             x_input=xte[: C.N_INPUT], x_calib=xtr[d["calib_idx"]], test_x=xte,
             test_y=d["yte"])


def untrained(name, model, size, opset=13, keep_bn=False, preprocess=None, notes="",
              imgs_per_sample=1, **kw):
    """Export an untrained (seeded) model with BN statistics recalibrated on real images."""
    d = DATA.fashion()
    preprocess = preprocess or (lambda u8: C.imagenet_style(u8, size))
    pre_text = kw.pop("preprocessing", IMAGENET_PRE.format(s=size))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"[{name}] untrained, {n_params} parameters ({n_params * 4 / 1e6:.2f} MB f32)")
    C.recalibrate_bn(model, preprocess(d["xtr_u8"][1000:1256]))
    x_in = preprocess(d["xte_u8"][: C.N_INPUT * imgs_per_sample])
    x_cal = preprocess(d["xtr_u8"][d["calib_idx"][: C.N_CALIB_UNTRAINED * imgs_per_sample]])
    C.export(model, name, x_in[:1], opset=opset, keep_bn=keep_bn, source=SRC, trained=False,
             dataset="fashion-mnist", preprocessing=pre_text, x_input=x_in, x_calib=x_cal,
             notes=notes + " Untrained (seed 0); BN affine randomized and running stats "
             "measured on 256 real training images.",
             extra_meta={"parameters": n_params, **kw.pop("extra_meta", {})}, **kw)
    return model


def build_tiny_detector():
    C.seed_all(0)
    model = nets.TinyDetector()
    names = ["boxes_p2", "objectness_p2", "classes_p2", "boxes_p3", "objectness_p3",
             "classes_p3"]
    pre = ("2x2 mosaic of four Fashion-MNIST test images (each x/255 resized bilinear to "
           "32x32), replicated to 3 channels, (x-0.5)/0.5; shape (3,64,64)")
    for opset, name in ((13, "tiny_detector"), (11, "tiny_detector_op11")):
        C.seed_all(0)
        model = nets.TinyDetector()
        untrained(name, model, 64, opset=opset, preprocess=C.mosaic_style, imgs_per_sample=4,
                  output_names=names, preprocessing=pre,
                  notes=f"Detector-style graph at opset {opset}.")


def build_torchvision():
    print(f"torchvision {torchvision.__version__}")
    C.seed_all(0)
    untrained("mobilenet_v2", torchvision.models.mobilenet_v2(width_mult=0.35, num_classes=10),
              96, notes="torchvision mobilenet_v2(width_mult=0.35, num_classes=10), BN folded.")
    C.seed_all(0)
    untrained("mobilenet_v3_small", torchvision.models.mobilenet_v3_small(num_classes=10), 96,
              keep_bn=True, notes="torchvision mobilenet_v3_small(num_classes=10) at opset 13 "
              "(hard-swish as HardSigmoid+Mul), BatchNormalization kept.")
    C.seed_all(0)
    untrained("mobilenet_v3_large", torchvision.models.mobilenet_v3_large(
              width_mult=0.5, num_classes=10), 96, opset=17,
              notes="torchvision mobilenet_v3_large(width_mult=0.5, num_classes=10) at "
              "opset 17 (HardSwish op), BN folded.")
    C.seed_all(0)
    full = torchvision.models.resnet.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1],
                                            num_classes=10)
    n_full = sum(p.numel() for p in full.parameters())
    print(f"[resnet18] torchvision ResNet(BasicBlock,[1,1,1,1]) has {n_full} parameters "
          f"({n_full * 4 / 1e6:.1f} MB): too big, using NarrowResNet18")
    C.seed_all(0)
    untrained("resnet18", nets.NarrowResNet18(), 96,
              notes="ResNet-18 topology ([2,2,2,2] torchvision BasicBlocks, 7x7/2 stem, "
              "maxpool) with channels 16/32/64/128; BN folded. torchvision's "
              f"ResNet(BasicBlock,[1,1,1,1]) would be {n_full * 4 / 1e6:.1f} MB.",
              extra_meta={"resnet_1111_params": n_full})
    C.seed_all(0)
    untrained("mobilenet_v1", nets.MobileNetV1(alpha=0.5), 96, keep_bn=True,
              notes="MobileNet v1 alpha=0.5 (hand-written), BatchNormalization kept.")


FAMILIES = {
    "lenet_digits": build_lenet_digits,
    "digits_speech_dw": build_digits_speech_dw,
    "fashion_cnn": build_fashion_cnn,
    "fashion_mobilenet": build_fashion_mobilenet,
    "fashion_resnet": build_fashion_resnet,
    "fashion_se_hswish": build_fashion_se_hswish,
    "tiny_detector": build_tiny_detector,
    "torchvision": build_torchvision,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", choices=sorted(FAMILIES),
                    help="build only this family (repeatable)")
    args = ap.parse_args()
    C.set_threads()
    for name in args.only or list(FAMILIES):
        t0 = time.time()
        FAMILIES[name]()
        print(f"[{name}] done in {time.time() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
