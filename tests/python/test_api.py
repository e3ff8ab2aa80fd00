"""The Lock API in one process: states, timeouts, modes, paths, close, GC."""

import gc
import math
import os
import pathlib
import threading
import time
import warnings
from fractions import Fraction

import locket
import pytest
from conftest import EARLY, held_elsewhere, skip_on_portable_engine, skip_on_windows, wait_thread_blocked


def test_acquire_release_and_locked(lock_path):
    lock = locket.lock_file(lock_path)
    assert not lock.locked()
    assert lock.acquire() is True
    assert lock.locked()
    assert held_elsewhere(lock_path)
    lock.release()
    assert not lock.locked()
    assert not held_elsewhere(lock_path)


def test_context_manager_returns_the_lock(lock_path):
    lock = locket.lock_file(lock_path)
    with lock as entered:
        assert entered is lock
        assert held_elsewhere(lock_path)
    assert not held_elsewhere(lock_path)


def test_context_manager_releases_on_exception(lock_path):
    lock = locket.lock_file(lock_path)
    with pytest.raises(KeyError):
        with lock:
            raise KeyError("x")
    assert not lock.locked()
    assert not held_elsewhere(lock_path)


def test_release_unlocked_raises_lockerror_with_locketpy_message(lock_path):
    lock = locket.lock_file(lock_path)
    with pytest.raises(locket.LockError, match="^cannot release unlocked lock$") as info:
        lock.release()
    assert isinstance(info.value, locket.NotHeldError)
    assert isinstance(info.value, RuntimeError)  # like threading.Lock
    lock.acquire()
    lock.release()
    with pytest.raises(locket.LockError, match="cannot release unlocked lock"):
        lock.release()


def test_two_objects_on_one_file_exclude_each_other(lock_path):
    a = locket.lock_file(lock_path)
    b = locket.lock_file(lock_path)
    a.acquire()
    with pytest.raises(locket.LockBusy):
        b.acquire(timeout=0)
    a.release()
    b.acquire(timeout=0)
    b.release()


def test_not_reentrant(lock_path):
    lock = locket.lock_file(lock_path)
    lock.acquire()
    with pytest.raises(locket.LockBusy):
        lock.acquire(timeout=0)
    with pytest.raises(locket.LockTimeout):
        lock.acquire(timeout=0.05)
    assert lock.locked()
    lock.release()


def test_timeout_and_try_errors(lock_path):
    holder = locket.lock_file(lock_path)
    holder.acquire()
    lock = locket.lock_file(lock_path, timeout=0.1)
    with pytest.raises(locket.LockTimeout) as info:
        lock.acquire()
    err = info.value
    assert isinstance(err, locket.LockError) and isinstance(err, TimeoutError)
    assert not isinstance(err, locket.LockBusy)
    assert str(err) == f"Couldn't lock {lock_path}"  # locket.py's message
    with pytest.raises(locket.LockBusy) as info:
        lock.acquire(timeout=0)
    assert isinstance(info.value, locket.LockError)
    assert not isinstance(info.value, TimeoutError)
    with pytest.raises(locket.LockBusy):
        lock.acquire(blocking=False)
    assert not lock.locked()
    holder.release()


def test_one_deadline_within_one_process(lock_path):
    """locket.py waits twice its timeout when a thread of the same process holds
    the lock (thread lock, then file lock). One deadline here."""
    lock = locket.lock_file(lock_path, timeout=1.0)
    lock.acquire()
    result = {}

    def waiter():
        start = time.monotonic()
        try:
            lock.acquire()
        except locket.LockTimeout:
            result["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=waiter)
    t.start()
    t.join(30)
    assert 1.0 - EARLY <= result["elapsed"] < 1.8  # locket.py: about 2.0
    lock.release()


def test_one_deadline_across_processes(lock_path, holder):
    holder(lock_path)
    lock = locket.lock_file(lock_path, timeout=1.0)
    start = time.monotonic()
    with pytest.raises(locket.LockTimeout):
        lock.acquire()
    assert 1.0 - EARLY <= time.monotonic() - start < 1.8


def test_per_call_timeout_overrides_default(lock_path):
    holder = locket.lock_file(lock_path)
    holder.acquire()
    lock = locket.lock_file(lock_path, timeout=30)
    start = time.monotonic()
    with pytest.raises(locket.LockTimeout):
        lock.acquire(timeout=0.05)
    assert time.monotonic() - start < 5
    holder.release()


def test_tiny_positive_timeout_waits_rather_than_tries(lock_path):
    holder = locket.lock_file(lock_path)
    holder.acquire()
    with pytest.raises(locket.LockTimeout):
        locket.lock_file(lock_path, timeout=1e-9).acquire()
    holder.release()


@pytest.mark.parametrize(
    "timeout",
    [math.inf, 10**6, 1e300, 10**400, threading.TIMEOUT_MAX * 2, Fraction(10**400), Fraction(1, 2), 2.5, 0, 0.0],
)
def test_valid_timeouts(lock_path, timeout):
    lock = locket.lock_file(lock_path, timeout=timeout)
    with lock:
        pass
    assert lock.timeout == timeout
    lock.acquire(timeout=timeout)
    lock.release()
    # What the stored timeout does, not only what it reads back: 0 tries once, the others wait.
    other = locket.lock_file(lock_path)
    other.acquire()
    if timeout == 0:
        with pytest.raises(locket.LockBusy):
            lock.acquire()
        other.release()
        return
    waiter = threading.get_native_id()
    releaser = threading.Thread(target=lambda: (wait_thread_blocked(waiter), other.release()))
    releaser.start()
    assert lock.acquire() is True
    releaser.join(30)
    lock.release()


@pytest.mark.parametrize(
    "timeout, error",
    [
        (math.nan, ValueError),
        (-1, ValueError),
        (-0.001, ValueError),
        (-math.inf, ValueError),
        (-(10**400), ValueError),
        (True, TypeError),
        ("1", TypeError),
        (b"1", TypeError),
        ([], TypeError),
        (1j, TypeError),
    ],
)
def test_bad_timeouts(lock_path, timeout, error):
    with pytest.raises(error):
        locket.lock_file(lock_path, timeout=timeout)
    lock = locket.lock_file(lock_path)
    with pytest.raises(error):
        lock.acquire(timeout=timeout)
    assert not lock.locked()
    with pytest.raises(error):
        locket.lock_file(lock_path, retry_period=timeout)


@pytest.mark.parametrize(
    "seconds, ms",
    [(None, -1), (0, 0), (1e-9, 1), (0.0011, 2), (2, 2000), (math.inf, -1), (1e300, -1), (10**400, -1),
     (1e17, -1), (9.2e15, 9_200_000_000_000_000_000), (Fraction(3, 2), 1500)],
)
def test_one_timeout_rule_for_every_language(seconds, ms):
    """locket_timeout_ms(): +inf and anything beyond the core's range wait forever (no
    OverflowError above threading.TIMEOUT_MAX any more), rounded up to whole milliseconds."""
    assert locket._core.timeout_ms(seconds) == ms


def test_retry_period_is_accepted(lock_path):
    lock = locket.lock_file(lock_path, timeout=1, retry_period=0.5)
    with lock:
        pass


def test_shared_locks(lock_path):
    r1 = locket.Lock(lock_path, shared=True)
    r2 = locket.Lock(lock_path, shared=True)
    w = locket.Lock(lock_path)
    assert r1.shared and not w.shared
    r1.acquire()
    r2.acquire(timeout=0)
    with pytest.raises(locket.LockBusy):
        w.acquire(timeout=0)
    r1.release()
    with pytest.raises(locket.LockBusy):
        w.acquire(timeout=0)
    r2.release()
    w.acquire(timeout=0)
    with pytest.raises(locket.LockBusy):
        r1.acquire(timeout=0)
    w.release()


def test_per_call_shared_mode(lock_path):
    a = locket.Lock(lock_path)
    b = locket.Lock(lock_path)
    a.acquire(shared=True)
    b.acquire(timeout=0, shared=True)
    b.release()
    with pytest.raises(locket.LockBusy):
        b.acquire(timeout=0)
    a.release()


@skip_on_windows("holder_pid() is None on Windows: LockFileEx does not tell who holds a lock")
@skip_on_portable_engine("holder_pid() is None on Linux: F_GETLK does not see flock() locks")
def test_holder_pid(lock_path, holder):
    lock = locket.Lock(lock_path)
    assert lock.holder_pid() is None
    lock.acquire()
    assert lock.holder_pid() == os.getpid()
    lock.release()
    child = holder(lock_path)
    assert lock.holder_pid() == child.pid


def test_path_types(tmp_path):
    for path in (str(tmp_path / "s"), bytes(tmp_path / "b"), tmp_path / "p", pathlib.PurePath(tmp_path / "q")):
        lock = locket.Lock(path)
        with lock:
            assert held_elsewhere(os.fsdecode(os.fspath(path)))
        assert lock.path == os.fspath(path)


@skip_on_windows("Windows file names are UTF-16: no non-UTF-8 byte names")
def test_non_utf8_bytes_path(tmp_path):
    path = os.fsencode(tmp_path) + b"/\xff\xfe-lock"
    with locket.Lock(path):
        assert held_elsewhere(path)
    assert os.path.exists(path)


@skip_on_windows("os.symlink needs a privilege on Windows (Wine: a plain file); see test_windows.py")
def test_path_spellings_exclude_each_other(tmp_path, monkeypatch):
    real = tmp_path / "lock"
    (tmp_path / "sub").mkdir()
    os.symlink(real, tmp_path / "link")
    locket.Lock(real)  # creates it
    os.link(real, tmp_path / "hard")
    monkeypatch.chdir(tmp_path)
    holder = locket.Lock(real)
    holder.acquire()
    for spelling in ("lock", "./lock", "sub/../lock", str(tmp_path / "link"), "hard", str(tmp_path) + "//lock"):
        with pytest.raises(locket.LockBusy):
            locket.Lock(spelling).acquire(timeout=0)
    holder.release()


def test_lock_file_is_kept_and_not_truncated(lock_path):
    with open(lock_path, "w") as f:
        f.write("precious data")
    for _ in range(3):
        with locket.lock_file(lock_path):
            pass
    with open(lock_path) as f:
        assert f.read() == "precious data"


@skip_on_windows("no POSIX file modes on Windows")
def test_mode_of_created_file(tmp_path):
    old = os.umask(0o022)
    try:
        locket.Lock(tmp_path / "a", mode=0o600)
        locket.Lock(tmp_path / "b")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "a").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "b").st_mode & 0o777 == 0o644


def test_close(lock_path):
    lock = locket.Lock(lock_path)
    lock.acquire()
    lock.close()
    assert lock.closed
    assert not held_elsewhere(lock_path)
    lock.close()  # idempotent
    for call in (lock.acquire, lock.release, lock.locked, lock.holder_pid):
        with pytest.raises(ValueError, match="closed"):
            call()
    with pytest.raises(ValueError):
        with lock:
            pass
    assert "closed" in repr(lock)


def test_repr(lock_path):
    lock = locket.Lock(lock_path, shared=True)
    assert repr(lock) == f"<locket.Lock path={lock_path!r} shared unlocked>"
    lock.acquire()
    assert repr(lock).endswith("shared locked>")
    lock.release()


def test_gc_of_held_lock_warns_and_releases(lock_path):
    lock = locket.Lock(lock_path)
    lock.acquire()
    with pytest.warns(ResourceWarning, match="garbage-collected while held"):
        del lock
        gc.collect()
    assert not held_elsewhere(lock_path)


def test_unreferenced_acquire_warns_and_releases(lock_path):
    """locket.lock_file(p).acquire() without a reference: released at once, loudly."""
    with pytest.warns(ResourceWarning):
        locket.lock_file(lock_path).acquire()
        gc.collect()
    assert not held_elsewhere(lock_path)


def test_gc_of_unheld_lock_is_silent(lock_path):
    lock = locket.lock_file(lock_path)
    with lock:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del lock
        gc.collect()


def test_version():
    assert locket.__version__.count(".") == 2
    assert locket._core.version_number() >= 10000


def test_type_information_is_shipped():
    pkg = os.path.dirname(locket.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    assert os.path.exists(os.path.join(pkg, "_core.pyi"))


@pytest.mark.parametrize("make", ["Lock", "lock_file"])
def test_lock_held_at_interpreter_exit_is_silent(lock_path, make):
    """Issue 19 item 9: __del__ must not import at shutdown ("Exception ignored in Lock.__del__
    ... ImportError: sys.meta_path is None"); locket.py is silent there, and so are we."""
    import subprocess
    import sys

    from conftest import child_env

    script = f"import sys, locket\nlock = locket.{make}(sys.argv[1])\nlock.acquire()\nprint('held', flush=True)\n"
    for _ in range(3):  # it showed up sometimes, not always, on Linux
        out = subprocess.run(
            [sys.executable, "-W", "default", "-c", script, lock_path],
            env=child_env(), capture_output=True, text=True, timeout=60,
        )
        assert (out.returncode, out.stdout, out.stderr) == (0, "held\n", "")
    assert not held_elsewhere(lock_path)  # released by the exit, as ever
