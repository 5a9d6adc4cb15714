"""The start page as the chapter: the lessons gallery in the chapter's order with pictures from stored runs (or a
plain placeholder), "run both" opening a lesson's problem and fix side by side on the same seed with both
streaming, and shareable setups: a link that fills the form in, says what is wrong with a bad one, and that every
run view can copy."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.server.conftest import serve
from tests.web.conftest import create_run, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of this module's own: which presets have a stored run (the gallery's pictures) must not depend on
    what the browser suite's other modules ran before."""
    yield from serve(tmp_path_factory.mktemp("web-lessons"), warm_workers=1, max_concurrent=2, max_runs_per_client=50)


IMG_LOADED = "el => el.complete && el.naturalWidth > 0"


def wait_until_ended(server: str, run_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{server}/api/runs/{run_id}", timeout=10).json()
        if run["status"] in ("completed", "stopped", "failed", "diverged"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not end in {timeout} s")


def test_the_gallery_lists_every_lesson_in_the_chapters_order_with_pictures_from_stored_runs(
    page: Page, server: str, stop_runs: list[str]
):
    # A stored run of vanishing-minimax (shorter, another seed: still that preset) gives its card a real picture.
    stored = create_run(server, "vanishing-minimax", steps=40, seed=5)
    dirac = create_run(server, "dirac-gan-r1", steps=60)
    stop_runs.extend([stored, dirac])
    assert wait_until_ended(server, stored)["status"] == "completed"
    assert wait_until_ended(server, dirac)["status"] == "completed"
    lessons = httpx.get(f"{server}/api/lessons", timeout=10).json()
    ran = {r["preset"] for r in httpx.get(f"{server}/api/runs?limit=500", timeout=10).json()}

    page.goto("/")
    cards = page.get_by_test_id("lesson-card")
    expect(cards).to_have_count(len(lessons))
    assert [c.get_attribute("data-lesson") for c in cards.all()] == [lesson["name"] for lesson in lessons]
    for card, lesson in zip(cards.all(), lessons, strict=True):
        expect(card.locator("h3")).to_have_text(lesson["title"])

    # The diminished-gradient card: the stored run's samples as the problem's picture, linked to that run.
    card = page.locator("[data-testid=lesson-card][data-lesson=diminished-gradient]")
    problem = card.locator("[data-testid=lesson-picture][data-preset=vanishing-minimax] .lesson-pic-box")
    expect(problem).to_have_attribute("data-source", "run")
    assert problem.locator("img").evaluate(IMG_LOADED)
    expect(problem.get_by_test_id("lesson-picture-run")).to_have_attribute("href", f"?run={stored}")
    expect(card.get_by_test_id("run-pair-start")).to_be_visible()
    # A Dirac-GAN's picture is its stored (θ, ψ) path, drawn as the run view's phase portrait.
    r1_card = page.locator("[data-testid=lesson-card][data-lesson=gradient-penalty]")
    portrait = r1_card.locator("[data-preset=dirac-gan-r1] [data-testid=lesson-portrait]")
    expect(portrait).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    # A preset no run has used says so, instead of a made-up picture.
    never = next(
        p for lesson in lessons for p in lesson["problem"] + lesson["fix"] if p not in ran and p != "vanishing-minimax"
    )
    box = page.locator(f"[data-testid=lesson-picture][data-preset={never}] .lesson-pic-box").first
    expect(box).to_have_attribute("data-source", "none")
    expect(box).to_contain_text(f"No run of {never} on this server yet")
    expect(box.locator("img")).to_have_count(0)
    # Every picture box settles on a run's picture or the placeholder.
    expect(page.locator(".lesson-pic-box[data-source=loading]")).to_have_count(0)

    # The free-form start stays one click away.
    page.get_by_test_id("free-form-link").click()
    expect(page.get_by_test_id("preset-select")).to_be_focused()
    expect(page.get_by_test_id("preset-select")).to_be_in_viewport()
    expect(page.get_by_test_id("run-list")).to_be_visible()

    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "gallery")


def test_run_both_opens_the_problem_and_its_fix_side_by_side_on_one_seed_and_both_stream(
    page: Page, server: str, stop_runs: list[str]
):
    page.goto("/")
    card = page.locator("[data-testid=lesson-card][data-lesson=imbalance]")
    card.get_by_test_id("run-pair-start").click()
    page.wait_for_url(re.compile(r"\?compare=[0-9a-f]{32},[0-9a-f]{32}&lesson=imbalance$"))
    ids = parse_qs(urlparse(page.url).query)["compare"][0].split(",")
    stop_runs.extend(ids)

    pair = page.get_by_test_id("run-pair")
    expect(pair).to_be_visible()
    expect(pair.locator("h1")).to_have_text("Imbalance: the discriminator wins outright")
    problem = pair.locator(f".compare-col[data-run-id='{ids[0]}']")
    fix = pair.locator(f".compare-col[data-run-id='{ids[1]}']")
    expect(problem).to_have_attribute("data-role", "problem")
    expect(fix).to_have_attribute("data-role", "fix")
    configs = [httpx.get(f"{server}/api/runs/{i}", timeout=10).json() for i in ids]
    assert [c["preset"] for c in configs] == ["d-overpowered", "d-overpowered-smoothing"]
    assert configs[0]["config"]["seed"] == configs[1]["config"]["seed"]

    # Both stream: each column's step keeps rising from the metrics that arrive on its own websocket.
    steps = "[...document.querySelectorAll('[data-testid=run-pair] .compare-col')].map((c) => Number(c.dataset.step))"
    page.wait_for_function(f"() => {steps}.every((s) => s > 0)")
    first = page.evaluate(steps)
    page.wait_for_function(f"() => {steps}.every((s, i) => s > {first}[i])")
    expect(page.get_by_test_id("compare-field-0")).to_be_visible()
    expect(page.get_by_test_id("compare-field-1")).to_be_visible()
    screenshot(page, "run-pair")


def test_a_shared_setup_link_fills_the_form_in(page: Page, server: str, stop_runs: list[str]):
    page.goto("/?preset=ring-vanilla&set=tricks.unroll_steps=5&set=train.lr_d=0.0003")
    expect(page.get_by_test_id("preset-select")).to_have_value("ring-vanilla")
    expect(page.get_by_test_id("field-tricks.unroll_steps")).to_be_visible()  # the settings open to show it
    expect(page.get_by_test_id("field-tricks.unroll_steps")).to_have_value("5")
    expect(page.get_by_test_id("field-train.lr_d")).to_have_value("0.0003")
    expect(page.get_by_test_id("setup-link-note")).to_contain_text(
        "Opened from a shared setup: ring-vanilla, with tricks.unroll_steps = 5, train.lr_d = 0.0003."
    )
    expect(page.get_by_test_id("setup-link-error")).to_have_count(0)

    page.get_by_test_id("start-run").click()
    page.wait_for_url(re.compile(r"\?run=[0-9a-f]{32}$"))
    run_id = page.url.split("run=")[1]
    stop_runs.append(run_id)
    config = httpx.get(f"{server}/api/runs/{run_id}", timeout=10).json()["config"]
    assert config["tricks"]["unroll_steps"] == 5
    assert config["train"]["lr_d"] == 0.0003


def test_an_invalid_setup_link_says_what_is_wrong_and_keeps_a_working_form(page: Page):
    page.goto("/?preset=ring-vanilla&set=tricks.unroll=5&set=train.lr_d=abc&set=steps=200")
    error = page.get_by_test_id("setup-link-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("2 parts of this link could not be used")
    expect(error).to_contain_text('there is no setting "tricks.unroll" (did you mean tricks.unroll_steps?)')
    expect(error).to_contain_text("train.lr_d must be a number")
    # What could be used is used; the rest keeps the preset's values, and the form still works.
    expect(page.get_by_test_id("field-steps")).to_have_value("200")
    expect(page.get_by_test_id("field-train.lr_d")).to_have_value("0.0001")
    expect(page.get_by_test_id("preset-select")).to_have_value("ring-vanilla")
    expect(page.get_by_test_id("start-run")).to_be_enabled()

    page.goto("/?preset=no-such-preset")
    expect(page.get_by_test_id("setup-link-error")).to_contain_text('there is no preset "no-such-preset"')
    expect(page.get_by_test_id("preset-select")).to_have_value("")


def test_copy_setup_link_gives_a_link_to_the_config_that_starts_the_same_config(
    page: Page, server: str, stop_runs: list[str]
):
    train = {"lr_d": 0.0005, "betas": [0.4, 0.9]}
    original = create_run(server, "ring-vanilla", steps=60, seed=4, tricks={"unroll_steps": 3}, train=train)
    stop_runs.append(original)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/?run={original}")
    page.get_by_test_id("copy-setup-link").click()
    link = page.get_by_test_id("setup-link")
    expect(link).to_have_value(re.compile(r"\?preset=ring-vanilla&"))
    expect(page.get_by_test_id("setup-link-status")).to_have_text("copied")
    url = link.input_value()
    assert page.evaluate("navigator.clipboard.readText()") == url
    assert original not in url  # the config, not the run
    assert set(parse_qs(urlparse(url).query)["set"]) == {
        "seed=4",
        "steps=60",
        "train.lr_d=0.0005",
        "train.betas=0.4,0.9",
        "tricks.unroll_steps=3",
    }

    page.goto(url)
    expect(page.get_by_test_id("field-tricks.unroll_steps")).to_have_value("3")
    page.get_by_test_id("start-run").click()
    page.wait_for_url(re.compile(r"\?run=[0-9a-f]{32}$"))
    again = page.url.split("run=")[1]
    stop_runs.append(again)
    configs = [httpx.get(f"{server}/api/runs/{i}", timeout=10).json()["config"] for i in (original, again)]
    assert configs[0] == configs[1]
