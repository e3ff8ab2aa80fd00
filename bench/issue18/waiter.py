#!/usr/bin/env python3
"""The Python waiter of the issue-18 suite (bench/issue18/issue18.py drives it).

usage: waiter.py KIND TIMEOUT_S [--idle-thread] PATH...
  KIND: locket (locket.Lock(path).acquire(timeout=TIMEOUT_S); TIMEOUT_S < 0: no timeout) or
  locket.py (the PyPI package, imported as `locketpy`: try, sleep 50 ms, retry).
  One PATH: the main thread waits (--idle-thread adds a second thread that sleeps in a read).
  Several PATHs: one waiting thread per path; the main thread reads the commands.

Same line protocol as locket-bench-waiter (bench/issue18/waiter.c): "ready"; per "go" every
waiting thread i prints "w i", acquires, prints "d i T RC CPU" (T: time.monotonic_ns() when the
acquire returned, i.e. CLOCK_MONOTONIC; RC 0 acquired, 1 timed out, -1 error; CPU: process CPU ns
over the acquire, all threads) and releases.
"""
import os
import sys
import threading
import time

out_lock = threading.Lock()


def say(line):
    data = (line + "\n").encode()
    with out_lock:
        os.write(1, data)


def make(kind, path, timeout):
    if kind == "locket":
        import locket

        lock = locket.Lock(path)
        t = None if timeout < 0 else timeout
        return (lambda: lock.acquire(timeout=t)), lock.release
    if kind == "locket.py":
        import locketpy

        lock = locketpy.lock_file(path, timeout=None if timeout < 0 else timeout)
        return lock.acquire, lock.release
    raise SystemExit(f"waiter.py: unknown kind {kind}")


def wait_once(i, acquire, release):
    say(f"w {i}")
    cpu0 = time.process_time_ns()
    try:
        acquire()
        rc = 0
    except Exception as e:  # noqa: BLE001 - each library has its own timeout error
        rc = 1 if "imeout" in type(e).__name__ or "LockError" in type(e).__name__ else -1
        if rc < 0:
            print(f"waiter.py: {type(e).__name__}: {e}", file=sys.stderr)
    t = time.monotonic_ns()
    cpu = time.process_time_ns() - cpu0
    say(f"d {i} {t} {rc} {cpu}")
    if rc == 0:
        release()


def main():
    args = sys.argv[1:]
    kind, timeout = args[0], float(args[1])
    rest = args[2:]
    idle = rest and rest[0] == "--idle-thread"
    paths = rest[1:] if idle else rest
    waiters = [make(kind, p, timeout) for p in paths]
    if idle:
        r, _w = os.pipe()
        threading.Thread(target=os.read, args=(r, 1), daemon=True).start()
    cond = threading.Condition()
    state = {"gen": 0}

    def thread_main(i):
        seen = 0
        while True:
            with cond:
                while state["gen"] == seen:
                    cond.wait()
                seen = state["gen"]
            wait_once(i, *waiters[i])

    if len(paths) > 1:
        for i in range(len(paths)):
            threading.Thread(target=thread_main, args=(i,), daemon=True).start()
    say("ready")
    for line in sys.stdin:
        if line.strip() != "go":
            break
        if len(paths) == 1:
            wait_once(0, *waiters[0])
        else:
            with cond:
                state["gen"] += 1
                cond.notify_all()
    os._exit(0)


if __name__ == "__main__":
    main()
