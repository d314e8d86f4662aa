"""Generate exercise notebooks from solution notebooks: one source of truth.

A solution notebook `solutions/NAME.ipynb` marks what the learner must write:

* In code cells, the lines between `### BEGIN SOLUTION` and `### END SOLUTION` become
  `raise NotImplementedError("...")` at the same indentation. To leave something else
  instead, put it on the marker line: `### BEGIN SOLUTION (stub: prediction = None)`.
* A line `assert checks.NAME(...)` becomes `checks.NAME(...)`: in the solution the
  checker must pass (nbval proves it); in the exercise it reports without raising.
  As the last line of a cell it ends with `;`, so the True or False it returns is
  not shown under its report (nor is the generator `torch.manual_seed` returns).
* Cells tagged `solution` (model answers to open questions) become a markdown cell
  inviting the learner's own answer.
* The one cell tagged `header` has a title `# Solutions: TITLE` and a link
  `[Back to the exercises](../exercises/NAME.ipynb)`; the exercise gets
  `# Exercises: TITLE`, `[Worked solutions](../solutions/NAME.ipynb)` and a
  paragraph on how to run it (on the web page nothing runs).
* The Colab badge and setup cell are made for the exercise's path (scripts/colab.py).

Usage:
    python scripts/make_exercises.py           # write exercises/ from solutions/
    python scripts/make_exercises.py --check   # exit 1 if exercises/ is out of date
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat
from colab import with_colab

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"

BEGIN = re.compile(
    r"^(?P<indent>\s*)### BEGIN SOLUTION(?:\s*\(stub:\s*(?P<stub>.*)\))?\s*$"
)
END = re.compile(r"^\s*### END SOLUTION\s*$")
ASSERT_CHECK = re.compile(r"^(?P<indent>\s*)assert (?P<call>checks\.\w+\(.*\))\s*$")
# A call whose value Jupyter would show under the cell, as the cell's last line.
QUIET_LAST = re.compile(r"^(checks\.\w+|torch\.manual_seed)\(.*\)$")
DEFAULT_STUB = 'raise NotImplementedError("Write your code here, then run the check.")'
# The texts an exercise notebook gets, per edition: the Chinese edition passes its own
# (zh/book.yml, `exercises`), with the same keys.
ENGLISH = {
    "solutions_title": "# Solutions: ",
    "exercises_title": "# Exercises: ",
    "back": "Back to the exercises",
    "worked": "Worked solutions",
    "answer_prompt": (
        "**Your answer:** *replace this line with what you found. (Open the notebook "
        "in Jupyter or Colab to write here; the worked solutions give a model "
        "answer.)*"
    ),
    "run_note": (
        "**Running the exercises.** On the book's web page nothing runs: the checks "
        "below show what they report before anything is written. Open this page as "
        "a notebook to work on it: in Google Colab, from the rocket icon at the top "
        "of the page (choose Colab, then *Runtime → Run all*); or on your own "
        "machine, after `make book` as the repository's README describes, with "
        "`.venv/bin/jupyter lab {path}`."
    ),
}


class MarkerError(ValueError):
    """A solution notebook's markers are malformed."""


def strip_solution(source: str, where: str) -> str:
    """Cut the marked answer regions out of one code cell's source."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if inside:
                raise MarkerError(
                    f"{where}, line {number}: BEGIN SOLUTION inside another"
                )
            inside = True
            out.append(begin["indent"] + (begin["stub"] or DEFAULT_STUB))
        elif end:
            if not inside:
                raise MarkerError(f"{where}, line {number}: END SOLUTION without BEGIN")
            inside = False
        elif not inside:
            check = ASSERT_CHECK.match(line)
            if not check and line.lstrip().startswith("assert checks."):
                raise MarkerError(
                    f"{where}, line {number}: write `assert checks.NAME(...)` on "
                    f"one line (the exercise keeps the call without `assert`)"
                )
            out.append(check["indent"] + check["call"] if check else line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    if out and QUIET_LAST.match(out[-1]):
        out[-1] += ";"  # Jupyter shows nothing for a last line ending in ';'
    return "\n".join(out)


def header_for_exercise(
    source: str,
    name: str,
    where: str,
    strings: dict[str, str] = ENGLISH,
    path: str = "",
) -> str:
    back = f"[{strings['back']}](../exercises/{name}.ipynb)"
    lines = source.splitlines()
    title = strings["solutions_title"]
    if not lines or not lines[0].startswith(title):
        raise MarkerError(f"{where}: the header cell must start with '{title}TITLE'")
    if back not in source:
        raise MarkerError(f"{where}: the header cell must contain the link {back}")
    lines[0] = lines[0].replace(title, strings["exercises_title"], 1)
    text = "\n".join(lines).rstrip()
    text = text.replace(back, f"[{strings['worked']}](../solutions/{name}.ipynb)")
    note = strings["run_note"].format(path=path or f"exercises/{name}.ipynb")
    return text + "\n\n" + note


def exercise_from_solution(
    solution: dict, name: str, strings: dict[str, str] = ENGLISH, prefix: str = ""
) -> dict:
    """The exercise notebook (a new dict) generated from a solution notebook; the
    Chinese edition passes its ``strings`` and the ``prefix`` of its folder
    (``"zh/"``)."""
    nb = copy.deepcopy(solution)
    where = f"solutions/{name}.ipynb"
    headers = [
        i
        for i, c in enumerate(nb["cells"])
        if "header" in c["metadata"].get("tags", [])
    ]
    if len(headers) != 1:
        raise MarkerError(f"{where}: exactly one cell must be tagged 'header'")
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        tags = cell["metadata"].get("tags", [])
        if i == headers[0]:
            cell["source"] = header_for_exercise(
                source,
                name,
                f"{where}, cell {i}",
                strings,
                f"{prefix}exercises/{name}.ipynb",
            )
        elif "solution" in tags:
            nb["cells"][i] = nbformat.v4.new_markdown_cell(strings["answer_prompt"])
        elif cell["cell_type"] == "code":
            cell["source"] = strip_solution(source, f"{where}, cell {i}")
    return with_colab(nbformat.from_dict(nb), f"{prefix}exercises/{name}.ipynb")


def render(nb: dict) -> str:
    """Canonical text of a notebook, as nbformat (and so nbstripout) writes it."""
    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def expected_exercises() -> dict[Path, str]:
    """Map each exercise path to the text it must have."""
    result = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        exercise = exercise_from_solution(solution, path.stem)
        result[EXERCISES / path.name] = render(exercise)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="verify only; write nothing"
    )
    args = parser.parse_args(argv)
    expected = expected_exercises()
    stale = [
        p
        for p, text in expected.items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    orphans = [p for p in EXERCISES.glob("*.ipynb") if p not in expected]
    if args.check:
        for p in stale:
            print(f"{p.relative_to(ROOT)} is out of date with its solution")
        for p in orphans:
            print(f"{p.relative_to(ROOT)} has no solution notebook in solutions/")
        if stale or orphans:
            print("Fix: run `.venv/bin/python scripts/make_exercises.py` and commit.")
            return 1
        return 0
    for p in stale:
        p.write_text(expected[p], encoding="utf-8")
        print(f"wrote {p.relative_to(ROOT)}")
    for p in orphans:
        print(
            f"warning: {p.relative_to(ROOT)} has no solution notebook", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
