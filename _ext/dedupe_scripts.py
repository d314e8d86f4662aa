"""Sphinx extension: drop repeated <script> tags from each page.

With Jupyter Book 1 on Sphinx 7.4, sphinx-thebe and sphinx-togglebutton add their
inline configuration scripts twice; the second `const THEBE_JS_URL = ...` is a
SyntaxError in the browser console on every page. Keeping the first copy of each
identical script removes the error without changing what any page loads.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple:
    """Same file (or inline body) and attributes; Sphinx records an inline script
    once with filename None and once with "", so both count as no file."""
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""  # inline: None or ""
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def dedupe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
