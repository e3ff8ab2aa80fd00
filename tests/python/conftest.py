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


# The C library's POSIX wait engine under test: CTest passes CMake's LOCKET_ENGINE
# (linux, or portable: core/portable/, what macOS and the BSDs run).
PORTABLE_ENGINE = os.environ.get("LOCKET_ENGINE") == "portable"
# What the portable engine cannot do on Linux: name a flock() holder (F_GETLK does
# not see flock locks there; docs/design.md).
HOLDER_PID_KNOWN = not WINDOWS and not PORTABLE_ENGINE


def skip_on_portable_engine(reason):
    """For a test of the Linux engine's internals; the reason says what."""
    return pytest.mark.skipif(PORTABLE_ENGINE, reason="the portable engine: " + reason)

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
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

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
        # Close the pipes (no "unclosed file" warnings under -W error).
        self._reader.join(timeout=30)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:  # stdin: the child is gone (EPIPE on flush)
                pass

    def wait_blocked(self, timeout=10):
        """Wait until the child's main thread sleeps in the kernel, which after
        it announced a wait means it is inside that wait (the child waits alone:
        a futex is the in-handle wait, not the GIL)."""
        if WINDOWS:
            return windows_pause()
        wait_blocked(f"/proc/{self.pid}/stat", timeout, futex=True)


def windows_pause():
    """Windows has no /proc, and Wine reports every thread's state as running
    (NtQuerySystemInformation): give a waiter time to enter its wait. The
    tests' assertions hold either way; had it not entered yet, they show a
    fresh acquire instead of a hand-off."""
    time.sleep(0.3)


_MACHINE = os.uname().machine if hasattr(os, "uname") else ""  # no os.uname on Windows

# System calls in which a task sleeps while it waits for a lock: a blocked flock(), the poll of a
# timed wait; futex (a wait for a hold through the same handle) only in a child whose main thread
# waits alone, as a thread of this process waiting for the GIL sleeps in one too. Never read.
WAIT_SYSCALLS = {
    "x86_64": {73: "flock", 271: "ppoll", 7: "poll", 23: "select", 270: "pselect6", 232: "epoll_wait",
               281: "epoll_pwait", 441: "epoll_pwait2"},
    "aarch64": {32: "flock", 73: "ppoll", 72: "pselect6", 22: "epoll_pwait", 441: "epoll_pwait2"},
}.get(_MACHINE, {})


FUTEX = {"x86_64": 202, "aarch64": 98}.get(_MACHINE)


def _in_wake_table(stat_file, address):
    """Is address inside the process's mapping of locket's wake-up table? A futex sleep there is a
    lock wait (the engine's waiters sleep on the table's words); any other futex (the GIL) is not."""
    maps_file = stat_file.split("/task/")[0] if "/task/" in stat_file else stat_file[: -len("/stat")]
    try:
        with open(maps_file + "/maps") as f:
            for line in f:
                if "/dev/shm/locket-wake2-" in line:
                    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                    if lo <= address < hi:
                        return True
    except FileNotFoundError:
        pass
    return False


def wait_blocked(stat_file, timeout=10, futex=False):
    """Poll a task's /proc files until it sleeps (state S) in a lock wait's system call."""
    deadline = time.monotonic() + timeout
    state, call = "?", "?"
    syscall_file = stat_file[: -len("stat")] + "syscall"
    while time.monotonic() < deadline:
        try:
            with open(stat_file) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(syscall_file) as f:
                fields = f.read().split()
            call = fields[0]
        except FileNotFoundError:
            pytest.fail(f"{stat_file}: the task is gone")
        if state == "S" and call.isdigit():
            number = int(call)
            if number in WAIT_SYSCALLS or futex and number == FUTEX:
                return
            if number == FUTEX and len(fields) > 1 and _in_wake_table(stat_file, int(fields[1], 16)):
                return
        time.sleep(0.001)
    pytest.fail(f"{stat_file} never blocked in a lock wait (last state {state}, system call {call})")


def wait_thread_blocked(native_id, timeout=10):
    """Wait until a thread of this process (threading.get_native_id()) sleeps
    in the kernel."""
    if WINDOWS:
        return windows_pause()
    wait_blocked(f"/proc/self/task/{native_id}/stat", timeout)


def fds_on(path):
    """How many descriptors of this process are open on path's file (/proc/self/fd); 0 on
    Windows, which has no /proc (until_waiting() does not count there)."""
    if WINDOWS:
        return 0
    st = os.stat(path)
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            s = os.stat(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        n += (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino)
    return n


async def until_waiting(path, tasks, before, timeout=10):
    """Return once every task waits inside acquire_async(): the kernel shows each one's attempt as a
    descriptor open on path's file (more than `before`, counted before the tasks started), and no
    task has finished. Fails the test otherwise."""
    import asyncio

    if WINDOWS:
        await asyncio.sleep(0.3)  # no /proc to look at: see windows_pause()
        done = [t for t in tasks if t.done()]
        if done:
            pytest.fail(f"a waiter finished before it waited: {done[0]!r}")
        return
    deadline = time.monotonic() + timeout
    while True:
        done = [t for t in tasks if t.done()]
        if done:
            pytest.fail(f"a waiter finished before it waited: {done[0]!r}")
        if fds_on(path) >= before + len(tasks):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the waiters never all waited ({fds_on(path) - before} of {len(tasks)} attempts open)")
        await asyncio.sleep(0.001)  # polling the kernel's view of the process, not the lock


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


def released_elsewhere(path, timeout=2.0):
    """True once a fresh descriptor can take the lock, within timeout: the kernel drops a killed
    process's lock a few milliseconds after the process was reaped (0.6-3 ms measured on Linux 6.18
    under load), so "free" means "released by the deadline". A process that keeps the lock still
    makes this False."""
    deadline = time.monotonic() + timeout
    while held_elsewhere(path):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.001)
    return True


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
