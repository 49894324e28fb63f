#!/usr/bin/env python3
"""Time onnxruntime on one model, single-threaded, and print `ort_ms <median ms>`.

    python3 tools/bench/ort_time.py MODEL.onnx INPUT.npy [--iters N] [--warmup W]

INPUT.npy: float32 with first axis = samples; its first sample is fed as a batch-1 input
(single-input models). Session: intra_op_num_threads=1, inter_op_num_threads=1, sequential
execution, ORT_ENABLE_ALL graph optimizations, CPUExecutionProvider. Also prints
`ort_cpu_ms <median thread CPU ms>` (single-threaded ORT computes on the calling thread).
"""

import argparse
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    x = np.load(args.input).astype(np.float32)[:1]
    feed = {sess.get_inputs()[0].name: x}
    for _ in range(args.warmup):
        sess.run(None, feed)
    times = []
    cpu = []
    for _ in range(max(1, args.iters)):
        t0, c0 = time.perf_counter(), time.thread_time()
        sess.run(None, feed)
        cpu.append((time.thread_time() - c0) * 1e3)
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"ort_ms {float(np.median(times)):.4f}")
    # Single-threaded onnxruntime computes on the calling thread.
    print(f"ort_cpu_ms {float(np.median(cpu)):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
