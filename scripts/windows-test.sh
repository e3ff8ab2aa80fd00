#!/usr/bin/env bash
# The Windows suite, here on Linux: cross-compile with mingw-w64, start one
# Wine server, run CTest (every test program runs under Wine), stop the server.
#   scripts/windows-test.sh [--lua] [--python[=VERSIONS]] [ctest arguments...]     e.g. -R win.long_path
# --lua: also build Lua 5.4 for Windows (scripts/windows-lua.sh) and the Lua
# binding against it, and test it under Wine.
# --python[=3.9,3.12,3.14|all]: also fetch the Windows CPython (default 3.12;
# scripts/windows-cpython.sh), build the Python binding for each and run the
# Python suite under Wine (label python), e.g. --python -L python.
# Environment: LOCKET_WIN_BUILD, LOCKET_WINEPREFIX (see scripts/windows-env.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/windows-env.sh"

t0=$SECONDS
lua_args=(-DLOCKET_WIN_LUA=)
py_args=(-DLOCKET_BUILD_PYTHON=OFF -DLOCKET_WIN_PYTHONS=)
while [ $# -gt 0 ]; do
	case $1 in
	--lua)
		shift
		lua=$("$here/windows-lua.sh")
		# The module must link lua54.dll (a DLL cannot leave symbols undefined);
		# bindings/lua does not link a Lua library, so it comes in as a standard library.
		lua_args=(-DLOCKET_BUILD_LUA=ON -DLOCKET_LUA_INCLUDE_DIR="$lua/include" -DLOCKET_LUA_CMOD_DIR=lib/lua/5.4
			-DLOCKET_LUA_LMOD_DIR=share/lua/5.4 -DCMAKE_C_STANDARD_LIBRARIES="$lua/lua54.dll"
			-DLOCKET_WIN_LUA="$lua/lua.exe")
		;;
	--python | --python=*)
		versions=${LOCKET_WIN_PYTHON_VERSION:-3.12}
		[ "$1" = --python ] || versions=${1#--python=}
		[ "$versions" = all ] && versions=3.9,3.12,3.14
		shift
		pys=""
		for v in ${versions//,/ }; do
			pys+="${pys:+;}$("$here/windows-cpython.sh" "$v")"
		done
		py_args=(-DLOCKET_BUILD_PYTHON=ON "-DLOCKET_WIN_PYTHONS=$pys")
		;;
	*) break ;;
	esac
done
win_build "${lua_args[@]}" "${py_args[@]}"
win_log "built in $((SECONDS - t0)) s"
trap win_stop EXIT
win_start
rc=0
ctest --test-dir "$LOCKET_WIN_BUILD" -j"${LOCKET_WIN_JOBS:-2}" --output-on-failure --timeout 300 "$@" || rc=$?
# The pytest counts behind the per-file CTest tests, per interpreter.
awk '/^[0-9]+\/[0-9]+ Test: python_win[0-9]+_test_/ { split($3, p, "_"); v = p[2] }
	v && / in [0-9.]+s/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^(passed|skipped|failed|xfailed|error)/) {
		k = $(i + 1); sub(/,$/, "", k); n[v " " k] += $i }; v = "" }
	END { for (x in n) print x, n[x] }' "$LOCKET_WIN_BUILD/Testing/Temporary/LastTest.log" 2>/dev/null |
	sort | awk '{ t[$1] = t[$1] " " $3 " " $2 } END { for (v in t) printf "[windows] pytest under Wine, %s:%s\n", v, t[v] }' >&2 || true
win_log "done in $((SECONDS - t0)) s"
exit "$rc"
