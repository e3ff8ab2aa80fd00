#!/usr/bin/env bash
# Mutation testing (not part of the default test run): see tests/mutation/run.py.
set -euo pipefail
exec python3 "$(dirname "$0")/run.py" "$@"
