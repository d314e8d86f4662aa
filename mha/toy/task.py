"""The synthetic task of "What heads learn": a segment of letters, then its copy.

:class:`RepeatTask` draws batches (:class:`RepeatBatch`); :func:`encode` and
:func:`decode` turn letters into token ids and back.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from .._validate import (
    check_positive_int,
)

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
