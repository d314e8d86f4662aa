"""Every notebook opens in Colab with a badge and a setup cell that installs exactly
this book's package there, and nothing anywhere else."""

from __future__ import annotations

import shlex
import sys
import types

import nbformat
import pytest
from conftest import ROOT, notebooks
from IPython.core.inputtransformer2 import TransformerManager

sys.path.insert(0, str(ROOT / "scripts"))
import colab  # noqa: E402

COLAB_SHIPS = ("torch", "matplotlib", "ipywidgets", "numpy")


def test_badges_and_setup_cells_are_current():
    assert colab.main(["--check"]) == 0, "run `.venv/bin/python scripts/colab.py`"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_starts_with_its_badge_and_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    badge, setup = nb.cells[0], nb.cells[1]
    relpath = path.relative_to(ROOT).as_posix()
    assert colab.BADGE_TAG in badge.metadata.get("tags", [])
    assert f"({colab.colab_url(relpath)})" in badge.source, "badge links elsewhere"
    assert colab.SETUP_TAG in setup.metadata.get("tags", [])
    assert setup.source == colab.setup_cell().source, "setup cell is stale"
    # Both stay out of the HTML book, which has launch buttons of its own.
    assert "remove-cell" in badge.metadata["tags"] + setup.metadata["tags"]


def run_setup_cell(in_colab: bool, monkeypatch) -> list[tuple[str, str]]:
    """Execute the setup cell as IPython would; return the magics it ran."""
    calls: list[tuple[str, str]] = []
    shell = types.SimpleNamespace(
        run_line_magic=lambda name, line: calls.append((name, line))
    )
    if in_colab:
        monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
        colab_module = types.ModuleType("google.colab")
        monkeypatch.setitem(sys.modules, "google.colab", colab_module)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    code = TransformerManager().transform_cell(colab.setup_cell().source)
    exec(code, {"get_ipython": lambda: shell})
    return calls


def test_in_colab_it_installs_exactly_the_course_package(monkeypatch):
    calls = run_setup_cell(True, monkeypatch)
    assert len(calls) == 1 and calls[0][0] == "pip"
    args = shlex.split(calls[0][1])
    assert args[0] == "install" and "--no-deps" in args
    requirements = [a for a in args[1:] if not a.startswith("-")]
    assert requirements == [colab.install_spec()]
    url, branch = colab.repository()
    assert requirements[0] == f"mha-course @ git+{url}@{branch}"
    assert not any(name in requirements[0] for name in COLAB_SHIPS)


def test_outside_colab_it_does_nothing(monkeypatch):
    assert run_setup_cell(False, monkeypatch) == []


def test_the_package_name_is_the_one_pyproject_builds():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == colab.PACKAGE
