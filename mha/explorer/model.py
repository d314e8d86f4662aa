"""The explorer's layers and what they compute for one setting of the controls.

- :func:`explorer_layer` is the fixed, seeded ``mha.MultiHeadAttention(64, h)`` for a
  head count ``h``. Every head count gets the *same* four weight matrices: only the
  split into heads (and with it the scale ``1/sqrt(d_k)``) differs.
- :func:`explorer_weights` runs the layer with a temperature and a mask and returns the
  per-head weights ``(B, h, T, S)``; :func:`compute_view` does it for one setting of
  the controls, a :class:`View`, and :func:`head_count_sweep` for every head count.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .._validate import check_heads_divide, divisors
from ..functional import multi_head_attention
from ..layer import MultiHeadAttention
from ..masks import causal_mask
from ..measures import attention_entropy, distinct_targets, head_diversity
from .inputs import (
    D_MODEL,
    MASKS,
    SENTENCES,
    _check_choice,
    _check_d_model,
    embed_tokens,
    prepare_tokens,
)

__all__ = [
    "HEAD_COUNTS",
    "QK_GAIN",
    "SEED",
    "TEMPERATURES",
    "SweepRow",
    "View",
    "ViewData",
    "compute_view",
    "explorer_layer",
    "explorer_masks",
    "explorer_weights",
    "head_count_sweep",
    "head_label",
    "score_macs",
]

HEAD_COUNTS: tuple[int, ...] = tuple(divisors(D_MODEL))  # (1, 2, 4, ..., 64)
TEMPERATURES: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
SEED = 0
# W^Q and W^K are multiplied by QK_GAIN after nn.Linear's default initialisation, so
# every score is QK_GAIN**2 = 4 times larger. With the default initialisation alone the
# scores have a standard deviation of about 0.5 and every map is close to uniform; with
# the gain it is about 2, and the maps have visible structure (see the chapter).
QK_GAIN = 2.0


@functools.lru_cache(maxsize=32)
def _cached_layer(
    num_heads: int, d_model: int, seed: int, qk_gain: float
) -> MultiHeadAttention:
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # the same weights for every head count
    try:
        layer = MultiHeadAttention(d_model, num_heads).eval()
    finally:
        torch.random.set_rng_state(generator_state)  # leave the caller's RNG alone
    with torch.no_grad():
        layer.q_proj.weight.mul_(qk_gain)  # every score gets qk_gain**2 times larger
        layer.k_proj.weight.mul_(qk_gain)
    layer.requires_grad_(False)
    return layer


def explorer_layer(
    num_heads: int,
    d_model: int = D_MODEL,
    *,
    seed: int = SEED,
    qk_gain: float = QK_GAIN,
) -> MultiHeadAttention:
    """The explorer's fixed layer for ``num_heads`` heads, in eval mode, cached.

    Built as ``mha.MultiHeadAttention(d_model, num_heads)`` right after
    ``torch.manual_seed(seed)``, so every head count gets the same four ``(E, E)``
    matrices, then ``W^Q`` and ``W^K`` are multiplied by ``qk_gain``. The global
    random state is restored afterwards. The layer is shared between calls: do not
    change its weights.

    Raises:
        ValueError: ``num_heads`` does not divide ``d_model`` (the message lists the
            valid head counts), or ``qk_gain`` is not positive.
    """
    check_heads_divide(_check_d_model(d_model), num_heads, embed_name="d_model")
    if not isinstance(qk_gain, int | float) or not qk_gain > 0:
        raise ValueError(f"qk_gain must be a positive number, got {qk_gain!r}.")
    return _cached_layer(num_heads, d_model, seed, float(qk_gain))


def _check_temperature(temperature: object) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise TypeError(
            f"temperature must be a number, got {type(temperature).__name__}."
        )
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(
            f"temperature must be a positive finite number, got {temperature}. "
            f"Hint: 1.0 leaves the layer unchanged; smaller is sharper."
        )
    return float(temperature)


def explorer_masks(mask: str, length: int, n_real: int) -> dict[str, Tensor]:
    """The keyword masks for :func:`explorer_weights` (True = may NOT attend).

    ``"none"`` gives ``{}``; ``"causal"`` an ``attn_mask`` ``(T, T)``; ``"padding"``
    a ``key_padding_mask`` ``(1, T)`` that is True at positions ``>= n_real``.
    """
    _check_choice("mask", mask, MASKS)
    if not 1 <= n_real <= length:
        raise ValueError(
            f"n_real must be between 1 and the length {length}, got {n_real}."
        )
    if mask == "causal":
        return {"attn_mask": causal_mask(length)}  # (T, T)
    if mask == "padding":
        return {"key_padding_mask": (torch.arange(length) >= n_real)[None]}  # (1, S)
    return {}


def explorer_weights(
    layer: MultiHeadAttention,
    x: Tensor,
    *,
    temperature: float = 1.0,
    attn_mask: Tensor | None = None,
    key_padding_mask: Tensor | None = None,
) -> Tensor:
    """Per-head self-attention weights of ``layer``: ``x (B, T, E) -> (B, h, T, T)``.

    The temperature ``tau`` divides every score. The scores are linear in the
    queries, so dividing the query projection (``W^Q`` and ``b^Q``) by ``tau`` does
    exactly that: ``softmax((q / tau) k^T / sqrt(d_k))``. Masks follow
    ``nn.MultiheadAttention`` (True = NOT allowed).
    """
    tau = _check_temperature(temperature)
    if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != layer.embed_dim:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"explorer_weights expects x of shape (B, T, E={layer.embed_dim}), got "
            f"{shape}. Hint: embed_sentence returns x with a batch dimension."
        )
    projections = layer.projection_weights()
    # Temperature: dividing the queries by tau divides every score by tau.
    projections["w_q"] = projections["w_q"] / tau
    projections["b_q"] = projections["b_q"] / tau
    with torch.no_grad():
        _, weights = multi_head_attention(
            x,
            x,
            x,
            num_heads=layer.num_heads,
            **projections,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            average_attn_weights=False,
        )
    return weights  # (B, h, T, S)


def score_macs(batch: int, q_len: int, k_len: int, d_model: int, num_heads: int) -> int:
    """Multiply-adds of ``Q K^T`` over all heads: ``h * (B T S d_k) = B T S E``."""
    d_k = check_heads_divide(d_model, num_heads, embed_name="d_model")
    return num_heads * batch * q_len * k_len * d_k


def head_label(num_heads: int) -> str:
    """``1 -> "1 head"``, ``8 -> "8 heads"``: the static slider's option names."""
    return f"{num_heads} head" + ("" if num_heads == 1 else "s")


@dataclass(frozen=True)
class View:
    """One setting of the explorer's controls."""

    num_heads: int = 8
    sentence: str = SENTENCES[0]
    seq_len: int = 10
    temperature: float = 1.0
    mask: str = "none"


@dataclass(frozen=True)
class ViewData:
    """What :func:`draw_explorer` draws for a :class:`View`.

    ``weights`` ``(h, T, S)`` (``S == T``, float32, CPU); ``entropy`` ``(h,)`` is the
    mean row entropy of each head over the real (non-pad) queries; ``max_entropy`` is
    the same mean for uniform weights over the keys each query may see, the ceiling
    of ``entropy``.
    """

    view: View
    tokens: list[str]
    n_real: int
    weights: Tensor
    entropy: Tensor
    max_entropy: float
    masks: dict[str, Tensor] = field(default_factory=dict)

    @property
    def num_heads(self) -> int:
        return self.weights.shape[0]

    @property
    def head_dim(self) -> int:
        return D_MODEL // self.num_heads


def compute_view(view: View) -> ViewData:
    """Embed the view's sentence, run its layer, measure the heads. Cheap (< 1 ms)."""
    if not isinstance(view, View):
        raise TypeError(
            f"compute_view expects an mha.explorer.View, got {type(view).__name__}. "
            f"Hint: View(num_heads=8, mask='causal')."
        )
    layer = explorer_layer(view.num_heads)
    tokens, n_real = prepare_tokens(view.sentence, view.seq_len, view.mask)
    x = embed_tokens(tokens)  # (1, T, E)
    masks = explorer_masks(view.mask, len(tokens), n_real)
    weights = explorer_weights(layer, x, temperature=view.temperature, **masks)[0]
    allowed = torch.ones(len(tokens), len(tokens), dtype=torch.bool)  # (T, S)
    for mask in masks.values():
        allowed &= ~mask  # (T, S) or (1, S) broadcast
    ceiling = allowed[:n_real].sum(dim=-1).double().log().mean().item()
    entropy = attention_entropy(weights[:, :n_real]).mean(dim=-1)  # (h, T) -> (h,)
    return ViewData(view, tokens, n_real, weights, entropy, ceiling, masks)


@dataclass(frozen=True)
class SweepRow:
    """What the heads look like at one head count, averaged over sentences."""

    num_heads: int
    head_dim: int
    mean_entropy: float  # mean over heads of a head's mean row entropy
    entropy_spread: float  # standard deviation of that entropy across heads
    average_map_entropy: float  # row entropy of the head-averaged map
    diversity: float  # head_diversity, NaN for one head
    distinct_targets: float  # mean over heads
    parameters: int
    max_entropy: float


def head_count_sweep(
    head_counts: Sequence[int] = HEAD_COUNTS,
    sentences: Sequence[str] = SENTENCES,
    seq_len: int = 10,
    temperature: float = 1.0,
) -> list[SweepRow]:
    """Measure the heads at every head count, averaged over ``sentences``."""
    rows = []
    for h in head_counts:
        stats = []
        for sentence in sentences:
            data = compute_view(View(h, sentence, seq_len, temperature, "none"))
            w = data.weights  # (h, T, S)
            stats.append(
                (
                    data.entropy.mean().item(),
                    data.entropy.std(unbiased=False).item(),
                    attention_entropy(w.mean(dim=0)).mean().item(),
                    head_diversity(w),
                    distinct_targets(w).double().mean().item(),
                    data.max_entropy,
                )
            )
        means = np.mean(np.array(stats), axis=0)
        layer = explorer_layer(h)
        rows.append(
            SweepRow(
                h,
                D_MODEL // h,
                *(float(m) for m in means[:5]),
                parameters=sum(p.numel() for p in layer.parameters()),
                max_entropy=float(means[5]),
            )
        )
    return rows
