#!/usr/bin/env bash
# Install what is missing, then configure and build the default preset
# (library, CLI, Python and Lua bindings, tests, benchmarks) in build/default.
# The Python binding is built for, and tested with, build/venv (scripts/python-env.sh:
# a venv of the first python3 on the PATH, or of $LOCKET_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
LOCKET_NO_WINDOWS=${LOCKET_NO_WINDOWS:-1} scripts/install-deps.sh
pyargs=$(scripts/python-env.sh --cmake-args)
mapfile -t pyargs <<<"$pyargs"
cmake --preset default "${pyargs[@]}" >/dev/null
cmake --build --preset default -j2
