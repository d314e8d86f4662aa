"""The blog's layer: its behaviour, its flaws, and blog_to_standard."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensors import randn

import mha


def blog_layer(E=8, h=2, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return mha.BlogMultiHeadAttention(E, h).to(dtype).eval()


def blog_forward(layer, values, keys, query, mask):
    """The blog's forward pass, transcribed with einsum (its own formulation)."""
    N, E, h = query.shape[0], layer.embed_size, layer.heads
    d = E // h
    v = layer.values(values.reshape(N, values.shape[1], h, d))
    k = layer.keys(keys.reshape(N, keys.shape[1], h, d))
    q = layer.queries(query.reshape(N, query.shape[1], h, d))
    energy = torch.einsum("nqhd,nkhd->nhqk", [q, k])
    if mask is not None:
        energy = energy.masked_fill(mask == 0, float("-1e20"))
    attention = torch.softmax(energy / (E ** (1 / 2)), dim=3)
    out = torch.einsum("nhql,nlhd->nqhd", [attention, v])
    return layer.fc_out(out.reshape(N, query.shape[1], E))


def test_parameters_are_the_blogs():
    layer = mha.BlogMultiHeadAttention(12, 3)
    shapes = {name: tuple(p.shape) for name, p in layer.named_parameters()}
    assert shapes == {
        "values.weight": (4, 4),  # one (d_k, d_k) matrix shared by all heads
        "keys.weight": (4, 4),
        "queries.weight": (4, 4),
        "fc_out.weight": (12, 12),
        "fc_out.bias": (12,),
    }


@pytest.mark.parametrize("masked", [False, True])
def test_forward_matches_the_blogs_einsum_formulation(masked):
    layer = blog_layer(E=12, h=3)
    q, kv = randn(2, 4, 12, seed=1), randn(2, 5, 12, seed=2)
    mask = None
    if masked:  # the blog's convention: 1 = keep, 0 = masked, broadcast to (N,h,T,S)
        mask = (~mha.padding_mask([5, 2], 5)).long()[:, None, None, :]
    torch.testing.assert_close(
        layer(kv, kv, q, mask), blog_forward(layer, kv, kv, q, mask)
    )


def test_scores_are_scaled_by_sqrt_embed_size_not_sqrt_head_dim():
    # Identity projections: head 0 of the query dotted with each key is [3, 0].
    layer = blog_layer(E=8, h=2)
    with torch.no_grad():
        for lin in (layer.values, layer.keys, layer.queries):
            lin.weight.copy_(torch.eye(4))
    q = torch.zeros(1, 1, 8, dtype=torch.float64)
    q[0, 0, 0] = 3.0  # head 0 only
    k = torch.zeros(1, 2, 8, dtype=torch.float64)
    k[0, 0, 0] = 1.0  # key 0 has dot product 3 with the query in head 0, key 1 has 0
    captured = {}
    handle = layer.fc_out.register_forward_hook(lambda m, i, o: captured.update(x=i[0]))
    layer(k, k, q, None)
    handle.remove()
    # head 0's output feature 0 is the weight on key 0: softmax([3, 0] / sqrt(E))
    expected = torch.softmax(
        torch.tensor([3.0, 0.0], dtype=torch.float64) / math.sqrt(8), 0
    )
    torch.testing.assert_close(captured["x"][0, 0, 0], expected[0])
    wrong = torch.softmax(
        torch.tensor([3.0, 0.0], dtype=torch.float64) / math.sqrt(4), 0
    )
    assert not torch.isclose(captured["x"][0, 0, 0], wrong[0])


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 4),
    d_k=st.integers(1, 4),
    B=st.integers(1, 3),
    T=st.integers(1, 5),
    S=st.integers(1, 5),
    masked=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_blog_to_standard_computes_the_same_thing(h, d_k, B, T, S, masked, seed):
    E = h * d_k
    layer = blog_layer(E, h, seed=seed)
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, T, E, generator=g, dtype=torch.float64)
    kv = torch.randn(B, S, E, generator=g, dtype=torch.float64)
    mask = attn_mask = None
    if masked:  # 1 = keep; every query keeps at least one key (see the module docs)
        keep = torch.rand(B, 1, T, S, generator=g) < 0.6
        keep[..., torch.randint(S, (1,), generator=g)] = True
        mask = keep.long()
        attn_mask = mha.blog_mask_to_standard(
            mask, batch_size=B, num_heads=h, query_len=T, key_len=S
        )
    standard = mha.blog_to_standard(layer)
    for need_weights in (True, False):
        out, _ = standard(q, kv, kv, attn_mask=attn_mask, need_weights=need_weights)
        torch.testing.assert_close(out, layer(kv, kv, q, mask))


def test_blog_to_standard_weights_are_block_diagonal_and_rescaled():
    layer = blog_layer(E=6, h=3)
    standard = mha.blog_to_standard(layer)
    w_q = standard.q_proj.weight
    assert torch.count_nonzero(w_q[:2, 2:]) == 0  # off-diagonal blocks are zero
    for i in range(3):
        block = slice(2 * i, 2 * i + 2)
        torch.testing.assert_close(
            standard.k_proj.weight[block, block], layer.keys.weight
        )
        torch.testing.assert_close(
            w_q[block, block], layer.queries.weight * math.sqrt(2 / 6)
        )
    assert torch.count_nonzero(standard.v_proj.bias) == 0
    assert torch.equal(standard.out_proj.bias, layer.fc_out.bias)
    assert standard.q_proj.weight.dtype == torch.float64 and not standard.training


@torch.no_grad()
def test_fully_masked_row_gets_uniform_weights_in_the_blog_and_none_in_mha():
    layer = blog_layer(dtype=torch.float32)
    q, kv = (
        randn(1, 2, 8, dtype=torch.float32),
        randn(1, 3, 8, seed=1, dtype=torch.float32),
    )
    keep = torch.ones(1, 1, 2, 3, dtype=torch.long)
    keep[..., 0, :] = 0  # query 0 may attend nowhere
    out = layer(kv, kv, q, keep)
    standard = mha.blog_to_standard(layer)
    attn_mask = mha.blog_mask_to_standard(
        keep, batch_size=1, num_heads=2, query_len=2, key_len=3
    )
    ref, _ = standard(q, kv, kv, attn_mask=attn_mask)
    torch.testing.assert_close(out[0, 1], ref[0, 1])  # the live row agrees
    # blog: all scores are -1e20, so the weights are uniform: the mean of the values
    mean_value = standard.v_proj(kv).mean(dim=1)  # (1, E)
    torch.testing.assert_close(out[0, 0], layer.fc_out(mean_value)[0])
    # mha: no key, no attention, so only the output bias is left
    torch.testing.assert_close(ref[0, 0], standard.out_proj.bias)


def test_float16_mask_fill_overflows_as_in_the_blog():
    layer = blog_layer(dtype=torch.float16)
    x = randn(1, 3, 8, dtype=torch.float16)
    keep = torch.ones(1, 1, 3, 3, dtype=torch.long)
    out = layer(x, x, x, None)  # without a mask float16 works
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    with pytest.raises(RuntimeError, match="Half without overflow"):
        layer(x, x, x, keep)
    # the standard layer masks with -inf, which float16 holds
    standard = mha.blog_to_standard(layer)
    fixed, _ = standard(x, x, x, attn_mask=mha.causal_mask(3))
    assert fixed.dtype == torch.float16 and torch.isfinite(fixed).all()


def test_bfloat16_has_the_range_for_the_fill():
    layer = blog_layer(dtype=torch.bfloat16)
    x = randn(1, 3, 8, dtype=torch.bfloat16)
    keep = (~mha.causal_mask(3)).long()
    out = layer(x, x, x, keep)
    expected = blog_layer(dtype=torch.float64)(x.double(), x.double(), x.double(), keep)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), expected, atol=5e-2, rtol=5e-2)


def test_blog_mask_to_standard_flips_polarity_and_repeats_per_head():
    keep = torch.tensor([[1, 1, 0], [1, 0, 0]])[:, None, None, :]  # (N, 1, 1, S)
    attn = mha.blog_mask_to_standard(
        keep, batch_size=2, num_heads=2, query_len=2, key_len=3
    )
    assert attn.shape == (4, 2, 3) and attn.dtype == torch.bool
    assert torch.equal(attn[0], torch.tensor([[False, False, True]] * 2))
    assert torch.equal(attn[1], attn[0]) and torch.equal(attn[3], attn[2])
    assert torch.equal(attn[2], torch.tensor([[False, True, True]] * 2))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("SeedMultiHeadAttention", "BlogMultiHeadAttention"),
        ("seed_to_standard", "blog_to_standard"),
        ("seed_mask_to_standard", "blog_mask_to_standard"),
    ],
)
def test_old_seed_names_warn_and_give_the_blog_names(old, new):
    with pytest.warns(DeprecationWarning, match=f"use mha.{new}"):
        alias = getattr(mha, old)
    assert alias is getattr(mha, new)
    assert old not in mha.__all__


def test_mha_seed_is_a_shim_for_mha_blog():
    import mha.blog
    import mha.seed

    with pytest.warns(DeprecationWarning, match="use mha.blog.BlogMultiHeadAttention"):
        from mha.seed import SeedMultiHeadAttention
    assert SeedMultiHeadAttention is mha.blog.BlogMultiHeadAttention
    with pytest.warns(DeprecationWarning, match="BLOG_MASK_FILL"):
        assert mha.seed.SEED_MASK_FILL == mha.blog.BLOG_MASK_FILL
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = mha.seed.nothing
