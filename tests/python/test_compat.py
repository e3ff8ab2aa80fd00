"""Drop-in compatibility with locket.py 1.0.0: its README's usage examples run
unchanged, and the behaviour its README promises holds."""

import subprocess
import sys
import textwrap

import locket
import pytest
from conftest import child_env

# Verbatim from locket.py's README (only perform_action is defined first).
README_EXAMPLES = '''
import locket

# Wait for lock
with locket.lock_file("path/to/lock/file"):
    perform_action()

# Raise LockError if lock cannot be acquired immediately
with locket.lock_file("path/to/lock/file", timeout=0):
    perform_action()

# Raise LockError if lock cannot be acquired after thirty seconds
with locket.lock_file("path/to/lock/file", timeout=30):
    perform_action()

# Without context managers:
lock = locket.lock_file("path/to/lock/file")
try:
    lock.acquire()
    perform_action()
finally:
    lock.release()
'''

PRELUDE = """
import os
actions = []
def perform_action():
    assert os.path.exists("path/to/lock/file")
    actions.append(1)
"""


def test_readme_examples_run_unchanged(tmp_path):
    (tmp_path / "path" / "to" / "lock").mkdir(parents=True)
    script = PRELUDE + README_EXAMPLES + "\nassert len(actions) == 4\nprint('ok')\n"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


README_CONTENDED = """
import sys, locket
try:
    with locket.lock_file("path/to/lock/file", timeout=0):
        print("entered")
except locket.LockError:
    print("LockError")
try:
    with locket.lock_file("path/to/lock/file", timeout=0.2):
        print("entered")
except locket.LockError as e:
    print("LockError", e)
"""


def test_readme_examples_raise_lockerror_when_held(tmp_path):
    (tmp_path / "path" / "to" / "lock").mkdir(parents=True)
    holder = locket.lock_file(str(tmp_path / "path/to/lock/file"))
    holder.acquire()
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(README_CONTENDED)],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["LockError", "LockError Couldn't lock path/to/lock/file"]
    holder.release()


def test_locketpy_names_and_signatures(lock_path):
    assert "lock_file" in locket.__all__
    assert issubclass(locket.LockError, Exception)
    lock = locket.lock_file(lock_path, timeout=None, retry_period=None)
    assert lock.acquire() in (None, True)
    assert lock.release() is None
    assert lock.__enter__() is lock
    assert lock.__exit__(None, None, None) is None


def test_locks_behave_like_threading_lock(lock_path):
    """locket.py's README: released -> acquire returns at once; any thread of
    the holder may release; release of an unlocked lock raises LockError."""
    import threading

    lock = locket.lock_file(lock_path)
    lock.acquire()
    t = threading.Thread(target=lock.release)
    t.start()
    t.join()
    with pytest.raises(locket.LockError):
        lock.release()
