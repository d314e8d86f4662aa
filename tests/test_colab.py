"""Every notebook opens in Colab with a badge and a setup cell that installs exactly
this book's package there, and nothing anywhere else; a published copy names its own
repository everywhere, and a clone that still names the placeholder says so."""

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
FORK = colab.from_slug("alice/mha-book-fork")


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


def run_setup_cell(source: str, in_colab: bool, monkeypatch) -> list[tuple]:
    """Execute a setup cell as IPython would; return the magics it ran and what it
    printed."""
    calls: list[tuple] = []
    shell = types.SimpleNamespace(
        run_line_magic=lambda name, line: calls.append((name, line))
    )
    if in_colab:
        monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
        colab_module = types.ModuleType("google.colab")
        monkeypatch.setitem(sys.modules, "google.colab", colab_module)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    code = TransformerManager().transform_cell(source)
    printed = lambda *args: calls.append(("print", " ".join(map(str, args))))  # noqa: E731
    exec(code, {"get_ipython": lambda: shell, "print": printed})
    return calls


def test_a_published_copy_installs_exactly_the_course_package(monkeypatch):
    calls = run_setup_cell(colab.setup_cell(FORK).source, True, monkeypatch)
    assert len(calls) == 1 and calls[0][0] == "pip"
    args = shlex.split(calls[0][1])
    assert args[0] == "install" and "--no-deps" in args
    requirements = [a for a in args[1:] if not a.startswith("-")]
    assert requirements == [
        "mha-course @ git+https://github.com/alice/mha-book-fork@colab"
    ]
    assert not any(name in requirements[0] for name in COLAB_SHIPS)


def test_a_placeholder_clone_prints_one_sentence_instead_of_failing(monkeypatch):
    assert colab.configured().is_placeholder  # what the committed notebooks name
    calls = run_setup_cell(colab.setup_cell().source, True, monkeypatch)
    assert [name for name, _ in calls] == ["print"]  # no pip, no traceback
    message = calls[0][1]
    assert message.count(". ") == 0 and message.endswith(").")  # one sentence
    for words in ("placeholder", "repository.url", "_config.yml", "Pages workflow"):
        assert words in message


@pytest.mark.parametrize(
    "repo", [colab.configured(), FORK], ids=["placeholder", "fork"]
)
def test_outside_colab_the_setup_cell_does_nothing(repo, monkeypatch):
    assert run_setup_cell(colab.setup_cell(repo).source, False, monkeypatch) == []


def test_links_name_the_repository_and_branch():
    assert colab.colab_url("chapters/01_soft_lookup.ipynb", FORK) == (
        "https://colab.research.google.com/github/alice/mha-book-fork/blob/colab/"
        "chapters/01_soft_lookup.ipynb"
    )
    assert "alice/mha-book-fork" in colab.badge_cell("x.ipynb", FORK).source


@pytest.mark.parametrize("slug", ["", "alice", "alice/", "/book", "a b/c", "a/b/c"])
def test_a_malformed_repository_is_refused_clearly(slug):
    with pytest.raises(SystemExit, match="owner/name"):
        colab.from_slug(slug)


def test_rewriting_a_copy_for_a_fork_touches_every_notebook(tmp_path):
    for folder in colab.ALL_FOLDERS:
        (tmp_path / folder).mkdir()
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
        nbformat.write(nb, tmp_path / folder / "x.ipynb")
    changed = colab.update(tmp_path, colab.ALL_FOLDERS, FORK)
    assert changed == [f"{f}/x.ipynb" for f in colab.ALL_FOLDERS]
    for folder in colab.ALL_FOLDERS:
        nb = nbformat.read(tmp_path / folder / "x.ipynb", as_version=4)
        assert FORK.url in nb.cells[1].source and "OWNER" not in nbformat.writes(nb)
        assert nb.cells[2].source == "1 + 1"
    assert colab.update(tmp_path, colab.ALL_FOLDERS, FORK, check=True) == []


def test_the_package_name_is_the_one_pyproject_builds():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == colab.PACKAGE
