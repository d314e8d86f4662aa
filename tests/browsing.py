"""What the browser tests share: a quiet local web server, Chromium's flags, and one
page visit that records console errors and failed requests. The `site` and `browser`
fixtures in conftest.py are built from these."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page

# sphinx-book-theme logs this on a first visit with empty local storage (NOTES.md).
KNOWN_THEME_MESSAGE = "Got invalid theme mode"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output readable
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Base URL of `directory` served on a free loopback port."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


class Visit:
    """One page load, with every console error and failed request recorded."""

    def __init__(
        self,
        browser: Browser,
        url: str,
        color_scheme: str = "light",
        before_load: str | None = None,
    ) -> None:
        self.page: Page = browser.new_page(
            viewport={"width": 1280, "height": 900}, color_scheme=color_scheme
        )
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("requestfailed", lambda r: self.failed.append(f"failed {r.url}"))
        self.page.on(
            "response",
            lambda r: (
                self.failed.append(f"HTTP {r.status} {r.url}")
                if r.status >= 400
                else None
            ),
        )
        if before_load:  # e.g. a theme choice in localStorage, set before any script
            self.page.add_init_script(before_load)
        self.page.goto(url, wait_until="networkidle")

    def _console(self, message) -> None:
        if message.type == "error" and KNOWN_THEME_MESSAGE not in message.text:
            self.errors.append(message.text)
