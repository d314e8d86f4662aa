"""get_device and seed_everything."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import mha


def test_get_device_is_cuda_exactly_when_available():
    device = mha.get_device()
    assert isinstance(device, torch.device)
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert torch.zeros(1, device=device).device.type == device.type


def test_seed_everything_makes_every_generator_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    mha.seed_everything(123)
    first = draw()
    mha.seed_everything(123)
    second = draw()
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2])
    mha.seed_everything(124)
    assert not torch.equal(draw()[2], first[2])


def test_seeded_layers_are_initialised_identically():
    mha.seed_everything(0)
    a = mha.MultiHeadAttention(8, 2)
    mha.seed_everything(0)
    b = mha.MultiHeadAttention(8, 2)
    for (name, p), q in zip(
        a.state_dict().items(), b.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q), name


def test_public_names_are_exported():
    required = {
        "split_heads",
        "merge_heads",
        "attention_scores",
        "causal_mask",
        "padding_mask",
        "masked_softmax",
        "scaled_dot_product_attention",
        "multi_head_attention",
        "MultiHeadAttention",
        "BlogMultiHeadAttention",
        "blog_to_standard",
        "GroupedQueryAttention",
        "get_device",
        "seed_everything",
    }
    assert required <= set(mha.__all__)
    assert all(hasattr(mha, name) for name in mha.__all__)
    assert all(getattr(mha, name).__doc__ for name in mha.__all__)


def test_interleaved_times_rotates_the_order_and_counts_every_call():
    from mha.utils import interleaved_times

    order: list[str] = []
    calls = {name: (lambda n=name: order.append(n)) for name in "abc"}
    synced: list[int] = []
    times = interleaved_times(calls, rounds=3, warmup=1, sync=lambda: synced.append(1))
    assert order[:3] == ["a", "b", "c"]  # the warm-up round
    assert order[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # rotated
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0 for ts in times.values() for t in ts)
    assert len(synced) == 2 * 9  # before and after every timed call


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        ({"rounds": 0}, "rounds must be a positive int"),
        ({"rounds": 2, "warmup": -1}, "warmup must be an int >= 0"),
    ],
)
def test_interleaved_times_rejects_bad_counts(kwargs, phrase):
    from mha.utils import interleaved_times

    with pytest.raises(ValueError, match=phrase):
        interleaved_times({"a": lambda: None}, **kwargs)
