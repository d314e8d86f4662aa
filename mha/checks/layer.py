"""Checkers for chapter 3 (the projections) and chapter 7 (the whole layer).

``checks.block_diagonal(fn)``: the blog's shared ``(d_k, d_k)`` weight as the
``(E, E)`` block-diagonal matrix of a standard layer.
``checks.multi_head_attention(fn)``: the functional forward pass, against
:func:`mha.multi_head_attention`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .. import functional as _functional
from .. import masks as _masks
from ._engine import Case, rand, run_checks, takes_keyword

__all__ = ["block_diagonal", "multi_head_attention"]


def block_diagonal(fn: Callable[[Tensor, int], Tensor]) -> bool:
    """Check ``fn(weight, num_heads)``: the blog's shared ``(d_k, d_k)`` projection as
    one ``(E, E)`` matrix, so that ``x @ fn(w, h).T`` equals projecting each head's
    slice of ``x`` with ``w``."""
    cases = []
    for label, d, h in [
        ("ordinary: weight (4, 4), num_heads=3", 4, 3),
        ("one head: weight (6, 6), num_heads=1", 6, 1),
        ("head_dim 1: weight (1, 1), num_heads=5", 1, 5),
    ]:
        w = rand(d, d, seed=60 + d)
        cases.append(
            Case(
                label,
                (w, h),
                torch.block_diag(*[w] * h),
                mistakes={
                    "you tiled the weight over the whole matrix, which mixes heads; "
                    "only the diagonal blocks hold w, the rest is zero.": w.repeat(
                        h, h
                    ),
                    "the blocks are transposed: F.linear computes x @ W.T, so each "
                    "block is w itself, not w.T.": torch.block_diag(*[w.T] * h),
                },
                hint="torch.block_diag(*[weight] * num_heads) puts w on the diagonal.",
            )
        )
    return run_checks("block_diagonal", fn, cases)


def _mha_variant(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    w: dict[str, Tensor],
    h: int,
    *,
    scale_dim: int | None = None,
    transpose_back: bool = True,
    project_out: bool = True,
) -> tuple[Tensor, Tensor]:
    """Multi-head attention with one deliberate mistake switched on, for hints."""
    B, T, E = query.shape
    S, d = key.shape[1], E // h
    q = (query @ w["w_q"].T + w["b_q"]).reshape(B, T, h, d).transpose(1, 2)
    k = (key @ w["w_k"].T + w["b_k"]).reshape(B, S, h, d).transpose(1, 2)
    v = (value @ w["w_v"].T + w["b_v"]).reshape(B, S, h, d).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(scale_dim or d)  # (B, h, T, S)
    weights = torch.softmax(scores, dim=-1)
    out = weights @ v  # (B, h, T, d)
    out = out.transpose(1, 2) if transpose_back else out
    out = out.reshape(B, T, E)
    if project_out:
        out = out @ w["w_o"].T + w["b_o"]
    return out, weights


def multi_head_attention(fn: Callable[..., tuple[Tensor, Tensor]]) -> bool:
    """Check the whole forward pass, ``fn(query, key, value, num_heads, w_q, ...)``.

    ``fn`` takes ``num_heads``, ``w_q``, ``w_k``, ``w_v``, ``w_o`` and the biases
    ``b_q``, ``b_k``, ``b_v``, ``b_o`` as keywords, and returns
    ``(output (B, T, E), weights (B, h, T, S))``, the weights per head.
    If ``fn`` also takes ``attn_mask``, a case with a causal boolean mask
    (True = not allowed) is added.
    """
    cases = []
    for label, (B, T, S, E, h) in [
        ("self-attention: B=2, T=S=5, E=12, h=3", (2, 5, 5, 12, 3)),
        ("cross-attention: T=3, S=6, E=8, h=2", (2, 3, 6, 8, 2)),
        ("one head: T=4, E=6, h=1", (1, 4, 4, 6, 1)),
        ("head_dim 1: T=3, E=4, h=4", (1, 3, 3, 4, 4)),
        ("length 1: T=S=1, E=8, h=2", (2, 1, 1, 8, 2)),
    ]:
        query, key, value = (
            rand(B, n, E, seed=E + n + i) for i, n in enumerate((T, S, S))
        )
        w = {
            f"w_{n}": rand(E, E, seed=40 + i) / math.sqrt(E)
            for i, n in enumerate("qkvo")
        }
        w |= {f"b_{n}": rand(E, seed=50 + i) / 10 for i, n in enumerate("qkvo")}
        expected = _functional.multi_head_attention(
            query, key, value, num_heads=h, **w, average_attn_weights=False
        )
        mistakes = {
            "you divided the scores by sqrt(E), the blog's constant; each head works "
            "in d_k = E / h dimensions, so divide by sqrt(d_k).": _mha_variant(
                query, key, value, w, h, scale_dim=E
            ),
            "the heads were merged without .transpose(1, 2): move the head axis "
            "next to d_k before reshaping to (B, T, E).": _mha_variant(
                query, key, value, w, h, transpose_back=False
            ),
            "the output projection is missing: apply w_o and b_o after merging "
            "the heads.": _mha_variant(query, key, value, w, h, project_out=False),
        }
        cases.append(
            Case(
                label,
                (query, key, value),
                expected,
                kwargs={"num_heads": h, **w},
                mistakes=mistakes,
                hint="project with x @ w.T + b, split, attend per head, merge, "
                "then project with w_o; return (output, weights per head).",
            )
        )
    if takes_keyword(fn, "attn_mask"):
        case = cases[0]
        mask = _masks.causal_mask(5)
        expected = _functional.multi_head_attention(
            *case.args, **case.kwargs, attn_mask=mask, average_attn_weights=False
        )
        cases.append(
            Case(
                "self-attention with a causal boolean mask (True = not allowed)",
                case.args,
                expected,
                kwargs={**case.kwargs, "attn_mask": mask},
                hint="apply the mask to the scores of every head before the softmax.",
            )
        )
    return run_checks("multi_head_attention", fn, cases)
