"""ruff is clean over the package, the tests, the scripts and every notebook, and
the Python files are formatted by ruff (the notebooks are exempt: their code cells
are laid out by hand for the page's 76-character column, which tests/test_layout.py
checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_ruff_is_clean():
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--no-cache", "."],
        cwd=ROOT,
        text=True,
        capture_output=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_files_are_ruff_formatted():
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "format", "--check", "--no-cache", "."],
        cwd=ROOT,
        text=True,
        capture_output=True,
    )
    assert result.returncode == 0, (
        result.stdout + result.stderr + "\nFix: .venv/bin/ruff format ."
    )


def ruff_on(path: str, source: str) -> subprocess.CompletedProcess[str]:
    """ruff's verdict on ``source`` as if it were the file ``path`` of the repo."""
    ruff = Path(sys.executable).with_name("ruff")
    return subprocess.run(
        [str(ruff), "check", "--no-cache", "--stdin-filename", path, "-"],
        cwd=ROOT,
        input=source,
        text=True,
        capture_output=True,
    )


def test_a_bare_assert_fails_anywhere_in_the_package_but_not_in_tests():
    """python -O strips assert statements, so the package must never rely on one:
    ruff's S101 covers every module of mha, and only mha."""
    source = "def check(x):\n    assert x > 0\n    return x\n"
    for module in ("mha/layer.py", "mha/explorer/model.py", "mha/new_module.py"):
        result = ruff_on(module, source)
        assert result.returncode == 1 and "S101" in result.stdout, module
    assert ruff_on("tests/test_new.py", source).returncode == 0
