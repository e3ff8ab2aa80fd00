#!/usr/bin/env bash
# The Python suite: bench/python/run.sh BUILD_DIR -> bench/out/python.json
# BUILD_DIR holds the built binding in BUILD_DIR/python/locket. The anchors
# (newest filelock, fasteners, portalocker, and locket.py, which is imported as
# `locketpy` because our package is also `locket`) go into a venv of this
# suite's own, bench/out/venv-python, made with the Python the binding was
# built for. LOCKET_BENCH_QUICK=1 takes few samples. Arguments after BUILD_DIR go
# to bench.py (e.g. --only import).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: bench/python/run.sh BUILD_DIR}" && pwd)
out=${LOCKET_BENCH_OUT:-$here/../out}
mkdir -p "$out"
pkg=$build/python
[ -f "$pkg/locket/__init__.py" ] || { echo "bench/python: $pkg/locket not built" >&2; exit 1; }
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
quick=()
[ "${LOCKET_BENCH_QUICK:-0}" = 1 ] && quick=(--quick)
PYTHONPATH="$pkg:$anchors" exec "$venv/bin/python" "$here/bench.py" --out "$out/python.json" "${quick[@]}" "${@:2}"
