#!/usr/bin/env bash
# The Windows Python binding's hand-off under Wine vs filelock, portalocker
# and a blocking LockFileEx waiter on the same Windows CPython
# (bench/windows/python_handoff.py); writes bench/out/windows-python.json
# (suite "windows-python": bench/report.py needs a TARGETS entry like "windows"'s).
#   bench/windows/python.sh [--quick] [--version X.Y]      (default 3.12)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$here/../..
out=${LOCKET_BENCH_OUT:-$root/bench/out}
args=() version=3.12
while [ $# -gt 0 ]; do
	case $1 in
	--quick) args+=(--quick); shift ;;
	--version) version=$2; shift 2 ;;
	*) shift ;;
	esac
done
[ "${LOCKET_BENCH_QUICK:-0}" = 1 ] && args+=(--quick)
mkdir -p "$out"
source "$root/scripts/windows-env.sh"
"$root/scripts/windows-python.sh" --version "$version" -c pass # fetch and build (build/windows)
dir=$(mktemp -d /tmp/locket-win-pybench.XXXXXX)
trap 'win_stop; rm -rf "$dir"' EXIT
win_start # the prefix's lock and one Wine server, as bench/windows/run.sh
"$root/scripts/windows-python.sh" --version "$version" --no-build "$here/python_handoff.py" "${args[@]}" \
	--dir "$(winepath -w "$dir")" --out "$(winepath -w "$out")\\windows-python.json"
