"""The tests' one source of random tensors: seeded, so every run draws the same."""

from __future__ import annotations

import torch


def randn(*shape: int, seed: int = 0, dtype=torch.float64, grad: bool = False):
    """A ``torch.randn`` tensor of ``shape`` from its own generator seeded ``seed``
    (float64 unless ``dtype`` says otherwise), requiring grad when ``grad``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=dtype).requires_grad_(grad)
