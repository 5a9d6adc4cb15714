"""The page on the lean stream (server/wire.py, web/src/wire.js): frames arrive as binary websocket messages and
are drawn, the real points a 2D run's frames no longer carry come from the snapshot (also for a page that joins
late), and an image frame's PNG bytes are shown without base64."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import create_run, record
from tests.web.test_page import wait_for_growth

pytestmark = pytest.mark.browser


def count_frames(page: Page) -> dict[str, int]:
    """Messages the page's stream receives, by kind: text or binary."""
    seen = {"text": 0, "binary": 0}

    def received(payload: str | bytes) -> None:
        seen["binary" if isinstance(payload, bytes) else "text"] += 1

    page.on("websocket", lambda ws: ws.on("framereceived", received))
    return seen


def test_field_frames_arrive_binary_and_are_drawn_with_the_real_points_the_snapshot_brought(
    page: Page, server: str, stop_runs: list[str]
):
    run_id = create_run(server, "ring-vanilla", steps=100_000, stream={"n_samples": 256})
    stop_runs.append(run_id)
    seen = count_frames(page)
    page.goto(f"/?run={run_id}")
    field = page.get_by_test_id("field-view")
    wait_for_growth(page, "field-view", "frames", 2)
    expect(field).to_have_attribute("data-real", "256")
    assert seen["binary"] >= 2 and seen["text"] >= 1, seen  # frames binary, the snapshot and metrics text
    page.reload()  # a page that joins a run with frames already: the static parts come in its snapshot
    wait_for_growth(page, "field-view", "frames", 0)
    expect(field).to_have_attribute("data-real", "256")
    expect(field.locator("xpath=..").locator(".field-step")).to_contain_text("modes covered")


def test_an_image_frame_is_shown_from_its_png_bytes(page: Page, server: str, stop_runs: list[str]):
    run_id = create_run(server, "digits-dcgan", steps=100_000)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    grid = page.get_by_test_id("sample-grid")
    expect(grid).to_have_attribute("src", re.compile(r"^blob:"), timeout=90_000)
    page.wait_for_function(
        "() => { const g = document.querySelector('[data-testid=sample-grid]'); "
        "return g.complete && g.naturalWidth > 0; }"
    )


def test_the_pages_frame_handling_counts_the_decoding_of_each_message(page: Page, server: str, stop_runs: list[str]):
    """Recorded, not held to a cap (a shared machine measures its load as much as the page): per rendered frame,
    the stream's decoding (wire.js), handlers and the render, while a ring run streams at its default rate."""
    run_id = create_run(server, "ring-vanilla", steps=100_000)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    wait_for_growth(page, "field-view", "frames", 1)
    page.evaluate("window.ganplayPerf.reset()")
    page.wait_for_function("window.ganplayPerf.frames >= 150")
    perf = page.evaluate(
        "({avg: ganplayPerf.avgFrameMs, max: ganplayPerf.maxFrameMs, frames: ganplayPerf.frames,"
        " messages: ganplayPerf.messages, decode: ganplayPerf.decodeMs, handlers: ganplayPerf.handlerMs,"
        " render: ganplayPerf.renderMs})"
    )
    record("lean_stream_frame_handling_ms", perf)
    print(f"frame handling on the lean stream: {perf}")
    assert perf["messages"] > 0 and perf["decode"] > 0 and perf["handlers"] >= perf["decode"], perf
