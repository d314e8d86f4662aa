"""Decoding one token at a time: a key/value cache, and what it costs to keep.

A causal self-attention layer that generates text sees its input grow by one token per
step. The keys and values of the earlier tokens do not change (a causal layer never
lets an earlier token see a later one), so :class:`KVCache` keeps them and each step
computes the query, key and value of the *new* tokens only. The new queries attend to
every cached key: the work per step grows like ``S``, where recomputing the whole
prefix costs ``S**2``.

With a cache the ``T`` new queries are the *last* ``T`` of ``S`` positions, so the
causal mask must be aligned to the bottom-right corner of the ``(T, S)`` scores
(:func:`causal_mask_bottom_right`); :func:`mha.causal_mask` and
``F.scaled_dot_product_attention(..., is_causal=True)`` align it top-left.

Prompts of different lengths share a batch by left padding: the cache keeps their
padding mask (``KVCache.padding``) so that every later query, a single new token
included, ignores the padded keys.

Grouped-query attention (:class:`mha.GroupedQueryAttention`) caches ``h_kv`` key/value
heads instead of ``h``: :func:`kv_cache_bytes` gives the memory, :func:`repeat_kv`
expands the shared heads for code that needs one key head per query head.
Multi-head latent attention caches one compressed vector per token instead:
:func:`mla_cache_bytes`.

Boolean masks follow the rest of ``mha``: True = NOT allowed to attend.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._validate import (
    BOOL_MASK_CONVENTION,
    check_divides,
    check_floating,
    check_int,
    check_kv_heads,
    check_positive_int,
    check_rank,
    check_same_dtype_device,
    check_shape,
    check_tensor,
    shape_str,
)
from .attention import scaled_dot_product_attention
from .functional import fused_attention
from .heads import merge_heads, repeat_kv, split_heads
from .layer import AttentionLayerBase
from .masks import causal_mask_bottom_right
from .rope import Rotary

__all__ = [
    "KVCache",
    "cached_attention",
    "causal_mask_bottom_right",
    "gqa_param_count",
    "kv_cache_bytes",
    "mla_cache_bytes",
    "repeat_kv",
]


def _element_size(dtype: torch.dtype) -> int:
    if not isinstance(dtype, torch.dtype):
        raise TypeError(
            f"dtype must be a torch.dtype such as torch.float16; got "
            f"{type(dtype).__name__} {dtype!r}."
        )
    return torch.empty((), dtype=dtype).element_size()


def kv_cache_bytes(
    batch_size: int,
    seq_len: int,
    num_kv_heads: int,
    head_dim: int,
    num_layers: int = 1,
    dtype: torch.dtype = torch.float16,
) -> int:
    """Bytes a key/value cache takes: ``2 * B * S * h_kv * d_k * bytes * layers``.

    The 2 counts keys and values; each is a ``(B, h_kv, S, d_k)`` tensor per layer of
    elements of ``dtype`` (2 bytes for float16 and bfloat16, 4 for float32).
    Standard multi-head attention has ``h_kv = h``, multi-query attention ``h_kv = 1``.
    """
    sizes = {
        "batch_size": batch_size,
        "seq_len": seq_len,
        "num_kv_heads": num_kv_heads,
        "head_dim": head_dim,
        "num_layers": num_layers,
    }
    for name, value in sizes.items():
        check_positive_int(name, value)
    per_layer = 2 * batch_size * seq_len * num_kv_heads * head_dim
    return per_layer * _element_size(dtype) * num_layers


def mla_cache_bytes(
    batch_size: int,
    seq_len: int,
    latent_dim: int,
    rope_dim: int,
    num_layers: int = 1,
    dtype: torch.dtype = torch.float16,
) -> int:
    """Bytes the cache of multi-head latent attention takes (DeepSeek-V2's MLA).

    MLA caches no per-head keys or values. Each token keeps one compressed latent
    vector ``c_kv`` of size ``d_c`` (``latent_dim``), from which every head's key
    and value are projected back up, plus one key of size ``d_R`` (``rope_dim``)
    that carries RoPE and is shared by all heads:
    ``B * S * (d_c + d_R) * bytes * layers``. DeepSeek-V2 uses ``d_c = 4 d_k`` and
    ``d_R = d_k / 2``: ``4.5 d_k`` numbers per token and layer, where standard
    attention caches ``2 h d_k``.
    """
    sizes = {
        "batch_size": batch_size,
        "seq_len": seq_len,
        "latent_dim": latent_dim,
        "num_layers": num_layers,
    }
    for name, value in sizes.items():
        check_positive_int(name, value)
    check_int("rope_dim", rope_dim, minimum=0, hint="0 means no decoupled RoPE key.")
    per_layer = batch_size * seq_len * (latent_dim + rope_dim)
    return per_layer * _element_size(dtype) * num_layers


def gqa_param_count(
    embed_dim: int, num_heads: int, num_kv_heads: int, bias: bool = True
) -> int:
    """Parameters of :class:`mha.GroupedQueryAttention` (``E``, ``h``, ``h_kv``).

    ``W^Q`` and ``W^O`` are ``(E, E)``; ``W^K`` and ``W^V`` shrink to
    ``(h_kv * d_k, E)``. With biases: ``2 E^2 + 2 E h_kv d_k + 2 E + 2 h_kv d_k``.
    At ``h_kv = h`` this is the ``4 E^2 + 4 E`` of standard multi-head attention.
    """
    why = (
        f"every head gets embed_dim / num_heads features, so num_heads must divide "
        f"embed_dim={embed_dim}"
    )
    head_dim = check_divides("embed_dim", embed_dim, "num_heads", num_heads, why)
    check_kv_heads(num_heads, num_kv_heads)
    kv_dim = num_kv_heads * head_dim
    weights = 2 * embed_dim * embed_dim + 2 * kv_dim * embed_dim
    biases = 2 * embed_dim + 2 * kv_dim if bias else 0
    return weights + biases


class KVCache:
    """The keys and values of every token seen so far, for one attention layer.

    ``keys`` and ``values`` are ``(B, h_kv, S, d_k)`` tensors (``None`` while the
    cache is empty); each :meth:`append` adds the ``T_new`` positions of the new
    tokens along dim 2, so ``S`` grows. ``padding`` is ``None`` or a boolean
    ``(B, S)`` tensor, True where a cached position is padding (a left-padded prompt
    in a batch): the cache remembers it, so every later query keeps ignoring those
    keys (:meth:`mask`). ``positions`` holds each cached key's position in its
    sequence and ``seen`` counts the tokens appended so far, which is the position of
    the next token. Use one cache per layer and per sequence batch; :meth:`reset`
    empties it for a new batch.

    This cache grows by concatenation, which copies it on every step; inference
    engines allocate the whole ``(B, h_kv, S_max, d_k)`` buffer once instead.
    """

    def __init__(self) -> None:
        self.reset()

    @property
    def seq_len(self) -> int:
        """``S``, the number of cached positions (0 when empty)."""
        return 0 if self.keys is None else self.keys.shape[2]

    def __len__(self) -> int:
        return self.seq_len

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached keys and values together."""
        if self.keys is None or self.values is None:
            return 0
        return sum(t.numel() * t.element_size() for t in (self.keys, self.values))

    def reset(self) -> None:
        """Forget every cached position."""
        self.keys: Tensor | None = None
        self.values: Tensor | None = None
        self.padding: Tensor | None = None  # (B, S), True = padding
        self.positions: Tensor | None = None  # (S,), each key's position
        self.seen = 0  # tokens appended since the last reset

    def _keep(self, T_new: int) -> Tensor | None:
        """Indices of the cached positions to keep before ``T_new`` more arrive."""
        return None  # keep everything

    def append(
        self, k: Tensor, v: Tensor, padding: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Add new keys and values; return all of them, ``(B, h_kv, S, d_k)`` each.

        ``k`` and ``v`` are ``(B, h_kv, T_new, d_k)``: the new positions come after
        the cached ones. ``padding`` is ``None`` (the new tokens are real) or a
        boolean ``(B, T_new)`` tensor, True at padding. The returned tensors are the
        updated :attr:`keys` and :attr:`values`.

        Raises:
            ValueError: ``k`` or ``v`` is not 4-D, they differ in shape, or their
                ``B``, ``h_kv`` or ``d_k`` differ from the cached ones (the message
                gives both shapes), or their device differs, or ``padding`` is not
                ``(B, T_new)``.
            TypeError: they are not floating, their dtype differs from the cache's,
                or ``padding`` is not boolean.
        """
        check_rank("k", check_floating("k", k), 4, "(B, h_kv, T_new, d_k)")
        check_rank("v", check_floating("v", v), 4, "(B, h_kv, T_new, d_k)")
        if k.shape != v.shape:
            raise ValueError(
                f"k and v must have the same shape (B, h_kv, T_new, d_k); got k "
                f"{shape_str(k.shape)} and v {shape_str(v.shape)}. Hint: each new "
                f"key has exactly one value."
            )
        check_same_dtype_device("k", k, v=v)
        B, T_new = k.shape[0], k.shape[2]
        if padding is not None:
            check_tensor("padding", padding)
            if padding.dtype != torch.bool:
                raise TypeError(
                    f"padding must be a bool tensor, True at padding; got dtype "
                    f"{padding.dtype}. Hint: {BOOL_MASK_CONVENTION}."
                )
            check_shape("padding", padding, (B, T_new), "(B, T_new)")
        new_positions = torch.arange(self.seen, self.seen + T_new, device=k.device)
        if self.keys is None or self.values is None or self.positions is None:
            self.keys, self.values, self.positions = k, v, new_positions
            self.padding = padding
            self.seen = T_new
            return self.keys, self.values
        cached = self.keys.shape
        if (k.shape[0], k.shape[1], k.shape[3]) != (cached[0], cached[1], cached[3]):
            raise ValueError(
                f"the new keys {shape_str(k.shape)} do not fit the cache "
                f"{shape_str(cached)}: B, h_kv and d_k (dims 0, 1, 3) must match; "
                f"only dim 2, the positions, grows. Hint: use one cache per layer "
                f"and call reset() before a new batch."
            )
        check_same_dtype_device("the cached keys", self.keys, k=k)
        keep = self._keep(T_new)
        keys, values, positions = self.keys, self.values, self.positions
        old_padding = self.padding
        if keep is not None:  # drop what no later query can see
            keys, values = keys[:, :, keep], values[:, :, keep]
            positions = positions[keep]
            old_padding = None if old_padding is None else old_padding[:, keep]
        if old_padding is not None or padding is not None:
            if old_padding is None:
                old_padding = _no_padding(B, positions)
            if padding is None:
                padding = _no_padding(B, new_positions)
            self.padding = torch.cat([old_padding, padding], dim=1)  # (B, S)
        self.keys = torch.cat([keys, k], dim=2)  # -> (B, h_kv, S + T_new, d_k)
        self.values = torch.cat([values, v], dim=2)  # -> (B, h_kv, S + T_new, d_k)
        self.positions = torch.cat([positions, new_positions])  # (S + T_new,)
        self.seen += T_new
        return self.keys, self.values

    def _allowed(self, query_pos: Tensor, key_pos: Tensor) -> Tensor:
        """``(T_new, S)`` True where a query may see a key: causal, by position."""
        return key_pos[None, :] <= query_pos[:, None]

    def mask(self, T_new: int) -> Tensor | None:
        """The boolean mask for the last ``T_new`` cached tokens as queries.

        Shape ``(T_new, S)``, or ``(B, 1, T_new, S)`` when the cache holds padding;
        True = NOT allowed. It is causal, aligned to the bottom right (the queries
        are the last positions; :func:`causal_mask_bottom_right`), and hides every
        padded key. ``None`` when nothing needs hiding: one new token and no padding.
        """
        check_positive_int("T_new", T_new)
        if self.positions is None or T_new > self.seq_len:
            raise ValueError(
                f"the cache holds {self.seq_len} positions, fewer than T_new="
                f"{T_new} queries; append the new keys first."
            )
        blocked = ~self._allowed(self.positions[-T_new:], self.positions)  # (T_new, S)
        if self.padding is not None:
            return blocked | self.padding[:, None, None, :]  # (B, 1, T_new, S)
        return blocked if blocked.any() else None

    def __repr__(self) -> str:
        shape = "empty" if self.keys is None else f"keys {shape_str(self.keys.shape)}"
        return f"KVCache({shape}, {self.nbytes} bytes)"


def _no_padding(B: int, positions: Tensor) -> Tensor:
    """An all-False ``(B, len(positions))`` padding mask."""
    return torch.zeros(B, positions.numel(), dtype=torch.bool, device=positions.device)


def cached_attention(
    layer: AttentionLayerBase,
    x: Tensor,
    cache: KVCache,
    *,
    need_weights: bool = False,
    average_attn_weights: bool = True,
    key_padding_mask: Tensor | None = None,
    rope: Rotary | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Causal self-attention of new tokens against everything before them.

    ``layer`` is a :class:`mha.MultiHeadAttention` or :class:`mha.GroupedQueryAttention`
    used for self-attention; ``x`` holds the ``T_new`` new tokens, ``(B, T_new, E)``
    (``(T_new, B, E)`` when ``layer.batch_first`` is False). Their keys and values
    are appended to ``cache``, then their queries attend to the cached positions
    through ``cache.mask(T_new)``: causal, aligned to the bottom right, hiding padded
    keys (and, for a :class:`mha.window.SlidingWindowCache`, keys outside the
    window). The output ``(B, T_new, E)`` equals, up to float rounding, the last
    ``T_new`` rows of ``layer(full, full, full, is_causal=True)`` run on the whole
    sequence so far (with the same padding mask).

    ``key_padding_mask`` is ``None`` or a boolean ``(B, T_new)`` tensor, True where a
    new token is padding (a left-padded prompt in a batch). The cache remembers it,
    so later steps need not pass it again. ``rope`` (an :class:`mha.rope.Rotary`)
    rotates the new queries and keys at their positions, ``cache.seen`` onwards,
    before the keys are cached: the cache holds rotated keys.

    Returns ``(output, weights)``: weights ``(B, T_new, S)`` averaged over heads, or
    ``(B, h, T_new, S)`` with ``average_attn_weights=False``, or ``None`` when
    ``need_weights`` is False; then ``F.scaled_dot_product_attention`` (with
    ``enable_gqa`` for grouped heads) does the work without materialising them.
    Dropout applies as in the layer (only in training mode).

    Raises:
        TypeError: ``layer`` is not an ``mha`` attention layer, or ``rope`` is not a
            :class:`mha.rope.Rotary`.
        ValueError: ``x`` is not 3-D with ``E`` features, or does not fit the cache.
    """
    if not isinstance(layer, AttentionLayerBase):
        raise TypeError(
            f"cached_attention expects an mha.MultiHeadAttention or "
            f"mha.GroupedQueryAttention; got {type(layer).__name__}. Hint: convert "
            f"an nn.MultiheadAttention with mha.MultiHeadAttention.from_torch."
        )
    if rope is not None and not isinstance(rope, Rotary):
        raise TypeError(
            f"rope must be an mha.rope.Rotary (or None); got {type(rope).__name__}. "
            f"Hint: rope=Rotary(base=10000.0)."
        )
    if layer.kdim != layer.embed_dim or layer.vdim != layer.embed_dim:
        raise ValueError(
            f"a key/value cache serves self-attention, where keys and values come "
            f"from the same tokens as the queries; this layer has "
            f"kdim={layer.kdim}, vdim={layer.vdim}, embed_dim={layer.embed_dim}."
        )
    layout = "(B, T_new, E)" if layer.batch_first else "(T_new, B, E)"
    check_rank("x", check_floating("x", x), 3, layout, hint="one row per new token.")
    if x.shape[-1] != layer.embed_dim:
        raise ValueError(
            f"x's last dim must be embed_dim E = {layer.embed_dim}; got x of shape "
            f"{shape_str(x.shape)}."
        )
    if not layer.batch_first:
        x = x.transpose(0, 1)  # (T_new, B, E) -> (B, T_new, E)
    h, h_kv = layer.num_heads, layer.num_kv_heads
    T_new = x.shape[1]
    q = split_heads(layer.q_proj(x), h)  # (B, T_new, E) -> (B, h, T_new, d_k)
    # (B, T_new, h_kv * d_k) -> (B, h_kv, T_new, d_k)
    k = split_heads(layer.k_proj(x), h_kv)
    v = split_heads(layer.v_proj(x), h_kv)
    if rope is not None:  # the new tokens sit at positions seen, seen + 1, ...
        q, k = rope(q, cache.seen), rope(k, cache.seen)
    keys, values = cache.append(k, v, key_padding_mask)  # (B, h_kv, S, d_k) each
    # None for one new token of unpadded sequences: it may see every cached key.
    mask = cache.mask(T_new)  # (T_new, S) or (B, 1, T_new, S), True = NOT allowed
    dropout_p = layer.dropout if layer.training else 0.0
    weights = None
    if need_weights:
        group_size = h // h_kv
        out, weights = scaled_dot_product_attention(
            q,
            repeat_kv(keys, group_size),  # (B, h_kv, S, d_k) -> (B, h, S, d_k)
            repeat_kv(values, group_size),
            mask,
            dropout_p,
        )  # (B, h, T_new, d_k), (B, h, T_new, S)
        if average_attn_weights:
            weights = weights.mean(dim=1)  # (B, h, T_new, S) -> (B, T_new, S)
    else:
        out = fused_attention(q, keys, values, mask, dropout_p)  # (B, h, T_new, d_k)
    out = layer.out_proj(merge_heads(out))  # (B, h, T_new, d_k) -> (B, T_new, E)
    if not layer.batch_first:
        out = out.transpose(0, 1)  # (B, T_new, E) -> (T_new, B, E)
    return out, weights
