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
bash "$here/venv.sh" "$build" "$out"
venv=$out/venv-python
anchors=$venv/anchors
quick=()
[ "${LOCKET_BENCH_QUICK:-0}" = 1 ] && quick=(--quick)
PYTHONPATH="$pkg:$anchors" exec "$venv/bin/python" "$here/bench.py" --out "$out/python.json" "${quick[@]}" "${@:2}"
