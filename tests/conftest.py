"""Shared paths for the repository-level tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIRS = ("chapters", "exercises", "solutions")


def notebooks(*dirs: str) -> list[Path]:
    """Every committed notebook in the given folders (all three by default)."""
    found: list[Path] = []
    for folder in dirs or NOTEBOOK_DIRS:
        found += sorted(
            p
            for p in (ROOT / folder).glob("*.ipynb")
            if ".ipynb_checkpoints" not in p.parts
        )
    return found
