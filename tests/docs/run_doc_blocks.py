#!/usr/bin/env python3
"""Runs the code blocks of a Markdown file, so that what the docs show works.

    run_doc_blocks.py --build BUILD_DIR [--cc CC --c-lib LIB] FILE.md...

Every code block is either run or marked as not meant to run:

- Fenced blocks tagged python, lua, c, sh (or bash) are run; each must exit 0
  and write nothing to stderr. An indented (4-space) block counts as sh.
- A fenced block without a language, or tagged text, is not code (a layout,
  a file format) and is not run.
- An HTML comment on the line before a block changes that:
    <!-- docs-test: skip REASON -->   not run (REASON is required)
    <!-- docs-test: continue -->      run after the previous block of the same
                                      language in the file, as one program
- Any other language tag is an error, so that nothing is skipped silently.

How each language runs: python with this interpreter (PYTHONPATH=BUILD/python,
-W error); lua with every runtime built in BUILD/lua/ (lua5.4, luajit, ...),
except that a program using <close> or <const> runs on 5.4 only (its
earlier "continue" parts without them run on the others); c compiled
with CC against include/ and the static library LIB (a block without main() is
wrapped in one, its #include lines kept on top); sh with bash -euo pipefail and
BUILD/cli on the PATH. Each block runs in a fresh temporary directory, which
also replaces the paths /tmp/ and /var/lock/ in the block's text, so that runs
leave nothing behind.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNABLE = {"python": "python", "lua": "lua", "c": "c", "sh": "sh", "bash": "sh"}
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(skip|continue)\b\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")


class Block:
    def __init__(self, path, line, lang, text, marker, reason):
        self.path, self.line, self.lang, self.text = path, line, lang, text
        self.marker, self.reason = marker, reason

    def where(self):
        return f"{os.path.relpath(self.path, ROOT)}:{self.line}"


def marker_before(lines, i):
    """The docs-test marker on the line before line i (blank lines between allowed)."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0:
        m = MARKER.match(lines[j])
        if m:
            return m.group(1), m.group(2)
    return None, ""


def extract(path):
    """The code blocks of a Markdown file: fenced ones, and indented ones
    (after a blank line, not inside a list item)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, i = [], 0
    prev_text = ""  # the last non-blank line outside code
    while i < len(lines):
        line = lines[i]
        m = FENCE.match(line)
        if m:
            indent, fence, lang = m.groups()
            body, j = [], i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence):
                body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
                j += 1
            marker, reason = marker_before(lines, i)
            blocks.append(Block(path, i + 1, lang.lower(), "\n".join(body) + "\n", marker, reason))
            i = j + 1
            prev_text = ""
            continue
        starts_indented = (line.startswith("    ") or line.startswith("\t")) and line.strip()
        after_break = i > 0 and (not lines[i - 1].strip() or MARKER.match(lines[i - 1]))
        if starts_indented and after_break and not LIST_ITEM.match(prev_text) \
                and not prev_text.startswith((" ", "\t")):
            body, j = [], i
            while j < len(lines) and (lines[j].startswith(("    ", "\t")) or not lines[j].strip()):
                body.append(lines[j][4:] if lines[j].startswith("    ") else lines[j].lstrip("\t"))
                j += 1
            while body and not body[-1].strip():
                body.pop()
            marker, reason = marker_before(lines, i)
            blocks.append(Block(path, i + 1, "sh", "\n".join(body) + "\n", marker, reason))
            i = j
            continue
        if line.strip():
            prev_text = line
        i += 1
    return blocks


class Runner:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.cc = args.cc
        self.c_lib = os.path.abspath(args.c_lib) if args.c_lib else None
        lua_dir = os.path.join(self.build, "lua")
        self.lua_runtimes = sorted(d for d in os.listdir(lua_dir)) if os.path.isdir(lua_dir) else []

    def run(self, lang, text, parts):
        with tempfile.TemporaryDirectory(prefix="locket-docs-") as tmp:
            def local(t):
                return t.replace("/tmp/", tmp + "/").replace("/var/lock/", tmp + "/")
            return getattr(self, "run_" + lang)(local(text), tmp, [local(p) for p in parts])

    def _exec(self, argv, cwd, env=None, what=""):
        out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or out.stderr.strip():
            return f"{what or argv[0]}: exit {out.returncode}\n{out.stdout}{out.stderr}"
        return None

    def run_python(self, text, tmp, parts):
        env = dict(os.environ, PYTHONPATH=os.path.join(self.build, "python"))
        script = os.path.join(tmp, "block.py")
        with open(script, "w") as f:
            f.write(text)
        return self._exec([sys.executable, "-W", "error", script], tmp, env, "python")

    def run_lua(self, text, tmp, parts):
        """The whole program on every runtime that has its syntax; where a
        later part needs Lua 5.4 (<close>, <const>), the parts before it run
        on the other runtimes."""
        if not self.lua_runtimes:
            return "no Lua runtime built in " + os.path.join(self.build, "lua")
        needs_54 = [re.search(r"<\s*(close|const)\s*>", p) is not None for p in parts]
        portable = "".join(parts[: needs_54.index(True)] if True in needs_54 else parts)
        ran = 0
        for rt in self.lua_runtimes:
            program = text if rt == "lua5.4" or not any(needs_54) else portable
            if not program.strip():
                continue
            exe = shutil.which(rt)
            if exe is None:
                return f"{rt} is built but not on the PATH"
            script = os.path.join(tmp, f"block-{rt}.lua")
            with open(script, "w") as f:
                f.write(program)
            d = os.path.join(self.build, "lua", rt)
            env = dict(os.environ, LUA_PATH=f"{d}/?.lua;{d}/?/init.lua;;", LUA_CPATH=f"{d}/?.so;;")
            err = self._exec([exe, script], tmp, env, rt)
            if err:
                return err
            ran += 1
        return None if ran else "no runtime could run this block"

    def run_c(self, text, tmp, parts):
        if not (self.cc and self.c_lib):
            return "C blocks need --cc and --c-lib"
        if not re.search(r"\bmain\s*\(", text):
            includes = [ln for ln in text.splitlines() if ln.startswith("#include")]
            body = [ln for ln in text.splitlines() if not ln.startswith("#include")]
            text = "#include <stdio.h>\n" + "\n".join(includes) + "\nint main(void)\n{\n"
            text += "\n".join("\t" + ln for ln in body) + "\n\treturn 0;\n}\n"
        src = os.path.join(tmp, "block.c")
        with open(src, "w") as f:
            f.write(text)
        exe = os.path.join(tmp, "block")
        argv = [self.cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-DLOCKET_STATIC", "-I", os.path.join(ROOT, "include"),
                src, self.c_lib, "-lpthread", "-o", exe]
        return self._exec(argv, tmp, None, "cc") or self._exec([exe], tmp, None, "the C program")

    def run_sh(self, text, tmp, parts):
        # TMPDIR: the block's own scratch directory (blocks may name $TMPDIR, as a user's shell would).
        env = dict(os.environ, PATH=os.path.join(self.build, "cli") + os.pathsep + os.environ.get("PATH", ""),
                   TMPDIR=tmp)
        return self._exec(["bash", "-euo", "pipefail", "-c", text], tmp, env, "bash")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--cc")
    ap.add_argument("--c-lib")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    runner = Runner(args)
    failures = ran = 0
    for path in args.files:
        pending = {}  # language -> [first block, language, text so far], for "continue"
        blocks = extract(path)
        programs = []
        for b in blocks:
            if b.marker == "skip":
                if not b.reason:
                    print(f"FAIL  {b.where()}: a skip marker needs a reason")
                    failures += 1
                else:
                    print(f"skip  {b.where()} ({b.lang or 'text'}): {b.reason}")
                continue
            if b.lang in ("", "text"):
                print(f"text  {b.where()}")
                continue
            lang = RUNNABLE.get(b.lang)
            if lang is None:
                print(f"FAIL  {b.where()}: language {b.lang!r} is neither run nor marked "
                      "(tag it text, or add <!-- docs-test: skip REASON -->)")
                failures += 1
                continue
            if b.marker == "continue":
                if lang not in pending:
                    print(f"FAIL  {b.where()}: 'continue' without an earlier {lang} block")
                    failures += 1
                    continue
                pending[lang][2] += b.text
                pending[lang][3].append(b.text)
                continue
            pending[lang] = [b, lang, b.text, [b.text]]
            programs.append(pending[lang])
        for first, lang, text, parts in programs:
            err = runner.run(lang, text, parts)
            ran += 1
            if err:
                failures += 1
                print(f"FAIL  {first.where()} ({lang}): {err}")
            else:
                print(f"ok    {first.where()} ({lang})")
    print(f"{ran} block(s) run, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
