#!/usr/bin/env bash
# Quick start, part 1: build everything and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
# The demo's python3 is the one the binding was built for (build/venv, see scripts/build.sh).
PATH="$PWD/build/venv/bin:$PATH" demo/workers.sh build/default
