"""mha.rope against a direct complex-number formulation, and its promises: relative
positions only, one convention per pairing, per-head frequencies, clear errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from tensors import randn

import mha
from mha.kv_cache import KVCache, cached_attention
from mha.rope import Rotary, apply_rope, rope_angles, rope_frequencies

DTYPES = [torch.float32, torch.float64]


def complex_rope(x, positions, base=10000.0):
    """RoFormer's definition, written independently: features (2i, 2i+1) are one
    complex number, multiplied by exp(1j * m * theta_i)."""
    d_k = x.shape[-1]
    theta = torch.tensor(
        [base ** (-2 * i / d_k) for i in range(d_k // 2)], dtype=torch.float64
    )
    angles = positions.to(torch.float64)[..., None] * theta  # (..., T, d_k / 2)
    z = torch.view_as_complex(x.to(torch.float64).unflatten(-1, (d_k // 2, 2)))
    rotated = z * torch.polar(torch.ones_like(angles), angles)
    return torch.view_as_real(rotated).flatten(-2).to(x.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d_k", [2, 4, 8, 16])
@pytest.mark.parametrize("start", [0, 3, 1000])
def test_interleaved_rope_is_a_complex_multiplication(dtype, d_k, start):
    x = randn(2, 3, 5, d_k, dtype=dtype)
    positions = torch.arange(start, start + 5)
    torch.testing.assert_close(apply_rope(x, start), complex_rope(x, positions))
    torch.testing.assert_close(apply_rope(x, positions), complex_rope(x, positions))


def test_per_sequence_positions_broadcast_over_heads():
    x = randn(2, 3, 4, 6)
    positions = torch.tensor([[0, 1, 2, 3], [7, 8, 9, 10]])  # (B, T)
    out = apply_rope(x, positions)
    for b in range(2):
        torch.testing.assert_close(out[b], complex_rope(x[b], positions[b]))


def test_half_pairing_is_the_interleaved_one_after_a_permutation():
    d_k = 8
    x = randn(2, 4, 5, d_k)
    # interleaved position 2i takes half-split feature i, 2i+1 takes i + d_k/2
    perm = torch.stack([torch.arange(d_k // 2), torch.arange(d_k // 2) + d_k // 2], 1)
    perm = perm.flatten()
    half = apply_rope(x, 2, pairing="half")
    inter = apply_rope(x[..., perm], 2, pairing="interleaved")
    torch.testing.assert_close(half[..., perm], inter)
    assert not torch.allclose(half, apply_rope(x, 2))  # the conventions differ


@pytest.mark.parametrize("pairing", ["interleaved", "half"])
def test_the_score_depends_only_on_the_relative_position(pairing):
    q, k = randn(16, seed=1), randn(16, seed=2)
    rot = Rotary(pairing=pairing)

    def score(m, n):
        qm = rot(q[None], torch.tensor([m]))
        kn = rot(k[None], torch.tensor([n]))
        return (qm * kn).sum().item()

    for m, n in [(0, 0), (5, 2), (2, 5), (17, 3)]:
        for delta in [1, 10, 1000]:
            assert math.isclose(score(m, n), score(m + delta, n + delta), abs_tol=1e-9)
    assert not math.isclose(score(5, 2), score(5, 3), abs_tol=1e-3)


def test_rotation_keeps_the_norm_and_position_zero_is_the_identity():
    x = randn(3, 7, 10)
    torch.testing.assert_close(apply_rope(x, 0)[..., :1, :], x[..., :1, :])
    torch.testing.assert_close(apply_rope(x, 5).norm(dim=-1), x.norm(dim=-1))


def test_frequencies_depend_on_head_dim_not_on_the_embedding():
    theta = rope_frequencies(8, base=100.0, dtype=torch.float64)
    expected = torch.tensor([100.0 ** (-i / 4) for i in range(4)], dtype=torch.float64)
    torch.testing.assert_close(theta, expected)
    assert rope_frequencies(4)[0] == 1.0
    # Rotating the whole E = h * d_k before the split is not per-head RoPE.
    x = randn(1, 5, 16)  # (B, T, E), E = 16, h = 2
    per_head = apply_rope(mha.split_heads(x, 2))
    whole = mha.split_heads(apply_rope(x), 2)
    assert not torch.allclose(per_head, whole)
    # Only pair 0 (theta_0 = 1 for any width) turns alike in head 0.
    torch.testing.assert_close(per_head[:, 0, :, :2], whole[:, 0, :, :2])


def test_angles_shape_and_values():
    angles = rope_angles(torch.arange(3), 4, base=100.0, dtype=torch.float64)
    assert angles.shape == (3, 2)
    expected = torch.tensor([2.0, 2.0 / 10], dtype=torch.float64)  # 100 ** -0.5
    torch.testing.assert_close(angles[2], expected)


def test_half_precision_input_is_rotated_with_float32_angles():
    x = randn(1, 1, 1, 8, dtype=torch.float32)
    pos = torch.tensor([3001])
    bf = apply_rope(x.to(torch.bfloat16), pos)
    assert bf.dtype == torch.bfloat16
    exact = complex_rope(x.double(), pos)
    # bfloat16 rounding of the result only: the angle of position 3001 is exact.
    torch.testing.assert_close(bf.double(), exact, atol=2e-2, rtol=1e-2)


@pytest.mark.parametrize("h_kv", [4, 2])
def test_a_cache_of_rotated_keys_equals_causal_recomputation(h_kv):
    torch.manual_seed(0)
    E, h, T = 16, 4, 9
    if h_kv == h:
        layer = mha.MultiHeadAttention(E, h).double().eval()
    else:
        layer = mha.GroupedQueryAttention(E, h, h_kv).double().eval()
    x = randn(2, T, E, seed=5)
    rope = Rotary()
    with torch.no_grad():
        cache, outs = KVCache(), []
        for a, b in [(0, 4), (4, 5), (5, 8), (8, 9)]:  # chunks and single steps
            outs.append(cached_attention(layer, x[:, a:b], cache, rope=rope)[0])
        q = apply_rope(mha.split_heads(layer.q_proj(x), h))
        k = apply_rope(mha.split_heads(layer.k_proj(x), h_kv))
        v = mha.split_heads(layer.v_proj(x), h_kv)
        full = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        full = layer.out_proj(mha.merge_heads(full))
    torch.testing.assert_close(torch.cat(outs, dim=1), full)
    torch.testing.assert_close(cache.keys, k)  # the cache holds rotated keys
    assert cache.seen == T


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: apply_rope(randn(2, 3, 5)), ValueError, "must be even"),
        (lambda: apply_rope(randn(2, 3, 5), 0), ValueError, "E / h"),
        (lambda: rope_frequencies(7), ValueError, "even"),
        (lambda: rope_frequencies(0), ValueError, "positive"),
        (lambda: apply_rope(randn(4)), ValueError, "T, d_k"),
        (lambda: apply_rope(torch.ones(2, 4, dtype=torch.long)), TypeError, "floating"),
        (lambda: apply_rope(randn(3, 4), torch.zeros(3)), TypeError, "integer"),
        (lambda: apply_rope(randn(3, 4), torch.arange(4)), ValueError, "T = 3"),
        (lambda: apply_rope(randn(3, 4), -1), ValueError, ">= 0"),
        (lambda: apply_rope(randn(3, 4), pairing="pairs"), ValueError, "interleaved"),
        (lambda: apply_rope(randn(3, 4), base=1.0), ValueError, "greater than 1"),
        (lambda: Rotary(base="big"), TypeError, "number"),
        (lambda: rope_angles(torch.zeros(3), 4), TypeError, "integer"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_cached_attention_refuses_a_rope_that_is_not_a_rotary():
    layer = mha.MultiHeadAttention(8, 2).eval()
    with pytest.raises(TypeError, match="Rotary"):
        cached_attention(layer, torch.randn(1, 2, 8), KVCache(), rope=apply_rope)
