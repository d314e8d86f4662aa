"""What every checker's tests share: a stub, the verdict, and the three claims each
checker must keep (a named mistake is rejected with its hint, the reference passes,
an untouched stub is 'not attempted')."""

from __future__ import annotations

import pytest


def stub(*args, **kwargs):
    raise NotImplementedError("Write your code here, then run the check.")


def verdict(capsys, checker, fn) -> tuple[bool, str]:
    """The checker's verdict and its report, line breaks as spaces (reports are
    wrapped to the book's column, so a phrase may run over two lines)."""
    ok = checker(fn)
    return ok, " ".join(capsys.readouterr().out.split())


def name_of(x) -> str:
    """A test id for a function (a checker, a reference, a mistake); '' otherwise."""
    return getattr(x, "__name__", "")


def checkers_of(cases) -> list[tuple]:
    """The ``(checker, reference)`` pairs of ``(checker, reference, wrong, hint)``."""
    return sorted({(c, r) for c, r, _, _ in cases}, key=lambda p: p[0].__name__)


def assert_rejected(capsys, checker, wrong, hint: str) -> None:
    ok, report = verdict(capsys, checker, wrong)
    assert ok is False
    assert "failed" in report or "raised" in report, report
    assert hint in report, report


def assert_accepted(capsys, checker, reference) -> None:
    ok, report = verdict(capsys, checker, reference)
    assert ok is True, report
    assert "all" in report and "pass" in report


def assert_not_attempted(capsys, checker) -> None:
    ok, report = verdict(capsys, checker, stub)
    assert ok is False
    assert "not attempted yet" in report


def standard_tests(cases):
    """The three tests every checker module runs over its ``CASES`` (checker,
    reference, wrong answer, hint): each wrong answer is rejected with its hint,
    each reference is accepted, an untouched stub is 'not attempted'. A module
    binds them to module-level names so that pytest collects them."""

    @pytest.mark.parametrize("checker, reference, wrong, hint", cases, ids=name_of)
    def test_wrong_answer_is_rejected_with_its_hint(
        capsys, checker, reference, wrong, hint
    ):
        assert_rejected(capsys, checker, wrong, hint)

    @pytest.mark.parametrize("checker, reference", checkers_of(cases), ids=name_of)
    def test_reference_is_accepted(capsys, checker, reference):
        assert_accepted(capsys, checker, reference)

    @pytest.mark.parametrize("checker, reference", checkers_of(cases), ids=name_of)
    def test_stub_is_not_attempted(capsys, checker, reference):
        assert_not_attempted(capsys, checker)

    return (
        test_wrong_answer_is_rejected_with_its_hint,
        test_reference_is_accepted,
        test_stub_is_not_attempted,
    )
