"""Checkers for the "What heads learn" exercises.

- ``checks.mask_heads(fn)``: ``fn(heads, head_mask)`` gates each head's output before
  the heads are merged and projected by ``W^O``: ``heads (B, h, T, d_k)`` times one
  gate per head, ``(h,)``, or per sequence and head, ``(B, h)``. The reference is
  :func:`mha.toy.mask_heads`.
- ``checks.mean_ablate(fn)``: ``fn(heads, head_mask)`` replaces each head whose gate
  is 0 by its mean output over the batch, position by position:
  ``gate * heads + (1 - gate) * heads.mean(dim=0)``, the reference being
  :func:`mha.toy.mask_heads` with that baseline.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .. import toy as _toy
from ._engine import Case, rand, run_checks

__all__ = ["mask_heads", "mean_ablate"]

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


MEAN_ZERO = (
    "that is zero ablation: the removed heads became zeros. Mean ablation puts each "
    "removed head's average output in its place: (1 - gate) * heads.mean(dim=0)."
)
MEAN_OVER_TIME = (
    "you averaged over the positions (dim 2) of each sequence; the baseline is the "
    "mean over the sequences of the batch (dim 0), one mean per position."
)
MEAN_OVER_ALL = (
    "you averaged over the sequences and the positions together; each position has "
    "its own mean (a head's output at position 0 differs from position 10): average "
    "over dim 0 only."
)
MEAN_OVER_HEADS = (
    "you averaged over the heads (dim 1): a removed head must be replaced by its OWN "
    "mean over the batch, heads.mean(dim=0), not by the other heads' outputs."
)
MEAN_AFTER_GATING = (
    "you took the mean after gating, so a removed head's mean is zero: compute "
    "heads.mean(dim=0) from the ungated heads."
)
MEAN_INVERTED = (
    "the gates are inverted: 1.0 keeps a head and 0.0 replaces it by its mean, "
    "gate * heads + (1 - gate) * mean."
)
MEAN_HINT = (
    "mean = heads.mean(dim=0)  # (h, T, d_k); g = head_mask[:, None, None]; return "
    "g * heads + (1 - g) * mean."
)


def mean_ablate(fn: Callable[[Tensor, Tensor], Tensor]) -> bool:
    """Check ``fn(heads, head_mask)``: removed heads replaced by their batch mean.

    ``heads (B, h, T, d_k)``, ``head_mask (h,)`` of gates -> ``(B, h, T, d_k)``:
    ``gate * heads + (1 - gate) * heads.mean(dim=0)``.
    """
    cases = []
    for label, shape, gates in [
        (
            "gates between 0 and 1: heads (5, 2, 4, 3), head_mask [0.25, 1]",
            (5, 2, 4, 3),
            [0.25, 1.0],
        ),
        ("ordinary: heads (4, 3, 5, 2), head_mask [1, 0, 1]", (4, 3, 5, 2), [1, 0, 1]),
        (
            "h = T = d_k = 3, B = 3: heads (3, 3, 3, 3), head_mask [0, 1, 1]",
            (3, 3, 3, 3),
            [0, 1, 1],
        ),
        (
            "every head removed: heads (2, 2, 3, 4), head_mask [0, 0]",
            (2, 2, 3, 4),
            [0, 0],
        ),
    ]:
        heads = rand(*shape, seed=200 + sum(shape)) + 1.0  # means far from 0
        mask = torch.tensor(gates, dtype=torch.float32)
        g = mask[:, None, None]

        def replaced(baseline: Tensor, h: Tensor = heads, g: Tensor = g) -> Tensor:
            return g * h + (1 - g) * baseline

        mistakes = {
            MEAN_ZERO: _toy.mask_heads(heads, mask),
            MEAN_OVER_TIME: replaced(heads.mean(dim=2, keepdim=True)),
            MEAN_OVER_ALL: replaced(heads.mean(dim=(0, 2), keepdim=True)),
            MEAN_OVER_HEADS: replaced(heads.mean(dim=1, keepdim=True)),
            MEAN_AFTER_GATING: replaced((g * heads).mean(dim=0)),
            MEAN_INVERTED: _toy.mask_heads(heads, 1 - mask, heads.mean(dim=0)),
        }
        cases.append(
            Case(
                label,
                (heads, mask),
                _toy.mask_heads(heads, mask, heads.mean(dim=0)),
                mistakes=mistakes,
                hint=MEAN_HINT,
            )
        )
    return run_checks("mean_ablate", fn, cases)
