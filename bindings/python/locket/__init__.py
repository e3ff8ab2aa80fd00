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
# milliseconds) is imported by the async methods (._asyncio), numbers only for
# timeouts that are neither int nor float, typing only by type checkers
# (annotations are strings: no __future__ import).
from . import _core
from ._errors import LockBusy, LockError, LockLost, LockTimeout, NotHeldError, ScopeError
from ._lock import Lock, lock_file
from ._scope import Scope, lock_scope

__all__ = [
    "Lock",
    "LockBusy",
    "LockError",
    "LockLost",
    "LockTimeout",
    "NotHeldError",
    "Scope",
    "ScopeError",
    "lock_file",
    "lock_scope",
]

__version__: str = _core.version()

# One public home for the names (reprs, pickled exceptions, help()): the
# layout is filelock's, the names are locket's.
for _obj in (Lock, LockBusy, LockError, LockLost, LockTimeout, NotHeldError, Scope, ScopeError, lock_file, lock_scope):
    _obj.__module__ = __name__
del _obj


def __dir__() -> "list[str]":
    return sorted(__all__ + ["__version__"])
