"""Rotary position embeddings (RoPE): positions as rotations of queries and keys.

RoPE (Su et al., RoFormer) adds no vector to the tokens. It rotates each head's query
and key, pair of features by pair of features, by an angle proportional to the token's
position: pair ``i`` of a token at position ``m`` turns by ``m * theta_i`` with

    theta_i = base ** (-2 i / d_k),   i = 0, ..., d_k / 2 - 1.

A rotation by ``m theta`` of the query and by ``n theta`` of the key leaves their dot
product depending on ``m - n`` only, so the scores see relative positions. Values are
not rotated.

Which features form a pair is a convention:

- ``"interleaved"`` (the RoFormer paper's, and this package's default): features
  ``(2i, 2i + 1)``; read as one complex number ``x_{2i} + j x_{2i+1}``, the rotation
  is a multiplication by ``exp(j m theta_i)``.
- ``"half"`` (GPT-NeoX's, used by many libraries): features ``(i, i + d_k / 2)``.

The two are the same rotation after a fixed permutation of the features, so a model
trained with one gives wrong scores when run with the other, silently.

Every function works per head: the input's last dim is ``d_k`` (which must be even),
so a head of width ``d_k`` rotates its own ``d_k / 2`` pairs whatever ``E`` and ``h``
are. Angles are computed in float64 and the rotation in float32 (float64 for float64
inputs), never in the input's half precision: bfloat16 cannot even hold the position
257 exactly, and in float32 the angle of position 1000 is already off by ~3e-5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._validate import check_floating, check_positive_int, check_tensor, shape_str

__all__ = [
    "PAIRINGS",
    "Rotary",
    "apply_rope",
    "rope_angles",
    "rope_frequencies",
]

PAIRINGS = ("interleaved", "half")


def _check_head_dim(head_dim: object, name: str = "head_dim") -> int:
    head_dim = check_positive_int(name, head_dim)
    if head_dim % 2:
        raise ValueError(
            f"RoPE rotates the features in pairs, so {name} (d_k) must be even; got "
            f"{name}={head_dim}. Hint: d_k = E / h; choose E and h so that E / h is "
            f"even (E=64, h=8 gives d_k=8)."
        )
    return head_dim


def _check_base(base: object) -> float:
    if isinstance(base, bool) or not isinstance(base, (int, float)):
        raise TypeError(
            f"base must be a number such as 10000.0; got {type(base).__name__} "
            f"{base!r}."
        )
    if not base > 1:
        raise ValueError(
            f"base must be greater than 1 (the frequencies base**(-2i/d_k) must fall "
            f"with i); got base={base}. RoFormer uses 10000."
        )
    return float(base)


def _check_pairing(pairing: object) -> str:
    if pairing not in PAIRINGS:
        raise ValueError(
            f"pairing must be one of {', '.join(map(repr, PAIRINGS))}; got "
            f"{pairing!r}. 'interleaved' pairs features (2i, 2i+1) as in RoFormer, "
            f"'half' pairs (i, i + d_k/2) as in GPT-NeoX."
        )
    return str(pairing)


def rope_frequencies(
    head_dim: int,
    base: float = 10000.0,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The ``d_k / 2`` angular frequencies ``theta_i = base ** (-2 i / d_k)``.

    Shape ``(d_k / 2,)``, falling from ``theta_0 = 1`` (a turn every 2 pi positions)
    to ``base ** (-(d_k - 2) / d_k)``. They depend on ``d_k``, not on ``E``.

    Raises:
        ValueError: ``head_dim`` is odd or not positive, or ``base <= 1``.
    """
    head_dim = _check_head_dim(head_dim)
    base = _check_base(base)
    i = torch.arange(head_dim // 2, device=device, dtype=torch.float64)
    return (base ** (-2.0 * i / head_dim)).to(dtype)  # (d_k / 2,)


def _positions(positions: int | Tensor, T: int, device: torch.device) -> Tensor:
    """Positions as an integer tensor ``(T,)`` or ``(B, T)``."""
    if isinstance(positions, bool):
        raise TypeError("positions must be an int or an integer tensor, not a bool.")
    if isinstance(positions, int):
        if positions < 0:
            raise ValueError(
                f"positions (the first token's position) must be >= 0; got {positions}."
            )
        return torch.arange(positions, positions + T, device=device)  # (T,)
    check_tensor("positions", positions)
    if positions.is_floating_point() or positions.dtype == torch.bool:
        raise TypeError(
            f"positions must be an integer tensor (token indices); got dtype "
            f"{positions.dtype}. Hint: torch.arange(T), or an int for the first "
            f"position."
        )
    if positions.dim() not in (1, 2) or positions.shape[-1] != T:
        raise ValueError(
            f"positions must have shape (T,) or (B, T) with T = {T} (the length of "
            f"x's dim -2); got {shape_str(positions.shape)}."
        )
    return positions.to(device)


def rope_angles(
    positions: Tensor,
    head_dim: int,
    base: float = 10000.0,
    *,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The rotation angles ``m * theta_i``: ``positions (...) -> (..., d_k / 2)``.

    ``positions`` is an integer tensor of token positions of any shape, e.g. ``(T,)``
    or ``(B, T)``; angles are computed in ``dtype`` (float32 by default).
    """
    check_tensor("positions", positions)
    if positions.is_floating_point() or positions.dtype == torch.bool:
        raise TypeError(
            f"positions must be an integer tensor (token indices); got dtype "
            f"{positions.dtype}. Hint: torch.arange(T)."
        )
    theta = rope_frequencies(head_dim, base, device=positions.device, dtype=dtype)
    return positions.to(dtype)[..., None] * theta  # (..., 1) * (d_k/2,) -> (..., d_k/2)


def apply_rope(
    x: Tensor,
    positions: int | Tensor = 0,
    *,
    base: float = 10000.0,
    pairing: str = "interleaved",
) -> Tensor:
    """Rotate queries or keys by their positions: ``(..., T, d_k) -> (..., T, d_k)``.

    ``x`` is usually ``(B, h, T, d_k)``: every head is rotated alike, with its own
    ``d_k / 2`` pairs. ``positions`` is the position of the first token (an int: the
    tokens sit at ``positions, ..., positions + T - 1``, e.g. the number of tokens
    already in a KV cache), or an integer tensor ``(T,)``, or ``(B, T)`` for a
    different position per sequence (it is broadcast over the heads). ``pairing``
    chooses which features rotate together (see the module docstring). The result
    has ``x``'s dtype; the angles are computed in float64 and the rotation in
    float32 (float64 for float64).

    Raises:
        ValueError: ``d_k`` (``x.shape[-1]``) is odd, ``x`` has fewer than 2 dims,
            the positions do not fit ``T``, ``pairing`` is unknown or ``base <= 1``.
        TypeError: ``x`` is not floating, or positions are not integers.
    """
    check_floating("x", x)
    if x.dim() < 2:
        raise ValueError(
            f"x must be (..., T, d_k), e.g. (B, h, T, d_k); got a {x.dim()}-D tensor "
            f"of shape {shape_str(x.shape)}."
        )
    T, d_k = x.shape[-2], x.shape[-1]
    _check_head_dim(d_k, "x.shape[-1]")
    pairing = _check_pairing(pairing)
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    pos = _positions(positions, T, x.device)  # (T,) or (B, T)
    if pos.dim() == 2 and x.dim() == 4:
        pos = pos[:, None, :]  # (B, T) -> (B, 1, T): the same for every head
    # float64 angles: in float32, position 1000's angle is already off by ~3e-5.
    angles = rope_angles(pos, d_k, base, dtype=torch.float64)  # (..., T, d_k / 2)
    cos, sin = angles.cos().to(compute), angles.sin().to(compute)
    xc = x.to(compute)
    if pairing == "interleaved":
        pairs = xc.unflatten(-1, (d_k // 2, 2))  # (..., T, d_k) -> (..., T, d_k/2, 2)
        x0, x1 = pairs[..., 0], pairs[..., 1]  # (..., T, d_k / 2) each
        out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
        out = out.flatten(-2)  # (..., T, d_k / 2, 2) -> (..., T, d_k)
    else:
        x0, x1 = xc[..., : d_k // 2], xc[..., d_k // 2 :]  # (..., T, d_k / 2) each
        out = torch.cat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.to(x.dtype)


@dataclass(frozen=True)
class Rotary:
    """RoPE settings to hand to :func:`mha.kv_cache.cached_attention`.

    ``Rotary()(x, positions)`` is ``apply_rope(x, positions, base=..., pairing=...)``.
    """

    base: float = 10000.0
    pairing: str = "interleaved"

    def __post_init__(self) -> None:
        _check_base(self.base)
        _check_pairing(self.pairing)

    def __call__(self, x: Tensor, positions: int | Tensor = 0) -> Tensor:
        return apply_rope(x, positions, base=self.base, pairing=self.pairing)
