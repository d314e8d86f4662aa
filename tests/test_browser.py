"""Every page of the built book, served on a local port, loads in headless Chromium
with no console errors and no failed requests (so nothing is fetched from elsewhere),
and widgets render from the state the build saved. Screenshots of Part I chapters go
to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from browsing import Visit
from conftest import ARTIFACTS, HTML, toc_pages

SCREENSHOTS = ARTIFACTS / "screenshots"


@pytest.mark.parametrize("page", toc_pages())
def test_page_loads_without_errors_or_outside_requests(browser, site, page):
    visit = Visit(browser, f"{site}/{page}.html")
    try:
        assert not visit.failed, visit.failed
        assert not visit.errors, visit.errors
        assert visit.page.locator("h1").count() >= 1
        if page.startswith("chapters/0"):
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


@pytest.mark.parametrize("page", ["chapters/02_split", "chapters/04_score"])
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


SHOWN_FRAME = """() => {
  const tab = document.querySelector('.jupyter-widget-tab, .widget-tab');
  const pages = tab.querySelectorAll('.widget-tab-contents > *');
  const shown = Array.from(pages).filter(p => !p.classList.contains('lm-mod-hidden')
                                             && !p.classList.contains('p-mod-hidden'));
  const img = shown.length !== 1 ? null
    : (shown[0].tagName === 'IMG' ? shown[0] : shown[0].querySelector('img'));
  const selected = tab.querySelector('[role=tab][aria-selected=true]');
  return {src: img ? img.src : null, label: selected ? selected.textContent : null};
}"""


def test_head_count_control_changes_the_figure_without_a_kernel(browser, site):
    """The explorer's static control (a slider jslinked to a tab of pre-rendered
    frames) must switch frames in the published page, where no Python runs."""
    visit = Visit(browser, f"{site}/chapters/08_head_explorer.html")
    page = visit.page
    try:
        readout = page.locator(".widget-readout", has_text="heads").first
        readout.wait_for(timeout=10_000)
        slider = readout.locator(
            "xpath=ancestor::*[contains(@class,'widget-slider')][1]"
        )
        handle = slider.locator(".noUi-handle").first
        before = page.evaluate(SHOWN_FRAME)
        assert before["src"], "no frame is shown before the control moves"
        label_before = readout.text_content()
        handle.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(300)
        after = page.evaluate(SHOWN_FRAME)
        assert readout.text_content() != label_before, "the slider did not move"
        assert after["src"] and after["src"] != before["src"], (
            "the figure did not change"
        )
        assert after["label"] != before["label"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        slider.scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / "explorer_after_moving_heads.png")
        assert not visit.errors, visit.errors
        assert not visit.failed, visit.failed
    finally:
        page.close()
