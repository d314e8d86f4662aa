"""The language of what the package shows a reader: English, or Chinese (中文).

The Chinese edition runs the same code cells as the English one. What the package
itself writes for a reader (the static-page controls' labels and notes, the page
explorer's texts, the checkers' reports and hints) is looked up here, so one call at
the top of a Chinese notebook switches it::

    import mha
    mha.set_language("zh")

Everything else stays English on purpose: code, its comments and printed tables are
the code of both editions, and the figures' labels come from that code (which also
means no Chinese text in a figure, so no missing CJK font in Colab or the build).

Translations live in ``mha/locale/<language>.json``, keyed by the English text. A
text with no translation is shown in English and remembered: :func:`missing` lists
them, and the Chinese notebooks end by asserting there are none, so a changed English
text fails the Chinese build instead of silently showing English.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

__all__ = ["LANGUAGES", "known", "language", "missing", "set_language", "tr"]

LANGUAGES = ("en", "zh")
_state = {"language": "en"}
_missing: dict[str, None] = {}  # an ordered set


@cache
def _catalogue(lang: str) -> dict[str, str]:
    path = resources.files(__package__).joinpath("locale", f"{lang}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def set_language(lang: str) -> None:
    """Show the package's texts in ``lang``: ``"en"`` (the default) or ``"zh"``."""
    if lang not in LANGUAGES:
        raise ValueError(
            f"language must be one of {', '.join(map(repr, LANGUAGES))}; got "
            f"{lang!r}. Hint: mha.set_language('zh') for Chinese."
        )
    if lang != "en":
        _catalogue(lang)  # fail here, not in the middle of a report
    _state["language"] = lang


def language() -> str:
    """The language set by :func:`set_language`."""
    return _state["language"]


def tr(text: str) -> str:
    """``text`` (English) in the current language; English when it has no
    translation yet, which :func:`missing` then lists.

    Texts with values to fill in are translated before filling:
    ``tr("all {n} cases pass").format(n=4)``.
    """
    lang = _state["language"]
    if lang == "en":
        return text
    translated = _catalogue(lang).get(text)
    if translated is None:
        _missing[text] = None
        return text
    return translated


def known(text: str) -> str:
    """``text`` in the current language if the catalogue has it, else ``text`` as
    it is, unrecorded: for words the code computes (a value glued into the prose,
    such as ``"none"``), which may also be names that stay English."""
    if _state["language"] == "en":
        return text
    return _catalogue(_state["language"]).get(text, text)


def missing() -> list[str]:
    """English texts shown so far that have no translation in the current language."""
    return list(_missing)
