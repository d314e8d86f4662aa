"""Checkers for chapter 5, masks, and chapter 6, the masked softmax.

``checks.causal_mask(fn)``, ``checks.padding_mask(fn)`` and
``checks.masked_softmax(fn)``, against :mod:`mha.masks`. Masks are True where
attending is NOT allowed, as in ``nn.MultiheadAttention``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .. import masks as _masks
from ._engine import Case, rand, run_checks, takes

__all__ = ["causal_mask", "masked_softmax", "padding_mask"]

SOFTMAX_DIM = (
    "the softmax ran over the wrong dimension: each query's row (the last "
    "dimension, the keys) must sum to 1, so use dim=-1."
)
MASK_POLARITY = (
    "your mask polarity is inverted: in mha and nn.MultiheadAttention, True means "
    "NOT allowed to attend (F.scaled_dot_product_attention uses the opposite)."
)

CAUSAL_DIAGONAL = (
    "off by one: the diagonal is masked, but a position may attend to itself; "
    "use .triu(1) (diagonal=1)."
)
CAUSAL_LEAK = (
    "off by one: each query still sees the next position; mask every key j > i, "
    "that is .triu(1)."
)
NOT_BOOL = "return a boolean tensor (dtype torch.bool), not numbers."
PAD_OFF_BY_ONE = "off by one: position lengths[b] is already padding; use >= not >."
FLOAT_MASK = "a float mask is added to the scores, not used as a boolean."
MASK_IGNORED = (
    "the mask was ignored: fill the masked scores with -inf before the softmax."
)


def causal_mask(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(T)`` (and ``fn(T, S)`` if it takes S): bool (T, S), True = future."""
    shapes = [("ordinary: T=5", (5,)), ("length 1: T=1", (1,)), ("T=2", (2,))]
    if takes(fn, 2):
        shapes.append(("cross lengths: T=3, S=5", (3, 5)))
    cases = []
    for label, args in shapes:
        T, S = args[0], args[-1]
        ones = torch.ones(T, S, dtype=torch.bool)
        cases.append(
            Case(
                label,
                args,
                _masks.causal_mask(*args),
                mistakes={
                    MASK_POLARITY: ~ones.triu(1),
                    CAUSAL_DIAGONAL: ones.triu(0),
                    CAUSAL_LEAK: ones.triu(2),
                    NOT_BOOL: ones.triu(1).float(),
                },
                hint="True above the diagonal: "
                "torch.ones(T, S, dtype=torch.bool).triu(1).",
            )
        )
    return run_checks("causal_mask", fn, cases)


def padding_mask(fn: Callable[[Tensor, int], Tensor]) -> bool:
    """Check ``fn(lengths, S)``: bool (B, S), True at padding positions."""
    cases = []
    for label, lengths, S in [
        ("ordinary: lengths [3, 5, 1], S=5", [3, 5, 1], 5),
        ("length 1: lengths [1], S=1", [1], 1),
        ("no padding: lengths [4, 4], S=4", [4, 4], 4),
        ("empty sequence: lengths [2, 0], S=3", [2, 0], 3),
    ]:
        lens = torch.tensor(lengths)
        pos = torch.arange(S)
        cases.append(
            Case(
                label,
                (lens, S),
                _masks.padding_mask(lens, S),
                mistakes={
                    MASK_POLARITY: pos[None, :] < lens[:, None],
                    PAD_OFF_BY_ONE: pos[None, :] > lens[:, None],
                },
                hint="compare positions with lengths: "
                "torch.arange(S)[None, :] >= lengths[:, None].",
            )
        )
    return run_checks("padding_mask", fn, cases)


def masked_softmax(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(scores, mask=None)``: softmax over the last dim, masks respected."""
    scores = rand(2, 3, 4, 4, seed=3)
    causal = _masks.causal_mask(4)
    pad = _masks.padding_mask(torch.tensor([4, 2]), 4)[:, None, None, :]  # (B,1,1,S)
    additive = torch.zeros(4, 4).masked_fill(causal, float("-inf"))
    full = torch.zeros(4, 4, dtype=torch.bool)
    full[1] = True  # query 1 may attend to nothing
    cases = [
        Case(
            "no mask: scores (2, 3, 4, 4)",
            (scores, None),
            _masks.masked_softmax(scores),
            mistakes={SOFTMAX_DIM: torch.softmax(scores, dim=-2)},
            hint="torch.softmax(scores, dim=-1), or exp and divide by the row sum.",
        ),
        Case(
            "causal boolean mask (4, 4)",
            (scores, causal),
            _masks.masked_softmax(scores, causal),
            mistakes={
                MASK_POLARITY: torch.softmax(
                    scores.masked_fill(~causal, -math.inf), -1
                ),
                MASK_IGNORED: torch.softmax(scores, -1),
                SOFTMAX_DIM: torch.softmax(scores.masked_fill(causal, -math.inf), -2),
            },
            hint="scores.masked_fill(mask, float('-inf')), then the softmax.",
        ),
        Case(
            "padding mask broadcast from (2, 1, 1, 4)",
            (scores, pad),
            _masks.masked_softmax(scores, pad),
            hint="a (B, 1, 1, S) mask broadcasts over heads and queries; "
            "masked_fill handles that.",
        ),
        Case(
            "additive float mask (0 or -inf)",
            (scores, additive),
            _masks.masked_softmax(scores, additive),
            mistakes={
                FLOAT_MASK: torch.softmax(
                    scores.masked_fill(additive.bool(), -math.inf), -1
                )
            },
            hint="if mask.dtype == torch.bool use masked_fill, else scores + mask.",
        ),
        Case(
            "a query whose keys are all masked",
            (scores, full),
            _masks.masked_softmax(scores, full),
            hint="a fully masked row gives 0/0 = NaN; return zeros there instead, "
            "e.g. torch.nan_to_num or a where() on rows with any allowed key.",
        ),
    ]
    return run_checks("masked_softmax", fn, cases)
