"""Checker for chapter 13, the blog's layer revisited: its mask, made PyTorch's.

``checks.blog_mask_to_torch(fn)`` runs the learner's converter on the mask shapes the
blog's layer accepts and compares with :func:`mha.blog_mask_to_standard`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..blog import blog_mask_to_standard
from ._engine import Case, run_checks

__all__ = ["blog_mask_to_torch"]

BLOG_POLARITY = (
    "your mask polarity is inverted: in the blog's mask 1 means keep, in "
    "nn.MultiheadAttention's boolean attn_mask True means NOT allowed to attend; "
    "mark the zeros: mask == 0."
)
BLOG_HEAD_ORDER = (
    "batch and heads are in the wrong order: nn.MultiheadAttention reads row "
    "b * num_heads + i of a (N * num_heads, T, S) mask as batch b, head i. Expand to "
    "(N, num_heads, T, S) and reshape, or use repeat_interleave, not repeat."
)
BLOG_NO_HEADS = (
    "a 3-D attn_mask needs one (T, S) mask per batch element AND head: the result is "
    "(N * num_heads, T, S), not (N, T, S)."
)
BLOG_NOT_BOOL = (
    "return a boolean tensor (dtype torch.bool), True = masked: a float or integer "
    "mask means something else to nn.MultiheadAttention (floats are added to the "
    "scores) or is refused."
)
BLOG_HINT = (
    "(mask == 0) marks the masked pairs; .expand(N, num_heads, T, S) broadcasts the "
    "mask, then .reshape(N * num_heads, T, S)."
)


def _reference(mask: Tensor, N: int, h: int, T: int, S: int) -> Tensor:
    return blog_mask_to_standard(
        mask, batch_size=N, num_heads=h, query_len=T, key_len=S
    )


def _mistakes(mask: Tensor, N: int, h: int, T: int, S: int) -> dict[str, Tensor]:
    """What the usual wrong answers return for this case."""
    hidden = (mask == 0).expand(N, h, T, S)  # broadcast -> (N, h, T, S)
    wrong = {
        BLOG_POLARITY: (mask != 0).expand(N, h, T, S).reshape(N * h, T, S),
        BLOG_HEAD_ORDER: hidden.transpose(0, 1).reshape(N * h, T, S),  # i * N + b
        BLOG_NOT_BOOL: hidden.reshape(N * h, T, S).to(torch.float32),
    }
    if mask.dim() < 3 or mask.shape[-3] == 1:
        # The same mask for every head: forgetting the head axis gives (N, T, S).
        wrong[BLOG_NO_HEADS] = (mask == 0).expand(N, 1, T, S).reshape(N, T, S)
    return wrong


def blog_mask_to_torch(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(mask, batch_size=N, num_heads=h, query_len=T, key_len=S)``.

    ``mask`` is a mask for the blog's layer: it broadcasts to ``(N, h, T, S)`` and is
    nonzero (1, 1.0 or True) where attending is allowed. ``fn`` returns the boolean
    ``attn_mask`` that ``nn.MultiheadAttention`` wants for the same pairs: shape
    ``(N * h, T, S)``, True where attending is NOT allowed, row ``b * h + i`` for
    batch ``b``, head ``i``. The reference is :func:`mha.blog_mask_to_standard`.
    """
    gen = torch.Generator().manual_seed(12)
    lengths = torch.tensor([4, 2])
    padding = (torch.arange(4)[None, :] < lengths[:, None]).int()  # (N, S), 1 = keep
    per_head = (torch.rand(2, 3, 2, 3, generator=gen) > 0.4).int()  # (N, h, T, S)
    per_head[..., 0] = 1  # every query keeps at least one key
    cross = torch.rand(3, 1, 2, 5, generator=gen) > 0.5  # (N, 1, T, S), True = keep
    cross[..., -1] = True
    specs = [
        (
            "causal (T, S) = (5, 5), ints, 1 = keep; N=2, num_heads=3",
            torch.ones(5, 5, dtype=torch.int64).tril(),
            (2, 3, 5, 5),
        ),
        (
            "padding (N, 1, 1, S) = (2, 1, 1, 4); num_heads=2, T=3",
            padding[:, None, None, :],
            (2, 2, 3, 4),
        ),
        ("one mask per head (N, h, T, S) = (2, 3, 2, 3)", per_head, (2, 3, 2, 3)),
        (
            "booleans, True = keep, (N, 1, T, S) = (3, 1, 2, 5); num_heads=2",
            cross,
            (3, 2, 2, 5),
        ),
        (
            "floats 1.0 / 0.0, one head: (T, S) = (3, 3), N=2, num_heads=1",
            torch.ones(3, 3).tril(),
            (2, 1, 3, 3),
        ),
        (
            "length 1: (1, 1), N=1, num_heads=1, T=S=1",
            torch.ones(1, 1, dtype=torch.int64),
            (1, 1, 1, 1),
        ),
    ]
    cases = []
    for label, mask, (N, h, T, S) in specs:
        cases.append(
            Case(
                label,
                (mask,),
                _reference(mask, N, h, T, S),
                kwargs={"batch_size": N, "num_heads": h, "query_len": T, "key_len": S},
                mistakes=_mistakes(mask, N, h, T, S),
                hint=BLOG_HINT,
            )
        )
    return run_checks("blog_mask_to_torch", fn, cases)
