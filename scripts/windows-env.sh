# Sourced by scripts/windows-test.sh and bench/windows/run.sh: configure and
# build the Windows tree (mingw-w64) and run one Wine server around its use.
#   LOCKET_WIN_BUILD   build directory (default: build/windows, the "windows" preset's)
#   LOCKET_WINEPREFIX  Wine prefix (default: build/wineprefix, shared by the Windows builds;
#                      made on first use: ~0.7 GB, ~5-30 s)
#   LOCKET_WIN_VOLUMES 1: as root, make the two volumes of win.volume_swap_... (win_volumes_up)

locket_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCKET_WIN_BUILD=${LOCKET_WIN_BUILD:-$locket_root/build/windows}
export WINEPREFIX=${LOCKET_WINEPREFIX:-$locket_root/build/wineprefix}
export WINEDEBUG=-all
unset DISPLAY # console programs only: no X server needed

win_log() { printf '[windows] %s\n' "$*" >&2; }

# Configure (once) and build with at most 2 jobs. Extra arguments go to cmake's configure.
win_build() {
	local args=(-DLOCKET_BUILD_PYTHON=OFF -DLOCKET_BUILD_LUA=OFF -DLOCKET_BUILD_BENCH=OFF)
	args+=(-DLOCKET_BUILD_CLI=ON)
	command -v x86_64-w64-mingw32-gcc >/dev/null || { win_log "mingw-w64 missing: scripts/install-deps.sh"; return 1; }
	# The windows preset owns the toolchain and build type; this script only picks what to build.
	if ! (cd "$locket_root" && cmake --preset windows -B "$LOCKET_WIN_BUILD" "${args[@]}" "$@" >/dev/null); then
		win_log "configure of $LOCKET_WIN_BUILD failed (cmake's messages above); a stale cache:" \
			"rm -rf $LOCKET_WIN_BUILD and run again"
		return 1
	fi
	cmake --build "$LOCKET_WIN_BUILD" -j2
}

# Start one persistent Wine server for the prefix (and make the prefix).
# As root, the server runs without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, so
# that file permissions apply to Windows programs as they would to a user
# (win.access_denied_fails_at_once needs it; nothing else is affected).
# Runs that share a prefix (the tests, the benchmark) take turns: each holds
# $WINEPREFIX.lock (flock) from win_start until the script exits, and the
# long-lived Wine processes do not inherit it.
win_start() {
	command -v wine >/dev/null || { win_log "wine missing: scripts/install-deps.sh"; return 1; }
	mkdir -p "$WINEPREFIX"
	exec {win_lock_fd}>"$WINEPREFIX.lock"
	if ! flock -n "$win_lock_fd"; then
		win_log "waiting for another Windows run on $WINEPREFIX (up to 15 min)"
		flock -w 900 "$win_lock_fd" || { win_log "gave up waiting for $WINEPREFIX.lock"; return 1; }
	fi
	wineserver -k 2>/dev/null || true # a server of this prefix left by a killed run
	win_volumes_up # before the server: its mount manager reads the drive letters at start
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
		setpriv --bounding-set=-dac_override,-dac_read_search true 2>/dev/null; then
		setpriv --bounding-set=-dac_override,-dac_read_search wineserver -p {win_lock_fd}>&-
	else
		wineserver -p {win_lock_fd}>&-
	fi
	local t0=$SECONDS
	wineboot -i >/dev/null 2>&1 </dev/null {win_lock_fd}>&-
	win_log "wine server up (prefix $WINEPREFIX, wineboot $((SECONDS - t0)) s)"
}

win_stop() {
	wineserver -k 2>/dev/null || true
	wineserver -w 2>/dev/null || true
	win_volumes_down
}

# Two volumes for win.volume_swap_with_same_index_is_locked_anew, in
# $LOCKET_WIN_BUILD/volumes: tmpfs mounts a and b whose first file, "lock",
# has the same inode (2) on each, so Windows sees one file index on two
# volumes; each gets a drive letter (m:, n:) in the prefix and a serial
# (.windows-serial), which Wine's mount manager then reports for its files.
# They are bind-mounted at cur/d and next/d: the test swaps the directories
# cur and next (Wine renames a symlink's target, and a mount point not at all).
# Only with LOCKET_WIN_VOLUMES=1 (the test is disabled: Wine cannot show the
# swap, see docs/windows.md) and as root (mount); otherwise the test skips.
win_volumes_up() {
	local v=$LOCKET_WIN_BUILD/volumes
	win_volumes_down
	[ "${LOCKET_WIN_VOLUMES:-0}" = 1 ] && [ "$(id -u)" = 0 ] || return 0
	mkdir -p "$v/a" "$v/b" "$v/cur/d" "$v/next/d" "$WINEPREFIX/dosdevices"
	if ! mount -t tmpfs -o size=1m,mode=0755 locket-vol-a "$v/a" 2>/dev/null; then
		rm -rf "$v"
		return 0
	fi
	mount -t tmpfs -o size=1m,mode=0755 locket-vol-b "$v/b"
	: >"$v/a/lock" # first: the same inode number on both
	: >"$v/b/lock"
	echo 10c4e7a1 >"$v/a/.windows-serial"
	echo 10c4e7b2 >"$v/b/.windows-serial"
	mount --bind "$v/a" "$v/cur/d"
	mount --bind "$v/b" "$v/next/d"
	ln -sfn "$v/a" "$WINEPREFIX/dosdevices/m:"
	ln -sfn "$v/b" "$WINEPREFIX/dosdevices/n:"
}

win_volumes_down() {
	local v=$LOCKET_WIN_BUILD/volumes d
	[ -d "$v" ] || return 0
	for d in m: n:; do
		case $(readlink "$WINEPREFIX/dosdevices/$d" 2>/dev/null) in "$v"/*) rm -f "$WINEPREFIX/dosdevices/$d" ;; esac
	done
	for d in cur/d next/d old/d a b; do
		! mountpoint -q "$v/$d" || umount "$v/$d" || true
	done
	rm -rf "$v" 2>/dev/null || true
}
