"""asyncio: waiting does not block the event loop, and cancelling a waiting
task leaves nothing held."""

import asyncio
import gc
import time

import locket
import pytest
from conftest import EARLY, held_elsewhere, try_in_other_process


@pytest.fixture(autouse=True, params=["c_thread", "python_thread"])
def waiter_kind(request, monkeypatch):
    """Every test runs with both waiters: the C thread that wakes the loop
    through a socket (POSIX), and the portable Python thread."""
    if request.param == "python_thread":
        monkeypatch.setattr(locket, "_AsyncWait", None)
    elif locket._AsyncWait is None:
        pytest.skip("no C-thread waiter in this build")
    return request.param


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
        waiter = asyncio.ensure_future(lock.acquire_async())
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
        waiter = asyncio.ensure_future(lock.acquire_async())
        await asyncio.sleep(0.05)  # usually inside the wait by then; either way must hold
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
        tasks = [asyncio.ensure_future(work(n)) for n in range(5)]
        await asyncio.sleep(0.02)  # most are waiting by then; either way all get through
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
    task = loop.create_task(lock.acquire_async())
    task._log_destroy_pending = False  # the point of the test: no log noise
    loop.run_until_complete(asyncio.sleep(0.05))  # let it start waiting
    loop.close()
    del task, lock
    gc.collect()
    child.send("release")
    child.expect("released")
    locket.Lock(lock_path).acquire(timeout=10)  # the abandoned waiter gave it up
