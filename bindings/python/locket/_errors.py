"""locket's exceptions, and the mapping of the C library's error codes to them."""

import errno as _errno
import os as _os
import sys as _sys

from . import _core

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Union


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


class ScopeError(LockError):
    """across_hosts=True, and the lock file's filesystem keeps locks on this
    host or in one view of the file (NFS nolock or local_lock=, CIFS nobrl,
    9p, virtiofs, overlay, FUSE) or is unknown: nothing was locked. The
    message names the filesystem and why (see lock_scope())."""


class LockLost(LockError):
    """check(): the lock file was removed, replaced or renamed away while
    held. The lock is still held (on the old file) until release()."""




# The C library's codes that are OSErrors in Python: the class, and the errno
# used when the OS gave none.
_OS_ERRORS = {
    _core.ENOENT: (FileNotFoundError, _errno.ENOENT),
    _core.EACCES: (PermissionError, _errno.EACCES),
    _core.EISDIR: (IsADirectoryError, _errno.EISDIR),
    _core.ENOTSUP: (OSError, _errno.ENOLCK),
    _core.EIO: (OSError, _errno.EIO),
    _core.EINTR: (InterruptedError, _errno.EINTR),
}


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
    if code == _core.ESCOPE or code == _core.ELOST:
        e: LockError = (ScopeError if code == _core.ESCOPE else LockLost)(message)
        e.path = filename
        return e
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
