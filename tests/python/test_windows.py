"""Where Windows differs: LockFileEx interop with plain holders, killed
holders (TerminateProcess), sharing vs lock violations, long and non-ASCII
paths, Windows path spellings, Ctrl-C. Run under Wine here
(scripts/windows-test.sh --python); real Windows is untested."""

import ctypes
import os
import subprocess
import sys
import threading
import time

import locket
import pytest
from conftest import EARLY, WINDOWS, child_env, held_elsewhere, try_in_other_process

pytestmark = pytest.mark.skipif(not WINDOWS, reason="Windows only")

if WINDOWS:
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.LockFileEx.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD, wintypes.DWORD,
                                    wintypes.DWORD, ctypes.c_void_p]
    kernel32.CreateFileW.restype = wintypes.HANDLE
    kernel32.CreateFileW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p,
                                     wintypes.DWORD, wintypes.DWORD, wintypes.HANDLE]
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    kernel32.TerminateProcess.argtypes = [wintypes.HANDLE, wintypes.UINT]

ERROR_SHARING_VIOLATION = 32

# A holder that is not locket: LockFileEx (or msvcrt.locking) on byte 0
# through its own handle, as locket.py, filelock and portalocker do.
# argv: path lockfileex|msvcrt exclusive|shared
PLAIN_HOLDER = """
import ctypes, msvcrt, os, sys
from ctypes import wintypes
path, how, mode = sys.argv[1:4]
fd = os.open(path, os.O_RDWR | os.O_CREAT)
if how == "msvcrt":
    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
else:
    k = ctypes.WinDLL("kernel32", use_last_error=True)
    k.LockFileEx.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD, wintypes.DWORD,
                             wintypes.DWORD, ctypes.c_void_p]
    flags = 2 if mode == "exclusive" else 0
    if not k.LockFileEx(msvcrt.get_osfhandle(fd), flags | 1, 0, 1, 0, ctypes.create_string_buffer(32)):
        sys.exit("LockFileEx: %d" % ctypes.get_last_error())
print("locked", flush=True)
sys.stdin.readline()
if how == "msvcrt":
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
os.close(fd)  # closing the handle releases a LockFileEx lock
print("released", flush=True)
sys.stdin.readline()
"""

# Tries byte 0 with a plain LockFileEx from another process: "got", "busy".
PLAIN_TRY = """
import ctypes, msvcrt, os, sys
from ctypes import wintypes
k = ctypes.WinDLL("kernel32", use_last_error=True)
k.LockFileEx.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD, wintypes.DWORD,
                         wintypes.DWORD, ctypes.c_void_p]
fd = os.open(sys.argv[1], os.O_RDWR)
flags = 2 if sys.argv[2] == "exclusive" else 0
if k.LockFileEx(msvcrt.get_osfhandle(fd), flags | 1, 0, 1, 0, ctypes.create_string_buffer(32)):
    print("got")
else:
    print("busy" if ctypes.get_last_error() == 33 else "error %d" % ctypes.get_last_error())
"""

# Waits for the lock (argv: path, timeout or "none") and reports.
WAITER = """
import sys, time, locket
timeout = None if sys.argv[2] == "none" else float(sys.argv[2])
lock = locket.Lock(sys.argv[1])
print("waiting", flush=True)
lock.acquire(timeout=timeout)
print("got", flush=True)
sys.stdin.readline()
"""


def plain_try(path, mode="exclusive"):
    out = subprocess.run([sys.executable, "-c", PLAIN_TRY, path, mode], capture_output=True, text=True,
                         timeout=60, env=child_env())
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("how", ["lockfileex", "msvcrt"])
def test_a_plain_holder_excludes_locket_and_hands_over(lock_path, children, how):
    plain = children(PLAIN_HOLDER, lock_path, how, "exclusive")
    plain.expect("locked")
    lock = locket.Lock(lock_path)
    with pytest.raises(locket.LockBusy):
        lock.acquire(timeout=0)
    # A plain holder sets no wake-up event: the wait's own polling finds the release.
    waiter = threading.Thread(target=lambda: lock.acquire(timeout=30))
    waiter.start()
    plain.send("release")
    plain.expect("released")
    waiter.join(30)
    assert lock.locked() and held_elsewhere(lock_path)
    lock.release()


def test_locket_excludes_a_plain_lockfileex_try(lock_path):
    with locket.Lock(lock_path):
        assert plain_try(lock_path) == "busy"
        assert plain_try(lock_path, "shared") == "busy"
    assert plain_try(lock_path) == "got"


def test_shared_locket_lock_admits_shared_lockfileex_only(lock_path):
    with locket.Lock(lock_path, shared=True):
        assert plain_try(lock_path, "shared") == "got"
        assert plain_try(lock_path, "exclusive") == "busy"


def test_plain_shared_holder_admits_locket_readers_not_writers(lock_path, children):
    plain = children(PLAIN_HOLDER, lock_path, "lockfileex", "shared")
    plain.expect("locked")
    with locket.Lock(lock_path, shared=True):
        pass
    with pytest.raises(locket.LockBusy):
        locket.Lock(lock_path).acquire(timeout=0)


def test_timeout_against_a_plain_holder(lock_path, children):
    plain = children(PLAIN_HOLDER, lock_path, "lockfileex", "exclusive")
    plain.expect("locked")
    start = time.monotonic()
    with pytest.raises(locket.LockTimeout):
        locket.Lock(lock_path).acquire(timeout=0.5)
    assert 0.5 - EARLY <= time.monotonic() - start < 10


def terminate(child):
    """TerminateProcess, as Task Manager's End task does (Popen.kill is the same call)."""
    assert kernel32.TerminateProcess(int(child.proc._handle), 9), ctypes.get_last_error()
    assert child.wait() == 9


def test_terminated_holder_releases(lock_path, holder):
    child = holder(lock_path)
    assert try_in_other_process(lock_path) == "busy"
    terminate(child)
    # The kernel drops the lock with the last handle, a few ms after the kill.
    locket.Lock(lock_path).acquire(timeout=30)


@pytest.mark.parametrize("timeout", ["none", "60"])
def test_waiter_wakes_when_the_holder_is_terminated(lock_path, holder, children, timeout):
    child = holder(lock_path)
    waiter = children(WAITER, lock_path, timeout)
    waiter.expect("waiting")
    waiter.wait_blocked()
    terminate(child)
    waiter.expect("got", timeout=30)


def test_terminated_waiter_leaves_nothing_held(lock_path, holder, children):
    child = holder(lock_path)
    waiter = children(WAITER, lock_path, "none")
    waiter.expect("waiting")
    waiter.wait_blocked()
    terminate(waiter)
    child.send("release")
    child.expect("released")
    assert try_in_other_process(lock_path) == "got"


def test_a_child_inheriting_handles_does_not_keep_the_lock(lock_path, children):
    """The holder starts a long-lived child that inherits handles (close_fds=False)
    and is terminated: the child must not keep the lock (clocker#382 on Windows)."""
    child = children(
        """
        import subprocess, sys, locket
        lock = locket.Lock(sys.argv[1])
        lock.acquire()
        daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], close_fds=False)
        print(daemon.pid, flush=True)
        sys.stdin.readline()
        """,
        lock_path,
    )
    daemon_pid = int(child.line())
    try:
        assert held_elsewhere(lock_path)
        terminate(child)
        locket.Lock(lock_path).acquire(timeout=30)
    finally:
        os.kill(daemon_pid, 9)  # TerminateProcess on Windows


def test_sharing_violation_is_a_permission_error_at_once(tmp_path):
    """Another program's handle opened without sharing makes CreateFileW fail
    (ERROR_SHARING_VIOLATION): a PermissionError now, not a wait or LockBusy."""
    path = str(tmp_path / "lock")
    h = kernel32.CreateFileW(path, 0xC0000000, 0, None, 2, 0x80, None)  # share 0, CREATE_ALWAYS
    assert h not in (None, wintypes.HANDLE(-1).value), ctypes.get_last_error()
    try:
        start = time.monotonic()
        with pytest.raises(PermissionError) as info:
            locket.Lock(path, timeout=30).acquire()
        assert info.value.winerror == ERROR_SHARING_VIOLATION
        assert info.value.filename == path
        assert time.monotonic() - start < 5
    finally:
        kernel32.CloseHandle(h)
    with locket.Lock(path):
        pass


def test_lock_violation_is_lock_busy_and_the_file_stays_shareable(lock_path):
    """A held lock is a lock violation (LockBusy), not a sharing violation:
    locket opens with every FILE_SHARE_* flag, so others can still open the file."""
    with locket.Lock(lock_path):
        with pytest.raises(locket.LockBusy):
            locket.Lock(lock_path).acquire(timeout=0)
        h = kernel32.CreateFileW(lock_path, 0xC0000000, 0x7, None, 3, 0x80, None)  # OPEN_EXISTING
        assert h not in (None, wintypes.HANDLE(-1).value), ctypes.get_last_error()
        kernel32.CloseHandle(h)
        with open(lock_path, "rb") as f:
            f.read()


def test_long_path(tmp_path):
    d = tmp_path
    while len(str(d)) < 300:
        d = d / ("d" * 50)
    d.mkdir(parents=True)
    path = os.path.join(str(d), "lock")
    assert len(path) > 260  # MAX_PATH: locket adds the \\?\ prefix itself
    with locket.Lock(path):
        assert try_in_other_process(path) == "busy"
    assert os.path.exists("\\\\?\\" + path)


@pytest.mark.parametrize("name", ["caf\u00e9.lock", "\u9501.lock", "\U0001f512.lock", "\u0416 \u00df.lock"])
def test_non_ascii_names(tmp_path, name):
    path = str(tmp_path / name)
    with locket.Lock(path):
        assert try_in_other_process(path) == "busy"
        with pytest.raises(locket.LockBusy):
            locket.Lock(os.fsencode(path)).acquire(timeout=0)  # UTF-8 bytes: the same file
    assert os.listdir(tmp_path) == [name]


def test_windows_path_spellings_exclude_each_other(tmp_path, monkeypatch):
    real = tmp_path / "lock"
    (tmp_path / "sub").mkdir()
    locket.Lock(real)  # creates it
    os.link(real, tmp_path / "hard")
    monkeypatch.chdir(tmp_path)
    holder = locket.Lock(real)
    holder.acquire()
    spellings = ["lock", ".\\lock", "sub\\..\\lock", str(real).replace("\\", "/"), "hard",
                 "\\\\?\\" + str(real), str(tmp_path) + "\\\\lock"]
    for spelling in spellings:
        with pytest.raises(locket.LockBusy):
            locket.Lock(spelling).acquire(timeout=0)
    holder.release()


def test_file_as_directory_is_path_not_found(tmp_path):
    (tmp_path / "f").touch()
    with pytest.raises(FileNotFoundError) as info:
        locket.Lock(tmp_path / "f" / "lock")  # lock_file() would not look before acquire()
    assert info.value.winerror == 3  # ERROR_PATH_NOT_FOUND


def test_name_too_long_is_a_clear_os_error(tmp_path):
    path = tmp_path / ("x" * 300)
    with pytest.raises(OSError) as info:
        locket.Lock(path)
    assert info.value.winerror is not None and info.value.filename == str(path)


def test_reserved_device_name_fails_cleanly(tmp_path):
    """CON, NUL and the like are devices, not files: a clear OSError at once
    (the core refuses them by name, before anything is opened), never a
    crash, a hang, or the device opened."""
    with pytest.raises(OSError) as info:
        locket.Lock(str(tmp_path / "NUL"), timeout=5)
    assert "device" in str(info.value)


def test_attempt_after_handle_close_on_windows(lock_path, holder):
    """Handle.close() ends a live Attempt first, which then reports EINVAL; on
    Windows an Attempt has no descriptor to watch (fd() is -1)."""
    holder(lock_path)
    h = locket._core.Handle(lock_path.encode(), 0o666, 0)
    attempt = locket._core.Attempt(h, 0)
    assert attempt.status == locket._core.EWOULDBLOCK
    assert attempt.fd() == -1 and attempt.retry_ms() > 0
    assert attempt.try_() == locket._core.EWOULDBLOCK
    h.close()
    assert attempt.try_() == locket._core.EINVAL
    attempt.close()


def test_ctrl_break_cannot_be_sent_under_wine():
    """Under Wine, a console control event (what Ctrl-C sends) cannot reach a
    process without a console: GenerateConsoleCtrlEvent fails. This records
    it; on real Windows the next test's wait would get a real Ctrl-C."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
    try:
        ok = ctypes.WinDLL("kernel32").GenerateConsoleCtrlEvent(1, child.pid)  # CTRL_BREAK_EVENT
        if ok:
            pytest.skip("console control events work here: not Wine")
    finally:
        child.kill()
        child.wait()


def test_keyboard_interrupt_ends_a_timed_wait(lock_path, holder):
    """What the console's Ctrl-C handler does in Python: SIGINT, which sets the
    interpreter's SIGINT event. The wait should end with KeyboardInterrupt
    soon after, not at its deadline: the Windows engine calls the binding's
    interrupt callback while it waits (the binding no longer slices the wait)."""
    holder(lock_path)
    lock = locket.Lock(lock_path)
    timer = threading.Timer(0.3, __import__("signal").raise_signal, args=(2,))
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        lock.acquire(timeout=5)
    assert time.monotonic() - start < 3
    assert not lock.locked()


def test_lock_scope_and_check_on_a_local_drive(tmp_path):
    """Issue 21 on Windows: the volume's drive type and file system decide the scope (Wine shows
    every drive as a fixed NTFS disk: local); check() holds while the file is intact."""
    s = locket.lock_scope(tmp_path / "f", kind="ofd")
    assert s.kind in ("local", "network", "this-host", "unknown") and s.reason
    assert locket.lock_scope(tmp_path / "f") == s  # one kind of lock on Windows
    with locket.lock_file(tmp_path / "f", across_hosts=s.kind in ("local", "network")) as lock:
        assert lock.check()
