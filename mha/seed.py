"""Deprecated: the blog's layer moved to :mod:`mha.blog`; this shim goes next release.

``from mha.seed import SeedMultiHeadAttention`` still works and warns, naming the
new name (:class:`mha.blog.BlogMultiHeadAttention`, and so on).
"""

from __future__ import annotations

from . import blog as _blog
from ._deprecation import deprecated_alias

_RENAMED = {
    "SeedMultiHeadAttention": "BlogMultiHeadAttention",
    "seed_to_standard": "blog_to_standard",
    "seed_mask_to_standard": "blog_mask_to_standard",
    "SEED_MASK_FILL": "BLOG_MASK_FILL",
}


def __getattr__(name: str) -> object:
    """Resolve an old name to the one in :mod:`mha.blog`, with a warning."""
    if name in _RENAMED:
        new = _RENAMED[name]
        return deprecated_alias(f"mha.seed.{name}", f"mha.blog.{new}", vars(_blog))
    raise AttributeError(f"module 'mha.seed' has no attribute {name!r}")
