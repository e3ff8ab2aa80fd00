"""Pack a cross-built package into a wheel, as pip would have built it on its system:
the Windows build (bindings/python/windows.cmake: win_amd64) and the macOS cross-build
(scripts/cross-build.sh, packed by scripts/wheels.sh: macosx_11_0_arm64, macosx_10_15_x86_64).
  windows_wheel.py [--platform TAG] [--dist-info DIR] PACKAGE_DIR PYPROJECT OUT_DIR X.Y
PACKAGE_DIR's .py, .pyi, py.typed and its one extension module (.pyd, .so) go into the wheel,
tagged cpXY-cpXY-TAG (default TAG: win_amd64).
--dist-info DIR: a .dist-info made by the build backend (scikit-build-core's
prepare_metadata_for_build_wheel, what pip asks before building the Linux wheels): its METADATA
and licenses/ are taken as they are, so the wheel's metadata is the Linux wheels', byte for byte.
Without it the METADATA is written here: name, summary, licence and URLs from PYPROJECT, the
version from include/locket.h beside it (as scikit-build-core reads it), the licence file from
LICENSE beside it.
The WHEEL file and the RECORD (sha256 and size of every file) are written here."""

import argparse
import base64
import hashlib
import os
import re
import sys
import zipfile

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--platform", default="win_amd64", help="platform tag (default: win_amd64)")
ap.add_argument("--dist-info", help="a .dist-info from the build backend: its METADATA and licenses/")
ap.add_argument("pkg")
ap.add_argument("pyproject")
ap.add_argument("out_dir")
ap.add_argument("version", help="X.Y of the CPython the extension is built for")
args = ap.parse_args()
pkg, pyproject, out_dir, version = args.pkg, args.pyproject, args.out_dir, args.version
root = os.path.dirname(os.path.abspath(pyproject))
text = open(pyproject, encoding="utf-8").read()
project = text[text.index("[project]"):]
name = re.search(r'^name = "([^"]+)"', project, re.M).group(1)
summary = re.search(r'^description = "([^"]+)"', project, re.M).group(1)
licence = re.search(r'^license = "([^"]+)"', project, re.M).group(1)
urls = re.findall(r'^(\w+) = "(https?://[^"]+)"', text[text.index("[project.urls]"):], re.M)
# The version is the C library's (pyproject.toml: dynamic, from include/locket.h).
header = open(os.path.join(root, "include", "locket.h"), encoding="utf-8").read()
release = re.search(r'^#define LOCKET_VERSION_STRING "([^"]+)"', header, re.M).group(1)
tag = "cp" + version.replace(".", "")
platform = args.platform
dist_info = f"{name}-{release}.dist-info"
files = {}
extensions = []
for f in sorted(os.listdir(pkg)):
    if f.endswith((".py", ".pyi", ".pyd", ".so")) or f == "py.typed":
        with open(os.path.join(pkg, f), "rb") as fh:
            files[f"{name}/{f}"] = fh.read()
        if f.endswith((".pyd", ".so")):
            extensions.append(f)
# One interpreter's extension: a wheel tagged for it holding another's would fail at import.
if len(extensions) != 1:
    sys.exit(f"windows_wheel.py: {pkg} must hold one extension module, not {extensions}")
if args.dist_info:
    if os.path.basename(os.path.normpath(args.dist_info)) != dist_info:
        sys.exit(f"windows_wheel.py: {args.dist_info} is not {dist_info}")
    for d, _, fs in sorted(os.walk(args.dist_info)):
        for f in sorted(fs):
            rel = os.path.relpath(os.path.join(d, f), args.dist_info).replace(os.sep, "/")
            if rel == "METADATA" or rel.startswith("licenses/"):
                with open(os.path.join(d, f), "rb") as fh:
                    files[f"{dist_info}/{rel}"] = fh.read()
    if f"{dist_info}/METADATA" not in files:
        sys.exit(f"windows_wheel.py: no METADATA in {args.dist_info}")
else:
    with open(os.path.join(root, "LICENSE"), "rb") as fh:
        files[f"{dist_info}/licenses/LICENSE"] = fh.read()
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.4\nName: {name}\nVersion: {release}\nSummary: {summary}\n"
        f"Author: the locket authors\nLicense-Expression: {licence}\nLicense-File: LICENSE\n"
        + "".join(f"Project-URL: {k}, {v}\n" for k, v in urls)
        + "Requires-Python: >=3.8\n").encode()
files[f"{dist_info}/WHEEL"] = (
    f"Wheel-Version: 1.0\nGenerator: locket windows_wheel.py\nRoot-Is-Purelib: false\n"
    f"Tag: {tag}-{tag}-{platform}\n").encode()
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{dist_info}/RECORD,,")
files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
os.makedirs(out_dir, exist_ok=True)
wheel = os.path.join(out_dir, f"{name}-{release}-{tag}-{tag}-{platform}.whl")
with zipfile.ZipFile(wheel + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
    for path, data in files.items():
        info = zipfile.ZipInfo(path, (2024, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16  # rw-r--r-- once unpacked (pip keeps the mode)
        z.writestr(info, data, zipfile.ZIP_DEFLATED)
os.replace(wheel + ".tmp", wheel)
print(wheel)
