"""A quiz as one block of self-contained HTML: markup, style and a small inline
script (no fetch, no kernel), and :func:`render_text`, the quiz's text markup.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from typing import TYPE_CHECKING, Any

from .questions import ChoiceQuestion

if TYPE_CHECKING:
    from .loading import Quiz

ALLOWED_TAGS = ("sub", "sup", "em", "strong")


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
    var verdict = right ? ui.right : ui.wrong;
    // No space after a full-width stop (Chinese): one after a Latin one.
    var gap = /[\u3000-\u303f\uff00-\uffef]$/.test(verdict) ? "" : " ";
    fb.innerHTML = '<span class="mha-quiz-verdict">' + verdict + "</span>" + gap +
      text;
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
