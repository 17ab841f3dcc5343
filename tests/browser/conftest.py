"""The browser every browser test uses: Debian's Chromium, headless, driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import need

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    need(shutil.which(CHROMIUM) is not None, "Debian's chromium (make system-deps)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture
def zoned_context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A desktop browser in the test module's ``ZONE`` (far from UTC, so that local and UTC
    times cannot be mixed up), taking downloads."""
    made = browser.new_context(
        viewport={"width": 1280, "height": 800},
        timezone_id=request.module.ZONE,
        accept_downloads=True,
    )
    yield made
    made.close()
