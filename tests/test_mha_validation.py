"""Validation happens once, at the door: public functions check their inputs, and the
package's own calls go to unchecked cores, so a forward pass does not climb back to
the validators at every layer of the code."""

from __future__ import annotations

import sys
from collections import Counter

import pytest
import torch

import mha
from mha import _validate


def validator_callers(call) -> Counter:
    """Run ``call()``; count, for each validator called from outside the validation
    module, the function that called it."""
    callers: Counter = Counter()

    def profile(frame, event, arg):
        if event != "call" or frame.f_code.co_filename != _validate.__file__:
            return
        caller = frame.f_back
        if caller is not None and caller.f_code.co_filename != _validate.__file__:
            callers[(caller.f_code.co_name, frame.f_code.co_name)] += 1

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return callers


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize(
    "layer",
    [mha.MultiHeadAttention(16, 4), mha.GroupedQueryAttention(16, 4, 2)],
    ids=["mha", "gqa"],
)
def test_a_layer_forward_validates_only_at_the_door(layer, need_weights):
    x = torch.randn(2, 5, 16)
    mask = mha.causal_mask(5)
    callers = validator_callers(
        lambda: layer(x, x, x, attn_mask=mask, need_weights=need_weights)
    )
    doors = {caller for caller, _ in callers}
    # The layer checks its inputs; merge_masks checks the user's mask; nothing else.
    assert doors <= {"forward", "merge_masks"}, callers
    assert callers[("forward", "check_qkv")] == 1
    assert sum(n for (c, _), n in callers.items() if c == "merge_masks") == 1


def test_the_functional_form_checks_its_weights_once():
    layer = mha.MultiHeadAttention(16, 4)
    x = torch.randn(2, 5, 16)
    callers = validator_callers(
        lambda: mha.multi_head_attention(
            x, x, x, num_heads=4, **layer.projection_weights()
        )
    )
    doors = {caller for caller, _ in callers}
    assert doors <= {"multi_head_attention", "_check_inputs", "merge_masks"}, callers
    assert callers[("_check_inputs", "check_qkv")] == 1


LONG = torch.ones(2, 3, 8, dtype=torch.long)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: mha.split_heads(torch.ones(3, 8), 4), ValueError, "3-D"),
        (lambda: mha.merge_heads(torch.ones(3, 8)), ValueError, "4-D"),
        (lambda: mha.attention_scores(LONG, LONG), TypeError, "floating"),
        (lambda: mha.scaled_dot_product_attention(LONG, LONG, LONG), TypeError,
         "floating"),
        (lambda: mha.masked_softmax(LONG), TypeError, "floating"),
        (lambda: mha.fused_attention(*[torch.ones(2, 8)] * 3, None), ValueError,
         "4-D"),
    ],
    ids=["split", "merge", "scores", "sdpa", "softmax", "fused"],
)  # fmt: skip
def test_a_public_step_still_checks_its_own_inputs(call, error, words):
    with pytest.raises(error, match=words):
        call()
