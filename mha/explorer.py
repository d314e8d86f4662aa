"""The head-count explorer of Part II: one sentence, one layer per head count.

Everything the chapter's widgets do is a plain function here, so the tests and the
benchmark call exactly what a slider calls:

- :func:`embed_sentence` turns a sentence into ``(1, T, E)`` vectors with no download:
  whitespace tokens, a seeded random vector per token (the seed is the token's CRC-32,
  so the same word gets the same vector in every sentence and on every machine) plus
  sinusoidal positions.
- :func:`explorer_layer` is the fixed, seeded ``mha.MultiHeadAttention(64, h)`` for a
  head count ``h``. Every head count gets the *same* four weight matrices: only the
  split into heads (and with it the scale ``1/sqrt(d_k)``) differs.
- :func:`explorer_weights` runs the layer with a temperature and a mask and returns the
  per-head weights ``(B, h, T, S)``; :func:`compute_view` does it for one setting of
  the controls, a :class:`View`.
- :func:`draw_explorer` draws a :class:`ViewData`: up to eight per-head maps, the
  head-averaged map and each head's entropy; :func:`render_frame` renders it to PNG.
- :func:`build_explorer` is the live widget (needs a kernel: Jupyter or Colab);
  :func:`build_static_explorer` is the head-count slider made of pre-rendered frames
  that also works in the static HTML book, because its only link is a front-end
  ``jslink``.

The widgets use only what ipywidgets 7.7.1 (Colab) and 8.x both have.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import Tensor

from ._validate import check_heads_divide, divisors
from .functional import multi_head_attention
from .layer import MultiHeadAttention
from .masks import causal_mask
from .plotting import plot_attention

if TYPE_CHECKING:  # ipywidgets is optional: imported inside the widget builders
    import ipywidgets

__all__ = [
    "D_MODEL",
    "HEAD_COUNTS",
    "MASKS",
    "MAX_TOKENS",
    "PAD",
    "PADDED_LENGTH",
    "QK_GAIN",
    "SEED",
    "SENTENCES",
    "TEMPERATURES",
    "SweepRow",
    "View",
    "ViewData",
    "attention_entropy",
    "build_explorer",
    "build_static_explorer",
    "compute_view",
    "cost_line",
    "distinct_targets",
    "draw_explorer",
    "embed_sentence",
    "embed_tokens",
    "explorer_layer",
    "explorer_masks",
    "explorer_weights",
    "head_count_sweep",
    "head_diversity",
    "head_label",
    "positional_encoding",
    "prepare_tokens",
    "render_frame",
    "score_macs",
    "show_explorer",
    "token_vector",
    "tokenize",
]

D_MODEL = 64
HEAD_COUNTS: tuple[int, ...] = tuple(divisors(D_MODEL))  # (1, 2, 4, ..., 64)
SENTENCES: tuple[str, ...] = (
    "the cat sat on the mat because it was tired",
    "the animal did not cross the street because it was too tired",
    "she said that he would read the book to her",
    "a dog chased the ball and the dog caught it",
    "time flies like an arrow and fruit flies like a banana",
)
PAD = "<pad>"
MAX_TOKENS = 12  # the sequence-length slider's maximum
PADDED_LENGTH = 14  # "padding" pads every sentence to this length
MASKS: tuple[str, ...] = ("none", "causal", "padding")
TEMPERATURES: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
SEED = 0
# W^Q and W^K are multiplied by QK_GAIN after nn.Linear's default initialisation, so
# every score is QK_GAIN**2 = 4 times larger. With the default initialisation alone the
# scores have a standard deviation of about 0.5 and every map is close to uniform; with
# the gain it is about 2, and the maps have visible structure (see the chapter).
QK_GAIN = 2.0
MAX_PANELS = 8  # per-head maps drawn; the entropy bars always show every head
_HEADS_BOX = (0.075, 0.17, 0.57, 0.72)  # left, bottom, width, height of the maps
FIGSIZE = (9.0, 5.0)  # inches; at FRAME_DPI a frame is 900 x 500 pixels
FRAME_DPI = 100
_FONT = 8
_CMAP = plt.get_cmap("viridis").with_extremes(bad="lightgrey")  # as mha.plotting


# --- input ---------------------------------------------------------------------


def tokenize(sentence: str) -> list[str]:
    """Split a sentence into lower-case whitespace tokens: ``"The cat" -> [the, cat]``.

    Raises:
        TypeError: ``sentence`` is not a string.
        ValueError: it holds no token.
    """
    if not isinstance(sentence, str):
        raise TypeError(
            f"tokenize expects a sentence as a str, got {type(sentence).__name__}. "
            f"Hint: join a list of tokens with ' '.join(tokens), or call "
            f"embed_tokens(tokens) directly."
        )
    tokens = sentence.lower().split()
    if not tokens:
        raise ValueError(
            f"the sentence {sentence!r} holds no token. Hint: pass at least one "
            f"word, e.g. one of mha.explorer.SENTENCES."
        )
    return tokens


def _check_d_model(d_model: object) -> int:
    if isinstance(d_model, bool) or not isinstance(d_model, int):
        raise TypeError(
            f"d_model must be an int, got {type(d_model).__name__} {d_model!r}."
        )
    if d_model < 2 or d_model % 2:
        raise ValueError(
            f"d_model must be an even int >= 2 (sinusoidal positions use sin/cos "
            f"pairs), got d_model={d_model}. Hint: the explorer uses {D_MODEL}."
        )
    return d_model


def token_vector(token: str, d_model: int = D_MODEL) -> Tensor:
    """The token's own random vector ``(E,)``, seeded by the CRC-32 of its UTF-8 bytes.

    ``zlib.crc32`` is the same on every machine and every run, unlike Python's
    ``hash()``, which is salted per process for strings.
    """
    _check_d_model(d_model)
    seed = zlib.crc32(token.encode("utf-8"))
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(d_model, generator=generator)  # (E,)


def positional_encoding(length: int, d_model: int = D_MODEL) -> Tensor:
    """Sinusoidal positions ``(T, E)`` of the original transformer.

    ``PE[t, 2i] = sin(t / 10000^(2i/E))`` and ``PE[t, 2i+1] = cos(...)``.
    """
    _check_d_model(d_model)
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}.")
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    even = torch.arange(0, d_model, 2, dtype=torch.float32)  # (E/2,)
    angle = position / 10000.0 ** (even / d_model)  # (T, 1) / (E/2,) -> (T, E/2)
    encoding = torch.empty(length, d_model)
    encoding[:, 0::2] = angle.sin()
    encoding[:, 1::2] = angle.cos()
    return encoding  # (T, E)


def embed_tokens(tokens: Sequence[str], d_model: int = D_MODEL) -> Tensor:
    """Token vectors plus positions: ``T`` tokens -> ``(1, T, E)``, deterministic."""
    if isinstance(tokens, str):
        raise TypeError(
            f"embed_tokens expects a list of tokens, got the str {tokens!r}. "
            f"Hint: use embed_sentence(sentence) or tokenize(sentence) first."
        )
    tokens = list(tokens)
    if not tokens:
        raise ValueError("embed_tokens got no tokens. Hint: pass at least one.")
    vectors = torch.stack([token_vector(t, d_model) for t in tokens])  # (T, E)
    return (vectors + positional_encoding(len(tokens), d_model))[None]  # (1, T, E)


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}."
        )


def prepare_tokens(
    sentence: str, seq_len: int | None = None, mask: str = "none"
) -> tuple[list[str], int]:
    """Tokenize, keep the first ``seq_len`` tokens, pad when ``mask == "padding"``.

    Returns ``(tokens, n_real)``: with ``"padding"`` the tokens are padded with
    :data:`PAD` to :data:`PADDED_LENGTH` (or one more than ``n_real`` if that is
    longer), and ``n_real`` counts the real ones.
    """
    _check_choice("mask", mask, MASKS)
    tokens = tokenize(sentence)
    if seq_len is not None:
        if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
            raise ValueError(
                f"seq_len must be a positive int (tokens to keep), got {seq_len!r}. "
                f"Hint: the sentence has {len(tokens)} tokens; None keeps them all."
            )
        tokens = tokens[:seq_len]
    n_real = len(tokens)
    if mask == "padding":
        tokens = tokens + [PAD] * (max(PADDED_LENGTH, n_real + 1) - n_real)
    return tokens, n_real


def embed_sentence(
    sentence: str,
    seq_len: int | None = None,
    *,
    mask: str = "none",
    d_model: int = D_MODEL,
) -> tuple[list[str], Tensor]:
    """Tokens and their vectors: a sentence -> ``(tokens, x (1, T, E))``.

    ``seq_len`` keeps the first tokens; ``mask="padding"`` appends ``<pad>`` tokens
    (see :func:`prepare_tokens`). The same inputs give the same vectors everywhere.
    """
    tokens, _ = prepare_tokens(sentence, seq_len, mask)
    return tokens, embed_tokens(tokens, d_model)


# --- the layer and its weights ---------------------------------------------------


@functools.lru_cache(maxsize=32)
def _cached_layer(
    num_heads: int, d_model: int, seed: int, qk_gain: float
) -> MultiHeadAttention:
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # the same weights for every head count
    try:
        layer = MultiHeadAttention(d_model, num_heads).eval()
    finally:
        torch.random.set_rng_state(generator_state)  # leave the caller's RNG alone
    with torch.no_grad():
        layer.q_proj.weight.mul_(qk_gain)  # every score gets qk_gain**2 times larger
        layer.k_proj.weight.mul_(qk_gain)
    layer.requires_grad_(False)
    return layer


def explorer_layer(
    num_heads: int,
    d_model: int = D_MODEL,
    *,
    seed: int = SEED,
    qk_gain: float = QK_GAIN,
) -> MultiHeadAttention:
    """The explorer's fixed layer for ``num_heads`` heads, in eval mode, cached.

    Built as ``mha.MultiHeadAttention(d_model, num_heads)`` right after
    ``torch.manual_seed(seed)``, so every head count gets the same four ``(E, E)``
    matrices, then ``W^Q`` and ``W^K`` are multiplied by ``qk_gain``. The global
    random state is restored afterwards. The layer is shared between calls: do not
    change its weights.

    Raises:
        ValueError: ``num_heads`` does not divide ``d_model`` (the message lists the
            valid head counts), or ``qk_gain`` is not positive.
    """
    check_heads_divide(_check_d_model(d_model), num_heads, embed_name="d_model")
    if not isinstance(qk_gain, int | float) or not qk_gain > 0:
        raise ValueError(f"qk_gain must be a positive number, got {qk_gain!r}.")
    return _cached_layer(num_heads, d_model, seed, float(qk_gain))


def _check_temperature(temperature: object) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise TypeError(
            f"temperature must be a number, got {type(temperature).__name__}."
        )
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(
            f"temperature must be a positive finite number, got {temperature}. "
            f"Hint: 1.0 leaves the layer unchanged; smaller is sharper."
        )
    return float(temperature)


def explorer_masks(mask: str, length: int, n_real: int) -> dict[str, Tensor]:
    """The keyword masks for :func:`explorer_weights` (True = may NOT attend).

    ``"none"`` gives ``{}``; ``"causal"`` an ``attn_mask`` ``(T, T)``; ``"padding"``
    a ``key_padding_mask`` ``(1, T)`` that is True at positions ``>= n_real``.
    """
    _check_choice("mask", mask, MASKS)
    if not 1 <= n_real <= length:
        raise ValueError(
            f"n_real must be between 1 and the length {length}, got {n_real}."
        )
    if mask == "causal":
        return {"attn_mask": causal_mask(length)}  # (T, T)
    if mask == "padding":
        return {"key_padding_mask": (torch.arange(length) >= n_real)[None]}  # (1, S)
    return {}


def explorer_weights(
    layer: MultiHeadAttention,
    x: Tensor,
    *,
    temperature: float = 1.0,
    attn_mask: Tensor | None = None,
    key_padding_mask: Tensor | None = None,
) -> Tensor:
    """Per-head self-attention weights of ``layer``: ``x (B, T, E) -> (B, h, T, T)``.

    The temperature ``tau`` divides every score. The scores are linear in the
    queries, so dividing the query projection (``W^Q`` and ``b^Q``) by ``tau`` does
    exactly that: ``softmax((q / tau) k^T / sqrt(d_k))``. Masks follow
    ``nn.MultiheadAttention`` (True = NOT allowed).
    """
    tau = _check_temperature(temperature)
    if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != layer.embed_dim:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"explorer_weights expects x of shape (B, T, E={layer.embed_dim}), got "
            f"{shape}. Hint: embed_sentence returns x with a batch dimension."
        )
    projections = layer.projection_weights()
    # Temperature: dividing the queries by tau divides every score by tau.
    projections["w_q"] = projections["w_q"] / tau
    projections["b_q"] = projections["b_q"] / tau
    with torch.no_grad():
        _, weights = multi_head_attention(
            x,
            x,
            x,
            num_heads=layer.num_heads,
            **projections,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            average_attn_weights=False,
        )
    return weights  # (B, h, T, S)


# --- what the figure shows -----------------------------------------------------


def attention_entropy(weights: Tensor) -> Tensor:
    """Entropy in nats of every row of weights: ``(..., T, S) -> (..., T)``.

    ``H = -sum_j a_j log a_j`` with ``0 log 0 = 0``, so masked keys (weight 0) add
    nothing. It lies between 0 (one key) and ``log S`` (uniform over ``S`` keys).
    """
    if not isinstance(weights, Tensor) or not weights.is_floating_point():
        raise TypeError(
            "attention_entropy expects a floating-point tensor of weights, got "
            f"{type(weights).__name__}"
            + (f" of dtype {weights.dtype}" if isinstance(weights, Tensor) else "")
            + ". Hint: pass softmax outputs, e.g. weights.float()."
        )
    if weights.dim() < 1:
        raise ValueError("attention_entropy needs at least one key axis (..., S).")
    # 0.0 - x rather than -x, so that a one-key row gives 0.0 and not -0.0
    return 0.0 - torch.special.xlogy(weights, weights).sum(dim=-1)  # (..., S) -> (...)


def head_diversity(weights: Tensor) -> float:
    """Mean distance between the maps of two heads, ``(h, T, S) -> float`` in [0, 1].

    The distance of two heads is the total variation between their rows,
    ``0.5 * sum_j |a_j - b_j|`` (the fraction of attention that would have to move),
    averaged over the query rows; the result averages it over all pairs of heads.
    NaN for a single head: there is no pair.
    """
    if not isinstance(weights, Tensor) or weights.dim() != 3:
        shape = tuple(weights.shape) if isinstance(weights, Tensor) else None
        raise ValueError(
            f"head_diversity expects weights of shape (h, T, S), got {shape}. "
            f"Hint: pass weights[0] for the first batch element."
        )
    h = weights.shape[0]
    if h == 1:
        return float("nan")
    gaps = (weights[:, None] - weights[None]).abs()  # (h, 1, T, S) - (1, h, T, S)
    distance = 0.5 * gaps.sum(dim=-1).mean(dim=-1)  # (h, h, T, S) -> (h, h)
    return float(distance.sum() / (h * (h - 1)))  # the diagonal is 0


def distinct_targets(weights: Tensor) -> Tensor:
    """How many different keys the rows of each head peak on: ``(h, T, S) -> (h,)``.

    A head whose queries all look at the same key scores 1.
    """
    top = weights.argmax(dim=-1)  # (h, T, S) -> (h, T)
    return torch.tensor([len(set(row.tolist())) for row in top])  # (h,)


def score_macs(batch: int, q_len: int, k_len: int, d_model: int, num_heads: int) -> int:
    """Multiply-adds of ``Q K^T`` over all heads: ``h * (B T S d_k) = B T S E``."""
    d_k = check_heads_divide(d_model, num_heads, embed_name="d_model")
    return num_heads * batch * q_len * k_len * d_k


def head_label(num_heads: int) -> str:
    """``1 -> "1 head"``, ``8 -> "8 heads"``: the static slider's option names."""
    return f"{num_heads} head" + ("" if num_heads == 1 else "s")


@dataclass(frozen=True)
class View:
    """One setting of the explorer's controls."""

    num_heads: int = 8
    sentence: str = SENTENCES[0]
    seq_len: int = 10
    temperature: float = 1.0
    mask: str = "none"


@dataclass(frozen=True)
class ViewData:
    """What :func:`draw_explorer` draws for a :class:`View`.

    ``weights`` ``(h, T, S)`` (``S == T``, float32, CPU); ``entropy`` ``(h,)`` is the
    mean row entropy of each head over the real (non-pad) queries; ``max_entropy`` is
    the same mean for uniform weights over the keys each query may see, the ceiling
    of ``entropy``.
    """

    view: View
    tokens: list[str]
    n_real: int
    weights: Tensor
    entropy: Tensor
    max_entropy: float
    masks: dict[str, Tensor] = field(default_factory=dict)

    @property
    def num_heads(self) -> int:
        return self.weights.shape[0]

    @property
    def head_dim(self) -> int:
        return D_MODEL // self.num_heads


def compute_view(view: View) -> ViewData:
    """Embed the view's sentence, run its layer, measure the heads. Cheap (< 1 ms)."""
    if not isinstance(view, View):
        raise TypeError(
            f"compute_view expects an mha.explorer.View, got {type(view).__name__}. "
            f"Hint: View(num_heads=8, mask='causal')."
        )
    layer = explorer_layer(view.num_heads)
    tokens, n_real = prepare_tokens(view.sentence, view.seq_len, view.mask)
    x = embed_tokens(tokens)  # (1, T, E)
    masks = explorer_masks(view.mask, len(tokens), n_real)
    weights = explorer_weights(layer, x, temperature=view.temperature, **masks)[0]
    allowed = torch.ones(len(tokens), len(tokens), dtype=torch.bool)  # (T, S)
    for mask in masks.values():
        allowed &= ~mask  # (T, S) or (1, S) broadcast
    ceiling = allowed[:n_real].sum(dim=-1).double().log().mean().item()
    entropy = attention_entropy(weights[:, :n_real]).mean(dim=-1)  # (h, T) -> (h,)
    return ViewData(view, tokens, n_real, weights, entropy, ceiling, masks)


@dataclass(frozen=True)
class SweepRow:
    """What the heads look like at one head count, averaged over sentences."""

    num_heads: int
    head_dim: int
    mean_entropy: float  # mean over heads of a head's mean row entropy
    entropy_spread: float  # standard deviation of that entropy across heads
    average_map_entropy: float  # row entropy of the head-averaged map
    diversity: float  # head_diversity, NaN for one head
    distinct_targets: float  # mean over heads
    parameters: int
    max_entropy: float


def head_count_sweep(
    head_counts: Sequence[int] = HEAD_COUNTS,
    sentences: Sequence[str] = SENTENCES,
    seq_len: int = 10,
    temperature: float = 1.0,
) -> list[SweepRow]:
    """Measure the heads at every head count, averaged over ``sentences``."""
    rows = []
    for h in head_counts:
        stats = []
        for sentence in sentences:
            data = compute_view(View(h, sentence, seq_len, temperature, "none"))
            w = data.weights  # (h, T, S)
            stats.append(
                (
                    data.entropy.mean().item(),
                    data.entropy.std(unbiased=False).item(),
                    attention_entropy(w.mean(dim=0)).mean().item(),
                    head_diversity(w),
                    distinct_targets(w).double().mean().item(),
                    data.max_entropy,
                )
            )
        means = np.mean(np.array(stats), axis=0)
        layer = explorer_layer(h)
        rows.append(
            SweepRow(
                h,
                D_MODEL // h,
                *(float(m) for m in means[:5]),
                parameters=sum(p.numel() for p in layer.parameters()),
                max_entropy=float(means[5]),
            )
        )
    return rows


# --- the figure ------------------------------------------------------------------


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


def render_frame(view: View, dpi: int = FRAME_DPI) -> bytes:
    """The view's figure as PNG bytes, drawn off-screen (Agg, no pyplot state).

    At the default ``dpi`` a frame is 900 x 500 pixels. The image is reduced to a
    256-colour palette (about 20 KB instead of 60 KB): the maps use one colormap, so
    nothing visible is lost, and a page that embeds one frame per head count stays
    light.
    """
    from PIL import Image  # a dependency of matplotlib

    if not isinstance(dpi, int) or not 20 <= dpi <= 400:
        raise ValueError(f"dpi must be an int between 20 and 400, got {dpi!r}.")
    figure = Figure(figsize=FIGSIZE, dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    draw_explorer(compute_view(view), figure)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    buffer = io.BytesIO()
    rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(buffer, "PNG")
    return buffer.getvalue()


# --- widgets -----------------------------------------------------------------------


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


def build_static_explorer(
    view: View | None = None, head_counts: Sequence[int] = HEAD_COUNTS
) -> ipywidgets.VBox:
    """A head-count slider over pre-rendered frames; works with no kernel at all.

    One PNG per head count (the rest of ``view`` fixed) goes into an ``Image``; the
    images are the pages of a ``Tab`` titled with the head counts, and a
    ``SelectionSlider`` over ``"1 head"``, ``"2 heads"``, ... has its ``index``
    ``jslink``-ed to the tab's ``selected_index``. A jslink runs in the browser, so
    the embedded widget state of a static HTML page still switches the frames.
    The returned box also has ``.slider``, ``.tab`` and ``.link`` (the jslink).

    Raises:
        ValueError: a head count does not divide 64, or there is none.
    """
    import ipywidgets as widgets

    view = View() if view is None else view
    counts = list(head_counts)
    if not counts:
        raise ValueError("build_static_explorer needs at least one head count.")
    for h in counts:
        check_heads_divide(D_MODEL, h, embed_name="d_model")
    start = counts.index(view.num_heads) if view.num_heads in counts else 0
    images = []
    for h in counts:
        frame = render_frame(dataclasses.replace(view, num_heads=h))
        size = widgets.Layout(width="100%", max_width="900px", height="auto")
        images.append(widgets.Image(value=frame, format="png", layout=size))
    tab = widgets.Tab(children=images)
    for i, h in enumerate(counts):
        tab.set_title(i, f"h = {h}")
    tab.selected_index = start
    labels = [head_label(h) for h in counts]
    slider = widgets.SelectionSlider(
        options=labels,
        value=labels[start],
        description="head count (works on this page)",
        style={"description_width": "initial"},
        layout=widgets.Layout(width="520px"),
    )
    link = widgets.jslink((slider, "index"), (tab, "selected_index"))
    box = widgets.VBox([slider, tab])
    box.slider, box.tab, box.link = slider, tab, link
    return box
