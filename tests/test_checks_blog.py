"""The blog-mask checker can fail: the reference passes, realistic wrong converters
are rejected with the hint that names their mistake, and a stub is 'not attempted'."""

from __future__ import annotations

import pytest
import torch

import mha
from mha import checks


def stub(mask, batch_size, num_heads, query_len, key_len):
    raise NotImplementedError("Write your code here, then run the check.")


def reference(mask, batch_size, num_heads, query_len, key_len):
    """A learner's correct answer, written out rather than calling mha."""
    shape = (batch_size, num_heads, query_len, key_len)
    hidden = (mask == 0).expand(shape)  # (N, h, T, S), True = masked
    return hidden.reshape(batch_size * num_heads, query_len, key_len)


def with_repeat_interleave(mask, batch_size, num_heads, query_len, key_len):
    """Also right: one mask per batch element, then each repeated once per head."""
    if mask.dim() >= 3 and mask.shape[-3] != 1:  # the mask differs per head
        return reference(mask, batch_size, num_heads, query_len, key_len)
    per_batch = (mask == 0).expand(batch_size, 1, query_len, key_len)
    flat = per_batch.reshape(batch_size, query_len, key_len)
    return flat.repeat_interleave(num_heads, dim=0)


def inverted(mask, batch_size, num_heads, query_len, key_len):
    shape = (batch_size, num_heads, query_len, key_len)
    return (mask != 0).expand(shape).reshape(-1, query_len, key_len)


def head_major(mask, batch_size, num_heads, query_len, key_len):
    """mask.repeat(h, 1, 1): heads outside, batch inside."""
    if mask.dim() >= 3 and mask.shape[-3] != 1:
        shape = (batch_size, num_heads, query_len, key_len)
        return (mask == 0).expand(shape).transpose(0, 1).reshape(-1, *shape[2:])
    flat = (mask == 0).expand(batch_size, 1, query_len, key_len)
    return flat.reshape(batch_size, query_len, key_len).repeat(num_heads, 1, 1)


def as_floats(mask, batch_size, num_heads, query_len, key_len):
    return reference(mask, batch_size, num_heads, query_len, key_len).float()


def no_heads(mask, batch_size, num_heads, query_len, key_len):
    return (
        (mask == 0)
        .expand(batch_size, 1, query_len, key_len)
        .reshape(batch_size, query_len, key_len)
    )


def verdict(capsys, fn) -> tuple[bool, str]:
    ok = checks.blog_mask_to_torch(fn)
    return ok, capsys.readouterr().out


@pytest.mark.parametrize(
    "fn", [mha.blog_mask_to_standard, reference, with_repeat_interleave]
)
def test_right_answers_pass(capsys, fn):
    ok, out = verdict(capsys, fn)
    assert ok, out
    assert "all 6 cases pass" in out


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (inverted, "polarity is inverted"),
        (head_major, "wrong order"),
        (as_floats, "boolean tensor"),
        (no_heads, "per batch element AND head"),
    ],
)
def test_wrong_answers_fail_with_their_hint(capsys, fn, hint):
    ok, out = verdict(capsys, fn)
    assert not ok
    assert "failed" in out
    assert hint in " ".join(out.split()), out


def test_stub_is_not_attempted(capsys):
    ok, out = verdict(capsys, stub)
    assert not ok
    assert "not attempted yet" in out


def test_a_crash_is_reported_not_raised(capsys):
    def crashes(mask, batch_size, num_heads, query_len, key_len):
        return mask.reshape(batch_size * num_heads, query_len, key_len) == 0

    ok, out = verdict(capsys, crashes)
    assert not ok
    assert "raised RuntimeError" in out


def test_the_converted_mask_gives_the_blogs_outputs_in_pytorch():
    """What the exercise is for: the blog's layer, as nn.MultiheadAttention."""
    torch.manual_seed(0)
    N, h, T, E = 2, 4, 5, 16
    blog = mha.BlogMultiHeadAttention(E, h).double()
    torch_layer = mha.blog_to_standard(blog).to_torch()
    x = torch.randn(N, T, E, dtype=torch.float64)
    keep = torch.ones(T, T, dtype=torch.int64).tril()  # the blog's causal mask
    attn_mask = reference(keep, N, h, T, T)
    out, _ = torch_layer(x, x, x, attn_mask=attn_mask)
    torch.testing.assert_close(out, blog(x, x, x, keep))
