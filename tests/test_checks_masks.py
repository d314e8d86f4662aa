"""The checkers of mha.checks.masks (chapters 5 and 6) can fail: realistic wrong
answers are rejected with the matching hint, the reference is accepted, and an
untouched stub is 'not attempted'."""

from __future__ import annotations

import math

import torch
from checking import (
    standard_tests,
    verdict,
)

import mha
from mha import checks


def causal_inverted(T, S=None):
    return torch.ones(T, T if S is None else S, dtype=torch.bool).tril()


def causal_diagonal(T, S=None):
    return torch.ones(T, T if S is None else S, dtype=torch.bool).triu(0)


def causal_float(T, S=None):
    return torch.ones(T, T if S is None else S).triu(1)


def padding_inverted(lengths, S):
    return torch.arange(S)[None, :] < torch.as_tensor(lengths)[:, None]


def padding_off_by_one(lengths, S):
    return torch.arange(S)[None, :] > torch.as_tensor(lengths)[:, None]


def softmax_wrong_dim(scores, mask=None):
    if mask is not None:
        scores = scores.masked_fill(mask, -math.inf)
    return torch.softmax(scores, dim=-2)


def softmax_inverted(scores, mask=None):
    if mask is not None:
        scores = scores.masked_fill(~mask.bool(), -math.inf)
    return torch.softmax(scores, dim=-1)


def softmax_nan_rows(scores, mask=None):
    """Right everywhere except fully masked rows, where it gives NaN."""
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill(mask, -math.inf)
    elif mask is not None:
        scores = scores + mask
    return torch.softmax(scores, dim=-1)


CASES = [
    (checks.causal_mask, mha.causal_mask, causal_inverted, "polarity is inverted"),
    (checks.causal_mask, mha.causal_mask, causal_diagonal, "attend to itself"),
    (checks.causal_mask, mha.causal_mask, causal_float, "boolean tensor"),
    (checks.padding_mask, mha.padding_mask, padding_inverted, "polarity is inverted"),
    (checks.padding_mask, mha.padding_mask, padding_off_by_one, "off by one"),
    (checks.masked_softmax, mha.masked_softmax, softmax_wrong_dim, "wrong dimension"),
    (checks.masked_softmax, mha.masked_softmax, softmax_inverted, "polarity"),
    (checks.masked_softmax, mha.masked_softmax, softmax_nan_rows, "NaN"),
]


(
    test_wrong_answer_is_rejected_with_its_hint,
    test_reference_is_accepted,
    test_stub_is_not_attempted,
) = standard_tests(CASES)


def test_causal_mask_without_s_is_checked_on_square_masks_only(capsys):
    ok, report = verdict(capsys, checks.causal_mask, lambda T: mha.causal_mask(T))
    assert ok is True and "all 3 cases" in report
