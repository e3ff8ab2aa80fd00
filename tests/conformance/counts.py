#!/usr/bin/env python3
"""Sum the runner's run-time counts over a CTest run of the matrix (the figures docs/conformance.md
and the README quote).

    ctest --test-dir build/default -L conformance -j2
    python3 tests/conformance/counts.py build/default/Testing/Temporary/LastTest.log
"""
import re
import sys

LINE = re.compile(r"^executed=(\d+) passed=(\d+) skipped=(\d+) failed=(\d+) of (\d+) scenarios$", re.M)


def main():
    with open(sys.argv[1], errors="replace") as f:
        found = [tuple(map(int, m)) for m in LINE.findall(f.read())]
    if not found:
        print("FAIL: no runner summary lines in", sys.argv[1])
        return 1
    executed, passed, skipped, failed, total = (sum(col) for col in zip(*found))
    print(f"{len(found)} assignments: {total} (scenario, assignment) runs, {executed} executed "
          f"({passed} passed, {failed} failed), {skipped} skipped by declared reasons")
    return 1 if failed or executed + skipped != total else 0


if __name__ == "__main__":
    sys.exit(main())
