"""The checkers of mha.checks.layer (chapters 3 and 7) can fail: realistic wrong
answers are rejected with the matching hint, the reference is accepted, and an
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


def block_tiled(w, h):
    return w.repeat(h, h)


def block_transposed(w, h):
    return torch.block_diag(*[w.T] * h)


def block_reference(w, h):
    return torch.block_diag(*[w] * h)


CASES = [
    (checks.block_diagonal, block_reference, block_tiled, "tiled the weight"),
    (checks.block_diagonal, block_reference, block_transposed, "blocks are transposed"),
]


(
    test_wrong_answer_is_rejected_with_its_hint,
    test_reference_is_accepted,
    test_stub_is_not_attempted,
) = standard_tests(CASES)


def mha_reference(query, key, value, num_heads, attn_mask=None, **w):
    return mha.multi_head_attention(
        query,
        key,
        value,
        num_heads=num_heads,
        attn_mask=attn_mask,
        average_attn_weights=False,
        **w,
    )


def mha_blog_scale(query, key, value, num_heads, w_q, b_q, **w):
    """Scores divided by sqrt(E), like the blog post: queries shrink by sqrt(h)."""
    shrink = math.sqrt(num_heads)
    return mha_reference(
        query, key, value, num_heads, w_q=w_q / shrink, b_q=b_q / shrink, **w
    )


def mha_no_transpose(
    query, key, value, num_heads, w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o
):
    B, T, E = query.shape
    S, d = key.shape[1], E // num_heads
    q = (query @ w_q.T + b_q).reshape(B, T, num_heads, d).transpose(1, 2)
    k = (key @ w_k.T + b_k).reshape(B, S, num_heads, d).transpose(1, 2)
    v = (value @ w_v.T + b_v).reshape(B, S, num_heads, d).transpose(1, 2)
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)
    out = (w @ v).reshape(B, T, E)  # the heads are still in front of T
    return out @ w_o.T + b_o, w


def mha_no_out_proj(query, key, value, num_heads, w_o, b_o, **w):
    out, weights = mha_reference(
        query,
        key,
        value,
        num_heads,
        w_o=torch.eye(w_o.shape[0]),
        b_o=torch.zeros_like(b_o),
        **w,
    )
    return out, weights


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (mha_no_transpose, "without .transpose(1, 2)"),
        (mha_no_out_proj, "output projection is missing"),
        (mha_blog_scale, "sqrt(E), the blog's constant"),
    ],
)
def test_multi_head_attention_mistakes_are_named(capsys, wrong, hint):
    ok, report = verdict(capsys, checks.multi_head_attention, wrong)
    assert ok is False and hint in report, report


def test_multi_head_attention_accepts_reference_and_checks_masks(capsys):
    ok, report = verdict(capsys, checks.multi_head_attention, mha_reference)
    assert ok is True and "all 6 cases" in report, report


def test_multi_head_attention_stub(capsys):
    ok, report = verdict(capsys, checks.multi_head_attention, stub)
    assert ok is False and "not attempted yet" in report
