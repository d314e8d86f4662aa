"""Attention one block of keys at a time, and a way to see what a call allocates.

:func:`blockwise_attention` computes ``softmax(q @ k^T / sqrt(d_k) + mask) @ v``
without ever holding the ``(..., T, S)`` weight matrix. It walks over the keys in
blocks of ``block_size`` and keeps, for every query, three running quantities (the
*online softmax*, the idea behind FlashAttention):

- ``m``, the largest score seen so far, ``(..., T, 1)``;
- ``l``, the softmax denominator so far, ``sum_j exp(s_j - m)``, ``(..., T, 1)``;
- ``acc``, the unnormalised output so far, ``sum_j exp(s_j - m) v_j``,
  ``(..., T, d_v)``.

When a block brings a larger maximum ``m_new``, the old ``l`` and ``acc`` were
computed against the old ``m`` and are both rescaled by ``exp(m - m_new)`` before the
block's terms are added. The output is ``acc / l`` at the end. The largest
intermediate is one ``(..., T, block_size)`` block of scores instead of the whole
``(..., T, S)`` matrix.

:func:`tensor_memory` runs a function and counts the bytes of the tensors its
operators create: the peak of what is alive at once and the largest single tensor.
It needs no GPU and gives the same numbers on every run.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

from ._validate import (
    check_broadcastable,
    check_floating,
    check_mask_dtype,
    check_positive_int,
    check_same_dtype_device,
    shape_str,
)
from .attention import check_qkv_rank

__all__ = ["TensorMemory", "blockwise_attention", "merge_states", "tensor_memory"]


def _check_inputs(q: Tensor, k: Tensor, v: Tensor) -> None:
    for name, x, layout in (
        ("q", q, "(..., T, d_k)"),
        ("k", k, "(..., S, d_k)"),
        ("v", v, "(..., S, d_v)"),
    ):
        check_qkv_rank(name, x, layout)
    check_same_dtype_device("q", q, k=k, v=v)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dim d_k; got q {shape_str(q.shape)} "
            f"and k {shape_str(k.shape)}."
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same length S (dim -2); got k "
            f"{shape_str(k.shape)} and v {shape_str(v.shape)}. Hint: each key has "
            f"exactly one value."
        )
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading (batch, head) dims of q {shape_str(q.shape)}, k "
            f"{shape_str(k.shape)} and v {shape_str(v.shape)} do not broadcast. "
            f"Hint: all three should be (B, h, ...)."
        ) from None


def blockwise_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    block_size: int,
    attn_mask: Tensor | None = None,
    *,
    is_causal: bool = False,
    return_lse: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Scaled dot-product attention over blocks of keys with an online softmax.

    Shapes: ``q (..., T, d_k)``, ``k (..., S, d_k)``, ``v (..., S, d_v)`` ->
    ``(..., T, d_v)``; leading dims broadcast. Equal (up to rounding) to
    ``mha.scaled_dot_product_attention(q, k, v, attn_mask, is_causal=is_causal)[0]``
    for every ``block_size >= 1``; ``block_size >= S`` is one block, the ordinary
    softmax.

    ``attn_mask`` broadcasts to ``(..., T, S)``: boolean True where attending is NOT
    allowed (``nn.MultiheadAttention``'s convention), or a float mask added to the
    scores. ``is_causal`` hides key ``j > i`` from query ``i`` (top-left aligned, as
    :func:`mha.causal_mask`); its mask is built block by block, never as a whole
    ``(T, S)`` tensor. A query whose keys are all masked gets a zero output, as in
    ``mha``. No dropout.

    Memory: besides the inputs and the output, a step holds one block of scores and
    one of exponentials, ``(..., T, block_size)`` each, and the running ``m``, ``l``
    ``(..., T, 1)`` and ``acc`` ``(..., T, d_v)``: O(T * block_size), not O(T * S).
    It tiles the keys only: every step works on all ``T`` queries at once.
    FlashAttention also tiles the queries, so that a tile fits in on-chip memory.

    ``return_lse=True`` also returns each query's log-sum-exp of its scores,
    ``m + log(l)``, shape ``(..., T)`` (``-inf`` for a query with no allowed key).
    It is what FlashAttention keeps for the backward pass: with it, any block of
    weights can be recomputed from ``q`` and ``k`` alone, ``exp(s - lse)``, instead of
    being stored.

    Raises:
        TypeError: an input is not a floating tensor, or the mask is neither bool nor
            floating, or ``block_size`` is not an int.
        ValueError: shapes do not fit together, or ``block_size < 1``.
    """
    _check_inputs(q, k, v)
    check_positive_int("block_size", block_size)
    T, S = q.shape[-2], k.shape[-2]
    if attn_mask is not None:
        check_mask_dtype("attn_mask", attn_mask)
        target = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), T, S)
        check_broadcastable("attn_mask", attn_mask, target, "(..., T, S)")
    q = q * (1.0 / math.sqrt(q.shape[-1]))  # (..., T, d_k), scaled once
    lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    stat_shape = (*lead, T, 1)
    m = torch.full(stat_shape, -math.inf, dtype=q.dtype, device=q.device)
    l = torch.zeros(stat_shape, dtype=q.dtype, device=q.device)  # noqa: E741
    acc = torch.zeros((*lead, T, v.shape[-1]), dtype=q.dtype, device=q.device)
    rows = torch.arange(T, device=q.device)[:, None]  # (T, 1), for the causal mask

    for start in range(0, S, block_size):
        stop = min(start + block_size, S)
        k_blk = k[..., start:stop, :]  # (..., b, d_k), a view
        v_blk = v[..., start:stop, :]  # (..., b, d_v), a view
        s = q @ k_blk.transpose(-2, -1)  # (..., T, d_k) @ (..., d_k, b) -> (..., T, b)
        # s is a fresh tensor that nothing else reads: update it in place, so that
        # a step holds one (..., T, b) block, not several.
        if attn_mask is not None:
            # A mask broadcast along the keys (last dim 1) applies to every block.
            blk = attn_mask if attn_mask.shape[-1] == 1 else attn_mask[..., start:stop]
            if blk.dtype == torch.bool:
                s.masked_fill_(blk, -math.inf)
            else:
                s.add_(blk.to(s.dtype))
        if is_causal:
            cols = torch.arange(start, stop, device=q.device)[None, :]  # (1, b)
            s.masked_fill_(cols > rows, -math.inf)  # (T, b) broadcasts
        # The output does not depend on m (it cancels in acc / l), so no gradient
        # needs to flow through it.
        m_new = torch.maximum(m, s.detach().amax(dim=-1, keepdim=True))  # (..., T, 1)
        # Rows with no allowed key yet keep m = -inf; shift them by 0 instead, so
        # that exp(-inf - (-inf)) = NaN never happens.
        shift = m_new.masked_fill(torch.isneginf(m_new), 0.0)  # (..., T, 1)
        p = s.sub_(shift).exp_()  # (..., T, b); masked keys give exp(-inf) = 0
        alpha = torch.exp(m - shift)  # (..., T, 1): rescales what came before
        l = alpha * l + p.sum(dim=-1, keepdim=True)  # noqa: E741
        acc = alpha * acc + p @ v_blk  # (..., T, b) @ (..., b, d_v) -> (..., T, d_v)
        m = m_new
        del s, p  # free this block before the next one is computed
    # l == 0 only where every key was masked; acc is 0 there too, so the output is 0.
    out = acc / l.masked_fill(l == 0, 1.0)  # (..., T, d_v)
    if return_lse:
        return out, (m + torch.log(l))[..., 0]  # (..., T); log 0 = -inf: no key
    return out


def merge_states(
    m1: Tensor, l1: Tensor, o1: Tensor, m2: Tensor, l2: Tensor, o2: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Merge two online-softmax states of the same queries over disjoint sets of keys.

    A state ``(m, l, o)`` sums up a query's scores ``s_j`` over some keys: the
    largest score ``m`` ``(..., T, 1)``, ``l = sum_j exp(s_j - m)`` ``(..., T, 1)``
    and ``o = sum_j exp(s_j - m) v_j`` ``(..., T, d_v)``, so that ``o / l`` is the
    attention output over those keys. The merged state is the one of all keys
    together: ``m = max(m1, m2)``, and each part's ``l`` and ``o`` rescaled by
    ``exp(m_i - m)`` before they are added. A state of no keys, ``(-inf, 0, 0)``,
    leaves the other unchanged; two of them give ``(-inf, 0, 0)``, not NaN.

    The blockwise loop merges a state with one block at a time; merging whole
    states lets parts of the keys be processed independently (in parallel, on
    different devices) and combined afterwards, as split-key decoding kernels do.

    Raises:
        ValueError: the shapes of the two states do not match.
    """
    for name, first, second in (("m", m1, m2), ("l", l1, l2), ("o", o1, o2)):
        check_floating(f"{name}1", first)
        check_floating(f"{name}2", second)
        if first.shape != second.shape:
            raise ValueError(
                f"{name}1 and {name}2 must have the same shape; got "
                f"{shape_str(first.shape)} and {shape_str(second.shape)}."
            )
    if m1.shape != l1.shape or m1.shape[:-1] != o1.shape[:-1] or m1.shape[-1] != 1:
        raise ValueError(
            f"a state is m (..., T, 1), l (..., T, 1), o (..., T, d_v); got m "
            f"{shape_str(m1.shape)}, l {shape_str(l1.shape)}, o {shape_str(o1.shape)}."
        )
    m = torch.maximum(m1, m2)  # (..., T, 1)
    shift = m.masked_fill(torch.isneginf(m), 0.0)  # no key on either side: shift by 0
    a1, a2 = torch.exp(m1 - shift), torch.exp(m2 - shift)  # (..., T, 1), each <= 1
    return m, a1 * l1 + a2 * l2, a1 * o1 + a2 * o2


@dataclass
class TensorMemory:
    """What :func:`tensor_memory` saw: bytes of tensors created by operators.

    ``peak_bytes``: the most bytes alive at once in tensors the call created (its
    inputs and the parameters it reads are not counted). ``largest_bytes`` and
    ``largest_shape``: the single largest tensor created, with the shape the operator
    that created it gave it (``q @ k.T`` on ``(B, h, T, d_k)`` runs as a
    ``(B * h, T, S)`` ``bmm`` that is then viewed as ``(B, h, T, S)``). ``ops``: the
    operators that ran, in order of first use, e.g. ``"aten.bmm.default"``.
    """

    peak_bytes: int = 0
    largest_bytes: int = 0
    largest_shape: tuple[int, ...] = ()
    ops: list[str] = field(default_factory=list)


def _tensors(obj: Any) -> list[Tensor]:
    """The tensors in an operator's arguments or results (lists, tuples, dicts)."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors(item)]
    return []


class _Tracker(TorchDispatchMode):
    """Counts storages created by operators; frees them when their tensors die."""

    def __init__(self, stats: TensorMemory) -> None:
        super().__init__()
        self.stats = stats
        self.live: dict[int, list[int]] = {}  # storage address -> [bytes, tensors]
        self.current = 0
        self.seen: set[Any] = set()  # operators already listed in stats.ops

    def _release(self, key: int) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[key]

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func not in self.seen:
            self.seen.add(func)
            self.stats.ops.append(str(func))
        inputs = {t.untyped_storage().data_ptr() for t in _tensors((args, kwargs))}
        for t in _tensors(out):
            storage = t.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
            if key in self.live:  # a view of a tensor created earlier
                self.live[key][1] += 1
            elif key in inputs or size == 0:  # in place, or a view of an input
                continue
            else:
                self.live[key] = [size, 1]
                self.current += size
                self.stats.peak_bytes = max(self.stats.peak_bytes, self.current)
                if size > self.stats.largest_bytes:
                    self.stats.largest_bytes = size
                    self.stats.largest_shape = tuple(t.shape)
            weakref.finalize(t, self._release, key)
        return out


def tensor_memory(fn: Callable[[], Any]) -> TensorMemory:
    """Call ``fn()`` once under ``torch.no_grad()`` and count what it allocates.

    Every operator's output tensors are recorded through a ``TorchDispatchMode``; a
    tensor's bytes count from its creation until the last tensor sharing its storage
    is garbage. Views and in-place results cost nothing. The result of ``fn`` is
    dropped before returning.

    What it does not see: memory a kernel uses internally without handing it back as
    a tensor (a fused kernel's scratch blocks, a whole fused layer such as
    ``nn.MultiheadAttention``'s inference fast path, which is one operator), and the
    allocator's caching and fragmentation. So it measures the tensors an algorithm
    creates, deterministically, on any device; on a GPU
    ``torch.cuda.max_memory_allocated`` measures the allocator itself.

    Raises:
        TypeError: ``fn`` is not callable.
        ValueError: called inside ``torch.inference_mode()``, where composite
            operators reach the tracker whole and what they create inside is missed.
    """
    if not callable(fn):
        raise TypeError(
            f"tensor_memory expects a function of no arguments; got "
            f"{type(fn).__name__}. Hint: wrap the call, tensor_memory(lambda: f(x))."
        )
    if torch.is_inference_mode_enabled():
        raise ValueError(
            "tensor_memory cannot see inside composite operators in "
            "torch.inference_mode(). Hint: call it outside inference mode; it runs "
            "fn under torch.no_grad() itself."
        )
    stats = TensorMemory()
    with torch.no_grad(), _Tracker(stats):
        out = fn()
        del out
    return stats
