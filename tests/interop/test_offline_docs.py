"""``/api/v3.0/docs`` and ``/redoc`` render in headless Debian Chromium with every non-local request refused.

A plant network often has no internet; FastAPI's default pages fetch Swagger UI from a CDN and
stay blank there. Playwright drives the system ``chromium`` (never ``playwright install``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.interop.conftest import PREFIX
from tests.peers import missing_peer

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        missing_peer("Debian chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _offline_page(browser: Browser, origin: str) -> tuple[Page, list[str]]:
    """A page whose requests to anything but ``origin`` are aborted and recorded."""
    page = browser.new_page()
    leaving: list[str] = []

    def only_local(route: Route) -> None:
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            leaving.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    return page, leaving


def test_swagger_ui_lists_the_operations_without_network(browser: Browser, live_api: str) -> None:
    page, leaving = _offline_page(browser, live_api)
    page.goto(f"{live_api}{PREFIX}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert len(operations) > 20
    assert any(path.startswith("/api/v3.0/shells") for path in (p.replace("\u200b", "") for p in operations))
    assert leaving == []
    page.close()


def test_redoc_renders_the_api_without_network(browser: Browser, live_api: str) -> None:
    page, leaving = _offline_page(browser, live_api)
    page.goto(f"{live_api}{PREFIX}/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "twinbridge AAS API" in page.locator("h1").first.inner_text()
    assert page.locator("[data-section-id^='operation/']").count() > 20
    assert leaving == []
    page.close()
