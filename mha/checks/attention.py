"""Checkers for chapter 1 (scaled dot-product attention), chapter 4 (the scores)
and chapter 8 (the entropy of a head's weights).

``checks.scaled_dot_product_attention(fn)``, ``checks.attention_scores(fn)`` and
``checks.attention_entropy(fn)``, against :mod:`mha.attention`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .. import attention as _attention
from .. import masks as _masks
from ._engine import Case, rand, run_checks, takes
from .masks import MASK_POLARITY, SOFTMAX_DIM

__all__ = ["attention_entropy", "attention_scores", "scaled_dot_product_attention"]

NO_SCALE = "the scores are too large by sqrt(d_k): divide q @ k^T by math.sqrt(d_k)."
SCALE_BY_DK = "you divided by d_k; the scale is 1 / sqrt(d_k)."


def attention_scores(fn: Callable[[Tensor, Tensor], Tensor]) -> bool:
    """Check ``fn(q, k)``: ``(..., T, d_k), (..., S, d_k) -> (..., T, S)``, scaled."""
    cases = []
    for label, q_shape, k_shape in [
        ("ordinary: q (2, 3, 4, 8), k (2, 3, 4, 8)", (2, 3, 4, 8), (2, 3, 4, 8)),
        ("cross-attention: q (2, 3, 4, 8), k (2, 3, 6, 8)", (2, 3, 4, 8), (2, 3, 6, 8)),
        ("no batch dims: q (5, 16), k (7, 16)", (5, 16), (7, 16)),
        ("length 1: q (1, 1, 1, 4), k (1, 1, 1, 4)", (1, 1, 1, 4), (1, 1, 1, 4)),
    ]:
        q, k = rand(*q_shape, seed=1), rand(*k_shape, seed=2)
        raw = q @ k.transpose(-2, -1)
        d = q.shape[-1]
        cases.append(
            Case(
                label,
                (q, k),
                _attention.attention_scores(q, k),
                mistakes={
                    NO_SCALE: raw,
                    SCALE_BY_DK: raw / d,
                    "rows and columns are swapped: scores are (..., T, S), one row per "
                    "query; compute q @ k.transpose(-2, -1).": raw.transpose(-2, -1)
                    / math.sqrt(d),
                },
                hint="q @ k.transpose(-2, -1) / math.sqrt(d_k), "
                "with d_k = q.shape[-1].",
            )
        )
    return run_checks("attention_scores", fn, cases)


def scaled_dot_product_attention(fn: Callable[..., tuple[Tensor, Tensor]]) -> bool:
    """Check ``fn(q, k, v)`` -> ``(output, weights)``; masks too if it takes one."""
    cases = []
    for label, (T, S), lead in [
        ("one sequence: q (4, 8), k and v (4, 8)", (4, 4), ()),
        ("batched heads: q (2, 3, 5, 8)", (5, 5), (2, 3)),
        ("cross-attention: q (2, 3, 8), k and v (2, 6, 8)", (3, 6), (2,)),
        ("length 1: q (1, 1, 8)", (1, 1), (1,)),
    ]:
        q = rand(*lead, T, 8, seed=T)
        k, v = rand(*lead, S, 8, seed=S + 10), rand(*lead, S, 8, seed=S + 20)
        raw = q @ k.transpose(-2, -1)
        expected = _attention.scaled_dot_product_attention(q, k, v)
        no_scale = torch.softmax(raw, -1)
        wrong_dim = torch.softmax(raw / math.sqrt(8), -2)
        cases.append(
            Case(
                label,
                (q, k, v),
                expected,
                mistakes={
                    NO_SCALE: (no_scale @ v, no_scale),
                    SOFTMAX_DIM: (wrong_dim @ v, wrong_dim),
                },
                hint="weights = softmax(q @ k^T / sqrt(d_k), dim=-1); "
                "output = weights @ v; "
                "return (output, weights).",
            )
        )
    if takes(fn, 4):
        q, k, v = (rand(2, 5, 8, seed=s) for s in (31, 32, 33))
        causal = _masks.causal_mask(5)
        inverted = torch.softmax(
            (q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(~causal, -math.inf), -1
        )
        cases.append(
            Case(
                "causal boolean mask (5, 5), True = not allowed",
                (q, k, v, causal),
                _attention.scaled_dot_product_attention(q, k, v, causal),
                mistakes={MASK_POLARITY: (inverted @ v, inverted)},
                hint="fill the masked scores with -inf before the softmax.",
            )
        )
    return run_checks("scaled_dot_product_attention", fn, cases)


ENTROPY_NAN = (
    "0 * log(0) is NaN in floating point, so masked keys (weight 0) poison the sum; "
    "by convention they add 0: use torch.special.xlogy(w, w), or fill the zeros first."
)
ENTROPY_SIGN = "the entropy is -sum(a * log a): you lost the minus sign."
ENTROPY_LOG2 = (
    "you measured in bits (log2); the book measures entropy in nats: use the "
    "natural logarithm, torch.log."
)
ENTROPY_MEAN = "sum over the keys, do not average: H = -sum_j a_j log a_j."
ENTROPY_DIM = (
    "you summed over the wrong axis: a query's weights run along the last "
    "dimension (the keys), so sum over dim=-1."
)


def attention_entropy(fn: Callable[[Tensor], Tensor]) -> bool:
    """Check ``fn(weights)``: entropy in nats of each row, ``(..., T, S) -> (..., T)``.

    ``H = -sum_j a_j log a_j`` with ``0 log 0 = 0``: masked keys add nothing.
    """
    uniform = torch.full((2, 3, 4, 5), 0.2)  # (B, h, T, S)
    one_hot = torch.eye(4)[None]  # (1, T, S): each query on one key
    rows = torch.softmax(rand(2, 4, 6, 6, seed=70), dim=-1)  # (B, h, T, S)
    causal = _masks.masked_softmax(
        rand(2, 5, 5, seed=71), _masks.causal_mask(5)
    )  # (h, T, S), zeros above the diagonal
    single = torch.ones(3, 1)  # (T, S=1)

    def reference(w: Tensor) -> Tensor:
        return -torch.special.xlogy(w, w).sum(dim=-1)

    def naive(w: Tensor) -> Tensor:
        return -(w * w.log()).sum(dim=-1)

    cases = []
    for label, w in [
        ("uniform rows: weights (2, 3, 4, 5), all 0.2", uniform),
        ("one key per query: weights (1, 4, 4)", one_hot),
        ("softmax rows: weights (2, 4, 6, 6)", rows),
        ("causal weights with zeros: (2, 5, 5)", causal),
        ("a single key: weights (3, 1)", single),
    ]:
        plogp = torch.special.xlogy(w, w)  # (..., T, S), 0 where w == 0
        cases.append(
            Case(
                label,
                (w,),
                reference(w),
                mistakes={
                    ENTROPY_NAN: naive(w),
                    ENTROPY_SIGN: plogp.sum(dim=-1),
                    ENTROPY_LOG2: reference(w) / math.log(2),
                    ENTROPY_MEAN: -plogp.mean(dim=-1),
                    ENTROPY_DIM: -plogp.sum(dim=-2),
                },
                hint="-(w * log w) summed over the last dim, with 0 log 0 = 0: "
                "-torch.special.xlogy(w, w).sum(dim=-1).",
            )
        )
    return run_checks("attention_entropy", fn, cases)
