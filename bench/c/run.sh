#!/usr/bin/env bash
# The C suite: bench/c/run.sh BUILD_DIR -> bench/out/c.json
# BUILD_DIR is a configured and built tree with LOCKET_BUILD_BENCH=ON (bench/run.sh makes one).
# Extra arguments go to locket-bench (e.g. --quick, or a subset: uncontended handoff cpu cli).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: bench/c/run.sh BUILD_DIR [locket-bench args]}" && pwd)
shift
out="$here/../out"
mkdir -p "$out"
bench="$build/bench/locket-bench"
[ -x "$bench" ] || { echo "bench/c: $bench not built" >&2; exit 1; }
cli_args=()
[ -x "$build/cli/locket" ] && cli_args=(--cli "$build/cli/locket")
exec "$bench" "${cli_args[@]}" --flock "$(command -v flock || echo flock)" --out "$out/c.json" "$@"
