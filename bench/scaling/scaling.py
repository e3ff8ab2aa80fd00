"""The scaling suite's Python rows: N processes contending for one lock through the binding.

usage: scaling.py [--dir D] [--seconds S] [--label L] [--n 8,32]
Prints one JSON object per line, as locket-bench-scaling does (kind python_locket_10s): each
acquisition is `lock.acquire(timeout=10)`, a check of a shared counter, `lock.release()`.
"""
import argparse
import json
import mmap
import os
import struct
import sys
import time

import locket

MAX_SAMPLES = 2048
HEAD = struct.Struct("qqqq")  # inside, overlaps, last_release_ns, last_holder
WORKER = struct.Struct("qqqqq")  # acquisitions, timeouts, errors, cpu_ns, n_samples
SAMPLE = struct.Struct("f")


def worker_off(i):
    return HEAD.size + i * (WORKER.size + MAX_SAMPLES * SAMPLE.size)


def worker(mem, me, path, start_fd, stop_ns):
    lock = locket.lock_file(path, timeout=10)
    os.read(start_fd, 1)  # EOF: everyone is ready
    acq = timeouts = errors = n = 0
    samples = []
    cpu0 = time.process_time_ns()
    mono = time.monotonic_ns
    while mono() < stop_ns:
        try:
            lock.acquire()
        except locket.LockTimeout:
            timeouts += 1
            continue
        except locket.LockError:
            errors += 1
            continue
        t = mono()
        inside, overlaps, last_release, last_holder = HEAD.unpack_from(mem, 0)
        if inside:
            overlaps += 1
        HEAD.pack_into(mem, 0, 1, overlaps, last_release, last_holder)
        if last_holder != me and last_holder >= 0 and len(samples) < MAX_SAMPLES and acq % 4 == 0:
            samples.append((t - last_release) / 1000.0)
        acq += 1
        HEAD.pack_into(mem, 0, 0, overlaps, mono(), me)
        lock.release()
    off = worker_off(me)
    WORKER.pack_into(mem, off, acq, timeouts, errors, time.process_time_ns() - cpu0, len(samples))
    for k, s in enumerate(samples):
        SAMPLE.pack_into(mem, off + WORKER.size + k * SAMPLE.size, s)


def run(n, seconds, directory, label):
    path = os.path.join(directory, "scaling-python-%d.lock" % n)
    open(path, "a").close()
    mem = mmap.mmap(-1, worker_off(n))
    HEAD.pack_into(mem, 0, 0, 0, 0, -1)
    r, w = os.pipe()
    start = time.monotonic_ns() + 500_000_000 + int(seconds * 1e9)  # stop time, after the start pause
    pids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            code = 0
            try:
                worker(mem, i, path, r, start)
            except BaseException:  # report, never fall back into the parent's loop
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        pids.append(pid)
    os.close(r)
    time.sleep(max(0.0, (start - int(seconds * 1e9) - time.monotonic_ns()) / 1e9))
    t0 = time.monotonic_ns()
    os.close(w)  # go
    failed = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        failed += status != 0
    wall = (time.monotonic_ns() - t0) / 1e9
    acq = cpu = timeouts = errors = 0
    least = None
    samples = []
    for i in range(n):
        off = worker_off(i)
        a, t, e, c, k = WORKER.unpack_from(mem, off)
        acq += a
        timeouts += t
        errors += e
        cpu += c
        least = a if least is None else min(least, a)
        samples += [SAMPLE.unpack_from(mem, off + WORKER.size + j * SAMPLE.size)[0] for j in range(k)]
    samples.sort()
    overlaps = HEAD.unpack_from(mem, 0)[1]
    mean = acq / n
    print(json.dumps({
        "label": label, "kind": "python_locket_10s", "n": n, "seconds": round(wall, 3),
        "acquisitions": acq, "acq_per_s": round(acq / wall), "cpu_us_per_acq": round(cpu / 1000 / acq, 2) if acq else 0,
        "handoff_p50_us": round(samples[len(samples) // 2], 1) if samples else 0,
        "handoff_p99_us": round(samples[int(len(samples) * 0.99)], 1) if samples else 0,
        "least_served": least, "least_served_share": round(least / mean, 3) if mean else 0,
        "timeouts": timeouts, "errors": errors, "overlaps": overlaps, "failed_workers": failed,
    }), flush=True)
    os.unlink(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--label", default="locket")
    ap.add_argument("--n", default="8,32")
    a = ap.parse_args()
    for n in [int(x) for x in a.n.split(",") if x]:
        run(n, a.seconds, a.dir, a.label)


if __name__ == "__main__":
    sys.exit(main())
