"""Shared helpers for the qcc test-model zoo (torch side).

Runs under Debian's system python (/usr/bin/python3: torch 1.13, torchvision 0.14,
scikit-learn 1.2, numpy 1.24). Nothing here imports `onnx`: torch.onnx.export in torch 1.13
serializes the protobuf itself, so the `onnx` package is not needed on the export side.

Data comes only from files that ship in Debian packages:
- Fashion-MNIST: package `dataset-fashion-mnist`, /usr/share/datasets/fashion-mnist/*.gz
  (idx format, parsed here by hand);
- 8x8 digits: scikit-learn's bundled copy (`sklearn.datasets.load_digits`, no download).

Preprocessing (stored arrays are already preprocessed; qcc consumes them as they are):
- digits: pixel values 0..16 divided by 16 -> [0, 1];
- Fashion-MNIST (1 channel, 28x28): x/255, then (x - 0.2860) / 0.3530;
- "imagenet" style (3 channels, resized): x/255 resized bilinearly (align_corners=False,
  no antialias) to the model's size, replicated to 3 channels, then ImageNet mean/std.
"""

import gzip
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
FASHION_MEAN = 0.2860
FASHION_STD = 0.3530
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_ROOT = os.path.join(REPO, "testsuite", "models")

N_INPUT = 8  # samples in input.npy / expected.npz
N_CALIB = 100  # samples in calib.npy for trained models
N_CALIB_UNTRAINED = 16  # samples in calib.npy for untrained (larger-input) models
N_FASHION_TEST = 1000  # samples in test_x.npy / test_y.npy for Fashion-MNIST models


def seed_all(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


def set_threads():
    n = int(os.environ.get("QCC_TORCH_THREADS", "2"))
    torch.set_num_threads(n)


# ---------------------------------------------------------------------------- data


def read_idx_gz(path):
    """Parse an idx file (gzip-compressed) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch")
    return arr.reshape(dims)


def fashion_raw(split):
    """(images uint8 [N,28,28], labels int64 [N]) for split 'train' or 't10k'."""
    x = read_idx_gz(os.path.join(FASHION_DIR, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx_gz(os.path.join(FASHION_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return x, y.astype(np.int64)


def fashion_norm(x_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], normalized."""
    x = x_u8.astype(np.float32) / 255.0
    return ((x - FASHION_MEAN) / FASHION_STD)[:, None, :, :].astype(np.float32)


def imagenet_style(x_u8, size):
    """uint8 [N,28,28] -> float32 [N,3,size,size]: resize, replicate, ImageNet-normalize."""
    x = torch.from_numpy(x_u8.astype(np.float32) / 255.0)[:, None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = x.clamp(0.0, 1.0).repeat(1, 3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).numpy().astype(np.float32)


def mosaic_style(x_u8, size=64):
    """uint8 [4N,28,28] -> float32 [N,3,size,size]: 2x2 mosaic of four images, each
    resized to size/2, replicated to 3 channels, mapped to [-1, 1]."""
    n = x_u8.shape[0] // 4
    half = size // 2
    t = torch.from_numpy(x_u8[: 4 * n].astype(np.float32) / 255.0)[:, None]
    t = F.interpolate(t, size=(half, half), mode="bilinear", align_corners=False).clamp(0, 1)
    t = t.view(n, 4, half, half)
    top = torch.cat([t[:, 0], t[:, 1]], dim=2)
    bot = torch.cat([t[:, 2], t[:, 3]], dim=2)
    img = torch.cat([top, bot], dim=1)[:, None].repeat(1, 3, 1, 1)
    return ((img - 0.5) / 0.5).numpy().astype(np.float32)


def digits_split():
    """sklearn digits, fixed 80/20 split. Returns float images [N,8,8] in [0,1] and labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)


# ---------------------------------------------------------------------------- training


def train_classifier(model, x_train, y_train, epochs, lr=2e-3, batch=128, seed=0, wd=0.0):
    """Adam + cosine-free step schedule; returns the model in eval mode."""
    set_threads()
    g = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(x_train)
    yt = torch.from_numpy(y_train)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    steps = epochs * ((len(xt) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        tot = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        if epochs <= 10 or (ep + 1) % 10 == 0:
            print(f"  epoch {ep + 1}/{epochs} loss {tot / len(xt):.4f} ({time.time() - t0:.0f}s)")
    model.eval()
    return model


@torch.no_grad()
def accuracy(model, x, y, batch=500):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        out = model(torch.from_numpy(x[i : i + batch]))
        correct += (out.argmax(1).numpy() == y[i : i + batch]).sum()
    return float(correct) / len(x)


@torch.no_grad()
def recalibrate_bn(model, x, seed=0, batch=32):
    """Give an untrained net realistic BatchNorm parameters: random affine (gamma in
    [0.5, 1.5], beta ~ N(0, 0.1)) and running statistics measured on real data, so that
    activations stay in a sensible range and BN folding is not a no-op."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.weight.copy_(torch.rand(bn.weight.shape, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(bn.bias.shape, generator=g) * 0.1)
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    model.train()
    xt = torch.from_numpy(x)
    for i in range(0, len(xt), batch):
        model(xt[i : i + batch])
    model.eval()
    return model


# ---------------------------------------------------------------------------- export


def out_dir(name):
    d = os.path.join(OUT_ROOT, name)
    os.makedirs(d, exist_ok=True)
    return d


def save_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr))


def export(
    model,
    name,
    example,
    *,
    opset=13,
    input_names=("input",),
    output_names=("logits",),
    keep_bn=False,
    dynamic_axes=None,
    source="tools/models/make_models.py",
    trained=False,
    accuracy=None,
    dataset="",
    preprocessing="",
    notes="",
    x_input=None,
    x_calib=None,
    test_x=None,
    test_y=None,
    extra_meta=None,
):
    """Export `model` (eval mode) to testsuite/models/<name>/ with its data files and a
    partial meta.json (the reference step, tools/models/reference.py, completes it).

    keep_bn=True exports with training=PRESERVE and do_constant_folding=False, which keeps
    BatchNormalization nodes (torch's eval export folds BN into the preceding Conv)."""
    model.eval()
    d = out_dir(name)
    path = os.path.join(d, "model.onnx")
    kw = dict(
        opset_version=opset,
        input_names=list(input_names),
        output_names=list(output_names),
        dynamic_axes=dynamic_axes,
    )
    if keep_bn:
        kw.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    else:
        kw.update(training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True)
    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(example),), path, **kw)
    save_npy(os.path.join(d, "input.npy"), x_input)
    # torch's own outputs for input.npy, for cross-checking onnxruntime in the reference step
    # (not committed; see .gitignore)
    with torch.no_grad():
        outs = [model(torch.from_numpy(x_input[i : i + 1])) for i in range(len(x_input))]
    if isinstance(outs[0], torch.Tensor):
        outs = [(o,) for o in outs]
    torch_ref = {
        n: np.concatenate([o[k].numpy() for o in outs], axis=0).astype(np.float32)
        for k, n in enumerate(output_names)
    }
    np.savez(os.path.join(d, "torch_ref.npz"), **torch_ref)
    if x_calib is not None:
        save_npy(os.path.join(d, "calib.npy"), x_calib)
    if test_x is not None:
        save_npy(os.path.join(d, "test_x.npy"), test_x)
        save_npy(os.path.join(d, "test_y.npy"), test_y.astype(np.int64))
    meta = {
        "name": name,
        "source": source,
        "producer": f"pytorch {torch.__version__} torch.onnx.export",
        "opset_requested": opset,
        "export": {
            "keep_batchnorm": keep_bn,
            "training_mode": "PRESERVE" if keep_bn else "EVAL",
            "do_constant_folding": not keep_bn,
            "dynamic_axes": dynamic_axes,
        },
        "trained": trained,
        "float_test_accuracy_torch": accuracy,
        "dataset": dataset,
        "preprocessing": preprocessing,
        "notes": notes,
    }
    if extra_meta:
        meta.update(extra_meta)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"  wrote {path} ({os.path.getsize(path) / 1e3:.1f} kB)")
    return path
