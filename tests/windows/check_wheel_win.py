"""Run by the Windows CPython under Wine: pip (the interpreter's bundled one)
installs the win_amd64 wheel into a fresh directory, and a process that sees
only that directory imports locket from it and excludes another process.
  check_wheel_win.py WHEEL"""

import glob
import os
import subprocess
import sys
import tempfile

wheel = sys.argv[1]
pip = glob.glob(os.path.join(os.path.dirname(os.__file__), "ensurepip", "_bundled", "pip-*.whl"))[0]
env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
with tempfile.TemporaryDirectory() as target:
    subprocess.run([sys.executable, os.path.join(pip, "pip"), "install", "--no-index", "--no-deps",
                    "--disable-pip-version-check", "--target", target, wheel], check=True, env=env)
    check = """
import os, subprocess, sys, locket
target, lock_path = sys.argv[1], sys.argv[2]
assert os.path.dirname(os.path.dirname(locket.__file__)) == target, locket.__file__
with locket.lock_file(lock_path):
    out = subprocess.run([sys.executable, "-c",
        "import sys, locket\\ntry:\\n    locket.Lock(sys.argv[1]).acquire(timeout=0)\\n"
        "except locket.LockBusy:\\n    print('busy')", lock_path],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=target))
    assert out.stdout.strip() == "busy", (out.stdout, out.stderr)
print("wheel ok:", locket.__file__)
"""
    subprocess.run([sys.executable, "-c", check, target, os.path.join(target, "lock")], check=True,
                   env=dict(env, PYTHONPATH=target))
