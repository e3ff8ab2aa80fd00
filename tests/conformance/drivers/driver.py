#!/usr/bin/env python3
"""Conformance driver for the Python binding (the public API of the locket package).

Reads protocol commands on stdin and answers "<result> <elapsed_ms> [value]" (docs/conformance.md).
Python exceptions are mapped back to the C core's error names here, in one table.
"""
import linecache
import os
import sys
import threading
import time
import urllib.parse

import locket

handles = {}
ERRORS = ["ok", "would_block", "timeout", "not_held", "interrupted", "invalid_argument", "not_found",
          "permission_denied", "is_a_directory", "not_supported", "out_of_memory", "io_error"]


PACKAGE_DIR = os.path.dirname(os.path.abspath(locket.__file__)) + os.sep


def raised_by_package(exc):
    """Did a raise statement of the locket package raise exc? Not an error of this driver, nor one
    that Python raised inside the package (math.ceil(nan)), which no name of the protocol stands for."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    line = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
    if not os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(PACKAGE_DIR):
        # acquire(), release() and the with statement's methods are C (locket_python.i): what
        # they raise comes from no Python frame of the package, and is always deliberate.
        return any(call in line for call in (".acquire(", ".release(", "with "))
    return line.lstrip().startswith("raise ")


def error_name(exc):
    """The core's error name for an exception raised by the locket package."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if not raised_by_package(exc):
        return "unexpected_" + type(exc).__name__
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


def fork_sleeper(pids_file):
    """Fork a child that records its pid and sleeps, touching nothing (stress.py kills it later):
    if the child kept its parent's lock alive, a chaos kill of the parent would deadlock the run."""
    if os.fork() == 0:
        try:
            os.setsid()  # out of the driver's process group, which chaos kills as a whole
            fd = os.open(pids_file, os.O_WRONLY | os.O_APPEND)
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            time.sleep(600)
        finally:
            os._exit(0)


def stress_thread(index, lock, log, counter, stop, iters, read_pct, hold_ms, out):
    """One stress thread: a Lock (threads 0 and 1 share one), exclusive sections increment the counter file, shared ones
    read it twice; every enter/exit is one O_APPEND write (format in docs/conformance.md)."""
    import random
    rnd = random.Random(os.getpid() * 31 + index)
    fork_log = os.environ.get("LOCKET_STRESS_FORK_LOG")
    pid = os.getpid()
    logfd = os.open(log, os.O_WRONLY | os.O_APPEND)
    cfd = os.open(counter, os.O_RDWR)
    n = 0
    try:
        for seq in range(iters):
            if seq % 16 == 0 and os.path.exists(stop):
                break
            shared = rnd.randrange(100) < read_pct
            lock.acquire(None, shared=shared)
            n += 1
            v = int(os.pread(cfd, 20, 0))
            os.write(logfd, f"{'S' if shared else 'E'} {pid} {index} {seq} {v}\n".encode())
            if fork_log and index == 0 and seq % 16 == 0:
                fork_sleeper(fork_log)  # a worker that never touches the lock, forked while holding
                time.sleep(0.03)  # held long enough for chaos kills to find it here
            if hold_ms and seq % 32 == 31:
                time.sleep(hold_ms / 1000)  # a longer hold now and then, for chaos kills to find
            if shared:
                os.write(logfd, f"s {pid} {index} {seq} {int(os.pread(cfd, 20, 0))}\n".encode())
            else:
                os.pwrite(cfd, b"%020d\n" % (v + 1), 0)
                os.write(logfd, f"X {pid} {index} {seq} {v + 1}\n".encode())
            lock.release()
        out[index] = ("ok", n)
    except Exception as e:  # noqa: BLE001 - reported by name
        out[index] = (error_name(e), n)
    finally:
        os.close(logfd)
        os.close(cfd)


def stress(words):
    lock_path, log, counter, stop = words[1:5]
    threads, iters, read_pct, hold_ms = int(words[5]), int(words[6]), int(words[7]), int(words[8])
    out = {}
    pair = locket.lock_file(lock_path)  # threads 0 and 1 share it: at most one of them inside
    locks = [pair if i < 2 else locket.lock_file(lock_path) for i in range(threads)]
    ts = [threading.Thread(target=stress_thread,
                           args=(i, locks[i], log, counter, stop, iters, read_pct, hold_ms, out))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for lock in locks:
        lock.close()
    bad = [r for r, _ in out.values() if r != "ok"]
    return (bad[0] if bad else "ok"), sum(n for _, n in out.values())


def run(words):
    """Returns (result, value) for one command."""
    cmd = words[0]
    if cmd == "hello":
        return "ok", "python"
    if cmd == "pid":
        return "ok", os.getpid()
    if cmd == "open_close":
        # The file opened and closed apart from locket, as any code in the process might.
        open(urllib.parse.unquote(words[1]), "rb").close()
        return "ok", None
    if cmd == "spawn_child":
        # A long-lived child that inherits every inheritable descriptor.
        import subprocess
        argv = ["sleep", "60"] if sys.platform != "win32" else [sys.executable, "-c", "import time; time.sleep(60)"]
        return "ok", subprocess.Popen(argv, close_fds=False).pid
    if cmd == "stress":
        return stress(words)
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
        kw = {}
        for w in words[3:]:  # ofd, or ofd:START:LENGTH: an OFD lock on that byte range
            if w.startswith("ofd"):
                kw["kind"] = "ofd"
                if w.startswith("ofd:"):
                    kw["start"], kw["length"] = (int(x) for x in w[4:].split(":"))
        handles[name] = locket.Lock(path, create="no_create" not in words[3:], **kw)
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
    if cmd == "fork_release":
        # A forked child tries to release the parent's lock; it must not be able to.
        pid = os.fork()
        if pid == 0:
            try:
                lock.release()
                code = 0
            except BaseException as e:  # noqa: BLE001 - reported through the exit status
                code = ERRORS.index(error_name(e)) if error_name(e) in ERRORS else 99
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        return (ERRORS[code] if 0 <= code < len(ERRORS) else f"child_exit_{code}"), None
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
    if sys.platform == "win32":
        out.reconfigure(newline="\n")  # protocol lines end in \n; text mode would add \r
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
