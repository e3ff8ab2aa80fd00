#!/usr/bin/env bash
# Format the C sources with .clang-format (clang-format from PyPI, pinned in requirements-dev.txt,
# so that every machine formats alike), or with --check fail on any file that is not formatted.
#   usage: scripts/format.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(scripts/python-env.sh)
clang_format=$(dirname "$py")/clang-format
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h')
else # an exported tree (the quick start check's copy)
	mapfile -t files < <(find include core cli tests bench bindings -name '*.[ch]' | sort)
fi
if [ "${1:-}" = --check ]; then
	"$clang_format" --dry-run --Werror "${files[@]}"
	echo "format: ${#files[@]} C files formatted as .clang-format says"
else
	"$clang_format" -i "${files[@]}"
fi
