"""Type stubs for the SWIG-generated module locket._core (bindings/python/locket_python.i).

Low level: methods return locket's int codes (OK or a negative error); the
detail of a failure is read with last_error() right after, on the same thread.
"""

from typing import Optional, Tuple

OK: int
EWOULDBLOCK: int
ETIMEDOUT: int
ENOTHELD: int
EINTR: int
EINVAL: int
ENOENT: int
EACCES: int
EISDIR: int
ENOTSUP: int
ENOMEM: int
EIO: int
NO_CREATE: int
SHARED: int
INTERRUPTIBLE: int

def error_name(code: int) -> str: ...
def strerror(code: int) -> str: ...
def last_error_code() -> int: ...
def last_os_error() -> int: ...
def last_error_message() -> str: ...
def last_error() -> Tuple[int, int, str]:
    """(code, os_error, message) of the last failure on this thread."""
def version() -> str: ...
def version_number() -> int: ...

class Handle:
    """A box around a locket_t handle; never raises for locket's own errors."""

    @property
    def open_error(self) -> int:
        """locket_new()'s result: OK, or the code of why the file could not be opened."""
    def __init__(self, path: str | bytes, file_mode: int, flags: int) -> None: ...
    def close(self) -> None: ...
    def closed(self) -> int: ...
    def acquire(self, timeout_ms: int, flags: int) -> int:
        """OK or a code. With INTERRUPTIBLE, Python signal handlers run during
        the wait: if one raises, so does this call (lock not held); otherwise
        the wait goes on until the same deadline (EINTR is never returned)."""
    def release(self) -> int: ...
    def locked(self) -> int: ...
    def holder_pid(self) -> int:
        """The holder's pid, 0 when none is seen, or a negative code."""
    def path(self) -> Optional[bytes]: ...

class AsyncWait:
    """One acquire waited for on a C thread (POSIX); sends a byte on notify_fd
    (which it takes over and closes) when done."""

    def __init__(self, handle: Handle, timeout_ms: int, flags: int, notify_fd: int) -> None: ...
    def cancel(self) -> None: ...
    def done(self) -> int: ...
    def result(self) -> Optional[Tuple[int, int, str]]:
        """(code, os_error, message) once done(), else None."""
