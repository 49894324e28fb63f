#!/usr/bin/env python3
"""Integer-only accuracy of qcc vs float and vs onnxruntime's quantize_static.

Usage: python3 tools/bench/bench_quant.py [--models a,b] [--methods minmax,percentile,entropy,mse,trained]

For every trained test model (testsuite/models/<m>/ with calib.npy, test_x.npy, test_y.npy):
- float top-1: qcc's float reference program (`qcc --float --run`);
- qcc top-1 per calibration method (trained: minmax start, thresholds learned on the batch): `qcc --calib calib.npy --calibration M --run test_x.npy`
  (the integer program on hvx-like, outputs dequantized), with logit SQNR against float;
- onnxruntime top-1: `quantize_static` (QDQ, per-channel s8 weights, u8 activations, MinMax,
  the same 100-sample calibration batch), run single-threaded.
Prints one table. Needs the default python3 with numpy and onnxruntime (tools/models/setup.sh).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QCC = os.path.join(ROOT, "target", "release", "qcc")


def qcc_run(model, x_path, out, extra):
    subprocess.run([QCC, model, "--run", x_path, "-o", out] + extra, check=True)
    z = np.load(out)
    return z[z.files[0]]


def sqnr(ref, q):
    n = np.sum((ref - q) ** 2)
    return float("inf") if n == 0 else 10 * np.log10(np.sum(ref ** 2) / n)


def ort_static(model, calib, x, tmp):
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    rank = len(sess.get_inputs()[0].shape)

    def sample(a, i):
        # qcc's convention: the first axis counts samples and replaces a batch axis of 1.
        return a[i:i + 1] if a.ndim == rank else a[i]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{name: sample(calib, i)} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    qpath = os.path.join(tmp, "ort_qdq.onnx")
    quantize_static(model, qpath, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    qs = ort.InferenceSession(qpath, so, providers=["CPUExecutionProvider"])
    outs = [qs.run(None, {name: sample(x, i)})[0] for i in range(len(x))]
    return np.concatenate([o.reshape(1, -1) for o in outs])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="")
    ap.add_argument("--methods", default="minmax,percentile,entropy,mse,trained")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "compiler", "--bin", "qcc"], check=True, cwd=ROOT)
    mdir = os.path.join(ROOT, "testsuite", "models")
    # Already-quantized models (the PyTorch QAT export, meta.json "qat") have no float program
    # to calibrate; tests/qdq_models.rs compares them with onnxruntime.
    def is_qat(d):
        meta = os.path.join(mdir, d, "meta.json")
        return os.path.exists(meta) and '"qat": true' in open(meta).read()
    names = args.models.split(",") if args.models else sorted(
        d for d in os.listdir(mdir)
        if os.path.exists(os.path.join(mdir, d, "test_y.npy")) and not is_qat(d))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in names:
            d = os.path.join(mdir, m)
            model, calib_p, x_p = (os.path.join(d, f) for f in ("model.onnx", "calib.npy", "test_x.npy"))
            y = np.load(os.path.join(d, "test_y.npy")).reshape(-1)
            out = os.path.join(tmp, "o.npz")
            f = qcc_run(model, x_p, out, ["--float"]).reshape(len(y), -1)
            facc = float(np.mean(f.argmax(1) == y))
            try:
                o = ort_static(model, np.load(calib_p), np.load(x_p), tmp)
                oacc = float(np.mean(o.argmax(1) == y))
                osq = sqnr(f, o)
            except Exception as e:  # report, don't hide
                print(f"{m}: onnxruntime quantize_static failed: {e}", file=sys.stderr)
                oacc, osq = float("nan"), float("nan")
            for meth in args.methods.split(","):
                q = qcc_run(model, x_p, out, ["--calib", calib_p, "--calibration", meth]).reshape(len(y), -1)
                qacc = float(np.mean(q.argmax(1) == y))
                rows.append((m, meth, facc, qacc, oacc, sqnr(f, q), osq))
    print(f"{'model':<22} {'method':<11} {'float':>7} {'qcc int':>8} {'ort qdq':>8} {'d float':>8} {'d ort':>7} {'SQNR qcc':>9} {'SQNR ort':>9}")
    for m, meth, facc, qacc, oacc, sq, osq in rows:
        print(f"{m:<22} {meth:<11} {100*facc:7.2f} {100*qacc:8.2f} {100*oacc:8.2f} {100*(qacc-facc):8.2f} {100*(qacc-oacc):7.2f} {sq:9.2f} {osq:9.2f}")


if __name__ == "__main__":
    main()
