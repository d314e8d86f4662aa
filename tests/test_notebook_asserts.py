"""Every chapter and solution notebook proves something: nbval then checks numbers,
not only that cells run."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from conftest import ROOT, notebooks
from IPython.core.inputtransformer2 import TransformerManager

ASSERT_CALLS = {"assert_close", "assert_equal", "assert_allclose"}


def code_of(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def assertion_cells(sources: list[str]) -> int:
    """How many cells contain an `assert` statement or an assert_close-style call."""
    count = 0
    for src in sources:
        # IPython turns magics such as %pip into Python calls; parse what it runs.
        tree = ast.parse(TransformerManager().transform_cell(src))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert):
                count += 1
                break
            if isinstance(node, ast.Call):
                fn = node.func
                name = (
                    fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                )
                if name in ASSERT_CALLS:
                    count += 1
                    break
    return count


@pytest.mark.parametrize(
    "path", notebooks("chapters", "solutions"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_notebook_has_assertion_cells(path: Path):
    n = assertion_cells(code_of(path))
    assert n >= 1, (
        f"{path.relative_to(ROOT)} has no assertion cell: add an `assert` or "
        "`torch.testing.assert_close` that checks the chapter's numbers"
    )


def test_counter_finds_asserts_and_ignores_prints():
    assert assertion_cells(["x = 1\nprint(x)"]) == 0
    assert (
        assertion_cells(["assert 1 + 1 == 2", "torch.testing.assert_close(a, b)"]) == 2
    )
    assert assertion_cells(["%matplotlib inline\nassert True"]) == 1
    assert assertion_cells(["if True:\n    %pip install x"]) == 0
