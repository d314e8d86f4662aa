"""The blog post's layer (解码思维的多维镜), its three flaws kept, and its fix.

The book numbers the flaws and refers to them by number:

1. The projection. The layer splits the *raw input* into heads first and then applies
   ONE ``(d_k, d_k)`` projection per role (values, keys, queries), shared by every
   head and without bias. A standard layer projects the whole ``E``-wide input with
   an ``(E, E)`` matrix and splits the result, so each head sees every input feature;
   here head ``i`` only ever sees features ``i * d_k:(i + 1) * d_k``.
2. The scale. It divides the scores by ``sqrt(embed_size)``, not ``sqrt(d_k)``: a
   softmax temperature ``sqrt(h)`` times higher than intended, flatter weights.
3. The mask fill. ``masked_fill(mask == 0, -1e20)``: ``-1e20`` does not fit in
   float16 (max 65504), and PyTorch refuses it with ``RuntimeError: value cannot be
   converted to type c10::Half without overflow``. In bfloat16 and float32 it works,
   and a fully masked row gets uniform weights instead of zeros.

Not a flaw but a convention to translate: its mask means 0 = masked, the opposite of
``nn.MultiheadAttention``'s boolean masks (True = masked).

:func:`blog_to_standard` shows that the layer is a special case of standard multi-head
attention: block-diagonal projections, queries rescaled by ``sqrt(d_k / E)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._validate import check_broadcastable, check_heads_divide, check_qkv, check_tensor
from .layer import MultiHeadAttention

BLOG_MASK_FILL = -1e20  # the blog's fill value; overflows float16


class BlogMultiHeadAttention(nn.Module):
    """The blog's multi-head attention: same behaviour, same parameters.

    Shapes: ``values (N, S, E)``, ``keys (N, S, E)``, ``query (N, T, E)``
    -> ``(N, T, E)`` with ``E = embed_size``, always batch first. ``mask``
    broadcasts to the scores ``(N, heads, T, S)`` and is 0 where attending
    is NOT allowed (in ``nn.MultiheadAttention`` and ``mha``: True).

    Its three flaws, kept on purpose:

    1. The projection: the raw input is split into heads first, then one
       ``nn.Linear(d_k, d_k, bias=False)`` per role is shared by all heads.
    2. The scale: the scores are divided by ``sqrt(E)``, not ``sqrt(d_k)``.
    3. The mask fill: ``-1e20``, out of float16's range (max 65504).

    Parameters (as in the blog, so its state dicts load): ``values``,
    ``keys``, ``queries`` (shared by all heads) and ``fc_out``
    (``nn.Linear(E, E)``). Unlike the blog, bad sizes raise ``ValueError``
    rather than failing an ``assert``.
    """

    def __init__(self, embed_size: int, heads: int) -> None:
        super().__init__()
        self.head_dim = check_heads_divide(embed_size, heads, embed_name="embed_size")
        self.embed_size, self.heads = embed_size, heads
        d_k = self.head_dim
        self.values = nn.Linear(d_k, d_k, bias=False)
        self.keys = nn.Linear(d_k, d_k, bias=False)
        self.queries = nn.Linear(d_k, d_k, bias=False)
        self.fc_out = nn.Linear(embed_size, embed_size)

    def forward(
        self, values: Tensor, keys: Tensor, query: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """The blog's forward pass, arguments in its order.

        ``(N, S, E), (N, S, E), (N, T, E) -> (N, T, E)``. ``mask``: 0 = NOT
        allowed (the blog's convention), broadcast to ``(N, heads, T, S)``.
        With a mask, float16 inputs raise ``RuntimeError`` (flaw 3).
        """
        E = self.embed_size
        check_qkv(query, keys, values, embed_dim=E, kdim=E, vdim=E, batch_dim=0)
        N, T, S = query.shape[0], query.shape[1], keys.shape[1]
        h, d_k = self.heads, self.head_dim
        # Split the raw inputs into heads, THEN project each slice with the shared W.
        v = self.values(values.reshape(N, S, h, d_k))  # (N, S, E) -> (N, S, h, d_k)
        k = self.keys(keys.reshape(N, S, h, d_k))  # (N, S, E) -> (N, S, h, d_k)
        q = self.queries(query.reshape(N, T, h, d_k))  # (N, T, E) -> (N, T, h, d_k)
        v = v.transpose(1, 2)  # (N, S, h, d_k) -> (N, h, S, d_k)
        k = k.permute(0, 2, 3, 1)  # (N, S, h, d_k) -> (N, h, d_k, S)
        q = q.transpose(1, 2)  # (N, T, h, d_k) -> (N, h, T, d_k)
        energy = q @ k  # (N, h, T, d_k) @ (N, h, d_k, S) -> (N, h, T, S)
        if mask is not None:
            check_tensor("mask", mask)
            check_broadcastable("mask", mask, energy.shape, "(N, heads, T, S)")
            energy = energy.masked_fill(mask == 0, BLOG_MASK_FILL)
        attention = torch.softmax(
            energy / math.sqrt(E), dim=-1
        )  # sqrt(E), not sqrt(d_k)
        out = attention @ v  # (N, h, T, S) @ (N, h, S, d_k) -> (N, h, T, d_k)
        out = out.transpose(1, 2).reshape(N, T, E)  # (N, h, T, d_k) -> (N, T, E)
        return self.fc_out(out)


def blog_to_standard(blog_layer: BlogMultiHeadAttention) -> MultiHeadAttention:
    """A standard :class:`mha.MultiHeadAttention` computing what ``blog_layer`` does.

    - ``q_proj``, ``k_proj``, ``v_proj`` weights: ``torch.block_diag`` of ``heads``
      copies of the shared ``(d_k, d_k)`` matrix, so head ``i`` only reads input
      features ``i * d_k:(i + 1) * d_k``; biases zero.
    - ``q_proj`` is also multiplied by ``sqrt(d_k / E)``: the standard layer divides
      by ``sqrt(d_k)``, the blog by ``sqrt(E)``.
    - ``out_proj`` is a copy of ``fc_out``.

    Call it as ``layer(query, keys, values, attn_mask=...)`` with the mask converted by
    :func:`blog_mask_to_standard`. Outputs agree wherever every query row keeps at least
    one key: for a fully masked row the blog's ``-1e20`` gives uniform weights and the
    standard layer zero weights. Same device, dtype and training mode as the input.
    """
    if not isinstance(blog_layer, BlogMultiHeadAttention):
        raise TypeError(
            f"blog_to_standard expects a BlogMultiHeadAttention; got "
            f"{type(blog_layer).__name__}."
        )
    E, h, d_k = blog_layer.embed_size, blog_layer.heads, blog_layer.head_dim
    weight = blog_layer.fc_out.weight
    layer = MultiHeadAttention(
        E, h, bias=True, device=weight.device, dtype=weight.dtype
    )
    shared = {
        layer.q_proj: blog_layer.queries.weight * math.sqrt(d_k / E),
        layer.k_proj: blog_layer.keys.weight,
        layer.v_proj: blog_layer.values.weight,
    }
    with torch.no_grad():
        for proj, w in shared.items():
            proj.weight.copy_(torch.block_diag(*[w] * h))  # h x (d_k, d_k) -> (E, E)
            proj.bias.zero_()
        layer.out_proj.weight.copy_(blog_layer.fc_out.weight)
        layer.out_proj.bias.copy_(blog_layer.fc_out.bias)
    return layer.train(blog_layer.training)


def blog_mask_to_standard(
    mask: Tensor, *, batch_size: int, num_heads: int, query_len: int, key_len: int
) -> Tensor:
    """Turn a blog mask into an ``attn_mask`` for :class:`mha.MultiHeadAttention`.

    ``mask`` broadcasts to ``(N, heads, T, S)`` with 0 = masked; the result is a
    boolean ``(N * heads, T, S)`` mask with True = NOT allowed to attend
    (``nn.MultiheadAttention``'s convention).
    """
    shape = (batch_size, num_heads, query_len, key_len)
    check_tensor("mask", mask)
    check_broadcastable("mask", mask, shape, "(N, heads, T, S)")
    hidden = (mask == 0).expand(shape)  # broadcast -> (N, h, T, S)
    return hidden.reshape(-1, query_len, key_len)  # (N, h, T, S) -> (N * h, T, S)
