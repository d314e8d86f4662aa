"""checks.online_softmax_attention can fail: the usual slips are rejected with the
hint that names them, the reference is accepted, an untouched stub is reported."""

from __future__ import annotations

import math

import pytest
import torch

from mha import _checks_blockwise as cb
from mha import checks
from mha.blockwise import blockwise_attention


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
    assert ok and "all 8 cases pass" in out
    ok, out = verdict(capsys, blockwise_attention)  # takes is_causal: 9 cases
    assert ok and "all 9 cases pass" in out


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
    assert "case 1 of 8" in out  # caught on the first, ordinary case
    assert hint.split(":")[0][:40] in " ".join(out.split())


def test_forgetting_the_max_fails_only_on_large_scores(capsys):
    ok, out = verdict(capsys, lambda q, k, v, b: learner(q, k, v, b, "no max"))
    assert not ok
    assert "case 8 of 8" in out and "large scores" in out
    assert "NaN" in out and "overflows" in out


def test_the_whole_matrix_at_once_passes_and_a_single_block_slip_is_caught(capsys):
    def one_block_only(q, k, v, block_size):  # ignores the keys after block 0
        return learner(q, k[..., :block_size, :], v[..., :block_size, :], block_size)

    ok, out = verdict(capsys, one_block_only)
    assert not ok and "failed" in out


def test_causal_case_is_added_when_the_function_takes_is_causal(capsys):
    def ignores_causal(q, k, v, block_size, is_causal=False):
        return blockwise_attention(q, k, v, block_size)

    ok, out = verdict(capsys, ignores_causal)
    assert not ok and "case 9 of 9" in out and "is_causal" in out


def test_stub_is_not_attempted(capsys):
    ok, out = verdict(capsys, stub)
    assert not ok and "not attempted" in out


def test_a_crash_is_reported_not_raised(capsys):
    def crashes(q, k, v, block_size):
        return q @ k  # forgot the transpose

    ok, out = verdict(capsys, crashes)
    assert not ok and "raised RuntimeError" in out
