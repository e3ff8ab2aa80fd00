#!/usr/bin/env bash
# Run a Windows program under Wine with locket's defaults: the CMake
# emulator for the Windows build (cmake/toolchain-mingw64.cmake), so that
# a bare `ctest` uses the project's prefix instead of making ~/.wine.
# exec keeps the pid: it is the Windows process's, so kill -9 on it works.
export WINEPREFIX=${WINEPREFIX:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/wineprefix}
export WINEDEBUG=${WINEDEBUG:--all}
exec wine "$@"
