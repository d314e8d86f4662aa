"""The machinery behind `mha.checks`: run a learner's function on cases, report kindly.

A checker never raises for a wrong answer. It runs each case, compares with the
reference, and prints either a one-line pass or the first failing case: what was
expected against what was received (shape first, then values) and a hint that names
the likely mistake. It returns True or False so a solution notebook can assert it;
the exercise notebooks end the call with ``;`` so that the bool is not shown under
the report. Reports are wrapped to the width of the book's code column.
"""

from __future__ import annotations

import inspect
import os
import textwrap
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

NOT_ATTEMPTED = "not attempted yet: the function still raises NotImplementedError."
RAISED_HINT = "check the shapes of your intermediate tensors."
WRONG_HINT = "compare your steps with the chapter, one shape at a time."
# The book's code column shows 77 characters at a 1280 px window: reports fit it.
WIDTH = 76


@dataclass
class Case:
    """One call of the learner's function and what it must return.

    ``mistakes`` maps a hint to a wrong answer that a common mistake would produce
    for this case; when the learner's output equals one of them, that hint is given.
    """

    label: str
    args: tuple[Any, ...]
    expected: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    mistakes: dict[str, Any] = field(default_factory=dict)
    hint: str = ""


def rand(*shape: int, seed: int) -> Tensor:
    """A standard-normal tensor from its own generator: cases never change."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def takes_keyword(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` has a parameter called ``name`` (or takes **kwargs)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except ValueError:
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


def takes(fn: Callable[..., Any], n: int) -> bool:
    """Whether ``fn`` can be called with ``n`` positional arguments."""
    try:
        inspect.signature(fn).bind(*range(n))
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): assume it can
        return True
    return True


def describe(value: Any) -> str:
    """A short description of a value for a report line."""
    if isinstance(value, Tensor):
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    if isinstance(value, tuple) and any(isinstance(v, Tensor) for v in value):
        return "tuple(" + ", ".join(describe(v) for v in value) + ")"
    return repr(value)


def _same(received: Any, expected: Any) -> bool:
    """Exact structure, shape and dtype kind; values within assert_close's tolerance."""
    if isinstance(expected, tuple):
        return (
            isinstance(received, tuple)
            and len(received) == len(expected)
            and all(_same(r, e) for r, e in zip(received, expected, strict=True))
        )
    if isinstance(expected, Tensor):
        if not isinstance(received, Tensor) or received.shape != expected.shape:
            return False
        if expected.dtype == torch.bool or received.dtype == torch.bool:
            return received.dtype == expected.dtype and torch.equal(received, expected)
        try:
            torch.testing.assert_close(
                received.detach().cpu().to(expected.dtype),
                expected.cpu(),
                equal_nan=True,
            )
        except AssertionError:
            return False
        return True
    return received == expected


def difference(received: Any, expected: Any) -> str:
    """Where received and expected first differ, in words: structure, shape, values."""
    if isinstance(expected, tuple):
        if not isinstance(received, tuple) or len(received) != len(expected):
            return f"expected a {describe(expected)}\n  received a {describe(received)}"
        for i, (r, e) in enumerate(zip(received, expected, strict=True)):
            if not _same(r, e):
                return f"item {i} of the returned tuple differs:\n  " + difference(r, e)
        return "no difference"
    if isinstance(expected, Tensor):
        if not isinstance(received, Tensor):
            return f"expected a {describe(expected)}\n  received a {describe(received)}"
        if received.shape != expected.shape:
            return (
                f"expected shape {tuple(expected.shape)}\n"
                f"  received shape {tuple(received.shape)}"
            )
        if (expected.dtype == torch.bool) != (received.dtype == torch.bool):
            return f"expected dtype {expected.dtype}\n  received dtype {received.dtype}"
        r = received.detach().cpu().to(expected.dtype)
        e = expected.cpu()
        if e.dtype == torch.bool:
            wrong = (r != e).nonzero()
            idx = tuple(wrong[0].tolist())
            return (
                f"the shapes match; {len(wrong)} of {e.numel()} entries differ, "
                f"first at index {idx}: expected {e[idx].item()}, "
                f"received {r[idx].item()}"
            )
        if torch.isnan(r).any() and not torch.isnan(e).any():
            return (
                "the shapes match, but your result contains NaN where none is expected"
            )
        gap = (r - e).abs().nan_to_num(nan=float("inf"))
        idx = tuple(int(i) for i in torch.unravel_index(gap.argmax(), gap.shape))
        return (
            f"the shapes match; the largest difference is {gap.max().item():.3g} "
            f"at index {idx}: expected {e[idx].item():.4g}, "
            f"received {r[idx].item():.4g}"
        )
    return f"expected {expected!r}\n  received {received!r}"


def _learner_frame(exc: BaseException) -> traceback.FrameSummary:
    """The innermost frame of the traceback that is the learner's code, not torch's."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # [0] is run_checks itself
    theirs = [f for f in frames if f"{os.sep}torch{os.sep}" not in f.filename]
    return (theirs or frames or traceback.extract_tb(exc.__traceback__))[-1]


def _hint(text: str) -> str:
    """A hint line, wrapped to the width of the book's code column."""
    return textwrap.fill(
        text, width=WIDTH, initial_indent="  hint: ", subsequent_indent="        "
    )


def say(text: str) -> None:
    """Print a report with every line wrapped to ``WIDTH``: a line that is too long
    goes on under itself, indented two more spaces. Words are never broken."""
    lines = []
    for line in text.splitlines():
        indent = " " * (len(line) - len(line.lstrip()))
        lines.append(
            textwrap.fill(
                line,
                width=WIDTH,
                subsequent_indent=indent + "  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    print("\n".join(lines))


def run_checks(name: str, fn: Callable[..., Any], cases: Sequence[Case]) -> bool:
    """Run ``fn`` on every case; print a report; True when all cases pass."""
    if not callable(fn):
        say(f"{name}: expected your function, received {describe(fn)}.")
        return False
    for number, case in enumerate(cases, start=1):
        # Fresh copies, so a function that changes its inputs cannot spoil later cases.
        args = tuple(a.clone() if isinstance(a, Tensor) else a for a in case.args)
        try:
            received = fn(*args, **case.kwargs)
        except NotImplementedError:
            say(f"{name}: {NOT_ATTEMPTED}")
            return False
        except Exception as exc:  # the learner's code failed: report it, do not raise
            where = _learner_frame(exc)
            say(
                f"{name}: case {number} of {len(cases)} ({case.label}) raised "
                f"{type(exc).__name__}: {exc}\n"
                f"  at line {where.lineno}: {where.line}\n"
                + _hint(case.hint or RAISED_HINT)
            )
            return False
        if _same(received, case.expected):
            continue
        hint = next(
            (h for h, wrong in case.mistakes.items() if _same(received, wrong)),
            case.hint,
        )
        say(
            f"{name}: case {number} of {len(cases)} failed ({case.label}).\n"
            f"  {difference(received, case.expected)}\n" + _hint(hint or WRONG_HINT)
        )
        return False
    say(f"{name}: all {len(cases)} cases pass. Well done!")
    return True
