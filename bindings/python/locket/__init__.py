"""Cross-process file locks: a drop-in replacement for locket.py.

    import locket

    with locket.lock_file("path/to/lock/file", timeout=30):
        perform_action()

A lock is identified by the file it locks: two locks on the same file
exclude each other, in one process or in two, whatever path spelling reached
the file. The locks are the kernel's (flock(2) on Linux, LockFileEx on
Windows), so a process that dies releases its locks. Waiting blocks in the
kernel with the GIL released: no sleep-polling, hand-over within tens of
microseconds, and Ctrl-C interrupts a wait.

The work is done by the C library (the generated module ``locket._core``);
this module turns its codes into Python exceptions.
"""

from __future__ import annotations

import asyncio
import errno as _errno
import math
import numbers
import os
import socket
import sys
import threading
import time
import warnings
from typing import Any, List, Optional, Tuple, Union

from . import _core

__all__ = [
    "Lock",
    "LockBusy",
    "LockError",
    "LockTimeout",
    "NotHeldError",
    "lock_file",
]

__version__: str = _core.version()

StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class LockError(Exception):
    """Base class of locket's own errors (the class locket.py raises)."""


class LockTimeout(LockError, TimeoutError):
    """The timeout passed while another holder kept the lock."""


class LockBusy(LockError):
    """A try (timeout 0, or blocking=False) found the lock held elsewhere."""


class NotHeldError(LockError, RuntimeError):
    """release() of a lock this object does not hold (RuntimeError like threading.Lock)."""


# Where the C-thread waiter is missing (Windows), acquire_async()'s helper
# thread waits in slices this long so that it notices a cancellation within
# one slice (the C thread slices the same way, LOCKET_PY_SLICE_MS). A release
# wakes the waiter at once whatever the slice.
_ASYNC_SLICE_MS = 100
# A wait inside one process on a shared lock held through the same object is
# a condition-variable wait in C, which signals do not end: slice it so that
# Ctrl-C is seen.
_LOCAL_SLICE_MS = 100

_DEFAULT: Any = object()

# Looked up once: the uncontended path counts every attribute access.
_SHARED = _core.SHARED
_INTERRUPTIBLE = _core.INTERRUPTIBLE
_EWOULDBLOCK = _core.EWOULDBLOCK
_ETIMEDOUT = _core.ETIMEDOUT
_monotonic = time.monotonic


def _close_reader(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    loop.remove_reader(sock.fileno())
    sock.close()


class _NoReader(Exception):
    """The running event loop cannot watch a socket (add_reader)."""


# The C-thread waiter of acquire_async() (POSIX builds of _core only).
_AsyncWait: Optional[Any] = None if sys.platform == "win32" else getattr(_core, "AsyncWait", None)

_OS_ERRORS = {
    _core.ENOENT: (FileNotFoundError, _errno.ENOENT),
    _core.EACCES: (PermissionError, _errno.EACCES),
    _core.EISDIR: (IsADirectoryError, _errno.EISDIR),
    _core.ENOTSUP: (OSError, _errno.ENOLCK),
    _core.EIO: (OSError, _errno.EIO),
}


def _timeout_ms(timeout: Optional[float]) -> int:
    """Seconds (None = forever, 0 = try once) to the C library's milliseconds."""
    if timeout is None:
        return -1
    if type(timeout) not in (int, float) and (
        isinstance(timeout, bool) or not isinstance(timeout, numbers.Real)
    ):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    timeout = float(timeout)
    if timeout != timeout:
        raise ValueError("timeout must not be NaN")
    if timeout < 0:
        raise ValueError("timeout must not be negative (None waits forever)")
    if timeout == math.inf:
        return -1
    if timeout > threading.TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")
    # Round up, so that a tiny positive timeout still waits.
    return math.ceil(timeout * 1000)


def _error(code: int, os_error: int, message: str, filename: Any) -> BaseException:
    """The Python exception for a failed C call's code and detail."""
    if code == _core.ENOTHELD:
        return NotHeldError("cannot release unlocked lock")
    if code == _core.ENOMEM:
        return MemoryError(message)
    if code == _core.EINVAL and not os_error:
        return ValueError(message)
    cls, default_errno = _OS_ERRORS.get(code, (OSError, _errno.EIO))
    if sys.platform == "win32":
        # os_error is GetLastError(); OSError derives errno from winerror.
        return cls(default_errno, message, filename, os_error or None)
    if os_error:
        # OSError picks the subclass from errno, as open() would (ENOTDIR
        # gives NotADirectoryError, EPERM PermissionError, ...).
        return OSError(os_error, os.strerror(os_error), filename)
    return cls(default_errno, os.strerror(default_errno), filename)


def _last_error(filename: Any) -> BaseException:
    code, os_error, message = _core.last_error()
    return _error(code, os_error, message, filename)


class Lock:
    """A lock on one file, for threads and processes alike.

    Use it as a context manager (``with lock:``, ``async with lock:``) or
    call acquire() and release(). It is not re-entrant: acquiring a lock
    that this object already holds waits for its release, like
    threading.Lock. Any thread of the holding process may release it.

    path: str, bytes or os.PathLike. The file is created if missing (with
      permission bits ``mode``, umask applied) unless ``create`` is false; it
      is never truncated, written or deleted. It is opened now, so a bad path
      fails here with FileNotFoundError, PermissionError or IsADirectoryError.
    timeout: default for acquire(), in seconds: None waits forever, 0 tries
      once, a positive number waits at most that long (one deadline).
    retry_period: accepted for compatibility with locket.py and ignored:
      waits are woken by the release itself, not by polling.
    shared: default lock mode of acquire(): True takes a shared (reader) lock.
    """

    __slots__ = ("_h", "_ms", "_flags", "_timeout", "_shared", "_name", "__weakref__")

    def __init__(
        self,
        path: StrOrBytesPath,
        timeout: Optional[float] = None,
        retry_period: Optional[float] = None,
        *,
        shared: bool = False,
        create: bool = True,
        mode: int = 0o666,
    ) -> None:
        self._h: Optional[_core.Handle] = None
        name = os.fspath(path)
        raw = os.fsencode(name)
        if b"\0" in raw:
            raise ValueError("embedded null byte in path")
        if retry_period is not None:
            _timeout_ms(retry_period)  # validated, then unused
        if isinstance(mode, bool) or not isinstance(mode, int):
            raise TypeError(f"mode must be an int, not {type(mode).__name__}")
        if not 0 <= mode <= 0o7777:
            raise ValueError(f"mode {mode:#o} is not a permission mode")
        self._ms = _timeout_ms(timeout)
        self._timeout = timeout
        self._shared = bool(shared)
        self._flags = _core.INTERRUPTIBLE | (_core.SHARED if shared else 0)
        self._name = name
        h = _core.Handle(raw, mode, 0 if create else _core.NO_CREATE)
        if h.open_error != _core.OK:
            raise _last_error(name)
        self._h = h

    # -- state -------------------------------------------------------------

    @property
    def path(self) -> Union[str, bytes]:
        """The path as given (str or bytes)."""
        return self._name

    @property
    def timeout(self) -> Optional[float]:
        """The default timeout of acquire(), in seconds (None: forever)."""
        return self._timeout

    @property
    def shared(self) -> bool:
        """The default mode of acquire(): True for a shared (reader) lock."""
        return self._shared

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._h is None

    def locked(self) -> bool:
        """True if this object holds the lock in this process.

        False in a child created by fork() while the parent held it: the
        lock stays the parent's.
        """
        return bool(self._handle().locked())

    def holder_pid(self) -> Optional[int]:
        """The pid of a process that holds a lock on this file, or None.

        None also when the OS cannot tell (Windows). The answer may be stale
        by the time it is returned: use it for messages, not decisions.
        """
        pid = self._handle().holder_pid()
        if pid >= 0:
            return pid or None
        if pid == _core.ENOTSUP:
            return None
        raise _last_error(self._name)

    def _busy_text(self) -> str:
        return f"Couldn't lock {os.fsdecode(self._name)}"  # locket.py's message

    def _handle(self) -> _core.Handle:
        h = self._h
        if h is None:
            raise ValueError("I/O operation on closed lock")
        return h

    # -- acquire / release -------------------------------------------------

    def acquire(
        self,
        timeout: Optional[float] = _DEFAULT,
        *,
        shared: Optional[bool] = None,
        blocking: bool = True,
    ) -> bool:
        """Take the lock and return True, or raise.

        timeout: seconds for this call (default: the lock's timeout); None
          waits forever, 0 tries once. blocking=False is the same as 0.
        shared: True for a shared (reader) lock, False for an exclusive one
          (default: the lock's mode).

        Raises LockTimeout (a LockError and a TimeoutError) when the timeout
        passes, LockBusy (a LockError) when a try finds the lock held,
        OSError subclasses when the file cannot be locked. A signal handler
        that raises during the wait (KeyboardInterrupt on Ctrl-C) ends it
        with the lock not held; other handlers run and the wait goes on
        until the same deadline.
        """
        ms = self._ms if timeout is _DEFAULT else _timeout_ms(timeout)
        if not blocking:
            ms = 0
        flags = self._flags
        if shared is not None:
            flags = _INTERRUPTIBLE | (_SHARED if shared else 0)
        return self._acquire(ms, flags)

    def _acquire(self, ms: int, flags: int) -> bool:
        h = self._h
        if h is None:
            raise ValueError("I/O operation on closed lock")
        if flags & _SHARED and ms != 0 and h.locked():
            # Another thread holds a shared lock through this object: C waits
            # for it on a condition variable, which signals do not end.
            return self._wait_sliced(h, ms, flags)
        # Signal handlers run inside this call (see locket_python.i): it
        # returns with the lock, or raises what a handler raised, or fails.
        rc = h.acquire(ms, flags)
        if rc == 0:
            return True
        if rc == _ETIMEDOUT:
            raise LockTimeout(self._busy_text())
        if rc == _EWOULDBLOCK:
            raise LockBusy(self._busy_text())
        raise _last_error(self._name)

    def _wait_sliced(self, h: _core.Handle, ms: int, flags: int) -> bool:
        """Wait in slices while this object holds the lock, so that Python
        signal handlers (Ctrl-C) get to run; one deadline for all slices."""
        deadline = None if ms < 0 else _monotonic() + ms / 1000
        while True:
            if deadline is None:
                left = -1
            else:
                left = max(0, math.ceil((deadline - _monotonic()) * 1000))
            sliced = left != 0 and h.locked()
            if sliced:
                left = _LOCAL_SLICE_MS if left < 0 else min(left, _LOCAL_SLICE_MS)
            rc = h.acquire(left, flags)
            if rc == 0:
                return True
            if rc not in (_ETIMEDOUT, _EWOULDBLOCK):
                raise _last_error(self._name)
            if not sliced or (deadline is not None and _monotonic() >= deadline):
                raise LockTimeout(self._busy_text())

    def release(self) -> None:
        """Release the lock. Any thread may call it.

        Raises NotHeldError (a LockError and a RuntimeError) with the message
        "cannot release unlocked lock" if this object does not hold the lock
        in this process (including in a forked child of the holder).
        """
        h = self._h
        if h is None:
            raise ValueError("I/O operation on closed lock")
        if h.release() != 0:
            raise _last_error(self._name)

    def close(self) -> None:
        """Release the lock if held and free the handle. Idempotent."""
        h, self._h = self._h, None
        if h is not None:
            h.close()

    def __enter__(self) -> "Lock":
        self._acquire(self._ms, self._flags)
        return self

    def __exit__(self, *exc_info: object) -> None:
        h = self._h  # release(), inlined: this is on every `with`'s path
        if h is None:
            raise ValueError("I/O operation on closed lock")
        if h.release() != 0:
            raise _last_error(self._name)

    # -- asyncio -----------------------------------------------------------

    async def acquire_async(
        self, timeout: Optional[float] = _DEFAULT, *, shared: Optional[bool] = None
    ) -> bool:
        """acquire() for asyncio: waits without blocking the event loop.

        The wait runs in a helper thread, blocked in the kernel like
        acquire(). Cancelling the awaiting task ends the wait and leaves the
        lock not held (a grant that raced the cancellation is released).
        """
        ms = self._ms if timeout is _DEFAULT else _timeout_ms(timeout)
        flags = self._flags & ~_core.INTERRUPTIBLE
        if shared is not None:
            flags = _core.SHARED if shared else 0
        h = self._handle()
        rc = h.acquire(0, flags)
        if rc == 0:
            return True
        if rc != _core.EWOULDBLOCK:
            raise _last_error(self._name)
        if ms == 0:
            raise LockBusy(self._busy_text())

        loop = asyncio.get_running_loop()
        result: Tuple[int, int, str]
        if _AsyncWait is not None:
            try:
                result = await self._wait_in_c_thread(loop, h, ms, flags)
            except _NoReader:
                result = await self._wait_in_python_thread(loop, h, ms, flags)
        else:
            result = await self._wait_in_python_thread(loop, h, ms, flags)
        code, os_error, message = result
        if code == 0:
            return True
        if code == _core.ETIMEDOUT:
            raise LockTimeout(self._busy_text())
        raise _error(code, os_error, message, self._name)

    @staticmethod
    async def _wait_in_c_thread(
        loop: asyncio.AbstractEventLoop, h: _core.Handle, ms: int, flags: int
    ) -> Tuple[int, int, str]:
        """Wait on a C thread that signals the loop through a socket (POSIX
        event loops): no GIL hand-off on the way back, so the task resumes as
        fast as a blocked thread would."""
        rsock, wsock = socket.socketpair()
        readable: List["asyncio.Future[None]"] = [loop.create_future()]

        def on_readable() -> None:
            if not readable[0].done():
                readable[0].set_result(None)

        try:
            loop.add_reader(rsock.fileno(), on_readable)
        except NotImplementedError:  # e.g. the proactor loop on Windows
            rsock.close()
            wsock.close()
            raise _NoReader() from None
        try:
            fd = wsock.detach()
            try:
                waiter = _AsyncWait(h, ms, flags, fd)  # type: ignore[misc]
            except BaseException:
                os.close(fd)
                raise
            try:
                await readable[0]
            except asyncio.CancelledError:
                # End the wait, then wait for the thread to say so (at most
                # one slice): a grant that raced the cancellation is given back.
                waiter.cancel()
                while True:
                    readable[0] = loop.create_future()
                    try:
                        await asyncio.shield(readable[0])
                        break
                    except asyncio.CancelledError:
                        waiter.cancel()
                if waiter.result()[0] == 0:
                    h.release()
                raise
            result: Tuple[int, int, str] = waiter.result()
            return result
        finally:
            try:  # after the task has resumed: not on the hand-over's path
                loop.call_soon(_close_reader, loop, rsock)
            except RuntimeError:  # the loop is closed (a task dropped with it)
                rsock.close()

    @staticmethod
    async def _wait_in_python_thread(
        loop: asyncio.AbstractEventLoop, h: _core.Handle, ms: int, flags: int
    ) -> Tuple[int, int, str]:
        """The portable way: a Python thread waits in slices and hands the
        outcome to the loop with call_soon_threadsafe."""
        granted: "asyncio.Future[Tuple[int, int, str]]" = loop.create_future()  # for the task
        finished: "asyncio.Future[None]" = loop.create_future()  # the thread is done
        cancelled = threading.Event()

        def deliver(result: Tuple[int, int, str]) -> None:
            # On the loop thread. A grant nobody awaits any more is given back.
            if not granted.done():
                granted.set_result(result)
            elif result[0] == 0:
                h.release()
            finished.set_result(None)

        def wait() -> None:
            deadline = None if ms < 0 else time.monotonic() + ms / 1000
            while True:
                if deadline is None:
                    left = _ASYNC_SLICE_MS
                else:
                    left = max(0, math.ceil((deadline - time.monotonic()) * 1000))
                    left = min(left, _ASYNC_SLICE_MS)
                code = h.acquire(left, flags)
                if code in (_core.ETIMEDOUT, _core.EWOULDBLOCK) and not cancelled.is_set():
                    if deadline is None or time.monotonic() < deadline:
                        continue
                    code = _core.ETIMEDOUT
                result = _core.last_error() if code not in (0, _core.ETIMEDOUT, _core.EWOULDBLOCK) else (code, 0, "")
                if result[0] == _core.EWOULDBLOCK:
                    result = (_core.ETIMEDOUT, 0, "")
                try:
                    loop.call_soon_threadsafe(deliver, result)
                except RuntimeError:  # the loop is closed: nobody will take the lock
                    if code == 0:
                        h.release()
                return

        threading.Thread(target=wait, name="locket-async-wait", daemon=True).start()
        try:
            return await granted
        except asyncio.CancelledError:
            cancelled.set()
            while not finished.done():
                try:
                    await asyncio.shield(finished)
                except asyncio.CancelledError:
                    pass
            raise

    async def __aenter__(self) -> "Lock":
        await self.acquire_async()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    # -- life cycle --------------------------------------------------------

    def __del__(self) -> None:
        h = getattr(self, "_h", None)
        if h is None:
            return
        self._h = None
        try:
            if h.locked():
                warnings.warn(
                    f"lock on {self._name!r} garbage-collected while held; releasing it",
                    ResourceWarning,
                    stacklevel=2,
                    source=self,
                )
        finally:  # even if the warning is turned into an error (-W error)
            h.close()

    def __repr__(self) -> str:
        if self._h is None:
            state = "closed"
        else:
            state = "locked" if self._h.locked() else "unlocked"
        mode = " shared" if self._shared else ""
        return f"<locket.Lock path={self._name!r}{mode} {state}>"


def lock_file(
    path: StrOrBytesPath,
    timeout: Optional[float] = None,
    retry_period: Optional[float] = None,
    **kwargs: Any,
) -> Lock:
    """A Lock on the file at path; the call of locket.py.

    timeout (seconds) applies to every acquire(): None waits forever, 0 tries
    once. retry_period is accepted and ignored (waits are not polled).
    Keyword arguments shared, create and mode go to Lock.
    """
    return Lock(path, timeout, retry_period, **kwargs)
