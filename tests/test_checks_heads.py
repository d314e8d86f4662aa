"""The checkers of mha.checks.heads (chapters 2 and 7) can fail: realistic wrong
answers are rejected with the matching hint, the reference is accepted, and an
untouched stub is 'not attempted'."""

from __future__ import annotations

import pytest
from checking import (
    assert_accepted,
    assert_not_attempted,
    assert_rejected,
    checkers_of,
    name_of,
)

import mha
from mha import checks


def split_no_transpose(x, h):
    B, T, E = x.shape
    return x.reshape(B, h, T, E // h)


def split_swapped(x, h):
    B, T, E = x.shape
    return x.reshape(B, T, E // h, h).permute(0, 3, 1, 2)


def merge_no_transpose(x):
    B, h, T, d = x.shape
    return x.reshape(B, T, h * d)


def merge_wrong_order(x):
    B, h, T, d = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, h * d)


CASES = [
    (checks.split_heads, mha.split_heads, split_no_transpose, "transpose(1, 2)"),
    (
        checks.split_heads,
        mha.split_heads,
        split_swapped,
        "(d_k, h) instead of (h, d_k)",
    ),
    (checks.merge_heads, mha.merge_heads, merge_no_transpose, "moving the heads back"),
    (checks.merge_heads, mha.merge_heads, merge_wrong_order, "then reshape"),
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
