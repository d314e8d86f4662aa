"""split_heads / merge_heads: layout, inverse, and shapes at the edges."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import mha


@settings(max_examples=50, deadline=None)
@given(
    B=st.integers(1, 3),
    T=st.integers(1, 5),
    h=st.integers(1, 4),
    d_k=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_merge_is_the_exact_inverse_of_split(B, T, h, d_k, seed):
    x = torch.randn(B, T, h * d_k, generator=torch.Generator().manual_seed(seed))
    heads = mha.split_heads(x, h)
    assert heads.shape == (B, h, T, d_k)
    assert torch.equal(mha.merge_heads(heads), x)
    # and the other way round: split undoes merge
    assert torch.equal(mha.split_heads(mha.merge_heads(heads), h), heads)


def test_head_i_owns_the_contiguous_feature_slice_i():
    B, T, h, d_k = 2, 3, 4, 5
    x = torch.arange(B * T * h * d_k, dtype=torch.float32).reshape(B, T, h * d_k)
    heads = mha.split_heads(x, h)
    for i in range(h):
        assert torch.equal(heads[:, i], x[:, :, i * d_k : (i + 1) * d_k])


def test_split_matches_nn_multihead_attention_head_layout():
    # nn.MultiheadAttention gives head i rows i*d_k:(i+1)*d_k of each projection;
    # a projection that only keeps head 1's rows must leave only head 1 non-zero.
    E, h = 6, 3
    d_k = E // h
    x = torch.randn(1, 4, E)
    keep = torch.zeros(E)
    keep[d_k : 2 * d_k] = 1.0
    heads = mha.split_heads(x * keep, h)
    assert heads[:, 1].abs().sum() > 0
    assert heads[:, 0].abs().sum() == 0 and heads[:, 2].abs().sum() == 0


def test_split_of_a_non_contiguous_input_works():
    x = torch.randn(5, 2, 8).transpose(0, 1)  # (B=2, T=5, E=8), not contiguous
    assert not x.is_contiguous()
    assert torch.equal(mha.merge_heads(mha.split_heads(x, 4)), x)


def test_one_head_and_head_dim_one():
    x = torch.randn(2, 3, 4)
    assert torch.equal(mha.split_heads(x, 1), x[:, None])  # one head: all features
    assert torch.equal(mha.split_heads(x, 4), x.transpose(1, 2)[..., None])  # d_k = 1
