"""checks.left_padded_step can fail: a forgotten, inverted or misplaced padding
mask and a top-left causal mask are each rejected with their hint; right answers
written with mha or with PyTorch's kernel pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import mha
from mha import checks
from mha.checks.decoding import (
    ALL_INVERTED,
    NO_CAUSAL,
    PAD_INVERTED,
    PAD_MISSING,
    PAD_RIGHT,
    TOP_LEFT,
)
from mha.kv_cache import causal_mask_bottom_right


def left_pad(lengths, S):
    return torch.arange(S)[None, :] < (S - lengths)[:, None]  # (B, S)


def masks(q, k, lengths):
    T, S = q.shape[-2], k.shape[-2]
    return left_pad(lengths, S)[:, None, None, :], causal_mask_bottom_right(T, S)


def right(q, k, v, lengths):
    pad, causal = masks(q, k, lengths)
    return mha.scaled_dot_product_attention(q, k, v, pad | causal)[0]


def right_with_sdpa(q, k, v, lengths):
    pad, causal = masks(q, k, lengths)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=~(pad | causal))


def right_with_finfo_min(q, k, v, lengths):
    """Another convention for masked scores: the most negative float."""
    pad, causal = masks(q, k, lengths)
    scores = mha.attention_scores(q, k)
    scores = scores.masked_fill(pad | causal, torch.finfo(scores.dtype).min)
    return scores.softmax(-1) @ v


def no_padding(q, k, v, lengths):
    _, causal = masks(q, k, lengths)
    return mha.scaled_dot_product_attention(q, k, v, causal)[0]


def pad_inverted(q, k, v, lengths):
    pad, causal = masks(q, k, lengths)
    return mha.scaled_dot_product_attention(q, k, v, ~pad | causal)[0]


def right_padding(q, k, v, lengths):
    _, causal = masks(q, k, lengths)
    pad = mha.padding_mask(lengths, k.shape[-2])[:, None, None, :]
    return mha.scaled_dot_product_attention(q, k, v, pad | causal)[0]


def mha_mask_to_sdpa(q, k, v, lengths):
    pad, causal = masks(q, k, lengths)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=pad | causal)


def nn_style_nan_rows(q, k, v, lengths):
    """The same inverted mask, with NaN on empty rows (torch.softmax of all -inf)."""
    pad, causal = masks(q, k, lengths)
    scores = mha.attention_scores(q, k).masked_fill(~(pad | causal), float("-inf"))
    return scores.softmax(-1) @ v


def top_left(q, k, v, lengths):
    pad, _ = masks(q, k, lengths)
    return mha.scaled_dot_product_attention(q, k, v, pad, is_causal=True)[0]


def no_causal(q, k, v, lengths):
    pad, _ = masks(q, k, lengths)
    return mha.scaled_dot_product_attention(q, k, v, pad)[0]


def stub(q, k, v, lengths):
    raise NotImplementedError("Write your code here, then run the check.")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (no_padding, PAD_MISSING),
        (pad_inverted, PAD_INVERTED),
        (right_padding, PAD_RIGHT),
        (mha_mask_to_sdpa, ALL_INVERTED),
        (nn_style_nan_rows, ALL_INVERTED),
        (top_left, TOP_LEFT),
        (no_causal, NO_CAUSAL),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_wrong_answers_are_rejected_with_their_hint(capsys, wrong, hint):
    assert checks.left_padded_step(wrong) is False
    report = capsys.readouterr().out
    assert "failed" in report
    given = " ".join(report.split("hint:", 1)[1].split())
    assert given == " ".join(hint.split()), report


@pytest.mark.parametrize("answer", [right, right_with_sdpa, right_with_finfo_min])
def test_right_answers_are_accepted(capsys, answer):
    assert checks.left_padded_step(answer) is True
    assert "all 4 cases pass" in capsys.readouterr().out


def test_an_untouched_stub_is_not_attempted(capsys):
    assert checks.left_padded_step(stub) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_returning_nothing_is_reported(capsys):
    assert checks.left_padded_step(lambda q, k, v, lengths: None) is False
    assert "received a None" in capsys.readouterr().out
