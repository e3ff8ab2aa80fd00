#!/usr/bin/env bash
# Run the Windows CPython under Wine with the Windows build of locket importable:
#   scripts/windows-python.sh [--version X.Y] [--no-build] ARGS...     (python.exe ARGS...)
#   e.g. scripts/windows-python.sh -c "import locket; print(locket.__file__)"
# --version: 3.9, 3.12 (default; or LOCKET_WIN_PYTHON_VERSION), 3.14.
# Fetches that CPython once (scripts/windows-cpython.sh), builds the binding
# for it in the Windows tree (build/windows) unless --no-build (CTest's tests
# pass it: the tree is built), and puts the package first on PYTHONPATH. Uses
# the running Wine server if there is one (scripts/windows-test.sh starts one);
# else Wine starts one (slower). Linux paths work in ARGS (drive Z:).
# Environment: LOCKET_WIN_BUILD, LOCKET_WINEPREFIX (scripts/windows-env.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/windows-env.sh"
version=${LOCKET_WIN_PYTHON_VERSION:-3.12}
build=1
while [ $# -gt 0 ]; do
	case $1 in
	--version) version=$2; shift 2 ;;
	--version=*) version=${1#--version=}; shift ;;
	--no-build) build=0; shift ;;
	*) break ;;
	esac
done
py=$locket_root/build/cpython-windows/$version
# --no-build (the tests): the tree as it is; never re-fetched under running tests.
if [ "$build" = 1 ] || [ ! -f "$py/python.exe" ]; then
	py=$("$here/windows-cpython.sh" "$version")
fi
pkg=$LOCKET_WIN_BUILD/python-win/$version
if [ "$build" = 1 ]; then
	# Configure once per interpreter (keeping those already configured), then
	# let ninja bring the module up to date.
	have=$(sed -n 's/^LOCKET_WIN_PYTHONS:[A-Z]*=//p' "$LOCKET_WIN_BUILD/CMakeCache.txt" 2>/dev/null || true)
	case ";$have;" in
	*";$py;"*) cmake --build "$LOCKET_WIN_BUILD" -j2 --target "locket_python_win${version/./}" >&2 ;;
	*) win_build -DLOCKET_BUILD_PYTHON=ON "-DLOCKET_WIN_PYTHONS=${have:+$have;}$py" >&2 ;;
	esac
fi
[ -f "$pkg/locket/__init__.py" ] || { win_log "no Windows build of locket in $pkg"; exit 1; }
export PYTHONPATH="$(winepath -w "$pkg" 2>/dev/null)${PYTHONPATH:+;$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
# Windows CPython dies at start-up when stdout or stderr is a regular file
# (init_sys_streams: WinError 6 under Wine): give it pipes then.
[ -f /dev/stdout ] && exec > >(cat)
[ -f /dev/stderr ] && exec 2> >(cat >&2)
exec wine "$py/python.exe" "$@"
