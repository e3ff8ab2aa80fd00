#!/usr/bin/env bash
# The project's Python environment: build/venv, a virtual environment of the
# first python3 on the PATH (or of $LOCKET_PYTHON), with requirements-dev.txt
# (pytest, mypy) installed. The binding is built for this interpreter and the
# tests run with it, so the system's Python is never pip-installed into
# (PEP 668: Debian's /usr/bin/python3 refuses that). Prints the venv's python;
# with --cmake-args, CMake's options instead, one a line: Python_EXECUTABLE (the
# binding and pytest: the venv) and Python3_EXECUTABLE (the conformance drivers,
# stdlib only: the base interpreter itself, which also works for other users).
#   usage: scripts/python-env.sh [--cmake-args]   (creates or refreshes the venv)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/build/venv
base=${LOCKET_PYTHON:-python3}
command -v "$base" >/dev/null || { echo "python-env: $base not found (scripts/install-deps.sh installs python3)" >&2; exit 1; }

# Made afresh when the base interpreter changed (another python3 first on the PATH).
want=$("$base" -c 'import os, sys; print(os.path.realpath(sys.executable), sys.version.split()[0])')
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/locket-base" 2>/dev/null)" != "$want" ]; then
	rm -rf "$venv"
	mkdir -p "$root/build"
	"$base" -m venv "$venv" >&2
	echo "$want" >"$venv/locket-base"
fi

# pip only when the requirements changed since the last install (it needs PyPI).
stamp=$venv/locket-requirements
if ! cmp -s "$root/requirements-dev.txt" "$stamp"; then
	PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
		"$venv/bin/python" -m pip install -q -r "$root/requirements-dev.txt" >&2
	cp "$root/requirements-dev.txt" "$stamp"
fi
# For CMake configured without these options (the presets, the workflow): see CMakeLists.txt.
printf 'set(Python_EXECUTABLE "%s" CACHE FILEPATH "build/venv (scripts/python-env.sh)")\nset(Python3_EXECUTABLE "%s" CACHE FILEPATH "its base interpreter (scripts/python-env.sh)")\n' \
	"$venv/bin/python" "${want% *}" >"$root/build/python-env.cmake"
if [ "${1:-}" = --cmake-args ]; then
	echo "-DPython_EXECUTABLE=$venv/bin/python"
	echo "-DPython3_EXECUTABLE=${want% *}"
else
	echo "$venv/bin/python"
fi
