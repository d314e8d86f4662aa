"""Checkers for the exercises: `checks.<name>(your_function)`.

Each checker runs your function on ordinary and edge cases (length 1, one head,
masks, queries and keys of different lengths), compares it with the `mha` reference,
and prints a short report: a pass, or the first failing case with expected versus
received and a hint that names the likely mistake. It returns True or False and never
raises because your answer is wrong; an untouched stub is reported as not attempted.

    >>> from mha import checks
    >>> checks.split_heads(split_heads)          # doctest: +SKIP
    split_heads: all 4 cases pass. Well done!

One module per topic, each naming the chapters whose exercises it checks, beside the
engine that runs the cases and writes the reports (``_engine``):

- ``attention``: ``scaled_dot_product_attention`` (chapter 1),
  ``attention_scores`` (4), ``attention_entropy`` (8)
- ``heads``: ``split_heads`` (2), ``merge_heads`` (2, 7)
- ``layer``: ``block_diagonal`` (3), ``multi_head_attention`` (7)
- ``masks``: ``causal_mask``, ``padding_mask`` (5), ``masked_softmax`` (6)
- ``toy``: ``mask_heads``, ``mean_ablate`` (9)
- ``blockwise``: ``online_softmax_attention``, ``merge_states``,
  ``causal_blockwise_attention`` (10)
- ``kv_cache``: ``repeat_kv`` (11)
- ``rope``: ``rope_cache``; ``decoding``: ``left_padded_step`` (12)
- ``blog``: ``blog_mask_to_torch`` (13)
- ``predictions``: ``predict`` and the hints of its known wrong answers (every
  chapter; not named ``predict``, which would shadow the function)
"""

from __future__ import annotations

from .attention import attention_entropy, attention_scores, scaled_dot_product_attention
from .blockwise import (
    causal_blockwise_attention,
    merge_states,
    online_softmax_attention,
)
from .blog import blog_mask_to_torch
from .decoding import left_padded_step
from .heads import merge_heads, split_heads
from .kv_cache import repeat_kv
from .layer import block_diagonal, multi_head_attention
from .masks import causal_mask, masked_softmax, padding_mask
from .predictions import (
    BYTES_PER_ELEMENT,
    GB_NOT_GIB,
    QK_ONLY,
    WRONG_ELEMENT_SIZE,
    predict,
)
from .rope import rope_cache
from .toy import mask_heads, mean_ablate

__all__ = [
    "BYTES_PER_ELEMENT",
    "GB_NOT_GIB",
    "QK_ONLY",
    "WRONG_ELEMENT_SIZE",
    "attention_entropy",
    "attention_scores",
    "block_diagonal",
    "blog_mask_to_torch",
    "causal_blockwise_attention",
    "causal_mask",
    "left_padded_step",
    "mask_heads",
    "masked_softmax",
    "mean_ablate",
    "merge_heads",
    "merge_states",
    "multi_head_attention",
    "online_softmax_attention",
    "padding_mask",
    "predict",
    "repeat_kv",
    "rope_cache",
    "scaled_dot_product_attention",
    "split_heads",
]
