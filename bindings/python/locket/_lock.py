"""The Lock class and lock_file(), locket.py's call."""

import os as _os
import sys as _sys
import threading as _threading
import warnings as _warnings  # already loaded at start-up; __del__ must not import

from . import _core
from ._args import DEFAULT, check_range, kind_of, mode_of, path_of, real_seconds, timeout_ms
from ._errors import (
    LockBusy,
    LockError,
    LockTimeout,
    NotHeldError,
    _closed_error,
    _error,
    _last_error,
    _note,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import Any, Optional, Set, Union

    from ._asyncio import _AsyncWaiter

    StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


_DEFAULT = DEFAULT

# Looked up once: the uncontended path counts every attribute access.
_SHARED = _core.SHARED
_INTERRUPTIBLE = _core.INTERRUPTIBLE
_EWOULDBLOCK = _core.EWOULDBLOCK
_ETIMEDOUT = _core.ETIMEDOUT



_timeout_ms = timeout_ms


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
    across_hosts: True makes acquire() raise ScopeError, naming the
      filesystem and why, where the lock cannot exclude processes on other
      hosts or other views of the file (lock_scope() says "this-host" or
      "unknown"); judged on the file actually locked, at every acquire()
      (about a microsecond on Linux). Default False: nothing is looked at.
    kind: "flock" (the default: flock(2) on the whole file, what flock(1),
      locket.py and filelock take) or "ofd" (an open file description lock,
      fcntl F_OFD_SETLK, on a byte range: what excludes fcntl.lockf,
      fasteners and ``flock --fcntl``; Linux 3.15+, else an OSError with
      errno ENOLCK at acquire; on Windows every kind is LockFileEx on the
      range). start, length: the "ofd" lock's byte range (bytes >= 0;
      length 0, the default: to the end of the file); "flock" takes none.

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
        "_kind",
        "_start",
        "_length",
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
        across_hosts: bool = False,
        kind: str = "flock",
        start: int = 0,
        length: int = 0,
    ) -> None:
        self._setup(path, timeout, retry_period, shared, create, mode, across_hosts, kind, start, length)
        self._open()

    def _setup(
        self,
        path: "StrOrBytesPath",
        timeout: "Optional[float]",
        retry_period: "Optional[float]",
        shared: bool,
        create: bool,
        mode: int,
        across_hosts: bool = False,
        kind: str = "flock",
        start: int = 0,
        length: int = 0,
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
        name, raw = path_of(path)
        if retry_period is not None:
            _timeout_ms(retry_period)  # validated, then unused
        mode = mode_of(mode)
        self._ms = _timeout_ms(timeout)
        self._timeout = timeout
        self._shared = bool(shared)
        self._flags = _INTERRUPTIBLE | (_SHARED if shared else 0)
        self._name = name
        self._raw = raw
        self._mode = mode
        self._open_flags = (0 if create else _core.NO_CREATE) | (_core.ACROSS_HOSTS if across_hosts else 0)
        self._kind = kind_of(kind)
        check_range(self._kind, start, length)
        self._start = start
        self._length = length

    def _open(self) -> "_core.Handle":
        """The handle, opening the file first if this is the first use."""
        h = self._h
        if h is not None:
            return h
        if self._closed:
            raise _closed_error()
        h = _core.Handle(self._raw, self._mode, self._open_flags, self._kind, self._start, self._length)
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
        self._calls.append(None)  # before reading the handle: see close()
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
            self._leave(h)

    def check(self) -> bool:
        """True while the held lock is the lock of the file the path names.

        Raises LockLost once the file was removed, replaced or renamed away
        (or a directory of its path was) while held: the lock stays held,
        on the old file, until release(). Raises NotHeldError when this
        object does not hold the lock. Costs an fstat and a stat.
        """
        self._calls.append(None)  # before reading the handle: see close()
        h = None
        try:
            h = self._h
            if h is None:
                if self._closed:
                    raise _closed_error()
                raise NotHeldError("cannot check unlocked lock")
            rc = h.check()
            if rc == _core.OK:
                return True
            if rc == _core.ENOTHELD:
                raise NotHeldError("cannot check unlocked lock")
            raise _last_error(self._name)
        finally:
            self._leave(h)

    def _leave(self, h: "Optional[_core.Handle]") -> None:
        """End a call into the C library, begun by self._calls.append(None)
        before the handle was read (see close()): the last call out frees the
        handle h when close() has left it behind meanwhile. The C methods
        (acquire, release) keep the same count."""
        calls = self._calls
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
        # Implemented in C (python_lock.i), installed on the class below: a Python method would
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
            from ._asyncio import abort_waiters  # loaded: it made the waiters

            abort_waiters(self)
        if self._calls:
            # Calls are in progress on h: release the lock, leave the free to them.
            self._calls.append(None)
            try:
                if h.locked():
                    h.release()
            finally:
                self._leave(h)
        else:
            self._free(h)

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
        from ._asyncio import acquire  # asyncio costs tens of ms to import: not before it is used

        ms = self._ms if timeout is _DEFAULT else _timeout_ms(timeout)
        flags = self._flags & ~_INTERRUPTIBLE
        if shared is not None:
            flags = _SHARED if shared else 0
        return await acquire(self, ms, flags)

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
_core._lock_methods(Lock, _DEFAULT, real_seconds)


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
    Keyword arguments shared, create, mode, across_hosts, kind, start and
    length go to Lock (kind="ofd" with start and length: an OFD lock on that
    byte range).
    """
    shared = kwargs.pop("shared", False)
    create = kwargs.pop("create", True)
    mode = kwargs.pop("mode", 0o666)
    across_hosts = kwargs.pop("across_hosts", False)
    kind = kwargs.pop("kind", "flock")
    start = kwargs.pop("start", 0)
    length = kwargs.pop("length", 0)
    if kwargs:
        raise TypeError(f"lock_file() got an unexpected keyword argument {next(iter(kwargs))!r}")
    lock = Lock.__new__(Lock)
    lock._setup(path, timeout, retry_period, shared, create, mode, across_hosts, kind, start, length)
    # Collected while held: the warning locket.py's objects give (that of its
    # open file), so that warning filters written for locket.py still apply.
    lock._gc_text = f"unclosed file <_io.BufferedWriter name={lock._name!r}>"
    return lock
