#!/usr/bin/env python3
"""The issue-18 suite: the rows issue 18 added to the targets, each next to its reference in the
same run (bench/README.md, "The issue-18 suite"). Writes bench/out/issue18.json.

usage: issue18.py --build BUILD_DIR --out FILE [--quick] [--lua LUA] [--only SECTION...]
  SECTION: threads, unlock_late, cpu, idle_thread, uncontended (default: all of them)

This process is the holder (a locket holder through the Python binding, or a foreign one: a raw
os.open + fcntl.flock, as flock(1) and locket.py hold). The waiters are separate processes, the
C one (build/bench/locket-bench-waiter, bench/issue18/waiter.c), the Python one (waiter.py) and
the Lua one (waiter.lua), all speaking one line protocol (see waiter.c). Hand-off = the holder's
CLOCK_MONOTONIC just before it releases to the waiter's CLOCK_MONOTONIC when its acquire returns.
The package under test (locket) and locket.py (as `locketpy`) must be importable.
"""
import argparse
import fcntl
import json
import math
import os
import random
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(18)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def pct(values, q):
    """Nearest rank, as the C suite computes it."""
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(max(int(-(-q * len(s) // 1)), 1), len(s)) - 1]


class Waiter:
    """A waiter process speaking the line protocol of bench/issue18/waiter.c."""

    def __init__(self, name, argv, env=None):
        self.name, self.argv = name, argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
        self.buf = b""
        line = self.readline(60)
        if line != "ready":
            raise RuntimeError(f"{name}: waiter did not start ({line!r}): {' '.join(argv[:4])} ...")

    def readline(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"{self.name}: no answer within {timeout} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"{self.name}: the waiter exited")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def go(self):
        self.proc.stdin.write(b"go\n")

    def expect(self, tag, timeout):
        """The next line, which must start with tag; returns its fields after the tag."""
        line = self.readline(timeout)
        f = line.split()
        if not f or f[0] != tag:
            raise RuntimeError(f"{self.name}: expected {tag!r}, got {line!r}")
        return f[1:]

    def done(self, timeout):
        """(index, t_return_ns, rc, cpu_ns) of the next "d" line."""
        i, t, rc, cpu = self.expect("d", timeout)
        return int(i), int(t), int(rc), int(cpu)

    def all_asleep(self):
        pid = self.proc.pid
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "S":
                        return False
        except FileNotFoundError:
            return False
        return True

    def wait_asleep(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        while not self.all_asleep():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0005)
        return True

    def close(self):
        try:
            self.proc.stdin.write(b"q\n")
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class LocketHolder:
    """A locket holder: the Python binding (its release wakes locket waiters)."""

    def __init__(self, path):
        import locket

        self.lock = locket.Lock(path)

    def hold(self):
        self.lock.acquire(timeout=30)

    def release(self):
        t = time.monotonic_ns()
        self.lock.release()
        return t

    def after(self):
        pass


class FlockHolder:
    """A foreign holder (flock(1), locket.py, filelock): os.open + fcntl.flock.
    unlock_only: LOCK_UN without a close (`flock -u 9`), the descriptor closed after the waiter
    returned; otherwise unlock, then close."""

    def __init__(self, path, unlock_only=False):
        self.path, self.unlock_only, self.fd = path, unlock_only, -1

    def hold(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        deadline = time.monotonic() + 30
        while True:  # the previous waiter may still be releasing
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.0002)

    def release(self):
        t = time.monotonic_ns()
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        if not self.unlock_only:
            os.close(self.fd)
            self.fd = -1
        return t

    def after(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class LocketPyHolder:
    """locket.py (PyPI) holding: open(path, "wb") + fcntl.flock, unlock + close on release."""

    def __init__(self, path):
        import locketpy

        self.lock = locketpy.lock_file(path)

    def hold(self):
        self.lock.acquire()

    def release(self):
        t = time.monotonic_ns()
        self.lock.release()
        return t

    def after(self):
        pass


class Suite:
    def __init__(self, args, tmp):
        self.a, self.tmp = args, tmp
        self.metrics, self.handoff, self.notes = [], {}, []
        self.c_waiter = os.path.join(args.build, "bench", "locket-bench-waiter")
        self.py = [sys.executable, os.path.join(HERE, "waiter.py")]
        self.lua = [args.lua, os.path.join(HERE, "waiter.lua")] if args.lua else None
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")

    def row(self, name, impl, value, unit, reference=False, context=False):
        r = {"name": name, "impl": impl, "value": round(value, 4), "unit": unit, "reference": reference,
             "lower_is_better": True}
        if context:
            r["context"] = True
        self.metrics.append(r)
        log(f"  {name:40} {impl:34} {value:12.3f} {unit}{'  (ref)' if reference else ''}")

    def files(self, prefix, n):
        d = os.path.join(self.tmp, prefix)
        os.makedirs(d, exist_ok=True)
        paths = [os.path.join(d, f"{i}.lock") for i in range(n)]
        for p in paths:
            os.close(os.open(p, os.O_RDWR | os.O_CREAT, 0o666))
        return paths

    def argv(self, lang, kind, timeout_s, paths, idle=False):
        extra = ["--idle-thread"] if idle else []
        if lang == "c":
            return [self.c_waiter, kind, str(int(timeout_s * 1000) if timeout_s >= 0 else -1)] + extra + paths
        if lang == "python":
            return self.py + [kind, str(timeout_s)] + extra + paths
        return self.lua + [str(timeout_s)] + paths

    # ---- 1. threads of one process waiting on N distinct files -----------------------------
    def threads(self):
        log("== threads: threads of one process on N distinct files")
        q = self.a.quick
        # (lang, n, rounds, sampled hand-offs per round)
        configs = [("c", 8, 2 if q else 8, 8), ("c", 100, 1 if q else 3, 10 if q else 25),
                   ("c", 1000, 1 if q else 3, 10 if q else 25), ("python", 8, 2 if q else 8, 8)]
        refs_per_round = 8

        def hold_s():
            """Waits of every length: 1-500 ms, log-uniform (a backing-off timer is met at every age)."""
            return math.exp(rng.uniform(math.log(0.001), math.log(0.5)))
        setups = {}

        def setup(lang, n):
            key = (lang, n)
            if key not in setups:
                paths = self.files(f"threads-{lang}-{n}", n)
                setups[key] = {"paths": paths, "holders": [LocketHolder(p) for p in paths],
                               "waiter": Waiter(f"{lang} {n} threads", self.argv(lang, "locket", 60, paths), self.env),
                               "samples": [], "late": 0}
            return setups[key]

        def one_round(lang, n, per_round):
            s = setup(lang, n)
            w, holders = s["waiter"], s["holders"]
            for h in holders:
                h.hold()
            w.go()
            for _ in range(n):
                w.expect("w", 60)
            asleep = w.wait_asleep(5.0)
            open_ = set(range(n))
            for i in rng.sample(range(n), min(n, per_round)):
                time.sleep(hold_s())
                t0 = holders[i].release()
                while True:
                    j, t, rc, _ = w.done(90)
                    open_.discard(j)
                    if rc != 0:
                        raise RuntimeError(f"{lang} {n} threads: waiter {j} returned {rc}")
                    if j == i:
                        break
                if asleep:
                    s["samples"].append((t - t0) / 1000)
            if not asleep:
                s["late"] += 1
            for i in sorted(open_):
                holders[i].release()
            while open_:
                j, _, rc, _ = w.done(90)
                open_.discard(j)

        todo = [list(c) for c in configs]
        while any(c[2] for c in todo):
            for c in todo:
                if not c[2]:
                    continue
                c[2] -= 1
                for _ in range(refs_per_round):
                    one_round(c[0], 1, 1)
                one_round(c[0], c[1], c[3])
                log(f"  round: {c[0]} N={c[1]} done ({c[2]} left)")
        for lang in ("c", "python"):
            ref = setups[(lang, 1)]
            for q_, qname in ((0.5, "p50"), (0.99, "p99")):
                metric = f"threads_files_handoff_{qname}_{lang}"
                self.row(metric, "locket_1_waiter_alone", pct(ref["samples"], q_), "us", reference=True, context=True)
                for (l2, n), s in setups.items():
                    if l2 == lang and n > 1:
                        self.row(metric, f"locket_{n}_threads_{n}_files", pct(s["samples"], q_), "us")
            for (l2, n), s in setups.items():
                if l2 == lang:
                    self.handoff[f"threads_{lang}_{n}"] = [round(x, 1) for x in s["samples"]]
        late = {f"{k[0]} N={k[1]}": s["late"] for k, s in setups.items() if s["late"]}
        self.notes.append(
            "threads: a locket holder (this process, the Python binding) holds N files; one waiter process "
            "has one thread per file, each in acquire(timeout 60 s); once every thread sleeps (/proc) the holder "
            "releases a random subset of the files one at a time, each release a random 1-500 ms (log-uniform) "
            "after the previous waiter returned (or after the threads fell asleep), hand-off = release to that thread's return; reference: "
            "one waiter alone (a single-threaded process waiting in its main thread) on one file, "
            f"{refs_per_round} of its rounds before each round of the others; samples: "
            + ", ".join(f"{k[0]} N={k[1]} {len(s['samples'])}" for k, s in setups.items())
            + " (with so few samples p99 is close to the maximum)"
            + (f"; rounds where not every thread was asleep before the releases (samples dropped): {late}" if late else ""))
        for s in setups.values():
            s["waiter"].close()

    # ---- 2. an unlock without a close, after 0.5 s and 5 s of waiting ------------------------
    def unlock_late(self):
        log("== unlock_late: an unlock without a close after 0.5 s and 5 s of waiting")
        q = self.a.quick
        kinds = [("flock_blocking_c", "c", "flock", True), ("locket_c", "c", "locket", False),
                 ("locket_python", "python", "locket", False)]
        if self.lua:
            kinds.append(("locket_lua", "lua", "locket", False))
        else:
            self.notes.append("unlock_late: no Lua runtime with the locket module: no locket_lua row")
        ws = {}
        for name, lang, kind, _ in kinds:
            path = self.files("unlock-" + name, 1)[0]
            timeout = -1 if kind == "flock" else 60
            ws[name] = (Waiter(name, self.argv(lang, kind, timeout, [path]), self.env), FlockHolder(path, True))
        waits = [0.5] * (2 if q else 12) + [5.0] * (1 if q else 6)
        rng.shuffle(waits)
        samples = {(d, name): [] for d in set(waits) for name in ws}
        for d in waits:
            for w, h in ws.values():
                h.hold()
                w.go()
            for w, _ in ws.values():
                w.expect("w", 30)
            t_wait = time.monotonic()
            for w, _ in ws.values():
                w.wait_asleep(2.0)
            time.sleep(max(0.0, d - (time.monotonic() - t_wait)))
            order = list(ws)
            rng.shuffle(order)
            for name in order:
                w, h = ws[name]
                t0 = h.release()
                _, t, rc, _ = w.done(d + 90)
                h.after()
                if rc != 0:
                    raise RuntimeError(f"unlock_late: {name} returned {rc}")
                samples[(d, name)].append((t - t0) / 1000)
                time.sleep(0.002)
            log(f"  round after {d:g} s: " + ", ".join(f"{n} {samples[(d, n)][-1] / 1000:.2f} ms" for n in order))
        for d in sorted(set(waits)):
            for qname, f in (("p50", lambda v: pct(v, 0.5)), ("max", max)):
                metric = f"unlock_only_after_{d:g}s_{qname}"
                for name, lang, kind, ref in kinds:
                    self.row(metric, name, f(samples[(d, name)]) / 1000, "ms", reference=ref)
            for name in ws:
                self.handoff[f"unlock_only_{d:g}s_{name}"] = [round(x, 1) for x in samples[(d, name)]]
        self.notes.append(
            "unlock_late: per round every waiter (its own process and file) starts waiting behind a foreign "
            "holder (this process: os.open + fcntl.flock), which after 0.5 s or 5 s unlocks each file with "
            "LOCK_UN and keeps the descriptor (`flock -u 9`), one file at a time in a random order (so some "
            "waited a little longer), closing it only after the waiter returned; latency = unlock to the "
            "waiter's return; locket waiters have a 60 s timeout, flock_blocking_c blocks in flock(LOCK_EX); "
            "rounds: " + ", ".join(f"{waits.count(d)} after {d:g} s" for d in sorted(set(waits))))
        for w, _ in ws.values():
            w.close()

    # ---- 3. waiter CPU per 2 s wait behind a locket holder and behind a foreign one ---------
    def cpu(self):
        log("== cpu: waiter CPU per 2 s wait, behind a locket holder and a foreign holder")
        rounds = 1 if self.a.quick else 5
        # (row, waiter language, waiter kind, reference, context, holder)
        sets = {
            "locket_holder": [("flock_blocking_c", "c", "flock", True, False, LocketHolder),
                              ("locket_c", "c", "locket", False, False, LocketHolder),
                              ("locket_python", "python", "locket", False, False, LocketHolder)],
            "foreign_holder": [("locket.py", "python", "locket.py", True, False, FlockHolder),
                               ("flock_blocking_c", "c", "flock", False, True, FlockHolder),
                               ("locket_c", "c", "locket", False, False, FlockHolder),
                               ("locket_python", "python", "locket", False, False, FlockHolder),
                               ("locket_c_behind_locket.py", "c", "locket", False, False, LocketPyHolder),
                               ("locket_python_behind_locket.py", "python", "locket", False, False, LocketPyHolder)],
        }
        ws = []
        for holder_kind, kinds in sets.items():
            for name, lang, kind, ref, ctx, holder_class in kinds:
                path = self.files(f"cpu-{holder_kind}-{name}", 1)[0]
                h = holder_class(path)
                ws.append({"set": holder_kind, "name": name, "ref": ref, "ctx": ctx, "holder": h,
                           "w": Waiter(name, self.argv(lang, kind, 2.0, [path]), self.env), "cpu": [], "rc": set()})
        for r in range(rounds):
            # All waiters at once, each on its own file: they only sleep (or poll their own file).
            for x in ws:
                x["holder"].hold()
            for x in ws:
                x["w"].go()
            for x in ws:
                x["w"].expect("w", 30)
            for x in ws:
                _, _, rc, cpu = x["w"].done(30)
                x["rc"].add(rc)
                x["cpu"].append(cpu / 1e6)
            for x in ws:
                x["holder"].release()
                x["holder"].after()
            log(f"  round {r + 1}/{rounds}")
        for holder_kind in sets:
            for x in ws:
                if x["set"] == holder_kind:
                    self.row(f"waiter_cpu_2s_{holder_kind}", x["name"], pct(x["cpu"], 0.5), "ms",
                             reference=x["ref"], context=x["ctx"])
        bad = {f"{x['set']}/{x['name']}": sorted(x["rc"]) for x in ws if x["rc"] != {1}}
        self.notes.append(
            "cpu: process CPU time (C: CLOCK_PROCESS_CPUTIME_ID, Python: process_time, all threads) of one "
            "acquire whose 2 s timeout expires; locket_holder: this process holds with the Python binding "
            "(locket_release wakes locket waiters); foreign_holder: this process holds with os.open + "
            "fcntl.flock, as flock(1) does (nothing wakes anyone), or (_behind_locket.py) with locket.py itself; "
            "the locket.py waiter = the PyPI package, "
            f"polling every 50 ms; every waiter in its own process on its own file, all at once; median of {rounds}"
            + (f"; waiters that did not time out as expected (rc): {bad}" if bad else ""))
        for x in ws:
            x["w"].close()

    # ---- 4. a waiter in a process with a second, idle thread --------------------------------
    def idle_thread(self):
        log("== idle_thread: hand-off to a waiter whose process has a second, idle thread")
        n = 20 if self.a.quick else 150
        kinds = [("locket_c", "c", "locket", False), ("locket_c_idle_thread", "c", "locket", True),
                 ("flock_blocking_c", "c", "flock", False), ("flock_blocking_c_idle_thread", "c", "flock", True),
                 ("locket_python", "python", "locket", False), ("locket_python_idle_thread", "python", "locket", True)]
        ks = []
        for name, lang, kind, idle in kinds:
            path = self.files("idle-" + name, 1)[0]
            ks.append({"name": name, "holder": FlockHolder(path), "samples": [], "late": 0,
                       "w": Waiter(name, self.argv(lang, kind, 10 if kind == "locket" else -1, [path], idle), self.env)})
        for _ in range(n):
            for k in ks:
                w, h = k["w"], k["holder"]
                h.hold()
                w.go()
                w.expect("w", 30)
                asleep = w.wait_asleep(2.0)
                time.sleep(rng.uniform(0.001, 0.004))
                t0 = h.release()
                _, t, rc, _ = w.done(30)
                if rc != 0:
                    raise RuntimeError(f"idle_thread: {k['name']} returned {rc}")
                if asleep:
                    k["samples"].append((t - t0) / 1000)
                else:
                    k["late"] += 1
        by = {k["name"]: k for k in ks}
        for metric, base, other in (("idle_thread_handoff_p50_c_locket", "locket_c", "locket_c_idle_thread"),
                                    ("idle_thread_handoff_p50_c_flock", "flock_blocking_c", "flock_blocking_c_idle_thread"),
                                    ("idle_thread_handoff_p50_python", "locket_python", "locket_python_idle_thread")):
            self.row(metric, base, pct(by[base]["samples"], 0.5), "us", reference=True, context=base.startswith("locket"))
            self.row(metric, other, pct(by[other]["samples"], 0.5), "us", context=not other.startswith("locket"))
        for k in ks:
            self.handoff[f"idle_{k['name']}"] = [round(x, 1) for x in k["samples"]]
        late = {k["name"]: k["late"] for k in ks if k["late"]}
        self.notes.append(
            f"idle_thread: {n} rounds, one hand-off per kind per round; a foreign holder (this process: "
            "open, flock, then flock(LOCK_UN) and close, as in the C suite's handoff) releases 1-4 ms after "
            "every thread of the waiter's process sleeps; the _idle_thread kinds have a second thread "
            "blocked in read(); locket waiters: timeout 10 s; flock_blocking_c: blocking flock(LOCK_EX)"
            + (f"; samples dropped (waiter not asleep): {late}" if late else ""))
        for k in ks:
            k["w"].close()

    # ---- 5. uncontended: locket against the six syscalls the contract needs -----------------
    def uncontended(self):
        log("== uncontended: locket against the six syscalls (locket-bench uncontended)")
        tmp_json = os.path.join(self.tmp, "uncontended.json")
        cmd = [os.path.join(self.a.build, "bench", "locket-bench"), "--out", tmp_json, "uncontended"]
        if self.a.quick:
            cmd.insert(1, "--quick")
        subprocess.run(cmd, check=True)
        with open(tmp_json) as f:
            data = json.load(f)
        for r in data["metrics"]:
            if r["name"] == "uncontended_vs_six":
                self.metrics.append(r)
                log(f"  {r['name']:40} {r['impl']:34} {r['value']:12.3f} {r['unit']}")
        self.notes += [n for n in data["notes"] if n.startswith("uncontended")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--lua")
    sections = ["uncontended", "idle_thread", "threads", "unlock_late", "cpu"]
    ap.add_argument("--only", nargs="*", default=sections, choices=sections)
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import locket

    with tempfile.TemporaryDirectory(prefix="locket-bench-i18-", dir=os.environ.get("TMPDIR") or "/tmp") as tmp:
        s = Suite(a, tmp)
        s.notes.append(f"Python {sys.version.split()[0]}; locket {getattr(locket, '__version__', '?')} "
                       f"({os.path.dirname(locket.__file__)}); Lua: {a.lua or 'none'}; "
                       f"1-minute load average at the start {os.getloadavg()[0]:.2f}")
        failed = []
        for name in sections:
            if name not in a.only:
                continue
            t0 = time.monotonic()
            try:
                getattr(s, name)()
            except Exception as e:  # noqa: BLE001 - one section failing must not lose the others
                log(f"{name}: FAILED: {type(e).__name__}: {e}")
                s.notes.append(f"{name}: the section failed ({type(e).__name__}: {e}); its rows are missing")
                failed.append(name)
            log(f"  ({name}: {time.monotonic() - t0:.0f} s)")
        s.notes.append(f"1-minute load average at the end {os.getloadavg()[0]:.2f}")
        if a.quick:
            s.notes.append("quick run: too few samples for real figures")
    with open(a.out, "w") as f:
        json.dump({"suite": "issue18", "metrics": s.metrics, "handoff": s.handoff, "notes": s.notes}, f, indent=1)
    log(f"wrote {a.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
