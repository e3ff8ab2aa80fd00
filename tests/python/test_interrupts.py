"""An interrupt never leaves a lock held (issue 19 item 8), and Ctrl-C reaches
a waiter whose program has other threads (issue 18 item 2).

A SIGINT that lands anywhere between the entry of acquire() / __enter__ and
their return to the caller must leave the lock not held when the call ends
by KeyboardInterrupt; `with lock:` then never skips __exit__. The storms run
in a child process that a grandchild bombards with SIGINT about every
millisecond."""

import subprocess
import sys

import locket
import pytest
from conftest import WINDOWS, child_env, held_elsewhere

pytestmark = pytest.mark.skipif(WINDOWS, reason="no POSIX signals on Windows (Ctrl-C: test_windows.py)")

# A process that sends SIGINT to argv[1] about every millisecond until it is gone.
SENDER = r"""
import os, sys, time
pid = int(sys.argv[1])
print("ready", flush=True)
while True:
    try:
        os.kill(pid, 2)
    except ProcessLookupError:
        break
    time.sleep(0.001)
"""

# argv: lock path, pattern ("with"; "acquire": acquire() as __enter__; "release": acquire(),
# then release() in a finally; "threading-*" use a threading.Lock as the control), seconds.
# Prints "<interrupts> <leaks> <entered>": a leak is a KeyboardInterrupt that ended the
# acquisition (or the with statement) with the lock still held.
STORM = r"""
import os, signal, subprocess, sys, threading, time
import locket

path, pattern, seconds, sender_code = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
class Via(locket.Lock):
    # acquire() itself as __enter__: the with statement leaves no window between
    # the call's return and the handler (a bare `lock.acquire()` statement has
    # one in the caller's frame, threading.Lock's too, which no library can close).
    __enter__ = locket.Lock.acquire

if pattern.startswith("threading"):
    lock = threading.Lock()
elif pattern == "acquire":
    lock = Via(path)
else:
    lock = locket.Lock(path)
armed = False

def on_sigint(signum, frame):
    # One KeyboardInterrupt per iteration: the bookkeeping below runs uninterrupted.
    global armed
    if armed:
        armed = False
        raise KeyboardInterrupt

signal.signal(signal.SIGINT, on_sigint)
sender = subprocess.Popen([sys.executable, "-c", sender_code, str(os.getpid())],
                          stdout=subprocess.PIPE, text=True)
assert sender.stdout.readline() == "ready\n"
interrupts = leaks = entered = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        armed = True
        if pattern == "release":
            # try/finally, the way code without `with` releases: release() must not be
            # interruptible before it released.
            lock.acquire()
            try:
                entered += 1
            finally:
                lock.release()
        else:
            with lock:
                entered += 1
        armed = False
    except KeyboardInterrupt:
        interrupts += 1
        if lock.locked():
            leaks += 1
            lock.release()
signal.signal(signal.SIGINT, signal.SIG_IGN)
sender.kill()
sender.wait()
sender.stdout.close()
print(interrupts, leaks, entered, flush=True)
"""


def run_storm(lock_path, pattern, seconds=1.5):
    out = subprocess.run(
        [sys.executable, "-c", STORM, lock_path, pattern, str(seconds), SENDER],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    interrupts, leaks, entered = map(int, out.stdout.split()[-3:])
    return interrupts, leaks, entered


@pytest.mark.skipif(
    sys.version_info < (3, 10),
    reason="CPython before 3.10 can raise KeyboardInterrupt between a with block's end and its "
    "__exit__ call (bpo-29988, fixed in 3.10): no lock, threading.Lock included, can close that "
    "(measured on 3.9: 2 of 1300 interrupts)",
)
@pytest.mark.parametrize("pattern", ["with", "acquire"])
def test_sigint_storm_never_leaves_the_lock_held(lock_path, pattern):
    interrupts, leaks, entered = run_storm(lock_path, pattern)
    assert interrupts > 50 and entered > 50, (interrupts, entered)  # the storm did reach the calls
    assert leaks == 0, f"{leaks} of {interrupts} interrupts left the lock held"
    assert not held_elsewhere(lock_path)  # and the child's exit left nothing behind


# A waiter in the main thread while another thread runs (issue 18 item 2): the kernel may hand the
# process-directed SIGINT to the other thread; the wait must still end promptly, because the C
# library asks the interpreter (the interrupt callback) after every handler and every 50 ms.
THREADED_WAITER = """
import sys, threading, time, locket
lock = locket.Lock(sys.argv[1])
timeout = None if sys.argv[2] == "None" else float(sys.argv[2])
stop = threading.Event()
def busy():  # a logging thread, a pool worker: runs and sleeps by turns
    while not stop.is_set():
        sum(range(1000))
        time.sleep(0.0005)
worker = threading.Thread(target=busy)
worker.start()
if sys.argv[3] == "worker":
    # Only the worker can take SIGINT now: Python's C handler runs there, and the main thread's
    # wait learns of it only by asking the interpreter (the callback, every <= 50 ms).
    import signal
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
print("waiting", flush=True)
try:
    lock.acquire(timeout=timeout)
    print("acquired", flush=True)
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), lock.locked(), flush=True)
stop.set()
worker.join()
"""


@pytest.mark.parametrize("delivered_to", ["any", "worker"])
@pytest.mark.parametrize("timeout", [None, 5])
def test_sigint_ends_a_wait_while_another_thread_runs(lock_path, children, timeout, delivered_to):
    import time

    holder = locket.Lock(lock_path)
    holder.acquire()
    child = children(THREADED_WAITER, lock_path, timeout, delivered_to)
    child.expect("waiting")
    child.wait_blocked()
    # From another process (the kernel picks the thread), as Ctrl-C does.
    subprocess.run([sys.executable, "-c", f"import os; os.kill({child.pid}, 2)"], check=True)
    sent = time.monotonic()
    word, at, locked = child.line().split()
    assert word == "interrupted" and locked == "False"
    # Target 50 ms; the bound leaves room for a loaded 2-core machine.
    assert float(at) - sent < 1.0, f"KeyboardInterrupt {float(at) - sent:.3f} s after the SIGINT"
    assert child.wait() == 0
    assert held_elsewhere(lock_path)  # still the holder's
    holder.release()


def test_a_wait_in_another_thread_is_not_interrupted(lock_path, children):
    """Python runs handlers only in the main thread: a waiter elsewhere passes no callback, and a
    SIGINT (KeyboardInterrupt in the main thread) does not end its wait."""
    import os
    import signal

    from conftest import wait_blocked

    holder = locket.Lock(lock_path)
    holder.acquire()
    child = children(
        """
        import sys, threading, time, locket
        lock = locket.Lock(sys.argv[1])
        out = []
        def wait():
            try:
                lock.acquire(timeout=30)
                out.append("acquired")
                lock.release()
            except BaseException as e:
                out.append(type(e).__name__)
        t = threading.Thread(target=wait)
        t.start()
        try:
            print("waiting", flush=True)  # inside: the SIGINT may come as soon as this is read
            while True:  # the kernel may give the SIGINT to the waiting thread: poll for the handler
                time.sleep(0.01)
        except KeyboardInterrupt:
            print("main interrupted", flush=True)
        sys.stdin.readline()
        t.join()
        print(out[0], flush=True)
        """,
        lock_path,
    )
    child.expect("waiting")
    for task in os.listdir(f"/proc/{child.pid}/task"):
        if task != str(child.pid):
            wait_blocked(f"/proc/{child.pid}/task/{task}/stat")
    os.kill(child.pid, signal.SIGINT)
    child.expect("main interrupted")
    holder.release()
    child.send("go")
    child.expect("acquired")
    assert child.wait() == 0
