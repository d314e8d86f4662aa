"""mha.quiz: the question files follow their rules, the HTML is accessible and
self-contained, and the page script gives the right feedback in a real browser with
no kernel and no network."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT, notebooks

from mha.quiz import (
    ChoiceQuestion,
    NumberQuestion,
    available_quizzes,
    display_order,
    load_quiz,
    render_text,
)

CHAPTERS = [p.stem for p in notebooks("chapters")]


def test_every_chapter_has_a_quiz_of_three_to_five_questions():
    assert available_quizzes() == CHAPTERS
    for chapter in CHAPTERS:
        quiz = load_quiz(chapter)
        assert 3 <= len(quiz.questions) <= 5, (chapter, len(quiz.questions))


def test_every_wrong_answer_has_its_own_feedback():
    for chapter in CHAPTERS:
        for q in load_quiz(chapter).questions:
            if isinstance(q, ChoiceQuestion):
                wrong = [o for o in q.options if not o.correct]
                feedback = [o.feedback for o in wrong]
            else:
                wrong, feedback = list(q.wrong), [w.feedback for w in q.wrong]
                assert q.hint not in feedback
            assert wrong, f"{chapter}/{q.id} has no wrong answer with feedback"
            assert len(set(feedback)) == len(feedback), f"{chapter}/{q.id}"


def test_no_quiz_text_uses_markdown_emphasis_which_would_show_as_asterisks():
    # Quiz text is not markdown: `code` and a few tags are all render_text knows.
    emphasis = re.compile(r"(?<![*\w])\*[^*\s][^*]*\*(?!\*)")
    for path in sorted((ROOT / "mha" / "quizzes").glob("*/*.json")):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = re.sub(r"`[^`]*`", "", line)  # code may hold a * 2
            assert not emphasis.search(text), f"{path.name}: use <em>: {line.strip()}"


def test_each_chapter_notebook_shows_its_quiz_before_the_exercises_link():
    for path in notebooks("chapters"):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = ["".join(c["source"]) for c in cells]
        at = [i for i, src in enumerate(code) if f'show_quiz("{path.stem}")' in src]
        assert len(at) == 1, f"{path.name}: no single show_quiz({path.stem!r}) cell"
        cell = cells[at[0]]
        assert "remove-input" in cell["metadata"].get("tags", []), path.name
        assert cells[at[0] - 1]["cell_type"] == "markdown"
        assert "".join(cells[at[0] - 1]["source"]).startswith("## ")
        assert "[Exercises for this chapter]" in code[-1]
        assert at[0] == len(cells) - 2, f"{path.name}: the quiz is not the last thing"


def test_render_text_escapes_all_but_code_and_a_few_tags():
    assert render_text("a < b & `x <y>` d<sub>k</sub>") == (
        "a &lt; b &amp; <code>x &lt;y&gt;</code> d<sub>k</sub>"
    )
    assert render_text("<script>alert(1)</script>") == (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    )
    with pytest.raises(TypeError, match="string"):
        render_text(3)


def test_the_data_cannot_close_the_script_it_is_embedded_in():
    quiz = load_quiz("01_soft_lookup")
    choice = quiz.questions[0]
    evil = ChoiceQuestion(
        choice.id,
        choice.text,
        tuple(
            type(o)(o.id, o.text, "</script><script>alert(1)</script>", o.correct)
            for o in choice.options
        ),
    )
    page = type(quiz)(quiz.chapter, quiz.lang, (evil,), quiz.ui).to_html()
    assert page.count("<script") == 2 and page.count("</script>") == 2


def write(tmp_path, name: str, text: str) -> None:
    (tmp_path / "quizzes" / "en").mkdir(parents=True, exist_ok=True)
    (tmp_path / "quizzes" / "en" / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ({"id": "a", "type": "choice", "text": "t", "options": []}, "at least 2"),
        (
            {
                "id": "a",
                "type": "choice",
                "text": "t",
                "options": [
                    {"id": "x", "text": "x", "feedback": "f", "correct": True},
                    {"id": "y", "text": "y", "feedback": "g", "correct": True},
                ],
            },
            "exactly one option must be correct; 2 are",
        ),
        (
            {
                "id": "a",
                "type": "choice",
                "text": "t",
                "options": [
                    {"id": "x", "text": "x", "feedback": "f", "correct": True},
                    {"id": "y", "text": "y"},
                ],
            },
            "option 1: needs a non-empty string 'feedback'",
        ),
        (
            {
                "id": "a",
                "type": "number",
                "text": "t",
                "answer": 8,
                "tolerance": 0.5,
                "feedback": "f",
                "hint": "h",
                "wrong": [{"value": 8.2, "feedback": "w"}],
            },
            "wrong value 8.2 is within the tolerance",
        ),
        ({"id": "a", "type": "slider", "text": "t"}, "unknown type 'slider'"),
    ],
)
def test_broken_question_files_are_refused_with_a_reason(
    tmp_path, monkeypatch, question, message
):
    import mha.quiz.loading as quiz_module  # where the quiz files are found

    write(tmp_path, "ui.json", (ROOT / "mha/quizzes/en/ui.json").read_text())
    write(tmp_path, "99_test.json", json.dumps({"questions": [question]}))
    monkeypatch.setattr(
        quiz_module, "_folder", lambda lang: tmp_path / "quizzes" / lang
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        load_quiz("99_test")


def test_an_unknown_chapter_names_the_known_ones():
    with pytest.raises(ValueError, match="01_soft_lookup"):
        load_quiz("01_soft_lookups")


def test_options_are_shown_in_a_fixed_order_that_is_not_the_files():
    right_first = 0
    for chapter in CHAPTERS:
        for q in load_quiz(chapter).questions:
            if isinstance(q, ChoiceQuestion):
                order = display_order(chapter, q)
                assert sorted(order) == list(range(len(q.options)))
                assert order == display_order(chapter, q)
                right_first += q.options[order[0]].correct
    assert right_first < 20  # the authors' habit of writing the right option first


def test_the_html_has_labels_and_a_live_region_per_question():
    quiz = load_quiz("03_project")
    page = quiz.to_html()
    n = len(quiz.questions)
    assert page.count('aria-live="polite"') == n
    numbers = sum(isinstance(q, NumberQuestion) for q in quiz.questions)
    assert page.count("<label for=") == numbers
    assert page.count("<legend") == n - numbers
    assert "http" not in page  # nothing to fetch
    assert quiz.to_html() != page  # fresh element ids for a second display


# --- in a browser: the feedback, with no kernel and no network --------------------


@pytest.fixture
def quiz_page(browser):
    """A bare page holding the quiz of chapter 5 (choices and a number)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: errors.append(f"request {r.url}"))
    page.set_content(
        f"<!doctype html><html lang='en'><body><main>"
        f"{load_quiz('05_mask').to_html()}</main></body></html>"
    )
    yield page
    assert not errors, errors
    page.close()


def option(page, question: str, option_id: str):
    q = load_quiz("05_mask").question(question)
    index = [o.id for o in q.options].index(option_id)
    item = page.locator(f'.mha-quiz-question[data-id="{question}"]')
    return item, item.locator(f'button[data-index="{index}"]')


def test_a_wrong_choice_names_its_misconception_and_the_right_one_confirms(quiz_page):
    q = load_quiz("05_mask").question("sdpa-polarity")
    item, wrong = option(quiz_page, "sdpa-polarity", "same")
    wrong.click()
    feedback = item.locator(".mha-quiz-feedback")
    assert feedback.get_attribute("data-state") == "wrong"
    assert "read upside down" in feedback.inner_text()
    assert wrong.get_attribute("aria-pressed") == "true"
    _, right = option(quiz_page, "sdpa-polarity", "inverted")
    right.focus()
    quiz_page.keyboard.press("Enter")  # the keyboard works as well as the mouse
    assert feedback.get_attribute("data-state") == "right"
    assert feedback.inner_text().startswith("Right.")
    assert q.answer.feedback.split("`")[0] in feedback.inner_text()
    assert wrong.get_attribute("aria-pressed") == "false"


def test_a_number_gets_feedback_for_slips_hints_otherwise_and_rejects_text(quiz_page):
    item = quiz_page.locator('.mha-quiz-question[data-id="masked-pairs"]')
    box, feedback = item.locator("input"), item.locator(".mha-quiz-feedback")
    for typed, state, text in [
        ("21", "wrong", "counts the allowed pairs"),
        ("7", "wrong", "Count, row by row"),
        ("fifteen", "wrong", "Type a number"),
        (" 15 ", "right", "strictly above the diagonal"),
    ]:
        box.fill(typed)
        box.press("Enter")
        assert feedback.get_attribute("data-state") == state, typed
        assert text in feedback.inner_text(), typed
    box.fill("1.5e1")
    item.get_by_role("button", name="Check").click()
    assert feedback.get_attribute("data-state") == "right"


def test_the_quiz_controls_have_names_and_take_the_keyboard(quiz_page):
    quiz_page.keyboard.press("Tab")
    names = []
    for _ in range(20):
        names.append(
            quiz_page.evaluate(
                "() => { const e = document.activeElement; return e.tagName + ':' +"
                " (e.labels && e.labels.length ? e.labels[0].textContent :"
                " e.textContent) }"
            )
        )
        quiz_page.keyboard.press("Tab")
    assert any(n.startswith("INPUT:Your answer") for n in names), names
    assert sum(n.startswith("BUTTON:") for n in names) >= 10, names
    assert all(n.split(":", 1)[1].strip() for n in names), names


def test_the_built_package_carries_every_quiz_and_translation_file(tmp_path):
    """Colab installs only the package, from a wheel: the questions must be in it."""
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"  # a copy, so that the build leaves nothing in the tree
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "mha", src / "mha", ignore=shutil.ignore_patterns("__py*"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        p.relative_to(ROOT).as_posix()
        for p in [
            *(ROOT / "mha" / "quizzes").rglob("*.json"),
            *(ROOT / "mha" / "locale").glob("*.json"),
        ]
    }
    # every chapter and ui.json, in English and Chinese, and the Chinese control texts
    assert len(wanted) == 2 * (len(CHAPTERS) + 1) + 1
    assert wanted <= names, sorted(wanted - names)


def test_the_quiz_works_in_a_sandboxed_frame_as_colab_shows_outputs(browser):
    """Colab runs each output's HTML in its own sandboxed iframe (scripts allowed,
    nothing else): the quiz must need no more than that."""
    import html

    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: errors.append(r.url) if r.url != "about:blank" else 0)
    inner = (
        f"<!doctype html><html lang='en'><body>{load_quiz('07_concatenate').to_html()}"
    )
    page.set_content(
        '<!doctype html><html lang="en"><body><iframe title="output" '
        f'sandbox="allow-scripts" srcdoc="{html.escape(inner)}" width="900" '
        'height="900"></iframe></body></html>'
    )
    frame = page.frame_locator("iframe")
    item = frame.locator('.mha-quiz-question[data-id="layer-params"]')
    item.locator("input").fill("12480")
    item.locator("input").press("Enter")
    feedback = item.locator(".mha-quiz-feedback")
    assert "leaves out the output projection" in feedback.inner_text()
    item.locator("input").fill("16,640")
    item.get_by_role("button", name="Check").click()
    assert feedback.get_attribute("data-state") == "right"
    assert not errors, errors
    page.close()
