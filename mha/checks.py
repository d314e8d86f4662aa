"""Checkers for the exercises: `checks.<name>(your_function)`.

Each checker runs your function on ordinary and edge cases (length 1, one head,
masks, queries and keys of different lengths), compares it with the `mha` reference,
and prints a short report: a pass, or the first failing case with expected versus
received and a hint that names the likely mistake. It returns True or False and never
raises because your answer is wrong; an untouched stub is reported as not attempted.

    >>> from mha import checks
    >>> checks.split_heads(split_heads)          # doctest: +SKIP
    split_heads: all 4 cases pass. Well done!
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from . import attention as _attention
from . import functional as _functional
from . import heads as _heads
from . import masks as _masks
from ._checking import Case, describe, rand, run_checks, say, takes, takes_keyword

__all__ = [
    "attention_entropy",
    "attention_scores",
    "block_diagonal",
    "causal_mask",
    "left_padded_step",
    "masked_softmax",
    "merge_heads",
    "multi_head_attention",
    "padding_mask",
    "predict",
    "rope_cache",
    "scaled_dot_product_attention",
    "split_heads",
]

SPLIT_NO_TRANSPOSE = (
    "you reshaped straight to (B, h, T, d_k), which mixes tokens across heads: "
    "reshape to (B, T, h, d_k) first, then .transpose(1, 2)."
)
SPLIT_SWAPPED = (
    "you split E as (d_k, h) instead of (h, d_k): head i must own the contiguous "
    "features i*d_k to (i+1)*d_k - 1, so reshape to (B, T, h, d_k)."
)
NO_SCALE = "the scores are too large by sqrt(d_k): divide q @ k^T by math.sqrt(d_k)."
SCALE_BY_DK = "you divided by d_k; the scale is 1 / sqrt(d_k)."
SOFTMAX_DIM = (
    "the softmax ran over the wrong dimension: each query's row (the last "
    "dimension, the keys) must sum to 1, so use dim=-1."
)
MASK_POLARITY = (
    "your mask polarity is inverted: in mha and nn.MultiheadAttention, True means "
    "NOT allowed to attend (F.scaled_dot_product_attention uses the opposite)."
)

CAUSAL_DIAGONAL = (
    "off by one: the diagonal is masked, but a position may attend to itself; "
    "use .triu(1) (diagonal=1)."
)
CAUSAL_LEAK = (
    "off by one: each query still sees the next position; mask every key j > i, "
    "that is .triu(1)."
)
NOT_BOOL = "return a boolean tensor (dtype torch.bool), not numbers."
PAD_OFF_BY_ONE = "off by one: position lengths[b] is already padding; use >= not >."
FLOAT_MASK = "a float mask is added to the scores, not used as a boolean."
MASK_IGNORED = (
    "the mask was ignored: fill the masked scores with -inf before the softmax."
)


def split_heads(fn: Callable[[Tensor, int], Tensor]) -> bool:
    """Check ``fn(x, num_heads)``: ``(B, T, E) -> (B, h, T, d_k)``."""
    cases = []
    for label, (B, T, E), h in [
        ("ordinary: x (2, 5, 12), num_heads=3", (2, 5, 12), 3),
        ("one head: x (1, 4, 6), num_heads=1", (1, 4, 6), 1),
        ("length 1: x (2, 1, 8), num_heads=4", (2, 1, 8), 4),
        ("head_dim 1: x (1, 3, 4), num_heads=4", (1, 3, 4), 4),
    ]:
        x = rand(B, T, E, seed=E + T)
        d = E // h
        cases.append(
            Case(
                label,
                (x, h),
                _heads.split_heads(x, h),
                mistakes={
                    SPLIT_NO_TRANSPOSE: x.reshape(B, h, T, d),
                    SPLIT_SWAPPED: x.reshape(B, T, d, h).permute(0, 3, 1, 2),
                    "you forgot the transpose: the result should be (B, h, T, d_k), "
                    "heads before time.": x.reshape(B, T, h, d),
                },
                hint="reshape (B, T, E) -> (B, T, h, d_k), then transpose(1, 2).",
            )
        )
    return run_checks("split_heads", fn, cases)


def merge_heads(fn: Callable[[Tensor], Tensor]) -> bool:
    """Check ``fn(x)``: ``(B, h, T, d_k) -> (B, T, E)``, the inverse of split_heads."""
    cases = []
    for label, (B, h, T, d) in [
        ("ordinary: x (2, 3, 5, 4)", (2, 3, 5, 4)),
        ("one head: x (1, 1, 4, 6)", (1, 1, 4, 6)),
        ("length 1: x (2, 4, 1, 2)", (2, 4, 1, 2)),
        ("head_dim 1: x (1, 4, 3, 1)", (1, 4, 3, 1)),
    ]:
        x = rand(B, h, T, d, seed=h * 10 + T)
        cases.append(
            Case(
                label,
                (x,),
                _heads.merge_heads(x),
                mistakes={
                    "you reshaped without moving the heads back: .transpose(1, 2) to "
                    "(B, T, h, d_k) first, then reshape to (B, T, E).": x.reshape(
                        B, T, h * d
                    ),
                },
                hint="transpose (B, h, T, d_k) -> (B, T, h, d_k), "
                "then reshape to (B, T, E).",
            )
        )
    return run_checks("merge_heads", fn, cases)


def attention_scores(fn: Callable[[Tensor, Tensor], Tensor]) -> bool:
    """Check ``fn(q, k)``: ``(..., T, d_k), (..., S, d_k) -> (..., T, S)``, scaled."""
    cases = []
    for label, q_shape, k_shape in [
        ("ordinary: q (2, 3, 4, 8), k (2, 3, 4, 8)", (2, 3, 4, 8), (2, 3, 4, 8)),
        ("cross-attention: q (2, 3, 4, 8), k (2, 3, 6, 8)", (2, 3, 4, 8), (2, 3, 6, 8)),
        ("no batch dims: q (5, 16), k (7, 16)", (5, 16), (7, 16)),
        ("length 1: q (1, 1, 1, 4), k (1, 1, 1, 4)", (1, 1, 1, 4), (1, 1, 1, 4)),
    ]:
        q, k = rand(*q_shape, seed=1), rand(*k_shape, seed=2)
        raw = q @ k.transpose(-2, -1)
        d = q.shape[-1]
        cases.append(
            Case(
                label,
                (q, k),
                _attention.attention_scores(q, k),
                mistakes={
                    NO_SCALE: raw,
                    SCALE_BY_DK: raw / d,
                    "rows and columns are swapped: scores are (..., T, S), one row per "
                    "query; compute q @ k.transpose(-2, -1).": raw.transpose(-2, -1)
                    / math.sqrt(d),
                },
                hint="q @ k.transpose(-2, -1) / math.sqrt(d_k), "
                "with d_k = q.shape[-1].",
            )
        )
    return run_checks("attention_scores", fn, cases)


def block_diagonal(fn: Callable[[Tensor, int], Tensor]) -> bool:
    """Check ``fn(weight, num_heads)``: the blog's shared ``(d_k, d_k)`` projection as
    one ``(E, E)`` matrix, so that ``x @ fn(w, h).T`` equals projecting each head's
    slice of ``x`` with ``w``."""
    cases = []
    for label, d, h in [
        ("ordinary: weight (4, 4), num_heads=3", 4, 3),
        ("one head: weight (6, 6), num_heads=1", 6, 1),
        ("head_dim 1: weight (1, 1), num_heads=5", 1, 5),
    ]:
        w = rand(d, d, seed=60 + d)
        cases.append(
            Case(
                label,
                (w, h),
                torch.block_diag(*[w] * h),
                mistakes={
                    "you tiled the weight over the whole matrix, which mixes heads; "
                    "only the diagonal blocks hold w, the rest is zero.": w.repeat(
                        h, h
                    ),
                    "the blocks are transposed: F.linear computes x @ W.T, so each "
                    "block is w itself, not w.T.": torch.block_diag(*[w.T] * h),
                },
                hint="torch.block_diag(*[weight] * num_heads) puts w on the diagonal.",
            )
        )
    return run_checks("block_diagonal", fn, cases)


def causal_mask(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(T)`` (and ``fn(T, S)`` if it takes S): bool (T, S), True = future."""
    shapes = [("ordinary: T=5", (5,)), ("length 1: T=1", (1,)), ("T=2", (2,))]
    if takes(fn, 2):
        shapes.append(("cross lengths: T=3, S=5", (3, 5)))
    cases = []
    for label, args in shapes:
        T, S = args[0], args[-1]
        ones = torch.ones(T, S, dtype=torch.bool)
        cases.append(
            Case(
                label,
                args,
                _masks.causal_mask(*args),
                mistakes={
                    MASK_POLARITY: ~ones.triu(1),
                    CAUSAL_DIAGONAL: ones.triu(0),
                    CAUSAL_LEAK: ones.triu(2),
                    NOT_BOOL: ones.triu(1).float(),
                },
                hint="True above the diagonal: "
                "torch.ones(T, S, dtype=torch.bool).triu(1).",
            )
        )
    return run_checks("causal_mask", fn, cases)


def padding_mask(fn: Callable[[Tensor, int], Tensor]) -> bool:
    """Check ``fn(lengths, S)``: bool (B, S), True at padding positions."""
    cases = []
    for label, lengths, S in [
        ("ordinary: lengths [3, 5, 1], S=5", [3, 5, 1], 5),
        ("length 1: lengths [1], S=1", [1], 1),
        ("no padding: lengths [4, 4], S=4", [4, 4], 4),
        ("empty sequence: lengths [2, 0], S=3", [2, 0], 3),
    ]:
        lens = torch.tensor(lengths)
        pos = torch.arange(S)
        cases.append(
            Case(
                label,
                (lens, S),
                _masks.padding_mask(lens, S),
                mistakes={
                    MASK_POLARITY: pos[None, :] < lens[:, None],
                    PAD_OFF_BY_ONE: pos[None, :] > lens[:, None],
                },
                hint="compare positions with lengths: "
                "torch.arange(S)[None, :] >= lengths[:, None].",
            )
        )
    return run_checks("padding_mask", fn, cases)


def masked_softmax(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(scores, mask=None)``: softmax over the last dim, masks respected."""
    scores = rand(2, 3, 4, 4, seed=3)
    causal = _masks.causal_mask(4)
    pad = _masks.padding_mask(torch.tensor([4, 2]), 4)[:, None, None, :]  # (B,1,1,S)
    additive = torch.zeros(4, 4).masked_fill(causal, float("-inf"))
    full = torch.zeros(4, 4, dtype=torch.bool)
    full[1] = True  # query 1 may attend to nothing
    cases = [
        Case(
            "no mask: scores (2, 3, 4, 4)",
            (scores, None),
            _masks.masked_softmax(scores),
            mistakes={SOFTMAX_DIM: torch.softmax(scores, dim=-2)},
            hint="torch.softmax(scores, dim=-1), or exp and divide by the row sum.",
        ),
        Case(
            "causal boolean mask (4, 4)",
            (scores, causal),
            _masks.masked_softmax(scores, causal),
            mistakes={
                MASK_POLARITY: torch.softmax(
                    scores.masked_fill(~causal, -math.inf), -1
                ),
                MASK_IGNORED: torch.softmax(scores, -1),
                SOFTMAX_DIM: torch.softmax(scores.masked_fill(causal, -math.inf), -2),
            },
            hint="scores.masked_fill(mask, float('-inf')), then the softmax.",
        ),
        Case(
            "padding mask broadcast from (2, 1, 1, 4)",
            (scores, pad),
            _masks.masked_softmax(scores, pad),
            hint="a (B, 1, 1, S) mask broadcasts over heads and queries; "
            "masked_fill handles that.",
        ),
        Case(
            "additive float mask (0 or -inf)",
            (scores, additive),
            _masks.masked_softmax(scores, additive),
            mistakes={
                FLOAT_MASK: torch.softmax(
                    scores.masked_fill(additive.bool(), -math.inf), -1
                )
            },
            hint="if mask.dtype == torch.bool use masked_fill, else scores + mask.",
        ),
        Case(
            "a query whose keys are all masked",
            (scores, full),
            _masks.masked_softmax(scores, full),
            hint="a fully masked row gives 0/0 = NaN; return zeros there instead, "
            "e.g. torch.nan_to_num or a where() on rows with any allowed key.",
        ),
    ]
    return run_checks("masked_softmax", fn, cases)


def scaled_dot_product_attention(fn: Callable[..., tuple[Tensor, Tensor]]) -> bool:
    """Check ``fn(q, k, v)`` -> ``(output, weights)``; masks too if it takes one."""
    cases = []
    for label, (T, S), lead in [
        ("one sequence: q (4, 8), k and v (4, 8)", (4, 4), ()),
        ("batched heads: q (2, 3, 5, 8)", (5, 5), (2, 3)),
        ("cross-attention: q (2, 3, 8), k and v (2, 6, 8)", (3, 6), (2,)),
        ("length 1: q (1, 1, 8)", (1, 1), (1,)),
    ]:
        q = rand(*lead, T, 8, seed=T)
        k, v = rand(*lead, S, 8, seed=S + 10), rand(*lead, S, 8, seed=S + 20)
        raw = q @ k.transpose(-2, -1)
        expected = _attention.scaled_dot_product_attention(q, k, v)
        no_scale = torch.softmax(raw, -1)
        wrong_dim = torch.softmax(raw / math.sqrt(8), -2)
        cases.append(
            Case(
                label,
                (q, k, v),
                expected,
                mistakes={
                    NO_SCALE: (no_scale @ v, no_scale),
                    SOFTMAX_DIM: (wrong_dim @ v, wrong_dim),
                },
                hint="weights = softmax(q @ k^T / sqrt(d_k), dim=-1); "
                "output = weights @ v; "
                "return (output, weights).",
            )
        )
    if takes(fn, 4):
        q, k, v = (rand(2, 5, 8, seed=s) for s in (31, 32, 33))
        causal = _masks.causal_mask(5)
        inverted = torch.softmax(
            (q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(~causal, -math.inf), -1
        )
        cases.append(
            Case(
                "causal boolean mask (5, 5), True = not allowed",
                (q, k, v, causal),
                _attention.scaled_dot_product_attention(q, k, v, causal),
                mistakes={MASK_POLARITY: (inverted @ v, inverted)},
                hint="fill the masked scores with -inf before the softmax.",
            )
        )
    return run_checks("scaled_dot_product_attention", fn, cases)


def _mha_variant(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    w: dict[str, Tensor],
    h: int,
    *,
    scale_dim: int | None = None,
    transpose_back: bool = True,
    project_out: bool = True,
) -> tuple[Tensor, Tensor]:
    """Multi-head attention with one deliberate mistake switched on, for hints."""
    B, T, E = query.shape
    S, d = key.shape[1], E // h
    q = (query @ w["w_q"].T + w["b_q"]).reshape(B, T, h, d).transpose(1, 2)
    k = (key @ w["w_k"].T + w["b_k"]).reshape(B, S, h, d).transpose(1, 2)
    v = (value @ w["w_v"].T + w["b_v"]).reshape(B, S, h, d).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(scale_dim or d)  # (B, h, T, S)
    weights = torch.softmax(scores, dim=-1)
    out = weights @ v  # (B, h, T, d)
    out = out.transpose(1, 2) if transpose_back else out
    out = out.reshape(B, T, E)
    if project_out:
        out = out @ w["w_o"].T + w["b_o"]
    return out, weights


def multi_head_attention(fn: Callable[..., tuple[Tensor, Tensor]]) -> bool:
    """Check the whole forward pass, ``fn(query, key, value, num_heads, w_q, ...)``.

    ``fn`` takes ``num_heads``, ``w_q``, ``w_k``, ``w_v``, ``w_o`` and the biases
    ``b_q``, ``b_k``, ``b_v``, ``b_o`` as keywords, and returns
    ``(output (B, T, E), weights (B, h, T, S))``, the weights per head.
    If ``fn`` also takes ``attn_mask``, a case with a causal boolean mask
    (True = not allowed) is added.
    """
    cases = []
    for label, (B, T, S, E, h) in [
        ("self-attention: B=2, T=S=5, E=12, h=3", (2, 5, 5, 12, 3)),
        ("cross-attention: T=3, S=6, E=8, h=2", (2, 3, 6, 8, 2)),
        ("one head: T=4, E=6, h=1", (1, 4, 4, 6, 1)),
        ("head_dim 1: T=3, E=4, h=4", (1, 3, 3, 4, 4)),
        ("length 1: T=S=1, E=8, h=2", (2, 1, 1, 8, 2)),
    ]:
        query, key, value = (
            rand(B, n, E, seed=E + n + i) for i, n in enumerate((T, S, S))
        )
        w = {
            f"w_{n}": rand(E, E, seed=40 + i) / math.sqrt(E)
            for i, n in enumerate("qkvo")
        }
        w |= {f"b_{n}": rand(E, seed=50 + i) / 10 for i, n in enumerate("qkvo")}
        expected = _functional.multi_head_attention(
            query, key, value, num_heads=h, **w, average_attn_weights=False
        )
        mistakes = {
            "you divided the scores by sqrt(E), the blog's constant; each head works "
            "in d_k = E / h dimensions, so divide by sqrt(d_k).": _mha_variant(
                query, key, value, w, h, scale_dim=E
            ),
            "the heads were merged without .transpose(1, 2): move the head axis "
            "next to d_k before reshaping to (B, T, E).": _mha_variant(
                query, key, value, w, h, transpose_back=False
            ),
            "the output projection is missing: apply w_o and b_o after merging "
            "the heads.": _mha_variant(query, key, value, w, h, project_out=False),
        }
        cases.append(
            Case(
                label,
                (query, key, value),
                expected,
                kwargs={"num_heads": h, **w},
                mistakes=mistakes,
                hint="project with x @ w.T + b, split, attend per head, merge, "
                "then project with w_o; return (output, weights per head).",
            )
        )
    if takes_keyword(fn, "attn_mask"):
        case = cases[0]
        mask = _masks.causal_mask(5)
        expected = _functional.multi_head_attention(
            *case.args, **case.kwargs, attn_mask=mask, average_attn_weights=False
        )
        cases.append(
            Case(
                "self-attention with a causal boolean mask (True = not allowed)",
                case.args,
                expected,
                kwargs={**case.kwargs, "attn_mask": mask},
                hint="apply the mask to the scores of every head before the softmax.",
            )
        )
    return run_checks("multi_head_attention", fn, cases)


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


ENTROPY_NAN = (
    "0 * log(0) is NaN in floating point, so masked keys (weight 0) poison the sum; "
    "by convention they add 0: use torch.special.xlogy(w, w), or fill the zeros first."
)
ENTROPY_SIGN = "the entropy is -sum(a * log a): you lost the minus sign."
ENTROPY_LOG2 = (
    "you measured in bits (log2); the book measures entropy in nats: use the "
    "natural logarithm, torch.log."
)
ENTROPY_MEAN = "sum over the keys, do not average: H = -sum_j a_j log a_j."
ENTROPY_DIM = (
    "you summed over the wrong axis: a query's weights run along the last "
    "dimension (the keys), so sum over dim=-1."
)


def attention_entropy(fn: Callable[[Tensor], Tensor]) -> bool:
    """Check ``fn(weights)``: entropy in nats of each row, ``(..., T, S) -> (..., T)``.

    ``H = -sum_j a_j log a_j`` with ``0 log 0 = 0``: masked keys add nothing.
    """
    uniform = torch.full((2, 3, 4, 5), 0.2)  # (B, h, T, S)
    one_hot = torch.eye(4)[None]  # (1, T, S): each query on one key
    rows = torch.softmax(rand(2, 4, 6, 6, seed=70), dim=-1)  # (B, h, T, S)
    causal = _masks.masked_softmax(
        rand(2, 5, 5, seed=71), _masks.causal_mask(5)
    )  # (h, T, S), zeros above the diagonal
    single = torch.ones(3, 1)  # (T, S=1)

    def reference(w: Tensor) -> Tensor:
        return -torch.special.xlogy(w, w).sum(dim=-1)

    def naive(w: Tensor) -> Tensor:
        return -(w * w.log()).sum(dim=-1)

    cases = []
    for label, w in [
        ("uniform rows: weights (2, 3, 4, 5), all 0.2", uniform),
        ("one key per query: weights (1, 4, 4)", one_hot),
        ("softmax rows: weights (2, 4, 6, 6)", rows),
        ("causal weights with zeros: (2, 5, 5)", causal),
        ("a single key: weights (3, 1)", single),
    ]:
        plogp = torch.special.xlogy(w, w)  # (..., T, S), 0 where w == 0
        cases.append(
            Case(
                label,
                (w,),
                reference(w),
                mistakes={
                    ENTROPY_NAN: naive(w),
                    ENTROPY_SIGN: plogp.sum(dim=-1),
                    ENTROPY_LOG2: reference(w) / math.log(2),
                    ENTROPY_MEAN: -plogp.mean(dim=-1),
                    ENTROPY_DIM: -plogp.sum(dim=-2),
                },
                hint="-(w * log w) summed over the last dim, with 0 log 0 = 0: "
                "-torch.special.xlogy(w, w).sum(dim=-1).",
            )
        )
    return run_checks("attention_entropy", fn, cases)


from ._checks_blockwise import (  # noqa: E402, F401
    causal_blockwise_attention,
    merge_states,
    online_softmax_attention,
)
from ._checks_blog import blog_mask_to_torch  # noqa: E402, F401
from ._checks_decoding import left_padded_step  # noqa: E402, F401
from ._checks_head_mask import mask_heads, mean_ablate  # noqa: E402, F401
from ._checks_rope import rope_cache  # noqa: E402, F401
from ._checks_variants import repeat_kv  # noqa: E402, F401
