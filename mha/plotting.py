"""The book's plotting helpers: attention maps as labelled heatmaps.

Every chapter draws attention weights with these two functions, so the figures look
the same everywhere and a fix lands in one place:

- :func:`plot_attention` draws one ``(T, S)`` map (rows are queries, columns keys).
- :func:`plot_heads` draws an ``(h, T, S)`` stack as a grid, one panel per head,
  with one shared colorbar, at most :data:`MAX_WIDTH` inches wide.

Both accept torch tensors (any device, with or without grad, any float dtype or
bool) and numpy arrays, and raise ``ValueError`` with the expected and the received
shapes when the input does not fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from ._plot_inputs import _check_rank, _check_tokens, _resolve_tokens, _to_numpy
from ._validate import check_positive_int

__all__ = ["plot_attention", "plot_heads"]

CBAR_LABEL = "attention weight"
# Inches. The book's column shows about 7 in of a 100 dpi figure at full size; a
# wider figure is shrunk on the page, and its text with it.
MAX_WIDTH = 7.0
# Rough width of one character of a tick label at the default font size, inches.
_CHAR_INCHES = 0.085
# Tokens are written at every position up to this length; longer maps without
# tokens fall back to matplotlib's own tick spacing.
_MAX_INDEX_TICKS = 32


def _norm(data: np.ndarray, vmin: float | None, vmax: float | None) -> Normalize:
    """A colour scale from ``vmin`` to ``vmax``; ``None`` means the data's own limit."""
    finite = data[np.isfinite(data)]
    low = float(finite.min()) if vmin is None and finite.size else vmin
    high = float(finite.max()) if vmax is None and finite.size else vmax
    low = 0.0 if low is None else float(low)
    high = low + 1.0 if high is None else float(high)
    if vmin is not None and vmax is not None and vmin >= vmax:
        raise ValueError(
            f"vmin must be below vmax, got vmin={vmin} and vmax={vmax}. "
            "Hint: leave vmax=None to use the largest weight."
        )
    if high <= low:  # a constant map: give the colour scale some room
        high = low + 1.0
    return Normalize(vmin=low, vmax=high)


def _colormap(cmap: str | Colormap) -> Colormap:
    """The colormap with masked (NaN) cells drawn light grey."""
    base = plt.get_cmap(cmap) if isinstance(cmap, str) else cmap
    return base.with_extremes(bad="lightgrey")


def _annotate(
    ax: Axes, data: np.ndarray, norm: Normalize, cmap: Colormap, fmt: str
) -> None:
    """Write each value in its cell, dark on light colours and light on dark ones."""
    rows, cols = data.shape
    size = 9 if max(rows, cols) <= 8 else 7
    for i in range(rows):
        for j in range(cols):
            value = data[i, j]
            if np.isfinite(value):
                r, g, b, _ = cmap(norm(value))
                luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
                colour = "black" if luminance > 0.5 else "white"
                text = format(value, fmt)
            else:
                colour, text = "black", "nan"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=size)


def _set_ticks(
    ax: Axes,
    labels: list[str] | None,
    n: int,
    axis: str,
    show: bool,
    rotate: bool | None = None,
) -> None:
    """Put one tick per position, labelled with its token (or its index).

    ``show=False`` keeps the labels but hides them (inner panels of a grid).
    ``rotate`` turns the key labels by 45 degrees; ``None`` turns them when a
    label is longer than three characters.
    """
    which = ax.xaxis if axis == "x" else ax.yaxis
    if labels is not None or n <= _MAX_INDEX_TICKS:
        text = labels if labels is not None else [str(i) for i in range(n)]
        if rotate is None:
            rotate = max(len(t) for t in text) > 3
        if axis == "x" and rotate:
            style = {"rotation": 45, "ha": "right", "rotation_mode": "anchor"}
        else:
            style = {}
        which.set_ticks(range(n), labels=text, **style)
    if not show:
        side = {"labelbottom": False} if axis == "x" else {"labelleft": False}
        ax.tick_params(axis=axis, **side)


def _draw_map(
    ax: Axes,
    data: np.ndarray,
    rows: list[str] | None,
    cols: list[str] | None,
    *,
    cmap: Colormap,
    norm: Normalize,
    annotate: bool,
    fmt: str,
    show_x: bool = True,
    show_y: bool = True,
    rotate: bool | None = None,
) -> AxesImage:
    """Draw one (T, S) map on ``ax``: queries down, keys across."""
    t, s = data.shape
    image = ax.imshow(
        np.ma.masked_invalid(data),
        cmap=cmap,
        norm=norm,
        aspect="equal",
        interpolation="nearest",
    )
    _set_ticks(ax, cols, s, "x", show_x, rotate)
    _set_ticks(ax, rows, t, "y", show_y)
    if show_x:
        ax.set_xlabel(f"key (S = {s})")
    if show_y:
        ax.set_ylabel(f"query (T = {t})")
    if annotate:
        _annotate(ax, data, norm, cmap, fmt)
    return image


def _text_inches(labels: Sequence[str] | None, per_char: float = 0.08) -> float:
    """Rough width in inches of the longest label at the default font size."""
    return per_char * max((len(label) for label in labels or ["00"]), default=2)


def _figsize(
    shape: tuple[int, ...],
    rows: list[str] | None,
    cols: list[str] | None,
    title: str | None,
) -> tuple[float, float]:
    """A figure size with cells of up to 0.6 in and room for the labels."""
    t, s = shape
    cell = min(0.6, 8.0 / max(t, s))  # big maps stay within about 8 in
    # map + query labels + axis label + colorbar with its label
    width = cell * s + _text_inches(rows) + 0.5 + 1.3
    # the title is centred over the map and may be wider than it
    width = max(width, _text_inches([title or "attention weights"], 0.1) + 1.5)
    rotated = cols is not None and max(len(c) for c in cols) > 3
    height = cell * t + (0.7 * _text_inches(cols) if rotated else 0.3) + 1.1
    return min(14.0, max(3.5, width)), min(12.0, max(2.5, height))


def plot_attention(
    weights: Any,
    query_tokens: Sequence[Any] | None = None,
    key_tokens: Sequence[Any] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    cmap: str | Colormap = "viridis",
    annotate: bool = False,
    vmin: float | None = 0.0,
    vmax: float | None = None,
    colorbar: bool = True,
    fmt: str = ".2f",
    cbar_label: str = CBAR_LABEL,
) -> Axes:
    """Draw one attention map as a heatmap: rows are queries, columns are keys.

    Args:
        weights: ``(T, S)`` attention weights, a torch tensor (any device, with or
            without grad) or a numpy array. Row ``i`` is query ``i``'s distribution
            over the ``S`` keys. NaN cells (e.g. fully masked rows) show light grey.
        query_tokens: ``T`` labels for the rows; ``None`` labels them 0, 1, ...
        key_tokens: ``S`` labels for the columns. ``None`` reuses ``query_tokens``
            (self-attention, ``S == T``); pass it for cross-attention.
        ax: Axes to draw on; a new figure sized to the map is made when ``None``.
        title: Axes title; ``None`` gives ``"attention weights"``.
        cmap: A colorblind-safe colormap name or object (viridis, cividis).
        annotate: Write each weight in its cell, in black or white for contrast.
        vmin, vmax: Colour scale limits; ``None`` uses the map's own min or max.
            The default ``vmin=0.0`` fits weights; pass ``None`` for raw scores.
        colorbar: Add a colorbar labelled ``cbar_label``.
        fmt: Format spec of the annotations, e.g. ``".2f"``.
        cbar_label: Colorbar label; change it when plotting scores, not weights.

    Returns:
        The Axes holding the heatmap (its figure is ``ax.figure``).

    Raises:
        ValueError: ``weights`` is not 2-D, is empty, or a token list does not
            have one entry per row/column; or ``vmin >= vmax``.
        TypeError: ``weights`` is not numeric, or tokens are a single string.
    """
    func = "plot_attention"
    data = _to_numpy(weights, func)
    _check_rank(data, 2, func)
    rows, cols = _resolve_tokens(
        data.shape, query_tokens, key_tokens, func, "query_tokens"
    )
    norm = _norm(data, vmin, vmax)
    colours = _colormap(cmap)
    if ax is None:
        _, ax = plt.subplots(
            figsize=_figsize(data.shape, rows, cols, title), layout="constrained"
        )
    image = _draw_map(
        ax, data, rows, cols, cmap=colours, norm=norm, annotate=annotate, fmt=fmt
    )
    ax.set_title("attention weights" if title is None else title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=cbar_label, shrink=0.9)
    return ax


def _grid_columns(h: int) -> int:
    """Panels per row: one row up to three heads, then 2 x 2, then rows of 3 or 4."""
    if h <= 3:
        return h
    if h == 4:
        return 2
    return min(4, math.ceil(h / 2))


def _heads_layout(
    shape: tuple[int, int, int],
    rows: list[str] | None,
    cols: list[str] | None,
    ncols: int,
    own_colorbars: bool,
) -> tuple[tuple[float, float], bool]:
    """Figure size (inches, at most MAX_WIDTH wide) and whether to turn key labels."""
    h, t, s = shape
    nrows = math.ceil(h / ncols)
    row_labels = rows or [str(t - 1)]
    col_labels = cols or [str(s - 1)]
    left = _CHAR_INCHES * max(len(r) for r in row_labels) + 0.6  # labels, axis name
    shared_bar = 0.0 if own_colorbars else 1.1
    own_bar = 0.9 if own_colorbars else 0.0
    room = (MAX_WIDTH - left - shared_bar) / ncols - own_bar  # per map, inches
    cell = min(0.45, room / s)
    longest = max(len(c) for c in col_labels)
    rotate = _CHAR_INCHES * longest > 0.9 * cell or longest > 3
    below = 0.2 + (0.75 * _CHAR_INCHES * longest + 0.15 if rotate else 0.25)
    width = left + ncols * (cell * s + own_bar) + shared_bar
    # each row: its maps and their titles; then the key labels and the suptitle
    height = nrows * (cell * t + 0.35) + (nrows - 1) * 0.1 + below + 0.5
    return (round(width, 2), round(height, 2)), rotate


def plot_heads(
    weights: Any,
    tokens: Sequence[Any] | None = None,
    key_tokens: Sequence[Any] | None = None,
    *,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    suptitle: str | None = None,
    cmap: str | Colormap = "viridis",
    share_scale: bool = True,
    annotate: bool = False,
    fmt: str = ".2f",
    cbar_label: str = CBAR_LABEL,
    vmax: float | None = None,
) -> Figure:
    """Draw an ``(h, T, S)`` stack of attention maps as a grid, one panel per head.

    Token labels and axis names are written on the outer panels only (left column,
    bottom of each column), so the grid stays readable. The figure is at most
    :data:`MAX_WIDTH` inches wide: more heads make smaller cells, not a wider
    figure, and key labels turn when they would not fit under their cells.

    Args:
        weights: ``(h, T, S)`` weights of one batch element, a torch tensor (any
            device, with or without grad) or a numpy array. For ``(B, h, T, S)``
            pass ``weights[b]``.
        tokens: ``T`` query labels; ``None`` labels rows 0, 1, ...
        key_tokens: ``S`` key labels; ``None`` reuses ``tokens`` (self-attention).
        titles: One title per head; ``None`` gives ``"head 0"``, ``"head 1"``, ...
        ncols: Panels per row; ``None`` puts up to three heads in one row, four
            in a 2 x 2 grid and more in rows of three or four.
        suptitle: Title of the whole figure; ``None`` gives
            ``"attention weights of h heads"``.
        cmap: A colorblind-safe colormap name or object (viridis, cividis).
        share_scale: One colour scale from 0 to the largest weight of all heads and
            one shared colorbar (compare heads by colour). ``False`` scales each
            head to its own maximum and gives each panel its own colorbar.
        annotate: Write each weight in its cell.
        fmt: Format spec of the annotations.
        cbar_label: Colorbar label.
        vmax: Top of the colour scale; ``None`` uses the largest weight shown.
            Pass ``1.0`` to compare the maps with other figures drawn on 0 to 1.

    Returns:
        The Figure. Its first ``h`` axes are the heads, in order; the colorbar axes
        follow.

    Raises:
        ValueError: ``weights`` is not 3-D, a token list or ``titles`` has the wrong
            length, or ``ncols`` is not a positive integer.
        TypeError: ``weights`` is not numeric, or tokens are a single string.
    """
    func = "plot_heads"
    data = _to_numpy(weights, func)
    _check_rank(data, 3, func)
    h, t, s = data.shape
    rows, cols = _resolve_tokens(data.shape, tokens, key_tokens, func, "tokens")
    if titles is None:
        head_titles = [f"head {i}" for i in range(h)]
    else:
        hint = f"pass one title per head (h = {h})."
        head_titles = _check_tokens(titles, h, "titles", func, hint, "heads") or []
    if ncols is None:
        ncols = _grid_columns(h)
    hint = f"{func}: leave ncols None for a grid at most 7 inches wide."
    check_positive_int("ncols", ncols, hint=hint)
    ncols = min(ncols, h)
    nrows = math.ceil(h / ncols)
    figsize, rotate = _heads_layout(data.shape, rows, cols, ncols, not share_scale)
    fig, grid = plt.subplots(
        nrows, ncols, figsize=figsize, layout="constrained", squeeze=False
    )
    # Room between the figure's title and the panels' titles.
    fig.get_layout_engine().set(h_pad=0.06)
    axes = list(grid.flat)
    for extra in axes[h:]:
        fig.delaxes(extra)
    axes = axes[:h]
    colours = _colormap(cmap)
    shared = _norm(data, 0.0, vmax) if share_scale else None
    for i, ax in enumerate(axes):
        norm = shared if shared is not None else _norm(data[i], 0.0, vmax)
        image = _draw_map(
            ax,
            data[i],
            rows,
            cols,
            cmap=colours,
            norm=norm,
            annotate=annotate,
            fmt=fmt,
            show_x=i + ncols >= h,  # nothing below this panel
            show_y=i % ncols == 0,
            rotate=rotate,
        )
        ax.set_title(head_titles[i], fontsize="medium")
        if not share_scale:
            fig.colorbar(image, ax=ax, label=cbar_label, shrink=0.9)
    if share_scale:
        fig.colorbar(image, ax=axes, label=cbar_label, shrink=0.9)
    fig.suptitle(
        f"attention weights of {h} heads" if suptitle is None else suptitle,
        fontsize="large",
    )
    return fig
