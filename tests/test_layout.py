"""Every page of the built book reads at a 1280 px window, as STYLE.md asks: no code
cell or printed output wider than its column (a cut-off line hides the shape comments
and the ends of error messages), no figure shown under 60 % of its natural width (its
text would be shrunk below the body's), and no display equation wider than the column.

Each failure names the page and the element. Collapsed inputs (``hide-input``) are
opened first: a reader who opens one must be able to read it too. Only what is shown
is measured: the frames of a static figure that sit in hidden tabs are not.
"""

from __future__ import annotations

import pytest
from browsing import Visit
from conftest import both_editions
from playwright.sync_api import Page

WIDTH = 1280  # the window the book is laid out for (STYLE.md)
MIN_FIGURE_SHARE = 0.6  # a figure shown smaller has text below the body's size

# Waits until MathJax has typeset the page and every visible image has loaded.
SETTLE = """async () => {
  document.querySelectorAll('.bd-article details').forEach(d => { d.open = true; });
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const images = [...document.querySelectorAll('.bd-article img')];
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done);
  })));
}"""

# Returns one line per problem; an empty list when the page fits its column.
MEASURE = """(minShare) => {
  const problems = [];
  const article = document.querySelector('.bd-article') || document.body;
  const shown = el => el.getClientRects().length > 0 && el.clientWidth > 0;
  const cells = [...article.querySelectorAll('div.cell')];
  const where = el => {
    const cell = el.closest('div.cell');
    if (cell) {
      const part = el.closest('.cell_output') ? 'output' : 'input';
      return `code cell ${cells.indexOf(cell) + 1} (${part})`;
    }
    return 'code block';
  };
  for (const pre of article.querySelectorAll('pre')) {
    if (!shown(pre) || pre.scrollWidth <= pre.clientWidth + 1) continue;
    const lines = pre.textContent.split('\\n');
    const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
    problems.push(
      `${where(pre)}: ${pre.scrollWidth} px of text in ${pre.clientWidth} px; ` +
      `longest line (${longest.length} chars): ${JSON.stringify(longest.trim())}`);
  }
  for (const img of article.querySelectorAll('img')) {
    if (!shown(img) || !img.naturalWidth) continue;
    const share = img.clientWidth / img.naturalWidth;
    if (share >= minShare) continue;
    const figure = img.closest('figure');
    const name = (figure && figure.id) || img.alt || img.src.split('/').pop();
    problems.push(
      `figure ${JSON.stringify(name.slice(0, 60))}: shown at ` +
      `${Math.round(100 * share)} % of its natural width ` +
      `(${img.naturalWidth} px drawn, ${img.clientWidth} px shown)`);
  }
  for (const box of article.querySelectorAll('mjx-container[display="true"]')) {
    if (!shown(box)) continue;
    const math = box.querySelector('mjx-math') || box;
    const column = box.parentElement.clientWidth;
    const wide = Math.max(math.getBoundingClientRect().width, box.scrollWidth);
    if (wide <= column + 1) continue;
    const holder = box.closest('div.math, .math');
    const label = (holder && holder.id) || box.textContent.slice(0, 50);
    problems.push(
      `equation ${JSON.stringify(label)}: ${Math.round(wide)} px wide in a ` +
      `${column} px column`);
  }
  return problems;
}"""


def layout_problems(page: Page) -> list[str]:
    """What does not fit on the loaded ``page``, one line per element."""
    page.evaluate(SETTLE)
    return page.evaluate(MEASURE, MIN_FIGURE_SHARE)


@pytest.mark.parametrize("page", both_editions())
def test_page_fits_its_column(browser, site, page):
    visit = Visit(browser, f"{site}/{page}.html")
    try:
        assert visit.page.viewport_size["width"] == WIDTH
        problems = layout_problems(visit.page)
    finally:
        visit.page.close()
    assert not problems, f"{page} at {WIDTH} px:\n  " + "\n  ".join(problems)
