#!/usr/bin/env python3
"""Conformance driver for the Python binding (the public API of the locket package).

Reads protocol commands on stdin and answers "<result> <elapsed_ms> [value]" (docs/conformance.md).
Python exceptions are mapped back to the C core's error names here, in one table.
"""
import os
import sys
import threading
import time
import urllib.parse

import locket

handles = {}


def error_name(exc):
    """The core's error name for an exception raised by the locket package."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    for cls, name in ((locket.NotHeldError, "not_held"), (locket.LockBusy, "would_block"),
                      (locket.LockTimeout, "timeout"), (ValueError, "invalid_argument"),
                      (TypeError, "invalid_argument"), (OverflowError, "invalid_argument"),
                      (FileNotFoundError, "not_found"), (PermissionError, "permission_denied"),
                      (IsADirectoryError, "is_a_directory"), (MemoryError, "out_of_memory")):
        if isinstance(exc, cls):
            return name
    if isinstance(exc, OSError):
        import errno
        return "not_supported" if exc.errno == errno.ENOLCK else "io_error"
    return "unexpected_" + type(exc).__name__


def timeout_s(tok):
    """Protocol milliseconds to the package's seconds (None: forever)."""
    if tok == "forever":
        return None
    return float(tok) / 1000.0


def release_in_thread(lock):
    box = {}

    def run():
        try:
            lock.release()
            box["rc"] = "ok"
        except Exception as e:  # noqa: BLE001 - every failure is reported by name
            box["rc"] = error_name(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return box["rc"]


def run(words):
    """Returns (result, value) for one command."""
    cmd = words[0]
    if cmd == "hello":
        return "ok", "python"
    if cmd == "pid":
        return "ok", os.getpid()
    if cmd == "reset":
        for lock in handles.values():
            lock.close()
        handles.clear()
        return "ok", None
    name = words[1]
    if cmd == "open":
        path = "" if words[2] == '""' else urllib.parse.unquote(words[2])
        old = handles.pop(name, None)
        if old:
            old.close()
        handles[name] = locket.lock_file(path, create="no_create" not in words[3:])
        return "ok", None
    lock = handles.get(name)
    if lock is None:
        return "protocol_error", "unknown handle"
    if cmd == "acquire":
        lock.acquire(timeout_s(words[2]), shared="shared" in words[3:])
        return "ok", None
    if cmd == "release":
        lock.release()
        return "ok", None
    if cmd == "release_thread":
        return release_in_thread(lock), None
    if cmd == "locked":
        return "ok", int(lock.locked())
    if cmd == "holder":
        return "ok", lock.holder_pid() or 0
    if cmd == "close":
        lock.close()
        return "ok", None
    return "unsupported", cmd


def main():
    out = sys.stdout
    while True:
        try:
            line = sys.stdin.readline()
        except KeyboardInterrupt:  # a late signal: the runner sends it only during waits
            continue
        if not line:
            break
        words = line.split()
        if not words:
            continue
        if words[0] == "exit":
            break
        t0 = time.monotonic()
        try:
            result, value = run(words)
        except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - mapped to names
            result, value = error_name(e), None
        elapsed = (time.monotonic() - t0) * 1000
        out.write(f"{result} {elapsed:.3f}" + ("" if value is None else f" {value}") + "\n")
        out.flush()
    for lock in handles.values():
        lock.close()


if __name__ == "__main__":
    main()
