#!/usr/bin/env bash
# A wheel build that cannot build the extension must fail, naming what to
# install, and leave no wheel behind (issue 20: without Python's headers pip
# used to build an 8.8 KB wheel without locket._core and call it a success):
#   1. Python's headers absent: scikit-build-core hands CMake the interpreter's
#      include directory, which does not exist when python3-dev is missing; the
#      test points it at a directory that does not exist either;
#   2. CC names a compiler that does not exist;
#   3. no C compiler on the PATH at all;
# and, so that none of these passes for another reason, the same build with
# nothing missing makes a wheel that holds the extension.
#   usage: tests/packaging/check_build_failures.sh PYTHON [SOURCE_DIR]
#   PYTHON: an interpreter with scikit-build-core, swig (PyPI) and ninja
#   (scripts/wheels.sh --tools-venv makes one); SOURCE_DIR: default this checkout.
set -euo pipefail
py=${1:?usage: check_build_failures.sh PYTHON [SOURCE_DIR]}
src=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d "${TMPDIR:-/tmp}/locket-buildfail.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A copy of the sources, so that no build tree is left in the checkout.
mkdir "$work/src"
(cd "$src" && tar --exclude=./build --exclude='./build-*' --exclude=./.git -cf - .) | tar -xf - -C "$work/src"
failed=0
wheel() {  # OUT_DIR [pip arguments...]
	local out=$1; shift
	"$py" -m pip wheel --no-build-isolation --no-deps --disable-pip-version-check -w "$out" "$@" "$work/src"
}
expect_failure() {  # NAME PATTERN COMMAND...
	local name=$1 pattern=$2; shift 2
	local out=$work/out-$name
	if "$@" "$out" >"$work/$name.log" 2>&1; then
		echo "FAIL: $name: the build succeeded:"; ls -l "$out"; failed=1; return
	fi
	if compgen -G "$out/*.whl" >/dev/null; then
		echo "FAIL: $name: the failed build left a wheel:"; ls -l "$out"; failed=1
	fi
	# CMake wraps its messages: compare with the lines joined.
	tr -s ' \n' '  ' <"$work/$name.log" >"$work/$name.joined"
	if ! grep -q -F -- "$pattern" "$work/$name.joined"; then
		echo "FAIL: $name: the error does not say '$pattern':"; tail -n 30 "$work/$name.log"; failed=1; return
	fi
	echo "ok: $name: fails and says: ...$(grep -o -F -- "$pattern" "$work/$name.joined" | head -n1)..."
}

no_headers() { wheel "$1" -C cmake.define.Python_INCLUDE_DIR=/nonexistent/include/python3; }
expect_failure no-python-headers "apt-get install python3-dev" no_headers

missing_cc() { CC=/nonexistent/bin/cc wheel "$1"; }
expect_failure cc-missing "environment variable CC (CC=/nonexistent/bin/cc) does not exist" missing_cc

# A PATH with the build tools but no C compiler (cc, gcc, clang).
mkdir "$work/bin"
for tool in cmake ninja swig; do
	t=$(PATH="$(dirname "$py"):$PATH" command -v "$tool") || { echo "FAIL: $tool not found for $py"; exit 1; }
	ln -s "$t" "$work/bin/$tool"
done
no_cc() { (unset CC; PATH=$work/bin; wheel "$1"); }
expect_failure no-compiler "No C compiler found" no_cc

# The control: nothing missing, a wheel with the extension.
if wheel "$work/out-ok" >"$work/ok.log" 2>&1 &&
	whl=$(compgen -G "$work/out-ok/*.whl") && "$py" -m zipfile -l "$whl" | grep -q 'locket/__core'; then
	echo "ok: control: with headers and a compiler the wheel holds locket/__core"
else
	echo "FAIL: control: the build with nothing missing did not make a wheel with the extension"
	tail -n 30 "$work/ok.log"; failed=1
fi
if [ "$failed" != 0 ]; then echo "check_build_failures: FAILED"; exit 1; fi
echo "check_build_failures: 4 passed, 0 failed"
