#!/usr/bin/env bash
# Quick start, part 2: build everything and run every test suite.
#   1. the default build: C, CLI, Python, Lua (5.1, 5.3, 5.4, LuaJIT), the conformance
#      matrix, stress and chaos, install/ABI checks;
#   2. the portable POSIX engine (what macOS and the BSDs build) on Linux: the C and
#      Python suites and their conformance matrix (cmake --workflow --preset portable);
#   3. packaging: one version everywhere, wheel builds that fail loudly, the manylinux
#      x86_64 wheels for CPython 3.9, 3.12, 3.13 installed in clean venvs and tested
#      (skipped with LOCKET_NO_WHEELS=1; docs/packaging.md);
#   4. the cross-build for macOS on Apple silicon, products checked, and its CPython 3.13 wheel
#      packed and checked (skipped with LOCKET_NO_CROSS=1, the wheel with LOCKET_NO_WHEELS=1;
#      docs/cross.md, docs/packaging.md); then the C library and C tests under ASan+UBSan, then under TSan;
#   5. the Windows build under Wine (skipped with LOCKET_NO_WINDOWS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
failed=()
# Every suite's temporary files go into one directory, removed at the end
# (sticky and world-writable like /tmp: some tests run children as nobody).
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/locket-test.XXXXXX")
chmod 1777 "$TMPDIR"
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
step() { echo; echo "=== $* ($((SECONDS - t0)) s)"; }

step "install dependencies"
scripts/install-deps.sh
# The binding is built for, and the Python tests run with, build/venv (see scripts/build.sh).
echo "Python environment: build/venv (scripts/python-env.sh: pytest, mypy from PyPI)"
pyargs=$(scripts/python-env.sh --cmake-args)
mapfile -t pyargs <<<"$pyargs"

step "C formatting (.clang-format)"
scripts/format.sh --check || failed+=(format)

step "default build and the full suite"
# The interpreter for the binding is fixed in the cache first (the venv of scripts/python-env.sh);
# then the workflow preset owns the flow: configure, build, test (its test preset fails on no tests).
cmake --preset default "${pyargs[@]}" >/dev/null
# A suite that silently registered nothing would pass vacuously: every label must have tests
# (stronger than the preset's noTestsAction, which only sees the total).
for label in c python lua conformance cross stress docs; do
  # -L takes a regular expression ("c" matches "conformance"...): anchor it to the whole label.
  n=$(ctest --test-dir build/default -N -L "^${label}\$" | sed -n 's/^Total Tests: //p')
  if [ "${n:-0}" -eq 0 ]; then
    echo "no tests registered with label '$label'"; failed+=("registration:$label")
  fi
done
cmake --workflow --preset default || failed+=(default)

step "the portable engine on Linux: C, Python and their conformance matrix"
# LOCKET_ENGINE=portable (core/portable/): tests of the Linux engine's internals skip with
# their reason; no Lua (its binding has no engine-specific code). About 2 minutes.
cmake --preset portable "${pyargs[@]}" >/dev/null
cmake --workflow --preset portable || failed+=(portable)

if [ "${LOCKET_NO_WHEELS:-0}" != 1 ]; then
  step "packaging: versions, loud build failures, manylinux x86_64 wheels installed and tested"
  tests/packaging/check_versions.sh build/default || failed+=(versions)
  wheel_pythons="3.9 3.12 3.13"
  if LOCKET_WHEEL_PYTHONS=$wheel_pythons scripts/wheels.sh build/dist-ci sdist manylinux_x86_64; then
    # shellcheck disable=SC2086
    tests/packaging/check_wheels.sh build/dist-ci $wheel_pythons || failed+=(wheels)
    tests/packaging/check_build_failures.sh build/wheels/py-3.13/bin/python || failed+=(build-failures)
  else
    failed+=(wheels)
  fi
fi

if [ "${LOCKET_NO_CROSS:-0}" != 1 ]; then
  # macOS on Apple silicon: library, CLI, Lua and Python modules, warnings as errors, each
  # product's format checked (docs/cross.md; ~1 min cold, a few seconds with build/cross cached).
  step "cross-build for aarch64-macos (zig cc), products checked with file(1)"
  scripts/cross-build.sh aarch64-macos build/cross-aarch64-macos || failed+=(cross-build)
  # The check itself must fail on products of another target (arm64 is not x86_64).
  if scripts/cross-build.sh --check x86_64-macos build/cross-aarch64-macos >/dev/null; then
    echo "cross-build --check accepted arm64 products as x86_64"; failed+=(cross-check)
  fi
  if [ "${LOCKET_NO_WHEELS:-0}" != 1 ]; then
    # That tree's CPython 3.13 extension packed as the macOS arm64 wheel, checked against the
    # packaging lane's Linux wheels: tags, RECORD, files and METADATA, pip's choice, the Mach-O
    # (processor, macOS 11.0, libSystem only); broken copies must be rejected. Never installed
    # on a Mac (docs/packaging.md). A few seconds.
    step "macOS arm64 wheel from the cross-build, checked"
    if LOCKET_CROSS_PYTHONS=first scripts/wheels.sh build/dist-ci macosx_arm64; then
      build/wheels/tools/bin/python tests/packaging/check_macos_wheels.py --self-test \
        build/dist-ci/locket-"$(sed -n 's/^#define LOCKET_VERSION_STRING "\(.*\)"$/\1/p' include/locket.h)"-cp313-cp313-macosx_11_0_arm64.whl ||
        failed+=(macos-wheel)
    else
      failed+=(macos-wheel)
    fi
  fi
fi

for san in asan tsan; do
  step "C tests under $san"
  cmake --workflow --preset "$san" || failed+=("$san")
done

if [ "${LOCKET_NO_WINDOWS:-0}" != 1 ]; then
  step "Windows (mingw-w64 + Wine)"
  scripts/windows-test.sh --lua --python="${LOCKET_WIN_PYTHON_VERSIONS:-all}" || failed+=(windows)
fi

step "done"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all suites passed in $((SECONDS - t0)) s"
