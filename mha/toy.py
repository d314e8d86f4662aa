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

:func:`train_toy` trains one model deterministically (fixed seeds, one CPU thread,
``torch.use_deterministic_algorithms``), in a few seconds on a laptop CPU;
:func:`accuracy`, :func:`ablate_each_head` and :func:`pattern_scores` measure it.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
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
    "ablate_each_head",
    "accuracy",
    "decode",
    "encode",
    "mask_heads",
    "masked_self_attention",
    "pattern_scores",
    "train_toy",
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


def mask_heads(heads: Tensor, head_mask: Tensor) -> Tensor:
    """Multiply each head's output by its gate: ``(B, h, T, d_k) -> (B, h, T, d_k)``.

    ``head_mask`` is ``(h,)``, one gate per head for the whole batch, or ``(B, h)``,
    one per sequence and head. Gate 1.0 keeps a head, 0.0 removes it; values in
    between scale it. The gates line up with the head axis, dim 1, whatever ``T``
    and ``d_k`` are.

    Raises:
        ValueError: ``heads`` is not 4-D, or ``head_mask`` is neither ``(h,)`` nor
            ``(B, h)``.
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
    return heads * gates.to(heads.dtype)


def masked_self_attention(
    layer: MultiHeadAttention,
    x: Tensor,
    head_mask: Tensor | None = None,
    *,
    is_causal: bool = True,
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

    Raises:
        TypeError: ``layer`` is not an :class:`mha.MultiHeadAttention`.
        ValueError: ``layer`` is not ``batch_first``, or ``x`` is not ``(B, T, E)``.
    """
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
    if head_mask is not None:
        heads = mask_heads(heads, head_mask)  # (B, h, T, d_k)
    return layer.out_proj(merge_heads(heads)), weights  # (B, T, E), (B, h, T, T)


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
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Next-token logits ``(B, T, vocab_size)`` for ``tokens (B, T)``.

        ``head_mask`` gates every head (see :func:`mask_heads`): ``(L, h)``, one
        gate per layer and head, or ``(L, B, h)``, one per sequence too (its
        gradient then gives each sequence's own ``dloss/dgate``). With
        ``need_weights=True`` also returns the attention weights of every layer and
        head, ``(L, B, h, T, T)``. Without a mask and weights the layers run their
        fused path (``need_weights=False``); otherwise :func:`masked_self_attention`.

        Raises:
            ValueError: ``tokens`` is not ``(B, T)`` with ``T <= max_len``, holds ids
                outside the vocabulary, or ``head_mask`` is not ``(L, h)`` or
                ``(L, B, h)``.
            TypeError: ``tokens`` are not integers or ``head_mask`` is not float.
        """
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
        positions = torch.arange(T, device=tokens.device)  # (T,)
        z = self.tok(tokens) + self.pos(positions)  # (B, T, E)
        fast = head_mask is None and not need_weights
        maps = []
        for layer, (norm, attn) in enumerate(zip(self.norms, self.attn, strict=True)):
            y = norm(z)  # (B, T, E)
            if fast:
                out, _ = attn(y, y, y, is_causal=True, need_weights=False)
            else:
                # (h,) or (B, h): this layer's gates
                gates = None if head_mask is None else head_mask[layer]
                out, weights = masked_self_attention(attn, y, gates)
                maps.append(weights)  # (B, h, T, T)
            z = z + out  # (B, T, E)
        logits = self.out(self.norm_out(z))  # (B, T, vocab_size)
        if need_weights:
            return logits, torch.stack(maps)  # (L, B, h, T, T)
        return logits


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


def _loss(model: TinyTransformer, batch: RepeatBatch) -> Tensor:
    logits = model(batch.inputs)  # (B, T - 1, vocab)
    return F.cross_entropy(logits[batch.scored], batch.targets[batch.scored])


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
    """Train a :class:`TinyTransformer` on ``task``; return it and its loss per step.

    Adam at a constant ``lr`` on fresh batches of ``task`` (default
    :class:`RepeatTask()`), cross-entropy on the scored positions only. The run is
    reproducible bit for bit: the weights are initialised from ``seed`` (without
    touching the caller's random state), the batches come from their own generator,
    and training uses deterministic kernels and ``num_threads`` CPU threads (the
    thread count changes the order of floating-point sums; ``None`` keeps the
    current count). The model is returned in eval mode.
    """
    task = RepeatTask() if task is None else task
    if not isinstance(task, RepeatTask):
        raise TypeError(f"task must be a RepeatTask; got {type(task).__name__}.")
    check_positive_int("steps", steps)
    check_positive_int("batch_size", batch_size)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be positive; got lr={lr}.")
    losses: list[float] = []
    with _reproducible(num_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyTransformer(
            task.vocab_size, task.seq_len, d_model, num_heads, num_layers
        ).to(device)
        data = torch.Generator().manual_seed(seed + 1)  # a stream of its own
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(steps):
            loss = _loss(model, task.sample(batch_size, generator=data, device=device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return model.eval(), losses


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
