"""Measuring a trained toy model: :func:`accuracy`, :func:`ablate_each_head` and
:func:`pattern_scores` (previous-token and induction scores of each head).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._validate import (
    check_rank,
    shape_str,
)
from .model import TinyTransformer
from .task import RepeatBatch


@torch.no_grad()
def accuracy(
    model: TinyTransformer, batch: RepeatBatch, head_mask: Tensor | None = None
) -> float:
    """Fraction of the scored positions where the top logit is the next token."""
    predictions = model(batch.inputs, head_mask).argmax(dim=-1)  # (B, T - 1)
    right = predictions == batch.targets  # (B, T - 1)
    return right[batch.scored].float().mean().item()


def ablate_each_head(model: TinyTransformer, batch: RepeatBatch) -> Tensor:
    """Accuracy with one head removed at a time: ``(L, h)``, entry ``[l, i]`` with
    head ``i`` of layer ``l`` masked (gate 0.0) and every other head kept."""
    L, h = model.num_layers, model.num_heads
    device = next(model.parameters()).device
    result = torch.empty(L, h)
    for layer in range(L):
        for head in range(h):
            head_mask = torch.ones(L, h, device=device)
            head_mask[layer, head] = 0.0
            result[layer, head] = accuracy(model, batch, head_mask)
    return result


@torch.no_grad()
def pattern_scores(weights: Tensor, batch: RepeatBatch) -> tuple[Tensor, Tensor]:
    """How much each head behaves like a previous-token and an induction head.

    ``weights`` ``(L, B, h, T, T)`` are the model's maps on ``batch.inputs``
    (``need_weights=True``). Returns two ``(L, h)`` tensors:

    - previous-token score: the mean weight a query puts on the position just before
      it, ``w[t, t - 1]``, over positions ``t >= 1``;
    - induction score: the mean weight a scored query ``t`` (inside the copy) puts on
      ``t - n + 1``, the letter that followed its earlier occurrence.
    """
    check_rank("weights", weights, 5, "(L, B, h, T, T)")
    L, B, h, T, S = weights.shape
    if tuple(batch.inputs.shape) != (B, T) or S != T:
        raise ValueError(
            f"weights {shape_str(weights.shape)} do not fit batch.inputs "
            f"{shape_str(batch.inputs.shape)}: expected (L, B, h, T, T) with (B, T) = "
            f"{shape_str(batch.inputs.shape)}."
        )
    previous = weights.diagonal(offset=-1, dim1=-2, dim2=-1)  # (L, B, h, T - 1)
    previous_score = previous.mean(dim=(1, 3))  # (L, h)
    b, t = batch.scored.nonzero(as_tuple=True)  # scored (sequence, position) pairs
    source = t - batch.length[b] + 1  # where the predicted letter first appeared
    by_head = weights.permute(0, 2, 1, 3, 4)  # (L, B, h, T, T) -> (L, h, B, T, T)
    picked = by_head[:, :, b, t, source]  # (L, h, N): one weight per scored query
    return previous_score, picked.mean(dim=-1)  # (L, h), (L, h)
