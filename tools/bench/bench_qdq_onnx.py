#!/usr/bin/env python3
"""QDQ ONNX both ways, top-1 on the labelled test sets.

Usage: python3 tools/bench/bench_qdq_onnx.py

1. onnxruntime-made QDQ models (testsuite/models/*_qdq_ort, made by
   tools/models/make_qdq_models.py) run by onnxruntime and by `qcc --run` (lowered to the
   integer program; no --calib needed).
2. qcc's own `--emit onnx` output (quantized with the model's calib.npy) run by onnxruntime,
   against `qcc --calib --run` of the same model.
Prints top-1 of both and their top-1 agreement. Needs numpy and onnxruntime.
"""
import os
import subprocess
import tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QCC = os.path.join(ROOT, "target", "release", "qcc")
MODELS = os.path.join(ROOT, "testsuite", "models")


def ort_logits(model, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    n = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {n: x[i:i + 1]})[0].reshape(1, -1) for i in range(len(x))])


def qcc_logits(args, out, n):
    subprocess.run([QCC] + args + ["-o", out], check=True)
    z = np.load(out)
    return z[z.files[0]].reshape(n, -1)


def row(kind, name, a, b, y):
    print(f"{kind:<16} {name:<22} {100 * np.mean(a.argmax(1) == y):8.2f} {100 * np.mean(b.argmax(1) == y):9.2f} "
          f"{100 * np.mean(a.argmax(1) - b.argmax(1) == 0):8.2f}")


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "compiler", "--bin", "qcc"], check=True, cwd=ROOT)
    print(f"{'check':<16} {'model':<22} {'ort top1':>8} {'qcc top1':>9} {'agree':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "o.npz")
        for d in sorted(os.listdir(MODELS)):
            if not d.endswith("_qdq_ort"):
                continue
            base = os.path.join(MODELS, d[: -len("_qdq_ort")])
            if not os.path.exists(os.path.join(base, "test_y.npy")):
                continue
            x_p = os.path.join(base, "test_x.npy")
            x, y = np.load(x_p), np.load(os.path.join(base, "test_y.npy")).reshape(-1)
            m = os.path.join(MODELS, d, "model.onnx")
            row("ort qdq file", d, ort_logits(m, x), qcc_logits([m, "--run", x_p], out, len(y)), y)
        for d in sorted(os.listdir(MODELS)):
            base = os.path.join(MODELS, d)
            if d.endswith("_ort") or not os.path.exists(os.path.join(base, "test_y.npy")):
                continue
            m, c, x_p = (os.path.join(base, f) for f in ("model.onnx", "calib.npy", "test_x.npy"))
            if not os.path.exists(c):
                continue
            x, y = np.load(x_p), np.load(os.path.join(base, "test_y.npy")).reshape(-1)
            exported = os.path.join(tmp, "q.onnx")
            subprocess.run([QCC, m, "--calib", c, "--emit", "onnx", "-o", exported], check=True)
            row("qcc emit onnx", d, ort_logits(exported, x), qcc_logits([m, "--calib", c, "--run", x_p], out, len(y)), y)


if __name__ == "__main__":
    main()
