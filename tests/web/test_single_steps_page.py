"""Slow motion and single steps in the browser (issue 13, §2): pause, then one D update and one G update each move
the step counter by exactly one and reach the chart as a labelled marker at that step; slow motion caps it/s."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.web.conftest import SCREENSHOTS, create_run, record

STEP = re.compile(r"step (\d+)")


WAIT_FOR_STEP = "n => +/step (\\d+)/.exec(document.querySelector('[data-testid=run-step]').textContent)?.[1] >= n"
# A change-log marker on the charts that are shown (each chart draws every marker).
MARKERS = "figure.chart:not([hidden]) [data-testid=marker]"


def shown_step(page: Page) -> int:
    found = STEP.search(page.get_by_test_id("run-step").inner_text())
    assert found, page.get_by_test_id("run-step").inner_text()
    return int(found.group(1))


def test_pause_then_one_d_and_one_g_update_move_the_step_by_one_each_and_the_chart_shows_them(
    page: Page, server: str, stop_runs: list[str]
):
    run_id = create_run(server, "ring-vanilla", steps=1_000_000)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    page.wait_for_function(WAIT_FOR_STEP, arg=20)
    for testid in ("step-d", "step-g", "step-both"):
        expect(page.get_by_test_id(testid)).to_be_disabled()  # only while paused
    expect(page.get_by_test_id("step-note")).to_contain_text("Pause")
    page.get_by_test_id("pause-run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("paused")
    expect(page.get_by_role("button", name="One D update")).to_be_enabled()
    before = shown_step(page)

    page.get_by_test_id("step-d").click()
    expect(page.get_by_test_id("run-step")).to_contain_text(f"step {before + 1} of")
    d_marker = page.locator(MARKERS).filter(has_text="manual=one D update").first
    expect(d_marker).to_have_attribute("data-step", str(before + 1))
    expect(d_marker).to_be_visible()  # the chart's x axis reaches the new row's step

    page.get_by_test_id("step-g").focus()  # keyboard-operable: a real button, Enter presses it
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("run-step")).to_contain_text(f"step {before + 2} of")
    g_marker = page.locator(MARKERS).filter(has_text="manual=one G update").first
    expect(g_marker).to_have_attribute("data-step", str(before + 2))
    expect(g_marker).to_be_visible()
    time.sleep(0.5)
    assert shown_step(page) == before + 2  # still paused: nothing else trained
    SCREENSHOTS.mkdir(exist_ok=True)
    page.get_by_test_id("stepping").screenshot(path=SCREENSHOTS / "stepping-paused.png")
    expect(page.get_by_test_id("run-status")).to_have_text("paused")


def test_slow_motion_caps_its_per_second_and_full_speed_lifts_the_cap(page: Page, server: str, stop_runs: list[str]):
    run_id = create_run(server, "ring-vanilla", steps=1_000_000)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    page.wait_for_function(WAIT_FOR_STEP, arg=20)
    pace = page.get_by_label("Slow motion: steps per second (0 or empty: full speed)")
    pace.fill("4")
    pace.press("Tab")
    expect(page.get_by_test_id("pace")).to_contain_text("at most 4 steps a second")
    expect(page.locator(MARKERS).filter(has_text="max_steps_per_second=4").first).to_be_attached()
    time.sleep(1.0)  # the rows of the last fast steps have come in
    first, started = shown_step(page), time.monotonic()
    time.sleep(3.0)
    rate = (shown_step(page) - first) / (time.monotonic() - started)
    record("slow_motion_4_per_s_page_rate", round(rate, 2))
    assert 1.5 <= rate <= 5.5, rate  # capped at 4 a second (a busy machine may go slower, never hundreds)
    now = float(re.search(r"now ([\d.]+) it/s", page.get_by_test_id("pace").inner_text()).group(1))  # type: ignore[union-attr]
    assert now <= 5.0, now
    pace.fill("0")
    pace.press("Tab")
    expect(page.get_by_test_id("pace")).to_contain_text("full speed")
    first, started = shown_step(page), time.monotonic()
    page.wait_for_function(WAIT_FOR_STEP, arg=first + 100)
    assert (shown_step(page) - first) / (time.monotonic() - started) > 10
