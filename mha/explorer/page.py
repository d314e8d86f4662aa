"""The explorer on the static page: all five controls, computed in the browser.

The live explorer (:func:`mha.explorer.build_explorer`) redraws with Python, so it
needs a kernel. :func:`page_explorer` needs none. It writes one self-contained HTML
block: the five controls (native ``<input>`` and ``<select>`` elements, each with a
label), an SVG, the data the computation needs as JSON, and ``explorer.js`` (shipped
with this package) inline. In the browser the script does what
:func:`mha.explorer.compute_view` does, for the explorer's tiny layer (E = 64,
T <= 14): project, split into heads, score, scale, mask, softmax, measure; then draws.

The data is exactly what :func:`compute_view` uses: the layer's query and key
projections (:func:`mha.explorer.explorer_layer`, the same weights for every head
count), the token vector of every word of :data:`SENTENCES` and of :data:`PAD`, and
the position encodings. The values and the attention weights are not needed to draw
the maps. The block runs the same way on the published page, in Jupyter and in
Colab (inside the output's frame). A browser test compares its numbers with
:func:`compute_view`'s.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..i18n import tr
from .inputs import (
    D_MODEL,
    MASKS,
    MAX_TOKENS,
    PAD,
    PADDED_LENGTH,
    SENTENCES,
    positional_encoding,
    token_vector,
    tokenize,
)
from .model import HEAD_COUNTS, TEMPERATURES, View, explorer_layer

__all__ = ["LABELS", "PageExplorer", "explorer_data", "page_explorer"]

MIN_TOKENS = 2
# Every text the reader sees, in one place (a translation replaces these).
LABELS: dict[str, str] = {
    "note": (
        "Works on this page, no Python needed: your browser computes the heads as "
        "you move the controls."
    ),
    "num_heads": "heads h",
    "sentence": "sentence",
    "seq_len": "tokens T",
    "temperature": "temperature τ",
    "mask": "mask",
    "mask_none": "none",
    "mask_causal": "causal",
    "mask_padding": "padding",
    "title": (
        "h = {h} heads of d_k = {d_k} (E = {E}) · τ = {tau} · mask: {mask} · "
        "T = {T} tokens"
    ),
    "title_one": (
        "h = 1 head of d_k = {d_k} (E = {E}) · τ = {tau} · mask: {mask} · "
        "T = {T} tokens"
    ),
    "head_title": "head {i}",
    "query_axis": "query (T = {T}) of each head",
    "key_axis": "key (S = {S}) of each head",
    "more_heads": (
        "maps of heads 0-{last} of {h}; the mean and the entropy bars use all {h}"
    ),
    "colorbar": "weight (grey: masked)",
    "only_head": "the only head",
    "mean_map": "mean of all {h} heads",
    "entropy_title": "entropy of each head",
    "uniform": "uniform",
    "head_axis": "head",
    "nats": "nats",
    "alt": (
        "Attention maps of {h} heads for the sentence '{sentence}', T = {T} tokens, "
        "temperature {tau}, mask {mask}: per-head maps, their mean, and the heads' "
        "entropy (mean {entropy} nats; uniform attention would give {ceiling})."
    ),
}
_STYLE = """
.mha-explorer { font-family: sans-serif; margin: 0.5em 0 1em 0; }
.mha-explorer .mha-note { font-size: 0.9em; margin: 0 0 0.4em 0; }
.mha-explorer .mha-controls { display: flex; flex-wrap: wrap; gap: 0.3em 1.5em;
  align-items: center; margin-bottom: 0.4em; }
.mha-explorer label, .mha-explorer legend { font-size: 0.95em; }
.mha-explorer fieldset { border: none; margin: 0; padding: 0; display: flex;
  gap: 0.8em; align-items: center; }
.mha-explorer fieldset label { display: inline-flex; align-items: center;
  gap: 0.25em; margin: 0; white-space: nowrap; }
.mha-explorer input[type=radio] { margin: 0; }
.mha-explorer legend { float: left; margin-right: 0.4em; padding: 0; }
.mha-explorer output { display: inline-block; min-width: 2.5em; font-weight: bold; }
.mha-explorer select { max-width: 28em; }
.mha-explorer svg { width: 100%; max-width: 700px; height: auto; display: block;
  background: white; }
"""


def _numbers(array: Any) -> list:
    """float32 values as the shortest decimals that read back as the same float32."""
    values = np.asarray(array, dtype=np.float32)
    if values.ndim == 0:
        return float(np.format_float_positional(values[()], unique=True, trim="-"))
    return [_numbers(v) for v in values]


def explorer_data(labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What the in-page explorer needs, as plain JSON-ready Python values."""
    layer = explorer_layer(HEAD_COUNTS[0])  # the same weights for every head count
    weights = layer.projection_weights()
    words = sorted({w for s in SENTENCES for w in tokenize(s)} | {PAD})
    viridis = plt.get_cmap("viridis", 256)(np.arange(256))[:, :3]  # (256, 3)
    return {
        "d_model": D_MODEL,
        "head_counts": list(HEAD_COUNTS),
        "temperatures": list(TEMPERATURES),
        "masks": list(MASKS),
        "sentences": list(SENTENCES),
        "max_tokens": MAX_TOKENS,
        "padded_length": PADDED_LENGTH,
        "pad": PAD,
        "w_q": _numbers(weights["w_q"]),
        "b_q": _numbers(weights["b_q"]),
        "w_k": _numbers(weights["w_k"]),
        "b_k": _numbers(weights["b_k"]),
        "vectors": {w: _numbers(token_vector(w)) for w in words},
        "positions": _numbers(positional_encoding(PADDED_LENGTH)),
        "viridis": [
            "#" + "".join(f"{round(255 * c):02x}" for c in rgb) for rgb in viridis
        ],
        "labels": {k: tr(v) for k, v in {**LABELS, **(labels or {})}.items()},
    }


def _slider(name: str, label: str, count: int, index: int, uid: str) -> str:
    return (
        f'<label for="{uid}-{name}">{html.escape(label)}</label> '
        f'<input type="range" id="{uid}-{name}" name="{name}" min="0" '
        f'max="{count - 1}" step="1" value="{index}"> '
        f'<output data-for="{name}" for="{uid}-{name}"></output>'
    )


_ids = itertools.count()


class PageExplorer:
    """The in-page explorer for a starting :class:`View`; displays as HTML."""

    def __init__(
        self, view: View | None = None, labels: Mapping[str, str] | None = None
    ) -> None:
        view = View() if view is None else view
        if not isinstance(view, View):
            raise TypeError(
                f"page_explorer expects an mha.explorer.View, got "
                f"{type(view).__name__}. Hint: page_explorer(View(num_heads=4))."
            )
        for name, value, choices in [
            ("num_heads", view.num_heads, HEAD_COUNTS),
            ("sentence", view.sentence, SENTENCES),
            ("temperature", view.temperature, TEMPERATURES),
            ("mask", view.mask, MASKS),
        ]:
            if value not in choices:
                raise ValueError(
                    f"the page explorer offers {name} in {list(choices)}; got "
                    f"{value!r}. Hint: the live explorer (build_explorer) takes "
                    f"other values."
                )
        longest = min(MAX_TOKENS, len(tokenize(view.sentence)))
        if not MIN_TOKENS <= view.seq_len <= longest:
            raise ValueError(
                f"seq_len must be between {MIN_TOKENS} and {longest} for this "
                f"sentence, got {view.seq_len!r}."
            )
        self.view = view
        self.data = explorer_data(labels)

    def html(self) -> str:
        """The self-contained block: style, note, controls, SVG, data, script."""
        labels, view = self.data["labels"], self.view
        uid = f"mha-explorer-{next(_ids)}"
        options = "".join(
            f'<option value="{i}"{" selected" if s == view.sentence else ""}>'
            f"{html.escape(s)}</option>"
            for i, s in enumerate(SENTENCES)
        )
        masks = "".join(
            f'<label><input type="radio" name="mask" value="{m}"'
            f"{' checked' if m == view.mask else ''}> "
            f"{html.escape(labels['mask_' + m])}</label>"
            for m in MASKS
        )
        longest = min(MAX_TOKENS, len(tokenize(view.sentence)))
        controls = [
            _slider(
                "num_heads",
                labels["num_heads"],
                len(HEAD_COUNTS),
                HEAD_COUNTS.index(view.num_heads),
                uid,
            ),
            _slider(
                "temperature",
                labels["temperature"],
                len(TEMPERATURES),
                TEMPERATURES.index(view.temperature),
                uid,
            ),
            f'<label for="{uid}-sentence">{html.escape(labels["sentence"])}</label> '
            f'<select id="{uid}-sentence" name="sentence">{options}</select>',
            f'<label for="{uid}-seq_len">{html.escape(labels["seq_len"])}</label> '
            f'<input type="range" id="{uid}-seq_len" name="seq_len" '
            f'min="{MIN_TOKENS}" max="{longest}" step="1" value="{view.seq_len}"> '
            f'<output data-for="seq_len" for="{uid}-seq_len"></output>',
            f"<fieldset><legend>{html.escape(labels['mask'])}</legend>{masks}"
            "</fieldset>",
        ]
        data = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)
        data = data.replace("</", "<\\/")  # never close the <script> early
        script = (
            resources.files(__package__)
            .joinpath("explorer.js")
            .read_text(encoding="utf-8")
        )
        return (
            f'<div class="mha-explorer" id="{uid}"><style>{_STYLE}</style>'
            f'<p class="mha-note">{html.escape(labels["note"])}</p>'
            f'<div class="mha-controls">'
            + "".join(f"<span>{c}</span>" for c in controls)
            + '</div><svg viewBox="0 0 700 600" role="img" aria-label=""></svg>'
            f'<script type="application/json" class="mha-explorer-data">{data}'
            f"</script><script>{script}</script></div>"
        )

    def _repr_html_(self) -> str:
        return self.html()


def page_explorer(
    view: View | None = None, labels: Mapping[str, str] | None = None
) -> PageExplorer:
    """The explorer with all five controls, computed in the browser (no kernel).

    Display it (last line of a cell) to get the block. ``view`` sets where the
    controls start; its values must be among the explorer's choices
    (:data:`HEAD_COUNTS`, :data:`SENTENCES`, :data:`TEMPERATURES`, :data:`MASKS`).
    ``labels`` replaces some of :data:`LABELS`, the texts the reader sees.
    """
    return PageExplorer(view, labels)
