"""Browser-test fixtures: one Chromium per session, a fresh stand-in stack and page per test.

Each test gets the unpacked package behind :class:`~tests.standins.ui_stack.UiStack`
(Microsoft, splunkd with the app's REST handlers, Splunk Web) and a page whose
:class:`~tests.ui.browser.Watch` must end empty: no JavaScript error, no failed request
but the listed Splunk Web ones and those the test provoked, and no typed secret in any
REST answer the page read or in the handlers' logs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import app_dir, splunk_python  # noqa: F401 (shared fixtures)
from tests.standins.ui_stack import UiStack
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, Watch, new_page

if TYPE_CHECKING:
    from playwright.sync_api import Page

playwright_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Session:
    """What a test drives: the stack, the page, its watch, and the secrets it typed."""

    ui: UiStack
    page: Page
    watch: Watch
    shots: Path | None
    secrets: list[str] = field(default_factory=list)

    def open(self, view: str, tab: str | None = None) -> None:
        assert self.ui.web is not None
        url = self.ui.web.page_url(view) + (f"?tab={tab}" if tab else "")
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")  # the form's own GETs answered before a test types


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it as root)")
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def session(
    browser: object,
    app_dir: Path,  # noqa: F811 (the e2e fixture, imported above)
    splunk_python: str,  # noqa: F811
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Session]:
    shots_option = request.config.getoption("--screenshots")
    shots = Path(shots_option) if shots_option else None
    watch = Watch()
    with UiStack(app_dir, tmp_path / "ui", splunk_python) as ui:
        page = new_page(browser, watch)
        current = Session(ui, page, watch, shots)
        try:
            yield current
        finally:
            page.close()
        assert not watch.problems, "the pages had problems:\n" + "\n".join(watch.problems)
        logs = ui.splunk_home / "var" / "log"
        for secret in current.secrets:
            assert not any(secret.encode() in body for body in watch.bodies), "a typed secret came back from REST"
            for log in logs.rglob("*"):
                if log.is_file():
                    assert secret not in log.read_text(errors="replace"), f"a typed secret is in {log}"
    shutil.rmtree(tmp_path / "ui", ignore_errors=True)
