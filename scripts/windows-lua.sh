#!/usr/bin/env bash
# Build Lua 5.4 for Windows (lua.exe, lua54.dll) with mingw-w64, for the Lua
# binding's Windows build (scripts/windows-test.sh --lua). The source is
# Debian's lua5.4 (original tarball plus Debian's two CVE patches; Debian's
# build-system patches do not cross-build), fetched with apt-get source
# through a private source list: the system's apt configuration is not changed.
#   scripts/windows-lua.sh [OUT_DIR]      (default: build/lua-windows; ~15 s)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/build/lua-windows}
if [ -f "$out/lua.exe" ] && [ -f "$out/lua54.dll" ] && [ -f "$out/include/lua.h" ]; then
	echo "$out"
	exit 0
fi
work=$(mktemp -d /tmp/locket-lua-win.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial"
# The same archive and suite the system's apt uses for binaries, as deb-src.
read -r uri suite < <(
	{ sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1 |
		tr '\n' ' '; . /etc/os-release && echo "$VERSION_CODENAME"; } ||
	awk '$1 == "deb" && $3 !~ /security|updates/ { print $2, $3; exit }' /etc/apt/sources.list)
[ -n "${uri:-}" ] && [ -n "${suite:-}" ] || { echo "no Debian apt source found" >&2; exit 1; }
echo "deb-src $uri $suite main" >"$work/src.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/src.list" -o Dir::Etc::SourceParts=/nonexistent
	-o "Dir::State::Lists=$work/lists" -o APT::Sandbox::User=root -o DPkg::Lock::Timeout=300)
(cd "$work" && apt-get "${apt_opts[@]}" update -qq && apt-get "${apt_opts[@]}" source --download-only lua5.4) >&2
cd "$work"
tar xzf lua5.4_*.orig.tar.gz
tar xJf lua5.4_*.debian.tar.xz
cd lua-5.4.*/
for p in ../debian/patches/*cve*.patch; do patch -p1 <"$p" >&2; done
make -C src mingw CC="x86_64-w64-mingw32-gcc -std=gnu99" AR="x86_64-w64-mingw32-ar rcu" \
	RANLIB=x86_64-w64-mingw32-ranlib -j2 >&2
mkdir -p "$out/include"
cp src/lua.exe src/lua54.dll "$out/"
cp src/lua.h src/luaconf.h src/lualib.h src/lauxlib.h src/lua.hpp "$out/include/"
echo "$out"
