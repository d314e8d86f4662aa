"""Build the book as `make book` does: no warnings, every page there, no dead links."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
from conftest import (
    HTML,
    STAGE,
    TEST_REPOSITORY,
    both_editions,
    toc_files,
    toc_pages,
    zh_pages,
)


def warnings_of(build) -> list[str]:
    # Sphinx reports as "path:line: WARNING: ...". Kernel chatter such as
    # "[IPKernelApp] WARNING | Kernel is running over TCP" is not a build warning.
    log = build.stdout + build.stderr
    return [ln for ln in log.splitlines() if "WARNING:" in ln or "ERROR:" in ln]


def test_book_builds_without_warnings(built_book):
    warnings = warnings_of(built_book)
    assert built_book.returncode == 0 and not warnings, (
        "\n".join(warnings) or (built_book.stdout + built_book.stderr)[-4000:]
    )


def test_the_chinese_edition_builds_without_warnings(built_chinese):
    warnings = warnings_of(built_chinese)
    assert built_chinese.returncode == 0 and not warnings, (
        "\n".join(warnings) or (built_chinese.stdout + built_chinese.stderr)[-4000:]
    )


def test_every_page_has_its_twin_in_the_other_edition(built_chinese):
    """Each page links to the same page of the other edition, and the Chinese pages
    say they are Chinese (the theme's texts too)."""
    for page in toc_pages():
        english, chinese = HTML / f"{page}.html", HTML / f"zh/{page}.html"
        assert chinese.exists(), f"no Chinese page for {page}"
        depth = "../" * page.count("/")
        assert f'href="{depth}zh/{page}.html"' in english.read_text("utf-8"), page
        text = chinese.read_text("utf-8")
        assert f'href="{depth}../{page}.html"' in text, f"zh/{page}"
        assert '<html lang="zh-CN"' in text or "<html lang='zh-CN'" in text, page
        assert "搜索" in text, f"zh/{page}: the theme's own texts are not Chinese"


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


def test_internal_links_resolve(built_chinese):
    pages = [HTML / f"{p}.html" for p in both_editions()]
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


def test_a_fork_build_names_the_fork_everywhere(built_book, built_chinese):
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
    for page in both_editions():
        text = (HTML / f"{page}.html").read_text(encoding="utf-8")
        assert f'href="https://github.com/{TEST_REPOSITORY}"' in text  # repo button
        if page in zh_pages() and "colab.research" in text:
            # A Chinese page opens the Chinese notebook.
            assert f"/blob/colab/{page}.ipynb" in text, page
        for link in COLAB_LINK.findall(text):
            assert link.startswith(prefix), link
            opened.add(link.removeprefix(prefix))
    assert len(opened) >= 2 * 39  # every chapter, exercise and solution, twice
    install = f"git+https://github.com/{TEST_REPOSITORY}@colab"
    for relpath in sorted(opened):
        notebook = STAGE / relpath  # what the workflow pushes to the colab branch
        assert notebook.exists(), f"a Colab link opens {relpath}, which is not staged"
        nb = nbformat.read(notebook, as_version=4)
        assert install in nb.cells[1].source, relpath
        assert "OWNER" not in notebook.read_text(encoding="utf-8"), relpath
