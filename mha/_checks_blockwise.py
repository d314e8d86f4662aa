"""Checker for the exercise of the chapter *What attention costs*: an online softmax.

``checks.online_softmax_attention(fn)`` runs ``fn(q, k, v, block_size)`` on ordinary
and edge cases (block sizes 1, not dividing S, larger than S; T != S; length 1; large
scores) and compares with :func:`mha.scaled_dot_product_attention`. Wrong answers that
the usual slips produce are recognised and named.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from . import attention as _attention
from . import masks as _masks
from ._checking import Case, rand, run_checks, takes_keyword

__all__ = ["online_softmax_attention"]

NO_ACC_RESCALE = (
    "the accumulator was not rescaled when the running max grew: before adding a "
    "block, multiply acc by alpha = exp(m_old - m_new), as you do for l."
)
NO_L_RESCALE = (
    "the denominator was not rescaled when the running max grew: l was summed "
    "against an older max; update it as l = alpha * l + p.sum(-1, keepdim=True)."
)
DIVIDE_EARLY = (
    "you divided by l inside the loop: after that acc is a normalised average, and "
    "the next block's unnormalised p @ v no longer adds to it on the same scale. Keep "
    "acc unnormalised and divide once, after the last block."
)
NO_SCALE = "the scores are too large by sqrt(d_k): use q @ k^T / math.sqrt(d_k)."
NO_MAX_HINT = (
    "with scores in the hundreds, exp(score) overflows to inf: subtract the running "
    "max m before exp, and rescale l and acc by exp(m_old - m_new) when m grows."
)
HINT = (
    "keep per query m (running max), l (running sum of exp(s - m)) and acc (running "
    "sum of exp(s - m) * v); for each block: m_new = max(m, block max), alpha = "
    "exp(m - m_new), l = alpha * l + p.sum, acc = alpha * acc + p @ v_blk; return "
    "acc / l."
)


def _online(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    block_size: int,
    *,
    rescale_acc: bool = True,
    rescale_l: bool = True,
    divide_at_end: bool = True,
    subtract_max: bool = True,
    scale: bool = True,
) -> Tensor:
    """The online softmax with one deliberate mistake switched off, for the hints."""
    if scale:
        q = q / math.sqrt(q.shape[-1])
    m = torch.full((*q.shape[:-1], 1), -math.inf)  # (..., T, 1)
    l = torch.zeros(*q.shape[:-1], 1)  # noqa: E741
    acc = torch.zeros(*q.shape[:-1], v.shape[-1])  # (..., T, d_v)
    for start in range(0, k.shape[-2], block_size):
        k_blk = k[..., start : start + block_size, :]
        v_blk = v[..., start : start + block_size, :]
        s = q @ k_blk.transpose(-2, -1)  # (..., T, b)
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
        if not subtract_max:
            m_new = torch.zeros_like(m_new)
        p = torch.exp(s - m_new)
        alpha = torch.exp(m - m_new) if subtract_max else torch.ones_like(m)
        l_new = (alpha if rescale_l else 1.0) * l + p.sum(dim=-1, keepdim=True)
        acc = (alpha if rescale_acc else 1.0) * acc + p @ v_blk
        if not divide_at_end:
            acc = acc / l_new
        m, l = m_new, l_new  # noqa: E741
    return acc / l if divide_at_end else acc


def online_softmax_attention(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(q, k, v, block_size)``: attention over blocks of keys.

    Shapes ``q (..., T, d_k)``, ``k (..., S, d_k)``, ``v (..., S, d_v)`` ->
    ``(..., T, d_v)``, equal to ``mha.scaled_dot_product_attention(q, k, v)[0]`` for
    every block size. If ``fn`` takes ``is_causal``, a causal case is added.
    """
    shapes = [
        ("ordinary: q, k, v (2, 3, 6, 8), block_size=2", (2, 3), 6, 6, 2, 1.0),
        ("block_size=1: one key at a time", (2, 3), 6, 6, 1, 1.0),
        ("block_size=3 does not divide S=7: a short last block", (2,), 5, 7, 3, 1.0),
        ("cross lengths: T=3, S=10, block_size=4", (2, 2), 3, 10, 4, 1.0),
        ("block_size=16 > S=5: a single block", (1, 2), 5, 5, 16, 1.0),
        ("one query: T=1, S=9, block_size=2", (2,), 1, 9, 2, 1.0),
        ("length 1: T=S=1, block_size=1", (1,), 1, 1, 1, 1.0),
        ("large scores (entries of q around 60): block_size=3", (2,), 4, 9, 3, 60.0),
    ]
    cases = []
    for number, (label, lead, T, S, b, size) in enumerate(shapes):
        q = rand(*lead, T, 8, seed=number) * size
        k = rand(*lead, S, 8, seed=number + 20)
        v = rand(*lead, S, 8, seed=number + 40)
        expected, _ = _attention.scaled_dot_product_attention(q, k, v)
        mistakes = {
            NO_ACC_RESCALE: _online(q, k, v, b, rescale_acc=False),
            NO_L_RESCALE: _online(q, k, v, b, rescale_l=False),
            DIVIDE_EARLY: _online(q, k, v, b, divide_at_end=False),
            NO_SCALE: _online(q, k, v, b, scale=False),
        }
        hint = NO_MAX_HINT if size > 1 else HINT
        cases.append(Case(label, (q, k, v, b), expected, mistakes=mistakes, hint=hint))
    if takes_keyword(fn, "is_causal"):
        q, k, v = (rand(2, 6, 8, seed=s) for s in (61, 62, 63))
        expected, _ = _attention.scaled_dot_product_attention(
            q, k, v, _masks.causal_mask(6)
        )
        cases.append(
            Case(
                "is_causal=True: T=S=6, block_size=4",
                (q, k, v, 4),
                expected,
                kwargs={"is_causal": True},
                hint="in each block, fill the scores of keys j > i with -inf before "
                "taking the block max; mha.causal_mask(T, S)[:, start:stop] is "
                "the block's mask.",
            )
        )
    return run_checks("online_softmax_attention", fn, cases)
