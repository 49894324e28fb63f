#!/usr/bin/env python3
"""Already-quantized ONNX test models for qcc's QDQ import, with onnxruntime's outputs.

Run with the python that has onnx and onnxruntime (the pyenv python3: onnx 1.23,
onnxruntime 1.32, numpy 2), after the float models exist (tools/models/make_models.py):
    python3 tools/models/make_qdq_models.py            # every model below
    python3 tools/models/make_qdq_models.py --only lenet_digits_qdq_ort

Writes testsuite/models/<name>/{model.onnx, input.npy, expected.npz, meta.json}, where
expected.npz holds onnxruntime's outputs of *that quantized model* (CPU, one intra-op thread,
graph optimizations disabled so that the QDQ graph runs node by node; one batch-1 run per
sample of input.npy, stacked, keyed by output name).

Models (float sources in testsuite/models/):
- `<base>_qdq_ort` for lenet_digits, fashion_cnn, fashion_mobilenet: onnxruntime
  `quantize_static`, QuantFormat.QDQ, per-channel weights, QUInt8 activations, QInt8
  weights, MinMax over the base model's calib.npy (100 samples), after `quant_pre_process`
  (which folds BatchNormalization into Conv);
- `fashion_cnn_qop_ort`: QuantFormat.QOperator (QLinearConv, QLinearMatMul; Gemm is first
  rewritten to MatMul + Add, and only Conv/MatMul/MaxPool/Relu are quantized, because
  onnxruntime's QOperator Gemm/Add are com.microsoft contrib ops);
- `tiny_integer_ort`: a small hand-built opset-13 model with QuantizeLinear, ConvInteger,
  MatMulInteger and the Cast -> Mul rescaling that follows them (what dynamic quantization
  emits, with static input scales).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROOT = os.path.join(REPO, "testsuite", "models")
SRC = "tools/models/make_qdq_models.py"


class Reader(CalibrationDataReader):
    """Feeds calib.npy one batch-1 sample at a time."""

    def __init__(self, name, data):
        self.name = name
        self.it = iter([{name: data[i : i + 1]} for i in range(len(data))])

    def get_next(self):
        return next(self.it, None)


def run_ort(path, x):
    """onnxruntime outputs of every sample of x (batch-1 runs), stacked per output."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    iname = sess.get_inputs()[0].name
    names = [o.name for o in sess.get_outputs()]
    outs = {n: [] for n in names}
    for i in range(len(x)):
        for n, v in zip(names, sess.run(names, {iname: x[i : i + 1]})):
            outs[n].append(v[0] if v.shape[:1] == (1,) else v)
    return {n: np.stack(v).astype(np.float32) for n, v in outs.items()}


def gemm_to_matmul_add(model):
    """Rewrites Gemm(transA=0, alpha=beta=1) as MatMul + Add (for the QOperator model)."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    nodes = []
    for n in g.node:
        if n.op_type != "Gemm":
            nodes.append(n)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        assert attrs.get("transA", 0) == 0 and attrs.get("alpha", 1.0) == 1.0
        w = numpy_helper.to_array(inits[n.input[1]])
        if attrs.get("transB", 0):
            w = w.T
        wname = n.input[1] + "_kn"
        g.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w), wname))
        mm = n.output[0] + "_mm"
        nodes.append(helper.make_node("MatMul", [n.input[0], wname], [mm], n.name + "_matmul"))
        nodes.append(helper.make_node("Add", [mm, n.input[2]], [n.output[0]], n.name + "_add"))
    del g.node[:]
    g.node.extend(nodes)
    return model


def write(name, model_path, x, meta):
    d = os.path.join(ROOT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    m = onnx.load(model_path)
    onnx.checker.check_model(m)
    out = os.path.join(d, "model.onnx")
    onnx.save(m, out)
    np.save(os.path.join(d, "input.npy"), x)
    ref = run_ort(out, x)
    np.savez(os.path.join(d, "expected.npz"), **ref)
    meta = dict(meta)
    meta.update(
        name=name,
        source=SRC,
        reference=(
            f"onnxruntime {ort.__version__} CPUExecutionProvider, intra_op_num_threads=1, "
            "ORT_DISABLE_ALL, one batch-1 run per sample"
        ),
        ops=sorted({n.op_type for n in m.graph.node}),
        input_samples=int(len(x)),
        model_bytes=os.path.getsize(out),
    )
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"[{name}] {meta['ops']} outputs {[(k, v.shape) for k, v in ref.items()]}")


def make_static(base, fmt, name, tmp):
    bdir = os.path.join(ROOT, base)
    calib = np.load(os.path.join(bdir, "calib.npy")).astype(np.float32)
    x = np.load(os.path.join(bdir, "input.npy")).astype(np.float32)
    pre = os.path.join(tmp, name + "_pre.onnx")
    quant_pre_process(os.path.join(bdir, "model.onnx"), pre, skip_symbolic_shape=True)
    src = pre
    op_types = None
    if fmt == QuantFormat.QOperator:
        m = gemm_to_matmul_add(onnx.load(pre))
        src = os.path.join(tmp, name + "_mm.onnx")
        onnx.save(m, src)
        op_types = ["Conv", "MatMul", "MaxPool", "Relu"]
    iname = onnx.load(src).graph.input[0].name
    q = os.path.join(tmp, name + ".onnx")
    quantize_static(
        src,
        q,
        Reader(iname, calib),
        quant_format=fmt,
        op_types_to_quantize=op_types,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )
    meta = dict(
        base_model=base,
        quantization=(
            f"onnxruntime.quantization.quantize_static({fmt}, per_channel=True, "
            "activation QUInt8, weight QInt8, MinMax, calib.npy of the base model) after "
            "quant_pre_process"
            + (", Gemm rewritten to MatMul+Add, ops Conv/MatMul/MaxPool/Relu" if op_types else "")
        ),
    )
    write(name, q, x, meta)


def make_tiny_integer(tmp):
    """x -> Q(u8) -> ConvInteger(u8 w, zp) -> Cast -> Mul -> Relu -> Flatten -> Q(u8) ->
    MatMulInteger(i8 w, per-column zp 0) -> Cast -> Mul -> y."""
    rng = np.random.RandomState(0)
    sx, zx = np.float32(0.02), np.uint8(128)
    w1 = rng.randint(0, 256, size=(3, 2, 3, 3)).astype(np.uint8)
    zw1 = np.uint8(120)
    sw1 = np.float32(0.01)
    sh, zh = np.float32(0.05), np.uint8(0)
    w2 = rng.randint(-127, 128, size=(3 * 4 * 4, 5)).astype(np.int8)
    sw2 = np.float32(0.004)
    inits = [
        numpy_helper.from_array(np.array(sx), "x_scale"),
        numpy_helper.from_array(np.array(zx), "x_zp"),
        numpy_helper.from_array(w1, "w1"),
        numpy_helper.from_array(np.array(zw1), "w1_zp"),
        numpy_helper.from_array(np.array(sx * sw1, dtype=np.float32), "acc1_scale"),
        numpy_helper.from_array(np.array(sh), "h_scale"),
        numpy_helper.from_array(np.array(zh), "h_zp"),
        numpy_helper.from_array(w2, "w2"),
        numpy_helper.from_array(np.zeros(5, np.int8), "w2_zp"),
        numpy_helper.from_array(np.array(sh * sw2, dtype=np.float32), "acc2_scale"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"], "quant_x"),
        helper.make_node("ConvInteger", ["xq", "w1", "x_zp", "w1_zp"], ["acc1"], "conv_int",
                         pads=[0, 0, 0, 0]),
        helper.make_node("Cast", ["acc1"], ["acc1_f"], "cast1", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["acc1_f", "acc1_scale"], ["c1"], "rescale1"),
        helper.make_node("Relu", ["c1"], ["r1"], "relu1"),
        helper.make_node("Flatten", ["r1"], ["f1"], "flatten", axis=1),
        helper.make_node("QuantizeLinear", ["f1", "h_scale", "h_zp"], ["hq"], "quant_h"),
        helper.make_node("MatMulInteger", ["hq", "w2", "h_zp", "w2_zp"], ["acc2"], "matmul_int"),
        helper.make_node("Cast", ["acc2"], ["acc2_f"], "cast2", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["acc2_f", "acc2_scale"], ["y"], "rescale2"),
    ]
    g = helper.make_graph(
        nodes,
        "tiny_integer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name=SRC)
    m.ir_version = 8
    path = os.path.join(tmp, "tiny_integer.onnx")
    onnx.save(m, path)
    x = rng.uniform(-2.0, 2.5, size=(8, 2, 6, 6)).astype(np.float32)
    write("tiny_integer_ort", path, x, dict(quantization="hand-built (onnx.helper), seed 0"))


MODELS = {
    "lenet_digits_qdq_ort": lambda t: make_static("lenet_digits", QuantFormat.QDQ,
                                                  "lenet_digits_qdq_ort", t),
    "fashion_cnn_qdq_ort": lambda t: make_static("fashion_cnn", QuantFormat.QDQ,
                                                 "fashion_cnn_qdq_ort", t),
    "fashion_mobilenet_qdq_ort": lambda t: make_static("fashion_mobilenet", QuantFormat.QDQ,
                                                       "fashion_mobilenet_qdq_ort", t),
    "fashion_cnn_qop_ort": lambda t: make_static("fashion_cnn", QuantFormat.QOperator,
                                                 "fashion_cnn_qop_ort", t),
    "tiny_integer_ort": make_tiny_integer,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", action="append", choices=sorted(MODELS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or MODELS:
            MODELS[name](tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
