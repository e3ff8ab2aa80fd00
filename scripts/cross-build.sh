#!/usr/bin/env bash
# Cross-build locket for macOS or FreeBSD on this Linux machine, warnings as errors:
# the C library (shared and static), the CLI, the Lua 5.4 module and, for macOS, the Python
# extension (one per CPython whose macOS headers are at hand). Nothing is run: these are
# build checks of code that is tested on Linux (docs/cross.md says what that does and does
# not prove). The compiler is zig cc from PyPI's ziglang (cmake/toolchain-zig.cmake), with
# its own macOS and FreeBSD libc headers; SWIG from PyPI; lua.h from Debian's Lua source
# (scripts/lua-source.sh); the macOS CPython headers from Maven Central's org.bytedeco:cpython
# jars (as scripts/windows-cpython.sh does for Windows). Everything fetched is cached under
# build/ (build/cross/: tools ~60 MB, Lua ~0.4 MB, ~25 MB per CPython jar; build/m2: Maven).
#   usage: scripts/cross-build.sh [--check] TARGET [DIR]
#   TARGET: aarch64-macos, x86_64-macos, x86_64-freebsd    DIR: default build/cross-TARGET
# At the end every product is checked with file(1) (Mach-O arm64/x86_64, ELF FreeBSD);
# --check only checks an existing DIR (fails when a product is missing or of another format).
# LOCKET_CROSS_NO_PYTHON=1: no Python extension (and no CPython headers fetched).
# LOCKET_CROSS_PYTHONS=all: the extension for every CPython listed for the target below (arm64:
# 3.13 and 3.14; what scripts/wheels.sh packs into macOS wheels), not only the first.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check_only=0
if [ "${1:-}" = --check ]; then check_only=1; shift; fi
target=${1:?usage: scripts/cross-build.sh [--check] TARGET [DIR] (aarch64-macos, x86_64-macos, x86_64-freebsd)}
dir=${2:-$root/build/cross-$target}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
t0=$SECONDS
say() { echo "cross-build $target: $* ($((SECONDS - t0)) s)"; }
cache=$root/build/cross

# The CPythons whose headers the macOS extension is built against: X.Y and its jar's version
# (CPython version - JavaCPP presets release; not every version has a jar for each machine).
# zig's target names the oldest system the binaries run on: macOS 11 (the first on arm64),
# 10.15 on x86_64 (zig's default would be its newest, macOS 15); FreeBSD 14.0 (zig's oldest).
case $target in
aarch64-macos) pythons=("3.13 3.13.0-1.5.11" "3.14 3.14.3-1.5.13") jar_os=macosx-arm64 zig_target=aarch64-macos.11.0 ;;
x86_64-macos) pythons=("3.12 3.12.1-1.5.10") jar_os=macosx-x86_64 zig_target=x86_64-macos.10.15 ;;
x86_64-freebsd) pythons=() jar_os= zig_target=x86_64-freebsd.14.0 ;; # no FreeBSD CPython headers on the registries
*) echo "cross-build.sh: unknown target '$target' (aarch64-macos, x86_64-macos, x86_64-freebsd)" >&2; exit 2 ;;
esac
[ -z "${LOCKET_CROSS_NO_PYTHON:-}" ] || pythons=()
case ${LOCKET_CROSS_PYTHONS:-first} in
all) ;;
first) [ ${#pythons[@]} -eq 0 ] || pythons=("${pythons[0]}") ;;
*) echo "cross-build.sh: LOCKET_CROSS_PYTHONS is 'all' or 'first', not '$LOCKET_CROSS_PYTHONS'" >&2; exit 2 ;;
esac

# What a build leaves in DIR: the first tree (DIR) has the library, the CLI and the Lua module
# and the first CPython's extension; each further CPython gets a tree of its own (DIR/python-X.Y).
products=("$dir/core/liblocket.a")
if [[ $target == *-macos ]]; then products+=("$dir/core/liblocket.1.dylib"); else products+=("$dir/core/liblocket.so.1"); fi
products+=("$dir/cli/locket" "$dir/lua/custom/locket/core.so")
first=1
for p in ${pythons[@]+"${pythons[@]}"}; do
	read -r xy _ <<<"$p"
	if [ "$first" = 1 ]; then b=$dir; else b=$dir/python-$xy; fi
	products+=("$b/python/locket/__core.cpython-${xy/./}-darwin.so")
	first=0
done

# ---- check: each product's format and processor -------------------------------------------
check_products() {
	local want f desc tmp bad=0
	case $target in
	aarch64-macos) want='Mach-O 64-bit .*arm64' ;;
	x86_64-macos) want='Mach-O 64-bit .*x86_64' ;;
	x86_64-freebsd) want='ELF 64-bit LSB (executable|relocatable|shared object), x86-64' ;;
	esac
	for f in "${products[@]}"; do
		if [ ! -f "$f" ]; then
			echo "cross-build $target: missing: $f"
			bad=1
			continue
		fi
		if [[ $f == *.a ]]; then
			# An archive: the format of its members.
			tmp=$(mktemp -d /tmp/locket-cross-ar.XXXXXX)
			(cd "$tmp" && ar x "$f")
			desc=$(file -b "$(ls "$tmp"/*.o | head -n1)")
			rm -rf "$tmp"
		else
			desc=$(file -bL "$f")
		fi
		# A FreeBSD shared object carries no OS mark of its own (file(1) says SYSV): it must
		# need FreeBSD's C library, libc.so.7 (glibc's is libc.so.6, musl's libc.so); the
		# CLI carries FreeBSD's ABI note.
		if [[ $target == *-freebsd && $desc == *"shared object"* ]] &&
			! readelf -d "$f" | grep -q 'NEEDED.*\[libc\.so\.7\]'; then
			desc="$desc (needs no libc.so.7)"
		elif [[ $target == *-freebsd && $desc == *executable* && $desc != *"for FreeBSD"* ]]; then
			desc="$desc (no FreeBSD ABI note)"
		elif [[ $target == *-freebsd && $desc == *relocatable* && $desc != *"(FreeBSD)"* ]]; then
			desc="$desc (no FreeBSD OS ABI)"
		fi
		if [[ $desc =~ $want && $desc != *"(needs no"* && $desc != *"(no FreeBSD"* ]]; then
			echo "  ${f#"$root"/}: $desc"
		else
			echo "cross-build $target: ${f#"$root"/} is not /$want/: $desc"
			bad=1
		fi
	done
	return $bad
}
if [ "$check_only" = 1 ]; then
	check_products || exit 1
	say "checked: ${#products[@]} products for $target in ${dir#"$root"/}"
	exit 0
fi

# ---- tools: zig and SWIG from PyPI, in a venv of their own --------------------------------
tools=$cache/tools
tools_req="ziglang==0.17.1 swig==4.5.1"
if [ "$(cat "$tools/locket-tools" 2>/dev/null)" != "$tools_req" ]; then
	say "installing $tools_req into $tools (PyPI, once)"
	rm -rf "$tools"
	mkdir -p "$cache"
	python3 -m venv "$tools"
	# shellcheck disable=SC2086
	PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore "$tools/bin/pip" install -q $tools_req
	echo "$tools_req" >"$tools/locket-tools"
fi
zig=$("$tools/bin/python" -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
swig=$tools/bin/swig

# ---- lua.h: Lua 5.4's own headers (a module links against no Lua library) --------------
mkdir -p "$cache"
lua_src=$("$root/scripts/lua-source.sh" "$root/build/lua-src" 2>"$cache/lua-source.log") ||
	{ cat "$cache/lua-source.log"; exit 1; }

# ---- the macOS CPython headers ----------------------------------------------------------
py_includes=()
for p in ${pythons[@]+"${pythons[@]}"}; do
	read -r xy jar <<<"$p"
	inc=$cache/cpython-$jar_os-$jar/include/python$xy
	if [ ! -f "$inc/Python.h" ]; then
		command -v mvn >/dev/null || { echo "maven missing: scripts/install-deps.sh" >&2; exit 1; }
		say "fetching CPython $xy for $jar_os (org.bytedeco:cpython:$jar, Maven Central)"
		work=$(mktemp -d /tmp/locket-cpython-mac.XXXXXX)
		mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$root/build/m2" dependency:copy \
			-Dartifact="org.bytedeco:cpython:$jar:jar:$jar_os" -DoutputDirectory="$work" >"$cache/mvn.log" 2>&1 ||
			{ cat "$cache/mvn.log"; exit 1; }
		(cd "$work" && unzip -q cpython-*.jar "org/bytedeco/cpython/$jar_os/include/*")
		rm -rf "$cache/cpython-$jar_os-$jar"
		mkdir -p "$cache/cpython-$jar_os-$jar"
		mv "$work/org/bytedeco/cpython/$jar_os/include" "$cache/cpython-$jar_os-$jar/include"
		rm -rf "$work"
		[ -f "$inc/Python.h" ] || { echo "no include/python$xy/Python.h in the $jar_os jar" >&2; exit 1; }
	fi
	py_includes+=("$xy $inc")
done

# ---- configure and build ----------------------------------------------------------------
# One tree per CPython: the binding is built for one interpreter per tree. The first tree also
# has the library, the CLI and the Lua module; the others build the extension only.
trees=()
if [ ${#py_includes[@]} -eq 0 ]; then
	trees=("none -")
else
	trees=("${py_includes[@]}")
fi
first=1
for t in "${trees[@]}"; do
	read -r xy inc <<<"$t"
	if [ "$first" = 1 ]; then b=$dir; else b=$dir/python-$xy; fi
	args=(-G Ninja -S "$root" -B "$b" -DCMAKE_BUILD_TYPE=Release
		"-DCMAKE_TOOLCHAIN_FILE=$root/cmake/toolchain-zig.cmake" "-DLOCKET_ZIG_TARGET=$zig_target" "-DLOCKET_ZIG=$zig"
		-DLOCKET_WERROR=ON -DBUILD_TESTING=OFF -DLOCKET_BUILD_BENCH=OFF "-DSWIG_EXECUTABLE=$swig"
		-DLOCKET_ENGINE=portable)
	if [ "$first" = 1 ]; then
		args+=(-DLOCKET_BUILD_CLI=ON -DLOCKET_BUILD_LUA=ON "-DLOCKET_LUA_INCLUDE_DIR=$lua_src/src"
			-DLOCKET_LUA_CMOD_DIR=lib/lua/5.4 -DLOCKET_LUA_LMOD_DIR=share/lua/5.4)
	else
		args+=(-DLOCKET_BUILD_CLI=OFF -DLOCKET_BUILD_LUA=OFF)
	fi
	if [ "$xy" = none ]; then
		args+=(-DLOCKET_BUILD_PYTHON=OFF)
	else
		# The target CPython's headers and suffix (FindPython would find this machine's);
		# Python's symbols are left to the interpreter (-undefined dynamic_lookup).
		args+=(-DLOCKET_BUILD_PYTHON=ON -DLOCKET_PYTHON_REQUIRED=ON "-DLOCKET_PYTHON_CROSS_INCLUDE_DIR=$inc"
			"-DLOCKET_PYTHON_EXT_SUFFIX=.cpython-${xy/./}-darwin.so")
	fi
	mkdir -p "$b"
	say "configure ${b#"$root"/}$([ "$xy" = none ] || echo " (CPython $xy)")"
	cmake "${args[@]}" >"$b/cross-configure.log" 2>&1 || { cat "$b/cross-configure.log"; exit 1; }
	say "build ${b#"$root"/}"
	cmake --build "$b" -j2 >"$b/cross-build.log" 2>&1 || { cat "$b/cross-build.log"; exit 1; }
	first=0
done

check_products || exit 1
say "done: ${#products[@]} products for $target in ${dir#"$root"/}"
