#!/usr/bin/env python3
"""profile.py - where the executed packets of an emitted qcc model go, per graph node.

    profile.py PLUGIN_LOG ELF NET.c [TOP]

PLUGIN_LOG holds `hot: COUNT PC INSNS DISAS` lines from hexcount.c (run with a large hot=N so
every packet is listed). Each PC is mapped with llvm-addr2line-19 -i (one batch call) to its
inline chain; the outermost frame inside NET.c's `qcc_<name>_body` names the node (the
`/* op name */` comment the emitter writes before each node's code). Prints the TOP nodes
by packets, and the TOP innermost source lines (which kernel loop the packets are in).
"""
import re
import shutil
import subprocess
import sys
from collections import defaultdict


def main():
    log, elf, netc = sys.argv[1:4]
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 12
    hot = []
    for line in open(log, encoding="utf-8", errors="replace"):
        if line.startswith("hot: "):
            parts = line.split(None, 4)
            hot.append((int(parts[1]), parts[2], int(parts[3]), parts[4].strip() if len(parts) > 4 else ""))
    if not hot:
        print("profile: no hot: lines", file=sys.stderr)
        return 1
    a2l = shutil.which("llvm-addr2line-19") or shutil.which("addr2line")
    if not a2l:
        print("profile: no llvm-addr2line-19", file=sys.stderr)
        return 1
    pcs = "\n".join(h[1] for h in hot) + "\n"
    # each address is answered by its inline chain (function, file:line pairs); a sentinel
    # address after each one separates the chains
    inp = "".join(f"{h[1]}\n0xffffffff\n" for h in hot)
    out = subprocess.run([a2l, "-f", "-i", "-e", elf], input=inp, capture_output=True,
                         text=True, check=False).stdout.splitlines()
    del pcs
    chains, cur = [], []
    i = 0
    while i + 1 < len(out):
        fn, loc = out[i], out[i + 1]
        i += 2
        if fn == "??" and loc.startswith("??"):
            chains.append(cur)
            cur = []
        else:
            cur.append((fn, loc))
    src = open(netc, encoding="utf-8").read().splitlines()

    def node_of(lineno):
        for j in range(min(lineno, len(src)) - 1, -1, -1):
            m = re.match(r"\s*/\* (.*) \*/\s*$", src[j])
            if m:
                return f"{m.group(1)} (net.c:{j + 1})"
            if src[j].startswith("static void"):
                break
        return f"net.c:{lineno}"

    by_node, by_line = defaultdict(int), defaultdict(int)
    total = 0
    for (count, _pc, _ni, _dis), chain in zip(hot, chains):
        total += count
        outer = next((c for c in reversed(chain) if c[0].endswith("_body")), None)
        if outer:
            ln = int(re.sub(r".*:(\d+).*", r"\1", outer[1]) or 0)
            by_node[node_of(ln)] += count
        else:
            by_node[chain[-1][0] if chain else "?"] += count
        inner = chain[0] if chain else ("?", "?")
        by_line[f"{inner[0]} {inner[1].split('/')[-1]}"] += count
    print(f"== packets per node (of {total} executed)")
    for k, v in sorted(by_node.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{v:12d} {100.0 * v / total:5.1f}%  {k}")
    print("== packets per innermost source line")
    for k, v in sorted(by_line.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{v:12d} {100.0 * v / total:5.1f}%  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
