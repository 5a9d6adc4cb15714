"""A classroom server (GANPLAY_AUTH=users) seen from the page: the owner of a run gets its controls; another student
watching it gets the view, whose run it is, a note saying who may steer it and "fork here", but no pause, stop or
live controls; the instructor may share it, and it then heads every student's run list. Without a token the page
says how to sign in. Screenshots of each view are saved under the test's tmp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tests.server.classroom import add_user, bearer
from tests.server.conftest import serve
from tests.web.conftest import CHARTS_FIT, DESKTOP, PHONE

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("web-classroom")
    for base in serve(data, auth="users", warm_workers=1, max_concurrent=2):
        tokens = {name: add_user(data, name, admin=name == "teach") for name in ("alice", "bob", "teach")}
        made = httpx.post(
            f"{base}/api/runs",
            json={"preset": "ring-vanilla", "overrides": {"steps": 10_000_000}},
            headers=bearer(tokens["alice"]),
            timeout=30,
        )
        assert made.status_code == 201, made.text
        run_id = made.json()["id"]
        yield {"base": base, "tokens": tokens, "run": run_id}
        httpx.post(f"{base}/api/runs/{run_id}/stop", headers=bearer(tokens["teach"]), timeout=10)


class Visitor:
    """One person's browser (its own localStorage, so its own token), failing the test on any page error."""

    def __init__(self, browser: Browser, base: str):
        self.context: BrowserContext = browser.new_context(viewport=DESKTOP, base_url=base)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(f"console: {message.text}")

        self.page.on("console", on_console)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitors(browser: Browser, classroom: dict[str, Any]) -> Iterator[list[Visitor]]:
    made: list[Visitor] = []
    yield made
    errors = [error for visitor in made for error in visitor.errors]
    for visitor in made:
        visitor.close()
    assert not errors, "a page logged errors:\n" + "\n".join(errors)


def open_run(visitors: list[Visitor], browser: Browser, classroom: dict[str, Any], who: str) -> Page:
    visitor = Visitor(browser, classroom["base"])
    visitors.append(visitor)
    page = visitor.page
    page.goto(f"/?run={classroom['run']}&token={classroom['tokens'][who]}")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    expect(page.get_by_test_id("signed-in")).to_have_text(
        f"signed in as {who}" + (" (instructor)" if who == "teach" else "")
    )
    return page


def test_the_owner_gets_the_controls_and_a_watcher_gets_the_view_without_them(
    browser: Browser, classroom: dict[str, Any], visitors: list[Visitor], tmp_path: Path
):
    owner = open_run(visitors, browser, classroom, "alice")
    expect(owner.get_by_test_id("run-owner")).to_have_text("your run")
    for control in ("pause-run", "stop-run", "fork-run"):
        expect(owner.get_by_test_id(control)).to_be_visible()
    expect(owner.get_by_test_id("trick-unroll_steps")).to_be_enabled()
    expect(owner.get_by_test_id("watch-note")).to_be_hidden()
    expect(owner.get_by_test_id("share-run")).to_be_hidden()
    owner.screenshot(path=tmp_path / "owner.png", full_page=True)

    watcher = open_run(visitors, browser, classroom, "bob")
    expect(watcher.get_by_test_id("run-owner")).to_have_text("alice's run")
    expect(watcher.get_by_test_id("watch-note")).to_have_text(
        "You are watching alice's run: only alice or an instructor can steer it. Fork it to try your own changes."
    )
    for control in ("pause-run", "resume-run", "stop-run", "share-run"):
        expect(watcher.get_by_test_id(control)).to_be_hidden()
    expect(watcher.get_by_test_id("fork-run")).to_be_visible()
    expect(watcher.get_by_test_id("trick-unroll_steps")).to_be_disabled()
    expect(watcher.locator("figure.chart").first).to_be_visible()  # the watcher still sees the run train
    watcher.screenshot(path=tmp_path / "watcher.png", full_page=True)
    watcher.set_viewport_size(PHONE)
    watcher.wait_for_function(CHARTS_FIT)
    watcher.screenshot(path=tmp_path / "watcher-390.png", full_page=True)
    overflow = watcher.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the watcher's view is {overflow}px wider than a 390 px phone screen"
    watcher.set_viewport_size(DESKTOP)

    owner.get_by_test_id("pause-run").click()  # the owner's control works, and the watcher sees it happen
    expect(watcher.get_by_test_id("run-status")).to_have_text("paused")
    owner.get_by_test_id("resume-run").click()
    expect(watcher.get_by_test_id("run-status")).to_have_text("running")
    print(f"screenshots: {tmp_path}")


def test_the_instructor_shares_a_run_and_it_heads_every_students_run_list(
    browser: Browser, classroom: dict[str, Any], visitors: list[Visitor], tmp_path: Path
):
    teacher = open_run(visitors, browser, classroom, "teach")
    expect(teacher.get_by_test_id("pause-run")).to_be_visible()  # an instructor may steer anyone's run
    share = teacher.get_by_test_id("share-run")
    expect(share).to_have_text("Share with the class")
    share.click()
    expect(teacher.get_by_test_id("run-owner")).to_have_text("alice's run · shared with the class")
    expect(share).to_have_text("Stop sharing")
    teacher.screenshot(path=tmp_path / "instructor.png", full_page=True)
    try:
        student = Visitor(browser, classroom["base"])
        visitors.append(student)
        student.page.goto(f"/?token={classroom['tokens']['bob']}")
        shared = student.page.get_by_test_id("shared-runs")
        expect(shared).to_be_visible()
        expect(shared.locator(f"li[data-run-id='{classroom['run']}']")).to_contain_text("alice")
        student.page.screenshot(path=tmp_path / "student-home.png", full_page=True)
    finally:
        share.click()
        expect(share).to_have_text("Share with the class")


def test_comparing_two_students_runs_says_whose_each_is(
    browser: Browser, classroom: dict[str, Any], visitors: list[Visitor]
):
    made = httpx.post(
        f"{classroom['base']}/api/runs",
        json={"preset": "ring-vanilla", "overrides": {"steps": 10_000_000, "stream": {"max_steps_per_second": 20}}},
        headers=bearer(classroom["tokens"]["bob"]),
        timeout=30,
    )
    assert made.status_code == 201, made.text
    bobs = made.json()["id"]
    try:
        teacher = Visitor(browser, classroom["base"])
        visitors.append(teacher)
        teacher.page.goto(f"/?compare={classroom['run']},{bobs}&token={classroom['tokens']['teach']}")
        expect(teacher.page.get_by_test_id("compare-owner-0")).to_have_text("by alice")
        expect(teacher.page.get_by_test_id("compare-owner-1")).to_have_text("by bob")
    finally:
        httpx.post(f"{classroom['base']}/api/runs/{bobs}/stop", headers=bearer(classroom["tokens"]["bob"]), timeout=10)


def test_without_a_token_the_page_says_how_to_sign_in(browser: Browser, classroom: dict[str, Any]):
    context = browser.new_context(viewport=DESKTOP, base_url=classroom["base"])
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.get_by_test_id("sign-in")).to_have_text(
            "This server needs your own token: open this page as /?token=YOUR_TOKEN (your instructor gives you one)."
        )
    finally:
        context.close()  # the refused requests log 401s to the console: expected here
