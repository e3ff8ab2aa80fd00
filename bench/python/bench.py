#!/usr/bin/env python3
"""The Python suite: locket against locket.py, filelock, fasteners and portalocker.

usage: bench.py --out bench/out/python.json [--quick]
       bench.py --waiter KIND PATH [TIMEOUT]      (internal: a hand-off waiter process)
       bench.py --cpu KIND PATH                   (internal: one 2 s waiter-CPU measurement)

The package under test (locket) and the anchors must be importable; locket.py
from PyPI is imported as `locketpy` (bench/python/run.sh extracts it so,
because our package is also called locket). Metrics (schema in bench/README.md):

- uncontended: `with lock:` on a kept lock object, median over rounds of
  per-pair time; implementations interleaved round by round. The raw
  syscalls are in the separate metric syscalls_uncontended (context).
- handoff_p50/p90/p99: the holder (this process, with the same library as
  the waiter: fasteners takes lockf locks that flock holders do not see)
  holds, tells a long-lived waiter process to acquire, waits until the waiter
  sleeps in the kernel plus a random 1-4 ms, reads CLOCK_MONOTONIC and
  releases; the waiter reads CLOCK_MONOTONIC when its acquire returns and
  sends it back. Samples are taken round-robin over the implementations.
- waiter_cpu_2s: CPU time (all threads) of a waiter process over one
  acquire with a 2 s timeout that expires; timeout_overshoot_2s: how late
  it returned. Median of 3.
- import: `import locket` against `import locketpy` (locket.py), each in a
  fresh interpreter, cumulative time of the package from `-X importtime`,
  bytecode cached (as installed packages have it), median of 20 interleaved.
"""

import argparse
import asyncio
import fcntl
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HANDOFF_TIMEOUT = 10.0


# ---- the implementations -----------------------------------------------------------------

def version_of(module_name):
    try:
        import importlib
        from importlib.metadata import version

        return getattr(importlib.import_module(module_name), "__version__", None) or version(module_name)
    except Exception:  # noqa: BLE001 - for the notes only
        return "?"


class Impl:
    """acquire()/release() of one library on one path, blocking with `timeout`."""

    def __init__(self, kind, path, timeout):
        self.kind = kind
        if kind in ("locket", "locket_async"):
            import locket

            self.lock = locket.Lock(path, timeout=timeout)
            self.acquire, self.release = self.lock.acquire, self.lock.release
        elif kind == "locket.py":
            import locketpy

            self.lock = locketpy.lock_file(path, timeout=timeout)
            self.acquire, self.release = self.lock.acquire, self.lock.release
        elif kind == "filelock":
            import filelock

            self.lock = filelock.FileLock(path, timeout=-1 if timeout is None else timeout)
            self.acquire, self.release = self.lock.acquire, self.lock.release
        elif kind == "fasteners":
            import fasteners

            self.lock = fasteners.InterProcessLock(path)

            def acquire():
                if not self.lock.acquire(timeout=timeout):
                    raise TimeoutError(path)

            self.acquire, self.release = acquire, self.lock.release
        elif kind == "portalocker":
            import portalocker

            self.lock = portalocker.Lock(path, timeout=timeout)
            self.acquire, self.release = self.lock.acquire, self.lock.release
        elif kind == "fcntl_flock_blocking":
            # A Python waiter blocked in flock(LOCK_EX) on a kept descriptor; its
            # timeout is a SIGALRM timer, as flock(1) -w does.
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)

            def acquire():
                if timeout is not None:
                    signal.setitimer(signal.ITIMER_REAL, timeout)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                finally:
                    if timeout is not None:
                        signal.setitimer(signal.ITIMER_REAL, 0)

            self.acquire = acquire
            self.release = lambda: fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            raise ValueError(kind)

    def __enter__(self):
        self.acquire()

    def __exit__(self, *exc):
        self.release()


def on_alarm(signum, frame):
    raise TimeoutError("SIGALRM")


ANCHORS = ["locket.py", "filelock", "fasteners", "portalocker"]
# kind -> (samples, quick samples): the pollers wake 12-125 ms late, so fewer.
HANDOFF_KINDS = {
    "fcntl_flock_blocking": (300, 30),
    "locket": (300, 30),
    "locket_async": (300, 30),
    "locket.py": (40, 8),
    "filelock": (40, 8),
    "fasteners": (60, 10),
    "portalocker": (30, 6),
}


# ---- uncontended -------------------------------------------------------------------------

def bench_uncontended(tmp, quick):
    import locket

    rounds, pairs = (5, 500) if quick else (15, 2000)
    kinds = {}
    for kind in ["locket", "locket_timeout_10s"] + ANCHORS:
        path = os.path.join(tmp, "u-" + kind)
        base = "locket" if kind.startswith("locket_") else kind
        kinds[kind] = Impl(base, path, 10.0 if kind == "locket_timeout_10s" else None).lock

    path = os.path.join(tmp, "u-async")
    alock = locket.Lock(path)

    async def async_pairs(n):
        start = time.perf_counter_ns()
        for _ in range(n):
            async with alock:
                pass
        return time.perf_counter_ns() - start

    raw_path = os.path.join(tmp, "u-raw")
    kept = os.open(raw_path, os.O_RDWR | os.O_CREAT, 0o666)
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOCTTY

    def raw_kept(n):
        start = time.perf_counter_ns()
        for _ in range(n):
            fcntl.flock(kept, fcntl.LOCK_EX)
            fcntl.flock(kept, fcntl.LOCK_UN)
        return time.perf_counter_ns() - start

    def raw_open_close(n):
        start = time.perf_counter_ns()
        for _ in range(n):
            fd = os.open(raw_path, flags)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return time.perf_counter_ns() - start

    def with_pairs(lock, n):
        start = time.perf_counter_ns()
        for _ in range(n):
            with lock:
                pass
        return time.perf_counter_ns() - start

    per = {k: [] for k in list(kinds) + ["locket_async", "fcntl_flock_kept_fd", "os_open_flock_close"]}
    for _ in range(rounds):
        for kind, lock in kinds.items():
            with_pairs(lock, 50)  # warm
            per[kind].append(with_pairs(lock, pairs) / pairs / 1000)
        per["locket_async"].append(asyncio.run(async_pairs(pairs)) / pairs / 1000)
        per["fcntl_flock_kept_fd"].append(raw_kept(pairs) / pairs / 1000)
        per["os_open_flock_close"].append(raw_open_close(pairs) / pairs / 1000)
    os.close(kept)
    med = {k: statistics.median(v) for k, v in per.items()}
    fastest_anchor = min(ANCHORS, key=lambda k: med[k])
    rows = []
    for kind in ["locket", "locket_timeout_10s", "locket_async"] + ANCHORS:
        rows.append(row("uncontended", kind, med[kind], "us", reference=kind == fastest_anchor,
                        context=kind == "locket_async"))
    rows.append(row("syscalls_uncontended", "fcntl_flock_kept_fd", med["fcntl_flock_kept_fd"], "us",
                    reference=True, context=True))
    rows.append(row("syscalls_uncontended", "os_open_flock_close", med["os_open_flock_close"], "us",
                    context=True))
    rows.append(row("syscalls_uncontended", "locket", med["locket"], "us", context=True))
    note = (f"uncontended: `with lock:` on a kept lock object, median of {rounds} rounds of {pairs} "
            f"pairs, interleaved; reference = the fastest anchor in this run ({fastest_anchor}); "
            "syscalls_uncontended shows the raw fcntl.flock pair on a kept descriptor and "
            "os.open+flock+unlock+close (what locket does per acquisition) from Python")
    return rows, [note]


def row(name, impl, value, unit, reference=False, context=False):
    r = {"name": name, "impl": impl, "value": round(value, 4), "unit": unit,
         "reference": reference, "lower_is_better": True}
    if context:
        r["context"] = True
    return r


# ---- import ------------------------------------------------------------------------------

def import_us(module, env):
    """(wall, cpu) of `import module` in a fresh interpreter, in µs: the
    cumulative time -X importtime reports, and the process CPU time around
    the import statement (less disturbed by other load on the machine)."""
    code = f"import time; t = time.process_time(); import {module}; print(time.process_time() - t)"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    for line in out.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:  # the top level: no indentation
            return int(parts[1]), float(out.stdout) * 1e6
    raise RuntimeError(f"no import time for {module}: {out.stderr[-500:]}")


def bench_import(tmp, quick):
    env = dict(os.environ, PYTHONPYCACHEPREFIX=os.path.join(tmp, "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    modules = {"locket": "locket", "locket.py": "locketpy"}
    for module in modules.values():
        import_us(module, env)  # writes the bytecode
    n = 5 if quick else 20
    samples = {impl: [] for impl in modules}
    for _ in range(n):
        for impl, module in modules.items():
            samples[impl].append(import_us(module, env))
    wall = {impl: statistics.median(w for w, _ in v) / 1000 for impl, v in samples.items()}
    cpu = {impl: statistics.median(c for _, c in v) / 1000 for impl, v in samples.items()}
    rows = [row("import", impl, wall[impl], "ms", reference=impl == "locket.py") for impl in modules]
    rows += [row("import_cpu", impl, cpu[impl], "ms", reference=impl == "locket.py", context=impl != "locket.py")
             for impl in modules]
    note = (f"import: `import locket` vs `import locketpy` (locket.py) in fresh interpreters, cumulative "
            f"-X importtime of the package with its bytecode cached, median of {n} interleaved: locket "
            f"{wall['locket']:.2f} ms, locket.py {wall['locket.py']:.2f} ms "
            f"({wall['locket'] - wall['locket.py']:+.2f} ms); import_cpu: process CPU time of the same "
            f"imports ({cpu['locket'] - cpu['locket.py']:+.2f} ms)")
    return rows, [note]


# ---- hand-off ----------------------------------------------------------------------------

def waiter_main(kind, path):
    """A long-lived waiter: per "go" line, say "waiting", acquire, note
    CLOCK_MONOTONIC, release, print the time."""
    signal.signal(signal.SIGALRM, on_alarm)
    impl = Impl("locket" if kind == "locket_async" else kind, path, HANDOFF_TIMEOUT)
    out = sys.stdout
    if kind == "locket_async":
        async def run():
            loop = asyncio.get_running_loop()
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if line.strip() != "go":
                    return
                out.write("waiting\n")
                out.flush()
                await impl.lock.acquire_async()
                t = time.monotonic_ns()
                impl.release()
                out.write(f"{t}\n")
                out.flush()

        asyncio.run(run())
        return
    for line in sys.stdin:
        if line.strip() != "go":
            return
        out.write("waiting\n")
        out.flush()
        impl.acquire()
        t = time.monotonic_ns()
        impl.release()
        out.write(f"{t}\n")
        out.flush()


def all_threads_sleep(pid):
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "S":
                    return False
    except FileNotFoundError:
        return False
    return True


def bench_handoff(tmp, quick):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    kinds = {}
    for kind, (n, nq) in HANDOFF_KINDS.items():
        path = os.path.join(tmp, "h-" + kind.replace(".", "_"))
        holder = Impl("locket" if kind == "locket_async" else kind, path, HANDOFF_TIMEOUT)
        proc = subprocess.Popen([sys.executable, __file__, "--waiter", kind, path], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=env)
        kinds[kind] = {"holder": holder, "proc": proc, "left": nq if quick else n, "samples": [],
                       "late": 0}
    rng = random.Random(1)
    try:
        while any(k["left"] for k in kinds.values()):
            for k in kinds.values():
                if not k["left"]:
                    continue
                k["left"] -= 1
                proc, holder = k["proc"], k["holder"]
                holder.acquire()
                proc.stdin.write("go\n")
                proc.stdin.flush()
                assert proc.stdout.readline().strip() == "waiting"
                deadline = time.monotonic() + 2
                while not all_threads_sleep(proc.pid) and time.monotonic() < deadline:
                    time.sleep(0.0002)
                entered = all_threads_sleep(proc.pid)
                time.sleep(rng.uniform(0.001, 0.004))
                t0 = time.monotonic_ns()
                holder.release()
                t1 = int(proc.stdout.readline())
                if entered:
                    k["samples"].append((t1 - t0) / 1000)
                else:
                    k["late"] += 1
    finally:
        for k in kinds.values():
            k["proc"].stdin.close()
            k["proc"].wait(timeout=30)
    rows, handoff = [], {}
    for kind, k in kinds.items():
        s = sorted(k["samples"])
        handoff[kind] = [round(x, 2) for x in k["samples"]]
        for q, name in ((0.5, "handoff_p50"), (0.9, "handoff_p90"), (0.99, "handoff_p99")):
            rows.append(row(name, kind, s[min(len(s) - 1, int(q * len(s)))], "us",
                            reference=kind == "fcntl_flock_blocking"))
    late = {kind: k["late"] for kind, k in kinds.items() if k["late"]}
    notes = [f"handoff: timeout {HANDOFF_TIMEOUT:g} s for every library (fcntl_flock_blocking: a "
             "Python waiter blocked in fcntl.flock, SIGALRM timer for the timeout); the holder is the "
             "same library as the waiter; hold 1-4 ms after the waiter sleeps; samples per kind: "
             + ", ".join(f"{kind} {len(k['samples'])}" for kind, k in kinds.items())]
    if late:
        notes.append(f"handoff: samples dropped because the waiter was not yet asleep: {late}")
    return rows, handoff, notes


# ---- waiter CPU --------------------------------------------------------------------------

def cpu_main(kind, path):
    """One waiter: CPU and wall time of an acquire whose 2 s timeout expires."""
    signal.signal(signal.SIGALRM, on_alarm)
    impl = Impl("locket" if kind == "locket_async" else kind, path, 2.0)

    def measure(acquire):
        wall, cpu = time.monotonic(), time.process_time()
        try:
            acquire()
            outcome = "acquired"
        except BaseException as e:  # noqa: BLE001 - every library has its own timeout error
            outcome = type(e).__name__
        return time.process_time() - cpu, time.monotonic() - wall, outcome

    if kind == "locket_async":
        async def in_loop():  # the running loop's own set-up is not the waiter's cost
            return await measure_async(impl.lock.acquire_async())

        async def measure_async(waiter):
            wall, cpu = time.monotonic(), time.process_time()
            try:
                await waiter
                outcome = "acquired"
            except BaseException as e:  # noqa: BLE001
                outcome = type(e).__name__
            return time.process_time() - cpu, time.monotonic() - wall, outcome

        cpu, wall, outcome = asyncio.run(in_loop())
    else:
        cpu, wall, outcome = measure(impl.acquire)
    print(json.dumps({"cpu_ms": cpu * 1000, "wall_ms": wall * 1000, "outcome": outcome}))


def bench_cpu(tmp, quick):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    kinds = list(HANDOFF_KINDS)
    results = {k: [] for k in kinds}
    holders = {}
    for kind in kinds:
        path = os.path.join(tmp, "c-" + kind.replace(".", "_"))
        holders[kind] = (path, Impl("locket" if kind == "locket_async" else kind, path, None))
        holders[kind][1].acquire()
    # All kinds at once (each its own file), one round after another: 2 cores,
    # and the waiters sleep, so they barely meet.
    for _ in range(1 if quick else 3):
        procs = {kind: subprocess.Popen([sys.executable, __file__, "--cpu", kind, holders[kind][0]],
                                        stdout=subprocess.PIPE, text=True, env=env) for kind in kinds}
        for kind, p in procs.items():
            out, _ = p.communicate(timeout=60)
            results[kind].append(json.loads(out))
    for _, h in holders.values():
        h.release()
    rows = []
    for kind in kinds:
        cpu = statistics.median(r["cpu_ms"] for r in results[kind])
        over = statistics.median(r["wall_ms"] - 2000 for r in results[kind])
        rows.append(row("waiter_cpu_2s", kind, cpu, "ms", reference=kind == "fcntl_flock_blocking"))
        rows.append(row("timeout_overshoot_2s", kind, over, "ms", reference=kind == "fcntl_flock_blocking"))
    outcomes = {kind: sorted({r["outcome"] for r in results[kind]}) for kind in kinds}
    notes = ["waiter_cpu_2s: CPU time (process_time, all threads) of one acquire whose 2 s timeout "
             "expires while this process holds the lock (locket_async: measured inside the running "
             "event loop); timeout_overshoot_2s: wall time past 2 s; "
             f"median of {1 if quick else 3}; outcomes: {outcomes}"]
    return rows, notes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--waiter", nargs=2)
    ap.add_argument("--cpu", nargs=2)
    ap.add_argument("--only", nargs="*", default=["import", "uncontended", "handoff", "cpu"])
    a = ap.parse_args()
    if a.waiter:
        return waiter_main(*a.waiter)
    if a.cpu:
        return cpu_main(*a.cpu)
    signal.signal(signal.SIGALRM, on_alarm)
    import locket

    versions = {name: version_of(mod) for name, mod in
                [("locket.py", "locketpy"), ("filelock", "filelock"), ("fasteners", "fasteners"),
                 ("portalocker", "portalocker")]}
    data = {"suite": "python", "metrics": [], "handoff": {},
            "notes": [f"Python {sys.version.split()[0]}; locket {locket.__version__} "
                      f"({os.path.dirname(locket.__file__)}); anchors: "
                      + ", ".join(f"{k} {v}" for k, v in versions.items())]}
    with tempfile.TemporaryDirectory(prefix="locket-bench-py-") as tmp:
        if "import" in a.only:
            rows, notes = bench_import(tmp, a.quick)
            data["metrics"] += rows
            data["notes"] += notes
        if "uncontended" in a.only:
            rows, notes = bench_uncontended(tmp, a.quick)
            data["metrics"] += rows
            data["notes"] += notes
        if "handoff" in a.only:
            rows, handoff, notes = bench_handoff(tmp, a.quick)
            data["metrics"] += rows
            data["handoff"] = handoff
            data["notes"] += notes
        if "cpu" in a.only:
            rows, notes = bench_cpu(tmp, a.quick)
            data["metrics"] += rows
            data["notes"] += notes
    with open(a.out, "w") as f:
        json.dump(data, f, indent=1)
    for r in data["metrics"]:
        print(f"{r['name']:22} {r['impl']:22} {r['value']:>10} {r['unit']}{'  ref' if r['reference'] else ''}")


if __name__ == "__main__":
    main()
