"""Checkers for chapter 2, splitting into heads (and chapter 7, merging back).

``checks.split_heads(fn)`` and ``checks.merge_heads(fn)``: ``(B, T, E)`` to
``(B, h, T, d_k)`` and back, against :mod:`mha.heads`.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from .. import heads as _heads
from ._engine import Case, rand, run_checks

__all__ = ["split_heads", "merge_heads"]

SPLIT_NO_TRANSPOSE = (
    "you reshaped straight to (B, h, T, d_k), which mixes tokens across heads: "
    "reshape to (B, T, h, d_k) first, then .transpose(1, 2)."
)
SPLIT_SWAPPED = (
    "you split E as (d_k, h) instead of (h, d_k): head i must own the contiguous "
    "features i*d_k to (i+1)*d_k - 1, so reshape to (B, T, h, d_k)."
)


def split_heads(fn: Callable[[Tensor, int], Tensor]) -> bool:
    """Check ``fn(x, num_heads)``: ``(B, T, E) -> (B, h, T, d_k)``."""
    cases = []
    for label, (B, T, E), h in [
        ("ordinary: x (2, 5, 12), num_heads=3", (2, 5, 12), 3),
        ("one head: x (1, 4, 6), num_heads=1", (1, 4, 6), 1),
        ("length 1: x (2, 1, 8), num_heads=4", (2, 1, 8), 4),
        ("head_dim 1: x (1, 3, 4), num_heads=4", (1, 3, 4), 4),
    ]:
        x = rand(B, T, E, seed=E + T)
        d = E // h
        cases.append(
            Case(
                label,
                (x, h),
                _heads.split_heads(x, h),
                mistakes={
                    SPLIT_NO_TRANSPOSE: x.reshape(B, h, T, d),
                    SPLIT_SWAPPED: x.reshape(B, T, d, h).permute(0, 3, 1, 2),
                    "you forgot the transpose: the result should be (B, h, T, d_k), "
                    "heads before time.": x.reshape(B, T, h, d),
                },
                hint="reshape (B, T, E) -> (B, T, h, d_k), then transpose(1, 2).",
            )
        )
    return run_checks("split_heads", fn, cases)


def merge_heads(fn: Callable[[Tensor], Tensor]) -> bool:
    """Check ``fn(x)``: ``(B, h, T, d_k) -> (B, T, E)``, the inverse of split_heads."""
    cases = []
    for label, (B, h, T, d) in [
        ("ordinary: x (2, 3, 5, 4)", (2, 3, 5, 4)),
        ("one head: x (1, 1, 4, 6)", (1, 1, 4, 6)),
        ("length 1: x (2, 4, 1, 2)", (2, 4, 1, 2)),
        ("head_dim 1: x (1, 4, 3, 1)", (1, 4, 3, 1)),
    ]:
        x = rand(B, h, T, d, seed=h * 10 + T)
        cases.append(
            Case(
                label,
                (x,),
                _heads.merge_heads(x),
                mistakes={
                    "you reshaped without moving the heads back: .transpose(1, 2) to "
                    "(B, T, h, d_k) first, then reshape to (B, T, E).": x.reshape(
                        B, T, h * d
                    ),
                },
                hint="transpose (B, h, T, d_k) -> (B, T, h, d_k), "
                "then reshape to (B, T, E).",
            )
        )
    return run_checks("merge_heads", fn, cases)
