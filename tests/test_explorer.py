"""mha.explorer: deterministic inputs, honest weights, every head count drawn, and
widgets wired the same way on ipywidgets 7.7.1 and 8."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.testing import assert_close  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import mha  # noqa: E402
from mha import explorer as ex  # noqa: E402
from mha.explorer import model  # noqa: E402

VALID_HEADS = "1, 2, 4, 8, 16, 32, 64"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def widgets():
    return pytest.importorskip("ipywidgets")


# --- input -------------------------------------------------------------------------


def test_tokenize_lowercases_and_splits_on_whitespace():
    assert ex.tokenize("  The cat\tSAT \n") == ["the", "cat", "sat"]


def test_same_word_same_vector_in_every_sentence():
    _, a = ex.embed_sentence("the cat sat on the mat")
    _, b = ex.embed_sentence("a cat")
    pe = ex.positional_encoding(6)
    cat_a = a[0, 1] - pe[1]  # token vector of "cat" in sentence a
    cat_b = b[0, 1] - pe[1]
    assert_close(cat_a, cat_b)
    assert_close(cat_a, ex.token_vector("cat"))
    # the two "the" differ by their positions only
    assert_close(a[0, 0] - a[0, 4], pe[0] - pe[4])
    assert not torch.equal(a[0, 0], a[0, 4])


def test_embedding_is_deterministic_across_processes():
    """crc32, not Python's salted hash(): another process gets the same vector."""
    code = (
        "from mha.explorer import embed_sentence;"
        "print(repr(embed_sentence('the cat sat')[1].sum().item()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    here = ex.embed_sentence("the cat sat")[1].sum().item()
    assert float(out.stdout.strip()) == here


def test_embed_sentence_shapes_truncation_and_padding():
    tokens, x = ex.embed_sentence(ex.SENTENCES[1], 5)
    assert tokens == ex.SENTENCES[1].split()[:5] and x.shape == (1, 5, ex.D_MODEL)
    tokens, x = ex.embed_sentence(ex.SENTENCES[0], 4, mask="padding")
    assert len(tokens) == ex.PADDED_LENGTH and x.shape == (1, ex.PADDED_LENGTH, 64)
    assert tokens[4:] == [ex.PAD] * (ex.PADDED_LENGTH - 4)
    tokens, _ = ex.embed_sentence(ex.SENTENCES[1], None, mask="padding")
    assert tokens[-1] == ex.PAD  # always at least one pad to mask


def test_positional_encoding_values():
    pe = ex.positional_encoding(3, 8)
    assert pe.shape == (3, 8)
    assert_close(pe[0], torch.tensor([0.0, 1.0] * 4))
    assert_close(pe[2, 0], torch.tensor(math.sin(2.0)))
    assert_close(pe[1, 7], torch.tensor(math.cos(1 / 10000 ** (6 / 8))))


# --- the layer and its weights -----------------------------------------------------


def test_every_head_count_gets_the_same_weights_and_parameters():
    ref = ex.explorer_layer(1)
    count = sum(p.numel() for p in ref.parameters())
    assert count == 4 * 64**2 + 4 * 64
    for h in ex.HEAD_COUNTS:
        layer = ex.explorer_layer(h)
        assert layer.num_heads == h and layer.head_dim == 64 // h
        assert layer.q_proj.weight.shape == (64, 64)
        assert sum(p.numel() for p in layer.parameters()) == count
        for a, b in zip(layer.parameters(), ref.parameters(), strict=True):
            assert torch.equal(a, b)
    assert ex.explorer_layer(8) is ex.explorer_layer(8)  # cached


def test_layer_is_seeded_default_init_with_scaled_queries_and_keys():
    torch.manual_seed(ex.SEED)
    plain = mha.MultiHeadAttention(64, 8)
    layer = ex.explorer_layer(8)
    assert_close(layer.q_proj.weight, ex.QK_GAIN * plain.q_proj.weight)
    assert_close(layer.k_proj.weight, ex.QK_GAIN * plain.k_proj.weight)
    assert_close(layer.v_proj.weight, plain.v_proj.weight)
    assert_close(layer.q_proj.bias, plain.q_proj.bias)  # biases untouched


def test_building_a_layer_leaves_the_global_rng_alone():
    model._cached_layer.cache_clear()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ex.explorer_layer(16)
    assert torch.equal(torch.rand(3), expected)


def test_weights_match_pytorch_at_temperature_one():
    layer = ex.explorer_layer(4)
    _, x = ex.embed_sentence(ex.SENTENCES[2])
    ours = ex.explorer_weights(layer, x)  # (1, h, T, T)
    with torch.no_grad():
        _, theirs = layer.to_torch().eval()(x, x, x, average_attn_weights=False)
    assert ours.shape == (1, 4, x.shape[1], x.shape[1])
    assert_close(ours, theirs)


@pytest.mark.parametrize("tau", [0.25, 1.0, 4.0])
def test_temperature_divides_every_score(tau):
    layer = ex.explorer_layer(8)
    _, x = ex.embed_sentence(ex.SENTENCES[0])
    with torch.no_grad():
        q = mha.split_heads(layer.q_proj(x), 8)  # (1, h, T, d_k)
        k = mha.split_heads(layer.k_proj(x), 8)
    expected = torch.softmax(mha.attention_scores(q, k) / tau, dim=-1)
    assert_close(ex.explorer_weights(layer, x, temperature=tau), expected)


def test_lower_temperature_is_sharper():
    entropies = [
        ex.compute_view(ex.View(temperature=t)).entropy.mean().item()
        for t in ex.TEMPERATURES
    ]
    assert entropies == sorted(entropies)  # TEMPERATURES increase


PRODUCT = list(
    itertools.product(ex.HEAD_COUNTS, ex.SENTENCES, ex.MASKS, (2, 12), (0.25, 4.0))
)


@pytest.mark.parametrize("h, sentence, mask, seq_len, tau", PRODUCT[::7])
def test_weights_are_distributions_that_respect_the_mask(
    h, sentence, mask, seq_len, tau
):
    data = ex.compute_view(ex.View(h, sentence, seq_len, tau, mask))
    w = data.weights  # (h, T, S)
    T = len(data.tokens)
    assert w.shape == (h, T, T) and data.entropy.shape == (h,)
    assert_close(w.sum(dim=-1), torch.ones(h, T))
    assert (w >= 0).all()
    if mask == "causal":
        assert (w[:, data.masks["attn_mask"]] == 0).all()
        assert torch.equal(w[:, 0, 0], torch.ones(h))  # query 0 sees itself only
    if mask == "padding":
        assert data.n_real < T and (w[..., data.n_real :] == 0).all()
    # entropies between 0 and the uniform ceiling, which is at most log S
    assert (data.entropy >= -1e-6).all()
    assert (data.entropy <= data.max_entropy + 1e-5).all()
    assert data.max_entropy <= math.log(T) + 1e-9


def test_entropy_ceiling_is_the_uniform_entropy_over_allowed_keys():
    data = ex.compute_view(ex.View(mask="causal", seq_len=5))
    assert data.max_entropy == pytest.approx(sum(math.log(i + 1) for i in range(5)) / 5)
    data = ex.compute_view(ex.View(mask="padding", seq_len=6))
    assert data.max_entropy == pytest.approx(math.log(6))


def test_head_count_changes_the_per_head_maps():
    maps = {h: ex.compute_view(ex.View(num_heads=h)).weights for h in ex.HEAD_COUNTS}
    for a, b in itertools.pairwise(ex.HEAD_COUNTS):
        assert not torch.allclose(maps[a][0], maps[b][0], atol=1e-3)
    for h in ex.HEAD_COUNTS[1:]:
        assert not torch.allclose(maps[h][0], maps[h][1], atol=1e-3)


def test_one_dimensional_heads_point_at_two_keys_at_most():
    """d_k = 1: the scores q_t k_s have rank 1, so each row peaks at max k or min k."""
    for sentence in ex.SENTENCES:
        data = ex.compute_view(ex.View(64, sentence, 12))
        assert (ex.distinct_targets(data.weights) <= 2).all()


# --- measures ----------------------------------------------------------------------


def test_attention_entropy_bounds_and_masked_zeros():
    uniform = torch.full((3, 7), 1 / 7)
    assert_close(ex.attention_entropy(uniform), torch.full((3,), math.log(7)))
    one_hot = torch.eye(5)
    assert torch.equal(ex.attention_entropy(one_hot), torch.zeros(5))
    masked = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    assert_close(ex.attention_entropy(masked), torch.tensor([math.log(2)]))


def test_head_diversity_extremes():
    w = torch.softmax(torch.randn(1, 4, 4), dim=-1)
    assert math.isnan(ex.head_diversity(w))  # one head: no pair
    assert ex.head_diversity(w.expand(3, 4, 4)) == pytest.approx(0.0)
    apart = torch.stack([torch.eye(4), torch.eye(4).roll(1, dims=-1)])
    assert ex.head_diversity(apart) == pytest.approx(1.0)


def test_distinct_targets_counts_argmax_keys():
    w = torch.tensor([[[0.9, 0.1], [0.8, 0.2]], [[0.9, 0.1], [0.2, 0.8]]])
    assert ex.distinct_targets(w).tolist() == [1, 2]


@pytest.mark.parametrize("h", ex.HEAD_COUNTS)
def test_score_macs_are_the_same_for_every_head_count(h):
    B, T, S = 2, 12, 9
    assert ex.score_macs(B, T, S, 64, h) == B * T * S * 64
    q = torch.randn(B, h, T, 64 // h)
    k = torch.randn(B, h, S, 64 // h)
    with FlopCounterMode(display=False) as counter:
        mha.attention_scores(q, k)
    assert counter.get_total_flops() == 2 * ex.score_macs(B, T, S, 64, h)


def test_sweep_rows():
    rows = ex.head_count_sweep()
    assert [r.num_heads for r in rows] == list(ex.HEAD_COUNTS)
    assert [r.head_dim for r in rows] == [64 // h for h in ex.HEAD_COUNTS]
    assert len({r.parameters for r in rows}) == 1
    assert rows[0].entropy_spread == 0 and math.isnan(rows[0].diversity)
    assert rows[-1].distinct_targets <= 2
    for r in rows:
        assert 0 <= r.mean_entropy <= r.max_entropy + 1e-6
        assert r.mean_entropy <= r.average_map_entropy + 1e-6  # concavity
    # averaging more heads flattens the averaged map
    assert rows[-1].average_map_entropy > rows[0].average_map_entropy


# --- figures -----------------------------------------------------------------------


@pytest.mark.parametrize("h", ex.HEAD_COUNTS)
def test_every_head_count_renders(h):
    data = ex.compute_view(ex.View(num_heads=h, mask="causal"))
    fig = ex.draw_explorer(data)
    fig.canvas.draw()
    heads_ax, mean_ax, bars_ax, colorbar_ax = fig.axes
    assert len(heads_ax.images) == min(h, ex.MAX_PANELS)
    assert len(bars_ax.patches) == h  # every head's entropy, shown or not
    titles = [t.get_text() for t in heads_ax.texts if t.get_text().startswith("head")]
    assert titles == [f"head {i}" for i in range(min(h, ex.MAX_PANELS))]
    labels = {t.get_text() for t in heads_ax.texts}
    assert set(data.tokens) <= labels  # tokens on the axes
    assert [t.get_text() for t in mean_ax.get_yticklabels()] == data.tokens
    shown = heads_ax.images[0].get_array()
    assert shown.mask[0, 1] and not shown.mask[1, 0]  # masked keys drawn grey
    notes = [t.get_text() for t in fig.texts]
    assert any("heads 0-7" in t for t in notes) == (h > ex.MAX_PANELS)


# --- widgets -----------------------------------------------------------------------


def test_page_data_is_the_layer_and_the_inputs_compute_view_uses():
    data = ex.explorer_data()
    layer = ex.explorer_layer(8)
    weights = layer.projection_weights()
    for name in ("w_q", "b_q", "w_k", "b_k"):
        exported = torch.tensor(data[name], dtype=torch.float32)
        assert torch.equal(exported, weights[name])  # exact float32 round trip
    for sentence in ex.SENTENCES:
        tokens = ex.tokenize(sentence)
        x = ex.embed_tokens(tokens)[0]  # (T, E)
        rebuilt = torch.tensor([data["vectors"][t] for t in tokens]) + torch.tensor(
            data["positions"][: len(tokens)]
        )
        assert torch.equal(rebuilt, x)
    assert ex.PAD in data["vectors"]
    assert len(data["positions"]) == ex.PADDED_LENGTH
    assert data["head_counts"] == list(ex.HEAD_COUNTS)
    assert len(data["viridis"]) == 256


def test_page_explorer_is_one_self_contained_block():
    block = ex.page_explorer(ex.View(num_heads=4, mask="causal")).html()
    assert block.startswith('<div class="mha-explorer"') and block.endswith("</div>")
    for fetch in ("src=", "href=", "fetch(", "XMLHttpRequest", "import("):
        assert fetch not in block  # nothing is loaded from anywhere
    for name in ("num_heads", "sentence", "seq_len", "temperature", "mask"):
        assert f'name="{name}"' in block
    assert block.count("<label") >= 4 + len(ex.MASKS)  # every control is labelled
    assert 'value="2" checked' not in block and 'value="causal" checked' in block
    assert ex.page_explorer()._repr_html_().count("mhaExplorer") >= 1
    assert len(block) < 400_000  # the page stays light


def test_page_explorer_labels_can_be_replaced():
    block = ex.page_explorer(labels={"num_heads": "头数 h"}).html()
    assert "头数 h" in block and "heads h</label>" not in block


def test_live_explorer_calls_back_on_every_control():
    widgets()
    calls = []
    box = ex.build_explorer(callback=lambda **kw: calls.append(kw))
    assert calls == [{"num_heads": 8, "sentence": ex.SENTENCES[0], "seq_len": 10,
                      "temperature": 1.0, "mask": "none"}]  # fmt: skip
    new = {"num_heads": 32, "sentence": ex.SENTENCES[3], "seq_len": 3,
           "temperature": 0.25, "mask": "padding"}  # fmt: skip
    for name, value in new.items():
        box.controls[name].value = value
        assert calls[-1][name] == value
    assert calls[-1] == new and len(calls) == 1 + len(new)


def test_live_explorer_draws_every_option_of_every_control(capsys, monkeypatch):
    """The real callback, through the widget, for each option of each control: each
    change shows one PNG and leaves no figure open (none stack up)."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    widgets()
    box = ex.build_explorer()
    plt.close("all")
    options = {
        "num_heads": ex.HEAD_COUNTS,
        "sentence": ex.SENTENCES,
        "seq_len": range(2, 13, 3),
        "temperature": ex.TEMPERATURES,
        "mask": ex.MASKS,
    }
    drawn = 0
    for name, values in options.items():
        for value in values:
            if box.controls[name].value == value:
                continue
            before = len(shown)
            box.controls[name].value = value
            drawn += 1
            assert len(shown) == before + 1, f"{name}={value!r} showed no figure"
            assert shown[-1].data.startswith(b"\x89PNG"), "not a PNG"
            assert plt.get_fignums() == [], f"{name}={value!r} left a figure open"
    assert drawn >= 20
    assert "parameters, the same for every h" in capsys.readouterr().out


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: ex.explorer_layer(3), ValueError, ["num_heads=3", VALID_HEADS]),
        (lambda: ex.compute_view(ex.View(num_heads=5)), ValueError, [VALID_HEADS]),
        (lambda: ex.compute_view(ex.View(mask="diagonal")), ValueError,
         ["'none', 'causal', 'padding'", "'diagonal'"]),
        (lambda: ex.compute_view(ex.View(seq_len=0)), ValueError,
         ["seq_len", "Hint"]),
        (lambda: ex.compute_view(ex.View(temperature=0.0)), ValueError,
         ["positive", "Hint"]),
        (lambda: ex.compute_view(ex.View(temperature=float("nan"))), ValueError,
         ["finite"]),
        (lambda: ex.compute_view(ex.View(sentence="   ")), ValueError,
         ["no token", "SENTENCES"]),
        (lambda: ex.tokenize(["the", "cat"]), TypeError, ["str", "Hint"]),
        (lambda: ex.embed_tokens("the cat"), TypeError, ["list of tokens", "Hint"]),
        (lambda: ex.embed_sentence("c", d_model=7), ValueError, ["even", "d_model=7"]),
        (lambda: ex.explorer_weights(ex.explorer_layer(2), torch.zeros(3, 64)),
         ValueError, ["(B, T, E=64)", "(3, 64)", "Hint"]),
        (lambda: ex.compute_view("8 heads"), TypeError, ["View", "Hint"]),
        (lambda: ex.draw_explorer(ex.View()), TypeError, ["compute_view", "Hint"]),
        (lambda: ex.head_diversity(torch.ones(4, 4)), ValueError, ["(h, T, S)"]),
        (lambda: ex.attention_entropy(torch.ones(3, dtype=torch.long)), TypeError,
         ["floating", "Hint"]),
        (lambda: ex.page_explorer(ex.View(num_heads=3)), ValueError,
         ["num_heads", "build_explorer"]),
        (lambda: ex.page_explorer(ex.View(seq_len=1)), ValueError, ["seq_len"]),
        (lambda: ex.page_explorer("8 heads"), TypeError, ["View", "Hint"]),
    ],
)  # fmt: skip
def test_bad_input_raises_clear_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), str(info.value)
