"""checks.predict (every chapter): a right prediction passes, a wrong one gets the
answer and, when it equals a known wrong reasoning, that reasoning's hint."""

from __future__ import annotations

import pytest
import torch

from mha import checks


def test_predict(capsys):
    assert checks.predict((2, 4, 5, 8), torch.Size([2, 4, 5, 8])) is True
    assert checks.predict((2, 5, 4, 8), torch.Size([2, 4, 5, 8])) is False
    assert "the answer is" in capsys.readouterr().out
    assert checks.predict(None, 3) is False
    assert "not attempted yet" in capsys.readouterr().out
    assert checks.predict(0.25, 0.2500001) is True


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
