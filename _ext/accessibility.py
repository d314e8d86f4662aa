"""Sphinx extension: accessibility fixes for what the theme and MyST-NB generate.

An axe-core audit of the built book (tests/test_accessibility.py) found these; each
is fixed here, at the source of the HTML, so that no page needs fixing by hand:

* Figures: a notebook figure's image had no alt text (the HTML writer then falls
  back to the file name). A captioned figure's image now takes its caption as alt
  text; an image without a caption takes the cell's ``mystnb: image: alt:``
  metadata (MyST-NB's own option), and an image with neither is a build warning,
  which the ``-W`` build turns into an error.
* The sidebar's expand/collapse toggles (``<summary>`` holding only a chevron) had
  no name: each gets visually hidden text naming the part it opens.
* MyST-NB's "Show code cell source" toggles were named "Toggle hidden content",
  which is not the text they show (WCAG 2.5.3): the aria-label is removed, so their
  name is what they say.
* sphinxcontrib-bibtex's entries carry the deprecated ARIA role
  ``doc-biblioentry`` inside a ``role="list"``: they become list items.

The theme's search button and colour-mode switch are fixed by the templates in
``_templates/``; widget controls by ``_assets/widgets-a11y.js``.
"""

from __future__ import annotations

import re
from typing import Any

from bs4 import BeautifulSoup
from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)


def caption_text(figure: nodes.figure) -> str:
    """A figure's caption as one line of plain text (math as its TeX source)."""
    for caption in figure.findall(nodes.caption):
        return " ".join(caption.astext().split())
    return ""


def fill_figure_alt(doctree: nodes.document) -> int:
    """Give every image of a captioned figure its caption as alt text, unless it
    has one; return how many images got one."""
    filled = 0
    for figure in doctree.findall(nodes.figure):
        text = caption_text(figure)
        if not text:
            continue
        for image in figure.findall(nodes.image):
            if not image.get("alt"):
                image["alt"] = text
                filled += 1
    return filled


def images_without_alt(doctree: nodes.document) -> list[nodes.image]:
    return [image for image in doctree.findall(nodes.image) if not image.get("alt")]


def on_doctree_resolved(app, doctree: nodes.document, docname: str) -> None:
    fill_figure_alt(doctree)
    for image in images_without_alt(doctree):
        logger.warning(
            "image without alt text: give the cell a caption (mystnb: figure: "
            "caption:) or a description (mystnb: image: alt:) that says what it "
            "shows",
            location=image,
            type="accessibility",
            subtype="alt",
        )


# What a screen reader says for a sidebar toggle, per edition: (with title, without).
SUMMARY_LABELS = {"en": ("Sections of {}", "Sections"), "zh": ("“{}”的小节", "小节")}


def summary_labels(language: str | None) -> tuple[str, str]:
    """The toggle labels for a Sphinx `language` (zh_CN -> zh); English otherwise."""
    return SUMMARY_LABELS.get((language or "en").split("_")[0], SUMMARY_LABELS["en"])


def label_summaries(html: str, labels: tuple[str, str] = SUMMARY_LABELS["en"]) -> str:
    """Name every <summary> that shows no text, after the link of its list item."""
    template, untitled = labels
    soup = BeautifulSoup(html, "html.parser")
    changed = False
    for summary in soup.find_all("summary"):
        if summary.get_text(strip=True) or summary.get("aria-label"):
            continue
        item = summary.find_parent("li")
        link = item.find("a", recursive=False) if item else None
        title = link.get_text(" ", strip=True) if link else ""
        hidden = soup.new_tag("span", attrs={"class": "visually-hidden"})
        hidden.string = template.format(title) if title else untitled
        summary.append(hidden)
        changed = True
    return str(soup) if changed else html


_MYST_NB_TOGGLE = re.compile(r'<summary aria-label="Toggle hidden content">')


def fix_body(body: str) -> str:
    """The page body with MyST-NB's toggles named by their text and the
    bibliography's entries as list items."""
    body = _MYST_NB_TOGGLE.sub("<summary>", body)
    return body.replace('role="doc-biblioentry"', 'role="listitem"')


def on_page_context(app, pagename: str, templatename: str, context: dict, doctree):
    if "body" in context:
        context["body"] = fix_body(context["body"])
    original = context.get("generate_toctree_html")
    if original is None or getattr(original, "labels_summaries", False):
        return

    labels = summary_labels(app.config.language)

    def generate_toctree_html(*args: Any, **kwargs: Any) -> str:
        return label_summaries(str(original(*args, **kwargs)), labels)

    generate_toctree_html.labels_summaries = True
    context["generate_toctree_html"] = generate_toctree_html


def setup(app) -> dict[str, Any]:
    app.connect("doctree-resolved", on_doctree_resolved)
    # After pydata-sphinx-theme has put generate_toctree_html into the context.
    app.connect("html-page-context", on_page_context, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
