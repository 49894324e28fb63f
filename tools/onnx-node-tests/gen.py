#!/usr/bin/env python3
"""Write the ONNX backend node tests that use only qcc's ops to testsuite/onnx-node/.

The node tests are defined as code in the `onnx` wheel (onnx/backend/test/case/node/*.py);
`collect_testcases(None)` builds every case. For each case of an op qcc knows (a supported
op or a helper op, or any case whose graph uses only those ops) this script decides `pass`
or `exclude <reason>`, writes `testsuite/onnx-node/allowlist.txt`, and writes the model and
data sets of every case whose ops are all supported and whose data is float32:

    <case>/model.onnx
    <case>/inputs.txt               one line per graph input: `<index> <name> <role>`
    <case>/test_data_set_<k>/input_<i>.pb, output_<i>.pb

Roles (see README.md): `data` is a runtime input, `const` must be bound as an import-time
constant (shape/axes/pads/sizes/scales/roi/clip bounds), `param` is a float weight-like
operand (conv/gemm weights and biases, batch-norm statistics, PRelu slope).

Models made at an opset above 21 are rewritten to opset 21 when every node's schema at the
case's opset has the same inputs, outputs and attributes as at opset 21 and the node uses
no attribute added since (the changes since 21 for these ops only add element types). The
rewritten model is checked with onnx.checker. Cases that cannot be rewritten are excluded.

With --verify, every `pass` case is run with onnxruntime and compared to the expected
outputs (rtol 1e-3, atol 1e-5), as a sanity check of the written data.

Usage (from the repository root):
    python3 tools/onnx-node-tests/gen.py [--out testsuite/onnx-node] [--verify]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnx.defs
from onnx import TensorProto, numpy_helper

SUPPORTED = set(
    "Conv ConvTranspose Gemm MatMul BatchNormalization Relu PRelu LeakyRelu Clip Sigmoid "
    "HardSigmoid HardSwish Tanh Softmax Add Sub Mul Div MaxPool AveragePool "
    "GlobalAveragePool ReduceMean Concat Split Slice Reshape Flatten Transpose Squeeze "
    "Unsqueeze Pad Resize Identity Dropout".split()
)
# Helper ops: allowed inside a case; qcc folds them away in shape subgraphs.
HELPERS = set("Constant Shape Gather Cast Range ConstantOfShape Expand".split())
KNOWN = SUPPORTED | HELPERS
# Helper ops that qcc only folds (no runtime form in the IR); `Shape` needs only the
# static shape of its input, so it is fine on runtime data.
FOLD_ONLY = HELPERS - {"Constant", "Shape"}

MAX_OPSET = 21
MIN_OPSET = 7
# IR version that goes with opset 21 (ONNX 1.16).
IR_FOR_MAX_OPSET = 10

# Operand positions that must be import-time constants, per op type.
CONST_OPERANDS = {
    "Reshape": {1},
    "Slice": {1, 2, 3, 4},
    "Squeeze": {1},
    "Unsqueeze": {1},
    "Pad": {1, 2, 3},
    "Resize": {1, 2, 3},
    "Split": {1},
    "ReduceMean": {1},
    "Expand": {1},
    "ConstantOfShape": {0},
    "Range": {0, 1, 2},
    "Clip": {1, 2},
    "Gather": {1},
    "Dropout": {1, 2},
}
# Float weight-like operand positions (constants in real models).
PARAM_OPERANDS = {
    "Conv": {1, 2},
    "ConvTranspose": {1, 2},
    "Gemm": {1, 2},
    "BatchNormalization": {1, 2, 3, 4},
    "PRelu": {1},
}
# Ops whose spatial dims qcc handles only in 1-d and 2-d.
SPATIAL_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool"}

SIZE_CAP = 15 * 1024 * 1024

# Cases whose expected data is known to be questionable (checked with onnxruntime).
QUESTIONABLE_DATA = {
    "test_resize_downsample_scales_linear_align_corners": (
        "expected data uses the scale, not the lengths, for align_corners; onnxruntime "
        "and the spec formula disagree with it (onnx/onnx#2462)"
    ),
}


@dataclass
class Verdict:
    """The allowlist decision for one case."""

    name: str
    reason: str | None = None  # None: pass
    write: bool = False
    model: onnx.ModelProto | None = None
    roles: list[str] = field(default_factory=list)
    downgraded_from: int | None = None


def collect():
    """All node test cases and the map from base case name to its node."""
    import onnx.backend.test.case.node as node_cases

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            cases = node_cases.collect_testcases(None)
    return cases, dict(node_cases._existing_names)


def primary_op(case_name: str, names: dict) -> str | None:
    """The op type a case is named after (the node given to `expect`)."""
    base = case_name
    if "_expanded" in base:
        base = base[: base.index("_expanded")]
    node = names.get(base)
    return node.op_type if node is not None else None


def graph_nodes(g: onnx.GraphProto):
    """Every node of a graph, subgraphs included."""
    for n in g.node:
        yield n
        for a in n.attribute:
            if a.HasField("g"):
                yield from graph_nodes(a.g)
            for sg in a.graphs:
                yield from graph_nodes(sg)


def default_opset(model: onnx.ModelProto) -> int | None:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return None


def schema_sig(s):
    return (
        [(i.name, i.option) for i in s.inputs],
        [(o.name, o.option) for o in s.outputs],
    )


def downgrade(model: onnx.ModelProto) -> tuple[onnx.ModelProto | None, str | None]:
    """The model at opset <= 21, or None and why not."""
    ver = default_opset(model)
    if ver is None or ver <= MAX_OPSET:
        return model, None
    for n in graph_nodes(model.graph):
        try:
            new = onnx.defs.get_schema(n.op_type, ver, n.domain)
            old = onnx.defs.get_schema(n.op_type, MAX_OPSET, n.domain)
        except onnx.defs.SchemaError:
            return None, f"opset {ver} > {MAX_OPSET} ({n.op_type} has no opset-{MAX_OPSET} form)"
        if schema_sig(new) != schema_sig(old):
            return None, f"opset {ver} > {MAX_OPSET} ({n.op_type} signature changed)"
        for a in n.attribute:
            if a.name not in old.attributes:
                return None, f"opset {ver} > {MAX_OPSET} ({n.op_type} attribute {a.name})"
        for name, a in new.attributes.items():
            if name not in old.attributes and a.required:
                return None, f"opset {ver} > {MAX_OPSET} ({n.op_type} requires {name})"
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = MAX_OPSET
    m.ir_version = min(m.ir_version, IR_FOR_MAX_OPSET)
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception as e:  # noqa: BLE001 - any checker failure means "keep the original"
        first = str(e).replace("\n", " ")
        if "Inferred shape and existing shape differ" in first or "Inferred shape" in first:
            first = "output shape rule differs"
        return None, f"opset {ver} > {MAX_OPSET} (at opset {MAX_OPSET}: {first[:90]})"
    return m, None


def elem_type(vi: onnx.ValueInfoProto) -> int | None:
    if vi.type.HasField("tensor_type"):
        return vi.type.tensor_type.elem_type
    return None


def type_name(t: int) -> str:
    return TensorProto.DataType.Name(t).lower()


def attr(n: onnx.NodeProto, name: str, default=None):
    for a in n.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def input_roles(model: onnx.ModelProto) -> list[str]:
    """Role of each graph input from the operand positions it feeds."""
    roles = []
    for gi in model.graph.input:
        role = "data"
        uses = [
            (n.op_type, k)
            for n in graph_nodes(model.graph)
            for k, x in enumerate(n.input)
            if x == gi.name
        ]
        if uses and all(k in CONST_OPERANDS.get(op, ()) for op, k in uses):
            role = "const"
        elif uses and all(
            k in CONST_OPERANDS.get(op, ()) or k in PARAM_OPERANDS.get(op, ()) for op, k in uses
        ):
            role = "param"
        roles.append(role)
    return roles


def semantic_reason(model: onnx.ModelProto, roles: list[str], data_set) -> str | None:
    """Why qcc is not expected to run this (f32, known-ops) case, or None."""
    g = model.graph
    shapes = {gi.name: np.shape(x) for gi, x in zip(g.input, data_set[0], strict=False)}
    # Which values are import-time constants.
    const = {gi.name for gi, r in zip(g.input, roles, strict=True) if r == "const"}
    const |= {i.name for i in g.initializer}
    const.add("")
    for n in g.node:
        op = n.op_type
        ins = list(n.input)
        # Per-op semantics qcc does not cover.
        if op == "BatchNormalization" and (attr(n, "training_mode", 0) or len(n.output) > 1):
            return "training-mode BatchNormalization"
        if op == "MaxPool" and len([o for o in n.output if o]) > 1:
            return "MaxPool Indices output"
        if op == "Dropout":
            if len([o for o in n.output if o]) > 1:
                return "Dropout mask output"
            if len(ins) > 2 and ins[2]:
                return "training-mode Dropout"
        if op == "Resize":
            mode = attr(n, "mode", b"nearest").decode()
            coord = attr(n, "coordinate_transformation_mode", b"half_pixel").decode()
            if mode == "cubic":
                return "Resize cubic"
            if coord == "tf_crop_and_resize":
                return "Resize tf_crop_and_resize"
            if coord == "half_pixel_symmetric":
                return "Resize half_pixel_symmetric"
            if attr(n, "antialias", 0):
                return "Resize antialias"
            if attr(n, "keep_aspect_ratio_policy", b"stretch").decode() != "stretch":
                return "Resize keep_aspect_ratio_policy"
            if attr(n, "axes") is not None:
                return "Resize axes"
        if op == "Pad" and attr(n, "mode", b"constant").decode() == "wrap":
            return "Pad wrap mode"
        if op in SPATIAL_OPS and ins[0] in shapes and len(shapes[ins[0]]) > 4:
            return f"{op} with {len(shapes[ins[0]]) - 2} spatial dims (qcc does 1-d and 2-d)"
        # Operands that must be constants.
        for k in CONST_OPERANDS.get(op, ()):
            if k < len(ins) and ins[k] not in const:
                return f"dynamic {op} operand {k} (computed from runtime data)"
        if op in FOLD_ONLY and any(x not in const for x in ins):
            return f"helper op {op} on runtime data"
        if op == "Constant" or op == "Shape" or all(x in const for x in ins):
            const.update(n.output)
    for gi, r in zip(g.input, roles, strict=True):
        if r != "const":
            t = gi.type.tensor_type
            if any(d.HasField("dim_param") for d in t.shape.dim):
                return f"dynamic shape of input {gi.name}"
    return None


def judge(case, names) -> Verdict | None:
    """The allowlist verdict of one case, or None when the case is not one of qcc's."""
    model = case.model
    ops = [(n.domain, n.op_type) for n in graph_nodes(model.graph)]
    only_known = all(d in ("", "ai.onnx") and t in KNOWN for d, t in ops)
    prim = primary_op(case.name, names)
    if not only_known and prim not in KNOWN:
        return None
    v = Verdict(case.name)
    if not only_known:
        outside = sorted({t if d in ("", "ai.onnx") else f"{d}.{t}" for d, t in ops} - KNOWN)
        v.reason = "ops outside the list: " + ", ".join(outside)
        return v
    for vi in list(model.graph.input) + list(model.graph.output):
        if elem_type(vi) is None:
            kind = vi.type.WhichOneof("value")
            v.reason = f"non-tensor {kind} value {vi.name}"
            return v
    v.roles = input_roles(model)
    for gi, r in zip(model.graph.input, v.roles, strict=True):
        t = elem_type(gi)
        if r != "const" and t != TensorProto.FLOAT:
            v.reason = f"non-f32 data ({type_name(t)} input {gi.name})"
            return v
    for go in model.graph.output:
        t = elem_type(go)
        if t not in (TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL):
            v.reason = f"non-f32 data ({type_name(t)} output {go.name})"
            return v
    ver = default_opset(model)
    if ver is not None and ver < MIN_OPSET:
        v.reason = f"opset {ver} < {MIN_OPSET}"
        return v
    m, why = downgrade(model)
    if m is None:
        v.reason = why
        return v
    if m is not model:
        v.downgraded_from = ver
    v.model = m
    g = m.graph
    roles = v.roles
    # From here on the data is float32: the case is written even if excluded.
    v.write = True
    v.reason = semantic_reason(m, roles, case.data_sets[0]) or QUESTIONABLE_DATA.get(case.name)
    if v.reason is not None:
        return v
    for go in g.output:
        t = elem_type(go)
        if t != TensorProto.FLOAT:
            v.reason = f"non-f32 output ({type_name(t)} output {go.name})"
            return v
    return v


def to_proto(x, name: str) -> TensorProto:
    if isinstance(x, TensorProto):
        t = TensorProto()
        t.CopyFrom(x)
        t.name = name
        return t
    return numpy_helper.from_array(np.asarray(x), name)


def write_case(out: str, case, v: Verdict) -> int:
    """Writes one case; returns the bytes written."""
    d = os.path.join(out, case.name)
    os.makedirs(d)
    total = 0

    def put(path: str, data: bytes):
        nonlocal total
        with open(path, "wb") as f:
            f.write(data)
        total += len(data)

    g = v.model.graph
    put(os.path.join(d, "model.onnx"), v.model.SerializeToString())
    lines = [f"{i} {gi.name} {r}\n" for i, (gi, r) in enumerate(zip(g.input, v.roles, strict=True))]
    put(os.path.join(d, "inputs.txt"), "".join(lines).encode())
    for k, (inputs, outputs) in enumerate(case.data_sets):
        sd = os.path.join(d, f"test_data_set_{k}")
        os.makedirs(sd)
        for i, (gi, x) in enumerate(zip(g.input, inputs, strict=True)):
            put(os.path.join(sd, f"input_{i}.pb"), to_proto(x, gi.name).SerializeToString())
        for i, (go, y) in enumerate(zip(g.output, outputs, strict=True)):
            put(os.path.join(sd, f"output_{i}.pb"), to_proto(y, go.name).SerializeToString())
    return total


def verify(case, v: Verdict) -> str | None:
    """Runs a pass case with onnxruntime; returns a problem description or None."""
    import onnxruntime as ort

    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(
            v.model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # noqa: BLE001
        return f"ort cannot load: {str(e).splitlines()[0][:200]}"
    g = v.model.graph
    for k, (inputs, outputs) in enumerate(case.data_sets):
        feed = {
            gi.name: numpy_helper.to_array(to_proto(x, gi.name))
            for gi, x in zip(g.input, inputs, strict=True)
        }
        try:
            got = sess.run([o.name for o in g.output], feed)
        except Exception as e:  # noqa: BLE001
            return f"ort cannot run: {str(e).splitlines()[0][:200]}"
        for go, want, have in zip(g.output, outputs, got, strict=True):
            want = numpy_helper.to_array(to_proto(want, go.name))
            if want.shape != have.shape:
                return f"data set {k} output {go.name}: shape {have.shape} != {want.shape}"
            if not np.allclose(have, want, rtol=1e-3, atol=1e-5, equal_nan=True):
                err = np.max(np.abs(have.astype(np.float64) - want.astype(np.float64)))
                return f"data set {k} output {go.name}: max abs diff {err:.3g}"
    return None


def main() -> int:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(root, "testsuite", "onnx-node"))
    ap.add_argument("--verify", action="store_true", help="check pass cases with onnxruntime")
    args = ap.parse_args()

    cases, names = collect()
    verdicts = []
    for case in sorted(cases, key=lambda c: c.name):
        v = judge(case, names)
        if v is not None:
            verdicts.append((case, v))

    if os.path.isdir(args.out):
        for entry in os.listdir(args.out):
            p = os.path.join(args.out, entry)
            if os.path.isdir(p) and entry.startswith("test_"):
                shutil.rmtree(p)
    os.makedirs(args.out, exist_ok=True)

    total = 0
    written = 0
    for case, v in verdicts:
        if v.write:
            total += write_case(args.out, case, v)
            written += 1
    if total > SIZE_CAP:
        print(f"error: {total} bytes written, over the {SIZE_CAP} cap", file=sys.stderr)
        return 1

    header = (
        "# ONNX backend node tests for qcc (written by tools/onnx-node-tests/gen.py).\n"
        "# `pass <case>`: expected to import, run and match; `exclude <case> # <reason>`.\n"
        "# Cases excluded for non-f32 data or ops outside the list have no files here.\n"
    )
    lines = [header]
    for _, v in verdicts:
        if v.reason is None:
            lines.append(f"pass {v.name}\n")
        else:
            lines.append(f"exclude {v.name} # {v.reason}\n")
    with open(os.path.join(args.out, "allowlist.txt"), "w") as f:
        f.write("".join(lines))

    npass = sum(1 for _, v in verdicts if v.reason is None)
    ndown = sum(1 for _, v in verdicts if v.write and v.downgraded_from is not None)
    print(f"cases considered: {len(verdicts)}; pass: {npass}; excluded: {len(verdicts) - npass}")
    print(f"written: {written} cases, {total} bytes; rewritten to opset {MAX_OPSET}: {ndown}")

    if args.verify:
        bad = 0
        for case, v in verdicts:
            if v.reason is None:
                problem = verify(case, v)
                if problem is not None:
                    bad += 1
                    print(f"ort: {v.name}: {problem}")
        print(f"onnxruntime: {npass - bad} of {npass} pass cases agree; {bad} disagree or fail")
    return 0


if __name__ == "__main__":
    sys.exit(main())
