"""Course package: multi-head attention built step by step.

Boolean masks everywhere in ``mha`` follow ``nn.MultiheadAttention``: True means the
position is NOT allowed to be attended to. ``F.scaled_dot_product_attention`` uses the
opposite convention (True = takes part).
"""

from .attention import attention_scores, scaled_dot_product_attention
from .functional import fused_attention, multi_head_attention
from .gqa import GroupedQueryAttention
from .heads import merge_heads, repeat_kv, split_heads
from .i18n import set_language
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
from .seed import SeedMultiHeadAttention, seed_mask_to_standard, seed_to_standard
from .utils import get_device, seed_everything
from .window import sliding_window_mask

__all__ = [
    "GroupedQueryAttention",
    "MultiHeadAttention",
    "SeedMultiHeadAttention",
    "apply_rope",
    "attention_scores",
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
    "seed_mask_to_standard",
    "seed_to_standard",
    "set_language",
    "sliding_window_mask",
    "split_heads",
    "to_additive",
]
