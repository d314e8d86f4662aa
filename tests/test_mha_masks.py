"""causal_mask, padding_mask, masked_softmax and merge_masks."""

from __future__ import annotations

import functools

import pytest
import tensors
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import mha

NEG_INF = float("-inf")


# These tests draw float32 unless they say otherwise.
randn = functools.partial(tensors.randn, dtype=torch.float32)


@pytest.mark.parametrize(("T", "S"), [(1, 1), (4, 4), (3, 6), (6, 3)])
def test_causal_mask_is_pytorch_top_left_convention(T, S):
    mask = mha.causal_mask(T, S)
    assert mask.dtype == torch.bool and mask.shape == (T, S)
    # PyTorch's is_causal keeps torch.ones(L, S).tril(0); True in mha = NOT allowed.
    assert torch.equal(mask, ~torch.ones(T, S, dtype=torch.bool).tril(0))
    for i in range(T):
        for j in range(S):
            assert bool(mask[i, j]) == (j > i)


def test_causal_mask_agrees_with_sdpa_is_causal_when_the_polarity_is_flipped():
    q, k, v = randn(2, 3, 4, seed=1), randn(2, 5, 4, seed=2), randn(2, 5, 4, seed=3)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=~mha.causal_mask(3, 5))
    torch.testing.assert_close(got, expected)


def test_causal_mask_defaults_to_square_and_takes_a_device():
    mask = mha.causal_mask(3, device="cpu")
    assert mask.shape == (3, 3) and mask.device.type == "cpu"
    assert not mask.diagonal().any()  # a position may attend to itself


def test_padding_mask_marks_positions_at_or_after_each_length():
    mask = mha.padding_mask(torch.tensor([3, 1, 0, 4]), 4)
    expected = torch.tensor(
        [
            [False, False, False, True],
            [False, True, True, True],
            [True, True, True, True],
            [False, False, False, False],
        ]
    )
    assert torch.equal(mask, expected)
    assert torch.equal(mha.padding_mask([3, 1, 0, 4], 4), expected)  # a list works too


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 6), min_size=1, max_size=4),
    extra=st.integers(0, 3),
)
def test_padding_mask_counts_the_padding(lengths, extra):
    S = max(max(lengths) + extra, 1)
    mask = mha.padding_mask(lengths, S)
    assert mask.shape == (len(lengths), S)
    assert mask.sum(dim=1).tolist() == [S - n for n in lengths]


@settings(max_examples=50, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6)),
    p=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**16),
)
def test_masked_softmax_rows_sum_to_one_and_masked_weights_are_zero(shape, p, seed):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(shape, generator=g, dtype=torch.float64)
    mask = torch.rand(shape, generator=g) < p
    weights = mha.masked_softmax(scores, mask)
    assert torch.all(weights[mask] == 0)
    live = ~mask.all(dim=-1)
    sums = weights.sum(dim=-1)
    torch.testing.assert_close(sums[live], torch.ones_like(sums[live]))
    assert torch.all(sums[~live] == 0)  # fully masked rows: zeros, not NaN
    # the same mask as an additive float mask gives the same weights
    additive = torch.zeros(shape, dtype=torch.float64).masked_fill(mask, NEG_INF)
    torch.testing.assert_close(mha.masked_softmax(scores, additive), weights)


def test_masked_softmax_without_mask_is_softmax():
    scores = randn(2, 3, 5)
    torch.testing.assert_close(mha.masked_softmax(scores), torch.softmax(scores, -1))
    torch.testing.assert_close(
        mha.masked_softmax(scores, dim=1), torch.softmax(scores, dim=1)
    )


def test_masked_softmax_adds_a_finite_float_mask():
    scores, bias = randn(3, 4, seed=1), randn(3, 4, seed=2)
    torch.testing.assert_close(
        mha.masked_softmax(scores, bias), torch.softmax(scores + bias, dim=-1)
    )


def test_masked_softmax_broadcasts_the_mask():
    scores = randn(2, 3, 4, 5)  # (B, h, T, S)
    pad = mha.padding_mask([5, 2], 5)[:, None, None, :]  # (B, 1, 1, S)
    weights = mha.masked_softmax(scores, pad)
    assert torch.all(weights[1, :, :, 2:] == 0)
    torch.testing.assert_close(weights[0], torch.softmax(scores[0], dim=-1))


def test_fully_masked_row_has_zero_weights_and_finite_gradients():
    scores = randn(3, 4, dtype=torch.float64).requires_grad_()
    mask = torch.zeros(3, 4, dtype=torch.bool)
    mask[1] = True
    weights = mha.masked_softmax(scores, mask)
    assert torch.all(weights[1] == 0)
    assert torch.isnan(torch.softmax(scores.masked_fill(mask, NEG_INF), -1)[1]).all()
    (weights * randn(3, 4, seed=5, dtype=torch.float64)).sum().backward()
    assert torch.isfinite(scores.grad).all()
    assert torch.all(scores.grad[1] == 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_masks_work_in_half_precision_without_overflow(dtype):
    scores = randn(2, 4, 6).to(dtype)
    mask = mha.causal_mask(4, 6)
    weights = mha.masked_softmax(scores, mask)
    assert weights.dtype == dtype and torch.isfinite(weights).all()
    assert torch.all(weights[..., mask] == 0)
    expected = mha.masked_softmax(scores.double(), mask)
    torch.testing.assert_close(weights.double(), expected, atol=1e-2, rtol=1e-2)
    additive = mha.to_additive(mask, dtype)
    assert additive.dtype == dtype and torch.isneginf(additive[mask]).all()
    assert torch.equal(mha.masked_softmax(scores, additive), weights)


def test_to_additive_maps_true_to_minus_inf_and_casts_float_masks():
    mask = torch.tensor([[True, False]])
    assert torch.equal(
        mha.to_additive(mask, torch.float32), torch.tensor([[NEG_INF, 0]])
    )
    float_mask = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    assert mha.to_additive(float_mask, torch.float32).dtype == torch.float32


def test_merge_masks_combines_every_source_with_nn_multihead_attention_shapes():
    B, h, T, S = 2, 3, 4, 5
    attn = torch.rand(B * h, T, S, generator=torch.Generator().manual_seed(0)) < 0.3
    pad = mha.padding_mask([5, 3], S)
    merged = mha.merge_masks(
        attn, pad, batch_size=B, num_heads=h, query_len=T, key_len=S, is_causal=True
    )
    expected = attn.reshape(B, h, T, S) | pad[:, None, None, :] | mha.causal_mask(T, S)
    assert merged.dtype == torch.bool
    assert torch.equal(merged.expand(B, h, T, S), expected)


def test_merge_masks_turns_mixed_masks_into_one_float_mask():
    B, h, T, S = 2, 1, 3, 3
    attn = randn(T, S)
    pad = mha.padding_mask([3, 1], S)
    merged = mha.merge_masks(
        attn,
        pad,
        batch_size=B,
        num_heads=h,
        query_len=T,
        key_len=S,
        dtype=torch.float64,
    )
    assert merged.dtype == torch.float64 and merged.shape == (B, 1, T, S)
    assert torch.isneginf(merged[1, 0, :, 1:]).all()
    torch.testing.assert_close(merged[0, 0], attn.double())


def test_merge_masks_with_nothing_to_merge_is_none():
    kwargs = {"batch_size": 1, "num_heads": 1, "query_len": 2, "key_len": 2}
    assert mha.merge_masks(None, None, **kwargs) is None
    assert torch.equal(
        mha.merge_masks(None, None, is_causal=True, **kwargs)[0, 0], mha.causal_mask(2)
    )


def test_empty_rows_finds_rows_with_no_key_left():
    mask = torch.tensor([[True, True], [True, False]])
    assert mha.empty_rows(mask).squeeze(-1).tolist() == [True, False]
    assert mha.empty_rows(mha.to_additive(mask, torch.float32)).squeeze(
        -1
    ).tolist() == [
        True,
        False,
    ]


def test_merge_masks_accepts_a_device_given_by_name():
    kwargs = {"batch_size": 1, "num_heads": 1, "query_len": 2, "key_len": 2}
    mask = mha.causal_mask(2)
    merged = mha.merge_masks(mask, None, device="cpu", **kwargs)
    assert torch.equal(merged[0, 0], mask)
