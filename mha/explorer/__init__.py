"""The head-count explorer of Part II: one sentence, one layer per head count.

Everything the chapter's controls do is a plain function here, so the tests, the
benchmark and the page call exactly what a control calls. By concern:

- :mod:`~mha.explorer.inputs`: a sentence -> ``(1, T, E)`` vectors with no download
  (:func:`embed_sentence`).
- :mod:`~mha.explorer.model`: the fixed, seeded layer for a head count
  (:func:`explorer_layer`), its weights with a temperature and a mask
  (:func:`explorer_weights`), one setting of the controls (:class:`View` ->
  :func:`compute_view` -> :class:`ViewData`) and the sweep over head counts.
- :mod:`~mha.explorer.figure`: :func:`draw_explorer` draws a :class:`ViewData`.
- :mod:`~mha.explorer.widgets`: :func:`build_explorer`, the live widget (needs a
  kernel: Jupyter or Colab).
- :mod:`~mha.explorer.page`: :func:`page_explorer`, the same five controls computed
  in the browser, for the static page.

General measures of attention weights (:func:`attention_entropy`, ...) live in
:mod:`mha.measures` and are re-exported here.
"""

from ..measures import attention_entropy, distinct_targets, head_diversity
from .figure import FIGSIZE, FRAME_DPI, MAX_PANELS, draw_explorer
from .inputs import (
    D_MODEL,
    MASKS,
    MAX_TOKENS,
    PAD,
    PADDED_LENGTH,
    SENTENCES,
    embed_sentence,
    embed_tokens,
    positional_encoding,
    prepare_tokens,
    token_vector,
    tokenize,
)
from .model import (
    HEAD_COUNTS,
    QK_GAIN,
    SEED,
    TEMPERATURES,
    SweepRow,
    View,
    ViewData,
    compute_view,
    explorer_layer,
    explorer_masks,
    explorer_weights,
    head_count_sweep,
    head_label,
    score_macs,
)
from .page import LABELS, PageExplorer, explorer_data, page_explorer
from .widgets import build_explorer, cost_line, show_explorer

__all__ = [
    "D_MODEL",
    "FIGSIZE",
    "FRAME_DPI",
    "HEAD_COUNTS",
    "LABELS",
    "MASKS",
    "MAX_PANELS",
    "MAX_TOKENS",
    "PAD",
    "PADDED_LENGTH",
    "QK_GAIN",
    "SEED",
    "SENTENCES",
    "TEMPERATURES",
    "PageExplorer",
    "SweepRow",
    "View",
    "ViewData",
    "attention_entropy",
    "build_explorer",
    "compute_view",
    "cost_line",
    "distinct_targets",
    "draw_explorer",
    "embed_sentence",
    "embed_tokens",
    "explorer_data",
    "explorer_layer",
    "explorer_masks",
    "explorer_weights",
    "head_count_sweep",
    "head_diversity",
    "head_label",
    "page_explorer",
    "positional_encoding",
    "prepare_tokens",
    "score_macs",
    "show_explorer",
    "token_vector",
    "tokenize",
]
