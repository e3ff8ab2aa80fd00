#!/usr/bin/env bash
# The Lua benchmark suite: bench/lua/run.sh BUILD_DIR -> bench/out/lua.json.
# Runs on the first of lua5.3, lua5.1 that has lua-filesystem and lua-posix and a locket module
# in BUILD_DIR/lua/<runtime> (Debian's lua-posix has no 5.4 build).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/bench}
out=${LOCKET_BENCH_OUT:-$root/bench/out}
mkdir -p "$out"
for rt in lua5.3 lua5.1; do
	mod=$build/lua/$rt
	command -v "$rt" >/dev/null && [ -f "$mod/locket/core.so" ] || continue
	export LUA_PATH="$mod/?.lua;$mod/?/init.lua;;" LUA_CPATH="$mod/?.so;;"
	"$rt" -e 'require "lfs"; require "posix.fcntl"' 2>/dev/null || continue
	quick=""; [ "${LOCKET_BENCH_QUICK:-0}" = 1 ] && quick=quick
	echo "bench/lua: $rt, module from $mod" >&2
	exec "$rt" "$root/bench/lua/bench.lua" "$out/lua.json" $quick
done
echo "bench/lua: no Lua runtime with lfs, luaposix and a locket module in $build/lua" >&2
exit 1
