#!/usr/bin/env python3
"""The Python call cost of two builds of locket._core, measured in one run:
today's full-API build (SWIG -builtin) against the abi3 build (limited API,
SWIG proxy classes). Each round starts one fresh interpreter per build,
alternating, so that both see the same machine; the medians over rounds are
compared. Rows (per acquire+release pair, uncontended, kept lock object):
  with:  `with lock:` on a locket.Lock (what users call; the package on top)
  core:  _core.Handle.acquire(-1, 0) + release() (the binding alone)
  calls: two _core.Handle.locked() calls (no system call: the call cost alone;
         context, not the criterion)
usage: bench_abi3.py PYTHON BUILTIN_DIR ABI3_DIR [--rounds N] [--pairs N]
  *_DIR: a directory with the locket package in it (PYTHONPATH)."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import os, sys, time, locket
from locket import _core
path = sys.argv[1]
pairs = int(sys.argv[2])
lock = locket.Lock(path)
h = _core.Handle(path, 0o666, 0)
assert h.open_error == _core.OK
def with_pairs(n):
    t = time.perf_counter_ns()
    for _ in range(n):
        with lock:
            pass
    return time.perf_counter_ns() - t
def core_pairs(n):
    acq, rel = h.acquire, h.release
    t = time.perf_counter_ns()
    for _ in range(n):
        acq(-1, 0)
        rel()
    return time.perf_counter_ns() - t
def call_only(n):
    locked = h.locked
    t = time.perf_counter_ns()
    for _ in range(n):
        locked()
        locked()
    return time.perf_counter_ns() - t
with_pairs(200); core_pairs(200); call_only(200)
w = min(with_pairs(pairs) for _ in range(3)) / pairs
c = min(core_pairs(pairs) for _ in range(3)) / pairs
k = min(call_only(pairs) for _ in range(3)) / pairs
print(w, c, k, _core.__file__)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("python")
    ap.add_argument("builtin")
    ap.add_argument("abi3")
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--pairs", type=int, default=20000)
    a = ap.parse_args()
    builds = {"builtin": a.builtin, "abi3": a.abi3}
    res = {b: {"with": [], "core": [], "calls": []} for b in builds}
    with tempfile.TemporaryDirectory() as tmp:
        for b, d in builds.items():  # which extension each build loads
            out = subprocess.run([a.python, "-c", CHILD, os.path.join(tmp, "x-" + b), "10"], check=True,
                                 env=dict(os.environ, PYTHONPATH=d), capture_output=True, text=True).stdout
            print(f"{b}: {out.split()[3]}", file=sys.stderr)
        for _ in range(a.rounds):
            for b, d in builds.items():
                out = subprocess.run([a.python, "-c", CHILD, os.path.join(tmp, "l-" + b), str(a.pairs)],
                                     check=True, env=dict(os.environ, PYTHONPATH=d), capture_output=True,
                                     text=True).stdout.split()
                res[b]["with"].append(float(out[0]))
                res[b]["core"].append(float(out[1]))
                res[b]["calls"].append(float(out[2]))
    ver = subprocess.run([a.python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                         text=True).stdout.strip()
    print(f"Python {ver}, {a.rounds} rounds x {a.pairs} pairs, medians (ns per acquire+release):")
    worst = 0.0
    for row in ("with", "core", "calls"):
        b = statistics.median(res["builtin"][row])
        s = statistics.median(res["abi3"][row])
        if row != "calls":
            worst = max(worst, s / b - 1)
        print(f"  {row:5s} builtin {b:8.0f}  abi3 {s:8.0f}  abi3/builtin {s / b:5.3f}")
    print("  (calls: two h.locked() calls, no system call: the binding's own cost, for context)")
    print(f"abi3 costs {worst * 100:+.1f}% on the uncontended path (worst of with, core)")


if __name__ == "__main__":
    main()
