"""The macOS wheels (scripts/wheels.sh macosx_arm64 macosx_x86_64), checked as far as a Linux
machine can: they are cross-built and never installed on a Mac here (docs/packaging.md).

  check_macos_wheels.py [--reference LINUX_WHEEL] [--self-test] WHEEL_OR_DIR...

For each wheel (a DIR stands for its locket-*-macosx_*.whl):
  - the name parses (packaging.utils) and its tags are the WHEEL file's; a CPython X.Y on the
    tag's macOS and processor would pick it (packaging.tags: the tags pip accepts there), and
    pip, told it is there (--platform, --python-version), installs it into a directory (never
    a Mac's interpreter: nothing is imported);
  - RECORD lists every file once with its sha256 and size, and nothing else;
  - the package is the reference Linux wheel's, file for file and byte for byte (the .py files,
    py.typed, _core.pyi, SWIG's _core.py), its extension module excepted, which is one
    __core.cpython-XY-darwin.so for the wheel's CPython; METADATA and licenses/ are the
    reference's, byte for byte;
  - the extension is a 64-bit Mach-O dylib or bundle for the tag's processor (its header, and
    file(1)), built for the tag's macOS version (LC_BUILD_VERSION's minos, or
    LC_VERSION_MIN_MACOSX), needing no library but /usr/lib/libSystem.B.dylib (its
    LC_LOAD_*DYLIB commands), exporting PyInit___core and, on arm64, carrying a code signature
    whose page hashes match the file.
The reference: --reference, else a locket-VERSION-*-manylinux_*_x86_64.whl beside the first
wheel checked. --self-test then breaks copies of the first wheel in each way above (a file
changed, RECORD stale or not, another tag, processor or macOS version, a second library, other
metadata, another CPython's extension, no PyInit, a byte changed after signing) and fails
unless the check rejects every one.
Exit status 0 when everything passed. Needs `packaging` (scripts/wheels.sh's tools venv)."""

import argparse
import base64
import csv
import glob
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

from packaging import tags as ptags
from packaging.utils import parse_wheel_filename

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERSION = re.search(r'^#define LOCKET_VERSION_STRING "([^"]+)"',
                    open(os.path.join(ROOT, "include", "locket.h"), encoding="utf-8").read(), re.M).group(1)
DIST_INFO = f"locket-{VERSION}.dist-info"

# Mach-O: CPU types and the load commands read here (<mach-o/loader.h>, <mach/machine.h>).
CPU = {"arm64": 0x0100000C, "x86_64": 0x01000007}
FILE_ARCH = {"arm64": "arm64", "x86_64": "x86_64"}
MH_MAGIC_64, MH_DYLIB, MH_BUNDLE = 0xFEEDFACF, 6, 8
LC_SYMTAB, LC_VERSION_MIN_MACOSX, LC_BUILD_VERSION, LC_CODE_SIGNATURE = 0x2, 0x24, 0x32, 0x1D
LC_DYLIB_DEPENDENCIES = {0xC: "LC_LOAD_DYLIB", 0x80000018: "LC_LOAD_WEAK_DYLIB", 0x8000001F: "LC_REEXPORT_DYLIB",
                         0x20: "LC_LAZY_LOAD_DYLIB", 0x80000023: "LC_LOAD_UPWARD_DYLIB"}
PLATFORM_MACOS = 1
LIBSYSTEM = "/usr/lib/libSystem.B.dylib"


def macho(data):
    """Header fields, dependencies, minimum macOS and defined external symbols of a Mach-O."""
    if len(data) < 32:
        raise ValueError("too short for a Mach-O header")
    magic, cputype, _, filetype, ncmds, _, _, _ = struct.unpack_from("<IiiIIIII", data, 0)
    if magic != MH_MAGIC_64:
        raise ValueError(f"not a little-endian 64-bit Mach-O (magic {magic:#x})")
    deps, minos, exported, signature = [], [], set(), None
    off = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, off)
        if cmd in LC_DYLIB_DEPENDENCIES:
            (name_off,) = struct.unpack_from("<I", data, off + 8)
            name = data[off + name_off:off + size].split(b"\0", 1)[0].decode()
            deps.append((LC_DYLIB_DEPENDENCIES[cmd], name))
        elif cmd == LC_BUILD_VERSION:
            platform, version = struct.unpack_from("<II", data, off + 8)
            minos.append((platform, version >> 16, (version >> 8) & 0xFF))
        elif cmd == LC_VERSION_MIN_MACOSX:
            (version,) = struct.unpack_from("<I", data, off + 8)
            minos.append((PLATFORM_MACOS, version >> 16, (version >> 8) & 0xFF))
        elif cmd == LC_CODE_SIGNATURE:
            signature = struct.unpack_from("<II", data, off + 8)
        elif cmd == LC_SYMTAB:
            symoff, nsyms, stroff, _ = struct.unpack_from("<IIII", data, off + 8)
            for i in range(nsyms):
                strx, ntype, _, _, _ = struct.unpack_from("<IBBHQ", data, symoff + 16 * i)
                if ntype & 0xE0 == 0 and ntype & 0x0E == 0x0E and ntype & 0x01:  # not stab, N_SECT, N_EXT
                    exported.add(data[stroff + strx:].split(b"\0", 1)[0].decode())
        off += size
    return cputype, filetype, deps, minos, exported, signature


def check_signature(data, signature):
    """The embedded code signature (what zig's linker writes ad hoc, and what macOS on arm64
    requires of every module it maps): its CodeDirectory's page hashes must be those of the
    file's pages up to the signature. [problems]"""
    if signature is None:
        return ["no code signature (LC_CODE_SIGNATURE): macOS on arm64 refuses to map unsigned code"]
    dataoff, datasize = signature
    blob = data[dataoff:dataoff + datasize]
    if len(blob) != datasize or len(blob) < 12:
        return [f"code signature: {datasize} bytes at {dataoff}, past the end of the file"]
    magic, _, count = struct.unpack_from(">III", blob, 0)
    if magic != 0xFADE0CC0:  # CSMAGIC_EMBEDDED_SIGNATURE
        return [f"code signature: superblob magic {magic:#x}"]
    for i in range(count):
        slot, off = struct.unpack_from(">II", blob, 12 + 8 * i)
        if slot != 0:  # CSSLOT_CODEDIRECTORY
            continue
        (cd_magic, _, _, _, hash_off, _, _, n_code, code_limit, hash_size, hash_type, _,
         page_log2) = struct.unpack_from(">IIIIIIIIIBBBB", blob, off)
        if cd_magic != 0xFADE0C02 or hash_type != 2 or hash_size != 32:  # CSMAGIC_CODEDIRECTORY, SHA-256
            return [f"code signature: code directory magic {cd_magic:#x}, hash type {hash_type}"]
        if code_limit != dataoff:
            return [f"code signature: covers {code_limit} bytes, the signature starts at {dataoff}"]
        page = 1 << page_log2
        if n_code != (code_limit + page - 1) // page:
            return [f"code signature: {n_code} page hashes for {code_limit} bytes"]
        for n in range(n_code):
            want = blob[off + hash_off + 32 * n:off + hash_off + 32 * (n + 1)]
            if hashlib.sha256(data[n * page:min((n + 1) * page, code_limit)]).digest() != want:
                return [f"code signature: page {n} does not match its hash (the file changed after signing)"]
        return []
    return ["code signature: no code directory"]


def read_wheel(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        return names, {n: z.read(n) for n in names}


def check_record(names, files):
    problems = []
    if len(set(names)) != len(names):
        problems.append("RECORD: the zip holds a name twice")
    record = f"{DIST_INFO}/RECORD"
    if record not in files:
        return problems + ["RECORD: missing"]
    rows = list(csv.reader(io.StringIO(files[record].decode())))
    listed = {}
    for row in rows:
        if len(row) != 3:
            problems.append(f"RECORD: malformed row {row}")
            continue
        if row[0] in listed:
            problems.append(f"RECORD: {row[0]} listed twice")
        listed[row[0]] = row
    for name in names:
        if name not in listed:
            problems.append(f"RECORD: {name} is not listed")
    for name, (_, digest, size) in listed.items():
        if name not in files:
            problems.append(f"RECORD: lists {name}, which is not in the wheel")
        elif name == record:
            if digest or size:
                problems.append("RECORD: its own row must have no hash and no size")
        else:
            want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(files[name]).digest()).rstrip(b"=").decode()
            if digest != want or size != str(len(files[name])):
                problems.append(f"RECORD: {name}: recorded {digest},{size}, is {want},{len(files[name])}")
    return problems


def check_wheel(path, reference):
    """(problems, what the extension is: file(1)'s words, minimum macOS, dependencies)."""
    problems, info = [], None
    try:
        problems += check_contents(path, reference)
    except Exception as e:  # a wheel broken beyond the checks: say so, do not stop
        problems.append(f"unreadable: {type(e).__name__}: {e}")
    try:
        more, info = check_extension(path)
        problems += more
    except Exception as e:
        problems.append(f"extension: {type(e).__name__}: {e}")
    return problems, info


def wheel_tag(path):
    name, version, _, wtags = parse_wheel_filename(os.path.basename(path))
    (tag,) = wtags
    m = re.fullmatch(r"macosx_(\d+)_(\d+)_(arm64|x86_64)", tag.platform)
    return tag, (int(m.group(1)), int(m.group(2))), m.group(3), int(tag.interpreter[3:])


def check_contents(path, reference):
    problems = []
    base = os.path.basename(path)
    try:
        name, version, _, wtags = parse_wheel_filename(base)
    except Exception as e:  # packaging's InvalidWheelFilename
        return [f"name: {e}"]
    if str(name) != "locket" or str(version) != VERSION:
        problems.append(f"name: {name} {version}, not locket {VERSION}")
    if len(wtags) != 1:
        return problems + [f"tags: {sorted(map(str, wtags))}: one tag wanted"]
    (tag,) = wtags
    m = re.fullmatch(r"macosx_(\d+)_(\d+)_(arm64|x86_64)", tag.platform)
    if not m:
        return problems + [f"tags: {tag.platform} is not a macOS platform tag"]
    tag_os, arch = (int(m.group(1)), int(m.group(2))), m.group(3)
    xy = re.fullmatch(r"cp3(\d+)", tag.interpreter)
    if not xy or tag.abi != tag.interpreter:
        return problems + [f"tags: {tag}: a cpXY-cpXY tag wanted"]
    minor = int(xy.group(1))
    # What pip asks on the oldest macOS the tag names, for this CPython.
    supported = set(ptags.cpython_tags(python_version=(3, minor), abis=[tag.abi],
                                       platforms=list(ptags.mac_platforms(tag_os, arch))))
    if tag not in supported:
        problems.append(f"tags: CPython 3.{minor} on macOS {tag_os[0]}.{tag_os[1]} {arch} would not install {tag}")

    names, files = read_wheel(path)
    problems += check_record(names, files)
    wheel_file = files.get(f"{DIST_INFO}/WHEEL", b"").decode()
    wheel_tags = re.findall(r"^Tag: (\S+)$", wheel_file, re.M)
    if wheel_tags != [str(tag)]:
        problems.append(f"WHEEL: tags {wheel_tags}, the name says {tag}")
    if "Root-Is-Purelib: false" not in wheel_file or "Wheel-Version: 1.0" not in wheel_file:
        problems.append("WHEEL: not Wheel-Version 1.0 with Root-Is-Purelib false")

    ref_names, ref_files = read_wheel(reference)
    for n in [n for n in ref_names if n == f"{DIST_INFO}/METADATA" or n.startswith(f"{DIST_INFO}/licenses/")]:
        if files.get(n) != ref_files[n]:
            problems.append(f"metadata: {n} differs from the Linux wheel's")
    ext = f"locket/__core.cpython-3{minor}-darwin.so"
    ref_pkg = {n for n in ref_names if n.startswith("locket/") and not re.search(r"/__core\..*\.so$", n)}
    pkg = {n for n in names if n.startswith("locket/")}
    if pkg != ref_pkg | {ext}:
        problems.append(f"package: {sorted(pkg ^ (ref_pkg | {ext}))}: not in both this wheel (with {ext}) "
                        "and the Linux wheel")
    for n in sorted(ref_pkg & pkg):
        if files[n] != ref_files[n]:
            problems.append(f"package: {n} differs from the Linux wheel's")
    others = [n for n in names if not n.startswith(("locket/", f"{DIST_INFO}/"))]
    if others:
        problems.append(f"package: unexpected files {others}")
    return problems


def check_extension(path):
    tag, tag_os, arch, minor = wheel_tag(path)
    ext = f"locket/__core.cpython-3{minor}-darwin.so"
    with zipfile.ZipFile(path) as z:
        if ext not in z.namelist():
            return [f"extension: no {ext}"], None
        data = z.read(ext)
    problems = []
    cputype, filetype, deps, minos, exported, signature = macho(data)
    if cputype != CPU[arch]:
        problems.append(f"extension: CPU type {cputype:#x}, not {arch}'s {CPU[arch]:#x}")
    if filetype not in (MH_DYLIB, MH_BUNDLE):
        problems.append(f"extension: Mach-O file type {filetype}, not a dylib or a bundle")
    if minos != [(PLATFORM_MACOS, *tag_os)]:
        problems.append(f"extension: built for (platform, major, minor) {minos}, the tag says macOS "
                        f"{tag_os[0]}.{tag_os[1]}")
    if [d for d in deps if d[1] != LIBSYSTEM] or not deps:
        problems.append(f"extension: needs {deps}; only {LIBSYSTEM} allowed")
    if "_PyInit___core" not in exported:
        problems.append("extension: no PyInit___core exported: import would fail")
    if arch == "arm64":
        problems += [f"extension: {p}" for p in check_signature(data, signature)]
    with tempfile.NamedTemporaryFile(suffix=".so") as f:
        f.write(data)
        f.flush()
        desc = subprocess.run(["file", "-b", f.name], capture_output=True, text=True).stdout.strip()
    if not re.match(rf"Mach-O 64-bit .*{FILE_ARCH[arch]}\b", desc):
        problems.append(f"extension: file(1) says: {desc}")
    return problems, (desc, minos, deps)


def report(path, reference):
    return check_wheel(path, reference)


def pip_install(path):
    """pip, told it is on the tag's macOS for the tag's CPython, installs the wheel from its
    directory alone into a target directory: [problems]."""
    tag, tag_os, arch, minor = wheel_tag(path)
    with tempfile.TemporaryDirectory() as target:
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                            "--no-index", "--no-compile", "--only-binary=:all:", "--find-links", os.path.dirname(path),
                            "--target", target, "--platform", f"macosx_{tag_os[0]}_{tag_os[1]}_{arch}",
                            "--python-version", f"3.{minor}", "--implementation", "cp", "--abi", tag.abi,
                            f"locket=={VERSION}"], capture_output=True, text=True)
        if r.returncode != 0:
            return [f"pip: cannot install it for CPython 3.{minor} on macOS {tag_os[0]}.{tag_os[1]} {arch}: "
                    f"{r.stderr.strip()}"]
        installed = sorted(os.listdir(os.path.join(target, "locket")))
        with zipfile.ZipFile(path) as z:
            want = sorted(n[len("locket/"):] for n in z.namelist() if n.startswith("locket/"))
        if installed != want:
            return [f"pip: installed {installed}, the wheel holds {want}"]
    return []


def rewrite(src, dst_dir, new_base=None, mutate=None, fix_record=True):
    """A copy of the wheel src, its files passed through mutate, RECORD recomputed or not."""
    names, files = read_wheel(src)
    files = dict(files)
    if mutate:
        files = mutate(files)
    if fix_record:
        rows = []
        for n, data in files.items():
            if n != f"{DIST_INFO}/RECORD":
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                rows.append(f"{n},sha256={digest},{len(data)}")
        rows.append(f"{DIST_INFO}/RECORD,,")
        files[f"{DIST_INFO}/RECORD"] = ("\n".join(rows) + "\n").encode()
    dst = os.path.join(dst_dir, new_base or os.path.basename(src))
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in files.items():
            z.writestr(n, data)
    return dst


def self_test(wheel, reference):
    base = os.path.basename(wheel)
    plat = parse_wheel_filename(base)[3]
    (tag,) = plat
    arch = "arm64" if tag.platform.endswith("arm64") else "x86_64"
    other_arch = {"arm64": "x86_64", "x86_64": "arm64"}[arch]
    ext = [n for n in read_wheel(wheel)[0] if n.endswith("-darwin.so")][0]

    def edit(name, old, new):  # every occurrence (a symbol's name is in the string table and the export trie)
        def f(files):
            assert old in files[name], (name, old)
            files[name] = files[name].replace(old, new)
            return files
        return f

    def retag(platform):
        wheel_file = f"{DIST_INFO}/WHEEL"
        return edit(wheel_file, tag.platform.encode(), platform.encode()), base.replace(tag.platform, platform)

    def rename_ext(files):
        other = ext.replace(f"cpython-{tag.interpreter[2:]}", "cpython-39")
        files[other] = files.pop(ext)
        return files

    macos12, base12 = retag(tag.platform.replace(re.search(r"macosx_\d+_\d+", tag.platform).group(0), "macosx_12_0"))
    archtag, base_arch = retag(tag.platform.replace(arch, other_arch))
    cases = [
        ("a changed file, RECORD stale", dict(mutate=edit("locket/_lock.py", b"\n", b"\r\n"), fix_record=False),
         "RECORD: locket/_lock.py"),
        ("a changed file, RECORD fixed", dict(mutate=edit("locket/_lock.py", b"\n", b"\r\n")),
         "locket/_lock.py differs"),
        ("a file missing from RECORD", dict(mutate=lambda fs: {**fs, "locket/extra.py": b"x = 1\n"}, fix_record=False),
         "is not listed"),
        ("tagged for macOS 12.0", dict(mutate=macos12, new_base=base12), "the tag says macOS 12.0"),
        (f"tagged {other_arch}", dict(mutate=archtag, new_base=base_arch), "CPU type"),
        ("a second library needed", dict(mutate=edit(ext, LIBSYSTEM.encode(), b"/usr/lib/libSystem.C.dylib")),
         "only /usr/lib/libSystem.B.dylib allowed"),
        ("other METADATA", dict(mutate=edit(f"{DIST_INFO}/METADATA", b"Summary: Cross", b"Summary: cross")),
         "METADATA differs"),
        ("another CPython's extension", dict(mutate=rename_ext), "not in both"),
        ("no PyInit", dict(mutate=edit(ext, b"_PyInit___core", b"_PyInit___corf")), "no PyInit___core"),
    ]
    if arch == "arm64":
        cases.append(("changed after signing", dict(mutate=edit(ext, b"__TEXT", b"__TEXt")), "does not match its hash"))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for what, kw, expect in cases:
            bad = rewrite(wheel, tmp, **kw)
            problems, _ = report(bad, reference)
            if any(expect in p for p in problems):
                print(f"ok: self-test: {what}: rejected ({[p for p in problems if expect in p][0]})")
            else:
                print(f"FAIL: self-test: {what}: not rejected as '{expect}': {problems}")
                failed += 1
            os.unlink(bad)
        # And an unchanged copy, rewritten the same way, passes: the cases fail for their change.
        same = rewrite(wheel, tmp)
        problems, _ = report(same, reference)
        if problems:
            print(f"FAIL: self-test: the unchanged copy is rejected: {problems}")
            failed += 1
        else:
            print("ok: self-test: the unchanged copy passes")
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", help="the Linux wheel whose METADATA and package files must match")
    ap.add_argument("--self-test", action="store_true", help="also check that broken copies are rejected")
    ap.add_argument("wheels", nargs="+")
    args = ap.parse_args()
    wheels = []
    for w in args.wheels:
        wheels += sorted(glob.glob(os.path.join(w, f"locket-{VERSION}-*-macosx_*.whl"))) if os.path.isdir(w) else [w]
    if not wheels:
        sys.exit(f"check_macos_wheels: no macOS wheel in {args.wheels}")
    reference = args.reference
    if not reference:
        found = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(wheels[0])),
                                              f"locket-{VERSION}-*-manylinux_*_x86_64.whl")))
        if not found:
            sys.exit("check_macos_wheels: no Linux wheel to compare with: --reference WHEEL")
        reference = found[-1]
    print(f"reference: {os.path.basename(reference)}")
    failed = 0
    for w in wheels:
        problems, result = report(w, reference)
        if not problems:
            problems = pip_install(w)
        if problems:
            failed += 1
            print(f"FAIL: {os.path.basename(w)}")
            for p in problems:
                print(f"  {p}")
        else:
            desc, minos, deps = result
            print(f"ok: {os.path.basename(w)}: tags, RECORD, package and METADATA as the Linux wheel's, pip installs it; "
                  f"extension: {desc.split(',')[0]}, macOS {minos[0][1]}.{minos[0][2]}, needs {[d[1] for d in deps]}")
    if args.self_test:
        failed += self_test(wheels[0], reference)
    print(f"check_macos_wheels: {len(wheels)} wheel(s), {'FAILED' if failed else 'passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    shutil.which("file") or sys.exit("check_macos_wheels: needs file(1)")
    sys.exit(main())
