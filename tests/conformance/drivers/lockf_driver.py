#!/usr/bin/env python3
"""Conformance actor that takes POSIX record locks (fcntl.lockf: what fasteners and lockf(3)
take), for the OFD interop scenarios.

Speaks the driver protocol (docs/conformance.md) for open, acquire, release, locked, close, pid,
reset. "open h PATH [ofd:START:LENGTH]" opens PATH read-write (created if missing) and keeps the
range (default: the whole file); "acquire" locks it (0: LOCK_NB; forever: blocking; a timeout:
non-blocking tries every 2 ms until it passes, as fasteners does); "release" unlocks without a
close. The locks belong to this process: two handles of one lockf actor never exclude each other.
"""
import fcntl
import os
import sys
import time

handles = {}  # name -> {"fd": int, "start": int, "length": int, "held": bool}


def answer(result, elapsed=0.0, value=None):
    sys.stdout.write(f"{result} {elapsed:.3f}" + (f" {value}" if value is not None else "") + "\n")
    sys.stdout.flush()


def lock(h, op):
    fcntl.lockf(h["fd"], op, h["length"], h["start"])


def run(words):
    cmd = words[0]
    if cmd == "hello":
        return answer("ok", 0, "lockf")
    if cmd == "pid":
        return answer("ok", 0, os.getpid())
    if cmd == "reset":
        for h in handles.values():
            os.close(h["fd"])
        handles.clear()
        return answer("ok")
    name = words[1]
    if cmd == "open":
        start = length = 0
        for w in words[3:]:
            if w.startswith("ofd:"):
                start, length = (int(x) for x in w[4:].split(":"))
        old = handles.pop(name, None)
        if old:
            os.close(old["fd"])
        fd = os.open(words[2], os.O_RDWR | os.O_CREAT, 0o666)
        handles[name] = {"fd": fd, "start": start, "length": length, "held": False}
        return answer("ok")
    h = handles.get(name)
    if h is None:
        return answer("protocol_error", 0, "unknown handle")
    t0 = time.monotonic()
    if cmd == "acquire":
        op = fcntl.LOCK_SH if "shared" in words[3:] else fcntl.LOCK_EX
        if words[2] == "forever":
            lock(h, op)
        else:
            deadline = t0 + int(words[2]) / 1000.0
            while True:
                try:
                    lock(h, op | fcntl.LOCK_NB)
                    break
                except OSError:
                    if time.monotonic() >= deadline:
                        elapsed = (time.monotonic() - t0) * 1000
                        return answer("would_block" if words[2] == "0" else "timeout", elapsed)
                    time.sleep(0.002)
        h["held"] = True
        return answer("ok", (time.monotonic() - t0) * 1000)
    if cmd == "release":
        if not h["held"]:
            return answer("not_held", 0)
        lock(h, fcntl.LOCK_UN)
        h["held"] = False
        return answer("ok", (time.monotonic() - t0) * 1000)
    if cmd == "locked":
        return answer("ok", 0, 1 if h["held"] else 0)
    if cmd == "close":
        os.close(h["fd"])
        del handles[name]
        return answer("ok")
    return answer("unsupported", 0, cmd)


def main():
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "exit":
            break
        run(words)


if __name__ == "__main__":
    main()
