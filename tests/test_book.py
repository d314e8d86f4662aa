"""Build the book as `make book` does: no warnings, every page there, no dead links."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
from conftest import HTML, STAGE, TEST_REPOSITORY, toc_files, toc_pages


def test_book_builds_without_warnings(built_book):
    log = built_book.stdout + built_book.stderr
    # Sphinx reports as "path:line: WARNING: ...". Kernel chatter such as
    # "[IPKernelApp] WARNING | Kernel is running over TCP" is not a build warning.
    warnings = [ln for ln in log.splitlines() if "WARNING:" in ln or "ERROR:" in ln]
    assert built_book.returncode == 0 and not warnings, (
        "\n".join(warnings) or log[-4000:]
    )


def test_every_toc_page_is_in_the_html(built_book):
    pages = toc_pages()
    assert len(pages) >= 8, f"_toc.yml names only {pages}"
    missing = [p for p in pages if not (HTML / f"{p}.html").exists()]
    assert not missing, (
        f"pages in _toc.yml with no HTML page after the build: {missing}"
    )


class Links(HTMLParser):
    """Collects href/src targets and element ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.targets.append(value)
            if name == "id" and value:
                self.ids.add(value)


def parse(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def dead_links(page: Path) -> list[str]:
    """Internal links of a page whose file, or whose #anchor, does not exist."""
    dead = []
    for target in parse(page).targets:
        parts = urlsplit(target)
        if parts.scheme or target.startswith(("//", "mailto:", "data:")):
            continue  # external: the offline browser test checks none are loaded
        path = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
        if not path.exists() or (
            parts.fragment
            and path.suffix == ".html"
            and parts.fragment not in parse(path).ids
        ):
            dead.append(target)
    return dead


def test_internal_links_resolve(built_book):
    pages = [HTML / f"{p}.html" for p in toc_pages()]
    dead = {str(p.relative_to(HTML)): d for p in pages if (d := dead_links(p))}
    assert not dead, f"dead internal links: {dead}"


def test_dead_link_finder_can_fail(tmp_path):
    (tmp_path / "a.html").write_text(
        '<p id="x"><a href="b.html">b</a> <a href="a.html#x">ok</a>'
        ' <a href="#nope">bad anchor</a> <a href="https://example.org">ext</a></p>'
    )
    assert dead_links(tmp_path / "a.html") == ["b.html", "#nope"]


def test_toc_files_walks_parts_and_sections():
    toc = {
        "root": "intro",
        "parts": [{"chapters": [{"file": "a", "sections": [{"file": "b"}]}]}],
    }
    assert toc_files(toc) == ["intro", "a", "b"]


COLAB_LINK = re.compile(r'href="(https://colab\.research\.google\.com/github/[^"]+)"')


def test_a_fork_build_names_the_fork_everywhere(built_book):
    """Built with GITHUB_REPOSITORY set (as the Pages workflow does), no page and no
    downloadable notebook names the placeholder, every launch link names the fork,
    and every Colab link opens a staged notebook that installs from the fork."""
    assert built_book.returncode == 0
    placeholder = [
        str(p.relative_to(HTML))
        for p in [*HTML.rglob("*.html"), *HTML.rglob("*.ipynb")]
        if "OWNER" in p.read_text(encoding="utf-8")
    ]
    assert not placeholder, f"pages that still name OWNER: {placeholder}"
    prefix = f"https://colab.research.google.com/github/{TEST_REPOSITORY}/blob/colab/"
    opened = set()
    for page in toc_pages():
        text = (HTML / f"{page}.html").read_text(encoding="utf-8")
        assert f'href="https://github.com/{TEST_REPOSITORY}"' in text  # repo button
        for link in COLAB_LINK.findall(text):
            assert link.startswith(prefix), link
            opened.add(link.removeprefix(prefix))
    assert len(opened) >= 36  # every chapter, exercise and solution page
    install = f"git+https://github.com/{TEST_REPOSITORY}@colab"
    for relpath in sorted(opened):
        notebook = STAGE / relpath  # what the workflow pushes to the colab branch
        assert notebook.exists(), f"a Colab link opens {relpath}, which is not staged"
        nb = nbformat.read(notebook, as_version=4)
        assert install in nb.cells[1].source, relpath
        assert "OWNER" not in notebook.read_text(encoding="utf-8"), relpath
