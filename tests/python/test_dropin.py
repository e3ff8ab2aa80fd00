"""A true drop-in for locket.py (issue 12) and safe object life cycles (issue 9,
items 5 and 6): lazy lock_file(), the collection warning, exceptions with the
path and holder pid, __exit__, introspection, import cost, close() during a
wait, copies."""

import asyncio
import copy
import gc
import inspect
import os
import pickle
import pydoc
import subprocess
import sys
import textwrap
import threading

import locket
import pytest
from conftest import HOLDER_PID_KNOWN, WINDOWS, child_env, held_elsewhere, wait_thread_blocked

# The holder's pid, where the OS can tell (Linux: /proc/locks); None on Windows.
def _expected_pid(child):
    return child.pid if HOLDER_PID_KNOWN else None

# -- lock_file() touches nothing before acquire() -----------------------------


def test_lock_file_touches_nothing_before_acquire(tmp_path):
    path = tmp_path / "not-yet" / "x.lock"
    lock = locket.lock_file(str(path), timeout=0)  # locket.py: fine, no file yet
    assert not path.parent.exists()
    assert not lock.locked()
    assert repr(lock).endswith("unlocked>")
    with pytest.raises(FileNotFoundError):
        lock.acquire()  # the error comes where locket.py's came: at acquire()
    path.parent.mkdir()
    assert not path.exists()
    with lock:
        assert path.exists()
        assert held_elsewhere(str(path))
    assert not held_elsewhere(str(path))


def test_lock_file_checks_its_arguments_at_once(tmp_path):
    with pytest.raises(ValueError):
        locket.lock_file(str(tmp_path / "a\0b"))
    with pytest.raises(ValueError):
        locket.lock_file(str(tmp_path / "x"), timeout=-1)
    with pytest.raises(TypeError):
        locket.lock_file(str(tmp_path / "x"), tiemout=1)
    assert os.listdir(tmp_path) == []


def test_lock_file_release_and_close_before_any_acquire(tmp_path):
    lock = locket.lock_file(str(tmp_path / "x"))
    with pytest.raises(locket.NotHeldError, match="cannot release unlocked lock"):
        lock.release()
    lock.close()
    assert lock.closed
    with pytest.raises(ValueError, match="closed"):
        lock.acquire()
    assert os.listdir(tmp_path) == []


def test_lock_class_still_opens_at_once(tmp_path):
    # The documented difference: Lock() checks the path where it is given.
    with pytest.raises(FileNotFoundError):
        locket.Lock(str(tmp_path / "missing" / "x"))


# -- collected while held: what locket.py's objects do -------------------------

# distributed's pyproject.toml: filterwarnings = error, plus this filter for the
# warning that a collected locket.py lock gives (its open file's).
LOCKETPY_FILTER = "ignore:unclosed file <_io.BufferedWriter.*:ResourceWarning"

COLLECTED_WHILE_HELD = """
import gc, locket

def test_collected_while_held(tmp_path):
    lock = locket.lock_file(str(tmp_path / "lock"))
    lock.acquire()
    del lock
    gc.collect()
"""


def run_pytest_with_warning_filters(tmp_path, *filters):
    """pytest on a test that drops a held lock_file() lock, with these
    filterwarnings lines in its ini file (as a project would have them)."""
    test = tmp_path / "test_collected.py"
    test.write_text(COLLECTED_WHILE_HELD)
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\nfilterwarnings =\n" + "".join(f"    {f}\n" for f in filters))
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ini)]
    args += [f"--basetemp={tmp_path / 'base'}", "--rootdir", str(tmp_path), str(test)]
    return subprocess.run(args, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=120)


def test_collected_while_held_passes_a_suite_that_filters_locketpy_warning(tmp_path):
    out = run_pytest_with_warning_filters(tmp_path, "error", LOCKETPY_FILTER)
    assert out.returncode == 0, out.stdout + out.stderr


def test_collected_while_held_still_warns_like_locketpy(tmp_path):
    # Without the filter, "error" fails the test, as it does with locket.py.
    out = run_pytest_with_warning_filters(tmp_path, "error")
    assert out.returncode != 0
    assert "unclosed file <_io.BufferedWriter" in out.stdout + out.stderr


def test_collected_lock_file_warning_text(tmp_path):
    path = str(tmp_path / "lock")
    lock = locket.lock_file(path)
    lock.acquire()
    with pytest.warns(ResourceWarning) as record:
        del lock
        gc.collect()
    assert [str(w.message) for w in record] == [f"unclosed file <_io.BufferedWriter name={path!r}>"]
    assert not held_elsewhere(path)


# -- exceptions: path, holder pid, pickling ------------------------------------


@pytest.mark.parametrize("timeout, cls", [(0, locket.LockBusy), (0.05, locket.LockTimeout)])
def test_busy_and_timeout_carry_path_and_holder_pid(lock_path, holder, timeout, cls):
    child = holder(lock_path)
    lock = locket.lock_file(lock_path)
    with pytest.raises(cls) as info:
        lock.acquire(timeout=timeout)
    e = info.value
    assert str(e) == f"Couldn't lock {lock_path}"
    assert e.path == lock_path
    assert e.holder_pid == _expected_pid(child)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(e, protocol))
        assert type(back) is cls
        assert (str(back), back.path, back.holder_pid) == (str(e), lock_path, _expected_pid(child))
    assert isinstance(e, locket.LockError)


def test_async_timeout_carries_holder_pid(lock_path, holder):
    child = holder(lock_path)
    lock = locket.lock_file(lock_path)
    with pytest.raises(locket.LockTimeout) as info:
        asyncio.run(lock.acquire_async(timeout=0.05))
    assert (info.value.path, info.value.holder_pid) == (lock_path, _expected_pid(child))


def test_lock_error_made_by_users_still_works():
    e = locket.LockError("mine")
    assert (str(e), e.path, e.holder_pid) == ("mine", None, None)
    assert str(pickle.loads(pickle.dumps(locket.LockTimeout("t")))) == "t"


# -- __exit__ never hides the body's exception -------------------------------


def test_exit_keeps_the_body_exception_and_notes_the_release_error(lock_path):
    lock = locket.lock_file(lock_path)
    with pytest.raises(KeyError) as info:
        with lock:
            lock.release()  # so that __exit__'s release fails
            raise KeyError("body")
    notes = getattr(info.value, "__notes__", [])
    assert len(notes) == 1 and "cannot release unlocked lock" in notes[0]


def test_exit_without_body_exception_raises_the_release_error(lock_path):
    lock = locket.lock_file(lock_path)
    with pytest.raises(locket.NotHeldError):
        with lock:
            lock.release()


def test_async_exit_keeps_the_body_exception(lock_path):
    lock = locket.lock_file(lock_path)

    async def main():
        async with lock:
            lock.close()
            raise KeyError("body")

    with pytest.raises(KeyError):
        asyncio.run(main())


# -- introspection --------------------------------------------------------------


def test_help_shows_a_readable_signature():
    sig = str(inspect.signature(locket.Lock.acquire))
    assert "object at 0x" not in sig
    assert "timeout" in sig and "<the lock's timeout>" in sig
    assert "object at 0x" not in pydoc.render_doc(locket.Lock)


def test_dir_shows_public_names_only():
    assert dir(locket) == sorted(locket.__all__ + ["__version__"])
    for name in ("Lock", "LockBusy", "LockError", "LockTimeout", "NotHeldError", "lock_file"):
        assert name in dir(locket)


# -- import cost ----------------------------------------------------------------


def test_import_does_not_import_asyncio(tmp_path):
    script = textwrap.dedent(
        """
        import sys, locket
        assert "asyncio" not in sys.modules, "import locket imported asyncio"
        with locket.lock_file(sys.argv[1]):
            pass
        assert "asyncio" not in sys.modules, "a with-block imported asyncio"
        import asyncio
        asyncio.run(locket.lock_file(sys.argv[1]).acquire_async())
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "lock")], env=child_env(), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- close() while another thread waits (issue 9, item 5) ------------------------


def start_waiter(lock, result):
    started = threading.Event()

    def wait():
        result["tid"] = threading.get_native_id()
        started.set()
        try:
            result["value"] = lock.acquire()
        except BaseException as e:  # noqa: B036 - reported to the test
            result["error"] = e

    t = threading.Thread(target=wait)
    t.start()
    started.wait()
    wait_thread_blocked(result["tid"])
    return t


def test_close_while_another_thread_waits_for_another_process(lock_path, holder):
    child = holder(lock_path)
    lock = locket.Lock(lock_path)
    result = {}
    t = start_waiter(lock, result)
    lock.close()  # must not free what the waiting thread uses
    assert lock.closed and t.is_alive()
    child.send("release")
    child.expect("released")
    t.join(30)
    assert not t.is_alive()
    assert isinstance(result.get("error"), ValueError), result
    assert "closed" in str(result["error"])
    assert not held_elsewhere(lock_path)  # the late grant was given back
    child.send("acquire")
    child.expect("locked")  # and others can take it


def test_close_by_the_holder_thread_while_another_waits_on_the_same_object(lock_path):
    lock = locket.Lock(lock_path)
    lock.acquire()
    result = {}
    t = start_waiter(lock, result)
    lock.close()  # releases: the waiter gets the lock, gives it back, raises
    t.join(30)
    assert not t.is_alive()
    assert isinstance(result.get("error"), ValueError), result
    assert not held_elsewhere(lock_path)
    with pytest.raises(ValueError):
        lock.acquire(timeout=0)


def test_close_during_waits_many_times(lock_path):
    """Races of close() with waits on the same object end without a crash and
    without a lock left held."""
    for _ in range(50):
        lock = locket.Lock(lock_path)
        lock.acquire()
        errors = []

        def wait():
            try:
                lock.acquire(timeout=5)
                lock.release()
            except (ValueError, locket.LockError) as e:
                errors.append(e)

        threads = [threading.Thread(target=wait) for _ in range(3)]
        for t in threads:
            t.start()
        lock.close()
        for t in threads:
            t.join(30)
            assert not t.is_alive()
        assert not held_elsewhere(lock_path)


# -- copies and pickling (issue 9, item 6) --------------------------------------


@pytest.mark.parametrize(
    "operation",
    [copy.copy, copy.deepcopy, pickle.dumps, lambda lock: pickle.dumps(lock, 0)],
    ids=["copy", "deepcopy", "pickle", "pickle-0"],
)
@pytest.mark.parametrize("make", [locket.Lock, locket.lock_file])
def test_copy_and_pickle_fail_clearly(lock_path, operation, make):
    lock = make(lock_path)
    lock.acquire()
    with pytest.raises(TypeError, match="cannot (copy|pickle) 'Lock' object"):
        operation(lock)
    assert lock.locked()
    lock.release()
    assert not held_elsewhere(lock_path)


def test_close_while_threads_hammer_the_same_object(lock_path):
    """close() during a storm of short calls (acquire, release, holder_pid,
    locked) from other threads: every call either works or raises a clear
    error, and nothing is left held."""
    for _ in range(20):
        lock = locket.Lock(lock_path)
        stop = threading.Event()
        unexpected = []

        def hammer():
            while not stop.is_set():
                try:
                    lock.acquire(timeout=0.01)
                    lock.holder_pid()
                    lock.release()
                except (ValueError, locket.LockError):
                    pass
                except BaseException as e:  # noqa: B036 - reported to the test
                    unexpected.append(e)
                    return
                if lock.closed:
                    return

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        lock.close()
        stop.set()
        for t in threads:
            t.join(30)
            assert not t.is_alive()
        assert unexpected == []
        assert not held_elsewhere(lock_path)


def test_holder_pid_is_looked_up_when_read(lock_path, holder, monkeypatch):
    """Issue 19 item 12: reading /proc/locks costs far more than a failed try, so LockBusy and
    LockTimeout look the holder up at the first read of holder_pid, once."""
    child = holder(lock_path)
    lookups = []
    real = locket._errors._holder_of
    monkeypatch.setattr(locket._errors, "_holder_of", lambda path: lookups.append(path) or real(path))
    lock = locket.Lock(lock_path)
    errors = []
    for _ in range(50):
        try:
            lock.acquire(timeout=0)
        except locket.LockBusy as e:
            errors.append(e)
    assert len(errors) == 50 and lookups == []  # 50 failed tries, no lookup
    e = errors[0]
    assert e.holder_pid == _expected_pid(child) and len(lookups) == 1
    assert e.holder_pid == _expected_pid(child) and len(lookups) == 1  # cached
    back = pickle.loads(pickle.dumps(errors[1]))  # looked up before pickling
    assert back.holder_pid == _expected_pid(child) and len(lookups) == 2
    lock.close()
    assert errors[2].holder_pid == _expected_pid(child)  # by path: needs no open Lock
