"""Write the "Open in Colab" badge and the Colab setup cell into every notebook.

The repository URL and branch come from `_config.yml` (one place to change them).
Each notebook starts with two generated cells, both removed from the HTML book (which
has its own launch buttons and must not load a remote badge image):

* a markdown cell tagged `colab-badge`: the badge, linking to this notebook in Colab;
* a code cell tagged `colab-setup`: in Colab, and only there, it pip-installs this
  book's package from the repository, with `--no-deps` so that nothing Colab ships
  (torch, matplotlib, ipywidgets) is replaced. Elsewhere it does nothing.

Usage:
    python scripts/colab.py           # update chapters/ and solutions/
    python scripts/colab.py --check   # exit 1 if a badge or setup cell is missing/stale
Exercise notebooks get theirs from scripts/make_exercises.py, which calls `with_colab`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("chapters", "solutions")
BADGE_TAG, SETUP_TAG = "colab-badge", "colab-setup"
PACKAGE = "mha-course"
BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"


def repository() -> tuple[str, str]:
    """(GitHub URL without trailing slash, branch) from _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def colab_url(relpath: str) -> str:
    url, branch = repository()
    github_path = url.removeprefix("https://github.com/")
    colab = "https://colab.research.google.com/github"
    return f"{colab}/{github_path}/blob/{branch}/{relpath}"


def install_spec() -> str:
    """The one thing the setup cell installs: this package, from the configured ref."""
    url, branch = repository()
    return f"{PACKAGE} @ git+{url}@{branch}"


def badge_cell(relpath: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        f"[![Open In Colab]({BADGE_SVG})]({colab_url(relpath)})"
    )
    cell.metadata["tags"] = [BADGE_TAG, "remove-cell"]
    return cell


def setup_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(
        "# In Google Colab, install this book's package and nothing else: Colab's\n"
        "# own torch, matplotlib and ipywidgets stay as they are. Elsewhere: nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet --no-deps "{install_spec()}"'
    )
    cell.metadata["tags"] = [SETUP_TAG, "remove-cell"]
    return cell


def with_colab(nb: nbformat.NotebookNode, relpath: str) -> nbformat.NotebookNode:
    """The notebook with fresh badge and setup cells in front (old ones replaced)."""
    rest = [
        c
        for c in nb.cells
        if not {BADGE_TAG, SETUP_TAG} & set(c.get("metadata", {}).get("tags", []))
    ]
    nb.cells = [badge_cell(relpath), setup_cell(), *rest]
    return renumber(nb)


def renumber(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Cell ids 0, 1, 2, ... as nbstripout writes them: `make strip` changes nothing."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = str(i)
    return nb


def text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="verify only; write nothing"
    )
    args = parser.parse_args(argv)
    stale = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            relpath = path.relative_to(ROOT).as_posix()
            old = path.read_text(encoding="utf-8")
            new = text(with_colab(nbformat.reads(old, as_version=4), relpath))
            if new != old:
                stale.append(relpath)
                if not args.check:
                    path.write_text(new, encoding="utf-8")
                    print(f"updated {relpath}")
    if args.check and stale:
        for relpath in stale:
            print(f"{relpath}: Colab badge or setup cell missing or stale")
        print("Fix: run `.venv/bin/python scripts/colab.py` (then make exercises).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
