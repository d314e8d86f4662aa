"""Quick self-check questions at the end of each chapter, answered on the page.

The questions are data, one JSON file per chapter and language in ``mha/quizzes/``
(``en/01_soft_lookup.json``, ...), with the interface strings in ``ui.json`` beside
them: a translation adds a folder and touches no code. This module reads a file,
checks it, and renders it as one block of self-contained HTML with a small inline
script. Nothing is fetched and no kernel is needed, so the same output works in the
static book, in Jupyter and in Colab (which runs an output's HTML in its own frame).

A chapter shows its quiz with one cell (tagged ``remove-input`` in the book)::

    from mha.quiz import show_quiz

    show_quiz("01_soft_lookup")

Two kinds of question:

* ``choice``: buttons, one per option. Exactly one option is right; every wrong one
  carries feedback that names the misconception it stands for.
* ``number``: a text box and a Check button. The answer is right within
  ``tolerance``; listed wrong values (the results of typical slips) get their own
  feedback, anything else a hint.

Texts are plain text with `backticks` for code and the tags ``<sub>``, ``<sup>``,
``<em>`` and ``<strong>``; everything else is escaped. Feedback appears in an
``aria-live`` region, so screen readers announce it.

The package: :mod:`~mha.quiz.questions` (the two kinds of question),
:mod:`~mha.quiz.loading` (reading and checking a file) and
:mod:`~mha.quiz.render` (the HTML).
"""

from __future__ import annotations

from .loading import Quiz, available_quizzes, load_quiz, show_quiz
from .questions import ChoiceQuestion, NumberQuestion, Option, WrongValue
from .render import display_order, render_text

__all__ = [
    "ChoiceQuestion",
    "NumberQuestion",
    "Option",
    "Quiz",
    "WrongValue",
    "available_quizzes",
    "display_order",
    "load_quiz",
    "render_text",
    "show_quiz",
]
