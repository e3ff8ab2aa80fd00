#!/bin/sh
# The man page: groff formats it without a warning, and after `cmake --install`
# `man locket` finds it (under the prefix's share/man).
#   man_page.sh BUILD_DIR WORK_DIR
set -eu
build=$1 work=$2
command -v man >/dev/null && command -v groff >/dev/null || { echo "SKIP: man or groff missing"; exit 77; }
warnings=$(groff -man -ww -z "$build/cli/locket.1" 2>&1)
[ -z "$warnings" ] || { echo "groff: $warnings"; exit 1; }
rm -rf "$work"
cmake --install "$build" --prefix "$work" >/dev/null
page=$(MANPATH="$work/share/man" man -w locket)
case $page in "$work"/share/man/man1/locket.1*) ;; *) echo "man -w locket gave '$page'"; exit 1 ;; esac
MANPATH="$work/share/man" MANWIDTH=100 man locket 2>/dev/null | grep -q -- '-o, --close' ||
	{ echo "man locket does not show the options"; exit 1; }
# The same text as --help: its first option line, word for word.
"$build/cli/locket" --help | grep -q -- '-F, --no-fork .*exec COMMAND in locket.s place'
echo "ok: $page"
