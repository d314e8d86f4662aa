"""``checks.predict``: a value predicted before running the code, every chapter.

The module is not called ``predict``, so that it does not shadow the function
``checks.predict``. The hint constants (``GB_NOT_GIB``, ...) are the known wrong
answers the exercises pass as ``mistakes=``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ._engine import describe, say

__all__ = [
    "BYTES_PER_ELEMENT",
    "GB_NOT_GIB",
    "QK_ONLY",
    "WRONG_ELEMENT_SIZE",
    "predict",
]

GB_NOT_GIB = (
    "that is the size in GB (10**9 bytes); the question asks for GiB, 2**30 = "
    "1,073,741,824 bytes: divide the bytes by 2**30."
)
BYTES_PER_ELEMENT = (
    "that is the number of elements, not bytes: multiply by the bytes per element "
    "(4 for float32, 2 for float16 and bfloat16)."
)
WRONG_ELEMENT_SIZE = (
    "the element size is off: float32 takes 4 bytes per number, float16 and "
    "bfloat16 take 2."
)
QK_ONLY = (
    "you compared only Q K^T with the projections; the weights times V is a second "
    "T^2 product of the same size, so count 2 T^2 E against 4 T E^2."
)


def _matches(prediction: Any, value: Any) -> bool:
    if isinstance(value, torch.Size):
        value = tuple(value)
    if isinstance(prediction, torch.Size):
        prediction = tuple(prediction)
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and isinstance(prediction, int | float)
        and not isinstance(prediction, bool)
        and isinstance(value, float) | isinstance(prediction, float)
    ):
        return math.isclose(prediction, value, rel_tol=1e-2, abs_tol=1e-3)
    try:
        return bool(prediction == value)
    except (TypeError, ValueError, RuntimeError):
        return False


def predict(
    prediction: Any,
    actual: Any,
    what: str = "your prediction",
    *,
    mistakes: dict[str, Any] | None = None,
) -> bool:
    """Compare a value you predicted before running the code with the real one.

    Numbers match within 1 % (or 0.001); anything else must be equal. ``mistakes``
    maps a hint to the value a known wrong reasoning gives (GB instead of GiB, bytes
    per element forgotten, ...); a prediction equal to one of them gets that hint.
    """
    if prediction is None or prediction is Ellipsis:
        say(
            f"{what}: not attempted yet. Replace None with your prediction, "
            "then run the cell again."
        )
        return False
    shown = tuple(prediction) if isinstance(prediction, torch.Size) else prediction
    answer = tuple(actual) if isinstance(actual, torch.Size) else actual
    right = _matches(prediction, actual)
    if right:
        say(f"{what}: {shown!r} is right.")
        return True
    hint = next(
        (h for h, wrong in (mistakes or {}).items() if _matches(prediction, wrong)),
        "Work out where your reasoning and the code part ways.",
    )
    say(
        f"{what}: you predicted {describe(shown)}, the answer is "
        f"{describe(answer)}.\n  hint: {hint}"
    )
    return False
