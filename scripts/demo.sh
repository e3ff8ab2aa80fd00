#!/usr/bin/env bash
# Quick start, part 1: build everything and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
demo/workers.sh build/default
