"""A tiny transformer, a synthetic task and head masking, for "What heads learn".

The task, :class:`RepeatTask`: each sequence of ``T`` letters holds a segment of ``n``
distinct letters twice in a row, somewhere among filler letters, and every letter
appears once except those of the segment::

    X Q J H E A D S H E A D S Z P V W K M B
          ^^^^^^^^^ ^^^^^^^^^
          segment   its copy

The model reads the letters left to right and predicts the next one. Only the
positions inside the copy can be predicted (the next letter is the one that followed
the current letter the first time), so only they are scored. The offset between the
copies, ``n``, changes from sequence to sequence, so no fixed positional pattern
solves it: the model must find the earlier occurrence of the current letter.

The model, :class:`TinyTransformer`: token and position embeddings, ``num_layers``
pre-LayerNorm blocks of :class:`mha.MultiHeadAttention` with a causal mask and no MLP,
a final LayerNorm and a linear read-out. Its forward pass takes a ``head_mask``
``(num_layers, h)``: each head's output is multiplied by its entry before the heads
are merged and projected by ``W^O`` (1.0 keeps a head, 0.0 removes it), the gate
:math:`\\xi_h` of Michel et al. (2019). The masked pass is
:func:`masked_self_attention`, built from the layer's own projections and
:func:`mha.split_heads`, :func:`mha.scaled_dot_product_attention`,
:func:`mha.merge_heads`; with a mask of ones it equals the layer.

:func:`train_toy_seeds` trains one model per seed deterministically (fixed seeds,
one CPU thread per operator, ``torch.use_deterministic_algorithms``), all of them at
once as a :class:`ToyEnsemble` (their weights stacked along a new first dim), in
worker threads when asked; :func:`train_toy` is the one-seed case. :func:`accuracy`,
:func:`ablate_each_head` and :func:`pattern_scores` measure a model, and
:class:`ToyEnsemble` measures several at once. :func:`head_means` gives each head's
mean output, the baseline of *mean ablation* (``head_baseline``), which replaces a
removed head by its average instead of by zeros.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._validate import (
    check_heads_divide,
    check_positive_int,
    check_rank,
    check_tensor,
    shape_str,
)
from .attention import scaled_dot_product_attention
from .heads import merge_heads, split_heads
from .layer import MultiHeadAttention

__all__ = [
    "LETTERS",
    "RepeatBatch",
    "RepeatTask",
    "TinyTransformer",
    "ToyEnsemble",
    "ablate_each_head",
    "accuracy",
    "decode",
    "encode",
    "head_means",
    "mask_heads",
    "masked_self_attention",
    "pattern_scores",
    "train_toy",
    "train_toy_seeds",
]

LETTERS = string.ascii_uppercase  # token i is LETTERS[i]


def encode(text: str) -> Tensor:
    """Letters to token ids: ``"HEAD" -> tensor([7, 4, 0, 3])``, shape ``(T,)``.

    Spaces are ignored, so ``"XQJ HEADS HEADS"`` is fine.

    Raises:
        TypeError: ``text`` is not a string.
        ValueError: it holds a character other than A-Z or a space.
    """
    if not isinstance(text, str):
        raise TypeError(f"encode expects a string; got {type(text).__name__}.")
    letters = text.replace(" ", "").upper()
    bad = sorted({c for c in letters if c not in LETTERS})
    if bad:
        raise ValueError(
            f"encode understands the letters A-Z only; got {bad} in {text!r}."
        )
    return torch.tensor([LETTERS.index(c) for c in letters], dtype=torch.long)


def decode(tokens: Tensor | Sequence[int]) -> list[str]:
    """Token ids to letters, one string per token: use them as tick labels.

    ``tokens`` is 1-D ``(T,)``; ids of 26 and above (a bigger vocabulary) are written
    as ``"<26>"``.
    """
    ids = tokens.tolist() if isinstance(tokens, Tensor) else list(tokens)
    if ids and isinstance(ids[0], list):
        raise ValueError(
            "decode expects one sequence (T,); got a batch. Hint: decode(tokens[0])."
        )
    return [LETTERS[i] if 0 <= i < len(LETTERS) else f"<{i}>" for i in ids]


class RepeatBatch(NamedTuple):
    """A batch of the repeat task.

    Attributes:
        tokens: ``(B, T)`` token ids; the model reads ``tokens[:, :-1]`` and predicts
            ``tokens[:, 1:]``.
        scored: ``(B, T - 1)`` bool, True at the input positions whose next token
            can be predicted: inside the copy, all but its last letter.
        start: ``(B,)`` where the segment begins.
        length: ``(B,)`` the segment's length ``n``, also the offset of the copy.
    """

    tokens: Tensor
    scored: Tensor
    start: Tensor
    length: Tensor

    @property
    def inputs(self) -> Tensor:
        """``(B, T - 1)``: what the model reads."""
        return self.tokens[:, :-1]

    @property
    def targets(self) -> Tensor:
        """``(B, T - 1)``: the next token at every input position."""
        return self.tokens[:, 1:]


@dataclass(frozen=True)
class RepeatTask:
    """Sequences of ``seq_len`` letters with one segment repeated right after itself.

    Args:
        seq_len: ``T``, tokens per sequence (the model reads ``T - 1`` of them).
        vocab_size: number of distinct tokens; at least ``seq_len - min_len`` so that
            every letter outside the segment can be different.
        min_len, max_len: range of the segment length ``n``; both copies must fit,
            ``2 * max_len <= seq_len``, and ``min_len >= 2`` so that every sequence
            has a position to score.
    """

    seq_len: int = 20
    vocab_size: int = 26
    min_len: int = 4
    max_len: int = 8

    def __post_init__(self) -> None:
        for name in ("seq_len", "vocab_size", "min_len", "max_len"):
            check_positive_int(name, getattr(self, name))
        if self.min_len < 2:
            raise ValueError(
                f"min_len must be at least 2; got min_len={self.min_len}. Hint: a "
                f"segment of one letter has no next letter to predict."
            )
        if self.min_len > self.max_len:
            raise ValueError(
                f"min_len must not exceed max_len; got min_len={self.min_len}, "
                f"max_len={self.max_len}."
            )
        if 2 * self.max_len > self.seq_len:
            raise ValueError(
                f"two copies of the longest segment must fit in a sequence: "
                f"2 * max_len = {2 * self.max_len} > seq_len = {self.seq_len}. "
                f"Hint: lower max_len to {self.seq_len // 2} or raise seq_len."
            )
        needed = self.seq_len - self.min_len
        if self.vocab_size < needed:
            raise ValueError(
                f"vocab_size={self.vocab_size} is too small: a sequence with the "
                f"shortest segment needs seq_len - min_len = {needed} distinct "
                f"tokens. Hint: raise vocab_size or lower seq_len."
            )

    def sample(
        self,
        batch_size: int,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> RepeatBatch:
        """Draw ``batch_size`` sequences: ``tokens (B, T)`` and the scored positions.

        Pass ``seed`` for a fixed batch (an evaluation set), or a ``generator`` to
        draw batch after batch from one stream (training). Sampling happens on the
        CPU, so the same seed gives the same batch on every device.
        """
        check_positive_int("batch_size", batch_size)
        if seed is not None and generator is not None:
            raise ValueError("pass seed or generator, not both.")
        if generator is None:
            generator = torch.Generator()
            if seed is not None:
                generator.manual_seed(seed)
            else:
                generator.seed()
        B, T = batch_size, self.seq_len
        length = torch.randint(
            self.min_len, self.max_len + 1, (B,), generator=generator
        )  # (B,)
        room = T - 2 * length + 1  # (B,) possible starts: 0 .. T - 2n
        start = (torch.rand(B, generator=generator) * room).long()  # (B,)
        # A random order of the vocabulary per sequence: distinct letters.
        letters = torch.rand(B, self.vocab_size, generator=generator).argsort(dim=-1)
        pos = torch.arange(T)[None, :]  # (1, T)
        n, s = length[:, None], start[:, None]  # (B, 1)
        # Position t shows letter number t before the copy and t - n from it on:
        # the copy repeats the segment, and the filler after it stays fresh.
        index = torch.where(pos < s + n, pos, pos - n)  # (B, T)
        tokens = letters.gather(1, index)  # (B, T)
        inputs = pos[:, :-1]  # (1, T - 1)
        scored = (inputs >= s + n) & (inputs <= s + 2 * n - 2)  # (B, T - 1)
        return RepeatBatch(
            tokens.to(device), scored.to(device), start.to(device), length.to(device)
        )


def _check_head_mask(
    head_mask: object, shape: tuple[int, ...], layout: str, hint: str
) -> Tensor:
    head_mask = check_tensor("head_mask", head_mask)
    if not head_mask.is_floating_point():
        raise TypeError(
            f"head_mask must be a float tensor of multipliers (1.0 keeps a head, 0.0 "
            f"removes it); got dtype {head_mask.dtype}. Hint: a boolean mask is "
            f"ambiguous here (in mha True means 'not allowed'): write "
            f"keep.float() for a tensor `keep` that is True where a head stays."
        )
    if tuple(head_mask.shape) != shape:
        raise ValueError(
            f"head_mask must have shape {layout} = {shape_str(shape)}; got "
            f"{shape_str(head_mask.shape)}. Hint: {hint}"
        )
    return head_mask


def mask_heads(
    heads: Tensor, head_mask: Tensor, baseline: Tensor | None = None
) -> Tensor:
    """Multiply each head's output by its gate: ``(B, h, T, d_k) -> (B, h, T, d_k)``.

    ``head_mask`` is ``(h,)``, one gate per head for the whole batch, or ``(B, h)``,
    one per sequence and head. Gate 1.0 keeps a head, 0.0 removes it; values in
    between scale it. The gates line up with the head axis, dim 1, whatever ``T``
    and ``d_k`` are.

    ``baseline`` (optional) is what a removed head is replaced by: the result is
    ``gate * heads + (1 - gate) * baseline``, so a gate of 0 puts the baseline in the
    head's place instead of zeros. With the head's mean output over a batch,
    ``(h, T, d_k)`` from :func:`head_means`, that is *mean ablation*; without a
    baseline it is *zero ablation*. It broadcasts to ``heads``.

    Raises:
        ValueError: ``heads`` is not 4-D, ``head_mask`` is neither ``(h,)`` nor
            ``(B, h)``, or ``baseline`` does not broadcast to ``heads``.
        TypeError: ``head_mask`` is not a float tensor.
    """
    check_rank("heads", heads, 4, "(B, h, T, d_k)", hint="split_heads gives this.")
    B, h = heads.shape[:2]
    head_mask = check_tensor("head_mask", head_mask)
    shape = (h,) if head_mask.dim() <= 1 else (B, h)
    layout = "(h,)" if head_mask.dim() <= 1 else "(B, h)"
    head_mask = _check_head_mask(
        head_mask,
        shape,
        layout,
        f"one gate per head (h = {h}), or per sequence and head (B = {B}, h = {h}).",
    )
    gates = head_mask[..., None, None]  # (h,) -> (h, 1, 1); (B, h) -> (B, h, 1, 1)
    gated = heads * gates.to(heads.dtype)
    if baseline is None:
        return gated
    baseline = check_tensor("baseline", baseline)
    try:
        fits = torch.broadcast_shapes(baseline.shape, heads.shape) == heads.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"baseline must broadcast to heads {shape_str(heads.shape)}; got "
            f"{shape_str(baseline.shape)}. Hint: one (T, d_k) mean per head is "
            f"(h, T, d_k) = {shape_str(heads.shape[1:])}."
        )
    return gated + (1.0 - gates.to(heads.dtype)) * baseline.to(heads.dtype)


def masked_self_attention(
    layer: MultiHeadAttention,
    x: Tensor,
    head_mask: Tensor | None = None,
    *,
    is_causal: bool = True,
    baseline: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Self-attention through ``layer`` with each head's output gated before ``W^O``.

    Shapes: ``x (B, T, E)``, ``head_mask (h,)`` or ``(B, h)`` -> ``output (B, T, E)``,
    ``weights (B, h, T, T)``. The steps of Part I, with one more between merge and
    concatenate: project, :func:`mha.split_heads`,
    :func:`mha.scaled_dot_product_attention`, :func:`mask_heads`,
    :func:`mha.merge_heads`, ``out_proj``. Removing head ``i`` removes the term
    ``W^O_i o_i`` from the output (``W^O_i`` is columns ``i*d_k:(i+1)*d_k`` of
    ``out_proj.weight``); the bias stays. With ``head_mask=None`` or all ones it
    equals ``layer(x, x, x, is_causal=is_causal, average_attn_weights=False)``.
    ``baseline`` replaces removed heads as in :func:`mask_heads`.

    Raises:
        TypeError: ``layer`` is not an :class:`mha.MultiHeadAttention`.
        ValueError: ``layer`` is not ``batch_first``, or ``x`` is not ``(B, T, E)``.
    """
    out, weights, _ = _gated_attention(layer, x, head_mask, is_causal, baseline)
    return out, weights


def _gated_attention(
    layer: MultiHeadAttention,
    x: Tensor,
    head_mask: Tensor | None,
    is_causal: bool,
    baseline: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`masked_self_attention`, also returning the ungated heads."""
    if not isinstance(layer, MultiHeadAttention):
        raise TypeError(
            f"masked_self_attention expects an mha.MultiHeadAttention; got "
            f"{type(layer).__name__}. Hint: convert a torch layer with "
            f"mha.MultiHeadAttention.from_torch(module)."
        )
    if not layer.batch_first:
        raise ValueError(
            "masked_self_attention expects a batch_first=True layer and (B, T, E) "
            "inputs."
        )
    check_rank("x", x, 3, f"(B, T, E) with E = {layer.embed_dim}")
    if x.shape[-1] != layer.embed_dim:
        raise ValueError(
            f"x must be (B, T, E) with E = {layer.embed_dim}; got {shape_str(x.shape)}."
        )
    h = layer.num_heads
    q = split_heads(layer.q_proj(x), h)  # (B, T, E) -> (B, h, T, d_k)
    k = split_heads(layer.k_proj(x), h)  # (B, T, E) -> (B, h, T, d_k)
    v = split_heads(layer.v_proj(x), h)  # (B, T, E) -> (B, h, T, d_k)
    heads, weights = scaled_dot_product_attention(
        q, k, v, dropout_p=layer.dropout, is_causal=is_causal, training=layer.training
    )  # (B, h, T, d_k), (B, h, T, T)
    gated = heads
    if head_mask is not None:
        gated = mask_heads(heads, head_mask, baseline)  # (B, h, T, d_k)
    elif baseline is not None:
        raise ValueError("a baseline needs a head_mask: it replaces heads with gate 0.")
    out = layer.out_proj(merge_heads(gated))  # (B, T, E)
    return out, weights, heads  # (B, T, E), (B, h, T, T), (B, h, T, d_k)


class TinyTransformer(nn.Module):
    """An attention-only transformer: embeddings, causal attention blocks, read-out.

    ``z = tok(x) + pos(t)``; for each layer ``z = z + attn(LayerNorm(z))`` with a
    causal :class:`mha.MultiHeadAttention`; ``logits = out(LayerNorm(z))``. No MLP,
    so everything the model computes passes through its heads.

    Args:
        vocab_size: number of tokens.
        max_len: longest input; positions ``0 .. max_len - 1`` get an embedding.
        d_model: ``E``.
        num_heads: ``h`` per layer; must divide ``d_model``.
        num_layers: ``L``.
    """

    def __init__(
        self,
        vocab_size: int = 26,
        max_len: int = 20,
        d_model: int = 32,
        num_heads: int = 4,
        num_layers: int = 2,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("max_len", max_len),
            ("num_layers", num_layers),
        ):
            check_positive_int(name, value)
        self.head_dim = check_heads_divide(d_model, num_heads, "d_model")
        self.vocab_size, self.max_len = vocab_size, max_len
        self.d_model, self.num_heads, self.num_layers = d_model, num_heads, num_layers
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(num_layers))
        self.attn = nn.ModuleList(
            MultiHeadAttention(d_model, num_heads) for _ in range(num_layers)
        )
        self.norm_out = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(
        self,
        tokens: Tensor,
        head_mask: Tensor | None = None,
        need_weights: bool = False,
        head_baseline: Tensor | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Next-token logits ``(B, T, vocab_size)`` for ``tokens (B, T)``.

        ``head_mask`` gates every head (see :func:`mask_heads`): ``(L, h)``, one
        gate per layer and head, or ``(L, B, h)``, one per sequence too (its
        gradient then gives each sequence's own ``dloss/dgate``). ``head_baseline``
        ``(L, h, T, d_k)`` is what a head with gate 0 is replaced by instead of
        zeros: :func:`head_means` gives each head's mean output, for mean ablation.
        With ``need_weights=True`` also returns the attention weights of every
        layer and head, ``(L, B, h, T, T)``. Without a mask and weights the layers
        run their fused path (``need_weights=False``); otherwise
        :func:`masked_self_attention`.

        Raises:
            ValueError: ``tokens`` is not ``(B, T)`` with ``T <= max_len``, holds ids
                outside the vocabulary, ``head_mask`` is not ``(L, h)`` or
                ``(L, B, h)``, or ``head_baseline`` comes without a mask or is not
                ``(L, h, T, d_k)``.
            TypeError: ``tokens`` are not integers or ``head_mask`` is not float.
        """
        logits, maps, _ = self._run(tokens, head_mask, need_weights, head_baseline)
        if need_weights:
            return logits, maps
        return logits

    def _run(
        self,
        tokens: Tensor,
        head_mask: Tensor | None,
        need_weights: bool,
        head_baseline: Tensor | None,
        record_heads: bool = False,
    ) -> tuple[Tensor, Tensor | None, list[Tensor]]:
        """The forward pass; also each layer's ungated heads when ``record_heads``."""
        check_rank(
            "tokens", tokens, 2, "(B, T)", hint="for one sequence, tokens[None]."
        )
        if tokens.dtype not in (torch.long, torch.int32, torch.int64):
            raise TypeError(
                f"tokens must be integer ids (torch.long); got {tokens.dtype}."
            )
        T = tokens.shape[1]
        if not 0 < T <= self.max_len:
            raise ValueError(
                f"tokens must have 1 to max_len = {self.max_len} positions; got "
                f"T = {T}."
            )
        if tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < (
            self.vocab_size
        ):
            raise ValueError(
                f"token ids must lie in [0, {self.vocab_size}); got ids from "
                f"{int(tokens.min())} to {int(tokens.max())}."
            )
        L, h = self.num_layers, self.num_heads
        if head_mask is not None:
            per_sequence = check_tensor("head_mask", head_mask).dim() == 3
            head_mask = _check_head_mask(
                head_mask,
                (L, tokens.shape[0], h) if per_sequence else (L, h),
                "(L, B, h)" if per_sequence else "(L, h)",
                "one row per layer, one gate per head (or per sequence and head).",
            )
        if head_baseline is not None:
            want = (L, h, T, self.head_dim)
            if head_mask is None:
                raise ValueError(
                    "head_baseline needs a head_mask: it replaces the heads whose "
                    "gate is 0. Hint: head_mask with a 0.0 for each head to ablate."
                )
            if tuple(check_tensor("head_baseline", head_baseline).shape) != want:
                raise ValueError(
                    f"head_baseline must be (L, h, T, d_k) = {shape_str(want)}; got "
                    f"{shape_str(head_baseline.shape)}. Hint: head_means(model, batch)."
                )
        positions = torch.arange(T, device=tokens.device)  # (T,)
        z = self.tok(tokens) + self.pos(positions)  # (B, T, E)
        fast = head_mask is None and not need_weights and not record_heads
        maps, heads = [], []
        for layer, (norm, attn) in enumerate(zip(self.norms, self.attn, strict=True)):
            y = norm(z)  # (B, T, E)
            if fast:
                out, _ = attn(y, y, y, is_causal=True, need_weights=False)
            else:
                # (h,) or (B, h): this layer's gates; (h, T, d_k): its baselines
                gates = None if head_mask is None else head_mask[layer]
                base = None if head_baseline is None else head_baseline[layer]
                out, weights, ungated = _gated_attention(attn, y, gates, True, base)
                maps.append(weights)  # (B, h, T, T)
                heads.append(ungated)  # (B, h, T, d_k)
            z = z + out  # (B, T, E)
        logits = self.out(self.norm_out(z))  # (B, T, vocab_size)
        return logits, torch.stack(maps) if need_weights else None, heads


@torch.no_grad()
def head_means(model: TinyTransformer, batch: RepeatBatch) -> Tensor:
    """Each head's mean output over the sequences of ``batch``: ``(L, h, T, d_k)``.

    Entry ``[l, i, t]`` is head ``i`` of layer ``l``'s output at position ``t``
    (before ``W^O``), averaged over the batch, with every head in place. Passed as
    ``head_baseline``, it turns a zero gate into *mean ablation*: the head's output
    is replaced by what it gives on average, not by zeros, which the rest of the
    model never saw in training.
    """
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer; got {type(model).__name__}.")
    _, _, heads = model._run(batch.inputs, None, False, None, record_heads=True)
    return torch.stack(heads).mean(dim=1)  # (L, B, h, T, d_k) -> (L, h, T, d_k)


@contextmanager
def _reproducible(num_threads: int | None) -> Iterator[None]:
    """Deterministic kernels and a fixed thread count inside; restored afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


class ToyEnsemble(nn.Module):
    """Several :class:`TinyTransformer` models of one shape, run as one batch.

    The ``n`` models' parameters are stacked along a new first dim, so one batched
    matrix product (``torch.baddbmm``) does the work of ``n`` and the Python overhead
    of a step is paid once, not ``n`` times. It computes what the models compute:
    ``forward(tokens)[i]`` equals ``models[i](tokens[i])`` up to float rounding (the
    sums run in another order), head masks and weights included, and
    :meth:`member` gives model ``i`` back as an ordinary :class:`TinyTransformer`.
    Training it with Adam is training each model with Adam: Adam acts on every
    number separately, and the summed loss gives each model the gradient of its own.

    Args:
        models: at least one :class:`TinyTransformer`, all with the same
            ``vocab_size``, ``max_len``, ``d_model``, ``num_heads`` and ``num_layers``.
    """

    def __init__(self, models: Sequence[TinyTransformer]) -> None:
        super().__init__()
        models = list(models)
        if not models or not all(isinstance(m, TinyTransformer) for m in models):
            raise TypeError(
                "ToyEnsemble expects a non-empty sequence of TinyTransformer models; "
                f"got {[type(m).__name__ for m in models]}."
            )
        first = models[0]
        config = _config(first)
        for i, m in enumerate(models):
            if _config(m) != config:
                raise ValueError(
                    f"every model of an ensemble must have the same shape "
                    f"(vocab_size, max_len, d_model, num_heads, num_layers); model 0 "
                    f"has {config}, model {i} has {_config(m)}."
                )
        self.vocab_size, self.max_len = first.vocab_size, first.max_len
        self.d_model, self.num_heads = first.d_model, first.num_heads
        self.num_layers, self.head_dim = first.num_layers, first.head_dim

        def stack(get: Callable[[TinyTransformer], Tensor]) -> nn.Parameter:
            return nn.Parameter(torch.stack([get(m).detach() for m in models]).clone())

        def per_layer(get: Callable[[int, TinyTransformer], Tensor]) -> nn.Parameter:
            return stack(
                lambda m: torch.stack([get(i, m) for i in range(m.num_layers)])
            )

        def qkv(i: int, m: TinyTransformer, part: str) -> Tensor:
            a = m.attn[i]
            return torch.cat([getattr(p, part) for p in (a.q_proj, a.k_proj, a.v_proj)])

        self.tok = stack(lambda m: m.tok.weight)  # (n, V, E)
        self.pos = stack(lambda m: m.pos.weight)  # (n, max_len, E)
        self.norm_w = per_layer(lambda i, m: m.norms[i].weight)  # (n, L, E)
        self.norm_b = per_layer(lambda i, m: m.norms[i].bias)  # (n, L, E)
        self.w_qkv = per_layer(lambda i, m: qkv(i, m, "weight"))  # (n, L, 3E, E)
        self.b_qkv = per_layer(lambda i, m: qkv(i, m, "bias"))  # (n, L, 3E)
        self.w_o = per_layer(lambda i, m: m.attn[i].out_proj.weight)  # (n, L, E, E)
        self.b_o = per_layer(lambda i, m: m.attn[i].out_proj.bias)  # (n, L, E)
        self.norm_out_w = stack(lambda m: m.norm_out.weight)  # (n, E)
        self.norm_out_b = stack(lambda m: m.norm_out.bias)  # (n, E)
        self.w_out = stack(lambda m: m.out.weight)  # (n, V, E)
        self.b_out = stack(lambda m: m.out.bias)  # (n, V)

    def __len__(self) -> int:
        return self.tok.shape[0]

    def _check_gates(self, head_mask: Tensor | None, B: int) -> Tensor | None:
        """``(n, L, h)`` or ``(n, L, B, h)`` gates -> ``(n, L, B, h)``, or None."""
        if head_mask is None:
            return None
        n, L, h = len(self), self.num_layers, self.num_heads
        per_sequence = check_tensor("head_mask", head_mask).dim() == 4
        head_mask = _check_head_mask(
            head_mask,
            (n, L, B, h) if per_sequence else (n, L, h),
            "(n, L, B, h)" if per_sequence else "(n, L, h)",
            "one gate per model, layer and head (or per sequence too).",
        )
        return head_mask if per_sequence else head_mask[:, :, None].expand(n, L, B, h)

    def forward(
        self,
        tokens: Tensor,
        head_mask: Tensor | None = None,
        need_weights: bool = False,
        head_baseline: Tensor | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Next-token logits of every model: ``(n, B, T) -> (n, B, T, vocab_size)``.

        Model ``i`` reads ``tokens[i]``. ``head_mask`` holds gates as in
        :meth:`TinyTransformer.forward`, one set per model: ``(n, L, h)`` or
        ``(n, L, B, h)``; ``head_baseline`` ``(n, L, h, T, d_k)`` is what a head
        with gate 0 is replaced by (see :func:`mask_heads`; :meth:`head_means` gives
        the means for mean ablation). With ``need_weights=True`` also returns the
        attention weights, ``(n, L, B, h, T, T)``.

        Raises:
            ValueError: ``tokens`` is not ``(n, B, T)`` with ``n`` models and
                ``1 <= T <= max_len``, or a gate or baseline tensor has the wrong
                shape.
        """
        check_rank("tokens", tokens, 3, "(n, B, T)", hint="one batch per model.")
        n, B, T = tokens.shape
        if n != len(self) or not 0 < T <= self.max_len:
            raise ValueError(
                f"tokens must be (n, B, T) with n = {len(self)} models and "
                f"1 <= T <= {self.max_len}; got {shape_str(tokens.shape)}."
            )
        E, h, d, V = self.d_model, self.num_heads, self.head_dim, self.vocab_size
        L = self.num_layers
        gates = self._check_gates(head_mask, B)  # (n, L, B, h) or None
        if head_baseline is not None:
            want = (n, L, h, T, d)
            if tuple(check_tensor("head_baseline", head_baseline).shape) != want:
                raise ValueError(
                    f"head_baseline must be (n, L, h, T, d_k) = {shape_str(want)}; "
                    f"got {shape_str(head_baseline.shape)}. Hint: head_means(batch)."
                )
            if gates is None:
                raise ValueError(
                    "head_baseline needs a head_mask: it replaces the heads whose "
                    "gate is 0."
                )
        dev = tokens.device
        future = torch.ones(T, T, dtype=torch.bool, device=dev).triu(1)
        causal = torch.zeros(T, T, device=dev).masked_fill(future, -math.inf)
        offset = torch.arange(n, device=dev)[:, None, None] * V  # (n, 1, 1)
        z = F.embedding(tokens + offset, self.tok.reshape(n * V, E))  # (n, B, T, E)
        z = (z + self.pos[:, None, :T]).reshape(n, B * T, E)  # (n, B*T, E)
        maps = []
        for layer in range(L):
            y = _layer_norm(z, self.norm_w[:, layer], self.norm_b[:, layer])
            qkv = torch.baddbmm(
                self.b_qkv[:, layer, None], y, self.w_qkv[:, layer].transpose(1, 2)
            )  # (n, B*T, E) @ (n, E, 3E) -> (n, B*T, 3E)
            q, k, v = (
                t.reshape(n * B, T, h, d).transpose(1, 2).reshape(n * B * h, T, d)
                for t in qkv.chunk(3, dim=-1)
            )  # (n, B*T, E) -> (n*B, T, h, d_k) -> (n*B*h, T, d_k)
            scores = torch.baddbmm(
                causal, q, k.transpose(1, 2), alpha=1.0 / math.sqrt(d)
            )  # (n*B*h, T, T), the future at -inf
            weights = scores.softmax(dim=-1)  # (n*B*h, T, T)
            heads = torch.bmm(weights, v).reshape(n * B, h, T, d)  # (n*B, h, T, d_k)
            if gates is not None:
                base = None
                if head_baseline is not None:  # (n, h, T, d_k) -> (n*B, h, T, d_k)
                    base = head_baseline[:, layer, None].expand(n, B, h, T, d)
                    base = base.reshape(n * B, h, T, d)
                heads = mask_heads(heads, gates[:, layer].reshape(n * B, h), base)
            merged = heads.transpose(1, 2).reshape(n, B * T, E)  # concatenate heads
            z = z + torch.baddbmm(
                self.b_o[:, layer, None], merged, self.w_o[:, layer].transpose(1, 2)
            )  # (n, B*T, E)
            if need_weights:
                maps.append(weights.reshape(n, B, h, T, T))
        y = _layer_norm(z, self.norm_out_w, self.norm_out_b)  # (n, B*T, E)
        logits = torch.baddbmm(self.b_out[:, None], y, self.w_out.transpose(1, 2))
        logits = logits.reshape(n, B, T, V)  # (n, B*T, V) -> (n, B, T, V)
        if need_weights:
            return logits, torch.stack(maps, dim=1)  # (n, L, B, h, T, T)
        return logits

    def _tokens(self, batch: RepeatBatch) -> Tensor:
        device = self.tok.device
        return batch.inputs.to(device).expand(len(self), *batch.inputs.shape)

    @torch.no_grad()
    def accuracy(
        self,
        batch: RepeatBatch,
        head_mask: Tensor | None = None,
        head_baseline: Tensor | None = None,
    ) -> Tensor:
        """Every model's :func:`accuracy` on the same ``batch``: a ``(n,)`` tensor."""
        logits = self(self._tokens(batch), head_mask, False, head_baseline)
        right = logits.argmax(dim=-1) == batch.targets.to(logits.device)  # (n, B, T)
        scored = batch.scored.to(logits.device)  # (B, T)
        return (right & scored).sum(dim=(1, 2)).cpu() / scored.sum().cpu()

    @torch.no_grad()
    def weights(self, batch: RepeatBatch, head_mask: Tensor | None = None) -> Tensor:
        """Every model's attention weights on ``batch``: ``(n, L, B, h, T, T)``."""
        _, maps = self(self._tokens(batch), head_mask, True)
        return maps

    @torch.no_grad()
    def head_means(self, batch: RepeatBatch) -> Tensor:
        """Every model's :func:`head_means` on ``batch``: ``(n, L, h, T, d_k)``."""
        return torch.stack(
            [head_means(self.member(i), batch) for i in range(len(self))]
        )

    @torch.no_grad()
    def member(self, i: int) -> TinyTransformer:
        """Model ``i`` as an ordinary :class:`TinyTransformer` (a copy, eval mode)."""
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self):
            raise ValueError(
                f"member index must be an int in [0, {len(self)}); got {i!r}."
            )
        E = self.d_model
        model = TinyTransformer(
            self.vocab_size, self.max_len, E, self.num_heads, self.num_layers
        ).to(self.tok.device)
        model.tok.weight.copy_(self.tok[i])
        model.pos.weight.copy_(self.pos[i])
        for layer, (norm, attn) in enumerate(zip(model.norms, model.attn, strict=True)):
            norm.weight.copy_(self.norm_w[i, layer])
            norm.bias.copy_(self.norm_b[i, layer])
            for part, proj in enumerate((attn.q_proj, attn.k_proj, attn.v_proj)):
                rows = slice(part * E, (part + 1) * E)  # q, k, v stacked: (3E, E)
                proj.weight.copy_(self.w_qkv[i, layer, rows])
                proj.bias.copy_(self.b_qkv[i, layer, rows])
            attn.out_proj.weight.copy_(self.w_o[i, layer])
            attn.out_proj.bias.copy_(self.b_o[i, layer])
        model.norm_out.weight.copy_(self.norm_out_w[i])
        model.norm_out.bias.copy_(self.norm_out_b[i])
        model.out.weight.copy_(self.w_out[i])
        model.out.bias.copy_(self.b_out[i])
        return model.eval()


def _config(model: TinyTransformer) -> tuple[int, ...]:
    return (
        model.vocab_size,
        model.max_len,
        model.d_model,
        model.num_heads,
        model.num_layers,
    )


def _layer_norm(z: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """LayerNorm with one affine per model: ``z (n, N, E)``, ``weight (n, E)``."""
    return F.layer_norm(z, z.shape[-1:]) * weight[:, None] + bias[:, None]


# Training batches are drawn this many steps at a time, so that drawing them costs
# one call per chunk; a run of any length uses the same first batches.
_CHUNK_STEPS = 50


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}.")
    return seed


def train_toy_seeds(
    num_heads: int = 4,
    seeds: Sequence[int] = range(6),
    *,
    d_model: int = 32,
    num_layers: int = 2,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-2,
    task: RepeatTask | None = None,
    device: torch.device | str = "cpu",
    num_threads: int | None = 1,
    workers: int = 1,
) -> tuple[list[TinyTransformer], list[list[float]]]:
    """Train one :class:`TinyTransformer` per seed, all at once; return them and
    their losses, ``models[i]`` and ``losses[i]`` for ``seeds[i]``.

    Seed ``s`` decides the model's initial weights (``torch.manual_seed(s)`` before
    it is built, without touching the caller's random state) and its stream of
    training batches (a generator seeded with ``s + 1``). Every model then gets Adam
    at a constant ``lr`` on ``steps`` fresh batches of ``task`` (default
    :class:`RepeatTask()`), cross-entropy on the scored positions only. The models
    are trained side by side as a :class:`ToyEnsemble`, which is much faster than
    one after the other and computes the same thing up to float rounding.

    ``workers > 1`` splits the seeds into that many groups, each trained as its own
    ensemble in its own thread: PyTorch's operators release Python's lock while
    they compute, so on a machine with that many free cores the groups run at the
    same time. The run is reproducible bit for bit with the same arguments, device
    and ``num_threads`` (deterministic kernels; the thread count of each operator
    changes the order of floating-point sums; ``None`` keeps the current count).
    The models are returned in eval mode.
    """
    task = RepeatTask() if task is None else task
    if not isinstance(task, RepeatTask):
        raise TypeError(f"task must be a RepeatTask; got {type(task).__name__}.")
    check_positive_int("steps", steps)
    check_positive_int("batch_size", batch_size)
    check_positive_int("workers", workers)
    seeds = [_check_seed(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"seeds must be one or more distinct ints; got {seeds}. Hint: "
            f"seeds=range(6) trains six models."
        )
    if not lr > 0:
        raise ValueError(f"lr must be positive; got lr={lr}.")
    # Contiguous groups, as even as possible: 6 seeds, 2 workers -> 3 and 3
    size, extra = divmod(len(seeds), min(workers, len(seeds)))
    groups, start = [], 0
    for g in range(min(workers, len(seeds))):
        stop = start + size + (g < extra)
        groups.append(seeds[start:stop])
        start = stop
    with _reproducible(num_threads), torch.random.fork_rng(devices=[]):
        jobs = []
        for group in groups:
            models = []
            for seed in group:
                torch.manual_seed(seed)
                models.append(
                    TinyTransformer(
                        task.vocab_size, task.seq_len, d_model, num_heads, num_layers
                    )
                )
            jobs.append((ToyEnsemble(models).to(device), group))

        def train(job: tuple[ToyEnsemble, list[int]]) -> list[list[float]]:
            ensemble, group = job
            return _train_ensemble(ensemble, group, task, steps, batch_size, lr)

        if len(jobs) == 1:
            results = [train(jobs[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                results = list(pool.map(train, jobs))
        trained = [e.member(i) for e, _ in jobs for i in range(len(e))]
    return trained, [curve for result in results for curve in result]


def _train_ensemble(
    ensemble: ToyEnsemble,
    seeds: Sequence[int],
    task: RepeatTask,
    steps: int,
    batch_size: int,
    lr: float,
) -> list[list[float]]:
    """Adam on every model of ``ensemble``; the loss of each model at each step."""
    device = ensemble.tok.device
    losses: list[list[float]] = [[] for _ in seeds]
    streams = [torch.Generator().manual_seed(s + 1) for s in seeds]
    optimizer = torch.optim.Adam(ensemble.parameters(), lr=lr)
    ensemble.train()
    for step in range(steps):
        if step % _CHUNK_STEPS == 0:  # draw the next chunk of batches per seed
            chunk = [
                task.sample(_CHUNK_STEPS * batch_size, generator=g) for g in streams
            ]
            tokens = torch.stack([c.tokens for c in chunk]).to(device)  # (n, ., T)
            scored = torch.stack([c.scored for c in chunk]).to(device)
        at = (step % _CHUNK_STEPS) * batch_size
        batch_tokens = tokens[:, at : at + batch_size]  # (n, B, T)
        batch_scored = scored[:, at : at + batch_size]  # (n, B, T - 1)
        logits = ensemble(batch_tokens[..., :-1])  # (n, B, T - 1, vocab)
        log_p = logits.log_softmax(dim=-1)  # (n, B, T - 1, vocab)
        targets = batch_tokens[..., 1:, None]  # (n, B, T - 1, 1)
        nll = -log_p.gather(-1, targets)[..., 0]  # (n, B, T - 1)
        weight = batch_scored.to(nll.dtype)  # (n, B, T - 1): 1 where scored
        per_model = (nll * weight).sum(dim=(1, 2)) / weight.sum(dim=(1, 2))  # (n,)
        optimizer.zero_grad(set_to_none=True)
        per_model.sum().backward()
        optimizer.step()
        for i, value in enumerate(per_model.tolist()):
            losses[i].append(value)
    ensemble.eval()
    return losses


def train_toy(
    num_heads: int = 4,
    *,
    d_model: int = 32,
    num_layers: int = 2,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    task: RepeatTask | None = None,
    device: torch.device | str = "cpu",
    num_threads: int | None = 1,
) -> tuple[TinyTransformer, list[float]]:
    """Train one :class:`TinyTransformer` on ``task``; return it and its loss per step.

    :func:`train_toy_seeds` with the single seed ``seed``: the same initial weights,
    batches and optimiser, reproducible bit for bit (see there). The model is
    returned in eval mode.
    """
    models, losses = train_toy_seeds(
        num_heads,
        [_check_seed(seed)],
        d_model=d_model,
        num_layers=num_layers,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        task=task,
        device=device,
        num_threads=num_threads,
    )
    return models[0], losses[0]


@torch.no_grad()
def accuracy(
    model: TinyTransformer, batch: RepeatBatch, head_mask: Tensor | None = None
) -> float:
    """Fraction of the scored positions where the top logit is the next token."""
    predictions = model(batch.inputs, head_mask).argmax(dim=-1)  # (B, T - 1)
    right = predictions == batch.targets  # (B, T - 1)
    return right[batch.scored].float().mean().item()


def ablate_each_head(model: TinyTransformer, batch: RepeatBatch) -> Tensor:
    """Accuracy with one head removed at a time: ``(L, h)``, entry ``[l, i]`` with
    head ``i`` of layer ``l`` masked (gate 0.0) and every other head kept."""
    L, h = model.num_layers, model.num_heads
    device = next(model.parameters()).device
    result = torch.empty(L, h)
    for layer in range(L):
        for head in range(h):
            head_mask = torch.ones(L, h, device=device)
            head_mask[layer, head] = 0.0
            result[layer, head] = accuracy(model, batch, head_mask)
    return result


@torch.no_grad()
def pattern_scores(weights: Tensor, batch: RepeatBatch) -> tuple[Tensor, Tensor]:
    """How much each head behaves like a previous-token and an induction head.

    ``weights`` ``(L, B, h, T, T)`` are the model's maps on ``batch.inputs``
    (``need_weights=True``). Returns two ``(L, h)`` tensors:

    - previous-token score: the mean weight a query puts on the position just before
      it, ``w[t, t - 1]``, over positions ``t >= 1``;
    - induction score: the mean weight a scored query ``t`` (inside the copy) puts on
      ``t - n + 1``, the letter that followed its earlier occurrence.
    """
    check_rank("weights", weights, 5, "(L, B, h, T, T)")
    L, B, h, T, S = weights.shape
    if tuple(batch.inputs.shape) != (B, T) or S != T:
        raise ValueError(
            f"weights {shape_str(weights.shape)} do not fit batch.inputs "
            f"{shape_str(batch.inputs.shape)}: expected (L, B, h, T, T) with (B, T) = "
            f"{shape_str(batch.inputs.shape)}."
        )
    previous = weights.diagonal(offset=-1, dim1=-2, dim2=-1)  # (L, B, h, T - 1)
    previous_score = previous.mean(dim=(1, 3))  # (L, h)
    b, t = batch.scored.nonzero(as_tuple=True)  # scored (sequence, position) pairs
    source = t - batch.length[b] + 1  # where the predicted letter first appeared
    by_head = weights.permute(0, 2, 1, 3, 4)  # (L, B, h, T, T) -> (L, h, B, T, T)
    picked = by_head[:, :, b, t, source]  # (L, h, N): one weight per scored query
    return previous_score, picked.mean(dim=-1)  # (L, h), (L, h)
