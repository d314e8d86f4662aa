"""Checkers for the Modern variants chapter: `checks.repeat_kv(your_function)`."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from ..kv_cache import repeat_kv as _repeat_kv
from ._engine import Case, rand, run_checks

__all__ = ["repeat_kv"]

REPEAT_TILED = (
    "the heads come out in the wrong order: x.repeat(1, group_size, 1, 1) tiles them "
    "as 0, 1, 0, 1, ... but query head i reads key/value head i // group_size, so "
    "each head's copies must sit next to each other: 0, 0, 1, 1, ... Use "
    "x.repeat_interleave(group_size, dim=1)."
)
REPEAT_TIME = (
    "you repeated along the sequence (dim 2), so every key now appears group_size "
    "times in a row; the heads are dim 1 of (B, h_kv, S, d_k)."
)
REPEAT_FEATURES = (
    "you repeated along the features (the last dim), which makes each key longer; "
    "the heads are dim 1 of (B, h_kv, S, d_k)."
)
REPEAT_BATCH = (
    "you repeated along the batch (dim 0); the heads are dim 1 of (B, h_kv, S, d_k)."
)
REPEAT_TOTAL = (
    "the second argument is the group size, h / h_kv: how many query heads share "
    "each key/value head, not the total number of query heads h."
)


def repeat_kv(fn: Callable[[Tensor, int], Tensor]) -> bool:
    """Check ``fn(x, group_size)``: ``(B, h_kv, S, d_k) -> (B, h_kv * group_size, S,
    d_k)``, where output head ``i`` is input head ``i // group_size``."""
    cases = []
    for label, (B, h_kv, S, d), g in [
        ("grouped: x (2, 2, 5, 4), group_size=3 (h = 6)", (2, 2, 5, 4), 3),
        ("grouped: x (1, 4, 3, 2), group_size=2 (h = 8)", (1, 4, 3, 2), 2),
        ("multi-query: x (2, 1, 4, 3), group_size=4 (h = 4)", (2, 1, 4, 3), 4),
        ("standard: x (1, 3, 2, 4), group_size=1 (h = h_kv)", (1, 3, 2, 4), 1),
        ("one position: x (3, 2, 1, 5), group_size=2", (3, 2, 1, 5), 2),
    ]:
        x = rand(B, h_kv, S, d, seed=10 * h_kv + S)
        mistakes = {
            REPEAT_TILED: x.repeat(1, g, 1, 1),
            REPEAT_TIME: x.repeat_interleave(g, dim=2),
            REPEAT_FEATURES: x.repeat_interleave(g, dim=3),
            REPEAT_BATCH: x.repeat_interleave(g, dim=0),
            REPEAT_TOTAL: x.repeat_interleave(g * h_kv, dim=1),
        }
        if h_kv == 1 or g == 1:  # tiling and interleaving agree: no telling them apart
            mistakes.pop(REPEAT_TILED)
        if h_kv == 1:  # with one head, h_kv * g == g
            mistakes.pop(REPEAT_TOTAL)
        cases.append(
            Case(
                label,
                (x, g),
                _repeat_kv(x, g),
                mistakes=mistakes,
                hint="repeat each key/value head group_size times along dim 1, "
                "copies side by side: x.repeat_interleave(group_size, dim=1).",
            )
        )
    return run_checks("repeat_kv", fn, cases)
