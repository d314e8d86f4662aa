"""checks.rope_cache can fail: each realistic wrong decoding step is rejected with
its own hint, right answers written in different ways pass, a stub is 'not
attempted'."""

from __future__ import annotations

import pytest
import torch

import mha
from mha import checks
from mha.checks.rope import (
    ROPE_AT_ZERO,
    ROPE_NO_APPEND,
    ROPE_NO_MASK,
    ROPE_NO_QUERY,
    ROPE_PAIRING,
    ROPE_TOP_LEFT,
    ROPE_TOP_LEFT_CHUNK,
    ROPE_TWICE,
    ROPE_VALUES,
)
from mha.kv_cache import causal_mask_bottom_right
from mha.rope import apply_rope


def attend(q, keys, values, top_left=False, masked=True):
    T, S = q.shape[-2], keys.shape[-2]
    if top_left == "always":
        return torch.nn.functional.scaled_dot_product_attention(
            q, keys, values, is_causal=True
        )
    if not masked or T == 1:
        mask = None
    else:
        mask = mha.causal_mask(T, S) if top_left else causal_mask_bottom_right(T, S)
    return mha.scaled_dot_product_attention(q, keys, values, mask)[0]


def right(q, k, v, cache):
    start = cache.seq_len
    keys, values = cache.append(apply_rope(k, start), v)
    return attend(apply_rope(q, start), keys, values)


def right_with_sdpa_and_positions(q, k, v, cache):
    """Another right answer: explicit positions, PyTorch's kernel, its own mask."""
    T = q.shape[-2]
    positions = torch.arange(cache.seq_len, cache.seq_len + T)
    keys, values = cache.append(apply_rope(k, positions), v)
    keep = ~causal_mask_bottom_right(T, keys.shape[-2])  # True = takes part
    return torch.nn.functional.scaled_dot_product_attention(
        apply_rope(q, positions), keys, values, attn_mask=keep
    )


def right_storing_unrotated_keys(q, k, v, cache):
    """Correct but slower: cache raw keys, rotate them all at every step."""
    start = cache.seq_len
    raw_keys, values = cache.append(k, v)
    return attend(apply_rope(q, start), apply_rope(raw_keys, 0), values)


def at_zero(q, k, v, cache):
    keys, values = cache.append(apply_rope(k, 0), v)
    return attend(apply_rope(q, 0), keys, values)


def values_too(q, k, v, cache):
    s = cache.seq_len
    keys, values = cache.append(apply_rope(k, s), apply_rope(v, s))
    return attend(apply_rope(q, s), keys, values)


def half_pairing(q, k, v, cache):
    s = cache.seq_len
    keys, values = cache.append(apply_rope(k, s, pairing="half"), v)
    return attend(apply_rope(q, s, pairing="half"), keys, values)


def query_unrotated(q, k, v, cache):
    keys, values = cache.append(apply_rope(k, cache.seq_len), v)
    return attend(q, keys, values)


def rotated_twice(q, k, v, cache):
    s = cache.seq_len
    keys, values = cache.append(apply_rope(k, s), v)
    return attend(apply_rope(q, s), apply_rope(keys, 0), values)


def never_appends(q, k, v, cache):
    s = cache.seq_len  # stays 0: nothing is ever stored
    return attend(apply_rope(q, s), apply_rope(k, s), v)


def top_left(q, k, v, cache):
    s = cache.seq_len
    keys, values = cache.append(apply_rope(k, s), v)
    return attend(apply_rope(q, s), keys, values, top_left=True)


def is_causal_always(q, k, v, cache):
    s = cache.seq_len
    keys, values = cache.append(apply_rope(k, s), v)
    return attend(apply_rope(q, s), keys, values, top_left="always")


def unmasked(q, k, v, cache):
    s = cache.seq_len
    keys, values = cache.append(apply_rope(k, s), v)
    return attend(apply_rope(q, s), keys, values, masked=False)


def stub(q, k, v, cache):
    raise NotImplementedError("Write your code here, then run the check.")


def crashes(q, k, v, cache):
    return apply_rope(q, cache.seq_len) @ k  # (.., T, d_k) @ (.., T, d_k)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (at_zero, ROPE_AT_ZERO),
        (values_too, ROPE_VALUES),
        (half_pairing, ROPE_PAIRING),
        (query_unrotated, ROPE_NO_QUERY),
        (rotated_twice, ROPE_TWICE),
        (is_causal_always, ROPE_TOP_LEFT),
        (top_left, ROPE_TOP_LEFT_CHUNK),
        (unmasked, ROPE_NO_MASK),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_wrong_answers_are_rejected_with_their_hint(capsys, wrong, hint):
    assert checks.rope_cache(wrong) is False
    report = capsys.readouterr().out
    assert "failed" in report
    given = " ".join(report.split("hint:", 1)[1].split())
    assert given == " ".join(hint.split()), report


def test_a_step_that_never_appends_is_named(capsys):
    """never_appends recomputes nothing and stores nothing: its first step is right
    and its second is wrong, which is the mistake the hint names."""
    assert checks.rope_cache(never_appends) is False
    report = capsys.readouterr().out
    assert "item 1 of the returned tuple differs" in report
    assert " ".join(ROPE_NO_APPEND.split()) in " ".join(report.split())


@pytest.mark.parametrize(
    "answer", [right, right_with_sdpa_and_positions, right_storing_unrotated_keys]
)
def test_right_answers_are_accepted(capsys, answer):
    assert checks.rope_cache(answer) is True
    assert "all 3 cases pass" in capsys.readouterr().out


def test_an_untouched_stub_is_not_attempted(capsys):
    assert checks.rope_cache(stub) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_a_crash_is_reported_not_raised(capsys):
    assert checks.rope_cache(crashes) is False
    assert "raised RuntimeError" in capsys.readouterr().out


def test_something_not_callable_is_reported(capsys):
    assert checks.rope_cache(None) is False
    assert "expected your function" in capsys.readouterr().out
