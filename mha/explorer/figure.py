"""The explorer's figure: per-head maps, their average and each head's entropy.

:func:`draw_explorer` draws the :class:`~mha.explorer.ViewData` of one setting of the
controls. It is drawn for speed (a slider move redraws it in Jupyter and Colab): the
head maps share one Axes and the token labels are plain text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..plotting import plot_attention
from .inputs import D_MODEL
from .model import ViewData

__all__ = ["FIGSIZE", "FRAME_DPI", "MAX_PANELS", "draw_explorer"]

MAX_PANELS = 8  # per-head maps drawn; the entropy bars always show every head
_HEADS_BOX = (0.075, 0.17, 0.57, 0.72)  # left, bottom, width, height of the maps
FIGSIZE = (9.0, 5.0)  # inches; at FRAME_DPI a figure is 900 x 500 pixels
FRAME_DPI = 100
_FONT = 8
_CMAP = plt.get_cmap("viridis").with_extremes(bad="lightgrey")  # as mha.plotting


def _grid_shape(shown: int) -> tuple[int, int]:
    rows = 1 if shown <= 2 else 2
    return rows, math.ceil(shown / rows)


def draw_explorer(data: ViewData, figure: Figure | None = None) -> Figure:
    """Draw one view: per-head maps, the head-averaged map and per-head entropy.

    Up to :data:`MAX_PANELS` heads get a map (heads 0..7 when there are more; a note
    says so); the averaged map and the entropy bars use every head. All maps share one
    colour scale; keys a query may not see (masked) are light grey. Token labels sit
    on the left column and the bottom row only. ``figure`` (e.g. an Agg
    ``Figure``) is drawn on when given; else a pyplot figure of :data:`FIGSIZE` is
    made, which ``plt.show()`` displays.

    Returns:
        The Figure. Its axes, in order: the head maps (one Axes holding one image
        per drawn head, head 0 first), the averaged map, the entropy bars, the
        colorbar.
    """
    if not isinstance(data, ViewData):
        raise TypeError(
            f"draw_explorer expects the ViewData of compute_view(view), got "
            f"{type(data).__name__}. Hint: draw_explorer(compute_view(View()))."
        )
    fig = figure if figure is not None else plt.figure(figsize=FIGSIZE)
    view, tokens, h = data.view, data.tokens, data.num_heads
    hidden = torch.zeros(len(tokens), len(tokens), dtype=torch.bool)  # (T, S)
    for mask in data.masks.values():
        hidden = hidden | mask  # (T, S) | (T, S) or (1, S)
    weights = data.weights.masked_fill(hidden, float("nan")).numpy()  # (h, T, S)
    average = weights.mean(axis=0)  # (T, S), NaN where masked
    shown = min(h, MAX_PANELS)
    vmax = float(max(np.nanmax(weights[:shown]), np.nanmax(average)))
    norm = Normalize(vmin=0.0, vmax=vmax)
    heads_ax = fig.add_axes(_HEADS_BOX)
    _head_mosaic(heads_ax, weights[:shown], tokens, norm, fig.get_size_inches())
    mean_ax = fig.add_axes((0.785, 0.5, 0.205, 0.37))
    title = "the only head" if h == 1 else f"mean of all {h} heads"
    plot_attention(
        average, tokens, ax=mean_ax, title=title, vmin=0.0, vmax=vmax, colorbar=False
    )
    mean_ax.title.set_fontsize(_FONT + 1)
    mean_ax.tick_params(
        labelsize=_token_size(0.37 * fig.get_size_inches()[1], len(tokens)),
        length=2,
        pad=1,
    )
    mean_ax.xaxis.label.set_fontsize(_FONT)
    mean_ax.set_ylabel("")  # the maps on the left name the axes; room for the colorbar
    bars = fig.add_axes((0.785, 0.08, 0.205, 0.24))
    _draw_entropy(bars, data, shown)
    colorbar = fig.colorbar(
        mean_ax.images[0], cax=fig.add_axes((0.66, 0.3, 0.01, 0.45))
    )
    colorbar.set_label("weight (grey: masked)", fontsize=_FONT, labelpad=2)
    colorbar.ax.tick_params(labelsize=_FONT - 1, length=2, pad=1)
    heads = f"h = {h} head" + ("" if h == 1 else "s")
    fig.suptitle(
        f"{heads} of d_k = {data.head_dim} (E = {D_MODEL}) · τ = "
        f"{view.temperature:g} · mask: {view.mask} · T = {len(tokens)} tokens",
        fontsize=_FONT + 3,
        y=0.975,
    )
    if shown < h:
        fig.text(
            0.35,
            0.008,
            f"maps of heads 0-{shown - 1} of {h}; the mean and the "
            f"entropy bars use all {h}",
            ha="center",
            fontsize=_FONT,
            style="italic",
        )
    return fig


def _token_size(inches: float, n: int) -> float:
    """A font size (points) at which ``n`` labels fit along ``inches`` of axis."""
    return float(np.clip(0.8 * 72 * inches / n, 5.5, _FONT))


def _head_mosaic(
    ax: Any,
    weights: np.ndarray,
    tokens: list[str],
    norm: Normalize,
    figsize: Sequence[float],
) -> None:
    """Up to eight ``(T, S)`` maps as a grid of blocks inside ONE Axes.

    Drawn like ``plot_attention`` (same colours, tokens on the axes) but leaner: a
    grid of separate Axes with tokens on every axis spends most of a redraw creating
    and drawing tick objects (about 1 ms each). Here the blocks share one Axes, and
    tokens label only the left column and the bottom row.
    """
    shown, n = weights.shape[0], len(tokens)
    nrows, ncols = _grid_shape(shown)
    gap = max(1.0, 0.12 * n)
    step = n + gap  # block size plus the gap between blocks
    headroom = 0.1 * n  # room for the head titles above each row
    for i in range(shown):
        row, col = divmod(i, ncols)
        left, top = col * step, row * step
        ax.imshow(
            np.ma.masked_invalid(weights[i]),
            cmap=_CMAP,
            norm=norm,
            interpolation="nearest",
            extent=(left - 0.5, left + n - 0.5, top + n - 0.5, top - 0.5),
        )
        ax.text(
            left + (n - 1) / 2,
            top - 0.7,
            f"head {i}",
            ha="center",
            va="bottom",
            fontsize=_FONT + 1,
        )
    width, height = ncols * step - gap, nrows * step - gap + headroom  # data units
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - headroom - 0.5, -0.5 - headroom)
    ax.set_aspect("equal")
    ax.set_anchor("NE")  # top-aligned with the averaged map, next to the colorbar
    for spine in ax.spines.values():
        spine.set_visible(False)
    # One data unit is one token; the axes box is fixed, so its size in inches is
    # known before drawing, and the token font can be as large as fits.
    box_w, box_h = _HEADS_BOX[2] * figsize[0], _HEADS_BOX[3] * figsize[1]
    size = _token_size(min(box_w / width, box_h / height), 1)
    # Token labels as plain text (cheaper than tick objects), in the left column
    # and under the bottom row: x in data and y in axes coordinates, or vice versa.
    ax.set_xticks([])
    ax.set_yticks([])
    rotate = 90 if max(len(t) for t in tokens) > 3 else 0
    for c in range(ncols):
        for j, token in enumerate(tokens):
            ax.text(
                c * step + j,
                -0.008,
                token,
                transform=ax.get_xaxis_transform(),
                rotation=rotate,
                ha="center",
                va="top",
                fontsize=size,
            )
    for r in range(nrows):
        for j, token in enumerate(tokens):
            ax.text(
                -0.008,
                r * step + j,
                token,
                transform=ax.get_yaxis_transform(),
                ha="right",
                va="center",
                fontsize=size,
            )
    room = 0.6 * size * max(len(t) for t in tokens) + 5  # points
    ax.set_xlabel(
        f"key (S = {n}) of each head",
        fontsize=_FONT,
        labelpad=room if rotate else size + 5,
    )
    ax.set_ylabel(f"query (T = {n}) of each head", fontsize=_FONT, labelpad=room)


def _draw_entropy(ax: Any, data: ViewData, shown: int) -> None:
    h = data.num_heads
    entropy = data.entropy.numpy()
    colours = np.where(np.arange(h) < shown, "#3b528b", "#a5bfd9")  # viridis blue
    ax.bar(np.arange(h), entropy, width=0.8, color=colours)
    ax.axhline(data.max_entropy, color="black", ls="--", lw=0.8)
    ax.text(
        h - 0.5,
        data.max_entropy,
        "uniform",
        ha="right",
        va="bottom",
        fontsize=_FONT - 1,
    )
    ax.set_xlim(-0.6, h - 0.4)
    ax.set_ylim(0, data.max_entropy * 1.25 + 1e-9)
    step = max(1, h // 8)
    ax.set_xticks(range(0, h, step))
    ax.tick_params(labelsize=_FONT - 0.5, length=2, pad=1)
    ax.set_xlabel("head", fontsize=_FONT, labelpad=1)
    ax.set_ylabel("nats", fontsize=_FONT, labelpad=1)
    ax.set_title("entropy of each head", fontsize=_FONT + 1)
