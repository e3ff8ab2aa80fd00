"""Type stubs for the SWIG-generated module locket._core (bindings/python/locket_python.i).

Low level: methods return locket's int codes (OK or a negative error); the
detail of a failure is read with last_error() right after, on the same thread.
"""

from typing import Any, Callable, Optional, Tuple

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
ESCOPE: int
ELOST: int
NO_CREATE: int
SHARED: int
INTERRUPTIBLE: int
KIND_FLOCK: int
KIND_OFD: int
ACROSS_HOSTS: int
SCOPE_UNKNOWN: int
SCOPE_LOCAL: int
SCOPE_NETWORK: int
SCOPE_THIS_HOST: int

def scope_kind(path: str | bytes, lock_kind: int) -> int:
    """locket_scope(): the kind (SCOPE_*, >= 0) or a negative code; the
    strings of the answer from scope_fs_type() and scope_reason()."""
def scope_fs_type() -> str: ...
def scope_reason() -> str: ...
def scope_name(kind: int) -> str: ...

def error_name(code: int) -> str: ...
def strerror(code: int) -> str: ...
def last_error_code() -> int: ...
def last_os_error() -> int: ...
def last_error_message() -> str: ...
def last_error() -> Tuple[int, int, str]:
    """(code, os_error, message) of the last failure on this thread."""
def version() -> str: ...
def version_number() -> int: ...
def timeout_ms(seconds: Optional[float]) -> int:
    """Seconds (None: forever) to milliseconds by locket_timeout_ms(): -1 for
    forever (None, +inf, anything too large), 0 for a try, else rounded up.
    ValueError for NaN and negative numbers, TypeError for non-numbers."""
def _set_main_thread(ident: int) -> None:
    """The thread whose waits are interruptible (the one that runs signal handlers)."""
def _lock_methods(cls: type, default: Any, real_seconds: Callable[[Any], float]) -> None:
    """Install the C acquire, __enter__, release and __exit__ on the package's Lock."""

class Handle:
    """A box around a locket_t handle; never raises for locket's own errors."""

    @property
    def open_error(self) -> int:
        """locket_new()'s result: OK, or the code of why the file could not be opened."""
    def __init__(
        self,
        path: str | bytes,
        file_mode: int,
        flags: int,
        kind: int = ...,
        start: int = ...,
        length: int = ...,
    ) -> None: ...
    def close(self) -> None: ...
    def closed(self) -> int: ...
    def acquire(self, timeout_ms: int, flags: int) -> int:
        """OK or a code, after one locket_acquire_with() call. With
        INTERRUPTIBLE, in the main thread, Python signal handlers run during
        the wait (at least every 50 ms): if one raises, so does this call
        (lock not held); otherwise the wait goes on until the same deadline
        (EINTR is never returned). Elsewhere signals do not end the wait."""
    def release(self) -> int: ...
    def locked(self) -> int: ...
    def check(self) -> int:
        """locket_check(): OK, ELOST, ENOTHELD or another code."""
    def holder_pid(self) -> int:
        """The holder's pid, 0 when none is seen, or a negative code."""
    def path(self) -> Optional[bytes]: ...

class Attempt:
    """locket_attempt_*: an acquisition that an event loop drives. Holds a
    reference to its Handle; Handle.close() finishes it first."""

    @property
    def status(self) -> int:
        """locket_attempt_start()'s result: OK (held at once), EWOULDBLOCK
        (drive this attempt) or an error (read last_error() now)."""
    def __init__(self, handle: Handle, flags: int) -> None: ...
    def fd(self) -> int:
        """Readable when a release may have happened; -1 when there is none.
        May change after each try_()."""
    def retry_ms(self) -> int:
        """The longest wait before the next try_(), in milliseconds."""
    def try_(self) -> int:
        """OK (the handle holds the lock), EWOULDBLOCK (wait again) or an
        error (EINVAL when finished). Anything but EWOULDBLOCK finishes it."""
    def close(self) -> None:
        """Finish the attempt now (a lock it obtained stays held). Idempotent."""
