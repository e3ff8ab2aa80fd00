#!/usr/bin/env bash
# bench/python/venv.sh BUILD_DIR OUT_DIR: make (once) and update the venv of the Python suites,
# OUT_DIR/venv-python, with the Python the binding in BUILD_DIR was built for: filelock, fasteners,
# portalocker from PyPI, and locket.py extracted as `locketpy` into OUT_DIR/venv-python/anchors
# (our package is also called locket). Used by bench/python/run.sh and bench/issue18/run.sh.
set -euo pipefail
build=${1:?usage: bench/python/venv.sh BUILD_DIR OUT_DIR}
out=${2:?usage: bench/python/venv.sh BUILD_DIR OUT_DIR}
python=$(sed -n 's/^_\?Python_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt" | head -n1)
[ -x "${python:-}" ] || python=python3
venv=$out/venv-python
if [ ! -x "$venv/bin/python" ]; then
	"$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade filelock fasteners portalocker
anchors=$venv/anchors
if [ ! -f "$anchors/locketpy/__init__.py" ]; then
	rm -rf "$anchors" "$venv/dl"
	"$venv/bin/python" -m pip download -q --no-deps --only-binary :all: -d "$venv/dl" locket
	"$venv/bin/python" - "$venv/dl" "$anchors" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "locket-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    src = z.read("locket/__init__.py")
    meta = [n for n in z.namelist() if n.endswith("dist-info/METADATA")][0]
    version = z.read(meta).decode().split("\nVersion: ", 1)[1].split()[0]
os.makedirs(os.path.join(sys.argv[2], "locketpy"), exist_ok=True)
with open(os.path.join(sys.argv[2], "locketpy", "__init__.py"), "wb") as f:
    f.write(src + f"\n__version__ = {version!r}\n".encode())
PY
fi
