#!/usr/bin/env bash
# The issue-18 suite: bench/issue18/run.sh BUILD_DIR [issue18.py args] -> bench/out/issue18.json
# The rows issue 18 added to the targets (threads x files, an unlock without a close after 0.5 s and
# 5 s, waiter CPU behind locket and foreign holders, a second thread in the waiter, uncontended vs
# the six syscalls), each beside its reference in the same run. BUILD_DIR needs the C benchmarks
# (locket-bench, locket-bench-waiter) and the Python binding; the Lua rows need a Lua runtime with
# the locket module in BUILD_DIR/lua/<runtime>. LOCKET_BENCH_QUICK=1 takes few samples.
# Extra arguments go to issue18.py (e.g. --only threads cpu).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: bench/issue18/run.sh BUILD_DIR}" && pwd)
out=${LOCKET_BENCH_OUT:-$here/../out}
mkdir -p "$out"
pkg=$build/python
[ -f "$pkg/locket/__init__.py" ] || { echo "bench/issue18: $pkg/locket not built" >&2; exit 1; }
[ -x "$build/bench/locket-bench-waiter" ] || { echo "bench/issue18: $build/bench/locket-bench-waiter not built" >&2; exit 1; }
bash "$here/../python/venv.sh" "$build" "$out"
venv=$out/venv-python
lua_args=()
for rt in lua5.3 lua5.4 lua5.1 luajit; do
	mod=$build/lua/$rt
	command -v "$rt" >/dev/null && [ -f "$mod/locket/core.so" ] || continue
	if LUA_PATH="$mod/?.lua;$mod/?/init.lua;;" LUA_CPATH="$mod/?.so;;" "$rt" -e 'require "locket"' 2>/dev/null; then
		export LUA_PATH="$mod/?.lua;$mod/?/init.lua;;" LUA_CPATH="$mod/?.so;;"
		lua_args=(--lua "$(command -v "$rt")")
		break
	fi
done
quick=()
[ "${LOCKET_BENCH_QUICK:-0}" = 1 ] && quick=(--quick)
PYTHONPATH="$pkg:$venv/anchors" exec "$venv/bin/python" "$here/issue18.py" --build "$build" \
	--out "$out/issue18.json" "${lua_args[@]}" "${quick[@]}" "${@:2}"
