#!/usr/bin/env python3
"""Float interpreter vs onnxruntime, single-threaded, on ResNet-18 and MobileNetV2 at 224x224.

Usage: python3 tools/bench/bench_float.py [--dir DIR] [--iters N]

Exports the untrained torchvision models with an input each (tools/bench/export_bench_models.py,
run with Debian's /usr/bin/python3 which has torch) into DIR/<model>/ once,
times onnxruntime (tools/bench/ort_time.py) and qcc's float interpreter (the Rust binary
`bench-float`, release build) on the same input, and prints a table. speed = ort_ms / qcc_ms:
1.0 means as fast as onnxruntime; the target is >= 0.7. Both run in this one invocation so the
ratio compares like with like on a noisy shared machine. The table has the ratio of wall times
and of thread CPU times (median per inference); on a loaded machine (load average above the
core count) the CPU-time ratio is the trustworthy one.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = ["resnet18", "mobilenet_v2"]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def value(out, key):
    for line in out.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[1])
    raise SystemExit(f"no `{key}` line in:\n{out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/qcc-bench-models")
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    if not all(os.path.exists(os.path.join(args.dir, m, "model.onnx")) for m in MODELS):
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools/bench/export_bench_models.py"), args.dir], check=True)
    subprocess.run(["cargo", "build", "--profile", "perf", "-q", "-p", "qcc-tools", "--bin", "bench-float"], check=True, cwd=ROOT)
    exe = os.path.join(ROOT, "target/perf/bench-float")
    rows = []
    for m in MODELS:
        model = os.path.join(args.dir, m, "model.onnx")
        x = os.path.join(args.dir, m, "input.npy")
        env = dict(os.environ, RAYON_NUM_THREADS="1", OMP_NUM_THREADS="1")
        o = run([sys.executable, os.path.join(ROOT, "tools/bench/ort_time.py"), model, x, "--iters", str(args.iters)], env=env)
        q = run([exe, model, "--input", x, "--iters", str(args.iters)], env=env)
        ort, qcc = value(o, "ort_ms"), value(q, "qcc_ms")
        ort_cpu, qcc_cpu = value(o, "ort_cpu_ms"), value(q, "qcc_cpu_ms")
        rows.append((m, ort, qcc, ort / qcc, ort_cpu, qcc_cpu, ort_cpu / qcc_cpu))
    print(f"{'model':<14} {'onnxruntime ms':>15} {'qcc float ms':>13} {'speed vs ort':>13}"
          f" {'ort cpu ms':>11} {'qcc cpu ms':>11} {'cpu speed':>10}")
    for m, ort, qcc, r, oc, qc, rc in rows:
        print(f"{m:<14} {ort:>15.2f} {qcc:>13.2f} {r:>12.2f}x {oc:>11.2f} {qc:>11.2f} {rc:>9.2f}x")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
