"""Signals during a wait: a real SIGINT ends it with KeyboardInterrupt, other
handlers run and the wait goes on until the same deadline."""

import os
import signal
import time

import locket
import pytest
from conftest import EARLY, WINDOWS

pytestmark = pytest.mark.skipif(WINDOWS, reason="no POSIX signals on Windows (Ctrl-C: test_windows.py)")

SIGINT_CHILD = """
import sys, time, locket
lock = locket.Lock(sys.argv[1])
print("waiting", flush=True)
start = time.monotonic()
try:
    lock.acquire()
    print("acquired", flush=True)
except KeyboardInterrupt:
    print("interrupted", round(time.monotonic() - start, 3), lock.locked(), flush=True)
try:
    lock.acquire(timeout=0)
    print("acquired", flush=True)
except locket.LockBusy:
    print("busy", flush=True)
sys.stdin.readline()
lock.acquire(timeout=30)
print("acquired", lock.locked(), flush=True)
lock.release()
"""


def test_sigint_interrupts_a_wait(lock_path, children):
    holder = locket.Lock(lock_path)
    holder.acquire()
    child = children(SIGINT_CHILD, lock_path)
    child.expect("waiting")
    child.wait_blocked()
    sent = time.monotonic()
    os.kill(child.pid, signal.SIGINT)
    words = child.line().split()
    assert time.monotonic() - sent < 5
    assert words[0] == "interrupted" and words[2] == "False"
    # The object is still usable: it tries, sees the holder, then waits for it.
    child.expect("busy")
    holder.release()
    child.send("go")
    child.expect("acquired True")
    assert child.wait() == 0


def test_sigint_interrupts_a_timed_wait(lock_path, children):
    holder = locket.Lock(lock_path)
    holder.acquire()
    child = children(SIGINT_CHILD.replace("lock.acquire()", "lock.acquire(timeout=60)", 1), lock_path)
    child.expect("waiting")
    child.wait_blocked()
    os.kill(child.pid, signal.SIGINT)
    assert child.line().split()[0] == "interrupted"
    child.expect("busy")
    holder.release()
    child.send("go")
    child.expect("acquired True")


HANDLER_CHILD = """
import signal, sys, time, locket
lock = locket.Lock(sys.argv[1])
start = time.monotonic()
def handler(signum, frame):
    print("handler", round(time.monotonic() - start, 3), flush=True)
signal.signal(signal.SIGUSR1, handler)
print("waiting", flush=True)
try:
    lock.acquire(timeout=1.5)
except locket.LockTimeout:
    print("timeout", round(time.monotonic() - start, 3), lock.locked(), flush=True)
"""


def test_other_handlers_run_during_the_wait_and_the_deadline_holds(lock_path, children):
    holder = locket.Lock(lock_path)
    holder.acquire()
    child = children(HANDLER_CHILD, lock_path)
    child.expect("waiting")
    for _ in range(3):
        child.wait_blocked()
        os.kill(child.pid, signal.SIGUSR1)
        word, at = child.line().split()
        assert word == "handler" and float(at) < 1.5
    word, elapsed, locked = child.line().split()
    assert word == "timeout" and locked == "False"
    assert 1.5 - EARLY <= float(elapsed) < 2.5  # one deadline, not restarted by the signals
    holder.release()


RAISING_CHILD = """
import signal, sys, locket
class Stop(Exception):
    pass
def handler(signum, frame):
    raise Stop()
signal.signal(signal.SIGTERM, handler)
lock = locket.Lock(sys.argv[1])
print("waiting", flush=True)
try:
    lock.acquire()
except Stop:
    print("stopped", lock.locked(), flush=True)
"""


def test_handler_exception_ends_the_wait(lock_path, children):
    holder = locket.Lock(lock_path)
    holder.acquire()
    child = children(RAISING_CHILD, lock_path)
    child.expect("waiting")
    child.wait_blocked()
    os.kill(child.pid, signal.SIGTERM)
    child.expect("stopped False")
    holder.release()


def test_sigint_while_a_thread_of_the_same_process_holds_the_same_object(lock_path, children):
    """The wait for a hold through the same object is in-process; Ctrl-C still ends it."""
    child = children(
        """
        import sys, threading, locket
        lock = locket.Lock(sys.argv[1], shared=sys.argv[2] == "shared")
        t = threading.Thread(target=lock.acquire)
        t.start(); t.join()
        print("waiting", flush=True)
        try:
            lock.acquire()
        except KeyboardInterrupt:
            print("interrupted", lock.locked(), flush=True)
        """,
        lock_path,
        "shared",
    )
    child.expect("waiting")
    child.wait_blocked()
    os.kill(child.pid, signal.SIGINT)
    child.expect("interrupted True", timeout=10)  # still held by the other acquire


ASYNC_CHILD = """
import asyncio, sys, locket
lock = locket.Lock(sys.argv[1])
async def main():
    print("waiting", flush=True)
    async with lock:
        print("acquired", flush=True)
try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("interrupted", lock.locked(), flush=True)
"""


def test_sigint_cancels_an_async_wait(lock_path, children):
    holder = locket.Lock(lock_path)
    holder.acquire()
    child = children(ASYNC_CHILD, lock_path)
    child.expect("waiting")
    child.wait_blocked()
    sent = time.monotonic()
    os.kill(child.pid, signal.SIGINT)
    child.expect("interrupted False", timeout=10)
    assert time.monotonic() - sent < 5
    assert child.wait() == 0
    holder.release()
