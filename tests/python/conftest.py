"""Helpers for the Python binding's tests: child processes that talk by lines,
and a kernel-level probe of whether a lock file is held."""

import errno
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time

import locket
import pytest

WINDOWS = sys.platform == "win32"
if WINDOWS:
    import msvcrt
else:
    import fcntl


def skip_on_windows(reason):
    """For a test of what Windows does not have; the reason says what."""
    return pytest.mark.skipif(WINDOWS, reason=reason)

# The C library's deadlines have millisecond resolution: a timed wait may end
# up to a millisecond before its timeout (measured here with a finer clock).
EARLY = 0.002

# The directory that holds the locket package under test, for child processes.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(locket.__file__)))


def child_env():
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Child:
    """A Python child process running `script`; lines go to its stdin and come
    back from its stdout, which is how the tests wait for events in it."""

    def __init__(self, script, *args, preexec=None, cwd=None, command=None):
        argv = command or [sys.executable, "-c", textwrap.dedent(script), *map(str, args)]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=cwd,
            preexec_fn=preexec,
        )
        self.pid = self.proc.pid
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def line(self, timeout=30):
        """The next line the child prints (fails on EOF or after timeout seconds)."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"child {self.pid} printed nothing for {timeout} s")
        if line is None:
            self.proc.wait(timeout=10)
            pytest.fail(f"child {self.pid} exited ({self.proc.returncode}): {self.proc.stderr.read()}")
        return line

    def expect(self, expected, timeout=30):
        line = self.line(timeout)
        assert line == expected, f"expected {expected!r}, child said {line!r}"
        return line

    def send(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def wait(self, timeout=30):
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def wait_blocked(self, timeout=10):
        """Wait until the child's main thread sleeps in the kernel, which after
        it announced a wait means it is inside that wait."""
        if WINDOWS:
            return windows_pause()
        wait_blocked(f"/proc/{self.pid}/stat", timeout)


def windows_pause():
    """Windows has no /proc, and Wine reports every thread's state as running
    (NtQuerySystemInformation): give a waiter time to enter its wait. The
    tests' assertions hold either way; had it not entered yet, they show a
    fresh acquire instead of a hand-off."""
    time.sleep(0.3)


def wait_blocked(stat_file, timeout=10):
    """Poll a /proc/.../stat file until its task sleeps (state S)."""
    deadline = time.monotonic() + timeout
    state = "?"
    while time.monotonic() < deadline:
        try:
            with open(stat_file) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            pytest.fail(f"{stat_file}: the task is gone")
        if state == "S":
            return
        time.sleep(0.001)
    pytest.fail(f"{stat_file} never blocked (last state {state})")


def wait_thread_blocked(native_id, timeout=10):
    """Wait until a thread of this process (threading.get_native_id()) sleeps
    in the kernel."""
    if WINDOWS:
        return windows_pause()
    wait_blocked(f"/proc/self/task/{native_id}/stat", timeout)


# Holds a lock until told otherwise. argv: path [shared]
HOLDER = """
import sys, locket
lock = locket.Lock(sys.argv[1], shared=len(sys.argv) > 2 and sys.argv[2] == "shared")
lock.acquire()
print("locked", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "release":
        lock.release()
        print("released", flush=True)
    elif cmd == "acquire":
        lock.acquire()
        print("locked", flush=True)
    elif cmd == "exit":
        break
"""

# Tries the lock once from another process and prints "got" or "busy".
TRY_ONCE = """
import sys, locket
lock = locket.Lock(sys.argv[1])
try:
    lock.acquire(timeout=0)
except locket.LockBusy:
    print("busy")
else:
    lock.release()
    print("got")
"""


@pytest.fixture
def lock_path(tmp_path):
    return str(tmp_path / "lock")


@pytest.fixture
def children():
    started = []

    def start(script, *args, **kw):
        child = Child(script, *args, **kw)
        started.append(child)
        return child

    yield start
    for child in started:
        child.kill()


@pytest.fixture
def holder(children):
    """holder(path) -> a child process that holds the lock ("locked" seen)."""

    def start(path, shared=False):
        child = children(HOLDER, path, "shared" if shared else "exclusive")
        child.expect("locked")
        return child

    return start


def try_in_other_process(path):
    """'got' or 'busy': what a fresh process sees when it tries the lock once."""
    out = subprocess.run(
        [sys.executable, "-c", TRY_ONCE, path], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def held_elsewhere(path):
    """True if some open file description holds a lock on path: a kernel probe
    with a fresh descriptor (flock locks of other descriptions conflict with it,
    even in this process). On Windows: a LockFileEx try on byte 0, the byte
    locket locks, through a fresh handle."""
    if WINDOWS:
        return _held_elsewhere_windows(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return True
            raise
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _held_elsewhere_windows(path):
    # ctypes, not msvcrt.locking: Wine's CRT reports a lock violation there
    # as errno 0.
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.LockFileEx.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD,
                                    wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p]
    kernel32.UnlockFileEx.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD,
                                      wintypes.DWORD, ctypes.c_void_p]
    overlapped = ctypes.create_string_buffer(32)  # OVERLAPPED, offset 0
    fd = os.open(path, os.O_RDONLY)
    try:
        handle = msvcrt.get_osfhandle(fd)
        if not kernel32.LockFileEx(handle, 3, 0, 1, 0, overlapped):  # EXCLUSIVE | FAIL_IMMEDIATELY
            err = ctypes.get_last_error()
            if err == 33:  # ERROR_LOCK_VIOLATION
                return True
            raise ctypes.WinError(err)
        kernel32.UnlockFileEx(handle, 0, 1, 0, overlapped)
        return False
    finally:
        os.close(fd)
