"""Scaled dot-product attention, step by step, with the weights materialised.

``scores = q @ k^T / sqrt(d_k)``, ``weights = softmax(scores + mask)``,
``output = weights @ v``. Everything works on any number of leading dimensions, so the
same code serves one head ``(T, d_k)``, a batch ``(B, T, d_k)`` or all heads at once
``(B, h, T, d_k)``.

The public functions check their inputs; the package's own calls go to the unchecked
cores (``_attention_scores``, ``_attend``) on tensors it has already checked.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validate import (
    check_broadcastable,
    check_dropout,
    check_floating,
    check_mask_dtype,
    check_same_dtype_device,
    shape_str,
)
from .masks import _causal_mask, _masked_softmax, combine_masks


def check_qkv_rank(name: str, x: Tensor, layout: str) -> None:
    """A floating tensor with at least the two dims that ``layout`` names."""
    check_floating(name, x)
    if x.dim() < 2:
        raise ValueError(
            f"{name} must have at least 2 dims {layout}; got shape "
            f"{shape_str(x.shape)}. Hint: a single vector is a length-1 sequence, "
            f"{name}.unsqueeze(0)."
        )


def _leading_dims(q: Tensor, k: Tensor) -> None:
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading (batch, head) dims of q {shape_str(q.shape)} and k "
            f"{shape_str(k.shape)} do not broadcast: {shape_str(q.shape[:-2])} vs "
            f"{shape_str(k.shape[:-2])}. Hint: both should be (B, h, ...)."
        ) from None


def attention_scores_inputs(q: Tensor, k: Tensor) -> None:
    """The checks of :func:`attention_scores`: ``q (..., T, d_k)``, ``k (..., S,
    d_k)`` floating, same dtype and device, same ``d_k``, broadcastable batch dims."""
    check_qkv_rank("q", q, "(..., T, d_k)")
    check_qkv_rank("k", k, "(..., S, d_k)")
    check_same_dtype_device("q", q, k=k)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dim d_k; got q {shape_str(q.shape)} "
            f"(d_k={q.shape[-1]}) and k {shape_str(k.shape)} (d_k={k.shape[-1]})."
        )
    _leading_dims(q, k)


def attention_scores(q: Tensor, k: Tensor) -> Tensor:
    """Scaled dot products of every query with every key.

    Shapes: ``q (..., T, d_k)``, ``k (..., S, d_k) -> (..., T, S)``, with
    ``scores[..., i, j] = q[..., i, :] . k[..., j, :] / sqrt(d_k)``. The scale keeps the
    scores' variance near 1 when the entries of ``q`` and ``k`` have variance 1, so the
    softmax does not saturate as ``d_k`` grows. Leading dims broadcast.
    """
    attention_scores_inputs(q, k)
    return _attention_scores(q, k)


def _attention_scores(q: Tensor, k: Tensor) -> Tensor:
    """:func:`attention_scores` on inputs already checked."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    # Scaling q before the product (not the scores after) is what PyTorch does too.
    k_t = k.transpose(-2, -1)  # (..., S, d_k) -> (..., d_k, S)
    return (q * scale) @ k_t  # (..., T, d_k) @ (..., d_k, S) -> (..., T, S)


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    *,
    is_causal: bool = False,
    training: bool = True,
) -> tuple[Tensor, Tensor]:
    """Attention with the weights materialised; returns ``(output, weights)``.

    Shapes: ``q (..., T, d_k)``, ``k (..., S, d_k)``, ``v (..., S, d_v)`` ->
    ``output (..., T, d_v)``, ``weights (..., T, S)``. ``attn_mask`` broadcasts to
    ``(..., T, S)``: a boolean mask is True where attending is NOT allowed
    (``nn.MultiheadAttention``'s convention; ``F.scaled_dot_product_attention`` uses
    the opposite, True = takes part, so it gets ``~attn_mask``); a float mask is added
    to the scores. ``is_causal=True`` adds :func:`causal_mask` (top-left aligned, as in
    PyTorch) to ``attn_mask``; unlike ``F.scaled_dot_product_attention`` it may be
    combined with an ``attn_mask``. Dropout with probability ``dropout_p`` is applied
    to the weights when ``training`` is True, and the returned weights are the ones
    used (after dropout), as in ``nn.MultiheadAttention``.

    A query whose keys are all masked gets zero weights and a zero output with finite
    gradients; ``F.scaled_dot_product_attention`` agrees on CPU in recent versions,
    ``nn.MultiheadAttention`` returns NaN (pytorch issues 41508 and 160064).
    """
    attention_scores_inputs(q, k)
    check_qkv_rank("v", v, "(..., S, d_v)")
    check_same_dtype_device("q", q, v=v)
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"k and v must have the same length S (dim -2); got k {shape_str(k.shape)} "
            f"and v {shape_str(v.shape)}. Hint: each key has exactly one value."
        )
    _leading_dims(q, v)
    dropout_p = check_dropout(dropout_p, "dropout_p")
    masks = []
    if attn_mask is not None:
        masks.append(check_mask_dtype("attn_mask", attn_mask))
    if is_causal:
        T, S = q.shape[-2], k.shape[-2]
        masks.append(_causal_mask(T, S, q.device))  # (T, S)
    mask = combine_masks(*masks, dtype=q.dtype)
    if mask is not None:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
        check_broadcastable(
            "attn_mask", mask, (*batch, q.shape[-2], k.shape[-2]), "(..., T, S)"
        )
    return _attend(q, k, v, mask, dropout_p if training else 0.0)


def _attend(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float = 0.0
) -> tuple[Tensor, Tensor]:
    """:func:`scaled_dot_product_attention` on inputs already checked, with one
    merged mask (or None): ``(output, weights)``; dropout when ``dropout_p > 0``."""
    scores = _attention_scores(q, k)  # (..., T, S)
    weights = _masked_softmax(scores, mask)  # (..., T, S)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights  # (..., T, S) @ (..., S, d_v) -> (..., T, d_v)
