"""Cross-process file locks: a drop-in replacement for locket.py.

    import locket

    with locket.lock_file("path/to/lock/file", timeout=30):
        perform_action()

A lock is identified by the file it locks: two locks on the same file
exclude each other, in one process or in two, whatever path spelling reached
the file. The locks are the kernel's (flock(2) on Linux, LockFileEx on
Windows), so a process that dies releases its locks. Waiting blocks in the
kernel with the GIL released: on Linux a waiter is woken by the release (no
sleep-polling; hand-over within tens of microseconds); on Windows the wait
is the Windows engine's (docs/windows.md). Ctrl-C interrupts a wait in the
main thread, and never leaves the lock held.

The work is done by the C library (the generated module ``locket._core``);
this module turns its codes into Python exceptions.
"""

# Only what locket.py imports too, or what the interpreter has built in:
# `import locket` must stay as cheap as locket.py's. asyncio (tens of
# milliseconds) is imported by the async methods, warnings when one is given,
# typing only by type checkers (annotations are strings: no __future__ import).
import errno as _errno
import os as _os
import sys as _sys
import threading as _threading
import warnings as _warnings  # already loaded at start-up; __del__ must not import

from . import _core

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    import os
    from typing import Any, Optional, Set, Union

    StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

__all__ = [
    "Lock",
    "LockBusy",
    "LockError",
    "LockTimeout",
    "NotHeldError",
    "lock_file",
]

__version__: str = _core.version()


def __dir__() -> "list[str]":
    return sorted(__all__ + ["__version__"])


class LockError(Exception):
    """Base class of locket's own errors (the class locket.py raises).

    path: the lock's path as given (None if unknown). holder_pid: a process
    seen holding the file when holder_pid was first read (None when none was
    seen or the OS cannot tell, as on Windows): it is looked up then, not when
    the error was made, so that a failed try costs no more than the try. Both
    survive pickling (holder_pid is looked up before the error is pickled).
    """

    path: "Optional[Union[str, bytes]]" = None
    # The lock file's absolute path (bytes) while holder_pid is still to be looked up.
    _holder_file: "Optional[bytes]" = None

    @property
    def holder_pid(self) -> "Optional[int]":
        d = self.__dict__
        if "_holder_pid" not in d:
            d["_holder_pid"] = _holder_of(self._holder_file)
            d.pop("_holder_file", None)
        pid: "Optional[int]" = d["_holder_pid"]
        return pid

    @holder_pid.setter
    def holder_pid(self, pid: "Optional[int]") -> None:
        self.__dict__["_holder_pid"] = pid
        self.__dict__.pop("_holder_file", None)

    def __reduce__(self) -> "Any":
        _ = self.holder_pid  # look it up now: the other process cannot
        return super().__reduce__()


class LockTimeout(LockError, TimeoutError):
    """The timeout passed while another holder kept the lock."""


class LockBusy(LockError):
    """A try (timeout 0, or blocking=False) found the lock held elsewhere."""


class NotHeldError(LockError, RuntimeError):
    """release() of a lock this object does not hold (RuntimeError like threading.Lock)."""


class _Default:
    """acquire()'s default timeout: the lock's (a readable repr for help())."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<the lock's timeout>"


# With nothing to watch (a loop without add_reader), acquire_async() tries
# at least this often (what the C library does where it has no descriptor).
_POLL_S = 0.016

_DEFAULT: "Any" = _Default()

# Looked up once: the uncontended path counts every attribute access.
_SHARED = _core.SHARED
_INTERRUPTIBLE = _core.INTERRUPTIBLE
_EWOULDBLOCK = _core.EWOULDBLOCK
_ETIMEDOUT = _core.ETIMEDOUT


_OS_ERRORS = {
    _core.ENOENT: (FileNotFoundError, _errno.ENOENT),
    _core.EACCES: (PermissionError, _errno.EACCES),
    _core.EISDIR: (IsADirectoryError, _errno.EISDIR),
    _core.ENOTSUP: (OSError, _errno.ENOLCK),
    _core.EIO: (OSError, _errno.EIO),
    _core.EINTR: (InterruptedError, _errno.EINTR),
}


def _real_seconds(timeout: "Any") -> float:
    """A timeout that is neither int nor float (Fraction, Decimal, numpy
    scalars) as a float; TypeError for what is not a real number."""
    import numbers

    if not isinstance(timeout, numbers.Real):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    try:
        return float(timeout)
    except OverflowError:  # beyond a double: forever, or refused if negative
        return float("inf") if timeout > 0 else -1.0  # type: ignore[operator]


# Seconds (None = forever, 0 = try once) to the C library's milliseconds (-1 = forever):
# locket_timeout_ms(), the rule of every language (NaN and negative: ValueError; +inf and
# anything too large for the core: forever; rounded up to whole milliseconds).
_timeout_ms: "Any" = _core.timeout_ms


def _holder_of(path: "Optional[bytes]") -> "Optional[int]":
    """The pid of a holder of the lock file at path (absolute), or None."""
    if path is None:
        return None
    try:
        h = _core.Handle(path, 0o666, _core.NO_CREATE)
        try:
            if h.open_error != _core.OK:
                return None
            pid = h.holder_pid()
            return pid if pid > 0 else None
        finally:
            h.close()
    except (OSError, ValueError, MemoryError, TypeError):
        return None


def _error(code: int, os_error: int, message: str, filename: "Any") -> BaseException:
    """The Python exception for a failed C call's code and detail."""
    if code == _core.ENOTHELD:
        return NotHeldError("cannot release unlocked lock")
    if code == _core.ENOMEM:
        return MemoryError(message)
    if code == _core.EINVAL and not os_error:
        return ValueError(message)
    cls, default_errno = _OS_ERRORS.get(code, (OSError, _errno.EIO))
    if _sys.platform == "win32":
        # os_error is GetLastError(); OSError derives errno from winerror. Without one, no
        # winerror at all (OSError would print "[WinError None]").
        if os_error:
            return cls(default_errno, message, filename, os_error)
        return cls(default_errno, message, filename)
    if os_error:
        # OSError picks the subclass from errno, as open() would (ENOTDIR
        # gives NotADirectoryError, EPERM PermissionError, ...).
        return OSError(os_error, _os.strerror(os_error), filename)
    return cls(default_errno, _os.strerror(default_errno), filename)


def _last_error(filename: "Any") -> BaseException:
    code, os_error, message = _core.last_error()
    return _error(code, os_error, message, filename)


def _closed_error() -> ValueError:
    return ValueError("I/O operation on closed lock")


def _closed_during_call() -> ValueError:
    return ValueError("lock closed during acquire(): the lock is not held")


def _note(exc: BaseException, note: str) -> None:
    """PEP 678's add_note() (shown by tracebacks on 3.11+), or its attribute."""
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(note)
    else:
        notes = getattr(exc, "__notes__", None)
        try:
            exc.__notes__ = (notes or []) + [note]
        except AttributeError:
            pass


class _AsyncWaiter:
    """Drives one Attempt from an event loop: a try whenever its descriptor
    turns readable (a release may have happened) or its retry delay passes,
    until the lock is held, an error, or the deadline (loop clock)."""

    __slots__ = ("lock", "loop", "attempt", "deadline", "future", "fd", "timer")

    def __init__(
        self, lock: "Lock", loop: "asyncio.AbstractEventLoop", attempt: "Any", deadline: "Optional[float]"
    ) -> None:
        self.lock = lock
        self.loop = loop
        self.attempt = attempt
        self.deadline = deadline
        self.future: "asyncio.Future[None]" = loop.create_future()
        self.fd = -1
        self.timer: "Optional[asyncio.TimerHandle]" = None
        self._arm()

    def _arm(self) -> None:
        """Watch the attempt's descriptor (it may change after a try) and
        set the retry timer."""
        if self.timer is not None:
            self.timer.cancel()
        fd = self.attempt.fd()
        delay = self.attempt.retry_ms() / 1000
        if fd != self.fd:
            if self.fd >= 0:
                self.loop.remove_reader(self.fd)
                self.fd = -1
            if fd >= 0:
                try:
                    self.loop.add_reader(fd, self._try)
                    self.fd = fd
                except NotImplementedError:  # a loop without add_reader: poll
                    pass
        if self.fd < 0:
            delay = min(delay, _POLL_S)
        if self.deadline is not None:
            delay = min(delay, max(0.0, self.deadline - self.loop.time()))
        self.timer = self.loop.call_later(delay, self._try)

    def _try(self) -> None:
        if self.future.done():  # cancelled: stop() follows
            return
        rc = self.attempt.try_()
        if rc == 0:
            self.future.set_result(None)  # the reader and timer go after the task resumed
        elif rc != _EWOULDBLOCK:
            if self.lock._h is None:
                self.future.set_exception(_closed_error())
            else:
                self.future.set_exception(_last_error(self.lock._name))
        elif self.deadline is not None and self.loop.time() >= self.deadline:
            self.future.set_exception(self.lock._busy(LockTimeout))
        else:
            self._arm()

    def granted(self) -> bool:
        f = self.future
        return f.done() and not f.cancelled() and f.exception() is None

    def abort(self) -> None:
        """The lock was closed during the wait (on the loop's thread)."""
        self.stop()
        if not self.future.done():
            self.future.set_exception(_closed_error())

    def stop(self) -> None:
        """Stop watching and end the attempt. Idempotent."""
        self.lock._waiters.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)  # nothing (False) once the loop is closed
            self.fd = -1
        self.attempt.close()


class Lock:
    """A lock on one file, for threads and processes alike.

    Use it as a context manager (``with lock:``, ``async with lock:``) or
    call acquire() and release(). It is not re-entrant: acquiring a lock
    that this object already holds waits for its release, like
    threading.Lock. Any thread of the holding process may release it.

    path: str, bytes or os.PathLike. The file is created if missing (with
      permission bits ``mode``, umask applied) unless ``create`` is false; it
      is never truncated, written or deleted. Lock() opens it now, so a bad
      path fails here with FileNotFoundError, PermissionError or
      IsADirectoryError; lock_file() (locket.py's call) opens it at the
      first acquire() instead.
    timeout: default for acquire(), in seconds: None waits forever, 0 tries
      once, a positive number waits at most that long (one deadline).
    retry_period: accepted for compatibility with locket.py and ignored:
      waits are woken by the release itself, not by polling.
    shared: default lock mode of acquire(): True takes a shared (reader) lock.

    Lock objects cannot be copied or pickled (TypeError): a copy would
    share, or pretend to share, a kernel lock that belongs to one object.
    """

    __slots__ = (
        "_h",
        "_closed",
        "_calls",
        "_orphans",
        "_ms",
        "_flags",
        "_timeout",
        "_shared",
        "_name",
        "_raw",
        "_mode",
        "_open_flags",
        "_gc_text",
        "_waiters",
        "__weakref__",
    )

    def __init__(
        self,
        path: "StrOrBytesPath",
        timeout: "Optional[float]" = None,
        retry_period: "Optional[float]" = None,
        *,
        shared: bool = False,
        create: bool = True,
        mode: int = 0o666,
    ) -> None:
        self._setup(path, timeout, retry_period, shared, create, mode)
        self._open()

    def _setup(
        self,
        path: "StrOrBytesPath",
        timeout: "Optional[float]",
        retry_period: "Optional[float]",
        shared: bool,
        create: bool,
        mode: int,
    ) -> None:
        """Everything but opening the file: checks the arguments only."""
        self._h: "Optional[_core.Handle]" = None
        self._closed = False
        # Calls into the C library in progress (one item each: list.append and
        # pop are atomic under the GIL), and the handle close() left to the
        # last of them to free (list.remove picks exactly one thread).
        self._calls: "list[None]" = []
        self._orphans: "list[_core.Handle]" = []
        self._waiters: "Set[_AsyncWaiter]" = set()  # acquire_async() waits in progress
        self._gc_text: "Optional[str]" = None
        name = _os.fspath(path)
        raw = _os.fsencode(name)
        if not raw:
            raise ValueError("empty path")
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
        self._flags = _INTERRUPTIBLE | (_SHARED if shared else 0)
        self._name = name
        self._raw = raw
        self._mode = mode
        self._open_flags = 0 if create else _core.NO_CREATE

    def _open(self) -> "_core.Handle":
        """The handle, opening the file first if this is the first use."""
        h = self._h
        if h is not None:
            return h
        if self._closed:
            raise _closed_error()
        h = _core.Handle(self._raw, self._mode, self._open_flags)
        if h.open_error != _core.OK:
            raise _last_error(self._name)
        if self._h is not None or self._closed:  # another thread won, or close()d
            h.close()
            return self._open()
        self._h = h
        return h

    # -- state -------------------------------------------------------------

    @property
    def path(self) -> "Union[str, bytes]":
        """The path as given (str or bytes)."""
        return self._name

    @property
    def timeout(self) -> "Optional[float]":
        """The default timeout of acquire(), in seconds (None: forever)."""
        return self._timeout

    @property
    def shared(self) -> bool:
        """The default mode of acquire(): True for a shared (reader) lock."""
        return self._shared

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._closed

    def locked(self) -> bool:
        """True if this object holds the lock in this process.

        False in a child created by fork() while the parent held it: the
        lock stays the parent's.
        """
        h = self._h
        if h is None:
            if self._closed:
                raise _closed_error()
            return False
        return bool(h.locked())

    def holder_pid(self) -> "Optional[int]":
        """The pid of a process that holds a lock on this file, or None.

        None also when the OS cannot tell (Windows). The answer may be stale
        by the time it is returned: use it for messages, not decisions.
        """
        calls = self._calls
        calls.append(None)  # before reading the handle: see close()
        h = None
        try:
            h = self._open()
            pid = h.holder_pid()
            if pid >= 0:
                return pid or None
            if pid == _core.ENOTSUP:
                return None
            raise _last_error(self._name)
        finally:
            calls.pop()
            if h is not None and self._h is not h and not calls:
                self._free(h)

    def _free(self, h: "_core.Handle") -> None:
        """Free a handle that close() left to the last call out (once)."""
        try:
            self._orphans.remove(h)
        except ValueError:  # another thread took it
            return
        h.close()  # ends the handle's asyncio attempts first

    def _busy_text(self) -> str:
        return f"Couldn't lock {_os.fsdecode(self._name)}"  # locket.py's message

    def _busy(self, cls: "type[LockError]") -> LockError:
        """LockTimeout or LockBusy with the path; the pid of a holder is looked
        up when someone reads e.holder_pid (reading /proc/locks costs far more
        than the failed try)."""
        e = cls(self._busy_text())
        e.path = self._name
        h = self._h
        if h is not None:
            e._holder_file = h.path()
        return e

    def _failed(self, rc: int, detail: "Any") -> BaseException:
        """The exception for a failed acquisition (called by the C acquire()
        with the error's detail, read right after the failure)."""
        if rc == _ETIMEDOUT:
            return self._busy(LockTimeout)
        if rc == _EWOULDBLOCK:
            return self._busy(LockBusy)
        code, os_error, message = detail
        return _error(code, os_error, message, self._name)

    # -- acquire / release -------------------------------------------------

    if TYPE_CHECKING:
        # Implemented in C (locket_python.i), installed on the class below: a Python method would
        # have points between the C call and its own return where a signal handler can raise
        # (KeyboardInterrupt) with the lock taken, and `with lock:` would then skip __exit__ (or
        # __exit__ would raise before releasing).

        def acquire(
            self,
            timeout: "Optional[float]" = _DEFAULT,
            *,
            shared: "Optional[bool]" = None,
            blocking: bool = True,
        ) -> bool:
            """Take the lock and return True, or raise (never returns False)."""

        def __enter__(self) -> "Lock":
            """acquire() with the lock's timeout and mode; returns the lock."""

        def release(self) -> None:
            """Release the lock (NotHeldError if this object does not hold it)."""

        def __exit__(self, exc_type: "object", exc: "Optional[BaseException]", tb: "object") -> None:
            """Release; a failed release is noted on the body's exception."""

    def _release_failed(self, rc: int, detail: "Any") -> BaseException:
        """The exception for a failed release (called by the C release())."""
        if self._h is None:
            if self._closed:
                return _closed_error()
            return NotHeldError("cannot release unlocked lock")  # never acquired
        code, os_error, message = detail
        return _error(code, os_error, message, self._name)

    def _note_release_failure(self, exc: BaseException, release_error: "Optional[BaseException]") -> None:
        _note(exc, f"locket: releasing {_os.fsdecode(self._name)!r} failed too: {release_error!r}")

    def close(self) -> None:
        """Release the lock if held and free the handle. Idempotent.

        Tasks waiting in acquire_async() get ValueError. A thread waiting in
        acquire() on this object gets ValueError when its wait ends (if it
        got the lock, it releases it first); the handle is freed by the last
        call to leave the C library.
        """
        # Under the GIL: a call registers itself in _calls before it reads
        # _h, and close() clears _h before it looks at _calls, so either the
        # call sees no handle or close() sees the call and leaves the free to it.
        self._closed = True
        h, self._h = self._h, None
        if h is None:
            return
        self._orphans.append(h)
        if self._waiters:
            self._abort_waiters()
        calls = self._calls
        if calls:
            # Calls are in progress on h: release the lock, leave the free to them.
            calls.append(None)
            try:
                if h.locked():
                    h.release()
            finally:
                calls.pop()
                if not calls:
                    self._free(h)
        else:
            self._free(h)

    def _abort_waiters(self) -> None:
        import asyncio

        for waiter in list(self._waiters):
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is waiter.loop:
                waiter.abort()
            else:
                try:
                    waiter.loop.call_soon_threadsafe(waiter.abort)
                except RuntimeError:  # the loop is closed
                    pass

    # -- asyncio -----------------------------------------------------------

    async def acquire_async(
        self, timeout: "Optional[float]" = _DEFAULT, *, shared: "Optional[bool]" = None
    ) -> bool:
        """acquire() for asyncio: waits without blocking the event loop.

        The loop itself waits: it watches a descriptor that the release of
        the lock makes readable (Linux) and tries again then, or after a
        short delay (Windows, and releases that make no event). Cancelling
        the awaiting task ends the wait and leaves the lock not held.
        """
        import asyncio

        ms = self._ms if timeout is _DEFAULT else _timeout_ms(timeout)
        flags = self._flags & ~_INTERRUPTIBLE
        if shared is not None:
            flags = _SHARED if shared else 0
        calls = self._calls
        calls.append(None)  # before reading the handle: see close()
        h = None
        try:
            h = self._open()
            rc = h.acquire(0, flags)
            if rc == 0 and self._h is not h:
                h.release()
                raise _closed_during_call()
        finally:
            calls.pop()
            if h is not None and self._h is not h and not calls:
                self._free(h)
        if rc == 0:
            return True
        if rc != _EWOULDBLOCK:
            raise _last_error(self._name) if self._h is h else _closed_during_call()
        if ms == 0:
            raise self._busy(LockBusy)
        loop = asyncio.get_running_loop()
        deadline = None if ms < 0 else loop.time() + ms / 1000
        for w in list(self._waiters):
            if w.loop is loop and w.future.done():
                w.stop()  # its descriptor (the handle's) may be the new attempt's
        if self._h is not h:
            raise _closed_during_call()
        attempt = _core.Attempt(h, flags)  # tries once more
        rc = attempt.status
        if rc == 0:
            return True
        if rc != _EWOULDBLOCK:
            raise _last_error(self._name)
        waiter = _AsyncWaiter(self, loop, attempt, deadline)
        self._waiters.add(waiter)  # until stop(): close() stops it first
        try:
            await waiter.future
        except BaseException:
            waiter.stop()
            if waiter.granted():  # the grant raced a cancellation: give it back
                self._release_quietly(h)
            raise
        # Unwatching costs a syscall and some Python: let the task run first.
        loop.call_soon(waiter.stop)
        return True

    def _release_quietly(self, h: "_core.Handle") -> None:
        calls = self._calls
        calls.append(None)
        try:
            if self._h is h:  # else close() released it
                h.release()
        finally:
            calls.pop()
            if self._h is not h and not calls:
                self._free(h)

    async def __aenter__(self) -> "Lock":
        await self.acquire_async()
        return self

    async def __aexit__(self, exc_type: "object", exc: "Optional[BaseException]", tb: "object") -> None:
        self.__exit__(exc_type, exc, tb)

    # -- copies ------------------------------------------------------------

    def __reduce_ex__(self, protocol: "Any") -> "Any":
        raise TypeError(
            f"cannot pickle {type(self).__name__!r} object: a lock belongs to the process "
            "and the object that took it (pass the path and make a new lock)"
        )

    def __copy__(self) -> "Lock":
        raise TypeError(f"cannot copy {type(self).__name__!r} object (make a new lock on the same path)")

    def __deepcopy__(self, memo: "Any") -> "Lock":
        raise TypeError(f"cannot copy {type(self).__name__!r} object (make a new lock on the same path)")

    # -- life cycle --------------------------------------------------------

    def __del__(self, _finalizing: "Any" = _sys.is_finalizing, _warn: "Any" = _warnings.warn) -> None:
        # Module globals may be gone at interpreter shutdown: what this needs is bound as defaults.
        h = getattr(self, "_h", None)
        if h is None:
            return
        self._h = None
        self._closed = True
        try:
            # Silent at exit, as locket.py is (the warnings machinery may be half torn down).
            if h.locked() and not _finalizing():
                text = self._gc_text
                if text is None:
                    text = f"lock on {self._name!r} garbage-collected while held; releasing it"
                _warn(text, ResourceWarning, stacklevel=2, source=self)
        finally:  # even if the warning is turned into an error (-W error)
            h.close()

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        else:
            h = self._h
            state = "locked" if h is not None and h.locked() else "unlocked"
        mode = " shared" if self._shared else ""
        return f"<locket.Lock path={self._name!r}{mode} {state}>"


# acquire() and __enter__ are C methods of the class (see Lock).
_core._lock_methods(Lock, _DEFAULT, _real_seconds)


def _main_thread_is(ident: int) -> None:
    """Tell the C layer which thread runs Python's signal handlers: only a
    wait in that thread is interruptible."""
    _core._set_main_thread(ident)


_main_thread_is(_threading.main_thread().ident or 0)
if hasattr(_os, "register_at_fork"):
    # A child forked from another thread runs its handlers in that thread.
    _os.register_at_fork(after_in_child=lambda: _main_thread_is(_threading.get_ident()))


def lock_file(
    path: "StrOrBytesPath",
    timeout: "Optional[float]" = None,
    retry_period: "Optional[float]" = None,
    **kwargs: "Any",
) -> "Lock":
    """A Lock on the file at path; the call of locket.py.

    As in locket.py, nothing touches the file system until the first
    acquire(): the file (and its directory) need not exist yet, and a bad
    path fails at acquire(). The arguments are checked now.

    timeout (seconds) applies to every acquire(): None waits forever, 0 tries
    once. retry_period is accepted and ignored (waits are not polled).
    Keyword arguments shared, create and mode go to Lock.
    """
    shared = kwargs.pop("shared", False)
    create = kwargs.pop("create", True)
    mode = kwargs.pop("mode", 0o666)
    if kwargs:
        raise TypeError(f"lock_file() got an unexpected keyword argument {next(iter(kwargs))!r}")
    lock = Lock.__new__(Lock)
    lock._setup(path, timeout, retry_period, shared, create, mode)
    # Collected while held: the warning locket.py's objects give (that of its
    # open file), so that warning filters written for locket.py still apply.
    lock._gc_text = f"unclosed file <_io.BufferedWriter name={lock._name!r}>"
    return lock
