"""Checks shared by the package: they turn user mistakes into clear errors.

Every check raises ``ValueError`` (wrong value or shape) or ``TypeError`` (wrong type
or dtype) with what was expected, what was received and, where one helps, a hint.
They never use ``assert``, which ``python -O`` removes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

BOOL_MASK_CONVENTION = (
    "mha follows nn.MultiheadAttention: a boolean mask is True where attending is "
    "NOT allowed (F.scaled_dot_product_attention uses the opposite)"
)


def shape_str(shape: Sequence[int]) -> str:
    """Format a shape as ``(2, 5, 8)`` rather than ``torch.Size([2, 5, 8])``."""
    return str(tuple(int(n) for n in shape))


def divisors(n: int) -> list[int]:
    """All positive divisors of ``n``, increasing: ``12 -> [1, 2, 3, 4, 6, 12]``."""
    return [d for d in range(1, n + 1) if n % d == 0]


def check_int(name: str, value: object, minimum: int | None = 1, hint: str = "") -> int:
    """Return ``value`` if it is an int ``>= minimum`` (any int if ``minimum`` is
    None).

    Raises ``TypeError`` for a non-int (a bool is not an int here) and ``ValueError``
    for one below ``minimum``; ``hint`` is added to either message.
    """
    extra = f" Hint: {hint}" if hint else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int; got {type(value).__name__} {value!r}.{extra}"
        )
    if minimum is not None and value < minimum:
        wanted = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {wanted}; got {name}={value}.{extra}")
    return value


def check_positive_int(name: str, value: object, hint: str = "") -> int:
    """Return ``value`` if it is an int > 0, else raise ``TypeError``/``ValueError``."""
    return check_int(name, value, 1, hint)


def check_divides(
    whole_name: str, whole: int, part_name: str, part: int, why: str
) -> int:
    """Return ``whole // part`` if ``part`` divides ``whole`` (both positive ints).

    Otherwise raise ``ValueError`` naming both numbers, saying ``why`` and listing
    the valid values of ``part`` (the divisors of ``whole``).
    """
    check_positive_int(whole_name, whole)
    check_positive_int(part_name, part)
    if whole % part != 0:
        valid = ", ".join(str(d) for d in divisors(whole))
        raise ValueError(
            f"{whole_name}={whole} is not divisible by {part_name}={part}: {why}. "
            f"Valid {part_name} for {whole_name}={whole}: {valid}."
        )
    return whole // part


def check_heads_divide(
    embed_dim: int, num_heads: int, embed_name: str = "embed_dim"
) -> int:
    """Return ``head_dim = embed_dim // num_heads``; raise listing valid head counts."""
    why = (
        f"every head gets {embed_name} / num_heads features, so num_heads must "
        f"divide {embed_name}"
    )
    return check_divides(embed_name, embed_dim, "num_heads", num_heads, why)


def check_kv_heads(num_heads: int, num_kv_heads: int) -> None:
    """Raise unless ``num_kv_heads`` is a positive divisor of ``num_heads``."""
    why = "each key/value head serves num_heads / num_kv_heads query heads"
    check_divides("num_heads", num_heads, "num_kv_heads", num_kv_heads, why)


def check_dropout(dropout: object, name: str = "dropout") -> float:
    """Return ``dropout`` as a float if it is a probability in [0, 1)."""
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise TypeError(
            f"{name} must be a float in [0, 1); got {type(dropout).__name__}."
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{name} must be in [0, 1); got {name}={dropout}.")
    return float(dropout)


def check_tensor(name: str, x: object) -> Tensor:
    """Return ``x`` if it is a tensor, else raise ``TypeError``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}.")
    return x


def check_floating(name: str, x: Tensor) -> Tensor:
    """Return ``x`` if it has a floating dtype; attention needs real-valued inputs."""
    check_tensor(name, x)
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating dtype (float16, bfloat16, float32, float64); "
            f"got {x.dtype}. Hint: token ids must go through an nn.Embedding first, or "
            f"call .float()."
        )
    return x


def check_rank(name: str, x: Tensor, rank: int, layout: str, hint: str = "") -> Tensor:
    """Return ``x`` if ``x.dim() == rank``; ``layout`` names the dims: ``(B, T, E)``."""
    check_tensor(name, x)
    if x.dim() != rank:
        raise ValueError(
            f"{name} must be {rank}-D {layout}; got a {x.dim()}-D tensor of shape "
            f"{shape_str(x.shape)}.{' Hint: ' + hint if hint else ''}"
        )
    return x


def check_same_dtype_device(
    reference_name: str, reference: Tensor, **others: Tensor
) -> None:
    """Raise if any tensor in ``others`` differs from ``reference`` in dtype or device.

    ``TypeError`` for a dtype, ``ValueError`` for a device.
    """
    for name, x in others.items():
        if x.dtype != reference.dtype:
            raise TypeError(
                f"dtype mismatch: {name} has {x.dtype}, {reference_name} "
                f"{reference.dtype}; they must match. Hint: convert with "
                f".to({reference.dtype}) (or convert the layer with .to(dtype))."
            )
        if x.device != reference.device:
            raise ValueError(
                f"device mismatch: {name} is on {x.device}, {reference_name} on "
                f"{reference.device}; they must be on the same device. Hint: move "
                f"both with .to(device)."
            )


def check_mask_dtype(name: str, mask: Tensor) -> Tensor:
    """Return ``mask`` if it is boolean or floating (additive); else ``TypeError``."""
    check_tensor(name, mask)
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(
            f"{name} must be a bool tensor (True = NOT allowed to attend) or a float "
            f"tensor (added to the scores); got dtype {mask.dtype}. Hint: "
            f"{BOOL_MASK_CONVENTION}; if your mask has 1 = keep and 0 = masked (the "
            f"blog's and F.scaled_dot_product_attention's convention), pass mask == 0."
        )
    return mask


def check_shape(
    name: str, x: Tensor, expected: Sequence[int], layout: str, hint: str = ""
) -> None:
    """Raise ``ValueError`` unless ``x.shape == expected``; ``layout`` names dims."""
    if tuple(x.shape) != tuple(expected):
        raise ValueError(
            f"{name} must have shape {layout} = {shape_str(expected)}; got "
            f"{shape_str(x.shape)}.{' Hint: ' + hint if hint else ''}"
        )


def check_broadcastable(
    name: str, mask: Tensor, target: Sequence[int], layout: str
) -> None:
    """Raise ``ValueError`` unless ``mask`` broadcasts to ``target`` (not beyond)."""
    try:
        ok = tuple(torch.broadcast_shapes(tuple(mask.shape), tuple(target))) == tuple(
            target
        )
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} of shape {shape_str(mask.shape)} does not broadcast to the "
            f"scores' shape {layout} = {shape_str(target)}. Hint: a (T, S) mask "
            f"applies to every batch and head; a (B, S) padding mask needs reshaping "
            f"to (B, 1, 1, S)."
        )


_LAYOUTS = {
    0: ("(B, T, E)", "(B, S, kdim)", "(B, S, vdim)"),
    1: ("(T, B, E)", "(S, B, kdim)", "(S, B, vdim)"),
    None: ("(T, E)", "(S, kdim)", "(S, vdim)"),
}
_LAYOUT_HINTS = {
    0: "batch_first=True expects (B, T, E); for (T, B, E) tensors use "
    "batch_first=False, and for one unbatched sequence pass 2-D (T, E) tensors.",
    1: "batch_first=False expects (T, B, E); for (B, T, E) tensors use "
    "batch_first=True, and for one unbatched sequence pass 2-D (T, E) tensors.",
    None: "query is 2-D, one unbatched (T, E) sequence, so key and value must be 2-D "
    "too.",
}


def check_qkv(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    *,
    embed_dim: int,
    kdim: int,
    vdim: int,
    batch_dim: int | None,
) -> None:
    """Check that query, key and value fit together and fit the projections.

    ``batch_dim`` gives the layout: ``0`` for ``(B, T, E)``, ``1`` for ``(T, B, E)``,
    ``None`` for unbatched ``(T, E)``. Checks ranks, floating dtypes, the feature
    sizes (``E``, ``kdim``, ``vdim``), equal batch sizes and equal key/value lengths.
    """
    layouts, hint = _LAYOUTS[batch_dim], _LAYOUT_HINTS[batch_dim]
    rank = 2 if batch_dim is None else 3
    tensors = {"query": query, "key": key, "value": value}
    for (name, x), layout in zip(tensors.items(), layouts, strict=True):
        check_rank(name, check_floating(name, x), rank, layout, hint)
    sizes = {"query": ("embed_dim E", embed_dim), "key": ("kdim", kdim)}
    sizes["value"] = ("vdim", vdim)
    for name, (size_name, size) in sizes.items():
        x = tensors[name]
        if x.shape[-1] != size:
            extra = (
                f" Hint: build the layer with {size_name}={x.shape[-1]} for such "
                f"{name}s."
                if name != "query"
                else f" Hint: {hint}"
            )
            raise ValueError(
                f"{name}'s last dim must be {size_name} = {size}; got {name} of shape "
                f"{shape_str(x.shape)}.{extra}"
            )
    if batch_dim is not None:
        batches = [x.shape[batch_dim] for x in tensors.values()]
        if len(set(batches)) > 1:
            raise ValueError(
                f"query, key and value must have the same batch size B (dim "
                f"{batch_dim}); got {batches[0]}, {batches[1]} and {batches[2]} "
                f"(shapes {shape_str(query.shape)}, {shape_str(key.shape)}, "
                f"{shape_str(value.shape)}). Hint: {hint}"
            )
    seq_dim = 1 if batch_dim == 0 else 0
    if key.shape[seq_dim] != value.shape[seq_dim]:
        raise ValueError(
            f"key and value must have the same length S (dim {seq_dim}); got key "
            f"{shape_str(key.shape)} and value {shape_str(value.shape)}. Hint: each "
            f"key has exactly one value."
        )
