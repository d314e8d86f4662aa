"""Checker for the "What heads learn" exercise: ``checks.mask_heads(your_function)``.

``mask_heads(heads, head_mask)`` gates each head's output before the heads are merged
and projected by ``W^O``: ``heads (B, h, T, d_k)`` times one gate per head, ``(h,)``,
or per sequence and head, ``(B, h)``. The reference is :func:`mha.toy.mask_heads`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from . import toy as _toy
from ._checking import Case, rand, run_checks

__all__ = ["mask_heads"]

GATES_ON_FEATURES = (
    "your gates multiplied the features (the last axis, d_k) instead of the heads: "
    "a (h,) tensor lines up with the LAST axis when broadcast. Give it two trailing "
    "axes, head_mask[..., None, None], so it lines up with dim 1."
)
GATES_ON_TIME = (
    "your gates lined up with the time axis T, not the heads: (h, 1) broadcasts "
    "against (T, d_k). Use head_mask[..., None, None] -> (h, 1, 1)."
)
GATES_INVERTED = (
    "the gates are inverted: 1.0 keeps a head and 0.0 removes it (Michel et al.'s "
    "xi_h), so multiply by head_mask itself, not by 1 - head_mask."
)
GATES_ROUNDED = (
    "the gates are multipliers, not on/off switches: a gate of 0.5 halves a head's "
    "output and 2.0 doubles it. Multiply by the values themselves."
)
MASK_HINT = (
    "multiply heads by head_mask[..., None, None]: (h,) -> (h, 1, 1) and "
    "(B, h) -> (B, h, 1, 1) both line up with the head axis, dim 1."
)


def _maybe(fn: Callable[[], Tensor]) -> Tensor | None:
    """A wrong answer, or None when that mistake would raise for this case."""
    try:
        return fn()
    except RuntimeError:
        return None


def mask_heads(fn: Callable[[Tensor, Tensor], Tensor]) -> bool:
    """Check ``fn(heads, head_mask)``: ``(B, h, T, d_k)`` gated per head, same shape."""
    cases = []
    for label, shape, gates in [
        (
            "ordinary: heads (2, 3, 5, 4), head_mask (3,) = [1, 0, 1]",
            (2, 3, 5, 4),
            [1.0, 0.0, 1.0],
        ),
        (
            "h = T = d_k = 4: heads (2, 4, 4, 4), head_mask (4,) = [1, 0, 1, 0]",
            (2, 4, 4, 4),
            [1.0, 0.0, 1.0, 0.0],
        ),
        (
            "gates between 0 and 1 and above: heads (1, 2, 3, 6), head_mask (2,) = "
            "[0.5, 2]",
            (1, 2, 3, 6),
            [0.5, 2.0],
        ),
        (
            "one gate per sequence and head: heads (2, 3, 4, 2), head_mask (B, h) = "
            "(2, 3)",
            (2, 3, 4, 2),
            [[1.0, 0.0, 1.0], [0.0, 1.0, 0.25]],
        ),
        (
            "one head, removed: heads (3, 1, 2, 4), head_mask (1,) = [0]",
            (3, 1, 2, 4),
            [0.0],
        ),
    ]:
        heads = rand(*shape, seed=sum(shape))
        mask = torch.tensor(gates)
        mistakes: dict[str, Tensor | None] = {
            GATES_ON_FEATURES: _maybe(lambda h=heads, m=mask: h * m),
            GATES_ON_TIME: _maybe(lambda h=heads, m=mask: h * m[..., None]),
            GATES_INVERTED: _toy.mask_heads(heads, 1.0 - mask),
            GATES_ROUNDED: _toy.mask_heads(heads, (mask > 0).float()),
        }
        cases.append(
            Case(
                label,
                (heads, mask),
                _toy.mask_heads(heads, mask),
                mistakes={k: v for k, v in mistakes.items() if v is not None},
                hint=MASK_HINT,
            )
        )
    return run_checks("mask_heads", fn, cases)
