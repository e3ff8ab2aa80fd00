#!/usr/bin/env bash
# Installs everything the build, the tests and the benchmarks need on a fresh Debian 12 machine.
# Idempotent: skips apt when every package is already present. Set LOCKET_NO_WINDOWS=1 to skip
# the mingw-w64 + Wine toolchain (about 1 GB on disk), LOCKET_NO_CROSS=1 what the macOS/FreeBSD
# cross-build needs beyond PyPI.
set -euo pipefail

pkgs=(cmake ninja-build gcc g++ make pkg-config swig util-linux procps
      lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev lua5.1 liblua5.1-0-dev luajit libluajit-5.1-dev
      luarocks lua-filesystem lua-posix abigail-tools man-db groff-base
      python3 python3-venv python3-pip python3-dev
      bindfs fuse3) # bindfs, fuse3: the FUSE view test of locket_scope (tests/c/test_scope.c)
if [ "${LOCKET_NO_WINDOWS:-0}" != 1 ]; then
  pkgs+=(gcc-mingw-w64-x86-64-win32 wine wine64 maven unzip) # maven: Windows CPython (scripts/windows-cpython.sh)
fi
if [ "${LOCKET_NO_CROSS:-0}" != 1 ]; then
  # scripts/cross-build.sh: the macOS CPython headers (maven), the products' checks (file, readelf).
  pkgs+=(maven unzip file binutils)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  # Through env: sudo does not pass the environment on. No debconf notices
  # ("delaying package configuration, since apt-utils is not installed").
  apt=($SUDO env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get -o DPkg::Lock::Timeout=300)
  t0=$SECONDS
  echo "install-deps: ${#missing[@]} Debian packages missing: ${missing[*]}" | fold -s -w 100
  echo "install-deps: apt-get update"
  "${apt[@]}" update -qq
  # apt's own one-line-per-package progress, without the rest of its output
  # (a fresh machine: a few minutes, most of it Wine when Windows is wanted).
  echo "install-deps: apt-get install (one line per package unpacked)"
  "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}" 2>&1 |
    { grep --line-buffered -E '^(Unpacking|Need to get|E:)' || true; } | sed -u 's/^/  /'
  still=()
  for p in "${missing[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || still+=("$p")
  done
  if [ ${#still[@]} -gt 0 ]; then
    echo "install-deps: apt-get did not install: ${still[*]}"; exit 1
  fi
  echo "install-deps: done in $((SECONDS - t0)) s"
else
  echo "install-deps: all ${#pkgs[@]} Debian packages already installed"
fi
