"""The checkers of mha.checks.masks (chapters 5 and 6) can fail: realistic wrong
answers are rejected with the matching hint, the reference is accepted, and an
untouched stub is 'not attempted'."""

from __future__ import annotations

import math

import pytest
import torch
from checking import (
    assert_accepted,
    assert_not_attempted,
    assert_rejected,
    checkers_of,
    name_of,
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


@pytest.mark.parametrize("checker, reference, wrong, hint", CASES, ids=name_of)
def test_wrong_answer_is_rejected_with_its_hint(
    capsys, checker, reference, wrong, hint
):
    assert_rejected(capsys, checker, wrong, hint)


@pytest.mark.parametrize("checker, reference", checkers_of(CASES), ids=name_of)
def test_reference_is_accepted(capsys, checker, reference):
    assert_accepted(capsys, checker, reference)


@pytest.mark.parametrize("checker, reference", checkers_of(CASES), ids=name_of)
def test_stub_is_not_attempted(capsys, checker, reference):
    assert_not_attempted(capsys, checker)


def test_causal_mask_without_s_is_checked_on_square_masks_only(capsys):
    ok, report = verdict(capsys, checks.causal_mask, lambda T: mha.causal_mask(T))
    assert ok is True and "all 3 cases" in report
