#!/usr/bin/env bash
# What README.md and docs/lua.md say about LuaRocks on Debian 12: `luarocks
# --lua-version 5.4 make` and `luarocks --lua-version 5.1 make
# LUA_INCDIR=/usr/include/luajit-2.1` build rocks that lua5.4 and luajit load.
# Then the release's .src.rock (scripts/wheels.sh DIR rock) is installed with
# `luarocks install`, offline (it carries the sources), for Lua 5.4 and LuaJIT.
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
	use "$rt" "$version" "$tree"
}
check_rock() {  # RUNTIME LUA_VERSION [VAR=VALUE...]: luarocks install of the .src.rock
	local rt=$1 version=$2 tree=$work/rock-tree-$1; shift 2
	# --deps-mode=none: nothing is fetched (the only dependency is Lua itself).
	if ! (cd "$work" && luarocks --lua-version "$version" --tree "$tree" install --deps-mode=none \
		"$rock" "$@") >"$work/$rt-rock.log" 2>&1; then
		cat "$work/$rt-rock.log"; echo "FAIL: luarocks --lua-version $version install $rock $*"; return 1
	fi
	grep -q "locket $rockver is now installed" "$work/$rt-rock.log" ||
		{ cat "$work/$rt-rock.log"; echo "FAIL: luarocks did not install locket $rockver"; return 1; }
	use "$rt" "$version" "$tree"
}
use() {  # RUNTIME LUA_VERSION TREE: the runtime loads the installed rock and locks with it
	local rt=$1 version=$2 tree=$3
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

# The release's source rock, made from this checkout's files.
"$work/src/scripts/wheels.sh" "$work/dist" rock >"$work/rock.log" 2>&1 || { cat "$work/rock.log"; exit 1; }
rock=$(ls "$work"/dist/locket-*.src.rock)
rockver=$(basename "$rock" .src.rock | sed 's/^locket-//')
check_rock lua5.4 5.4
check_rock luajit 5.1 LUA_INCDIR=/usr/include/luajit-2.1
echo "ok: $(basename "$rock") installs offline with luarocks install for Lua 5.4 and LuaJIT"
