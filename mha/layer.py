"""The reference multi-head attention layer, a drop-in for ``nn.MultiheadAttention``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ._validate import (
    check_dropout,
    check_heads_divide,
    check_positive_int,
    check_qkv,
    check_rank,
    check_same_dtype_device,
    check_tensor,
)
from .functional import _multi_head_attention


def _apply_once(fn: Callable[[Tensor], Tensor], *xs: Tensor) -> list[Tensor]:
    """``[fn(x) for x in xs]``, but a tensor passed twice is transformed once.

    Keeps ``query is key is value`` true after a transpose, so self-attention still
    takes the fused input projection.
    """
    done: dict[int, Tensor] = {}
    for x in xs:
        if id(x) not in done:
            done[id(x)] = fn(x)
    return [done[id(x)] for x in xs]


def _add_batch_dim(x: Tensor) -> Tensor:
    return x.unsqueeze(0)  # (T, E) -> (1, T, E)


def _swap_batch_and_time(x: Tensor) -> Tensor:
    return x.transpose(0, 1)  # (T, B, E) <-> (B, T, E)


class AttentionLayerBase(nn.Module):
    """What :class:`MultiHeadAttention` and :class:`mha.GroupedQueryAttention` share.

    Subclasses create ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` (``nn.Linear``)
    and set ``embed_dim``, ``num_heads``, ``num_kv_heads``, ``kdim``, ``vdim``,
    ``dropout`` and ``batch_first``; the forward pass is the same for both.
    """

    embed_dim: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    kdim: int
    vdim: int
    dropout: float
    batch_first: bool
    q_proj: nn.Linear
    k_proj: nn.Linear
    v_proj: nn.Linear
    out_proj: nn.Linear

    def projection_weights(self) -> dict[str, Tensor | None]:
        """The four projections as :func:`mha.multi_head_attention` takes them.

        Keys ``w_q, w_k, w_v, w_o`` (weights, ``(out, in)`` as in ``nn.Linear``) and
        ``b_q, b_k, b_v, b_o`` (biases, ``None`` when ``bias=False``). The tensors are
        the layer's own parameters, not copies.
        """
        linears = {"q": self.q_proj, "k": self.k_proj, "v": self.v_proj}
        linears["o"] = self.out_proj
        weights: dict[str, Tensor | None] = {
            f"w_{n}": m.weight for n, m in linears.items()
        }
        return weights | {f"b_{n}": m.bias for n, m in linears.items()}

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``; returns ``(output, weights)``.

        Shapes with ``batch_first=True``: ``query (B, T, E)``, ``key (B, S, kdim)``,
        ``value (B, S, vdim)`` -> ``output (B, T, E)``; with ``batch_first=False``
        the first two dims swap (``(T, B, E)``); unbatched inputs are 2-D ``(T, E)``.
        ``weights`` is ``(B, T, S)`` (mean over heads) when ``average_attn_weights``,
        else ``(B, h, T, S)`` (unbatched: ``(T, S)`` or ``(h, T, S)``), and ``None``
        when ``need_weights=False``, which runs the fused
        ``F.scaled_dot_product_attention`` instead of materialising the weights.

        Masks mean what they mean in ``nn.MultiheadAttention``: ``key_padding_mask``
        ``(B, S)`` (unbatched ``(S,)``), ``attn_mask`` ``(T, S)`` or
        ``(B * num_heads, T, S)``; a boolean mask is True where attending is NOT
        allowed (``F.scaled_dot_product_attention`` uses the opposite); a float mask is
        added to the scores. Differences from ``nn.MultiheadAttention``:

        - ``is_causal=True`` works alone: it builds the causal mask (top-left aligned,
          :func:`mha.causal_mask`) and adds it to any ``attn_mask``. In PyTorch it is
          a hint that requires an ``attn_mask`` and, on some paths, replaces it.
        - A query whose keys are all masked gets zero weights and zero attention, so
          its output is ``out_proj.bias``, with finite gradients, on every path.
          PyTorch returns NaN there (pytorch issues 41508 and 160064).
        - Float masks and boolean masks may be mixed without a warning.
        """
        for name, x in (("query", query), ("key", key), ("value", value)):
            check_tensor(name, x)
        unbatched = query.dim() == 2
        batch_dim = None if unbatched else (0 if self.batch_first else 1)
        check_qkv(
            query,
            key,
            value,
            embed_dim=self.embed_dim,
            kdim=self.kdim,
            vdim=self.vdim,
            batch_dim=batch_dim,
        )
        weights = self.projection_weights()
        check_same_dtype_device(
            "the weights", weights["w_q"], query=query, key=key, value=value
        )
        if unbatched:
            query, key, value = _apply_once(_add_batch_dim, query, key, value)
            if key_padding_mask is not None:
                check_rank(
                    "key_padding_mask",
                    check_tensor("key_padding_mask", key_padding_mask),
                    1,
                    "(S,) for unbatched inputs",
                )
                key_padding_mask = key_padding_mask.unsqueeze(0)  # (S,) -> (1, S)
        elif not self.batch_first:
            query, key, value = _apply_once(_swap_batch_and_time, query, key, value)
        # The inputs are checked and the weights are the layer's own: the unchecked
        # forward pass (which still checks the masks, in mha.merge_masks).
        out, attn = _multi_head_attention(
            query,
            key,
            value,
            weights,
            num_heads=self.num_heads,
            num_kv_heads=self.num_kv_heads,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        if unbatched:
            out = out.squeeze(0)  # (1, T, E) -> (T, E)
            attn = None if attn is None else attn.squeeze(0)  # drop B = 1
        elif not self.batch_first:
            out = _swap_batch_and_time(out)  # (B, T, E) -> (T, B, E)
        return out, attn

    def extra_repr(self) -> str:
        kv = (
            f", num_kv_heads={self.num_kv_heads}"
            if self.num_kv_heads != self.num_heads
            else ""
        )
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}{kv}, "
            f"head_dim={self.head_dim}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )


class MultiHeadAttention(AttentionLayerBase):
    """Multi-head attention with four ``nn.Linear`` projections.

    ``output = out_proj(concat_i attention(q_proj(query)_i, k_proj(key)_i,
    v_proj(value)_i))`` over ``h = num_heads`` heads of ``d_k = embed_dim // h``
    features each. Same arguments, shapes, mask conventions and results as
    ``torch.nn.MultiheadAttention`` (except ``batch_first``, which defaults to True
    here, and the documented differences in :meth:`forward`); copy weights with
    :meth:`from_torch` and :meth:`to_torch`.

    Args:
        embed_dim: ``E``, features per token of the query and the output.
        num_heads: ``h``; must divide ``embed_dim``.
        dropout: probability of dropping an attention weight in training.
        bias: whether the four projections have biases.
        batch_first: inputs are ``(B, T, E)`` (True) or ``(T, B, E)`` (False).
        kdim, vdim: features of ``key`` and ``value`` (default ``embed_dim``).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        batch_first: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.head_dim = check_heads_divide(embed_dim, num_heads)
        self.embed_dim, self.num_heads, self.num_kv_heads = (
            embed_dim,
            num_heads,
            num_heads,
        )
        self.kdim = embed_dim if kdim is None else check_positive_int("kdim", kdim)
        self.vdim = embed_dim if vdim is None else check_positive_int("vdim", vdim)
        self.dropout = check_dropout(dropout)
        self.batch_first = bool(batch_first)
        factory = {"device": device, "dtype": dtype}
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.k_proj = nn.Linear(self.kdim, embed_dim, bias=bias, **factory)
        self.v_proj = nn.Linear(self.vdim, embed_dim, bias=bias, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """A layer with copies of ``module``'s weights, options, device, dtype, mode.

        ``nn.MultiheadAttention`` packs the Q, K and V projections along dim 0 of
        ``in_proj_weight`` ``(3E, E)`` (and ``in_proj_bias`` ``(3E,)``); with
        ``kdim``/``vdim`` different from ``embed_dim`` it keeps ``q_proj_weight``,
        ``k_proj_weight`` and ``v_proj_weight`` instead. ``bias=False`` leaves
        ``in_proj_bias`` and ``out_proj.bias`` as None.

        Raises:
            TypeError: ``module`` is not an ``nn.MultiheadAttention``.
            ValueError: it uses ``add_bias_kv`` or ``add_zero_attn``, which this layer
                does not implement.
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(
                f"from_torch expects a torch.nn.MultiheadAttention; got "
                f"{type(module).__name__}."
            )
        unsupported = [
            name
            for name, used in (
                ("add_bias_kv=True", module.bias_k is not None),
                ("add_zero_attn=True", module.add_zero_attn),
            )
            if used
        ]
        if unsupported:
            raise ValueError(
                f"cannot convert an nn.MultiheadAttention built with "
                f"{' and '.join(unsupported)}: mha.MultiHeadAttention does not "
                f"implement these options. Hint: build the torch module with the "
                f"defaults add_bias_kv=False, add_zero_attn=False."
            )
        weight = module.out_proj.weight
        layer = cls(
            module.embed_dim,
            module.num_heads,
            dropout=module.dropout,
            bias=module.in_proj_bias is not None,
            batch_first=module.batch_first,
            kdim=module.kdim,
            vdim=module.vdim,
            device=weight.device,
            dtype=weight.dtype,
        )
        E = module.embed_dim
        if module._qkv_same_embed_dim:
            w_q, w_k, w_v = module.in_proj_weight.detach().split(
                E
            )  # (3E, E) -> 3 x (E, E)
        else:
            w_q, w_k, w_v = (
                module.q_proj_weight.detach(),
                module.k_proj_weight.detach(),
                module.v_proj_weight.detach(),
            )
        with torch.no_grad():
            for proj, w in zip(
                (layer.q_proj, layer.k_proj, layer.v_proj), (w_q, w_k, w_v), strict=True
            ):
                proj.weight.copy_(w)
            layer.out_proj.weight.copy_(module.out_proj.weight)
            if module.in_proj_bias is not None:
                biases = module.in_proj_bias.detach().split(E)  # (3E,) -> 3 x (E,)
                for proj, b in zip(
                    (layer.q_proj, layer.k_proj, layer.v_proj), biases, strict=True
                ):
                    proj.bias.copy_(b)
                layer.out_proj.bias.copy_(module.out_proj.bias)
        return layer.train(module.training)

    def to_torch(self) -> nn.MultiheadAttention:
        """An ``nn.MultiheadAttention`` with copies of this layer's weights and options.

        The inverse of :meth:`from_torch`: Q, K, V weights are packed into
        ``in_proj_weight`` ``(3E, E)`` when ``kdim == vdim == embed_dim``, else copied
        to ``q_proj_weight``, ``k_proj_weight`` and ``v_proj_weight``.
        """
        weight = self.out_proj.weight
        bias = self.out_proj.bias is not None
        module = nn.MultiheadAttention(
            self.embed_dim,
            self.num_heads,
            dropout=self.dropout,
            bias=bias,
            batch_first=self.batch_first,
            kdim=self.kdim,
            vdim=self.vdim,
            device=weight.device,
            dtype=weight.dtype,
        )
        projections = (self.q_proj, self.k_proj, self.v_proj)
        with torch.no_grad():
            if module._qkv_same_embed_dim:
                module.in_proj_weight.copy_(torch.cat([p.weight for p in projections]))
            else:
                module.q_proj_weight.copy_(self.q_proj.weight)
                module.k_proj_weight.copy_(self.k_proj.weight)
                module.v_proj_weight.copy_(self.v_proj.weight)
            module.out_proj.weight.copy_(self.out_proj.weight)
            if bias:
                module.in_proj_bias.copy_(torch.cat([p.bias for p in projections]))
                module.out_proj.bias.copy_(self.out_proj.bias)
        return module.train(self.training)
