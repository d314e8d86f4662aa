"""blockwise_attention equals the materialised attention; tensor_memory counts bytes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tensors import randn

import mha
from mha.blockwise import blockwise_attention, tensor_memory


def qkv(lead=(2, 3), T=7, S=9, d_k=8, d_v=5, dtype=torch.float64):
    return (
        randn(*lead, T, d_k, seed=1, dtype=dtype),
        randn(*lead, S, d_k, seed=2, dtype=dtype),
        randn(*lead, S, d_v, seed=3, dtype=dtype),
    )


@pytest.mark.parametrize("block_size", [1, 2, 4, 8, 9, 10, 100])
def test_equals_materialised_attention_for_every_block_size(block_size):
    q, k, v = qkv()  # S = 9: blocks that divide it, do not, equal it, exceed it
    expected, _ = mha.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(blockwise_attention(q, k, v, block_size), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_pytorch_sdpa(dtype):
    q, k, v = qkv(lead=(2, 4), T=16, S=16, d_k=8, d_v=8, dtype=dtype)
    expected = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(blockwise_attention(q, k, v, 5), expected)


@pytest.mark.parametrize("T, S", [(1, 1), (1, 6), (6, 1), (3, 11)])
def test_lengths_one_and_cross_lengths(T, S):
    q, k, v = qkv(lead=(2,), T=T, S=S)
    expected, _ = mha.scaled_dot_product_attention(q, k, v)
    for block_size in (1, 3, S + 1):
        torch.testing.assert_close(blockwise_attention(q, k, v, block_size), expected)


def test_leading_dims_broadcast():
    q = randn(2, 4, 5, 8, seed=1)
    k, v = randn(1, 4, 6, 8, seed=2), randn(1, 4, 6, 3, seed=3)  # batch 1 vs 2
    expected, _ = mha.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(blockwise_attention(q, k, v, 4), expected)


@pytest.mark.parametrize("block_size", [1, 3, 9, 20])
@pytest.mark.parametrize("T", [4, 9, 12])  # T < S, T == S, T > S
def test_causal_matches_mha_and_pytorch(block_size, T):
    q, k, v = qkv(T=T, S=9)
    expected, _ = mha.scaled_dot_product_attention(q, k, v, is_causal=True)
    got = blockwise_attention(q, k, v, block_size, is_causal=True)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(
        got, F.scaled_dot_product_attention(q, k, v, is_causal=True)
    )


@pytest.mark.parametrize("block_size", [1, 4, 9, 20])
def test_boolean_and_float_masks(block_size):
    q, k, v = qkv()
    pad = mha.padding_mask([9, 5], 9)[:, None, None, :]  # (B, 1, 1, S)
    rand = randn(7, 9, seed=8) > 0.5  # (T, S), True = not allowed
    additive = randn(2, 3, 7, 9, seed=9)  # float mask, added to the scores
    for mask in (pad, rand, additive, mha.to_additive(rand, q.dtype)):
        expected, _ = mha.scaled_dot_product_attention(q, k, v, mask)
        got = blockwise_attention(q, k, v, block_size, mask)
        torch.testing.assert_close(got, expected)


def test_a_mask_broadcast_along_the_keys_applies_to_every_block():
    q, k, v = qkv()
    rows = torch.zeros(7, 1, dtype=torch.bool)
    rows[2] = True  # query 2 may attend to nothing
    got = blockwise_attention(q, k, v, 2, rows)
    expected, _ = mha.scaled_dot_product_attention(q, k, v, rows)
    torch.testing.assert_close(got, expected)
    assert (got[..., 2, :] == 0).all()


@pytest.mark.parametrize("block_size", [1, 2, 9])
def test_fully_masked_rows_give_zeros_like_mha(block_size):
    q, k, v = qkv()
    mask = torch.zeros(7, 9, dtype=torch.bool)
    mask[0] = True  # query 0: every key masked
    mask[3, :5] = True  # query 3: the first blocks are all masked, then keys come
    got = blockwise_attention(q, k, v, block_size, mask, is_causal=True)
    expected, _ = mha.scaled_dot_product_attention(q, k, v, mask, is_causal=True)
    assert not got.isnan().any()
    torch.testing.assert_close(got, expected)
    assert (got[..., 0, :] == 0).all()
    empty = mha.padding_mask([9, 0], 9)[:, None, None, :]  # batch 1: no keys at all
    got = blockwise_attention(q, k, v, block_size, empty)
    assert (got[1] == 0).all() and not got.isnan().any()


def test_large_scores_do_not_overflow():
    q, k, v = qkv(dtype=torch.float32)
    q = q * 200.0  # scores in the thousands: exp() would overflow without the max
    expected, _ = mha.scaled_dot_product_attention(q, k, v)
    got = blockwise_attention(q, k, v, 2)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected)


def test_float16_runs_and_stays_close():
    q, k, v = qkv(dtype=torch.float32)
    expected, _ = mha.scaled_dot_product_attention(q, k, v)
    got = blockwise_attention(q.half(), k.half(), v.half(), 3)
    assert got.dtype == torch.float16
    torch.testing.assert_close(got.float(), expected, atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("causal", [False, True])
def test_gradients_match_materialised_attention(causal):
    q, k, v = (x.requires_grad_() for x in qkv())
    grad_out = randn(2, 3, 7, 5, seed=4)
    ours = torch.autograd.grad(
        (blockwise_attention(q, k, v, 2, is_causal=causal) * grad_out).sum(), (q, k, v)
    )
    ref_out, _ = mha.scaled_dot_product_attention(q, k, v, is_causal=causal)
    theirs = torch.autograd.grad((ref_out * grad_out).sum(), (q, k, v))
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_the_whole_layer_with_blockwise_attention_equals_mha():
    torch.manual_seed(0)
    layer = mha.MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 10, 16)
    with torch.no_grad():
        q, k, v = (
            mha.split_heads(proj(x), 4)
            for proj in (layer.q_proj, layer.k_proj, layer.v_proj)
        )  # (B, h, T, d_k) each
        out = layer.out_proj(mha.merge_heads(blockwise_attention(q, k, v, 3)))
        torch.testing.assert_close(out, layer(x, x, x)[0])


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((torch.ones(3, 4, dtype=torch.long),), TypeError, "floating dtype"),
        ((torch.ones(4),), ValueError, "at least 2 dims"),
    ],
)
def test_bad_q_is_explained(args, error, match):
    _, k, v = qkv()
    with pytest.raises(error, match=match):
        blockwise_attention(args[0], k, v, 2)


def test_bad_shapes_and_block_sizes_are_explained():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="same last dim d_k"):
        blockwise_attention(q, k[..., :4], v, 2)
    with pytest.raises(ValueError, match="same length S"):
        blockwise_attention(q, k, v[..., :3, :], 2)
    with pytest.raises(ValueError, match="do not broadcast"):
        blockwise_attention(q, k[:1, :2], v[:1, :2], 2)
    with pytest.raises(ValueError, match="positive int"):
        blockwise_attention(q, k, v, 0)
    with pytest.raises(TypeError, match="must be an int"):
        blockwise_attention(q, k, v, 2.0)
    with pytest.raises(TypeError, match="dtype mismatch"):
        blockwise_attention(q, k.float(), v, 2)
    with pytest.raises(TypeError, match="bool tensor"):
        blockwise_attention(q, k, v, 2, torch.zeros(7, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="does not broadcast"):
        blockwise_attention(q, k, v, 2, torch.zeros(9, 7, dtype=torch.bool))


# --- tensor_memory ---------------------------------------------------------------


def test_materialised_attention_allocates_the_weight_matrix():
    B, h, T, S, d = 2, 4, 64, 96, 8
    q, k, v = randn(B, h, T, d), randn(B, h, S, d), randn(B, h, S, d)
    stats = tensor_memory(lambda: mha.scaled_dot_product_attention(q, k, v))
    weights = B * h * T * S * 8  # float64
    assert stats.largest_bytes == weights
    assert stats.largest_shape == (B * h, T, S)  # matmul runs as bmm, then a view
    assert 2 * weights <= stats.peak_bytes < 3 * weights  # scores and weights at once


@pytest.mark.parametrize("block_size", [16, 32, 48])
def test_blockwise_attention_allocates_one_block(block_size):
    B, h, T, S, d = 2, 4, 64, 96, 8
    q, k, v = randn(B, h, T, d), randn(B, h, S, d), randn(B, h, S, d)
    stats = tensor_memory(lambda: blockwise_attention(q, k, v, block_size))
    block = B * h * T * block_size * 8
    assert stats.largest_bytes == block
    assert stats.largest_shape == (B * h, T, block_size)  # q @ k_blk.T as a bmm
    # One block plus a few (B, h, T, d) tensors (q scaled, acc, p @ v, ...) and the
    # (B, h, T, 1) statistics: never anything of size S.
    assert stats.peak_bytes <= block + 8 * B * h * T * (6 * d + 8)


def test_blockwise_peak_does_not_grow_with_the_key_length():
    q = randn(1, 2, 32, 8)
    peaks = []
    for S in (64, 256, 1024):
        k, v = randn(1, 2, S, 8, seed=2), randn(1, 2, S, 8, seed=3)
        peaks.append(tensor_memory(lambda k=k, v=v: blockwise_attention(q, k, v, 16)))
    assert len({p.peak_bytes for p in peaks}) == 1


def test_fused_path_allocates_no_weight_matrix():
    torch.manual_seed(0)
    layer = mha.MultiHeadAttention(32, 4).eval()
    x = torch.randn(2, 128, 32)
    naive = tensor_memory(lambda: layer(x, x, x, average_attn_weights=False))
    fused = tensor_memory(lambda: layer(x, x, x, need_weights=False))
    weights = 2 * 4 * 128 * 128 * 4  # (B, h, T, S) float32
    assert naive.largest_bytes == weights
    assert fused.largest_bytes < weights / 4
    assert "aten.bmm.default" in naive.ops


def test_views_and_in_place_results_cost_nothing():
    x = randn(100, 100)
    stats = tensor_memory(lambda: x.t().mul_(1.0).t().reshape(-1)[:10])
    assert stats.peak_bytes == 0 and stats.largest_bytes == 0
    copied = tensor_memory(lambda: x.t().reshape(-1))  # not contiguous: a copy
    assert copied.peak_bytes == 100 * 100 * 8


def test_memory_is_released_when_tensors_die():
    x = randn(100)

    def twice():
        a = x * 2  # 800 bytes
        del a
        b = x * 3  # 800 bytes, a is gone
        return b

    assert tensor_memory(twice).peak_bytes == 800

    def both():
        a = x * 2
        b = x * 3
        return a, b

    assert tensor_memory(both).peak_bytes == 1600


def test_tensor_memory_rejects_bad_calls():
    with pytest.raises(TypeError, match="function of no arguments"):
        tensor_memory(randn(3))
    with torch.inference_mode(), pytest.raises(ValueError, match="inference"):
        tensor_memory(lambda: randn(3) * 2)


# --- benchmarks/bench_scaling.py ---------------------------------------------------


def test_scaling_benchmark_runs_and_fits_slopes(capsys):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_scaling.py"
    spec = importlib.util.spec_from_file_location("bench_scaling", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.slope([1, 2, 4, 8], [3.0, 12.0, 48.0, 192.0]) == pytest.approx(2.0)
    assert bench.main(["--quick", "--rounds", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "| 1024 | 80% | mha, weights materialised |" in out
    assert "Fitted slopes" in out and "n/a" in out


# --- the log-sum-exp and merging states ---------------------------------------------


@pytest.mark.parametrize("block_size", [1, 3, 9])
def test_lse_is_the_logsumexp_of_the_scores(block_size):
    q, k, v = qkv()
    mask = torch.zeros(7, 9, dtype=torch.bool)
    mask[2] = True  # query 2 sees nothing
    out, lse = blockwise_attention(q, k, v, block_size, mask, return_lse=True)
    scores = mha.attention_scores(q, k).masked_fill(mask, float("-inf"))
    torch.testing.assert_close(lse, torch.logsumexp(scores, dim=-1))
    assert torch.isneginf(lse[..., 2]).all()
    torch.testing.assert_close(out, blockwise_attention(q, k, v, block_size, mask))
    # FlashAttention's backward pass: any block of weights from q, k and lse alone
    weights = mha.masked_softmax(mha.attention_scores(q, k), mask)
    block = torch.exp(scores[..., 3:6] - lse[..., None])  # keys 3..5
    rows = [0, 1, 3, 4, 5, 6]  # query 2 has no key: exp(-inf - (-inf)) is NaN
    torch.testing.assert_close(block[..., rows, :], weights[..., rows, 3:6])


def state(q, k, v):
    """(m, l, o) of queries q over keys k, v, from the materialised scores."""
    scores = mha.attention_scores(q, k)  # (..., T, S)
    m = scores.amax(dim=-1, keepdim=True)
    p = torch.exp(scores - m)
    return m, p.sum(dim=-1, keepdim=True), p @ v


def empty_state(q, v):
    lead = (*q.shape[:-1], 1)
    return (
        torch.full(lead, float("-inf"), dtype=q.dtype),
        torch.zeros(lead, dtype=q.dtype),
        torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype),
    )


def test_merging_the_states_of_two_key_sets_is_the_state_of_both():
    q, k, v = qkv(T=6, S=11)
    q = q * 10  # large scores: a missing rescale would show
    first, second = (
        state(q, k[..., :4, :], v[..., :4, :]),
        state(q, k[..., 4:, :], v[..., 4:, :]),
    )
    m, l, o = mha.blockwise.merge_states(*first, *second)  # noqa: E741
    for got, want in zip((m, l, o), state(q, k, v), strict=True):
        torch.testing.assert_close(got, want)
    expected, _ = mha.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(o / l, expected)
    # the order of the parts does not matter
    for got, want in zip(
        mha.blockwise.merge_states(*second, *first), (m, l, o), strict=True
    ):
        torch.testing.assert_close(got, want)


def test_an_empty_state_changes_nothing_and_two_give_no_nan():
    q, k, v = qkv(T=4, S=5)
    full, empty = state(q, k, v), empty_state(q, v)
    for got, want in zip(mha.blockwise.merge_states(*empty, *full), full, strict=True):
        torch.testing.assert_close(got, want)
    m, l, o = mha.blockwise.merge_states(*empty, *empty)  # noqa: E741
    assert torch.isneginf(m).all() and (l == 0).all() and (o == 0).all()


def test_merge_states_rejects_mismatched_states():
    q, k, v = qkv(T=4, S=5)
    m, l, o = state(q, k, v)  # noqa: E741
    with pytest.raises(ValueError, match="same shape"):
        mha.blockwise.merge_states(m, l, o, m[..., :2, :], l, o)
    with pytest.raises(ValueError, match=r"a state is m \(\.\.\., T, 1\)"):
        mha.blockwise.merge_states(l, o, o, l, o, o)
