"""kind="ofd": OFD locks on byte ranges, against fcntl.lockf (POSIX record
locks, process-owned), fasteners.InterProcessLock, other OFD locks and flock
locks; and the POSIX-lock trap (a close drops the process's lockf locks)."""

import os
import sys
import time

import pytest

import locket
from conftest import Child

# Skipped test by test, not the module: a module skipped whole collects no test, and pytest
# then exits with 5 (the Windows suites under Wine run each file on its own).
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OFD locks are Linux's")

if sys.platform != "win32":
    import fcntl  # POSIX only


HOLDER = """
import fcntl, os, sys
how, path, start, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if how == "fasteners":
    import fasteners
    lock = fasteners.InterProcessLock(path)
    assert lock.acquire(blocking=True)
else:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.lockf(fd, fcntl.LOCK_SH if how == "lockf-sh" else fcntl.LOCK_EX, length, start)
print("held", flush=True)
sys.stdin.readline()
if how == "fasteners":
    lock.release()
else:
    fcntl.lockf(fd, fcntl.LOCK_UN, length, start)   # an unlock without a close
print("released", flush=True)
sys.stdin.readline()
"""

TRIER = """
import fcntl, os, sys
how, path, start, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if how == "fasteners":
    import fasteners
    lock = fasteners.InterProcessLock(path)
    print("got" if lock.acquire(blocking=False) else "busy", flush=True)
else:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start)
        print("got", flush=True)
    except OSError:
        print("busy", flush=True)
"""


def other_process_gets(how, path, start=0, length=0):
    """Does a fresh process get a POSIX lock (lockf or fasteners) on the range?"""
    c = Child(TRIER, how, path, start, length)
    try:
        return c.line() == "got"
    finally:
        c.kill()


def hold(how, path, start=0, length=0):
    c = Child(HOLDER, how, path, start, length)
    c.expect("held")
    return c


def test_arguments_are_checked(tmp_path):
    p = str(tmp_path / "x")
    with pytest.raises(ValueError):
        locket.Lock(p, kind="fcntl")
    with pytest.raises(ValueError):
        locket.Lock(p, start=5)  # flock has no range
    with pytest.raises(ValueError):
        locket.lock_file(p, kind="ofd", start=-1)
    with pytest.raises(TypeError):
        locket.lock_file(p, kind="ofd", length=1.5)
    with pytest.raises(ValueError):
        locket.Lock(p, kind="ofd", start=2**62, length=2**62)
    # Unchanged: locket.py's call.
    lock = locket.lock_file(p, timeout=None)
    lock.acquire()
    lock.release()


@pytest.mark.parametrize("how", ["lockf", "fasteners"])
def test_ofd_excludes_and_is_excluded_by_posix_locks(tmp_path, how):
    p = str(tmp_path / "x")
    lock = locket.Lock(p, kind="ofd", timeout=0)
    with lock:
        assert not other_process_gets(how, p)
    assert other_process_gets(how, p)
    c = hold(how, p)
    try:
        with pytest.raises(locket.LockBusy):
            lock.acquire()
        with pytest.raises(locket.LockBusy):
            lock.acquire(shared=True)
        if how == "lockf":
            assert lock.holder_pid() == c.pid
        t0 = time.monotonic()
        with pytest.raises(locket.LockTimeout):
            lock.acquire(timeout=0.1)
        assert time.monotonic() - t0 >= 0.09
        c.send("release")
        c.expect("released")
        lock.acquire(timeout=10)
        lock.release()
    finally:
        c.kill()


def test_shared_ofd_beside_a_shared_lockf(tmp_path):
    p = str(tmp_path / "x")
    c = hold("lockf-sh", p)
    try:
        with locket.Lock(p, kind="ofd", shared=True, timeout=0):
            pass
        with pytest.raises(locket.LockBusy):
            locket.Lock(p, kind="ofd", timeout=0).acquire()
    finally:
        c.kill()


def test_ofd_locks_exclude_each_other_and_not_flock_locks(tmp_path):
    p = str(tmp_path / "x")
    a = locket.Lock(p, kind="ofd", timeout=0)
    b = locket.Lock(p, kind="ofd", timeout=0)
    f = locket.Lock(p, timeout=0)
    with a:
        with pytest.raises(locket.LockBusy):
            b.acquire()
        with f:  # flock(2): another kind of lock on local filesystems
            pass
    with f:
        with b:
            pass


def test_ranges(tmp_path):
    p = str(tmp_path / "x")
    a = locket.lock_file(p, timeout=0, kind="ofd", start=0, length=10)
    with a:
        with locket.lock_file(p, timeout=0, kind="ofd", start=10, length=10):
            pass  # disjoint
        with pytest.raises(locket.LockBusy):
            locket.lock_file(p, timeout=0, kind="ofd", start=9, length=1).acquire()
        assert other_process_gets("lockf", p, 10, 0)
        assert not other_process_gets("lockf", p, 5, 1)


WAITER = """
import sys, time, locket
lock = locket.Lock(sys.argv[1], kind="ofd", start=0, length=100)
print("waiting", flush=True)
t0 = time.monotonic()
lock.acquire(timeout=20)
print("ok %.3f" % (time.monotonic() - t0), flush=True)
"""


def test_wait_ends_at_a_posix_unlock(tmp_path):
    """A waiter behind a lockf holder gets the lock soon after the holder's
    unlock without a close (the watcher's 10 ms timer), long before its timeout."""
    p = str(tmp_path / "x")
    c = hold("lockf", p, 0, 1)
    w = Child(WAITER, p)
    try:
        w.expect("waiting")
        w.wait_blocked()  # inside the acquire's wait
        c.send("release")
        c.expect("released")
        word, seconds = w.line().split()
        assert word == "ok"
        assert float(seconds) < 10
    finally:
        w.kill()
        c.kill()


def test_posix_lock_trap(tmp_path):
    """A close of any descriptor of the file drops this process's lockf locks:
    locket's release closes one. Its Lock() (the probe) does not, on Linux."""
    p = str(tmp_path / "x")
    fd = os.open(p, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)  # byte 0
        lock = locket.Lock(p, kind="ofd", start=100)
        assert not other_process_gets("lockf", p, 0, 1)  # the probe kept it (O_PATH)
        lock.acquire()
        assert not other_process_gets("lockf", p, 0, 1)
        lock.release()
        assert other_process_gets("lockf", p, 0, 1)  # the trap: dropped by the release's close
        lock.close()
        # An OFD lock conflicts with this process's own lockf lock (another
        # owner), and the failed try's close drops that lockf lock too.
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
        with pytest.raises(locket.LockBusy):
            locket.Lock(p, kind="ofd", timeout=0).acquire()
        assert other_process_gets("lockf", p, 0, 1)
    finally:
        os.close(fd)
