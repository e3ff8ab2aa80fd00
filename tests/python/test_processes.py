"""Cross-process behaviour with real processes."""

import os
import signal
import subprocess
import sys
import time

import locket
import pytest
from conftest import child_env, held_elsewhere, skip_on_portable_engine, skip_on_windows, try_in_other_process


def test_other_process_is_refused_while_held(lock_path):
    lock = locket.lock_file(lock_path)
    with lock:
        assert try_in_other_process(lock_path) == "busy"
    assert try_in_other_process(lock_path) == "got"


def test_waiter_gets_the_lock_when_the_holder_releases(lock_path, holder):
    child = holder(lock_path)
    lock = locket.lock_file(lock_path, timeout=0)
    with pytest.raises(locket.LockBusy):
        lock.acquire()
    child.send("release")
    child.expect("released")
    lock.acquire()
    lock.release()


@skip_on_windows("no POSIX signals (SIGKILL) on Windows; test_windows.py kills with TerminateProcess")
def test_holder_killed_with_sigkill_releases(lock_path, holder):
    child = holder(lock_path)
    assert held_elsewhere(lock_path)
    os.kill(child.pid, signal.SIGKILL)
    start = time.monotonic()
    with locket.lock_file(lock_path, timeout=30):
        assert time.monotonic() - start < 10


@skip_on_windows("no POSIX signals (SIGKILL) on Windows; test_windows.py kills with TerminateProcess")
def test_waiting_process_wakes_when_holder_is_killed(lock_path, holder, children):
    child = holder(lock_path)
    waiter = children(
        """
        import sys, locket
        lock = locket.Lock(sys.argv[1])
        print("waiting", flush=True)
        lock.acquire(timeout=60)
        print("acquired", flush=True)
        """,
        lock_path,
    )
    waiter.expect("waiting")
    waiter.wait_blocked()
    os.kill(child.pid, signal.SIGKILL)
    waiter.expect("acquired", timeout=30)


@skip_on_windows("POSIX: sleep(1) and SIGKILL; test_windows.py has an inheriting child")
def test_daemon_started_by_the_holder_does_not_keep_the_lock(lock_path, children):
    """The holder starts a long-lived child and dies: the child must not have
    inherited the lock (brooklyncentral/clocker#382)."""
    child = children(
        """
        import subprocess, sys, locket
        lock = locket.Lock(sys.argv[1])
        lock.acquire()
        daemon = subprocess.Popen(["sleep", "300"], close_fds=False)
        print(daemon.pid, flush=True)
        sys.stdin.readline()
        """,
        lock_path,
    )
    daemon_pid = int(child.line())
    try:
        assert held_elsewhere(lock_path)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        with locket.lock_file(lock_path, timeout=30):
            pass
    finally:
        os.kill(daemon_pid, signal.SIGKILL)


def test_closing_another_descriptor_of_the_file_keeps_the_lock(lock_path):
    """POSIX record locks drop when any descriptor of the file closes (fasteners#93)."""
    lock = locket.lock_file(lock_path)
    with lock:
        with open(lock_path, "rb"):
            pass
        fd = os.open(lock_path, os.O_RDWR)
        os.close(fd)
        other = locket.lock_file(lock_path)
        with pytest.raises(locket.LockBusy):
            other.acquire(timeout=0)
        del other
        assert try_in_other_process(lock_path) == "busy"


COUNTER = """
import sys, locket
path, counter, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock = locket.lock_file(path)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(rounds):
    with lock:
        with open(counter, "r+") as f:
            n = int(f.read() or 0)
            f.seek(0)
            f.write(str(n + 1))
            f.truncate()
print("done", flush=True)
"""


def test_mutual_exclusion_of_several_processes(tmp_path, children):
    """Read-modify-write of a counter under the lock by three processes: no
    update lost means never two holders (and the lock file is never deleted
    under a waiter)."""
    path = str(tmp_path / "lock")
    counter = tmp_path / "counter"
    counter.write_text("0")
    rounds = 300
    procs = [children(COUNTER, path, counter, rounds) for _ in range(3)]
    for p in procs:
        p.expect("ready")
    for p in procs:
        p.send("go")
    for p in procs:
        p.expect("done", timeout=120)
    assert int(counter.read_text()) == 3 * rounds
    assert os.path.exists(path)


def test_shared_lock_across_processes(lock_path, holder):
    holder(lock_path, shared=True)
    reader = locket.Lock(lock_path, shared=True)
    reader.acquire(timeout=0)
    reader.release()
    with pytest.raises(locket.LockBusy):
        locket.Lock(lock_path).acquire(timeout=0)


@skip_on_windows("holder_pid() is None on Windows: LockFileEx does not tell who holds a lock")
@skip_on_portable_engine("holder_pid() is None on Linux: F_GETLK does not see flock() locks")
def test_holder_pid_of_another_process(lock_path, holder):
    child = holder(lock_path)
    assert locket.Lock(lock_path).holder_pid() == child.pid


def test_exit_without_release_frees_the_lock(lock_path):
    # os._exit: no __del__, no atexit, no interpreter shutdown: the kernel alone must free it.
    script = "import os, sys, locket; l = locket.lock_file(sys.argv[1]); l.acquire(); os._exit(0)"
    out = subprocess.run(
        [sys.executable, "-c", script, lock_path],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert not held_elsewhere(lock_path)
