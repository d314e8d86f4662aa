"""GroupedQueryAttention against F.scaled_dot_product_attention(enable_gqa=True)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tensors import randn

import mha


def gqa_layer(E=12, h=6, g=2, dtype=torch.float64, **kwargs):
    torch.manual_seed(0)
    layer = mha.GroupedQueryAttention(E, h, g, **kwargs).to(dtype).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return layer


def reference(layer, query, key, value, keep=None, is_causal=False):
    """The layer's computation with PyTorch's own GQA kernel; keep: True = attend."""
    B, T, E = query.shape
    h, g = layer.num_heads, layer.num_kv_heads
    d_k = E // h
    q = layer.q_proj(query).view(B, T, h, d_k).transpose(1, 2)  # (B, h, T, d_k)
    k = layer.k_proj(key).view(B, -1, g, d_k).transpose(1, 2)  # (B, g, S, d_k)
    v = layer.v_proj(value).view(B, -1, g, d_k).transpose(1, 2)  # (B, g, S, d_k)
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=keep, is_causal=is_causal, enable_gqa=True
    )
    return layer.out_proj(out.transpose(1, 2).reshape(B, T, E))  # (B, T, E)


@pytest.mark.parametrize("g", [1, 2, 3, 6])
@pytest.mark.parametrize("need_weights", [True, False])
def test_matches_pytorch_enable_gqa(g, need_weights):
    layer = gqa_layer(g=g)
    q, kv = randn(2, 4, 12, seed=1), randn(2, 5, 12, seed=2)
    pad = mha.padding_mask([5, 3], 5)
    out, weights = layer(q, kv, kv, key_padding_mask=pad, need_weights=need_weights)
    expected = reference(layer, q, kv, kv, keep=~pad[:, None, None, :])
    torch.testing.assert_close(out, expected)
    assert (weights is None) == (not need_weights)


@pytest.mark.parametrize("need_weights", [True, False])
def test_is_causal_matches_pytorch(need_weights):
    layer = gqa_layer(g=3)
    x = randn(2, 5, 12, seed=1)
    out, _ = layer(x, x, x, is_causal=True, need_weights=need_weights)
    torch.testing.assert_close(out, reference(layer, x, x, x, is_causal=True))


def test_projection_shapes_shrink_with_the_kv_heads():
    layer = mha.GroupedQueryAttention(16, 8, 2)
    assert layer.q_proj.weight.shape == (16, 16) and layer.out_proj.weight.shape == (
        16,
        16,
    )
    assert layer.k_proj.weight.shape == (4, 16)  # num_kv_heads * d_k = 2 * 2
    assert layer.v_proj.weight.shape == (4, 16)
    assert "num_kv_heads=2" in repr(layer)


def test_multi_query_keeps_one_weight_map_per_query_head():
    layer = gqa_layer(g=1)  # multi-query: one key head for all six query heads
    x = randn(1, 4, 12, seed=3)
    _, weights = layer(x, x, x, average_attn_weights=False)
    assert weights.shape == (1, 6, 4, 4)
    sums = weights.sum(-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))
    assert not torch.allclose(weights[:, 0], weights[:, 1])  # queries still differ


@pytest.mark.parametrize("need_weights", [True, False])
def test_equal_kv_heads_is_multi_head_attention(need_weights):
    gqa = gqa_layer(E=8, h=4, g=4)
    layer = mha.MultiHeadAttention(8, 4).to(torch.float64)
    layer.load_state_dict(gqa.state_dict())
    q, kv = randn(3, 2, 8, seed=1), randn(3, 6, 8, seed=2)
    mask = mha.causal_mask(2, 6)
    out, w = gqa(q, kv, kv, attn_mask=mask, need_weights=need_weights)
    expected, expected_w = layer(q, kv, kv, attn_mask=mask, need_weights=need_weights)
    torch.testing.assert_close(out, expected)
    if need_weights:
        torch.testing.assert_close(w, expected_w)
    # and so, through from_torch, it is nn.MultiheadAttention too
    torch.testing.assert_close(
        layer.to_torch().eval()(q, kv, kv, attn_mask=mask, need_weights=False)[0],
        out,
    )


@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_rows_are_finite(need_weights):
    layer = gqa_layer(g=2)
    x = randn(2, 3, 12, seed=1).requires_grad_()
    pad = mha.padding_mask([0, 2], 3)
    out, _ = layer(x, x, x, key_padding_mask=pad, need_weights=need_weights)
    torch.testing.assert_close(out[0], layer.out_proj.bias.detach().expand(3, 12))
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_sequence_first_and_unbatched_layouts():
    layer = gqa_layer(g=2, batch_first=False)
    x = randn(4, 2, 12, seed=1)  # (T, B, E)
    out, _ = layer(x, x, x)
    expected = reference(layer, *(x.transpose(0, 1),) * 3)
    torch.testing.assert_close(out, expected.transpose(0, 1))
    single, w = layer(x[:, 0], x[:, 0], x[:, 0])  # (T, E)
    assert w.shape == (4, 4)
    torch.testing.assert_close(single, out[:, 0])
