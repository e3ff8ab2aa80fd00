#!/usr/bin/env bash
# Regenerate abi/liblocket.abi from a build (default: build/default). Only for
# an intended ABI change, together with a version bump.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/default}
abidw --headers-dir include --no-corpus-path --out-file abi/liblocket.abi "$build/core/liblocket.so"
echo "abi/liblocket.abi updated from $build"
