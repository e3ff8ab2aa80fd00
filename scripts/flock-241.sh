#!/usr/bin/env bash
# util-linux 2.41's real flock(1), as Debian 13 (trixie) ships it, runnable on this machine
# (Debian 12: glibc 2.36, flock 2.38 without --fcntl): the util-linux and libc6 packages are
# fetched from deb.debian.org's pool (pinned versions, checked against their SHA-256), unpacked
# with dpkg-deb -x into DIR (default build/flock-2.41), and DIR/flock runs the unpacked binary
# through the unpacked loader and libc. Prints DIR/flock's path; exits 77 (skip) with a reason on
# standard error when the packages cannot be had (no network, a pool that moved on).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mkdir -p "${1:-build/flock-2.41}" && cd "${1:-build/flock-2.41}" && pwd)
pool=https://deb.debian.org/debian/pool/main
debs=(
  "u/util-linux/util-linux_2.41.5-0+deb13u1_amd64.deb 7d5b1176cc3d8cc6b290b3ec17af458f362d9200845f30da22057a8198744430"
  "g/glibc/libc6_2.41-12+deb13u5_amd64.deb b59b0625cd1a791375d40dab23a4d5d3d0641e3d0a773501becdc3725b7f99cf"
)
skip() { echo "flock-241.sh: skipped: $*" >&2; exit 77; }
[ "$(uname -m)" = x86_64 ] || skip "the pinned packages are amd64"
if [ ! -x "$dir/flock" ]; then
  command -v dpkg-deb >/dev/null || skip "no dpkg-deb"
  command -v curl >/dev/null || skip "no curl"
  for entry in "${debs[@]}"; do
    read -r path sum <<<"$entry"
    file="$dir/$(basename "$path")"
    if [ ! -f "$file" ] || ! echo "$sum  $file" | sha256sum -c --quiet - 2>/dev/null; then
      curl -fsS --max-time 120 -o "$file.part" "$pool/$path" || skip "cannot fetch $pool/$path"
      echo "$sum  $file.part" | sha256sum -c --quiet - || skip "$path: SHA-256 mismatch"
      mv "$file.part" "$file"
    fi
    dpkg-deb -x "$file" "$dir/root"
  done
  cat >"$dir/flock" <<SH
#!/bin/sh
# util-linux 2.41.5's flock(1) with trixie's glibc (made by scripts/flock-241.sh).
exec "$dir/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$dir/root/usr/lib/x86_64-linux-gnu" "$dir/root/usr/bin/flock" "\$@"
SH
  chmod +x "$dir/flock"
fi
"$dir/flock" --version | grep -q "util-linux 2.41" || skip "the unpacked flock does not run here"
echo "$dir/flock"
