"""Splitting the embedding into heads and merging the heads back.

A head is a slice of the feature dimension: head ``i`` owns features
``i * d_k : (i + 1) * d_k`` of every token. Splitting moves the head index in front of
the time index so that each head becomes an independent batch of ``(T, d_k)`` matrices.

The public functions check their input; the package's own calls go to the unchecked
cores (``_split_heads``, ``_merge_heads``) on tensors it has already checked.
"""

from __future__ import annotations

from torch import Tensor

from ._validate import (
    check_floating,
    check_heads_divide,
    check_positive_int,
    check_rank,
)


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """Split the last dimension into ``num_heads`` heads.

    Shapes: ``(B, T, E) -> (B, h, T, d_k)`` with ``h = num_heads`` and
    ``d_k = E // h``. ``out[b, i, t]`` is ``x[b, t, i * d_k:(i + 1) * d_k]``, the same
    layout ``nn.MultiheadAttention`` uses. The result is a view when ``x`` allows one.

    Raises:
        ValueError: ``x`` is not 3-D, or ``num_heads`` does not divide ``E`` (the
            message lists the valid head counts).
    """
    check_rank("x", x, 3, "(B, T, E)", hint="add a batch dim with x.unsqueeze(0).")
    check_heads_divide(x.shape[-1], num_heads, embed_name="E (x.shape[-1])")
    return _split_heads(x, num_heads)


def _split_heads(x: Tensor, num_heads: int) -> Tensor:
    """:func:`split_heads` on inputs already checked (the package's own calls)."""
    batch, length, embed_dim = x.shape
    head_dim = embed_dim // num_heads
    x = x.reshape(batch, length, num_heads, head_dim)  # (B, T, E) -> (B, T, h, d_k)
    return x.transpose(1, 2)  # (B, T, h, d_k) -> (B, h, T, d_k)


def merge_heads(x: Tensor) -> Tensor:
    """Concatenate the heads again: the exact inverse of :func:`split_heads`.

    Shapes: ``(B, h, T, d_k) -> (B, T, E)`` with ``E = h * d_k``, so that
    ``merge_heads(split_heads(x, h))`` equals ``x``.

    Raises:
        ValueError: ``x`` is not 4-D.
    """
    check_rank("x", x, 4, "(B, h, T, d_k)", hint="split_heads returns this layout.")
    return _merge_heads(x)


def _merge_heads(x: Tensor) -> Tensor:
    """:func:`merge_heads` on an input already checked (the package's own calls)."""
    batch, num_heads, length, head_dim = x.shape
    x = x.transpose(1, 2)  # (B, h, T, d_k) -> (B, T, h, d_k)
    return x.reshape(batch, length, num_heads * head_dim)  # (B, T, h, d_k) -> (B, T, E)


def repeat_kv(x: Tensor, group_size: int) -> Tensor:
    """Give every query head its own copy of the key/value head it shares.

    Shapes: ``(B, h_kv, S, d_k) -> (B, h_kv * group_size, S, d_k)``, where
    ``group_size = h / h_kv`` query heads share one key/value head. Output head ``i``
    is input head ``i // group_size``: the copies of a head are adjacent
    (``repeat_interleave``, not ``repeat``, which would tile the heads as
    ``0, 1, 0, 1``). ``group_size=1`` returns ``x`` itself.

    Raises:
        ValueError: ``x`` is not 4-D or ``group_size`` is not a positive int.
        TypeError: ``x`` is not a floating tensor.
    """
    check_rank("x", check_floating("x", x), 4, "(B, h_kv, S, d_k)")
    check_positive_int("group_size", group_size)
    return _repeat_kv(x, group_size)


def _repeat_kv(x: Tensor, group_size: int) -> Tensor:
    """:func:`repeat_kv` on an input already checked."""
    if group_size == 1:
        return x
    return x.repeat_interleave(group_size, dim=1)  # (B, h_kv, S, d_k) -> (B, h, S, d_k)
