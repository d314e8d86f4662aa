"""Exercises are generated from solutions, stay in sync, and link both ways."""

from __future__ import annotations

import re
import sys

import nbformat
import pytest
import yaml
from conftest import HTML, ROOT, notebooks

sys.path.insert(0, str(ROOT / "scripts"))
import make_exercises as gen  # noqa: E402


def source(path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells)


def test_exercises_are_up_to_date():
    code = gen.main(["--check"])
    assert code == 0, (
        "exercises/ is stale: run `.venv/bin/python scripts/make_exercises.py`"
    )


def test_every_chapter_has_an_exercise_and_a_solution():
    chapters = {p.name for p in notebooks("chapters")}
    assert chapters, "no chapters found"
    assert chapters <= {p.name for p in notebooks("solutions")}
    assert chapters <= {p.name for p in notebooks("exercises")}


@pytest.mark.parametrize("path", notebooks("chapters"), ids=lambda p: p.name)
def test_chapter_links_to_its_exercises(path):
    assert f"../exercises/{path.name}" in source(path)


@pytest.mark.parametrize("path", notebooks("exercises"), ids=lambda p: p.name)
def test_exercise_and_solution_link_to_each_other(path):
    assert f"../solutions/{path.name}" in source(path)
    assert f"../exercises/{path.name}" in source(ROOT / "solutions" / path.name)


@pytest.mark.parametrize("path", notebooks("exercises"), ids=lambda p: p.name)
def test_exercise_has_no_answers_left(path):
    text = source(path)
    assert "### BEGIN SOLUTION" not in text and "Model answer" not in text
    assert "NotImplementedError" in text and "checks." in text


def test_strip_solution_replaces_blocks_and_asserted_checks():
    src = "\n".join(
        [
            "def f(x):",
            "    ### BEGIN SOLUTION",
            "    return x + 1",
            "    ### END SOLUTION",
            "### BEGIN SOLUTION (stub: guess = None)",
            "guess = 3",
            "### END SOLUTION",
            "assert checks.f(f)",
        ]
    )
    out = gen.strip_solution(src, "test").splitlines()
    assert out == [
        "def f(x):",
        f"    {gen.DEFAULT_STUB}",
        "guess = None",
        "checks.f(f);",  # the last line: Jupyter shows no True/False under it
    ]


def test_only_a_last_line_call_is_silenced():
    src = "assert checks.f(f)\nassert checks.g(g)\ntorch.manual_seed(0)"
    assert gen.strip_solution(src, "t").splitlines() == [
        "checks.f(f)",
        "checks.g(g)",
        "torch.manual_seed(0);",  # returns a Generator, which Jupyter would show
    ]
    assert gen.strip_solution("x = checks.f(f)", "t") == "x = checks.f(f)"


@pytest.mark.parametrize(
    "src, message",
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
    ],
)
def test_malformed_markers_are_reported(src, message):
    with pytest.raises(gen.MarkerError, match=message):
        gen.strip_solution(src, "cell 3")


def test_solution_cells_become_answer_prompts_and_header_is_rewritten():
    header = nbformat.v4.new_markdown_cell(
        "# Solutions: T\n\n[Back to the exercises](../exercises/x.ipynb)"
    )
    header.metadata["tags"] = ["header"]
    answer = nbformat.v4.new_markdown_cell("Model answer: 42")
    answer.metadata["tags"] = ["solution"]
    nb = nbformat.v4.new_notebook(cells=[header, answer])
    out = gen.exercise_from_solution(nb, "x")
    badge, setup, title, prompt = out.cells
    assert "colab-badge" in badge.metadata["tags"]
    assert "exercises/x.ipynb" in badge.source
    assert "colab-setup" in setup.metadata["tags"]
    assert title.source.startswith("# Exercises: T")
    assert "[Worked solutions](../solutions/x.ipynb)" in title.source
    assert "Colab" in title.source and "README" in title.source  # how to run it
    assert "exercises/x.ipynb" in title.source
    assert prompt.source == gen.ENGLISH["answer_prompt"]
    assert "double-click" not in prompt.source.lower()  # meaningless on the web
    assert nb.cells[1].source == "Model answer: 42", "the solution must not change"


# ------------------------------------------------ solution pages on the web

sys.path.insert(0, str(ROOT / "_ext"))
import solution_markers  # noqa: E402


def test_solution_markers_are_dropped_from_shown_code():
    from docutils import nodes

    code = "\n".join(
        [
            "def f(x):",
            "    ### BEGIN SOLUTION",
            "    return x + 1",
            "    ### END SOLUTION",
            "### BEGIN SOLUTION (stub: guess = None  # a number)",
            "guess = 3",
            "### END SOLUTION",
        ]
    )
    doc = nodes.section("", nodes.literal_block(code, code))
    doc += nodes.literal_block("x = 1", "x = 1")
    assert solution_markers.strip_markers(doc) == 1
    first, second = doc.findall(nodes.literal_block)
    assert first.astext() == "def f(x):\n    return x + 1\nguess = 3"
    assert second.astext() == "x = 1"


def test_solution_markers_extension_is_registered():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["sphinx"]["local_extensions"]["solution_markers"] == "_ext"


def page_text(path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.book
def test_exercise_and_solution_pages_read_right_on_the_web(built_book):
    """What the web pages show: no markers on solution pages; no stray True/False
    or Generator under a cell, no 'double-click' on exercise pages, which say how
    to run them."""
    assert built_book.returncode == 0, built_book.stderr[-3000:]
    for path in notebooks("solutions"):
        html = page_text(HTML / "solutions" / f"{path.stem}.html")
        assert "BEGIN SOLUTION" not in html and "END SOLUTION" not in html, path.name
    for path in notebooks("exercises"):
        html = page_text(HTML / "exercises" / f"{path.stem}.html")
        assert "torch._C.Generator" not in html, path.name
        bare_bool = re.search(r"<pre><span></span>(True|False)\s*</pre>", html)
        assert not bare_bool, path.name
        assert "double-click" not in html.lower(), path.name
        assert "Running the exercises" in html, path.name


def test_a_check_split_over_lines_is_refused():
    source = 'assert checks.predict(a, b,\n                      "label")'
    with pytest.raises(gen.MarkerError, match="on one line"):
        gen.strip_solution(source, "solutions/x.ipynb, cell 3")
