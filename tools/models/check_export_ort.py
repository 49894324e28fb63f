#!/usr/bin/env python3
"""Checks that onnxruntime runs qcc's ONNX exports and agrees with the source models.

Run with the python that has onnx and onnxruntime (the pyenv python3), from the repository:
    cargo build -p compiler                                   # target/debug/qcc
    python3 tools/models/check_export_ort.py                  # default models below
    python3 tools/models/check_export_ort.py --model testsuite/models/fashion_cnn_qdq_ort
    python3 tools/models/check_export_ort.py --dir target/tmp/qdq_export   # files exported
                                                            # by testsuite/tests/qdq_models.rs

For each model directory (model.onnx + input.npy): `qcc model.onnx -o exported.onnx`
(`--emit onnx`: a QDQ model is exported as imported, a float model as float ONNX), then
onnx.checker on the export, then onnxruntime (CPU, one thread, graph optimizations off) on
the source model and on the export for every sample of input.npy. Prints, per output, the
largest difference and the fraction of equal elements; a float export must match to 1e-5
relative, a QDQ export to within one quantization step (`--tol-steps`). With `--dir`, each
`<name>.onnx` there is compared with testsuite/models/<name>/model.onnx instead of running
qcc. Exit status 1 if any model disagrees or fails to load.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = os.path.join(REPO, "testsuite", "models")
DEFAULT = [
    "fashion_cnn",
    "lenet_digits",
    "lenet_digits_qdq_ort",
    "fashion_cnn_qdq_ort",
    "fashion_mobilenet_qdq_ort",
    "fashion_cnn_qop_ort",
]


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run(path, x):
    sess = session(path)
    iname = sess.get_inputs()[0].name
    names = [o.name for o in sess.get_outputs()]
    outs = {n: [] for n in names}
    for i in range(len(x)):
        for n, v in zip(names, sess.run(names, {iname: x[i : i + 1]})):
            outs[n].append(v)
    return {n: np.concatenate(v).astype(np.float32) for n, v in outs.items()}


def output_steps(path):
    """Per-tensor scale of each graph output produced by a DequantizeLinear."""
    m = onnx.load(path)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    steps = {}
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear" and n.output[0] in {o.name for o in m.graph.output}:
            s = inits.get(n.input[1])
            if s is not None and s.size == 1:
                steps[n.output[0]] = float(s.reshape(()))
    return steps


def compare(name, source, exported, x, tol_steps):
    onnx.checker.check_model(onnx.load(exported), full_check=True)
    want = run(source, x)
    got = run(exported, x)
    steps = output_steps(exported)
    ok = True
    for k, w in want.items():
        if k not in got:
            print(f"[{name}] output {k}: missing from the export")
            ok = False
            continue
        g = got[k]
        diff = np.abs(g - w)
        step = steps.get(k)
        if step is not None:
            tol = tol_steps * step * 1.001
            what = f"{diff.max() / step:.2f} steps of {step:.3g}"
        else:
            tol = 1e-5 * float(np.abs(w).max()) + 1e-6
            what = f"{diff.max():.3g} (tol {tol:.3g})"
        equal = float(np.mean(diff <= (0.01 * step if step else tol)))
        good = bool(diff.max() <= tol)
        ok &= good
        print(f"[{name}] output {k}: max|diff| {what}, {equal:.3f} equal: "
              f"{'ok' if good else 'DISAGREE'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qcc", default=os.path.join(REPO, "target", "debug", "qcc"))
    ap.add_argument("--model", action="append", help="a model directory (repeatable)")
    ap.add_argument("--dir", help="check already exported <name>.onnx files in this folder")
    ap.add_argument("--tol-steps", type=float, default=1.0)
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if args.dir:
            jobs = []
            for f in sorted(os.listdir(args.dir)):
                name = f[:-5] if f.endswith(".onnx") else None
                if name and os.path.isdir(os.path.join(MODELS, name)):
                    jobs.append((name, os.path.join(MODELS, name), os.path.join(args.dir, f)))
        else:
            dirs = args.model or [os.path.join(MODELS, m) for m in DEFAULT]
            jobs = []
            for d in dirs:
                name = os.path.basename(os.path.normpath(d))
                out = os.path.join(tmp, name + ".onnx")
                cmd = [args.qcc, os.path.join(d, "model.onnx"), "--emit", "onnx", "-o", out]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"[{name}] qcc failed ({r.returncode}): {r.stderr.strip()}")
                    ok = False
                    continue
                jobs.append((name, d, out))
        for name, d, exported in jobs:
            x = np.load(os.path.join(d, "input.npy")).astype(np.float32)
            try:
                ok &= compare(name, os.path.join(d, "model.onnx"), exported, x, args.tol_steps)
            except Exception as e:  # noqa: BLE001 - report and go on with the other models
                print(f"[{name}] failed: {e}")
                ok = False
    print("all agree" if ok else "DISAGREEMENT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
