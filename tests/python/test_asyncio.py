"""asyncio: waiting does not block the event loop, and cancelling a waiting
task leaves nothing held."""

import asyncio
import gc
import os
import time

import locket
import pytest
from conftest import EARLY, fds_on, held_elsewhere, skip_on_portable_engine, skip_on_windows, try_in_other_process, until_waiting


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_async_with_on_a_free_lock(lock_path):
    lock = locket.lock_file(lock_path)

    async def main():
        async with lock as entered:
            assert entered is lock
            assert lock.locked() and held_elsewhere(lock_path)
        assert not lock.locked()

    run(main())


def test_waiting_does_not_block_the_loop(lock_path, holder):
    child = holder(lock_path)
    lock = locket.lock_file(lock_path)

    async def main():
        ticks = 0
        before = fds_on(lock_path)
        waiter = asyncio.ensure_future(lock.acquire_async())
        await until_waiting(lock_path, [waiter], before)
        while ticks < 20:
            await asyncio.sleep(0.005)
            ticks += 1
        assert not waiter.done()
        child.send("release")
        await asyncio.get_running_loop().run_in_executor(None, child.expect, "released")
        start = time.monotonic()
        assert await waiter is True
        assert time.monotonic() - start < 5
        assert lock.locked()
        lock.release()

    run(main())


def test_cancelling_a_waiting_task_leaves_nothing_held(lock_path, holder):
    child = holder(lock_path)
    lock = locket.lock_file(lock_path)

    async def main():
        before = fds_on(lock_path)
        waiter = asyncio.ensure_future(lock.acquire_async())
        await until_waiting(lock_path, [waiter], before)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert not lock.locked()

    run(main())
    child.send("release")
    child.expect("released")
    assert not lock.locked()
    assert try_in_other_process(lock_path) == "got"
    with lock:  # still usable
        pass


def test_cancel_racing_the_grant_leaves_nothing_held(lock_path):
    """The release and the cancellation at the same moment, many times: the
    waiter either never got the lock or gave it back."""
    holder = locket.lock_file(lock_path)
    lock = locket.lock_file(lock_path)

    async def main():
        for i in range(30):
            holder.acquire()
            waiter = asyncio.ensure_future(lock.acquire_async())
            await asyncio.sleep(0.002 * (i % 5))  # release at varying phases of the wait
            holder.release()
            waiter.cancel()
            try:
                await waiter
            except asyncio.CancelledError:
                assert not lock.locked()
            else:
                lock.release()
            assert not held_elsewhere(lock_path)

    run(main())


def test_cancel_after_the_attempt_succeeded_leaves_nothing_held(lock_path):
    """Issue 19 item 8: the attempt got the lock (its future is resolved) and the task is
    cancelled before it resumes: acquire_async() must end with CancelledError and the lock given
    back. A loop callback watches for the grant and cancels in the same loop iteration."""
    holder = locket.lock_file(lock_path)
    lock = locket.lock_file(lock_path)

    async def main():
        loop = asyncio.get_running_loop()
        for _ in range(5):
            holder.acquire()
            before = fds_on(lock_path)
            waiter = asyncio.ensure_future(lock.acquire_async())
            await until_waiting(lock_path, [waiter], before)
            cancelled_after_grant = []

            def watch(waiter=waiter, seen=cancelled_after_grant):
                if any(w.granted() for w in lock._waiters):
                    waiter.cancel()
                    seen.append(True)
                elif not waiter.done():
                    loop.call_soon(watch)

            loop.call_soon(watch)
            holder.release()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert cancelled_after_grant, "the grant was never seen before the task resumed"
            assert not lock.locked()
            assert not held_elsewhere(lock_path)

    run(main())


def test_wait_for_timeout_cancels_cleanly(lock_path, holder):
    holder(lock_path)
    lock = locket.lock_file(lock_path)

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lock.acquire_async(), 0.1)
        assert not lock.locked()

    run(main())


def test_async_timeout(lock_path, holder):
    holder(lock_path)
    lock = locket.lock_file(lock_path, timeout=0.3)

    async def main():
        start = time.monotonic()
        with pytest.raises(locket.LockTimeout):
            async with lock:
                pass
        assert 0.3 - EARLY <= time.monotonic() - start < 1.5
        with pytest.raises(locket.LockBusy):
            await lock.acquire_async(timeout=0)
        assert not lock.locked()

    run(main())


def test_many_async_waiters_all_get_through(lock_path, holder):
    child = holder(lock_path)
    lock = locket.lock_file(lock_path)
    order = []

    async def work(n):
        async with lock:
            order.append(n)
            await asyncio.sleep(0)

    async def main():
        before = fds_on(lock_path)
        tasks = [asyncio.ensure_future(work(n)) for n in range(5)]
        await until_waiting(lock_path, tasks, before)
        child.send("release")
        await asyncio.gather(*tasks)

    run(main())
    assert sorted(order) == list(range(5))
    assert not lock.locked()


def test_async_shared(lock_path, holder):
    holder(lock_path, shared=True)
    reader = locket.Lock(lock_path, shared=True)

    async def main():
        await reader.acquire_async(timeout=0)
        reader.release()
        with pytest.raises(locket.LockBusy):
            await reader.acquire_async(timeout=0, shared=False)

    run(main())


def test_async_bad_path_errors(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    lock = locket.Lock(d / "lock")
    (d / "lock").unlink()
    d.rmdir()

    async def main():
        with pytest.raises(FileNotFoundError):
            async with lock:
                pass

    run(main())


def test_task_dropped_with_its_loop(lock_path, holder):
    """A waiting task whose loop is closed and which is then collected must
    not crash the process nor keep the lock once the holder releases."""
    child = holder(lock_path)
    loop = asyncio.new_event_loop()
    lock = locket.Lock(lock_path)
    before = fds_on(lock_path)
    task = loop.create_task(lock.acquire_async())
    task._log_destroy_pending = False  # the point of the test: no log noise
    loop.run_until_complete(until_waiting(lock_path, [task], before))
    loop.close()
    del task, lock
    gc.collect()
    child.send("release")
    child.expect("released")
    with locket.Lock(lock_path, timeout=10):  # the abandoned waiter gave it up
        pass


def test_ticker_keeps_running_while_waiting(lock_path, holder):
    """Another task of the loop runs throughout the wait; then the release
    across processes hands the lock over."""
    child = holder(lock_path)
    lock = locket.Lock(lock_path)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        before = fds_on(lock_path)
        waiter = asyncio.ensure_future(lock.acquire_async())
        await until_waiting(lock_path, [waiter], before)
        while ticks < 50:  # the loop is not blocked: the ticker advances
            await asyncio.sleep(0.001)
        assert not waiter.done()
        child.send("release")
        assert await waiter is True
        assert lock.locked() and held_elsewhere(lock_path)
        lock.release()
        t.cancel()

    run(main())


@skip_on_windows("Windows has no release event to watch: async waits retry every retry_ms, more often than this bound")
@skip_on_portable_engine("no release event to watch: async waits retry every retry_ms, more often than this bound")
def test_two_locks_in_one_loop_both_get_it(lock_path, holder):
    """Two Lock objects on one file (two handles), waiting in one loop: each
    gets the lock in turn, and their tries do not wake each other into a spin."""
    child = holder(lock_path)
    a, b = locket.Lock(lock_path), locket.Lock(lock_path)
    tries = []
    from locket._asyncio import _AsyncWaiter

    real_try = _AsyncWaiter._try

    def counting_try(self):
        tries.append(self)
        real_try(self)

    async def main(monkeypatch):
        monkeypatch.setattr(_AsyncWaiter, "_try", counting_try)
        inside = []

        async def work(lock, name):
            async with lock:
                inside.append(name)
                assert len(inside) == 1, inside  # exclusive
                await asyncio.sleep(0.01)
                inside.remove(name)
            return name

        tasks = [asyncio.ensure_future(work(a, "a")), asyncio.ensure_future(work(b, "b"))]
        await asyncio.sleep(1)
        # Backing off from 100 ms, each tries a few times a second; waiters that
        # woke each other would have tried thousands of times.
        assert len(tries) < 100, len(tries)
        assert not any(t.done() for t in tasks)
        child.send("release")
        assert sorted(await asyncio.gather(*tasks)) == ["a", "b"]

    with pytest.MonkeyPatch.context() as mp:
        run(main(mp))
    assert not a.locked() and not b.locked() and not held_elsewhere(lock_path)


def test_killed_holder_hands_over(lock_path, holder):
    child = holder(lock_path)
    lock = locket.Lock(lock_path)

    async def main():
        before = fds_on(lock_path)
        waiter = asyncio.ensure_future(lock.acquire_async(timeout=30))
        await until_waiting(lock_path, [waiter], before)
        child.kill()  # SIGKILL: the kernel drops the holder's lock
        assert await waiter is True
        assert lock.locked()
        lock.release()

    run(main())


def test_shared_waiters_wait_for_the_writer_then_share(lock_path, holder):
    child = holder(lock_path)  # exclusive
    r1, r2 = locket.Lock(lock_path, shared=True), locket.Lock(lock_path, shared=True)

    async def main():
        before = fds_on(lock_path)
        w1 = asyncio.ensure_future(r1.acquire_async())
        w2 = asyncio.ensure_future(r2.acquire_async())
        await until_waiting(lock_path, [w1, w2], before)
        child.send("release")
        await asyncio.gather(w1, w2)
        assert r1.locked() and r2.locked()  # both at once: shared
        assert try_in_other_process(lock_path) == "busy"  # excludes a writer
        r1.release()
        r2.release()

    run(main())
    assert try_in_other_process(lock_path) == "got"


def test_async_shared_through_one_object(lock_path):
    """Two tasks taking the same shared Lock object: the second waits for the
    first's release (one object holds its lock once), then gets it."""
    lock = locket.Lock(lock_path, shared=True)

    async def main():
        await lock.acquire_async()
        before = fds_on(lock_path)
        second = asyncio.ensure_future(lock.acquire_async())
        await until_waiting(lock_path, [second], before)
        lock.release()
        await second
        assert lock.locked()
        lock.release()

    run(main())


def test_async_try_and_timeout_in_one_deadline(lock_path, holder):
    holder(lock_path)
    lock = locket.Lock(lock_path)

    async def main():
        with pytest.raises(locket.LockBusy):
            await lock.acquire_async(timeout=0)
        start = time.monotonic()
        with pytest.raises(locket.LockTimeout):
            await lock.acquire_async(timeout=0.25)
        assert 0.25 - EARLY <= time.monotonic() - start < 1.5
        assert not lock.locked()

    run(main())


def test_close_during_wait_raises_and_frees(lock_path, holder):
    child = holder(lock_path)
    lock = locket.Lock(lock_path)

    async def main():
        before = fds_on(lock_path)
        waiter = asyncio.ensure_future(lock.acquire_async())
        await until_waiting(lock_path, [waiter], before)
        lock.close()
        with pytest.raises(ValueError, match="closed"):
            await waiter

    run(main())
    child.send("release")
    child.expect("released")
    assert try_in_other_process(lock_path) == "got"


@skip_on_windows("Windows cannot remove a directory while a file in it is open")
def test_lock_removed_during_wait(tmp_path, holder):
    """The directory goes away while the task waits: an error, nothing held."""
    d = tmp_path / "d"
    d.mkdir()
    path = str(d / "lock")
    child = holder(path)
    lock = locket.Lock(path, create=False)

    async def main():
        before = fds_on(path)
        waiter = asyncio.ensure_future(lock.acquire_async(timeout=30))
        await until_waiting(path, [waiter], before)
        os.unlink(path)
        d.rmdir()
        child.send("release")
        with pytest.raises(FileNotFoundError):
            await waiter
        assert not lock.locked()

    run(main())


@skip_on_windows("an Attempt has no descriptor on Windows (fd() is -1); test_windows.py checks the rest")
@skip_on_portable_engine("an Attempt has no descriptor (fd() is -1)")
def test_handle_close_finishes_its_attempts(lock_path, holder):
    """The low-level guard: Handle.close() ends a live Attempt first, which
    then reports EINVAL instead of touching the freed handle."""
    holder(lock_path)
    h = locket._core.Handle(lock_path.encode(), 0o666, 0)
    attempt = locket._core.Attempt(h, 0)
    assert attempt.status == locket._core.EWOULDBLOCK
    assert attempt.fd() >= 0 and attempt.retry_ms() > 0
    assert attempt.try_() == locket._core.EWOULDBLOCK
    h.close()
    assert attempt.try_() == locket._core.EINVAL
    assert attempt.fd() == -1
    attempt.close()
    del h
    gc.collect()
    del attempt  # freed after its handle box: no crash
    gc.collect()


@skip_on_windows("POSIX: a descriptor watched by a selector loop; on Windows neither exists")
@skip_on_portable_engine("an Attempt has no descriptor (fd() is -1) for the selector to watch")
def test_next_wait_right_after_a_grant_is_watched(lock_path, holder):
    """A grant leaves its clean-up (unwatching the descriptor) for after the
    task resumed; a new wait on the same object at once reuses the handle's
    descriptor, and must stay watched (else only the retry timer wakes it)."""
    child = holder(lock_path)
    lock, other = locket.Lock(lock_path), locket.Lock(lock_path)
    seen = []

    async def main():
        loop = asyncio.get_running_loop()
        loop.call_later(0.02, child.send, "release")
        await lock.acquire_async()
        lock.release()
        other.acquire()

        def probe():
            try:
                (w,) = [w for w in lock._waiters if not w.future.done()]
                key = loop._selector.get_map().get(w.fd)  # None: not watched
                seen.append(key is not None and key.data[0]._callback == w._try)
            finally:
                other.release()

        loop.call_later(0.02, probe)
        await lock.acquire_async()  # in the same step as the grant above
        lock.release()

    run(main())
    assert seen == [True]
