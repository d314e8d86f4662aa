"""The live explorer: five controls over one figure, redrawn by Python.

It needs a running kernel (Jupyter or Colab). The published page, which runs no
Python, shows :func:`mha.explorer.page_explorer` instead, which computes the same
numbers in the browser. The widgets use only what ipywidgets 7.7.1 (Colab) and 8.x
both have.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .figure import FRAME_DPI, draw_explorer
from .inputs import D_MODEL, MASKS, MAX_TOKENS, SENTENCES, tokenize
from .model import (
    HEAD_COUNTS,
    TEMPERATURES,
    View,
    ViewData,
    compute_view,
    explorer_layer,
    score_macs,
)

if TYPE_CHECKING:  # ipywidgets is optional: imported inside the widget builders
    import ipywidgets

__all__ = ["build_explorer", "cost_line", "show_explorer"]


def show_explorer(
    num_heads: int = 8,
    sentence: str = SENTENCES[0],
    seq_len: int = 10,
    temperature: float = 1.0,
    mask: str = "none",
) -> Figure:
    """The live widget's callback: compute, print the cost, draw, show as a PNG.

    The figure is drawn once and shown as a PNG image. Jupyter's inline backend would
    save it with ``bbox_inches="tight"``, which draws the figure twice (about 80 ms
    more per slider move); the explorer's layout is fixed, so nothing needs trimming.
    The figure is then closed, so figures never stack up (what ``plt.show()`` does
    for inline plots). Returns the (closed) Figure.
    """
    data = compute_view(View(num_heads, sentence, seq_len, temperature, mask))
    print(cost_line(data))
    fig = draw_explorer(data)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FRAME_DPI)  # one draw, then the encoding
    plt.close(fig)
    try:
        from IPython.display import Image, display
    except ImportError:  # plain Python: nothing to show the picture in
        return fig
    display(Image(data=buffer.getvalue(), format="png"))
    return fig


def cost_line(data: ViewData) -> str:
    """One line on what this head count costs: the same parameters, the same MACs."""
    h, d_k, n = data.num_heads, data.head_dim, len(data.tokens)
    params = sum(p.numel() for p in explorer_layer(h).parameters())
    macs = score_macs(1, n, n, D_MODEL, h)
    return (
        f"h = {h}, d_k = {d_k}: {params:,} parameters, the same for every h.\n"
        f"Q K^T: h·T·S·d_k = {h}·{n}·{n}·{d_k} = {macs:,} multiply-adds "
        f"= T·S·E for every h.\n"
        f"Attention weights: h·T·S = {h * n * n:,} numbers, growing with h."
    )


def _controls(view: View) -> dict[str, ipywidgets.Widget]:
    import ipywidgets as widgets

    longest = max(len(tokenize(s)) for s in SENTENCES)
    wide = {"description_width": "initial"}
    return {
        "num_heads": widgets.SelectionSlider(
            options=list(HEAD_COUNTS),
            value=view.num_heads,
            description="heads h",
            continuous_update=False,
            style=wide,
        ),
        "sentence": widgets.Dropdown(
            options=list(SENTENCES),
            value=view.sentence,
            description="sentence",
            layout=widgets.Layout(width="460px"),
            style=wide,
        ),
        "seq_len": widgets.IntSlider(
            value=view.seq_len,
            min=2,
            max=min(MAX_TOKENS, longest),
            description="tokens T",
            continuous_update=False,
            style=wide,
        ),
        "temperature": widgets.SelectionSlider(
            options=list(TEMPERATURES),
            value=view.temperature,
            description="temperature τ",
            continuous_update=False,
            style=wide,
        ),
        "mask": widgets.ToggleButtons(
            options=list(MASKS),
            value=view.mask,
            description="mask",
            style=wide,
        ),
    }


def build_explorer(
    view: View | None = None,
    callback: Callable[..., Any] = show_explorer,
) -> ipywidgets.VBox:
    """The live explorer: five controls over one figure; needs a running kernel.

    Controls: head count (every divisor of 64), sentence, number of tokens,
    temperature and mask. Moving any of them calls ``callback(num_heads=...,
    sentence=..., seq_len=..., temperature=..., mask=...)`` (by default
    :func:`show_explorer`) inside the widget's ``Output``. Works on ipywidgets 7.7.1
    and 8. The returned box also has ``.controls`` (a dict of the five widgets, keyed
    like the callback's arguments) and ``.output``.
    """
    import ipywidgets as widgets

    view = View() if view is None else view
    compute_view(view)  # a bad starting view raises here, not inside a widget
    controls = _controls(view)
    output = widgets.interactive_output(callback, controls)
    box = widgets.VBox(
        [
            widgets.HBox([controls["num_heads"], controls["temperature"]]),
            widgets.HBox([controls["sentence"], controls["seq_len"]]),
            controls["mask"],
            output,
        ]
    )
    box.controls, box.output = controls, output  # for tests and for tinkering
    return box
