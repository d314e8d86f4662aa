"""QK-norm and soft-capping bound the scores, as their docstrings promise."""

from __future__ import annotations

import math

import pytest
import torch
from tensors import randn

import mha
from mha.logits import qk_norm, soft_cap


@pytest.mark.parametrize("scale", [0.1, 1.0, 1e3])
def test_qk_norm_bounds_the_scores_by_sqrt_dk(scale):
    d_k = 16
    q, k = scale * randn(2, 3, 7, d_k, seed=1), scale * randn(2, 3, 9, d_k, seed=2)
    qn, kn = qk_norm(q), qk_norm(k)
    norms = qn.norm(dim=-1)  # sqrt(d_k) = 4, up to the eps in the root
    torch.testing.assert_close(norms, torch.full_like(norms, 4.0), rtol=1e-3, atol=0)
    assert norms.max() <= 4.0
    scores = mha.attention_scores(qn, kn)  # divided by sqrt(d_k)
    assert scores.abs().max() <= math.sqrt(d_k) + 1e-9


def test_qk_norm_is_rms_norm_times_the_gain():
    x, w = randn(4, 6, seed=3), randn(6, seed=4)
    expected = x / x.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt() * w
    torch.testing.assert_close(qk_norm(x, w), expected)
    torch.testing.assert_close(
        qk_norm(x.float(), w.float()),
        torch.nn.functional.rms_norm(x.float(), (6,), w.float(), eps=1e-6),
    )


def test_qk_norm_keeps_the_dtype():
    x = randn(3, 8).to(torch.bfloat16)
    assert qk_norm(x).dtype == torch.bfloat16


def test_soft_cap_is_bounded_and_nearly_the_identity_for_small_scores():
    s = torch.linspace(-1e4, 1e4, 1001, dtype=torch.float64)
    capped = soft_cap(s, 50.0)
    assert capped.abs().max() <= 50.0  # tanh rounds to 1 far out
    small = torch.linspace(-1, 1, 11, dtype=torch.float64)
    # cap * tanh(s / cap) = s - s**3 / (3 cap**2) + ...: within that of s
    gap = (soft_cap(small, 50.0) - small).abs()
    assert torch.all(gap <= small.abs() ** 3 / (3 * 50.0**2) + 1e-15)
    assert torch.all(capped.diff() >= 0)  # order of the scores is kept


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: soft_cap(randn(3), 0.0), ValueError, "> 0"),
        (lambda: soft_cap(randn(3), "50"), TypeError, "number"),
        (lambda: soft_cap(torch.ones(3, dtype=torch.long), 5.0), TypeError, "floating"),
        (lambda: qk_norm(randn(3, 4), randn(3)), ValueError, r"\(d_k,\)"),
        (lambda: qk_norm(randn(3, 4), eps=0), ValueError, "eps"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
