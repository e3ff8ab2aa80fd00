#!/usr/bin/env bash
# Install what is missing, then configure and build the default preset
# (library, CLI, Python and Lua bindings, tests, benchmarks) in build/default.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCKET_NO_WINDOWS=${LOCKET_NO_WINDOWS:-1} scripts/install-deps.sh
python3 -m pip install -q -r requirements-dev.txt
cmake --preset default >/dev/null
cmake --build --preset default -j2
