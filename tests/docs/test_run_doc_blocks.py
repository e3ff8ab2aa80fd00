"""The docs runner itself: it runs what it should, and fails what it should."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "run_doc_blocks.py")


def run(tmp_path, markdown):
    doc = tmp_path / "doc.md"
    doc.write_text(markdown)
    build = tmp_path / "build"
    build.mkdir(exist_ok=True)
    out = subprocess.run([sys.executable, RUNNER, "--build", str(build), str(doc)], capture_output=True, text=True)
    return out.returncode, out.stdout


@pytest.mark.parametrize(
    "markdown, needle",
    [
        ("```python\nraise SystemExit(3)\n```\n", "doc.md:1 (python): python: exit 3"),
        ("```python\nimport sys; sys.stderr.write('x')\n```\n", "FAIL"),
        ("```sh\nfalse\n```\n", "FAIL"),
        ("Text.\n\n    false\n", "doc.md:3 (sh): bash: exit 1"),  # an indented block is shell
        ("```ruby\nputs 1\n```\n", "neither run nor marked"),
        ("<!-- docs-test: skip -->\n```sh\ntrue\n```\n", "needs a reason"),
        ("<!-- docs-test: continue -->\n```sh\ntrue\n```\n", "without an earlier"),
        ("```python\nx = 1\n```\n\n<!-- docs-test: continue -->\n```python\nassert x == 2\n```\n", "FAIL"),
    ],
)
def test_failures_are_reported(tmp_path, markdown, needle):
    rc, out = run(tmp_path, markdown)
    assert rc == 1, out
    assert "FAIL" in out and needle in out, out


def test_runs_skips_and_text(tmp_path):
    md = (
        "```python\nx = 1\n```\n\n<!-- docs-test: continue -->\n```python\nassert x == 1\n```\n\n"
        "<!-- docs-test: skip not here -->\n```sh\nfalse\n```\n\n```\nlayout, not code\n```\n\n"
        "```sh\ntest \"$(pwd)\" != /tmp && touch /tmp/made-by-block && test -e \"$PWD/made-by-block\"\n```\n\n"
        "- a list item\n\n      indented continuation, not code\n"
    )
    rc, out = run(tmp_path, md)
    assert rc == 0, out
    assert "2 block(s) run, 0 failure(s)" in out
    assert "skip " in out and "(sh): not here" in out
    assert "text " in out
