"""Build the HTML book, English and Chinese, with warnings as errors; print where the
pages are.

Used by `make book` and by tests/test_book.py, so both build the same way.

With `GITHUB_REPOSITORY=owner/name` set (GitHub Actions sets it), the book is built
for that repository: the sources are copied to `_build/publish/`, the copy's
`_config.yml` names the repository and the branch `colab` (launch buttons, repository
button), its notebooks get Colab cells that install from there (scripts/colab.py),
and the HTML is built from the copy. The Pages workflow then pushes those notebooks to
the `colab` branch, so every "Open in Colab" link opens a notebook that installs the
package from the same fork. No file of the checkout is edited.

The Chinese edition (中文版) is generated from the English sources and the translations
in zh/ (scripts/translate.py) into `zh/` of the staged copy (or `_build/zh-src/`),
built the same way, and its HTML copied into `zh/` of the English site. Its notebooks
are pushed to the `colab` branch too, under `zh/`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import colab
import translate
import vendor_js
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
STAGE = ROOT / "_build" / "publish"
# The tests build for a made-up fork, into a folder of their own (tests/conftest.py).
TEST_OUTPUT = ROOT / "_build" / "test"
TEST_HTML = TEST_OUTPUT / "_build" / "html"
# The Chinese edition: its sources (when not staged) and, under each output folder, the
# folder it is built in before its HTML is copied to the site's zh/.
ZH_SOURCE = ROOT / "_build" / "zh-src"
ZH_BUILD = Path("_build") / "zh"
# -W: warnings are errors; -n: nitpicky references; --keep-going: report all of them.
FLAGS = ["-W", "-n", "--keep-going"]
# What a staged copy leaves out: not book sources (the build reads only what
# _toc.yml and _config.yml name), and big or private folders.
NOT_SOURCES = {
    ".git",
    ".github",
    ".ci",
    "_build",
    "_vendor",  # linked, not copied
    "benchmarks",
    "mha",
    "node_modules",
    "scripts",
    "test-artifacts",
    "tests",
}


def _ignore(folder: str, names: list[str]) -> set[str]:
    if Path(folder) != ROOT:
        return {n for n in names if n in (".ipynb_checkpoints", "__pycache__")}
    return {
        n
        for n in names
        if n in NOT_SOURCES
        or n.startswith(".venv")
        or n.endswith(".egg-info")
        or n.startswith((".pytest", ".hypothesis", ".ruff"))
    }


def stage(repo: colab.Repository) -> Path:
    """A copy of the book's sources whose config and notebooks name ``repo``."""
    shutil.rmtree(STAGE, ignore_errors=True)
    shutil.copytree(ROOT, STAGE, ignore=_ignore)
    (STAGE / "_vendor").symlink_to(ROOT / "_vendor", target_is_directory=True)
    config_path = STAGE / "_config.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["repository"].update(url=repo.url, branch=repo.branch)
    config_path.write_text(
        "# Staged by scripts/build_book.py for "
        + repo.slug
        + "; do not edit.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    colab.update(STAGE, colab.ALL_FOLDERS, repo)
    return STAGE


def source() -> Path:
    """The folder to build: the checkout, or a staged copy for GITHUB_REPOSITORY."""
    repo = colab.published()
    return ROOT if repo is None else stage(repo)


def package_digest() -> str:
    """A hash of the mha package's files: the notebooks' outputs depend on them."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "mha").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def refresh_cache(output: Path) -> None:
    """Drop the executed-notebook cache when the package has changed since it was
    filled. Jupyter Book reuses a notebook's outputs until its code changes; an
    output of `mha` (a figure, a checker's report) can change without that."""
    cache = output / "_build" / ".jupyter_cache"
    stamp = output / "_build" / "mha-package.sha256"
    digest = package_digest()
    if cache.exists() and (not stamp.exists() or stamp.read_text() != digest):
        print("The mha package changed: executing every notebook again.")
        shutil.rmtree(cache)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest)


def toc_notebooks(src: Path) -> list[Path]:
    """The notebooks the book's table of contents names, in ``src``."""
    toc = yaml.safe_load((src / "_toc.yml").read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            found.extend(str(node[k]) for k in ("root", "file") if k in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [src / f"{f}.ipynb" for f in found if (src / f"{f}.ipynb").exists()]


def execute(src: Path, output: Path, timeout: int = 120) -> list[str]:
    """Execute the book's notebooks that the cache lacks, two at a time, before the
    build (which then takes every one from the cache). Jupyter Book 1 runs them one
    after the other; on two cores two kernels at once are about twice as fast,
    since starting a kernel and importing torch is most of a notebook's time. Each
    kernel gets one thread (OMP_NUM_THREADS=1) so that two do not fight over the
    cores. Returns the notebooks that failed (the build then reports their errors).
    """
    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    cache = get_cache(str(output / "_build" / ".jupyter_cache"))
    records = [cache.add_nb_to_project(str(path)) for path in toc_notebooks(src)]
    todo = [r.pk for r in records if cache.get_cached_project_nb(r.pk) is None]
    if not todo:
        return []
    print(f"Executing {len(todo)} notebooks, two at a time.", flush=True)
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        executor = load_executor("local-parallel", cache, logger=logging.getLogger())
        result = executor.run_and_cache(
            filter_pks=todo, timeout=timeout, allow_errors=False
        )
    finally:
        if saved is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    return result.excepted + result.errored


def build_command(
    extra: list[str] | None = None, src: Path = ROOT, output: Path = ROOT
) -> list[str]:
    """The `jupyter-book build` command line, using this interpreter's environment:
    the book in ``src``, its HTML in ``output/_build/html``."""
    jb = Path(sys.executable).with_name("jupyter-book")
    return [
        str(jb),
        "build",
        str(src),
        "--path-output",
        str(output),
        *FLAGS,
        *(extra or []),
    ]


def prepare(output: Path = ROOT) -> Path:
    """Everything the build into ``output`` needs besides the sources (the vendored
    JavaScript, a cache that fits the package, the notebooks executed); returns the
    folder to build."""
    vendor_js.ensure()
    refresh_cache(output)
    src = source()
    execute(src, output)
    return src


def chinese_source(src: Path) -> Path:
    """Generate the Chinese edition's sources for the English ones in ``src``."""
    dest = ZH_SOURCE if src == ROOT else src / "zh"
    return translate.build(dest, colab.published())


def build_chinese(
    src: Path, output: Path = ROOT, **run: object
) -> subprocess.CompletedProcess:
    """Build the Chinese edition of the book in ``src`` and copy its HTML into the
    English site's ``zh/`` folder (replacing an older copy)."""
    zh_src, zh_output = chinese_source(src), output / ZH_BUILD
    refresh_cache(zh_output)
    execute(zh_src, zh_output)
    command = build_command(src=zh_src, output=zh_output)
    result = subprocess.run(command, cwd=ROOT, **run)
    site = output / "_build" / "html" / "zh"
    shutil.rmtree(site, ignore_errors=True)
    if result.returncode == 0:
        shutil.copytree(zh_output / "_build" / "html", site)
    return result


def main() -> int:
    src = prepare()
    if src != ROOT:
        print(f"Building for {colab.published().slug}, from the staged copy {src}.")
    code = subprocess.run(build_command(sys.argv[1:], src), cwd=ROOT).returncode
    if code == 0:
        print("\nThe English book is built. Now the Chinese edition (中文版).")
        code = build_chinese(src).returncode
    if code == 0:
        print(f"\nThe book is built. Open {HTML / 'index.html'} in a browser.")
    else:
        print("\nThe build failed: see the warnings and errors above.", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
