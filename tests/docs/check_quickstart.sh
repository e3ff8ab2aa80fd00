#!/usr/bin/env bash
# The README's quick start as a new user runs it: a fresh copy of the checkout,
# PATH limited to the system's directories (so python3 is Debian's
# /usr/bin/python3, PEP 668 and all; no pyenv, no ~/.local), a clean
# environment. Checks that scripts/demo.sh and the Python suite pass, that the
# binding was built for and tested with a venv of /usr/bin/python3, and that
# the output has no pip "running as root" warnings and no apt/debconf notices.
# With --full, runs the whole scripts/test.sh too (LOCKET_NO_WINDOWS=1) and
# checks that it leaves nothing in its TMPDIR.
#   usage: tests/docs/check_quickstart.sh [--full]
# LOCKET_QUICKSTART_KEEP=FILE keeps the log of a failing step.
# Slow (a full build from scratch, several minutes) and needs PyPI for pytest
# and mypy: not in the default CTest run (configure with -DLOCKET_TEST_QUICKSTART=ON).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
full=0; [ "${1:-}" = --full ] && full=1
work=$(mktemp -d "${TMPDIR:-/tmp}/locket-quickstart.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # like a checkout in /work or /srv: tests that run children as nobody reach it
mkdir "$work/src" "$work/tmp" "$work/tmp-full"
tmp=$work/tmp  # the TMPDIR of the steps
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work/src"

sys_path=/usr/sbin:/usr/bin:/sbin:/bin
run() {  # COMMAND...: in the copy, with only the system's PATH
	local log; log=$work/$(printf '%s' "$1" | tr -c 'A-Za-z0-9.' _).log
	echo "== $*"
	if ! (cd "$work/src" && env -i HOME="$HOME" USER="${USER:-$(id -un)}" LANG=C.UTF-8 PATH="$sys_path" \
		TMPDIR="$tmp" LOCKET_NO_WINDOWS=1 "$@") >"$log" 2>&1; then
		tail -n 60 "$log"
		grep -E '\*\*\*(Failed|Timeout|Exception)|^FAIL' "$log" || true
		if [ -n "${LOCKET_QUICKSTART_KEEP:-}" ]; then cp "$log" "$LOCKET_QUICKSTART_KEEP"; fi
		echo "FAIL: $* (exit status above)"; exit 1
	fi
	tail -n 5 "$log"
	# What a new user must not be shown.
	if grep -nE "Running pip as the 'root' user|externally-managed-environment|^debconf: |^(W|N|E): " "$log"; then
		echo "FAIL: $*: pip or apt notices in the output (above)"; exit 1
	fi
}
env -i PATH="$sys_path" bash -c 'command -v python3' | grep -qx /usr/bin/python3 ||
	{ echo "FAIL: no /usr/bin/python3 first on the system PATH"; exit 1; }

run scripts/demo.sh
base=$(cut -d' ' -f1 "$work/src/build/venv/locket-base")
case $base in /usr/bin/python3*) ;; *) echo "FAIL: build/venv is a venv of $base, not /usr/bin/python3"; exit 1 ;; esac
grep -qx "_Python_EXECUTABLE:INTERNAL=$work/src/build/venv/bin/python" "$work/src/build/default/CMakeCache.txt" ||
	{ grep Python_EXECUTABLE "$work/src/build/default/CMakeCache.txt"; echo "FAIL: the binding is not built for build/venv"; exit 1; }
run ctest --test-dir build/default -L python --output-on-failure -j2
echo "ok: demo and Python suite with $base (venv build/venv)"

if [ "$full" = 1 ]; then
	tmp=$work/tmp-full  # scripts/test.sh's alone, to see what it leaves
	run scripts/test.sh
	if [ -n "$(ls -A "$tmp")" ]; then
		ls -la "$tmp"; echo "FAIL: scripts/test.sh left files in its TMPDIR"; exit 1
	fi
	echo "ok: scripts/test.sh, nothing left in TMPDIR"
fi
