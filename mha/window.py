"""Sliding-window attention: each query sees only the last ``W`` keys (and sinks).

With a window of ``W`` keys, the query at position ``p`` attends to keys
``p - W + 1, ..., p`` (a causal band; Longformer, Mistral). Optionally the first
``sinks`` tokens of the sequence stay visible to every later query as well, the
*attention sinks* of StreamingLLM (Xiao et al., 2023).

- :func:`sliding_window_mask` builds the boolean ``(T, S)`` mask, True = NOT allowed
  (``mha``'s convention), for ``T`` queries at the last ``T`` of ``S`` positions.
- :func:`banded_attention` computes the same attention block by block, each block of
  queries against only the keys its band can see: ``O(T * W)`` work and memory
  instead of ``O(T**2)``.
- :func:`window_pairs` counts the query-key pairs the band holds.
- :class:`SlidingWindowCache` is a KV cache that keeps the sinks and the last
  ``W - 1`` positions before each step, so its memory stops growing.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._validate import check_int, check_positive_int, shape_str
from .attention import scaled_dot_product_attention
from .kv_cache import KVCache

__all__ = [
    "SlidingWindowCache",
    "banded_attention",
    "sliding_window_mask",
    "window_pairs",
]


def _check_sinks(sinks: object) -> int:
    hint = "sinks is how many first tokens stay visible; 0 for none."
    return check_int("sinks", sinks, minimum=0, hint=hint)


def _allowed(query_pos: Tensor, key_pos: Tensor, window: int, sinks: int) -> Tensor:
    """``(T, S)`` True where a query may see a key: causal, inside the window or a
    sink."""
    q, k = query_pos[:, None], key_pos[None, :]  # (T, 1), (1, S)
    return (k <= q) & ((q - k < window) | (k < sinks))


def sliding_window_mask(
    T: int,
    S: int | None = None,
    *,
    window: int,
    sinks: int = 0,
    device: torch.device | str | None = None,
) -> Tensor:
    """Boolean ``(T, S)`` mask of a causal sliding window; True = NOT allowed.

    The ``T`` queries are the last ``T`` of ``S`` positions (bottom-right aligned,
    as with a KV cache): query ``i`` sits at ``p = S - T + i`` and may see keys
    ``j`` with ``p - window < j <= p``, and the first ``sinks`` keys ``j < sinks``
    (when ``j <= p``). ``window >= S`` gives the ordinary causal mask.

    Raises:
        ValueError: sizes are not positive ints, ``S < T`` or ``sinks < 0``.
    """
    check_positive_int("T", T)
    S = T if S is None else check_positive_int("S", S)
    check_positive_int("window", window)
    sinks = _check_sinks(sinks)
    if S < T:
        raise ValueError(
            f"S={S} keys cannot hold T={T} queries at the last T positions; S >= T."
        )
    query_pos = torch.arange(S - T, S, device=device)
    key_pos = torch.arange(S, device=device)
    return ~_allowed(query_pos, key_pos, window, sinks)  # (T, S)


def window_pairs(T: int, window: int, sinks: int = 0) -> int:
    """How many (query, key) pairs a causal window over ``T`` tokens allows.

    Query ``p`` sees ``min(p + 1, window)`` recent keys plus the sinks older than
    its window: ``T * W - W (W - 1) / 2`` for ``T >= W`` without sinks, linear in
    ``T``, where full causal attention allows ``T (T + 1) / 2``.
    """
    check_positive_int("T", T)
    check_positive_int("window", window)
    sinks = _check_sinks(sinks)
    total = 0
    for p in range(T):
        recent = min(p + 1, window)
        total += recent + max(0, min(sinks, p + 1 - recent))
    return total


def banded_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    window: int,
    sinks: int = 0,
    block: int = 64,
) -> Tensor:
    """Causal sliding-window self-attention that never builds the ``(T, T)`` scores.

    Shapes: ``q, k, v (..., T, d_k) -> (..., T, d_k)`` (self-attention: one length
    ``T``). Queries go in blocks of ``block``; a block starting at ``a`` attends to
    the sink keys ``0 .. sinks - 1`` and to keys ``a - window + 1 .. a + block - 1``
    only, with :func:`sliding_window_mask`'s rule inside. Equal (up to rounding) to
    full attention with that mask, for ``O(T (W + block + sinks))`` work.

    Raises:
        ValueError: the lengths of ``q``, ``k``, ``v`` differ, or a size is not a
            positive int.
    """
    check_positive_int("window", window)
    check_positive_int("block", block)
    sinks = _check_sinks(sinks)
    if q.dim() < 2 or q.shape[-2] != k.shape[-2] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"banded_attention is self-attention: q, k and v must be (..., T, d_k) "
            f"with one T; got q {shape_str(q.shape)}, k {shape_str(k.shape)}, "
            f"v {shape_str(v.shape)}."
        )
    T = q.shape[-2]
    outputs = []
    for a in range(0, T, block):
        b = min(a + block, T)
        lo = max(0, a - window + 1)  # the oldest key this block's band can see
        idx = torch.cat([torch.arange(min(sinks, lo)), torch.arange(lo, b)]).to(
            q.device
        )  # (S_block,): sinks before the band, then the band
        query_pos = torch.arange(a, b, device=q.device)
        blocked = ~_allowed(query_pos, idx, window, sinks)  # (b - a, S_block)
        out, _ = scaled_dot_product_attention(
            q[..., a:b, :], k[..., idx, :], v[..., idx, :], blocked
        )  # (..., b - a, d_k)
        outputs.append(out)
    return torch.cat(outputs, dim=-2)  # (..., T, d_k)


class SlidingWindowCache(KVCache):
    """A KV cache for sliding-window attention: its size stops growing.

    Before each :meth:`append` of ``T_new`` tokens it drops the cached positions no
    new query can see: everything but the first ``sinks`` tokens and the last
    ``window - 1``. After a one-token step it holds ``window + sinks`` positions at
    most, however long the sequence. :meth:`mask` (used by
    :func:`mha.kv_cache.cached_attention`) applies the window by position, so the
    output equals full recomputation with :func:`sliding_window_mask`.
    """

    def __init__(self, window: int, sinks: int = 0) -> None:
        self.window = check_positive_int("window", window)
        self.sinks = _check_sinks(sinks)
        super().__init__()

    def _keep(self, T_new: int) -> Tensor | None:
        if self.positions is None:
            return None
        oldest = self.seen - self.window + 1  # the first new query's oldest key
        keep = (self.positions >= oldest) | (self.positions < self.sinks)
        return keep.nonzero().flatten()  # (S_kept,) indices, in order

    def _allowed(self, query_pos: Tensor, key_pos: Tensor) -> Tensor:
        return _allowed(query_pos, key_pos, self.window, self.sinks)

    def __repr__(self) -> str:
        shape = "empty" if self.keys is None else f"keys {shape_str(self.keys.shape)}"
        return (
            f"SlidingWindowCache(window={self.window}, sinks={self.sinks}, {shape}, "
            f"{self.nbytes} bytes)"
        )
