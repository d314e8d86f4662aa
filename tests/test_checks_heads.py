"""The checkers of mha.checks.heads (chapters 2 and 7) can fail: realistic wrong
answers are rejected with the matching hint, the reference is accepted, and an
untouched stub is 'not attempted'."""

from __future__ import annotations

from checking import standard_tests

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


(
    test_wrong_answer_is_rejected_with_its_hint,
    test_reference_is_accepted,
    test_stub_is_not_attempted,
) = standard_tests(CASES)
