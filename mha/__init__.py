"""Course package: multi-head attention built step by step.

Boolean masks everywhere in ``mha`` follow ``nn.MultiheadAttention``: True means the
position is NOT allowed to be attended to. ``F.scaled_dot_product_attention`` uses the
opposite convention (True = takes part).

Which module each chapter teaches (chapters as listed in ``_toc.yml``):

============================  ========================================================
chapter                       modules
============================  ========================================================
1 Attention as a soft lookup  ``attention`` (scaled dot-product attention), ``blog``
                              (the blog post's layer the book follows)
2 Split into heads            ``heads`` (``split_heads``, ``merge_heads``)
3 Project Q, K and V          ``layer`` (``MultiHeadAttention``), ``blog``
                              (``blog_to_standard``)
4 Scores                      ``attention`` (``attention_scores``)
5 Masks                       ``masks``
6 Softmax                     ``masks`` (``masked_softmax``)
7 Concatenate                 ``heads`` (``merge_heads``), ``functional``
                              (``multi_head_attention``), ``layer``
8 The head-count explorer     ``explorer`` (built on ``measures``)
9 What heads learn            ``toy`` (task, model, gates, training, metrics)
10 What attention costs       ``blockwise``, ``utils`` (fair timing)
11 Modern variants            ``gqa``, ``kv_cache``
12 Positions, long contexts   ``rope``, ``window``, ``logits``, ``kv_cache`` (MLA)
13 The blog's layer again     ``blog``
============================  ========================================================

The chapters share ``plotting`` (attention maps), ``static`` (controls that work on
the static page), ``quiz`` (the end-of-chapter quizzes) and ``notebook``; ``i18n``
sets the language of what the package shows. The exercises are checked by
``checks`` (one module per topic, see :mod:`mha.checks`). ``_validate`` holds every
input check. ``seed`` is a deprecated shim for ``blog``, kept for one release.
"""

from .attention import attention_scores, scaled_dot_product_attention
from .blog import BlogMultiHeadAttention, blog_mask_to_standard, blog_to_standard
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
    "set_language",
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
