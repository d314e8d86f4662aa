"""Write the "Open in Colab" badge and the Colab setup cell into every notebook.

Each notebook starts with two generated cells, both removed from the HTML book (which
has its own launch buttons and must not load a remote badge image):

* a markdown cell tagged `colab-badge`: the badge, linking to this notebook in Colab;
* a code cell tagged `colab-setup`: in Colab, and only there, it pip-installs this
  book's package from the repository, with `--no-deps` so that nothing Colab ships
  (torch, matplotlib, ipywidgets) is replaced. Elsewhere it does nothing.

Which repository? Colab opens a notebook from GitHub, and the notebook must install
the package from the same place. The committed notebooks name the repository of
`_config.yml`, whose owner is the placeholder `OWNER`: their setup cell then prints
what to do instead of failing in pip. A published copy names its real repository:
with `GITHUB_REPOSITORY=owner/name` set (GitHub Actions sets it), the book build
(scripts/build_book.py) writes notebooks for that repository and the branch
`PUBLISHED_BRANCH` into a staging copy, builds the HTML from it, and the Pages
workflow pushes those notebooks to that branch, which the launch links name.

Usage:
    python scripts/colab.py           # update chapters/, solutions/ (and exercises/)
    python scripts/colab.py --check   # exit 1 if a badge or setup cell is missing/stale
    python scripts/colab.py --repository owner/name --branch colab --root DIR
                                      # write the cells for a published copy in DIR
Exercise notebooks get theirs from scripts/make_exercises.py, which calls `with_colab`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("chapters", "solutions")
ALL_FOLDERS = ("chapters", "solutions", "exercises")
BADGE_TAG, SETUP_TAG = "colab-badge", "colab-setup"
PACKAGE = "mha-course"
BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB = "https://colab.research.google.com/github"
PLACEHOLDER = "OWNER"
# The branch a published copy pushes its notebooks to (the launch links name it).
PUBLISHED_BRANCH = "colab"
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Repository:
    """Where the book is published: a GitHub URL (no trailing slash) and a branch."""

    url: str
    branch: str

    @property
    def slug(self) -> str:
        """``owner/name``."""
        return self.url.removeprefix("https://github.com/")

    @property
    def is_placeholder(self) -> bool:
        return self.slug.split("/")[0] == PLACEHOLDER


def configured(root: Path = ROOT) -> Repository:
    """The repository and branch of `_config.yml` (the committed notebooks' own)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return Repository(repo["url"].rstrip("/"), repo.get("branch", "main"))


def from_slug(slug: str, branch: str = PUBLISHED_BRANCH) -> Repository:
    """``owner/name`` (as GitHub Actions sets GITHUB_REPOSITORY) -> a Repository."""
    if not _SLUG.match(slug or ""):
        raise SystemExit(
            f"GITHUB_REPOSITORY must look like owner/name, got {slug!r}. "
            "GitHub Actions sets it; to try a build by hand, e.g. "
            "GITHUB_REPOSITORY=alice/multi-head-attention-book make book."
        )
    return Repository(f"https://github.com/{slug}", branch)


def published() -> Repository | None:
    """The repository a published build names: from GITHUB_REPOSITORY, or None."""
    slug = os.environ.get("GITHUB_REPOSITORY")
    return from_slug(slug) if slug else None


def colab_url(relpath: str, repo: Repository | None = None) -> str:
    repo = repo or configured()
    return f"{COLAB}/{repo.slug}/blob/{repo.branch}/{relpath}"


def install_spec(repo: Repository | None = None) -> str:
    """The one thing the setup cell installs: this package, from the repository."""
    repo = repo or configured()
    return f"{PACKAGE} @ git+{repo.url}@{repo.branch}"


def placeholder_message(repo: Repository) -> str:
    return (
        f"This copy of the book names no repository yet ({repo.slug} is a "
        f"placeholder), so there is nothing to install the mha package from: "
        f"publish the book from your GitHub fork with its Pages workflow, which "
        f"names the fork, or set repository.url in _config.yml (README, "
        f"'Publishing your own copy')."
    )


def badge_cell(relpath: str, repo: Repository | None = None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        f"[![Open In Colab]({BADGE_SVG})]({colab_url(relpath, repo)})"
    )
    cell.metadata["tags"] = [BADGE_TAG, "remove-cell"]
    return cell


def setup_cell(repo: Repository | None = None) -> nbformat.NotebookNode:
    repo = repo or configured()
    if repo.is_placeholder:  # one sentence instead of a pip traceback
        lines = textwrap.wrap(
            placeholder_message(repo),
            64,
            drop_whitespace=False,
            break_on_hyphens=False,
        )
        strings = "".join(f"        {json.dumps(line)}\n" for line in lines)
        action = f"    print(\n{strings}    )"
    else:
        action = f'    %pip install --quiet --no-deps "{install_spec(repo)}"'
    cell = nbformat.v4.new_code_cell(
        "# In Google Colab, install this book's package and nothing else: Colab's\n"
        "# own torch, matplotlib and ipywidgets stay as they are. Elsewhere: nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f"{action}"
    )
    cell.metadata["tags"] = [SETUP_TAG, "remove-cell"]
    return cell


def with_colab(
    nb: nbformat.NotebookNode, relpath: str, repo: Repository | None = None
) -> nbformat.NotebookNode:
    """The notebook with fresh badge and setup cells in front (old ones replaced)."""
    rest = [
        c
        for c in nb.cells
        if not {BADGE_TAG, SETUP_TAG} & set(c.get("metadata", {}).get("tags", []))
    ]
    nb.cells = [badge_cell(relpath, repo), setup_cell(repo), *rest]
    return renumber(nb)


def renumber(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Cell ids 0, 1, 2, ... as nbstripout writes them: `make strip` changes nothing."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = str(i)
    return nb


def text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def update(
    root: Path, folders: tuple[str, ...], repo: Repository, check: bool = False
) -> list[str]:
    """Rewrite (or, with ``check``, only compare) every notebook's Colab cells under
    ``root``; return the notebooks that were (or would be) changed."""
    stale = []
    for folder in folders:
        for path in sorted((root / folder).glob("*.ipynb")):
            relpath = path.relative_to(root).as_posix()
            old = path.read_text(encoding="utf-8")
            new = text(with_colab(nbformat.reads(old, as_version=4), relpath, repo))
            if new != old:
                stale.append(relpath)
                if not check:
                    path.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="verify only; write nothing"
    )
    parser.add_argument("--repository", help="owner/name of a published copy")
    parser.add_argument("--branch", default=PUBLISHED_BRANCH)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    if args.repository:  # a published copy: every notebook, exercises included
        repo, folders = from_slug(args.repository, args.branch), ALL_FOLDERS
    else:
        repo, folders = configured(args.root), FOLDERS
    stale = update(args.root, folders, repo, check=args.check)
    if args.check and stale:
        for relpath in stale:
            print(f"{relpath}: Colab badge or setup cell missing or stale")
        print("Fix: run `.venv/bin/python scripts/colab.py` (then make exercises).")
        return 1
    for relpath in [] if args.check else stale:
        print(f"updated {relpath}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
