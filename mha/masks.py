"""Masks and the softmax that respects them.

Convention, everywhere in ``mha``: a **boolean mask is True where attending is NOT
allowed** (the position is masked out), exactly like ``nn.MultiheadAttention``'s
``attn_mask`` and ``key_padding_mask``. ``F.scaled_dot_product_attention`` uses the
opposite polarity (True = takes part), so convert with ``~mask`` when you call it.
A float mask is *added* to the scores: ``0`` keeps a position, ``-inf`` removes it.

A query row whose keys are all masked gets **zero weights** (not NaN) here, so its
attention output is zero and its gradients are finite. PyTorch returns NaN for such
rows in several paths (pytorch issues 41508 and 160064).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._validate import (
    BOOL_MASK_CONVENTION,
    check_broadcastable,
    check_floating,
    check_mask_dtype,
    check_positive_int,
    check_rank,
    check_tensor,
    shape_str,
)

NEG_INF = float("-inf")


def causal_mask(
    T: int, S: int | None = None, *, device: torch.device | str | None = None
) -> Tensor:
    """Boolean ``(T, S)`` mask that hides the future: True where key ``j > i`` (query).

    ``S`` defaults to ``T`` (self-attention). The alignment is PyTorch's top-left one,
    the same as ``F.scaled_dot_product_attention(..., is_causal=True)`` (which keeps
    ``torch.ones(T, S).tril(0)``): query ``i`` sees keys ``0..i`` whatever ``S`` is.
    So when ``S > T`` the last query does *not* see the last ``S - T`` keys. For
    decoding with a key/value cache, where the ``T`` queries are the *last* ``T``
    positions, you want the bottom-right alignment instead:
    :func:`causal_mask_bottom_right`.

    True = NOT allowed to attend (``nn.MultiheadAttention``'s convention; pass
    ``~causal_mask(T)`` to ``F.scaled_dot_product_attention``).
    """
    check_positive_int("T", T)
    S = T if S is None else check_positive_int("S", S)
    return _causal_mask(T, S, device)


def _causal_mask(T: int, S: int, device: torch.device | str | None = None) -> Tensor:
    """:func:`causal_mask` for sizes already checked."""
    return torch.ones(T, S, dtype=torch.bool, device=device).triu(1)  # (T, S)


def causal_mask_bottom_right(
    T: int, S: int | None = None, *, device: torch.device | str | None = None
) -> Tensor:
    """Boolean ``(T, S)`` causal mask for ``T`` queries at the LAST ``T`` positions.

    Query ``i`` sits at position ``S - T + i`` and may attend to keys
    ``0 .. S - T + i``; True marks the keys after that (True = NOT allowed to attend).
    With ``S == T`` this equals :func:`mha.causal_mask`; with ``S > T`` (new tokens
    against a cache) the top-left :func:`mha.causal_mask` would hide almost every
    cached key from the new queries.

    Raises:
        ValueError: ``S < T``: there cannot be more new queries than positions.
    """
    check_positive_int("T", T)
    S = T if S is None else check_positive_int("S", S)
    if S < T:
        raise ValueError(
            f"S={S} keys cannot hold T={T} new queries: the queries are the last T of "
            f"the S positions, so S >= T. Hint: append the new keys to the cache "
            f"before building the mask."
        )
    return torch.ones(T, S, dtype=torch.bool, device=device).triu(S - T + 1)  # (T, S)


def padding_mask(lengths: Tensor | Sequence[int], S: int) -> Tensor:
    """Boolean ``(B, S)`` key padding mask: True at the padding positions.

    ``lengths`` holds the true length of each of the ``B`` sequences, shape ``(B,)``;
    position ``j`` of sequence ``b`` is padding (True = NOT allowed to attend, ignored)
    when ``j >= lengths[b]``. A length of 0 masks the whole sequence: every query then
    gets zero weights from ``mha`` (PyTorch would give NaN). Pass the result as
    ``key_padding_mask``; the mask is on ``lengths``' device.
    """
    check_positive_int("S", S)
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(list(lengths), dtype=torch.long)
    check_rank("lengths", lengths, 1, "(B,)", hint="one length per sequence.")
    if lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must hold integers; got dtype {lengths.dtype}.")
    if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > S):
        raise ValueError(
            f"every length must be in [0, S={S}]; got lengths={lengths.tolist()}. "
            f"Hint: S is the padded key length, at least the longest sequence."
        )
    positions = torch.arange(S, device=lengths.device)  # (S,)
    return positions[None, :] >= lengths[:, None]  # (1, S) vs (B, 1) -> (B, S)


def masked_softmax(scores: Tensor, mask: Tensor | None = None, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` that ignores masked positions: ``(..., S) -> (..., S)``.

    ``mask`` broadcasts to ``scores``. A boolean mask is True where attending is NOT
    allowed (``nn.MultiheadAttention``'s convention, the opposite of
    ``F.scaled_dot_product_attention``'s); a float mask is added to the scores. Every
    row sums to 1, except a row whose positions are all masked (all ``-inf``): it is
    all zeros, with finite gradients, where ``torch.softmax`` would give NaN.
    """
    check_floating("scores", scores)
    if mask is not None:
        check_mask_dtype("mask", mask)
        check_broadcastable("mask", mask, scores.shape, "(..., T, S)")
    return _masked_softmax(scores, mask, dim)


def _masked_softmax(scores: Tensor, mask: Tensor | None, dim: int = -1) -> Tensor:
    """:func:`masked_softmax` on inputs already checked."""
    if mask is None:
        return torch.softmax(scores, dim=dim)
    if mask.dtype == torch.bool:
        scores = scores.masked_fill(mask, NEG_INF)
    else:
        scores = scores + mask.to(scores.dtype)
    empty = torch.isneginf(scores).all(dim=dim, keepdim=True)  # rows with no key left
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=dim)
    return weights.masked_fill(empty, 0.0)


def to_additive(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """A float mask of ``dtype``: boolean True becomes ``-inf``, False ``0``.

    Float masks are only cast. ``-inf`` (not ``-1e20`` or ``finfo.min``) stays exact in
    float16 and bfloat16 and never overflows when added.
    """
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, NEG_INF
        )
    return mask.to(dtype)


def _check_mask_device(
    name: str, mask: Tensor, device: torch.device | str | None
) -> None:
    if device is None:
        return
    target = torch.device(device)  # "cuda" means any index, "cuda:1" only that one
    same_index = target.index is None or mask.device.index == target.index
    if mask.device.type != target.type or not same_index:
        raise ValueError(
            f"{name} is on {mask.device} but the inputs are on {target}. "
            f"Hint: move it with {name}.to(query.device)."
        )


def _attn_mask_hint(shape: tuple[int, ...], B: int, h: int, T: int, S: int) -> str:
    if len(shape) == 2 and shape == (B, S):
        return "did you pass a (B, S) padding mask as attn_mask? Use key_padding_mask."
    if len(shape) == 3 and shape == (B, T, S) and h > 1:
        return (
            "a 3-D attn_mask holds one (T, S) mask per batch element AND head "
            "(index b * num_heads + i); expand yours with "
            "mask.repeat_interleave(num_heads, dim=0)."
        )
    if len(shape) == 4:
        return "reshape a (B, h, T, S) mask with mask.reshape(B * num_heads, T, S)."
    if len(shape) == 2 and shape == (S, T):
        return "is it transposed? Rows are queries (T), columns are keys (S)."
    return "rows are queries (T), columns are keys (S)."


def merge_masks(
    attn_mask: Tensor | None,
    key_padding_mask: Tensor | None,
    *,
    batch_size: int,
    num_heads: int,
    query_len: int,
    key_len: int,
    is_causal: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor | None:
    """Check and combine the masks of a multi-head attention call into one.

    Inputs, with ``nn.MultiheadAttention``'s shapes: ``attn_mask`` ``(T, S)`` or
    ``(B * h, T, S)``; ``key_padding_mask`` ``(B, S)``; ``is_causal`` adds
    :func:`causal_mask` (built on ``device``). Returns ``None`` (nothing masked) or a
    mask that broadcasts to ``(B, h, T, S)``: boolean (True = NOT allowed to attend)
    when every input is boolean, else a float mask of ``dtype`` (booleans become
    ``-inf``) that is the sum.
    A position is masked when *any* input masks it.

    Raises:
        TypeError: a mask is neither boolean nor floating.
        ValueError: a mask has the wrong shape; the message gives the expected and the
            received shapes and a hint.
    """
    B, h, T, S = batch_size, num_heads, query_len, key_len
    parts: list[Tensor] = []
    if attn_mask is not None:
        check_mask_dtype("attn_mask", attn_mask)
        _check_mask_device("attn_mask", attn_mask, device)
        shape = tuple(attn_mask.shape)
        if shape == (T, S):
            parts.append(attn_mask[None, None])  # (T, S) -> (1, 1, T, S)
        elif shape == (B * h, T, S):
            parts.append(attn_mask.reshape(B, h, T, S))  # (B*h, T, S) -> (B, h, T, S)
        else:
            raise ValueError(
                f"attn_mask must have shape (T, S) = {shape_str((T, S))} or "
                f"(B * num_heads, T, S) = {shape_str((B * h, T, S))}; got "
                f"{shape_str(shape)}. Hint: {_attn_mask_hint(shape, B, h, T, S)}"
            )
    if key_padding_mask is not None:
        check_mask_dtype("key_padding_mask", key_padding_mask)
        _check_mask_device("key_padding_mask", key_padding_mask, device)
        shape = tuple(key_padding_mask.shape)
        if shape != (B, S):
            if shape == (T, S) and T != B:
                hint = "did you pass a (T, S) attention mask as key_padding_mask?"
            elif shape == (S, B):
                hint = "is it transposed? It must be (batch, key position)."
            else:
                hint = "one row per sequence, True at its padding positions."
            raise ValueError(
                f"key_padding_mask must have shape (B, S) = {shape_str((B, S))}; got "
                f"{shape_str(shape)}. Hint: {hint} ({BOOL_MASK_CONVENTION}.)"
            )
        parts.append(key_padding_mask[:, None, None, :])  # (B, S) -> (B, 1, 1, S)
    if is_causal:
        parts.append(_causal_mask(T, S, device)[None, None])  # -> (1, 1, T, S)
    return combine_masks(*parts, dtype=dtype)


def combine_masks(*masks: Tensor, dtype: torch.dtype) -> Tensor | None:
    """Mask out a position when *any* of ``masks`` masks it; shapes broadcast together.

    All boolean (True = NOT allowed to attend): the result is their logical OR. Any
    float: the result is a float mask of ``dtype``, the sum of the masks with booleans
    turned into ``-inf``. Returns ``None`` when given no mask.
    """
    if not masks:
        return None
    if all(m.dtype == torch.bool for m in masks):
        merged = masks[0]
        for m in masks[1:]:
            merged = merged | m
        return merged
    merged = to_additive(masks[0], dtype)
    for m in masks[1:]:
        merged = merged + to_additive(m, dtype)
    return merged


def empty_rows(mask: Tensor) -> Tensor:
    """Query rows of a merged mask with no key left: ``(..., T, S) -> (..., T, 1)``.

    For a boolean mask (True = NOT allowed) a row is empty when it is all True; for a
    float mask when it is all ``-inf``.
    """
    check_tensor("mask", mask)
    return _empty_rows(mask)


def _empty_rows(mask: Tensor) -> Tensor:
    """:func:`empty_rows` on a mask already checked."""
    hidden = mask if mask.dtype == torch.bool else torch.isneginf(mask)
    return hidden.all(dim=-1, keepdim=True)
