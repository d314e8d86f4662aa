"""Every notebook runs in Colab's environment, with the book's package installed the
way the Colab setup cell installs it.

`make test` builds the environment as .venv-colab from requirements-colab.txt: Python
3.13 and Colab's versions of every package. This module installs the package into it
from the working tree with `pip install --no-deps`, as the setup cell does from the
repository, checks that the install replaced nothing Colab ships, then runs every
notebook there under nbval in one pytest process and reports each notebook here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ARTIFACTS, ROOT, notebooks

COLAB_VENV = ROOT / ".venv-colab"
COLAB_PY = COLAB_VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements-colab.txt"
# Colab's runtime of 2026-08 (its published pip-freeze.txt of 2026-08-19).
COLAB_PYTHON = (3, 13)
COLAB = {
    "torch": "2.11.0",
    "ipywidgets": "7.7.1",
    "ipython": "7.34.0",
    "ipykernel": "6.17.1",
    "matplotlib": "3.10.0",
    "numpy": "2.1.3",
    "notebook": "6.5.7",
    "jupyterlab-widgets": "3.0.16",
}
PACKAGE = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
    "project"
]
NOTEBOOKS = [p.relative_to(ROOT).as_posix() for p in notebooks()]
# Colour codes, as the terminal gets them and as JUnit XML escapes them.
ANSI = re.compile(r"(\x1b|#x1B)\[[0-9;]*m")
# Every installed distribution and its version, as the Colab interpreter sees them.
VERSIONS = (
    "import importlib.metadata as m, json, re; print(json.dumps({"
    "re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
    "for d in m.distributions()}))"
)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_env() -> dict[str, str]:
    """This process's environment without PYTHONPATH, without debugpy's warning
    that Python 3.13's frozen modules hide breakpoints, and with one thread per
    kernel (two kernels run at a time on two cores)."""
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    return env


def colab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the Colab environment's Python; fail with its output if it fails.

    Without `cwd` it runs isolated (-I): the checkout's mha_course.egg-info, left by
    the editable install of the main environment, must not count as installed."""
    assert COLAB_PY.exists(), (
        f"{COLAB_PY.relative_to(ROOT)} is missing: `make test` creates it from "
        "requirements-colab.txt"
    )
    isolated = ["-I"] if cwd is None else []
    result = subprocess.run(
        [str(COLAB_PY), *isolated, *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        env=colab_env(),
    )
    assert result.returncode == 0, (
        f"{' '.join(args[:4])} ... failed:\n"
        + result.stdout[-4000:]
        + result.stderr[-4000:]
    )
    return result


def versions() -> dict[str, str]:
    return json.loads(colab("-c", VERSIONS).stdout)


def working_tree_copy(dest: Path) -> Path:
    """The files a clone of the working tree would hold (tracked and new, not ignored):
    what the setup cell gets from the repository, built outside the checkout as pip
    builds a git URL, so no build/ or egg-info lands in the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def setup_cell_install(tmp_path_factory) -> dict[str, dict[str, str]]:
    """Colab's versions before and after the simulated setup cell.

    The cell runs `pip install --no-deps "mha-course @ git+<repository>"` with Colab's
    pip. Here the source is a copy of the working tree, and --no-index and
    --no-build-isolation keep the install offline: the build uses the environment's
    setuptools (Colab's 75.2.0) instead of fetching one."""
    colab("-m", "pip", "uninstall", "--quiet", "--yes", PACKAGE["name"])
    before = versions()
    source = working_tree_copy(tmp_path_factory.mktemp("clone"))
    colab(
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        str(source),
    )
    return {"before": before, "after": versions()}


def test_environment_is_colabs(setup_cell_install):
    found = colab("-c", "import sys; print(*sys.version_info[:2])").stdout.split()
    assert tuple(map(int, found)) == COLAB_PYTHON, f"Python {'.'.join(found)}"
    before = setup_cell_install["before"]
    assert {name: before.get(name) for name in COLAB} == COLAB


def pins(path: Path) -> dict[str, str]:
    """The `name==version` lines of a requirements file."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        pin = line.split("#")[0].strip()
        if "==" in pin:
            name, version = pin.split("==")
            found[canonical(name)] = version
    return found


def test_environment_matches_requirements_colab(setup_cell_install):
    """The environment is what requirements-colab.txt pins (not a stale one)."""
    pinned = pins(REQUIREMENTS)
    assert COLAB.items() <= pinned.items()
    before = setup_cell_install["before"]
    assert {name: before.get(name) for name in pinned} == pinned


def test_readme_names_the_tested_versions():
    """README's "Tested with" table says what the two requirements files pin."""
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3:
            rows[cells[0]] = [c.split()[0] if c else "" for c in cells[1:]]
    main, colab_pins = pins(ROOT / "requirements.txt"), pins(REQUIREMENTS)
    floor = PACKAGE["requires-python"].removeprefix(">=")
    assert rows.get("Python") == [floor, ".".join(map(str, COLAB_PYTHON))]
    for name in ("torch", "numpy", "matplotlib", "ipywidgets"):
        assert rows.get(name) == [main[name], colab_pins[name]], name


def test_declared_torch_floor_is_the_oldest_tested():
    """pyproject's torch range starts at the oldest torch an environment tests."""
    tested = [pins(ROOT / "requirements.txt")["torch"], pins(REQUIREMENTS)["torch"]]
    oldest = min(tuple(map(int, v.split(".")[:2])) for v in tested)
    assert f"torch>={oldest[0]}.{oldest[1]}" in PACKAGE["dependencies"]


def test_setup_cell_install_replaces_nothing(setup_cell_install):
    before, after = setup_cell_install["before"], setup_cell_install["after"]
    assert canonical(PACKAGE["name"]) not in before
    changed = {
        name: (before.get(name), after.get(name))
        for name in before.keys() | after.keys()
        if before.get(name) != after.get(name)
    }
    assert changed == {canonical(PACKAGE["name"]): (None, PACKAGE["version"])}


def test_notebooks_import_the_installed_package(setup_cell_install):
    """A notebook's kernel starts in the notebook's folder: `mha` must come from the
    install, not from the checkout."""
    found = colab("-c", "import mha; print(mha.__file__)", cwd=ROOT / "chapters")
    site = colab("-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    assert Path(found.stdout.strip()).parent == Path(site.stdout.strip()) / "mha"


@pytest.fixture(scope="module")
def nbval_results(setup_cell_install, tmp_path_factory) -> dict[str, list[str]]:
    """Run every notebook under nbval in one pytest process of the Colab environment.

    Returns, per notebook path, one entry per cell: "" where it passed, else the
    failure. The run's JUnit report lands in test-artifacts/colab-nbval.xml."""
    report = tmp_path_factory.mktemp("nbval") / "junit.xml"
    result = subprocess.run(
        [
            str(COLAB_PY),
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-o",
            "junit_family=xunit1",
            "--nbval-lax",
            "--nbval-current-env",
            # A cell takes seconds; one that hangs fails instead of blocking the run.
            "--nbval-cell-timeout=300",
            # Two notebooks at a time (each kernel on one thread, colab_env()):
            # starting a kernel and importing torch is most of a notebook's time.
            "-n",
            "2",
            "--dist",
            "loadscope",
            "-q",
            f"--junitxml={report}",
            *NOTEBOOKS,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=colab_env(),
    )
    assert report.exists(), result.stdout[-4000:] + result.stderr[-4000:]
    ARTIFACTS.mkdir(exist_ok=True)  # each cell's time and result, for a look later
    shutil.copy(report, ARTIFACTS / "colab-nbval.xml")
    cells: dict[str, list[str]] = {}
    for case in ET.parse(report).iter("testcase"):
        problems = [
            (p.get("message") or "") + "\n" + (p.text or "")
            for p in case
            if p.tag in ("failure", "error")
        ]
        text = ANSI.sub("", "\n".join(problems))  # the kernel's coloured traceback
        cells.setdefault(case.get("file", ""), []).append(text)
    return cells


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_in_colab(nbval_results, notebook):
    cells = nbval_results.get(notebook)
    assert cells, f"nbval ran no cell of {notebook} in the Colab environment"
    failed = [text for text in cells if text]
    assert not failed, "\n\n".join(failed)[-6000:]
