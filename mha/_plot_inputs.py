"""Input checks of the plotting helpers (:mod:`mha.plotting`): weights of any
tensor or array type to a numpy array of the expected rank, and token labels that
match its axes, each with an error that names the function, the expected and the
received shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def _to_numpy(weights: Any, func: str) -> np.ndarray:
    """Return ``weights`` as a float numpy array on the CPU, detached from autograd."""
    if isinstance(weights, torch.Tensor):
        if weights.is_complex():
            raise TypeError(
                f"{func} expects real attention weights, got a complex tensor of "
                f"dtype {weights.dtype}. Hint: plot tensor.abs() or tensor.real."
            )
        tensor = weights.detach().cpu()
        # bool masks, half and bfloat16 have no (or no exact) numpy twin.
        if tensor.dtype != torch.float64:
            tensor = tensor.float()
        return tensor.numpy()
    try:
        return np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{func} expects a torch.Tensor or numpy array of weights, got "
            f"{type(weights).__name__}. Hint: pass the tensor your attention "
            f"function returned, e.g. weights[0] for the first batch element."
        ) from err


def _shape(array: np.ndarray) -> str:
    return "(" + ", ".join(str(n) for n in array.shape) + ")"


def _check_rank(array: np.ndarray, rank: int, func: str) -> None:
    if array.ndim == rank:
        if 0 in array.shape:
            raise ValueError(
                f"{func} got an empty map of shape {_shape(array)}. Hint: check "
                f"that the sequences you attended over are not empty."
            )
        return
    expected = "a 2-D (T, S) map" if rank == 2 else "a 3-D (h, T, S) stack"
    if rank == 2 and array.ndim == 3:
        hint = "for one head pass weights[i]; for all heads use plot_heads(weights)."
    elif rank == 2 and array.ndim == 4:
        hint = "pick one batch element and one head: weights[b, i]."
    elif rank == 3 and array.ndim == 2:
        hint = "for a single map use plot_attention(weights)."
    elif rank == 3 and array.ndim == 4:
        hint = "pick one batch element first: weights[b] of shape (h, T, S)."
    else:
        hint = "rows are queries (T) and columns are keys (S)."
    raise ValueError(
        f"{func} expects {expected} of attention weights, got a {array.ndim}-D "
        f"array of shape {_shape(array)}. Hint: {hint}"
    )


def _check_tokens(
    tokens: Sequence[Any] | None,
    expected: int,
    what: str,
    func: str,
    hint: str,
    unit: str,
) -> list[str] | None:
    """Return the tokens as strings, or raise if their number does not fit."""
    if tokens is None:
        return None
    if isinstance(tokens, str):
        raise TypeError(
            f"{func} expects {what} as a sequence of strings, one per position, got "
            f"the single string {tokens!r}. Hint: split it, e.g. {tokens!r}.split()."
        )
    labels = [str(token) for token in tokens]
    if len(labels) != expected:
        raise ValueError(
            f"{func}: {what} has {len(labels)} "
            f"{'entry' if len(labels) == 1 else 'entries'} "
            f"but the map has {expected} {unit}. Hint: {hint}"
        )
    return labels


def _resolve_tokens(
    shape: tuple[int, ...],
    query_tokens: Sequence[Any] | None,
    key_tokens: Sequence[Any] | None,
    func: str,
    query_name: str,
) -> tuple[list[str] | None, list[str] | None]:
    """Check both token lists against a ``(..., T, S)`` shape; keys default to rows."""
    t, s = shape[-2], shape[-1]
    rows = _check_tokens(
        query_tokens,
        t,
        query_name,
        func,
        f"pass one token per query row (T = {t}); weights have shape "
        f"({', '.join(map(str, shape))}).",
        "query rows",
    )
    if key_tokens is not None:
        cols = _check_tokens(
            key_tokens,
            s,
            "key_tokens",
            func,
            f"pass one token per key column (S = {s}); weights have shape "
            f"({', '.join(map(str, shape))}).",
            "key columns",
        )
    else:
        cols = _check_tokens(
            query_tokens,
            s,
            f"{query_name} (used for the keys because key_tokens is None)",
            func,
            f"the map has S = {s} key columns and T = {t} query rows; when S != T "
            "(cross-attention) pass key_tokens as well.",
            "key columns",
        )
    return rows, cols
