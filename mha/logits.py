"""Bounding attention logits: QK-norm and soft-capping.

A score ``q . k / sqrt(d_k)`` has no upper bound: it grows with the norms of ``q``
and ``k``. Large scores make training unstable (Dehghani et al., 2023; Wortsman et
al., 2023) and lose precision in low-precision number formats, where the rounding
error of a number grows with its size. Two fixes bound them:

- :func:`qk_norm` normalises every head's query and key (RMS norm over ``d_k``, with
  an optional gain) before the product, so ``|q . k| / sqrt(d_k) <= sqrt(d_k) *
  g_q * g_k`` whatever the inputs.
- :func:`soft_cap` squashes the scores smoothly, ``cap * tanh(scores / cap)``, so
  ``|score| < cap`` (Gemma 2 caps attention logits at 50).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._validate import check_floating, shape_str

__all__ = ["qk_norm", "soft_cap"]


def _check_positive_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}.")
    if not value > 0:
        raise ValueError(f"{name} must be > 0; got {name}={value}.")
    return float(value)


def soft_cap(scores: Tensor, cap: float) -> Tensor:
    """``cap * tanh(scores / cap)``: close to ``scores`` when small, below ``cap``.

    Any shape; computed in ``scores``' dtype. Apply it to the scores before the mask
    and the softmax.

    Raises:
        ValueError: ``cap`` is not positive.  TypeError: ``scores`` is not floating.
    """
    check_floating("scores", scores)
    cap = _check_positive_number("cap", cap)
    return cap * torch.tanh(scores / cap)


def qk_norm(x: Tensor, weight: Tensor | None = None, eps: float = 1e-6) -> Tensor:
    """RMS-normalise each head's vectors: ``(..., d_k) -> (..., d_k)``.

    ``x / sqrt(mean(x**2) + eps)`` over the last dim (``d_k``), times ``weight``
    (``(d_k,)``, a learned gain) when given. After it every vector has norm
    ``sqrt(d_k)`` (times the gain), so the scores of normalised queries and keys are
    bounded. Computed in float32 (float64 for float64) and returned in ``x``'s dtype.

    Raises:
        ValueError: ``weight`` is not ``(d_k,)`` or ``eps`` is not positive.
        TypeError: ``x`` is not floating.
    """
    check_floating("x", x)
    eps = _check_positive_number("eps", eps)
    d_k = x.shape[-1]
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    xc = x.to(compute)
    out = xc * torch.rsqrt(xc.pow(2).mean(dim=-1, keepdim=True) + eps)  # (..., d_k)
    if weight is not None:
        check_floating("weight", weight)
        if tuple(weight.shape) != (d_k,):
            raise ValueError(
                f"weight must be (d_k,) = ({d_k},), one gain per feature of a head; "
                f"got {shape_str(weight.shape)}."
            )
        out = out * weight.to(compute)
    return out.to(x.dtype)
