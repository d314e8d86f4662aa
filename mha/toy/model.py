"""The model of "What heads learn": :class:`TinyTransformer`, attention-only blocks.

:func:`head_means` gives each head's mean output, the baseline of mean ablation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validate import (
    check_heads_divide,
    check_positive_int,
    check_rank,
    check_tensor,
    shape_str,
)
from ..layer import MultiHeadAttention
from .gates import _check_head_mask, _gated_attention
from .task import RepeatBatch


class TinyTransformer(nn.Module):
    """An attention-only transformer: embeddings, causal attention blocks, read-out.

    ``z = tok(x) + pos(t)``; for each layer ``z = z + attn(LayerNorm(z))`` with a
    causal :class:`mha.MultiHeadAttention`; ``logits = out(LayerNorm(z))``. No MLP,
    so everything the model computes passes through its heads.

    Args:
        vocab_size: number of tokens.
        max_len: longest input; positions ``0 .. max_len - 1`` get an embedding.
        d_model: ``E``.
        num_heads: ``h`` per layer; must divide ``d_model``.
        num_layers: ``L``.
    """

    def __init__(
        self,
        vocab_size: int = 26,
        max_len: int = 20,
        d_model: int = 32,
        num_heads: int = 4,
        num_layers: int = 2,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("max_len", max_len),
            ("num_layers", num_layers),
        ):
            check_positive_int(name, value)
        self.head_dim = check_heads_divide(d_model, num_heads, "d_model")
        self.vocab_size, self.max_len = vocab_size, max_len
        self.d_model, self.num_heads, self.num_layers = d_model, num_heads, num_layers
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(num_layers))
        self.attn = nn.ModuleList(
            MultiHeadAttention(d_model, num_heads) for _ in range(num_layers)
        )
        self.norm_out = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(
        self,
        tokens: Tensor,
        head_mask: Tensor | None = None,
        need_weights: bool = False,
        head_baseline: Tensor | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Next-token logits ``(B, T, vocab_size)`` for ``tokens (B, T)``.

        ``head_mask`` gates every head (see :func:`mask_heads`): ``(L, h)``, one
        gate per layer and head, or ``(L, B, h)``, one per sequence too (its
        gradient then gives each sequence's own ``dloss/dgate``). ``head_baseline``
        ``(L, h, T, d_k)`` is what a head with gate 0 is replaced by instead of
        zeros: :func:`head_means` gives each head's mean output, for mean ablation.
        With ``need_weights=True`` also returns the attention weights of every
        layer and head, ``(L, B, h, T, T)``. Without a mask and weights the layers
        run their fused path (``need_weights=False``); otherwise
        :func:`masked_self_attention`.

        Raises:
            ValueError: ``tokens`` is not ``(B, T)`` with ``T <= max_len``, holds ids
                outside the vocabulary, ``head_mask`` is not ``(L, h)`` or
                ``(L, B, h)``, or ``head_baseline`` comes without a mask or is not
                ``(L, h, T, d_k)``.
            TypeError: ``tokens`` are not integers or ``head_mask`` is not float.
        """
        logits, maps, _ = self._run(tokens, head_mask, need_weights, head_baseline)
        if need_weights:
            return logits, maps
        return logits

    def _run(
        self,
        tokens: Tensor,
        head_mask: Tensor | None,
        need_weights: bool,
        head_baseline: Tensor | None,
        record_heads: bool = False,
    ) -> tuple[Tensor, Tensor | None, list[Tensor]]:
        """The forward pass; also each layer's ungated heads when ``record_heads``."""
        check_rank(
            "tokens", tokens, 2, "(B, T)", hint="for one sequence, tokens[None]."
        )
        if tokens.dtype not in (torch.long, torch.int32, torch.int64):
            raise TypeError(
                f"tokens must be integer ids (torch.long); got {tokens.dtype}."
            )
        T = tokens.shape[1]
        if not 0 < T <= self.max_len:
            raise ValueError(
                f"tokens must have 1 to max_len = {self.max_len} positions; got "
                f"T = {T}."
            )
        if tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < (
            self.vocab_size
        ):
            raise ValueError(
                f"token ids must lie in [0, {self.vocab_size}); got ids from "
                f"{int(tokens.min())} to {int(tokens.max())}."
            )
        L, h = self.num_layers, self.num_heads
        if head_mask is not None:
            per_sequence = check_tensor("head_mask", head_mask).dim() == 3
            head_mask = _check_head_mask(
                head_mask,
                (L, tokens.shape[0], h) if per_sequence else (L, h),
                "(L, B, h)" if per_sequence else "(L, h)",
                "one row per layer, one gate per head (or per sequence and head).",
            )
        if head_baseline is not None:
            want = (L, h, T, self.head_dim)
            if head_mask is None:
                raise ValueError(
                    "head_baseline needs a head_mask: it replaces the heads whose "
                    "gate is 0. Hint: head_mask with a 0.0 for each head to ablate."
                )
            if tuple(check_tensor("head_baseline", head_baseline).shape) != want:
                raise ValueError(
                    f"head_baseline must be (L, h, T, d_k) = {shape_str(want)}; got "
                    f"{shape_str(head_baseline.shape)}. Hint: head_means(model, batch)."
                )
        positions = torch.arange(T, device=tokens.device)  # (T,)
        z = self.tok(tokens) + self.pos(positions)  # (B, T, E)
        fast = head_mask is None and not need_weights and not record_heads
        maps, heads = [], []
        for layer, (norm, attn) in enumerate(zip(self.norms, self.attn, strict=True)):
            y = norm(z)  # (B, T, E)
            if fast:
                out, _ = attn(y, y, y, is_causal=True, need_weights=False)
            else:
                # (h,) or (B, h): this layer's gates; (h, T, d_k): its baselines
                gates = None if head_mask is None else head_mask[layer]
                base = None if head_baseline is None else head_baseline[layer]
                out, weights, ungated = _gated_attention(attn, y, gates, True, base)
                maps.append(weights)  # (B, h, T, T)
                heads.append(ungated)  # (B, h, T, d_k)
            z = z + out  # (B, T, E)
        logits = self.out(self.norm_out(z))  # (B, T, vocab_size)
        return logits, torch.stack(maps) if need_weights else None, heads


@torch.no_grad()
def head_means(model: TinyTransformer, batch: RepeatBatch) -> Tensor:
    """Each head's mean output over the sequences of ``batch``: ``(L, h, T, d_k)``.

    Entry ``[l, i, t]`` is head ``i`` of layer ``l``'s output at position ``t``
    (before ``W^O``), averaged over the batch, with every head in place. Passed as
    ``head_baseline``, it turns a zero gate into *mean ablation*: the head's output
    is replaced by what it gives on average, not by zeros, which the rest of the
    model never saw in training.
    """
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer; got {type(model).__name__}.")
    _, _, heads = model._run(batch.inputs, None, False, None, record_heads=True)
    return torch.stack(heads).mean(dim=1)  # (L, B, h, T, d_k) -> (L, h, T, d_k)
