#!/usr/bin/env bash
# The manylinux aarch64 wheel under qemu-user (Debian's qemu-user-static), as
# far as that goes here: an aarch64 CPython (Maven Central's
# org.bytedeco:cpython linux-arm64 jar) on Debian's arm64 glibc (libc6:arm64,
# fetched with apt into a private directory: the machine's apt setup is not
# changed), the wheel unpacked onto its path. A smoke test, not the suite: without
# binfmt_misc the interpreter cannot start child processes of its own, and the
# suite spawns many. Checks: import, version, the C extension for aarch64, two
# handles exclude, a release hands over to a waiting thread, a bad path is
# FileNotFoundError.
#   usage: tests/packaging/smoke_aarch64.sh WHEEL_DIR     (root: installs qemu-user-static)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dist=$(cd "${1:?usage: smoke_aarch64.sh WHEEL_DIR}" && pwd)
work=$root/build/aarch64
mkdir -p "$work"
command -v qemu-aarch64-static >/dev/null ||
	env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends qemu-user-static >/dev/null
jar=3.12.1-1.5.10
py=$work/org/bytedeco/cpython/linux-arm64
if [ ! -x "$py/bin/python3.12" ]; then
	mvn -q -B dependency:copy -Dartifact="org.bytedeco:cpython:$jar:jar:linux-arm64" -DoutputDirectory="$work" \
		-Dmaven.repo.local="$root/build/m2"
	(cd "$work" && unzip -q -o "cpython-$jar-linux-arm64.jar" 'org/bytedeco/cpython/linux-arm64/*')
fi
sysroot=$work/root
if [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
	apt=$work/apt
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$work/debs"
	a=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o "Dir::State::Lists=$apt/lists"
	   -o "Dir::Cache=$apt/cache" -o Dir::State::status=/dev/null)
	apt-get "${a[@]}" update -qq
	(cd "$work/debs" && apt-get "${a[@]}" download libc6:arm64 libgcc-s1:arm64 libcrypt1:arm64 zlib1g:arm64 2>/dev/null)
	for f in "$work"/debs/*.deb; do dpkg -x "$f" "$sysroot"; done
fi
whl=$(ls "$dist"/locket-*-cp312-cp312-manylinux_*_aarch64.whl)
rm -rf "$work/site"; mkdir "$work/site"
(cd "$work/site" && unzip -q "$whl")
# The loader run explicitly: qemu's -L alone does not follow the sysroot's
# absolute loader symlink.
PYTHONPATH=$work/site qemu-aarch64-static -L "$sysroot" "$sysroot/lib/ld-linux-aarch64.so.1" \
	--library-path "$sysroot/lib/aarch64-linux-gnu:$py" "$py/bin/python3.12" -c '
import os, platform, tempfile, threading, locket
assert platform.machine() == "aarch64", platform.machine()
print("aarch64: locket", locket.__version__, "from", os.path.dirname(locket._core.__file__))
p = os.path.join(tempfile.mkdtemp(), "l")
a, b = locket.Lock(p), locket.Lock(p)
a.acquire()
try:
    b.acquire(timeout=0)
except locket.LockBusy:
    print("ok: a second handle is excluded (LockBusy)")
else:
    raise SystemExit("FAIL: two holders")
threading.Timer(0.2, a.release).start()
assert b.acquire(timeout=5) is True
print("ok: a waiting acquire got the lock when it was released")
b.release()
try:
    locket.lock_file("/nonexistent/dir/l").acquire()
except FileNotFoundError:
    print("ok: a bad path is FileNotFoundError")
print("aarch64 smoke test: 3 passed, 0 failed")
'
