"""Notebooks are committed clean: outputs come from the build and from nbval only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, notebooks

FIX = "run `make strip` (or `.venv/bin/nbstripout {path}`) and commit again"


def dirt(path: Path) -> list[str]:
    """What is saved in the notebook that should not be: empty when it is clean."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {i} has {len(cell['outputs'])} saved output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i} has execution count {cell['execution_count']}")
    if "widgets" in nb.get("metadata", {}):
        found.append("notebook metadata holds saved widget state")
    return found


def test_there_are_notebooks():
    assert notebooks("chapters"), "no chapter notebooks found under chapters/"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_stripped(path: Path):
    problems = dirt(path)
    rel = path.relative_to(ROOT)
    assert not problems, f"{rel}: " + "; ".join(problems) + " — " + FIX.format(path=rel)


def test_dirt_detects_outputs_counts_and_widget_state(tmp_path: Path):
    """The check above must be able to fail."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 3,
                "metadata": {},
                "source": "1",
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "data": {},
                        "metadata": {},
                        "execution_count": 3,
                    }
                ],
            },
        ],
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {}}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "dirty.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    problems = dirt(path)
    assert len(problems) == 3, problems


def test_precommit_strips_notebooks():
    """Authors get nbstripout and ruff as pre-commit hooks, so dirt never lands."""
    config = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    assert "nbstripout" in config and "ruff" in config
