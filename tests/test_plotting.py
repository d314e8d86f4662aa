"""mha.plotting draws labelled attention maps and rejects bad input clearly."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes

from mha.plotting import MAX_WIDTH, plot_attention, plot_heads

QUERIES = ["flying animal", "flies", "machine"]
KEYS = ["cat", "bird", "plane", "car"]
WORDS = ["the", "cat", "sat", "on", "mat"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def weights(*shape: int, seed: int = 0) -> torch.Tensor:
    """Rows that sum to 1, like real attention weights."""
    generator = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(*shape, generator=generator), dim=-1)


def tick_texts(labels) -> list[str]:
    return [label.get_text() for label in labels]


def heatmaps(fig) -> list[Axes]:
    """The axes that hold a heatmap (colorbar axes hold none)."""
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


# ------------------------------------------------------------------ plot_attention


def test_tick_labels_are_the_tokens():
    ax = plot_attention(weights(3, 4), QUERIES, KEYS)
    assert tick_texts(ax.get_xticklabels()) == KEYS
    assert tick_texts(ax.get_yticklabels()) == QUERIES


def test_key_tokens_default_to_query_tokens_for_self_attention():
    ax = plot_attention(weights(5, 5), WORDS)
    assert tick_texts(ax.get_xticklabels()) == WORDS
    assert tick_texts(ax.get_yticklabels()) == WORDS


def test_without_tokens_ticks_are_positions():
    ax = plot_attention(weights(2, 3))
    assert tick_texts(ax.get_xticklabels()) == ["0", "1", "2"]
    assert tick_texts(ax.get_yticklabels()) == ["0", "1"]


def test_axis_labels_name_query_and_key_with_their_lengths():
    ax = plot_attention(weights(3, 4), QUERIES, KEYS)
    assert ax.get_xlabel() == "key (S = 4)"
    assert ax.get_ylabel() == "query (T = 3)"


def test_colorbar_exists_and_is_labelled():
    ax = plot_attention(weights(3, 4), QUERIES, KEYS)
    colorbar = ax.images[0].colorbar
    assert colorbar is not None
    assert colorbar.ax.get_ylabel() == "attention weight"
    assert len(ax.figure.axes) == 2


def test_colorbar_can_be_left_out():
    ax = plot_attention(weights(3, 4), colorbar=False)
    assert ax.images[0].colorbar is None
    assert len(ax.figure.axes) == 1


def test_title_default_and_custom():
    assert plot_attention(weights(2, 2)).get_title() == "attention weights"
    assert plot_attention(weights(2, 2), title="head 3").get_title() == "head 3"


def test_image_holds_the_weights_and_scale_starts_at_zero():
    w = weights(3, 4)
    ax = plot_attention(w)
    image = ax.images[0]
    np.testing.assert_allclose(image.get_array(), w.numpy(), rtol=0, atol=0)
    assert image.norm.vmin == 0.0
    assert image.norm.vmax == pytest.approx(w.max().item())
    assert image.get_cmap().name == "viridis"


def test_vmax_and_cmap_are_honoured():
    ax = plot_attention(weights(3, 4), vmax=1.0, cmap="cividis")
    assert ax.images[0].norm.vmax == 1.0
    assert ax.images[0].get_cmap().name == "cividis"


def test_draws_on_the_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    returned = plot_attention(weights(3, 4), QUERIES, KEYS, ax=right)
    assert returned is right
    assert right.images and not left.images


def test_accepts_tensors_with_grad_half_bool_and_numpy():
    with_grad = weights(3, 4).requires_grad_()
    for w in [
        with_grad,
        with_grad.half(),
        with_grad > 0.25,
        with_grad.detach().numpy(),
    ]:
        ax = plot_attention(w, QUERIES, KEYS)
        expected = np.asarray(torch.as_tensor(w).detach().float())
        np.testing.assert_allclose(ax.images[0].get_array(), expected)


def test_annotations_show_each_weight_in_a_readable_colour():
    w = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    ax = plot_attention(w, annotate=True, vmax=1.0)
    texts = {(t.get_position(), t.get_text()): t.get_color() for t in ax.texts}
    assert [t.get_text() for t in ax.texts] == ["0.00", "1.00", "0.50", "0.50"]
    # viridis is dark purple at 0 and yellow at 1: white text on dark, black on light
    assert texts[((0, 0), "0.00")] == "white"
    assert texts[((1, 0), "1.00")] == "black"


def test_nan_cells_are_marked():
    w = weights(2, 3)
    w[1] = float("nan")  # a fully masked row
    ax = plot_attention(w, annotate=True)
    assert [t.get_text() for t in ax.texts][3:] == ["nan", "nan", "nan"]
    assert ax.images[0].norm.vmax == pytest.approx(w[0].max().item())


def test_no_annotations_unless_asked():
    assert len(plot_attention(weights(3, 4)).texts) == 0


# ---------------------------------------------------------------------- plot_heads


def test_plot_heads_has_one_axes_per_head_and_one_shared_colorbar():
    fig = plot_heads(weights(6, 5, 5), WORDS)
    assert len(heatmaps(fig)) == 6
    assert len(fig.axes) == 6 + 1
    colorbar_axes = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbar_axes) == 1
    assert colorbar_axes[0].get_ylabel() == "attention weight"
    # one colour scale: every head's image uses the very same norm
    assert len({id(ax.images[0].norm) for ax in heatmaps(fig)}) == 1


def test_plot_heads_shared_scale_spans_all_heads():
    w = weights(3, 4, 4)
    fig = plot_heads(w)
    for ax in heatmaps(fig):
        assert ax.images[0].norm.vmin == 0.0
        assert ax.images[0].norm.vmax == pytest.approx(w.max().item())


def test_plot_heads_own_scales_give_one_colorbar_per_head():
    w = weights(3, 4, 4)
    fig = plot_heads(w, share_scale=False)
    assert len(fig.axes) == 3 + 3
    assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 3
    for i, ax in enumerate(heatmaps(fig)):
        assert ax.images[0].norm.vmax == pytest.approx(w[i].max().item())
        assert ax.images[0].colorbar is not None


def test_plot_heads_titles_default_custom_and_suptitle():
    fig = plot_heads(weights(3, 4, 4))
    assert [ax.get_title() for ax in heatmaps(fig)] == ["head 0", "head 1", "head 2"]
    assert fig.get_suptitle() == "attention weights of 3 heads"
    fig = plot_heads(weights(2, 4, 4), titles=["prev", "self"], suptitle="layer 1")
    assert [ax.get_title() for ax in heatmaps(fig)] == ["prev", "self"]
    assert fig.get_suptitle() == "layer 1"


def test_plot_heads_grid_labels_only_the_outer_panels():
    fig = plot_heads(weights(6, 5, 5), WORDS, ncols=4)  # 2 rows: 4 panels, then 2
    axes = heatmaps(fig)
    for i, ax in enumerate(axes):
        first_column, nothing_below = i % 4 == 0, i + 4 >= 6
        expected_y = WORDS if first_column else []
        expected_x = WORDS if nothing_below else []
        assert tick_texts(ax.get_yticklabels()) == expected_y, i
        assert tick_texts(ax.get_xticklabels()) == expected_x, i
        assert ax.get_ylabel() == ("query (T = 5)" if first_column else ""), i
        assert ax.get_xlabel() == ("key (S = 5)" if nothing_below else ""), i
    positions = [ax.get_subplotspec().get_geometry()[:2] for ax in axes]
    assert set(positions) == {(2, 4)}


def test_plot_heads_cross_attention_tokens():
    fig = plot_heads(weights(2, 3, 4), QUERIES, KEYS)
    first = heatmaps(fig)[0]
    assert tick_texts(first.get_yticklabels()) == QUERIES
    assert tick_texts(first.get_xticklabels()) == KEYS


def grid_shape(fig) -> tuple[int, int]:
    """(rows, columns) of the grid the heads' panels sit in."""
    return heatmaps(fig)[0].get_subplotspec().get_geometry()[:2]


@pytest.mark.parametrize(
    ("h", "grid"),
    [
        (1, (1, 1)),
        (2, (1, 2)),
        (3, (1, 3)),
        (4, (2, 2)),
        (6, (2, 3)),
        (8, (2, 4)),
        (16, (4, 4)),
    ],
)
def test_plot_heads_default_grid(h, grid):
    assert grid_shape(plot_heads(weights(h, 5, 5), WORDS)) == grid


@pytest.mark.parametrize("h", [1, 2, 3, 4, 6, 8, 16])
@pytest.mark.parametrize("t", [3, 6, 12, 32])
@pytest.mark.parametrize("share_scale", [True, False])
def test_plot_heads_is_at_most_max_width_inches_wide(h, t, share_scale):
    fig = plot_heads(weights(h, t, t), share_scale=share_scale)
    fig.canvas.draw()
    # what the page shows: the drawn extent, as savefig(bbox_inches="tight") crops it
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())
    assert MAX_WIDTH <= 7.0
    assert fig.get_size_inches()[0] <= MAX_WIDTH + 1e-9, h
    assert drawn.width <= MAX_WIDTH + 0.05, (h, t, drawn.width)


@pytest.mark.parametrize("h", [2, 3, 4, 8])
def test_plot_heads_title_clears_the_panel_titles(h):
    words = [*WORDS, "now"]  # six tokens
    fig = plot_heads(weights(h, 6, 6), words, suptitle="a long title " * 3)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top = fig._suptitle.get_window_extent(renderer)
    for ax in heatmaps(fig):
        title = ax.title.get_window_extent(renderer)
        assert title.y1 < top.y0, (h, ax.get_title())  # below the figure's title
        assert not title.overlaps(top)


def test_plot_heads_vmax_sets_a_common_top_for_the_scale():
    fig = plot_heads(weights(2, 4, 4), vmax=1.0)
    assert {ax.images[0].norm.vmax for ax in heatmaps(fig)} == {1.0}
    fig = plot_heads(weights(2, 4, 4), vmax=1.0, share_scale=False)
    assert {ax.images[0].norm.vmax for ax in heatmaps(fig)} == {1.0}


def test_plot_heads_turns_key_labels_that_would_not_fit_their_cells():
    wide = heatmaps(plot_heads(weights(2, 5, 5), WORDS))[0]
    narrow = heatmaps(plot_heads(weights(8, 5, 5), WORDS))[-1]
    assert {label.get_rotation() for label in wide.get_xticklabels()} == {0.0}
    assert {label.get_rotation() for label in narrow.get_xticklabels()} == {45.0}


# -------------------------------------------------------------------------- errors


def raises_before_drawing(func, *args, error=ValueError, **kwargs) -> str:
    """Call func, expect `error`, check no figure was made; return the message."""
    before = plt.get_fignums()
    with pytest.raises(error) as info:
        func(*args, **kwargs)
    assert plt.get_fignums() == before, "a figure was created before the check"
    message = str(info.value)
    assert "Hint:" in message
    return message


@pytest.mark.parametrize(
    ("shape", "hint"),
    [
        ((4,), "rows are queries"),
        ((2, 3, 4), "plot_heads"),
        ((1, 2, 3, 4), "weights[b, i]"),
    ],
)
def test_plot_attention_wrong_rank(shape, hint):
    message = raises_before_drawing(plot_attention, torch.rand(shape))
    assert "2-D (T, S)" in message
    assert f"{len(shape)}-D" in message
    assert "(" + ", ".join(map(str, shape)) + ")" in message
    assert hint in message


@pytest.mark.parametrize(
    ("shape", "hint"), [((3, 4), "plot_attention"), ((1, 2, 3, 4), "weights[b]")]
)
def test_plot_heads_wrong_rank(shape, hint):
    message = raises_before_drawing(plot_heads, torch.rand(shape))
    assert "3-D (h, T, S)" in message
    assert f"{len(shape)}-D" in message
    assert hint in message


def test_query_tokens_count_must_match_rows():
    message = raises_before_drawing(plot_attention, weights(3, 4), ["a", "b"], KEYS)
    assert "query_tokens has 2 entries but the map has 3 query rows" in message
    assert "T = 3" in message and "(3, 4)" in message


def test_key_tokens_count_must_match_columns():
    message = raises_before_drawing(plot_attention, weights(3, 4), QUERIES, ["a"])
    assert "key_tokens has 1 entry but the map has 4 key columns" in message
    assert "S = 4" in message


def test_cross_attention_without_key_tokens_says_to_pass_them():
    message = raises_before_drawing(plot_attention, weights(3, 4), QUERIES)
    assert "used for the keys because key_tokens is None" in message
    assert "pass key_tokens" in message


def test_plot_heads_tokens_and_titles_counts():
    message = raises_before_drawing(plot_heads, weights(2, 5, 5), WORDS[:4])
    assert "tokens has 4 entries but the map has 5 query rows" in message
    message = raises_before_drawing(plot_heads, weights(2, 5, 5), titles=["only one"])
    assert "titles has 1 entry but the map has 2 heads" in message
    assert "one title per head (h = 2)" in message


def test_plot_heads_ncols_must_be_positive():
    message = raises_before_drawing(plot_heads, weights(2, 3, 3), ncols=0)
    assert "ncols must be a positive int; got ncols=0" in message


def test_a_single_string_of_tokens_is_refused():
    message = raises_before_drawing(
        plot_attention, weights(3, 3), "the cat sat", error=TypeError
    )
    assert "single string 'the cat sat'" in message
    assert ".split()" in message


def test_non_numeric_weights_are_refused():
    message = raises_before_drawing(plot_attention, "weights", error=TypeError)
    assert "torch.Tensor or numpy array" in message and "got str" in message


def test_empty_map_is_refused():
    message = raises_before_drawing(plot_attention, torch.zeros(0, 4))
    assert "empty map of shape (0, 4)" in message


def test_vmin_must_be_below_vmax():
    message = raises_before_drawing(plot_attention, weights(2, 2), vmin=1.0, vmax=0.5)
    assert "vmin must be below vmax" in message
