#!/usr/bin/env bash
# The Windows suite of bench/run.sh: build locket.dll (mingw-w64, Release,
# build/windows-bench) and bench/windows/handoff.c, run it under Wine, write
# bench/out/windows.json. The argument (the Linux build dir) is not used.
#   bench/windows/run.sh [BUILD_DIR] [--quick]      (LOCKET_BENCH_QUICK=1 also means --quick)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LOCKET_WIN_BUILD=${LOCKET_WIN_BENCH_BUILD:-$here/../../build/windows-bench}
source "$here/../../scripts/windows-env.sh"
out=${LOCKET_BENCH_OUT:-$locket_root/bench/out}
quick=()
[ "${LOCKET_BENCH_QUICK:-0}" = 1 ] && quick=(--quick)
for a in "$@"; do [ "$a" = --quick ] && quick=(--quick); done
mkdir -p "$out"

win_build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DLOCKET_BUILD_CLI=OFF
exe=$LOCKET_WIN_BUILD/bin/locket_win_bench.exe
x86_64-w64-mingw32-gcc -O2 -std=c11 -Wall -Wextra -Wpedantic -Wconversion -Wno-sign-conversion -Werror \
	-I"$locket_root/include" -I"$locket_root/tests/common" "$here/handoff.c" "$LOCKET_WIN_BUILD/bin/locket.dll" -static-libgcc -o "$exe"

trap win_stop EXIT
win_start
dir=$(mktemp -d /tmp/locket-win-bench.XXXXXX)
# The Wine server of this prefix (its working directory is server-<dev>-<inode>
# of the prefix): the idle rows count its CPU too, read from /proc.
srv=server-$(printf %x "$(stat -c %d "$WINEPREFIX")")-$(printf %x "$(stat -c %i "$WINEPREFIX")")
server_pid=0
for p in $(pgrep wineserver); do
	case "$(readlink "/proc/$p/cwd")" in */"$srv") server_pid=$p ;; esac
done
[ "$server_pid" != 0 ] || win_log "Wine server not found: the idle rows count the waiters only"
wine "$exe" "${quick[@]}" --wineserver "$server_pid" --dir "$dir" --out "$out/windows.json"
rm -rf "$dir"
