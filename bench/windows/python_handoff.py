"""Hand-off of the Windows Python binding under Wine, side by side with
filelock and portalocker on the same Windows CPython and a blocking
LockFileEx waiter (ctypes: the reference). Run by bench/windows/python.sh.

  python_handoff.py [--quick] --dir DIR --out FILE

This process is the holder; one long-lived waiter process per kind. Samples
go round-robin over the kinds. Per sample the holder takes the lock with the
kind's own library, tells the waiter to wait, waits for its "waiting" line,
holds 1-4 ms (random: polling waiters are met at every phase), reads
QueryPerformanceCounter (one clock for all processes)
and releases; the waiter reads the clock when its acquire returns."""

import json
import os
import random
import statistics
import subprocess
import sys
import time

KINDS = ["lockfileex_blocking", "locket", "locket_timeout_10s", "filelock", "portalocker"]

LIBS = r'''
import ctypes, msvcrt, os, sys, time
from ctypes import wintypes

_qpc, _qpf = ctypes.c_int64(), ctypes.c_int64()
ctypes.windll.kernel32.QueryPerformanceFrequency(ctypes.byref(_qpf))

def clock():
    """QueryPerformanceCounter in seconds: one clock for every process (3.9's
    time.perf_counter() counts from a per-process origin)."""
    ctypes.windll.kernel32.QueryPerformanceCounter(ctypes.byref(_qpc))
    return _qpc.value / _qpf.value

def make(kind, path):
    """(acquire, release) for one kind on path."""
    if kind == "lockfileex_blocking":
        k = ctypes.WinDLL("kernel32", use_last_error=True)
        k.LockFileEx.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD, wintypes.DWORD,
                                 wintypes.DWORD, ctypes.c_void_p]
        k.UnlockFileEx.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD, wintypes.DWORD,
                                   ctypes.c_void_p]
        fd = os.open(path, os.O_RDWR | os.O_CREAT)
        h = msvcrt.get_osfhandle(fd)
        ov = ctypes.create_string_buffer(32)
        def acquire():
            if not k.LockFileEx(h, 2, 0, 1, 0, ov):
                raise OSError(ctypes.get_last_error())
        def release():
            k.UnlockFileEx(h, 0, 1, 0, ov)
        return acquire, release
    if kind in ("locket", "locket_timeout_10s"):
        import locket
        lock = locket.Lock(path)
        timeout = None if kind == "locket" else 10
        return (lambda: lock.acquire(timeout=timeout)), lock.release
    if kind == "filelock":
        import filelock
        lock = filelock.FileLock(path + ".filelock", timeout=10)
        return lock.acquire, lock.release
    if kind == "portalocker":
        import portalocker
        from portalocker import portalocker as backend
        # Its default msvcrt.locking locker reads errno 0 for a held lock under
        # Wine (Wine's CRT) and gives up; LockFileEx through pywin32 works.
        backend.LOCKER = backend.Win32Locker
        lock = portalocker.Lock(path + ".portalocker", timeout=10)
        return lock.acquire, lock.release
    raise ValueError(kind)
'''

WAITER = LIBS + r'''
kind, path = sys.argv[1], sys.argv[2]
acquire, release = make(kind, path)
for line in sys.stdin:
    if line.strip() != "go":
        break
    print("waiting", flush=True)
    acquire()
    t = clock()
    release()
    print(repr(t), flush=True)
'''


def main():
    args = sys.argv[1:]
    quick = "--quick" in args
    d = args[args.index("--dir") + 1]
    out = args[args.index("--out") + 1]
    rounds = 12 if quick else 60
    ns = {}
    exec(LIBS, ns)
    holders, waiters, samples = {}, {}, {k: [] for k in KINDS}
    for kind in KINDS:
        path = os.path.join(d, kind + ".lock")
        holders[kind] = ns["make"](kind, path)
        waiters[kind] = subprocess.Popen([sys.executable, "-c", WAITER, kind, path], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, bufsize=1)
    rng = random.Random(1)
    notes, failed = [], set()
    try:
        for _ in range(rounds):
            for kind in KINDS:
                if kind in failed:
                    continue
                acquire, release = holders[kind]
                w = waiters[kind]
                acquire()
                try:
                    w.stdin.write("go\n")
                    w.stdin.flush()
                    assert w.stdout.readline().strip() == "waiting"
                    time.sleep(rng.uniform(0.001, 0.004))
                    t0 = ns["clock"]()
                    release()
                    t1 = float(w.stdout.readline())
                except (ValueError, AssertionError, OSError):
                    # An anchor that cannot run here (e.g. filelock < 3.13's
                    # msvcrt.locking, which reads errno 0 under Wine): dropped, and said so.
                    failed.add(kind)
                    notes.append(f"{kind}: its waiter failed (see stderr); no figure")
                    continue
                samples[kind].append((t1 - t0) * 1e6)
    finally:
        for w in waiters.values():
            try:
                w.stdin.close()
            except OSError:
                pass
            w.wait(30)
    if "lockfileex_blocking" in failed or any(k.startswith("locket") for k in failed):
        sys.exit("the reference or locket failed: " + "; ".join(notes))
    for kind in failed:
        KINDS.remove(kind)
        del samples[kind]
    ref = statistics.median(samples["lockfileex_blocking"])
    metrics = []
    for kind in KINDS:
        p50 = statistics.median(samples[kind])
        metrics.append({"name": "python_handoff_p50", "impl": kind, "value": round(p50, 1), "unit": "us",
                        "reference": kind == "lockfileex_blocking", "lower_is_better": True})
        print(f"{kind:24s} p50 {p50 / 1000:8.3f} ms  {p50 / ref:6.2f}x the blocking LockFileEx waiter")
    result = {"suite": "windows-python", "metrics": metrics, "handoff": samples,
              "notes": [f"Windows CPython {sys.version.split()[0]} under Wine; {rounds} samples per kind, "
                        "each library handing to itself; the reference is a blocking LockFileEx waiter "
                        "in the same interpreter (ctypes); portalocker with its Win32Locker (pywin32): "
                        "its default msvcrt locker fails under Wine"] + notes}
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
