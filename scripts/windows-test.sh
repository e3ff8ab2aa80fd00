#!/usr/bin/env bash
# The Windows suite, here on Linux: cross-compile with mingw-w64, start one
# Wine server, run CTest (every test program runs under Wine), stop the server.
#   scripts/windows-test.sh [ctest arguments...]     e.g. -R win.long_path
# Environment: LOCKET_WIN_BUILD, LOCKET_WINEPREFIX (see scripts/windows-env.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/windows-env.sh"

t0=$SECONDS
win_build
win_log "built in $((SECONDS - t0)) s"
trap win_stop EXIT
win_start
ctest --test-dir "$LOCKET_WIN_BUILD" -j2 --output-on-failure --timeout 300 "$@"
win_log "done in $((SECONDS - t0)) s"
