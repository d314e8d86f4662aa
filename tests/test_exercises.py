"""Exercises are generated from solutions, stay in sync, and link both ways."""

from __future__ import annotations

import sys

import nbformat
import pytest
from conftest import ROOT, notebooks

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
        "checks.f(f)",
    ]


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
    assert prompt.source == gen.ANSWER_PROMPT
    assert nb.cells[1].source == "Model answer: 42", "the solution must not change"
