#!/usr/bin/env bash
# Build Lua 5.4 for Windows (lua.exe, lua54.dll) with mingw-w64, for the Lua
# binding's Windows build (scripts/windows-test.sh --lua), from Debian's
# lua5.4 source (scripts/lua-source.sh, cached in build/lua-src).
#   scripts/windows-lua.sh [OUT_DIR]      (default: build/lua-windows; ~15 s)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/build/lua-windows}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -f "$out/lua.exe" ] && [ -f "$out/lua54.dll" ] && [ -f "$out/include/lua.h" ]; then
	echo "$out"
	exit 0
fi
src=$("$root/scripts/lua-source.sh" "$root/build/lua-src")
work=$(mktemp -d /tmp/locket-lua-win.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/lua"
cd "$work/lua"
make -C src mingw CC="x86_64-w64-mingw32-gcc -std=gnu99" AR="x86_64-w64-mingw32-ar rcu" \
	RANLIB=x86_64-w64-mingw32-ranlib -j2 >&2
mkdir -p "$out/include"
cp src/lua.exe src/lua54.dll "$out/"
cp src/lua.h src/luaconf.h src/lualib.h src/lauxlib.h src/lua.hpp "$out/include/"
echo "$out"
