"""Head masking: each head's output times a gate before ``W^O`` (Michel et al., 2019).

:func:`mask_heads` gates (or mean-ablates) the heads ``(B, h, T, d_k)``;
:func:`masked_self_attention` is a layer's causal self-attention with those gates.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._validate import (
    check_rank,
    check_tensor,
    shape_str,
)
from ..attention import scaled_dot_product_attention
from ..heads import merge_heads, split_heads
from ..layer import MultiHeadAttention


def _check_head_mask(
    head_mask: object, shape: tuple[int, ...], layout: str, hint: str
) -> Tensor:
    head_mask = check_tensor("head_mask", head_mask)
    if not head_mask.is_floating_point():
        raise TypeError(
            f"head_mask must be a float tensor of multipliers (1.0 keeps a head, 0.0 "
            f"removes it); got dtype {head_mask.dtype}. Hint: a boolean mask is "
            f"ambiguous here (in mha True means 'not allowed'): write "
            f"keep.float() for a tensor `keep` that is True where a head stays."
        )
    if tuple(head_mask.shape) != shape:
        raise ValueError(
            f"head_mask must have shape {layout} = {shape_str(shape)}; got "
            f"{shape_str(head_mask.shape)}. Hint: {hint}"
        )
    return head_mask


def mask_heads(
    heads: Tensor, head_mask: Tensor, baseline: Tensor | None = None
) -> Tensor:
    """Multiply each head's output by its gate: ``(B, h, T, d_k) -> (B, h, T, d_k)``.

    ``head_mask`` is ``(h,)``, one gate per head for the whole batch, or ``(B, h)``,
    one per sequence and head. Gate 1.0 keeps a head, 0.0 removes it; values in
    between scale it. The gates line up with the head axis, dim 1, whatever ``T``
    and ``d_k`` are.

    ``baseline`` (optional) is what a removed head is replaced by: the result is
    ``gate * heads + (1 - gate) * baseline``, so a gate of 0 puts the baseline in the
    head's place instead of zeros. With the head's mean output over a batch,
    ``(h, T, d_k)`` from :func:`head_means`, that is *mean ablation*; without a
    baseline it is *zero ablation*. It broadcasts to ``heads``.

    Raises:
        ValueError: ``heads`` is not 4-D, ``head_mask`` is neither ``(h,)`` nor
            ``(B, h)``, or ``baseline`` does not broadcast to ``heads``.
        TypeError: ``head_mask`` is not a float tensor.
    """
    check_rank("heads", heads, 4, "(B, h, T, d_k)", hint="split_heads gives this.")
    B, h = heads.shape[:2]
    head_mask = check_tensor("head_mask", head_mask)
    shape = (h,) if head_mask.dim() <= 1 else (B, h)
    layout = "(h,)" if head_mask.dim() <= 1 else "(B, h)"
    head_mask = _check_head_mask(
        head_mask,
        shape,
        layout,
        f"one gate per head (h = {h}), or per sequence and head (B = {B}, h = {h}).",
    )
    gates = head_mask[..., None, None]  # (h,) -> (h, 1, 1); (B, h) -> (B, h, 1, 1)
    gated = heads * gates.to(heads.dtype)
    if baseline is None:
        return gated
    baseline = check_tensor("baseline", baseline)
    try:
        fits = torch.broadcast_shapes(baseline.shape, heads.shape) == heads.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"baseline must broadcast to heads {shape_str(heads.shape)}; got "
            f"{shape_str(baseline.shape)}. Hint: one (T, d_k) mean per head is "
            f"(h, T, d_k) = {shape_str(heads.shape[1:])}."
        )
    return gated + (1.0 - gates.to(heads.dtype)) * baseline.to(heads.dtype)


def masked_self_attention(
    layer: MultiHeadAttention,
    x: Tensor,
    head_mask: Tensor | None = None,
    *,
    is_causal: bool = True,
    baseline: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Self-attention through ``layer`` with each head's output gated before ``W^O``.

    Shapes: ``x (B, T, E)``, ``head_mask (h,)`` or ``(B, h)`` -> ``output (B, T, E)``,
    ``weights (B, h, T, T)``. The steps of Part I, with one more between merge and
    concatenate: project, :func:`mha.split_heads`,
    :func:`mha.scaled_dot_product_attention`, :func:`mask_heads`,
    :func:`mha.merge_heads`, ``out_proj``. Removing head ``i`` removes the term
    ``W^O_i o_i`` from the output (``W^O_i`` is columns ``i*d_k:(i+1)*d_k`` of
    ``out_proj.weight``); the bias stays. With ``head_mask=None`` or all ones it
    equals ``layer(x, x, x, is_causal=is_causal, average_attn_weights=False)``.
    ``baseline`` replaces removed heads as in :func:`mask_heads`.

    Raises:
        TypeError: ``layer`` is not an :class:`mha.MultiHeadAttention`.
        ValueError: ``layer`` is not ``batch_first``, or ``x`` is not ``(B, T, E)``.
    """
    out, weights, _ = _gated_attention(layer, x, head_mask, is_causal, baseline)
    return out, weights


def _gated_attention(
    layer: MultiHeadAttention,
    x: Tensor,
    head_mask: Tensor | None,
    is_causal: bool,
    baseline: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`masked_self_attention`, also returning the ungated heads."""
    if not isinstance(layer, MultiHeadAttention):
        raise TypeError(
            f"masked_self_attention expects an mha.MultiHeadAttention; got "
            f"{type(layer).__name__}. Hint: convert a torch layer with "
            f"mha.MultiHeadAttention.from_torch(module)."
        )
    if not layer.batch_first:
        raise ValueError(
            "masked_self_attention expects a batch_first=True layer and (B, T, E) "
            "inputs."
        )
    check_rank("x", x, 3, f"(B, T, E) with E = {layer.embed_dim}")
    if x.shape[-1] != layer.embed_dim:
        raise ValueError(
            f"x must be (B, T, E) with E = {layer.embed_dim}; got {shape_str(x.shape)}."
        )
    h = layer.num_heads
    q = split_heads(layer.q_proj(x), h)  # (B, T, E) -> (B, h, T, d_k)
    k = split_heads(layer.k_proj(x), h)  # (B, T, E) -> (B, h, T, d_k)
    v = split_heads(layer.v_proj(x), h)  # (B, T, E) -> (B, h, T, d_k)
    heads, weights = scaled_dot_product_attention(
        q, k, v, dropout_p=layer.dropout, is_causal=is_causal, training=layer.training
    )  # (B, h, T, d_k), (B, h, T, T)
    gated = heads
    if head_mask is not None:
        gated = mask_heads(heads, head_mask, baseline)  # (B, h, T, d_k)
    elif baseline is not None:
        raise ValueError("a baseline needs a head_mask: it replaces heads with gate 0.")
    out = layer.out_proj(merge_heads(gated))  # (B, T, E)
    return out, weights, heads  # (B, T, E), (B, h, T, T), (B, h, T, d_k)
