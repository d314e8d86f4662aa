"""The two kinds of quiz question, and how a question is read from its JSON and
checked: :class:`ChoiceQuestion`, whose options are :class:`Option`, and
:class:`NumberQuestion`, whose known wrong values are :class:`WrongValue`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


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
