#!/usr/bin/env python3
"""Conformance actor backed by util-linux flock(1), for interop scenarios; with --program, any
program with flock(1)'s options and exit status (the locket CLI).

Speaks the driver protocol (docs/conformance.md) for open, acquire, release, locked, pid, reset.
"acquire" runs `flock [-s] [-n|-w S] PATH sh -c 'echo locked; exec cat'`: flock(1) prints nothing and
exits 1 on contention or timeout, so the "locked" line says that the lock is held; "release" closes
cat's stdin, which ends cat and then flock(1), the lock going with the last descriptor.
"""
import argparse
import os
import subprocess
import sys
import time

handles = {}  # name -> {"path": str, "proc": Popen or None}
PROGRAM = "flock"


def answer(result, elapsed=0.0, value=None):
    sys.stdout.write(f"{result} {elapsed:.3f}" + (f" {value}" if value is not None else "") + "\n")
    sys.stdout.flush()


def release(h):
    p = h["proc"]
    h["proc"] = None
    p.stdin.close()
    p.wait()


def run(words):
    cmd = words[0]
    if cmd == "hello":
        return answer("ok", 0, os.path.basename(PROGRAM))
    if cmd == "pid":
        held = [h["proc"].pid for h in handles.values() if h["proc"]]
        return answer("ok", 0, held[0] if held else os.getpid())
    if cmd == "reset":
        for h in handles.values():
            if h["proc"]:
                release(h)
        handles.clear()
        return answer("ok")
    name = words[1]
    if cmd == "open":
        handles[name] = {"path": words[2], "proc": None}
        return answer("ok")
    h = handles.get(name)
    if h is None:
        return answer("protocol_error", 0, "unknown handle")
    t0 = time.monotonic()
    if cmd == "acquire":
        if h["proc"]:
            return answer("unsupported", 0, "flock(1) actor: acquire while holding")
        argv = [PROGRAM, "-s" if "shared" in words[3:] else "-x"]
        if words[2] == "0":
            argv.append("-n")
        elif words[2] != "forever":
            argv += ["-w", str(int(words[2]) / 1000.0)]
        argv += [h["path"], "sh", "-c", "echo locked; exec cat"]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = p.stdout.readline()
        elapsed = (time.monotonic() - t0) * 1000
        if line.strip() == b"locked":
            h["proc"] = p
            return answer("ok", elapsed)
        rc = p.wait()
        if rc == 1:
            return answer("would_block" if words[2] == "0" else "timeout", elapsed)
        return answer("io_error", elapsed, f"{PROGRAM} exited {rc}")
    if cmd == "release":
        if not h["proc"]:
            return answer("not_held", 0)
        release(h)
        return answer("ok", (time.monotonic() - t0) * 1000)
    if cmd == "locked":
        return answer("ok", 0, 1 if h["proc"] else 0)
    if cmd == "close":
        if h["proc"]:
            release(h)
        del handles[name]
        return answer("ok")
    return answer("unsupported", 0, cmd)


def main():
    global PROGRAM
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--program", default="flock", help="flock(1) or a program with its options")
    PROGRAM = ap.parse_args().program
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "exit":
            break
        run(words)
    for h in handles.values():
        if h["proc"]:
            release(h)


if __name__ == "__main__":
    main()
