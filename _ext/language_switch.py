"""Sphinx extension: a link on every page to the same page in the other edition.

The English book is the site's root and the Chinese one sits under `zh/`. Each
edition's configuration names the other (`mha_other_edition` in `_config.yml` under
`sphinx.config`): its root relative to this edition's root, the link's text and its
language code. The link goes at the top of the article, before the page's title.
"""

from __future__ import annotations

import html
from typing import Any


def add_link(app, pagename, templatename, context, doctree) -> None:
    other = app.config.mha_other_edition
    if not other or "body" not in context:
        return
    depth = pagename.count("/")
    href = "../" * depth + other["root"] + pagename + ".html"
    link = (
        f'<p class="mha-edition"><a href="{html.escape(href)}" '
        f'hreflang="{other["lang"]}" lang="{other["lang"]}">'
        f"{html.escape(other['label'])}</a></p>"
    )
    context["body"] = link + context["body"]


def setup(app) -> dict[str, Any]:
    app.add_config_value("mha_other_edition", {}, "html")
    app.connect("html-page-context", add_link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
