"""Build the book as `make book` does: no warnings, every page there, no dead links."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from conftest import HTML, toc_files, toc_pages


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
