"""Splitting the embedding into heads and merging the heads back.

A head is a slice of the feature dimension: head ``i`` owns features
``i * d_k : (i + 1) * d_k`` of every token. Splitting moves the head index in front of
the time index so that each head becomes an independent batch of ``(T, d_k)`` matrices.

The public functions check their input; the package's own calls go to the unchecked
cores (``_split_heads``, ``_merge_heads``) on tensors it has already checked.
"""

from __future__ import annotations

from torch import Tensor

from ._validate import check_heads_divide, check_rank


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
