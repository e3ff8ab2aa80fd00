#!/usr/bin/env bash
# What README.md and docs/lua.md say about LuaRocks on Debian 12: `luarocks
# --lua-version 5.4 make` and `luarocks --lua-version 5.1 make
# LUA_INCDIR=/usr/include/luajit-2.1` build rocks that lua5.4 and luajit load.
# Runs in a copy of the checkout and installs into private trees.
#   usage: tests/docs/check_luarocks.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v luarocks >/dev/null || { echo "luarocks not installed"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/locket-luarocks.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The checkout's files as they are now (tracked and new), without build trees.
mkdir "$work/src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work/src"
else  # an exported tree (no .git)
	(cd "$root" && tar --exclude=./build --exclude='./build-*' -cf - .) | tar -xf - -C "$work/src"
fi

check() {  # RUNTIME LUA_VERSION [VAR=VALUE...]
	local rt=$1 version=$2 tree=$work/tree-$1; shift 2
	if ! (cd "$work/src" && rm -rf build-luarocks &&
		luarocks --lua-version "$version" --tree "$tree" make "$@") >"$work/$rt.log" 2>&1; then
		cat "$work/$rt.log"; echo "FAIL: luarocks --lua-version $version make $*"; return 1
	fi
	LUA_PATH="$tree/share/lua/$version/?.lua;$tree/share/lua/$version/?/init.lua" \
	LUA_CPATH="$tree/lib/lua/$version/?.so" "$rt" -e '
		local locket = require "locket"
		local lock = assert(locket.lock_file(os.getenv("LOCK")))
		assert(lock:acquire(0)); assert(lock:locked()); lock:release(); lock:close()
		print("ok: " .. (jit and jit.version or _VERSION) .. " loads the rock")' ||
		{ echo "FAIL: $rt cannot use the rock"; return 1; }
}
export LOCK=$work/lock
check lua5.4 5.4
check luajit 5.1 LUA_INCDIR=/usr/include/luajit-2.1
