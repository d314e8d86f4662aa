"""Reading a chapter's quiz: :func:`load_quiz` checks its JSON file in
``mha/quizzes/<lang>/`` and returns a :class:`Quiz`, which Jupyter shows as HTML.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..i18n import language
from .questions import Question, _choice, _numeric, _require
from .render import _render

_ids = itertools.count()  # distinct element ids for every quiz shown in one page


def _folder(lang: str) -> Any:
    return resources.files("mha") / "quizzes" / lang


def available_quizzes(lang: str = "en") -> list[str]:
    """The chapter names that have a quiz in ``lang``, sorted."""
    folder = _folder(lang)
    if not folder.is_dir():
        return []
    return sorted(
        p.name.removesuffix(".json")
        for p in folder.iterdir()
        if p.name.endswith(".json") and p.name != "ui.json"
    )


@dataclass(frozen=True)
class Quiz:
    """A chapter's questions, ready to render. Jupyter shows it as the quiz."""

    chapter: str
    lang: str
    questions: tuple[Question, ...]
    ui: dict[str, str]

    def question(self, question_id: str) -> Question:
        """The question with this id."""
        for q in self.questions:
            if q.id == question_id:
                return q
        known = [q.id for q in self.questions]
        raise KeyError(
            f"{self.chapter} has no question {question_id!r}; it has {known}"
        )

    def to_html(self) -> str:
        """The quiz as self-contained HTML: markup, style and script."""
        return _render(self, f"mha-quiz-{next(_ids)}")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"<quiz {self.chapter!r}: {len(self.questions)} questions>"


UI_KEYS = (
    "label",
    "your_answer",
    "check",
    "right",
    "wrong",
    "not_a_number",
)


def _load_ui(lang: str) -> dict[str, str]:
    path = _folder(lang) / "ui.json"
    ui = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in UI_KEYS if not isinstance(ui.get(k), str)]
    _require(not missing, f"quizzes/{lang}/ui.json", f"missing strings {missing}")
    return ui


def load_quiz(chapter: str, lang: str = "en") -> Quiz:
    """Read and check the quiz of ``chapter`` (a notebook name such as
    ``"01_soft_lookup"``) in language ``lang``.

    Raises:
        ValueError: there is no such quiz, or its file breaks a rule (an id twice, a
            choice question without exactly one right option, a wrong value that
            counts as right, ...); the message says which question and why.
    """
    if not isinstance(chapter, str):
        raise TypeError(
            f"chapter must be a string such as '01_soft_lookup'; got "
            f"{type(chapter).__name__}"
        )
    known = available_quizzes(lang)
    if chapter not in known:
        raise ValueError(
            f"no quiz {chapter!r} in language {lang!r}. Hint: the chapters with a "
            f"quiz are {known}; the name is the notebook's, without .ipynb."
        )
    where = f"quizzes/{lang}/{chapter}.json"
    raw = json.loads((_folder(lang) / f"{chapter}.json").read_text(encoding="utf-8"))
    items = raw.get("questions")
    _require(isinstance(items, list) and items, where, "needs a list 'questions'")
    questions: list[Question] = []
    for i, item in enumerate(items):
        at = f"{where}, question {i}"
        _require(isinstance(item, dict), at, "must be an object")
        kind = item.get("type")
        _require(kind in ("choice", "number"), at, f"unknown type {kind!r}")
        questions.append(_choice(item, at) if kind == "choice" else _numeric(item, at))
    ids = [q.id for q in questions]
    _require(len(set(ids)) == len(ids), where, f"question ids repeat: {ids}")
    return Quiz(chapter, lang, tuple(questions), _load_ui(lang))


def show_quiz(chapter: str, lang: str | None = None) -> Quiz:
    """The chapter's quiz, in ``lang`` (default: the language set by
    :func:`mha.set_language`); as the last line of a cell, Jupyter displays it."""
    return load_quiz(chapter, lang or language())
