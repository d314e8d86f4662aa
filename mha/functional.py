"""The whole multi-head attention forward pass as one function of inputs and weights.

:class:`mha.MultiHeadAttention` is a thin module around the same forward pass: it
owns the four projections and handles ``batch_first`` and unbatched inputs.

Validation happens once, at the door: :func:`multi_head_attention` checks its inputs
and weights, the layers check theirs, and both then call the unchecked
``_multi_head_attention``, whose steps call the unchecked cores of ``heads``,
``attention`` and ``masks``. Only the user's masks are checked inside, by
:func:`mha.merge_masks`, the one place that reads them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validate import (
    check_dropout,
    check_floating,
    check_heads_divide,
    check_kv_heads,
    check_mask_dtype,
    check_positive_int,
    check_qkv,
    check_rank,
    check_same_dtype_device,
    check_shape,
)
from .attention import _attend
from .heads import _merge_heads, _repeat_kv, _split_heads
from .masks import _empty_rows, merge_masks


def _check_inputs(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    weights: dict[str, Tensor | None],
    num_heads: int,
    num_kv_heads: int,
) -> None:
    """Check ranks, sizes, dtypes and devices of the inputs and the weights."""
    for name in ("w_q", "w_k", "w_v", "w_o"):
        check_rank(name, check_floating(name, weights[name]), 2, "(out, in)")
    w_q, w_k, w_v, w_o = (weights[n] for n in ("w_q", "w_k", "w_v", "w_o"))
    embed_dim = w_q.shape[0]
    head_dim = check_heads_divide(embed_dim, num_heads)
    check_kv_heads(num_heads, num_kv_heads)
    kv_dim = num_kv_heads * head_dim
    check_shape("w_q", w_q, (embed_dim, embed_dim), "(E, E)")
    check_shape("w_k", w_k, (kv_dim, w_k.shape[1]), "(num_kv_heads * d_k, kdim)")
    check_shape("w_v", w_v, (kv_dim, w_v.shape[1]), "(num_kv_heads * d_k, vdim)")
    check_shape("w_o", w_o, (embed_dim, embed_dim), "(E, E)")
    sizes = {"b_q": embed_dim, "b_k": kv_dim, "b_v": kv_dim, "b_o": embed_dim}
    for name, size in sizes.items():
        if weights[name] is not None:
            check_shape(name, weights[name], (size,), "(out,)")
    check_qkv(
        query,
        key,
        value,
        embed_dim=embed_dim,
        kdim=w_k.shape[1],
        vdim=w_v.shape[1],
        batch_dim=0,
    )
    present = {n: t for n, t in weights.items() if t is not None}
    check_same_dtype_device("w_q", w_q, **present)
    check_same_dtype_device("the weights", w_q, query=query, key=key, value=value)


def _project(
    query: Tensor, key: Tensor, value: Tensor, weights: dict[str, Tensor | None]
) -> tuple[Tensor, Tensor, Tensor]:
    """The input projections: ``(B, T, E), (B, S, kdim), (B, S, vdim)`` -> q, k, v.

    For self-attention (``query is key is value``) one matrix product with the three
    weights stacked, ``(E + 2 * kv_dim, E)``, replaces three smaller ones; that is
    what ``nn.MultiheadAttention``'s packed ``in_proj_weight`` is for.
    """
    w_q, w_k, w_v = weights["w_q"], weights["w_k"], weights["w_v"]
    biases = [weights["b_q"], weights["b_k"], weights["b_v"]]
    with_bias = sum(b is not None for b in biases)
    if query is key and key is value and with_bias in (0, 3):
        w_qkv = torch.cat([w_q, w_k, w_v])  # (E + 2 * kv_dim, E)
        b_qkv = None if biases[0] is None else torch.cat(biases)  # (E + 2 * kv_dim,)
        qkv = F.linear(query, w_qkv, b_qkv)  # (B, T, E) -> (B, T, E + 2 * kv_dim)
        q, k, v = qkv.split([w_q.shape[0], w_k.shape[0], w_v.shape[0]], dim=-1)
        return q, k, v
    return (
        F.linear(query, w_q, biases[0]),  # (B, T, E) -> (B, T, E)
        F.linear(key, w_k, biases[1]),  # (B, S, kdim) -> (B, S, kv_dim)
        F.linear(value, w_v, biases[2]),  # (B, S, vdim) -> (B, S, kv_dim)
    )


def fused_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    dropout_p: float = 0.0,
    *,
    is_causal: bool = False,
) -> Tensor:
    """``F.scaled_dot_product_attention`` with ``mha``'s mask convention; output only.

    Shapes: ``q (B, h, T, d_k)``, ``k, v (B, g, S, d_k)`` with ``g`` dividing ``h``
    (``g < h`` is grouped-query attention) -> ``(B, h, T, d_k)``. ``mask`` broadcasts
    to ``(B, h, T, S)``; boolean True = NOT allowed to attend, which is flipped here
    because ``F.scaled_dot_product_attention`` keeps True positions. A float mask is
    added. Rows with every key masked are made explicit: their output is zero (and
    their gradients finite) on every PyTorch version and backend, the same answer as
    :func:`mha.scaled_dot_product_attention`. ``is_causal`` is passed through and
    only used without ``mask``.
    """
    for name, x, layout in (
        ("q", q, "(B, h, T, d_k)"),
        ("k", k, "(B, g, S, d_k)"),
        ("v", v, "(B, g, S, d_k)"),
    ):
        check_rank(name, check_floating(name, x), 4, layout)
    check_same_dtype_device("q", q, k=k, v=v)
    if q.shape[1] % k.shape[1] or k.shape[:3] != v.shape[:3]:
        raise ValueError(
            f"k and v must have the same (B, g, S) and g must divide the h of q; got "
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}."
        )
    if mask is not None:
        check_mask_dtype("mask", mask)
    return _fused_attention(q, k, v, mask, check_dropout(dropout_p), is_causal)


def _fused_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
) -> Tensor:
    """:func:`fused_attention` on inputs already checked."""
    gqa = {"enable_gqa": True} if k.shape[1] != q.shape[1] else {}
    if mask is None:
        return F.scaled_dot_product_attention(
            q, k, v, dropout_p=dropout_p, is_causal=is_causal, **gqa
        )
    empty = _empty_rows(mask)  # (B|1, h|1, T, 1): rows with no key left
    # Flip the polarity (F.scaled_dot_product_attention keeps True); an empty row
    # keeps every key for now and is zeroed below.
    keep = ~mask | empty if mask.dtype == torch.bool else mask.masked_fill(empty, 0.0)
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=keep, dropout_p=dropout_p, **gqa
    )
    return out.masked_fill(empty, 0.0)  # empty rows: zero output, zero gradient


def multi_head_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    *,
    num_heads: int,
    w_q: Tensor,
    w_k: Tensor,
    w_v: Tensor,
    w_o: Tensor,
    b_q: Tensor | None = None,
    b_k: Tensor | None = None,
    b_v: Tensor | None = None,
    b_o: Tensor | None = None,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    training: bool = True,
    num_kv_heads: int | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention in one call: project, split, attend, merge, project.

    Shapes (batch first): ``query (B, T, E)``, ``key (B, S, kdim)``,
    ``value (B, S, vdim)``; weights as in ``F.linear`` (``y = x @ w.T + b``):
    ``w_q (E, E)``, ``w_k (E, kdim)``, ``w_v (E, vdim)``, ``w_o (E, E)``, biases
    ``(E,)`` or None. Returns ``output (B, T, E)`` and the attention weights:
    ``(B, T, S)`` averaged over heads when ``average_attn_weights``, else
    ``(B, h, T, S)``; ``None`` when ``need_weights`` is False, in which case the fused
    ``F.scaled_dot_product_attention`` does the work instead of the step-by-step
    :func:`mha.scaled_dot_product_attention`.

    Masks have ``nn.MultiheadAttention``'s shapes and meaning: ``attn_mask`` ``(T, S)``
    or ``(B * h, T, S)``, ``key_padding_mask`` ``(B, S)``; a boolean mask is True where
    attending is NOT allowed (``F.scaled_dot_product_attention`` uses the opposite); a
    float mask is added to the scores. ``is_causal=True`` adds the causal mask (top-left
    aligned, see :func:`mha.causal_mask`) and needs no ``attn_mask``; in PyTorch it is
    only a hint that the ``attn_mask`` you must pass is causal.

    A query whose keys are all masked gets zero weights and an attention output of zero,
    so its final output is ``b_o``, with finite gradients; ``nn.MultiheadAttention``
    returns NaN there (pytorch issues 41508 and 160064).

    ``dropout_p`` drops attention weights when ``training``. ``num_kv_heads`` (default
    ``num_heads``) makes it grouped-query attention: ``w_k`` and ``w_v`` are then
    ``(num_kv_heads * d_k, kdim)`` and query head ``i`` uses key/value head
    ``i // (num_heads // num_kv_heads)``.

    Raises:
        ValueError, TypeError: inputs, weights or masks do not fit together; the message
            names the expected and the received shapes or dtypes.
    """
    check_positive_int("num_heads", num_heads)
    num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
    weights = {"w_q": w_q, "w_k": w_k, "w_v": w_v, "w_o": w_o}
    weights |= {"b_q": b_q, "b_k": b_k, "b_v": b_v, "b_o": b_o}
    _check_inputs(query, key, value, weights, num_heads, num_kv_heads)
    dropout_p = check_dropout(dropout_p, "dropout_p")
    return _multi_head_attention(
        query,
        key,
        value,
        weights,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        key_padding_mask=key_padding_mask,
        need_weights=need_weights,
        attn_mask=attn_mask,
        average_attn_weights=average_attn_weights,
        is_causal=is_causal,
        dropout_p=dropout_p if training else 0.0,
    )


def _multi_head_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    weights: dict[str, Tensor | None],
    *,
    num_heads: int,
    num_kv_heads: int,
    key_padding_mask: Tensor | None,
    need_weights: bool,
    attn_mask: Tensor | None,
    average_attn_weights: bool,
    is_causal: bool,
    dropout_p: float,
) -> tuple[Tensor, Tensor | None]:
    """:func:`multi_head_attention` on checked inputs and weights (batch first); the
    masks are checked by :func:`mha.merge_masks`. ``dropout_p`` is 0 in eval mode."""
    B, T, _ = query.shape
    S = key.shape[1]

    # 1. Project the inputs to queries, keys and values.
    q, k, v = _project(query, key, value, weights)
    # 2. Split them into heads.
    q = _split_heads(q, num_heads)  # (B, T, E) -> (B, h, T, d_k)
    k = _split_heads(k, num_kv_heads)  # (B, S, kv_dim) -> (B, g, S, d_k)
    v = _split_heads(v, num_kv_heads)  # (B, S, kv_dim) -> (B, g, S, d_k)
    # 3. One mask for all: (B|1, h|1, T, S), or None. A causal mask alone is left to
    #    the fused kernel when it runs, as it can skip the masked half.
    kernel_causal = (
        is_causal
        and not need_weights
        and attn_mask is None
        and key_padding_mask is None
    )
    mask = merge_masks(
        attn_mask,
        key_padding_mask,
        batch_size=B,
        num_heads=num_heads,
        query_len=T,
        key_len=S,
        is_causal=is_causal and not kernel_causal,
        dtype=query.dtype,
        device=query.device,
    )
    # 4. Attend, every head at once.
    if need_weights:
        if num_kv_heads != num_heads:
            group = num_heads // num_kv_heads
            k = _repeat_kv(k, group)  # (B, g, S, d_k) -> (B, h, S, d_k)
            v = _repeat_kv(v, group)  # (B, g, S, d_k) -> (B, h, S, d_k)
        out, attn = _attend(q, k, v, mask, dropout_p)
        if average_attn_weights:
            attn = attn.mean(dim=1)  # (B, h, T, S) -> (B, T, S)
    else:
        out = _fused_attention(q, k, v, mask, dropout_p, is_causal=kernel_causal)
        attn = None
    # 5. Concatenate the heads and mix them with the output projection.
    w_o, b_o = weights["w_o"], weights["b_o"]
    return F.linear(_merge_heads(out), w_o, b_o), attn  # (B, h, T, d_k) -> (B, T, E)
