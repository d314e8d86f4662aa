"""Build the book as `make book` does; check that every page of _toc.yml is there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from build_book import HTML, build_command, prepare  # noqa: E402


def toc_files(node: object) -> list[str]:
    """Every `file:` (and the root) named anywhere in a _toc.yml structure."""
    found: list[str] = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                found.append(node[key])
        for value in node.values():
            found += toc_files(value)
    elif isinstance(node, list):
        for item in node:
            found += toc_files(item)
    return found


@pytest.fixture(scope="module")
def build() -> subprocess.CompletedProcess[str]:
    prepare()
    return subprocess.run(build_command(), cwd=ROOT, text=True, capture_output=True)


def test_book_builds_without_warnings(build):
    log = build.stdout + build.stderr
    # Sphinx reports as "path:line: WARNING: ...". Kernel chatter such as
    # "[IPKernelApp] WARNING | Kernel is running over TCP" is not a build warning.
    warnings = [ln for ln in log.splitlines() if "WARNING:" in ln or "ERROR:" in ln]
    assert build.returncode == 0 and not warnings, "\n".join(warnings) or log[-4000:]


def test_every_toc_page_is_in_the_html(build):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = toc_files(toc)
    assert len(pages) >= 8, f"_toc.yml names only {pages}"
    missing = [
        p for p in pages if not (HTML / f"{Path(p).with_suffix('')}.html").exists()
    ]
    assert not missing, (
        f"pages in _toc.yml with no HTML page after the build: {missing}"
    )


def test_toc_files_walks_parts_and_sections():
    toc = {
        "root": "intro",
        "parts": [{"chapters": [{"file": "a", "sections": [{"file": "b"}]}]}],
    }
    assert toc_files(toc) == ["intro", "a", "b"]
