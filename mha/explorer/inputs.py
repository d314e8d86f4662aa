"""The explorer's input: a sentence turned into token vectors, with no download.

A token is a lower-case word between spaces. Its vector is seeded by the CRC-32 of
the word (the same on every machine and in every run), and the sinusoidal position
encoding of the original transformer is added, so two copies of a word differ by
their positions alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .._validate import check_int, check_positive_int

__all__ = [
    "D_MODEL",
    "MASKS",
    "MAX_TOKENS",
    "PAD",
    "PADDED_LENGTH",
    "SENTENCES",
    "embed_sentence",
    "embed_tokens",
    "positional_encoding",
    "prepare_tokens",
    "token_vector",
    "tokenize",
]

D_MODEL = 64
SENTENCES: tuple[str, ...] = (
    "the cat sat on the mat because it was tired",
    "the animal did not cross the street because it was too tired",
    "she said that he would read the book to her",
    "a dog chased the ball and the dog caught it",
    "time flies like an arrow and fruit flies like a banana",
)
PAD = "<pad>"
MAX_TOKENS = 12  # the sequence-length slider's maximum
PADDED_LENGTH = 14  # "padding" pads every sentence to this length
MASKS: tuple[str, ...] = ("none", "causal", "padding")


def tokenize(sentence: str) -> list[str]:
    """Split a sentence into lower-case whitespace tokens: ``"The cat" -> [the, cat]``.

    Raises:
        TypeError: ``sentence`` is not a string.
        ValueError: it holds no token.
    """
    if not isinstance(sentence, str):
        raise TypeError(
            f"tokenize expects a sentence as a str, got {type(sentence).__name__}. "
            f"Hint: join a list of tokens with ' '.join(tokens), or call "
            f"embed_tokens(tokens) directly."
        )
    tokens = sentence.lower().split()
    if not tokens:
        raise ValueError(
            f"the sentence {sentence!r} holds no token. Hint: pass at least one "
            f"word, e.g. one of mha.explorer.SENTENCES."
        )
    return tokens


def _check_d_model(d_model: object) -> int:
    check_int("d_model", d_model, minimum=2, hint=f"the explorer uses {D_MODEL}.")
    if d_model % 2:
        raise ValueError(
            f"d_model must be an even int >= 2 (sinusoidal positions use sin/cos "
            f"pairs), got d_model={d_model}. Hint: the explorer uses {D_MODEL}."
        )
    return d_model


def token_vector(token: str, d_model: int = D_MODEL) -> Tensor:
    """The token's own random vector ``(E,)``, seeded by the CRC-32 of its UTF-8 bytes.

    ``zlib.crc32`` is the same on every machine and every run, unlike Python's
    ``hash()``, which is salted per process for strings.
    """
    _check_d_model(d_model)
    seed = zlib.crc32(token.encode("utf-8"))
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(d_model, generator=generator)  # (E,)


def positional_encoding(length: int, d_model: int = D_MODEL) -> Tensor:
    """Sinusoidal positions ``(T, E)`` of the original transformer.

    ``PE[t, 2i] = sin(t / 10000^(2i/E))`` and ``PE[t, 2i+1] = cos(...)``.
    """
    _check_d_model(d_model)
    check_positive_int("length", length)
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    even = torch.arange(0, d_model, 2, dtype=torch.float32)  # (E/2,)
    angle = position / 10000.0 ** (even / d_model)  # (T, 1) / (E/2,) -> (T, E/2)
    encoding = torch.empty(length, d_model)
    encoding[:, 0::2] = angle.sin()
    encoding[:, 1::2] = angle.cos()
    return encoding  # (T, E)


def embed_tokens(tokens: Sequence[str], d_model: int = D_MODEL) -> Tensor:
    """Token vectors plus positions: ``T`` tokens -> ``(1, T, E)``, deterministic."""
    if isinstance(tokens, str):
        raise TypeError(
            f"embed_tokens expects a list of tokens, got the str {tokens!r}. "
            f"Hint: use embed_sentence(sentence) or tokenize(sentence) first."
        )
    tokens = list(tokens)
    if not tokens:
        raise ValueError("embed_tokens got no tokens. Hint: pass at least one.")
    vectors = torch.stack([token_vector(t, d_model) for t in tokens])  # (T, E)
    return (vectors + positional_encoding(len(tokens), d_model))[None]  # (1, T, E)


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}."
        )


def prepare_tokens(
    sentence: str, seq_len: int | None = None, mask: str = "none"
) -> tuple[list[str], int]:
    """Tokenize, keep the first ``seq_len`` tokens, pad when ``mask == "padding"``.

    Returns ``(tokens, n_real)``: with ``"padding"`` the tokens are padded with
    :data:`PAD` to :data:`PADDED_LENGTH` (or one more than ``n_real`` if that is
    longer), and ``n_real`` counts the real ones.
    """
    _check_choice("mask", mask, MASKS)
    tokens = tokenize(sentence)
    if seq_len is not None:
        check_positive_int(
            "seq_len",
            seq_len,
            hint=f"the tokens to keep; the sentence has {len(tokens)}, and None "
            f"keeps them all.",
        )
        tokens = tokens[:seq_len]
    n_real = len(tokens)
    if mask == "padding":
        tokens = tokens + [PAD] * (max(PADDED_LENGTH, n_real + 1) - n_real)
    return tokens, n_real


def embed_sentence(
    sentence: str,
    seq_len: int | None = None,
    *,
    mask: str = "none",
    d_model: int = D_MODEL,
) -> tuple[list[str], Tensor]:
    """Tokens and their vectors: a sentence -> ``(tokens, x (1, T, E))``.

    ``seq_len`` keeps the first tokens; ``mask="padding"`` appends ``<pad>`` tokens
    (see :func:`prepare_tokens`). The same inputs give the same vectors everywhere.
    """
    tokens, _ = prepare_tokens(sentence, seq_len, mask)
    return tokens, embed_tokens(tokens, d_model)
