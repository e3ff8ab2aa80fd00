"""acquire_async(): a wait driven by the caller's asyncio loop. Imported on the
first async call (asyncio costs tens of milliseconds to import)."""

import asyncio

from . import _core
from ._errors import LockBusy, LockTimeout, _closed_during_call, _closed_error, _last_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ._lock import Lock

# With nothing to watch (a loop without add_reader), acquire_async() tries
# at least this often (what the C library does where it has no descriptor).
_POLL_S = 0.016


_EWOULDBLOCK = _core.EWOULDBLOCK


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



async def acquire(lock: "Lock", ms: int, flags: int) -> bool:
    """Lock.acquire_async() once its arguments are checked: ms is the C
    library's timeout (-1 forever, 0 a try)."""
    lock._calls.append(None)  # before reading the handle: see Lock.close()
    h = None
    try:
        h = lock._open()
        rc = h.acquire(0, flags)
        if rc == 0 and lock._h is not h:
            h.release()
            raise _closed_during_call()
    finally:
        lock._leave(h)
    if rc == 0:
        return True
    if rc != _EWOULDBLOCK:
        raise _last_error(lock._name) if lock._h is h else _closed_during_call()
    if ms == 0:
        raise lock._busy(LockBusy)
    loop = asyncio.get_running_loop()
    deadline = None if ms < 0 else loop.time() + ms / 1000
    for w in list(lock._waiters):
        if w.loop is loop and w.future.done():
            w.stop()  # its descriptor (the handle's) may be the new attempt's
    if lock._h is not h:
        raise _closed_during_call()
    attempt = _core.Attempt(h, flags)  # tries once more
    rc = attempt.status
    if rc == 0:
        return True
    if rc != _EWOULDBLOCK:
        raise _last_error(lock._name)
    waiter = _AsyncWaiter(lock, loop, attempt, deadline)
    lock._waiters.add(waiter)  # until stop(): close() stops it first
    try:
        await waiter.future
    except BaseException:
        waiter.stop()
        if waiter.granted():  # the grant raced a cancellation: give it back
            _release_quietly(lock, h)
        raise
    # Unwatching costs a syscall and some Python: let the task run first.
    loop.call_soon(waiter.stop)
    return True


def _release_quietly(lock: "Lock", h: "_core.Handle") -> None:
    lock._calls.append(None)
    try:
        if lock._h is h:  # else close() released it
            h.release()
    finally:
        lock._leave(h)


def abort_waiters(lock: "Lock") -> None:
    """Lock.close() during acquire_async() waits: each ends with ValueError,
    on its own loop's thread."""
    for waiter in list(lock._waiters):
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
