"""Small conveniences: pick a device, seed every random generator, time fairly."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

import numpy as np
import torch

from ._validate import check_int, check_positive_int

K = TypeVar("K", bound=Hashable)


def get_device() -> torch.device:
    """``cuda`` when a CUDA GPU is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and every GPU) with ``seed``.

    Call it at the top of a notebook so that its numbers and figures are the same on
    every run. ``seed`` must be an int in ``[0, 2**32)`` (NumPy's range).
    """
    check_int("seed", seed, minimum=None)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32); got seed={seed}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def interleaved_times(
    calls: Mapping[K, Callable[[], object]],
    rounds: int,
    warmup: int = 0,
    *,
    sync: Callable[[], None] | None = None,
) -> dict[K, list[float]]:
    """Seconds per call of every entry of ``calls``, one measurement per round.

    Each round calls every entry once, starting one entry later than the round
    before, so a slow spell of a shared machine (or a cache that warms up) hits every
    entry alike; that is what makes the ratios the benchmarks print fair. ``warmup``
    untimed rounds come first. ``sync`` (e.g. ``torch.cuda.synchronize``) runs before
    and after each timed call, for work that runs asynchronously.
    """
    check_positive_int("rounds", rounds)
    check_int("warmup", warmup, minimum=0)
    keys = list(calls)
    for _ in range(warmup):
        for key in keys:
            calls[key]()
    wait = sync or (lambda: None)
    times: dict[K, list[float]] = {key: [] for key in keys}
    for r in range(rounds):
        shift = r % len(keys) if keys else 0
        for key in keys[shift:] + keys[:shift]:
            wait()
            start = time.perf_counter()
            calls[key]()
            wait()
            times[key].append(time.perf_counter() - start)
    return times
