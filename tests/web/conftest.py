"""The browser suite's fixtures: one real server (real workers) and one Debian Chromium for the whole session,
a fresh page per test that fails the test on any console error or uncaught page error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from tests.server.conftest import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Workers train on a shared 2-core machine: a run may queue for a few seconds before its first step.
expect.set_options(timeout=30_000)
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Every visible chart has been redrawn to fit its box (charts follow the viewport one animation frame later).
CHARTS_FIT = """() => [...document.querySelectorAll("figure.chart:not([hidden]) .uplot")]
    .every((u) => u.offsetWidth <= u.parentElement.clientWidth)"""


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the suite: its data dir caches the image judge, so only the first image run trains it."""
    yield from serve(tmp_path_factory.mktemp("web"), warm_workers=1, max_concurrent=3, max_runs_per_client=50)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A 1280×800 page on the server; console errors and page errors fail the test that caused them."""
    context = browser.new_context(viewport=DESKTOP, base_url=server)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    yield page
    context.close()
    assert not errors, "the page logged errors:\n" + "\n".join(errors)


@pytest.fixture
def stop_runs(server: str) -> Iterator[list[str]]:
    """Run ids a test started; stopped afterwards so they do not eat the shared CPUs of later tests."""
    ids: list[str] = []
    yield ids
    for run_id in ids:
        httpx.post(f"{server}/api/runs/{run_id}/stop", timeout=10)  # 409 when already over: fine


def create_run(server: str, preset: str, **overrides: Any) -> str:
    response = httpx.post(f"{server}/api/runs", json={"preset": preset, "overrides": overrides}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def run_id_of(page: Page) -> str:
    return page.url.split("run=")[1].split("&")[0]


def screenshot(page: Page, name: str) -> None:
    """The view at 1280×800, then at a 390 px phone width (full height), into tests/web/screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.wait_for_function(CHARTS_FIT)
    page.screenshot(path=SCREENSHOTS / f"{name}-1280.png")
    page.set_viewport_size(PHONE)
    page.wait_for_function(CHARTS_FIT)
    page.screenshot(path=SCREENSHOTS / f"{name}-390.png", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than a 390 px phone screen"
    page.set_viewport_size(DESKTOP)


def record(name: str, value: Any) -> None:
    """A measurement the suite reports (tests/web/screenshots/measurements.json)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / "measurements.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = value
    path.write_text(json.dumps(data, indent=2))
