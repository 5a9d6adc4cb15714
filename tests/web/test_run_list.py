"""The run list on a server with more runs than one page: the page shows the newest page and turns pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from server.api.runs import RUNS_PAGE
from tests.server.conftest import serve
from tests.web.conftest import DESKTOP

EXTRA = 30


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose database holds a page and a bit of finished runs, written through the repository."""
    from server.db import repository as repo

    apps: list[Any] = []
    for base in serve(tmp_path_factory.mktemp("web-runs"), apps, warm_workers=0):
        with apps[0].state.jobs.sessions() as session:
            for _ in range(RUNS_PAGE + EXTRA):
                repo.create_run(session, config={}, preset="ring-vanilla", status="completed")
            session.commit()
        yield base


def test_the_run_list_shows_the_newest_page_and_turns_to_older_and_back(browser: Browser, crowded: str):
    context = browser.new_context(viewport=DESKTOP, base_url=crowded)
    try:
        page = context.new_page()
        page.goto("/")
        items = page.get_by_test_id("run-list").locator(":scope > li")
        expect(items).to_have_count(RUNS_PAGE)
        expect(page.get_by_test_id("runs-count")).to_have_text(f"runs 1–{RUNS_PAGE} of {RUNS_PAGE + EXTRA}")
        expect(page.get_by_test_id("runs-newer")).to_be_hidden()
        page.get_by_test_id("runs-older").click()
        expect(items).to_have_count(EXTRA)
        expect(page.get_by_test_id("runs-count")).to_have_text(
            f"runs {RUNS_PAGE + 1}–{RUNS_PAGE + EXTRA} of {RUNS_PAGE + EXTRA}"
        )
        expect(page.get_by_test_id("runs-older")).to_be_hidden()
        page.get_by_test_id("runs-newer").click()
        expect(items).to_have_count(RUNS_PAGE)
    finally:
        context.close()
