"""Every built page passes axe-core's WCAG 2 A and AA rules in Chromium, in the light
and the dark theme; every image says what it shows; the saved widgets have names and
take the keyboard; the quiz at the end of each chapter gives feedback on the page; and
in dark mode figures and widgets stay readable (screenshots in
test-artifacts/screenshots/dark/, to look at).

axe-core is the npm package pinned in scripts/vendor_js.py, fetched into
node_modules/ for the tests only: it is injected into each page and never published.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browsing import Visit
from conftest import ARTIFACTS, HTML, ROOT, toc_pages

sys.path.insert(0, str(ROOT / "scripts"))
import vendor_js  # noqa: E402

from mha.quiz import ChoiceQuestion, NumberQuestion, display_order, load_quiz  # noqa: E402

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DARK = "localStorage.setItem('theme', 'dark'); localStorage.setItem('mode', 'dark');"
SCREENSHOTS = ARTIFACTS / "screenshots" / "dark"
CHAPTERS = [p for p in toc_pages() if re.match(r"chapters/\d\d_", p)]


@pytest.fixture(scope="module")
def axe_source() -> str:
    return vendor_js.ensure_test().read_text(encoding="utf-8")


def settle(page) -> None:
    """Wait until saved widgets have rendered and MathJax has typeset the page."""
    page.wait_for_function(
        """() => {
          const states = document.querySelectorAll(
            'script[type="application/vnd.jupyter.widget-view+json"]');
          const views = document.querySelectorAll('.jupyter-widgets, .widget-output');
          const math = !document.querySelector('div.math, span.math')
            || document.querySelector('mjx-container');
          return (states.length === 0 || views.length > 0) && math;
        }""",
        timeout=20_000,
    )
    page.wait_for_timeout(300)


def audit(page, axe_source: str) -> list[dict]:
    """axe-core's WCAG 2 A/AA violations on the loaded page."""
    page.add_script_tag(content=axe_source)
    return page.evaluate(
        """async (tags) => {
          const result = await axe.run(document, {
            runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
          return result.violations.map(v => ({
            rule: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '),
                                      html: n.html.slice(0, 160),
                                      summary: n.failureSummary}))}));
        }""",
        WCAG_TAGS,
    )


def describe(page_name: str, violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{page_name}: {v['rule']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}  {node['html']}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


# Dark mode changes the theme's colours, not the page's structure, so one page of
# each kind is audited in it (every page takes about 5 s on 2 busy cores).
DARK_PAGES = [
    "intro",
    "chapters/01_soft_lookup",  # figures
    "chapters/05_mask",  # tables, the quiz
    "chapters/08_head_explorer",  # the most widgets
    "exercises/01_soft_lookup",
    "solutions/01_soft_lookup",
    "glossary",
    "references",
]
# The Chinese edition has the English pages' structure and controls: a sample of its
# kinds of page is audited (its language, its Chinese controls and quiz).
ZH_PAGES = [
    "zh/intro",
    "zh/chapters/02_split",
    "zh/chapters/08_head_explorer",
    "zh/chapters/11_variants",
    "zh/exercises/05_mask",
    "zh/solutions/09_what_heads_learn",
    "zh/glossary",
]
AUDITS = [(page, "light") for page in toc_pages() + ZH_PAGES] + [
    (page, "dark") for page in DARK_PAGES
]


@pytest.mark.parametrize(("page", "theme"), AUDITS, ids=[f"{p}-{t}" for p, t in AUDITS])
def test_page_has_no_wcag_violations(browser, site, axe_source, page, theme):
    visit = Visit(
        browser,
        f"{site}/{page}.html",
        color_scheme=theme,
        before_load=DARK if theme == "dark" else None,
    )
    try:
        settle(visit.page)
        if theme == "dark":
            assert (
                visit.page.evaluate("document.documentElement.dataset.theme") == "dark"
            )
        violations = audit(visit.page, axe_source)
        assert not violations, "\n" + describe(f"{page} ({theme})", violations)
    finally:
        visit.page.close()


def test_the_audit_can_fail(browser, axe_source):
    """A page with a nameless button and an image without alt text fails."""
    page = browser.new_page()
    try:
        page.set_content(
            "<!doctype html><html lang='en'><head><title>t</title></head><body>"
            "<main><button></button><img src='data:,'></main></body></html>"
        )
        rules = {v["rule"] for v in audit(page, axe_source)}
        assert {"button-name", "image-alt"} <= rules, rules
    finally:
        page.close()


# --- images: alt text that says what it shows -------------------------------------


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append({k: v or "" for k, v in attrs})


FILE_NAME = re.compile(r"^[\w./-]*\.(png|jpe?g|svg|gif)$|^[0-9a-f]{16,}", re.I)


def alt_problem(image: dict[str, str]) -> str | None:
    """Why an <img>'s alt text does not describe it; None when it does.

    Alt text must be there, must not be a file name or hash (what a writer falls
    back to), and must be a phrase, not one or two words, except for a logo named
    as such (the theme's launch buttons: "Colab logo"). Empty alt is allowed only on
    images marked decorative with role="presentation".
    """
    alt = image.get("alt")
    if alt is None:
        return "no alt attribute"
    if alt.strip() == "":
        if image.get("role") == "presentation":
            return None
        return "empty alt on an image that is not marked decorative"
    if FILE_NAME.search(alt.strip()):
        return f"alt {alt!r} is a file name, not what the image shows"
    if len(alt.split()) < 3 and not alt.lower().endswith(" logo"):
        return f"alt {alt!r} does not say what the image shows"
    return None


def test_alt_checker_can_fail():
    assert alt_problem({"src": "a.png"}) == "no alt attribute"
    assert "file name" in alt_problem({"src": "x", "alt": "3f5a9c0d1e2b4a6f.png"})
    assert "file name" in alt_problem({"src": "x", "alt": "../_images/ab12.png"})
    assert "does not say" in alt_problem({"src": "x.png", "alt": "figure"})
    assert "not marked decorative" in alt_problem({"src": "x.png", "alt": ""})
    assert alt_problem({"src": "x.png", "alt": "", "role": "presentation"}) is None
    assert alt_problem({"src": "x.png", "alt": "Colab logo"}) is None
    described = {"src": "x.png", "alt": "Keys as solid arrows, queries dashed"}
    assert alt_problem(described) is None


def test_every_image_of_the_book_has_meaningful_alt_text(built_book):
    assert built_book.returncode == 0, "the book did not build"
    problems = []
    for page in toc_pages():
        parser = Images()
        parser.feed((HTML / f"{page}.html").read_text(encoding="utf-8"))
        for image in parser.images:
            problem = alt_problem(image)
            if problem:
                problems.append(f"{page}: {image.get('src', '')[:60]}: {problem}")
    assert not problems, "\n".join(problems)


def test_rendered_widget_images_have_alt_text(browser, site):
    """Widget images are drawn by JavaScript, so they are checked in the browser."""
    problems = []
    for page in toc_pages():
        if "application/vnd.jupyter.widget-state+json" not in (
            HTML / f"{page}.html"
        ).read_text(encoding="utf-8"):
            continue
        visit = Visit(browser, f"{site}/{page}.html")
        try:
            settle(visit.page)
            for image in visit.page.evaluate(
                """() => Array.from(document.querySelectorAll('.jupyter-widgets img'))
                     .map(i => ({src: i.src.slice(0, 40), alt: i.getAttribute('alt'),
                                 role: i.getAttribute('role') || ''}))"""
            ):
                problem = alt_problem(image)
                if problem:
                    problems.append(f"{page}: widget image {image['src']}: {problem}")
        finally:
            visit.page.close()
    assert not problems, "\n".join(problems)


# --- controls: names and the keyboard ---------------------------------------------


def widget_pages() -> list[str]:
    return [
        p
        for p in toc_pages()
        if "application/vnd.jupyter.widget-state+json"
        in (HTML / f"{p}.html").read_text(encoding="utf-8")
    ]


def test_every_widget_control_has_a_name_and_is_reachable_by_tab(browser, site):
    problems = []
    pages = widget_pages()
    assert pages, "no page carries widget state"
    for page in pages:
        visit = Visit(browser, f"{site}/{page}.html")
        try:
            settle(visit.page)
            controls = visit.page.evaluate(
                """() => Array.from(document.querySelectorAll(
                     '.jupyter-widgets input, .jupyter-widgets select,'
                     + ' .jupyter-widgets button, .jupyter-widgets [role=slider],'
                     + ' .jupyter-widgets [role=tab]'))
                   .filter(e => e.offsetParent !== null)
                   .map(e => ({tag: e.tagName, role: e.getAttribute('role') || '',
                               name: (e.getAttribute('aria-label')
                                      || (e.labels && e.labels[0]
                                          && e.labels[0].textContent)
                                      || (e.getAttribute('aria-labelledby')
                                          && document.getElementById(
                                               e.getAttribute('aria-labelledby'))
                                          && document.getElementById(
                                               e.getAttribute('aria-labelledby'))
                                             .textContent)
                                      || e.textContent || '').trim(),
                               tabindex: e.tabIndex,
                               disabled: e.disabled || false}))"""
            )
            for c in controls:
                if c["disabled"]:
                    continue
                if not c["name"]:
                    problems.append(f"{page}: {c['tag']} {c['role']} has no name")
                if c["tabindex"] < 0 and c["role"] != "tab":
                    problems.append(f"{page}: {c['tag']} {c['role']} is not tabbable")
        finally:
            visit.page.close()
    assert not problems, "\n".join(problems)


def test_a_slider_handle_moves_with_the_arrow_keys(browser, site):
    visit = Visit(browser, f"{site}/chapters/02_split.html")
    page = visit.page
    try:
        settle(page)
        handle = page.locator(".jupyter-widgets [role=slider]").first
        handle.wait_for(timeout=10_000)
        assert handle.get_attribute("aria-label") or handle.get_attribute(
            "aria-labelledby"
        )
        before = handle.get_attribute("aria-valuetext") or handle.get_attribute(
            "aria-valuenow"
        )
        handle.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(200)
        after = handle.get_attribute("aria-valuetext") or handle.get_attribute(
            "aria-valuenow"
        )
        assert after != before, "the slider did not move from the keyboard"
    finally:
        page.close()


# --- the chapter quizzes on the built pages ---------------------------------------


def quiz_of(chapter: str):
    """The quiz a page shows: a page under zh/ shows the Chinese one."""
    return load_quiz(Path(chapter).name, "zh" if chapter.startswith("zh/") else "en")


def first_of_each_kind(
    chapter: str,
) -> tuple[ChoiceQuestion | None, NumberQuestion | None]:
    quiz = quiz_of(chapter)
    choice = next((q for q in quiz.questions if isinstance(q, ChoiceQuestion)), None)
    number = next((q for q in quiz.questions if isinstance(q, NumberQuestion)), None)
    return choice, number


# Every English chapter's quiz, and two of the Chinese edition's.
QUIZ_PAGES = CHAPTERS + ["zh/chapters/04_score", "zh/chapters/10_cost"]


@pytest.mark.parametrize("chapter", QUIZ_PAGES)
def test_the_chapter_quiz_answers_on_the_page(browser, site, chapter):
    visit = Visit(browser, f"{site}/{chapter}.html")
    page = visit.page
    ui = quiz_of(chapter).ui
    try:
        quiz = page.locator(".mha-quiz")
        assert quiz.count() == 1, "no quiz on the page"
        assert page.locator(".mha-quiz").evaluate(
            "e => !e.closest('.cell').querySelector('.cell_input')"
        ), "the quiz cell shows its code"
        choice, number = first_of_each_kind(chapter)
        question = choice or number
        item = quiz.locator(f'.mha-quiz-question[data-id="{question.id}"]')
        feedback = item.locator(".mha-quiz-feedback")
        if choice is not None:  # one wrong answer, then the right one
            wrong = next(
                j
                for j in display_order(Path(chapter).name, choice)
                if not choice.options[j].correct
            )
            right = next(j for j, o in enumerate(choice.options) if o.correct)
            item.locator(f'button[data-index="{wrong}"]').click()
            assert feedback.get_attribute("data-state") == "wrong"
            shown = feedback.inner_text()
            assert shown.startswith(ui["wrong"])
            assert plain(choice.options[wrong].feedback)[:40] in plain(shown)
            item.locator(f'button[data-index="{right}"]').click()
            assert feedback.get_attribute("data-state") == "right"
            assert plain(choice.options[right].feedback)[:40] in plain(
                feedback.inner_text()
            )
        if number is not None:
            item = quiz.locator(f'.mha-quiz-question[data-id="{number.id}"]')
            box, feedback = item.locator("input"), item.locator(".mha-quiz-feedback")
            slip = number.wrong[0]
            box.fill(f"{slip.value:g}")
            box.press("Enter")
            assert feedback.get_attribute("data-state") == "wrong"
            assert plain(slip.feedback)[:40] in plain(feedback.inner_text())
            box.fill(f"{number.answer:g}")
            item.get_by_role("button", name=ui["check"]).click()
            assert feedback.get_attribute("data-state") == "right"
        assert not visit.errors, visit.errors
        assert not visit.failed, visit.failed
    finally:
        page.close()


def plain(text: str) -> str:
    """Feedback as the page shows it: no markup, code spans as their text."""
    text = re.sub(r"</?\w+>", "", text.replace("`", ""))
    return " ".join(text.split())


# --- dark mode: figures and widgets stay readable ---------------------------------


def luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize(
    "page",
    ["chapters/01_soft_lookup", "chapters/02_split", "chapters/08_head_explorer"],
)
def test_dark_mode_keeps_figures_and_widgets_readable(browser, site, page):
    visit = Visit(browser, f"{site}/{page}.html", color_scheme="dark", before_load=DARK)
    p = visit.page
    try:
        settle(p)
        assert p.evaluate("document.documentElement.dataset.theme") == "dark"
        figures = p.evaluate(
            """() => Array.from(document.querySelectorAll(
                   '.cell_output img, figure img')).map(i => {
                 const s = getComputedStyle(i);
                 return {bg: s.backgroundColor, src: i.src.slice(-20)}; })"""
        )
        assert figures, "no figure images on the page"
        for fig in figures:  # a transparent PNG's black text needs a light ground
            rgba = [float(x) for x in re.findall(r"[\d.]+", fig["bg"])]
            assert len(rgba) == 3 or rgba[3] == 1, f"transparent behind {fig['src']}"
            # matplotlib draws dark text for a white page: against this ground it
            # must keep at least AAA's 7:1 (the theme dims figures a little).
            assert contrast([0, 0, 0], rgba) >= 7, f"dark ground behind {fig['src']}"
        labels = p.evaluate(
            """() => Array.from(document.querySelectorAll(
                   '.jupyter-widgets .widget-label, .jupyter-widgets .widget-readout,'
                   + ' .jupyter-widgets .lm-TabBar-tabLabel,'
                   + ' .jupyter-widgets .p-TabBar-tabLabel'))
               .filter(e => e.offsetParent !== null && e.textContent.trim())
               .map(e => {
                 let bg = 'rgba(0, 0, 0, 0)', n = e;
                 while (n && /rgba\\(.*, 0\\)$/.test(bg)) {
                   bg = getComputedStyle(n).backgroundColor; n = n.parentElement; }
                 if (/rgba\\(.*, 0\\)$/.test(bg)) {
                   bg = getComputedStyle(document.body).backgroundColor; }
                 return {text: e.textContent.trim(), fg: getComputedStyle(e).color, bg};
               })"""
        )
        for label in labels:
            fg = [float(x) for x in re.findall(r"[\d.]+", label["fg"])]
            bg = [float(x) for x in re.findall(r"[\d.]+", label["bg"])]
            assert contrast(fg, bg) >= 4.5, label
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        p.screenshot(
            path=SCREENSHOTS / (page.replace("/", "_") + ".png"), full_page=True
        )
        assert not visit.errors, visit.errors
    finally:
        p.close()


# --- the fixes themselves, on small inputs ----------------------------------------

sys.path.insert(0, str(ROOT / "_ext"))
import accessibility  # noqa: E402


def test_a_captioned_figure_gets_its_caption_as_alt_text():
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    doc = new_document("<test>", get_default_settings(Parser))
    figure = nodes.figure("", nodes.image(uri="a.png"))
    figure += nodes.caption(
        "", "", nodes.Text("Keys are "), nodes.emphasis("", "solid")
    )
    doc += figure
    doc += nodes.image(uri="b.png", alt="Heat map of the weights")
    doc += nodes.image(uri="c.png")
    assert accessibility.fill_figure_alt(doc) == 1
    assert figure[0]["alt"] == "Keys are solid"
    assert [i["uri"] for i in accessibility.images_without_alt(doc)] == ["c.png"]


def test_a_nameless_sidebar_toggle_is_named_after_its_part():
    html = (
        '<ul><li class="toctree-l1 has-children"><a href="p.html">Seeing the heads</a>'
        '<details><summary><span class="toctree-toggle" role="presentation"><i></i>'
        "</span></summary><ul></ul></details></li>"
        "<li><details><summary>Has text</summary></details></li></ul>"
    )
    out = accessibility.label_summaries(html)
    assert '<span class="visually-hidden">Sections of Seeing the heads</span>' in out
    assert "<summary>Has text</summary>" in out
    assert accessibility.label_summaries("<p>no toggles</p>") == "<p>no toggles</p>"
    zh = accessibility.label_summaries(html, accessibility.summary_labels("zh_CN"))
    assert '<span class="visually-hidden">“Seeing the heads”的小节</span>' in zh
    assert accessibility.summary_labels(None) == accessibility.summary_labels("fr")
    assert accessibility.summary_labels("en")[0] == "Sections of {}"


def test_the_body_fixes_name_toggles_by_their_text_and_use_list_items():
    body = (
        '<summary aria-label="Toggle hidden content"><p>Show code cell source</p>'
        '</summary><div role="list"><div class="citation" role="doc-biblioentry">'
    )
    out = accessibility.fix_body(body)
    assert "aria-label" not in out and "doc-biblioentry" not in out
    assert 'role="listitem"' in out
