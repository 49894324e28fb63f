#!/usr/bin/env python3
"""Single-threaded speed of qcc's emitted host C and Rust against onnxruntime QDQ.

    python3 tools/bench/bench_int.py [--model resnet18] [--iters 20] [--calib-samples 8]

1. The model: /tmp/qcc-bench-models/<model>/model.onnx (untrained torchvision export at
   1x3x224x224; made by tools/bench/export_bench_models.py with Debian's python if missing).
2. Calibration: a random batch (standard normal, seed 0, `--calib-samples` samples); the
   timed input is its first sample.
3. onnxruntime QDQ: quant_pre_process, then quantize_static (QDQ, per-channel, QUInt8
   activations, QInt8 weights, MinMax) on the same calibration batch; one session with
   intra_op_num_threads=1, inter_op_num_threads=1, sequential execution, all graph
   optimizations.
4. qcc: `qcc MODEL --calib CALIB --target generic-c -o net.c` built with gcc and clang
   (`-O3 -march=native`, a small driver that times `qcc_net_run_f32`), and
   `qcc MODEL --calib CALIB --target generic-c --emit rust -o net.rs` built with
   `rustc -C opt-level=3 -C target-cpu=native` and a small main timing `run_f32`.
Every executor is timed on the same input after warm-up; the table gives the median CPU time
of the process per inference (robust to other load on a shared machine) and the ratio
ORT ms / executor ms (above 1: faster than onnxruntime). The float outputs of the C and Rust
builds must be identical bit for bit (printed as a check); their top-1 agreement with
onnxruntime's QDQ output is printed for information (different quantizers).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QCC = os.path.join(ROOT, "target", "release", "qcc")
MODELS = "/tmp/qcc-bench-models"

C_DRIVER = r"""
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "net.h"

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int iters = atoi(argv[3]), i;
    size_t nin = QCC_NET_INPUT0_NUMEL, nout = QCC_NET_OUTPUT0_NUMEL;
    float *x = malloc(nin * sizeof(float)), *y = malloc(nout * sizeof(float));
    void *arena = NULL;
    double *t = malloc(iters * sizeof(double));
    FILE *f = fopen(argv[1], "rb");
    if (posix_memalign(&arena, 128, QCC_NET_ARENA_BYTES) != 0 || !f || fread(x, sizeof(float), nin, f) != nin) {
        return 2;
    }
    fclose(f);
    const float *ins[1] = {x};
    float *outs[1] = {y};
    for (i = 0; i < 3; i++) {
        qcc_net_run_f32(ins, outs, arena);
    }
    for (i = 0; i < iters; i++) {
        double t0 = cpu_ms();
        if (qcc_net_run_f32(ins, outs, arena) != 0) {
            return 3;
        }
        t[i] = cpu_ms() - t0;
    }
    qsort(t, iters, sizeof(double), cmp);
    f = fopen(argv[2], "wb");
    fwrite(y, sizeof(float), nout, f);
    fclose(f);
    printf("%.4f\n", t[iters / 2]);
    return 0;
}
"""

RUST_MAIN = r"""
#[allow(dead_code)]
mod net;
use std::io::{Read, Write};

/// CPU time of this thread in ms (Linux `/proc/thread-self/schedstat`, nanoseconds).
fn cpu_ms() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse::<f64>().unwrap() / 1e6
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let iters: usize = a[3].parse().unwrap();
    let mut bytes = Vec::new();
    std::fs::File::open(&a[1]).unwrap().read_to_end(&mut bytes).unwrap();
    let x: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mut y = Vec::new();
    for _ in 0..3 {
        y = net::run_f32(&[&x]);
    }
    let mut t = Vec::new();
    for _ in 0..iters {
        let t0 = cpu_ms();
        y = net::run_f32(&[&x]);
        t.push(cpu_ms() - t0);
    }
    t.sort_by(|p, q| p.partial_cmp(q).unwrap());
    let mut f = std::fs::File::create(&a[2]).unwrap();
    for v in &y[0] {
        f.write_all(&v.to_le_bytes()).unwrap();
    }
    println!("{:.4}", t[iters / 2]);
}
"""


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def ort_qdq(model, calib, out):
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    import onnx

    class Reader(CalibrationDataReader):
        def __init__(self, name, data):
            self.it = iter([{name: data[i:i + 1]} for i in range(len(data))])

        def get_next(self):
            return next(self.it, None)

    pre = out + ".pre.onnx"
    quant_pre_process(model, pre, skip_symbolic_shape=True)
    name = onnx.load(pre).graph.input[0].name
    quantize_static(pre, out, Reader(name, calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)


def time_ort(model, x, iters):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    feed = {s.get_inputs()[0].name: x}
    for _ in range(3):
        y = s.run(None, feed)[0]
    ts = []
    for _ in range(iters):
        t0 = time.process_time()
        y = s.run(None, feed)[0]
        ts.append((time.process_time() - t0) * 1e3)
    return float(np.median(ts)), y.reshape(-1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--calib-samples", type=int, default=8)
    ap.add_argument("--keep", help="keep the build directory here")
    args = ap.parse_args()
    model = os.path.join(MODELS, args.model, "model.onnx")
    if not os.path.exists(model):
        sh(["/usr/bin/python3", os.path.join(ROOT, "tools", "bench", "export_bench_models.py"), MODELS])
    sh(["cargo", "build", "--release", "-q", "-p", "compiler", "--bin", "qcc"], cwd=ROOT)
    tmp = args.keep or tempfile.mkdtemp(prefix="qcc-bench-int-")
    os.makedirs(tmp, exist_ok=True)
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((args.calib_samples, 3, 224, 224)).astype(np.float32)
    x = calib[:1]
    cal_p, in_p = os.path.join(tmp, "calib.npy"), os.path.join(tmp, "input.bin")
    np.save(cal_p, calib)
    x.astype("<f4").tofile(in_p)

    rows = []
    qdq = os.path.join(tmp, "qdq.onnx")
    ort_qdq(model, calib, qdq)
    ort_ms, ort_y = time_ort(qdq, x, args.iters)
    rows.append(("onnxruntime QDQ (u8/s8)", ort_ms))

    net_c, net_rs = os.path.join(tmp, "net.c"), os.path.join(tmp, "net.rs")
    sh([QCC, model, "--calib", cal_p, "--target", "generic-c", "-o", net_c])
    sh([QCC, model, "--calib", cal_p, "--target", "generic-c", "--emit", "rust", "-o", net_rs])
    with open(os.path.join(tmp, "driver.c"), "w") as f:
        f.write(C_DRIVER)
    with open(os.path.join(tmp, "main.rs"), "w") as f:
        f.write(RUST_MAIN)
    outs = {}
    builds = [("gcc", "gcc"), ("clang", shutil.which("clang") or shutil.which("clang-19"))]
    for label, cc in builds:
        if not cc:
            continue
        exe = os.path.join(tmp, f"bench_{label}")
        sh([cc, "-O3", "-march=native", "-std=c99", "-o", exe, net_c, os.path.join(tmp, "driver.c")])
        out = os.path.join(tmp, f"y_{label}.bin")
        ms = float(sh([exe, in_p, out, str(args.iters)]).strip())
        rows.append((f"qcc C ({label} -O3 -march=native)", ms))
        outs[f"C/{label}"] = out
    exe = os.path.join(tmp, "bench_rust")
    sh(["rustc", "--edition", "2021", "-C", "opt-level=3", "-C", "target-cpu=native", "-o", exe,
        os.path.join(tmp, "main.rs")])
    out = os.path.join(tmp, "y_rust.bin")
    ms = float(sh([exe, in_p, out, str(args.iters)]).strip())
    rows.append(("qcc Rust (rustc -C opt-level=3)", ms))
    outs["Rust"] = out

    print(f"{args.model} 1x3x224x224, single thread, median CPU ms per inference over {args.iters} runs")
    print(f"{'executor':<34} {'ms':>9} {'ORT/this':>9}")
    for name, ms in rows:
        print(f"{name:<34} {ms:9.2f} {ort_ms / ms:9.2f}x")
    ys = {k: np.fromfile(v, dtype="<f4") for k, v in outs.items()}
    ref_k = next(iter(ys))
    same = all(np.array_equal(ys[ref_k].view(np.uint32), y.view(np.uint32)) for y in ys.values())
    print(f"outputs of {', '.join(ys)} identical bit for bit: {'yes' if same else 'NO'}")
    top = int(np.argmax(ys[ref_k]))
    print(f"top-1: qcc {top}, onnxruntime QDQ {int(np.argmax(ort_y))}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
