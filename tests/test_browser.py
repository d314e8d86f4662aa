"""Every page of the built book, served on a local port, loads in headless Chromium
with no console errors and no failed requests (so nothing is fetched from elsewhere),
and widgets render from the state the build saved. Screenshots of Part I chapters go
to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
import torch
from browsing import Visit
from conftest import ARTIFACTS, HTML, ROOT, both_editions, toc_pages

from mha import explorer as ex

SCREENSHOTS = ARTIFACTS / "screenshots"


# Full-page screenshots for a look at the pages: every chapter of Part I, and two
# chapters of the Chinese edition (which must show real CJK glyphs, not boxes).
SCREENSHOT_PAGES = {
    *(p for p in toc_pages() if p.startswith("chapters/0")),
    "zh/chapters/02_split",
    "zh/chapters/08_head_explorer",
}


@pytest.mark.parametrize("page", both_editions())
def test_page_loads_without_errors_or_outside_requests(browser, site, page):
    visit = Visit(browser, f"{site}/{page}.html")
    try:
        assert not visit.failed, visit.failed
        assert not visit.errors, visit.errors
        assert visit.page.locator("h1").count() >= 1
        if page in SCREENSHOT_PAGES:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = page.replace("/", "_") + ".png"
            visit.page.screenshot(path=SCREENSHOTS / name, full_page=True)
        # Math is typeset by the book's own MathJax, not left as raw TeX.
        if visit.page.locator("div.math").count():
            assert visit.page.locator("mjx-container").count() > 0
    finally:
        visit.page.close()


def widget_pages() -> list[str]:
    """Pages whose HTML embeds saved widget state."""
    return [
        p
        for p in toc_pages()
        if (HTML / f"{p}.html").exists()
        and "application/vnd.jupyter.widget-state+json"
        in (HTML / f"{p}.html").read_text(encoding="utf-8")
    ]


def test_some_pages_carry_widget_state(built_book):
    assert widget_pages(), "no page embeds widget state: sliders would be blank"


@pytest.mark.parametrize(
    "page", ["chapters/02_split", "chapters/04_score", "chapters/11_variants"]
)
def test_saved_widgets_render_without_a_kernel(browser, site, page):
    assert page in widget_pages(), f"{page} holds no widget state"
    visit = Visit(browser, f"{site}/{page}.html")
    try:
        sliders = visit.page.locator(".widget-slider, .jupyter-widget-slider")
        sliders.first.wait_for(timeout=10_000)
        assert sliders.count() >= 1
        assert not visit.errors, visit.errors
    finally:
        visit.page.close()


# Every control a reader can see in a page's content: ipywidgets' sliders (their
# noUiSlider handles), dropdowns and toggle buttons, and native form controls.
CONTROLS = (
    ".bd-article .noUi-handle, .bd-article select, "
    ".bd-article .widget-toggle-buttons, .bd-article input[type=range], "
    ".bd-article fieldset:has(input[type=radio])"
)
# What the control is called on the page, for the failure message.
CONTROL_LABEL = """el => {
  const box = el.closest('.widget-inline-hbox, .jupyter-widgets, span, fieldset');
  const label = box && box.querySelector('.widget-label, label, legend');
  return (label ? label.textContent : el.getAttribute('name') || el.tagName).trim();
}"""


def operate(page, control) -> str:
    """Move one control by one step; return what it shows before (for the
    message). Sliders step right, or left at their end."""
    kind = control.evaluate(
        "el => el.matches('.noUi-handle') ? 'handle' : el.tagName.toLowerCase()"
    )
    if kind == "select":
        count = control.locator("option").count()
        current = control.evaluate("el => el.selectedIndex")
        control.select_option(index=(current + 1) % count)
    elif kind in ("handle", "input"):
        now, top = control.evaluate(
            "el => el.matches('.noUi-handle') ? [el.getAttribute('aria-valuenow'),"
            " el.getAttribute('aria-valuemax')] : [el.value, el.max]"
        )
        control.focus()
        page.keyboard.press("ArrowLeft" if float(now) >= float(top) else "ArrowRight")
    elif kind == "fieldset":  # radio buttons: pick the first one not chosen
        control.locator("input[type=radio]:not(:checked)").first.check()
    else:  # toggle buttons: press one that is not pressed
        control.locator("button:not(.mod-active)").first.click()
    page.wait_for_timeout(400)  # the browser redraws; nothing runs in Python
    return kind


def has_controls(page: str) -> bool:
    """Whether the page's notebook shows controls: static frames or the explorer
    (a Chinese page has its English twin's code)."""
    source = ROOT / f"{page.removeprefix('zh/')}.ipynb"
    if not source.exists():
        return False
    text = source.read_text(encoding="utf-8")
    return any(call in text for call in ("frames(", "page_explorer("))


@pytest.mark.parametrize("page", both_editions())
def test_every_control_changes_what_it_controls(browser, site, page):
    """On the static page, with no kernel: move every control and compare a picture
    of its output area, the control itself masked, before and after. A control whose
    move changes nothing visible (a dead Python callback) fails, by name."""
    visit = Visit(browser, f"{site}/{page}.html")
    try:
        controls = visit.page.locator(CONTROLS)
        if has_controls(page):
            controls.first.wait_for(timeout=15_000)
            visit.page.wait_for_timeout(500)
        dead, moved = [], 0
        for i in range(controls.count()):
            control = controls.nth(i)
            if not control.is_visible():
                continue
            label = control.evaluate(CONTROL_LABEL)
            area = control.locator(
                "xpath=ancestor::div[contains(@class,'cell_output')][1]"
            )
            box = control.locator(
                "xpath=ancestor-or-self::*[contains(@class,'widget-inline-hbox') "
                "or self::span or self::fieldset][1]"
            )
            area.scroll_into_view_if_needed()
            before = area.screenshot(mask=[box], animations="disabled")
            kind = operate(visit.page, control)
            after = area.screenshot(mask=[box], animations="disabled")
            moved += 1
            if before == after:
                dead.append(f"{label!r} ({kind})")
        assert (moved > 0) == has_controls(page), f"{page}: {moved} controls moved"
        assert not dead, f"{page}: these controls change nothing visible: {dead}"
        assert not visit.errors, visit.errors
    finally:
        visit.page.close()


EXPLORER_SETTINGS = [
    {},
    {"num_heads": 1, "mask": "causal"},
    {"num_heads": 64, "sentence": 3, "seq_len": 5, "temperature": 0.25,
     "mask": "padding"},
    {"num_heads": 4, "sentence": 2, "seq_len": 2, "temperature": 4.0, "mask": "none"},
    {"num_heads": 16, "sentence": 4, "seq_len": 12, "temperature": 2.0,
     "mask": "causal"},
]  # fmt: skip


def test_the_page_explorer_computes_what_mha_computes(browser, site):
    """The in-page explorer's numbers, for several settings of its five controls,
    equal mha.explorer.compute_view's to 1e-5: the page and the package cannot
    drift apart."""

    visit = Visit(browser, f"{site}/chapters/08_head_explorer.html")
    try:
        root = visit.page.locator(".mha-explorer[data-ready]")
        root.wait_for(timeout=15_000)
        worst = 0.0
        for setting in EXPLORER_SETTINGS:
            state = root.evaluate("(el, v) => el.mhaExplorer.set(v)", setting)
            v = state["view"]
            view = ex.View(
                v["num_heads"],
                ex.SENTENCES[v["sentence"]],
                v["seq_len"],
                v["temperature"],
                v["mask"],
            )
            expected = ex.compute_view(view)
            assert state["tokens"] == expected.tokens
            assert state["n_real"] == expected.n_real
            got = torch.tensor(state["weights"], dtype=torch.float64)
            assert got.shape == expected.weights.shape
            ceiling = torch.tensor(expected.max_entropy)
            for ours, theirs in [
                (got, expected.weights),
                (torch.tensor(state["entropy"]), expected.entropy),
                (torch.tensor(state["max_entropy"]), ceiling),
            ]:
                worst = max(worst, (ours - theirs.double()).abs().max().item())
        assert worst <= 1e-5, f"the page differs from mha by up to {worst:.2e}"
        print(f"largest difference from mha: {worst:.1e}")
        assert not visit.errors, visit.errors
    finally:
        visit.page.close()


# What every page loads alike, cached after the first: the theme's scripts, styles
# and fonts, MathJax and the widget manager (all under _static/) and the search
# index. Not counted below: the budget is for what a chapter adds.
def shared(url: str) -> bool:
    return "/_static/" in url or url.endswith("/searchindex.js")


PAGE_BUDGET = 3_000_000  # bytes


@pytest.mark.parametrize("page", [p for p in toc_pages() if p.startswith("chapters/")])
def test_a_chapter_page_weighs_at_most_3_mb(browser, site, page):
    """The HTML, images and scripts a chapter loads, the bundles every page shares
    left out (the total with them is printed too)."""
    visit = Visit(browser, f"{site}/{page}.html")
    try:
        sizes = visit.page.evaluate(
            """() => [performance.getEntriesByType('navigation')[0],
                      ...performance.getEntriesByType('resource')]
                     .map(e => [e.name, e.decodedBodySize])"""
        )
        counted = {url: size for url, size in sizes if not shared(url)}
        total = sum(counted.values())
        everything = sum(size for _, size in sizes)
        print(f"{page}: {total / 1e6:.2f} MB ({everything / 1e6:.2f} MB with shared)")
        assert total <= PAGE_BUDGET, (
            f"{page} loads {total / 1e6:.2f} MB, over 3 MB: "
            f"{sorted(counted.items(), key=lambda kv: -kv[1])[:5]}"
        )
    finally:
        visit.page.close()


# Draws two different Chinese characters in the page's own font and compares the
# pixels: with no CJK font both would come out as the same empty box ("tofu").
TOFU = """() => {
  const font = getComputedStyle(document.querySelector('.bd-article p')).font;
  const draw = (ch) => {
    const c = document.createElement('canvas'); c.width = 64; c.height = 64;
    const g = c.getContext('2d'); g.font = font.replace(/\\d+(\\.\\d+)?px/, '40px');
    g.fillText(ch, 8, 48); return Array.from(g.getImageData(0, 0, 64, 64).data);
  };
  const a = draw('注'), b = draw('意');
  return {inked: a.some(v => v > 0), differ: a.some((v, i) => v !== b[i])};
}"""


@pytest.mark.parametrize(
    "page", ["zh/chapters/02_split", "zh/chapters/08_head_explorer"]
)
def test_a_chinese_chapter_shows_real_glyphs_and_links_to_the_english(
    browser, site, page
):
    visit = Visit(browser, f"{site}/{page}.html")
    try:
        glyphs = visit.page.evaluate(TOFU)
        assert glyphs == {"inked": True, "differ": True}, (
            f"{page}: Chinese text renders as boxes: install a CJK font "
            f"(apt-get install fonts-noto-cjk)"
        )
        text = visit.page.locator(".bd-article").inner_text()
        han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
        assert han > 500, f"{page} has only {han} Chinese characters"
        visit.page.locator(".mha-edition a").click()
        visit.page.wait_for_load_state()
        assert visit.page.url.endswith(f"/{page.removeprefix('zh/')}.html")
        assert not visit.errors, visit.errors
    finally:
        visit.page.close()
