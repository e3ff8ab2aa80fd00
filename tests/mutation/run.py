#!/usr/bin/env python3
"""Mutation testing: apply each mutant (mutants.py) to a scratch copy of the tree, build it, run the
tests that must catch it, and fail if any mutant survives. Prints which tests killed each mutant.

    tests/mutation/run.sh [--only NAME]... [--list] [--keep] [--jobs N] [--rev COMMIT]

The scratch copy (the working tree's files, as `git ls-files` lists them) lives in a temporary
directory that is removed afterwards (--keep keeps it). Not part of the default test run.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from mutants import MUTANTS  # noqa: E402


def copy_tree(dst, rev=None):
    if rev:  # a commit instead of the working tree (to show that older tests missed a mutant)
        os.makedirs(dst)
        archive = subprocess.run(["git", "-C", ROOT, "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", dst], input=archive, check=True)
        return
    files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           check=True, capture_output=True).stdout.split(b"\0")
    for f in files:
        f = f.decode()
        if not f or f.startswith("build/"):
            continue
        src = os.path.join(ROOT, f)
        if not os.path.isfile(src):
            continue  # deleted in the working tree
        os.makedirs(os.path.dirname(os.path.join(dst, f)), exist_ok=True)
        shutil.copy2(src, os.path.join(dst, f))


def check_snippets(tree, mutants):
    """Every edit must match exactly once: fail loudly on a stale snippet."""
    stale = []
    for m in mutants:
        with open(os.path.join(tree, m["file"]), encoding="utf-8") as f:
            text = f.read()
        for search, _ in m["edits"]:
            n = text.count(search)
            if n != 1:
                stale.append(f"{m['name']}: {m['file']}: snippet found {n} times (want 1):\n    {search!r}")
    return stale


def apply(tree, m):
    path = os.path.join(tree, m["file"])
    with open(path, encoding="utf-8") as f:
        original = f.read()
    text = original
    for search, replace in m["edits"]:
        text = text.replace(search, replace, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path, original


def build(bdir, log):
    r = subprocess.run(["cmake", "--build", bdir, "-j2"], capture_output=True, text=True)
    with open(log, "a") as f:
        f.write(r.stdout + r.stderr)
    return r.returncode == 0


def list_tests(bdir):
    """{test name: CTest number} of the scratch build."""
    out = subprocess.run(["ctest", "--test-dir", bdir, "-N"], capture_output=True, text=True, check=True).stdout
    return {name: int(no) for no, name in re.findall(r"Test\s+#(\d+): (\S+)", out)}


def run_tests(bdir, regex, jobs, log):
    """Runs the tests whose names match regex (Python syntax); returns (names run, names failed)."""
    numbers = sorted(no for name, no in list_tests(bdir).items() if re.search(regex, name))
    if not numbers:
        return [], []
    # -I 0,0,0,<numbers>: exactly these tests (CMake's own regular expressions are too limited).
    r = subprocess.run(["ctest", "--test-dir", bdir, "-I", "0,0,0," + ",".join(map(str, numbers)),
                        "-j", str(jobs), "--output-on-failure"], capture_output=True, text=True)
    with open(log, "a") as f:
        f.write(r.stdout + r.stderr)
    ran = re.findall(r"Test\s+#\d+: (\S+) \.", r.stdout)
    failed = re.findall(r"^\s*\d+ - (\S+) \(", r.stdout, re.M)
    return ran, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", help="run only these mutants")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree")
    ap.add_argument("--jobs", type=int, default=2, help="ctest -j (default 2)")
    ap.add_argument("--rev", help="mutate this commit instead of the working tree")
    ap.add_argument("--no-baseline", action="store_true", help="skip the run without mutants")
    args = ap.parse_args()
    mutants = [m for m in MUTANTS if not args.only or m["name"] in args.only]
    if args.only and len(mutants) != len(args.only):
        print("FAIL: unknown mutant in --only", file=sys.stderr)
        return 2
    if args.list:
        for m in mutants:
            print(f"{m['name']:40} {m['file']:36} {m['what']}")
        return 0
    t_start = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="locket-mutation-")
    os.chmod(scratch, 0o755)  # tests that run a child as nobody need to reach the build
    tree, bdir, log = os.path.join(scratch, "src"), os.path.join(scratch, "build"), os.path.join(scratch, "log.txt")
    print(f"scratch tree {scratch} (log: {log})")
    try:
        copy_tree(tree, args.rev)
        stale = check_snippets(tree, mutants)
        if stale:
            for s in stale:
                print("FAIL: stale mutant:", s)
            return 1
        # The Python the suites run with is the project's environment (scripts/python-env.sh:
        # build/venv, with pytest and fasteners), as in the default build.
        pyargs = subprocess.run([os.path.join(ROOT, "scripts", "python-env.sh"), "--cmake-args"],
                                capture_output=True, text=True, check=True).stdout.split("\n")
        r = subprocess.run(["cmake", "-S", tree, "-B", bdir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                            "-DLOCKET_BUILD_BENCH=OFF"] + [a for a in pyargs if a],
                           capture_output=True, text=True)
        if r.returncode != 0 or not build(bdir, log):
            print("FAIL: the unmutated tree does not build:\n" + r.stdout[-2000:] + r.stderr[-2000:])
            return 1
        print(f"built the unmutated tree in {time.monotonic() - t_start:.0f} s")
        if not args.no_baseline:
            union = "|".join(f"({m['tests']})" for m in mutants)
            t0 = time.monotonic()
            ran, failed = run_tests(bdir, union, args.jobs, log)
            print(f"baseline: {len(ran)} tests, {len(failed)} failed ({time.monotonic() - t0:.0f} s)")
            if not ran or failed:
                print("FAIL: without a mutant these tests must run and pass: " + ", ".join(failed))
                return 1
        survivors = []
        for i, m in enumerate(mutants, 1):
            t0 = time.monotonic()
            path, original = apply(tree, m)
            try:
                if not build(bdir, log):
                    print(f"FAIL [{i}/{len(mutants)}] {m['name']}: does not build (fix the mutant)")
                    survivors.append(m["name"])
                    continue
                ran, failed = run_tests(bdir, m["tests"], args.jobs, log)
            finally:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(original)
            secs = time.monotonic() - t0
            if not ran:
                print(f"FAIL [{i}/{len(mutants)}] {m['name']}: no test matches {m['tests']}")
                survivors.append(m["name"])
            elif failed:
                print(f"killed   [{i}/{len(mutants)}] {m['name']} ({secs:.0f} s, {len(failed)} of {len(ran)} "
                      f"tests failed): {', '.join(sorted(failed))}")
            else:
                print(f"SURVIVED [{i}/{len(mutants)}] {m['name']} ({secs:.0f} s, {len(ran)} tests passed): "
                      f"{m['what']}")
                survivors.append(m["name"])
            sys.stdout.flush()
        total = time.monotonic() - t_start
        killed = len(mutants) - len(survivors)
        print(f"mutants={len(mutants)} killed={killed} survived={len(survivors)} ({total:.0f} s)")
        if survivors:
            print("FAIL: surviving mutants: " + ", ".join(survivors))
            return 1
        return 0
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
