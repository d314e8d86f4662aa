"""Measures of attention weights used across the book.

- :func:`attention_entropy`: how spread out each row is, in nats.
- :func:`head_diversity`: how different the heads' maps are, in [0, 1].
- :func:`distinct_targets`: how many different keys a head's rows peak on.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["attention_entropy", "distinct_targets", "head_diversity"]


def attention_entropy(weights: Tensor) -> Tensor:
    """Entropy in nats of every row of weights: ``(..., T, S) -> (..., T)``.

    ``H = -sum_j a_j log a_j`` with ``0 log 0 = 0``, so masked keys (weight 0) add
    nothing. It lies between 0 (one key) and ``log S`` (uniform over ``S`` keys).
    """
    if not isinstance(weights, Tensor) or not weights.is_floating_point():
        raise TypeError(
            "attention_entropy expects a floating-point tensor of weights, got "
            f"{type(weights).__name__}"
            + (f" of dtype {weights.dtype}" if isinstance(weights, Tensor) else "")
            + ". Hint: pass softmax outputs, e.g. weights.float()."
        )
    if weights.dim() < 1:
        raise ValueError("attention_entropy needs at least one key axis (..., S).")
    # 0.0 - x rather than -x, so that a one-key row gives 0.0 and not -0.0
    return 0.0 - torch.special.xlogy(weights, weights).sum(dim=-1)  # (..., S) -> (...)


def head_diversity(weights: Tensor) -> float:
    """Mean distance between the maps of two heads, ``(h, T, S) -> float`` in [0, 1].

    The distance of two heads is the total variation between their rows,
    ``0.5 * sum_j |a_j - b_j|`` (the fraction of attention that would have to move),
    averaged over the query rows; the result averages it over all pairs of heads.
    NaN for a single head: there is no pair.
    """
    if not isinstance(weights, Tensor) or weights.dim() != 3:
        shape = tuple(weights.shape) if isinstance(weights, Tensor) else None
        raise ValueError(
            f"head_diversity expects weights of shape (h, T, S), got {shape}. "
            f"Hint: pass weights[0] for the first batch element."
        )
    h = weights.shape[0]
    if h == 1:
        return float("nan")
    gaps = (weights[:, None] - weights[None]).abs()  # (h, 1, T, S) - (1, h, T, S)
    distance = 0.5 * gaps.sum(dim=-1).mean(dim=-1)  # (h, h, T, S) -> (h, h)
    return float(distance.sum() / (h * (h - 1)))  # the diagonal is 0


def distinct_targets(weights: Tensor) -> Tensor:
    """How many different keys the rows of each head peak on: ``(h, T, S) -> (h,)``.

    A head whose queries all look at the same key scores 1.
    """
    top = weights.argmax(dim=-1)  # (h, T, S) -> (h, T)
    return torch.tensor([len(set(row.tolist())) for row in top])  # (h,)
