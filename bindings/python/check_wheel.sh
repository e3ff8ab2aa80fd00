#!/usr/bin/env bash
# Build the wheel from this checkout with pip, install it into a fresh virtual
# environment, and run the pytest suite against the installed package (not the
# build tree). Usage: bindings/python/check_wheel.sh [python] ; needs PyPI
# (scikit-build-core, swig, pytest).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${1:-python3}
work=${LOCKET_WHEEL_DIR:-$root/build-wheel}
rm -rf "$work/venv" "$work/dist"
mkdir -p "$work"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip wheel -q --no-deps -w "$work/dist" "$root"
"$work/venv/bin/python" -m pip install -q "$work"/dist/locket-*.whl pytest mypy
# The wheel must need nothing at run time but the C runtime.
so=$(find "$work/venv" -name '__core*.so' | head -n1)
if ldd "$so" | grep -v -E 'linux-vdso|libc\.so|ld-linux|libpthread|libm\.so' | grep -q '=>'; then
  echo "unexpected run-time dependency:" >&2; ldd "$so" >&2; exit 1
fi
cd "$root/tests/python"
env -u PYTHONPATH "$work/venv/bin/python" -c 'import locket, sys; print("testing", locket.__file__, file=sys.stderr)'
env -u PYTHONPATH "$work/venv/bin/python" -m pytest -q -p no:cacheprovider .
