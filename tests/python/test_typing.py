"""The package's type information is usable: mypy --strict accepts the
package and typical code using it (skipped where mypy is not installed)."""

import os
import subprocess
import sys

import locket
import pytest
from conftest import PACKAGE_ROOT

USE = '''
import asyncio
from typing import Optional
import locket

def sync_use(path: str) -> Optional[int]:
    with locket.lock_file(path, timeout=3) as lock:
        ok: bool = lock.acquire(timeout=0, shared=True) if False else lock.locked()
        assert ok
        return lock.holder_pid()

async def async_use(path: bytes) -> None:
    async with locket.Lock(path, shared=True):
        pass
    try:
        await locket.Lock(path).acquire_async(timeout=0.5)
    except locket.LockTimeout as e:
        err: TimeoutError = e
        print(err)
'''


def test_mypy_strict(tmp_path):
    pytest.importorskip("mypy")
    (tmp_path / "use.py").write_text(USE)
    env = dict(os.environ)
    if os.path.basename(PACKAGE_ROOT) not in ("site-packages", "dist-packages"):
        env["MYPYPATH"] = PACKAGE_ROOT  # a build tree; installed, mypy finds it by py.typed
    for target in (["-p", "locket"], [str(tmp_path / "use.py")]):
        out = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), *target],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )
        assert out.returncode == 0, out.stdout + out.stderr


def test_bytes_path_message_is_text(tmp_path):
    path = os.fsencode(tmp_path / "lock")
    holder = locket.Lock(path)
    holder.acquire()
    with pytest.raises(locket.LockBusy) as info:
        locket.Lock(path).acquire(timeout=0)
    assert str(info.value) == f"Couldn't lock {os.fsdecode(path)}"
    holder.release()
