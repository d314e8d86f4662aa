"""checks.repeat_kv can fail: realistic wrong answers are rejected with the matching
hint, the reference is accepted, and an untouched stub is 'not attempted'."""

from __future__ import annotations

import pytest
import torch

from mha import checks
from mha.checks.kv_cache import (
    REPEAT_BATCH,
    REPEAT_FEATURES,
    REPEAT_TILED,
    REPEAT_TIME,
    REPEAT_TOTAL,
)
from mha.kv_cache import repeat_kv


def stub(x, group_size):
    raise NotImplementedError("Write your code here, then run the check.")


def tiled(x, group_size):
    return x.repeat(1, group_size, 1, 1)


def along_time(x, group_size):
    return x.repeat_interleave(group_size, dim=2)


def along_features(x, group_size):
    return x.repeat_interleave(group_size, dim=-1)


def along_batch(x, group_size):
    return x.repeat_interleave(group_size, dim=0)


def total_heads(x, group_size):
    return x.repeat_interleave(group_size * x.shape[1], dim=1)


def expand_wrong_axis(x, group_size):
    """expand + reshape with the new axis BEFORE the heads: the tiled order again."""
    B, h_kv, S, d = x.shape
    return x[:, None].expand(B, group_size, h_kv, S, d).reshape(B, -1, S, d)


def expand_right(x, group_size):
    """A correct answer written another way: new axis after the heads."""
    B, h_kv, S, d = x.shape
    return x[:, :, None].expand(B, h_kv, group_size, S, d).reshape(B, -1, S, d)


def crashes(x, group_size):
    return x.repeat_interleave(group_size, dim=4)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (tiled, REPEAT_TILED),
        (expand_wrong_axis, REPEAT_TILED),
        (along_time, REPEAT_TIME),
        (along_features, REPEAT_FEATURES),
        (along_batch, REPEAT_BATCH),
        (total_heads, REPEAT_TOTAL),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_wrong_answers_are_rejected_with_their_hint(capsys, wrong, hint):
    assert checks.repeat_kv(wrong) is False
    report = capsys.readouterr().out
    assert "failed" in report
    # The hint is wrapped to the cell width: compare its words.
    given = " ".join(report.split("hint:", 1)[1].split())
    assert given == " ".join(hint.split()), report


def test_a_crash_is_reported_not_raised(capsys):
    assert checks.repeat_kv(crashes) is False
    report = capsys.readouterr().out
    assert "raised IndexError" in report and "repeat_interleave(group_size" in report


@pytest.mark.parametrize("right", [repeat_kv, expand_right])
def test_correct_answers_are_accepted(capsys, right):
    assert checks.repeat_kv(right) is True
    assert "all 5 cases pass" in capsys.readouterr().out


def test_an_untouched_stub_is_not_attempted(capsys):
    assert checks.repeat_kv(stub) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_the_checker_does_not_let_inputs_be_spoiled(capsys):
    def in_place(x, group_size):
        out = x.repeat_interleave(group_size, dim=1)
        x.zero_()  # spoils its input: later cases must still get fresh tensors
        return out

    assert checks.repeat_kv(in_place) is True
    assert torch.is_tensor(repeat_kv(torch.ones(1, 1, 1, 1), 2))
