#!/usr/bin/env bash
# The manylinux x86_64 wheels, as a user gets them: each installed from DIR
# (pip --only-binary, no index for locket) into a clean venv of its CPython,
# then the project's Python suite (tests/python) run against the installed
# package, never the build tree (PYTHONPATH unset; the suite's conftest.py is
# the only file taken from the checkout). Also: the wheel upgrades locket.py
# 1.0.0 (PyPI's locket) in place, and a dependant (partd) installed with
# --find-links DIR gets ours.
#   usage: tests/packaging/check_wheels.sh DIR [X.Y...]   (default: 3.9 3.12 3.13)
#   needs PyPI for pytest, fasteners, locket==1.0.0 and partd.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dist=$(cd "${1:?usage: check_wheels.sh DIR [X.Y...]}" && pwd)
shift
vers=("$@")
[ ${#vers[@]} -gt 0 ] || vers=(3.9 3.12 3.13)
version=$(sed -n 's/^#define LOCKET_VERSION_STRING "\(.*\)"$/\1/p' "$root/include/locket.h")
work=$(mktemp -d "${TMPDIR:-/tmp}/locket-wheels.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
unset PYTHONPATH
passed=0 failed=0
suites=()
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
for v in "${vers[@]}"; do
	py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$py" ] || py=$(command -v "python$v" || true)
	[ -n "$py" ] || { fail "no CPython $v here"; continue; }
	cp="cp${v/./}"
	whl=$(ls "$dist"/locket-"$version"-"$cp"-"$cp"-manylinux_*_x86_64.whl 2>/dev/null | head -n1 || true)
	[ -n "$whl" ] || { fail "no manylinux x86_64 wheel for CPython $v in $dist"; continue; }
	venv=$work/venv-$v
	echo "--- CPython $v: $(basename "$whl")"
	"$py" -m venv "$venv"
	# The suite's own needs: pytest, and fasteners (test_ofd.py: an OFD lock excludes its locks).
	"$venv/bin/python" -m pip install -q pytest "$(grep '^fasteners' "$root/requirements-dev.txt")"
	# The wheel, from DIR only: pip must not fall back to building the sdist.
	"$venv/bin/python" -m pip install -q --no-index --only-binary=:all: --find-links "$dist" "locket==$version"
	got=$(cd "$work" && "$venv/bin/python" -c 'import locket, sys; print(locket.__version__, locket.__file__, locket._core.__file__)' 2>&1 || true)
	case "$got" in
		"$version $venv/"*) ok "CPython $v imports the installed wheel: $got" ;;
		*) fail "CPython $v: unexpected import: $got" ;;
	esac
	lic=$("$venv/bin/python" -c 'from importlib.metadata import distribution as d
print(d("locket").metadata["License-Expression"], *[f for f in d("locket").files if f.name == "LICENSE"])' 2>&1 || true)
	case "$lic" in
		"BSD-2-Clause locket-$version.dist-info/licenses/LICENSE") ok "CPython $v: installed metadata: License-Expression and file: $lic" ;;
		*) fail "CPython $v: no BSD-2-Clause licence in the installed metadata: $lic" ;;
	esac
	# The suite, from the checkout's tests/python, against site-packages: the
	# interpreters' runs at the same time (most of a run is waiting), checked below.
	(cd "$root/tests/python" && PYTHONDONTWRITEBYTECODE=1 exec "$venv/bin/python" -m pytest -q -p no:cacheprovider \
		-W error . >"$work/pytest-$v.log" 2>&1) &
	suites+=("$v:$!")
done
for s in "${suites[@]}"; do
	v=${s%%:*}
	if wait "${s#*:}"; then
		ok "CPython $v: tests/python against the wheel: $(tail -n1 "$work/pytest-$v.log")"
	else
		tail -n 40 "$work/pytest-$v.log"; fail "CPython $v: tests/python against the wheel"
	fi
done

# Next to locket.py: the wheel upgrades PyPI's locket 1.0.0, and a dependant
# installed with --find-links gets ours (2.0.0 sorts after 1.0.0).
v=${vers[-1]}
py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -n1 || command -v "python$v")
venv=$work/venv-upgrade
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q "locket==1.0.0"
"$venv/bin/python" -m pip install -q --upgrade --only-binary=locket --find-links "$dist" locket >"$work/upgrade.log" 2>&1 || true
got=$("$venv/bin/python" -c 'import locket; print(locket.__version__, hasattr(locket, "_core"))' 2>&1 || true)
[ "$got" = "$version True" ] && ok "pip install --upgrade --find-links DIR locket upgrades locket.py 1.0.0 to $version" ||
	{ cat "$work/upgrade.log"; fail "locket.py 1.0.0 not upgraded: $got"; }
venv=$work/venv-partd
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --only-binary=locket --find-links "$dist" partd >"$work/partd.log" 2>&1 || true
got=$("$venv/bin/python" -c 'import locket, partd; print(locket.__version__, hasattr(locket, "_core"))' 2>&1 || true)
[ "$got" = "$version True" ] && ok "pip install --find-links DIR partd gets locket $version" ||
	{ cat "$work/partd.log"; fail "partd with --find-links: $got"; }
echo "check_wheels: $passed passed, $failed failed"
[ "$failed" = 0 ]
