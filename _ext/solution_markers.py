"""Solution pages show the worked answers without the exercise generator's markers.

`scripts/make_exercises.py` cuts what lies between `### BEGIN SOLUTION` and
`### END SOLUTION` out of each solution notebook to make its exercise, so the
notebooks keep the markers. On the solution pages of the book they are noise: this
extension drops the marker lines from the code shown on pages under `solutions/`.
The notebooks, and so Colab and Jupyter, are unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes

MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION\b.*(?:\n|$)", re.MULTILINE)
FOLDER = "solutions/"


def without_markers(text: str) -> str:
    """``text`` with every BEGIN/END SOLUTION marker line removed."""
    return MARKER.sub("", text).rstrip("\n")


def strip_markers(doctree: nodes.Node) -> int:
    """Remove the marker lines from every code block of ``doctree``; return how
    many blocks changed."""
    changed = 0
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        if "SOLUTION" not in text:
            continue
        cleaned = without_markers(text)
        if cleaned != text:
            block.children = [nodes.Text(cleaned)]
            block.rawsource = cleaned
            changed += 1
    return changed


def _on_doctree_read(app: Any, doctree: nodes.document) -> None:
    if app.env.docname.startswith(FOLDER):
        strip_markers(doctree)


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-read", _on_doctree_read)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
