"""Bad input and failing files: Python's own exceptions, at once, nothing held."""

import errno
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading

import locket
import pytest
from conftest import child_env, held_elsewhere, skip_on_windows, wait_thread_blocked


def opened_now(path, **kw):
    """Lock(): the file is opened at construction, errors are raised there."""
    return locket.Lock(path, **kw)


def opened_at_acquire(path, **kw):
    """lock_file(): as in locket.py, nothing is opened before acquire()."""
    lock = locket.lock_file(path, **kw)
    lock.acquire()
    return lock


both_entry_points = pytest.mark.parametrize("make", [opened_now, opened_at_acquire], ids=["Lock", "lock_file"])


@both_entry_points
def test_missing_directory(tmp_path, make):
    path = str(tmp_path / "no" / "such" / "lock")
    with pytest.raises(FileNotFoundError) as info:
        make(path)
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == path


def test_missing_file_without_create(tmp_path):
    path = tmp_path / "lock"
    with pytest.raises(FileNotFoundError) as info:
        locket.Lock(path, create=False)
    assert info.value.filename == path.__fspath__()
    assert not path.exists()
    path.touch()
    with locket.Lock(path, create=False):
        pass


@both_entry_points
def test_directory(tmp_path, make):
    with pytest.raises(IsADirectoryError) as info:
        make(tmp_path)
    assert info.value.errno == errno.EISDIR
    assert info.value.filename == os.fspath(tmp_path)


@skip_on_windows("Windows reports a file used as a directory as ERROR_PATH_NOT_FOUND (test_windows.py)")
@both_entry_points
def test_file_as_directory(tmp_path, make):
    (tmp_path / "f").touch()
    with pytest.raises(NotADirectoryError) as info:
        make(tmp_path / "f" / "lock")
    assert info.value.errno == errno.ENOTDIR


@pytest.mark.parametrize("path", ["", b""])
def test_empty_path(path):
    with pytest.raises(ValueError, match="empty"):
        locket.lock_file(path)


@pytest.mark.parametrize("path", ["a\0b", b"a\0b", "\0"])
def test_nul_in_path(tmp_path, path):
    with pytest.raises(ValueError, match="null"):
        locket.lock_file(path)


@pytest.mark.parametrize("path", [None, 1, 1.5, object()])
def test_path_of_wrong_type(path):
    with pytest.raises(TypeError):
        locket.lock_file(path)


@skip_on_windows("no ENAMETOOLONG on Windows (ERROR_INVALID_NAME; Wine: ERROR_FILE_NOT_FOUND; test_windows.py)")
@both_entry_points
def test_name_too_long(tmp_path, make):
    with pytest.raises(OSError) as info:
        make(tmp_path / ("x" * 300))
    assert info.value.errno == errno.ENAMETOOLONG or isinstance(info.value, ValueError)


@skip_on_windows("PATH_MAX is the POSIX core's limit (Windows paths are checked in test_windows.py)")
@both_entry_points
def test_path_longer_than_path_max_is_a_value_error(tmp_path, make):
    """The core refuses a path longer than PATH_MAX itself (invalid_argument, no OS error): that is
    the caller's mistake, a ValueError like a NUL in the path, not an OSError."""
    with pytest.raises(ValueError, match="too long") as info:
        lock = make(str(tmp_path / ("d" * 200 + "/")) * 30 + "f")
        lock.acquire(timeout=0)
    assert not isinstance(info.value, OSError)


@pytest.mark.parametrize(
    "mode, error", [(-1, ValueError), (0o10000, ValueError), ("644", TypeError), (True, TypeError)]
)
def test_bad_mode(lock_path, mode, error):
    with pytest.raises(error):
        locket.Lock(lock_path, mode=mode)
    assert not os.path.exists(lock_path)


def test_unknown_keyword(lock_path):
    with pytest.raises(TypeError):
        locket.lock_file(lock_path, tiemout=3)


def _can_drop_privileges():
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("setpriv") is not None


def _nobody_failed(out):
    """A child as nobody printed nothing: skip if nobody cannot run this Python at all (the
    machine), else fail (a crash as nobody is a failure, not a skip)."""
    probe = subprocess.run(NOBODY + [sys.executable, "-c", "import locket"], env=child_env(),
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("nobody cannot run this Python: " + probe.stderr.strip()[:200])
    pytest.fail(f"the child as nobody failed (status {out.returncode}): {out.stderr.strip()[:2000]}")


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def open_tmp():
    """A directory that nobody can reach (pytest's tmp_path is under a 0700
    directory, which would make every test as nobody fail for that reason)."""
    d = tempfile.mkdtemp(prefix="locket-py-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)

PERMISSION_CHILD = """
import sys, time, locket
start = time.monotonic()
try:
    locket.Lock(sys.argv[1], timeout=30)
except PermissionError as e:
    print("PermissionError", e.errno, e.filename == sys.argv[1], round(time.monotonic() - start, 3))
except Exception as e:
    print("other", type(e).__name__, e)
else:
    print("opened")
"""


@pytest.mark.skipif(not _can_drop_privileges(), reason="needs root and setpriv to run a child as nobody")
@pytest.mark.parametrize("where", ["unreadable file", "unwritable directory"])
def test_permission_denied_fails_at_once(open_tmp, where):
    tmp_path = open_tmp / "d"
    tmp_path.mkdir(mode=0o755)
    if where == "unreadable file":
        path = tmp_path / "lock"
        path.touch()
        os.chmod(path, 0o600)  # root's, unreadable for nobody
    else:
        path = tmp_path / "lock"  # missing, in a directory nobody cannot write
    out = subprocess.run(
        NOBODY + [sys.executable, "-c", PERMISSION_CHILD, str(path)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if not out.stdout and "Traceback" not in out.stderr:
        _nobody_failed(out)
    words = out.stdout.split()
    assert words[:3] == ["PermissionError", str(errno.EACCES), "True"], out.stdout + out.stderr
    assert float(words[3]) < 5  # an error, not a wait for the timeout (filelock#604)


@skip_on_windows("Windows cannot remove a directory while a file in it is open")
def test_directory_removed_while_waiting(tmp_path):
    """The lock file and its directory go away while a thread waits: the wait
    ends with FileNotFoundError, nothing held."""
    d = tmp_path / "d"
    d.mkdir()
    path = d / "lock"
    holder = locket.Lock(path)
    holder.acquire()
    waiter = locket.Lock(path)
    result = {}
    started = threading.Event()

    def wait():
        result["tid"] = threading.get_native_id()
        started.set()
        try:
            waiter.acquire(timeout=30)
            result["outcome"] = "acquired"
        except BaseException as e:  # noqa: BLE001 - the test reports it
            result["outcome"] = e

    t = threading.Thread(target=wait)
    t.start()
    started.wait()
    wait_thread_blocked(result["tid"])
    os.unlink(path)
    os.rmdir(d)
    holder.release()
    t.join(30)
    assert isinstance(result["outcome"], FileNotFoundError), result
    assert not waiter.locked()


def test_file_removed_before_acquire(tmp_path):
    """Removing the lock file between creation and acquire recreates it (its
    directory still exists)."""
    path = tmp_path / "lock"
    lock = locket.Lock(path)
    os.unlink(path)
    with lock:
        assert held_elsewhere(path)


def test_directory_removed_before_acquire(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    lock = locket.Lock(d / "lock")
    os.unlink(d / "lock")
    os.rmdir(d)
    with pytest.raises(FileNotFoundError):
        lock.acquire()
    assert not lock.locked()


READONLY_CHILD = """
import sys, locket
lock = locket.Lock(sys.argv[1])
try:
    lock.acquire(timeout=0)
    print("got")
    lock.release()
except locket.LockBusy:
    print("busy")
"""


@pytest.mark.skipif(not _can_drop_privileges(), reason="needs root and setpriv to run a child as nobody")
def test_file_that_another_user_can_only_read_is_lockable(open_tmp):
    """An existing lock file is opened without O_CREAT (fs.protected_regular in
    sticky /tmp) and read-only where it cannot be written: still a real lock."""
    tmp_path = open_tmp
    os.chmod(tmp_path, 0o1777)
    path = tmp_path / "lock"
    path.touch()
    os.chmod(path, 0o644)

    def as_nobody():
        out = subprocess.run(
            NOBODY + [sys.executable, "-c", READONLY_CHILD, str(path)],
            env=child_env(), capture_output=True, text=True, timeout=60,
        )
        if not out.stdout and "Traceback" not in out.stderr:
            _nobody_failed(out)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert as_nobody() == "got"
    with locket.Lock(path):
        assert as_nobody() == "busy"
    assert path.stat().st_mode & 0o777 == 0o644


@skip_on_windows("no POSIX file modes or umask on Windows")
def test_umask_is_left_alone(tmp_path):
    old = os.umask(0o027)
    try:
        locket.Lock(tmp_path / "lock", mode=0o666)
        assert os.umask(0o027) == 0o027
    finally:
        os.umask(old)
    assert (tmp_path / "lock").stat().st_mode & 0o777 == 0o640


def test_windows_oserror_without_a_windows_error_has_no_winerror(monkeypatch):
    """Issue 19 item 10: OSError(errno, text, filename, None) prints "[WinError None] ..." on
    Windows. Without a Windows error code the binding must leave winerror out (checked here on
    any OS by recording the constructor's arguments)."""
    import errno

    made = []

    class Recorder(IsADirectoryError):
        def __init__(self, *args):
            made.append(args)
            super().__init__(*args[:3])

    monkeypatch.setattr(locket._errors._sys, "platform", "win32")
    monkeypatch.setitem(locket._errors._OS_ERRORS, locket._core.EISDIR, (Recorder, errno.EISDIR))
    e = locket._errors._error(locket._core.EISDIR, 0, "cannot use 'NUL' as a lock file", "NUL")
    assert isinstance(e, Recorder) and made == [(errno.EISDIR, "cannot use 'NUL' as a lock file", "NUL")]
    made.clear()
    locket._errors._error(locket._core.EISDIR, 5, "denied", "x")  # a Windows error code: passed on
    assert made == [(errno.EISDIR, "denied", "x", 5)]
