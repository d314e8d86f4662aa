"""The checkers of mha.checks.attention (chapters 1, 4 and 8) can fail: realistic
wrong answers are rejected with the matching hint, the reference is accepted, and an
untouched stub is 'not attempted'."""

from __future__ import annotations

import math

import pytest
import torch
from checking import (
    standard_tests,
    stub,
    verdict,
)

import mha
from mha import checks


def scores_no_scale(q, k):
    return q @ k.transpose(-2, -1)


def scores_by_dk(q, k):
    return q @ k.transpose(-2, -1) / q.shape[-1]


def sdpa_no_scale(q, k, v, mask=None):
    w = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
    return w @ v, w


def sdpa_wrong_dim(q, k, v, mask=None):
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2)
    return w @ v, w


def sdpa_inverted_mask(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, -math.inf)
    w = torch.softmax(s, dim=-1)
    return w @ v, w


def sdpa_crashes(q, k, v, mask=None):
    return q @ k  # forgot the transpose: a shape error inside the learner's code


CASES = [
    (checks.attention_scores, mha.attention_scores, scores_no_scale, "sqrt(d_k)"),
    (checks.attention_scores, mha.attention_scores, scores_by_dk, "divided by d_k"),
    (
        checks.scaled_dot_product_attention,
        mha.scaled_dot_product_attention,
        sdpa_no_scale,
        "sqrt(d_k)",
    ),
    (
        checks.scaled_dot_product_attention,
        mha.scaled_dot_product_attention,
        sdpa_wrong_dim,
        "wrong dimension",
    ),
    (
        checks.scaled_dot_product_attention,
        mha.scaled_dot_product_attention,
        sdpa_inverted_mask,
        "polarity",
    ),
    (
        checks.scaled_dot_product_attention,
        mha.scaled_dot_product_attention,
        sdpa_crashes,
        "RuntimeError",
    ),
]


(
    test_wrong_answer_is_rejected_with_its_hint,
    test_reference_is_accepted,
    test_stub_is_not_attempted,
) = standard_tests(CASES)


def entropy_reference(w):
    return -torch.special.xlogy(w, w).sum(dim=-1)


def entropy_naive(w):
    return -(w * w.log()).sum(dim=-1)  # 0 * log 0 = NaN on masked keys


def entropy_no_minus(w):
    return torch.special.xlogy(w, w).sum(dim=-1)


def entropy_bits(w):
    return -torch.special.xlogy(w, w).sum(dim=-1) / math.log(2)


def entropy_mean(w):
    return -torch.special.xlogy(w, w).mean(dim=-1)


def entropy_wrong_dim(w):
    return -torch.special.xlogy(w, w).sum(dim=-2)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (entropy_naive, "0 * log(0) is NaN"),
        (entropy_no_minus, "lost the minus sign"),
        (entropy_bits, "in bits (log2)"),
        (entropy_mean, "do not average"),
        (entropy_wrong_dim, "wrong axis"),
    ],
)
def test_attention_entropy_mistakes_are_named(capsys, wrong, hint):
    ok, report = verdict(capsys, checks.attention_entropy, wrong)
    assert ok is False and hint in report, report


def test_attention_entropy_accepts_reference_and_rejects_stub(capsys):
    ok, report = verdict(capsys, checks.attention_entropy, entropy_reference)
    assert ok is True and "all 5 cases pass" in report, report
    ok, report = verdict(capsys, checks.attention_entropy, stub)
    assert ok is False and "not attempted yet" in report
