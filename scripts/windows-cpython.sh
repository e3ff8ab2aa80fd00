#!/usr/bin/env bash
# Fetch a Windows CPython (MSVC-built: python.exe, python3X.dll, include/,
# libs/, the standard library) from Maven Central's org.bytedeco:cpython jars
# (classifier windows-x86_64) with the ordinary client, unpack it and add
# pytest and the benchmark's anchors (filelock, portalocker) for win_amd64
# to its site-packages with the host's pip. Prints the directory.
#   scripts/windows-cpython.sh [VERSION [OUT_DIR]]   VERSION: 3.9, 3.12 (default), 3.14
#   (default OUT_DIR: build/cpython-windows/VERSION; first run ~25 MB and ~10-30 s
#   per version, plus ~34 MB of Maven plugins once; the Maven cache is build/m2)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=${1:-3.12}
out=${2:-$root/build/cpython-windows/$version}
# The jar versions: CPython version - JavaCPP presets release.
case $version in
3.9) jar=3.9.6-1.5.6 ;;
3.12) jar=3.12.1-1.5.10 ;;
3.14) jar=3.14.3-1.5.13 ;;
*) echo "windows-cpython.sh: no jar known for Python $version (3.9, 3.12, 3.14)" >&2; exit 2 ;;
esac
dll=python${version/./}.dll
# pip wheels for the Windows interpreter: pytest, the benchmark's anchors
# (filelock, portalocker). pip evaluates the packages' environment markers
# for the host (Linux, 3.11), not the target: the dependencies that only
# Windows or old Pythons need are named here.
pip_pkgs=(pytest colorama filelock portalocker pywin32)
case $version in 3.9 | 3.10) pip_pkgs+=(exceptiongroup tomli typing_extensions) ;; esac
if [ -f "$out/.complete" ] && [ "$(cat "$out/.complete")" = "$jar ${pip_pkgs[*]}" ]; then
	echo "$out"
	exit 0
fi
# One fetch at a time per tree (parallel CTest tests may all ask at once).
mkdir -p "$(dirname "$out")"
exec {fetch_lock}>"$out.lock"
flock -w 900 "$fetch_lock"
if [ -f "$out/.complete" ] && [ "$(cat "$out/.complete")" = "$jar ${pip_pkgs[*]}" ]; then
	echo "$out"
	exit 0
fi
command -v mvn >/dev/null || { echo "maven missing: scripts/install-deps.sh" >&2; exit 1; }
work=$(mktemp -d /tmp/locket-cpython-win.XXXXXX)
trap 'rm -rf "$work"' EXIT
mvn -q -B -Dmaven.repo.local="$root/build/m2" dependency:copy \
	-Dartifact="org.bytedeco:cpython:$jar:jar:windows-x86_64" -DoutputDirectory="$work" >&2
(cd "$work" && unzip -q cpython-*.jar 'org/bytedeco/cpython/windows-x86_64/*')
rm -rf "$out"
mv "$work/org/bytedeco/cpython/windows-x86_64" "$out"
[ -f "$out/python.exe" ] && [ -f "$out/$dll" ] || { echo "no python.exe or $dll in the jar" >&2; exit 1; }
# Wine 8 lacks propsys.VariantToString, which _wmi (3.12+) reaches: without
# the module, platform.platform() and pip fall back to other ways.
rm -f "$out/lib/_wmi.pyd"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-compile --target "$out/lib/site-packages" \
	--platform win_amd64 --python-version "$version" --implementation cp --only-binary=:all: \
	"${pip_pkgs[@]}" >&2
echo "$jar ${pip_pkgs[*]}" >"$out/.complete"
echo "$out"
