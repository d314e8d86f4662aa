"""What every checker's tests share: a stub, the verdict, and the three claims each
checker must keep (a named mistake is rejected with its hint, the reference passes,
an untouched stub is 'not attempted')."""

from __future__ import annotations


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
