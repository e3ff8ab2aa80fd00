#!/usr/bin/env bash
# One version number everywhere (include/locket.h is the source): the CMake
# project, the rockspec (its file name, version and tag), the CHANGELOG's
# newest entry, the SONAME (liblocket.so.1: the ABI's, not the release's) and,
# given a build directory, what the CLI, the C library and the Python and Lua
# bindings report at run time. The licence is in LICENSE, pyproject.toml and
# the rockspec, and `luarocks lint` accepts the rockspec.
#   usage: tests/packaging/check_versions.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-}
passed=0 failed=0
check() {  # WHAT GOT WANT
	if [ "$2" = "$3" ]; then echo "ok: $1: $2"; passed=$((passed + 1));
	else echo "FAIL: $1: '$2', expected '$3'"; failed=$((failed + 1)); fi
}
h=$root/include/locket.h
v=$(sed -n 's/^#define LOCKET_VERSION_STRING "\(.*\)"$/\1/p' "$h")
maj=$(sed -n 's/^#define LOCKET_VERSION_MAJOR \([0-9]*\)$/\1/p' "$h")
min=$(sed -n 's/^#define LOCKET_VERSION_MINOR \([0-9]*\)$/\1/p' "$h")
pat=$(sed -n 's/^#define LOCKET_VERSION_PATCH \([0-9]*\)$/\1/p' "$h")
num=$(sed -n 's/^#define LOCKET_VERSION_NUMBER \([0-9]*\)$/\1/p' "$h")
check "locket.h: MAJOR.MINOR.PATCH" "$maj.$min.$pat" "$v"
check "locket.h: LOCKET_VERSION_NUMBER" "$num" "$((maj * 10000 + min * 100 + pat))"
check "CMakeLists.txt: project() VERSION" \
	"$(sed -n 's/^project(locket VERSION \([0-9.]*\) .*/\1/p' "$root/CMakeLists.txt")" "$v"
check "pyproject.toml: version read from locket.h" \
	"$(grep -c "^input = \"include/locket.h\"" "$root/pyproject.toml")" 1
rs=$(cd "$root" && ls locket-*.rockspec)
check "rockspec file" "$rs" "locket-$v-1.rockspec"
check "rockspec version" "$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/$rs")" "$v-1"
check "rockspec tag" "$(sed -n 's/^ *tag = "\(.*\)",$/\1/p' "$root/$rs")" "v$v"
check "CHANGELOG.md: newest entry" "$(sed -n 's/^## \([0-9.]*\).*/\1/p' "$root/CHANGELOG.md" | head -n1)" "$v"
check "LICENSE" "$(head -n1 "$root/LICENSE")" "BSD 2-Clause License"
check "pyproject.toml licence" "$(sed -n 's/^license = "\(.*\)"$/\1/p' "$root/pyproject.toml")" BSD-2-Clause
check "rockspec licence" "$(sed -n 's/^ *license = "\(.*\)",$/\1/p' "$root/$rs")" BSD-2-Clause
if command -v luarocks >/dev/null; then
	check "luarocks lint $rs" "$(cd "$root" && luarocks lint "$rs" >/dev/null 2>&1 && echo passes || echo fails)" passes
fi
if [ -n "$build" ]; then
	check "locket --version" "$("$build/cli/locket" --version)" "locket $v"
	so=$(ls "$build"/core/liblocket.so.*.*.* 2>/dev/null | head -n1)
	check "liblocket file" "$(basename "$so")" "liblocket.so.$v"
	check "SONAME" "$(readelf -d "$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')" liblocket.so.1
	py=$(sed -n 's/^Python_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt")
	check "Python locket.__version__" \
		"$(PYTHONPATH="$build/python" "${py:-python3}" -c 'import locket; print(locket.__version__)')" "$v"
	check "Lua locket._VERSION" "$(LUA_PATH="$build/lua/lua5.4/?.lua;$build/lua/lua5.4/?/init.lua" \
		LUA_CPATH="$build/lua/lua5.4/?.so" lua5.4 -e 'print(require("locket")._VERSION)')" "locket $v"
fi
echo "check_versions: $passed passed, $failed failed"
[ "$failed" = 0 ]
