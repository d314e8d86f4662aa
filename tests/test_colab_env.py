"""Chapters with sliders, the end of Part I and the head explorer run in a second
environment pinned to Colab's versions (requirements-colab.txt: ipywidgets 7.7.1,
matplotlib 3.10.0, IPython 7). `make test` creates it as .venv-colab."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import ROOT

COLAB_PY = ROOT / ".venv-colab" / "bin" / "python"
NOTEBOOKS = [
    "chapters/02_split.ipynb",
    "chapters/04_score.ipynb",
    "chapters/06_softmax.ipynb",
    "chapters/07_concatenate.ipynb",
    "chapters/08_head_explorer.ipynb",
]


def colab_python() -> str:
    assert COLAB_PY.exists(), (
        f"{COLAB_PY.relative_to(ROOT)} is missing: `make test` creates it from "
        "requirements-colab.txt"
    )
    return str(COLAB_PY)


def test_environment_has_colabs_versions():
    code = (
        "import ipywidgets, matplotlib, IPython; "
        "print(ipywidgets.__version__, matplotlib.__version__, IPython.version_info[0])"
    )
    out = subprocess.run(
        [colab_python(), "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["7.7.1", "3.10.0", "7"], out


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n)
def test_notebook_runs_on_colabs_versions(notebook):
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    result = subprocess.run(
        [
            colab_python(),
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--nbval-lax",
            "--nbval-current-env",
            "-q",
            notebook,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
