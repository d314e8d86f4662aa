"""Shared paths and fixtures for the repository-level tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

# Property tests draw the same examples on every run (and in CI): a failure found once
# is found again, and a green run stays green. Change the seed by editing the tests.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.load_profile("repeatable")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIRS = ("chapters", "exercises", "solutions")
ARTIFACTS = ROOT / "test-artifacts"

sys.path.insert(0, str(ROOT / "scripts"))
from build_book import (  # noqa: E402
    STAGE,
    TEST_HTML,
    TEST_OUTPUT,
    build_chinese,
    build_command,
    prepare,
)

# The tests build the book as a fork would publish it, for a made-up repository, into
# a folder of their own (`make book` builds into _build/html).
TEST_REPOSITORY = "book-tester/mha-fork"
HTML = TEST_HTML


def pytest_collection_modifyitems(config, items) -> None:
    """Mark every test by what it needs, so that `make test` can run each group the
    fastest way and `make test-fast` only the quick ones:

    - ``notebook``: a cell of a notebook, run by nbval;
    - ``book``: needs the built book or the browser (the build, the browser tests);
    - ``colab``: runs in the Colab environment (.venv-colab);
    - ``unit``: everything else (the package, the checkers, the scripts, lint).
    """
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.notebook)
        elif item.path.name == "test_colab_env.py":
            item.add_marker(pytest.mark.colab)
        elif {"built_book", "built_chinese", "browser"} & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.book)
        else:
            item.add_marker(pytest.mark.unit)


def notebooks(*dirs: str) -> list[Path]:
    """Every committed notebook in the given folders (all three by default)."""
    found: list[Path] = []
    for folder in dirs or NOTEBOOK_DIRS:
        found += sorted(
            p
            for p in (ROOT / folder).glob("*.ipynb")
            if ".ipynb_checkpoints" not in p.parts
        )
    return found


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


def toc_pages() -> list[str]:
    """The pages of the book, in _toc.yml order, without file extensions."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [str(Path(p).with_suffix("")) for p in toc_files(toc)]


def zh_pages() -> list[str]:
    """The pages of the Chinese edition, which sits under zh/ of the site."""
    return [f"zh/{p}" for p in toc_pages()]


def both_editions() -> list[str]:
    """Every page of the site: the English book's, then the Chinese edition's."""
    return toc_pages() + zh_pages()


@pytest.fixture(scope="session")
def built_book() -> subprocess.CompletedProcess[str]:
    """Build the book once per test session as `make book` does when the Pages
    workflow runs it: with GITHUB_REPOSITORY set (to TEST_REPOSITORY)."""
    saved = os.environ.get("GITHUB_REPOSITORY")
    os.environ["GITHUB_REPOSITORY"] = TEST_REPOSITORY
    try:
        src = prepare(TEST_OUTPUT)
    finally:
        if saved is None:
            del os.environ["GITHUB_REPOSITORY"]
        else:
            os.environ["GITHUB_REPOSITORY"] = saved
    assert src == STAGE, "the build did not stage a copy for the repository"
    return subprocess.run(
        build_command(src=src, output=TEST_OUTPUT),
        cwd=ROOT,
        text=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def built_chinese(built_book) -> subprocess.CompletedProcess[str]:
    """The Chinese edition, built after the English one as `make book` does, into
    the site's zh/ (for the same made-up fork)."""
    assert built_book.returncode == 0, "the English book did not build"
    saved = os.environ.get("GITHUB_REPOSITORY")
    os.environ["GITHUB_REPOSITORY"] = TEST_REPOSITORY
    try:
        return build_chinese(STAGE, TEST_OUTPUT, text=True, capture_output=True)
    finally:
        if saved is None:
            del os.environ["GITHUB_REPOSITORY"]
        else:
            os.environ["GITHUB_REPOSITORY"] = saved


@pytest.fixture(scope="module")
def site(built_book, built_chinese) -> Iterator[str]:
    """Base URL of the built site (both editions) served on a free loopback port."""
    from browsing import serve

    assert built_book.returncode == 0, "the book did not build"
    assert built_chinese.returncode == 0, "the Chinese edition did not build"
    with serve(HTML) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), launched by playwright, for one test module."""
    from browsing import CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, (
        "no chromium on PATH: `make test` installs it (apt-get install chromium)"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


__all__ = [
    "ARTIFACTS",
    "HTML",
    "NOTEBOOK_DIRS",
    "ROOT",
    "STAGE",
    "TEST_REPOSITORY",
    "both_editions",
    "notebooks",
    "toc_files",
    "toc_pages",
    "zh_pages",
]
