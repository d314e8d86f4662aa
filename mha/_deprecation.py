"""Old names kept for one release: each use warns and names the new one."""

from __future__ import annotations

import warnings
from typing import Any


def deprecated_alias(old: str, new: str, namespace: dict[str, Any]) -> Any:
    """Warn that ``old`` is deprecated and return the object ``new`` names.

    ``new`` is a dotted name whose last part is looked up in ``namespace`` (the
    module's globals). ``stacklevel=3`` points the warning at the caller's line.
    """
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; use {new}.",
        DeprecationWarning,
        stacklevel=3,
    )
    return namespace[new.rsplit(".", 1)[-1]]
