#!/usr/bin/env python3
"""Print a markdown table of testsuite/models/ (from each meta.json) for the README."""

import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testsuite",
                    "models")


def main():
    print("| model | opset | producer | trained, float acc (ORT) | model kB | dir kB | ops |")
    print("|---|---|---|---|---|---|---|")
    total = 0
    for n in sorted(os.listdir(ROOT)):
        mp = os.path.join(ROOT, n, "meta.json")
        if not os.path.exists(mp):
            continue
        with open(mp) as f:
            m = json.load(f)
        if "ops" not in m:  # not yet processed by reference.py
            continue
        d = os.path.join(ROOT, n)
        dir_bytes = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)
                        if f != "torch_ref.npz")
        total += dir_bytes
        acc = m.get("float_test_accuracy_ort")
        tr = f"yes, {acc * 100:.1f}% ({m.get('test_samples')})" if acc is not None else (
            "yes" if m.get("trained") else "no")
        prod = m.get("producer_name") or m.get("producer", "?").split()[0] + (" +conv" if "version_converter" in
                                             m.get("producer", "") else "")
        if "external data" in m.get("producer", ""):
            prod += " +extdata"
        print(f"| {n} | {m.get('opset')} | {prod} | {tr} | {m['model_bytes'] / 1e3:.0f} | "
              f"{dir_bytes / 1e3:.0f} | {' '.join(m['ops'])} |")
    print(f"\nTotal: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
