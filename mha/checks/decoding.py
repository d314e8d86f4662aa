"""Checkers for the Positions and long contexts chapter: batched decoding.

`checks.left_padded_step(your_function)`: the new queries of a batch of left-padded
sequences against the whole cache, with the padding and the causal mask right.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..attention import scaled_dot_product_attention
from ..kv_cache import causal_mask_bottom_right
from ..masks import causal_mask, padding_mask
from ._engine import Case, rand, run_checks

__all__ = ["left_padded_step"]

PAD_MISSING = (
    "the padding is not masked: row b of the batch starts with S - lengths[b] "
    "padding positions, and even a single new token must not attend to them. Mask "
    "keys j < S - lengths[b] (True = NOT allowed), broadcast as (B, 1, 1, S)."
)
PAD_INVERTED = (
    "the padding mask is inverted: your queries attend to the padding and ignore "
    "the real tokens. In mha, True means NOT allowed, so True goes on the padding "
    "(F.scaled_dot_product_attention reads True as allowed: flip it there)."
)
PAD_RIGHT = (
    "you masked the END of each row (positions >= lengths[b]), as for right "
    "padding; here the prompts are left-padded, so the padding is at the START: "
    "positions j < S - lengths[b]."
)
ALL_INVERTED = (
    "the whole mask is inverted: True = NOT allowed in mha; a mask built that way "
    "and handed to F.scaled_dot_product_attention (True = allowed) lets each query "
    "see exactly what it must not. Pass ~mask there."
)
TOP_LEFT = (
    "the causal mask is aligned top-left (is_causal=True or mha.causal_mask(T, S)): "
    "the new queries are the LAST T_new of S positions, so the first new query may "
    "see keys up to S - T_new. Use causal_mask_bottom_right(T_new, S)."
)
NO_CAUSAL = (
    "several new tokens need a causal mask as well: without it a new token sees "
    "the ones after it. Combine the padding with causal_mask_bottom_right(T_new, S)."
)
STEP_HINT = (
    "hide the first S - lengths[b] keys of row b (the padding) and, for several new "
    "tokens, the future with causal_mask_bottom_right(T_new, S); True = NOT allowed."
)


def _left_pad(lengths: Tensor, S: int) -> Tensor:
    """(B, S) True at the left padding: position j of row b with j < S - lengths[b]."""
    return torch.arange(S)[None, :] < (S - lengths)[:, None]


def _attend(q: Tensor, k: Tensor, v: Tensor, blocked: Tensor) -> Tensor:
    out, _ = scaled_dot_product_attention(q, k, v, blocked)
    return out  # empty rows give zeros, as F.scaled_dot_product_attention does


def left_padded_step(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> bool:
    """Check ``fn(q, keys, values, lengths)``: attention of the new queries.

    ``q`` is ``(B, h, T_new, d_k)``, the queries of the last ``T_new`` positions;
    ``keys, values`` ``(B, h, S, d_k)`` hold all ``S`` positions (cache and new
    tokens); ``lengths`` ``(B,)`` is the number of real tokens in each row, which
    are the row's LAST ``lengths[b]`` positions (left padding). Returns
    ``(B, h, T_new, d_k)``. A NaN row in your output counts as zeros (both are
    conventions for a query with nothing to see).
    """
    cases = []
    for label, (T_new, S, lengths) in [
        ("a chunk of 3 new tokens, no padding: S = 7", (3, 7, [7, 7])),
        ("one new token, every row padded: S = 6", (1, 6, [4, 2, 5])),
        ("a chunk of 2 new tokens, rows padded: S = 8", (2, 8, [8, 5, 3])),
        ("one new token, one sequence without padding: S = 5", (1, 5, [5])),
    ]:
        B = len(lengths)
        lengths_t = torch.tensor(lengths)
        q = rand(B, 2, T_new, 4, seed=60 + S)
        k, v = rand(B, 2, S, 4, seed=61 + S), rand(B, 2, S, 4, seed=62 + S)
        pad = _left_pad(lengths_t, S)[:, None, None, :]  # (B, 1, 1, S)
        causal = causal_mask_bottom_right(T_new, S)  # (T_new, S)
        right = pad | causal
        wrong_masks = {
            PAD_MISSING: causal.expand(B, 1, T_new, S),
            PAD_INVERTED: ~pad | causal,
            PAD_RIGHT: padding_mask(lengths_t, S)[:, None, None, :] | causal,
            ALL_INVERTED: ~right,
            TOP_LEFT: pad | causal_mask(T_new, S),
            NO_CAUSAL: pad.expand(B, 1, T_new, S),
        }
        expected = _attend(q, k, v, right)
        mistakes = {}
        for hint, wrong in wrong_masks.items():
            shape = (B, 1, T_new, S)
            if not torch.equal(wrong.expand(shape), right.expand(shape)):
                mistakes[hint] = _attend(q, k, v, wrong)  # only if it differs
        cases.append(
            Case(
                f"{label}, lengths {lengths}",
                (q, k, v, lengths_t),
                expected,
                mistakes=mistakes,
                hint=STEP_HINT,
            )
        )

    if not callable(fn):
        return run_checks("left_padded_step", fn, cases)

    def zero_nan(q: Tensor, k: Tensor, v: Tensor, lengths: Tensor) -> object:
        out = fn(q, k, v, lengths)
        return out.nan_to_num(nan=0.0) if isinstance(out, Tensor) else out

    return run_checks("left_padded_step", zero_nan, cases)
