"""The checkers of chapter 10 can fail: online_softmax_attention, merge_states and
causal_blockwise_attention reject the usual slips with the hint that names them,
accept the reference, and report an untouched stub."""

from __future__ import annotations

import math

import pytest
import torch

import mha
from mha import checks
from mha.blockwise import blockwise_attention
from mha.checks import blockwise as cb


def stub(q, k, v, block_size):
    raise NotImplementedError("Write your code here, then run the check.")


def learner(q, k, v, block_size, bug=None):
    """A learner's loop over key blocks, with at most one slip switched on."""
    q = q if bug == "no scale" else q / math.sqrt(q.shape[-1])
    T, S = q.shape[-2], k.shape[-2]
    m = torch.full((*q.shape[:-2], T, 1), float("-inf"))
    l = torch.zeros(*q.shape[:-2], T, 1)  # noqa: E741
    acc = torch.zeros(*q.shape[:-2], T, v.shape[-1])
    for j in range(0, S, block_size):
        s = q @ k[..., j : j + block_size, :].transpose(-2, -1)
        m_new = torch.maximum(m, s.max(dim=-1, keepdim=True).values)
        if bug == "no max":
            m_new = torch.zeros_like(m_new)
        p = torch.exp(s - m_new)
        alpha = torch.exp(m - m_new)
        if bug == "no max":
            alpha = torch.ones_like(alpha)
        l = (1.0 if bug == "no l rescale" else alpha) * l + p.sum(-1, keepdim=True)  # noqa: E741
        acc = (1.0 if bug == "no acc rescale" else alpha) * acc
        acc = acc + p @ v[..., j : j + block_size, :]
        if bug == "divide early":
            acc = acc / l
        m = m_new
    return acc if bug == "divide early" else acc / l


def verdict(capsys, fn) -> tuple[bool, str]:
    ok = checks.online_softmax_attention(fn)
    return ok, capsys.readouterr().out


def test_the_reference_and_a_correct_learner_pass(capsys):
    ok, out = verdict(capsys, learner)
    assert ok and "all 9 cases pass" in out  # 8 value cases and the memory case
    ok, out = verdict(capsys, blockwise_attention)  # takes is_causal: one more
    assert ok and "all 10 cases pass" in out


@pytest.mark.parametrize(
    "bug, hint",
    [
        ("no acc rescale", cb.NO_ACC_RESCALE),
        ("no l rescale", cb.NO_L_RESCALE),
        ("divide early", cb.DIVIDE_EARLY),
        ("no scale", cb.NO_SCALE),
    ],
)
def test_each_slip_is_rejected_with_its_hint(capsys, bug, hint):
    ok, out = verdict(capsys, lambda q, k, v, b: learner(q, k, v, b, bug))
    assert not ok
    assert "case 1 of 9" in out  # caught on the first, ordinary case
    assert hint.split(":")[0][:40] in " ".join(out.split())


def test_forgetting_the_max_fails_only_on_large_scores(capsys):
    ok, out = verdict(capsys, lambda q, k, v, b: learner(q, k, v, b, "no max"))
    assert not ok
    assert "case 8 of 9" in out and "large scores" in out
    assert "NaN" in out and "overflows" in out


def test_the_whole_matrix_at_once_is_rejected_although_its_values_are_right(capsys):
    def materialised(q, k, v, block_size):  # ignores the blocks: one softmax
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1) @ v

    ok, out = verdict(capsys, materialised)
    assert not ok and "case 9 of 9" in out and "memory" in out
    assert "(6, 4, 64)" in out  # the (B * h, T, S) scores it built
    assert cb.MATERIALISED.split(":")[0][:40] in " ".join(out.split())


def test_a_single_block_slip_is_caught(capsys):
    def one_block_only(q, k, v, block_size):  # ignores the keys after block 0
        return learner(q, k[..., :block_size, :], v[..., :block_size, :], block_size)

    ok, out = verdict(capsys, one_block_only)
    assert not ok and "failed" in out


def test_causal_case_is_added_when_the_function_takes_is_causal(capsys):
    def ignores_causal(q, k, v, block_size, is_causal=False):
        return blockwise_attention(q, k, v, block_size)

    ok, out = verdict(capsys, ignores_causal)
    assert not ok and "case 9 of 10" in out and "is_causal" in out


def test_stub_is_not_attempted(capsys):
    ok, out = verdict(capsys, stub)
    assert not ok and "not attempted" in out


def test_a_crash_is_reported_not_raised(capsys):
    def crashes(q, k, v, block_size):
        return q @ k  # forgot the transpose

    ok, out = verdict(capsys, crashes)
    assert not ok and "raised RuntimeError" in out


# --- merge_states ---------------------------------------------------------------


def merge_learner(m1, l1, o1, m2, l2, o2, bug=None):
    """A learner's merge, with at most one slip switched on."""
    m = torch.maximum(m1, m2)
    shift = m if bug == "no guard" else torch.where(torch.isinf(m), 0.0, m)
    a1, a2 = torch.exp(m1 - shift), torch.exp(m2 - shift)
    if bug == "sign":
        a1, a2 = torch.exp(shift - m1), torch.exp(shift - m2)
    l = a1 * l1 + a2 * l2 if bug != "no l rescale" else l1 + l2  # noqa: E741
    o = a1 * o1 + a2 * o2 if bug != "no o rescale" else o1 + o2
    if bug == "normalised":
        o = o / l
    return m, l, o


def test_merge_states_accepts_the_reference_and_a_correct_learner(capsys):
    assert checks.merge_states(merge_learner)
    assert checks.merge_states(mha.blockwise.merge_states)
    assert capsys.readouterr().out.count("all 5 cases pass") == 2


@pytest.mark.parametrize(
    "bug, hint, case",
    [
        ("no o rescale", cb.MERGE_NO_O_RESCALE, 1),
        ("no l rescale", cb.MERGE_NO_L_RESCALE, 1),
        ("sign", cb.MERGE_SIGN, 1),
        ("normalised", cb.MERGE_NORMALISED, 1),
        ("no guard", cb.MERGE_NAN, 5),  # only a query empty on both sides shows it
    ],
)
def test_merge_states_names_each_slip(capsys, bug, hint, case):
    ok = checks.merge_states(lambda *s: merge_learner(*s, bug=bug))
    out = capsys.readouterr().out
    assert not ok and f"case {case} of 5" in out
    assert hint.split(":")[0][:40] in " ".join(out.split())


def test_merge_states_stub_and_crash(capsys):
    def stub(*states):
        raise NotImplementedError

    assert not checks.merge_states(stub)
    assert "not attempted" in capsys.readouterr().out
    assert not checks.merge_states(lambda m1, l1, o1, m2, l2, o2: o1 @ o2)
    assert "raised RuntimeError" in capsys.readouterr().out


# --- causal_blockwise_attention -------------------------------------------------


def tiled_learner(q, k, v, block_size, bug=None):
    """A learner's causal tiles, with at most one slip switched on."""
    T, d = q.shape[-2], q.shape[-1]
    q = q / math.sqrt(d)
    out = torch.empty(*q.shape[:-1], v.shape[-1])
    for qs in range(0, T, block_size):
        qe = min(qs + block_size, T)
        m = torch.full((*q.shape[:-2], qe - qs, 1), float("-inf"))
        l = torch.zeros_like(m)  # noqa: E741
        acc = torch.zeros(*q.shape[:-2], qe - qs, v.shape[-1])
        last = T if bug == "no skip" else qe  # key tiles starting before qe
        for ks in range(0, last, block_size):
            ke = min(ks + block_size, T)
            if bug == "skip diagonal" and ke > qs:
                break
            s = q[..., qs:qe, :] @ k[..., ks:ke, :].transpose(-2, -1)
            i = torch.arange(qs, qe)[:, None]
            j = torch.arange(ks, ke)[None, :]
            if bug != "no mask":
                s = s.masked_fill(j >= i if bug == "strict" else j > i, float("-inf"))
            m_new = torch.maximum(m, s.amax(-1, keepdim=True))
            p = torch.exp(s - m_new)
            alpha = torch.exp(m - m_new)
            l = alpha * l + p.sum(-1, keepdim=True)  # noqa: E741
            acc = alpha * acc + p @ v[..., ks:ke, :]
            m = m_new
        out[..., qs:qe, :] = acc / l
    return out


def test_causal_checker_accepts_skipping_tiles(capsys):
    assert checks.causal_blockwise_attention(tiled_learner)
    assert "all 7 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "bug, hint",
    [
        ("no mask", cb.CAUSAL_NO_MASK),
        ("skip diagonal", cb.CAUSAL_SKIP_DIAGONAL),
        ("strict", cb.CAUSAL_STRICT),
    ],
)
def test_causal_checker_names_wrong_masks(capsys, bug, hint):
    ok = checks.causal_blockwise_attention(
        lambda q, k, v, b: tiled_learner(q, k, v, b, bug)
    )
    out = capsys.readouterr().out
    assert not ok and "case 1 of 7" in out
    assert hint.split(":")[0][:40] in " ".join(out.split())


def test_computing_every_tile_is_right_but_rejected_by_its_flops(capsys):
    for wrong in (
        lambda q, k, v, b: tiled_learner(q, k, v, b, "no skip"),  # masks, no skips
        lambda q, k, v, b: blockwise_attention(q, k, v, b, is_causal=True),  # keys only
        lambda q, k, v, b: mha.scaled_dot_product_attention(q, k, v, is_causal=True)[0],
    ):
        ok = checks.causal_blockwise_attention(wrong)
        out = capsys.readouterr().out
        assert not ok and "case 7 of 7" in out and "work" in out
        assert "16,384 FLOPs" in out and "needs 10,240" in out
        assert cb.CAUSAL_NOT_SKIPPED.split(":")[0][:40] in " ".join(out.split())


def test_causal_checker_stub(capsys):
    assert not checks.causal_blockwise_attention(stub)
    assert "not attempted" in capsys.readouterr().out
