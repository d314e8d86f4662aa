"""The Chinese edition stays in sync with the English: every translated text is the
translation of the English as it is now, a change is named down to the cell, the
Chinese pages run the English code, and the quizzes and control texts match."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import colab
import nbformat
import pytest
import translate
from conftest import ROOT

from mha import i18n
from mha.explorer.page import LABELS
from mha.static import NOTE


@pytest.mark.parametrize("source", [str(p) for p in translate.sources()])
def test_every_page_is_translated_from_its_current_english(source):
    problems = translate.problems(Path(source))
    assert not problems, "\n".join(problems)


def test_every_english_source_has_a_translation_file():
    names = {translate.translation_file(p) for p in translate.sources()}
    files = set(translate.TRANSLATIONS.rglob("*.yml"))
    assert names == files, (
        f"translations without a source: {sorted(map(str, files - names))}; "
        f"sources without translations: {sorted(map(str, names - files))}"
    )


@pytest.fixture
def copy_of_chapter(tmp_path, monkeypatch):
    """A scratch root holding one chapter and its translations."""
    source = Path("chapters/05_mask.ipynb")
    (tmp_path / "chapters").mkdir()
    shutil.copy(ROOT / source, tmp_path / source)
    translations = tmp_path / "zh" / "translations"
    target = translations / "chapters" / "05_mask.ipynb.yml"
    target.parent.mkdir(parents=True)
    shutil.copy(translate.translation_file(source), target)
    monkeypatch.setattr(translate, "TRANSLATIONS", translations)
    return tmp_path, source


def edit_markdown(root: Path, source: Path, index: int, new_text: str) -> str:
    nb = nbformat.read(root / source, as_version=4)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    cell = markdown[index]
    cell.source = new_text
    nbformat.write(nb, root / source)
    return f"cell {nb.cells.index(cell)}"


def test_a_changed_english_cell_is_named_and_update_marks_it_fuzzy(copy_of_chapter):
    root, source = copy_of_chapter
    assert translate.problems(source, root) == []
    where = edit_markdown(root, source, 3, "A new paragraph about masks.")
    problems = translate.problems(source, root)
    assert len(problems) == 1 and where in problems[0], problems
    assert "A new paragraph" in problems[0] and "changed" in problems[0]
    with pytest.raises(SystemExit, match="out of date"):
        translate.translated_text(source, root)

    old = translate.load(source)
    assert translate.update(source, root) == 1
    new = translate.load(source)
    assert [e["en"] for e in new if e.get("fuzzy")] == ["A new paragraph about masks."]
    changed = next(e for e in new if e.get("fuzzy"))
    assert changed["zh"] == old[new.index(changed)]["zh"]  # kept, to be revised
    assert "fuzzy" in translate.problems(source, root)[0]
    untouched = [e for e in new if not e.get("fuzzy")]
    assert untouched == [e for e in old if e["en"] != old[new.index(changed)]["en"]]


def test_a_new_cell_gets_an_empty_entry_and_is_reported(copy_of_chapter):
    root, source = copy_of_chapter
    nb = nbformat.read(root / source, as_version=4)
    nb.cells.insert(5, nbformat.v4.new_markdown_cell("One more thought."))
    nbformat.write(nb, root / source)
    assert translate.update(source, root) == 1
    problems = translate.problems(source, root)
    assert len(problems) == 1 and "not translated" in problems[0], problems
    entries = translate.load(source)
    assert {"en": "One more thought.", "zh": ""} in entries


def test_markdown_pages_are_cut_at_headings_outside_fences():
    text = "# A\n\none\n\n```\n# not a heading\n```\n\n## B\n\n::::{note}\n# no\n::::\n"
    assert translate.sections(text) == [
        "# A\n\none\n\n```\n# not a heading\n```\n\n",
        "## B\n\n::::{note}\n# no\n::::\n",
    ]


def test_chinese_lines_are_joined_inside_paragraphs_only():
    text = "注意力\n分成多头。\n\n## 小结\n正文\n继续\n```python\n中\n文\n```\n- 列\n表"
    assert translate.join_chinese_lines(text) == (
        "注意力分成多头。\n\n## 小结\n正文继续\n```python\n中\n文\n```\n- 列\n表"
    )


@pytest.fixture(scope="module")
def chinese_book(tmp_path_factory):
    dest = tmp_path_factory.mktemp("zh") / "book"
    return translate.build(dest, colab.from_slug("someone/their-fork"))


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    skip = {
        colab.BADGE_TAG,
        colab.SETUP_TAG,
        translate.LANGUAGE_TAG,
        translate.LANGUAGE_CHECK_TAG,
    }
    return [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and not skip & set(c.metadata.get("tags", []))
    ]


def test_the_chinese_notebooks_run_the_english_code(chinese_book):
    english = sorted(
        p
        for d in ("chapters", "exercises", "solutions")
        for p in (ROOT / d).glob("*.ipynb")
    )
    assert len(english) >= 39
    for path in english:
        relpath = path.relative_to(ROOT)
        ours = nbformat.read(path, as_version=4)
        theirs = nbformat.read(chinese_book / relpath, as_version=4)
        assert code_cells(theirs) == code_cells(ours), relpath
        tags = [c.metadata.get("tags", []) for c in theirs.cells]
        assert translate.LANGUAGE_TAG in tags[2], relpath  # right after the setup
        assert translate.LANGUAGE_CHECK_TAG in tags[-1], relpath
        assert f"/blob/colab/zh/{relpath.as_posix()}" in theirs.cells[0].source
        assert "git+https://github.com/someone/their-fork@colab" in (
            theirs.cells[1].source
        )
        assert [c.id for c in theirs.cells] == [
            str(i) for i in range(len(theirs.cells))
        ]


def test_the_chinese_exercises_are_generated_from_the_chinese_solutions(
    chinese_book,
):
    nb = nbformat.read(chinese_book / "exercises/05_mask.ipynb", as_version=4)
    header = next(c for c in nb.cells if "header" in c.metadata.get("tags", []))
    assert header.source.startswith("# 练习：")
    assert "[参考解答](../solutions/05_mask.ipynb)" in header.source
    assert "jupyter lab zh/exercises/05_mask.ipynb" in header.source
    assert not any("BEGIN SOLUTION" in c.source for c in nb.cells)


def test_the_chinese_book_has_chinese_settings_and_every_part(chinese_book):
    import yaml

    config = yaml.safe_load((chinese_book / "_config.yml").read_text("utf-8"))
    assert config["sphinx"]["config"]["language"] == "zh_CN"
    assert config["repository"]["path_to_book"] == "zh"
    assert config["sphinx"]["config"]["mha_other_edition"]["root"] == "../"
    # built for a fork, its launch and repository buttons name the fork
    assert config["repository"]["url"] == "https://github.com/someone/their-fork"
    assert config["repository"]["branch"] == "colab"
    toc = yaml.safe_load((chinese_book / "_toc.yml").read_text("utf-8"))
    captions = [part["caption"] for part in toc["parts"]]
    assert all(re.search("[\u4e00-\u9fff]", c) for c in captions), captions
    intro = (chinese_book / "intro.md").read_text("utf-8")
    assert intro.startswith("# ") and re.search("[\u4e00-\u9fff]", intro)


def test_a_part_caption_without_translation_is_an_error():
    with pytest.raises(SystemExit, match="no Chinese caption"):
        translate.toc({"parts": [{"caption": "Part IV: New"}]}, {})


QUIZZES = ROOT / "mha" / "quizzes"
TEXT_FIELDS = {"text", "feedback", "hint"}


def skeleton(value):
    """A quiz file with its texts blanked: what a translation must not change."""
    if isinstance(value, dict):
        return {k: ("" if k in TEXT_FIELDS else skeleton(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [skeleton(v) for v in value]
    return value


QUIZ_FILES = sorted(p.name for p in (QUIZZES / "en").glob("*.json"))


@pytest.mark.parametrize("name", QUIZ_FILES)
def test_each_chinese_quiz_is_the_english_one_translated(name):
    english = json.loads((QUIZZES / "en" / name).read_text("utf-8"))
    path = QUIZZES / "zh" / name
    assert path.exists(), f"no Chinese quiz {path.relative_to(ROOT)}"
    chinese = json.loads(path.read_text("utf-8"))
    if name == "ui.json":
        assert chinese.keys() == english.keys()
        return
    assert skeleton(chinese) == skeleton(english), (
        f"{name}: ids, answers or tolerances differ from the English quiz"
    )
    texts = json.dumps(chinese, ensure_ascii=False)
    assert len(re.findall("[\u4e00-\u9fff]", texts)) > 100


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{\w*\}", text))


def test_every_control_text_of_the_package_has_a_chinese_translation():
    catalogue = json.loads((ROOT / "mha/locale/zh.json").read_text("utf-8"))
    for text in [NOTE, *LABELS.values()]:
        assert text in catalogue, f"mha/locale/zh.json lacks {text!r}"
    for english, chinese in catalogue.items():
        assert chinese.strip(), english
        assert placeholders(chinese) == placeholders(english), english


def test_set_language_switches_the_texts_and_remembers_what_was_missing():
    try:
        i18n.set_language("zh")
        assert i18n.tr(NOTE) != NOTE and re.search("[\u4e00-\u9fff]", i18n.tr(NOTE))
        assert i18n.tr("a text nobody translated") == "a text nobody translated"
        assert "a text nobody translated" in i18n.missing()
        with pytest.raises(ValueError, match="language must be one of"):
            i18n.set_language("fr")
    finally:
        i18n.set_language("en")
        i18n._missing.clear()
    assert i18n.tr(NOTE) == NOTE


def test_the_pages_workflow_publishes_the_chinese_notebooks_for_colab():
    import yaml

    workflow = yaml.safe_load((ROOT / ".github/workflows/book.yml").read_text("utf-8"))
    upload = next(
        s
        for s in workflow["jobs"]["build"]["steps"]
        if s.get("uses", "").startswith("actions/upload-artifact")
    )
    push = workflow["jobs"]["colab"]["steps"][-1]["run"]
    for folder in ("chapters", "exercises", "solutions"):
        assert f"_build/publish/zh/{folder}/*.ipynb" in upload["with"]["path"]
        assert f"zh/{folder}" in push


def test_a_glued_word_reads_in_the_page_language(monkeypatch):
    """Words the code glues into the prose are translated when the catalogue has
    them; other strings (names, labels) stay as they are and are not reported."""
    from mha import notebook

    shown = {}
    monkeypatch.setitem(
        __import__("sys").modules,
        "myst_nb",
        type(
            "M", (), {"glue": staticmethod(lambda n, v, display: shown.update({n: v}))}
        ),
    )
    try:
        i18n.set_language("zh")
        notebook.glue("a", "none")
        notebook.glue("b", "L0 H1 (previous-token, 0.62)")
        notebook.glue("c", 0.5)
        assert shown == {"a": "无", "b": "L0 H1 (previous-token, 0.62)", "c": 0.5}
        assert not i18n.missing()
    finally:
        i18n.set_language("en")
