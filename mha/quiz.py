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
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .i18n import language

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

ALLOWED_TAGS = ("sub", "sup", "em", "strong")
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


def render_text(text: str) -> str:
    """Quiz markup to HTML: escape everything, then `code` and a few inline tags."""
    if not isinstance(text, str):
        raise TypeError(f"quiz text must be a string; got {type(text).__name__}")
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    for tag in ALLOWED_TAGS:
        out = out.replace(f"&lt;{tag}&gt;", f"<{tag}>")
        out = out.replace(f"&lt;/{tag}&gt;", f"</{tag}>")
    return out


@dataclass(frozen=True)
class Option:
    """One button of a choice question."""

    id: str
    text: str
    feedback: str
    correct: bool = False


@dataclass(frozen=True)
class ChoiceQuestion:
    """Pick one of several options; exactly one is right."""

    id: str
    text: str
    options: tuple[Option, ...]

    @property
    def answer(self) -> Option:
        """The right option."""
        return next(o for o in self.options if o.correct)


@dataclass(frozen=True)
class WrongValue:
    """A number a typical slip gives, and what the slip is."""

    value: float
    feedback: str
    tolerance: float = 0.0


@dataclass(frozen=True)
class NumberQuestion:
    """Type a number; right when within ``tolerance`` of ``answer``."""

    id: str
    text: str
    answer: float
    tolerance: float
    feedback: str
    hint: str
    wrong: tuple[WrongValue, ...] = ()

    def accepts(self, value: float) -> bool:
        """Whether ``value`` counts as right (the page's script uses the same rule)."""
        return abs(value - self.answer) <= self.tolerance


Question = ChoiceQuestion | NumberQuestion


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{where}: {message}")


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    _require(
        isinstance(value, str) and value.strip() != "",
        where,
        f"needs a non-empty string {key!r}; got {value!r}",
    )
    return value


def _number(raw: dict[str, Any], key: str, where: str, default: Any = None) -> float:
    value = raw.get(key, default)
    _require(
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value),
        where,
        f"needs a finite number {key!r}; got {value!r}",
    )
    return float(value)


def _choice(raw: dict[str, Any], where: str) -> ChoiceQuestion:
    options = raw.get("options")
    _require(
        isinstance(options, list) and len(options) >= 2,
        where,
        "a choice question needs a list of at least 2 options",
    )
    parsed = []
    for j, opt in enumerate(options):
        at = f"{where}, option {j}"
        _require(isinstance(opt, dict), at, "must be an object")
        correct = opt.get("correct", False)
        _require(isinstance(correct, bool), at, "'correct' must be true or false")
        parsed.append(
            Option(
                _text(opt, "id", at),
                _text(opt, "text", at),
                _text(opt, "feedback", at),
                correct,
            )
        )
    ids = [o.id for o in parsed]
    _require(len(set(ids)) == len(ids), where, f"option ids repeat: {ids}")
    n_right = sum(o.correct for o in parsed)
    _require(
        n_right == 1,
        where,
        f"exactly one option must be correct; {n_right} are. Hint: mark the right "
        f'one with "correct": true.',
    )
    return ChoiceQuestion(
        _text(raw, "id", where), _text(raw, "text", where), tuple(parsed)
    )


def _numeric(raw: dict[str, Any], where: str) -> NumberQuestion:
    question = NumberQuestion(
        _text(raw, "id", where),
        _text(raw, "text", where),
        _number(raw, "answer", where),
        _number(raw, "tolerance", where, 0),
        _text(raw, "feedback", where),
        _text(raw, "hint", where),
        tuple(
            WrongValue(
                _number(w, "value", f"{where}, wrong value {j}"),
                _text(w, "feedback", f"{where}, wrong value {j}"),
                _number(w, "tolerance", f"{where}, wrong value {j}", 0),
            )
            for j, w in enumerate(raw.get("wrong", []))
        ),
    )
    _require(question.tolerance >= 0, where, "tolerance must not be negative")
    for w in question.wrong:
        _require(
            not question.accepts(w.value),
            where,
            f"the wrong value {w.value:g} is within the tolerance of the answer "
            f"{question.answer:g}, so its feedback could never show",
        )
    return question


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


def display_order(chapter: str, question: ChoiceQuestion) -> list[int]:
    """The order the options are shown in: fixed, but not the order of the file.

    Authors tend to write the right option first. A hash of the chapter, question
    and option ids shuffles them the same way on every build and in every language
    (the ids are not translated), so a translation shows the same order.
    """

    def key(j: int) -> str:
        option = question.options[j].id
        return hashlib.sha256(f"{chapter}/{question.id}/{option}".encode()).hexdigest()

    return sorted(range(len(question.options)), key=key)


def _json_for_script(data: Any) -> str:
    """JSON that cannot end the <script> element it sits in."""
    return (
        json.dumps(data, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def _render(quiz: Quiz, root: str) -> str:
    ui = {k: render_text(v) for k, v in quiz.ui.items()}
    items, data = [], []
    for n, q in enumerate(quiz.questions):
        qid = f"{root}-q{n}"
        fb = (
            f'<p class="mha-quiz-feedback" id="{qid}-fb" role="status" '
            f'aria-live="polite"></p>'
        )
        if isinstance(q, ChoiceQuestion):
            buttons = "".join(
                f'<button type="button" class="mha-quiz-option" data-index="{j}">'
                f"{render_text(q.options[j].text)}</button>"
                for j in display_order(quiz.chapter, q)
            )
            items.append(
                f'<li class="mha-quiz-question" data-kind="choice" data-id="{q.id}">'
                f'<fieldset><legend id="{qid}-text">{render_text(q.text)}</legend>'
                f'<div class="mha-quiz-options">{buttons}</div></fieldset>{fb}</li>'
            )
            data.append(
                {
                    "kind": "choice",
                    "options": [
                        {"right": o.correct, "feedback": render_text(o.feedback)}
                        for o in q.options
                    ],
                }
            )
        else:
            items.append(
                f'<li class="mha-quiz-question" data-kind="number" data-id="{q.id}">'
                f'<p class="mha-quiz-text" id="{qid}-text">{render_text(q.text)}</p>'
                f'<div class="mha-quiz-entry"><label for="{qid}-in">'
                f'{ui["your_answer"]}</label> <input type="text" id="{qid}-in" '
                f'inputmode="decimal" autocomplete="off" spellcheck="false" '
                f'aria-describedby="{qid}-text"> <button type="button" '
                f'class="mha-quiz-check">{ui["check"]}</button></div>{fb}</li>'
            )
            data.append(
                {
                    "kind": "number",
                    "answer": q.answer,
                    "tolerance": q.tolerance,
                    "feedback": render_text(q.feedback),
                    "hint": render_text(q.hint),
                    "wrong": [
                        [w.value, w.tolerance, render_text(w.feedback)] for w in q.wrong
                    ],
                }
            )
    payload = {"questions": data, "ui": ui}
    return (
        f'<section class="mha-quiz" id="{root}" '
        f'aria-label="{html.escape(quiz.ui["label"])}" '
        f'data-chapter="{quiz.chapter}" lang="{quiz.lang}"><style>{_STYLE}</style>'
        f'<ol class="mha-quiz-list">{"".join(items)}</ol>'
        f'<script type="application/json" class="mha-quiz-data">'
        f"{_json_for_script(payload)}</script>"
        f"<script>{_SCRIPT.replace('ROOT_ID', root)}</script></section>"
    )


# Colours come from the book's theme (pydata-sphinx-theme variables, which follow its
# light and dark modes), then JupyterLab's, then fixed light ones (Colab, classic
# Jupyter): text and background always come from the same source, so they contrast.
_STYLE = """
.mha-quiz{--mq-fg:var(--pst-color-text-base,var(--jp-content-font-color1,#1d1d1f));
--mq-bg:var(--pst-color-on-background,var(--jp-layout-color1,#ffffff));
--mq-panel:var(--pst-color-surface,var(--jp-layout-color2,#f1f3f6));
--mq-line:var(--pst-color-border,var(--jp-border-color1,#8a8f98));
--mq-right:#1a7f37;--mq-wrong:#c62828;--mq-focus:#0b62d6;
color:var(--mq-fg);font-size:1rem;line-height:1.5;margin:0.5rem 0}
html[data-theme="dark"] .mha-quiz{--mq-right:#4cc38a;--mq-wrong:#ff7b72;
--mq-focus:#7ab7ff}
.mha-quiz-list{counter-reset:mq;list-style:none;margin:0;padding:0}
.mha-quiz-question{background:var(--mq-panel);border:1px solid var(--mq-line);
border-radius:6px;counter-increment:mq;margin:0 0 1rem 0;padding:0.6rem 0.9rem}
.mha-quiz legend::before,.mha-quiz-text::before{content:counter(mq) ". "}
.mha-quiz fieldset{border:0;margin:0;padding:0;min-width:0}
.mha-quiz legend,.mha-quiz-text{float:none;font-size:1rem;font-weight:600;
margin:0 0 0.5rem 0;padding:0;width:auto}
.mha-quiz-options{display:flex;flex-direction:column;gap:0.4rem}
.mha-quiz button{background:var(--mq-bg);border:1px solid var(--mq-line);
border-radius:4px;color:var(--mq-fg);cursor:pointer;font:inherit;
padding:0.35rem 0.7rem;text-align:left}
.mha-quiz button:hover{border-color:var(--mq-fg)}
.mha-quiz button:focus-visible,.mha-quiz input:focus-visible{
outline:3px solid var(--mq-focus);outline-offset:2px}
.mha-quiz input{background:var(--mq-bg);border:1px solid var(--mq-line);
border-radius:4px;color:var(--mq-fg);font:inherit;padding:0.3rem 0.5rem;
width:10rem}
.mha-quiz code{background:transparent;color:inherit;font-size:0.92em;padding:0}
.mha-quiz button[data-state="right"],.mha-quiz input[data-state="right"]{
border:2px solid var(--mq-right)}
.mha-quiz button[data-state="wrong"],.mha-quiz input[data-state="wrong"]{
border:2px dashed var(--mq-wrong)}
.mha-quiz-feedback{margin:0.5rem 0 0 0}
.mha-quiz-feedback:empty{display:none}
.mha-quiz-feedback[data-state]{border-left:4px solid var(--mq-line);
padding-left:0.6rem}
.mha-quiz-feedback[data-state="right"]{border-left-color:var(--mq-right)}
.mha-quiz-feedback[data-state="wrong"]{border-left-color:var(--mq-wrong)}
.mha-quiz-verdict{font-weight:700}
"""

# Finds its quiz from the script element itself (Jupyter and Colab may show the same
# output twice), then by id. Feedback is HTML the renderer escaped, never the reader's.
_SCRIPT = """
(function () {
  var me = document.currentScript;
  var root = (me && me.closest(".mha-quiz")) || document.getElementById("ROOT_ID");
  if (!root || root.dataset.ready) { return; }
  root.dataset.ready = "1";
  var data = JSON.parse(root.querySelector(".mha-quiz-data").textContent);
  var ui = data.ui;
  function say(item, right, text) {
    var fb = item.querySelector(".mha-quiz-feedback");
    fb.dataset.state = right ? "right" : "wrong";
    fb.innerHTML = '<span class="mha-quiz-verdict">' +
      (right ? ui.right : ui.wrong) + "</span> " + text;
  }
  function parse(text) {
    var t = text.trim().replace(/[\\s,_]/g, "").replace(/\\u2212/g, "-");
    if (!/^[-+]?(\\d+\\.?\\d*|\\.\\d+)(e[-+]?\\d+)?$/i.test(t)) { return NaN; }
    return Number(t);
  }
  var items = root.querySelectorAll(".mha-quiz-question");
  Array.prototype.forEach.call(items, function (item, n) {
    var q = data.questions[n];
    if (q.kind === "choice") {
      var buttons = item.querySelectorAll(".mha-quiz-option");
      Array.prototype.forEach.call(buttons, function (button) {
        button.addEventListener("click", function () {
          var opt = q.options[Number(button.dataset.index)];
          Array.prototype.forEach.call(buttons, function (b) {
            b.removeAttribute("data-state");
            b.setAttribute("aria-pressed", "false");
          });
          button.dataset.state = opt.right ? "right" : "wrong";
          button.setAttribute("aria-pressed", "true");
          say(item, opt.right, opt.feedback);
        });
        button.setAttribute("aria-pressed", "false");
      });
      return;
    }
    var input = item.querySelector("input");
    function check() {
      var value = parse(input.value);
      if (isNaN(value)) {
        input.dataset.state = "wrong";
        say(item, false, ui.not_a_number);
        return;
      }
      if (Math.abs(value - q.answer) <= q.tolerance) {
        input.dataset.state = "right";
        say(item, true, q.feedback);
        return;
      }
      input.dataset.state = "wrong";
      for (var i = 0; i < q.wrong.length; i++) {
        if (Math.abs(value - q.wrong[i][0]) <= q.wrong[i][1]) {
          say(item, false, q.wrong[i][2]);
          return;
        }
      }
      say(item, false, q.hint);
    }
    item.querySelector(".mha-quiz-check").addEventListener("click", check);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); check(); }
    });
  });
})();
"""
