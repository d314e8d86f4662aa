"""The Chinese edition (中文版): translated prose, kept in sync with the English.

One source of code: a Chinese page is its English page with the prose replaced. What
is translated, per English source file:

* a notebook: every markdown cell (but the generated Colab badge) and every figure
  caption (`mystnb.figure.caption` in a cell's metadata); code cells stay as they are;
* a markdown page: every section (a heading and what follows it, up to the next one).

The translations of `PATH` live in `zh/translations/PATH.yml`: a list of entries in
the order of the English units, each holding the English text it translates (`en`) and
the Chinese (`zh`). When an English cell changes, its entry no longer matches and
`python scripts/translate.py status` (and tests/test_translations.py) names the cell.
`update` realigns the entries after the English changed: unchanged texts keep their
translation, a changed one keeps its old translation marked `fuzzy: true` (as gettext
does) until a translator revises it and deletes the mark, a new one gets an empty
translation.

Exercise notebooks are not translated: like the English ones they are generated from
the (translated) solutions by scripts/make_exercises.py.

`build(dest)` writes the Chinese book's sources into `dest` (the build stages it in
`_build/zh/`): `zh/book.yml` gives the Chinese title, table-of-contents captions and
configuration; each notebook gets, after its Colab setup cell, a cell that switches
the package's own texts to Chinese (`mha.set_language("zh")`), and at its end a check
that the package had a translation for every text it showed.

Usage:
    python scripts/translate.py status          # exit 1 if anything is stale
    python scripts/translate.py update [PATH]   # realign after English edits
"""

from __future__ import annotations

import argparse
import copy
import difflib
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import colab
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
ZH = ROOT / "zh"
TRANSLATIONS = ZH / "translations"
SETTINGS = ZH / "book.yml"
# The English sources that have a Chinese twin (exercises are generated instead).
SOURCE_GLOBS = (
    "intro.md",
    "notation.md",
    "glossary.md",
    "references.md",
    "chapters/*.md",
    "chapters/*.ipynb",
    "solutions/*.ipynb",
    "exercises/index.md",
    "solutions/index.md",
)
LANGUAGE_TAG, LANGUAGE_CHECK_TAG = "zh-language", "zh-language-check"
LANGUAGE_CELL = (
    "# 中文版: the package's own texts (controls, checker reports) in Chinese.\n"
    "import mha\n"
    "\n"
    'mha.set_language("zh")'
)
LANGUAGE_CHECK = (
    "# Every text the package showed above had a Chinese translation.\n"
    "assert not mha.i18n.missing(), mha.i18n.missing()"
)
HEADING = re.compile(r"^#{1,6} ")
# Chinese characters and punctuation: a line break between two of them inside a
# paragraph is shown by a browser as a space, which Chinese text does not have.
HAN = re.compile("[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
FENCE = re.compile(r"^(`{3,}|~{3,}|:{3,})")


@dataclass(frozen=True)
class Unit:
    """One translatable text of an English source: where it is, and the text."""

    where: str  # "cell 5", "caption of cell 9", "section 2"
    en: str


def sources(root: Path = ROOT) -> list[Path]:
    """Every English source with a Chinese twin, relative to ``root``."""
    found: list[Path] = []
    for pattern in SOURCE_GLOBS:
        found += sorted(p.relative_to(root) for p in root.glob(pattern))
    return found


def track_fence(fences: list[str], line: str) -> bool:
    """Update ``fences``, the open code and directive fences (innermost last), for
    one line; return whether the line is a fence. A bare marker equal to the
    innermost one closes it; any other fence line opens a block (MyST directives
    nest with longer fences)."""
    fence = FENCE.match(line.lstrip())
    if not fence:
        return False
    if fences and line.strip() == fences[-1]:
        fences.pop()
    elif line.strip() != fence.group(1) or not fences:
        fences.append(fence.group(1))
    return True


def sections(text: str) -> list[str]:
    """A markdown page cut before each heading that is not inside a fence (code
    blocks and MyST directives, which may nest with longer fences)."""
    parts: list[list[str]] = [[]]
    fences: list[str] = []  # the open fences, innermost last
    for line in text.splitlines(keepends=True):
        is_fence = track_fence(fences, line)
        if (
            not is_fence
            and HEADING.match(line)
            and not fences
            and "".join(parts[-1]).strip()
        ):
            parts.append([])
        parts[-1].append(line)
    return ["".join(p) for p in parts if "".join(p).strip()]


def join_chinese_lines(text: str) -> str:
    """Join the lines of a paragraph that break between two Chinese characters,
    outside code and directive fences, never joining a heading, a table row or a
    list item to what follows."""
    lines, fences = text.split("\n"), []
    out: list[str] = []
    for i, line in enumerate(lines):
        fence = track_fence(fences, line)
        joinable = (
            i > 0
            and not fences
            and not fence
            and out
            and line[:1]
            and HAN.match(line[0])
            and out[-1][-1:]
            and HAN.match(out[-1][-1])
            and not re.match(r"^\s*(#|\||[-*+] |\d+\. |\$\$|:|```|\(.*\)=)", out[-1])
        )
        if joinable:
            out[-1] += line
        else:
            out.append(line)
    return "\n".join(out)


def _is_badge(cell: dict) -> bool:
    return colab.BADGE_TAG in cell.get("metadata", {}).get("tags", [])


def units(path: Path, root: Path = ROOT) -> list[Unit]:
    """The translatable texts of one English source, in order."""
    text = (root / path).read_text(encoding="utf-8")
    if path.suffix == ".md":
        return [Unit(f"section {i}", s) for i, s in enumerate(sections(text))]
    nb = nbformat.reads(text, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and not _is_badge(cell):
            found.append(Unit(f"cell {i}", cell.source))
        caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption")
        if caption:
            found.append(Unit(f"caption of cell {i}", caption))
    return found


def translation_file(path: Path) -> Path:
    return TRANSLATIONS / (path.as_posix() + ".yml")


def load(path: Path) -> list[dict]:
    file = translation_file(path)
    if not file.exists():
        return []
    return yaml.safe_load(file.read_text(encoding="utf-8")) or []


def problems(path: Path, root: Path = ROOT) -> list[str]:
    """What keeps ``path``'s translation from being complete and current."""
    entries, wanted = load(path), units(path, root)
    found = []
    for i, unit in enumerate(wanted):
        first = unit.en.strip().splitlines()[0][:60] if unit.en.strip() else ""
        name = f"{path}, {unit.where} ({first!r})"
        if i >= len(entries):
            found.append(f"{name}: not translated")
            continue
        entry = entries[i]
        if entry.get("en") != unit.en:
            found.append(
                f"{name}: the English changed since it was translated (run "
                f"`python scripts/translate.py update {path}`, then revise entry {i})"
            )
        elif entry.get("fuzzy"):
            found.append(f"{name}: translation marked fuzzy, revise it (entry {i})")
        elif not (entry.get("zh") or "").strip():
            found.append(f"{name}: not translated")
    for i in range(len(wanted), len(entries)):
        found.append(f"{path}: entry {i} translates a text the English no longer has")
    return found


def update(path: Path, root: Path = ROOT) -> int:
    """Realign ``path``'s entries with its English units; return how many changed."""
    old, wanted = load(path), units(path, root)
    old_en = [e.get("en", "") for e in old]
    new_en = [u.en for u in wanted]
    entries: list[dict] = []
    changed = 0
    matcher = difflib.SequenceMatcher(a=old_en, b=new_en, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            entries += old[a0:a1]
            continue
        for k in range(b1 - b0):
            changed += 1
            previous = old[a0 + k] if op == "replace" and a0 + k < a1 else None
            entry = {"en": new_en[b0 + k], "zh": previous["zh"] if previous else ""}
            if previous and previous.get("zh"):
                entry["fuzzy"] = True
            entries.append(entry)
    if changed or len(old) != len(entries):
        file = translation_file(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(dump(path, entries), encoding="utf-8")
    return changed


class _Literal(str):
    pass


yaml.SafeDumper.add_representer(
    _Literal, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|")
)


def dump(path: Path, entries: list[dict]) -> str:
    """The YAML of a translation file, block scalars for readable diffs."""
    body = [
        {
            k: (_Literal(v) if isinstance(v, str) and "\n" in v else v)
            for k, v in e.items()
        }
        for e in entries
    ]
    header = (
        f"# 中文 translations of {path}, one entry per English text, in order.\n"
        "# `en` is the English it translates; check with "
        "`python scripts/translate.py status`.\n"
    )
    return header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=88)


def translated_text(
    path: Path, root: Path = ROOT, repo: colab.Repository | None = None
) -> str:
    """The Chinese twin of one English source (which must be current); notebooks get
    Colab cells that name ``repo`` (default: _config.yml's)."""
    stale = problems(path, root)
    if stale:
        raise SystemExit("The Chinese edition is out of date:\n  " + "\n  ".join(stale))
    entries = [join_chinese_lines(e["zh"]) for e in load(path)]
    text = (root / path).read_text(encoding="utf-8")
    if path.suffix == ".md":
        return "".join(z if z.endswith("\n") else z + "\n" for z in entries)
    nb = nbformat.reads(text, as_version=4)
    queue = iter(entries)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not _is_badge(cell):
            cell.source = next(queue)
        figure = cell.metadata.get("mystnb", {}).get("figure", {})
        if figure.get("caption"):
            figure["caption"] = next(queue)
    nb = with_language_cells(nb)
    return nbformat.writes(colab.with_colab(nb, f"zh/{path.as_posix()}", repo)) + "\n"


def with_language_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A language cell after the Colab cells and a check at the end (both hidden
    from the page)."""
    cells = [
        c
        for c in nb.cells
        if not {LANGUAGE_TAG, LANGUAGE_CHECK_TAG} & set(c.metadata.get("tags", []))
    ]
    tags = [c.metadata.get("tags", []) for c in cells]
    setup = next((i for i, t in enumerate(tags) if colab.SETUP_TAG in t), -1)
    first = nbformat.v4.new_code_cell(LANGUAGE_CELL)
    first.metadata["tags"] = [LANGUAGE_TAG, "remove-cell"]
    last = nbformat.v4.new_code_cell(LANGUAGE_CHECK)
    last.metadata["tags"] = [LANGUAGE_CHECK_TAG, "remove-cell"]
    nb.cells = [*cells[: setup + 1], first, *cells[setup + 1 :], last]
    return colab.renumber(nb)


def settings() -> dict:
    return yaml.safe_load(SETTINGS.read_text(encoding="utf-8"))


def toc(english: dict, captions: dict[str, str]) -> dict:
    """The English _toc.yml with the parts' captions translated."""
    result = copy.deepcopy(english)
    for part in result.get("parts", []):
        caption = part.get("caption")
        if caption not in captions:
            raise SystemExit(
                f"zh/book.yml has no Chinese caption for the part {caption!r} of "
                f"_toc.yml: add it under `captions`."
            )
        part["caption"] = captions[caption]
    return result


def config(english: dict, overrides: dict) -> dict:
    """The English _config.yml with the Chinese edition's settings merged in."""
    result = copy.deepcopy(english)

    def merge(into: dict, new: dict) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    merge(result, overrides)
    return result


def build(dest: Path, repo: colab.Repository | None = None) -> Path:
    """Write the Chinese book's sources into ``dest``: translated pages and
    notebooks, generated exercises, the config and table of contents, and links to
    what both editions share (images, bibliography, extensions, static files)."""
    import make_exercises

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    zh = settings()
    english = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    if repo is not None:  # a published build names its repository, as the English
        english["repository"].update(url=repo.url, branch=repo.branch)
    (dest / "_config.yml").write_text(
        "# Generated by scripts/translate.py from _config.yml and zh/book.yml.\n"
        + yaml.safe_dump(
            config(english, zh["config"]), allow_unicode=True, sort_keys=False
        ),
        encoding="utf-8",
    )
    english_toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    (dest / "_toc.yml").write_text(
        yaml.safe_dump(
            toc(english_toc, zh["captions"]), allow_unicode=True, sort_keys=False
        ),
        encoding="utf-8",
    )
    for shared in (
        "images",
        "references.bib",
        "_ext",
        "_assets",
        "_templates",
        "_vendor",
    ):
        (dest / shared).symlink_to(ROOT / shared)
    for path in sources():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(translated_text(path, repo=repo), encoding="utf-8")
    exercises = dest / "exercises"
    exercises.mkdir(exist_ok=True)
    for solution in sorted((dest / "solutions").glob("*.ipynb")):
        nb = nbformat.read(solution, as_version=4)
        exercise = make_exercises.exercise_from_solution(
            nb, solution.stem, strings=zh["exercises"], prefix="zh/"
        )
        exercise = with_language_cells(
            colab.with_colab(exercise, f"zh/exercises/{solution.name}", repo)
        )
        (exercises / solution.name).write_text(
            nbformat.writes(exercise) + "\n", encoding="utf-8"
        )
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="list stale or missing translations")
    up = sub.add_parser("update", help="realign translations with the English")
    up.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.command == "status":
        found = [p for path in sources() for p in problems(path)]
        for line in found:
            print(line)
        print(f"{len(found)} problem(s) in {len(sources())} sources.")
        return 1 if found else 0
    for path in args.paths or sources():
        n = update(path)
        if n:
            print(f"{path}: {n} entr{'y' if n == 1 else 'ies'} to translate or revise")
    return 0


if __name__ == "__main__":
    sys.exit(main())
