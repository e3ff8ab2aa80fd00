#!/usr/bin/env bash
# Unpack Lua 5.4's source, as Debian ships it (the original tarball plus Debian's CVE patches;
# Debian's build-system patches are left out: they do not cross-build), into OUT_DIR/lua-5.4.x
# and print that directory. Fetched with apt-get source through a private source list: the
# system's apt configuration is not changed. Used by scripts/windows-lua.sh (Lua for Windows)
# and scripts/cross-build.sh (lua.h for the macOS and FreeBSD modules). Cached: a second call
# with the same OUT_DIR prints the directory at once.
#   scripts/lua-source.sh OUT_DIR      (~10 s the first time)
set -euo pipefail
out=${1:?usage: scripts/lua-source.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
done_dir=$(cat "$out/.complete" 2>/dev/null || true)
if [ -n "$done_dir" ] && [ -f "$done_dir/src/lua.h" ]; then
	echo "$done_dir"
	exit 0
fi
work=$(mktemp -d /tmp/locket-lua-src.XXXXXX)
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
src=$(ls -d lua-5.4.*/)
src=${src%/}
for p in debian/patches/*cve*.patch; do (cd "$src" && patch -p1 <"../$p" >&2); done
rm -rf "${out:?}/$src"
mv "$src" "$out/$src"
echo "$out/$src" >"$out/.complete"
echo "$out/$src"
