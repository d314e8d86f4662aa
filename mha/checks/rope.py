"""Checkers for the Positions and long contexts chapter: RoPE with a KV cache.

`checks.rope_cache(your_step)` runs your decoding step over a prompt given in chunks
and single tokens, with one fresh cache, and compares every step's output with full
causal attention over rotated queries and keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..attention import scaled_dot_product_attention
from ..kv_cache import KVCache, causal_mask_bottom_right
from ..masks import causal_mask
from ..rope import apply_rope
from ._engine import Case, rand, run_checks

__all__ = ["rope_cache"]

ROPE_AT_ZERO = (
    "every chunk was rotated as if it started at position 0: the new tokens sit at "
    "positions cache.seq_len, cache.seq_len + 1, ... (the number of tokens already "
    "cached), so pass that as the start: apply_rope(q, cache.seq_len)."
)
ROPE_VALUES = (
    "you rotated the values too: RoPE rotates only queries and keys, whose dot "
    "product then sees the relative position; the values carry content and stay "
    "as they are."
)
ROPE_PAIRING = (
    "the rotation pairs the wrong features: this book pairs (2i, 2i+1), as RoFormer "
    "does (pairing='interleaved'); you paired feature i with i + d_k/2, the "
    "'half' convention of GPT-NeoX-style code."
)
ROPE_NO_QUERY = (
    "the query was not rotated: rotate both q and k at their own positions, "
    "otherwise the score depends on the key's absolute position, not on the "
    "distance."
)
ROPE_TWICE = (
    "the cached keys were rotated a second time: the cache already holds rotated "
    "keys, so rotate only the new keys (at their positions) before appending them, "
    "and use what cache.append returns as it is."
)
ROPE_NO_APPEND = (
    "the cache did not grow: append the new, rotated keys and their values with "
    "cache.append(k, v) and attend to everything it returns."
)
ROPE_TOP_LEFT = (
    "the causal mask of a chunk is aligned top-left (is_causal=True or "
    "mha.causal_mask(T, S)): the new queries are the LAST T of S positions, so use "
    "causal_mask_bottom_right(T, S)."
)
ROPE_TOP_LEFT_CHUNK = (
    "the chunk of several new tokens got a top-left causal mask (mha.causal_mask(T, "
    "S) or is_causal=True): its queries are the LAST T of S positions, so query i "
    "may see keys up to S - T + i. Use causal_mask_bottom_right(T, S)."
)
ROPE_NO_MASK = (
    "a chunk of several new tokens needs a causal mask: without it the first new "
    "token sees the ones after it. Use causal_mask_bottom_right(T_new, S)."
)
ROPE_HINT = (
    "rotate q and k at positions cache.seq_len, ..., append the rotated k (and v, "
    "unrotated) to the cache, then attend to all cached keys with "
    "causal_mask_bottom_right(T_new, S)."
)

# The steps of each case: (first position, last position + 1).
_SCHEDULES = {
    "a prompt of 4, then 3 single tokens": [(0, 4), (4, 5), (5, 6), (6, 7)],
    "a prompt of 3, a chunk of 3, then 1 token": [(0, 3), (3, 6), (6, 7)],
    "one token at a time from the start": [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)],
}


def _mistaken_step(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    cache: KVCache,
    *,
    offset: bool = True,
    rotate_values: bool = False,
    pairing: str = "interleaved",
    rotate_query: bool = True,
    twice: bool = False,
    append: bool = True,
    mask: str = "bottom-right",
) -> Tensor:
    """The reference step, or one of the common mistakes when a flag says so."""
    start = cache.seq_len if offset else 0
    T_new = q.shape[-2]
    if rotate_query:
        q = apply_rope(q, start, pairing=pairing)
    k = apply_rope(k, start, pairing=pairing)
    if rotate_values:
        v = apply_rope(v, start, pairing=pairing)
    if append:
        keys, values = cache.append(k, v)
    else:
        old = cache.keys
        keys = k if old is None else torch.cat([old, k], dim=2)
        values = v if cache.values is None else torch.cat([cache.values, v], dim=2)
    if twice:
        keys = apply_rope(keys, 0, pairing=pairing)
    S = keys.shape[-2]
    blocked = None
    if mask == "bottom-right" and T_new > 1:
        blocked = causal_mask_bottom_right(T_new, S)
    elif mask == "top-left" or (mask == "top-left-chunks" and T_new > 1):
        # "top-left": is_causal=True on every step, single tokens included
        blocked = causal_mask(T_new, S)
    out, _ = scaled_dot_product_attention(q, keys, values, blocked)
    return out


def _run(
    step: Callable[..., Tensor], q: Tensor, k: Tensor, v: Tensor, schedule: Sequence
) -> tuple[Tensor, ...]:
    """Feed the steps of ``schedule`` to ``step`` with one fresh cache."""
    cache = KVCache()
    outputs = []
    for a, b in schedule:
        outputs.append(step(q[..., a:b, :], k[..., a:b, :], v[..., a:b, :], cache))
    return tuple(outputs)


def rope_cache(fn: Callable[[Tensor, Tensor, Tensor, KVCache], Tensor]) -> bool:
    """Check ``fn(q, k, v, cache)``: one decoding step with RoPE and a KV cache.

    ``q, k, v`` are the new tokens' unrotated projections, ``(B, h, T_new, d_k)``;
    ``cache`` holds the rotated keys (and the values) of the ``cache.seq_len``
    earlier tokens. ``fn`` rotates, appends and attends, and returns the new tokens'
    attention output ``(B, h, T_new, d_k)``. The checker calls it step after step
    on one cache; each case's answer is a tuple with one output per step.
    """
    mistakes_of = {
        ROPE_AT_ZERO: {"offset": False},
        ROPE_VALUES: {"rotate_values": True},
        ROPE_PAIRING: {"pairing": "half"},
        ROPE_NO_QUERY: {"rotate_query": False},
        ROPE_TWICE: {"twice": True},
        ROPE_NO_APPEND: {"append": False},
        ROPE_TOP_LEFT: {"mask": "top-left"},
        ROPE_TOP_LEFT_CHUNK: {"mask": "top-left-chunks"},
        ROPE_NO_MASK: {"mask": "none"},
    }
    cases = []
    for number, (label, schedule) in enumerate(_SCHEDULES.items()):
        T = schedule[-1][1]
        q, k, v = (rand(2, 2, T, 8, seed=40 + 3 * number + i) for i in range(3))
        expected = _run(_mistaken_step, q, k, v, schedule)
        mistakes = {}
        for hint, flags in mistakes_of.items():
            wrong = _run(
                lambda *a, flags=flags: _mistaken_step(*a, **flags), q, k, v, schedule
            )
            pairs = zip(wrong, expected, strict=True)
            if any(not torch.allclose(w, e) for w, e in pairs):  # only if it differs
                mistakes[hint] = wrong
        cases.append(
            Case(
                f"{label}: q, k, v (2, 2, {T}, 8)",
                (q, k, v, schedule),
                expected,
                mistakes=mistakes,
                hint=ROPE_HINT,
            )
        )

    if not callable(fn):
        return run_checks("rope_cache", fn, cases)

    def scenario(q: Tensor, k: Tensor, v: Tensor, schedule: Sequence) -> tuple:
        return _run(fn, q, k, v, schedule)

    return run_checks("rope_cache", scenario, cases)
