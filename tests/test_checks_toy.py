"""checks.mask_heads can fail: the usual broadcasting and gating slips are rejected
with the hint that names them, the reference is accepted, a stub is reported."""

from __future__ import annotations

import pytest
import torch

from mha import checks
from mha.checks import toy as ch
from mha.toy import mask_heads


def stub(heads, head_mask):
    raise NotImplementedError("Write your code here, then run the check.")


def learner(heads, head_mask):
    return heads * head_mask[..., None, None]


def gates_on_features(heads, head_mask):
    return heads * head_mask  # lines up with d_k


def gates_on_time(heads, head_mask):
    return heads * head_mask[..., None]  # lines up with T


def gates_inverted(heads, head_mask):
    return heads * (1 - head_mask)[..., None, None]


def gates_rounded(heads, head_mask):
    return heads * (head_mask > 0).float()[..., None, None]


def only_per_head(heads, head_mask):
    return heads * head_mask.view(1, -1, 1, 1)  # breaks on a (B, h) mask


def verdict(capsys, fn) -> tuple[bool, str]:
    ok = checks.mask_heads(fn)
    return ok, capsys.readouterr().out


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("fn", [learner, mask_heads])
def test_correct_answers_pass(capsys, fn):
    ok, out = verdict(capsys, fn)
    assert ok and "all 5 cases pass" in out


@pytest.mark.parametrize(
    "fn, case, hint",
    [
        (gates_on_features, "case 1 of 5", ch.MASK_HINT),  # raises on case 1
        (gates_on_time, "case 1 of 5", ch.MASK_HINT),  # raises on case 1
        (gates_inverted, "case 1 of 5", ch.GATES_INVERTED),
        (gates_rounded, "case 3 of 5", ch.GATES_ROUNDED),
        (only_per_head, "case 4 of 5", ch.MASK_HINT),
    ],
)
def test_slips_are_rejected_with_their_hint(capsys, fn, case, hint):
    ok, out = verdict(capsys, fn)
    assert not ok
    assert case in out
    assert hint[:60] in words(out)


@pytest.mark.parametrize(
    "fn, hint",
    [(gates_on_features, ch.GATES_ON_FEATURES), (gates_on_time, ch.GATES_ON_TIME)],
)
def test_silent_broadcasts_are_named_when_h_equals_t_and_d_k(capsys, fn, hint):
    """When h == T == d_k the wrong broadcast runs without an error: the hint says
    which axis the gates landed on."""
    cases_from_2 = lambda h, m: fn(h, m) if h.shape[1] == 4 else learner(h, m)  # noqa: E731
    ok, out = verdict(capsys, cases_from_2)
    assert not ok and "case 2 of 5" in out
    assert hint[:60] in words(out)


def test_an_untouched_stub_is_not_attempted(capsys):
    ok, out = verdict(capsys, stub)
    assert not ok and "not attempted yet" in out


def test_the_checker_does_not_raise_on_garbage(capsys):
    ok, out = verdict(capsys, lambda heads, head_mask: torch.zeros(1))
    assert not ok and "expected shape (2, 3, 5, 4)" in out
    ok, out = verdict(capsys, "mask_heads")
    assert not ok and "expected your function" in out


# --- mean_ablate -------------------------------------------------------------------


def mean_learner(heads, head_mask, bug=None):
    g = head_mask[:, None, None]
    if bug == "inverted":
        g = 1 - g
    dims = {"time": (2,), "all": (0, 2), "heads": (1,)}.get(bug, (0,))
    source = g * heads if bug == "after gating" else heads
    mean = source.mean(dim=dims, keepdim=True)
    if bug == "zero":
        mean = torch.zeros_like(mean)
    return g * heads + (1 - g) * mean


def test_mean_ablate_accepts_a_correct_answer(capsys):
    assert checks.mean_ablate(mean_learner)
    assert "all 4 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "bug, hint",
    [
        ("zero", ch.MEAN_ZERO),
        ("time", ch.MEAN_OVER_TIME),
        ("all", ch.MEAN_OVER_ALL),
        ("heads", ch.MEAN_OVER_HEADS),
        ("after gating", ch.MEAN_AFTER_GATING),
        ("inverted", ch.MEAN_INVERTED),
    ],
)
def test_mean_ablate_names_each_slip(capsys, bug, hint):
    ok = checks.mean_ablate(lambda h, m: mean_learner(h, m, bug))
    out = capsys.readouterr().out
    assert not ok and "case 1 of 4" in out
    assert words(hint)[:40] in words(out)


def test_mean_ablate_stub(capsys):
    assert not checks.mean_ablate(stub)
    assert "not attempted" in capsys.readouterr().out
