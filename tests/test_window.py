"""Sliding windows and sinks: the mask's rule, the banded computation's work, and a
cache whose memory stops growing while it still equals full recomputation."""

from __future__ import annotations

import pytest
import torch
from tensors import randn
from torch.utils.flop_counter import FlopCounterMode

import mha
from mha.kv_cache import KVCache, cached_attention
from mha.rope import Rotary, apply_rope
from mha.window import (
    SlidingWindowCache,
    banded_attention,
    sliding_window_mask,
    window_pairs,
)


def by_rule(T, S, window, sinks):
    """The rule written out cell by cell: True = NOT allowed."""
    mask = torch.ones(T, S, dtype=torch.bool)
    for i in range(T):
        p = S - T + i
        for j in range(S):
            if j <= p and (p - j < window or j < sinks):
                mask[i, j] = False
    return mask


@pytest.mark.parametrize(
    "T, S, window, sinks", [(6, 6, 2, 0), (6, 6, 3, 1), (3, 9, 4, 2), (1, 7, 3, 0)]
)
def test_mask_follows_the_rule(T, S, window, sinks):
    mask = sliding_window_mask(T, S, window=window, sinks=sinks)
    assert torch.equal(mask, by_rule(T, S, window, sinks))


def test_a_window_as_long_as_the_sequence_is_the_causal_mask():
    assert torch.equal(sliding_window_mask(7, window=7), mha.causal_mask(7))
    assert torch.equal(sliding_window_mask(7, window=50), mha.causal_mask(7))


@pytest.mark.parametrize(
    "T, window, sinks", [(1, 3, 0), (5, 8, 0), (20, 4, 0), (20, 4, 3), (9, 1, 1)]
)
def test_window_pairs_counts_the_allowed_cells(T, window, sinks):
    mask = sliding_window_mask(T, window=window, sinks=sinks)
    assert window_pairs(T, window, sinks) == (~mask).sum().item()
    if window <= T and sinks == 0:
        assert window_pairs(T, window) == T * window - window * (window - 1) // 2


@pytest.mark.parametrize(
    "window, sinks, block", [(4, 0, 3), (5, 2, 4), (16, 1, 8), (1, 0, 5)]
)
def test_banded_attention_equals_masked_full_attention(window, sinks, block):
    q, k, v = (randn(2, 3, 19, 4, seed=s) for s in range(3))
    mask = sliding_window_mask(19, window=window, sinks=sinks)
    full, _ = mha.scaled_dot_product_attention(q, k, v, mask)
    out = banded_attention(q, k, v, window=window, sinks=sinks, block=block)
    torch.testing.assert_close(out, full)


def test_banded_work_grows_linearly_with_length():
    def flops(T):
        q = k = v = randn(1, 1, T, 8)
        with FlopCounterMode(display=False) as counter:
            banded_attention(q, k, v, window=8, block=8)
        return counter.get_total_flops()

    # Each block of 8 queries after the first meets 8 + 7 keys: every further 64
    # tokens cost the same (only the first block is cheaper).
    assert flops(256) - flops(192) == flops(192) - flops(128) == flops(128) - flops(64)
    assert flops(256) <= 256 * (8 + 8) * 8 * 2 * 2  # QK^T and PV, 2 FLOPs per MAC


@pytest.mark.parametrize("window, sinks", [(4, 0), (4, 2), (1, 0), (30, 0)])
def test_window_cache_equals_recomputation_and_stays_bounded(window, sinks):
    torch.manual_seed(0)
    E, h, T = 12, 3, 17
    layer = mha.MultiHeadAttention(E, h).double().eval()
    x = randn(2, T, E, seed=4)
    rope = Rotary()
    cache, outs, sizes = SlidingWindowCache(window, sinks), [], []
    with torch.no_grad():
        for a, b in [(0, 5)] + [(t, t + 1) for t in range(5, T)]:
            outs.append(cached_attention(layer, x[:, a:b], cache, rope=rope)[0])
            sizes.append(cache.seq_len)
        q = apply_rope(mha.split_heads(layer.q_proj(x), h))
        k = apply_rope(mha.split_heads(layer.k_proj(x), h))
        v = mha.split_heads(layer.v_proj(x), h)
        mask = sliding_window_mask(T, window=window, sinks=sinks)
        full, _ = mha.scaled_dot_product_attention(q, k, v, mask)
        full = layer.out_proj(mha.merge_heads(full))
    torch.testing.assert_close(torch.cat(outs, dim=1), full)
    assert max(sizes[1:]) <= window + sinks  # after the prefill, never more
    if window < T:
        assert sizes[-1] == min(window + sinks, T)
    assert cache.seen == T


def test_window_cache_repr_and_reset():
    cache = SlidingWindowCache(3, sinks=1)
    cache.append(randn(1, 1, 5, 2), randn(1, 1, 5, 2))
    assert "window=3" in repr(cache) and cache.seq_len == 5
    cache.append(randn(1, 1, 1, 2), randn(1, 1, 1, 2))
    assert cache.positions.tolist() == [0, 3, 4, 5]  # sink 0, then the window
    cache.reset()
    assert cache.seq_len == 0 and cache.seen == 0


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: sliding_window_mask(4, window=0), ValueError, "positive"),
        (lambda: sliding_window_mask(4, window=2, sinks=-1), ValueError, "sinks"),
        (lambda: sliding_window_mask(5, 3, window=2), ValueError, "S >= T"),
        (lambda: window_pairs(4, 2.0), TypeError, "int"),
        (lambda: SlidingWindowCache(0), ValueError, "positive"),
        (
            lambda: banded_attention(randn(4, 2), randn(5, 2), randn(5, 2), window=2),
            ValueError,
            "one T",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_an_unbounded_cache_keeps_everything():
    cache = KVCache()
    for _ in range(4):
        cache.append(randn(1, 1, 2, 2), randn(1, 1, 2, 2))
    assert cache.seq_len == 8 and cache.positions.tolist() == list(range(8))
