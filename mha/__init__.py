"""Course package: multi-head attention built step by step.

Boolean masks everywhere in ``mha`` follow ``nn.MultiheadAttention``: True means the
position is NOT allowed to be attended to. ``F.scaled_dot_product_attention`` uses the
opposite convention (True = takes part).
"""

from .attention import attention_scores, scaled_dot_product_attention
from .blog import BlogMultiHeadAttention, blog_mask_to_standard, blog_to_standard
from .functional import fused_attention, multi_head_attention
from .gqa import GroupedQueryAttention
from .heads import merge_heads, repeat_kv, split_heads
from .layer import MultiHeadAttention
from .masks import (
    causal_mask,
    causal_mask_bottom_right,
    combine_masks,
    empty_rows,
    masked_softmax,
    merge_masks,
    padding_mask,
    to_additive,
)
from .rope import apply_rope
from .utils import get_device, seed_everything
from .window import sliding_window_mask

__all__ = [
    "BlogMultiHeadAttention",
    "GroupedQueryAttention",
    "MultiHeadAttention",
    "apply_rope",
    "attention_scores",
    "blog_mask_to_standard",
    "blog_to_standard",
    "causal_mask",
    "causal_mask_bottom_right",
    "combine_masks",
    "empty_rows",
    "fused_attention",
    "get_device",
    "masked_softmax",
    "merge_heads",
    "merge_masks",
    "multi_head_attention",
    "padding_mask",
    "repeat_kv",
    "scaled_dot_product_attention",
    "seed_everything",
    "sliding_window_mask",
    "split_heads",
    "to_additive",
]


# Deprecated names, kept for one release: "seed" now means only random seeds.
_DEPRECATED = {
    "SeedMultiHeadAttention": "BlogMultiHeadAttention",
    "seed_to_standard": "blog_to_standard",
    "seed_mask_to_standard": "blog_mask_to_standard",
}


def __getattr__(name: str) -> object:
    """Resolve a deprecated name to its new one, with a ``DeprecationWarning``."""
    if name in _DEPRECATED:
        from ._deprecation import deprecated_alias

        return deprecated_alias(f"mha.{name}", f"mha.{_DEPRECATED[name]}", globals())
    raise AttributeError(f"module 'mha' has no attribute {name!r}")
