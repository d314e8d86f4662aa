"""Several :class:`TinyTransformer` models run as one: :class:`ToyEnsemble`.

Their weights are stacked along a new first dim, so one batched product does the
work of all of them; :func:`_reproducible` makes a run deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validate import (
    check_int,
    check_rank,
    check_tensor,
    shape_str,
)
from .gates import _check_head_mask, mask_heads
from .model import TinyTransformer, head_means
from .task import RepeatBatch


@contextmanager
def _reproducible(num_threads: int | None) -> Iterator[None]:
    """Deterministic kernels and a fixed thread count inside; restored afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


class ToyEnsemble(nn.Module):
    """Several :class:`TinyTransformer` models of one shape, run as one batch.

    The ``n`` models' parameters are stacked along a new first dim, so one batched
    matrix product (``torch.baddbmm``) does the work of ``n`` and the Python overhead
    of a step is paid once, not ``n`` times. It computes what the models compute:
    ``forward(tokens)[i]`` equals ``models[i](tokens[i])`` up to float rounding (the
    sums run in another order), head masks and weights included, and
    :meth:`member` gives model ``i`` back as an ordinary :class:`TinyTransformer`.
    Training it with Adam is training each model with Adam: Adam acts on every
    number separately, and the summed loss gives each model the gradient of its own.

    Args:
        models: at least one :class:`TinyTransformer`, all with the same
            ``vocab_size``, ``max_len``, ``d_model``, ``num_heads`` and ``num_layers``.
    """

    def __init__(self, models: Sequence[TinyTransformer]) -> None:
        super().__init__()
        models = list(models)
        if not models or not all(isinstance(m, TinyTransformer) for m in models):
            raise TypeError(
                "ToyEnsemble expects a non-empty sequence of TinyTransformer models; "
                f"got {[type(m).__name__ for m in models]}."
            )
        first = models[0]
        config = _config(first)
        for i, m in enumerate(models):
            if _config(m) != config:
                raise ValueError(
                    f"every model of an ensemble must have the same shape "
                    f"(vocab_size, max_len, d_model, num_heads, num_layers); model 0 "
                    f"has {config}, model {i} has {_config(m)}."
                )
        self.vocab_size, self.max_len = first.vocab_size, first.max_len
        self.d_model, self.num_heads = first.d_model, first.num_heads
        self.num_layers, self.head_dim = first.num_layers, first.head_dim

        def stack(get: Callable[[TinyTransformer], Tensor]) -> nn.Parameter:
            return nn.Parameter(torch.stack([get(m).detach() for m in models]).clone())

        def per_layer(get: Callable[[int, TinyTransformer], Tensor]) -> nn.Parameter:
            return stack(
                lambda m: torch.stack([get(i, m) for i in range(m.num_layers)])
            )

        def qkv(i: int, m: TinyTransformer, part: str) -> Tensor:
            a = m.attn[i]
            return torch.cat([getattr(p, part) for p in (a.q_proj, a.k_proj, a.v_proj)])

        self.tok = stack(lambda m: m.tok.weight)  # (n, V, E)
        self.pos = stack(lambda m: m.pos.weight)  # (n, max_len, E)
        self.norm_w = per_layer(lambda i, m: m.norms[i].weight)  # (n, L, E)
        self.norm_b = per_layer(lambda i, m: m.norms[i].bias)  # (n, L, E)
        self.w_qkv = per_layer(lambda i, m: qkv(i, m, "weight"))  # (n, L, 3E, E)
        self.b_qkv = per_layer(lambda i, m: qkv(i, m, "bias"))  # (n, L, 3E)
        self.w_o = per_layer(lambda i, m: m.attn[i].out_proj.weight)  # (n, L, E, E)
        self.b_o = per_layer(lambda i, m: m.attn[i].out_proj.bias)  # (n, L, E)
        self.norm_out_w = stack(lambda m: m.norm_out.weight)  # (n, E)
        self.norm_out_b = stack(lambda m: m.norm_out.bias)  # (n, E)
        self.w_out = stack(lambda m: m.out.weight)  # (n, V, E)
        self.b_out = stack(lambda m: m.out.bias)  # (n, V)

    def __len__(self) -> int:
        return self.tok.shape[0]

    def _check_gates(self, head_mask: Tensor | None, B: int) -> Tensor | None:
        """``(n, L, h)`` or ``(n, L, B, h)`` gates -> ``(n, L, B, h)``, or None."""
        if head_mask is None:
            return None
        n, L, h = len(self), self.num_layers, self.num_heads
        per_sequence = check_tensor("head_mask", head_mask).dim() == 4
        head_mask = _check_head_mask(
            head_mask,
            (n, L, B, h) if per_sequence else (n, L, h),
            "(n, L, B, h)" if per_sequence else "(n, L, h)",
            "one gate per model, layer and head (or per sequence too).",
        )
        return head_mask if per_sequence else head_mask[:, :, None].expand(n, L, B, h)

    def forward(
        self,
        tokens: Tensor,
        head_mask: Tensor | None = None,
        need_weights: bool = False,
        head_baseline: Tensor | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Next-token logits of every model: ``(n, B, T) -> (n, B, T, vocab_size)``.

        Model ``i`` reads ``tokens[i]``. ``head_mask`` holds gates as in
        :meth:`TinyTransformer.forward`, one set per model: ``(n, L, h)`` or
        ``(n, L, B, h)``; ``head_baseline`` ``(n, L, h, T, d_k)`` is what a head
        with gate 0 is replaced by (see :func:`mask_heads`; :meth:`head_means` gives
        the means for mean ablation). With ``need_weights=True`` also returns the
        attention weights, ``(n, L, B, h, T, T)``.

        Raises:
            ValueError: ``tokens`` is not ``(n, B, T)`` with ``n`` models and
                ``1 <= T <= max_len``, or a gate or baseline tensor has the wrong
                shape.
        """
        check_rank("tokens", tokens, 3, "(n, B, T)", hint="one batch per model.")
        n, B, T = tokens.shape
        if n != len(self) or not 0 < T <= self.max_len:
            raise ValueError(
                f"tokens must be (n, B, T) with n = {len(self)} models and "
                f"1 <= T <= {self.max_len}; got {shape_str(tokens.shape)}."
            )
        E, h, d, V = self.d_model, self.num_heads, self.head_dim, self.vocab_size
        L = self.num_layers
        gates = self._check_gates(head_mask, B)  # (n, L, B, h) or None
        if head_baseline is not None:
            want = (n, L, h, T, d)
            if tuple(check_tensor("head_baseline", head_baseline).shape) != want:
                raise ValueError(
                    f"head_baseline must be (n, L, h, T, d_k) = {shape_str(want)}; "
                    f"got {shape_str(head_baseline.shape)}. Hint: head_means(batch)."
                )
            if gates is None:
                raise ValueError(
                    "head_baseline needs a head_mask: it replaces the heads whose "
                    "gate is 0."
                )
        dev = tokens.device
        future = torch.ones(T, T, dtype=torch.bool, device=dev).triu(1)
        causal = torch.zeros(T, T, device=dev).masked_fill(future, -math.inf)
        offset = torch.arange(n, device=dev)[:, None, None] * V  # (n, 1, 1)
        z = F.embedding(tokens + offset, self.tok.reshape(n * V, E))  # (n, B, T, E)
        z = (z + self.pos[:, None, :T]).reshape(n, B * T, E)  # (n, B*T, E)
        maps = []
        for layer in range(L):
            y = _layer_norm(z, self.norm_w[:, layer], self.norm_b[:, layer])
            qkv = torch.baddbmm(
                self.b_qkv[:, layer, None], y, self.w_qkv[:, layer].transpose(1, 2)
            )  # (n, B*T, E) @ (n, E, 3E) -> (n, B*T, 3E)
            q, k, v = (
                t.reshape(n * B, T, h, d).transpose(1, 2).reshape(n * B * h, T, d)
                for t in qkv.chunk(3, dim=-1)
            )  # (n, B*T, E) -> (n*B, T, h, d_k) -> (n*B*h, T, d_k)
            scores = torch.baddbmm(
                causal, q, k.transpose(1, 2), alpha=1.0 / math.sqrt(d)
            )  # (n*B*h, T, T), the future at -inf
            weights = scores.softmax(dim=-1)  # (n*B*h, T, T)
            heads = torch.bmm(weights, v).reshape(n * B, h, T, d)  # (n*B, h, T, d_k)
            if gates is not None:
                base = None
                if head_baseline is not None:  # (n, h, T, d_k) -> (n*B, h, T, d_k)
                    base = head_baseline[:, layer, None].expand(n, B, h, T, d)
                    base = base.reshape(n * B, h, T, d)
                heads = mask_heads(heads, gates[:, layer].reshape(n * B, h), base)
            merged = heads.transpose(1, 2).reshape(n, B * T, E)  # concatenate heads
            z = z + torch.baddbmm(
                self.b_o[:, layer, None], merged, self.w_o[:, layer].transpose(1, 2)
            )  # (n, B*T, E)
            if need_weights:
                maps.append(weights.reshape(n, B, h, T, T))
        y = _layer_norm(z, self.norm_out_w, self.norm_out_b)  # (n, B*T, E)
        logits = torch.baddbmm(self.b_out[:, None], y, self.w_out.transpose(1, 2))
        logits = logits.reshape(n, B, T, V)  # (n, B*T, V) -> (n, B, T, V)
        if need_weights:
            return logits, torch.stack(maps, dim=1)  # (n, L, B, h, T, T)
        return logits

    def _tokens(self, batch: RepeatBatch) -> Tensor:
        device = self.tok.device
        return batch.inputs.to(device).expand(len(self), *batch.inputs.shape)

    @torch.no_grad()
    def accuracy(
        self,
        batch: RepeatBatch,
        head_mask: Tensor | None = None,
        head_baseline: Tensor | None = None,
    ) -> Tensor:
        """Every model's :func:`accuracy` on the same ``batch``: a ``(n,)`` tensor."""
        logits = self(self._tokens(batch), head_mask, False, head_baseline)
        right = logits.argmax(dim=-1) == batch.targets.to(logits.device)  # (n, B, T)
        scored = batch.scored.to(logits.device)  # (B, T)
        return (right & scored).sum(dim=(1, 2)).cpu() / scored.sum().cpu()

    @torch.no_grad()
    def weights(self, batch: RepeatBatch, head_mask: Tensor | None = None) -> Tensor:
        """Every model's attention weights on ``batch``: ``(n, L, B, h, T, T)``."""
        _, maps = self(self._tokens(batch), head_mask, True)
        return maps

    @torch.no_grad()
    def head_means(self, batch: RepeatBatch) -> Tensor:
        """Every model's :func:`head_means` on ``batch``: ``(n, L, h, T, d_k)``."""
        return torch.stack(
            [head_means(self.member(i), batch) for i in range(len(self))]
        )

    @torch.no_grad()
    def member(self, i: int) -> TinyTransformer:
        """Model ``i`` as an ordinary :class:`TinyTransformer` (a copy, eval mode)."""
        hint = f"the ensemble holds {len(self)} models, 0 to {len(self) - 1}."
        check_int("member index", i, minimum=0, hint=hint)
        if i >= len(self):
            raise ValueError(
                f"member index must be an int in [0, {len(self)}); got {i}. "
                f"Hint: {hint}"
            )
        E = self.d_model
        model = TinyTransformer(
            self.vocab_size, self.max_len, E, self.num_heads, self.num_layers
        ).to(self.tok.device)
        model.tok.weight.copy_(self.tok[i])
        model.pos.weight.copy_(self.pos[i])
        for layer, (norm, attn) in enumerate(zip(model.norms, model.attn, strict=True)):
            norm.weight.copy_(self.norm_w[i, layer])
            norm.bias.copy_(self.norm_b[i, layer])
            for part, proj in enumerate((attn.q_proj, attn.k_proj, attn.v_proj)):
                rows = slice(part * E, (part + 1) * E)  # q, k, v stacked: (3E, E)
                proj.weight.copy_(self.w_qkv[i, layer, rows])
                proj.bias.copy_(self.b_qkv[i, layer, rows])
            attn.out_proj.weight.copy_(self.w_o[i, layer])
            attn.out_proj.bias.copy_(self.b_o[i, layer])
        model.norm_out.weight.copy_(self.norm_out_w[i])
        model.norm_out.bias.copy_(self.norm_out_b[i])
        model.out.weight.copy_(self.w_out[i])
        model.out.bias.copy_(self.b_out[i])
        return model.eval()


def _config(model: TinyTransformer) -> tuple[int, ...]:
    return (
        model.vocab_size,
        model.max_len,
        model.d_model,
        model.num_heads,
        model.num_layers,
    )


def _layer_norm(z: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """LayerNorm with one affine per model: ``z (n, N, E)``, ``weight (n, E)``."""
    return F.layer_norm(z, z.shape[-1:]) * weight[:, None] + bias[:, None]
