"""get_device and seed_everything."""

from __future__ import annotations

import random

import numpy as np
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
        "SeedMultiHeadAttention",
        "seed_to_standard",
        "GroupedQueryAttention",
        "get_device",
        "seed_everything",
    }
    assert required <= set(mha.__all__)
    assert all(hasattr(mha, name) for name in mha.__all__)
    assert all(getattr(mha, name).__doc__ for name in mha.__all__)
