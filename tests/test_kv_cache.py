"""The key/value cache against full recomputation, PyTorch's kernels and formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tensors import randn
from torch.nn.attention.bias import causal_lower_right

import mha
from mha.kv_cache import (
    KVCache,
    cached_attention,
    causal_mask_bottom_right,
    gqa_param_count,
    kv_cache_bytes,
    mla_cache_bytes,
    repeat_kv,
)
from mha.rope import Rotary

DTYPES = [torch.float32, torch.float64]


def make_layer(h_kv, E=12, h=6, dtype=torch.float64, **kwargs):
    """A layer with random weights AND biases (zero biases would hide bias bugs)."""
    torch.manual_seed(0)
    if h_kv == h:
        layer = mha.MultiHeadAttention(E, h, **kwargs)
    else:
        layer = mha.GroupedQueryAttention(E, h, h_kv, **kwargs)
    layer = layer.to(dtype).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return layer


# --- repeat_kv --------------------------------------------------------------------


@pytest.mark.parametrize("h_kv, group_size", [(1, 4), (2, 3), (3, 2), (4, 1)])
def test_repeat_kv_gives_head_i_the_kv_head_i_over_group_size(h_kv, group_size):
    x = randn(2, h_kv, 5, 3)
    out = repeat_kv(x, group_size)
    assert out.shape == (2, h_kv * group_size, 5, 3)
    for i in range(h_kv * group_size):
        assert torch.equal(out[:, i], x[:, i // group_size])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("h_kv", [1, 2, 3, 6])
def test_repeat_kv_matches_pytorch_enable_gqa(dtype, h_kv):
    h = 6
    q = randn(2, h, 4, 5, seed=1, dtype=dtype)
    k, v = randn(2, h_kv, 7, 5, seed=2, dtype=dtype), randn(2, h_kv, 7, 5, seed=3)
    v = v.to(dtype)
    g = h // h_kv
    ours = F.scaled_dot_product_attention(q, repeat_kv(k, g), repeat_kv(v, g))
    theirs = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    torch.testing.assert_close(ours, theirs)


def test_repeat_kv_with_group_size_one_is_the_input():
    x = randn(1, 2, 3, 4)
    assert repeat_kv(x, 1) is x


@pytest.mark.parametrize(
    "x, group_size, error, match",
    [
        (randn(2, 3, 4), 2, ValueError, "4-D"),
        (randn(1, 2, 3, 4), 0, ValueError, "positive"),
        (randn(1, 2, 3, 4), 1.5, TypeError, "int"),
        (torch.ones(1, 2, 3, 4, dtype=torch.long), 2, TypeError, "floating"),
    ],
)
def test_repeat_kv_rejects_bad_input(x, group_size, error, match):
    with pytest.raises(error, match=match):
        repeat_kv(x, group_size)


# --- the bottom-right causal mask ------------------------------------------------


@pytest.mark.parametrize("T, S", [(1, 1), (1, 6), (3, 7), (5, 5), (4, 9)])
def test_bottom_right_mask_is_pytorchs_causal_lower_right(T, S):
    keep = causal_lower_right(T, S)._materialize()  # True = takes part
    assert torch.equal(causal_mask_bottom_right(T, S), ~keep)


@pytest.mark.parametrize("T", [1, 4, 6])
def test_bottom_right_equals_top_left_when_square(T):
    assert torch.equal(causal_mask_bottom_right(T), mha.causal_mask(T))


def test_the_last_query_sees_every_key_and_the_first_sees_its_prefix():
    mask = causal_mask_bottom_right(3, 8)  # 3 new queries at positions 5, 6, 7
    assert not mask[-1].any()  # the newest query: every key
    assert mask[0].tolist() == [False] * 6 + [True] * 2  # position 5: keys 0..5
    assert mha.causal_mask(3, 8)[0, 1:].all()  # top-left: query 0 sees key 0 only


def test_bottom_right_mask_rejects_more_queries_than_keys():
    with pytest.raises(ValueError, match="S >= T"):
        causal_mask_bottom_right(5, 3)


# --- sizes ------------------------------------------------------------------------


def test_kv_cache_bytes_formula_and_a_real_cache():
    # 2 (k and v) * B * S * h_kv * d_k * 2 bytes (float16) * layers
    assert kv_cache_bytes(1, 4096, 32, 128, 32, torch.float16) == 2**31
    assert kv_cache_bytes(2, 10, 3, 4, dtype=torch.float32) == 2 * 2 * 10 * 3 * 4 * 4
    layer = make_layer(2, dtype=torch.float32)
    cache = KVCache()
    x = randn(3, 5, 12, dtype=torch.float32)
    cached_attention(layer, x, cache)
    assert cache.nbytes == kv_cache_bytes(3, 5, 2, 2, dtype=torch.float32)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dtype": "float16"}, TypeError, "torch.dtype"),
        ({"seq_len": 0}, ValueError, "seq_len"),
        ({"num_layers": 2.0}, TypeError, "num_layers"),
    ],
)
def test_kv_cache_bytes_rejects_bad_input(kwargs, error, match):
    args = {"batch_size": 1, "seq_len": 4, "num_kv_heads": 2, "head_dim": 8}
    with pytest.raises(error, match=match):
        kv_cache_bytes(**(args | kwargs))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("h_kv", [1, 2, 4, 8])
def test_gqa_param_count_counts_the_layers_parameters(bias, h_kv):
    layer = mha.GroupedQueryAttention(32, 8, h_kv, bias=bias)
    assert gqa_param_count(32, 8, h_kv, bias) == sum(
        p.numel() for p in layer.parameters()
    )


def test_gqa_param_count_at_h_kv_equal_h_is_standard_attention():
    E = 64
    assert gqa_param_count(E, 8, 8) == 4 * E**2 + 4 * E
    assert gqa_param_count(E, 8, 8) == sum(
        p.numel() for p in torch.nn.MultiheadAttention(E, 8).parameters()
    )


@pytest.mark.parametrize(
    "args, match", [((12, 5, 1), "embed_dim=12"), ((12, 6, 4), "num_kv_heads=4")]
)
def test_gqa_param_count_rejects_sizes_that_do_not_divide(args, match):
    with pytest.raises(ValueError, match=match):
        gqa_param_count(*args)


# --- KVCache ----------------------------------------------------------------------


def test_cache_grows_along_the_positions():
    cache = KVCache()
    assert len(cache) == 0 and cache.keys is None and cache.nbytes == 0
    k1, v1 = randn(2, 3, 4, 5, seed=1), randn(2, 3, 4, 5, seed=2)
    k2, v2 = randn(2, 3, 1, 5, seed=3), randn(2, 3, 1, 5, seed=4)
    cache.append(k1, v1)
    keys, values = cache.append(k2, v2)
    assert len(cache) == cache.seq_len == 5
    assert torch.equal(keys, torch.cat([k1, k2], dim=2))
    assert torch.equal(values, torch.cat([v1, v2], dim=2))
    assert keys is cache.keys and values is cache.values
    assert cache.nbytes == 2 * keys.numel() * 8
    assert "(2, 3, 5, 5)" in repr(cache)
    cache.reset()
    assert len(cache) == 0 and cache.values is None and "empty" in repr(cache)


@pytest.mark.parametrize(
    "k, v, error, match",
    [
        (randn(2, 3, 1, 5), randn(2, 3, 2, 5), ValueError, "same shape"),
        (randn(2, 3, 5), randn(2, 3, 5), ValueError, "4-D"),
        (randn(2, 2, 1, 5), randn(2, 2, 1, 5), ValueError, "do not fit the cache"),
        (randn(1, 3, 1, 5), randn(1, 3, 1, 5), ValueError, "reset"),
        (randn(2, 3, 1, 4), randn(2, 3, 1, 4), ValueError, "d_k"),
        (
            randn(2, 3, 1, 5, dtype=torch.float32),
            randn(2, 3, 1, 5, dtype=torch.float32),
            TypeError,
            "dtype mismatch",
        ),
    ],
)
def test_cache_rejects_what_does_not_fit(k, v, error, match):
    cache = KVCache()
    cache.append(randn(2, 3, 4, 5), randn(2, 3, 4, 5))
    with pytest.raises(error, match=match):
        cache.append(k, v)
    assert len(cache) == 4  # unchanged


# --- cached_attention -------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("h_kv", [6, 3, 2, 1])
@pytest.mark.parametrize("need_weights", [False, True])
def test_decoding_with_a_cache_equals_full_recomputation(dtype, h_kv, need_weights):
    layer = make_layer(h_kv, dtype=dtype)
    x = randn(2, 9, 12, seed=5, dtype=dtype)
    cache = KVCache()
    end = 0
    for chunk in [3, 1, 1, 2, 1, 1]:  # a prompt of 3, then one or two at a time
        new = x[:, end : end + chunk]
        end += chunk
        out, w = cached_attention(
            layer, new, cache, need_weights=need_weights, average_attn_weights=False
        )
        prefix = x[:, :end]
        full, full_w = layer(
            prefix, prefix, prefix, is_causal=True, average_attn_weights=False
        )
        torch.testing.assert_close(out, full[:, -chunk:])
        if need_weights:
            assert w.shape == (2, 6, chunk, end)
            torch.testing.assert_close(w, full_w[:, :, -chunk:])
        else:
            assert w is None
        assert cache.keys.shape == (2, h_kv, end, 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_decoding_matches_pytorchs_multihead_attention(dtype):
    layer = make_layer(6, dtype=dtype)
    module = layer.to_torch().eval()
    x = randn(2, 7, 12, seed=6, dtype=dtype)
    causal = torch.ones(7, 7, dtype=torch.bool).triu(1)  # True = NOT allowed
    with torch.no_grad():
        expected, _ = module(x, x, x, attn_mask=causal, need_weights=False)
        cache = KVCache()
        steps = [cached_attention(layer, x[:, t : t + 1], cache)[0] for t in range(7)]
    torch.testing.assert_close(torch.cat(steps, dim=1), expected)


def test_gqa_at_h_kv_equal_h_decodes_like_multi_head_attention():
    gqa = make_layer(6, dtype=torch.float64)  # built as MultiHeadAttention
    grouped = mha.GroupedQueryAttention(12, 6, 6).to(torch.float64).eval()
    grouped.load_state_dict(gqa.state_dict())
    x = randn(1, 5, 12, seed=7)
    a, b = KVCache(), KVCache()
    for t in range(5):
        out_a, _ = cached_attention(gqa, x[:, t : t + 1], a)
        out_b, _ = cached_attention(grouped, x[:, t : t + 1], b)
        torch.testing.assert_close(out_a, out_b)


def test_sequence_first_layers_take_sequence_first_tokens():
    layer = make_layer(2, batch_first=False)
    x = randn(6, 2, 12, seed=8)  # (T, B, E)
    cache = KVCache()
    first, _ = cached_attention(layer, x[:4], cache)
    second, _ = cached_attention(layer, x[4:], cache)
    expected, _ = layer(x, x, x, is_causal=True)
    torch.testing.assert_close(torch.cat([first, second]), expected)
    assert cache.keys.shape == (2, 2, 6, 2)  # the cache is always (B, h_kv, S, d_k)


def test_the_top_left_mask_would_be_wrong_with_a_cache():
    """The pitfall the bottom-right mask avoids: it must be able to fail."""
    layer = make_layer(3)
    x = randn(1, 6, 12, seed=9)
    cache = KVCache()
    cached_attention(layer, x[:, :4], cache)
    q = mha.split_heads(layer.q_proj(x[:, 4:]), 6)  # (1, 6, 2, 2)
    k = mha.split_heads(layer.k_proj(x[:, 4:]), 3)
    v = mha.split_heads(layer.v_proj(x[:, 4:]), 3)
    keys, values = cache.append(k, v)
    wrong = mha.fused_attention(q, keys, values, mha.causal_mask(2, 6))
    wrong = layer.out_proj(mha.merge_heads(wrong))
    expected, _ = layer(x, x, x, is_causal=True)
    assert not torch.allclose(wrong, expected[:, 4:])


def test_cached_attention_rejects_bad_input():
    layer = make_layer(2)
    with pytest.raises(TypeError, match="from_torch"):
        cached_attention(torch.nn.MultiheadAttention(12, 6), randn(1, 2, 12), KVCache())
    with pytest.raises(ValueError, match="3-D"):
        cached_attention(layer, randn(2, 12), KVCache())
    with pytest.raises(ValueError, match="embed_dim E = 12"):
        cached_attention(layer, randn(1, 2, 8), KVCache())
    cross = mha.MultiHeadAttention(12, 6, kdim=4)
    with pytest.raises(ValueError, match="self-attention"):
        cached_attention(cross, randn(1, 2, 12, dtype=torch.float32), KVCache())
    other = make_layer(3)  # a cache filled by a layer with 3 kv heads
    cache = KVCache()
    cached_attention(other, randn(1, 2, 12), cache)
    with pytest.raises(ValueError, match="one cache per layer"):
        cached_attention(layer, randn(1, 1, 12), cache)


# --- padding: a batch of left-padded prompts --------------------------------------


def test_left_padded_batch_with_the_padding_mask_equals_each_prompt_alone():
    """Two prompts of lengths 3 and 5, left-padded to 5 in one batch: with the
    padding mask (remembered by the cache) every decode step equals the prompt run
    on its own. With RoPE the shift by the padding changes no score."""
    layer = make_layer(4, E=8, h=4)
    rope = Rotary()
    x = randn(2, 7, 8, seed=9)  # 5 prompt slots and 2 decoded tokens per row
    pad = torch.tensor([[True, True, False, False, False], [False] * 5])
    with torch.no_grad():
        cache = KVCache()
        cached_attention(layer, x[:, :5], cache, key_padding_mask=pad, rope=rope)
        steps = [
            cached_attention(layer, x[:, t : t + 1], cache, rope=rope)[0]
            for t in (5, 6)
        ]
        for b, start in [(0, 2), (1, 0)]:  # row b's first real token
            alone = KVCache()
            out, _ = cached_attention(layer, x[b : b + 1, start:], alone, rope=rope)
            torch.testing.assert_close(torch.cat(steps, 1)[b], out[0, -2:])
        assert cache.padding.shape == (2, 7) and cache.padding[0, :2].all()
        # The same step with the padding forgotten is wrong for the padded row.
        blind = KVCache()
        cached_attention(layer, x[:, :5], blind, rope=rope)
        wrong, _ = cached_attention(layer, x[:, 5:6], blind, rope=rope)
    assert not torch.allclose(wrong[0], steps[0][0])
    torch.testing.assert_close(wrong[1], steps[0][1])  # the unpadded row is fine


def test_cache_mask_is_none_only_when_nothing_is_hidden():
    cache = KVCache()
    cache.append(randn(1, 1, 3, 2), randn(1, 1, 3, 2))
    assert torch.equal(cache.mask(3), causal_mask_bottom_right(3, 3))
    cache.append(randn(1, 1, 1, 2), randn(1, 1, 1, 2))
    assert cache.mask(1) is None
    padded = KVCache()
    padded.append(
        randn(2, 1, 3, 2),
        randn(2, 1, 3, 2),
        torch.tensor([[True, False, False], [False] * 3]),
    )
    padded.append(randn(2, 1, 1, 2), randn(2, 1, 1, 2))
    mask = padded.mask(1)
    assert mask.shape == (2, 1, 1, 4)
    assert mask[0, 0, 0].tolist() == [True, False, False, False]
    assert not mask[1].any()


@pytest.mark.parametrize(
    "padding, error, match",
    [
        (torch.zeros(2, 3), TypeError, "bool"),
        (torch.zeros(2, 2, dtype=torch.bool), ValueError, r"\(B, T_new\)"),
    ],
)
def test_a_bad_padding_mask_is_refused(padding, error, match):
    with pytest.raises(error, match=match):
        KVCache().append(randn(2, 1, 3, 2), randn(2, 1, 3, 2), padding)


def test_mask_needs_enough_positions():
    cache = KVCache()
    cache.append(randn(1, 1, 2, 2), randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match="fewer than T_new"):
        cache.mask(3)


# --- multi-head latent attention ---------------------------------------------------


def test_mla_cache_bytes_is_the_latent_plus_the_rope_key():
    # DeepSeek-V2's sizes: d_c = 4 d_k = 512, d_R = d_k / 2 = 64, 60 layers, bf16
    n = mla_cache_bytes(1, 4096, 512, 64, num_layers=60, dtype=torch.bfloat16)
    assert n == 4096 * (512 + 64) * 2 * 60
    # per token and layer: 4.5 d_k numbers, against 2 h d_k for h = 128 heads
    mha_n = kv_cache_bytes(1, 4096, 128, 128, num_layers=60, dtype=torch.bfloat16)
    assert mha_n / n == 2 * 128 * 128 / (4.5 * 128)
    # a real latent cache: one (B, S, d_c + d_R) tensor holds exactly that
    latent = torch.zeros(3, 10, 16 + 4, dtype=torch.float32)
    assert mla_cache_bytes(3, 10, 16, 4, dtype=torch.float32) == latent.nbytes
    assert mla_cache_bytes(3, 10, 16, 0, dtype=torch.float32) == 3 * 10 * 16 * 4


@pytest.mark.parametrize(
    "args, error",
    [
        ((1, 8, 0, 4), ValueError),
        ((1, 8, 16, -1), ValueError),
        ((1, 8, 16, 2.0), TypeError),  # a float is the wrong type
        ((0, 8, 16, 4), ValueError),
    ],
)
def test_mla_cache_bytes_refuses_bad_sizes(args, error):
    with pytest.raises(error):
        mla_cache_bytes(*args)
