"""The exercise checkers can fail: realistic wrong answers are rejected with the
matching hint, the reference is accepted, and an untouched stub is 'not attempted'."""

from __future__ import annotations

import math

import pytest
import torch

import mha
from mha import checks


def stub(*args, **kwargs):
    raise NotImplementedError("Write your code here, then run the check.")


def verdict(capsys, checker, fn) -> tuple[bool, str]:
    """The checker's verdict and its report, line breaks as spaces (reports are
    wrapped to the book's column, so a phrase may run over two lines)."""
    ok = checker(fn)
    return ok, " ".join(capsys.readouterr().out.split())


# --- realistic wrong answers, one function per mistake ---------------------------


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


def scores_no_scale(q, k):
    return q @ k.transpose(-2, -1)


def scores_by_dk(q, k):
    return q @ k.transpose(-2, -1) / q.shape[-1]


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


def block_tiled(w, h):
    return w.repeat(h, h)


def block_transposed(w, h):
    return torch.block_diag(*[w.T] * h)


def block_reference(w, h):
    return torch.block_diag(*[w] * h)


CASES = [
    (checks.block_diagonal, block_reference, block_tiled, "tiled the weight"),
    (checks.block_diagonal, block_reference, block_transposed, "blocks are transposed"),
    (checks.split_heads, mha.split_heads, split_no_transpose, "transpose(1, 2)"),
    (
        checks.split_heads,
        mha.split_heads,
        split_swapped,
        "(d_k, h) instead of (h, d_k)",
    ),
    (checks.merge_heads, mha.merge_heads, merge_no_transpose, "moving the heads back"),
    (checks.merge_heads, mha.merge_heads, merge_wrong_order, "then reshape"),
    (checks.attention_scores, mha.attention_scores, scores_no_scale, "sqrt(d_k)"),
    (checks.attention_scores, mha.attention_scores, scores_by_dk, "divided by d_k"),
    (checks.causal_mask, mha.causal_mask, causal_inverted, "polarity is inverted"),
    (checks.causal_mask, mha.causal_mask, causal_diagonal, "attend to itself"),
    (checks.causal_mask, mha.causal_mask, causal_float, "boolean tensor"),
    (checks.padding_mask, mha.padding_mask, padding_inverted, "polarity is inverted"),
    (checks.padding_mask, mha.padding_mask, padding_off_by_one, "off by one"),
    (checks.masked_softmax, mha.masked_softmax, softmax_wrong_dim, "wrong dimension"),
    (checks.masked_softmax, mha.masked_softmax, softmax_inverted, "polarity"),
    (checks.masked_softmax, mha.masked_softmax, softmax_nan_rows, "NaN"),
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


@pytest.mark.parametrize(
    "checker, reference, wrong, hint", CASES, ids=lambda x: getattr(x, "__name__", "")
)
def test_wrong_answer_is_rejected_with_its_hint(
    capsys, checker, reference, wrong, hint
):
    ok, report = verdict(capsys, checker, wrong)
    assert ok is False
    assert "failed" in report or "raised" in report, report
    assert hint in report, report


CHECKERS = sorted({(c, r) for c, r, _, _ in CASES}, key=lambda p: p[0].__name__)


@pytest.mark.parametrize("checker, reference", CHECKERS, ids=lambda x: x.__name__)
def test_reference_is_accepted(capsys, checker, reference):
    ok, report = verdict(capsys, checker, reference)
    assert ok is True, report
    assert "all" in report and "pass" in report


@pytest.mark.parametrize("checker, reference", CHECKERS, ids=lambda x: x.__name__)
def test_stub_is_not_attempted(capsys, checker, reference):
    ok, report = verdict(capsys, checker, stub)
    assert ok is False
    assert "not attempted yet" in report


def test_a_non_function_is_reported_not_raised(capsys):
    ok, report = verdict(capsys, checks.split_heads, None)
    assert ok is False and "expected your function" in report


def test_report_shows_expected_and_received_shapes(capsys):
    ok, report = verdict(capsys, checks.split_heads, lambda x, h: x)
    assert ok is False
    assert "expected shape (2, 3, 5, 4)" in report
    assert "received shape (2, 5, 12)" in report


def test_causal_mask_without_s_is_checked_on_square_masks_only(capsys):
    ok, report = verdict(capsys, checks.causal_mask, lambda T: mha.causal_mask(T))
    assert ok is True and "all 3 cases" in report


def test_predict(capsys):
    assert checks.predict((2, 4, 5, 8), torch.Size([2, 4, 5, 8])) is True
    assert checks.predict((2, 5, 4, 8), torch.Size([2, 4, 5, 8])) is False
    assert "the answer is" in capsys.readouterr().out
    assert checks.predict(None, 3) is False
    assert "not attempted yet" in capsys.readouterr().out
    assert checks.predict(0.25, 0.2500001) is True


# --- the whole forward pass --------------------------------------------------------


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


# --- attention_entropy (chapter 8, the head-count explorer) ------------------------


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


@pytest.mark.parametrize(
    "prediction, hint",
    [
        (8 * 2**30 / 1e9, checks.GB_NOT_GIB),  # 8.59: GB, not GiB
        (2.0, checks.BYTES_PER_ELEMENT),  # numbers, not bytes
        (4.0, checks.WRONG_ELEMENT_SIZE),  # float16's 2 bytes
    ],
)
def test_predict_names_a_known_wrong_answer(capsys, prediction, hint):
    wrong = {
        checks.GB_NOT_GIB: 8 * 2**30 / 1e9,
        checks.BYTES_PER_ELEMENT: 2.0,
        checks.WRONG_ELEMENT_SIZE: 4.0,
    }
    assert checks.predict(prediction, 8.0, "GiB", mistakes=wrong) is False
    out = " ".join(capsys.readouterr().out.split())
    assert "the answer is 8.0" in out
    assert hint.split(";")[0][:40] in out


def test_predict_without_a_known_mistake_gives_the_general_hint(capsys):
    assert checks.predict(3, 4, mistakes={checks.QK_ONLY: 5}) is False
    assert "Work out where your reasoning" in capsys.readouterr().out
    assert checks.predict(4.0, 4, mistakes={checks.QK_ONLY: 4}) is True  # right wins
    assert "is right" in capsys.readouterr().out
