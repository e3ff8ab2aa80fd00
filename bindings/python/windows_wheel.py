"""Pack the Windows build of the package (bindings/python/windows.cmake) into
a win_amd64 wheel, as pip would have built it on Windows.
  windows_wheel.py PACKAGE_DIR PYPROJECT OUT_DIR X.Y
The name, summary, licence and URLs come from PYPROJECT, the version from
include/locket.h beside it (as scikit-build-core reads it), the licence file
from LICENSE beside it."""

import base64
import hashlib
import os
import re
import sys
import zipfile

pkg, pyproject, out_dir, version = sys.argv[1:5]
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
dist_info = f"{name}-{release}.dist-info"
files = {}
for f in sorted(os.listdir(pkg)):
    if f.endswith((".py", ".pyi", ".pyd")) or f == "py.typed":
        with open(os.path.join(pkg, f), "rb") as fh:
            files[f"{name}/{f}"] = fh.read()
with open(os.path.join(root, "LICENSE"), "rb") as fh:
    files[f"{dist_info}/licenses/LICENSE"] = fh.read()
files[f"{dist_info}/METADATA"] = (
    f"Metadata-Version: 2.4\nName: {name}\nVersion: {release}\nSummary: {summary}\n"
    f"Author: the locket authors\nLicense-Expression: {licence}\nLicense-File: LICENSE\n"
    + "".join(f"Project-URL: {k}, {v}\n" for k, v in urls)
    + "Requires-Python: >=3.8\n").encode()
files[f"{dist_info}/WHEEL"] = (
    f"Wheel-Version: 1.0\nGenerator: locket windows_wheel.py\nRoot-Is-Purelib: false\n"
    f"Tag: {tag}-{tag}-win_amd64\n").encode()
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{dist_info}/RECORD,,")
files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
os.makedirs(out_dir, exist_ok=True)
wheel = os.path.join(out_dir, f"{name}-{release}-{tag}-{tag}-win_amd64.whl")
with zipfile.ZipFile(wheel + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
    for path, data in files.items():
        z.writestr(zipfile.ZipInfo(path, (2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
os.replace(wheel + ".tmp", wheel)
print(wheel)
