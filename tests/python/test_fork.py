"""fork(): the child sees the lock as not held and cannot release the parent's
lock, by release(), by closing, by garbage collection or by exiting."""

import gc
import json
import os

import locket
import pytest
from conftest import held_elsewhere, try_in_other_process

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def exit_code(status):
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)


def in_child(fn):
    """Run fn() in a forked child; return what it returns (JSON)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            out = json.dumps(fn())
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out = json.dumps({"error": repr(e)})
            code = 1
        os.write(w, out.encode())
        os._exit(code)
    os.close(w)
    chunks = []
    while True:
        data = os.read(r, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    result = json.loads(b"".join(chunks))
    assert exit_code(status) == 0, result
    return result


def test_child_cannot_release_the_parents_lock(lock_path):
    lock = locket.lock_file(lock_path)
    lock.acquire()

    def child():
        seen = {"locked": lock.locked()}
        try:
            lock.release()
            seen["release"] = "released"
        except locket.LockError as e:
            seen["release"] = str(e)
        seen["try"] = "busy"
        try:
            lock.acquire(timeout=0)
            seen["try"] = "got"
        except locket.LockBusy:
            pass
        return seen

    seen = in_child(child)
    assert seen == {"locked": False, "release": "cannot release unlocked lock", "try": "busy"}
    assert lock.locked()
    assert try_in_other_process(lock_path) == "busy"
    lock.release()


def test_child_close_gc_and_exit_keep_the_parents_lock(lock_path):
    lock = locket.lock_file(lock_path)
    other = locket.lock_file(lock_path + ".2")
    lock.acquire()
    other.acquire()

    def child():
        lock.close()
        other.__del__()  # what garbage collection runs
        gc.collect()
        return "ok"

    assert in_child(child) == "ok"
    assert held_elsewhere(lock_path)
    assert try_in_other_process(lock_path) == "busy"
    assert lock.locked() and other.locked()
    lock.release()
    other.release()


def test_child_can_take_the_lock_once_the_parent_releases(lock_path):
    lock = locket.lock_file(lock_path)
    lock.acquire()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            os.read(r, 1)  # the parent has released
            lock.acquire(timeout=30)
            ok = lock.locked() and held_elsewhere(lock_path)
            lock.release()
            os._exit(0 if ok else 3)
        except BaseException:  # noqa: BLE001
            os._exit(4)
    os.close(r)
    lock.release()
    os.write(w, b"x")
    os.close(w)
    _, status = os.waitpid(pid, 0)
    assert exit_code(status) == 0
    assert not lock.locked()


def test_gc_in_child_does_not_warn_about_the_parents_lock(lock_path):
    lock = locket.lock_file(lock_path)
    lock.acquire()

    def child():
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lock.__del__()
        return [str(w.message) for w in caught]

    assert in_child(child) == []
    assert held_elsewhere(lock_path)
    lock.release()
