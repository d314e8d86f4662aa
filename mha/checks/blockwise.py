"""Checkers for the exercises of the chapter *What attention costs*.

- ``checks.online_softmax_attention(fn)`` runs ``fn(q, k, v, block_size)`` on
  ordinary and edge cases (block sizes 1, not dividing S, larger than S; T != S;
  length 1; large scores), compares with :func:`mha.scaled_dot_product_attention`,
  and measures with :func:`mha.blockwise.tensor_memory` that no tensor as large as
  the whole ``(..., T, S)`` matrix was built.
- ``checks.merge_states(fn)`` checks ``fn(m1, l1, o1, m2, l2, o2)``, the merge of two
  online-softmax states, against :func:`mha.blockwise.merge_states`.
- ``checks.causal_blockwise_attention(fn)`` checks causal attention over tiles of
  queries and keys, and counts its FLOPs with ``FlopCounterMode`` to see that the
  tiles above the diagonal were skipped.

Wrong answers that the usual slips produce are recognised and named.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from .. import attention as _attention
from .. import masks as _masks
from ..blockwise import merge_states as _merge_states
from ..blockwise import tensor_memory
from ._engine import Case, rand, run_checks, takes_keyword

__all__ = ["causal_blockwise_attention", "merge_states", "online_softmax_attention"]

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
MATERIALISED = (
    "the values are right, but your function built a tensor as large as the whole "
    "(..., T, S) matrix of scores: the point of the online softmax is that memory "
    "grows like T * block_size, not T * S. Compute the scores of one block of keys "
    "at a time, q @ k[..., start:stop, :].transpose(-2, -1), never the full "
    "q @ k.transpose(-2, -1)."
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


class _Verdict:
    """What a checker received instead of an output: right values, wrong method."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Verdict)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return self.text


def _close(a: Any, b: Tensor) -> bool:
    if not isinstance(a, Tensor) or a.shape != b.shape:
        return False
    return torch.allclose(a.detach().to(b.dtype), b, rtol=1.3e-6, atol=1e-5)


_MEMORY_S = 64  # key length of the memory case: no other case uses it


def online_softmax_attention(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(q, k, v, block_size)``: attention over blocks of keys.

    Shapes ``q (..., T, d_k)``, ``k (..., S, d_k)``, ``v (..., S, d_v)`` ->
    ``(..., T, d_v)``, equal to ``mha.scaled_dot_product_attention(q, k, v)[0]`` for
    every block size. If ``fn`` takes ``is_causal``, a causal case is added. The
    last case measures the tensors ``fn`` creates (:func:`tensor_memory`): none may
    be as large as the whole ``(..., T, S)`` matrix.
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
    q = rand(2, 3, 4, 8, seed=90)  # (B, h, T, d_k)
    k = rand(2, 3, _MEMORY_S, 8, seed=91)  # (B, h, S, d_k)
    v = rand(2, 3, _MEMORY_S, 8, seed=92)
    expected, _ = _attention.scaled_dot_product_attention(q, k, v)
    full = 2 * 3 * 4 * _MEMORY_S * q.element_size()  # bytes of one (B, h, T, S)
    cases.append(
        Case(
            "memory: q (2, 3, 4, 8), k and v (2, 3, 64, 8), block_size=8",
            (q, k, v, 8),
            expected,
            mistakes={MATERIALISED: _Verdict("")},
            hint=HINT,
        )
    )

    def measured(q: Tensor, k: Tensor, v: Tensor, block_size: int, **kw: Any) -> Any:
        if k.shape[-2] != _MEMORY_S:
            return fn(q, k, v, block_size, **kw)
        out: list[Any] = []
        stats = tensor_memory(lambda: out.append(fn(q, k, v, block_size, **kw)))
        if _close(out[0], expected) and stats.largest_bytes >= full:
            return _Verdict(
                f"correct output, but inside it a tensor of shape "
                f"{stats.largest_shape}, {stats.largest_bytes} bytes: the whole "
                f"(B, h, T, S) matrix is {full} bytes, one block of scores "
                f"{full * 8 // _MEMORY_S}"
            )
        return out[0]

    return run_checks("online_softmax_attention", measured, cases)


# --- merging two online-softmax states ----------------------------------------------

MERGE_NO_O_RESCALE = (
    "o was not rescaled: each part's o was summed against its own max, so multiply "
    "o1 by exp(m1 - m) and o2 by exp(m2 - m) before adding them, as you do for l."
)
MERGE_NO_L_RESCALE = (
    "l was not rescaled: l1 and l2 are sums of exp(s - m1) and exp(s - m2); bring "
    "both to the new max first, l = exp(m1 - m) * l1 + exp(m2 - m) * l2."
)
MERGE_SIGN = (
    "the rescaling factor is upside down: a part summed against m_i moves to the new "
    "max m >= m_i with exp(m_i - m) <= 1, not exp(m - m_i)."
)
MERGE_NORMALISED = (
    "you returned o / l, an attention output; a state keeps o unnormalised, so that "
    "it can be merged again with a third part. Divide only at the very end."
)
MERGE_NAN = (
    "a query with no key on either side has m1 = m2 = -inf, and exp(-inf - (-inf)) "
    "is NaN. Its merged state is (-inf, 0, 0): shift by 0 where the new max is -inf, "
    "e.g. m.masked_fill(torch.isneginf(m), 0.0), before taking exp."
)
MERGE_HINT = (
    "m = torch.maximum(m1, m2); a1, a2 = exp(m1 - m), exp(m2 - m); "
    "l = a1 * l1 + a2 * l2; o = a1 * o1 + a2 * o2; return (m, l, o)."
)


def _state(q: Tensor, k: Tensor, v: Tensor, hide: Tensor | None = None) -> tuple:
    """The state (m, l, o) of queries q over keys k, v; rows in ``hide`` get none."""
    scores = _attention.attention_scores(q, k)  # (..., T, S)
    if hide is not None:  # (T,) True: this query sees no key in this part
        scores = scores.masked_fill(hide[:, None], -math.inf)
    m = scores.amax(dim=-1, keepdim=True)  # (..., T, 1)
    shift = m.masked_fill(torch.isneginf(m), 0.0)
    p = torch.exp(scores - shift)  # (..., T, S); 0 for hidden rows
    return m, p.sum(dim=-1, keepdim=True), p @ v


def _merge_variant(
    m1: Tensor,
    l1: Tensor,
    o1: Tensor,
    m2: Tensor,
    l2: Tensor,
    o2: Tensor,
    *,
    rescale_o: bool = True,
    rescale_l: bool = True,
    sign: float = 1.0,
    guard: bool = True,
) -> tuple[Tensor, Tensor, Tensor]:
    """A merge with one deliberate mistake, for the hints."""
    m = torch.maximum(m1, m2)
    shift = m.masked_fill(torch.isneginf(m), 0.0) if guard else m
    a1, a2 = torch.exp(sign * (m1 - shift)), torch.exp(sign * (m2 - shift))
    ones = torch.ones_like(a1)
    l = (a1 if rescale_l else ones) * l1 + (a2 if rescale_l else ones) * l2  # noqa: E741
    o = (a1 if rescale_o else ones) * o1 + (a2 if rescale_o else ones) * o2
    return m, l, o


def merge_states(fn: Callable[..., tuple[Tensor, Tensor, Tensor]]) -> bool:
    """Check ``fn(m1, l1, o1, m2, l2, o2) -> (m, l, o)``: two states made one.

    Each state sums up the same queries over its own keys: ``m (..., T, 1)`` the
    largest score, ``l (..., T, 1)`` the sum of ``exp(s - m)``, ``o (..., T, d_v)``
    the sum of ``exp(s - m) v``. The merged state is the one over both sets of keys.
    The reference is :func:`mha.blockwise.merge_states`.
    """
    specs = [
        ("ordinary: lead (2, 3), T=4, 5 keys + 7 keys", (2, 3), 4, 5, 7, 1.0, None),
        ("large scores (entries of q around 20)", (2,), 5, 6, 6, 20.0, None),
        ("one key on each side, no batch dims: T=3", (), 3, 1, 1, 1.0, None),
        ("the first part sees no key for queries 0 and 2", (2,), 4, 3, 5, 1.0, "one"),
        ("queries 1 and 3 see no key on either side", (2,), 4, 3, 5, 1.0, "both"),
    ]
    cases = []
    for number, (label, lead, T, S1, S2, size, empty) in enumerate(specs):
        q = rand(*lead, T, 8, seed=100 + number) * size
        k = rand(*lead, S1 + S2, 8, seed=110 + number)
        v = rand(*lead, S1 + S2, 5, seed=120 + number)  # d_v = 5 != d_k
        hide1 = hide2 = None
        if empty == "one":
            hide1 = torch.tensor([True, False, True, False])
        elif empty == "both":
            hide1 = hide2 = torch.tensor([False, True, False, True])
        first = _state(q, k[..., :S1, :], v[..., :S1, :], hide1)
        second = _state(q, k[..., S1:, :], v[..., S1:, :], hide2)
        args = (*first, *second)
        m, l, o = _merge_states(*args)  # noqa: E741
        mistakes = {
            MERGE_NO_O_RESCALE: _merge_variant(*args, rescale_o=False),
            MERGE_NO_L_RESCALE: _merge_variant(*args, rescale_l=False),
            MERGE_SIGN: _merge_variant(*args, sign=-1.0),
            MERGE_NORMALISED: (m, l, o / l),
        }
        if empty == "both":
            mistakes = {MERGE_NAN: _merge_variant(*args, guard=False), **mistakes}
        hint = MERGE_NAN if empty == "both" else MERGE_HINT
        cases.append(Case(label, args, (m, l, o), mistakes=mistakes, hint=hint))
    return run_checks("merge_states", fn, cases)


# --- causal attention over tiles, skipping the masked ones ----------------------------

CAUSAL_NO_MASK = (
    "the tiles on the diagonal need the causal mask too: in a tile that holds both "
    "query i and key j > i, fill those scores with -inf before the block max."
)
CAUSAL_SKIP_DIAGONAL = (
    "you skipped the tiles on the diagonal: they are only partly masked (key j <= "
    "query i is allowed, each query sees itself); skip a tile only when its first "
    "key comes after its last query."
)
CAUSAL_STRICT = "off by one: a query may attend to itself, key j = i; mask only j > i."
CAUSAL_NOT_SKIPPED = (
    "the values are right, but tiles whose keys all come after their queries were "
    "computed and then masked away: that is the work FlashAttention's causal "
    "kernels save. Tile the queries too, and for a query tile ending at q_stop "
    "loop over the key tiles only while k_start < q_stop."
)
CAUSAL_HINT = (
    "for each tile of queries [qs, qe): m, l, acc as in the online softmax; for "
    "each key tile [ks, ke) with ks < qe: scores, mask keys j > i with -inf, update "
    "m, l, acc; output acc / l for that query tile."
)


def _causal_tiles(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    block_size: int,
    *,
    skip: bool = True,
    mask_diagonal: bool = True,
    skip_diagonal: bool = False,
    strict: bool = False,
    rescale_acc: bool = True,
    scale: bool = True,
) -> Tensor:
    """Causal attention over tiles, with at most one deliberate mistake."""
    T = q.shape[-2]
    if scale:
        q = q / math.sqrt(q.shape[-1])
    outputs = []
    for qs in range(0, T, block_size):
        qe = min(qs + block_size, T)
        q_blk = q[..., qs:qe, :]  # (..., bq, d_k)
        m = torch.full((*q_blk.shape[:-1], 1), -math.inf)
        l = torch.zeros(*q_blk.shape[:-1], 1)  # noqa: E741
        acc = torch.zeros(*q_blk.shape[:-1], v.shape[-1])
        rows = torch.arange(qs, qe)[:, None]  # (bq, 1)
        for ks in range(0, T, block_size):
            ke = min(ks + block_size, T)
            if skip and ks >= qe:
                break  # every key of this tile and later ones is in the future
            if skip_diagonal and ke > qs:
                break
            s = q_blk @ k[..., ks:ke, :].transpose(-2, -1)  # (..., bq, bk)
            cols = torch.arange(ks, ke)[None, :]  # (1, bk)
            if mask_diagonal:
                s = s.masked_fill(cols >= rows if strict else cols > rows, -math.inf)
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
            shift = m_new.masked_fill(torch.isneginf(m_new), 0.0)
            p = torch.exp(s - shift)
            alpha = torch.exp(m - shift)
            l = alpha * l + p.sum(dim=-1, keepdim=True)  # noqa: E741
            acc = (alpha if rescale_acc else 1.0) * acc + p @ v[..., ks:ke, :]
            m = m_new
        outputs.append(acc / l)
    return torch.cat(outputs, dim=-2)  # (..., T, d_v)


def _flops(fn: Callable[[], Any]) -> tuple[int, Any]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = fn()
    return counter.get_total_flops(), out


_WORK_T = 16  # sequence length of the work case: no other case uses it


def causal_blockwise_attention(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(q, k, v, block_size)``: causal self-attention over tiles.

    ``q``, ``k``, ``v`` are ``(..., T, d)`` with the same ``T`` (self-attention);
    query ``i`` may attend to keys ``j <= i``. The result must equal
    ``mha.scaled_dot_product_attention(q, k, v, is_causal=True)[0]``, and the last
    case counts ``fn``'s FLOPs: a tile of ``block_size`` queries by ``block_size``
    keys in which every key comes after every query must not be computed.
    """
    specs = [
        ("ordinary: q, k, v (2, 3, 8, 8), block_size=2", (2, 3), 8, 2, 1.0),
        ("block_size=1: one query and one key per tile", (2,), 5, 1, 1.0),
        ("block_size=3 does not divide T=7: short last tiles", (2,), 7, 3, 1.0),
        ("block_size=8 > T=5: a single tile", (1, 2), 5, 8, 1.0),
        ("length 1: T=1", (2,), 1, 1, 1.0),
        ("large scores (entries of q around 60): T=9, block_size=4", (2,), 9, 4, 60.0),
    ]
    cases = []
    for number, (label, lead, T, b, size) in enumerate(specs):
        q = rand(*lead, T, 8, seed=130 + number) * size
        k = rand(*lead, T, 8, seed=140 + number)
        v = rand(*lead, T, 8, seed=150 + number)
        expected, _ = _attention.scaled_dot_product_attention(q, k, v, is_causal=True)
        mistakes = {
            CAUSAL_NO_MASK: _causal_tiles(q, k, v, b, mask_diagonal=False),
            CAUSAL_SKIP_DIAGONAL: _causal_tiles(q, k, v, b, skip_diagonal=True),
            CAUSAL_STRICT: _causal_tiles(q, k, v, b, strict=True),
            NO_ACC_RESCALE: _causal_tiles(q, k, v, b, rescale_acc=False),
            NO_SCALE: _causal_tiles(q, k, v, b, scale=False),
        }
        hint = NO_MAX_HINT if size > 1 else CAUSAL_HINT
        cases.append(Case(label, (q, k, v, b), expected, mistakes=mistakes, hint=hint))
    q, k, v = (rand(1, 2, _WORK_T, 8, seed=s) for s in (160, 161, 162))
    expected, _ = _attention.scaled_dot_product_attention(q, k, v, is_causal=True)
    needed, _ = _flops(lambda: _causal_tiles(q, k, v, 4))
    every, _ = _flops(lambda: _causal_tiles(q, k, v, 4, skip=False))
    cases.append(
        Case(
            f"work: q, k, v (1, 2, {_WORK_T}, 8), block_size=4: 10 of 16 tiles needed",
            (q, k, v, 4),
            expected,
            mistakes={CAUSAL_NOT_SKIPPED: _Verdict("")},
            hint=CAUSAL_HINT,
        )
    )

    def counted(q: Tensor, k: Tensor, v: Tensor, block_size: int) -> Any:
        if q.shape[-2] != _WORK_T:
            return fn(q, k, v, block_size)
        flops, out = _flops(lambda: fn(q, k, v, block_size))
        if _close(out, expected) and flops > needed:
            return _Verdict(
                f"correct output computed with {flops:,} FLOPs of matrix products; "
                f"skipping the masked tiles needs {needed:,} (every tile: {every:,})"
            )
        return out

    return run_checks("causal_blockwise_attention", counted, cases)
