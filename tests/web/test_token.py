"""A server with GANPLAY_TOKEN set, seen from the page: without the token the view says so instead of retrying
for ever; opened once with ?token=, the page keeps it (out of the address bar) and streams and steers the run."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.server.conftest import serve
from tests.web.conftest import DESKTOP

pytestmark = pytest.mark.browser

TOKEN = "web-secret"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("web-token"), token=TOKEN, warm_workers=1)


def test_without_the_token_the_view_says_it_is_needed_and_with_it_the_run_streams_and_obeys(
    browser: Browser, token_server: str
):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = httpx.post(
        f"{token_server}/api/runs",
        json={"preset": "ring-vanilla", "overrides": {"steps": 100_000}},
        headers=auth,
        timeout=30,
    )
    run_id = created.json()["id"]
    context = browser.new_context(viewport=DESKTOP, base_url=token_server)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"/?run={run_id}")
        connection = page.get_by_test_id("connection")
        expect(connection).to_have_attribute("data-state", "gone")
        expect(connection).to_contain_text("?token=")

        page.goto(f"/?run={run_id}&token={TOKEN}")
        expect(connection).to_have_attribute("data-state", "open")
        assert "token" not in page.url  # kept in localStorage, not left in a link someone may share
        page.get_by_test_id("pause-run").click()  # a mutating call: the page sends the token
        expect(page.get_by_test_id("run-status")).to_have_text("paused")
    finally:
        context.close()
        httpx.post(f"{token_server}/api/runs/{run_id}/stop", headers=auth, timeout=10)
    assert not errors
