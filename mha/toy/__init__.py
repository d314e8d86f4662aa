"""A tiny transformer, a synthetic task and head masking, for "What heads learn".

The task, :class:`RepeatTask`: each sequence of ``T`` letters holds a segment of ``n``
distinct letters twice in a row, somewhere among filler letters, and every letter
appears once except those of the segment::

    X Q J H E A D S H E A D S Z P V W K M B
          ^^^^^^^^^ ^^^^^^^^^
          segment   its copy

The model reads the letters left to right and predicts the next one. Only the
positions inside the copy can be predicted (the next letter is the one that followed
the current letter the first time), so only they are scored. The offset between the
copies, ``n``, changes from sequence to sequence, so no fixed positional pattern
solves it: the model must find the earlier occurrence of the current letter.

The model, :class:`TinyTransformer`: token and position embeddings, ``num_layers``
pre-LayerNorm blocks of :class:`mha.MultiHeadAttention` with a causal mask and no MLP,
a final LayerNorm and a linear read-out. Its forward pass takes a ``head_mask``
``(num_layers, h)``: each head's output is multiplied by its entry before the heads
are merged and projected by ``W^O`` (1.0 keeps a head, 0.0 removes it), the gate
:math:`\\xi_h` of Michel et al. (2019). The masked pass is
:func:`masked_self_attention`, built from the layer's own projections and
:func:`mha.split_heads`, :func:`mha.scaled_dot_product_attention`,
:func:`mha.merge_heads`; with a mask of ones it equals the layer.

:func:`train_toy_seeds` trains one model per seed deterministically (fixed seeds,
one CPU thread per operator, ``torch.use_deterministic_algorithms``), all of them at
once as a :class:`ToyEnsemble` (their weights stacked along a new first dim), in
worker threads when asked; :func:`train_toy` is the one-seed case. :func:`accuracy`,
:func:`ablate_each_head` and :func:`pattern_scores` measure a model, and
:class:`ToyEnsemble` measures several at once. :func:`head_means` gives each head's
mean output, the baseline of *mean ablation* (``head_baseline``), which replaces a
removed head by its average instead of by zeros.
"""

from .ensemble import ToyEnsemble
from .gates import mask_heads, masked_self_attention
from .metrics import ablate_each_head, accuracy, pattern_scores
from .model import TinyTransformer, head_means
from .task import LETTERS, RepeatBatch, RepeatTask, decode, encode
from .training import train_toy, train_toy_seeds

__all__ = [
    "LETTERS",
    "RepeatBatch",
    "RepeatTask",
    "TinyTransformer",
    "ToyEnsemble",
    "ablate_each_head",
    "accuracy",
    "decode",
    "encode",
    "head_means",
    "mask_heads",
    "masked_self_attention",
    "pattern_scores",
    "train_toy",
    "train_toy_seeds",
]
