"""The contract under fork and changing paths, from Python (issue 9): a forked
worker never keeps a killed holder's lock, a fork while other threads use the
lock leaves the child a usable, unheld lock, and a waiter whose path changed
moves to the file the path names now."""

import os
import signal
import threading
import time

import locket
import pytest
from conftest import fds_on, held_elsewhere, released_elsewhere, wait_thread_blocked

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

# Takes the lock, forks a worker that never touches it, and waits to be killed.
HOLDER_WITH_WORKER = """
import os, sys, time, locket
lock = locket.lock_file(sys.argv[1])
lock.acquire()
worker = os.fork()
if worker == 0:
    sys.stdin.readline()  # "check": after the holder was killed
    ok = not lock.locked()
    lock.acquire(timeout=10)
    lock.release()
    print("worker ok" if ok else "worker saw the lock", flush=True)
    sys.stdin.readline()
    os._exit(0)
print("held", worker, flush=True)
while True:
    time.sleep(60)
"""


def test_forked_worker_does_not_keep_a_killed_holders_lock(children, lock_path):
    holder = children(HOLDER_WITH_WORKER, lock_path)
    words = holder.line().split()
    assert words[0] == "held"
    worker = int(words[1])
    try:
        assert held_elsewhere(lock_path)
        os.kill(holder.pid, signal.SIGKILL)
        holder.proc.wait(timeout=30)
        os.kill(worker, 0)  # the worker lives on
        assert released_elsewhere(lock_path)
        holder.proc.stdin.write("check\n")
        holder.proc.stdin.flush()
        assert holder.line() == "worker ok"
    finally:
        try:
            os.kill(worker, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_fork_while_threads_use_the_lock(lock_path):
    lock = locket.lock_file(lock_path)
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            lock.acquire()
            lock.release()

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    failures = []
    try:
        for _ in range(100):
            pid = os.fork()
            if pid == 0:
                signal.alarm(20)  # a hang ends as SIGALRM
                code = 0
                try:
                    if lock.locked():
                        code = 2
                    else:
                        lock.acquire(timeout=5)
                        if not held_elsewhere(lock_path):
                            code = 3
                        lock.release()
                except locket.LockTimeout:
                    pass  # the parent's threads may keep it: fine
                except BaseException:  # noqa: BLE001
                    code = 4
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            if status != 0:
                failures.append(status)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []


def test_waiter_moves_when_a_directory_on_its_path_is_switched(tmp_path, holder):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    os.symlink("v1", tmp_path / "current")
    old_holder = holder(str(tmp_path / "v1" / "lock"))
    new_holder = holder(str(tmp_path / "v2" / "lock"))
    lock = locket.lock_file(str(tmp_path / "current" / "lock"))
    result = {}
    started = threading.Event()

    def wait():
        result["tid"] = threading.get_native_id()
        started.set()
        try:
            lock.acquire(timeout=60)
            result["rc"] = "ok"
        except Exception as e:  # noqa: BLE001
            result["rc"] = repr(e)

    t = threading.Thread(target=wait)
    t.start()
    started.wait()
    wait_thread_blocked(result["tid"])
    os.symlink("v2", tmp_path / "current.new")
    os.rename(tmp_path / "current.new", tmp_path / "current")
    old_holder.send("release")
    old_holder.expect("released")
    v1 = str(tmp_path / "v1" / "lock")
    v2 = str(tmp_path / "v2" / "lock")

    # It either comes back holding v1's file (two holders), or moves to v2's.
    deadline = time.monotonic() + 30
    while fds_on(v1) or not fds_on(v2):
        assert "rc" not in result, "the waiter took the old file while v2's holder holds the new one"
        assert time.monotonic() < deadline, "the waiter never moved to the new file"
        time.sleep(0.002)
    assert "rc" not in result
    new_holder.send("release")
    new_holder.expect("released")
    t.join()
    assert result["rc"] == "ok"
    assert held_elsewhere(str(tmp_path / "v2" / "lock"))
    assert not held_elsewhere(str(tmp_path / "v1" / "lock"))
    lock.release()
