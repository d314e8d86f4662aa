"""Grouped-query attention: several query heads share one key/value head.

With ``g = num_kv_heads`` key/value heads and ``h = num_heads`` query heads, query head
``i`` reads key/value head ``i // (h // g)``. ``g = h`` is standard multi-head
attention, ``g = 1`` is multi-query attention. The key/value projections shrink from
``(E, E)`` to ``(g * d_k, E)``, and so does the key/value cache when decoding.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validate import check_dropout, check_heads_divide, check_kv_heads
from .layer import AttentionLayerBase


class GroupedQueryAttention(AttentionLayerBase):
    """Grouped-query attention with four ``nn.Linear`` projections.

    Shapes as in :class:`mha.MultiHeadAttention` (``query (B, T, E)``,
    ``key``/``value`` ``(B, S, E)`` -> ``(B, T, E)``, weights ``(B, T, S)`` or
    ``(B, h, T, S)``), with the same masks (boolean True = NOT allowed to attend) and
    the same :meth:`forward`. ``q_proj`` and ``out_proj`` are ``(E, E)``; ``k_proj``
    and ``v_proj`` are ``(num_kv_heads * d_k, E)``. With ``need_weights=False`` it
    calls ``F.scaled_dot_product_attention(..., enable_gqa=True)``.

    Args:
        embed_dim: ``E``.
        num_heads: ``h`` query heads; must divide ``embed_dim``.
        num_kv_heads: ``g`` key/value heads; must divide ``num_heads``.
        dropout, bias, batch_first: as in :class:`mha.MultiHeadAttention`.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        num_kv_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        batch_first: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.head_dim = check_heads_divide(embed_dim, num_heads)
        check_kv_heads(num_heads, num_kv_heads)
        self.embed_dim, self.num_heads, self.num_kv_heads = (
            embed_dim,
            num_heads,
            num_kv_heads,
        )
        self.kdim = self.vdim = embed_dim
        self.dropout = check_dropout(dropout)
        self.batch_first = bool(batch_first)
        kv_dim = num_kv_heads * self.head_dim
        factory = {"device": device, "dtype": dtype}
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.k_proj = nn.Linear(embed_dim, kv_dim, bias=bias, **factory)
        self.v_proj = nn.Linear(embed_dim, kv_dim, bias=bias, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
