"""attention_scores and scaled_dot_product_attention vs the formulas and PyTorch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tensors import randn

import mha


def test_scores_are_dot_products_divided_by_sqrt_d_k():
    q, k = randn(2, 3, 7, seed=1), randn(2, 5, 7, seed=2)
    scores = mha.attention_scores(q, k)
    assert scores.shape == (2, 3, 5)
    for b, i, j in [(0, 0, 0), (1, 2, 4), (0, 1, 3)]:
        expected = torch.dot(q[b, i], k[b, j]) / math.sqrt(7)
        torch.testing.assert_close(scores[b, i, j], expected)


@pytest.mark.parametrize("d_k", [1, 16, 256])
def test_the_scale_keeps_score_variance_near_one(d_k):
    q, k = randn(64, 8, d_k, seed=3), randn(64, 8, d_k, seed=4)
    var = mha.attention_scores(q, k).var().item()
    assert 0.7 < var < 1.3  # unscaled, the variance would be about d_k


def test_scores_broadcast_over_leading_dims():
    q, k = randn(2, 4, 3, 5, seed=1), randn(1, 4, 6, 5, seed=2)  # batch 2 vs 1
    assert mha.attention_scores(q, k).shape == (2, 4, 3, 6)


def _sdpa_cases():
    T, S = 4, 6
    g = torch.Generator().manual_seed(7)
    bool_mask = torch.rand(2, 3, T, S, generator=g) < 0.4
    bool_mask[..., 0] = False  # every row keeps a key: F.sdpa and mha agree there
    float_mask = torch.randn(T, S, generator=g, dtype=torch.float64)
    float_mask[1, 2:] = float("-inf")
    return {
        "none": None,
        "bool": bool_mask,
        "bool-broadcast": mha.causal_mask(T, S),
        "float": float_mask,
    }


@pytest.mark.parametrize("kind", list(_sdpa_cases()))
def test_sdpa_matches_pytorch_with_the_mask_polarity_flipped(kind):
    mask = _sdpa_cases()[kind]
    q, k, v = randn(2, 3, 4, 5, seed=1), randn(2, 3, 6, 5, seed=2), randn(2, 3, 6, 7)
    out, weights = mha.scaled_dot_product_attention(q, k, v, mask)
    torch_mask = ~mask if mask is not None and mask.dtype == torch.bool else mask
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=torch_mask)
    assert out.shape == (2, 3, 4, 7) and weights.shape == (2, 3, 4, 6)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(weights @ v, out)


def test_sdpa_is_causal_matches_pytorch_and_combines_with_a_mask():
    q, k, v = randn(1, 2, 5, 3, seed=1), randn(1, 2, 5, 3, seed=2), randn(1, 2, 5, 3)
    out, weights = mha.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, is_causal=True)
    )
    assert torch.all(weights[..., mha.causal_mask(5)] == 0)
    # is_causal plus attn_mask (an error in F.sdpa) masks the union of both
    pad = mha.padding_mask([3], 5)[:, None, None, :]  # (B, 1, 1, S)
    both, _ = mha.scaled_dot_product_attention(q, k, v, pad, is_causal=True)
    union = pad | mha.causal_mask(5)
    torch.testing.assert_close(both, F.scaled_dot_product_attention(q, k, v, ~union))


@settings(max_examples=40, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    T=st.integers(1, 5),
    S=st.integers(1, 5),
    d_k=st.integers(1, 6),
    d_v=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_sdpa_matches_pytorch_for_any_shape(lead, T, S, d_k, d_v, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, T, d_k, generator=g, dtype=torch.float64)
    k = torch.randn(*lead, S, d_k, generator=g, dtype=torch.float64)
    v = torch.randn(*lead, S, d_v, generator=g, dtype=torch.float64)
    mask = torch.rand(T, S, generator=g) < 0.5
    mask[:, torch.randint(S, (1,), generator=g)] = False  # keep one key per row
    out, weights = mha.scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, ~mask))
    sums = weights.sum(-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))


def test_sdpa_fully_masked_row_is_zero_with_finite_gradients():
    q = randn(1, 3, 4, seed=1).requires_grad_()
    k = randn(1, 5, 4, seed=2).requires_grad_()
    v = randn(1, 5, 4, seed=3).requires_grad_()
    mask = torch.zeros(3, 5, dtype=torch.bool)
    mask[2] = True
    out, weights = mha.scaled_dot_product_attention(q, k, v, mask)
    assert torch.all(out[0, 2] == 0) and torch.all(weights[0, 2] == 0)
    out.sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()


def test_sdpa_dropout_only_in_training_and_returns_the_weights_it_used():
    q, k, v = randn(2, 6, 4, seed=1), randn(2, 6, 4, seed=2), randn(2, 6, 4, seed=3)
    plain, plain_w = mha.scaled_dot_product_attention(q, k, v)
    off, _ = mha.scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=False)
    torch.testing.assert_close(off, plain)
    torch.manual_seed(0)
    out, weights = mha.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    dropped = weights == 0
    assert dropped.any() and (~dropped).any()
    torch.testing.assert_close(weights[~dropped], plain_w[~dropped] * 2)  # 1 / (1 - p)
    torch.testing.assert_close(out, weights @ v)


def test_sdpa_single_token_and_single_feature():
    q, k, v = randn(1, 1, seed=1), randn(1, 1, seed=2), randn(1, 1, seed=3)
    out, weights = mha.scaled_dot_product_attention(q, k, v)
    assert weights.item() == 1.0
    torch.testing.assert_close(out, v)
