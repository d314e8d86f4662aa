"""The checkers' engine and their one namespace: a report never raises, shows what was
expected and received, and every checker a notebook calls is exported by mha.checks."""

from __future__ import annotations

import json
import re

from checking import verdict
from conftest import notebooks

from mha import checks


def test_a_non_function_is_reported_not_raised(capsys):
    ok, report = verdict(capsys, checks.split_heads, None)
    assert ok is False and "expected your function" in report


def test_report_shows_expected_and_received_shapes(capsys):
    ok, report = verdict(capsys, checks.split_heads, lambda x, h: x)
    assert ok is False
    assert "expected shape (2, 3, 5, 4)" in report
    assert "received shape (2, 5, 12)" in report


def names_the_notebooks_call() -> set[str]:
    """Every ``checks.NAME`` in a code cell of a chapter, exercise or solution."""
    names = set()
    for path in notebooks():
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                names |= set(re.findall(r"\bchecks\.(\w+)", "".join(cell["source"])))
    return names


def test_every_name_the_notebooks_call_is_exported():
    called = names_the_notebooks_call()
    assert len(called) >= 20  # the scan found the exercises' checkers
    assert called <= set(checks.__all__), called - set(checks.__all__)
    assert all(hasattr(checks, name) for name in checks.__all__)


def test_each_checker_lives_in_its_topic_module():
    for name in checks.__all__:
        obj = getattr(checks, name)
        if callable(obj):
            assert obj.__module__.startswith("mha.checks."), (name, obj.__module__)
            assert obj.__module__ != "mha.checks._engine", name
