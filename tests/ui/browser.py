"""Headless Chromium on the setup pages, with every JavaScript error and failed request caught.

Why this file exists: the browser tests must fail on any error a page shows in the
console or any request that fails, except the few that only Splunk Web itself would
answer (:data:`SPLUNK_WEB_ONLY`). :class:`Watch` records them for one page; the test
fixture asserts none is left at the end. :class:`Form` fills UCC's controls by field
name (``data-name``) the way a person does: typing, picking from a dropdown, clicking.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, Response

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own browser download cannot work here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What the pages ask of Splunk Web itself, that the stand-in leaves unanswered (404), and why that is harmless.
SPLUNK_WEB_ONLY = {
    r"/static/@\d+/build/api/get_theme\.js$": "Splunk Web's theme API: without it UCC uses its default theme",
    r"/static/@\d+/build/api/layout\.js$": "Splunk Web's Splunk bar and app bar: without it the page has no bar",
    r"/favicon\.ico$": "Splunk Web's icon",
}
# Console lines that only follow from those 404s.
SPLUNK_WEB_ONLY_CONSOLE = ("Unable to load layout.",)
VIEWPORT = {"width": 1280, "height": 900}


def splunk_web_only(url: str) -> bool:
    return any(re.search(pattern, url) for pattern in SPLUNK_WEB_ONLY)


@dataclass
class Watch:
    """Problems seen on one page: JS errors, console errors, failed or >= 400 requests."""

    problems: list[str] = field(default_factory=list)
    expected: list[tuple[str, str, int]] = field(default_factory=list)  # (method, url regex, status)
    bodies: list[bytes] = field(default_factory=list)  # every REST answer the page read

    def attach(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.problems.append(f"JavaScript error: {error}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def expect(self, method: str, url_pattern: str, status: int) -> None:
        """A request this test provokes to fail (a refused save), not a problem."""
        self.expected.append((method, url_pattern, status))

    def _is_expected(self, method: str, url: str, status: int) -> bool:
        return any(m == method and re.search(p, url) and s == status for m, p, s in self.expected)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = str(message.location.get("url", ""))
        if message.text in SPLUNK_WEB_ONLY_CONSOLE or splunk_web_only(url):
            return
        if message.text.startswith("Failed to load resource"):
            return  # the failed response itself is judged in _response
        self.problems.append(f"console error: {message.text} ({url})")

    def _failed(self, request: Request) -> None:
        if not splunk_web_only(request.url):
            self.problems.append(f"request failed: {request.method} {request.url} ({request.failure})")

    def _response(self, response: Response) -> None:
        url, method = response.url, response.request.method
        if "/splunkd/__raw/" in url:
            with contextlib.suppress(Exception):  # a body the page abandoned cannot hold a secret it read
                self.bodies.append(response.body())
        if response.status < 400 or splunk_web_only(url) or self._is_expected(method, url, response.status):
            return
        self.problems.append(f"HTTP {response.status}: {method} {url}")


class Form:
    """A UCC form (a dialog or a settings tab): its controls by field name."""

    def __init__(self, root: Locator) -> None:
        self.root = root

    def field(self, name: str) -> Locator:
        return self.root.locator(f'[data-name="{name}"]')

    def fill(self, name: str, value: str) -> None:
        control = self.field(name).locator("input:visible, textarea:visible").first
        control.fill(value)

    def value(self, name: str) -> str:
        return str(self.field(name).locator("input:visible, textarea:visible").first.input_value())

    def pick(self, name: str, label: str) -> None:
        self.field(name).locator("button").first.click()
        self.root.page.get_by_role("option", name=label, exact=True).click()

    def choose(self, name: str, label: str) -> None:
        self.field(name).locator('[data-test="option"]', has_text=label).click()

    def toggle(self, name: str) -> None:
        self.field(name).locator("button").first.click()

    def visible(self, name: str) -> bool:
        return bool(self.field(name).is_visible())

    def message(self) -> str:
        """The error banner UCC shows at the top of the form."""
        banner = self.root.locator('[data-test="message"]:visible, [data-test="msg-markdown"]:visible').first
        banner.wait_for(state="visible", timeout=30_000)
        lines = str(banner.inner_text()).splitlines()
        return "\n".join(lines[1:] if lines and lines[0] in ("Alert", "Error", "Warning") else lines)  # icon label


def new_page(browser: Browser, watch: Watch) -> Page:
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(30_000)
    watch.attach(page)
    return page


def screenshot(page: Page, directory: Path | None, name: str, secrets: tuple[str, ...] = ()) -> None:
    """Write docs/images/<name>.png (only when asked), after proving no secret is on screen."""
    texts: Any = page.evaluate(
        "() => [document.body.innerText, ...Array.from("
        "document.querySelectorAll('input:not([type=password]), textarea'), e => e.value)]"
    )
    for secret in secrets:
        assert not any(secret in text for text in texts), f"a secret is on the page about to be shot as {name}"
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(directory / f"{name}.png"))
