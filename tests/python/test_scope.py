"""What a lock can exclude (lock_scope, across_hosts=True) and whether a held
lock is still the file's (Lock.check), from Python. A real FUSE mount
(bindfs) shows the failure the scope warns about."""

import contextlib
import os
import shutil
import subprocess
import sys

import locket
import pytest

# Skipped test by test, not the module: a module skipped whole collects no test, and pytest
# then exits with 5 (the Windows suites under Wine run each file on its own).
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="tests/windows/test_scope.c and test_windows.py cover Windows")

if sys.platform != "win32":
    import fcntl  # POSIX only

KINDS = ("local", "network", "this-host", "unknown")


def test_lock_scope_of_tmpfs_and_missing_file():
    s = locket.lock_scope("/dev/shm/locket-py-scope-missing")
    if s.fs_type != "tmpfs":
        pytest.skip("/dev/shm is not a tmpfs here")
    assert s.kind == "local"
    assert "/dev/shm" in s.reason and "\n" not in s.reason
    kind, fs_type, reason = s  # a tuple, too
    assert (kind, fs_type, reason) == (s.kind, s.fs_type, s.reason)
    assert "Scope(kind='local'" in repr(s)
    assert locket.lock_scope(b"/dev/shm/x").kind == "local"


def test_lock_scope_errors(tmp_path):
    assert locket.lock_scope(tmp_path / "f").kind in KINDS
    with pytest.raises(FileNotFoundError):
        locket.lock_scope(tmp_path / "no" / "dir" / "f")
    with pytest.raises(ValueError):
        locket.lock_scope("")
    with pytest.raises(ValueError):
        locket.lock_scope("a\0b")
    with pytest.raises(TypeError):
        locket.lock_scope(42)
    with pytest.raises(ValueError, match="kind"):
        locket.lock_scope(tmp_path / "f", kind="posix")


def test_lock_scope_of_each_lock_kind():
    """The kind asked about reaches the core (the NFS rows where flock and OFD differ are the C
    table's tests); on a local filesystem both answer local."""
    s = locket.lock_scope("/dev/shm/x", kind="ofd")
    if s.fs_type != "tmpfs":
        pytest.skip("/dev/shm is not a tmpfs here")
    assert s.kind == "local" and locket.lock_scope("/dev/shm/x", kind="flock") == s


def test_new_names_are_exported():
    for name in ("LockLost", "ScopeError", "Scope", "lock_scope"):
        assert name in locket.__all__
        assert getattr(locket, name).__module__ == "locket"
    assert issubclass(locket.LockLost, locket.LockError)
    assert issubclass(locket.ScopeError, locket.LockError)


def _local(path):
    return locket.lock_scope(path).kind == "local"


def test_across_hosts_on_a_local_filesystem_changes_nothing(tmp_path):
    p = tmp_path / "f"
    if not _local(p):
        pytest.skip("the test directory is not on a local filesystem")
    a = locket.lock_file(p, across_hosts=True, timeout=0)
    b = locket.Lock(p, timeout=0)
    with a:
        with pytest.raises(locket.LockBusy):
            b.acquire()
    with b:
        with pytest.raises(locket.LockBusy):
            a.acquire()
    with pytest.raises(TypeError):
        locket.lock_file(p, across_host=True)


# ---- check() ----


def test_check_intact_and_not_held(tmp_path):
    lock = locket.Lock(tmp_path / "f")
    with pytest.raises(locket.NotHeldError):
        lock.check()
    with lock:
        assert lock.check() is True
        assert lock.check() is True
    with pytest.raises(locket.NotHeldError):
        lock.check()
    lazy = locket.lock_file(tmp_path / "g")  # never opened
    with pytest.raises(locket.NotHeldError):
        lazy.check()
    lock.close()
    with pytest.raises(ValueError):
        lock.check()


def _lost(lock, text):
    with pytest.raises(locket.LockLost) as e:
        lock.check()
    assert text in str(e.value)
    assert e.value.path == lock.path
    assert lock.locked()  # LockLost leaves the lock held
    lock.release()


def test_check_after_unlink(tmp_path):
    lock = locket.Lock(tmp_path / "f")
    lock.acquire()
    os.unlink(tmp_path / "f")
    _lost(lock, "no longer exists")


def test_check_after_rename_over(tmp_path):
    lock = locket.Lock(tmp_path / "f")
    lock.acquire()
    (tmp_path / "g").write_bytes(b"")
    os.rename(tmp_path / "g", tmp_path / "f")
    # Meanwhile another lock on the path is granted: what LockLost warns of.
    with locket.Lock(tmp_path / "f", timeout=0):
        _lost(lock, "another file")
    with lock:
        assert lock.check()


def test_check_after_renamed_away(tmp_path):
    lock = locket.Lock(tmp_path / "f")
    lock.acquire()
    os.rename(tmp_path / "f", tmp_path / "moved")
    _lost(lock, "lock lost")


def test_check_after_directory_replaced(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    lock = locket.Lock(app / "f")
    lock.acquire()
    new = tmp_path / "app.new"
    new.mkdir()
    (new / "f").write_bytes(b"")
    os.rename(app, tmp_path / "app.old")
    os.rename(new, app)
    _lost(lock, "lock lost")
    with lock:
        assert lock.check()
    lock.acquire()
    shutil.rmtree(app)  # the directory removed outright
    _lost(lock, "no longer exists")


# ---- a real FUSE mount: bindfs shows a directory again under another path ----


@contextlib.contextmanager
def bindfs_view(tmp_path):
    try:
        fd = os.open("/dev/fuse", os.O_RDWR)
    except OSError as e:
        pytest.skip(f"/dev/fuse cannot be used here: {e}")
    os.close(fd)
    if shutil.which("bindfs") is None:
        pytest.fail("bindfs is not installed (scripts/install-deps.sh installs it)")
    real, view = tmp_path / "real", tmp_path / "view"
    real.mkdir()
    view.mkdir()
    r = subprocess.run(["bindfs", str(real), str(view)], capture_output=True, text=True)
    if r.returncode != 0:
        if os.getuid() != 0:
            pytest.skip(f"bindfs could not mount (not root): {r.stderr.strip()}")
        pytest.fail(f"bindfs failed as root: {r.stderr.strip()}")
    try:
        yield real, view
    finally:
        if subprocess.run(["umount", "-l", str(view)], capture_output=True).returncode != 0:
            subprocess.run(["fusermount3", "-uz", str(view)], capture_output=True)


def test_fuse_view_is_this_host_and_refused(tmp_path):
    with bindfs_view(tmp_path) as (real, view):
        (real / "f").write_bytes(b"")
        s = locket.lock_scope(view / "f")
        assert s.kind == "this-host"
        assert s.fs_type.startswith("fuse")
        assert "FUSE" in s.reason
        real_local = _local(real / "f")
        # The two views do not exclude each other: a flock(2) on each.
        with open(real / "f", "rb") as a, open(view / "f", "rb") as b:
            fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)  # granted: no exclusion
        # Nor do two locket locks.
        with locket.Lock(real / "f", timeout=0), locket.Lock(view / "f", timeout=0):
            pass
        refused = locket.lock_file(view / "f", across_hosts=True, timeout=0)
        with pytest.raises(locket.ScopeError) as e:
            refused.acquire()
        assert "filesystem fuse" in str(e.value) and "this-host" in str(e.value)
        assert e.value.path == refused.path
        assert not refused.locked()
        with pytest.raises(locket.ScopeError):
            with locket.Lock(view / "f", across_hosts=True):
                pass
        if real_local:
            with locket.Lock(real / "f", across_hosts=True, timeout=0) as ok:
                assert ok.check()


def test_fuse_across_hosts_judged_after_a_path_switch(tmp_path):
    with bindfs_view(tmp_path) as (real, view):
        (real / "f").write_bytes(b"")
        if not _local(real / "f"):
            pytest.skip("the test directory is not on a local filesystem")
        link = tmp_path / "link"
        os.symlink(real / "f", link)
        lock = locket.Lock(link, across_hosts=True, timeout=0)
        with lock:
            pass
        os.unlink(link)
        os.symlink(view / "f", link)
        with pytest.raises(locket.ScopeError):
            lock.acquire()
