#!/usr/bin/env python3
"""Converter variants, checks and onnxruntime reference outputs for testsuite/models/.

Run with the python that has onnx and onnxruntime (here the pyenv python3: onnx 1.23,
onnxruntime 1.32, numpy 2), after tools/models/make_models.py:
    python3 tools/models/reference.py            # every model directory
    python3 tools/models/reference.py --only fashion_cnn

1. derives variants of fashion_cnn with onnx tools: `fashion_cnn_op7` and `fashion_cnn_op21`
   (onnx.version_converter) and `fashion_cnn_extdata` (weights in weights.bin);
2. for every testsuite/models/<name>/: onnx.checker (full check, with shape inference),
   onnxruntime (CPU, 1 intra-op thread, basic graph optimizations) on each sample of
   input.npy as a batch-1 input, outputs stacked into expected.npz keyed by output name;
   compares against torch's outputs (torch_ref.npz, not committed) when present; computes
   onnxruntime's test accuracy on the labelled test set for trained models;
3. completes meta.json (opset, producer, inputs/outputs, op set, sizes, accuracies) and
   writes testsuite/models/index.json (one summary line per model).
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import version_converter

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROOT = os.path.join(REPO, "testsuite", "models")

# variant name -> (base model, how it is derived). The opset-7 variant starts from the
# opset-9 export: onnx 1.23 has no down-adapters from 13 (Relu) or 11 (Gemm) to 7.
VARIANTS = {
    "fashion_cnn_op7": ("fashion_cnn_op9", "convert", 7),
    "fashion_cnn_op21": ("fashion_cnn", "convert", 21),
    "fashion_cnn_extdata": ("fashion_cnn", "extdata", None),
}
DATA_FILES = ("input.npy", "calib.npy", "torch_ref.npz")


def opset_of(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    raise ValueError("no default-domain opset")


def make_variant(name, base, kind, arg):
    bdir, vdir = os.path.join(ROOT, base), os.path.join(ROOT, name)
    if not os.path.exists(os.path.join(bdir, "model.onnx")):
        print(f"[{name}] skipped: base {base} missing")
        return False
    if os.path.isdir(vdir):
        shutil.rmtree(vdir)
    os.makedirs(vdir)
    m = onnx.load(os.path.join(bdir, "model.onnx"))
    with open(os.path.join(bdir, "meta.json")) as f:
        meta = json.load(f)
    meta = {k: v for k, v in meta.items() if k in (
        "dataset", "preprocessing", "trained", "float_test_accuracy_torch", "export",
        "producer")}
    meta["name"] = name
    meta["source"] = "tools/models/reference.py"
    meta["base_model"] = base
    family = base.split("_op")[0]
    meta["family"] = family
    if kind == "convert":
        try:
            conv = version_converter.convert_version(m, arg)
            onnx.checker.check_model(conv, full_check=True)
        except Exception as e:  # noqa: BLE001 - report converter failures and go on
            print(f"[{name}] onnx.version_converter {opset_of(m)} -> {arg} failed: {e}")
            shutil.rmtree(vdir)
            return False
        conv.producer_name = m.producer_name
        conv.producer_version = m.producer_version
        onnx.save_model(conv, os.path.join(vdir, "model.onnx"))
        meta["producer"] += f", then onnx {onnx.__version__} version_converter to opset {arg}"
        meta["notes"] = f"{base} converted from opset {opset_of(m)} to {arg}; labelled test " \
                        f"set: ../{family}/test_x.npy"
    elif kind == "extdata":
        onnx.save_model(m, os.path.join(vdir, "model.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=0)
        meta["producer"] += f", re-saved by onnx {onnx.__version__} with external data"
        meta["notes"] = (f"{base} with every initializer in weights.bin (external data, "
                         f"size_threshold=0); labelled test set: ../{family}/test_x.npy")
    for f in DATA_FILES:
        if os.path.exists(os.path.join(bdir, f)):
            shutil.copy(os.path.join(bdir, f), os.path.join(vdir, f))
    with open(os.path.join(vdir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    print(f"[{name}] derived from {base} ({kind})")
    return True


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run_batched(sess, x):
    """Run each sample of x as a batch-1 input; return {output name: stacked float32}."""
    iname = sess.get_inputs()[0].name
    onames = [o.name for o in sess.get_outputs()]
    outs = {n: [] for n in onames}
    for i in range(len(x)):
        res = sess.run(onames, {iname: x[i : i + 1]})
        for n, r in zip(onames, res):
            outs[n].append(np.asarray(r, dtype=np.float32))
    return {n: np.concatenate(v, axis=0).astype(np.float32) for n, v in outs.items()}


def dims(vi):
    out = []
    for d in vi.type.tensor_type.shape.dim:
        out.append(d.dim_value if d.HasField("dim_value") else d.dim_param)
    return out


def process(name):
    d = os.path.join(ROOT, name)
    path = os.path.join(d, "model.onnx")
    onnx.checker.check_model(path, full_check=True)
    m = onnx.load(path)  # loads external data too
    x = np.load(os.path.join(d, "input.npy"))
    assert x.dtype == np.float32, f"{name}: input.npy is {x.dtype}"
    sess = session(path)
    ref = run_batched(sess, x)
    np.savez(os.path.join(d, "expected.npz"), **ref)

    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    graph_outputs = [o.name for o in m.graph.output]
    inits = {i.name for i in m.graph.initializer}
    meta["opset"] = opset_of(m)
    meta["ir_version"] = m.ir_version
    meta["producer_name"] = m.producer_name
    meta["producer_version"] = m.producer_version
    meta["inputs"] = [{"name": i.name, "shape": dims(i)} for i in m.graph.input
                      if i.name not in inits]
    meta["outputs"] = [{"name": o.name, "shape": dims(o)} for o in m.graph.output]
    meta["ops"] = sorted({n.op_type for n in m.graph.node})
    meta["num_nodes"] = len(m.graph.node)
    meta["num_parameters"] = int(sum(np.prod(i.dims) for i in m.graph.initializer))
    files = sorted(f for f in os.listdir(d) if f != "torch_ref.npz")
    meta["files"] = {f: os.path.getsize(os.path.join(d, f)) for f in files
                     if f != "meta.json"}
    meta["model_bytes"] = os.path.getsize(path) + (
        os.path.getsize(os.path.join(d, "weights.bin"))
        if os.path.exists(os.path.join(d, "weights.bin")) else 0)
    meta["input_samples"] = int(x.shape[0])
    meta["reference"] = (f"onnxruntime {ort.__version__} CPUExecutionProvider, "
                         "intra_op_num_threads=1, ORT_ENABLE_BASIC, one batch-1 run per sample")
    assert list(ref) == graph_outputs

    tref = os.path.join(d, "torch_ref.npz")
    if os.path.exists(tref):
        t = np.load(tref)
        # keyed by output name; fall back to output order (other converters rename outputs)
        tkeys = list(t.keys()) if set(t.keys()) != set(ref) else list(ref)
        diff = max(float(np.abs(t[tk] - ref[k]).max()) for tk, k in zip(tkeys, ref))
        meta["max_abs_diff_torch_vs_ort"] = diff
        if diff > 1e-3:
            raise SystemExit(f"{name}: onnxruntime differs from torch by {diff}")

    test_dir = d if os.path.exists(os.path.join(d, "test_x.npy")) else None
    if test_dir is None and meta.get("trained"):
        # variants share their family's labelled test set
        base = meta.get("family") or name.rsplit("_", 1)[0]
        if os.path.exists(os.path.join(ROOT, base, "test_x.npy")):
            test_dir = os.path.join(ROOT, base)
    if test_dir is not None:
        tx = np.load(os.path.join(test_dir, "test_x.npy"))
        ty = np.load(os.path.join(test_dir, "test_y.npy"))
        logits = run_batched(sess, tx)[graph_outputs[0]]
        meta["float_test_accuracy_ort"] = float((logits.argmax(1) == ty).mean())
        meta["test_set"] = os.path.relpath(test_dir, d)
        meta["test_samples"] = int(len(ty))
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    acc = meta.get("float_test_accuracy_ort")
    print(f"[{name}] opset {meta['opset']}, {meta['model_bytes'] / 1e3:.1f} kB, "
          f"acc {acc if acc is None else round(acc, 4)}, "
          f"torch diff {meta.get('max_abs_diff_torch_vs_ort')}, ops {' '.join(meta['ops'])}")
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", help="process only this model (repeatable)")
    args = ap.parse_args()
    for v, (base, kind, arg) in VARIANTS.items():
        if args.only is None or v in args.only or base.split("_op")[0] in args.only:
            make_variant(v, base, kind, arg)
    names = sorted(n for n in os.listdir(ROOT)
                   if os.path.exists(os.path.join(ROOT, n, "model.onnx")))
    if args.only:
        names = [n for n in names if n in args.only or
                 any(n in VARIANTS and VARIANTS[n][0].split("_op")[0] == o for o in args.only)]
    for n in names:
        process(n)
    index = {}
    for n in sorted(os.listdir(ROOT)):
        mp = os.path.join(ROOT, n, "meta.json")
        if not os.path.exists(mp):
            continue
        with open(mp) as f:
            meta = json.load(f)
        if "ops" not in meta:
            continue
        index[n] = {k: meta.get(k) for k in (
            "opset", "trained", "float_test_accuracy_ort", "model_bytes", "ops", "inputs",
            "outputs")}
    with open(os.path.join(ROOT, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(index)} models in {ROOT}/index.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
